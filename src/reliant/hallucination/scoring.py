"""Scoring a :class:`~reliant.hallucination.inputs.QASet`: FEWL for every candidate model, the
baselines beside it, sentence-level scores, optional verdict thresholds and the per-model
summary.

Baselines (all "higher = more truthful", as FEWL):

* ``single_reference`` — similarity to one reference LLM's answer (``baseline_reference``).
* ``reference_average`` — unweighted mean similarity to all reference answers.
* ``self_consistency`` — mean similarity (the chosen consistency scorer) of the candidate's
  answer to its own sampled answers (SelfCheckGPT's idea with reliant's scorer).
* ``selfcheck_ngram`` / ``selfcheck_nli`` / ``selfcheck_prompt`` — SelfCheckGPT's unigram,
  NLI and prompt variants (:mod:`reliant.hallucination.selfcheck`), negated; NLI needs an NLI
  model, prompt an LLM (the ``--similarity`` one when it is ``nli:``/``judge:``, or
  ``--selfcheck-nli``/``--selfcheck-llm``). All need the candidate's samples.

Thresholds: ``threshold="none"`` (default) gives no verdict — without gold labels no threshold
is calibrated, and the ``auto`` rule below flagged 45-77 % of true answers in held-out
simulations (issue 18). ``"auto"``: the midpoint between the mean FEWL of a question's IW
answers and of its CO answers (or the IW mean alone), "closer to a deliberately wrong answer
than to its correction". A number: one threshold for every question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError
from reliant.hallucination.config import FEWLParams
from reliant.hallucination.consistency import ConsistencyScorer, as_scorer
from reliant.hallucination.fewl import expertise_weights, fewl_scores, select_neighbors
from reliant.hallucination.inputs import QASet
from reliant.hallucination.metrics import hallucination_rate, rank_models, summarize_method
from reliant.hallucination.selfcheck import split_sentences, unigram_scores, variant_scores

__all__ = ["BASELINES", "FEWLParams", "FEWLResult", "check_ready", "score_qa"]

BASELINES = ("single_reference", "reference_average", "self_consistency", "selfcheck_ngram", "selfcheck_nli",
             "selfcheck_prompt")


@dataclass
class FEWLResult:
    """Everything a scoring run produced; ``scores[model][q]`` is FEWL of model's answer to q."""

    qa: QASet
    params: FEWLParams
    scores: dict[str, np.ndarray]
    agreement: dict[str, np.ndarray]
    penalty: dict[str, np.ndarray]
    weights: np.ndarray
    expertise: np.ndarray
    thresholds: np.ndarray
    baselines: dict[str, dict[str, np.ndarray]]
    neighbors: np.ndarray
    neighbor_mask: np.ndarray
    diversity: np.ndarray | None = None
    sentences: list[dict[str, Any]] = field(default_factory=list)
    similarity: str = ""
    generated: Any = None
    evaluation: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.scores)

    @property
    def has_threshold(self) -> bool:
        return bool(np.isfinite(self.thresholds).any())

    def hallucinated(self, model: str) -> np.ndarray:
        return self.scores[model] < self.thresholds

    def model_table(self) -> list[dict[str, Any]]:
        """One row per candidate model, ranked by mean FEWL (1 = least hallucinating)."""
        means = {m: float(np.mean(s)) for m, s in self.scores.items()}
        ranks = rank_models(means)
        rows = []
        for m in sorted(self.scores, key=ranks.get):
            row: dict[str, Any] = {"model": m, "rank": ranks[m], "mean FEWL": means[m]}
            if self.has_threshold:
                row["flagged rate (uncalibrated threshold)"] = hallucination_rate(self.scores[m], self.thresholds)
            for name, by_model in self.baselines.items():
                if m in by_model and np.isfinite(by_model[m]).any():
                    row[name] = float(np.nanmean(by_model[m]))
            if m in self.qa.gold and np.isfinite(self.qa.gold[m]).any():
                row["gold hallucination rate"] = float(np.nanmean(self.qa.gold[m]))
            rows.append(row)
        return rows

    def question_rows(self) -> list[dict[str, Any]]:
        """One row per (question, model) with FEWL, its two terms, threshold and verdict."""
        rows = []
        for q in range(len(self.qa)):
            for m in self.models:
                row = {
                    "id": self.qa.ids[q],
                    "question": self.qa.questions[q],
                    "model": m,
                    "answer": self.qa.candidates[m][q],
                    "fewl": float(self.scores[m][q]),
                    "agreement": float(self.agreement[m][q]),
                    "laziness_penalty": float(self.penalty[m][q]),
                }
                if self.has_threshold:
                    row["threshold"] = float(self.thresholds[q])
                    row["flagged"] = bool(self.scores[m][q] < self.thresholds[q])
                for name, by_model in self.baselines.items():
                    if m in by_model and math.isfinite(by_model[m][q]):
                        row[name] = float(by_model[m][q])
                if m in self.qa.gold and math.isfinite(self.qa.gold[m][q]):
                    row["gold_hallucinated"] = float(self.qa.gold[m][q])
                rows.append(row)
        return rows

    def mean_weights(self) -> dict[str, float]:
        return {name: float(w) for name, w in zip(self.qa.reference_names, self.weights.mean(axis=0))}


