"""Simulated LLMs of known expertise, for checking FEWL where no real LLM can run.

Every simulated LLM answers a question by drawing from that question's labelled answer pools:
a correct answer with its own probability (per topic group if given), otherwise an incorrect
one; a *lazy* LLM instead answers with a topical but uncommitted text — the correct answer of
another question of the same group ("neighbour") or a non-committal restatement ("generic").
Candidates differ in surface style (prefixes/suffixes real chat models add), which moves raw
embedding similarity without changing correctness. The IW generator and the corrector are
simulated LLMs too (imperfect: an IW answer is accidentally correct with probability
``1 − iw_success``, a correction is right with probability ``co_accuracy``).

The labels only drive the simulation and the judging (``hallucinated``); FEWL sees texts.

Sources of labelled pools: :func:`builtin_items` (reliant's fictitious-people corpus, shipped,
no download), :func:`truthfulqa_items` (TruthfulQA CSV), :func:`chale_items` (CHALE JSON, with
half-hallucinated answers as degree 0.5).
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reliant.core.errors import ConfigError, DataError, check_number

__all__ = [
    "CANDIDATE_STYLES",
    "Item",
    "SimulatedLLM",
    "builtin_items",
    "chale_candidates",
    "chale_items",
    "default_candidates",
    "default_references",
    "load_items",
    "simulate_records",
    "truthfulqa_items",
]


@dataclass
class Item:
    """A question with labelled answer pools; ``half`` answers are half hallucinated."""

    question: str
    correct: list[str]
    incorrect: list[str]
    half: list[str] = field(default_factory=list)
    group: str = ""
    reference_correct: list[str] = field(default_factory=list)


@dataclass
class SimulatedLLM:
    """An LLM of known expertise: P(correct) = ``group_accuracy.get(group, accuracy)``."""

    name: str
    accuracy: float
    group_accuracy: dict[str, float] = field(default_factory=dict)
    lazy: float = 0.0
    lazy_style: str = "neighbour"
    half: float = 0.0
    style: str = "{answer}"
    consistent_wrong: float = 0.5

    def p_correct(self, item: Item) -> float:
        return self.group_accuracy.get(item.group, self.accuracy)


CANDIDATE_STYLES = (
    "{answer}",
    "I think {lower}",
    "Sure! {answer}",
    "{answer} Let me know if you have any other questions!",
    "As far as I know, {lower}",
    "Answer: {answer}",
    "Good question. {answer}",
    "{answer} I hope this helps.",
)


# Each simulated reference words its answers its own way, so no reference text is ever
# identical to a candidate's or an IW answer's text.
REFERENCE_STYLES = (
    "In short: {answer}",
    "I believe {lower}",
    "{answer} That is the answer.",
    "The answer is this: {answer}",
    "{answer} (to my knowledge)",
)


def _styled(style: str, text: str) -> str:
    lower = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
    return style.format(answer=text, lower=lower)


def _generic(item: Item) -> str:
    q = item.question.rstrip("?").strip()
    return f"It is hard to say for sure; opinions differ on this: {q[:1].lower() + q[1:]}."


# --------------------------------------------------------------------------- answering


class _World:
    """Items grouped by topic, so a lazy answer can borrow a same-topic question's answer."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)
        self.by_group: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(self.items):
            self.by_group[item.group].append(i)

    def answer(self, llm: SimulatedLLM, q: int, rng: np.random.Generator, *, reference: bool = False) -> tuple[str, float]:
        """One answer and its hallucination degree (0 correct, 0.5 half, 1 wrong or lazy).

        A ``reference`` answering correctly uses ``item.reference_correct`` when the item has
        it (CHALE: the Natural Questions short/long answers, worded apart from the candidates')."""
        item = self.items[q]
        if llm.lazy and rng.random() < llm.lazy:
            return self._lazy(llm, q, rng), 1.0
        if rng.random() < llm.p_correct(item):
            pool = item.reference_correct if reference and item.reference_correct else item.correct
            return str(rng.choice(pool)), 0.0
        if item.half and rng.random() < llm.half:
            return str(rng.choice(item.half)), 0.5
        return str(rng.choice(item.incorrect)), 1.0

    def _lazy(self, llm: SimulatedLLM, q: int, rng: np.random.Generator) -> str:
        item = self.items[q]
        others = [i for i in self.by_group[item.group] if i != q]
        if llm.lazy_style == "neighbour" and others:
            return str(rng.choice(self.items[int(rng.choice(others))].correct))
        return _generic(item)

    def samples(self, llm: SimulatedLLM, q: int, first: tuple[str, float], n: int, rng: np.random.Generator) -> list[str]:
        """The candidate's own resamples: a model that knows stays mostly right; one that does
        not either repeats its misconception (``consistent_wrong``) or answers at random."""
        item, (text, degree) = self.items[q], first
        out = []
        consistent = degree > 0 and rng.random() < llm.consistent_wrong
        for _ in range(n):
            if degree == 0:
                pick = rng.choice(item.correct) if rng.random() < 0.8 else rng.choice(item.incorrect)
            elif consistent:
                pick = text if rng.random() < 0.8 else rng.choice(item.correct + item.incorrect)
            else:
                pick = rng.choice(item.correct + item.incorrect + item.half)
            out.append(str(pick))
        return out


