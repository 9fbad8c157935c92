"""A built-in, fully offline memorization experiment on fictitious people.

Three disjoint groups of people from :mod:`reliant.core.builtin_data`:

* **members** -- the target tiny LM is trained on their QA pairs, plus canaries, each
  inserted a chosen number of times (some canaries are never inserted: held-out);
* **non-members** -- same templates, never trained on by either model;
* **reference** -- a second tiny LM (same tokenizer and settings) is trained only on these
  people. It calibrates the target's likelihoods (reference attack) and, because it never
  saw the members, is also the "model never trained on them" control.

Both models are cached by :func:`reliant.core.tiny_lm.build_tiny_lm`, so only the first
run trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reliant.core.builtin_data import generate_people, people_qa
from reliant.core.prompts import qa_prompt, qa_text
from reliant.core.tiny_lm import TinyLMSettings, build_tiny_lm
from reliant.memorization.canaries import Canary, canary_texts, make_canaries
from reliant.memorization.inputs import Example

# Small enough to train in about a minute on two CPU cores; big enough to memorise 80 QA.
SMALL_SETTINGS = TinyLMSettings(
    vocab_size=512, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128,
    epochs=40, batch_size=16, warmup_steps=10,
)


@dataclass
class BuiltinSetup:
    target_dir: Path
    reference_dir: Path
    members: list[Example]
    nonmembers: list[Example]
    canaries: list[Canary]
    settings: TinyLMSettings
    info: dict = field(default_factory=dict)


def _examples(records: list[dict], split: str) -> list[Example]:
    return [Example(qa_prompt(r["question"]), r["answer"], f"builtin:{split}", i + 1) for i, r in enumerate(records)]


def builtin_setup(
    *,
    n_people: int = 10,
    repetitions: tuple[int, ...] = (1, 4, 16),
    canaries_per_repetition: int = 3,
    held_out_canaries: int = 3,
    n_digits: int = 4,
    settings: TinyLMSettings | None = None,
    target_epochs: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> BuiltinSetup:
    """Build (or load from the cache) the target and reference tiny LMs.

    ``target_epochs`` trains the target for fewer (or more) epochs than the reference,
    to study attacks on a model that has memorised less."""
    from dataclasses import replace

    settings = settings or SMALL_SETTINGS
    target_settings = replace(settings, epochs=target_epochs) if target_epochs else settings
    people = generate_people(3 * n_people, seed=0)
    records = people_qa(people, seed=0)
    by_group = [
        [r for r in records if g * n_people <= r["person_index"] < (g + 1) * n_people] for g in range(3)
    ]
    members, nonmembers, reference = by_group
    pool = make_canaries(len(repetitions) * canaries_per_repetition + held_out_canaries, n_digits, seed=seed)
    canaries = [
        Canary(c.prefix, c.secret, repetitions[i // canaries_per_repetition] if i < len(repetitions) * canaries_per_repetition else 0)
        for i, c in enumerate(pool)
    ]
    # One tokenizer for both models: trained on every text either could be asked about.
    vocabulary_texts = [qa_text(r["question"], r["answer"]) for r in records] + [f"{c.prefix} {c.secret}" for c in canaries]
    inserted = canary_texts(canaries)
    target_dir = build_tiny_lm(
        [qa_prompt(r["question"]) for r in members] + [""] * len(inserted),
        [r["answer"] for r in members] + inserted,
        name="memorization-target", settings=target_settings, cache_dir=cache_dir, tokenizer_texts=vocabulary_texts,
    )
    reference_dir = build_tiny_lm(
        [qa_prompt(r["question"]) for r in reference],
        [r["answer"] for r in reference],
        name="memorization-reference", settings=settings, cache_dir=cache_dir, tokenizer_texts=vocabulary_texts,
    )
    return BuiltinSetup(
        target_dir, reference_dir, _examples(members, "members"), _examples(nonmembers, "nonmembers"), canaries, settings,
        {"n_people_per_group": n_people, "repetitions": list(repetitions), "n_digits": n_digits,
         "inserted_canary_texts": len(inserted), "member_qa": len(members),
         "target_epochs": target_settings.epochs, "reference_epochs": settings.epochs},
    )
