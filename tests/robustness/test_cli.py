"""``reliant robust``: end to end on array files, determinism, one-line errors with exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliant.cli import app
from tests.cli_runner import assert_exit_2_one_line, run_main

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cleanlab_cifar10"


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    from reliant.robustness.api import synthetic_longtail

    folder = tmp_path_factory.mktemp("arrays")
    split = synthetic_longtail(seed=0, num_classes=5, n_max=300, n_val_max=300, n_test_per_class=80, dim=8)
    for key in ("val_logits", "val_labels", "test_logits", "test_labels", "prior"):
        np.save(folder / f"{key}.npy", split[key])
    return folder


def _args(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["robust", "drops", "--logits", str(folder / "val_logits.npy"), "--labels", str(folder / "val_labels.npy"),
            "--test-logits", str(folder / "test_logits.npy"), "--test-labels", str(folder / "test_labels.npy"),
            "--prior", str(folder / "prior.npy"), "--steps", "150", "--deltas", "0,0.1,0.5,2", "--out", str(out), *extra]


def test_drops_end_to_end_and_deterministic(arrays, tmp_path):
    runner = CliRunner()
    first = runner.invoke(app, _args(arrays, tmp_path / "a", "--seed", "3"))
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, _args(arrays, tmp_path / "b", "--seed", "3"))
    assert second.exit_code == 0, second.output
    for name in ("metrics.json", "report.html", "config.yaml", "log.txt", "weights.json", "predictions.npy"):
        assert (tmp_path / "a" / name).exists(), name
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert ma == mb
    methods = ma["drops"]["methods"]
    assert set(methods) == {"no adjustment", "logit adjustment", "balanced-optimal reweighting",
                            "worst-optimal reweighting", "DROPS"}
    assert len(methods["DROPS"]["test"]["delta_worst_curve"]) == 4
    html = (tmp_path / "a" / "report.html").read_text()
    assert "δ-worst accuracy" in html and "Per-class accuracy" in html and "data:image/png;base64" in html
    assert "(logit adj.)" in html and "(no adjustment)" in html  # headlines carry their baselines
    weights = json.loads((tmp_path / "a" / "weights.json").read_text())
    assert weights["lambda"] >= 0 and weights["divergence_value"] <= weights["delta"] + 1e-9
    # the radius was selected on validation, and the run says so (and where the prior came from)
    selection = ma["delta_selection"]
    assert selection["delta"] == ma["selected_delta"] == weights["delta"] and selection["delta"] in selection["deltas"]
    assert selection["folds"] == 5 and len(selection["scores"]) == len(selection["deltas"])
    assert ma["prior_source"].startswith("given: ") and "prior.npy" in ma["prior_source"]
    assert f"DROPS δ = {selection['delta']:g} (selected on validation" in first.output
    assert "δ selection (out-of-fold on validation)" in html and "training prior π" in html


def test_drops_validation_only_and_config_file(arrays, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"logits: {arrays / 'val_logits.npy'}\nlabels: {arrays / 'val_labels.npy'}\n"
                      f"prior: {arrays / 'prior.npy'}\ndivergence: l2\ndelta: 0.05\nsteps: 50\n")
    result = CliRunner().invoke(app, ["robust", "drops", "--config", str(config), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["drops"]["evaluated_on"] == "validation"


def test_longtail_command(tmp_path):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=400)
    labels = np.repeat(np.arange(4), 100)
    np.save(tmp_path / "p.npy", probs)
    np.save(tmp_path / "y.npy", labels)
    result = CliRunner().invoke(app, ["robust", "longtail", "--probs", str(tmp_path / "p.npy"), "--labels",
                                      str(tmp_path / "y.npy"), "--ratio", "10", "--out", str(tmp_path / "lt")])
    assert result.exit_code == 0, result.output
    val = np.load(tmp_path / "lt" / "val_labels.npy")
    assert np.bincount(val).tolist() == [50, 23, 10, 5]


def _write_bad(kind: str, arrays: Path, tmp: Path) -> tuple[list[str], str]:
    """Arguments for one bad input and the text its one-line error must contain."""
    logits = np.load(arrays / "val_logits.npy")
    labels = np.load(arrays / "val_labels.npy")
    base = ["robust", "drops", "--out", str(tmp / "out"), "--steps", "10", "--prior", str(arrays / "prior.npy")]
    if kind == "shape_mismatch":
        np.save(tmp / "y.npy", labels[:-3])
        return base + ["--logits", str(arrays / "val_logits.npy"), "--labels", str(tmp / "y.npy")], "y.npy: field 'labels'"
    if kind == "label_out_of_range":
        bad = labels.copy()
        bad[7] = 42
        np.save(tmp / "y.npy", bad)
        return base + ["--logits", str(arrays / "val_logits.npy"), "--labels", str(tmp / "y.npy")], "row 8"
    if kind == "nan_logits":
        bad = logits.copy()
        bad[4, 0] = np.nan
        np.save(tmp / "z.npy", bad)
        return base + ["--logits", str(tmp / "z.npy"), "--labels", str(arrays / "val_labels.npy")], "z.npy: field 'logits'"
    if kind == "missing_file":
        return base + ["--logits", str(tmp / "nope.npy"), "--labels", str(arrays / "val_labels.npy")], "nope.npy"
    if kind == "csv_not_number":
        text = "\n".join(",".join(f"{v:.3f}" for v in row) for row in logits[:5])
        (tmp / "z.csv").write_text(text + "\n0.1,abc,0.2,0.3,0.4\n")
        np.save(tmp / "y.npy", labels[:6])
        return base + ["--logits", str(tmp / "z.csv"), "--labels", str(tmp / "y.npy")], "z.csv:6"
    if kind == "bad_divergence":
        return base + ["--logits", str(arrays / "val_logits.npy"), "--labels", str(arrays / "val_labels.npy"),
                       "--divergence", "hellinger"], "field 'divergence'"
    if kind == "test_without_labels":
        return base + ["--logits", str(arrays / "val_logits.npy"), "--labels", str(arrays / "val_labels.npy"),
                       "--test-logits", str(arrays / "test_logits.npy")], "test_labels"
    if kind == "probs_not_normalised":
        np.save(tmp / "p.npy", np.abs(logits))
        return base + ["--probs", str(tmp / "p.npy"), "--labels", str(arrays / "val_labels.npy")], "sums to"
    if kind == "class_without_rows":  # fails inside the run: the staged directory must vanish too
        keep = labels != 4
        np.save(tmp / "z.npy", logits[keep])
        np.save(tmp / "y.npy", labels[keep])
        return base + ["--logits", str(tmp / "z.npy"), "--labels", str(tmp / "y.npy")], "class 4 has no validation rows"
    if kind == "missing_labels_flag":
        return base + ["--logits", str(arrays / "val_logits.npy")], "field 'labels'"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["shape_mismatch", "label_out_of_range", "nan_logits", "missing_file", "csv_not_number",
                                  "bad_divergence", "test_without_labels", "probs_not_normalised", "missing_labels_flag",
                                  "class_without_rows"])
def test_bad_inputs_exit_2_one_line(kind, arrays, tmp_path, capsys):
    args, expected = _write_bad(kind, arrays, tmp_path)
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "cifar10_test_set_pyx.npy").exists(), reason="shared CIFAR-10 probabilities absent")
def test_cifar10_longtail_drops_beats_plain_worst_class(tmp_path):
    from reliant.robustness.api import compare_methods, longtail_split

    split = longtail_split(np.load(SHARED / "cifar10_test_set_pyx.npy"),
                           np.load(SHARED / "cifar10_test_set_original_labels.npy").astype(np.int64), ratio=100, seed=0)
    res = compare_methods(split.val_logits, split.val_labels, split.test_logits, split.test_labels, prior=split.prior)
    m = res["methods"]
    assert m["DROPS"]["test"]["worst_accuracy"] > m["no adjustment"]["test"]["worst_accuracy"]
    assert m["DROPS"]["test"]["delta_worst_accuracy"] > m["no adjustment"]["test"]["delta_worst_accuracy"]


def test_demo_stage_runs(tmp_path):
    from reliant.core.rundir import run_directory
    from reliant.robustness.api import demo_stage

    with run_directory("demo", {"seed": 0}, tmp_path / "demo") as run:
        numbers = demo_stage(run, 0)
    assert numbers["drops_worst_accuracy"] > 0 and (tmp_path / "demo" / "metrics.json").exists()


def test_drops_with_groups(arrays, tmp_path):
    labels = np.load(arrays / "val_labels.npy")
    test_labels = np.load(arrays / "test_labels.npy")
    np.save(tmp_path / "g.npy", labels * 2 + (np.arange(len(labels)) % 2))
    np.save(tmp_path / "tg.npy", test_labels * 2 + (np.arange(len(test_labels)) % 2))
    result = CliRunner().invoke(app, _args(arrays, tmp_path / "r", "--groups", str(tmp_path / "g.npy"),
                                           "--test-groups", str(tmp_path / "tg.npy"), "--divergence", "reverse_kl",
                                           "--delta", "0.1"))
    assert result.exit_code == 0, result.output
    weights = json.loads((tmp_path / "r" / "weights.json").read_text())
    assert len(weights["weights_g"]) == 10 and len(weights["class_offsets"]) == 5
