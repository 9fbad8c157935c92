"""Curation benchmark: HOC / SimiFeat vs cleanlab, on synthetic noise with a known T and on
real human label noise (CIFAR-10H votes), and DS2 curation at pool scale.

    nice .venv/bin/python benchmarks/bench_curation.py            # everything
    nice .venv/bin/python benchmarks/bench_curation.py --quick    # small sizes, for a smoke run

Writes benchmarks/results/curation/curation.json and curation.png.

Parts:
  synthetic  clusterable features, 10 classes, known T (pair / symmetric / random noise)
  cifar10h   CIFAR-10 test set: features = cleanlab's cross-validated predicted probabilities
             (a ResNet's, 10-d), noisy labels = real CIFAR-10H human votes (one random
             annotator per image; and "worst of 3": a wrong vote among 3 annotators when
             there is one), clean labels = the original test labels
  ds2        300,932 x 384 pool: the three released DS2 rater scores, embeddings synthetic
             (clustered by a latent level = rounded mean of the other two raters), because
             the pool's texts are not in ../shared/data. Times reliant's curation (one k-NN
             graph, rounds read from it) against the official scheme (an exact k-NN search
             inside every subsample round), measured on the same pool: the official cost is
             measured on a few rounds and scaled to its 50 rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RELIANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "curation"

from reliant.core.knn import knn  # noqa: E402
from reliant.curation.baselines import argmax_baseline, cleanlab_issues  # noqa: E402
from reliant.curation.checks import check_features, check_transition, transform_features  # noqa: E402
from reliant.curation.api import (  # noqa: E402
    agreement,
    clusterable_features,
    consensus_counts,
    curate_scores,
    detect_label_errors,
    detection_scores,
    empirical_transition,
    estimate_transition,
    knn_pred_probs,
    long_tail_scores,
    make_transition,
    neighbor_graph,
    random_detection_f1,
    rank_rates,
    select_ds2,
    solve_transition,
    transition_errors,
)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


CPU = {}  # stage -> CPU seconds of this process (wall time on a shared machine is mostly other jobs)


def cpu_timed(stage, fn, *args, **kwargs):
    start_cpu = time.process_time()
    value, wall = timed(fn, *args, **kwargs)
    CPU[stage] = time.process_time() - start_cpu
    return value, wall


def recall_at_10(emb, graph, queries, seed):
    """Share of each sampled row's exact 10 nearest neighbours (whole pool) the graph holds."""
    rows = np.sort(np.random.default_rng(seed).choice(len(emb), size=min(queries, len(emb)), replace=False))
    # faiss's exact inner-product search (BLAS): 20,000 x 300,000 in about a CPU-minute
    _, exact = knn(emb[rows], emb, k=11, backend="faiss")
    hits = []
    for r, ex in zip(rows, exact):
        ex = [j for j in ex if j != r][:10]
        hits.append(len(set(ex) & set(graph.idx[r, :10].tolist())) / 10)
    return float(np.mean(hits)), len(rows)


def logistic_pred_probs(features, labels, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    model = LogisticRegression(max_iter=300)
    return cross_val_predict(model, features, labels, cv=5, method="predict_proba")


def evaluate_detection(features, noisy, clean, K, seed, logistic=True):
    """HOC T error and SimiFeat-rank/vote vs cleanlab (k-NN and logistic pred_probs)."""
    row = {"n": len(noisy), "classes": K, "noise_rate_true": float(np.mean(noisy != clean))}
    is_noisy = noisy != clean
    graph, t_graph = timed(neighbor_graph, features, 16, seed=seed)
    hoc, t_hoc = timed(estimate_transition, noisy, K, graph, seed=seed)
    T_true, _ = empirical_transition(clean, noisy, K)
    row.update({"T_errors": transition_errors(hoc.T, T_true), "noise_rate_estimate": hoc.noise_rate,
                "seconds_knn_graph": t_graph, "seconds_hoc": t_hoc})
    methods = {}
    rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior)
    for method in ("rank", "vote"):
        found, t = timed(detect_label_errors, noisy, K, graph, method=method, class_rates=rates, seed=seed)
        extra = t_graph + (t_hoc if method == "rank" else 0.0)
        methods[f"SimiFeat-{method}"] = {**detection_scores(found.flagged, is_noisy), "seconds": t + extra}
    issues, t = cleanlab_issues(noisy, knn_pred_probs(noisy, graph, K))
    methods["cleanlab (k-NN pred_probs)"] = {**detection_scores(issues, is_noisy), "seconds": t + t_graph}
    if logistic:
        probs, t_fit = timed(logistic_pred_probs, features, noisy, seed)
        issues, t = cleanlab_issues(noisy, probs)
        methods["cleanlab (5-fold logistic pred_probs)"] = {**detection_scores(issues, is_noisy), "seconds": t + t_fit}
    for m in methods.values():
        m["random_f1"] = random_detection_f1(row["noise_rate_true"], m["flagged"] / len(noisy))
    row["methods"] = methods
    row["T_est"] = hoc.T.round(4).tolist()
    row["T_true"] = T_true.round(4).tolist()
    return row


