"""The three memorization workflows behind the CLI and the demo, each writing into a run
directory: an LM membership audit, canary exposure, and classifier subset memorization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from reliant.core.errors import ConfigError, check_number
from reliant.core.metrics import check_fraction
from reliant.core.rundir import RunDirectory
from reliant.memorization import metrics as M
from reliant.memorization.lm import ATTACK_LABELS, ATTACKS


@dataclass
class AuditConfig:
    model: Optional[str] = None
    members: Optional[str] = None
    nonmembers: Optional[str] = None
    reference: Optional[str] = None
    attacks: str = ",".join(ATTACKS)
    k: float = 0.2
    extract: bool = True
    prefix_tokens: int = 32
    suffix_tokens: int = 32
    batch_size: int = 16
    max_length: int = 512
    limit: int = 0
    device: str = "auto"
    control: bool = True
    seed: int = 0


@dataclass
class CanaryConfig:
    model: Optional[str] = None
    canaries: Optional[str] = None
    n_candidates: int = 999
    batch_size: int = 256
    device: str = "auto"
    seed: int = 0


@dataclass
class CounterfactualConfig:
    data: Optional[str] = None
    noise: float = 0.05
    n_models: int = 16
    inclusion: float = 0.5
    epochs: int = 60
    hidden: int = 256
    lr: float = 1e-2
    lira_targets: int = 4
    seed: int = 0


def parse_attacks(text: str) -> list[str]:
    wanted = [a.strip().replace("-", "_").replace("minkpp", "min_k_pp").replace("mink", "min_k") for a in text.split(",") if a.strip()]
    unknown = [a for a in wanted if a not in ATTACKS]
    if unknown or not wanted:
        raise ConfigError(f"unknown attack(s) {unknown or text!r}; choose from {', '.join(ATTACKS)}", field="attacks")
    return wanted


def _positive(config: Any, *names: str) -> None:
    for name in names:
        check_number(getattr(config, name), name, low=1, integer=True)


# --------------------------------------------------------------------------- audit


def run_audit(run: RunDirectory, config: AuditConfig) -> dict[str, Any]:
    """Audit a model on member/non-member files, or (no model and no files) the built-in
    experiment: target tiny LM vs held-out people, calibrated by a reference tiny LM that
    also serves as the never-trained control."""
    from reliant.core.seeding import set_seed
    from reliant.memorization.audit import audit_lm, write_audit
    from reliant.memorization.lm import load_examples

    attacks = parse_attacks(config.attacks)
    check_fraction(config.k)
    _positive(config, "batch_size", "prefix_tokens", "suffix_tokens", "max_length")
    check_number(config.limit, "limit", low=0, integer=True)
    set_seed(config.seed)
    given = [config.model, config.members, config.nonmembers]
    control_dir = None
    if all(v is None for v in given):
        from reliant.memorization.builtin import builtin_setup

        setup = builtin_setup(seed=0)
        model, members, nonmembers = str(setup.target_dir), setup.members, setup.nonmembers
        reference = config.reference or str(setup.reference_dir)
        control_dir = str(setup.reference_dir) if config.control else None
        run.log(f"built-in experiment: target {setup.target_dir}, reference {setup.reference_dir}")
    elif any(v is None for v in given):
        missing = [n for n, v in zip(("model", "members", "nonmembers"), given) if v is None][0]
        raise ConfigError("give --model, --members and --nonmembers together (or none of them for the built-in experiment)", field=missing)
    else:
        limit = config.limit or None
        members = load_examples(config.members, limit=limit)
        nonmembers = load_examples(config.nonmembers, limit=limit)
        model, reference = config.model, config.reference
    run.log(f"{len(members)} members, {len(nonmembers)} non-members, attacks {attacks}")
    result = audit_lm(model, members, nonmembers, reference=reference, attacks=attacks, k=config.k,
                      extract=config.extract, prefix_tokens=config.prefix_tokens, suffix_tokens=config.suffix_tokens,
                      batch_size=config.batch_size, max_length=config.max_length, device=config.device, seed=config.seed)
    write_audit(run, result)
    headline = {f"auroc_{a}": s["auroc"] for a, s in result.summary.items()}
    if control_dir is not None:
        control = audit_lm(control_dir, members, nonmembers, attacks=[a for a in attacks if a != "reference"], k=config.k,
                           batch_size=config.batch_size, max_length=config.max_length, device=config.device,
                           seed=config.seed, n_boot=0)
        run.add_metrics({"control_never_trained": {a: s["auroc"] for a, s in control.summary.items()}})
        run.add_table("Control: a model never trained on the members", [
            {"attack": ATTACK_LABELS[a], "AUROC target": result.summary[a]["auroc"], "AUROC control": s["auroc"]}
            for a, s in control.summary.items()
        ], caption="The reference tiny LM saw neither members nor non-members: its AUROC should sit near 0.5.")
        headline.update({f"control_auroc_{a}": s["auroc"] for a, s in control.summary.items()})
    if result.extraction is not None:
        headline["extraction_exact_rate"] = float(result.extraction.exact.mean())
    return headline


# --------------------------------------------------------------------------- canaries


def run_canaries(run: RunDirectory, config: CanaryConfig) -> dict[str, Any]:
    """Exposure of canaries in a given model, or in the built-in experiment: canaries
    inserted 0/1/4/16 times into a tiny LM, against a control model that never saw them."""
    from reliant.core.data import save_records
    from reliant.core.models import load_causal_lm
    from reliant.core.plotting import PALETTE, new_figure
    from reliant.core.seeding import set_seed
    from reliant.memorization.canaries import canary_exposure, load_canaries

    _positive(config, "batch_size")
    if check_number(config.n_candidates, "n_candidates", integer=True) < 0:
        raise ConfigError("must be >= 0 (0 enumerates every secret)", field="n_candidates")
    set_seed(config.seed)
    n_candidates = config.n_candidates or None
    models: dict[str, str] = {}
    if config.model is None and config.canaries is None:
        from reliant.memorization.builtin import builtin_setup

        setup = builtin_setup(seed=0)
        canaries = setup.canaries
        models = {"target": str(setup.target_dir), "control (never saw canaries)": str(setup.reference_dir)}
    elif config.model is None or config.canaries is None:
        raise ConfigError("give --model and --canaries together (or neither for the built-in experiment)",
                          field="model" if config.model is None else "canaries")
    else:
        canaries = load_canaries(config.canaries)
        models = {"model": config.model}
    results = {}
    for label, name in models.items():
        model, tokenizer = load_causal_lm(name, device=config.device)
        results[label] = canary_exposure(model, tokenizer, canaries, n_candidates=n_candidates, seed=config.seed,
                                         batch_size=config.batch_size)
    rows = []
    for label, result in results.items():
        for row in result.rows():
            rows.append({"model": label, **row})
    save_records(rows, run.file("canary_exposure.jsonl"))
    fig, ax = new_figure(5.6, 3.6)
    metrics: dict[str, Any] = {}
    for index, (label, result) in enumerate(results.items()):
        reps = np.array([c.repetitions for c in result.canaries])
        x = np.maximum(reps, 0.5)
        ax.scatter(x, result.exposure, color=PALETTE[index], alpha=0.6, s=18)
        by = result.by_repetitions()
        ax.plot([max(r, 0.5) for r in by], list(by.values()), color=PALETTE[index], marker="o", label=label)
        metrics[label] = {"mean_exposure_by_repetitions": by, "max_possible_exposure": result.max_exposure,
                          "exact_enumeration": result.exact}
        inserted = reps > 0
        if inserted.any() and (~inserted).any():
            metrics[label]["auroc_inserted_vs_held_out"] = M.auroc(result.exposure[inserted], result.exposure[~inserted])
    ax.axhline(list(results.values())[0].max_exposure, color="grey", linestyle=":", linewidth=1, label="maximum measurable")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("times the canary was inserted (0 plotted at 0.5)")
    ax.set_ylabel("exposure (bits)")
    ax.set_title("Canary exposure vs repetitions")
    ax.legend(fontsize=8)
    run.add_figure("Canary exposure", fig, save_as="exposure.png",
                   caption="Exposure = log2|R| - log2 rank (Carlini et al., 2019); sampled candidates bound it by log2(n+1).")
    run.add_table("Exposure per canary", rows)
    run.add_metrics({"canaries": metrics, "n_canaries": len(canaries)})
    headline = {}
    for label, m in metrics.items():
        for reps, value in m["mean_exposure_by_repetitions"].items():
            headline[f"exposure_{label.split()[0]}_x{reps}"] = value
            run.add_headline(f"exposure ({label.split()[0]}, ×{reps})", value)
    return headline


# --------------------------------------------------------------------------- classifier


def run_counterfactual(run: RunDirectory, config: CounterfactualConfig) -> dict[str, Any]:
    """Counterfactual memorization, forgetting events and LiRA on a small classifier
    (digits with flipped labels by default, or a features/label file)."""
    from reliant.core.data import save_records
    from reliant.memorization.audit import attack_summary, tpr_cell
    from reliant.memorization.classifier import atypicality, digits_with_noise, load_classifier_data, train_on_subsets
    from reliant.memorization.report import bar_profile_figure, histogram_figure, roc_figure

    _positive(config, "n_models", "epochs", "hidden", "lira_targets")
    check_number(config.noise, "noise", low=0, high=1, high_open=True)
    check_number(config.inclusion, "inclusion", low=0, high=1, low_open=True, high_open=True)
    check_number(config.lr, "lr", low=0, low_open=True)
    data = load_classifier_data(config.data) if config.data else digits_with_noise(config.noise, seed=config.seed)
    result = train_on_subsets(data, n_models=config.n_models, inclusion=config.inclusion, epochs=config.epochs,
                              hidden=config.hidden, lr=config.lr, seed=config.seed)
    mem, mem_prob = result.memorization(), result.memorization_prob()
    atyp = atypicality(data)
    mis = data.mislabelled
    groups = np.where(mis, "mislabelled", np.where(atyp >= 0.5, "atypical (kNN disagree)", "typical"))
    rows = [
        {"example": name, "label": int(label), "group": str(g), "memorization": float(a), "memorization_prob": float(b),
         "forgetting_events": int(f), "never_learned": bool(nl), "atypicality": float(t)}
        for name, label, g, a, b, f, nl, t in zip(data.names, data.labels, groups, mem, mem_prob, result.forgetting,
                                                 result.never_learned, atyp)
    ]
    save_records(rows, run.file("per_example_memorization.jsonl"))
    from scipy.stats import spearmanr

    ok = np.isfinite(mem)
    by_group = {str(g): {"n": int((groups == g).sum()), "mean_memorization": float(np.nanmean(mem[groups == g])),
                         "mean_forgetting_events": float(result.forgetting[groups == g].mean())}
                for g in dict.fromkeys(groups.tolist())}
    clean = ok & ~mis
    rho = float(spearmanr(atyp[clean], mem[clean]).statistic) if clean.sum() > 2 else float("nan")
    lira = result.lira(n_targets=config.lira_targets)
    summaries = {name: attack_summary(m, n, seed=config.seed) for name, (m, n) in lira.items()}
    metrics = {
        "n_examples": len(data.labels), "n_mislabelled": int(mis.sum()), "held_out_accuracy": result.test_accuracy,
        "by_group": by_group, "spearman_atypicality_memorization_clean": rho, "lira": summaries,
        "spearman_forgetting_memorization": float(spearmanr(result.forgetting[ok], mem[ok]).statistic),
    }
    run.add_metrics(metrics)
    run.add_table("Memorization by group", [{"group": g, **v} for g, v in by_group.items()],
                  caption="Counterfactual memorization = accuracy on the example when trained on it minus when not "
                          f"({config.n_models} models, each on a random {config.inclusion:.0%} subset).")
    run.add_figure("Memorization profile", bar_profile_figure(mem[ok], groups[ok], "counterfactual memorization",
                                                              "Memorization per example, by group"), save_as="memorization_profile.png")
    labels = {"lira_online": "LiRA online", "lira_offline": "LiRA offline", "confidence": "confidence (LOSS)"}
    run.add_figure("LiRA ROC", roc_figure(lira, labels, "Membership inference on the subset models"), save_as="lira_roc.png")
    run.add_figure("LiRA score distributions", histogram_figure(lira, labels), save_as="lira_histograms.png")
    run.add_table("Membership inference", [
        {"attack": labels[a], "AUROC": s["auroc"], "TPR@0.1%FPR": tpr_cell(s, 0.001), "TPR@1%FPR": tpr_cell(s, 0.01)}
        for a, s in summaries.items()
    ])
    top = np.argsort(-np.nan_to_num(mem, nan=-np.inf))[:10]
    run.add_table("Most memorised examples", [rows[i] for i in top])
    headline = {"memorization_mislabelled": by_group.get("mislabelled", {}).get("mean_memorization", float("nan")),
                "memorization_typical": by_group.get("typical", {}).get("mean_memorization", float("nan")),
                "lira_online_auroc": summaries["lira_online"]["auroc"],
                "lira_online_tpr_at_1pct_fpr": summaries["lira_online"]["tpr_at_1pct_fpr"],
                "confidence_tpr_at_1pct_fpr": summaries["confidence"]["tpr_at_1pct_fpr"]}
    for key, value in headline.items():
        run.add_headline(key.replace("_", " "), value)
    return headline
