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


def test_failed_run_leaves_nothing(tmp_path):
    out = tmp_path / "run2"
    with pytest.raises(RuntimeError):
        with run_directory("demo", {}, out=out) as run:
            run.file("partial.txt").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_out_needs_overwrite(tmp_path):
    out = tmp_path / "run3"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(ConfigError, match="already exists"):
        with run_directory("demo", {}, out=out):
            pass
    with run_directory("demo", {}, out=out, overwrite=True):
        pass
    assert not (out / "old.txt").exists() and (out / "report.html").exists()


def test_default_location_under_root(tmp_path):
    with run_directory("unlearn run", {}, root=tmp_path) as run:
        pass
    assert run.path.parent == tmp_path and run.path.name.endswith("-unlearn-run")


@pytest.mark.parametrize(
    "value, text", [(3, "3"), (12345, "12,345"), (0.5, "0.5"), (0.123456, "0.1235"), (1e-7, "1.000e-07"), (float("nan"), "–"), (True, "True")]
)
def test_format_number(value, text):
    assert format_number(value) == text
