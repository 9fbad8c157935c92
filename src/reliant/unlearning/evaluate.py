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

from reliant.core.models import answer_token_logprobs, greedy_generate
from reliant.core.prompts import qa_prompt
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


def _mean_nll(model, tokenizer, questions: Sequence[str], answers: Sequence[str], batch_size: int) -> np.ndarray:
    prompts = [qa_prompt(q) for q in questions]
    per_sample = answer_token_logprobs(model, tokenizer, prompts, list(answers), batch_size=batch_size)
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
            model, tokenizer, questions, [r[base_key] for r in records], batch_size
        )
        flat_questions = [q for q in questions for _ in range(n_perturbed)]
        flat_perturbed = [p for r in records for p in r["perturbed_answer"][:n_perturbed]]
        perturbed_nll = _mean_nll(model, tokenizer, flat_questions, flat_perturbed, batch_size).reshape(
            len(records), n_perturbed
        )
        truth = metrics.truth_ratio(perturbed_nll, base_nll)
    else:
        truth = np.empty(0)
    if options_normalised and has_options:
        probability = metrics.normalized_option_probability(answer_nll, perturbed_nll)
    else:
        probability = metrics.probability_from_nll(answer_nll)
    generations = greedy_generate(
        model, tokenizer, [qa_prompt(q) for q in questions], max_new_tokens=max_new_tokens, batch_size=batch_size
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
) -> TofuEvaluation:
    """Score ``eval_sets`` (keys among forget, retain, real_authors, world_facts)."""
    sets = {}
    for name, records in eval_sets.items():
        world_like = name in ("real_authors", "world_facts")
        sets[name] = score_tofu_set(
            model, tokenizer, records, name, batch_size=batch_size, max_new_tokens=max_new_tokens,
            options_normalised=world_like, base_key="answer" if world_like else "paraphrased_answer",
        )
    return TofuEvaluation(sets)


def text_min_k_scores(model, tokenizer, texts: Sequence[str], *, k: float = 0.4, batch_size: int = 8) -> np.ndarray:
    """Min-K% membership score of each text (higher = more likely seen in training)."""
    per_text = answer_token_logprobs(model, tokenizer, [""] * len(texts), list(texts), batch_size=batch_size)
    return np.array([metrics.min_k_percent_score(t.float().numpy(), k=k) for t in per_text])


def muse_verbmem(model, tokenizer, prompts: Sequence[str], truths: Sequence[str], *, max_new_tokens: int = 128, batch_size: int = 8) -> float:
    continuations = greedy_generate(model, tokenizer, list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size)
    return float(np.mean([metrics.rouge_l_f1(c, t) for c, t in zip(continuations, truths)]))


def muse_knowmem(
    model, tokenizer, questions: Sequence[str], answers: Sequence[str], icl: Sequence[dict[str, str]] = (),
    *, max_new_tokens: int = 32, batch_size: int = 8,
) -> float:
    shots = "".join(f"{qa_prompt(s['question'])} {s['answer']}\n\n" for s in icl)
    prompts = [shots + qa_prompt(q) for q in questions]
    replies = greedy_generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return float(np.mean([metrics.rouge_l_f1(r, a) for r, a in zip(replies, answers)]))


def min_k_auc(model, tokenizer, member_texts: Sequence[str], nonmember_texts: Sequence[str], *, k: float = 0.4) -> float:
    members = text_min_k_scores(model, tokenizer, member_texts, k=k)
    nonmembers = text_min_k_scores(model, tokenizer, nonmember_texts, k=k)
    return float(metrics.auc_members_vs_nonmembers(members, nonmembers))
