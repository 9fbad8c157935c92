"""The three memorization workflows behind the CLI and the demo: an LM membership audit,
canary exposure, and classifier subset memorization.

Each command has two layers:

* ``run_<command>(config, out, overwrite) -> (run_folder, summary_lines)`` — what the CLI
  calls: it reads and checks every input file *before* torch is imported or a model is
  loaded, then opens the run folder;
* ``<command>_stage(run, config, ...) -> headline dict`` — the work inside a run folder,
  which ``reliant demo`` reuses on its shared folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from reliant.memorization.config import AuditConfig, CanaryConfig, CounterfactualConfig

__all__ = [
    "AuditConfig",
    "CanaryConfig",
    "CounterfactualConfig",
    "audit_stage",
    "canaries_stage",
    "counterfactual_stage",
    "run_audit",
    "run_canaries",
    "run_counterfactual",
]


def _summary(headline: dict[str, Any]) -> list[str]:
    from reliant.core.rundir import format_number

    return [f"{key}: {format_number(value)}" for key, value in headline.items()]


# --------------------------------------------------------------------------- audit


def run_audit(config: AuditConfig, out: str | os.PathLike | None = None,
              overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant memorization audit``: read and check the member/non-member files, then audit
    in a new run folder."""
    from reliant.core.rundir import run_directory
    from reliant.memorization.inputs import load_examples

    examples = None
    _check_audit_specs(config)
    if not config.builtin:
        examples = (load_examples(config.members, limit=config.limit),
                    load_examples(config.nonmembers, limit=config.limit))
    side_inputs = _side_inputs(config)
    inputs = [p for p in (config.members, config.nonmembers, config.mia.recall_prefix, config.mia.frequency_corpus) if p]
    with run_directory("memorization audit", config, out, overwrite=overwrite, title="Membership-inference audit",
                       inputs=inputs) as run:
        headline = audit_stage(run, config, examples, side_inputs)
    return run.path, _summary(headline) + [f"warning: {w}" for w in run.metrics.get("warnings", [])]


def _check_audit_specs(config: AuditConfig) -> None:
    """LLM specs (an API model or reference, the paraphraser) parse before anything loads."""
    from reliant.core.errors import ConfigError
    from reliant.core.llm import parse_spec

    specs = [(name, value) for name, value in (("model", config.model), ("reference", config.reference))
             if isinstance(value, str) and value.startswith("openai:")]
    if "neighbourhood" in config.attacks:
        specs.append(("mia.neighbour_llm", config.mia.neighbour_llm))
    for name, spec in specs:
        try:
            parse_spec(spec)
        except ConfigError as exc:
            raise ConfigError(exc.message, field=name) from None


def _side_inputs(config: AuditConfig) -> dict[str, Any]:
    """ReCaLL's prefix and DC-PDD's frequency corpus, read and checked before torch."""
    from reliant.memorization.inputs import load_examples

    out: dict[str, Any] = {}
    if config.mia.recall_prefix:
        out["recall_prefix"] = load_examples(config.mia.recall_prefix)
    if config.mia.frequency_corpus:
        out["frequency_texts"] = [e.target for e in load_examples(config.mia.frequency_corpus)]
    return out


