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
    optional clean labels and predicted probabilities, and where they came from."""

    features: np.ndarray | None
    texts: list[str] | None
    labels: np.ndarray
    num_classes: int
    clean: np.ndarray | None
    source: str
    pred_probs: np.ndarray | None = None


def _load_pred_probs(path: Path, rows: int, num_classes: int | None) -> np.ndarray:
    probs = load_features(path, "pred_probs").astype(np.float64)
    if len(probs) != rows:
        raise DataError(f"has {len(probs)} rows but there are {rows} labels", file=path, field="pred_probs")
    if num_classes is not None and probs.shape[1] != num_classes:
        raise DataError(f"has {probs.shape[1]} columns but there are {num_classes} classes", file=path,
                        field="pred_probs")
    bad = np.flatnonzero((probs.min(axis=1) < 0) | (np.abs(probs.sum(axis=1) - 1) > 1e-3))
    if len(bad):
        raise DataError(f"row {int(bad[0]) + 1} is not a probability vector (non-negative, sums to 1); "
                        f"{len(bad)} rows are not", file=path, field="pred_probs")
    return probs


def _load_labelled(config: DiagnoseConfig | DetectConfig, neighbors: int, neighbors_field: str) -> _Labelled:
    """Every input file of diagnose/detect, checked (no embedding yet)."""
    features = texts = labels = None
    pred_probs_file = getattr(config, "pred_probs", None)
    if config.features is not None:
        features = load_features(config.features)
        rows, what, source = len(features), "feature rows", str(config.features)
    elif config.data is not None:
        texts, labels = load_text_records(config.data, config.text_field,
                                          None if config.labels is not None else config.label_field)
        rows, what, source = len(texts), f"records in {config.data}", str(config.data)
    else:  # detect with --pred-probs only: the probabilities are the features too
        features = load_features(pred_probs_file, "pred_probs")
        rows, what, source = len(features), f"rows in {pred_probs_file}", str(pred_probs_file)
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
    pred_probs = None
    if pred_probs_file is not None:
        pred_probs = _load_pred_probs(pred_probs_file, len(labels), config.num_classes)
    K = int(config.num_classes or max(int(labels.max()) + 1, 0 if pred_probs is None else pred_probs.shape[1]))
    if K < 2:
        raise DataError("all labels are 0: need at least two classes (or pass --num-classes)", file=labels_source,
                        field=labels_field)
    if pred_probs is not None and pred_probs.shape[1] != K:
        raise DataError(f"has {pred_probs.shape[1]} columns but there are {K} classes", file=pred_probs_file,
                        field="pred_probs")
    clean = None
    if config.clean_labels is not None:
        clean = load_labels(config.clean_labels, K, name="clean_labels")
        if len(clean) != len(labels):
            raise DataError(f"has {len(clean)} labels but there are {len(labels)} noisy labels",
                            file=config.clean_labels, field="clean_labels")
    return _Labelled(features, texts, labels, K, clean, source, pred_probs)


def _features(loaded: _Labelled, config: DiagnoseConfig | DetectConfig) -> np.ndarray:
    if loaded.features is not None:
        return loaded.features
    return _embed(loaded.texts, str(config.data), config.embedding_cache)


def _labelled_inputs(config: DiagnoseConfig | DetectConfig) -> list[Path]:
    return _local_inputs(config.features, config.labels, config.data, config.clean_labels,
                         getattr(config, "pred_probs", None))


def checked_graph(features: np.ndarray, labels: np.ndarray, K: int, k: int, checks, backend: str, seed: int,
                  source: str | None):
    """Transform the features, build the k-NN graph and run the feature check (which may
    refuse with one line). Returns ``(graph, feature report)``; call it before the run
    folder is opened, so a refusal leaves nothing behind."""
    from reliant.curation.checks import check_features, raise_or_warn, transform_features
    from reliant.curation.neighbors import neighbor_graph

    transformed, applied = transform_features(features, checks.feature_transform)
    graph = neighbor_graph(transformed, k, backend=backend, seed=seed)
    report = check_features(transformed, labels, graph, K, k=min(k, 10), transform=applied)
    if checks.feature_check != "off":
        raise_or_warn(report, checks.feature_check, source)
    else:
        report.problems, report.warnings = [], []
    return graph, report


def _warning_line(warnings: list[str]) -> list[str]:
    if not warnings:
        return []
    return [f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''} (on stderr above and in the report)"]


def _report_checks(run: RunDirectory, report, hoc, checks, what: str = "label") -> dict:
    """Feature-check numbers into metrics and a table; every warning on stderr and in the report."""
    from reliant.curation.checks import check_transition, emit_warnings

    warnings = list(report.warnings)
    if hoc is not None:
        warnings += check_transition(hoc.T, hoc.p, hoc.noise_rate, max_noise=checks.max_noise_rate, what=what)
    emit_warnings(run, warnings)
    run.add_table("Feature check", [
        {"check": "feature transform applied", "value": report.transform},
        {"check": "all-zero rows", "value": report.zero_rows},
        {"check": "rows with an exact duplicate", "value": report.duplicate_rows},
        {"check": "rows whose 1st and 2nd neighbour tie exactly", "value": report.tied_first_neighbours},
        {"check": "nearest-neighbour label agreement", "value": report.neighbour_agreement},
        {"check": "chance agreement (Σ prior²)", "value": report.chance_agreement},
        {"check": "agreement z-score vs chance", "value": report.agreement_z},
        {"check": f"largest in-degree among the {report.in_degree_k} nearest", "value": report.max_in_degree},
    ], caption="HOC and SimiFeat assume that a sample and its nearest neighbours share a clean label: agreement "
               "must be well above chance; ties and hubs make neighbour labels dependent.")
    return {"feature_check": report.as_dict(), "warnings": warnings}


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


def _run_diagnose_raters(config: DiagnoseConfig, out: Path | None, overwrite: bool):
    """``diagnose --rater-labels a,b,c``: one T per rater from several raters' labels of the same items."""
    files = [f.strip() for f in config.rater_labels.split(",") if f.strip()]
    labels = [load_labels(f, config.num_classes, name="rater_labels", classes_from="--num-classes") for f in files]
    for f, lab in zip(files[1:], labels[1:]):
        if len(lab) != len(labels[0]):
            raise DataError(f"has {len(lab)} labels but {files[0]} has {len(labels[0])}: the raters must label "
                            "the same items in the same order", file=f, field="rater_labels")
    K = int(config.num_classes or max(int(lab.max()) for lab in labels) + 1)
    from reliant.core.seeding import set_seed
    from reliant.curation.hoc import estimate_transition_raters
    from reliant.curation.metrics import agreement
    from reliant.curation.plots import plot_transition

    set_seed(config.seed)
    with run_directory("curate diagnose", config, out, overwrite=overwrite, inputs=_local_inputs(*files),
                       title="reliant curate diagnose: one transition matrix per rater (HOC, 2-NN given)") as run:
        start = time.perf_counter()
        result = estimate_transition_raters(np.stack(labels, axis=1), K, steps=config.hoc.hoc_steps)
        seconds = time.perf_counter() - start
        names = [Path(f).stem for f in files]
        rows = []
        for name, T in zip(names, result.T):
            noise = float(1 - np.sum(result.p * np.diag(T)))
            rows.append({"rater": name, "estimated noise rate": noise,
                         "min T_ii": float(np.diag(T).min())})
            run.add_headline(f"{name}: estimated noise rate", noise, group="HOC per rater")
            run.add_figure(f"Transition matrix of {name}", plot_transition(T),
                           caption="P(this rater's label j | clean label i), the clean label being what the "
                                   "raters share.")
        pairs = [{"pair": f"{names[a]} vs {names[b]}", **agreement(labels[a], labels[b])}
                 for a in range(len(files)) for b in range(a + 1, len(files))]
        run.add_table("Raters", rows)
        run.add_table("Raw agreement between raters", pairs)
        from reliant.curation.checks import check_transition, emit_warnings

        warnings = [f"{name}: {w}" for name, T in zip(names, result.T)
                    for w in check_transition(T, result.p, float(1 - np.sum(result.p * np.diag(T))),
                                              what="rating")]
        emit_warnings(run, warnings)
        run.add_metrics({"num_samples": len(labels[0]), "num_classes": K, "raters": names,
                         "T": {n: T for n, T in zip(names, result.T)}, "p": result.p, "loss": result.loss,
                         "agreement": pairs, "warnings": warnings, "seconds": seconds})
        for name, T in zip(names, result.T):
            save_array(T, run.file(f"T_{name}.npy"))
        save_array(result.p, run.file("p.npy"))
    return run.path, [f"{r['rater']}: estimated noise rate {r['estimated noise rate']:.4f}" for r in rows]


