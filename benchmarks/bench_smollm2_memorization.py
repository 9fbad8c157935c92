"""Membership inference on a real pretrained model: SmolLM2-135M-Instruct before and after
fine-tuning it on texts it never saw.

Members and non-members are question/answer pairs about fictitious people from reliant's
built-in corpus (generated, so no pretrained model has seen them): people 0..P-1 are
members, people P..2P-1 non-members, same attribute templates. The script runs reliant's own
commands, as a user would:

1. ``reliant memorization audit --model smollm2`` on the base model (no signal expected:
   neither set was ever seen, AUROC ~ 0.5);
2. ``reliant unlearn run --method retain_ft --model smollm2 --retain members.jsonl``: plain
   fine-tuning on the members (reliant's trainer, chat template applied);
3. ``reliant memorization audit`` on the fine-tuned model.

It writes ``bench_smollm2_memorization.json`` and ``.png`` (AUROC per attack, before vs after)
under ``--out``. Default size fits 2 CPU cores in about 10 minutes; ``--device cuda`` with
``--people 40 --epochs 5`` is the bigger run for a GPU.

    OMP_NUM_THREADS=2 python benchmarks/bench_smollm2_memorization.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from _common import reliant  # benchmarks/ is on sys.path when a script runs

ATTACKS = "loss,zlib,min_k,min_k_pp"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=8, help="members' people (8 QA each); as many non-members")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smollm2_memorization"))
    return parser.parse_args(argv)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n" for r in rows))
    return path


def aurocs(run: Path) -> dict[str, float]:
    metrics = json.loads((run / "metrics.json").read_text())
    found = {}
    for name, entry in metrics.get("attacks", {}).items():
        if isinstance(entry, dict) and "auroc" in entry:
            found[name] = entry["auroc"]
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from reliant.core.builtin_data import builtin_qa

    records = builtin_qa(n_people=2 * args.people, seed=0)
    members = [r for r in records if r["person_index"] < args.people]
    nonmembers = [r for r in records if r["person_index"] >= args.people]
    work = Path(tempfile.mkdtemp(prefix="bench_smollm2_mem_"))  # the three run folders (kept for a look)
    m = write_jsonl(work / "members.jsonl", members)
    n = write_jsonl(work / "nonmembers.jsonl", nonmembers)
    tiny_eval = write_jsonl(work / "eval.jsonl", members[:2])  # keeps unlearn's own before/after eval short
    common = ["--members", str(m), "--nonmembers", str(n), "--attacks", ATTACKS, "--no-extract",
              "--device", args.device]
    t_before = reliant("memorization", "audit", "--model", "smollm2", *common, "--out", str(work / "before"))
    t_train = reliant("unlearn", "run", "--method", "retain_ft", "--model", "smollm2", "--retain", str(m),
                      "--eval-retain", str(tiny_eval), "--epochs", str(args.epochs), "--lr", str(args.lr),
                      "--batch-size", str(args.batch_size), "--out", str(work / "finetuned"))
    t_after = reliant("memorization", "audit", "--model", str(work / "finetuned" / "model"), *common,
                      "--out", str(work / "after"))
    before, after = aurocs(work / "before"), aurocs(work / "after")
    result = {
        "model": "smollm2 (SmolLM2-135M-Instruct)",
        "device": args.device,
        "members": len(members),
        "nonmembers": len(nonmembers),
        "fine_tuning": {"method": "retain_ft (full fine-tuning on the members)", "epochs": args.epochs,
                        "lr": args.lr, "batch_size": args.batch_size},
        "auroc_before": before,
        "auroc_after": after,
        "seconds": {"audit_before": round(t_before, 1), "fine_tune": round(t_train, 1),
                    "audit_after": round(t_after, 1)},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_smollm2_memorization.json").write_text(json.dumps(result, indent=2) + "\n")

    from reliant.core.plotting import PALETTE, new_figure

    names = list(before)
    fig, ax = new_figure(7, 4)
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [before[k] for k in names], width=0.4, color=PALETTE[5], label="base model")
    ax.bar([x + 0.2 for x in xs], [after.get(k, float("nan")) for k in names], width=0.4, color=PALETTE[0],
           label=f"after {args.epochs} epochs on the members")
    ax.axhline(0.5, color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(list(xs), names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("AUROC (members vs non-members)")
    ax.set_title("SmolLM2-135M-Instruct: membership inference before and after fine-tuning")
    ax.legend(loc="lower right")
    fig.savefig(args.out / "bench_smollm2_memorization.png", dpi=120, bbox_inches="tight")
    print(json.dumps(result, indent=2))
    print(f"run folders (reports of each step): {work}")
    shutil.rmtree(work / "finetuned" / "model", ignore_errors=True)  # 0.5 GB of weights; metrics stay
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
