"""Data curation: what a user (or another capability) imports.

    from reliant.curation.api import neighbor_graph, estimate_transition, detect_label_errors
    graph = neighbor_graph(features, k=12)                         # once per pool
    hoc = estimate_transition(noisy_labels, K, graph)              # T, p, noise rate
    found = detect_label_errors(noisy_labels, K, graph, method="rank",
                                class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior))
    curation = curate_scores(llm_scores, graph)                    # DS2 score curation
    chosen = select_ds2(curation.curated, long_tail_scores(graph), budget=1000)

:func:`run_diagnose`, :func:`run_detect`, :func:`run_rate` and :func:`run_select` are the
``reliant curate`` commands (files in, run directory out); :func:`demo_stage` is the stage
of ``reliant demo``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from reliant.core.data import check_labels, check_same_length, load_labels, save_array, save_records
from reliant.core.errors import ConfigError, DataError, check_number
from reliant.core.rundir import RunDirectory, run_directory
from reliant.core.seeding import set_seed
from reliant.curation.ds2 import (
    NUM_LEVELS,
    ScoreCuration,
    compress_rating,
    curate_scores,
    long_tail_scores,
    parse_rating,
    rate_samples,
    rating_prompt,
    select_ds2,
    select_random,
    select_score_diversity,
    select_score_threshold,
)
from reliant.curation.hoc import HOCResult, analytic_consensus, consensus_counts, estimate_transition, solve_transition
from reliant.curation.inputs import (
    check_embeddings,
    check_fraction,
    check_positive,
    load_features,
    load_pool,
    load_scores,
    load_text_records,
    pool_text,
)
from reliant.curation.metrics import (
    agreement,
    detection_scores,
    empirical_transition,
    mean_pairwise_cosine_distance,
    random_detection_f1,
    transition_errors,
)
from reliant.curation.neighbors import NeighborGraph, neighbor_graph, restrict_to_sample
from reliant.curation.plots import plot_flag_rates, plot_long_tail, plot_priors, plot_score_histograms, plot_transition
from reliant.curation.simifeat import DetectionResult, detect_label_errors, knn_label_votes, rank_rates
from reliant.curation.synthetic import NoisyDataset, clusterable_features, make_transition

__all__ = [
    "DetectConfig",
    "DetectionResult",
    "DiagnoseConfig",
    "HOCResult",
    "NeighborGraph",
    "RateConfig",
    "ScoreCuration",
    "SelectConfig",
    "curate_scores",
    "demo_stage",
    "detect_label_errors",
    "estimate_transition",
    "neighbor_graph",
    "run_detect",
    "run_diagnose",
    "run_rate",
    "run_select",
    "select_ds2",
]


# --------------------------------------------------------------------------- configs


@dataclass
class DiagnoseConfig:
    """``reliant curate diagnose``: HOC estimate of T, p and the noise rate."""

    features: Optional[Path] = None
    labels: Optional[Path] = None
    data: Optional[Path] = None
    text_field: str = "text"
    label_field: str = "label"
    clean_labels: Optional[Path] = None
    num_classes: Optional[int] = None
    embedding_cache: Optional[Path] = None
    k: int = 10
    rounds: int = 20
    sample_fraction: float = 0.8
    steps: int = 1500
    knn_backend: str = "auto"
    seed: int = 0


@dataclass
class DetectConfig(DiagnoseConfig):
    """``reliant curate detect``: SimiFeat (rank or vote) plus the cleanlab baseline."""

    method: str = "rank"
    detect_rounds: int = 11
    detect_fraction: float = 0.9
    baseline: bool = True


@dataclass
class RateConfig:
    """``reliant curate rate``: rate every pool sample with an LLM (DS2 prompt)."""

    pool: Optional[Path] = None
    rater: Optional[str] = None
    max_retries: int = 2
    max_new_tokens: int = 64
    seed: int = 0


@dataclass
class SelectConfig:
    """``reliant curate select``: DS2 score curation and budgeted selection, with baselines."""

    pool: Optional[Path] = None
    scores: Optional[Path] = None
    rater: Optional[str] = None
    budget: Optional[int] = None
    embeddings: Optional[Path] = None
    embedding_cache: Optional[Path] = None
    threshold: float = 0.5
    k: int = 10
    long_tail_k: int = 10
    hoc_rounds: int = 20
    hoc_fraction: float = 0.8
    detect_rounds: int = 11
    detect_fraction: float = 0.9
    max_similarity: float = 0.9
    knn_backend: str = "auto"
    max_retries: int = 2
    seed: int = 0


# --------------------------------------------------------------------------- baseline


def knn_pred_probs(labels: np.ndarray, graph: NeighborGraph, num_classes: int, k: int = 10,
                   smoothing: float = 0.01) -> np.ndarray:
    """Out-of-sample class probabilities from the similarity-weighted labels of the ``k``
    nearest *other* rows (the row's own label is not used), for cleanlab."""
    k = min(k, graph.k)
    n = len(labels)
    weights = np.clip(graph.sims[:, :k].astype(np.float64), 0.0, None)
    probs = np.full((n, num_classes), smoothing)
    np.add.at(probs, (np.repeat(np.arange(n), k), labels[graph.idx[:, :k]].ravel()), weights.ravel())
    return probs / probs.sum(axis=1, keepdims=True)


def cleanlab_baseline(labels: np.ndarray, graph: NeighborGraph, num_classes: int, k: int = 10) -> np.ndarray | None:
    """cleanlab's ``find_label_issues`` on k-NN pred_probs; None when cleanlab is missing."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:  # pragma: no cover - cleanlab is a declared dependency
        return None
    return np.asarray(find_label_issues(labels, knn_pred_probs(labels, graph, num_classes, k), n_jobs=1), dtype=bool)


# --------------------------------------------------------------------------- commands


def _check_common(config: DiagnoseConfig) -> None:
    check_positive(config.k, "k")
    check_positive(config.rounds, "rounds")
    check_positive(config.steps, "steps")
    check_fraction(config.sample_fraction, "sample_fraction")
    if config.num_classes is not None:
        check_positive(config.num_classes, "num_classes", 2)


def _load_labelled(config: DiagnoseConfig) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None, str]:
    """Features, noisy labels, K, optional clean labels and a description of the source."""
    _check_common(config)
    labels = None
    if config.features is not None and config.data is not None:
        raise ConfigError("give --features or --data (texts to embed), not both", field="features")
    if config.features is not None:
        features = load_features(config.features)
        source = str(config.features)
    elif config.data is not None:
        texts, labels = load_text_records(config.data, config.text_field,
                                          None if config.labels is not None else config.label_field)
        from reliant.core.embeddings import embed

        features = np.asarray(embed(texts, cache=config.embedding_cache, show_progress=False), dtype=np.float32)
        source = str(config.data)
    else:
        raise ConfigError("give --features (an array file) or --data (a records file with texts)", field="features")
    if config.labels is not None:
        labels = load_labels(config.labels, config.num_classes, name="labels", classes_from="--num-classes")
    elif labels is None:
        raise ConfigError("give --labels (one integer label per row)", field="labels")
    else:
        labels = check_labels(labels, config.num_classes, name=config.label_field, file=config.data,
                              classes_from="--num-classes")
    labels_source = str(config.labels or config.data)
    if len(labels) != len(features):
        raise DataError(f"has {len(labels)} labels but there are {len(features)} feature rows",
                        file=labels_source, field="labels")
    if len(labels) < 3:
        raise DataError(f"needs at least 3 rows, got {len(labels)}", file=labels_source, field="labels")
    if config.k >= len(labels):
        raise ConfigError(f"must be below the number of rows ({len(labels)}): each row has at most "
                          f"{len(labels) - 1} neighbours, got {config.k}", field="k")
    K = int(config.num_classes or int(labels.max()) + 1)
    if K < 2:
        raise DataError("all labels are 0: need at least two classes (or pass --num-classes)", file=labels_source,
                        field="labels")
    clean = None
    if config.clean_labels is not None:
        clean = load_labels(config.clean_labels, K, name="clean_labels")
        check_same_length(clean_labels=clean, labels=labels)
    return features, labels, K, clean, source


def _report_hoc(run: RunDirectory, hoc: HOCResult, clean: np.ndarray | None, labels: np.ndarray) -> dict:
    K = hoc.num_classes
    metrics = {"num_samples": len(labels), "num_classes": K, "noise_rate_estimate": hoc.noise_rate,
               "T": hoc.T, "p": hoc.p, "noisy_prior": hoc.noisy_prior, "hoc_loss": hoc.loss,
               "hoc_rounds": hoc.rounds, "hoc_sample_size": hoc.sample_size, "hoc_rows_dropped": hoc.dropped}
    run.add_headline("estimated noise rate", hoc.noise_rate)
    T_true = p_true = None
    if clean is not None:
        T_true, p_true = empirical_transition(clean, labels, K)
        errors = transition_errors(hoc.T, T_true)
        true_rate = float(np.mean(clean != labels))
        metrics.update({"T_true": T_true, "p_true": p_true, "T_max_abs_error": errors["max_abs"],
                        "T_mean_row_l1_error": errors["mean_row_l1"], "noise_rate_true": true_rate})
        run.add_headline("true noise rate", true_rate)
        run.add_headline("T max abs error", errors["max_abs"])
    run.add_figure("Noise transition matrix", plot_transition(hoc.T, T_true), save_as="transition_matrix.png",
                   caption="Row i: where samples of clean class i end up as noisy labels. HOC, fitted to the "
                           "first/second/third-order consensus of each sample's and its two nearest neighbours' labels.")
    run.add_figure("Priors", plot_priors(hoc.p, hoc.noisy_prior, p_true))
    run.add_table("Per-class estimate", [
        {"class": i, "p (clean prior)": float(hoc.p[i]), "noisy label share": float(hoc.noisy_prior[i]),
         "T_ii (kept)": float(hoc.T[i, i]),
         "P(clean=i | noisy=i)": float(hoc.posterior_clean_given_noisy()[i, i])}
        for i in range(K)])
    return metrics


def run_diagnose(config: DiagnoseConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate diagnose``: returns ``(run, HOCResult)``."""
    features, labels, K, clean, source = _load_labelled(config)
    set_seed(config.seed)
    with run_directory("curate diagnose", config, out, overwrite=overwrite,
                       title="reliant curate diagnose: label-noise transition matrix (HOC)") as run:
        run.log(f"{len(labels)} rows from {source}, {K} classes")
        start = time.perf_counter()
        graph = neighbor_graph(features, max(config.k, 4), backend=config.knn_backend, seed=config.seed)
        hoc = estimate_transition(labels, K, graph, rounds=config.rounds, sample_fraction=config.sample_fraction,
                                  seed=config.seed, steps=config.steps)
        metrics = _report_hoc(run, hoc, clean, labels)
        metrics["seconds"] = time.perf_counter() - start
        run.add_metrics(metrics)
        save_array(hoc.T, run.file("T.npy"))
        save_array(hoc.p, run.file("p.npy"))
    return run, hoc


def run_detect(config: DetectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate detect``: returns ``(run, DetectionResult, metrics)``."""
    if config.method not in ("rank", "vote"):
        raise ConfigError(f"unknown method {config.method!r} (choose rank or vote)", field="method")
    check_positive(config.detect_rounds, "detect_rounds")
    check_fraction(config.detect_fraction, "detect_fraction")
    features, labels, K, clean, source = _load_labelled(config)
    set_seed(config.seed)
    with run_directory("curate detect", config, out, overwrite=overwrite,
                       title=f"reliant curate detect: SimiFeat-{config.method} label-error detection") as run:
        run.log(f"{len(labels)} rows from {source}, {K} classes")
        start = time.perf_counter()
        graph = neighbor_graph(features, config.k + 6, backend=config.knn_backend, seed=config.seed)
        hoc = estimate_transition(labels, K, graph, rounds=config.rounds, sample_fraction=config.sample_fraction,
                                  seed=config.seed, steps=config.steps)
        metrics = _report_hoc(run, hoc, clean, labels)
        rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior)
        found = detect_label_errors(labels, K, graph, method=config.method, k=config.k, rounds=config.detect_rounds,
                                    sample_fraction=config.detect_fraction, class_rates=rates, seed=config.seed + 1)
        seconds = time.perf_counter() - start
        metrics.update({"method": f"simifeat-{config.method}", "flagged": found.num_flagged,
                        "flagged_share": found.num_flagged / len(labels), "rank_rates": rates, "seconds": seconds})
        run.add_headline("flagged", found.num_flagged)
        rows = []
        is_noisy = None if clean is None else clean != labels
        if is_noisy is not None:
            scores = detection_scores(found.flagged, is_noisy)
            metrics["detection"] = scores
            relabel_ok = found.flagged & is_noisy
            metrics["suggestion_accuracy"] = float(np.mean(found.suggested[relabel_ok] == clean[relabel_ok])) \
                if relabel_ok.any() else None
            metrics["random_f1"] = random_detection_f1(float(is_noisy.mean()), found.num_flagged / len(labels))
            rows.append({"method": f"SimiFeat-{config.method}", **scores, "seconds": seconds})
            run.add_headline("detection F1", scores["f1"])
        if config.baseline:
            start = time.perf_counter()
            issues = cleanlab_baseline(labels, graph, K, config.k)
            if issues is not None:
                base_seconds = time.perf_counter() - start
                metrics["cleanlab"] = {"flagged": int(issues.sum()), "seconds": base_seconds}
                if is_noisy is not None:
                    metrics["cleanlab"].update(detection_scores(issues, is_noisy))
                    rows.append({"method": "cleanlab find_label_issues (k-NN pred_probs)",
                                 **detection_scores(issues, is_noisy), "seconds": base_seconds})
        if rows:
            run.add_table("Detection vs the clean labels", rows)
        run.add_figure("Flag rates", plot_flag_rates(found.flag_rate, is_noisy))
        run.add_metrics(metrics)
        out_rows = []
        for i in np.flatnonzero(found.flagged):
            row = {"index": int(i), "label": int(labels[i]), "suggested_label": int(found.suggested[i]),
                   "flag_rate": round(float(found.flag_rate[i]), 4), "confidence": round(float(found.confidence[i]), 4)}
            if clean is not None:
                row["clean_label"] = int(clean[i])
            out_rows.append(row)
        save_records(out_rows, run.file("flagged.jsonl"))
        save_array(found.flag_rate, run.file("flag_rate.npy"))
        save_array(found.suggested, run.file("suggested_labels.npy"))
    return run, found, metrics


def _rate_pool(records, spec: str, max_retries: int, max_new_tokens: int, seed: int):
    from reliant.core.llm import make_backend

    with make_backend(spec) as backend:
        return rate_samples(records, backend, max_retries=max_retries, max_new_tokens=max_new_tokens, seed=seed)


def run_rate(config: RateConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate rate``: writes ``scores.npy`` (6 levels) and ``ratings.jsonl``."""
    if config.pool is None:
        raise ConfigError("give --pool (an Alpaca-format file)", field="pool")
    if not config.rater:
        raise ConfigError("give --rater (an LLM backend spec, e.g. tiny, hf:<id> or openai:<model>@<url>)",
                          field="rater")
    check_number(config.max_retries, "max_retries", low=0, integer=True)
    check_number(config.max_new_tokens, "max_new_tokens", low=1, integer=True)
    records, _ = load_pool(config.pool)
    set_seed(config.seed)
    with run_directory("curate rate", config, out, overwrite=overwrite,
                       title="reliant curate rate: LLM quality ratings (DS2 prompt)") as run:
        scores, ratings = _rate_pool(records, config.rater, config.max_retries, config.max_new_tokens, config.seed)
        unparsed = sum(r is None for r in ratings)
        run.add_metrics({"num_samples": len(records), "unparsable": unparsed,
                         "score_histogram": np.bincount(scores, minlength=NUM_LEVELS)})
        run.add_headline("samples rated", len(records))
        run.add_headline("unparsable replies", unparsed)
        run.add_figure("Score distribution", plot_score_histograms({"LLM rating": scores}, NUM_LEVELS,
                                                                    "Compressed LLM scores"))
        save_array(scores, run.file("scores.npy"))
        save_records([{"index": i, "score": int(s), **(r or {})} for i, (s, r) in enumerate(zip(scores, ratings))],
                     run.file("ratings.jsonl"))
    return run, scores


def _pool_embeddings(config: SelectConfig, records) -> np.ndarray:
    if config.embeddings is not None:
        emb = load_features(config.embeddings)
        return check_embeddings(emb, len(records), str(config.embeddings))
    from reliant.core.embeddings import embed

    return np.asarray(embed([pool_text(r) for r in records], cache=config.embedding_cache, show_progress=False),
                      dtype=np.float32)


def run_select(config: SelectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate select``: returns ``(run, selected indices, metrics)``."""
    if config.pool is None:
        raise ConfigError("give --pool (an Alpaca-format file)", field="pool")
    if config.budget is None:
        raise ConfigError("give --budget (how many samples to select)", field="budget")
    check_positive(config.budget, "budget")
    check_positive(config.k, "k")
    check_positive(config.long_tail_k, "long_tail_k")
    check_positive(config.hoc_rounds, "hoc_rounds")
    check_positive(config.detect_rounds, "detect_rounds")
    check_fraction(config.hoc_fraction, "hoc_fraction")
    check_fraction(config.detect_fraction, "detect_fraction")
    check_number(config.threshold, "threshold", low=0, high=1)
    check_number(config.max_similarity, "max_similarity", low=-1, high=1)
    check_number(config.max_retries, "max_retries", low=0, integer=True)
    if (config.scores is None) == (not config.rater):
        raise ConfigError("give exactly one of --scores FILE or --rater BACKEND", field="scores")
    records, originals = load_pool(config.pool)
    if len(records) < 3:
        raise DataError(f"needs at least 3 samples, got {len(records)}", file=config.pool)
    if config.budget > len(records):
        raise ConfigError(f"must be at most the pool size ({len(records)} samples in {config.pool}), "
                          f"got {config.budget}", field="budget")
    for name in ("k", "long_tail_k"):
        if getattr(config, name) >= len(records):
            raise ConfigError(f"must be below the pool size ({len(records)} samples): each sample has at most "
                              f"{len(records) - 1} neighbours, got {getattr(config, name)}", field=name)
    scores = load_scores(config.scores, len(records), NUM_LEVELS) if config.scores is not None else None
    embeddings = _pool_embeddings(config, records)
    set_seed(config.seed)
    with run_directory("curate select", config, out, overwrite=overwrite,
                       title="reliant curate select: DS2 score curation and data selection") as run:
        if scores is None:
            scores, _ = _rate_pool(records, config.rater, config.max_retries, 64, config.seed)
        n = len(records)
        budget = min(config.budget, n)
        start = time.perf_counter()
        graph = neighbor_graph(embeddings, max(config.k + 6, config.long_tail_k), backend=config.knn_backend,
                               seed=config.seed)
        curation = curate_scores(scores, graph, threshold=config.threshold, k=config.k, hoc_rounds=config.hoc_rounds,
                                 hoc_fraction=config.hoc_fraction, detect_rounds=config.detect_rounds,
                                 detect_fraction=config.detect_fraction, seed=config.seed)
        long_tail = long_tail_scores(graph, config.long_tail_k)
        chosen = select_ds2(curation.curated, long_tail, budget)
        seconds = time.perf_counter() - start
        selections = {
            "DS2": chosen,
            "random": select_random(n, budget, config.seed),
            "score threshold (AlpaGasus-style)": select_score_threshold(scores, budget, config.seed),
            f"score + diversity (DEITA-style, cos <= {config.max_similarity:g})":
                select_score_diversity(scores, embeddings, budget, max_similarity=config.max_similarity,
                                       seed=config.seed),
        }
        rows = []
        for name, idx in selections.items():
            rows.append({"method": name, "selected": len(idx),
                         "mean raw score": float(scores[idx].mean()) if len(idx) else 0.0,
                         "mean curated score": float(curation.curated[idx].mean()) if len(idx) else 0.0,
                         "mean long-tail score": float(long_tail[idx].mean()) if len(idx) else 0.0,
                         "mean pairwise cosine distance": mean_pairwise_cosine_distance(embeddings[idx],
                                                                                        seed=config.seed)})
        hoc = curation.hoc
        metrics = {
            "num_samples": n, "budget": budget, "seconds_curation_and_selection": seconds,
            "noise_rate_estimate": hoc.noise_rate, "T": hoc.T, "p": hoc.p,
            "flagged": curation.detection.num_flagged, "changed": int(curation.changed.sum()),
            "changed_share": float(curation.changed.mean()),
            "raw_histogram": np.bincount(scores, minlength=NUM_LEVELS),
            "curated_histogram": np.bincount(curation.curated, minlength=NUM_LEVELS),
            "selections": {r["method"]: {k: v for k, v in r.items() if k != "method"} for r in rows},
        }
        run.add_metrics(metrics)
        run.add_headline("pool", n)
        run.add_headline("selected", len(chosen))
        run.add_headline("scores changed by curation", int(curation.changed.sum()))
        run.add_headline("estimated score noise rate", hoc.noise_rate)
        run.add_figure("Score transition matrix", plot_transition(hoc.T), save_as="transition_matrix.png",
                       caption="HOC estimate of P(rated level j | true level i) from the embeddings' 2-NN consensus.")
        run.add_figure("Scores before and after curation",
                       plot_score_histograms({"raw": scores, "curated": curation.curated,
                                              "selected (DS2)": curation.curated[chosen]}, NUM_LEVELS,
                                             "Score levels: raw, curated, and in the DS2 selection"))
        run.add_figure("Long-tail scores", plot_long_tail(long_tail, selections))
        run.add_table("Selected sets", rows, caption="Diversity: mean 1 − cos over pairs of selected samples.")
        suffix = "".join(Path(config.pool).suffixes[-2:]) if str(config.pool).endswith(".gz") else Path(config.pool).suffix
        save_records([originals[i] for i in chosen], run.file(f"selected{suffix}"))
        in_selection = np.zeros(n, dtype=bool)
        in_selection[chosen] = True
        save_records([{"index": int(i), "raw_score": int(scores[i]), "curated_score": int(curation.curated[i]),
                       "flagged": bool(curation.detection.flagged[i]),
                       "confidence": round(float(curation.detection.confidence[i]), 4),
                       "long_tail": round(float(long_tail[i]), 4), "selected": bool(in_selection[i])}
                      for i in range(n)], run.file("scores.jsonl"))
        save_array(curation.curated, run.file("curated_scores.npy"))
        save_records([{"method": name, "indices": idx.tolist()} for name, idx in selections.items()],
                     run.file("selections.jsonl"))
    return run, chosen, metrics


# --------------------------------------------------------------------------- demo


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """Synthetic clusterable features with known label noise: HOC error, SimiFeat vs cleanlab,
    and DS2 curation of noisy 6-level scores."""
    start = time.perf_counter()
    K = 5
    T = make_transition(K, 0.3, "random", seed=seed)
    data = clusterable_features(3000, K, T, dim=32, seed=seed)
    graph = neighbor_graph(data.features, 16)
    hoc = estimate_transition(data.noisy, K, graph, seed=seed)
    T_true, _ = empirical_transition(data.clean, data.noisy, K)
    errors = transition_errors(hoc.T, T_true)
    found = detect_label_errors(data.noisy, K, graph, method="rank", class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior),
                                seed=seed)
    voted = detect_label_errors(data.noisy, K, graph, method="vote", seed=seed)
    issues = cleanlab_baseline(data.noisy, graph, K)
    rows = [{"method": "SimiFeat-rank", **detection_scores(found.flagged, data.is_noisy)},
            {"method": "SimiFeat-vote", **detection_scores(voted.flagged, data.is_noisy)}]
    if issues is not None:
        rows.append({"method": "cleanlab (k-NN pred_probs)", **detection_scores(issues, data.is_noisy)})
    run.add_figure("Curation: noise transition matrix (synthetic, 30% noise)", plot_transition(hoc.T, T_true),
                   caption=f"HOC on 3,000 synthetic points: max |ΔT| = {errors['max_abs']:.3f}.")
    run.add_table("Curation: label-error detection (synthetic)", rows)

    # DS2 on synthetic 6-level scores: true quality = the cluster's level, the rater is noisy
    T6 = make_transition(NUM_LEVELS, 0.35, "random", seed=seed + 1)
    scored = clusterable_features(3000, NUM_LEVELS, T6, dim=32, seed=seed + 1)
    g6 = neighbor_graph(scored.features, 16)
    curation = curate_scores(scored.noisy, g6, seed=seed)
    before = float(np.mean(scored.noisy == scored.clean))
    after = float(np.mean(curation.curated == scored.clean))
    run.add_figure("Curation: DS2 scores before/after curation (synthetic)",
                   plot_score_histograms({"true": scored.clean, "raw (noisy rater)": scored.noisy,
                                          "curated": curation.curated}, NUM_LEVELS, "Synthetic score levels"))
    headline = {"curation_T_max_abs_error": errors["max_abs"], "curation_noise_rate_estimate": hoc.noise_rate,
                "curation_noise_rate_true": float(data.is_noisy.mean()), "curation_simifeat_rank_f1": rows[0]["f1"],
                "curation_cleanlab_f1": rows[-1]["f1"] if issues is not None else None,
                "curation_ds2_score_accuracy_before": before, "curation_ds2_score_accuracy_after": after,
                "curation_seconds": time.perf_counter() - start}
    return headline