def part_synthetic(quick, seed):
    n = 3000 if quick else 10000
    results = {}
    for kind, rate in [("pair", 0.2), ("symmetric", 0.4), ("random", 0.3)]:
        T = make_transition(10, rate, kind, seed=seed)
        data = clusterable_features(n, 10, T, dim=64, clusters_per_class=3, spread=0.5, seed=seed)
        results[f"{kind}-{rate}"] = evaluate_detection(data.features, data.noisy, data.clean, 10, seed)
        print(kind, json.dumps({k: v["f1"] for k, v in results[f"{kind}-{rate}"]["methods"].items()}),
              results[f"{kind}-{rate}"]["T_errors"], flush=True)
    return results


BEFORE = {"tie_break": "index", "hoc_rounds": 20, "detect_rounds": 11, "suggestion": "runner_up", "rank_clip": "range"}
AFTER = {"tie_break": "random", "hoc_rounds": 50, "detect_rounds": 51, "suggestion": "winner", "rank_clip": "official"}


def cifar_run(features, noisy, clean, probs, rules, seed):
    """HOC T error and every detector on one feature space under one set of rules."""
    K = 10
    is_noisy = noisy != clean
    graph, t_graph = timed(neighbor_graph, features, 16, seed=seed, tie_break=rules["tie_break"])
    report = check_features(features, noisy, graph, K)
    hoc, t_hoc = timed(estimate_transition, noisy, K, graph, rounds=rules["hoc_rounds"], seed=seed)
    T_true, _ = empirical_transition(clean, noisy, K)
    errors = transition_errors(hoc.T, T_true)
    rates = rank_rates(hoc.T, hoc.p, hoc.noisy_prior, rules["rank_clip"])
    row = {"noise_rate_true": float(is_noisy.mean()), "noise_rate_estimate": hoc.noise_rate, "T_errors": errors,
           "max_in_degree": report.max_in_degree, "tied_first_neighbours": report.tied_first_neighbours,
           "warnings": report.warnings + check_transition(hoc.T, hoc.p, hoc.noise_rate), "methods": {},
           "seconds_graph": t_graph, "seconds_hoc": t_hoc}
    for method in ("rank", "vote"):
        found, t = timed(detect_label_errors, noisy, K, graph, method=method, class_rates=rates,
                         rounds=rules["detect_rounds"], seed=seed, suggestion=rules["suggestion"])
        row["methods"][f"SimiFeat-{method}"] = {**detection_scores(found.flagged, is_noisy), "seconds": t}
    issues, t = cleanlab_issues(noisy, knn_pred_probs(noisy, graph, K))
    row["methods"]["cleanlab (k-NN pred_probs)"] = {**detection_scores(issues, is_noisy), "seconds": t}
    issues, t = cleanlab_issues(noisy, probs)
    row["methods"]["cleanlab (the ResNet's own pred_probs)"] = {**detection_scores(issues, is_noisy), "seconds": t}
    row["methods"]["argmax(pred_probs) != label"] = detection_scores(argmax_baseline(noisy, probs), is_noisy)
    return row