def run_diagnose(config: DiagnoseConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate diagnose``: HOC's T, p and noise rate; writes ``T.npy`` and ``p.npy``."""
    if config.rater_labels is not None:
        return _run_diagnose_raters(config, out, overwrite)
    loaded = _load_labelled(config, config.neighbors, "neighbors")
    # Inputs are checked: now the heavy part (torch for the k-NN search, maybe an embedder).
    from reliant.core.seeding import set_seed

    features = _features(loaded, config)
    set_seed(config.seed)
    labels, K = loaded.labels, loaded.num_classes
    start = time.perf_counter()
    graph, feature_report = checked_graph(features, labels, K, max(config.neighbors, 4), config.checks,
                                          config.knn_backend, config.seed, loaded.source)
    with run_directory("curate diagnose", config, out, overwrite=overwrite, inputs=_labelled_inputs(config),
                       title="reliant curate diagnose: label-noise transition matrix (HOC)") as run:
        run.log(f"{len(labels)} rows from {loaded.source}, {K} classes")
        hoc = _hoc(labels, K, graph, config, config.seed)
        checks = _report_checks(run, feature_report, hoc, config.checks)
        metrics = _report_hoc(run, hoc, loaded.clean, labels)
        metrics.update(checks)
        metrics["seconds"] = time.perf_counter() - start
        run.add_metrics(metrics)
        save_array(hoc.T, run.file("T.npy"))
        save_array(hoc.p, run.file("p.npy"))
    with np.printoptions(precision=3, suppress=True, linewidth=120):
        lines = [f"estimated noise rate {hoc.noise_rate:.4f}", f"p = {hoc.p}", "T =", str(hoc.T)]
    return run.path, lines + _warning_line(checks["warnings"])


# --------------------------------------------------------------------------- detect


def run_detect(config: DetectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate detect``: SimiFeat (rank or vote) or cleanlab on --pred-probs, with the
    other detectors as baselines; writes ``flagged.jsonl``, ``flag_rate.npy`` and
    ``suggested_labels.npy``."""
    k = config.simifeat.neighbors
    loaded = _load_labelled(config, k, "simifeat.neighbors")
    # Inputs are checked: now the heavy part (torch for the k-NN search, maybe an embedder).
    from reliant.core.seeding import set_seed
    from reliant.curation.baselines import argmax_baseline, cleanlab_issues, knn_pred_probs
    from reliant.curation.metrics import detection_scores, random_detection_f1
    from reliant.curation.plots import plot_flag_rates
    from reliant.curation.simifeat import DetectionResult, detect_label_errors, rank_rates

    features = _features(loaded, config)
    set_seed(config.seed)
    labels, K, clean, probs = loaded.labels, loaded.num_classes, loaded.clean, loaded.pred_probs
    n = len(labels)
    label = "cleanlab" if config.method == "cleanlab" else f"SimiFeat-{config.method}"
    start = time.perf_counter()
    graph, feature_report = checked_graph(features, labels, K, k + 6, config.checks, config.knn_backend, config.seed,
                                          loaded.source)
    seconds_graph = time.perf_counter() - start
    with run_directory("curate detect", config, out, overwrite=overwrite, inputs=_labelled_inputs(config),
                       title=f"reliant curate detect: {label} label-error detection") as run:
        run.log(f"{n} rows from {loaded.source}, {K} classes")
        is_noisy = None if clean is None else clean != labels
        detectors: dict[str, dict] = {}  # name -> {"flagged": mask, "seconds": s}

        start = time.perf_counter()
        hoc = _hoc(labels, K, graph, config, config.seed)
        seconds_hoc = time.perf_counter() - start
        checks = _report_checks(run, feature_report, hoc, config.checks)
        metrics = _report_hoc(run, hoc, clean, labels)
        metrics.update(checks)
        rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior, config.simifeat.rank_clip)
        simifeat_methods = [config.method] if config.method != "cleanlab" else []
        if config.baseline:
            simifeat_methods += [m for m in ("rank", "vote") if m not in simifeat_methods]
        results = {}
        for method in simifeat_methods:
            start = time.perf_counter()
            results[method] = detect_label_errors(labels, K, graph, method=method, k=k,
                                                  rounds=config.simifeat.detect_rounds,
                                                  sample_fraction=config.simifeat.detect_fraction, class_rates=rates,
                                                  seed=config.seed + 1, suggestion=config.simifeat.suggestion)
            extra = seconds_graph + (seconds_hoc if method == "rank" else 0.0)
            detectors[f"SimiFeat-{method}"] = {"flagged": results[method].flagged,
                                               "seconds": time.perf_counter() - start + extra}
        if config.method == "cleanlab" or config.baseline:
            source = "--pred-probs" if probs is not None else "k-NN pred_probs"
            used = probs if probs is not None else knn_pred_probs(labels, graph, K, k)
            issues, seconds = cleanlab_issues(labels, used)
            detectors[f"cleanlab find_label_issues ({source})"] = {"flagged": issues, "seconds": seconds}
            if config.method == "cleanlab":
                suggested = np.where(issues, np.argmax(np.where(np.eye(K, dtype=bool)[labels], -1, used), axis=1),
                                     labels)
                confidence = np.where(issues, 1.0 - used[np.arange(n), labels], 0.0)
                results["cleanlab"] = DetectionResult(flagged=issues, flag_rate=issues.astype(float),
                                                      suggested=suggested, confidence=confidence,
                                                      times_sampled=np.ones(n, dtype=np.int64), method="cleanlab")
        if probs is not None and config.baseline:
            detectors["argmax(pred_probs) != label"] = {"flagged": argmax_baseline(labels, probs), "seconds": 0.0}
        found = results[config.method]
        main_name = label if config.method == "cleanlab" else f"SimiFeat-{config.method}"
        main_name = next(name for name in detectors if name.startswith(main_name))
        metrics.update({"method": "cleanlab" if config.method == "cleanlab" else f"simifeat-{config.method}",
                        "flagged": found.num_flagged, "flagged_share": found.num_flagged / n,
                        "rank_rates": rates, "seconds": detectors[main_name]["seconds"],
                        "detectors": {name: {"flagged": int(d["flagged"].sum()), "seconds": d["seconds"]}
                                      for name, d in detectors.items()}})
        rows = []
        if is_noisy is not None:
            for name, d in detectors.items():
                scores_of = detection_scores(d["flagged"], is_noisy)
                metrics["detectors"][name].update(scores_of)
                rows.append({"method": name, **scores_of,
                             "random F1": random_detection_f1(float(is_noisy.mean()), d["flagged"].mean()),
                             "seconds": d["seconds"]})
            metrics["detection"] = metrics["detectors"][main_name]
            relabel_ok = found.flagged & is_noisy
            metrics["suggestion_accuracy"] = float(np.mean(found.suggested[relabel_ok] == clean[relabel_ok])) \
                if relabel_ok.any() else None
            metrics["random_f1"] = random_detection_f1(float(is_noisy.mean()), found.num_flagged / n)
        cleanlab_name = next((name for name in detectors if name.startswith("cleanlab")), None)
        if cleanlab_name is not None:
            metrics["cleanlab"] = metrics["detectors"][cleanlab_name]
        group = f"{label} detection"
        others = [name for name in detectors if name != main_name]
        best_other = None
        if is_noisy is not None and others:
            best_other = max(others, key=lambda name: metrics["detectors"][name]["f1"])
        run.add_headline("flagged", found.num_flagged, group=group)
        if is_noisy is not None:
            d = metrics["detection"]
            base = metrics["detectors"][best_other]["f1"] if best_other else metrics["random_f1"]
            run.add_headline("detection F1", d["f1"], group=group, baseline=base,
                             baseline_label=best_other or "random flags at the same rate", better="higher")
            for name in ("precision", "recall"):
                run.add_headline(name, d[name], group=group, better="higher")
            run.add_table("Detection vs the clean labels", rows)
        else:
            run.add_table("Detectors", [{"method": name, "flagged": int(d["flagged"].sum()), "seconds": d["seconds"]}
                                        for name, d in detectors.items()])
        if config.datalab:
            from reliant.curation.datalab import run_datalab

            metrics["datalab"] = run_datalab(run, features, labels, probs if probs is not None
                                             else knn_pred_probs(labels, graph, K, k), config.seed)
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
    lines = [f"flagged {found.num_flagged} of {n} samples ({label})"]
    for row in rows:
        lines.append(f"{row['method']}: precision {row['precision']:.3f}  recall {row['recall']:.3f}  "
                     f"F1 {row['f1']:.3f}")
    return run.path, lines + _warning_line(checks["warnings"])


# --------------------------------------------------------------------------- rate


# Replies that never parsed are kept in ratings.jsonl up to this many characters: enough to
# see what the rater wrote instead of a rating, without copying a rambling model's essays.
_UNPARSED_REPLY_CHARS = 400
# Above this share of unparsable replies the scores say more about the rater than the data.
_UNPARSED_WARN_SHARE = 0.25
# Above this share of ratings at one value the rater hardly tells the samples apart.
_CONCENTRATED_WARN_SHARE = 0.9


def _rate_pool(pool, spec: str, rating, seed: int):
    """Rate the pool's records; records with an empty field (``--empty-fields score0``) are
    not sent to the rater and get score 0 (reply None). Also returns the last reply of each
    record that never parsed (None elsewhere)."""
    from reliant.core.llm import make_backend
    from reliant.curation.ds2 import rate_samples_by_likelihood, rate_samples_with_replies

    todo = np.flatnonzero(~pool.empty)
    scores = np.zeros(len(pool), dtype=np.int64)
    ratings: list = [None] * len(pool)
    unparsed_replies: list = [None] * len(pool)
    if len(todo):
        records = [pool.records[i] for i in todo]
        with make_backend(spec) as backend:
            if rating.rating_mode == "likelihood":
                rated, parsed = rate_samples_by_likelihood(records, backend, prompt=rating.prompt)
                replies = [None] * len(records)
            else:
                rated, parsed, replies = rate_samples_with_replies(
                    records, backend, max_retries=rating.max_retries, max_new_tokens=rating.max_new_tokens,
                    seed=seed, prompt=rating.prompt)
        scores[todo] = rated
        for i, r, reply in zip(todo, parsed, replies):
            ratings[i] = r
            unparsed_replies[i] = reply
    return scores, ratings, unparsed_replies


def _rating_warnings(ratings: list, pool, rating) -> list[str]:
    """Warnings when more than a quarter of the rated records gave no rating, or copied the
    prompt's example rating (each a sign that the rater, not the data, sets the scores)."""
    from reliant.curation.ds2 import RELIANT_EXAMPLE_RATING

    asked = int((~pool.empty).sum())
    rated = [r for r, empty in zip(ratings, pool.empty) if not empty]
    unparsed = sum(r is None for r in rated)
    warnings = []
    if asked and unparsed > _UNPARSED_WARN_SHARE * asked:
        warnings.append(
            f"{unparsed} of {asked} replies gave no rating after {rating.max_retries} re-asks and count as level 0: "
            f"the rater does not follow the {rating.prompt!r} prompt's JSON format (a larger or instruction-tuned "
            f"rater, --prompt reliant or more --max-new-tokens may help); what it wrote is in the 'unparsed_reply' "
            f"field of `reliant curate rate`'s ratings.jsonl")
    copied = (sum(r == RELIANT_EXAMPLE_RATING for r in rated)
              if rating.prompt == "reliant" and rating.rating_mode == "generate" else 0)
    if copied > _UNPARSED_WARN_SHARE * max(asked - unparsed, 1):
        warnings.append(f"{copied} of {asked - unparsed} ratings are the prompt's example {RELIANT_EXAMPLE_RATING} "
                        f"word for word: the rater is copying it, not rating")
    overall = np.array([r["overall"] for r in rated if r is not None], dtype=np.int64)
    if len(overall) >= 20:
        top = np.bincount(overall).argmax()
        share = float(np.mean(overall == top))
        if share > _CONCENTRATED_WARN_SHARE:
            warnings.append(f"{share:.0%} of the ratings are {top} of 10: ratings this concentrated say little about "
                            f"the data (DS2's prompt asks the rater not to concentrate them)")
    return warnings


def _pool_metrics(pool) -> dict:
    return {"records_dropped_for_empty_fields": pool.dropped, "records_scored_0_for_empty_fields":
            [int(p) for p in pool.positions[pool.empty]]}


def _pool_inputs(config: RateConfig | SelectConfig) -> list[Path]:
    return _local_inputs(config.pool, getattr(config, "scores", None), getattr(config, "embeddings", None))


def run_rate(config: RateConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate rate``: writes ``scores.npy`` (6 levels) and ``ratings.jsonl``."""
    pool = load_pool(config.pool, config.empty_fields)
    # The pool is checked: now the heavy part (the rater may load a model).
    from reliant.core.seeding import set_seed
    from reliant.curation.checks import emit_warnings
    from reliant.curation.plots import plot_score_histograms

    set_seed(config.seed)
    with run_directory("curate rate", config, out, overwrite=overwrite, inputs=_pool_inputs(config),
                       title="reliant curate rate: LLM quality ratings (DS2 prompt)") as run:
        scores, ratings, unparsed_replies = _rate_pool(pool, config.rater, config.rating, config.seed)
        unparsed = sum(r is None for r, empty in zip(ratings, pool.empty) if not empty)
        warnings = _rating_warnings(ratings, pool, config.rating)
        emit_warnings(run, warnings)
        records = pool.records
        run.add_metrics({**_pool_metrics(pool), "num_samples": len(records), "unparsable": unparsed,
                         "warnings": warnings,
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
        save_records([{"index": i, "record": int(pool.positions[i]), "score": int(s), **(r or {}),
                       **({"unparsed_reply": reply[:_UNPARSED_REPLY_CHARS]} if reply is not None else {})}
                      for i, (s, r, reply) in enumerate(zip(scores, ratings, unparsed_replies))],
                     run.file("ratings.jsonl"))
    return run.path, [f"rated {len(scores)} samples; scores in scores.npy"] + _warning_line(warnings)


# --------------------------------------------------------------------------- select


def run_select(config: SelectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant curate select``: DS2 score curation and a ``--budget`` selection, with the
    random, AlpaGasus-style and DEITA-style baselines."""
    pool = load_pool(config.pool, config.empty_fields)
    records, originals = pool.records, pool.originals
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
    scores = None
    if config.scores is not None:
        scores = load_scores(config.scores, n + len(pool.dropped), NUM_LEVELS, kept=n if pool.dropped else None)
        if len(scores) != n:  # the scores were given for the whole file: keep those of the kept records
            scores = scores[pool.positions - 1]
        scores = np.where(pool.empty, 0, scores)
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
    from reliant.curation.plots import plot_long_tail, plot_score_histograms, plot_transition

    if embeddings is None:
        embeddings = _embed([pool_text(r) for r in records], str(config.pool), config.embedding_cache)
    set_seed(config.seed)
    if scores is None:  # rated before the run folder opens, so the feature check can refuse cleanly
        scores, ratings, _ = _rate_pool(pool, config.rater, config.rating, config.seed)
        rating_warnings = _rating_warnings(ratings, pool, config.rating)
    else:
        rating_warnings = []
    k = config.simifeat.neighbors
    start = time.perf_counter()
    graph, feature_report = checked_graph(embeddings, scores, NUM_LEVELS, max(k + 6, config.long_tail_neighbors),
                                          config.checks, config.knn_backend, config.seed, str(config.embeddings or
                                                                                              config.pool))
    feature_report.warnings[:0] = rating_warnings
    with run_directory("curate select", config, out, overwrite=overwrite, inputs=_pool_inputs(config),
                       title="reliant curate select: DS2 score curation and data selection") as run:
        budget = min(config.budget, n)
        curation = curate_scores(scores, graph, threshold=config.threshold, k=k, hoc_rounds=config.hoc.hoc_rounds,
                                 hoc_fraction=config.hoc.hoc_fraction, detect_rounds=config.simifeat.detect_rounds,
                                 detect_fraction=config.simifeat.detect_fraction, hoc_steps=config.hoc.hoc_steps,
                                 suggestion=config.simifeat.suggestion, rank_clip=config.simifeat.rank_clip,
                                 duplicate_pool=config.duplicate_pool, seed=config.seed)
        checks = _report_checks(run, feature_report, curation.hoc, config.checks, what="score")
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
        rewritten = np.flatnonzero(curation.changed)
        moves = np.zeros((NUM_LEVELS, NUM_LEVELS), dtype=np.int64)
        np.add.at(moves, (scores[rewritten], curation.curated[rewritten]), 1)
        run.add_table("Rewritten scores (raw level → curated level)",
                      [{"raw level": i, **{f"→ {j}": int(moves[i, j]) for j in range(NUM_LEVELS)}}
                       for i in range(NUM_LEVELS)],
                      caption=f"{len(rewritten)} of {n} scores were rewritten (a flagged score whose suggestion had "
                              f"confidence >= {config.threshold:g}); each one is in rewritten.jsonl.")
        save_records([{"index": int(i), "record": int(pool.positions[i]), "raw_score": int(scores[i]),
                       "curated_score": int(curation.curated[i]),
                       "confidence": round(float(curation.detection.confidence[i]), 4)} for i in rewritten],
                     run.file("rewritten.jsonl"))
        metrics = {
            **_pool_metrics(pool), **checks, "rewritten_moves": moves,
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
        run.add_headline("scores rewritten by curation", changed, group="Score curation (HOC + SimiFeat)")
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
        pool_name = str(config.pool)
        suffix = "".join(Path(pool_name).suffixes[-2:]) if pool_name.endswith(".gz") else Path(pool_name).suffix
        save_records([originals[i] for i in chosen], run.file(f"selected{suffix or '.jsonl'}"))
        in_selection = np.zeros(n, dtype=bool)
        in_selection[chosen] = True
        save_records([{"index": int(i), "record": int(pool.positions[i]), "raw_score": int(scores[i]),
                       "curated_score": int(curation.curated[i]),
                       "flagged": bool(curation.detection.flagged[i]),
                       "confidence": round(float(curation.detection.confidence[i]), 4),
                       "long_tail": round(float(long_tail[i]), 4), "selected": bool(in_selection[i])}
                      for i in range(n)], run.file("scores.jsonl"))
        save_array(curation.curated, run.file("curated_scores.npy"))
        save_records([{"method": name, "indices": idx.tolist()} for name, idx in selections.items()],
                     run.file("selections.jsonl"))
    return run.path, [f"selected {len(chosen)} of {n} samples; curation rewrote {changed} scores "
                      "(listed in rewritten.jsonl)", f"estimated score noise rate {hoc.noise_rate:.3f}"] + \
        _warning_line(checks["warnings"])


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
    # fewer rounds than the official 50/51: the demo is a quick tour (under ~30 s on 2 cores)
    hoc = estimate_transition(data.noisy, K, graph, rounds=20, seed=seed)
    T_true, _ = empirical_transition(data.clean, data.noisy, K)
    errors = transition_errors(hoc.T, T_true)
    found = detect_label_errors(data.noisy, K, graph, method="rank",
                                class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior), rounds=11, seed=seed)
    voted = detect_label_errors(data.noisy, K, graph, method="vote", rounds=11, seed=seed)
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
    curation = curate_scores(scored.noisy, g6, hoc_rounds=20, detect_rounds=11, seed=seed)
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
