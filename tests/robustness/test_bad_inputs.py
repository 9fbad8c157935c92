"""Bad inputs to ``reliant robust drops`` and ``reliant robust longtail``: exit 2, one stderr
line naming the file / line / field, and no run folder left behind.

The cases here complement ``test_cli.py`` / ``test_options.py`` (shape mismatch, label out of
range, NaN logits, missing file, bad CSV cell, bad numbers in flags) and
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
    probs = rng.dirichlet(np.ones(4), 160)
    labels = np.repeat(np.arange(4), 40)
    np.save(folder / "probs.npy", probs)
    np.save(folder / "logits.npy", np.log(probs))
    np.save(folder / "labels.npy", labels)
    np.save(folder / "test_logits.npy", np.log(probs[:80]))
    np.save(folder / "test_labels.npy", labels[::2])
    np.save(folder / "groups.npy", labels * 2 + np.arange(160) % 2)
    np.save(folder / "prior.npy", np.array([0.4, 0.3, 0.2, 0.1]))
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


# --------------------------------------------------------------------------- drops

def _drops_case(kind: str, g: Path, tmp: Path) -> tuple[list[str], str]:
    logits, labels = str(g / "logits.npy"), str(g / "labels.npy")
    base = ["robust", "drops", "--out", str(tmp / "out"), "--steps", "5", "--prior", str(g / "prior.npy")]
    val = ["--logits", logits, "--labels", labels]
    if kind == "empty file":
        return base + ["--logits", _write(tmp, "empty.csv", ""), "--labels", labels], "empty.csv: field 'logits'"
    if kind == "empty array":
        return base + ["--logits", _write(tmp, "e.npy", np.zeros((0, 4))), "--labels", labels], "array is empty"
    if kind == "binary file":
        return base + ["--logits", _write(tmp, "b.csv", b"\x00\x01\xff" * 40), "--labels", labels], "b.csv: field 'logits'"
    if kind == "undecodable text":
        path = _write(tmp, "l.csv", "0.1,0.2\n0.3,caf\xe9\n".encode("latin-1"))
        return base + ["--logits", path, "--labels", labels], "l.csv:2: field 'logits'"
    if kind == "folder instead of file":
        return base + ["--logits", logits, "--labels", str(g)], "field 'labels': is a folder"
    if kind == "inf in data file":
        bad = np.log(np.load(g / "probs.npy"))
        bad[9, 2] = np.inf
        return base + ["--logits", _write(tmp, "inf.npy", bad), "--labels", labels], "first at row 10"
    if kind == "one-dimensional scores":
        return base + ["--logits", labels, "--labels", labels], "field 'logits': expected 2 dimensions"
    if kind == "fractional labels":
        bad = np.load(g / "labels.npy").astype(float)
        bad[3] = 1.5
        return base + ["--logits", logits, "--labels", _write(tmp, "y.npy", bad)], "y.npy: field 'labels'"
    if kind == "negative label":
        bad = np.load(g / "labels.npy")
        bad[5] = -1
        return base + ["--logits", logits, "--labels", _write(tmp, "y.npy", bad)], "at row 6 is negative"
    if kind == "logits and probs":
        return base + val + ["--probs", str(g / "probs.npy")], "not both"
    if kind == "neither logits nor probs":
        return base + ["--labels", labels], "field 'logits'"
    if kind == "test probs not normalised":
        return base + val + ["--test-probs", str(g / "test_logits.npy"), "--test-labels",
                             str(g / "test_labels.npy")], "test_logits.npy: field 'test_probs'"
    if kind == "test labels without test scores":
        return base + val + ["--test-labels", str(g / "test_labels.npy")], "field 'test_logits'"
    if kind == "test classes mismatch":
        three = np.log(np.load(g / "probs.npy")[:80, :3])
        return base + val + ["--test-logits", _write(tmp, "t3.npy", three), "--test-labels",
                             str(g / "test_labels.npy")], "t3.npy: field 'test_logits'"
    if kind == "test rows mismatch":
        return base + val + ["--test-logits", str(g / "test_logits.npy"), "--test-labels",
                             _write(tmp, "ty.npy", np.arange(79) % 4)], "ty.npy: field 'test_labels'"
    if kind == "groups rows mismatch":
        return base + val + ["--groups", _write(tmp, "gr.npy", np.zeros(50, dtype=int))], "gr.npy: field 'groups'"
    if kind == "test groups without groups":
        return base + val + ["--test-groups", str(g / "groups.npy")], "field 'groups'"
    if kind == "groups without test groups":
        return base + val + ["--groups", str(g / "groups.npy"), "--test-logits", str(g / "test_logits.npy"),
                             "--test-labels", str(g / "test_labels.npy")], "field 'test_groups'"
    if kind == "prior wrong length":
        return base + val + ["--prior", _write(tmp, "pi.npy", np.ones(3))], "pi.npy: field 'prior'"
    if kind == "target with a zero":
        return base + val + ["--target", _write(tmp, "r.npy", np.array([1.0, 0.0, 1.0, 1.0]))], "r.npy: field 'target'"
    if kind == "nan in deltas flag":
        return base + val + ["--deltas", "0.1,nan"], "field 'deltas'"
    if kind == "negative delta in list":
        return base + val + ["--deltas", "0.1,-2"], "field 'deltas'"
    if kind == "word in deltas":
        return base + val + ["--deltas", "0.1,big"], "field 'deltas'"
    if kind == "empty deltas":
        return base + val + ["--deltas", ","], "field 'deltas'"
    if kind == "unknown loss":
        return base + val + ["--loss", "hinge"], "field 'loss'"
    if kind == "no prior":  # the old behaviour silently used the validation frequencies
        no_prior = ["robust", "drops", "--out", str(tmp / "out"), "--steps", "5"]
        return no_prior + val, "field 'prior': give the training label prior"
    if kind == "prior and train labels":
        return base + val + ["--train-labels", labels], "field 'prior'"
    if kind == "train labels miss a class":
        return (["robust", "drops", "--out", str(tmp / "out")] + val
                + ["--train-labels", _write(tmp, "tr.npy", np.array([0, 1, 1, 3, 0]))],
                "tr.npy: field 'train_labels': class 2 has no training rows")
    if kind == "train label out of range":
        return (["robust", "drops", "--out", str(tmp / "out")] + val
                + ["--train-labels", _write(tmp, "tr.npy", np.array([0, 1, 2, 3, 9]))], "tr.npy: field 'train_labels'")
    if kind == "negative radius in delta grid":
        return base + val + ["--delta-grid", "0,-0.1"], "field 'delta_grid'"
    if kind == "empty delta grid":
        return base + val + ["--delta-grid", ","], "field 'delta_grid'"
    if kind == "one selection fold":
        return base + val + ["--select-folds", "1"], "field 'select_folds'"
    if kind == "unknown selection metric":
        return base + val + ["--select-metric", "median"], "field 'select_metric'"
    if kind == "unknown calibration":
        return base + val + ["--calibrate", "platt"], "field 'calibrate'"
    if kind == "negative eval delta":
        return base + val + ["--eval-delta", "-1"], "field 'eval_delta'"
    if kind == "wrong type in config":
        config = _write(tmp, "c.yaml", f"logits: {logits}\nlabels: {labels}\nsteps: many\n")
        return ["robust", "drops", "--config", config, "--out", str(tmp / "out")], "c.yaml: field 'steps'"
    if kind == "legacy probs switch in config":
        config = _write(tmp, "c.yaml", f"logits: {logits}\nlabels: {labels}\nprobs: true\n")
        return ["robust", "drops", "--config", config, "--out", str(tmp / "out")], "c.yaml: field 'probs'"
    raise AssertionError(kind)


DROPS_KINDS = [
    "empty file", "empty array", "binary file", "undecodable text", "folder instead of file", "inf in data file",
    "one-dimensional scores", "fractional labels", "negative label", "logits and probs", "neither logits nor probs",
    "test probs not normalised", "test labels without test scores", "test classes mismatch", "test rows mismatch",
    "groups rows mismatch", "test groups without groups", "groups without test groups", "prior wrong length",
    "target with a zero", "nan in deltas flag", "negative delta in list", "word in deltas", "empty deltas",
    "unknown loss", "wrong type in config", "legacy probs switch in config", "no prior", "prior and train labels",
    "train labels miss a class", "train label out of range", "negative radius in delta grid", "empty delta grid",
    "one selection fold", "unknown selection metric", "unknown calibration", "negative eval delta",
]


@pytest.mark.parametrize("kind", DROPS_KINDS)
def test_drops_bad_input(kind, good, tmp_path, capsys):
    args, expected = _drops_case(kind, good, tmp_path)
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


# --------------------------------------------------------------------------- longtail

def _longtail_case(kind: str, g: Path, tmp: Path) -> tuple[list[str], str]:
    probs, labels = str(g / "probs.npy"), str(g / "labels.npy")
    base = ["robust", "longtail", "--out", str(tmp / "out")]
    if kind == "missing probs flag":
        return base + ["--labels", labels], "field 'probs': --probs is required"
    if kind == "missing labels flag":
        return base + ["--probs", probs], "field 'labels': --labels is required"
    if kind == "missing file":
        return base + ["--probs", str(tmp / "nope.npy"), "--labels", labels], "nope.npy: field 'probs'"
    if kind == "folder instead of file":
        return base + ["--probs", str(g), "--labels", labels], "field 'probs': is a folder"
    if kind == "empty file":
        return base + ["--probs", _write(tmp, "p.csv", ""), "--labels", labels], "p.csv: field 'probs'"
    if kind == "binary file":
        return base + ["--probs", probs, "--labels", _write(tmp, "y.txt", b"\x00\xfe" * 30)], "y.txt: field 'labels'"
    if kind == "rows do not sum to 1":
        doubled = _write(tmp, "p2.npy", 2 * np.load(g / "probs.npy"))
        return base + ["--probs", doubled, "--labels", labels], "p2.npy: field 'probs': row 1 sums to 2"
    if kind == "negative probability":
        bad = np.load(g / "probs.npy")
        bad[7] = [1.5, -0.5, 0.0, 0.0]
        return base + ["--probs", _write(tmp, "p.npy", bad), "--labels", labels], "negative probability at row 8"
    if kind == "nan in data file":
        bad = np.load(g / "probs.npy")
        bad[2, 0] = np.nan
        return base + ["--probs", _write(tmp, "p.npy", bad), "--labels", labels], "p.npy: field 'probs'"
    if kind == "one class":
        return base + ["--probs", _write(tmp, "p.npy", np.ones((20, 1))), "--labels", labels], "at least 2 classes"
    if kind == "rows mismatch":
        return base + ["--probs", probs, "--labels", _write(tmp, "y.npy", np.zeros(10, dtype=int))], \
            "y.npy: field 'labels'"
    if kind == "label out of range":
        bad = np.load(g / "labels.npy")
        bad[12] = 4
        return base + ["--probs", probs, "--labels", _write(tmp, "y.npy", bad)], "row 13"
    if kind == "malformed csv line":
        rows = "\n".join(",".join(f"{v:.4f}" for v in row) for row in np.load(g / "probs.npy")[:3])
        path = _write(tmp, "p.csv", rows + "\n0.5,0.5\n")
        return base + ["--probs", path, "--labels", _write(tmp, "y.npy", np.zeros(4, dtype=int))], "p.csv"
    if kind == "ratio not a number":
        return base + ["--probs", probs, "--labels", labels, "--ratio", "big"], "--ratio"
    if kind == "val fraction zero":
        return base + ["--probs", probs, "--labels", labels, "--val-fraction", "0"], "field 'val_fraction'"
    if kind == "wrong type in config":
        config = _write(tmp, "c.yaml", f"probs: {probs}\nlabels: {labels}\nval_fraction: half\n")
        return ["robust", "longtail", "--config", config, "--out", str(tmp / "out")], "c.yaml: field 'val_fraction'"
    raise AssertionError(kind)


LONGTAIL_KINDS = [
    "missing probs flag", "missing labels flag", "missing file", "folder instead of file", "empty file",
    "binary file", "rows do not sum to 1", "negative probability", "nan in data file", "one class", "rows mismatch",
    "label out of range", "malformed csv line", "ratio not a number", "val fraction zero", "wrong type in config",
]


@pytest.mark.parametrize("kind", LONGTAIL_KINDS)
def test_longtail_bad_input(kind, good, tmp_path, capsys):
    args, expected = _longtail_case(kind, good, tmp_path)
    assert_exit_2_one_line(args, capsys, expected, tmp_path)
