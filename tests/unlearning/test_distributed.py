"""Several processes for real: ``torchrun --nproc_per_node 2`` with ``ACCELERATE_USE_CPU=1``
(accelerate's MULTI_CPU state, gloo) splits the forget data and averages gradients, so 2
processes of batch B end on the weights 1 process of batch 2B ends on.

FLAT (paper reduction) averages per-sequence terms, GA a token mean of the forget NLL, NPO a
per-sequence forget term plus a token-mean retain NLL (each process keeps its slice of the
global retain draw) and holds a frozen reference copy. Token means are the global batch's
(``losses.token_means_over_processes``): without that, 2 processes averaged 2 shard token
means and NPO's loss differed by 2.7e-4 relative at step 0 and 0.5 % by step 8. RMU, whose
loss stops at one layer, is refused under several processes (DDP needs every parameter in
the loss).
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
METHODS = ["flat", "ga", "npo"]


def _one_process(model_dir, out, batch_size):
    spec = importlib.util.spec_from_file_location("distributed_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.train(str(model_dir), str(out), batch_size, METHODS)


@pytest.mark.slow
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
        assert double["losses"] == pytest.approx(single["losses"], rel=1e-5, abs=1e-6), method
        weights_one = torch.load(one / f"{method}.pt", weights_only=True)
        weights_two = torch.load(two / f"{method}.pt", weights_only=True)
        for name, value in weights_one.items():
            torch.testing.assert_close(weights_two[name], value, rtol=1e-4, atol=1e-5, msg=f"{method}: {name}")


def _shard_token_means(rank, world, port, logits, labels, out):
    import torch.distributed as dist

    from reliant.unlearning import losses

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        rows = slice(rank * 2, rank * 2 + 2)
        with losses.token_means_over_processes(world):
            value = losses.token_mean_nll(logits[rows], labels[rows])
        dist.all_reduce(value)
        if rank == 0:
            torch.save(value / world, out)
    finally:
        dist.destroy_process_group()


def test_token_means_over_two_processes_equal_the_global_token_mean(tmp_path):
    """The shards hold 3 answer tokens and 11: the mean of the two shard token means would weight a
    token of the short shard 3.7x more; inside token_means_over_processes it is the global mean."""
    import torch.multiprocessing as mp

    from reliant.unlearning import losses

    torch.manual_seed(0)
    logits = torch.randn(4, 7, 11)
    labels = torch.full((4, 7), losses.IGNORE_INDEX)
    labels[0, 5:] = 3
    labels[1, 6:] = 4  # shard 0: 3 answer tokens, shard 1: 11
    labels[2, 1:] = 5
    labels[3, 2:] = 6
    out = tmp_path / "value.pt"
    mp.spawn(_shard_token_means, args=(2, 29531, logits, labels, str(out)), nprocs=2, join=True)
    averaged = torch.load(out)
    global_mean = losses.token_mean_nll(logits, labels)
    naive = (losses.token_mean_nll(logits[:2], labels[:2]) + losses.token_mean_nll(logits[2:], labels[2:])) / 2
    assert abs(float(naive - global_mean)) > 1e-2  # the shards really are unequal
    torch.testing.assert_close(averaged, global_mean, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_unlearn_run_under_two_processes_writes_one_run_folder(small_lm_dir, tmp_path):
    """`reliant unlearn run` under torchrun: both processes train, only the main one writes the
    run folder (and nothing else appears beside it)."""
    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.core.data import save_records

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torch's launcher (torchrun) is not installed")
    forget, retain = split_forget_retain(builtin_qa(n_people=10), 0.2)
    data = tmp_path / "data"
    data.mkdir()
    save_records(forget, data / "forget.jsonl")
    save_records(retain, data / "retain.jsonl")
    runs = tmp_path / "runs"
    runs.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RELIANT_PROGRESS": "0", "CUDA_VISIBLE_DEVICES": "",
           "ACCELERATE_USE_CPU": "1"}
    command = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29523", "-m", "reliant",
               "unlearn", "run", "--method", "npo", "--model", str(small_lm_dir),
               "--forget", str(data / "forget.jsonl"), "--retain", str(data / "retain.jsonl"),
               "--epochs", "1", "--batch-size", "2", "--out", str(runs / "npo")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in runs.iterdir()] == ["npo"]
    metrics = json.loads((runs / "npo" / "metrics.json").read_text())
    assert metrics["steps"] == 4  # 16 forget pairs, a global batch of 2 x 2
