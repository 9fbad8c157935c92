"""TOFU- and MUSE-style evaluation of a causal LM, built on the metric formulas in
:mod:`reliant.unlearning.metrics` and the batched scoring helpers in :mod:`reliant.core.models`.

TOFU (Maini et al., 2024): on each evaluation set the model is scored by
- probability: exp(-mean answer-token NLL); on real authors and world facts normalised over
  the true and perturbed options;
- ROUGE-L recall of its greedy answer against the true answer;
- truth ratio R = geometric mean over perturbed answers of P(perturbed) / P(paraphrased)
  (length-normalised probabilities).
Model utility is the harmonic mean of the nine numbers {probability, ROUGE, truth ratio} x
{retain, real authors, world facts}; forget quality is the KS-test p-value between the
forget-set truth ratios of the unlearned model and of the retain-only model.

MUSE (Shi et al., 2024): VerbMem (ROUGE-L F1 of a greedy continuation against the true text),
KnowMem (ROUGE-L F1 of few-shot answers) and PrivLeak (Min-K% AUC on forget vs holdout texts,
relative to the retrained model's AUC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from reliant.core.models import greedy_generate, length_batches, score_tokens
from reliant.core.progress import batch_progress
from reliant.core.prompts import check_pairs, encode_prompt_answer, few_shot_prompt, pad_token_id, question_prompt
from reliant.unlearning import metrics

TOFU_UTILITY_SETS = ("retain", "real_authors", "world_facts")


@dataclass
class SetScores:
    """Per-sample scores of one TOFU evaluation set."""

    name: str
    probability: np.ndarray
    rouge_l_recall: np.ndarray
    truth_ratio: np.ndarray
    generations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        # TOFU reports mean(max(0, 1 - R)) on retain-type sets and mean(min(R, 1/R)) on the
        # forget set; both are higher when the model prefers true to false answers.
        out = {
            "probability": float(np.mean(self.probability)),
            "rouge_l_recall": float(np.mean(self.rouge_l_recall)),
        }
        if len(self.truth_ratio):
            out["truth_ratio"] = (
                float(metrics.truth_ratio_stat_forget(self.truth_ratio))
                if self.name == "forget"
                else float(metrics.truth_ratio_stat_retain(self.truth_ratio))
            )
        return out


def _label(progress: str | None, what: str) -> str | None:
    return f"{progress}: {what}" if progress else None


def answer_logprobs(model, tokenizer, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int = 16,
                    progress: str | None = None) -> list:
    """Per-token answer log-probabilities (as :func:`reliant.core.models.answer_token_logprobs`),
    with a progress bar named ``progress`` over the batches."""
    check_pairs(prompts, answers)
    encoded = [encode_prompt_answer(tokenizer, p, a) for p, a in zip(prompts, answers)]
    return [s.logprobs for s in score_tokens(model, encoded, pad_token_id(tokenizer), batch_size, description=progress)]


def generate(model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int, batch_size: int,
             progress: str | None = None) -> list[str]:
    """:func:`reliant.core.models.greedy_generate` batch by batch, with a progress bar.

    The batches are exactly the ones ``greedy_generate`` forms itself (prompts of similar
    token length, longest first), so the answers are the same as one call would give.
    """
    prompts = list(prompts)
    if not progress:
        return greedy_generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    lengths = [len(tokenizer(p)["input_ids"]) or 1 for p in prompts]  # an empty prompt becomes one start token
    batches = list(length_batches(lengths, batch_size))
    results = [""] * len(prompts)
    with batch_progress(progress, len(batches)) as advance:
        for indices in batches:
            replies = greedy_generate(model, tokenizer, [prompts[i] for i in indices], max_new_tokens=max_new_tokens,
                                      batch_size=len(indices))
            for i, reply in zip(indices, replies):
                results[i] = reply
            advance()
    return results


def _mean_nll(model, tokenizer, questions: Sequence[str], answers: Sequence[str], batch_size: int,
              progress: str | None = None) -> np.ndarray:
    prompts = [question_prompt(tokenizer, q) for q in questions]
    per_sample = answer_logprobs(model, tokenizer, prompts, list(answers), batch_size=batch_size, progress=progress)
    return np.array([-float(t.float().mean()) if t.numel() else 0.0 for t in per_sample])


def score_tofu_set(
    model,
    tokenizer,
    records: Sequence[dict[str, Any]],
    name: str,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 96,
    options_normalised: bool = False,
    base_key: str = "paraphrased_answer",
    progress: str | None = None,
) -> SetScores:
    """Score one evaluation set with the ``question``/``answer``/``paraphrased_answer``/
    ``perturbed_answer`` fields of TOFU's ``*_perturbed`` files.

    ``options_normalised`` gives real-authors / world-facts style probability (true answer
    against its perturbed options); ``base_key`` is the answer the perturbed ones are compared
    with in the truth ratio (TOFU uses the paraphrase for author sets and the answer itself for
    real authors and world facts).
    """
    questions = [r["question"] for r in records]
    answers = [r["answer"] for r in records]
    answer_nll = _mean_nll(model, tokenizer, questions, answers, batch_size)
    # Plain question/answer sets (no perturbed answers) get probability and ROUGE only.
    has_options = all(r.get("perturbed_answer") and r.get(base_key) for r in records)
    if has_options:
        n_perturbed = min(len(r["perturbed_answer"]) for r in records)
        base_nll = answer_nll if base_key == "answer" else _mean_nll(
            model, tokenizer, questions, [r[base_key] for r in records], batch_size, _label(progress, "paraphrases")
        )
        flat_questions = [q for q in questions for _ in range(n_perturbed)]
        flat_perturbed = [p for r in records for p in r["perturbed_answer"][:n_perturbed]]
        perturbed_nll = _mean_nll(
            model, tokenizer, flat_questions, flat_perturbed, batch_size, _label(progress, "perturbed answers")
        ).reshape(
            len(records), n_perturbed
        )
        truth = metrics.truth_ratio(perturbed_nll, base_nll)
    else:
        truth = np.empty(0)
    if options_normalised and has_options:
        probability = metrics.normalized_option_probability(answer_nll, perturbed_nll)
    else:
        probability = metrics.probability_from_nll(answer_nll)
    generations = generate(
        model, tokenizer, [question_prompt(tokenizer, q) for q in questions], max_new_tokens=max_new_tokens, batch_size=batch_size,
        progress=_label(progress, "greedy answers"),
    )
    rouge = np.array([metrics.rouge_l_recall(g, a) for g, a in zip(generations, answers)])
    return SetScores(name, np.asarray(probability), rouge, np.asarray(truth), generations)


@dataclass
class TofuEvaluation:
    sets: dict[str, SetScores]

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: scores.summary() for name, scores in self.sets.items()}

    def model_utility(self) -> float:
        """Harmonic mean of the nine utility numbers; NaN unless all three utility sets ran
        with perturbed answers."""
        if not all(name in self.sets for name in TOFU_UTILITY_SETS):
            return float("nan")
        values = {
            f"{set_name}/{metric_name}": value
            for set_name in TOFU_UTILITY_SETS
            for metric_name, value in self.sets[set_name].summary().items()
        }
        if len(values) != len(metrics.MODEL_UTILITY_KEYS):  # a set without perturbed answers
            return float("nan")
        return float(metrics.model_utility(values))

    def forget_truth_ratios(self) -> np.ndarray:
        return self.sets["forget"].truth_ratio


def evaluate_tofu(
    model,
    tokenizer,
    eval_sets: dict[str, Sequence[dict[str, Any]]],
    *,
    batch_size: int = 16,
    max_new_tokens: int = 96,
    progress: str | None = None,
) -> TofuEvaluation:
    """Score ``eval_sets`` (keys among forget, retain, real_authors, world_facts).

    ``progress`` (e.g. ``"before"``) draws one bar per scoring pass, named
    ``"<progress> <set>: <pass>"``."""
    sets = {}
    for name, records in eval_sets.items():
        world_like = name in ("real_authors", "world_facts")
        sets[name] = score_tofu_set(
            model, tokenizer, records, name, batch_size=batch_size, max_new_tokens=max_new_tokens,
            options_normalised=world_like, base_key="answer" if world_like else "paraphrased_answer",
            progress=f"{progress} {name}" if progress else None,
        )
    return TofuEvaluation(sets)


def text_min_k_scores(model, tokenizer, texts: Sequence[str], *, k: float = 0.4, batch_size: int = 8,
                      progress: str | None = None) -> np.ndarray:
    """Min-K% membership score of each text (higher = more likely seen in training)."""
    per_text = answer_logprobs(model, tokenizer, [""] * len(texts), list(texts), batch_size=batch_size, progress=progress)
    return np.array([metrics.min_k_percent_score(t.float().numpy(), k=k) for t in per_text])


def muse_verbmem(model, tokenizer, prompts: Sequence[str], truths: Sequence[str], *, max_new_tokens: int = 128,
                 batch_size: int = 8, progress: str | None = None) -> float:
    continuations = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                             progress=progress)
    return float(np.mean([metrics.rouge_l_f1(c, t) for c, t in zip(continuations, truths)]))


def muse_knowmem(
    model, tokenizer, questions: Sequence[str], answers: Sequence[str], icl: Sequence[dict[str, str]] = (),
    *, max_new_tokens: int = 32, batch_size: int = 8, progress: str | None = None,
) -> float:
    shots = [(s["question"], s["answer"]) for s in icl]
    prompts = [few_shot_prompt(tokenizer, shots, q) for q in questions]
    replies = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
    return float(np.mean([metrics.rouge_l_f1(r, a) for r, a in zip(replies, answers)]))


def min_k_auc(model, tokenizer, member_texts: Sequence[str], nonmember_texts: Sequence[str], *, k: float = 0.4,
              progress: str | None = None) -> float:
    members = text_min_k_scores(model, tokenizer, member_texts, k=k, progress=_label(progress, "Min-K% forget texts"))
    nonmembers = text_min_k_scores(model, tokenizer, nonmember_texts, k=k, progress=_label(progress, "Min-K% holdout texts"))
    return float(metrics.auc_members_vs_nonmembers(members, nonmembers))
