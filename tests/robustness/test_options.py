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
            "--out", str(tmp_path / "out"), *extra]
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
    with pytest.raises(ConfigError, match="eta_g"):
        DROPS(eta_g=float("inf")).fit(logits, labels)
    with pytest.raises(ConfigError, match="tau"):
        LogitAdjustment(tau=float("nan")).fit(logits, labels)
    with pytest.raises(ConfigError, match="ratio"):
        longtail_split(np.load(small / "probs.npy"), labels, ratio=float("nan"))
