"""One trainer for every unlearning method: FLAT, the standard baselines, and retain-only
fine-tuning (the "retrained" gold reference).

It is a plain accelerate loop, so ``accelerate launch`` runs any method on several GPUs
(DDP, DeepSpeed or FSDP from the accelerate config) and the same code runs on one CPU.
Methods that compare against the original model on the *forget* data (NPO, NPO+GD, IdkDPO)
do not keep that model in memory: its sequence log-probabilities on the fixed forget and
template answers are computed once before training and cached, which removes a whole
forward pass and a model's worth of memory per step. GA+KL needs the original model's full
next-token distribution on fresh retain batches, so it is the one method that holds it.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch.utils.data import DataLoader

from reliant.core.errors import ConfigError, DataError
from reliant.core.models import build_qa_batch
from reliant.core.progress import progress_bar
from reliant.core.prompts import qa_prompt
from reliant.unlearning import losses

# What each method needs besides the forget answers.
METHODS: dict[str, dict[str, bool]] = {
    "flat": {"template": True, "retain": False, "reference": False},
    "ga": {"template": False, "retain": False, "reference": False},
    "gd": {"template": False, "retain": True, "reference": False},
    "ga_kl": {"template": False, "retain": True, "reference": True},
    "npo": {"template": False, "retain": False, "reference": True},
    "npo_gd": {"template": False, "retain": True, "reference": True},
    "simnpo": {"template": False, "retain": False, "reference": False},
    "idkdpo": {"template": True, "retain": False, "reference": True},
    "retain_ft": {"template": False, "retain": True, "reference": False},
}

METHOD_LABELS = {
    "flat": "FLAT",
    "ga": "GA",
    "gd": "GD",
    "ga_kl": "GA+KL",
    "npo": "NPO",
    "npo_gd": "NPO+GD",
    "simnpo": "SimNPO",
    "idkdpo": "IdkDPO",
    "retain_ft": "Retain FT",
}


@dataclass
class UnlearnSettings:
    """Hyper-parameters of one unlearning run (the defaults suit the tiny built-in LM)."""

    method: str = "flat"
    divergence: str = "kl"
    reduction: str = "paper"
    epochs: int = 5
    lr: float = 1e-4
    batch_size: int = 8
    grad_accum: int = 1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 192
    beta: float = 0.1
    simnpo_gamma: float = 0.0
    retain_weight: float = 1.0
    forget_weight: float = 1.0
    seed: int = 0
    compile: bool = False
    checkpoint_every: int = 0

    def check(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r} (methods: {', '.join(METHODS)})", field="method")
        for name in ("epochs", "batch_size", "grad_accum", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError("must be at least 1", field=name)
        if self.lr <= 0:
            raise ConfigError("must be positive", field="lr")
        if self.divergence.lower() not in losses.FLAT_DIVERGENCES:
            raise ConfigError(
                f"unknown divergence {self.divergence!r} (choose {', '.join(losses.FLAT_DIVERGENCES)})", field="divergence"
            )
        if self.reduction.lower() not in losses.FLAT_REDUCTIONS:
            raise ConfigError(
                f"unknown reduction {self.reduction!r} (choose {', '.join(losses.FLAT_REDUCTIONS)})", field="reduction"
            )


@dataclass
class UnlearnData:
    """Forget QA, the template answer paired with each forget question, and retain QA."""

    forget: list[tuple[str, str]]
    templates: list[str] = field(default_factory=list)
    retain: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TrainResult:
    steps: int
    history: list[dict[str, float]]
    seconds: float
    tokens: int


def pair_templates(n_forget: int, template_pool: Sequence[str], seed: int) -> list[str]:
    """Draw one template answer per forget question, reproducibly (FLAT pairs each forget
    question with a random refusal from the pool)."""
    if not template_pool:
        raise DataError("the template answer list is empty", field="templates")
    rng = random.Random(seed)
    return [rng.choice(list(template_pool)) for _ in range(n_forget)]


def check_data(settings: UnlearnSettings, data: UnlearnData) -> None:
    needs = METHODS[settings.method]
    if settings.method != "retain_ft" and not data.forget:
        raise DataError("the forget set is empty", field="forget")
    if needs["retain"] and not data.retain:
        raise ConfigError(f"method {settings.method!r} needs retain data (--retain FILE)", field="retain")
    if needs["template"] and len(data.templates) != len(data.forget):
        raise DataError(
            f"{len(data.templates)} template answers for {len(data.forget)} forget questions", field="templates"
        )


def _qa_batch(tokenizer, pairs: Sequence[tuple[str, str]], max_length: int) -> dict[str, torch.Tensor]:
    return build_qa_batch(tokenizer, [qa_prompt(q) for q, _ in pairs], [a for _, a in pairs], max_length)


def _sequence_logps(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of answer-token log-probabilities and answer lengths, per sequence."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    token_logps, mask = losses.answer_token_logprobs(logits, batch["labels"])
    return (token_logps * mask).sum(-1), mask.sum(-1)


@torch.no_grad()
def _reference_logps(model, tokenizer, pairs, settings: UnlearnSettings, device) -> torch.Tensor:
    model.eval()
    values = []
    for start in range(0, len(pairs), settings.batch_size):
        batch = {k: v.to(device) for k, v in _qa_batch(tokenizer, pairs[start : start + settings.batch_size], settings.max_length).items()}
        values.append(_sequence_logps(model, batch)[0].float().cpu())
    return torch.cat(values)


class _IndexDataset(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def unlearn_model(
    model,
    tokenizer,
    data: UnlearnData,
    settings: UnlearnSettings,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Run ``settings.method`` on ``model`` in place and return the loss history."""
    import time

    from accelerate import Accelerator
    from accelerate.utils import set_seed as accelerate_set_seed
    from transformers import get_scheduler

    settings.check()
    check_data(settings, data)
    needs = METHODS[settings.method]
    accelerate_set_seed(settings.seed)
    accelerator = Accelerator(gradient_accumulation_steps=settings.grad_accum)
    device = accelerator.device

    main_pairs = data.retain if settings.method == "retain_ft" else data.forget
    model.to(device)

    cached_ref: dict[str, torch.Tensor] = {}
    reference_model = None
    if needs["reference"]:
        if settings.method == "ga_kl":
            reference_model = copy.deepcopy(model).eval().requires_grad_(False)
        else:
            cached_ref["forget"] = _reference_logps(model, tokenizer, data.forget, settings, device)
            if settings.method == "idkdpo":
                template_pairs = [(q, t) for (q, _), t in zip(data.forget, data.templates)]
                cached_ref["template"] = _reference_logps(model, tokenizer, template_pairs, settings, device)

    generator = torch.Generator().manual_seed(settings.seed)
    loader = DataLoader(_IndexDataset(len(main_pairs)), batch_size=settings.batch_size, shuffle=True, generator=generator)
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    updates_per_epoch = math.ceil(len(loader) / settings.grad_accum)
    total_updates = max(1, updates_per_epoch * settings.epochs)
    scheduler = get_scheduler(
        "linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * total_updates), num_training_steps=total_updates
    )
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    if settings.compile:
        model = torch.compile(model)

    start_epoch, step = 0, 0
    if resume and checkpoint_dir is not None and (checkpoint_dir / "latest.json").exists():
        state = json.loads((checkpoint_dir / "latest.json").read_text())
        accelerator.load_state(str(checkpoint_dir / state["folder"]))
        start_epoch, step = state["epoch"] + 1, state["step"]

    retain_rng = random.Random(settings.seed + 1)
    history: list[dict[str, float]] = []
    tokens = 0
    began = time.perf_counter()
    model.train()
    with progress_bar(f"unlearn [{settings.method}]", total=len(loader) * (settings.epochs - start_epoch)) as bar:
        for epoch in range(start_epoch, settings.epochs):
            for index_batch in loader:
                indices = index_batch.tolist()
                with accelerator.accumulate(model):
                    loss, parts, n_tokens = _method_loss(
                        model, tokenizer, data, settings, indices, cached_ref, reference_model, retain_rng, device
                    )
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and settings.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                tokens += n_tokens
                step += 1
                record = {"step": step, "epoch": epoch, "loss": float(loss.detach()), **parts}
                history.append(record)
                if on_step is not None:
                    on_step(step, record)
                bar.advance(1, status=f"loss {record['loss']:.4f}")
            if checkpoint_dir is not None and settings.checkpoint_every and (epoch + 1) % settings.checkpoint_every == 0:
                folder = f"epoch-{epoch + 1}"
                accelerator.save_state(str(checkpoint_dir / folder))
                (checkpoint_dir / "latest.json").write_text(json.dumps({"folder": folder, "epoch": epoch, "step": step}))
    model = accelerator.unwrap_model(model)
    model.eval()
    return TrainResult(steps=step, history=history, seconds=time.perf_counter() - began, tokens=tokens)