def part_cifar10h(quick, seed):
    """CIFAR-10 test set, cleanlab's cross-validated probabilities as features, CIFAR-10H
    votes as noisy labels: raw and log features, before (lower-index ties, 20/11 rounds,
    runner-up suggestions, range clip) and after (seeded random ties, official rules)."""
    counts_file = SHARED / "cifar10h" / "cifar10h-counts.npy"
    probs_file = SHARED / "cleanlab_cifar10" / "cifar10_test_set_pyx.npy"
    labels_file = SHARED / "cleanlab_cifar10" / "cifar10_test_set_original_labels.npy"
    if not (counts_file.exists() and probs_file.exists() and labels_file.exists()):
        return {"skipped": "CIFAR-10H / cleanlab CIFAR-10 files not present"}
    counts = np.load(counts_file).astype(np.int64)
    probs = np.load(probs_file).astype(np.float32)
    clean = np.load(labels_file).astype(np.int64)
    rng = np.random.default_rng(seed)
    votes = [np.repeat(np.arange(10), c) for c in counts]
    single = np.array([rng.choice(v) for v in votes])
    worst = np.empty_like(single)
    for i, v in enumerate(votes):
        three = rng.choice(v, size=3, replace=False)
        wrong = three[three != clean[i]]
        worst[i] = wrong[0] if len(wrong) else three[0]
    if quick:
        keep = rng.choice(len(clean), size=3000, replace=False)
        clean, single, worst, probs = clean[keep], single[keep], worst[keep], probs[keep]
    spaces = {"raw probabilities": probs, "log-probabilities (the auto transform)": transform_features(probs)[0]}
    out = {}
    for noise_name, noisy in [("one random annotator", single), ("worst of 3 annotators", worst)]:
        for space, features in spaces.items():
            for version, rules in (("before", BEFORE), ("after", AFTER)):
                row = cifar_run(features, noisy, clean, probs, rules, seed)
                out[f"{noise_name} | {space} | {version}"] = row
                print(noise_name, space, version, json.dumps({k: round(v["f1"], 3) for k, v in row["methods"].items()}),
                      "T max", round(row["T_errors"]["max_abs"], 3), "noise", round(row["noise_rate_estimate"], 3),
                      flush=True)
    return out


def official_round(features, labels, K, sample, k, seed, rows=None):
    """One round of the official scheme: exact k-NN inside the subsample, then the counts."""
    if rows is None:
        rows = np.sort(np.random.default_rng(seed).choice(len(labels), size=sample, replace=False))
    sims, idx = knn(features[rows], k=k, backend="exact")
    return consensus_counts(labels[rows], labels[rows[idx[:, 0]]], labels[rows[idx[:, 1]]], K)


