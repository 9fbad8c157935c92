"""Out-of-range options of ``reliant robust`` fail with one line, exit 2, before any work."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), 120)
    np.save(folder / "probs.npy", probs)
    np.save(folder / "logits.npy", np.log(probs))
    np.save(folder / "labels.npy", rng.integers(0, 4, 120))
    np.save(folder / "prior.npy", np.array([4.0, 3.0, 2.0, 1.0]))
    return folder


DROPS_CASES = [
    (["--eta-g", "inf"], "field 'eta_g'"),
    (["--eta-g", "0"], "field 'eta_g'"),
    (["--eta-lambda", "nan"], "field 'eta_lambda'"),
    (["--steps", "0"], "field 'steps'"),
    (["--delta", "nan"], "field 'delta'"),
    (["--tau", "inf"], "field 'tau'"),
]


@pytest.mark.parametrize(("extra", "expected"), DROPS_CASES)
def test_drops_rejects_bad_numbers(small, tmp_path, capsys, extra, expected):
    args = ["robust", "drops", "--logits", str(small / "logits.npy"), "--labels", str(small / "labels.npy"),
            "--prior", str(small / "prior.npy"), "--out", str(tmp_path / "out"), *extra]
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


@pytest.mark.parametrize(("extra", "expected"), [
    (["--ratio", "nan"], "field 'ratio'"),
    (["--ratio", "0.5"], "field 'ratio'"),
    (["--ratio", "inf"], "field 'ratio'"),
    (["--val-fraction", "1"], "field 'val_fraction'"),
    (["--val-fraction", "nan"], "field 'val_fraction'"),
    (["--val-profile", "zigzag"], "field 'val_profile'"),
])
def test_longtail_rejects_bad_numbers(small, tmp_path, capsys, extra, expected):
    args = ["robust", "longtail", "--probs", str(small / "probs.npy"), "--labels", str(small / "labels.npy"),
            "--out", str(tmp_path / "out"), *extra]
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


def test_python_api_rejects_the_same(small):
    from reliant.core.errors import ConfigError
    from reliant.robustness.api import DROPS, LogitAdjustment, longtail_split

    logits, labels = np.load(small / "logits.npy"), np.load(small / "labels.npy")
    prior = np.load(small / "prior.npy")
    with pytest.raises(ConfigError, match="eta_g"):
        DROPS(eta_g=float("inf"), prior=prior).fit(logits, labels)
    with pytest.raises(ConfigError, match="tau"):
        LogitAdjustment(tau=float("nan"), prior=prior).fit(logits, labels)
    for estimator in (DROPS(), LogitAdjustment()):  # no silent default to the validation frequencies
        with pytest.raises(ConfigError, match="prior π is required"):
            estimator.fit(logits, labels)
    with pytest.raises(ConfigError, match="ratio"):
        longtail_split(np.load(small / "probs.npy"), labels, ratio=float("nan"))


def test_probs_files_match_their_log_as_logits(small, tmp_path):
    """``--probs`` / ``--test-probs`` name files of probabilities; the numbers equal those of
    the logits log(p) (and the Python ``DropsConfig(probs=True)`` switch still works)."""
    import json
    import warnings

    from reliant.robustness.api import DropsConfig, compare_methods, run_drops
    from tests.cli_runner import run_main

    probs, labels = str(small / "probs.npy"), str(small / "labels.npy")
    prior = str(small / "prior.npy")
    assert run_main(["robust", "drops", "--probs", probs, "--test-probs", probs, "--labels", labels, "--prior", prior,
                     "--test-labels", labels, "--steps", "20", "--deltas", "0,0.5", "--delta", "0.1",
                     "--out", str(tmp_path / "p")]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = DropsConfig(logits=probs, labels=labels, test_logits=probs, test_labels=labels, probs=True,
                             steps=20, deltas=[0.0, 0.5], prior=prior, delta=0.1)
    assert legacy.probs == probs and legacy.logits is None and legacy.test_probs == probs
    folder, lines = run_drops(legacy, tmp_path / "legacy")
    assert folder == tmp_path / "legacy" and any("DROPS" in line for line in lines)
    logits, y = np.load(small / "logits.npy"), np.load(small / "labels.npy")
    direct = compare_methods(logits, y, logits, y, prior=np.load(prior), delta=0.1, steps=20, deltas=[0.0, 0.5])["methods"]
    for name in ("p", "legacy"):
        methods = json.loads((tmp_path / name / "metrics.json").read_text())["drops"]["methods"]
        for method, entry in direct.items():
            assert methods[method]["test"]["worst_accuracy"] == pytest.approx(entry["test"]["worst_accuracy"])
            assert methods[method]["test"]["delta_worst_curve"] == pytest.approx(entry["test"]["delta_worst_curve"])


def test_deltas_are_a_list_field():
    from reliant.core.config import resolve_config
    from reliant.robustness.api import DEFAULT_DELTAS, DropsConfig

    assert DropsConfig().deltas == list(DEFAULT_DELTAS)
    assert DropsConfig().deltas is not DropsConfig().deltas
    config = resolve_config(DropsConfig, logits=None, probs=__file__, labels=__file__, prior=__file__,
                            deltas="1, 0.5,0.5")
    assert config.deltas == [1.0, 0.5, 0.5] and config.drops_params()["deltas"] == [0.5, 1.0]
