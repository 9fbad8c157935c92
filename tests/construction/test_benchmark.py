"""The benchmarks' noise and long-tail generators, the leaderboard aggregation, and the three
suites end to end on the shared real data (tiny sizes)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from reliant.construction.benchmark import aggregate
from reliant.construction.datasets import SHARED_DATA
from reliant.construction.noise import (
    asymmetric_noise,
    human_noise,
    longtail_counts,
    longtail_indices,
    symmetric_noise,
    transition_of,
)
from tests.cli_runner import run_main

HAVE_DATA = all((SHARED_DATA / p).is_file() for p in ("images/cifar10_test.npz", "images/mnist_test.npz",
                                                       "cifar10h/cifar10h-counts.npy",
                                                       "cleanlab_cifar10/cifar10_test_set_original_labels.npy"))
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="shared CIFAR-10 / CIFAR-10H / MNIST data absent")


def test_symmetric_noise_flips_exactly_the_rate_and_never_to_the_true_class():
    labels = np.arange(1000) % 10
    noisy = symmetric_noise(labels, 0.3, 10, seed=1)
    assert int((noisy != labels).sum()) == 300
    assert np.array_equal(noisy, symmetric_noise(labels, 0.3, 10, seed=1))
    assert not np.array_equal(noisy, symmetric_noise(labels, 0.3, 10, seed=2))


def test_asymmetric_noise_flips_only_the_paired_classes():
    labels = np.repeat(np.arange(10), 2000)
    T = transition_of(labels, asymmetric_noise(labels, 0.3, "cifar10", seed=0), 10)
    for source, target in {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}.items():
        assert abs(T[source, target] - 0.3) < 0.03 and abs(T[source, source] - 0.7) < 0.03
    for clean_class in (0, 1, 6, 7, 8):
        assert T[clean_class, clean_class] == 1.0


def test_human_noise_follows_the_vote_counts():
    votes = np.tile([[45, 5, 0], [0, 0, 50]], (5000, 1))
    noisy = human_noise(votes, seed=0)
    assert abs(np.mean(noisy[0::2] == 1) - 0.1) < 0.015 and not np.any(noisy[0::2] == 2)
    assert np.all(noisy[1::2] == 2)


def test_longtail_profile_is_exponential_from_head_to_tail():
    assert longtail_counts(200, 10, 100).tolist() == [200, 119, 71, 43, 25, 15, 9, 5, 3, 2]
    labels = np.repeat(np.arange(10), 300)
    rows = longtail_indices(labels, 10, 10, 200, seed=0)
    assert np.bincount(labels[rows]).tolist() == longtail_counts(200, 10, 10).tolist()
    assert len(np.unique(rows)) == len(rows)


def test_aggregate_takes_mean_and_std_over_seeds_per_setting_and_method():
    rows = [{"setting": "s", "method": m, "label": m.upper(), "seed": seed, "test_accuracy": acc, "seconds": 1.0}
            for m, seed, acc in [("ce", 0, 0.5), ("ce", 1, 0.7), ("gce", 0, 0.4)]]
    table = aggregate(rows, "noise-learning")
    assert table[0]["method"] == "CE" and table[0]["test_accuracy"] == pytest.approx(0.6)
    assert table[0]["test_accuracy_std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert table[1] == {"setting": "s", "method": "GCE", "test_accuracy": 0.4, "seconds": 1.0, "seeds": 1}


TINY = ["--epochs", "1", "--width", "4", "--batch-size", "64", "--device", "cpu"]


def _results(folder):
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    with open(folder / "leaderboard.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert "Leaderboard" in (folder / "report.html").read_text()
    return rows, table


@needs_data
@pytest.mark.slow
def test_noise_learning_suite_end_to_end(tmp_path):
    out = tmp_path / "nl"
    assert run_main(["construct", "benchmark", "--suite", "noise-learning", "--methods", "ce,gce,forward",
                     "--oracles", "--noise", "human,symmetric:0.4", "--train-size", "200",
                     "--test-size", "100", "--out", out, *TINY]) == 0
    rows, table = _results(out)
    assert [(r["setting"], r["method"]) for r in rows] == [
        (s, m) for s in ("human", "symmetric:0.4")
        for m in ("ce", "gce", "forward", "forward_true_T", "coteaching_true_rate")]
    symmetric = [r for r in rows if r["setting"] == "symmetric:0.4"]
    assert all(r["true_noise_rate"] == 0.4 for r in symmetric)  # exactly round(0.4 * 200) rows flipped
    human = rows[0]["true_noise_rate"]
    assert 0.0 < human < 0.15  # one CIFAR-10H annotator: about 5% wrong
    assert {r["label"] for r in rows if r["method"] == "forward_true_T"} == {"Forward (true T, oracle)"}
    assert {r["label"] for r in rows if r["method"] == "coteaching_true_rate"} == {
        "Co-teaching (true noise rate, oracle)"}
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["seconds"] > 0 for r in rows)
    assert len(table) == 10


@needs_data
@pytest.mark.slow
def test_imbalance_and_detection_suites_end_to_end(tmp_path):
    out = tmp_path / "imb"
    assert run_main(["construct", "benchmark", "--suite", "imbalance", "--datasets", "mnist", "--ratios", "10",
                     "--head-size", "40", "--methods", "ce,balanced_softmax,posthoc_la", "--out", out, *TINY]) == 0
    rows, _ = _results(out)
    assert [r["method"] for r in rows] == ["ce", "balanced_softmax", "posthoc_la"]
    assert all(r["train_rows"] == sum(longtail_counts(40, 10, 10)) for r in rows)
    assert all(r["worst_class_accuracy"] <= r["balanced_accuracy"] <= 1.0 for r in rows)
    out = tmp_path / "det"
    assert run_main(["construct", "benchmark", "--suite", "noise-detection", "--methods", "simifeat_vote",
                     "--noise", "symmetric:0.3", "--train-size", "300", "--out", out, *TINY]) == 0
    rows, _ = _results(out)
    assert rows[0]["method"] == "simifeat_vote" and 0.0 <= rows[0]["f1"] <= 1.0
