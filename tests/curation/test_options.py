"""Out-of-range options of ``reliant curate`` that depend on the data size: one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curate")
    rng = np.random.default_rng(0)
    (folder / "pool.jsonl").write_text("".join(json.dumps({"instruction": f"do {i}", "output": f"done {i}"}) + "\n"
                                               for i in range(12)))
    np.save(folder / "scores.npy", rng.integers(0, 6, 12))
    np.save(folder / "emb.npy", rng.normal(size=(12, 8)).astype(np.float32))
    np.save(folder / "features.npy", rng.normal(size=(30, 8)).astype(np.float32))
    np.save(folder / "labels.npy", rng.integers(0, 3, 30))
    return folder


def _select(f, tmp_path, *extra):
    return ["curate", "select", "--pool", str(f / "pool.jsonl"), "--scores", str(f / "scores.npy"),
            "--embeddings", str(f / "emb.npy"), "--out", str(tmp_path / "out"), *extra]


@pytest.mark.parametrize(("extra", "expected"), [
    (["--budget", "50"], "field 'budget': must be at most the pool size (12 samples"),
    (["--budget", "5", "--neighbors", "12"], "field 'simifeat.neighbors': must be below the pool size"),
    (["--budget", "5", "--long-tail-neighbors", "40"], "field 'long_tail_neighbors'"),
    (["--budget", "5", "--threshold", "nan"], "field 'threshold'"),
    (["--budget", "0"], "field 'budget'"),
])
def test_select_rejects_sizes_beyond_the_pool(files, tmp_path, capsys, extra, expected):
    assert_exit_2_one_line(_select(files, tmp_path, *extra), capsys, expected, tmp_path)


@pytest.mark.parametrize("command", ["diagnose", "detect"])
def test_k_above_the_row_count(files, tmp_path, capsys, command):
    args = ["curate", command, "--features", str(files / "features.npy"), "--labels", str(files / "labels.npy"),
            "--neighbors", "30", "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(args, capsys, "neighbors': must be below the number of rows (30)", tmp_path)