def semi_synthetic_pool(n_max, dim, seed):
    names = ["gpt-4o-mini", "llama-3.1-8b-instruct", "mistral-7b-v0.3-instruct"]
    scores = {name: np.load(SHARED / "ds2_scores" / f"{name}.npy").astype(np.int64)[:n_max] for name in names}
    latent = np.rint((scores[names[1]] + scores[names[2]]) / 2).astype(np.int64)
    rng = np.random.default_rng(seed)
    per_level = 60
    centres = rng.normal(size=(6 * per_level, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = latent * per_level + rng.integers(0, per_level, size=len(latent))
    emb = centres[which] + rng.normal(scale=0.8 / np.sqrt(dim), size=(len(latent), dim)).astype(np.float32)
    return names, scores, latent, emb


def part_ds2(quick, seed, rows=300932, recall_queries=20000, official_sample=50000):
    if not (SHARED / "ds2_scores").exists():
        return {"skipped": "ds2_scores not present"}
    n_max = 30000 if quick else rows
    names, scores, latent, emb = semi_synthetic_pool(n_max, 384, seed)
    raw = scores[names[0]]
    n = len(raw)
    out = {"n": n, "dim": 384}
    out["rater_agreement_raw"] = {f"{a} vs {b}": agreement(scores[a], scores[b])
                                  for i, a in enumerate(names) for b in names[i + 1:]}
    CPU.clear()
    start, start_cpu = time.perf_counter(), time.process_time()
    graph, t_graph = cpu_timed("knn_graph", neighbor_graph, emb, 16, seed=seed)
    curation, t_cur = cpu_timed("curation", curate_scores, raw, graph, seed=seed)  # official rounds 50/51
    long_tail, t_lt = cpu_timed("long_tail", long_tail_scores, graph, 10)
    chosen, t_sel = cpu_timed("select", select_ds2, curation.curated, long_tail, 10000)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    recall, queries = recall_at_10(emb, graph, recall_queries, seed)
    out["reliant"] = {"seconds_total": total, "seconds_knn_graph": t_graph, "seconds_curation": t_cur,
                      "seconds_long_tail": t_lt, "seconds_select": t_sel, "graph_backend": graph.backend,
                      "cpu_seconds": dict(CPU), "cpu_seconds_total": total_cpu,
                      "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
                      "recall_at_10": recall, "recall_queries": queries, "graph_search": graph.search,
                      "rounds": {"hoc": curation.hoc.rounds, "simifeat": 51}, "peak_rss_gib": peak_rss_gib()}
    out["curation"] = {
        "noise_rate_estimate": curation.hoc.noise_rate, "T": curation.hoc.T.round(3).tolist(),
        "changed_share": float(curation.changed.mean()),
        "raw_histogram": np.bincount(raw, minlength=6).tolist(),
        "curated_histogram": np.bincount(curation.curated, minlength=6).tolist(),
        "agreement_with_latent_raw": agreement(raw, latent), "agreement_with_latent_curated": agreement(curation.curated, latent),
        f"agreement_with_{names[1]}_raw": agreement(raw, scores[names[1]]),
        f"agreement_with_{names[1]}_curated": agreement(curation.curated, scores[names[1]]),
        f"agreement_with_{names[2]}_raw": agreement(raw, scores[names[2]]),
        f"agreement_with_{names[2]}_curated": agreement(curation.curated, scores[names[2]]),
    }
    # The official scheme: 50 rounds, each an exact k-NN over a 50k-row subsample of the
    # (duplicated) pool. Measure a round at the official size and scale to 50.
    # A smaller measured subsample is scaled by (50,000 / measured)^2: exact search is quadratic.
    sample = min(official_sample, n)
    start, start_cpu = time.perf_counter(), time.process_time()
    official_round(emb, raw, 6, sample, 10, seed)
    scale = (min(50000, n) / sample) ** 2
    per_round, per_round_cpu = scale * (time.perf_counter() - start), scale * (time.process_time() - start_cpu)
    out["official_scheme"] = {"rounds_measured": 1, "seconds_per_round": per_round, "cpu_seconds_per_round": per_round_cpu,
                              "seconds_50_rounds_extrapolated": 50 * per_round, "subsample": min(50000, n),
                              "subsample_measured": sample, "quadratic_scale": scale}
    out["speedup_vs_official"] = 50 * per_round / total
    out["speedup_vs_official_cpu"] = 50 * per_round_cpu / total_cpu
    print("ds2", json.dumps(out["reliant"]), "official/round", per_round, flush=True)
    return out


def equal_outputs_check(seed, n=20000):
    """On a pool small enough for both and the same subsamples: reliant's shared-graph
    rounds vs the official per-round exact search (consensus and the T fitted to it)."""
    if not (SHARED / "ds2_scores").exists():
        return {"skipped": "ds2_scores not present"}
    names, scores, latent, emb = semi_synthetic_pool(n, 384, seed)
    raw = scores[names[0]]
    rounds, frac = 10, 0.5
    graph, t_graph = timed(neighbor_graph, emb, 16, backend="exact")
    ours, t_ours = timed(estimate_transition, raw, 6, graph, rounds=rounds, sample_fraction=frac, seed=seed)
    t_ours += t_graph
    start = time.perf_counter()
    sums = None
    rng = np.random.default_rng(seed)  # the same subsamples as estimate_transition draws
    size = int(round(frac * n))
    for r in range(rounds):
        rows = np.sort(rng.choice(n, size=size, replace=False))
        c = official_round(emb, raw, 6, size, 2, seed, rows=rows)
        sums = list(c) if sums is None else [s + x for s, x in zip(sums, c)]
    T_off, p_off, _, _ = solve_transition(tuple(s / rounds for s in sums))
    t_off = time.perf_counter() - start
    return {"n": n, "rounds": rounds, "sample_fraction": frac, "seconds_reliant": t_ours, "seconds_reliant_graph": t_graph,
            "seconds_official_scheme": t_off, "T_max_abs_difference": float(np.abs(ours.T - T_off).max()),
            "consensus2_max_abs_difference": float(np.abs(ours.consensus[1] - sums[1] / rounds).max()),
            "rows_dropped_by_shared_graph": ours.dropped}


def conditioning_check(seed, n=8000):
    """How much does the fitted T move when the consensus moves by ~2e-5? Identifiable
    (synthetic, diagonal-dominant T) vs the real DS2 ratings on the semi-synthetic pool."""
    out = {}
    T6 = make_transition(6, 0.35, "random", seed=seed)
    synthetic = clusterable_features(n, 6, T6, dim=64, seed=seed)
    cases = {"synthetic 6 levels, 35% noise": (synthetic.features, synthetic.noisy)}
    if (SHARED / "ds2_scores").exists():
        names, scores, latent, emb = semi_synthetic_pool(n, 384, seed)
        cases["real gpt-4o-mini scores, semi-synthetic embeddings"] = (emb, scores[names[0]])
    rng = np.random.default_rng(seed + 7)
    for name, (features, labels) in cases.items():
        graph = neighbor_graph(features, 8, backend="exact")
        hoc = estimate_transition(labels, 6, graph, rounds=10, sample_fraction=0.5, seed=seed)
        moved = tuple(np.clip(c + rng.normal(scale=2e-5, size=c.shape), 0, None) for c in hoc.consensus)
        T2, p2, loss2, _ = solve_transition(moved)
        out[name] = {"T_max_abs_change": float(np.abs(T2 - hoc.T).max()),
                     "p_max_abs_change": float(np.abs(p2 - hoc.p).max()),
                     "noise_rate": [hoc.noise_rate, float(1 - np.sum(p2 * np.diag(T2)))],
                     "loss": [hoc.loss, loss2]}
    return out


def part_embed(texts_count, repeats=3):
    """Embedding throughput on real Alpaca texts: reliant's embed() (length-sorted batches,
    progress, cache) against plain SentenceTransformer.encode on the same texts and model,
    interleaved in the same run so load from other jobs hits both alike."""
    path = SHARED / "instructions" / "alpaca_random_9k.json"
    if not path.exists():
        return {"skipped": "alpaca_random_9k.json not present"}
    from reliant.core.embeddings import embed, load_embedder
    from reliant.curation.inputs import load_pool, pool_text

    texts = [pool_text(r) for r in load_pool(path, "score0").records[:texts_count]]
    model = load_embedder()
    model.encode(texts[:64], batch_size=64)  # warm-up
    ours, plain, ours_cpu, plain_cpu = [], [], [], []

    def run_ours():
        return embed(texts, batch_size=64, show_progress=True)

    def run_plain():
        return model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)

    for repeat in range(repeats):
        # Alternate which runs first (ABBA...): under a load that drifts, the first of a pair
        # is not always the one that meets the quieter machine.
        pair = [(run_ours, ours, ours_cpu), (run_plain, plain, plain_cpu)]
        for fn, walls, cpus in (pair if repeat % 2 == 0 else pair[::-1]):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = fn()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - start_cpu)
            if fn is run_ours:
                a = result
            else:
                b = result
    out = {"texts": len(texts), "repeats": repeats, "seconds_reliant": ours, "seconds_plain_encode": plain,
           "cpu_seconds_reliant": ours_cpu, "cpu_seconds_plain_encode": plain_cpu,
           "throughput_ratio_median": float(np.median(plain) / np.median(ours)),
           "throughput_ratio_per_pair": [p / o for p, o in zip(plain, ours)],
           "cpu_throughput_ratio_median": float(np.median(plain_cpu) / np.median(ours_cpu)),
           "max_abs_difference": float(np.abs(np.asarray(a) - b).max())}
    print("embed", json.dumps(out), flush=True)
    return out


