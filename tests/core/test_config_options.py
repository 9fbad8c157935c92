"""Options declared once: constraints, nested sections, lists and the generated CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
import typer
from typer.testing import CliRunner

from reliant.core.cli_common import command, command_group
from reliant.core.config import config_to_dict, option, option_specs, replace_config, resolve_config, seed_option
from reliant.core.errors import ConfigError


@dataclass
class Train:
    lr: float = option(1e-4, "Learning rate.", gt=0)
    epochs: int = option(5, "Epochs.", min=1)


@dataclass
class Job:
    """Run a job."""

    data: Optional[Path] = option(None, "Input file.", required=True, path="file")
    method: str = option("flat", "Method.", choices=["flat", "ga"])
    deltas: list[float] = option([0.1, 0.5], "Radii.", min=0)
    names: list[str] = option([], "Names.")
    ratio: float = option(0.5, "A share.", min=0, max=1)
    compile: bool = option(False, "Compile.")
    train: Train = field(default_factory=Train)
    seed: int = seed_option()


@pytest.fixture()
def data(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("x")
    return target


def test_nested_sections_from_yaml_nested_dotted_and_flags(tmp_path, data):
    nested = tmp_path / "n.yaml"
    nested.write_text(f"data: {data}\ntrain:\n  lr: 0.5\n")
    dotted = tmp_path / "d.yaml"
    dotted.write_text(f"data: {data}\ntrain.epochs: 7\nlr: 0.25\n")
    assert resolve_config(Job, nested).train == Train(lr=0.5, epochs=5)
    assert resolve_config(Job, dotted).train == Train(lr=0.25, epochs=7)
    assert resolve_config(Job, nested, epochs=2, train__lr=0.1).train == Train(lr=0.1, epochs=2)
    assert config_to_dict(resolve_config(Job, nested))["train"] == {"lr": 0.5, "epochs": 5}


@pytest.mark.parametrize(
    "flags, needle",
    [
        ({"lr": float("nan")}, "field 'train.lr': must be a finite number"),
        ({"lr": float("inf")}, "finite"),
        ({"lr": 0.0}, "must be a finite number > 0"),
        ({"epochs": 0}, "must be a finite number >= 1"),
        ({"ratio": 1.5}, "must be in [0, 1]"),
        ({"method": "bogus"}, "unknown value 'bogus' (choose from: flat, ga)"),
        ({"deltas": "0.1,x"}, "expected a list of float"),
        ({"deltas": "0.1,-1"}, ">= 0"),
        ({"seed": -1}, "field 'seed': must be in [0, 4294967295]"),
        ({"seed": 2**70}, "field 'seed': must be in [0, 4294967295]"),
    ],
)
def test_declared_constraints(data, flags, needle):
    with pytest.raises(ConfigError) as info:
        resolve_config(Job, data=str(data), **flags)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)  # Python users catch it the usual way


def test_required_and_paths(tmp_path, data):
    with pytest.raises(ConfigError, match="--data is required"):
        resolve_config(Job)
    with pytest.raises(ConfigError, match="no such file"):
        resolve_config(Job, data=str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="is a folder"):
        resolve_config(Job, data=str(tmp_path))
    # A wrong value the user gave is reported before a missing required one.
    with pytest.raises(ConfigError, match="seed"):
        resolve_config(Job, seed=-3)


def test_lists_from_text_and_yaml(tmp_path, data):
    assert resolve_config(Job, data=str(data), deltas="0,0.5, 2").deltas == [0.0, 0.5, 2.0]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {data}\ndeltas: [1, 2]\nnames: a,b\n")
    resolved = resolve_config(Job, cfg)
    assert resolved.deltas == [1.0, 2.0] and resolved.names == ["a", "b"]
    assert Job.__dataclass_fields__["deltas"].default_factory() == [0.1, 0.5]


def test_binary_and_undecodable_config_files(tmp_path, data):
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\xff" * 10)
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"seed: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError, match="binary"):
        resolve_config(Job, binary)
    with pytest.raises(ConfigError) as info:
        resolve_config(Job, latin)
    assert f"{latin}:2" in str(info.value) and "UTF-8" in str(info.value)
    with pytest.raises(ConfigError, match="folder"):
        resolve_config(Job, tmp_path)


def test_replace_config_revalidates(data):
    resolved = resolve_config(Job, data=str(data))
    assert replace_config(resolved, lr=0.3).train.lr == 0.3
    with pytest.raises(ConfigError):
        replace_config(resolved, lr=-1.0)


@dataclass
class Inner:
    seed: int = 0


@dataclass
class Outer:
    seed: int = 0
    inner: Inner = field(default_factory=Inner)


def test_flag_collisions_are_a_definition_error():
    with pytest.raises(TypeError, match="--seed"):
        option_specs(Outer)


def _app(handler):
    app = typer.Typer()
    group = command_group("Jobs.")
    command(group, "run", Job, handler, example="reliant jobs run --data a.txt")
    app.add_typer(group, name="jobs")
    return app


def test_generated_command_help_flags_and_values(data):
    seen = {}

    def handler(config, out, overwrite):
        seen["config"], seen["out"], seen["overwrite"] = config, out, overwrite
        return ["done"]

    runner = CliRunner()
    raw = runner.invoke(_app(handler), ["jobs", "run", "--help"]).output
    help_text = " ".join(raw.replace("│", " ").split())  # undo rich's wrapping
    for needle in ("--data", "Required.", "--method", "One of: flat, ga.", "(default: flat)", "--lr", "(> 0)",
                   "--no-compile", "--deltas", "Comma-separated.", "--seed", "--config", "--out", "--overwrite",
                   "Example:", "reliant jobs run --data a.txt"):
        assert needle in help_text, needle
    result = runner.invoke(_app(handler), ["jobs", "run", "--data", str(data), "--lr", "0.5", "--deltas", "1,2",
                                           "--compile", "--seed", "9", "--out", "somewhere"])
    assert result.exit_code == 0, result.output
    assert seen["config"].train.lr == 0.5 and seen["config"].deltas == [1.0, 2.0] and seen["config"].compile
    assert seen["config"].seed == 9 and seen["out"] == Path("somewhere") and seen["overwrite"] is False
    assert "done" in result.output


def test_generated_command_validates_before_the_handler_is_imported(data):
    runner = CliRunner()
    result = runner.invoke(_app("no.such.module:handler"), ["jobs", "run", "--data", str(data), "--lr", "nan"])
    assert isinstance(result.exception, ConfigError) and "finite" in str(result.exception)
