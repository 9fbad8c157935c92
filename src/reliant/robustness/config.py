"""Options of ``reliant robust drops`` and ``reliant robust longtail``, declared once.

This module imports only the standard library and :mod:`reliant.core.config`, so
``reliant robust --help`` and a bad flag never load numpy-heavy code. Every field carries its
help, default and constraints (see :func:`reliant.core.config.option`); rules that tie two
fields together live in ``validate``.

DROPS has no parameter object of its own (:class:`reliant.robustness.drops.DROPS` takes its
parameters as keyword arguments, scikit-learn style), so its parameters stay flat here and
:meth:`DropsConfig.drops_params` hands them over in one place.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["CALIBRATIONS", "DEFAULT_DELTAS", "DEFAULT_DELTA_GRID", "DIVERGENCES", "DropsConfig", "LongTailConfig",
           "LOSSES", "SELECT_METRICS", "VAL_PROFILES"]

DIVERGENCES: tuple[str, ...] = ("kl", "reverse_kl", "l1", "l2")
"""The divergence balls DROPS can fit in (``l2`` is the squared L2 distance)."""

LOSSES: tuple[str, ...] = ("ce", "01")
VAL_PROFILES: tuple[str, ...] = ("longtail", "balanced")

DEFAULT_DELTAS: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
"""KL radii of the delta-worst accuracy curve in reports."""

DEFAULT_DELTA_GRID: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
"""Radii DROPS' δ is selected from on validation (0 = logit adjustment towards the target;
docs/results/robustness.md measures this grid against fixed radii)."""

SELECT_METRICS: tuple[str, ...] = ("delta_worst", "worst", "balanced")
"""What δ is selected for: δ-worst accuracy at --eval-delta, worst-class or balanced accuracy."""

CALIBRATIONS: tuple[str, ...] = ("none", "temperature")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class DropsConfig:
    """Fit DROPS and the baselines on validation scores; report mean, balanced, worst-class and δ-worst accuracy."""

    logits: Optional[Path] = option(None, "Validation logits (.npy/.csv/.txt/.pt/.safetensors), rows x classes, "
                                          "e.g. val_logits.npy from `reliant robust longtail`. Give this or --probs.", path="file")
    probs: Optional[Path] = option(None, "Validation probabilities, rows x classes (their log is used). "
                                         "Give this or --logits.", path="file")
    labels: Optional[Path] = option(None, "Validation labels, one integer per row.", required=True, path="file")
    test_logits: Optional[Path] = option(None, "Test logits to evaluate on (with --test-labels).", path="file")
    test_probs: Optional[Path] = option(None, "Test probabilities to evaluate on (instead of --test-logits).",
                                        path="file")
    test_labels: Optional[Path] = option(None, "Test labels, one integer per row.", path="file")
    groups: Optional[Path] = option(None, "Validation group ids, one per row (weights per group, not per class).",
                                    path="file")
    test_groups: Optional[Path] = option(None, "Test group ids, one per row (needed with --groups and a test set).",
                                         path="file")
    prior: Optional[Path] = option(None, "Training label prior π (counts or probabilities, one per class). "
                                         "Give this or --train-labels; there is no default (the validation "
                                         "frequencies are not the training prior).", path="file")
    train_labels: Optional[Path] = option(None, "Training labels, one integer per row: π is estimated as their "
                                                "class frequencies (instead of --prior).", path="file")
    target: Optional[Path] = option(None, "Target distribution r (one positive weight per class or group); "
                                          "default: uniform.", path="file")
    divergence: str = option("kl", "Divergence of the ball around r (l2 is squared L2).", choices=DIVERGENCES)
    delta: Optional[float] = option(None, "Fixed radius of the divergence ball DROPS is fitted for; default: "
                                           "selected on validation from --delta-grid.", min=0)
    delta_grid: list[float] = option(list(DEFAULT_DELTA_GRID), "Radii δ is selected from (out-of-fold on "
                                                               "validation) when --delta is not given.", min=0)
    select_folds: int = option(5, "Class-stratified folds of the validation rows used to select δ.", min=2)
    select_metric: str = option("delta_worst", "What δ is selected for: δ-worst accuracy at --eval-delta, "
                                               "worst-class or balanced accuracy.", choices=SELECT_METRICS)
    eval_delta: float = option(0.5, "KL radius of the δ-worst accuracy in the headline and the δ selection.", min=0)
    calibrate: str = option("temperature", "Calibrate the logits before fitting: one temperature fitted on "
                                           "validation by maximum likelihood (the reference code's cal_type=temp), "
                                           "or none.",
                            choices=CALIBRATIONS)
    loss: str = option("ce", "Per-class loss in the DROPS game: cross-entropy or 0-1 error.", choices=LOSSES)
    steps: int = option(400, "Iterations of the g / λ updates.", min=1)
    eta_g: float = option(0.5, "Step size of the exponentiated-gradient step on g.", gt=0)
    eta_lambda: float = option(1.0, "Step size of the projected dual step on λ.", gt=0)
    tau: float = option(1.0, "Temperature of the logit-adjustment baseline (logits - tau log π).")
    deltas: list[float] = option(list(DEFAULT_DELTAS), "KL radii of the δ-worst accuracy curve.", min=0)
    seed: int = seed_option()

    def __post_init__(self) -> None:
        # Before 0.x, ``probs`` was a switch meaning "the --logits files hold probabilities".
        # A Python caller passing ``probs=True`` still gets that behaviour.
        if isinstance(self.probs, bool):
            warnings.warn("DropsConfig(probs=True) is deprecated: pass the probabilities file as probs= "
                          "(and test_probs=) instead of logits=", DeprecationWarning, stacklevel=3)
            if self.probs:
                self.probs, self.logits = self.logits, None
                if self.test_probs is None:
                    self.test_probs, self.test_logits = self.test_logits, None
            else:
                self.probs = None

    def validate(self) -> None:
        """Cross-field rules: one score file per split, test scores with test labels, groups on both sides."""
        _one_of(self, "logits", "probs", required=True)
        _one_of(self, "test_logits", "test_probs", required=False)
        has_test_scores = self.test_logits is not None or self.test_probs is not None
        if has_test_scores and self.test_labels is None:
            given = "--test-logits" if self.test_logits is not None else "--test-probs"
            raise ConfigError(f"give {given} and --test-labels together (missing --test-labels)", field="test_labels")
        if self.test_labels is not None and not has_test_scores:
            raise ConfigError("give --test-labels with --test-logits or --test-probs (missing the test scores)",
                              field="test_logits")
        if self.test_groups is not None and self.groups is None:
            raise ConfigError("--test-groups needs --groups for the validation set", field="groups")
        if self.groups is not None and has_test_scores and self.test_groups is None:
            raise ConfigError("--groups needs --test-groups when a test set is given", field="test_groups")
        if not self.deltas:
            raise ConfigError("give at least one radius", field="deltas")
        if (self.prior is None) == (self.train_labels is None):
            raise ConfigError("give the training label prior: --prior FILE (counts or probabilities) or "
                              "--train-labels FILE (its class frequencies), exactly one of them; the validation "
                              "frequencies are not used as a default", field="prior")
        if self.delta is None and not self.delta_grid:
            raise ConfigError("give --delta or at least one radius in --delta-grid", field="delta_grid")

    @property
    def scores(self) -> tuple[Path, str, bool]:
        """The validation score file, its field name and whether it holds probabilities."""
        return (Path(self.probs), "probs", True) if self.probs is not None else (Path(self.logits), "logits", False)

    @property
    def test_scores(self) -> tuple[Path, str, bool] | None:
        """The test score file, its field name and whether it holds probabilities (None without a test set)."""
        if self.test_probs is not None:
            return Path(self.test_probs), "test_probs", True
        if self.test_logits is not None:
            return Path(self.test_logits), "test_logits", False
        return None

    def drops_params(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~reliant.robustness.compare.compare_methods` (DROPS'
        parameters, how δ is chosen, calibration and the evaluation radii)."""
        return {"divergence": self.divergence, "delta": self.delta, "loss": self.loss, "steps": self.steps,
                "eta_g": self.eta_g, "eta_lambda": self.eta_lambda, "tau": self.tau,
                "deltas": sorted(set(self.deltas)), "delta_grid": sorted(set(self.delta_grid)),
                "select_folds": self.select_folds, "select_metric": self.select_metric,
                "eval_delta": self.eval_delta, "calibrate": self.calibrate, "seed": self.seed}


def _one_of(config: Any, a: str, b: str, *, required: bool) -> None:
    given = [name for name in (a, b) if getattr(config, name) is not None]
    if len(given) == 2:
        raise ConfigError(f"give {_flag(a)} or {_flag(b)}, not both", field=b)
    if required and not given:
        raise ConfigError(f"give {_flag(a)} or {_flag(b)} (the validation scores)", field=a)


@dataclass
class LongTailConfig:
    """Simulate a long-tailed model (label-shift Bayes rule) and write validation/test logits, labels and prior."""

    probs: Optional[Path] = option(None, "Probabilities of a model trained on balanced data, rows x classes.",
                                   required=True, path="file")
    labels: Optional[Path] = option(None, "True labels, one integer per row.", required=True, path="file")
    ratio: float = option(100.0, "Imbalance ratio n_max / n_min of the simulated training prior.", min=1)
    val_fraction: float = option(0.5, "Share of each class's rows set aside for validation (the rest is test).",
                                 gt=0, lt=1)
    val_profile: str = option("longtail", "Validation class profile: long-tailed like training, or balanced.",
                              choices=VAL_PROFILES)
    seed: int = seed_option()
