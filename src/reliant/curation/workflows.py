"""The ``reliant curate`` commands: files in, run directory out.

Each ``run_<command>(config, out, overwrite)`` returns ``(run folder, summary lines)``. It
reads and checks every input file (through :mod:`reliant.core.data`) before it imports
torch, embeds a text or loads an LLM, so a bad file is a one-line error within a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.core.data import check_labels, load_labels, save_array, save_records
from reliant.core.errors import ConfigError, DataError
from reliant.core.rundir import RunDirectory, run_directory
from reliant.curation.config import NUM_LEVELS, DetectConfig, DiagnoseConfig, RateConfig, SelectConfig
from reliant.curation.inputs import (
    check_embeddings,
    load_features,
    load_pool,
    load_scores,
    load_text_records,
    pool_text,
)

__all__ = ["demo_stage", "run_detect", "run_diagnose", "run_rate", "run_select"]


# --------------------------------------------------------------------------- inputs


def _local_inputs(*paths) -> list[Path]:
    """The given paths that name local files or folders (for run_directory's input guard)."""
    return [Path(p) for p in paths if p is not None and Path(p).exists()]


def embedding_cache_file(folder: Path, source: str, texts: list[str]) -> Path:
    """Where the embeddings of ``texts`` from ``source`` are kept inside ``folder``."""
    from reliant.core.embeddings import cache_file  # deliberately lazy: imports torch

    return cache_file(folder, texts, label=source)


def _embed(texts: list[str], source: str, cache_folder: Path | None) -> np.ndarray:
    from reliant.core.embeddings import embed  # deliberately lazy: imports torch and sentence-transformers

    cache = None if cache_folder is None else embedding_cache_file(cache_folder, source, texts)
    return np.asarray(embed(texts, cache=cache), dtype=np.float32)


@dataclass
class _Labelled:
    """What diagnose and detect read: features (or texts still to embed), noisy labels, K,
    optional clean labels, and where they came from."""

    features: np.ndarray | None
    texts: list[str] | None
    labels: np.ndarray
    num_classes: int
    clean: np.ndarray | None
    source: str


def _load_labelled(config: DiagnoseConfig | DetectConfig, neighbors: int, neighbors_field: str) -> _Labelled:
    """Every input file of diagnose/detect, checked (no embedding yet)."""
    features = texts = labels = None
    if config.features is not None:
        features = load_features(config.features)
        rows, what, source = len(features), "feature rows", str(config.features)
    else:
        texts, labels = load_text_records(config.data, config.text_field,
                                          None if config.labels is not None else config.label_field)
        rows, what, source = len(texts), f"records in {config.data}", str(config.data)
    if config.labels is not None:
        labels = load_labels(config.labels, config.num_classes, name="labels", classes_from="--num-classes")
    else:
        labels = check_labels(labels, config.num_classes, name=config.label_field, file=config.data,
                              classes_from="--num-classes")
    labels_source = str(config.labels or config.data)
    labels_field = "labels" if config.labels is not None else config.label_field
    if len(labels) != rows:
        raise DataError(f"has {len(labels)} labels but there are {rows} {what}", file=labels_source, field="labels")
    if len(labels) < 3:
        raise DataError(f"needs at least 3 rows, got {len(labels)}", file=labels_source, field=labels_field)
    if neighbors >= len(labels):
        raise ConfigError(f"must be below the number of rows ({len(labels)}): each row has at most "
                          f"{len(labels) - 1} neighbours, got {neighbors}", field=neighbors_field)
    K = int(config.num_classes or int(labels.max()) + 1)
    if K < 2:
        raise DataError("all labels are 0: need at least two classes (or pass --num-classes)", file=labels_source,
                        field=labels_field)
    clean = None
    if config.clean_labels is not None:
        clean = load_labels(config.clean_labels, K, name="clean_labels")
        if len(clean) != len(labels):
            raise DataError(f"has {len(clean)} labels but there are {len(labels)} noisy labels",
                            file=config.clean_labels, field="clean_labels")
    return _Labelled(features, texts, labels, K, clean, source)


def _features(loaded: _Labelled, config: DiagnoseConfig | DetectConfig) -> np.ndarray:
    if loaded.features is not None:
        return loaded.features
    return _embed(loaded.texts, str(config.data), config.embedding_cache)


def _labelled_inputs(config: DiagnoseConfig | DetectConfig) -> list[Path]:
    return _local_inputs(config.features, config.labels, config.data, config.clean_labels)


# --------------------------------------------------------------------------- diagnose


def _report_hoc(run: RunDirectory, hoc, clean: np.ndarray | None, labels: np.ndarray) -> dict:
    from reliant.curation.metrics import empirical_transition, transition_errors
    from reliant.curation.plots import plot_priors, plot_transition

    K = hoc.num_classes
    group = "HOC estimate"
    metrics = {"num_samples": len(labels), "num_classes": K, "noise_rate_estimate": hoc.noise_rate,
               "T": hoc.T, "p": hoc.p, "noisy_prior": hoc.noisy_prior, "hoc_loss": hoc.loss,
               "hoc_rounds": hoc.rounds, "hoc_sample_size": hoc.sample_size, "hoc_rows_dropped": hoc.dropped}
    T_true = p_true = None
    if clean is None:
        run.add_headline("estimated noise rate", hoc.noise_rate, group=group)
    else:
        T_true, p_true = empirical_transition(clean, labels, K)
        errors = transition_errors(hoc.T, T_true)
        identity = transition_errors(np.eye(K), T_true)
        true_rate = float(np.mean(clean != labels))
        metrics.update({"T_true": T_true, "p_true": p_true, "T_max_abs_error": errors["max_abs"],
                        "T_mean_row_l1_error": errors["mean_row_l1"], "noise_rate_true": true_rate,
                        "T_max_abs_error_identity": identity["max_abs"]})
        run.add_headline("estimated noise rate", hoc.noise_rate, group=group, baseline=true_rate,
                         baseline_label="true (from --clean-labels)")
        run.add_headline("T max abs error", errors["max_abs"], group=group, baseline=identity["max_abs"],
                         baseline_label="T = I (labels taken as clean)", better="lower")
    run.add_figure("Noise transition matrix", plot_transition(hoc.T, T_true), save_as="transition_matrix.png",
                   caption="Row i: where samples of clean class i end up as noisy labels; a strong diagonal means "
                           "few flips, bright off-diagonal cells are the confused class pairs.")
    run.add_figure("Priors", plot_priors(hoc.p, hoc.noisy_prior, p_true),
                   caption="Estimated clean class shares vs the observed label shares: a gap shows which classes "
                           "the noise inflates or drains.")
    posterior = hoc.posterior_clean_given_noisy()
    run.add_table("Per-class estimate", [
        {"class": i, "p (clean prior)": float(hoc.p[i]), "noisy label share": float(hoc.noisy_prior[i]),
         "T_ii (kept)": float(hoc.T[i, i]), "P(clean=i | noisy=i)": float(posterior[i, i])}
        for i in range(K)])
    return metrics


def _hoc(labels, K, graph, config, seed):
    from reliant.curation.hoc import estimate_transition

    return estimate_transition(labels, K, graph, rounds=config.hoc.hoc_rounds,
                               sample_fraction=config.hoc.hoc_fraction, seed=seed, steps=config.hoc.hoc_steps)


def run_diagnose(config: DiagnoseConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate diagnose``: HOC's T, p and noise rate; writes ``T.npy`` and ``p.npy``."""
    loaded = _load_labelled(config, config.neighbors, "neighbors")
    # Inputs are checked: now the heavy part (torch for the k-NN search, maybe an embedder).
    from reliant.core.seeding import set_seed
    from reliant.curation.neighbors import neighbor_graph

    features = _features(loaded, config)
    set_seed(config.seed)
    labels, K = loaded.labels, loaded.num_classes
    with run_directory("curate diagnose", config, out, overwrite=overwrite, inputs=_labelled_inputs(config),
                       title="reliant curate diagnose: label-noise transition matrix (HOC)") as run:
        run.log(f"{len(labels)} rows from {loaded.source}, {K} classes")
        start = time.perf_counter()
        graph = neighbor_graph(features, max(config.neighbors, 4), backend=config.knn_backend, seed=config.seed)
        hoc = _hoc(labels, K, graph, config, config.seed)
        metrics = _report_hoc(run, hoc, loaded.clean, labels)
        metrics["seconds"] = time.perf_counter() - start
        run.add_metrics(metrics)
        save_array(hoc.T, run.file("T.npy"))
        save_array(hoc.p, run.file("p.npy"))
    with np.printoptions(precision=3, suppress=True, linewidth=120):
        lines = [f"estimated noise rate {hoc.noise_rate:.4f}", f"p = {hoc.p}", "T =", str(hoc.T)]
    return run.path, lines


# --------------------------------------------------------------------------- detect


def run_detect(config: DetectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate detect``: SimiFeat (rank or vote) plus the cleanlab baseline; writes
    ``flagged.jsonl``, ``flag_rate.npy`` and ``suggested_labels.npy``."""
    k = config.simifeat.neighbors
    loaded = _load_labelled(config, k, "simifeat.neighbors")
    # Inputs are checked: now the heavy part (torch for the k-NN search, maybe an embedder).
    from reliant.core.seeding import set_seed
    from reliant.curation.baselines import cleanlab_baseline
    from reliant.curation.metrics import detection_scores, random_detection_f1
    from reliant.curation.neighbors import neighbor_graph
    from reliant.curation.plots import plot_flag_rates
    from reliant.curation.simifeat import detect_label_errors, rank_rates

    features = _features(loaded, config)
    set_seed(config.seed)
    labels, K, clean = loaded.labels, loaded.num_classes, loaded.clean
    label = f"SimiFeat-{config.method}"
    with run_directory("curate detect", config, out, overwrite=overwrite, inputs=_labelled_inputs(config),
                       title=f"reliant curate detect: {label} label-error detection") as run:
        run.log(f"{len(labels)} rows from {loaded.source}, {K} classes")
        start = time.perf_counter()
        graph = neighbor_graph(features, k + 6, backend=config.knn_backend, seed=config.seed)
        hoc = _hoc(labels, K, graph, config, config.seed)
        metrics = _report_hoc(run, hoc, clean, labels)
        rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior)
        found = detect_label_errors(labels, K, graph, method=config.method, k=k,
                                    rounds=config.simifeat.detect_rounds,
                                    sample_fraction=config.simifeat.detect_fraction, class_rates=rates,
                                    seed=config.seed + 1)
        seconds = time.perf_counter() - start
        metrics.update({"method": f"simifeat-{config.method}", "flagged": found.num_flagged,
                        "flagged_share": found.num_flagged / len(labels), "rank_rates": rates, "seconds": seconds})
        rows = []
        is_noisy = None if clean is None else clean != labels
        scores = None
        if is_noisy is not None:
            scores = detection_scores(found.flagged, is_noisy)
            metrics["detection"] = scores
            relabel_ok = found.flagged & is_noisy
            metrics["suggestion_accuracy"] = float(np.mean(found.suggested[relabel_ok] == clean[relabel_ok])) \
                if relabel_ok.any() else None
            metrics["random_f1"] = random_detection_f1(float(is_noisy.mean()), found.num_flagged / len(labels))
            rows.append({"method": label, **scores, "seconds": seconds})
        cleanlab = None
        if config.baseline:
            start = time.perf_counter()
            issues = cleanlab_baseline(labels, graph, K, k)
            if issues is not None:
                base_seconds = time.perf_counter() - start
                metrics["cleanlab"] = cleanlab = {"flagged": int(issues.sum()), "seconds": base_seconds}
                if is_noisy is not None:
                    cleanlab.update(detection_scores(issues, is_noisy))
                    rows.append({"method": "cleanlab find_label_issues (k-NN pred_probs)",
                                 **detection_scores(issues, is_noisy), "seconds": base_seconds})
        group = f"{label} detection"
        run.add_headline("flagged", found.num_flagged, group=group,
                         baseline=None if cleanlab is None else cleanlab["flagged"], baseline_label="cleanlab")
        if scores is not None:
            if cleanlab is not None and "f1" in cleanlab:
                base, base_label = cleanlab["f1"], "cleanlab"
            else:
                base, base_label = metrics["random_f1"], "random flags at the same rate"
            run.add_headline("detection F1", scores["f1"], group=group, baseline=base, baseline_label=base_label,
                             better="higher")
            for name in ("precision", "recall"):
                run.add_headline(name, scores[name], group=group, baseline=(cleanlab or {}).get(name),
                                 baseline_label="cleanlab", better="higher")
        if rows:
            run.add_table("Detection vs the clean labels", rows)
        run.add_figure("Flag rates", plot_flag_rates(found.flag_rate, is_noisy),
                       caption="Share of rounds that flagged each sample; samples right of the dotted 0.5 line are "
                               "flagged (with clean labels: wrong labels should sit on the right).")
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
    lines = [f"flagged {found.num_flagged} of {len(found.flagged)} samples ({label})"]
    if "detection" in metrics:
        d = metrics["detection"]
        lines.append(f"precision {d['precision']:.3f}  recall {d['recall']:.3f}  F1 {d['f1']:.3f}")
    if cleanlab is not None and "f1" in cleanlab:
        lines.append(f"cleanlab: precision {cleanlab['precision']:.3f}  recall {cleanlab['recall']:.3f}  "
                     f"F1 {cleanlab['f1']:.3f}")
    return run.path, lines


# --------------------------------------------------------------------------- rate


def _rate_pool(records, spec: str, rating, seed: int):
    from reliant.core.llm import make_backend
    from reliant.curation.ds2 import rate_samples

    with make_backend(spec) as backend:
        return rate_samples(records, backend, max_retries=rating.max_retries, max_new_tokens=rating.max_new_tokens,
                            seed=seed)


def _pool_inputs(config: RateConfig | SelectConfig) -> list[Path]:
    return _local_inputs(config.pool, getattr(config, "scores", None), getattr(config, "embeddings", None))


def run_rate(config: RateConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate rate``: writes ``scores.npy`` (6 levels) and ``ratings.jsonl``."""
    records, _ = load_pool(config.pool)
    # The pool is checked: now the heavy part (the rater may load a model).
    from reliant.core.seeding import set_seed
    from reliant.curation.plots import plot_score_histograms

    set_seed(config.seed)
    with run_directory("curate rate", config, out, overwrite=overwrite, inputs=_pool_inputs(config),
                       title="reliant curate rate: LLM quality ratings (DS2 prompt)") as run:
        scores, ratings = _rate_pool(records, config.rater, config.rating, config.seed)
        unparsed = sum(r is None for r in ratings)
        run.add_metrics({"num_samples": len(records), "unparsable": unparsed,
                         "score_histogram": np.bincount(scores, minlength=NUM_LEVELS),
                         "mean_score": float(scores.mean())})
        group = "LLM rating"
        run.add_headline("samples rated", len(records), group=group)
        run.add_headline("unparsable replies", unparsed, group=group, better="lower")
        run.add_headline("mean score (0-5)", float(scores.mean()), group=group)
        run.add_figure("Score distribution", plot_score_histograms({"LLM rating": scores}, NUM_LEVELS,
                                                                    "Compressed LLM scores"),
                       caption="Share of samples at each level; unparsable replies count as level 0, so a tall "
                               "bar at 0 with many unparsable replies means the rater, not the data, is at fault.")
        save_array(scores, run.file("scores.npy"))
        save_records([{"index": i, "score": int(s), **(r or {})} for i, (s, r) in enumerate(zip(scores, ratings))],
                     run.file("ratings.jsonl"))
    return run.path, [f"rated {len(scores)} samples; scores in scores.npy"]


# --------------------------------------------------------------------------- select


def run_select(config: SelectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate select``: DS2 score curation and a ``--budget`` selection, with the
    random, AlpaGasus-style and DEITA-style baselines."""
    records, originals = load_pool(config.pool)
    n = len(records)
    if n < 3:
        raise DataError(f"needs at least 3 samples, got {n}", file=config.pool)
    if config.budget > n:
        raise ConfigError(f"must be at most the pool size ({n} samples in {config.pool}), got {config.budget}",
                          field="budget")
    for name, value in (("simifeat.neighbors", config.simifeat.neighbors),
                        ("long_tail_neighbors", config.long_tail_neighbors)):
        if value >= n:
            raise ConfigError(f"must be below the pool size ({n} samples): each sample has at most "
                              f"{n - 1} neighbours, got {value}", field=name)
    scores = load_scores(config.scores, n, NUM_LEVELS) if config.scores is not None else None
    embeddings = None
    if config.embeddings is not None:
        embeddings = check_embeddings(load_features(config.embeddings, "embeddings"), n, str(config.embeddings))
    # Inputs are checked: now the heavy part (embedder, rater, torch for the k-NN search).
    from reliant.core.seeding import set_seed
    from reliant.curation.ds2 import (
        curate_scores,
        long_tail_scores,
        select_ds2,
        select_random,
        select_score_diversity,
        select_score_threshold,
    )
    from reliant.curation.metrics import mean_pairwise_cosine_distance
    from reliant.curation.neighbors import neighbor_graph
    from reliant.curation.plots import plot_long_tail, plot_score_histograms, plot_transition

    if embeddings is None:
        embeddings = _embed([pool_text(r) for r in records], str(config.pool), config.embedding_cache)
    set_seed(config.seed)
    with run_directory("curate select", config, out, overwrite=overwrite, inputs=_pool_inputs(config),
                       title="reliant curate select: DS2 score curation and data selection") as run:
        if scores is None:
            scores, _ = _rate_pool(records, config.rater, config.rating, config.seed)
        budget = min(config.budget, n)
        k = config.simifeat.neighbors
        start = time.perf_counter()
        graph = neighbor_graph(embeddings, max(k + 6, config.long_tail_neighbors), backend=config.knn_backend,
                               seed=config.seed)
        curation = curate_scores(scores, graph, threshold=config.threshold, k=k, hoc_rounds=config.hoc.hoc_rounds,
                                 hoc_fraction=config.hoc.hoc_fraction, detect_rounds=config.simifeat.detect_rounds,
                                 detect_fraction=config.simifeat.detect_fraction, hoc_steps=config.hoc.hoc_steps,
                                 seed=config.seed)
        long_tail = long_tail_scores(graph, config.long_tail_neighbors)
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
        changed = int(curation.changed.sum())
        metrics = {
            "num_samples": n, "budget": budget, "seconds_curation_and_selection": seconds,
            "noise_rate_estimate": hoc.noise_rate, "T": hoc.T, "p": hoc.p,
            "flagged": curation.detection.num_flagged, "changed": changed,
            "changed_share": float(curation.changed.mean()),
            "raw_histogram": np.bincount(scores, minlength=NUM_LEVELS),
            "curated_histogram": np.bincount(curation.curated, minlength=NUM_LEVELS),
            "selections": {r["method"]: {k: v for k, v in r.items() if k != "method"} for r in rows},
        }
        run.add_metrics(metrics)
        run.add_headline("pool", n, group="Pool")
        run.add_headline("selected", len(chosen), group="Pool")
        run.add_headline("scores changed by curation", changed, group="Score curation (HOC + SimiFeat)")
        run.add_headline("estimated score noise rate", hoc.noise_rate, group="Score curation (HOC + SimiFeat)")
        ds2, random = rows[0], rows[1]
        for column in ("mean curated score", "mean long-tail score", "mean pairwise cosine distance"):
            run.add_headline(column, ds2[column], group="DS2 selection", baseline=random[column],
                             baseline_label="random selection", better="higher")
        run.add_figure("Score transition matrix", plot_transition(hoc.T), save_as="transition_matrix.png",
                       caption="HOC estimate of P(rated level j | true level i): off-diagonal mass is where the "
                               "rater confuses levels, and what curation corrects.")
        run.add_figure("Scores before and after curation",
                       plot_score_histograms({"raw": scores, "curated": curation.curated,
                                              "selected (DS2)": curation.curated[chosen]}, NUM_LEVELS,
                                             "Score levels: raw, curated, and in the DS2 selection"),
                       caption="How curation moves samples between levels, and that the DS2 selection sits in the "
                               "top curated levels.")
        run.add_figure("Long-tail scores", plot_long_tail(long_tail, selections),
                       caption="Rarity of each selected set against the whole pool: a curve further right picks "
                               "rarer, more diverse samples.")
        run.add_table("Selected sets", rows, caption="Diversity: mean 1 − cos over pairs of selected samples.")
        pool = str(config.pool)
        suffix = "".join(Path(pool).suffixes[-2:]) if pool.endswith(".gz") else Path(pool).suffix
        save_records([originals[i] for i in chosen], run.file(f"selected{suffix or '.jsonl'}"))
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
    return run.path, [f"selected {len(chosen)} of {n} samples; curation changed {changed} scores",
                      f"estimated score noise rate {hoc.noise_rate:.3f}"]


# --------------------------------------------------------------------------- demo


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """Synthetic clusterable features with known label noise: HOC error, SimiFeat vs cleanlab,
    and DS2 curation of noisy 6-level scores."""
    from reliant.curation.baselines import cleanlab_baseline
    from reliant.curation.ds2 import curate_scores
    from reliant.curation.hoc import estimate_transition
    from reliant.curation.metrics import detection_scores, empirical_transition, transition_errors
    from reliant.curation.neighbors import neighbor_graph
    from reliant.curation.plots import plot_score_histograms, plot_transition
    from reliant.curation.simifeat import detect_label_errors, rank_rates
    from reliant.curation.synthetic import clusterable_features, make_transition

    start = time.perf_counter()
    K = 5
    T = make_transition(K, 0.3, "random", seed=seed)
    data = clusterable_features(3000, K, T, dim=32, seed=seed)
    graph = neighbor_graph(data.features, 16)
    hoc = estimate_transition(data.noisy, K, graph, seed=seed)
    T_true, _ = empirical_transition(data.clean, data.noisy, K)
    errors = transition_errors(hoc.T, T_true)
    found = detect_label_errors(data.noisy, K, graph, method="rank",
                                class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior), seed=seed)
    voted = detect_label_errors(data.noisy, K, graph, method="vote", seed=seed)
    issues = cleanlab_baseline(data.noisy, graph, K)
    rows = [{"method": "SimiFeat-rank", **detection_scores(found.flagged, data.is_noisy)},
            {"method": "SimiFeat-vote", **detection_scores(voted.flagged, data.is_noisy)}]
    if issues is not None:
        rows.append({"method": "cleanlab (k-NN pred_probs)", **detection_scores(issues, data.is_noisy)})
    run.add_figure("Curation: noise transition matrix (synthetic, 30% noise)", plot_transition(hoc.T, T_true),
                   caption=f"HOC on 3,000 synthetic points vs the true flips: max |ΔT| = {errors['max_abs']:.3f}; "
                           "the two heat maps should look alike.")
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
                                          "curated": curation.curated}, NUM_LEVELS, "Synthetic score levels"),
                   caption=f"Curated bars should sit closer to the true ones than the raw rater's "
                           f"(score accuracy {before:.2f} -> {after:.2f}).")
    headline = {"curation_T_max_abs_error": errors["max_abs"], "curation_noise_rate_estimate": hoc.noise_rate,
                "curation_noise_rate_true": float(data.is_noisy.mean()), "curation_simifeat_rank_f1": rows[0]["f1"],
                "curation_cleanlab_f1": rows[-1]["f1"] if issues is not None else None,
                "curation_ds2_score_accuracy_before": before, "curation_ds2_score_accuracy_after": after,
                "curation_seconds": time.perf_counter() - start}
    return headline
