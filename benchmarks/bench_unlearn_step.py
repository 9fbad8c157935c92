"""Cost of one unlearning step: FLAT against the baselines that need more than the forget set.

FLAT's selling point is that it needs only the forget data and template answers: no retain set
and no frozen reference model. This benchmark measures what that saves. Each method runs in its
own subprocess (so peak resident memory is its own) for a fixed number of steps on the same model
and forget batch; we report forget-set tokens processed per second, seconds per step, and peak
resident memory, with ratios against gradient ascent (one forward/backward on the forget batch,
the cheapest possible unlearning step) measured in the same run.

    python benchmarks/bench_unlearn_step.py --steps 20 --out benchmarks/results/unlearn_step

``--model`` takes any causal LM id or path; the default is the built-in tiny LM. On a GPU
machine pass ``--device cuda`` and peak memory is read from ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

def _registry() -> tuple[tuple[str, ...], dict[str, str]]:
    """The timed methods (GA, the baseline, first) and what each reads, from the method registry."""
    from reliant.unlearning.methods import REGISTRY

    names = [n for n, cls in REGISTRY.items() if cls.trains_on == "forget"]
    names = ["ga", *[n for n in names if n != "ga"]]
    words = {"template": "templates", "retain": "retain", "reference": "reference model"}
    needs = {n: " + ".join(["forget", *(words[k] for k in ("template", "retain", "reference") if k in REGISTRY[n].needs)])
             for n in names}
    return tuple(names), needs


METHODS, NEEDS = _registry()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="causal LM id/path, or 'tiny'")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps timed per method")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/unlearn_step")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def worker(args: argparse.Namespace) -> dict:
    """Run ``args.worker`` for ``args.steps`` steps in this process and report its cost."""
    import torch

    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.core.models import load_causal_lm, quiet_transformers
    from reliant.unlearning.api import unlearn

    quiet_transformers()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    records = builtin_qa(n_people=100, seed=0)
    forget, retain = split_forget_retain(records, 0.1)
    forget = forget[: args.batch_size * args.steps]
    model, tokenizer = load_causal_lm(args.model, device=args.device)
    # One warm-up step so lazy initialisation is not timed.
    unlearn(model, tokenizer, forget[: args.batch_size], method=args.worker, retain=retain, epochs=1,
            batch_size=args.batch_size, lr=1e-5, seed=0)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = unlearn(model, tokenizer, forget, method=args.worker, retain=retain, epochs=1,
                     batch_size=args.batch_size, lr=1e-5, seed=0)
    seconds = time.perf_counter() - started
    if args.device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "method": args.worker,
        "steps": result.steps,
        "seconds": seconds,
        "seconds_per_step": seconds / max(result.steps, 1),
        # Every method sees the same forget batches; what differs is the extra work per step
        # (template, retain and reference-model passes), so examples/s is the comparable rate.
        "forget_examples_per_second": min(len(forget), result.steps * args.batch_size) / seconds,
        "tokens_processed_per_second": result.tokens / seconds,
        "peak_memory_mb": peak_mb,
        "needs": NEEDS[args.worker],
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.model == "tiny":
        from reliant.core.tiny_lm import default_tiny_lm

        args.model = str(default_tiny_lm())
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "ga" not in methods:
        methods.insert(0, "ga")
    rows = []
    for method in methods:
        command = [sys.executable, __file__, "--worker", method, "--model", args.model, "--steps", str(args.steps),
                   "--batch-size", str(args.batch_size), "--device", args.device]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{method} failed:\n{done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{method:8s} {row['forget_examples_per_second']:7.1f} forget ex/s  {row['seconds_per_step'] * 1000:7.1f} ms/step"
              f"  {row['peak_memory_mb']:7.0f} MB  ({row['needs']})", flush=True)
    base = next(r for r in rows if r["method"] == "ga")
    for row in rows:
        row["throughput_vs_ga"] = row["forget_examples_per_second"] / base["forget_examples_per_second"]
        row["memory_vs_ga"] = row["peak_memory_mb"] / base["peak_memory_mb"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "unlearn_step",
        "model": args.model if not args.model.startswith(str(Path.home())) else "built-in tiny LM (default)",
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "baseline": "ga",
        "rows": rows,
    }
    (out / "unlearn_step.json").write_text(json.dumps(report, indent=2))
    plot(rows, out / "unlearn_step.png", args.device)
    print(f"wrote {out / 'unlearn_step.json'} and unlearn_step.png")


def plot(rows: list[dict], path: Path, device: str) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, axes = new_figure(9.0, 3.4, ncols=2)
    names = [r["method"] for r in rows]
    colors = [PALETTE[0] if n == "flat" else "#9a9a9a" for n in names]
    axes[0].barh(names, [r["throughput_vs_ga"] for r in rows], color=colors)
    axes[0].axvline(1.0, color="black", lw=0.8, ls="--")
    axes[0].set_xlabel("forget examples/s relative to GA (higher is faster)")
    axes[0].invert_yaxis()
    axes[1].barh(names, [r["peak_memory_mb"] for r in rows], color=colors)
    axes[1].set_xlabel(f"peak memory, MB ({'GPU' if device.startswith('cuda') else 'process RSS'})")
    axes[1].invert_yaxis()
    fig.suptitle("Cost of an unlearning step: FLAT needs no retain set and no reference model", fontsize=10)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    main()
