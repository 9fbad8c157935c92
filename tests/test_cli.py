"""The command line as a user meets it: help, version, and one-line errors with exit code 2."""

import subprocess
import sys

import pytest


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


# --------------------------------------------------------------------------- start-up and laziness

HEAVY = ("torch", "transformers", "matplotlib", "pandas", "sklearn", "datasets")


def _modules_after(code):
    """The heavy modules (and capability CLIs) loaded after running ``code`` in a fresh interpreter."""
    probe = (
        "import sys\n"
        f"{code}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in HEAVY or (m.endswith('.cli') and m != 'reliant.cli')]\n"
        "print('LOADED:' + ','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{probe}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("LOADED:")]
    return [m for m in line.removeprefix("LOADED:").split(",") if m]


def test_importing_the_cli_imports_nothing_heavy():
    assert _modules_after("import reliant.cli") == []


def test_root_help_imports_no_group():
    code = "from reliant.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert _modules_after(code) == []


def test_core_modules_command_modules_import_are_light():
    code = "import reliant.core.plotting, reliant.core.seeding, reliant.core.progress, reliant.core.prompts, reliant.core.llm"
    assert _modules_after(code) == []


def test_every_listed_group_loads_under_its_name():
    from reliant.capabilities import COMMANDS
    from reliant.cli import load_command

    for command in COMMANDS:
        assert load_command(command.name).name == command.name


def test_group_help_lists_its_commands():
    result = run_cli("demo", "--help")
    assert result.returncode == 0 and "Usage" in result.stdout and "--seed" in result.stdout
    assert result.stderr == ""


# --------------------------------------------------------------------------- one-line errors and interrupts


def _one_line(args, capsys):
    from tests.cli_runner import run_main

    code = run_main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return code, lines[0]


def test_usage_errors_are_one_line_exit_2(capsys, tmp_path):
    cases = [
        (["--bogus"], "No such option"),  # click words the rest differently across versions
        (["demo", "--bogus"], "No such option"),
        (["nosuch"], "No such command 'nosuch'"),
        (["dem"], "Did you mean 'demo'?"),
        (["demo", "--seed", "abc", "--out", str(tmp_path / "o")], "'--seed'"),
        (["demo", "--stages"], "'--stages' requires an argument"),
    ]
    for args, expected in cases:
        code, line = _one_line(args, capsys)
        assert code == 2, (args, line)
        assert line.startswith("error: ") and expected in line, (args, line)
        assert "--bogus" in line or "--bogus" not in args, (args, line)
        assert "╭" not in line and "Usage:" not in line
    assert not (tmp_path / "o").exists()


class StepInterrupt(KeyboardInterrupt):
    """Like the trainer's interrupt: a KeyboardInterrupt whose text says how to continue."""


def test_interrupt_with_a_message_is_one_line_exit_130(capsys, monkeypatch, tmp_path):
    import reliant.demo

    message = "interrupted at step 40; checkpoint saved in X; continue with: reliant demo --resume X"

    def interrupted(*args, **kwargs):
        raise StepInterrupt(message)

    monkeypatch.setattr(reliant.demo, "run_demo", interrupted)
    code, line = _one_line(["demo", "--out", str(tmp_path / "o")], capsys)
    assert code == 130
    assert line == f"interrupted: {message}"


def test_bare_interrupt_is_one_word_exit_130(capsys, monkeypatch, tmp_path):
    import reliant.demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reliant.demo, "run_demo", interrupted)
    code, line = _one_line(["demo", "--out", str(tmp_path / "o")], capsys)
    assert (code, line) == (130, "interrupted")


def test_python_dash_m_reliant_cli_works():
    result = subprocess.run([sys.executable, "-m", "reliant.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("reliant ")


@pytest.mark.slow
def test_sigterm_unwinds_like_ctrl_c_and_leaves_no_staging_folder(tmp_path):
    """A ``kill`` (a job scheduler's stop) mid-run: one line, exit 130, no half-written run
    folder and no hidden ``.<name>.*.partial`` staging copy left behind."""
    import os
    import signal
    import time
    from pathlib import Path

    exe = Path(sys.executable).with_name("reliant")
    out = tmp_path / "bench"
    env = {**os.environ, "RELIANT_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(exe), "unlearn", "bench", "--split", "forget01", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".bench.*.partial")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert list(tmp_path.glob(".bench.*.partial")), "the run never started its staging folder"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted"), err
    assert not list(tmp_path.glob(".bench.*")) and not out.exists()
