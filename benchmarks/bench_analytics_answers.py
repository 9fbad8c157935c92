"""Answers on a stratified slice of the evaluation set: citation precision, date accuracy, faithfulness.

Takes the first ``--per-kind`` questions of each kind from the evaluation set, splits them into
``--parts`` balanced files, runs ``reliant analytics eval`` on each (in parallel: on a saturated
machine each process gets its own share of the CPU), and merges the per-question rows into one
table, time-aware vs the same retriever without time-awareness.

    .venv/bin/python benchmarks/bench_analytics_answers.py --index wn-index --per-kind 15 --parts 3 --k 3
    .venv/bin/python benchmarks/bench_analytics_answers.py --merge /tmp/eval-part0 /tmp/eval-part1 /tmp/eval-part2

Writes benchmarks/results/analytics/eval_answers45_metrics.json and eval_answers45_per_question.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from reliant.analytics.metrics import summarize

ROOT = Path(__file__).resolve().parent
EVALSET = ROOT / "results" / "analytics" / "evalset.jsonl"
OUT = ROOT / "results" / "analytics"
KINDS = ("month", "quarter", "last_year")
METRICS = ("recall@1", "recall@3", "recall@8", "citation_precision", "citation_date_accuracy", "supported",
           "faithful_sentences")


def split(per_kind: int, parts: int, folder: Path) -> list[Path]:
    rows = [json.loads(line) for line in EVALSET.read_text().splitlines()]
    by_kind = {kind: [r for r in rows if r["kind"] == kind][:per_kind] for kind in KINDS}
    files = []
    for part in range(parts):
        chosen = [r for kind in KINDS for i, r in enumerate(by_kind[kind]) if i % parts == part]
        path = folder / f"part{part}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in chosen))
        files.append(path)
    return files


def merge(run_folders: list[Path]) -> dict:
    rows = [json.loads(line) for folder in run_folders
            for line in (Path(folder) / "per_question.jsonl").read_text().splitlines()]
    table = [{"metric": m, **{arm: summarize([r.get(f"{arm}.{m}") for r in rows])
                              for arm in ("time_aware", "baseline")}} for m in METRICS]
    by_kind = [{"kind": kind, "questions": sum(r["kind"] == kind for r in rows),
                **{f"{arm} {m}": summarize([r.get(f"{arm}.{m}") for r in rows if r["kind"] == kind])
                   for m in ("citation_precision", "citation_date_accuracy") for arm in ("time_aware", "baseline")}}
               for kind in KINDS]
    uncited = {arm: sum(r.get(f"{arm}.answer", "").count("(uncited)") for r in rows) for arm in ("time_aware", "baseline")}
    return {"questions": len(rows), "table": table, "by_kind": by_kind, "uncited_sentences": uncited,
            "runs": [str(f) for f in run_folders]}, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--per-kind", type=int, default=15)
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--k", type=int, default=3, help="articles each answer is drawn from")
    parser.add_argument("--merge", nargs="+", type=Path, help="only merge these finished eval run folders")
    args = parser.parse_args()
    folders = args.merge
    if folders is None:
        if args.index is None:
            parser.error("--index is required unless --merge is given")
        work = Path(tempfile.mkdtemp(prefix="analytics-answers-"))
        exe = Path(sys.executable).with_name("reliant")
        folders = [work / f"eval-part{i}" for i in range(args.parts)]
        jobs = [subprocess.Popen([str(exe), "analytics", "eval", "--index", str(args.index), "--questions", str(q),
                                  "--k", str(args.k), "--out", str(f)])
                for q, f in zip(split(args.per_kind, args.parts, work), folders)]
        if any(job.wait() != 0 for job in jobs):
            raise SystemExit("an eval run failed")
    summary, rows = merge(folders)
    stem = f"eval_answers{summary['questions']}"
    (OUT / f"{stem}_metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (OUT / f"{stem}_per_question.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for row in summary["table"] + summary["by_kind"]:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
