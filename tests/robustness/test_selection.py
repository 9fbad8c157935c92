"""DROPS' radius selected on validation, the required training prior and temperature
calibration: tests that fail on the old behaviour (prior defaulted to the validation label
frequencies, one fixed δ, no calibration)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reliant.core.errors import ConfigError, DataError
from reliant.robustness.api import (
    DROPS,
    LogitAdjustment,
    compare_methods,
    estimate_prior,
    longtail_split,
    select_delta,
    synthetic_longtail,
    temperature_calibrate,
)
from reliant.robustness.selection import stratified_folds
from tests.cli_runner import run_main


@pytest.fixture(scope="module")
def balanced_val():
    """A long-tailed model (simulated by Bayes' rule) seen through a *balanced* validation set."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 150)
    probs = rng.dirichlet(np.ones(4) * 0.6, size=len(labels))
    probs[np.arange(len(labels)), labels] += 1.0  # an informative but imperfect balanced model
    probs /= probs.sum(axis=1, keepdims=True)
    return longtail_split(probs, labels, ratio=20, seed=0, val_profile="balanced")


def test_balanced_validation_needs_the_training_prior(balanced_val):
    """The old default (validation frequencies) makes logit adjustment a no-op on a balanced
    validation set; with the training prior it moves predictions towards the tail."""
    split = balanced_val
    val_freq = np.bincount(split.val_labels) / len(split.val_labels)
    assert np.allclose(val_freq, 0.25)
    no_op = LogitAdjustment(prior=val_freq).fit(split.val_logits, split.val_labels)
    assert np.array_equal(no_op.predict(split.test_logits), np.argmax(split.test_logits, axis=1))
    adjusted = LogitAdjustment(prior=split.prior).fit(split.val_logits, split.val_labels)
    tail = split.test_labels == 3
    assert np.mean(adjusted.predict(split.test_logits)[tail] == 3) > np.mean(np.argmax(split.test_logits, 1)[tail] == 3)
    with pytest.raises(ConfigError, match="prior π is required"):
        compare_methods(split.val_logits, split.val_labels, delta=0.1)


def test_estimate_prior_counts_training_labels():
    assert estimate_prior(np.array([0, 0, 0, 1, 2, 2]), 3) == pytest.approx([0.5, 1 / 6, 1 / 3])
    with pytest.raises(DataError, match="class 1 has no training rows"):
        estimate_prior(np.array([0, 2, 2]), 3)


def test_stratified_folds_spread_every_class():
    labels = np.repeat([0, 1, 2], [50, 10, 3])
    folds = stratified_folds(labels, 5, seed=1)
    for y, n in ((0, 50), (1, 10)):
        assert np.bincount(folds[labels == y], minlength=5).tolist() == [n // 5] * 5
    assert len(set(folds[labels == 2])) == 3  # 3 rows: 3 different folds
    assert np.array_equal(folds, stratified_folds(labels, 5, seed=1))


def test_select_delta_scores_out_of_fold_and_breaks_ties_low():
    split = synthetic_longtail(seed=1, num_classes=4, n_max=300, n_val_max=300, n_test_per_class=50, dim=6)
    kwargs = dict(deltas=[1.0, 0.0, 0.1, 0.1], folds=3, eval_delta=0.5, seed=0, prior=split.prior, steps=60)
    first = select_delta(split.val_logits, split.val_labels, **kwargs)
    assert first["deltas"] == [0.0, 0.1, 1.0]  # sorted, deduplicated
    assert first["delta"] == first["deltas"][int(np.argmax(first["scores"]))]
    assert first == select_delta(split.val_logits, split.val_labels, **kwargs)
    # delta 0 of DROPS is logit adjustment towards the uniform target: its out-of-fold score by hand
    folds = stratified_folds(split.val_labels, 3, 0)
    pred = np.empty(len(split.val_labels), dtype=int)
    for f in range(3):
        fit = folds != f
        pred[~fit] = DROPS(delta=0.0, prior=split.prior).fit(split.val_logits[fit], split.val_labels[fit]).predict(
            split.val_logits[~fit])
    from reliant.robustness.api import delta_worst_accuracy, per_group_accuracy

    acc, _ = per_group_accuracy(pred, split.val_labels)
    assert first["scores"][0] == pytest.approx(delta_worst_accuracy(acc, 0.5))
    # identical candidates tie: the smallest radius wins
    tied = select_delta(split.val_logits, split.val_labels, deltas=[0.3, 0.0], folds=3, metric="balanced",
                        prior=split.prior, steps=1, eta_g=1e-9)
    assert tied["scores"][0] == pytest.approx(tied["scores"][1]) and tied["delta"] == 0.0
    with pytest.raises(ConfigError, match="select_metric"):
        select_delta(split.val_logits, split.val_labels, deltas=[0.1], metric="median", prior=split.prior)


def test_temperature_calibration_undoes_a_scaled_model():
    split = synthetic_longtail(seed=2, num_classes=4, n_max=300, n_val_max=300, n_test_per_class=50, dim=6)
    t_plain = temperature_calibrate(split.val_logits, split.val_labels)
    t_scaled = temperature_calibrate(3.0 * split.val_logits, split.val_labels)
    assert t_scaled == pytest.approx(3.0 * t_plain, rel=1e-3)
    # DROPS' cross-entropy game sees the calibrated logits: a 3x over-confident copy of the model
    # gets the same weights once calibrated, and different ones without calibration
    fit = dict(delta=0.3, prior=split.prior, steps=150)
    calibrated = DROPS(**fit).fit(split.val_logits / t_plain, split.val_labels)
    scaled = DROPS(**fit).fit(3.0 * split.val_logits / t_scaled, split.val_labels)
    raw = DROPS(**fit).fit(3.0 * split.val_logits, split.val_labels)
    assert scaled.weights_ == pytest.approx(calibrated.weights_, abs=1e-3)
    assert np.abs(raw.weights_ - calibrated.weights_).max() > 1e-2


def test_cli_train_labels_prior_and_calibration(tmp_path, capsys):
    split = synthetic_longtail(seed=3, num_classes=4, n_max=200, n_val_max=200, n_test_per_class=40, dim=6)
    for key in ("val_logits", "val_labels", "test_logits", "test_labels"):
        np.save(tmp_path / f"{key}.npy", split[key])
    train = np.repeat(np.arange(4), [80, 40, 20, 10])
    np.save(tmp_path / "train_labels.npy", train)
    code = run_main(["robust", "drops", "--logits", str(tmp_path / "val_logits.npy"), "--labels",
                     str(tmp_path / "val_labels.npy"), "--test-logits", str(tmp_path / "test_logits.npy"),
                     "--test-labels", str(tmp_path / "test_labels.npy"), "--train-labels",
                     str(tmp_path / "train_labels.npy"), "--delta", "0.1", "--calibrate", "temperature",
                     "--steps", "50", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["prior_source"].startswith("estimated from 150 training labels in")
    assert metrics["drops"]["prior"] == pytest.approx([80 / 150, 40 / 150, 20 / 150, 10 / 150])
    assert metrics["delta_selection"] is None and metrics["selected_delta"] == 0.1
    assert metrics["temperature"] != 1.0 and "temperature" in out and "fixed by --delta" in out
    assert "estimated from 150 training labels" in (tmp_path / "run" / "report.html").read_text()
