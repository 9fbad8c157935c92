"""Start-up time of the command line: ``reliant --help`` and every ``reliant <group> --help``.

Help and a rejected option should answer at once: nothing they print needs torch,
transformers or matplotlib. Each command runs as a fresh subprocess of the venv's ``reliant``
script (found next to ``sys.executable``); we report the median wall time of ``--repeats``
runs, against ``python -c pass`` measured the same way in the same run (the floor any Python
program pays), and check the 1.0 s budget.

    python benchmarks/bench_cli_startup.py --repeats 5 --out benchmarks/results/cli_startup
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 1.0


def _time(argv: list[str], repeats: int) -> dict:
    env = {**os.environ, "COLUMNS": "100"}
    times, code = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, timeout=300)
        times.append(time.perf_counter() - start)
        code = done.returncode
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "exit_code": code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cli_startup")
    args = parser.parse_args()

    from reliant.capabilities import COMMANDS

    script = Path(sys.executable).with_name("reliant")
    if not script.exists():
        sys.exit(f"no reliant script next to {sys.executable}; install the package into this venv first")
    baseline = _time([sys.executable, "-c", "pass"], args.repeats)
    rows = []
    for label, argv in [("reliant --help", [str(script), "--help"])] + [
        (f"reliant {c.name} --help", [str(script), c.name, "--help"]) for c in COMMANDS
    ]:
        row = {"command": label, **_time(argv, args.repeats)}
        row["ratio_to_python"] = row["median_s"] / baseline["median_s"]
        row["within_budget"] = row["median_s"] < BUDGET_S
        rows.append(row)
        print(f"{label:34s} {row['median_s']:6.3f} s  ({row['ratio_to_python']:5.1f}x python -c pass)"
              f"{'' if row['within_budget'] else '  OVER 1.0 s'}")
    print(f"{'python -c pass':34s} {baseline['median_s']:6.3f} s")

    report = {
        "what": "median wall time of fresh subprocesses; ratio against `python -c pass` in the same run",
        "budget_s": BUDGET_S,
        "repeats": args.repeats,
        "baseline": {"command": "python -c pass", **baseline},
        "rows": rows,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cli_startup.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(rows, baseline["median_s"], args.out / "cli_startup.png")
    print(f"wrote {args.out / 'cli_startup.json'} and cli_startup.png")


def plot(rows: list[dict], baseline_s: float, path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, ax = new_figure(7.5, 0.45 * len(rows) + 1.4)
    labels = [r["command"] for r in rows][::-1]
    values = [r["median_s"] for r in rows][::-1]
    colours = [PALETTE[0] if v < BUDGET_S else PALETTE[3] for v in values]
    ax.barh(labels, values, color=colours)
    for y, (value, row) in enumerate(zip(values, rows[::-1])):
        ax.text(value, y, f" {value:.2f} s ({row['ratio_to_python']:.0f}x)", va="center", fontsize=8)
    ax.axvline(BUDGET_S, color=PALETTE[7], linestyle="--", linewidth=1, label="1.0 s budget")
    ax.axvline(baseline_s, color=PALETTE[2], linestyle=":", linewidth=1, label=f"python -c pass ({baseline_s:.2f} s)")
    ax.set_xlabel("median wall time of a fresh process (s); in brackets: ratio to python -c pass")
    ax.set_title("CLI start-up: help must not wait for torch")
    ax.set_xlim(0, max(max(values), BUDGET_S) * 1.35)
    ax.legend(loc="lower right")
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    main()