def plot(results, path):
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, axes = new_figure(12, 3.8, ncols=2)
    ax = axes[0]
    settings = [(f"syn {k}", v) for k, v in results.get("synthetic", {}).items() if isinstance(v, dict)]
    settings += [(f"C10H {k}", v) for k, v in results.get("cifar10h", {}).items() if isinstance(v, dict)]
    methods = sorted({m for _, v in settings for m in v["methods"]})
    width = 0.8 / max(1, len(methods))
    for j, m in enumerate(methods):
        vals = [v["methods"].get(m, {}).get("f1", np.nan) for _, v in settings]
        ax.bar(np.arange(len(settings)) + (j - (len(methods) - 1) / 2) * width, vals, width, label=m,
               color=PALETTE[j % len(PALETTE)])
    ax.set_xticks(np.arange(len(settings)))
    ax.set_xticklabels([s for s, _ in settings], rotation=20, fontsize=7, ha="right")
    ax.set_ylabel("detection F1")
    ax.set_ylim(0, 1.35)
    ax.set_title("Label-error detection")
    ax.legend(fontsize=6, ncols=2, loc="upper left")
    ax = axes[1]
    ds2 = results.get("ds2", {})
    if "reliant" in ds2:
        bars = {"reliant (graph + curation)": ds2["reliant"]["seconds_total"],
                "official scheme, 50 rounds (extrapolated)": ds2["official_scheme"]["seconds_50_rounds_extrapolated"]}
        ax.barh(list(bars), list(bars.values()), color=[PALETTE[0], PALETTE[3]])
        for y, value in enumerate(bars.values()):
            ax.text(value, y, f" {value:,.0f} s", va="center", fontsize=8)
        ax.set_xlim(0, 1.25 * max(bars.values()))
        ax.set_xlabel("seconds (2 shared CPU cores)")
        ax.set_title(f"DS2 score curation, {ds2['n']:,} x {ds2['dim']} pool")
    path.write_bytes(figure_png(fig))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", "--part", default="synthetic,cifar10h,equal,ds2")
    parser.add_argument("--embed-texts", type=int, default=1024, help="Alpaca texts of the embed part")
    parser.add_argument("--embed-repeats", type=int, default=4, help="interleaved repeats of the embed part")
    parser.add_argument("--ds2-rows", "--n", type=int, default=300932, help="pool rows of the ds2 part (300,932: all)")
    parser.add_argument("--official-sample", type=int, default=50000,
                        help="subsample measured for one official round (scaled quadratically to 50,000)")
    parser.add_argument("--recall-queries", type=int, default=20000,
                        help="rows whose exact neighbours over the whole pool are checked (recall@10)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_curation.py " + " ".join(sys.argv[1:])
    results = {"command": command, "cpu_threads": os.cpu_count(), "seed": args.seed,
               "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    parts = args.parts.split(",")
    name = "curation_quick" if args.quick else "curation"

    target = OUT / f"{name}.json"
    if target.exists() and set(parts) != {"synthetic", "cifar10h", "equal", "ds2"}:
        # A run of some parts keeps the other parts' results; each part records the command that
        # measured it (the top-level "command" stays the last full run's).
        results = {**json.loads(target.read_text()), **{k: v for k, v in results.items() if k != "command"}}

    def measured(part: dict) -> dict:
        return {"command": command, **part}

    def save():  # after every part, so a long run keeps what it measured
        target.write_text(json.dumps(results, indent=1, default=float) + "\n")

    if "synthetic" in parts:
        results["synthetic"] = measured(part_synthetic(args.quick, args.seed))
        save()
    if "cifar10h" in parts:
        results["cifar10h"] = measured(part_cifar10h(args.quick, args.seed))
        save()
    if "equal" in parts:
        results["equal_outputs"] = equal_outputs_check(args.seed, 5000 if args.quick else 20000)
        print("equal", results["equal_outputs"], flush=True)
        results["conditioning"] = conditioning_check(args.seed)
        print("conditioning", results["conditioning"], flush=True)
        save()
    if "embed" in parts:
        results["embedding"] = measured(part_embed(256 if args.quick else args.embed_texts, args.embed_repeats))
        save()
    if "ds2" in parts:
        results["ds2"] = measured(part_ds2(args.quick, args.seed, args.ds2_rows, args.recall_queries, args.official_sample))
        save()
    plot(results, OUT / f"{name}.png")
    print(f"wrote {OUT / name}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