def simulate_records(
    items: Sequence[Item],
    candidates: Sequence[SimulatedLLM],
    references: Sequence[SimulatedLLM],
    *,
    n_wrong: int = 5,
    iw_success: float = 0.9,
    co_accuracy: float = 0.7,
    n_samples: int = 5,
    seed: int = 0,
) -> list[dict]:
    """Records in the ``reliant hallucination score`` input format, with gold ``hallucinated``."""
    check_number(n_wrong, "n_wrong", low=1, integer=True)
    check_number(n_samples, "n_samples", low=0, integer=True)
    for name, value in (("iw_success", iw_success), ("co_accuracy", co_accuracy)):
        check_number(value, name, low=0, high=1)
    if not candidates:
        raise ConfigError("needs at least one candidate model", field="n_models")
    rng = np.random.default_rng(seed)
    world = _World(items)
    records = []
    for q, item in enumerate(world.items):
        answers, gold, samples = {}, {}, {}
        for llm in candidates:
            text, degree = world.answer(llm, q, rng)
            answers[llm.name] = _styled(llm.style, text)
            gold[llm.name] = degree
            if n_samples:
                samples[llm.name] = [_styled(llm.style, s) for s in world.samples(llm, q, (text, degree), n_samples, rng)]
        refs = {llm.name: _styled(llm.style, world.answer(llm, q, rng, reference=True)[0]) for llm in references}
        wrong, corrected = [], []
        right = item.reference_correct or item.correct
        for _ in range(n_wrong):
            pool = item.incorrect if rng.random() < iw_success else right
            wrong.append(str(rng.choice(pool)))
            corrected.append(str(rng.choice(right if rng.random() < co_accuracy else item.incorrect)))
        record = {"id": str(q + 1), "question": item.question, "answers": answers, "references": refs,
                  "wrong_answers": wrong, "corrected_answers": corrected, "hallucinated": gold}
        if n_samples:
            record["samples"] = samples
        records.append(record)
    return records


