"""Checkpoints that survive Ctrl-C and SIGKILL and resume to the same weights."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from reliant.core.builtin_data import builtin_qa, split_forget_retain
from reliant.core.data import save_records
from reliant.core.errors import ConfigError
from reliant.core.models import load_causal_lm
from reliant.unlearning import api, checkpoints
from reliant.unlearning import trainer as trainer_module
from reliant.unlearning.trainer import TrainingInterrupted

FORGET, RETAIN = split_forget_retain(builtin_qa(n_people=10), 0.1)
KWARGS = dict(retain=RETAIN, epochs=3, lr=5e-4, batch_size=4, seed=3)  # 2 batches per epoch, 6 steps


def _max_diff(a, b) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _stop_at(monkeypatch, step_to_stop, exc=KeyboardInterrupt):
    real = trainer_module.unlearn_model

    def patched(*args, **kwargs):
        def on_step(step, record):
            if step == step_to_stop:
                raise exc()

        kwargs["on_step"] = on_step
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "unlearn_model", patched)
    return real


@pytest.fixture(scope="module")
def straight_runs(small_lm_dir):
    """The uninterrupted runs every resumed run must reproduce."""
    runs = {}
    for method in ("gd", "flat", "npo"):
        model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
        api.unlearn(model, tokenizer, FORGET, method=method, **KWARGS)
        runs[method] = model
    return runs


@pytest.mark.parametrize(("method", "stop_step"), [("gd", 3), ("flat", 3), ("npo", 5), ("gd", 2)])
def test_ctrl_c_mid_run_then_resume_reaches_the_uninterrupted_weights(
    small_lm_dir, straight_runs, tmp_path, monkeypatch, method, stop_step
):
    folder = tmp_path / "ckpt"
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    real = _stop_at(monkeypatch, stop_step)
    with pytest.raises(TrainingInterrupted) as info:
        api.unlearn(model, tokenizer, FORGET, method=method, checkpoint_dir=folder, checkpoint_every=1, **KWARGS)
    message = str(info.value)
    assert isinstance(info.value, KeyboardInterrupt)
    assert "\n" not in message and str(folder) in message and f"--resume {folder}" in message
    latest = json.loads((folder / "latest.json").read_text())
    assert latest["step"] == stop_step and latest["epoch_complete"] == (stop_step % 2 == 0)
    monkeypatch.setattr(api, "unlearn_model", real)

    fresh, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    result = api.unlearn(fresh, tokenizer, FORGET, method=method, checkpoint_dir=folder, resume=True, checkpoint_every=1, **KWARGS)
    assert result.steps == 6 and len(result.history) == 6 - stop_step
    original, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    assert _max_diff(straight_runs[method], original) > 1e-4  # the run really moved the weights
    assert _max_diff(fresh, straight_runs[method]) < 1e-6
    # The resumed run kept writing into the folder it resumed from.
    assert json.loads((folder / "latest.json").read_text())["step"] == 6
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp")]


def test_step_checkpoints_survive_a_crash_and_resume(small_lm_dir, straight_runs, tmp_path, monkeypatch):
    """A crash (or SIGKILL: nothing runs on the way out) keeps the last step checkpoint."""
    folder = tmp_path / "ckpt"
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    real = _stop_at(monkeypatch, 4, exc=lambda: RuntimeError("power cut"))
    with pytest.raises(RuntimeError, match="power cut"):
        api.unlearn(model, tokenizer, FORGET, method="gd", checkpoint_dir=folder, checkpoint_steps=1, **KWARGS)
    monkeypatch.setattr(api, "unlearn_model", real)
    latest = json.loads((folder / "latest.json").read_text())
    assert latest["step"] == 3  # step 4's save never happened
    assert len([p for p in folder.glob("step-*")]) == checkpoints.KEEP
    fresh, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    api.unlearn(fresh, tokenizer, FORGET, method="gd", checkpoint_dir=folder, checkpoint_steps=1, resume=True, **KWARGS)
    assert _max_diff(fresh, straight_runs["gd"]) < 1e-6


def test_state_is_plain_data_loadable_with_weights_only(small_lm_dir, tmp_path):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    api.unlearn(model, tokenizer, FORGET, method="ga", epochs=1, batch_size=4, checkpoint_dir=tmp_path, checkpoint_every=1)
    saved = checkpoints.find(tmp_path)
    state = torch.load(saved.path / "state.pt", weights_only=True)
    assert {"optimizer", "scheduler", "rng"} <= set(state)
    assert {"python", "numpy", "torch", "retain", "epoch_generator"} <= set(state["rng"])
    assert (saved.path / "model.safetensors").is_file()


def test_resume_needs_a_checkpoint(small_lm_dir, tmp_path):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    with pytest.raises(ConfigError, match="no checkpoint here") as info:
        api.unlearn(model, tokenizer, FORGET, method="ga", checkpoint_dir=tmp_path, resume=True)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="no such checkpoint folder"):
        api.unlearn(model, tokenizer, FORGET, method="ga", checkpoint_dir=tmp_path / "nope", resume=True)


def test_resume_with_other_settings_is_refused(small_lm_dir, tmp_path):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    api.unlearn(model, tokenizer, FORGET, method="ga", epochs=1, batch_size=4, checkpoint_dir=tmp_path, checkpoint_every=1)
    with pytest.raises(ConfigError, match="batch_size=4"):
        api.unlearn(model, tokenizer, FORGET, method="ga", epochs=1, batch_size=2, checkpoint_dir=tmp_path, resume=True)


# ----------------------------------------------------------------- command line


def _cli(args):
    from tests.cli_runner import run_main

    return run_main(args)


@pytest.fixture()
def qa_files(tmp_path):
    save_records(FORGET, tmp_path / "forget.jsonl")
    save_records(RETAIN, tmp_path / "retain.jsonl")
    return tmp_path


def test_cli_resume_without_checkpoint_exits_2_before_the_model_loads(qa_files, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not load")

    monkeypatch.setattr(api, "load_model", no_model)
    empty = qa_files / "empty"
    empty.mkdir()
    out = qa_files / "run"
    code = _cli(["unlearn", "run", "--method", "ga", "--forget", str(qa_files / "forget.jsonl"), "--resume", str(empty), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no checkpoint here" in err
    assert not out.exists()


@pytest.mark.parametrize(("flag", "value", "needle"), [
    ("--checkpoint-every", "-1", "checkpoint_every"), ("--lora-r", "-1", "lora_r"), ("--lr", "nan", "lr"),
    ("--epochs", "0", "epochs"), ("--checkpoint-steps", "-2", "checkpoint_steps"),
])
def test_cli_run_rejects_bad_numbers_before_the_model_loads(qa_files, capsys, monkeypatch, flag, value, needle):
    monkeypatch.setattr(api, "load_model", lambda *a, **k: (_ for _ in ()).throw(AssertionError("model loaded")))
    out = qa_files / "run"
    code = _cli(["unlearn", "run", "--method", "ga", "--forget", str(qa_files / "forget.jsonl"), flag, value, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err
    assert not out.exists()


def test_cli_interrupted_run_keeps_checkpoints_and_resume_command_finishes_it(small_lm_dir, qa_files, monkeypatch):
    import dataclasses

    from reliant.unlearning.config import RunConfig, UnlearnSettings
    from reliant.unlearning.workflows import run_unlearning

    out = qa_files / "run"
    config = RunConfig(
        model=str(small_lm_dir), forget=str(qa_files / "forget.jsonl"), retain=str(qa_files / "retain.jsonl"),
        checkpoint_every=1, train=UnlearnSettings(method="gd", epochs=2, lr=5e-4, batch_size=4, seed=1),
    )
    real = _stop_at(monkeypatch, 3)
    with pytest.raises(TrainingInterrupted) as info:
        run_unlearning(config, out, False)
    monkeypatch.setattr(api, "unlearn_model", real)
    folder = Path(str(out) + ".checkpoints")
    assert not out.exists() and not list(qa_files.glob(".run*"))  # the staged run folder is gone...
    assert (folder / "latest.json").is_file() and (folder / "run.yaml").is_file()  # ...the checkpoints are not
    command = str(info.value).split("continue with: ", 1)[1]
    assert command.startswith("reliant unlearn run ") and f"--resume {folder}" in command
    import shlex

    assert _cli(shlex.split(command)[1:]) == 0
    resumed, _ = load_causal_lm(str(out / "model"), device="cpu")
    assert json.loads((folder / "latest.json").read_text())["step"] == 4

    straight_out = qa_files / "straight"
    straight = dataclasses.replace(config, checkpoint_every=0)
    run_unlearning(straight, straight_out, False)
    expected, _ = load_causal_lm(str(straight_out / "model"), device="cpu")
    assert _max_diff(resumed, expected) < 1e-6


# ----------------------------------------------------------------- Ctrl-C latency

_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.core.models import load_causal_lm
    from reliant.unlearning import api
    forget, retain = split_forget_retain(builtin_qa(n_people=10), 0.1)
    marker = Path(sys.argv[2])
    model, tokenizer = load_causal_lm(sys.argv[1], device="cpu")
    def on_step(step, record):
        if step == 2:
            marker.write_text(str(time.time()))
    real = api.unlearn_model
    api.unlearn_model = lambda *a, **k: real(*a, **{**k, "on_step": on_step})
    try:
        api.unlearn(model, tokenizer, forget, method="gd", retain=retain, epochs=10000, batch_size=4,
                    checkpoint_dir=sys.argv[3], checkpoint_every=1000)
    except KeyboardInterrupt as exc:
        print(f"{time.time()}|{type(exc).__name__}|{exc}", flush=True)
        sys.exit(130)
    """
)


def test_ctrl_c_acts_within_two_seconds_and_saves(small_lm_dir, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    marker, folder = tmp_path / "started", tmp_path / "ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RELIANT_PROGRESS": "0"}
    # A user's shell starts the process with SIGINT at its default, whatever this test
    # process inherited from libraries that ran before it.
    proc = subprocess.Popen([sys.executable, str(script), str(small_lm_dir), str(marker), str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 240
        while not marker.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "training never started"
        time.sleep(0.5)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # the 2 s latency is asserted below; this only bounds teardown
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    acted, kind, message = out.strip().splitlines()[-1].split("|", 2)
    assert kind == "TrainingInterrupted" and str(folder) in message
    assert float(acted) - sent < 2.0
    assert (folder / "latest.json").is_file()