def audit_stage(run: Any, config: AuditConfig, examples: tuple[list, list] | None = None,
                side_inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Audit a model on member/non-member ``examples`` (read from the config's files when not
    given), or (no model and no files) the built-in experiment: target tiny LM vs held-out
    people, calibrated by a reference tiny LM that also serves as the never-trained control."""
    # Deliberately here: the audit imports torch and transformers (start-up time).
    from reliant.core.seeding import set_seed
    from reliant.memorization.audit import audit_lm, write_audit
    from reliant.memorization.attacks import ATTACK_REGISTRY
    from reliant.memorization.lm import ATTACK_LABELS

    attacks = list(config.attacks)
    set_seed(config.seed)
    control_dir = None
    if config.builtin:
        from reliant.memorization.builtin import builtin_setup

        setup = builtin_setup(seed=0)
        model, members, nonmembers = str(setup.target_dir), setup.members, setup.nonmembers
        reference = config.reference or str(setup.reference_dir)
        control_dir = str(setup.reference_dir) if config.control else None
        run.log(f"built-in experiment: target {setup.target_dir}, reference {setup.reference_dir}")
    else:
        if examples is None:
            from reliant.memorization.inputs import load_examples

            examples = (load_examples(config.members, limit=config.limit),
                        load_examples(config.nonmembers, limit=config.limit))
        members, nonmembers = examples
        model, reference = config.model, config.reference
    run.log(f"{len(members)} members, {len(nonmembers)} non-members, attacks {attacks}")
    side = side_inputs if side_inputs is not None else (_side_inputs(config) if not config.builtin else {})
    paraphraser = config.mia.neighbour_llm if "neighbourhood" in attacks else None
    common = dict(k=config.min_k_fraction, batch_size=config.batch_size, max_length=config.max_length,
                  device=config.device, seed=config.seed, params=config.mia, paraphraser=paraphraser, **side)
    result = audit_lm(model, members, nonmembers, reference=reference, attacks=attacks, extract=config.extract,
                      prefix_tokens=config.prefix_tokens, suffix_tokens=config.suffix_tokens, log=run.log, **common)
    write_audit(run, result)
    run.add_metrics({"warnings": result.extra.get("warnings", [])})
    headline = {f"auroc_{a}": s["auroc"] for a, s in result.summary.items()}
    if control_dir is not None:
        control = audit_lm(control_dir, members, nonmembers, attacks=[a for a in result.summary
                                                                      if "reference" not in ATTACK_REGISTRY[a].needs],
                           n_boot=0, **common)
        run.add_metrics({"control_never_trained": {a: s["auroc"] for a, s in control.summary.items()}})
        run.add_table("Control: a model never trained on the members", [
            {"attack": ATTACK_LABELS[a], "AUROC target": result.summary[a]["auroc"], "AUROC control": s["auroc"]}
            for a, s in control.summary.items()
        ], caption="The reference tiny LM saw neither members nor non-members: its AUROC should sit near 0.5.")
        for attack, s in control.summary.items():
            run.add_headline(f"AUROC {ATTACK_LABELS[attack]} on the never-trained control", s["auroc"],
                             group="control: a model that never saw the members (≈ 0.5 expected)",
                             baseline=result.summary[attack]["auroc"], baseline_label="trained target")
        headline.update({f"control_auroc_{a}": s["auroc"] for a, s in control.summary.items()})
    if result.extraction is not None:
        headline["extraction_exact_rate"] = float(result.extraction.exact.mean())
    return headline


# --------------------------------------------------------------------------- canaries


def run_canaries(config: CanaryConfig, out: str | os.PathLike | None = None,
                 overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant memorization canaries``: read and check the canary file, then measure
    exposure in a new run folder."""
    from reliant.core.rundir import run_directory
    from reliant.memorization.canaries import load_canaries

    canaries = load_canaries(config.canaries) if config.canaries is not None else None
    inputs = [config.canaries] if config.canaries else []
    with run_directory("memorization canaries", config, out, overwrite=overwrite, title="Canary exposure",
                       inputs=inputs) as run:
        headline = canaries_stage(run, config, canaries)
    return run.path, _summary(headline)


def canaries_stage(run: Any, config: CanaryConfig, canaries: list | None = None) -> dict[str, Any]:
    """Exposure of canaries in a given model, or in the built-in experiment: canaries
    inserted 0/1/4/16 times into a tiny LM, against a control model that never saw them."""
    # Deliberately here: loading models imports torch and transformers (start-up time).
    from reliant.core.data import save_records
    from reliant.core.models import load_causal_lm
    from reliant.core.plotting import PALETTE, new_figure
    from reliant.core.seeding import set_seed
    from reliant.memorization import metrics as M
    from reliant.memorization.canaries import canary_exposure, load_canaries

    set_seed(config.seed)
    n_candidates = config.n_candidates or None
    models: dict[str, str] = {}
    if config.model is None and config.canaries is None:
        from reliant.memorization.builtin import builtin_setup

        setup = builtin_setup(seed=0)
        canaries = setup.canaries
        models = {"target": str(setup.target_dir), "control (never saw canaries)": str(setup.reference_dir)}
    else:
        canaries = canaries if canaries is not None else load_canaries(config.canaries)
        models = {"model": str(config.model)}
    results = {}
    for label, name in models.items():
        model, tokenizer = load_causal_lm(name, device=config.device)
        results[label] = canary_exposure(model, tokenizer, canaries, n_candidates=n_candidates, seed=config.seed,
                                         batch_size=config.batch_size, exact_up_to=config.exact_up_to,
                                         extrapolate=config.extrapolate)
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
                   caption="Look for exposure rising with the insertions (and a control that stays flat); exposure = "
                           "log2|R| - log2 rank (Carlini et al., 2019): exact by enumeration up to --exact-up-to secrets, "
                           "else from a skew-normal fit to sampled secrets (or the sampled rank, capped at log2(n+1)).")
    run.add_table("Exposure per canary", rows)
    run.add_metrics({"canaries": metrics, "n_canaries": len(canaries)})
    headline = {}
    for label, m in metrics.items():
        by = m["mean_exposure_by_repetitions"]
        held_out = by.get(0)
        for reps, value in by.items():
            headline[f"exposure_{label.split()[0]}_x{reps}"] = value
            # Each inserted count against the same model's never-inserted canaries.
            baseline = held_out if reps != 0 else None
            run.add_headline(f"mean exposure, canaries inserted ×{reps}", value,
                             group=f"canary exposure: {label} (bits; higher = more memorised)", baseline=baseline,
                             baseline_label="held-out canaries (×0)" if baseline is not None else None)
    return headline


