"""Several processes for real: ``torchrun --nproc_per_node 2`` with ``ACCELERATE_USE_CPU=1``
(accelerate's MULTI_CPU state, gloo) splits the
forget data and averages gradients, so 2 processes of batch B end on the weights 1 process of
batch 2B ends on.

FLAT (paper reduction) and NPO average per-sequence terms over the batch, so the two runs
compute the same gradient up to float rounding; NPO also draws retain rows (each process keeps
its slice of the global draw) and holds a frozen reference copy. RMU, whose loss stops at one
layer, is refused under several processes (DDP needs every parameter in the loss).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("distributed_worker.py")
METHODS = ["flat", "npo"]


def _one_process(model_dir, out, batch_size):
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.train(str(model_dir), str(out), batch_size, METHODS)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "open (issue 16): 2 real CPU processes (torchrun + ACCELERATE_USE_CPU=1) reach 8 steps like 1 process, "
    "but FLAT's logged loss differs by 2.7e-4 relative at step 0 and 0.5 % by step 8; not yet explained"))
def test_two_cpu_processes_equal_one_process_with_the_same_global_batch(small_lm_dir, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torch's launcher (torchrun) is not installed")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _one_process(small_lm_dir, one, batch_size=4)
    # `accelerate launch --cpu` starts ONE process whatever --num_processes says (accelerate 1.15's
    # simple launcher), and `--multi_gpu` resets ACCELERATE_USE_CPU, so on a machine without GPUs
    # accelerate would see 2 unrelated single processes. torchrun (what --multi_gpu runs) with
    # ACCELERATE_USE_CPU=1 gives accelerate's MULTI_CPU state over gloo: 2 processes for real.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RELIANT_PROGRESS": "0", "CUDA_VISIBLE_DEVICES": "",
           "ACCELERATE_USE_CPU": "1"}
    command = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29517",
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
