"""The commands end to end on real digit images: collect -> clean -> train, and design from a file."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import run_main


@pytest.mark.slow
def test_collect_clean_train_end_to_end(tmp_path, digit_tree, capsys):
    import shutil

    root = tmp_path / "photos"
    shutil.copytree(digit_tree, root)
    shutil.copy(root / "digit0" / "000.png", root / "digit0" / "copy.png")  # an exact duplicate
    (root / "digit1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # one bad image among many
    assert run_main(["construct", "collect", "--backend", "folder", "--root", root, "--out", tmp_path / "col"]) == 0
    col = tmp_path / "col"
    assert len((col / "manifest.jsonl").read_text().splitlines()) == 61
    assert "broken.png" in (col / "unreadable.jsonl").read_text()
    assert (col / "report.html").is_file()
    assert run_main(["construct", "clean", "--manifest", col / "manifest.jsonl", "--epochs", "1", "--width", "8",
                     "--detectors", "simifeat_vote", "--out", tmp_path / "clean"]) == 0
    clean = tmp_path / "clean"
    groups = [json.loads(line) for line in (clean / "duplicates.jsonl").read_text().splitlines()]
    assert any(g["dropped"] == [str(root / "digit0" / "copy.png")] and "exact" in g["found_by"] for g in groups)
    assert (clean / "transition.npy").is_file()
    metrics = json.loads((clean / "metrics.json").read_text())
    assert metrics["readable"] == 61 and metrics["duplicates_removed"] >= 1
    capsys.readouterr()
    assert run_main(["construct", "train", "--manifest", clean / "clean_manifest.jsonl", "--method", "gce",
                     "--epochs", "2", "--width", "8", "--out", tmp_path / "train"]) == 0
    out = capsys.readouterr().out
    assert "GCE: test accuracy" in out
    trained = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert trained["method"] == "gce" and 0 <= trained["test"]["mean_accuracy"] <= 1
    assert (tmp_path / "train" / "model.safetensors").is_file()


def test_design_from_an_edited_file(tmp_path, design_file):
    assert run_main(["construct", "design", "--design", design_file, "--out", tmp_path / "d"]) == 0
    saved = json.loads((tmp_path / "d" / "design.json").read_text())
    assert saved == json.loads(design_file.read_text())
    assert (tmp_path / "d" / "design.schema.json").is_file()
