"""Python entry points of the hallucination capability: FEWL (Wei et al. 2024, arXiv:2402.10412),
a hallucination score that needs no gold-standard answers.

>>> from reliant.hallucination.api import score
>>> result = score("answers.jsonl")                       # references + IW answers in the file
>>> result.model_table()                                   # per-model mean FEWL, rate, rank
>>> result.scores["model-a"]                               # per-question FEWL of model-a's answers

or with reference LLMs answering (local transformers or OpenAI-compatible servers)::

    score("answers.jsonl", reference_llms=["openai:llama3@http://127.0.0.1:8000/v1", "hf:Qwen/Qwen2.5-0.5B-Instruct"],
          wrong_llm="openai:llama3@http://127.0.0.1:8000/v1")

The formulas live in :mod:`reliant.hallucination.fewl`; the data format in
:mod:`reliant.hallucination.inputs`; simulated reference LLMs of known expertise (for offline
checks) in :mod:`reliant.hallucination.simulate`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from reliant.core.llm import LLMBackend
from reliant.hallucination.config import FEWLParams, ScoreConfig, SimulateConfig
from reliant.hallucination.consistency import SCORERS
from reliant.hallucination.fewl import expertise_weights, fewl_scores, select_neighbors
from reliant.hallucination.inputs import QASet, attach_references, load_qa, qa_from_records
from reliant.hallucination.report import select_examples, write_report
from reliant.hallucination.scoring import FEWLResult, score_qa
from reliant.hallucination.similarity import OneHotEncoder, TextEncoder
from reliant.hallucination.workflows import run_score, run_simulate

__all__ = [
    "FEWLParams",
    "FEWLResult",
    "OneHotEncoder",
    "QASet",
    "ScoreConfig",
    "SimulateConfig",
    "SCORERS",
    "TextEncoder",
    "demo_stage",
    "load_qa",
    "qa_from_records",
    "run_score",
    "run_simulate",
    "score",
]


def score(
    data: str | os.PathLike | QASet | Sequence[Mapping[str, Any]],
    *,
    references: str | os.PathLike | None = None,
    reference_llms: Sequence[str | LLMBackend] = (),
    wrong_llm: str | LLMBackend | None = None,
    n_wrong: int = 5,
    correct: bool = True,
    sample_llms: Mapping[str, str | LLMBackend] | None = None,
    n_samples: int = 5,
    params: FEWLParams | None = None,
    similarity: Any = "cosine",
    encoder: Any = None,
    embedder: str = "all-MiniLM-L6-v2",
    embedding_cache: str | os.PathLike | None = None,
    selfcheck_nli: Any = None,
    selfcheck_llm: Any = None,
    answers_from: str | os.PathLike | None = None,
    model_name: str = "candidate",
    limit: int | None = None,
    max_new_tokens: int = 64,
    wrong_temperature: float = 1.0,
    sample_temperature: float = 1.0,
    sentence_scores: bool = True,
    device: str = "auto",
    seed: int = 0,
) -> FEWLResult:
    """FEWL scores (and the baselines) of every candidate answer in ``data``.

    Args:
        data: a question/answer file (jsonl/json/csv/parquet), a :class:`QASet`, or records.
        references: a separate file of reference answers (joined on ``id`` or by position).
        reference_llms: backends or spec strings (``hf:...``, ``openai:model@url``, ``tiny``)
            whose greedy answers become additional reference answers.
        wrong_llm: backend that writes the intentionally wrong (IW) answers and their
            corrections (CO) for the expertise weights.
        sample_llms: ``{candidate model: backend}``; ``n_samples`` sampled answers of each
            feed the SelfCheckGPT baselines.
        params: FEWL's parameters (:class:`FEWLParams`).
        similarity: ``"cosine"``, ``"exact"``, ``"nli:<model>"``, ``"judge:<llm spec>"`` or a
            :class:`~reliant.hallucination.consistency.ConsistencyScorer`
            (:mod:`reliant.hallucination.consistency`).
        encoder: text encoder (``encode(texts) -> unit rows``) used as cosine similarity
            instead of ``similarity``.
        embedder: the sentence-embedding model of ``cosine`` (``"exact"`` = exact match);
            ``embedding_cache`` caches its vectors.
        selfcheck_nli, selfcheck_llm: NLI model id/path (or scorer) and LLM spec (or judge
            scorer) of the SelfCheckGPT-NLI / -prompt baselines.
        answers_from: a run folder (or its ``generated.jsonl``) whose LLM answers are reused
            instead of asking the LLMs.
        seed: seed for generation (scoring itself is deterministic).

    The LLM answers are in ``result.generated`` (:class:`~reliant.hallucination.generate.Generated`).

    Examples:
        >>> from reliant.hallucination.api import score
        >>> rows = [{"question": f"Q{i}?", "answers": {"good": f"a{i}", "bad": f"b{i}"},
        ...          "references": [f"a{i}", f"a{i}", f"b{i}"], "wrong_answers": [f"b{i}"]} for i in range(4)]
        >>> result = score(rows, similarity="exact", params=FEWLParams(neighbors=2))
        >>> [row["model"] for row in result.model_table()]
        ['good', 'bad']
    """
    from reliant.core.seeding import set_seed
    from reliant.hallucination.generate import Generated, apply_generated, fill_from_backends, load_generated

    set_seed(seed)
    if isinstance(data, QASet):
        qa = data
    elif isinstance(data, (str, os.PathLike)):
        qa = load_qa(data, model_name=model_name, limit=limit)
    else:
        qa = qa_from_records(list(data), model_name=model_name)
    if references is not None:
        attach_references(qa, references)
    generated = Generated()
    if answers_from is not None:
        generated = load_generated(qa, answers_from)
        apply_generated(qa, generated)
    elif reference_llms or wrong_llm is not None or sample_llms:
        generated = fill_from_backends(qa, reference_llms, wrong_llm, n_wrong=n_wrong, correct=correct,
                                       max_new_tokens=max_new_tokens, seed=seed, sample_llms=sample_llms,
                                       n_samples=n_samples, sample_temperature=sample_temperature,
                                       wrong_temperature=wrong_temperature)
    scorer = encoder if encoder is not None else make_similarity(similarity, qa, embedder=embedder,
                                                                 cache_dir=embedding_cache, device=device)
    nli = make_similarity(f"nli:{selfcheck_nli}", qa, device=device) if isinstance(selfcheck_nli, str) else selfcheck_nli
    judge = make_similarity(f"judge:{selfcheck_llm}", qa) if isinstance(selfcheck_llm, str) else selfcheck_llm
    try:
        result = score_qa(qa, scorer, params or FEWLParams(), selfcheck_nli=nli, selfcheck_judge=judge,
                          sentence_scores=sentence_scores)
    finally:
        for owned in (scorer, judge):
            if hasattr(owned, "close") and owned is not encoder:
                owned.close()
    result.generated = generated
    return result


def make_similarity(similarity: Any, qa: QASet | None = None, *, embedder: str = "all-MiniLM-L6-v2",
                    cache_dir: str | os.PathLike | None = None, device: str = "auto") -> Any:
    """A consistency scorer from a ``--similarity`` value (a scorer object passes through);
    ``cosine`` with ``embedder="exact"`` is exact match, as ``--embedder exact`` always was."""
    from reliant.hallucination.consistency import ConsistencyScorer, make_scorer

    if isinstance(similarity, ConsistencyScorer):
        return similarity
    if similarity == "cosine" and embedder == "exact":
        similarity = "exact"
    texts = qa.texts() if qa is not None else ()
    return make_scorer(similarity, embedder=embedder, cache_dir=cache_dir, texts=texts, device=device)


def make_encoder(embedder: str, qa: QASet | None = None, *, cache_dir: str | os.PathLike | None = None) -> Any:
    """``"exact"`` (similarity 1 for identical texts, else 0; for short canonical answers) or a
    sentence-embedding model name/path (:class:`TextEncoder`)."""
    if embedder == "exact":
        count = 1 if qa is None else len(set(qa.texts()))
        return OneHotEncoder(dim=max(count, 1))
    return TextEncoder(embedder, cache_dir=cache_dir)


def demo_stage(run: Any, seed: int) -> dict:
    """FEWL for ``reliant demo``: simulated reference LLMs of known expertise answer the built-in
    fictitious-people questions; FEWL ranks five candidate models without gold answers and is
    judged against the held-out gold labels beside the baselines (< 60 s on 2 CPUs)."""
    from reliant.hallucination.simulate import default_candidates, default_references, load_items, simulate_records

    items = load_items("builtin", limit=32, seed=seed)
    records = simulate_records(items, default_candidates(5, seed=seed), default_references([i.group for i in items], seed=seed),
                               n_wrong=2, n_samples=0, seed=seed)
    qa = qa_from_records(records, source="builtin-simulated")
    result = score_qa(qa, TextEncoder(), FEWLParams(neighbors=8))
    write_report(run, result, prefix="Hallucination (FEWL): ", files=False)
    fewl = result.evaluation.get("fewl", {})
    average = result.evaluation.get("reference_average", {})
    run.add_headline("FEWL model-ranking ρ (simulated refs)", fewl.get("spearman"))
    run.add_text("Hallucination (FEWL): what was simulated",
                 "Reference LLMs and candidates are simulated from the built-in corpus's correct and perturbed "
                 "answers (known accuracies; one lazy reference). FEWL sees only texts; gold labels judge it.")
    return {
        "fewl_spearman": fewl.get("spearman"),
        "fewl_auroc": fewl.get("auroc"),
        "reference_average_spearman": average.get("spearman"),
        "reference_average_auroc": average.get("auroc"),
        "reference_weights": result.mean_weights(),
    }
