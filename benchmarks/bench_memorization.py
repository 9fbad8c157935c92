"""Memorization benchmark: do the attacks and measures behave as the papers say, here?

1. Membership inference on the built-in tiny LM (members = 10 fictitious people it was
   trained on; non-members = 10 held-out people of the same templates): AUROC and TPR at
   low FPR of LOSS, zlib, reference-calibrated, Min-K% and Min-K%++, against the same
   attacks on a control model never trained on the members (baseline: chance 0.5), and
   greedy extraction of member answers.
2. Canary exposure against the number of insertions (0/1/4/16), target vs control.
3. Counterfactual memorization / forgetting events / LiRA on digits with 5% flipped labels,
   with the confidence-threshold (LOSS) attack as the baseline for LiRA.

Writes benchmarks/results/memorization/memorization.json and .png.

    nice .venv/bin/python benchmarks/bench_memorization.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reliant.core.plotting import PALETTE, figure_png, new_figure
from reliant.memorization import api

OUT = Path(__file__).resolve().parent / "results" / "memorization"
SWEEP_EPOCHS = (4, 10)


def lm_section(seed: int, n_candidates: int) -> dict:
    from reliant.core.models import load_causal_lm

    setup = api.builtin_setup(seed=0)
    start = time.perf_counter()
    target = api.audit_lm(str(setup.target_dir), setup.members, setup.nonmembers, reference=str(setup.reference_dir),
                          extract=True, seed=seed)
    control = api.audit_lm(str(setup.reference_dir), setup.members, setup.nonmembers,
                           attacks=[a for a in api.ATTACKS if a != "reference"], seed=seed)
    exposures = {}
    models = {"target": setup.target_dir, "control": setup.reference_dir}
    for epochs in SWEEP_EPOCHS:
        models[f"target_{epochs}ep"] = api.builtin_setup(seed=0, target_epochs=epochs).target_dir
    for label, path in models.items():
        model, tokenizer = load_causal_lm(str(path), device="cpu")
        # --quick samples (with the skew-normal fit); otherwise every secret is enumerated.
        result = api.canary_exposure(model, tokenizer, setup.canaries, n_candidates=n_candidates, seed=seed,
                                     exact_up_to=1 if n_candidates else 100_000)
        reps = np.array([c.repetitions for c in setup.canaries])
        exposures[label] = {
            "by_repetitions": result.by_repetitions(), "max_possible": result.max_exposure, "exact": result.exact,
            "auroc_inserted_vs_held_out": api.auroc(result.exposure[reps > 0], result.exposure[reps == 0]),
            "per_canary": result.rows(),
        }
    # Less memorisation: the same target data trained for fewer epochs, same reference.
    sweep = {}
    weakest_scores = {}
    for epochs in SWEEP_EPOCHS:
        weaker = api.builtin_setup(seed=0, target_epochs=epochs)
        audit = api.audit_lm(str(weaker.target_dir), weaker.members, weaker.nonmembers,
                             reference=str(weaker.reference_dir), seed=seed)
        if epochs == SWEEP_EPOCHS[0]:
            weakest_scores = audit.scores()
        sweep[epochs] = {a: {k: s[k] for k in ("auroc", "auroc_ci_low", "auroc_ci_high", "tpr_at_1pct_fpr", "tpr_at_10pct_fpr")}
                         for a, s in audit.summary.items()}
    sweep[setup.info["target_epochs"]] = {a: {k: s[k] for k in ("auroc", "auroc_ci_low", "auroc_ci_high", "tpr_at_1pct_fpr", "tpr_at_10pct_fpr")}
                                          for a, s in target.summary.items()}
    return {
        "epochs_sweep": sweep,
        "setup": setup.info, "target_model": str(setup.target_dir), "reference_model": str(setup.reference_dir),
        "attacks": target.summary, "control_attacks": control.summary,
        "extraction": target.metrics()["extraction"], "canaries": exposures,
        "seconds": round(time.perf_counter() - start, 1),
        "_scores": weakest_scores,
    }


def classifier_section(seed: int, n_models: int, epochs: int) -> dict:
    from scipy.stats import spearmanr

    start = time.perf_counter()
    data = api.digits_with_noise(0.05, seed=seed)
    result = api.train_on_subsets(data, n_models=n_models, epochs=epochs, seed=seed)
    mem = result.memorization()
    atyp = api.atypicality(data)
    mis = data.mislabelled
    ok = np.isfinite(mem)
    typical = ok & ~mis & (atyp < 0.5)
    atypical = ok & ~mis & (atyp >= 0.5)
    lira = result.lira(n_targets=4)
    return {
        "n_models": n_models, "epochs": epochs, "held_out_accuracy": result.test_accuracy,
        "memorization": {
            "mislabelled": float(np.nanmean(mem[mis & ok])), "atypical_clean": float(np.nanmean(mem[atypical])),
            "typical_clean": float(np.nanmean(mem[typical])),
            "n": {"mislabelled": int((mis & ok).sum()), "atypical_clean": int(atypical.sum()), "typical_clean": int(typical.sum())},
        },
        "spearman_atypicality_memorization_clean": float(spearmanr(atyp[ok & ~mis], mem[ok & ~mis]).statistic),
        "forgetting_events_mean": {"mislabelled": float(result.forgetting[mis].mean()), "clean": float(result.forgetting[~mis].mean())},
        "never_learned_rate": {"mislabelled": float(result.never_learned[mis].mean()), "clean": float(result.never_learned[~mis].mean())},
        "lira": {name: api.attack_summary(m, n, seed=seed) for name, (m, n) in lira.items()},
        "seconds": round(time.perf_counter() - start, 1),
        "_mem": (mem, mis, atyp), "_lira": lira,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer classifier models and canary candidates")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_candidates = 199 if args.quick else None  # None: enumerate all 10^4 secrets (exact exposure)
    n_models, epochs = (8, 40) if args.quick else (16, 60)

    lm = lm_section(args.seed, n_candidates)
    clf = classifier_section(args.seed, n_models, epochs)


    fig, axes = new_figure(15, 4.2, ncols=3)
    # (a) ROC of the LM attacks
    for index, (name, (m, n)) in enumerate(lm.pop("_scores").items()):
        fpr, tpr, _ = api.roc_points(m, n)
        axes[0].step(np.maximum(fpr, 1e-3), np.maximum(tpr, 1e-3), where="post", color=PALETTE[index],
                     label=f"{name} ({api.auroc(m, n):.3f})")
    axes[0].plot([1e-3, 1], [1e-3, 1], "--", color="grey")
    axes[0].set(xscale="log", yscale="log", xlabel="FPR", ylabel="TPR", title=f"Tiny LM after {SWEEP_EPOCHS[0]} epochs: members vs held-out")
    axes[0].legend(fontsize=7)
    # (b) exposure vs repetitions
    for index, (label, e) in enumerate(lm["canaries"].items()):  # noqa: B007
        reps = sorted(e["by_repetitions"])
        axes[1].plot([max(r, 0.5) for r in reps], [e["by_repetitions"][r] for r in reps], marker="o", color=PALETTE[index], label=label)
    axes[1].axhline(lm["canaries"]["target"]["max_possible"], linestyle=":", color="grey", label="max measurable")
    axes[1].set(xscale="log", xlabel="insertions (0 at 0.5)", ylabel="mean exposure (bits)", title="Canary exposure")
    axes[1].legend(fontsize=7)
    # (c) counterfactual memorization by group
    mem, mis, atyp = clf.pop("_mem")
    clf.pop("_lira")
    ok = np.isfinite(mem)
    for index, (label, mask) in enumerate((("typical", ok & ~mis & (atyp < 0.5)), ("atypical", ok & ~mis & (atyp >= 0.5)), ("mislabelled", ok & mis))):
        values = np.sort(mem[mask])[::-1]
        axes[2].plot(np.linspace(0, 1, len(values)), values, color=PALETTE[index], label=f"{label} (n={mask.sum()})")
    axes[2].set(xlabel="fraction of group (sorted)", ylabel="counterfactual memorization", title="Digits, 5% flipped labels")
    axes[2].legend(fontsize=7)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "memorization.png").write_bytes(figure_png(fig))

    ref = lm["attacks"]
    claims = {
        "lm_attacks_separate_members (every AUROC > 0.7)": all(s["auroc"] > 0.7 for s in ref.values()),
        "control_near_chance (|AUROC - 0.5| < 0.15 for all)": all(abs(s["auroc"] - 0.5) < 0.15 for s in lm["control_attacks"].values()),
        "reference_at_least_loss_auroc_fully_trained": ref["reference"]["auroc"] >= ref["loss"]["auroc"],
        "reference_beats_loss_auroc_every_undertrained": all(
            lm["epochs_sweep"][e]["reference"]["auroc"] > lm["epochs_sweep"][e]["loss"]["auroc"] for e in SWEEP_EPOCHS),
        "reference_beats_loss_tpr_at_1pct_every_undertrained": all(
            lm["epochs_sweep"][e]["reference"]["tpr_at_1pct_fpr"] > lm["epochs_sweep"][e]["loss"]["tpr_at_1pct_fpr"] for e in SWEEP_EPOCHS),
        "exposure_non_decreasing_with_repetitions_all_targets": all(
            list(e["by_repetitions"].values()) == sorted(e["by_repetitions"].values())
            for name, e in lm["canaries"].items() if name.startswith("target")),
        "exposure_strictly_grows_with_repetitions_4ep": all(
            a < b for a, b in zip(list(lm["canaries"][f"target_{SWEEP_EPOCHS[0]}ep"]["by_repetitions"].values()),
                                  list(lm["canaries"][f"target_{SWEEP_EPOCHS[0]}ep"]["by_repetitions"].values())[1:])),
        "mislabelled_memorised_most": clf["memorization"]["mislabelled"] > clf["memorization"]["atypical_clean"] > clf["memorization"]["typical_clean"],
        "lira_online_beats_confidence_at_1pct_fpr": clf["lira"]["lira_online"]["tpr_at_1pct_fpr"] > clf["lira"]["confidence"]["tpr_at_1pct_fpr"],
    }
    report = {"quick": args.quick, "seed": args.seed, "lm": lm, "classifier": clf, "claims": claims,
              "ratios_vs_baseline": {
                  "reference_over_loss_auroc": ref["reference"]["auroc"] / ref["loss"]["auroc"],
                  "target_over_control_loss_auroc": ref["loss"]["auroc"] / lm["control_attacks"]["loss"]["auroc"],
                  "lira_online_over_confidence_auroc": clf["lira"]["lira_online"]["auroc"] / clf["lira"]["confidence"]["auroc"],
              }}
    (OUT / "memorization.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(json.dumps({"attacks": {k: round(v["auroc"], 3) for k, v in ref.items()},
                      "sweep": {e: {a: round(v["auroc"], 3) for a, v in d.items()} for e, d in lm["epochs_sweep"].items()},
                      "control": {k: round(v["auroc"], 3) for k, v in lm["control_attacks"].items()},
                      "exposure": {k: e["by_repetitions"] for k, e in lm["canaries"].items()},
                      "classifier": clf["memorization"], "claims": claims}, indent=1, default=float))


if __name__ == "__main__":
    main()
