"""CGI per aggregation rule: PSNR/SSIM of CGI vs no poisoning vs the server-side upper bound,
detection rate and global accuracy; writes benchmarks/results/federated/federated.json.

Sized for 2 CPU cores (digits, 10 clients, CNN, 200 inversion steps, local engine: a few minutes
per rule on an idle machine). Bigger: ``--dataset mnist --steps 2000 --seeds 0,1,2 --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from reliant.core.config import resolve_config
from reliant.federated.config import RULES, AttackConfig
from reliant.federated.workflows import run_attack

OUT = Path(__file__).resolve().parent / "results" / "federated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--engine", default="local")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-federated-"))
    for rule in args.rules.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            config = resolve_config(AttackConfig, rule=rule, seed=seed, dataset=args.dataset, steps=args.steps,
                                    engine=args.engine, device=args.device)
            start = time.perf_counter()
            folder, _ = run_attack(config, scratch / f"{rule}-{seed}")
            metrics = json.loads((folder / "metrics.json").read_text())
            rows.append({"rule": rule, "seed": seed, "seconds": time.perf_counter() - start,
                         **{f"{case} {k}": v for case, s in metrics["scores"].items() for k, v in s.items()
                            if k in ("psnr", "ssim")},
                         "detection_rate": metrics["detection_rate"],
                         "accuracy_poisoned": metrics["metrics_before_inversion_round"]["poisoned"]["accuracy"],
                         "accuracy_honest": metrics["metrics_before_inversion_round"]["honest"]["accuracy"],
                         "target_loss_poisoned": metrics["metrics_before_inversion_round"]["poisoned"].get("target_loss"),
                         "target_loss_honest": metrics["metrics_before_inversion_round"]["honest"].get("target_loss"),
                         "victim_share_poisoned": metrics["victim_share_in_inversion_round"]["poisoned"]})
            print(json.dumps(rows[-1]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "federated.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
