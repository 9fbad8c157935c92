"""``reliant collab analyze``: end to end, determinism, one-line errors with exit 2, real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliant.cli import app
from tests.cli_runner import assert_exit_2_one_line, run_main

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CIFAR_PROBS = SHARED / "cleanlab_cifar10" / "cifar10_test_set_pyx.npy"
CIFAR_LABELS = SHARED / "cleanlab_cifar10" / "cifar10_test_set_original_labels.npy"
CIFAR10H = SHARED / "cifar10h" / "cifar10h-counts.npy"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from reliant.collaboration.api import synthetic_human_machine

    folder = tmp_path_factory.mktemp("collab")
    data = synthetic_human_machine(n=1200, num_classes=5, votes_per_item=10, seed=0)
    np.save(folder / "logits.npy", data["logits"])
    probs = np.exp(data["logits"] - data["logits"].max(axis=1, keepdims=True))
    np.save(folder / "probs.npy", probs / probs.sum(axis=1, keepdims=True))
    np.save(folder / "votes.npy", data["votes"])
    np.save(folder / "labels.npy", data["labels"])
    return folder


def _args(f: Path, out: Path, *extra: str) -> list[str]:
    return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(f / "votes.npy"),
            "--labels", str(f / "labels.npy"), "--out", str(out), *extra]


def test_analyze_end_to_end_and_deterministic(files, tmp_path):
    runner = CliRunner()
    a = runner.invoke(app, _args(files, tmp_path / "a", "--seed", "5", "--class-names", "a,b,c,d,e"))
    assert a.exit_code == 0, a.output
    b = runner.invoke(app, _args(files, tmp_path / "b", "--seed", "5", "--class-names", "a,b,c,d,e"))
    assert b.exit_code == 0, b.output
    for name in ("metrics.json", "report.html", "config.yaml", "log.txt", "teams.json", "collab_coverage.png",
                 "collab_confusions.png", "collab_overlap.png"):
        assert (tmp_path / "a" / name).exists(), name
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert ma == json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert len(ma["collab"]["curves"]["fractions"]) == len(ma["collab"]["curves"]["defer_to_human"])
    html = (tmp_path / "a" / "report.html").read_text()
    assert "Accuracy vs deferral rate" in html and "Confusion matrices" in html and "Error overlap" in html
    assert "Accuracy by human agreement" in html and "rows annotators disputed most" in html
    assert "(machine alone)" in html and "(human alone)" in html  # team headlines carry both baselines
    other = runner.invoke(app, _args(files, tmp_path / "c", "--seed", "6"))
    assert other.exit_code == 0
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["collab"]["teams"] != ma["collab"]["teams"]


def test_analyze_logits_and_single_human_labels(files, tmp_path):
    votes = np.load(files / "votes.npy")
    np.save(tmp_path / "one.npy", votes.argmax(axis=1))
    result = CliRunner().invoke(app, ["collab", "analyze", "--machine-logits", str(files / "logits.npy"),
                                      "--human-votes", str(tmp_path / "one.npy"), "--labels", str(files / "labels.npy"),
                                      "--folds", "3", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "by_human_agreement" not in metrics["collab"]["difficulty"]


def _bad(kind: str, f: Path, tmp: Path) -> tuple[list[str], str]:
    votes, labels, probs = np.load(f / "votes.npy"), np.load(f / "labels.npy"), np.load(f / "probs.npy")
    out = ["--out", str(tmp / "out")]
    if kind == "rows_mismatch":
        np.save(tmp / "v.npy", votes[:-1])
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(tmp / "v.npy"),
                "--labels", str(f / "labels.npy"), *out], "v.npy: field 'human_votes'"
    if kind == "label_out_of_range":
        bad = labels.copy()
        bad[10] = 9
        np.save(tmp / "y.npy", bad)
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(f / "votes.npy"),
                "--labels", str(tmp / "y.npy"), *out], "row 11"
    if kind == "nan_probs":
        bad = probs.copy()
        bad[2, 1] = np.nan
        np.save(tmp / "p.npy", bad)
        return ["collab", "analyze", "--machine-probs", str(tmp / "p.npy"), "--human-votes", str(f / "votes.npy"),
                "--labels", str(f / "labels.npy"), *out], "p.npy: field 'machine_probs'"
    if kind == "negative_votes":
        bad = votes.copy()
        bad[5, 0] = -1
        np.save(tmp / "v.npy", bad)
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(tmp / "v.npy"),
                "--labels", str(f / "labels.npy"), *out], "row 6"
    if kind == "votes_wrong_classes":
        np.save(tmp / "v.npy", votes[:, :3])
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(tmp / "v.npy"),
                "--labels", str(f / "labels.npy"), *out], "field 'human_votes'"
    if kind == "both_machine_inputs":
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--machine-logits", str(f / "logits.npy"),
                "--human-votes", str(f / "votes.npy"), "--labels", str(f / "labels.npy"), *out], "exactly one"
    if kind == "missing_votes_file":
        return ["collab", "analyze", "--machine-probs", str(f / "probs.npy"), "--human-votes", str(tmp / "none.npy"),
                "--labels", str(f / "labels.npy"), *out], "none.npy"
    if kind == "csv_bad_cell":
        lines = [",".join(str(v) for v in row) for row in votes[:4]]
        lines.insert(2, "1,x,0,0,0")
        (tmp / "v.csv").write_text("\n".join(lines) + "\n")
        np.save(tmp / "p.npy", probs[:5])
        np.save(tmp / "y.npy", labels[:5])
        return ["collab", "analyze", "--machine-probs", str(tmp / "p.npy"), "--human-votes", str(tmp / "v.csv"),
                "--labels", str(tmp / "y.npy"), *out], "v.csv:3"
    if kind == "bad_class_names":
        return [*_args(f, tmp / "out"), "--class-names", "a,b"], "field 'class_names'"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["rows_mismatch", "label_out_of_range", "nan_probs", "negative_votes",
                                  "votes_wrong_classes", "both_machine_inputs", "missing_votes_file", "csv_bad_cell",
                                  "bad_class_names"])
def test_bad_inputs_exit_2_one_line(kind, files, tmp_path, capsys):
    args, expected = _bad(kind, files, tmp_path)
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not (CIFAR_PROBS.exists() and CIFAR10H.exists()), reason="shared CIFAR-10 / CIFAR-10H data absent")
def test_cifar10h_team_beats_human_and_machine():
    from reliant.collaboration.api import analyze

    probs = np.load(CIFAR_PROBS)
    result = analyze(np.log(np.clip(probs, 1e-12, None)), np.load(CIFAR10H), np.load(CIFAR_LABELS).astype(np.int64),
                     annotators=1, seed=0)
    assert result["team_beats_both"]
    assert result["best_team_accuracy"] > max(result["machine"]["accuracy"], result["human"]["accuracy"]) + 0.005
    assert result["comparison"]["error_consistency"] < 0.5


def test_demo_stage_runs_on_synthetic_data(tmp_path):
    from reliant.collaboration.api import demo_stage
    from reliant.core.rundir import run_directory

    with run_directory("demo", {"seed": 0}, tmp_path / "demo") as run:
        numbers = demo_stage(run, 0)
    assert numbers["team_beats_both"] and (tmp_path / "demo" / "report.html").exists()