# --------------------------------------------------------------------------- classifier


def run_counterfactual(config: CounterfactualConfig, out: str | os.PathLike | None = None,
                       overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant memorization counterfactual``: read and check the data file (when given),
    then train the subset models in a new run folder."""
    from reliant.core.rundir import run_directory
    from reliant.memorization.inputs import load_classifier_data

    data = load_classifier_data(config.data) if config.data else None
    inputs = [config.data] if config.data else []
    with run_directory("memorization counterfactual", config, out, overwrite=overwrite,
                       title="Counterfactual memorization", inputs=inputs) as run:
        headline = counterfactual_stage(run, config, data)
    return run.path, _summary(headline)


def counterfactual_stage(run: Any, config: CounterfactualConfig, data: Any = None) -> dict[str, Any]:
    """Counterfactual memorization, forgetting events and LiRA on a small classifier
    (digits with flipped labels by default, or a features/label file)."""
    # Deliberately here: training imports torch (start-up time).
    from reliant.core.data import save_records
    from reliant.memorization.audit import attack_summary, tpr_cell
    from reliant.memorization.classifier import atypicality, digits_with_noise, load_classifier_data, train_on_subsets
    from reliant.memorization.report import bar_profile_figure, histogram_figure, roc_figure

    if data is None:
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
                                                              "Memorization per example, by group"),
                   save_as="memorization_profile.png",
                   caption="Mislabelled and atypical examples should sit high: they are learnt only by memorising them.")
    labels = {"lira_online": "LiRA online", "lira_offline": "LiRA offline", "confidence": "confidence (LOSS)"}
    run.add_figure("LiRA ROC", roc_figure(lira, labels, "Membership inference on the subset models"), save_as="lira_roc.png",
                   caption="Log-log axes: LiRA should lie above the confidence baseline at low FPR (Carlini et al., 2022).")
    run.add_figure("LiRA score distributions", histogram_figure(lira, labels), save_as="lira_histograms.png",
                   caption="Members vs non-members per attack: the less the histograms overlap, the stronger the attack.")
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
    memorization_group = "counterfactual memorization (accuracy with minus without the example)"
    if "mislabelled" in by_group:
        run.add_headline("mean memorization, mislabelled examples", headline["memorization_mislabelled"],
                         group=memorization_group, baseline=headline["memorization_typical"],
                         baseline_label="typical examples")
    else:
        run.add_headline("mean memorization, typical examples", headline["memorization_typical"],
                         group=memorization_group)
    lira_group = "LiRA membership inference (higher = stronger attack)"
    run.add_headline("LiRA online AUROC", headline["lira_online_auroc"], group=lira_group,
                     baseline=summaries["confidence"]["auroc"], baseline_label="confidence (LOSS)", better="higher")
    run.add_headline("LiRA online TPR at 1% FPR", headline["lira_online_tpr_at_1pct_fpr"], group=lira_group,
                     baseline=headline["confidence_tpr_at_1pct_fpr"], baseline_label="confidence (LOSS)",
                     better="higher")
    return headline
