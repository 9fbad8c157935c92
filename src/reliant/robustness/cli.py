"""``reliant robust``: post-hoc robustness to prior shift (DROPS) on saved classifier outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from reliant.core.cli_common import ConfigOption, OutOption, OverwriteOption, SeedOption, print_run_summary
from reliant.core.config import resolve_config

group = typer.Typer(
    help="Robustness to class/group prior shift, post hoc on a trained classifier's logits (DROPS).",
    no_args_is_help=True,
)


@group.command("drops")
def drops_command(
    logits: Optional[Path] = typer.Option(None, "--logits", help="Validation logits (.npy/.csv/.pt), rows x classes."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Validation labels, one integer per row."),
    test_logits: Optional[Path] = typer.Option(None, "--test-logits", help="Test logits to evaluate on."),
    test_labels: Optional[Path] = typer.Option(None, "--test-labels", help="Test labels."),
    groups: Optional[Path] = typer.Option(None, "--groups", help="Validation group ids (weights per group, not class)."),
    test_groups: Optional[Path] = typer.Option(None, "--test-groups", help="Test group ids."),
    prior: Optional[Path] = typer.Option(None, "--prior",
                                         help="Training label prior π (counts or probabilities, one per class); "
                                              "default: validation label frequencies."),
    target: Optional[Path] = typer.Option(None, "--target", help="Target distribution r (default uniform)."),
    probs: bool = typer.Option(False, "--probs", help="The score files hold probabilities (their log is used)."),
    divergence: Optional[str] = typer.Option(None, "--divergence", help="kl, reverse_kl, l1 or l2 (squared)."),
    delta: Optional[float] = typer.Option(None, "--delta", help="Radius of the divergence ball (default 0.5)."),
    loss: Optional[str] = typer.Option(None, "--loss", help="Per-class loss in the game: ce (default) or 01."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Iterations of the g / λ updates."),
    eta_g: Optional[float] = typer.Option(None, "--eta-g", help="Step size of the exponentiated-gradient step on g."),
    eta_lambda: Optional[float] = typer.Option(None, "--eta-lambda", help="Step size of the dual step on λ."),
    tau: Optional[float] = typer.Option(None, "--tau", help="Logit-adjustment baseline temperature (default 1)."),
    deltas: Optional[str] = typer.Option(None, "--deltas", help="Comma-separated KL radii for the δ-worst curve."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Fit DROPS and the baselines on validation logits; report mean, balanced, worst-class and δ-worst accuracy."""
    from reliant.robustness.api import DropsConfig, run_drops

    resolved = resolve_config(
        DropsConfig, config, logits=logits, labels=labels, test_logits=test_logits, test_labels=test_labels,
        groups=groups, test_groups=test_groups, prior=prior, target=target, probs=probs or None,
        divergence=divergence, delta=delta, loss=loss, steps=steps, eta_g=eta_g, eta_lambda=eta_lambda, tau=tau,
        deltas=deltas, seed=seed,
    )
    run, results = run_drops(resolved, out, overwrite)
    split = "test" if results["evaluated_on"] == "test" else "val"
    lines = [
        f"{name:30s} mean {entry[split]['mean_accuracy']:.4f}  worst {entry[split]['worst_accuracy']:.4f}  "
        f"δ-worst {entry[split]['delta_worst_accuracy']:.4f}"
        for name, entry in results["methods"].items()
    ]
    print_run_summary(run.path, [f"evaluated on {results['evaluated_on']} (δ = {results['eval_delta']:g}):", *lines])


@group.command("longtail")
def longtail_command(
    probs: Optional[Path] = typer.Option(None, "--probs", help="Probabilities of a model trained on balanced data."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="True labels, one per row."),
    ratio: Optional[float] = typer.Option(None, "--ratio", help="Imbalance ratio n_max / n_min (default 100)."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="Share of each class for validation."),
    val_profile: Optional[str] = typer.Option(None, "--val-profile", help="longtail (default) or balanced validation."),
    config: ConfigOption = None,
    seed: SeedOption = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Simulate a long-tailed model (label-shift Bayes rule) and write validation/test logits, labels and prior."""
    from reliant.robustness.api import LongTailConfig, run_longtail

    resolved = resolve_config(LongTailConfig, config, probs=probs, labels=labels, ratio=ratio,
                              val_fraction=val_fraction, val_profile=val_profile, seed=seed)
    run = run_longtail(resolved, out, overwrite)
    print_run_summary(run.path, [f"wrote val_logits.npy, val_labels.npy, test_logits.npy, test_labels.npy, prior.npy"])


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="robust")
