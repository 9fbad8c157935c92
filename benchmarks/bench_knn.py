"""Benchmark reliant.core.knn backends against the naive baseline.

Self-search (each point's k nearest other points) on random unit vectors, timing the
exact, torch and faiss backends on all n points and the naive baseline (full similarity
matrix + argsort) on a subset it can afford, scaled up to n: the matmul part by (n/m)^2,
the sort part by (n/m)^2 * log(n)/log(m). Checks that the backends agree with each other
on n points and with the naive baseline on the subset, then writes knn.json and knn.png.

    python benchmarks/bench_knn.py --n 50000 --d 384 --k 10 --out benchmarks/results/knn
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from reliant.core.knn import knn
from reliant.core.plotting import PALETTE, figure_png, new_figure

BACKENDS = ("exact", "torch", "faiss")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000, help="points (self-search)")
    parser.add_argument("--d", type=int, default=384, help="dimensions")
    parser.add_argument("--k", type=int, default=10, help="neighbours per point")
    parser.add_argument("--naive-n", type=int, default=5_000, help="subset size for the naive baseline")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated backends to time")
    parser.add_argument("--device", default="auto", help="device for the torch backend")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per backend (best is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/knn"))
    return parser.parse_args(argv)


def unit_vectors(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def best_time(fn, repeats: int):
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def naive_baseline(x: np.ndarray, k: int) -> tuple[float, float, np.ndarray]:
    """Full n x n similarity, self masked, full argsort: (matmul_s, argsort_s, idx)."""
    start = time.perf_counter()
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    matmul_s = time.perf_counter() - start
    start = time.perf_counter()
    idx = np.argsort(-full, axis=1)[:, :k]
    argsort_s = time.perf_counter() - start
    return matmul_s, argsort_s, idx


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    same_position = float((a == b).mean())
    same_set = float(np.mean([len(set(r1) & set(r2)) / len(r1) for r1, r2 in zip(a.tolist(), b.tolist())]))
    return {"same_index_at_rank": same_position, "neighbour_set_overlap": same_set}


def machine_info() -> dict[str, object]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import faiss

        info["faiss"] = faiss.__version__
    except ImportError:
        info["faiss"] = None
    return info


def plot(results: dict, path: Path) -> None:
    names = list(results["backends"]) + ["naive (est.)"]
    seconds = [results["backends"][b]["seconds"] for b in results["backends"]] + [
        results["naive"]["estimated_seconds_at_n"]
    ]
    fig, ax = new_figure(6.4, 3.6)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(names) - 1)] + ["#999999"]
    bars = ax.bar(names, seconds, color=colors)
    bars[-1].set_hatch("//")
    ax.set_ylabel("seconds (lower is better)")
    cfg = results["config"]
    ax.set_title(f"k-NN self-search, n={cfg['n']:,}, d={cfg['d']}, k={cfg['k']}")
    for bar, value, name in zip(bars, seconds, names):
        label = f"{value:.2f}s"
        if name in results["backends"]:
            label += f"\n{results['backends'][name]['speedup_vs_naive']:.1f}x faster"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=8)
    ax.margins(y=0.15)
    path.write_bytes(figure_png(fig))


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    x = unit_vectors(args.n, args.d, args.seed)
    m = min(args.naive_n, args.n)

    # Naive baseline on the affordable subset, scaled to n.
    matmul_s, argsort_s, naive_idx = naive_baseline(x[:m], args.k)
    square = (args.n / m) ** 2
    estimated = matmul_s * square + argsort_s * square * math.log(args.n) / math.log(m)
    results: dict = {
        "config": {**{key: getattr(args, key) for key in ("n", "d", "k", "device", "repeats", "seed")}, "naive_n": m},
        "machine": machine_info(),
        "naive": {
            "measured_n": m,
            "matmul_seconds": matmul_s,
            "argsort_seconds": argsort_s,
            "measured_seconds": matmul_s + argsort_s,
            "estimated_seconds_at_n": estimated,
            "scaling": "matmul x (n/m)^2; argsort x (n/m)^2 * ln(n)/ln(m)",
            "memory_bytes_at_n": args.n * args.n * (4 + 8),
        },
        "backends": {},
        "agreement": {},
    }

    reference = None
    for backend in backends:
        knn(x[:200], k=args.k, backend=backend, normalized=True, device=args.device)  # warm-up
        seconds, (sims, idx) = best_time(
            lambda: knn(x, k=args.k, backend=backend, normalized=True, device=args.device), args.repeats
        )
        _, sub_idx = knn(x[:m], k=args.k, backend=backend, normalized=True, device=args.device)
        results["backends"][backend] = {
            "seconds": seconds,
            "queries_per_second": args.n / seconds,
            "speedup_vs_naive": estimated / seconds,
        }
        results["agreement"][f"{backend}_vs_naive_on_subset"] = agreement(sub_idx, naive_idx)
        if reference is None:
            reference = (backend, sims, idx)
        else:
            results["agreement"][f"{backend}_vs_{reference[0]}"] = {
                **agreement(idx, reference[2]),
                "max_abs_similarity_difference": float(np.abs(sims - reference[1]).max()),
            }
        print(f"{backend:>6}: {seconds:8.2f} s   {estimated / seconds:6.1f}x vs naive", flush=True)
    print(f" naive: {estimated:8.2f} s   (estimated from {m:,} points: {matmul_s + argsort_s:.2f} s)")

    worst = min(v["neighbour_set_overlap"] for v in results["agreement"].values())
    results["all_agree"] = worst >= 0.999
    print(f"lowest neighbour-set overlap between methods: {worst:.5f}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "knn.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "knn.png")
    print(f"wrote {args.out / 'knn.json'} and {args.out / 'knn.png'}")
    if not results["all_agree"]:
        raise SystemExit("backends disagree on the neighbours")
    return results


if __name__ == "__main__":
    main()
