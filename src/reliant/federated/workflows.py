"""The ``reliant federated`` commands: config in, run folder out.

``run_simulate`` trains honestly under one rule; ``run_attack`` runs CGI and its baselines in
one run: the poisoned federation (attacker inverts the aggregate), the same federation with
the attacker honest (no-poisoning baseline: the attacker inverts the aggregate of an honest
round) and, on that honest round, the server inverting the victim's own update (the
honest-but-curious server: the upper bound). Both validate the data set before importing torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reliant.core.rundir import run_directory
from reliant.federated.config import AttackConfig, SimulateConfig

__all__ = ["run_attack", "run_simulate"]


def _check_inputs(config: Any, attackers: int) -> None:
    """Data set, partition and class checks (numpy only), before torch or Flower load."""
    import numpy as np

    from reliant.core.errors import ConfigError
    from reliant.federated.inputs import load_images, partition

    fed = config.federation
    data = load_images(fed.dataset, fed.data_dir, fed.limit)
    train = len(data.labels) - fed.test_size - fed.root_size
    if train < 2 * fed.clients:
        raise ConfigError(f"{data.source} gives {train} training images, too few for {fed.clients} clients",
                          field="clients")
    partition(data.labels[:train], fed.clients, fed.partition, fed.alpha, np.random.default_rng(config.seed),
              min_size=2)
    attack = getattr(config, "attack", None)
    if attack is not None and attack.target_class >= data.num_classes:
        raise ConfigError(f"--target-class {attack.target_class} but {data.source} has {data.num_classes} classes",
                          field="target_class")


_DP_COLUMNS = {"dp_clipped_share": "DP: share clipped", "dp_clipping_norm": "DP: clipping norm",
               "dp_noise_stddev": "DP: noise stddev"}

SECURE_AGGREGATION_NOTE = (
    "Secure aggregation does not stop CGI: it hides each client's update from the server, but the attacker "
    "is a client and needs only the global models it receives (the aggregate is their difference). What can "
    "stop it is a rule that excludes the attacker's update, or DP noise on the aggregate large enough to "
    "drown the victim's gradient (--dp), at a cost in accuracy.")


def _dp_columns(metrics: dict) -> dict:
    return {label: metrics[key] for key, label in _DP_COLUMNS.items() if key in metrics}


def _dp_title(config: Any) -> str:
    dp = config.privacy
    if dp.dp == "none":
        return ""
    return f" with central DP ({dp.dp}, z = {dp.noise_multiplier:g}, C = {dp.clipping_norm:g})"


def _federate(settings: dict, engine: str, on_round, device: str):
    if engine == "flower":
        from reliant.federated.simulation import run_flower

        return run_flower(settings, on_round)
    from reliant.federated.federation import build_federation, run_local

    return run_local(build_federation(settings), settings["rounds"], on_round, device=device)


def run_simulate(config: SimulateConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant federated simulate``: honest training; accuracy per round; which clients the rule kept."""
    config.validate()
    _check_inputs(config, 0)
    from reliant.core.progress import progress_bar
    from reliant.core.seeding import set_seed
    from reliant.federated.federation import settings_from_config
    from reliant.federated.report import plot_rounds

    set_seed(config.seed)
    settings = settings_from_config(config)
    records: list = []
    with run_directory("federated simulate", config, out, overwrite=overwrite,
                       title=f"reliant federated simulate: {config.aggregation.rule} on {config.federation.dataset}"
                             f"{_dp_title(config)}") as run, progress_bar("federated rounds", config.rounds) as bar:
        def on_round(record) -> None:
            records.append(record)
            run.log(f"round {record.server_round}: {record.metrics}")
            bar.advance(1, status=f"accuracy {record.metrics['accuracy']:.3f}")

        _federate(settings, config.federation.engine, on_round, config.federation.device)
        rows = [{"round": r.server_round, "accuracy": r.metrics["accuracy"], "loss": r.metrics["loss"],
                 "clients kept": sum(share > 0 for share in r.kept_share), **_dp_columns(r.metrics),
                 **({"Flower vs torch rule (max abs)": r.metrics["flower_vs_torch_max_abs"]}
                    if "flower_vs_torch_max_abs" in r.metrics else {})} for r in records]
        run.add_table("Rounds", rows, caption="accuracy of the global model on the held-out images after each round")
        run.add_figure("Accuracy", plot_rounds({"global model": [r.metrics["accuracy"] for r in records]},
                                               "test accuracy"), caption="rising over rounds")
        final = records[-1].metrics
        run.add_headline("final accuracy", final["accuracy"], group="global model", better="higher",
                         baseline=records[0].metrics["accuracy"], baseline_label="after round 1")
        run.add_metrics({"rounds": rows, "final": final, "settings": settings})
    return run.path, [f"{config.aggregation.rule}, {config.rounds} rounds on {config.federation.engine}: "
                      f"accuracy {final['accuracy']:.4f}"]


