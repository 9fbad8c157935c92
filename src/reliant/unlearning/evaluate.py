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

Every answer is scored with its closing EOS token, as TOFU (``convert_raw_data_to_model_format``)
and OpenUnlearning (``preprocess_chat_instance``) score it; greedy TOFU answers are up to 200
new tokens (OpenUnlearning ``configs/generation/default.yaml``). OpenUnlearning's extra TOFU
numbers are reported too: the paraphrased and perturbed answers' probabilities and ROUGE-L
(generation against them) separately, the truth ratio's ``prob_mean`` aggregator
(``mean P(para) / (P(para) + P(pert))``), exact memorization (share of answer tokens the model
predicts greedily, teacher-forced) and extraction strength (``1 - k/|y|`` for the shortest
teacher-forced prefix ``k`` after which every answer token is predicted greedily).

MUSE (Shi et al., 2024): VerbMem (ROUGE-L F1 x 100 of a 128-token greedy continuation against
the true text cut to its first 128 tokens), KnowMem (ROUGE-L F1 x 100 of few-shot answers of
up to 32 tokens, cut at MUSE's stop strings) and PrivLeak (the Min-K% (K = 40 %) AUC with
MUSE's convention, holdout texts as the positive class, relative to the retrained model's).
One scale everywhere: MUSE's 0-100. The membership-inference scores come from
:mod:`reliant.memorization.api` (LOSS, zlib, Min-K%, Min-K%++; reference with a reference model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from reliant.core.errors import UserError
from reliant.core.models import greedy_generate, length_batches, model_device, score_tokens
from reliant.core.progress import batch_progress
from reliant.core.prompts import (
    check_pairs,
    encode_prompt_answer,
    few_shot_prompt,
    pad_encoded,
    pad_token_id,
    question_prompt,
)
from reliant.unlearning import metrics

TOFU_MAX_NEW_TOKENS = 200
"""OpenUnlearning's ``configs/generation/default.yaml``."""
VERBMEM_TOKENS = 128
"""MUSE's VerbMem: 128 new tokens, reference cut to its first 128 tokens."""
KNOWMEM_TOKENS = 32
"""MUSE's KnowMem answer length."""
MUSE_MIN_K = 0.4
"""MUSE's PrivLeak attack: Min-40%."""

TOFU_UTILITY_SETS = ("retain", "real_authors", "world_facts")


@dataclass
class SetScores:
    """Per-sample scores of one TOFU evaluation set."""

    name: str
    probability: np.ndarray
    rouge_l_recall: np.ndarray
    truth_ratio: np.ndarray
    generations: list[str] = field(default_factory=list)
    exact_memorization: np.ndarray = field(default_factory=lambda: np.empty(0))
    extraction_strength: np.ndarray = field(default_factory=lambda: np.empty(0))
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-question paraphrased/perturbed probabilities and ROUGE-L, truth ratio prob_mean."""

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
        for key in ("exact_memorization", "extraction_strength"):
            values = getattr(self, key)
            if len(values):
                out[key] = float(np.mean(values))
        for key, values in self.extra.items():
            out[key] = float(np.mean(values))
        return out


def _label(progress: str | None, what: str) -> str | None:
    return f"{progress}: {what}" if progress else None


def answer_logprobs(model, tokenizer, prompts: Sequence[str], answers: Sequence[str], *, batch_size: int = 16,
                    progress: str | None = None, add_eos: bool = False) -> list:
    """Per-token answer log-probabilities (as :func:`reliant.core.models.answer_token_logprobs`),
    with a progress bar named ``progress`` over the batches; ``add_eos`` scores the closing
    EOS token as an answer token (TOFU, OpenUnlearning)."""
    check_pairs(prompts, answers)
    encoded = [encode_prompt_answer(tokenizer, p, a, add_eos=add_eos) for p, a in zip(prompts, answers)]
    return [s.logprobs for s in score_tokens(model, encoded, pad_token_id(tokenizer), batch_size, description=progress)]


def _check_answers(answers: Sequence[str], what: str) -> None:
    for index, answer in enumerate(answers):
        if not isinstance(answer, str) or not answer.strip():
            # An empty answer would be scored by its EOS alone and look perfectly known.
            raise UserError(f"{what} {index + 1} is empty; every answer needs text to score", field="answer")


def answer_token_scores(model, tokenizer, questions: Sequence[str], answers: Sequence[str], *, batch_size: int = 16,
                        progress: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Teacher-forced scores of each answer (EOS included): per-token log-probabilities and
    whether each token is the model's greedy (argmax) prediction, for probability, exact
    memorization and extraction strength in one pass.

    Batches are right-padded like :func:`reliant.core.models.score_tokens`, which has no
    argmax output; this loop adds it."""
    import torch

    check_pairs(questions, answers)
    _check_answers(answers, "answer")
    encoded = [encode_prompt_answer(tokenizer, question_prompt(tokenizer, q), a, add_eos=True)
               for q, a in zip(questions, answers)]
    logps: list[np.ndarray] = [np.empty(0)] * len(encoded)
    greedy: list[np.ndarray] = [np.empty(0, dtype=bool)] * len(encoded)
    device = model_device(model)
    batches = list(length_batches([len(ids) for ids, _ in encoded], batch_size))
    was_training = model.training
    model.eval()
    with torch.inference_mode(), batch_progress(progress, len(batches)) as advance:
        for indices in batches:
            batch = pad_encoded([encoded[i] for i in indices], pad_token_id(tokenizer))
            logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
            for row, i in enumerate(indices):
                ids, start = encoded[i]
                scored = torch.log_softmax(logits[row, start - 1 : len(ids) - 1].float(), dim=-1)
                targets = batch["input_ids"][row, start : len(ids)].to(scored.device)
                logps[i] = scored.gather(-1, targets[:, None]).squeeze(-1).cpu().numpy()
                greedy[i] = (scored.argmax(-1) == targets).cpu().numpy()
            advance()
    model.train(was_training)
    return logps, greedy


def _mean_nll_of(logps: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([-float(np.mean(t)) for t in logps])


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
    """Mean answer-token NLL with the closing EOS scored (TOFU's ``avg_gt_loss``)."""
    _check_answers(answers, "answer")
    prompts = [question_prompt(tokenizer, q) for q in questions]
    per_sample = answer_logprobs(model, tokenizer, prompts, list(answers), batch_size=batch_size, progress=progress,
                                 add_eos=True)
    return np.array([-float(t.float().mean()) for t in per_sample])


def score_tofu_set(
    model,
    tokenizer,
    records: Sequence[dict[str, Any]],
    name: str,
    *,
    batch_size: int = 16,
    max_new_tokens: int = TOFU_MAX_NEW_TOKENS,
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
    answer_logps, answer_greedy = answer_token_scores(model, tokenizer, questions, answers, batch_size=batch_size,
                                                      progress=_label(progress, "answers"))
    answer_nll = _mean_nll_of(answer_logps)
    extra: dict[str, np.ndarray] = {}
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
        extra["truth_ratio_prob_mean"] = metrics.truth_ratio_prob_mean(perturbed_nll, base_nll)
        if base_key != "answer":
            extra["paraphrased_probability"] = metrics.probability_from_nll(base_nll)
        extra["perturbed_probability"] = metrics.probability_from_nll(perturbed_nll.ravel()).reshape(
            perturbed_nll.shape).mean(axis=1)
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
    if has_options:
        if base_key != "answer":
            extra["paraphrased_rouge_l_recall"] = np.array(
                [metrics.rouge_l_recall(g, r[base_key]) for g, r in zip(generations, records)])
        extra["perturbed_rouge_l_recall"] = np.array(
            [np.mean([metrics.rouge_l_recall(g, p) for p in r["perturbed_answer"][:n_perturbed]])
             for g, r in zip(generations, records)])
    return SetScores(
        name, np.asarray(probability), rouge, np.asarray(truth), generations,
        exact_memorization=np.array([metrics.exact_memorization(g) for g in answer_greedy]),
        extraction_strength=np.array([metrics.extraction_strength(g) for g in answer_greedy]),
        extra=extra,
    )


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
            if f"{set_name}/{metric_name}" in metrics.MODEL_UTILITY_KEYS
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
    max_new_tokens: int = TOFU_MAX_NEW_TOKENS,
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


def _text_examples(texts: Sequence[str]):
    from reliant.memorization.api import Example

    return [Example(prompt="", target=t, line=i + 1) for i, t in enumerate(texts)]


def membership_attack_scores(model, tokenizer, texts: Sequence[str], *, k: float = MUSE_MIN_K, batch_size: int = 8,
                             reference: Any = None, attacks: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Every membership-inference score of each text (higher = more likely seen in training)
    from :func:`reliant.memorization.api.membership_scores`; ``reference`` (a model sharing
    the tokenizer) adds the reference-ratio attack."""
    from reliant.memorization.api import ATTACKS, membership_scores, token_statistics

    examples = _text_examples(texts)
    stats = token_statistics(model, tokenizer, examples, batch_size=batch_size)
    reference_stats = token_statistics(reference, tokenizer, examples, batch_size=batch_size) if reference is not None else None
    chosen = [a for a in (attacks or ATTACKS) if a != "reference" or reference is not None]
    return membership_scores(stats, examples, reference_stats=reference_stats, k=k, attacks=chosen)


def mia_suite(model, tokenizer, forget_texts: Sequence[str], holdout_texts: Sequence[str], *, k: float = MUSE_MIN_K,
              batch_size: int = 8, reference: Any = None, progress: str | None = None) -> dict[str, float]:
    """AUC of every membership attack separating forget (members) from holdout texts, the
    convention of OpenUnlearning's ``mia_*`` metrics (1: the forget set still looks trained
    on; 0.5: chance). MUSE's PrivLeak AUC is ``1 - mia_min_k`` (:func:`privleak_auc`)."""
    with batch_progress(progress, 2) as advance:
        forget = membership_attack_scores(model, tokenizer, forget_texts, k=k, batch_size=batch_size, reference=reference)
        advance()
        holdout = membership_attack_scores(model, tokenizer, holdout_texts, k=k, batch_size=batch_size, reference=reference)
        advance()
    return {f"mia_{attack}": float(metrics.auc_members_vs_nonmembers(forget[attack], holdout[attack])) for attack in forget}


def privleak_auc(mia: dict[str, float]) -> float:
    """MUSE's ``forget_holdout_Min-40%`` AUC (holdout texts positive) from :func:`mia_suite`."""
    return 1.0 - mia["mia_min_k"]


def text_min_k_scores(model, tokenizer, texts: Sequence[str], *, k: float = MUSE_MIN_K, batch_size: int = 8,
                      progress: str | None = None) -> np.ndarray:
    """Min-K% membership score of each text (higher = more likely seen in training), from
    the memorization capability's attack."""
    return membership_attack_scores(model, tokenizer, texts, k=k, batch_size=batch_size, attacks=["min_k"])["min_k"]


def truncate_tokens(tokenizer, text: str, n_tokens: int) -> str:
    """``text`` cut to its first ``n_tokens`` tokens (MUSE cuts VerbMem references so)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids[:n_tokens], skip_special_tokens=True) if len(ids) > n_tokens else text


def muse_verbmem(model, tokenizer, prompts: Sequence[str], truths: Sequence[str], *, max_new_tokens: int = VERBMEM_TOKENS,
                 batch_size: int = 8, progress: str | None = None) -> float:
    """MUSE VerbMem x 100: ROUGE-L F1 of a ``max_new_tokens`` greedy continuation against the
    true continuation cut to the same number of tokens (MUSE ``eval.py``: 128 and 128)."""
    continuations = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                             progress=progress)
    references = [truncate_tokens(tokenizer, t, max_new_tokens) for t in truths]
    return metrics.verbmem(continuations, references)


def muse_knowmem(
    model, tokenizer, questions: Sequence[str], answers: Sequence[str], icl: Sequence[dict[str, str]] = (),
    *, max_new_tokens: int = KNOWMEM_TOKENS, batch_size: int = 8, progress: str | None = None,
) -> float:
    """MUSE KnowMem x 100: few-shot answers cut at MUSE's stop strings, ROUGE-L F1 against
    the reference answers (:func:`reliant.unlearning.metrics.knowmem`)."""
    shots = [(s["question"], s["answer"]) for s in icl]
    prompts = [few_shot_prompt(tokenizer, shots, q) for q in questions]
    replies = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
    return metrics.knowmem(replies, answers)


def min_k_auc(model, tokenizer, forget_texts: Sequence[str], holdout_texts: Sequence[str], *, k: float = MUSE_MIN_K,
              progress: str | None = None) -> float:
    """MUSE's PrivLeak AUC (holdout texts positive): near 0 while the model still knows the
    forget texts, about 0.5 after retraining without them."""
    members = text_min_k_scores(model, tokenizer, forget_texts, k=k, progress=_label(progress, "Min-K% forget texts"))
    nonmembers = text_min_k_scores(model, tokenizer, holdout_texts, k=k, progress=_label(progress, "Min-K% holdout texts"))
    return float(metrics.muse_forget_holdout_auc(members, nonmembers))
