"""Scoring a :class:`~reliant.hallucination.inputs.QASet`: FEWL for every candidate model, the
baselines beside it, per-question thresholds and the per-model summary.

Baselines (all "higher = more truthful", as FEWL):

* ``single_reference`` — similarity to one reference LLM's answer (``baseline_reference``).
* ``reference_average`` — unweighted mean similarity to all reference answers.
* ``self_consistency`` — SelfCheckGPT-style (Manakul et al. 2023): mean similarity of the
  candidate's answer to its own sampled answers (only where samples are given).

A candidate answer counts as hallucinated when its FEWL score is below its question's
threshold. ``threshold="auto"`` needs no gold: the midpoint between the mean FEWL score of
that question's IW answers and of its CO answers, scored exactly as candidates are (or the
IW mean alone where no CO answers exist) — "closer to a deliberately wrong answer than to
its correction".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError
from reliant.hallucination.config import FEWLParams
from reliant.hallucination.fewl import expertise_weights, fewl_scores, select_neighbors
from reliant.hallucination.inputs import QASet
from reliant.hallucination.metrics import hallucination_rate, rank_models, summarize_method
from reliant.hallucination.similarity import pairwise_rows

__all__ = ["BASELINES", "FEWLParams", "FEWLResult", "check_ready", "score_qa"]

BASELINES = ("single_reference", "reference_average", "self_consistency")


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
    evaluation: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(self.scores)

    def hallucinated(self, model: str) -> np.ndarray:
        return self.scores[model] < self.thresholds

    def model_table(self) -> list[dict[str, Any]]:
        """One row per candidate model, ranked by mean FEWL (1 = least hallucinating)."""
        means = {m: float(np.mean(s)) for m, s in self.scores.items()}
        ranks = rank_models(means)
        rows = []
        for m in sorted(self.scores, key=ranks.get):
            row: dict[str, Any] = {
                "model": m,
                "rank": ranks[m],
                "mean FEWL": means[m],
                "hallucination rate": hallucination_rate(self.scores[m], self.thresholds),
            }
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
                    "threshold": float(self.thresholds[q]),
                    "hallucinated": bool(self.scores[m][q] < self.thresholds[q]),
                }
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


def _padded(encoder, rows: list[list[str]], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-question texts -> ``(n, R_max, d)`` vectors and an ``(n, R_max)`` mask."""
    width = max((len(r) for r in rows), default=0)
    vectors = np.zeros((len(rows), width, dim), dtype=np.float32)
    mask = np.zeros((len(rows), width), dtype=bool)
    flat = [t for r in rows for t in r]
    if flat:
        encoded = encoder.encode(flat)
        position = 0
        for q, r in enumerate(rows):
            vectors[q, : len(r)] = encoded[position : position + len(r)]
            mask[q, : len(r)] = True
            position += len(r)
    return vectors, mask


