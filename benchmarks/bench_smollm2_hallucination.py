"""FEWL on TruthfulQA with a real pretrained model: SmolLM2-135M-Instruct as a reference LLM and
as the writer of intentionally wrong (IW) answers and their corrections (CO), next to a tiny LM.

Candidates are TruthfulQA's own answers to ``--questions`` questions drawn with ``--seed``: the
"Best Answer" (candidate ``truthful``) and the first of its "Incorrect Answers" (candidate
``false``). The gold labels only judge: AUROC of each score at telling the false answer from
the true one (1 = perfect, 0.5 = chance). The script runs reliant's own command, as a user would:

1. ``hallucination score --reference-llm tiny --weighting uniform``: the only reference that
   existed offline before SmolLM2 (a tiny LM trained here, which knows nothing of TruthfulQA);
2. ``hallucination score --reference-llm smollm2,tiny --wrong-llm smollm2``: FEWL proper, with
   SmolLM2 answering, writing IW answers and correcting them, so FEWL can weight the two
   references by expertise; the same run scores the single-reference (SmolLM2) and the
   unweighted reference-average baselines.

    OMP_NUM_THREADS=2 python benchmarks/bench_smollm2_hallucination.py
    python benchmarks/bench_smollm2_hallucination.py --questions 400 --n-wrong 5   # bigger, on a GPU

Writes ``bench_smollm2_hallucination.json`` and ``.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
from pathlib import Path

from _common import reliant  # benchmarks/ is on sys.path when a script runs

TRUTHFULQA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "truthfulqa" / "TruthfulQA.csv"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--truthfulqa", type=Path, default=TRUTHFULQA)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--n-wrong", type=int, default=2, help="IW answers per question (FEWL's paper: 5)")
    parser.add_argument("--batch-size", type=int, default=16, help="SmolLM2 generation batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smollm2_hallucination"))
    return parser.parse_args(argv)


def write_candidates(path: Path, csv_path: Path, n: int, seed: int) -> Path:
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    picked = random.Random(seed).sample(rows, n)
    with path.open("w", encoding="utf-8") as f:
        for i, row in enumerate(picked):
            wrong = next(a.strip() for a in row["Incorrect Answers"].split(";") if a.strip())
            f.write(json.dumps({
                "id": f"truthfulqa-{i}", "question": row["Question"],
                "answers": {"truthful": row["Best Answer"], "false": wrong},
                "hallucinated": {"truthful": 0, "false": 1},
            }) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_smollm2_hal_"))  # the run folders, kept for a look
    data = write_candidates(work / "truthfulqa.jsonl", args.truthfulqa, args.questions, args.seed)
    smollm2 = f"smollm2?batch_size={args.batch_size}"
    common = ["--data", str(data), "--seed", str(args.seed)]
    t_tiny = reliant("hallucination", "score", *common, "--reference-llm", "tiny", "--weighting", "uniform",
                     "--out", str(work / "tiny_only"))
    t_fewl = reliant("hallucination", "score", *common, "--reference-llm", f"{smollm2},tiny", "--wrong-llm", smollm2,
                     "--n-wrong", str(args.n_wrong), "--out", str(work / "smollm2_fewl"))
    tiny = json.loads((work / "tiny_only" / "metrics.json").read_text())
    fewl = json.loads((work / "smollm2_fewl" / "metrics.json").read_text())
    auroc = {
        "reference average, tiny LM only": tiny["evaluation"]["reference_average"]["auroc"],
        "single reference: SmolLM2": fewl["evaluation"]["single_reference"]["auroc"],
        "reference average: SmolLM2 + tiny": fewl["evaluation"]["reference_average"]["auroc"],
        "FEWL: SmolLM2 + tiny, IW/CO by SmolLM2": fewl["evaluation"]["fewl"]["auroc"],
    }
    examples = [json.loads(line) for line in (work / "smollm2_fewl" / "scores.jsonl").read_text().splitlines()[:6]]
    result = {
        "data": f"TruthfulQA, {args.questions} questions (seed {args.seed}), candidates: Best Answer vs an Incorrect Answer",
        "n_wrong": args.n_wrong,
        "auroc_false_vs_true": auroc,
        "reference_weights": fewl.get("reference_weights"),
        "mean_fewl_by_gold": fewl.get("mean_fewl_by_gold_degree"),
        "models": fewl.get("models"),
        "seconds": {"tiny_only": round(t_tiny, 1), "smollm2_fewl": round(t_fewl, 1)},
        "score_examples": examples,
        "run_folders": str(work),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_smollm2_hallucination.json").write_text(json.dumps(result, indent=2) + "\n")

    from reliant.core.plotting import PALETTE, new_figure

    fig, ax = new_figure(7, 3.6)
    names = list(auroc)
    ax.barh(names, [auroc[k] for k in names], color=[PALETTE[5], PALETTE[1], PALETTE[2], PALETTE[0]])
    ax.axvline(0.5, color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("AUROC: incorrect vs best answer (higher is better)")
    ax.set_title(f"FEWL on TruthfulQA ({args.questions} questions) with SmolLM2-135M-Instruct")
    ax.legend(loc="lower right")
    fig.savefig(args.out / "bench_smollm2_hallucination.png", dpi=120, bbox_inches="tight")
    print(json.dumps({k: v for k, v in result.items() if k not in ("score_examples", "models")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