def default_references(groups: Sequence[str], seed: int = 0) -> list[SimulatedLLM]:
    """A panel of five references: two domain experts with complementary strengths, a
    mediocre generalist, a weak model and a lazy one (right when it commits, but usually
    answering a same-topic question instead). Each has its own wording style."""
    rng = np.random.default_rng(seed)
    ordered = sorted(set(groups))
    chosen = set(rng.permutation(ordered)[: len(ordered) // 2].tolist())
    expert_a = {g: (0.85 if g in chosen else 0.3) for g in ordered}
    expert_b = {g: (0.3 if g in chosen else 0.85) for g in ordered}
    return [
        SimulatedLLM("expert-a", 0.55, expert_a, style=REFERENCE_STYLES[0]),
        SimulatedLLM("expert-b", 0.55, expert_b, style=REFERENCE_STYLES[1]),
        SimulatedLLM("generalist", 0.5, style=REFERENCE_STYLES[2]),
        SimulatedLLM("weak", 0.3, style=REFERENCE_STYLES[3]),
        SimulatedLLM("lazy", 0.8, lazy=0.7, lazy_style="neighbour", style=REFERENCE_STYLES[4]),
    ]


def default_candidates(n_models: int = 8, low: float = 0.35, high: float = 0.75, seed: int = 0) -> list[SimulatedLLM]:
    """``n_models`` candidates with accuracies evenly spread over [low, high], each with its own
    answer style (the style is drawn at random, so it is unrelated to accuracy)."""
    check_number(n_models, "n_models", low=1, integer=True)
    rng = np.random.default_rng(seed)
    styles = rng.permutation(len(CANDIDATE_STYLES))
    return [
        SimulatedLLM(f"model-{i + 1}", float(acc), half=0.5, style=CANDIDATE_STYLES[int(styles[i % len(styles)])])
        for i, acc in enumerate(np.linspace(low, high, n_models))
    ]


# --------------------------------------------------------------------------- sources


def builtin_items(n_people: int = 25, seed: int = 0) -> list[Item]:
    """reliant's fictitious-people QA: correct = answer + paraphrase, incorrect = perturbed
    answers, group = the attribute asked about (birthplace, profession, ...)."""
    from reliant.core.builtin_data import builtin_qa

    return [
        Item(r["question"], [r["answer"], r["paraphrased_answer"]], list(r["perturbed_answer"]), group=r["attribute"])
        for r in builtin_qa(n_people=n_people, seed=seed)
    ]


def truthfulqa_items(path: str | os.PathLike) -> list[Item]:
    """TruthfulQA's CSV: correct = Best + Correct Answers, incorrect = Incorrect Answers,
    group = Category."""
    from reliant.core.data import load_records

    items = []
    for r in load_records(path):
        for key in ("Question", "Best Answer", "Correct Answers", "Incorrect Answers", "Category"):
            if key not in r:
                raise r.error("missing", field=key)
        correct = list(dict.fromkeys([r["Best Answer"], *(a.strip() for a in r["Correct Answers"].split(";"))]))
        incorrect = [a.strip() for a in r["Incorrect Answers"].split(";") if a.strip()]
        items.append(Item(r["Question"], [c for c in correct if c], incorrect, group=r["Category"]))
    return items


def _clean_chale(text: str) -> str:
    return " ".join(re.sub(r"</?[A-Za-z]+>", " ", text).split())


def chale_items(path: str | os.PathLike, n_groups: int = 8) -> list[Item]:
    """CHALE (one JSON object of parallel lists): correct = non-halu, half = mid-halu, incorrect =
    halu; a simulated *reference* that answers correctly says the Natural Questions short or
    long answer instead (different wording from the non-halu candidate). CHALE has no topics,
    so items fall into ``n_groups`` fixed pseudo-domains."""
    from reliant.core.data import read_text_file

    text = read_text_file(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"cannot read CHALE JSON: {exc}", file=path) from None
    if not isinstance(data, dict):
        raise DataError(f"expected one JSON object of parallel lists, got {type(data).__name__}", file=path)
    for key in ("Question", "non-halu", "mid-halu", "halu"):
        if key not in data:
            raise DataError("missing", file=path, field=key)
    n = len(data["Question"]) if isinstance(data["Question"], list) else -1
    for key in ("Question", "non-halu", "mid-halu", "halu", "Short_ans", "Long_ans"):
        value = data.get(key)
        if key in ("Short_ans", "Long_ans") and not value:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError("expected a list of texts", file=path, field=key)
        if len(value) != n:
            raise DataError(f"has {len(value)} entries but 'Question' has {n}", file=path, field=key)
    if n == 0:
        raise DataError("contains no questions", file=path, field="Question")
    short = data.get("Short_ans") or [""] * len(data["Question"])
    long = data.get("Long_ans") or [""] * len(data["Question"])
    items = []
    for i, (q, good, mid, bad) in enumerate(zip(data["Question"], data["non-halu"], data["mid-halu"], data["halu"])):
        gold = [t for t in dict.fromkeys([_clean_chale(short[i]), _clean_chale(long[i])]) if t]
        items.append(Item(_clean_chale(q), [_clean_chale(good)], [_clean_chale(bad)], [_clean_chale(mid)],
                          group=f"domain-{i % n_groups}", reference_correct=gold))
    return items


def chale_candidates() -> list[SimulatedLLM]:
    """CHALE's three answer sets as three candidate "models" (the paper's CHALE setup): always
    non-halu, always mid-halu, always halu."""
    return [
        SimulatedLLM("non-halu", 1.0),
        SimulatedLLM("mid-halu", 0.0, half=1.0),
        SimulatedLLM("halu", 0.0, half=0.0),
    ]


def load_items(source: str, path: str | os.PathLike | None = None, *, limit: int | None = None, seed: int = 0) -> list[Item]:
    """``builtin``, ``truthfulqa`` or ``chale`` items; a random subset of ``limit`` when given."""
    if limit is not None:
        check_number(limit, "limit", low=1, integer=True)
    if source == "builtin":
        items = builtin_items(n_people=max(1, (limit or 200) // 8 + 1), seed=0)
    elif source in ("truthfulqa", "chale"):
        if path is None:
            raise DataError(f"source {source!r} needs a path to its data file", field="path")
        items = truthfulqa_items(path) if source == "truthfulqa" else chale_items(path)
    else:
        raise DataError(f"unknown source {source!r} (choose builtin, truthfulqa or chale)", field="source")
    if limit is not None and limit < len(items):
        keep = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
        items = [items[i] for i in keep]
    return items
