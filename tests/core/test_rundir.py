import json

import pytest
import yaml

from reliant.core.errors import ConfigError
from reliant.core.plotting import new_figure
from reliant.core.rundir import format_number, run_directory


def test_successful_run_writes_everything(tmp_path):
    out = tmp_path / "run1"
    with run_directory("demo", {"seed": 3, "model": "tiny"}, out=out) as run:
        assert not out.exists()  # still staged under a temporary name
        run.log("hello")
        run.add_metrics({"accuracy": 0.5, "nan": float("nan")})
        run.add_headline("accuracy", 0.5)
        fig, ax = new_figure()
        ax.plot([0, 1], [1, 0])
        run.add_figure("A line", fig, caption="falls", save_as="plots/line.png")
        run.add_table("Scores", [{"method": "a", "score": 0.25}, {"method": "b", "score": 0.75}], highlight=[1])
        run.file("artefact.txt").write_text("x")
    assert run.path == out
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "metrics.json", "report.html", "log.txt", "artefact.txt", "plots"} <= names
    assert yaml.safe_load((out / "config.yaml").read_text()) == {"seed": 3, "model": "tiny"}
    assert json.loads((out / "metrics.json").read_text()) == {"accuracy": 0.5, "nan": None}
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "A line" in html and "Scores" in html
    assert "hello" in (out / "log.txt").read_text()
    assert (out / "plots" / "line.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_only_the_main_process_writes_the_run_folder(tmp_path, monkeypatch):
    """Under torchrun every rank runs the command; rank 1's results go to a scratch folder that
    is deleted, never beside (or into) the main process's output."""
    out = tmp_path / "run1"
    monkeypatch.setenv("RANK", "1")
    with run_directory("demo", {"seed": 3}, out=out) as run:
        scratch = run.path
        run.add_metrics({"accuracy": 0.5})
        assert tmp_path not in scratch.parents
    assert not out.exists() and not scratch.exists()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("RANK", "0")
    with run_directory("demo", {"seed": 3}, out=out) as run:
        run.add_metrics({"accuracy": 0.5})
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == 0.5


def test_failed_run_leaves_nothing(tmp_path):
    out = tmp_path / "run2"
    with pytest.raises(RuntimeError):
        with run_directory("demo", {}, out=out) as run:
            run.file("partial.txt").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _make_run(out, **metrics):
    with run_directory("demo", {}, out=out) as run:
        run.add_metrics(metrics)
    return out


def test_existing_out_needs_overwrite(tmp_path):
    out = _make_run(tmp_path / "run3", old=1)
    (out / "old.txt").write_text("old")
    with pytest.raises(ConfigError, match="already exists"):
        with run_directory("demo", {}, out=out):
            pass
    with run_directory("demo", {}, out=out, overwrite=True) as run:
        run.add_metrics({"new": 2})
    assert not (out / "old.txt").exists() and (out / "report.html").exists()
    assert json.loads((out / "metrics.json").read_text()) == {"new": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run3"]  # no aside or staging folder left


def _tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_inputs(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probs.npy").write_bytes(bytes(range(256)) * 4)
    (folder / "labels.csv").write_text("label\n0\n1\n")
    return folder


@pytest.fixture()
def in_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    _write_inputs(work)
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize("out", [".", "./", "..", "{work}", "{parent}"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_out_is_never_the_current_folder_or_a_parent(in_folder, out, overwrite):
    before = _tree(in_folder.parent)
    out = out.format(work=in_folder, parent=in_folder.parent)
    with pytest.raises(ConfigError, match="current folder or one of its parents") as info:
        with run_directory("robust longtail", {"probs": "probs.npy"}, out=out, overwrite=overwrite):
            raise AssertionError("no work may start")
    assert "\n" not in str(info.value)
    assert _tree(in_folder.parent) == before


@pytest.mark.parametrize("overwrite", [False, True])
def test_out_never_holds_an_input_named_in_the_config(tmp_path, overwrite):
    data = _write_inputs(tmp_path / "data")
    before = _tree(tmp_path)
    config = {"probs": str(data / "probs.npy"), "labels": str(data / "labels.csv"), "ratio": 0.5, "model": "tiny"}
    with pytest.raises(ConfigError, match="holds the input .*probs.npy"):
        with run_directory("robust longtail", config, out=data, overwrite=overwrite):
            raise AssertionError("no work may start")
    with pytest.raises(ConfigError, match="holds the input"):
        with run_directory("robust longtail", config, out=tmp_path, overwrite=overwrite):
            raise AssertionError("no work may start")
    assert _tree(tmp_path) == before


def test_out_never_holds_an_explicit_input_or_a_nested_config_value(tmp_path):
    from dataclasses import dataclass, field

    data = _write_inputs(tmp_path / "data")

    @dataclass
    class Config:
        files: list = field(default_factory=lambda: [str(data / "labels.csv")])
        seed: int = 0

    with pytest.raises(ConfigError, match="holds the input"):
        with run_directory("demo", Config(), out=data):
            pass
    with pytest.raises(ConfigError, match="holds the input"):
        with run_directory("demo", {}, out=tmp_path, inputs=[data / "probs.npy"]):
            pass
    # An output folder beside the inputs (or inside an input folder) is fine.
    with run_directory("demo", Config(), out=data / "run", inputs=[data / "probs.npy"]):
        pass
    assert (data / "run" / "report.html").exists()


@pytest.mark.parametrize("marker", [None, "config.yaml", "metrics.json"])
def test_overwrite_replaces_only_a_run_folder(tmp_path, marker):
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("my own notes")
    if marker:
        (out / marker).write_text("{}")
    before = _tree(tmp_path)
    with pytest.raises(ConfigError, match="not a reliant run folder") as info:
        with run_directory("demo", {}, out=out, overwrite=True):
            raise AssertionError("no work may start")
    assert "\n" not in str(info.value)
    assert _tree(tmp_path) == before


def test_overwrite_refuses_a_file(tmp_path):
    target = tmp_path / "out"
    target.write_text("x")
    with pytest.raises(ConfigError, match="existing file"):
        with run_directory("demo", {}, out=target, overwrite=True):
            pass
    assert target.read_text() == "x"


def test_failed_overwrite_keeps_the_old_run(tmp_path):
    out = _make_run(tmp_path / "run", kept=1)
    before = _tree(out)
    with pytest.raises(RuntimeError):
        with run_directory("demo", {}, out=out, overwrite=True):
            raise RuntimeError("boom")
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_replacing_moves_the_old_run_aside_before_deleting_it(tmp_path, monkeypatch):
    import os

    from reliant.core import rundir

    out = _make_run(tmp_path / "run", kept=1)
    before = _tree(out)
    calls = []
    real_replace = os.replace

    def failing_replace(src, dst):
        calls.append((os.fspath(src), os.fspath(dst)))
        if len(calls) == 2:  # the old run is aside, the new one fails to move in
            raise OSError("disk trouble")
        return real_replace(src, dst)

    monkeypatch.setattr(rundir.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk trouble"):
        with run_directory("demo", {}, out=out, overwrite=True):
            pass
    monkeypatch.setattr(rundir.os, "replace", real_replace)
    assert _tree(out) == before  # restored from aside
    assert ".replaced-" in calls[0][1]


def test_cli_longtail_out_dot_overwrite_keeps_every_input_byte(in_folder, capsys):
    """The reported accident: ``--out . --overwrite`` in the folder holding the inputs."""
    import numpy as np

    from tests.cli_runner import run_main as run_cli

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=30)
    np.save(in_folder / "probs.npy", probs)
    np.save(in_folder / "labels.npy", rng.integers(0, 3, size=30))
    before = _tree(in_folder)
    for out in (".", str(in_folder), ".."):
        code = run_cli(["robust", "longtail", "--probs", "probs.npy", "--labels", "labels.npy", "--out", out, "--overwrite"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1 and "current folder" in err
    assert _tree(in_folder) == before


def test_default_location_under_root(tmp_path):
    with run_directory("unlearn run", {}, root=tmp_path) as run:
        pass
    assert run.path.parent == tmp_path and run.path.name.endswith("-unlearn-run")


def test_headlines_grouped_with_baseline_and_direction(tmp_path):
    out = tmp_path / "run"
    with run_directory("demo", {}, out=out) as run:
        run.add_headline("plain", 3)
        run.add_headline("forget ROUGE-L", 0.1, group="FLAT", baseline=0.9, baseline_label="before", better="lower")
        run.add_headline("utility", 0.4, group="FLAT", baseline=0.5, baseline_label="GA", better="higher")
        run.add_headline("steps", 12, group="Training")
        with pytest.raises(ValueError, match="better"):
            run.add_headline("x", 1, better="up")
        fig, ax = new_figure()
        ax.plot([0, 1], [1, 0])
        run.add_figure("A line", fig, caption="the line should fall")
    assert [g for g, _ in run.headline_groups()] == [None, "FLAT", "Training"]
    cards = {c["label"]: c for c in run.headline}
    assert cards["forget ROUGE-L"]["verdict"] == "better" and cards["utility"]["verdict"] == "worse"
    assert cards["plain"]["baseline"] is None and cards["plain"]["verdict"] is None
    html = (out / "report.html").read_text()
    assert html.index("FLAT") < html.index("forget ROUGE-L") < html.index("Training")
    assert "vs 0.9 (before)" in html and "vs 0.5 (GA)" in html
    assert "lower is better" in html and "higher is better" in html
    assert "<figcaption>" in html and "the line should fall" in html


@pytest.mark.parametrize(
    "value, text", [(3, "3"), (12345, "12,345"), (0.5, "0.5"), (0.123456, "0.1235"), (1e-7, "1.000e-07"), (float("nan"), "–"), (True, "True")]
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_add_image_embeds_the_png_bytes_unchanged(tmp_path):
    import base64

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    with run_directory("demo", {}, out=tmp_path / "img") as run:
        run.add_image("Drawn elsewhere", png, caption="a screenshot")
    html = (tmp_path / "img" / "report.html").read_text()
    assert base64.b64encode(png).decode() in html
    assert "Drawn elsewhere" in html and "a screenshot" in html
