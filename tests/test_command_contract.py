"""The contract every command keeps, checked over every command of every group.

A new command is covered the moment it is registered: its ``--help`` works and ends with a
runnable example, every field of its config dataclass is a flag, and the bad inputs every
command shares (config file, seed, parser errors) exit 2 with one line on stderr, leaving no
run folder behind.
"""

from __future__ import annotations

import pytest

from reliant.core.config import option_specs
from tests.cli_runner import run_main


def _root():
    import typer

    from reliant.cli import app

    return typer.main.get_command(app)  # type: ignore[return-value]


def _leaf_commands() -> list[tuple[tuple[str, ...], object]]:
    root = _root()
    found: list[tuple[tuple[str, ...], object]] = []

    def walk(group, prefix: tuple[str, ...]) -> None:
        ctx = group.context_class(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if cmd is None:
                continue
            if hasattr(cmd, "list_commands"):  # a group (typer vendors its own click)
                walk(cmd, (*prefix, name))
            else:
                found.append(((*prefix, name), cmd))

    walk(root, ())
    return found


COMMANDS = _leaf_commands()
IDS = [" ".join(path) for path, _ in COMMANDS]


def _config_cls(cmd):
    callback = cmd.callback
    while callback is not None and not hasattr(callback, "config_cls"):
        callback = getattr(callback, "__wrapped__", None)
    return getattr(callback, "config_cls", None)


def _flags(cmd) -> set[str]:
    return {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}


def test_every_capability_group_is_found():
    groups = {path[0] for path, _ in COMMANDS}
    assert {"unlearn", "curate", "hallucination", "memorization", "robust", "collab", "demo", "align", "construct", "federated"} <= groups


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=IDS)
def test_help_shows_an_example(path, cmd, capsys):
    assert run_main([*path, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())  # undo rich's wrapping
    assert "Example:" in out and "reliant " + " ".join(path) in out, out


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=IDS)
def test_every_config_field_is_a_flag(path, cmd):
    config_cls = _config_cls(cmd)
    assert config_cls is not None, f"reliant {' '.join(path)} is not built with core.cli_common.command"
    flags = _flags(cmd)
    missing = [spec.flag for spec in option_specs(config_cls) if spec.on_cli and spec.flag not in flags]
    assert not missing, missing
    assert "--config" in flags


def _bad_config_files(folder):
    files = {
        "missing": (folder / "nope.yaml", "config file not found"),
        "folder": (folder, "folder"),
        "binary": (folder / "binary.yaml", "binary"),
        "not utf-8": (folder / "latin1.yaml", "UTF-8"),
        "bad yaml": (folder / "bad.yaml", "invalid YAML"),
        "not a mapping": (folder / "list.yaml", "mapping"),
        "unknown key": (folder / "unknown.yaml", "unknown option"),
    }
    (folder / "binary.yaml").write_bytes(b"\x00\x01\x02\xff" * 64)
    (folder / "latin1.yaml").write_bytes("seed: 1 # caf\xe9\n".encode("latin-1"))
    (folder / "bad.yaml").write_text("seed: [unclosed\n")
    (folder / "list.yaml").write_text("- a\n- b\n")
    (folder / "unknown.yaml").write_text("nonsense_option_xyz: 1\n")
    return files


def _assert_one_line_exit_2(args, capsys, expected, folder):
    code = run_main(args)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.strip().splitlines() if line.strip()]
    assert code == 2, (args, captured.err, captured.out)
    assert len(lines) == 1, captured.err
    assert expected.lower() in lines[0].lower(), lines[0]
    assert not (folder / "out").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=IDS)
def test_shared_bad_inputs_exit_2_with_one_line(path, cmd, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")] if "--out" in _flags(cmd) else []
    for case, (config, expected) in _bad_config_files(tmp_path).items():
        _assert_one_line_exit_2([*path, "--config", str(config), *out], capsys, expected, tmp_path)
    _assert_one_line_exit_2([*path, "--no-such-flag-xyz", *out], capsys, "no such option", tmp_path)
    if "--seed" in _flags(cmd):
        _assert_one_line_exit_2([*path, "--seed", "-1", *out], capsys, "seed", tmp_path)
        _assert_one_line_exit_2([*path, "--seed", str(2**70), *out], capsys, "seed", tmp_path)
        _assert_one_line_exit_2([*path, "--seed", "abc", *out], capsys, "seed", tmp_path)