def _detected(rule, kept_share: list[float], attackers: int) -> bool:
    attacker = sum(kept_share[:attackers]) / attackers
    if rule.excludes_clients:
        return attacker <= 0
    honest = kept_share[attackers:]
    return attacker < 0.5 * sum(honest) / len(honest)


def run_attack(config: AttackConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant federated attack``: CGI vs the no-poisoning baseline vs the server-side upper bound."""
    config.validate()
    _check_inputs(config, config.attack.attackers)
    import numpy as np
    import torch

    from reliant.core.progress import progress_bar
    from reliant.core.seeding import set_seed
    from reliant.federated.federation import build_federation, settings_from_config
    from reliant.federated.inversion import deep_leakage, invert_gradients
    from reliant.federated.metrics import image_scores
    from reliant.federated.models import set_flat_parameters
    from reliant.federated.report import plot_reconstructions, plot_rounds

    set_seed(config.seed)
    attack, inv = config.attack, config.inversion
    rounds = attack.warmup_rounds + attack.poison_rounds + 1
    steps_per_inversion = inv.steps * inv.restarts if inv.method == "ig" else inv.steps
    with run_directory("federated attack", config, out, overwrite=overwrite,
                       title=f"reliant federated attack: CGI against {config.aggregation.rule} on "
                             f"{config.federation.dataset}{_dp_title(config)}") as run, \
            progress_bar("federated rounds + inversions", 2 * rounds + 3 * steps_per_inversion) as bar:
        trajectories: dict[str, list] = {}
        for label, poison in (("poisoned", True), ("honest", False)):
            records: list = []

            def on_round(record, records=records, label=label) -> None:
                records.append(record)
                run.log(f"{label} round {record.server_round} ({record.phase}): {record.metrics}")
                bar.advance(1, status=f"{label} round {record.server_round}")

            settings = settings_from_config(config, poison)
            _federate(settings, config.federation.engine, on_round, config.federation.device)
            trajectories[label] = records
        fed = build_federation(settings_from_config(config, True))
        rule = fed.rule()
        victim = fed.victims[0]
        original = fed.images[fed.victim_images[0]]

        def invert(record, update: torch.Tensor, seed: int):
            model = set_flat_parameters(fed.model(), record.global_before)
            sizes = [p.numel() for p in model.parameters()]
            target = [piece.view_as(p) for piece, p in zip((-update).split(sizes), model.parameters())]
            if inv.method == "ig":
                return invert_gradients(model, target, fed.shape, label=attack.target_class, steps=inv.steps,
                                        lr=inv.inversion_lr, tv_weight=inv.tv_weight, restarts=inv.restarts,
                                        seed=seed, on_step=bar.advance).image
            return deep_leakage(model, target, fed.shape, fed.num_classes, steps=inv.steps, seed=seed,
                                on_step=bar.advance).image

        poisoned_last, honest_last = trajectories["poisoned"][-1], trajectories["honest"][-1]
        cases = {
            "CGI (client, poisoned)": invert(poisoned_last, poisoned_last.global_after - poisoned_last.global_before,
                                             config.seed),
            "no poisoning (client)": invert(honest_last, honest_last.global_after - honest_last.global_before,
                                            config.seed),
            "server upper bound": invert(honest_last, honest_last.updates[victim], config.seed),
        }
        scores = {name: image_scores(image.numpy(), original.numpy()) for name, image in cases.items()}
        run.add_figure("Victim's image and reconstructions",
                       plot_reconstructions(original.numpy(), [(n, img.numpy(), scores[n]) for n, img in cases.items()]),
                       caption="CGI should look like the original when poisoning made the victim's gradient dominate",
                       save_as="reconstructions.png")
        for name, s in scores.items():
            run.add_headline(f"{name}: PSNR (dB)", s["psnr"], group="reconstruction", better="higher")
            run.add_headline(f"{name}: SSIM", s["ssim"], group="reconstruction", better="higher")
        poison_records = [r for r in trajectories["poisoned"] if r.phase == "poison"]
        detections = [_detected(rule, r.kept_share, attack.attackers) for r in poison_records]
        victim_kept = {label: trajectories[label][-1].kept_share[victim] for label in trajectories}
        before_invert = {label: trajectories[label][-2].metrics for label in trajectories}
        run.add_headline("detection rate of the attacker", float(np.mean(detections)), group="stealth",
                         better="lower")
        run.add_headline("global accuracy, poisoned", before_invert["poisoned"]["accuracy"], group="stealth",
                         baseline=before_invert["honest"]["accuracy"], baseline_label="no poisoning", better="higher")
        run.add_headline("target-class test loss, poisoned", before_invert["poisoned"].get("target_loss", float("nan")),
                         group="loss amplification", baseline=before_invert["honest"].get("target_loss", float("nan")),
                         baseline_label="no poisoning")
        run.add_figure("Per round", plot_rounds(
            {f"accuracy, {label}": [r.metrics["accuracy"] for r in trajectories[label]] for label in trajectories},
            "test accuracy", marks=[r.server_round for r in poison_records]),
            caption="shaded: poisoning rounds; the last round is the inversion round")
        run.add_table("Poisoning rounds", [
            {"round": r.server_round, "attacker share": sum(r.kept_share[: attack.attackers]),
             "detected": detected, "accuracy": r.metrics["accuracy"],
             "target-class loss": r.metrics.get("target_loss", float("nan")), **_dp_columns(r.metrics),
             **{k: v for k, v in r.client_metrics.get(0, {}).items()}}
            for r, detected in zip(poison_records, detections)],
            caption="attacker share: the part of the aggregate from the attacker(s); shrink > 0: blended towards "
                    "benign updates to pass the rule")
        run.add_text("Defences", SECURE_AGGREGATION_NOTE)
        summary = {
            "rule": config.aggregation.rule, "knowledge": attack.knowledge, "engine": config.federation.engine,
            "dp": config.privacy.dp,
            "scores": scores, "detection_rate": float(np.mean(detections)), "detections": detections,
            "victim_share_in_inversion_round": victim_kept, "metrics_before_inversion_round": before_invert,
            "victim": victim, "victim_image_index": fed.victim_images[0],
        }
        if "flower_vs_torch_max_abs" in poisoned_last.metrics:
            summary["flower_vs_torch_max_abs"] = max(r.metrics["flower_vs_torch_max_abs"]
                                                     for t in trajectories.values() for r in t)
        run.add_metrics(summary)
        np.save(run.file("reconstructions.npy"), np.stack([img.numpy() for img in cases.values()]))
    lines = [f"{name:24s} PSNR {s['psnr']:6.2f} dB  SSIM {s['ssim']:.3f}" for name, s in scores.items()]
    lines.append(f"detection rate {summary['detection_rate']:.2f}; accuracy poisoned "
                 f"{before_invert['poisoned']['accuracy']:.3f} vs {before_invert['honest']['accuracy']:.3f} honest")
    return run.path, lines


