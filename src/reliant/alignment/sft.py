"""LoRA supervised fine-tuning on TRL: the only module of reliant that imports ``trl``.

:func:`sft_config` turns the command's ``sft`` section into a ``trl.SFTConfig`` (TRL's own
defaults stand for everything the section does not set); :func:`fine_tune` trains fresh LoRA
adapters (peft) with ``trl.SFTTrainer`` on prompt/completion pairs, the loss on the completion
only. Prompts are the house question format (:func:`reliant.core.prompts.question_prompt`: the
model's chat template when it has one), so the model is trained on exactly the prompts every
evaluation asks it. Multi-GPU runs go through ``accelerate launch`` as TRL supports.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliant.alignment.config import SFTSettings
from reliant.alignment.inputs import Sample
from reliant.core.prompts import join_prompt_answer, question_prompt

__all__ = ["SFTResult", "fine_tune", "lora_config", "sft_config", "sft_dataset"]


@dataclass
class SFTResult:
    """What one fine-tuning did."""

    steps: int
    seconds: float
    tokens: int  # trained tokens (prompt and completion, no padding)
    losses: list[float]

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


def sft_config(settings: SFTSettings, output_dir: str | Path, *, seed: int, device: str = "auto") -> Any:
    """``trl.SFTConfig`` of one round: the section's fields, nothing saved or reported."""
    import torch
    from trl import SFTConfig  # deliberately lazy: heavy import (start-up time)

    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    bf16 = not on_cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        warmup_steps=float(settings.warmup_ratio),  # a float in [0, 1) is a ratio of the steps
        lr_scheduler_type="linear",
        max_length=settings.max_length,
        completion_only_loss=True,
        packing=False,
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=on_cpu,
        bf16=bf16,
    )


def lora_config(settings: SFTSettings, model: Any) -> Any:
    """peft ``LoraConfig`` on the model's attention projections (as :mod:`reliant.core.models` picks them)."""
    from peft import LoraConfig

    from reliant.core.models import _lora_targets

    targets = _lora_targets(model)
    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM", fan_in_fan_out=targets == ["c_attn"])


def sft_dataset(tokenizer: Any, samples: Sequence[Sample]) -> Any:
    """A ``datasets.Dataset`` of ``prompt`` / ``completion`` texts joined by the house rule
    (:func:`reliant.core.prompts.join_prompt_answer`); TRL appends EOS to each completion."""
    from datasets import Dataset

    rows = []
    for sample in samples:
        prompt = question_prompt(tokenizer, sample.prompt)
        rows.append({"prompt": prompt, "completion": join_prompt_answer(prompt, sample.response)[len(prompt):]})
    return Dataset.from_list(rows)


def _progress_callback(bar: Any) -> Any:
    from transformers import TrainerCallback

    class AdvanceBar(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                bar.advance(0, status=f"loss {logs['loss']:.3f}")

        def on_step_end(self, args, state, control, **kwargs):
            bar.advance()

    return AdvanceBar()


def fine_tune(
    model: Any, tokenizer: Any, samples: Sequence[Sample], settings: SFTSettings, work_dir: str | Path, *,
    seed: int, device: str = "auto", description: str = "fine-tuning",
) -> tuple[Any, SFTResult]:
    """Train fresh LoRA adapters on ``model`` over ``samples``; returns the peft model (in eval
    mode) and what the training did."""
    import math

    import datasets
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTTrainer  # deliberately lazy: heavy import (start-up time)

    from reliant.core.progress import progress_bar

    # One bar per task (ours): no dataset-map bars, no printed log dicts from the trainer.
    datasets.disable_progress_bars()

    config = sft_config(settings, work_dir, seed=seed, device=device)
    dataset = sft_dataset(tokenizer, samples)
    steps = settings.epochs * math.ceil(math.ceil(len(samples) / settings.batch_size) / settings.grad_accum)
    with progress_bar(description, total=steps) as bar:
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=lora_config(settings, model), callbacks=[_progress_callback(bar)])
        for callback in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(callback)
        tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) * settings.epochs
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    trained = trainer.model
    trained.eval()
    return trained, SFTResult(steps=trainer.state.global_step, seconds=seconds, tokens=tokens, losses=losses)
