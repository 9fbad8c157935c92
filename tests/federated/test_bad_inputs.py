"""Bad inputs of both commands exit 2 with one line, before any model loads, leaving no run folder."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line


def _npz(folder, name, **arrays):
    path = folder / name
    np.savez(path, **arrays)
    return path


CASES = [
    (["--rule", "fedsgdx"], "unknown value 'fedsgdx'"),
    (["--attackers", "10", "--clients", "10"], "10 attackers need more than 10 clients"),
    (["--attackers", "0"], "attackers"),
    (["--dataset", "missing.npz"], "no such data set file"),
    (["--partition", "shards"], "unknown value 'shards'"),
    (["--partition", "dirichlet", "--alpha", "0"], "alpha"),
    (["--partition", "dirichlet", "--alpha", "0.001", "--clients", "200", "--limit", "900", "--test-size", "10",
      "--root-size", "10"], "Dirichlet"),
    (["--rule", "bulyan", "--clients", "6"], "needs at least 4f + 3 = 7 clients"),
    (["--victims", "10"], "exceeds the 9 honest clients"),
    (["--target-class", "12"], "has 10 classes"),
    (["--limit", "100"], "leaves no training images"),
    (["--trim-fraction", "0.5"], "trim_fraction"),
    (["--device", "tpu"], "unknown device"),
    (["--dp", "laplace"], "unknown value 'laplace'"),
    (["--dp", "server-adaptive", "--noise-multiplier", "1"], "needs --clipped-count-stddev above 0.5"),
    (["--dp", "server-fixed", "--clipping-norm", "0"], "clipping_norm"),
    (["--rule", "afa", "--afa-xi", "0"], "afa_xi"),
    (["--rule", "fang", "--assumed-malicious", "10"], "--assumed-malicious 10 must be below --clients 10"),
]


@pytest.mark.parametrize("args, expected", CASES, ids=[c[1][:30] for c in CASES])
def test_attack_bad_inputs(args, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_exit_2_one_line(["federated", "attack", *args, "--out", tmp_path / "out"], capsys, expected, tmp_path)


def test_bad_npz_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [
        (_npz(tmp_path, "nolabels.npz", images=np.zeros((50, 8, 8), np.uint8)), "needs arrays 'images' and 'labels'"),
        (_npz(tmp_path, "shape.npz", images=np.zeros((50, 8), np.uint8), labels=np.zeros(50, int)), "'images' must"),
        (_npz(tmp_path, "len.npz", images=np.zeros((50, 8, 8), np.uint8), labels=np.zeros(49, int)), "'labels' must"),
        (_npz(tmp_path, "range.npz", images=np.full((50, 8, 8), 2.0), labels=np.zeros(50, int)), "in [0, 1]"),
    ]
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    cases.append((text, "not a readable .npz"))
    for path, expected in cases:
        assert_exit_2_one_line(["federated", "simulate", "--dataset", path, "--limit", "50", "--test-size", "10",
                                "--root-size", "10", "--out", tmp_path / "out"], capsys, expected, tmp_path)


def test_simulate_unknown_rule(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_exit_2_one_line(["federated", "simulate", "--rule", "flame", "--out", tmp_path / "out"], capsys,
                           "unknown value 'flame'", tmp_path)
