"""The command line as a user meets it: help, version, and one-line errors with exit code 2."""

import subprocess
import sys


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "reliant", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_help_lists_groups():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("reliant ")


def test_missing_config_is_one_line_exit_2(tmp_path):
    result = run_cli("demo", "--config", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "missing.yaml" in lines[0] and "config file not found" in lines[0]
    assert not (tmp_path / "o").exists()


def test_unknown_config_option_exit_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("not_an_option: 3\n")
    result = run_cli("demo", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "field 'not_an_option'" in result.stderr
    assert "Traceback" not in result.stderr