class _Scorer:
    """Holds the reference vectors, neighbours and λ; scores any ``(n, d)`` answer vectors."""

    def __init__(self, qa: QASet, encoder, params: FEWLParams) -> None:
        self.params = params
        n, refs = len(qa), qa.references
        self.n_refs = len(refs[0])
        question_vectors = encoder.encode(qa.questions)
        self.dim = question_vectors.shape[1]
        self.refs = encoder.encode([t for row in refs for t in row]).reshape(n, self.n_refs, self.dim)
        if params.laziness_penalty:
            self.neighbors, self.neighbor_mask = select_neighbors(question_vectors, params.neighbors, params.neighbor_max_sim)
        else:
            self.neighbors, self.neighbor_mask = np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=bool)
        self.wrong, self.wrong_mask = _padded(encoder, qa.wrong, self.dim)
        self.corrected, self.corrected_mask = _padded(encoder, qa.corrected, self.dim)
        sim_wrong = np.einsum("qnd,qrd->qnr", self.refs, self.wrong)
        sim_corrected = np.einsum("qnd,qrd->qnr", self.refs, self.corrected)
        self.weights, self.expertise = expertise_weights(
            sim_wrong, self.wrong_mask, sim_corrected, self.corrected_mask, temperature=params.temperature
        )
        if params.weighting == "uniform":
            self.weights = np.full_like(self.weights, 1.0 / self.n_refs)

    def similarities(self, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``s(h(x), h_i(x))`` as ``(n, N)`` and ``s(h(x), h_i(x'_k))`` as ``(n, N, K)``."""
        same = pairwise_rows(answers[:, None, :], self.refs)
        if self.neighbors.shape[1] == 0:
            return same, None
        # One neighbour slot at a time keeps memory at O(n·N·d), not O(n²·N).
        neighbor = np.stack(
            [np.einsum("qd,qnd->qn", answers, self.refs[self.neighbors[:, k]]) for k in range(self.neighbors.shape[1])],
            axis=2,
        )
        return same, neighbor

    def score(self, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        same, neighbor = self.similarities(answers)
        return fewl_scores(
            same,
            neighbor,
            self.weights,
            neighbor_mask=self.neighbor_mask,
            divergence_name=self.params.divergence,
            penalty_weighting=self.params.penalty_weighting,
            return_terms=True,
        )

    def score_padded(self, vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean FEWL of each question's IW (or CO) answers; NaN where there are none."""
        if vectors.shape[1] == 0:
            return np.full(vectors.shape[0], math.nan)
        per = np.stack([self.score(vectors[:, r])[0] for r in range(vectors.shape[1])], axis=1)
        count = mask.sum(axis=1)
        total = np.where(mask, per, 0.0).sum(axis=1)
        return np.divide(total, count, out=np.full(len(count), math.nan), where=count > 0)

    def thresholds(self) -> np.ndarray:
        if self.params.threshold != "auto":
            return np.full(self.refs.shape[0], float(self.params.threshold))
        wrong = self.score_padded(self.wrong, self.wrong_mask)
        corrected = self.score_padded(self.corrected, self.corrected_mask)
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


def score_qa(qa: QASet, encoder, params: FEWLParams | None = None) -> FEWLResult:
    """FEWL and the baselines for every candidate model of ``qa``."""
    params = params or FEWLParams()
    check_ready(qa, params)
    # One embedding pass over every distinct text.
    encoder.encode(qa.texts())
    scorer = _Scorer(qa, encoder, params)
    scores, agreement, penalty = {}, {}, {}
    baselines: dict[str, dict[str, np.ndarray]] = {name: {} for name in BASELINES}
    for model, answers in qa.candidates.items():
        vectors = encoder.encode(answers)
        scores[model], agreement[model], penalty[model] = scorer.score(vectors)
        same = pairwise_rows(vectors[:, None, :], scorer.refs)
        baselines["single_reference"][model] = same[:, params.baseline_reference]
        baselines["reference_average"][model] = same.mean(axis=1)
        if model in qa.samples:
            sample_vectors, sample_mask = _padded(encoder, qa.samples[model], scorer.dim)
            sims = pairwise_rows(vectors[:, None, :], sample_vectors)
            count = sample_mask.sum(axis=1)
            baselines["self_consistency"][model] = np.divide(
                np.where(sample_mask, sims, 0.0).sum(axis=1), count, out=np.full(len(count), math.nan), where=count > 0
            )
    baselines = {name: by_model for name, by_model in baselines.items() if by_model}
    result = FEWLResult(
        qa=qa, params=params, scores=scores, agreement=agreement, penalty=penalty, weights=scorer.weights,
        expertise=scorer.expertise, thresholds=scorer.thresholds(), baselines=baselines,
        neighbors=scorer.neighbors, neighbor_mask=scorer.neighbor_mask,
    )
    if qa.gold:
        result.evaluation = {"fewl": summarize_method(scores, qa.gold)}
        for name, by_model in baselines.items():
            result.evaluation[name] = summarize_method(by_model, qa.gold)
    return result