# --------------------------------------------------------------------------- internals


def _ragged_similarity(scorer: ConsistencyScorer, qa: QASet, rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """``s(h_i(x), t_r(x))`` for each question's ragged texts ``rows[q]`` (IW or CO answers):
    ``(n, N, R_max)`` similarities and an ``(n, R_max)`` mask."""
    n, n_refs = len(qa), len(qa.references[0])
    width = max((len(r) for r in rows), default=0)
    sims = np.zeros((n, n_refs, width))
    mask = np.zeros((n, width), dtype=bool)
    entries = [(q, i, r) for q in range(n) for i in range(n_refs) for r in range(len(rows[q]))]
    if entries:
        values = scorer.similarity([qa.references[q][i] for q, i, _ in entries], [rows[q][r] for q, _, r in entries],
                                   [qa.questions[q] for q, _, _ in entries])
        for (q, i, r), v in zip(entries, values):
            sims[q, i, r] = v
            mask[q, r] = True
    return sims, mask


def reference_diversity(scorer: ConsistencyScorer, qa: QASet, neighbors: np.ndarray, neighbor_mask: np.ndarray) -> np.ndarray:
    """Per reference: ``1 − mean s(h_i(x), h_i(x'))`` over questions x and their neighbours x'
    (clipped to [0, 1]). A reference that gives the same generic answer everywhere ("I have
    no comment.") has diversity 0; one that answers each question on its own, close to 1."""
    n_refs = len(qa.references[0])
    entries = [(q, int(neighbors[q, k])) for q in range(len(qa)) for k in range(neighbors.shape[1]) if neighbor_mask[q, k]]
    if not entries:
        return np.ones(n_refs)
    out = np.ones(n_refs)
    for i in range(n_refs):
        values = scorer.similarity([qa.references[q][i] for q, _ in entries], [qa.references[p][i] for _, p in entries],
                                   [qa.questions[q] for q, _ in entries])
        out[i] = 1.0 - float(np.mean(values))
    return np.clip(out, 0.0, 1.0)


class _Scorer:
    """Holds the references, neighbours and λ of a set; scores any texts tied to questions."""

    def __init__(self, qa: QASet, scorer: ConsistencyScorer, params: FEWLParams) -> None:
        self.qa, self.scorer, self.params = qa, scorer, params
        n = len(qa)
        self.n_refs = len(qa.references[0])
        if params.laziness_penalty or params.diversity_weighting:
            question_vectors = scorer.encode_questions(qa.questions)
            self.neighbors, self.neighbor_mask = select_neighbors(question_vectors, params.neighbors, params.neighbor_max_sim)
        else:
            self.neighbors, self.neighbor_mask = np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=bool)
        sim_wrong, self.wrong_mask = _ragged_similarity(scorer, qa, qa.wrong)
        sim_corrected, self.corrected_mask = _ragged_similarity(scorer, qa, qa.corrected)
        self.diversity = (reference_diversity(scorer, qa, self.neighbors, self.neighbor_mask)
                          if params.diversity_weighting else np.ones(self.n_refs))
        self.weights, self.expertise = expertise_weights(
            sim_wrong, self.wrong_mask, sim_corrected, self.corrected_mask, temperature=params.temperature,
            diversity=self.diversity if params.diversity_weighting else None,
        )
        if params.weighting == "uniform":
            self.weights = np.full_like(self.weights, 1.0 / self.n_refs)

    def same(self, q_idx: np.ndarray, texts: list[str]) -> np.ndarray:
        """``s(text_j, h_i(x_j))`` as ``(m, N)``."""
        refs, questions, n_refs = self.qa.references, self.qa.questions, self.n_refs
        values = self.scorer.similarity([t for t in texts for _ in range(n_refs)],
                                        [refs[q][i] for q in q_idx for i in range(n_refs)],
                                        [questions[q] for q in q_idx for _ in range(n_refs)])
        return values.reshape(len(texts), n_refs)

    def score(self, q_idx: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """FEWL, its agreement and penalty terms, and ``s(text, h_i(x))``, for texts answering ``q_idx``."""
        q_idx = np.asarray(q_idx, dtype=np.int64)
        same = self.same(q_idx, texts)
        n_neighbors = self.neighbors.shape[1] if self.params.laziness_penalty else 0
        neighbor, mask = None, None
        if n_neighbors:
            refs, questions = self.qa.references, self.qa.questions
            mask = self.neighbor_mask[q_idx]
            entries = [(j, k, i) for j, q in enumerate(q_idx) for k in range(n_neighbors) if mask[j, k]
                       for i in range(self.n_refs)]
            neighbor = np.zeros((len(texts), self.n_refs, n_neighbors))
            if entries:
                values = self.scorer.similarity([texts[j] for j, _, _ in entries],
                                                [refs[self.neighbors[q_idx[j], k]][i] for j, k, i in entries],
                                                [questions[q_idx[j]] for j, _, _ in entries])
                for (j, k, i), v in zip(entries, values):
                    neighbor[j, i, k] = v
        scores, agreement, penalty = fewl_scores(
            same, neighbor, self.weights[q_idx], neighbor_mask=mask, divergence_name=self.params.divergence,
            penalty_weighting=self.params.penalty_weighting, return_terms=True,
        )
        return scores, agreement, penalty, same

    def mean_score(self, rows: list[list[str]]) -> np.ndarray:
        """Mean FEWL of each question's IW (or CO) answers; NaN where there are none."""
        entries = [(q, t) for q, row in enumerate(rows) for t in row]
        out = np.full(len(rows), math.nan)
        if not entries:
            return out
        scores = self.score(np.array([q for q, _ in entries]), [t for _, t in entries])[0]
        total, count = np.zeros(len(rows)), np.zeros(len(rows))
        for (q, _), v in zip(entries, scores):
            total[q] += v
            count[q] += 1
        return np.divide(total, count, out=out, where=count > 0)

    def thresholds(self) -> np.ndarray:
        n = len(self.qa)
        if self.params.threshold == "none":
            return np.full(n, -math.inf)
        if self.params.threshold != "auto":
            return np.full(n, float(self.params.threshold))
        wrong = self.mean_score(self.qa.wrong)
        corrected = self.mean_score(self.qa.corrected)
        out = np.where(np.isfinite(corrected), 0.5 * (wrong + corrected), wrong)
        if not np.isfinite(out).any():
            return np.zeros_like(out)
        return np.where(np.isfinite(out), out, np.nanmean(out))


def check_ready(qa: QASet, params: FEWLParams, *, reference_llms: int = 0, wrong_llm: bool = False,
                section: str = "") -> None:
    """Everything FEWL needs is there (or will be, once ``reference_llms`` more reference
    LLMs and, with ``wrong_llm``, an IW/CO writer have answered): a one-line ConfigError
    otherwise, raised before any LLM is asked. ``section`` prefixes the parameters' field
    names (``"fewl."`` inside a command config)."""
    params.check()
    n_refs = (len(qa.references[0]) if qa.references is not None else 0) + reference_llms
    if n_refs == 0:
        raise ConfigError(
            "no reference answers: give 'references' in the data, a --references file, or --reference-llm",
            field="references",
        )
    if params.weighting == "expertise" and not wrong_llm and not any(qa.wrong):
        raise ConfigError(
            "no intentionally wrong answers for the expertise weights: give 'wrong_answers' in the data, "
            "--wrong-llm, or --weighting uniform",
            field="wrong_answers",
        )
    if not params.baseline_reference < n_refs:
        raise ConfigError(
            f"must be in 0..{n_refs - 1} (there are {n_refs} references)", field=f"{section}baseline_reference"
        )


def _selfcheck(qa: QASet, model: str, sentences: list[list[str]], nli: Any, judge: Any) -> dict[str, np.ndarray]:
    """SelfCheckGPT's variants for one candidate: answer-level scores (negated, higher = more
    truthful) and per-sentence hallucination scores keyed ``<variant>_sentences``."""
    samples = qa.samples[model]
    answers = qa.candidates[model]
    out: dict[str, Any] = {}
    ngram_sentences, ngram = zip(*(unigram_scores(sentences[q], answers[q], samples[q]) for q in range(len(qa))))
    out["selfcheck_ngram"] = -np.array(ngram, dtype=float)
    out["selfcheck_ngram_sentences"] = list(ngram_sentences)
    for variant, model_obj in (("nli", nli), ("prompt", judge)):
        if model_obj is None:
            continue
        per_sentence = [variant_scores(variant, sentences[q], samples[q], model_obj) for q in range(len(qa))]
        out[f"selfcheck_{variant}"] = -np.array([np.mean(v) if v else math.nan for v in per_sentence], dtype=float)
        out[f"selfcheck_{variant}_sentences"] = per_sentence
    return out


def score_qa(qa: QASet, scorer: Any, params: FEWLParams | None = None, *, selfcheck_nli: Any = None,
             selfcheck_judge: Any = None, sentence_scores: bool = True) -> FEWLResult:
    """FEWL and the baselines for every candidate model of ``qa``.

    ``scorer`` is a :class:`~reliant.hallucination.consistency.ConsistencyScorer` or an
    encoder (``encode(texts) -> unit rows``, cosine). ``selfcheck_nli`` (an NLI scorer) and
    ``selfcheck_judge`` (a judge scorer) enable SelfCheckGPT's NLI and prompt variants; an NLI
    or judge ``scorer`` serves as its own when they are not given. ``sentence_scores`` also
    scores each sentence of multi-sentence answers with FEWL."""
    from reliant.hallucination.consistency import JudgeScorer, NLIScorer

    params = params or FEWLParams()
    check_ready(qa, params)
    scorer = as_scorer(scorer)
    selfcheck_nli = selfcheck_nli if selfcheck_nli is not None else (scorer if isinstance(scorer, NLIScorer) else None)
    selfcheck_judge = selfcheck_judge if selfcheck_judge is not None else (
        scorer if isinstance(scorer, JudgeScorer) else None)
    fewl = _Scorer(qa, scorer, params)
    n = len(qa)
    every_question = np.arange(n)
    scores, agreement, penalty = {}, {}, {}
    baselines: dict[str, dict[str, np.ndarray]] = {name: {} for name in BASELINES}
    sentence_rows: list[dict[str, Any]] = []
    for model, answers in qa.candidates.items():
        scores[model], agreement[model], penalty[model], same = fewl.score(every_question, list(answers))
        baselines["single_reference"][model] = same[:, params.baseline_reference]
        baselines["reference_average"][model] = same.mean(axis=1)
        sentences = [split_sentences(a) for a in answers]
        sentence_fewl = [[float(scores[model][q])] for q in range(n)]
        multi = [(q, j) for q in range(n) if len(sentences[q]) > 1 for j in range(len(sentences[q]))]
        if sentence_scores and multi:
            values = fewl.score(np.array([q for q, _ in multi]), [sentences[q][j] for q, j in multi])[0]
            sentence_fewl = [[] if len(sentences[q]) > 1 else row for q, row in enumerate(sentence_fewl)]
            for (q, _), v in zip(multi, values):
                sentence_fewl[q].append(float(v))
        checks: dict[str, Any] = {}
        if model in qa.samples:
            entries = [(q, t) for q in range(n) for t in qa.samples[model][q]]
            sims = scorer.similarity([answers[q] for q, _ in entries], [t for _, t in entries],
                                     [qa.questions[q] for q, _ in entries]) if entries else np.zeros(0)
            total, count = np.zeros(n), np.zeros(n)
            for (q, _), v in zip(entries, sims):
                total[q] += v
                count[q] += 1
            baselines["self_consistency"][model] = np.divide(total, count, out=np.full(n, math.nan), where=count > 0)
            checks = _selfcheck(qa, model, sentences, selfcheck_nli, selfcheck_judge)
            for name in ("selfcheck_ngram", "selfcheck_nli", "selfcheck_prompt"):
                if name in checks:
                    baselines[name][model] = checks[name]
        for q in range(n):
            for j, sentence in enumerate(sentences[q]):
                row = {"id": qa.ids[q], "model": model, "sentence_index": j, "sentence": sentence,
                       "fewl": sentence_fewl[q][j] if j < len(sentence_fewl[q]) else math.nan}
                for variant in ("ngram", "nli", "prompt"):
                    key = f"selfcheck_{variant}_sentences"
                    if key in checks:
                        row[f"selfcheck_{variant}"] = float(checks[key][q][j])
                sentence_rows.append(row)
    baselines = {name: by_model for name, by_model in baselines.items() if by_model}
    result = FEWLResult(
        qa=qa, params=params, scores=scores, agreement=agreement, penalty=penalty, weights=fewl.weights,
        expertise=fewl.expertise, thresholds=fewl.thresholds(), baselines=baselines,
        neighbors=fewl.neighbors, neighbor_mask=fewl.neighbor_mask,
        diversity=fewl.diversity if params.diversity_weighting else None, sentences=sentence_rows,
        similarity=scorer.describe(),
    )
    if qa.gold:
        result.evaluation = {"fewl": summarize_method(scores, qa.gold)}
        for name, by_model in baselines.items():
            result.evaluation[name] = summarize_method(by_model, qa.gold)
    return result
