"""Several processes for real: ``accelerate launch --multi_gpu --num_processes 2`` (torchrun;
without GPUs accelerate runs the processes on CPU over gloo) splits the
forget data and averages gradients, so 2 processes of batch B end on the weights 1 process of
batch 2B ends on.

FLAT (paper reduction) and RMU average per-sequence terms over the batch, so the two runs
compute the same gradient up to float rounding; RMU also draws retain rows (each process keeps
its slice of the global draw) and holds a frozen reference copy with forward hooks.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")
METHODS = ["flat", "rmu"]


def _one_process(model_dir, out, batch_size):
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.train(str(model_dir), str(out), batch_size, METHODS)


@pytest.mark.slow
def test_two_cpu_processes_equal_one_process_with_the_same_global_batch(small_lm_dir, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.exists() and shutil.which("accelerate") is None:
        pytest.skip("accelerate's launcher is not installed")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _one_process(small_lm_dir, one, batch_size=4)
    # `accelerate launch --cpu` starts ONE process whatever --num_processes says (accelerate 1.15's
    # simple launcher); --multi_gpu goes through torchrun, and on a machine without GPUs (or with
    # CUDA hidden) the processes run on CPU over gloo.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RELIANT_PROGRESS": "0", "CUDA_VISIBLE_DEVICES": ""}
    command = [str(accelerate) if accelerate.exists() else "accelerate", "launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
               str(WORKER), str(small_lm_dir), str(two), "2", ",".join(METHODS)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for method in METHODS:
        single = json.loads((one / f"{method}.json").read_text())
        double = json.loads((two / f"{method}.json").read_text())
        assert double["processes"] == 2 and single["processes"] == 1
        # The data is split: 2 processes take as many steps as 1 process with the global batch.
        assert double["steps"] == single["steps"] == 8
        assert max(single["losses"]) - min(single["losses"]) > 1e-3  # it trained
        assert double["losses"] == pytest.approx(single["losses"], rel=1e-4, abs=1e-5)
        weights_one = torch.load(one / f"{method}.pt", weights_only=True)
        weights_two = torch.load(two / f"{method}.pt", weights_only=True)
        for name, value in weights_one.items():
            torch.testing.assert_close(weights_two[name], value, rtol=1e-4, atol=1e-5, msg=f"{method}: {name}")