def _method_loss(model, tokenizer, data, settings, indices, cached_ref, reference_model, retain_rng, device):
    """The loss of one batch for the configured method, its named parts, and tokens processed."""
    method = settings.method

    def batch_of(pairs):
        return {k: v.to(device) for k, v in _qa_batch(tokenizer, pairs, settings.max_length).items()}

    def retain_batch():
        chosen = [data.retain[retain_rng.randrange(len(data.retain))] for _ in range(len(indices))]
        return batch_of(chosen)

    if method == "retain_ft":
        batch = batch_of([data.retain[i] for i in indices])
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = losses.sequence_nll(logits, batch["labels"]).mean()
        return loss, {"retain_nll": float(loss.detach())}, int(batch["attention_mask"].sum())

    forget = batch_of([data.forget[i] for i in indices])
    n_tokens = int(forget["attention_mask"].sum())
    forget_logits = model(input_ids=forget["input_ids"], attention_mask=forget["attention_mask"]).logits
    parts: dict[str, float] = {}

    if method == "flat":
        template = batch_of([(data.forget[i][0], data.templates[i]) for i in indices])
        n_tokens += int(template["attention_mask"].sum())
        template_logits = model(input_ids=template["input_ids"], attention_mask=template["attention_mask"]).logits
        loss = losses.flat_loss(
            template_logits, template["labels"], forget_logits, forget["labels"],
            divergence=settings.divergence, reduction=settings.reduction,
        )
        return loss, {"flat": float(loss.detach())}, n_tokens

    if method in ("ga", "gd", "ga_kl"):
        forget_loss = losses.ga_loss(forget_logits, forget["labels"])
    elif method in ("npo", "npo_gd"):
        token_logps, mask = losses.answer_token_logprobs(forget_logits, forget["labels"])
        policy = (token_logps * mask).sum(-1)
        forget_loss = losses.npo_loss(policy, cached_ref["forget"][indices].to(device), beta=settings.beta)
    elif method == "simnpo":
        token_logps, mask = losses.answer_token_logprobs(forget_logits, forget["labels"])
        forget_loss = losses.simnpo_loss(
            (token_logps * mask).sum(-1), mask.sum(-1), beta=settings.beta, gamma=settings.simnpo_gamma
        )
    elif method == "idkdpo":
        template = batch_of([(data.forget[i][0], data.templates[i]) for i in indices])
        n_tokens += int(template["attention_mask"].sum())
        token_logps, mask = losses.answer_token_logprobs(forget_logits, forget["labels"])
        lose = (token_logps * mask).sum(-1)
        win = _sequence_logps(model, template)[0]
        forget_loss = losses.dpo_loss(
            win, lose, cached_ref["template"][indices].to(device), cached_ref["forget"][indices].to(device),
            beta=settings.beta,
        )
    else:  # pragma: no cover - METHODS and this dispatch are kept in step by tests
        raise ConfigError(f"unknown method {method!r}", field="method")

    parts["forget"] = float(forget_loss.detach())
    loss = settings.forget_weight * forget_loss
    if METHODS[method]["retain"]:
        retain = retain_batch()
        n_tokens += int(retain["attention_mask"].sum())
        retain_logits = model(input_ids=retain["input_ids"], attention_mask=retain["attention_mask"]).logits
        if method == "ga_kl":
            with torch.no_grad():
                ref_logits = reference_model(input_ids=retain["input_ids"], attention_mask=retain["attention_mask"]).logits
            retain_loss = losses.kl_retain_loss(retain_logits, ref_logits, retain["labels"])
        else:
            retain_loss = losses.sequence_nll(retain_logits, retain["labels"]).mean()
        parts["retain"] = float(retain_loss.detach())
        loss = loss + settings.retain_weight * retain_loss
    return loss, parts, n_tokens
