"""Bad inputs to ``reliant collab analyze``: exit 2, one stderr line naming the file / line /
field, and no run folder left behind.

The cases here complement ``test_cli.py`` / ``test_options.py`` (row mismatch, label out of
range, NaN probabilities, negative votes, wrong vote columns, both machine files, missing
votes file, bad CSV cell, class-name count, bad numbers in flags) and
``tests/test_command_contract.py`` (bad ``--config`` files, seeds, unknown flags).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), 60)
    np.save(folder / "probs.npy", probs)
    np.save(folder / "logits.npy", np.log(probs))
    np.save(folder / "votes.npy", rng.multinomial(4, [0.6, 0.2, 0.2], size=60))
    np.save(folder / "labels.npy", rng.integers(0, 3, 60))
    return folder


def _write(tmp: Path, name: str, content) -> str:
    target = tmp / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, str):
        target.write_text(content)
    else:
        np.save(target, content)
    return str(target)


def _case(kind: str, g: Path, tmp: Path) -> tuple[list[str], str]:
    probs, votes, labels = str(g / "probs.npy"), str(g / "votes.npy"), str(g / "labels.npy")
    out = ["--out", str(tmp / "out")]

    def args(machine: str = probs, human: str = votes, truth: str = labels, flag: str = "--machine-probs") -> list[str]:
        return ["collab", "analyze", flag, machine, "--human-votes", human, "--labels", truth, *out]

    if kind == "missing votes flag":
        return ["collab", "analyze", "--machine-probs", probs, "--labels", labels, *out], "field 'human_votes'"
    if kind == "missing labels flag":
        return ["collab", "analyze", "--machine-probs", probs, "--human-votes", votes, *out], "field 'labels'"
    if kind == "no machine scores":
        return ["collab", "analyze", "--human-votes", votes, "--labels", labels, *out], "exactly one"
    if kind == "folder instead of file":
        return args(human=str(g)), "field 'human_votes': is a folder"
    if kind == "empty file":
        return args(truth=_write(tmp, "y.csv", "")), "y.csv: field 'labels'"
    if kind == "binary file":
        return args(human=_write(tmp, "v.csv", b"\x00\x01\x02" * 50)), "v.csv: field 'human_votes'"
    if kind == "undecodable text":
        return args(machine=_write(tmp, "p.csv", "0.5,0.5\n0.2,\xe9\n".encode("latin-1"))), "p.csv:2: field 'machine_probs'"
    if kind == "nan in votes":
        bad = np.load(g / "votes.npy").astype(float)
        bad[4, 1] = np.nan
        return args(human=_write(tmp, "v.npy", bad)), "v.npy: field 'human_votes'"
    if kind == "inf in logits":
        bad = np.load(g / "logits.npy")
        bad[8, 0] = -np.inf
        return args(machine=_write(tmp, "z.npy", bad), flag="--machine-logits"), "z.npy: field 'machine_logits'"
    if kind == "row without votes":
        bad = np.load(g / "votes.npy")
        bad[6] = 0
        return args(human=_write(tmp, "v.npy", bad)), "row 7 has no votes"
    if kind == "fractional votes":
        bad = np.load(g / "votes.npy").astype(float)
        bad[2, 0] += 0.5
        return args(human=_write(tmp, "v.npy", bad)), "row 3"
    if kind == "labels rows mismatch":
        return args(truth=_write(tmp, "y.npy", np.zeros(59, dtype=int))), "y.npy: field 'labels'"
    if kind == "probs not normalised":
        return args(machine=_write(tmp, "p.npy", 3 * np.load(g / "probs.npy"))), "p.npy: field 'machine_probs'"
    if kind == "single human label out of range":
        one = np.load(g / "votes.npy").argmax(axis=1)
        one[9] = 3
        return args(human=_write(tmp, "h.npy", one)), "row 10"
    if kind == "one class":
        return args(machine=_write(tmp, "p.npy", np.ones((60, 1)))), "at least 2 classes"
    if kind == "too few rows for the folds":  # fails inside the run: the staged folder must vanish too
        return [*args(), "--folds", "31"], "field 'folds'"
    if kind == "annotators not an integer":
        return [*args(), "--annotators", "1.5"], "--annotators"
    if kind == "class names not a list in config":
        config = _write(tmp, "c.yaml", f"machine_probs: {probs}\nhuman_votes: {votes}\nlabels: {labels}\n"
                                       "class_names: {a: 1}\n")
        return ["collab", "analyze", "--config", config, *out], "c.yaml: field 'class_names'"
    if kind == "wrong type in config":
        config = _write(tmp, "c.yaml", f"machine_probs: {probs}\nhuman_votes: {votes}\nlabels: {labels}\nfolds: 2.5\n")
        return ["collab", "analyze", "--config", config, *out], "c.yaml: field 'folds'"
    raise AssertionError(kind)


KINDS = [
    "missing votes flag", "missing labels flag", "no machine scores", "folder instead of file", "empty file",
    "binary file", "undecodable text", "nan in votes", "inf in logits", "row without votes", "fractional votes",
    "labels rows mismatch", "probs not normalised", "single human label out of range", "one class",
    "too few rows for the folds", "annotators not an integer", "class names not a list in config",
    "wrong type in config",
]


@pytest.mark.parametrize("kind", KINDS)
def test_analyze_bad_input(kind, good, tmp_path, capsys):
    args, expected = _case(kind, good, tmp_path)
    assert_exit_2_one_line(args, capsys, expected, tmp_path)
