"""Trains unlearning methods on the test tiny LM and saves the weights (rank 0 only).

Run directly (one process) or under ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node N``; used by
``test_distributed.py`` to check that N processes of batch B end on the weights one process of
batch N*B ends on.

    python distributed_worker.py MODEL_DIR OUT_DIR BATCH_SIZE METHOD[,METHOD...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def train(model_dir: str, out_dir: str, batch_size: int, methods: list[str]) -> None:
    import torch
    from accelerate import PartialState

    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.core.models import load_causal_lm
    from reliant.unlearning.api import load_templates
    from reliant.unlearning.trainer import UnlearnData, UnlearnSettings, pair_templates, unlearn_model

    torch.set_num_threads(1)
    forget, retain = split_forget_retain(builtin_qa(n_people=10), 0.2)
    forget_pairs = [(r["question"], r["answer"]) for r in forget]
    data = UnlearnData(
        forget=forget_pairs,
        templates=pair_templates(len(forget_pairs), load_templates(), 0),
        retain=[(r["question"], r["answer"]) for r in retain],
    )
    out = Path(out_dir)
    for method in methods:
        model, tokenizer = load_causal_lm(model_dir, device="cpu")
        settings = UnlearnSettings(method=method, epochs=2, lr=5e-4, batch_size=batch_size, template_draw="once")
        result = unlearn_model(model, tokenizer, data, settings)
        if PartialState().is_main_process:
            torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out / f"{method}.pt")
            (out / f"{method}.json").write_text(json.dumps({
                "steps": result.steps, "losses": [h["loss"] for h in result.history],
                "processes": PartialState().num_processes,
            }))
    # Leave together and tear the gloo group down before the interpreter exits: a rank that exits
    # with the group alive can abort in gloo's threads ("terminate called without an active
    # exception", SIGABRT), seen once in CI.
    PartialState().wait_for_everyone()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    train(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","))
