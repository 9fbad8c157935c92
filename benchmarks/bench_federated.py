"""CGI per aggregation rule, seed and knowledge level: PSNR/SSIM of CGI vs no poisoning vs the
server-side upper bound, detection rate and global accuracy.

Writes benchmarks/results/federated/federated.json; rows are keyed by (rule, knowledge, seed, DP)
and merged with the rows already there, so a sweep can be extended a few runs at a time.

Sized for 2 CPU cores (digits, 10 clients, CNN, 200 inversion steps, local engine: 1-2 minutes per
run on a loaded machine). Bigger: ``--dataset mnist --steps 2000 --seeds 0,1,2 --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from reliant.core.config import resolve_config
from reliant.federated.config import KNOWLEDGE, RULES, AttackConfig
from reliant.federated.workflows import run_attack

OUT = Path(__file__).resolve().parent / "results" / "federated"


def _key(row: dict) -> tuple:
    return row["rule"], row.get("knowledge", "semi"), row["seed"], row.get("dp", "none")


def _row(rule: str, knowledge: str, seed: int, dp: str, seconds: float, metrics: dict) -> dict:
    before = metrics["metrics_before_inversion_round"]
    return {"rule": rule, "knowledge": knowledge, "seed": seed, "dp": dp, "seconds": seconds,
            **{f"{case} {k}": v for case, s in metrics["scores"].items() for k, v in s.items() if k in ("psnr", "ssim")},
            "detection_rate": metrics["detection_rate"],
            "accuracy_poisoned": before["poisoned"]["accuracy"], "accuracy_honest": before["honest"]["accuracy"],
            "target_loss_poisoned": before["poisoned"].get("target_loss"),
            "target_loss_honest": before["honest"].get("target_loss"),
            "victim_share_poisoned": metrics["victim_share_in_inversion_round"]["poisoned"],
            "victim_share_honest": metrics["victim_share_in_inversion_round"]["honest"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--knowledge", default="semi", help=f"comma list of {', '.join(KNOWLEDGE)}")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--engine", default="local")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dp", default="none", help="central DP mode (reliant federated attack --dp)")
    parser.add_argument("--noise-multiplier", type=float, default=0.5)
    parser.add_argument("--clipping-norm", type=float, default=1.0)
    parser.add_argument("--output", default=str(OUT / "federated.json"))
    args = parser.parse_args()
    output = Path(args.output)
    previous = json.loads(output.read_text()) if output.is_file() else {"rows": []}
    rows = {_key(r): r for r in previous["rows"]}
    dp = args.dp if args.dp == "none" else f"{args.dp} z={args.noise_multiplier:g} C={args.clipping_norm:g}"
    scratch = Path(tempfile.mkdtemp(prefix="bench-federated-"))
    for knowledge in args.knowledge.split(","):
        for rule in args.rules.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                config = resolve_config(AttackConfig, rule=rule, seed=seed, knowledge=knowledge, dataset=args.dataset,
                                        steps=args.steps, engine=args.engine, device=args.device, dp=args.dp,
                                        noise_multiplier=args.noise_multiplier, clipping_norm=args.clipping_norm)
                start = time.perf_counter()
                folder, _ = run_attack(config, scratch / f"{rule}-{knowledge}-{seed}-{args.dp}")
                metrics = json.loads((folder / "metrics.json").read_text())
                row = _row(rule, knowledge, seed, dp, time.perf_counter() - start, metrics)
                rows[_key(row)] = row
                print(json.dumps(row), flush=True)
                output.parent.mkdir(parents=True, exist_ok=True)
                settings = {"dataset": args.dataset, "steps": args.steps, "engine": args.engine}
                output.write_text(json.dumps({"settings": settings, "rows": list(rows.values())}, indent=2) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
