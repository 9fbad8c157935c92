"""One training loop for every unlearning method: FLAT, the standard baselines, and
retain-only fine-tuning (the "retrained" gold reference).

What a method computes lives in its own class in :mod:`reliant.unlearning.methods` (the
registry); this module only runs the loop. It is a plain accelerate loop, so
``accelerate launch`` runs any method on several GPUs (DDP, DeepSpeed or FSDP from the
accelerate config) and the same code runs on one CPU. Methods that compare against the
original model on the *forget* data cache its sequence log-probabilities once before
training (:meth:`UnlearningMethod.setup`) instead of holding the model.

The settings (:class:`reliant.unlearning.config.UnlearnSettings`) say what trains the model;
checkpoints (:mod:`reliant.unlearning.checkpoints`) are written every
``checkpoint_every`` *epochs* and/or every ``checkpoint_steps`` optimizer steps, and once
more when training is interrupted with Ctrl-C; resuming restores weights, optimizer,
scheduler, the data order and every random number generator, so a resumed run ends on
the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.utils.data import DataLoader

from reliant.core.errors import ConfigError, DataError
from reliant.core.models import build_qa_batch
from reliant.core.progress import batch_progress, progress_bar
from reliant.core.prompts import encode_prompt_answer, encode_prompt_answers, pad_encoded, pad_token_id, question_prompt
from reliant.unlearning import checkpoints, losses
from reliant.unlearning.config import UnlearnSettings
from reliant.unlearning.methods import METHOD_LABELS, SetupEnv, StepContext, available_methods, get_method

__all__ = [
    "METHOD_LABELS",
    "TrainResult",
    "TrainingInterrupted",
    "UnlearnData",
    "UnlearnSettings",
    "check_data",
    "pair_templates",
    "unlearn_model",
]


@dataclass
class UnlearnData:
    """Forget QA, the template answer paired with each forget question, and retain QA.

    ``templates`` is the first epoch's draw (one per forget question). With a
    ``template_pool`` and ``settings.template_draw == "redraw"`` every later epoch draws
    afresh from the pool (the official FLAT pipeline), except for the questions whose
    ``own_template`` entry is True (a forget record that brings its own template)."""

    forget: list[tuple[str, str]]
    templates: list[str] = field(default_factory=list)
    retain: list[tuple[str, str]] = field(default_factory=list)
    template_pool: list[str] | None = None
    own_template: list[bool] | None = None


@dataclass
class TrainResult:
    steps: int
    history: list[dict[str, float]]
    seconds: float
    tokens: int
    checkpoint_dir: Path | None = None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``str()`` is one line naming the checkpoint and how to resume.

    It is a :class:`KeyboardInterrupt`, so code that handles Ctrl-C keeps working; the
    ``reliant`` command prints ``interrupted: <message>`` and exits 130.
    """

    def __init__(self, step: int, checkpoint_dir: Path | None, resume_command: str | None = None) -> None:
        self.step = step
        self.checkpoint_dir = checkpoint_dir
        self.resume_command = resume_command
        super().__init__(self.one_line())

    def one_line(self) -> str:
        if self.checkpoint_dir is None:
            return (
                f"training stopped after step {self.step}; no checkpoint was written "
                "(pass --checkpoint-every N or --checkpoint-steps N to keep progress)"
            )
        command = self.resume_command or f"reliant unlearn run ... --resume {self.checkpoint_dir}"
        return f"training stopped after step {self.step}; checkpoint saved in {self.checkpoint_dir}; continue with: {command}"

    def __str__(self) -> str:
        return self.one_line()


def pair_templates(n_forget: int, template_pool: Sequence[str], seed: int, epoch: int = 0) -> list[str]:
    """Draw one template answer per forget question, reproducibly (FLAT pairs each forget
    question with a random refusal from the pool). Epoch 0 is the run's first draw; every
    other epoch has its own stream, so a resumed run redraws exactly what it would have."""
    if not template_pool:
        raise DataError("the template answer list is empty", field="templates")
    rng = random.Random(seed if epoch == 0 else f"{seed}:{epoch}")
    pool = list(template_pool)
    return [rng.choice(pool) for _ in range(n_forget)]


def epoch_templates(data: UnlearnData, settings: UnlearnSettings) -> list[list[str]]:
    """The template answer of every forget question in every epoch ``[epoch][question]``."""
    redraw = settings.template_draw == "redraw" and data.template_pool
    result = [list(data.templates)]
    for epoch in range(1, settings.epochs):
        if not redraw:
            result.append(result[0])
            continue
        drawn = pair_templates(len(data.forget), data.template_pool, settings.seed, epoch)
        own = data.own_template or [False] * len(drawn)
        result.append([first if keep else new for first, new, keep in zip(data.templates, drawn, own)])
    return result


def check_data(settings: UnlearnSettings, data: UnlearnData) -> None:
    method = get_method(settings.method)
    if method.trains_on == "forget" and not data.forget:
        raise DataError("the forget set is empty", field="forget")
    if "retain" in method.needs and not data.retain:
        raise ConfigError(f"method {settings.method!r} needs retain data (--retain FILE)", field="retain")
    if "template" in method.needs and data.template_pool is not None and not data.template_pool:
        raise DataError("the template answer list is empty", field="templates")
    if "template" in method.needs and len(data.templates) != len(data.forget):
        raise DataError(
            f"{len(data.templates)} template answers for {len(data.forget)} forget questions", field="templates"
        )


def _qa_batch(tokenizer, pairs: Sequence[tuple[str, str]], max_length: int) -> dict[str, torch.Tensor]:
    return build_qa_batch(tokenizer, [question_prompt(tokenizer, q) for q, _ in pairs], [a for _, a in pairs], max_length)


class _BatchBuilder:
    """Tokenises each QA pair once and pads batches from the cached ids, so a step spends
    its time in the model, not in the tokenizer (the same tensors as :func:`_qa_batch`)."""

    def __init__(self, tokenizer, max_length: int, device) -> None:
        self.tokenizer, self.max_length, self.device = tokenizer, max_length, device
        self.pad_id = pad_token_id(tokenizer)
        self.cache: dict[tuple[str, str], tuple[list[int], int]] = {}

    def warm(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Tokenise, in one batched call, every pair not cached yet (at set-up, so that a step
        does not pay for the tokenizer: FLAT's templates are new pairs every epoch)."""
        todo = list(dict.fromkeys(pair for pair in pairs if pair not in self.cache))
        prompts = [question_prompt(self.tokenizer, question) for question, _ in todo]
        for pair, ids in zip(todo, encode_prompt_answers(self.tokenizer, prompts, [a for _, a in todo], add_eos=True)):
            self.cache[pair] = ids

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
        encoded = []
        for pair in pairs:
            ids = self.cache.get(pair)
            if ids is None:
                ids = encode_prompt_answer(self.tokenizer, question_prompt(self.tokenizer, pair[0]), pair[1], add_eos=True)
                self.cache[pair] = ids
            encoded.append(ids)
        batch = pad_encoded(encoded, self.pad_id, max_length=self.max_length)
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()  # on a generator function torch disables gradients inside it only, not in the caller
def _answer_logprob_batches(model, tokenizer, pairs, settings: UnlearnSettings, device, description: str):
    """``(token_logprobs, mask)`` of ``pairs`` under ``model``, batch by batch, without gradients."""
    model.eval()
    starts = range(0, len(pairs), settings.batch_size)
    with batch_progress(description, len(starts)) as advance:
        for start in starts:
            batch = {k: v.to(device) for k, v in _qa_batch(tokenizer, pairs[start : start + settings.batch_size], settings.max_length).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            yield losses.answer_token_logprobs(logits, batch["labels"])
            advance()


def _reference_logps(model, tokenizer, pairs, settings: UnlearnSettings, device) -> torch.Tensor:
    """Summed answer-token log-probabilities of ``pairs`` under ``model``, ``(N,)`` on CPU."""
    batches = _answer_logprob_batches(model, tokenizer, pairs, settings, device, "reference log-probabilities")
    return torch.cat([(token_logps * mask).sum(-1).float().cpu() for token_logps, mask in batches])


def _reference_retain_nll(model, tokenizer, pairs, settings: UnlearnSettings, device) -> float:
    """The token-mean answer NLL of every retain pair under ``model`` (one number)."""
    total, count = 0.0, 0
    for token_logps, mask in _answer_logprob_batches(model, tokenizer, pairs, settings, device, "reference retain NLL"):
        total += float(-(token_logps * mask).sum())
        count += int(mask.sum())
    return total / max(count, 1)


class _IndexDataset(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


class _InterruptGuard:
    """Makes Ctrl-C act at once, except inside the parameter update.

    A SIGINT that arrives while the optimizer updates the weights (and the loop records
    its step-boundary state) is held until that short section ends, so the checkpoint
    written on interrupt never holds half-updated weights. Anywhere else the usual
    ``KeyboardInterrupt`` is raised immediately. Only installed in the main thread when
    Python's default handler is in place.
    """

    def __init__(self) -> None:
        self.in_update = False
        self.pending = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> "_InterruptGuard":
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handler(self, signum, frame) -> None:
        if self.in_update:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def update(self) -> Iterator[None]:
        self.in_update = True
        try:
            yield
        finally:
            self.in_update = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def unlearn_model(
    model,
    tokenizer,
    data: UnlearnData,
    settings: UnlearnSettings,
    *,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 0,
    checkpoint_steps: int = 0,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    resume_command: str | None = None,
) -> TrainResult:
    """Run ``settings.method`` on ``model`` in place and return the loss history.

    ``checkpoint_dir``: where checkpoints go (every ``checkpoint_every`` epochs and/or
    ``checkpoint_steps`` optimizer steps, and on Ctrl-C); with ``resume`` training continues from
    its latest checkpoint (a folder without one is a ConfigError). Ctrl-C raises
    :class:`TrainingInterrupted` after saving.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed as accelerate_set_seed
    from transformers import get_scheduler

    settings.check()
    check_data(settings, data)
    method_cls = get_method(settings.method)
    method = method_cls(method_cls.params_from(settings))
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    saved = None
    if resume:
        if checkpoint_dir is None:
            raise ConfigError("resuming needs a checkpoint folder", field="resume")
        saved = checkpoints.find(checkpoint_dir)
        checkpoints.check_compatible(saved, settings, method_cls.name, _main_size(method_cls, data))
    for name, value in (("checkpoint_every", checkpoint_every), ("checkpoint_steps", checkpoint_steps)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"must be an integer of at least 0 (got {value!r})", field=name)
    checkpointing = checkpoint_dir is not None and (checkpoint_every > 0 or checkpoint_steps > 0 or resume)

    accelerate_set_seed(settings.seed)
    accelerator = Accelerator(gradient_accumulation_steps=settings.grad_accum)
    if accelerator.num_processes > 1 and not method_cls.uses_every_parameter:
        # DDP needs every trainable parameter, and every forward output, in each step's loss;
        # a loss read from one layer's hooks is neither (find_unused_parameters does not help).
        raise UserError(f"{method_cls.name} does not run under several processes yet (its loss stops at one "
                        "layer, which DDP refuses); run it in one process")
    device = accelerator.device
    main_pairs = data.retain if method_cls.trains_on == "retain" else data.forget
    model.to(device)
    needs = method_cls.needs
    templates_by_epoch = epoch_templates(data, settings) if "template" in needs else None

    def reference_retain_nll() -> float:
        return _reference_retain_nll(model, tokenizer, list(data.retain), settings, device)

    # What setup attaches to the model (RMU's hooks, reference copies) is removed however
    # training ends.
    try:
        method.setup(
            SetupEnv(
                model=model,
                forget=list(data.forget),
                epoch_templates=templates_by_epoch,
                reference_logps=lambda pairs: _reference_logps(model, tokenizer, list(pairs), settings, device),
                retain=list(data.retain) if "retain" in needs else None,
                seed=settings.seed,
                reference_retain_nll=reference_retain_nll if "retain" in needs else None,
            )
        )
        model.train()

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
        # The schedule is counted in global updates (each process takes batch_size rows of a
        # global batch of batch_size * processes); accelerate steps a prepared scheduler once per
        # process at every update, hence the factor. N processes thus follow exactly the schedule
        # one process with an N times larger batch follows.
        processes = accelerator.num_processes
        updates_per_epoch = math.ceil(math.ceil(len(main_pairs) / (settings.batch_size * processes)) / settings.grad_accum)
        total_updates = max(1, updates_per_epoch * settings.epochs)
        scheduler = get_scheduler(
            "linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * total_updates) * processes,
            num_training_steps=total_updates * processes,
        )
        model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
        if settings.compile:
            model = torch.compile(model)

        retain_rng = random.Random(settings.seed + 1)
        start_epoch, step, skip = 0, 0, 0
        if saved is not None:
            checkpoints.load_weights(saved, accelerator.unwrap_model(model))
            state = checkpoints.load_state(saved)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            start_epoch, step, skip = saved.meta["next_epoch"], saved.meta["step"], saved.meta["skip_batches"]
            accelerator.step = saved.meta.get("accumulation_step", 0)
            generator.set_state(state["rng"]["epoch_generator"])
            if state.get("method"):
                method.restore(state["method"])

        build = _BatchBuilder(tokenizer, settings.max_length, device)
        build.warm(list(main_pairs))
        if templates_by_epoch is not None:
            build.warm([(data.forget[i][0], answer) for answers in templates_by_epoch
                        for i, answer in enumerate(answers)])

        history: list[dict[str, float]] = []
        tokens = 0
        began = time.perf_counter()
        # State at the last step boundary where the weights were updated: what a checkpoint
        # written now (on schedule or on interrupt) describes.
        boundary: dict[str, Any] = {}

        def mark_boundary(epoch: int, batches_done: int, epoch_generator_state: torch.Tensor, epoch_done: bool) -> None:
            if not checkpointing:
                return  # nothing will be saved; capturing every RNG each step would be pure overhead
            boundary.update(
                step=step,
                next_epoch=epoch + 1 if epoch_done else epoch,
                skip_batches=0 if epoch_done else batches_done,
                accumulation_step=accelerator.step,
                scheduler=scheduler.state_dict(),
                method=method.state(),
                rng={
                    **checkpoints.capture_rng(),
                    "retain": checkpoints.python_rng_state(retain_rng),
                    "epoch_generator": (generator.get_state() if epoch_done else epoch_generator_state).clone(),
                },
            )

        def save(reason: str) -> None:
            # Every process holds the same weights; one writes them (the main one, as for the run folder).
            if not boundary or not accelerator.is_main_process:
                return
            checkpoints.save(
                checkpoint_dir,
                model=accelerator.unwrap_model(model),
                optimizer_state=optimizer.state_dict(),
                boundary=boundary,
                settings=settings,
                method=method_cls.name,
                n_examples=len(main_pairs),
                reason=reason,
            )

        n_batches = len(loader)
        todo = n_batches * (settings.epochs - start_epoch) - skip
        model.train()
        guard = _InterruptGuard()
        try:
            with guard, progress_bar(f"unlearn [{settings.method}]", total=todo) as bar:
                for epoch in range(start_epoch, settings.epochs):
                    resuming = saved is not None and epoch == start_epoch
                    if resuming and not skip:
                        _restore_rngs(state, retain_rng)
                    epoch_generator_state = generator.get_state()
                    batches = iter(loader)
                    batches_done = 0
                    if resuming and skip:
                        # The interrupted run's shuffled order: replay this epoch's permutation
                        # and drop the batches it already trained on.
                        for _ in range(skip):
                            next(batches)
                        batches_done = skip
                        _restore_rngs(state, retain_rng)
                    if resuming or not boundary:
                        mark_boundary(epoch, batches_done, epoch_generator_state, epoch_done=False)
                    for index_batch in batches:
                        indices = index_batch.tolist()
                        with accelerator.accumulate(model):
                            ctx = StepContext(
                                model=model, indices=indices, device=device, forget=data.forget,
                                templates=templates_by_epoch[epoch] if templates_by_epoch is not None else None,
                                retain=data.retain if "retain" in needs else None,
                                build_batch=build, retain_rng=retain_rng, method=method_cls.name,
                                process_index=accelerator.process_index, num_processes=accelerator.num_processes,
                                epoch=epoch,
                            )
                            # Token means over the global batch, not per shard (see the function).
                            with losses.token_means_over_processes(accelerator.num_processes):
                                loss, parts = method.loss(ctx)
                            loss_value = float(loss.detach())
                            if accelerator.num_processes > 1:
                                # What every process logs, and what PDU's dual ascent reads, is the
                                # global batch's mean, not one shard's (so the processes agree).
                                loss_value, parts = _mean_over_processes(accelerator, loss_value, parts)
                            accelerator.backward(loss)
                            if accelerator.sync_gradients and settings.max_grad_norm > 0:
                                accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                            with guard.update():
                                optimizer.step()
                                scheduler.step()
                                optimizer.zero_grad()
                                if accelerator.sync_gradients:
                                    method.after_update(parts, epoch)
                                tokens += ctx.tokens
                                step += 1
                                batches_done += 1
                                if accelerator.sync_gradients:
                                    mark_boundary(epoch, batches_done, epoch_generator_state, epoch_done=batches_done == n_batches)
                        record = {"step": step, "epoch": epoch, "loss": loss_value, **parts}
                        history.append(record)
                        if on_step is not None:
                            on_step(step, record)
                        bar.advance(1, status=f"loss {record['loss']:.4f}")
                        if (
                            checkpointing and checkpoint_steps
                            and accelerator.sync_gradients and step % checkpoint_steps == 0
                        ):
                            save("steps")
                    if checkpointing and checkpoint_every and (epoch + 1) % checkpoint_every == 0:
                        save("epoch")
        except KeyboardInterrupt as exc:
            if isinstance(exc, TrainingInterrupted):
                raise
            where = None
            if checkpointing:
                save("interrupt")
                if (checkpoint_dir / checkpoints.LATEST).is_file():
                    where = checkpoint_dir
            raise TrainingInterrupted(step, where, resume_command) from None
    finally:
        method.teardown()
    model = accelerator.unwrap_model(model)
    model.eval()
    return TrainResult(
        steps=step, history=history, seconds=time.perf_counter() - began, tokens=tokens,
        checkpoint_dir=checkpoint_dir if checkpointing else None,
    )


def _mean_over_processes(accelerator, loss_value: float, parts: dict[str, float]) -> tuple[float, dict[str, float]]:
    """The loss and every part averaged over the processes (one all-reduce)."""
    keys = sorted(parts)
    values = torch.tensor([loss_value, *(parts[k] for k in keys)], dtype=torch.float64, device=accelerator.device)
    means = accelerator.reduce(values, reduction="mean").tolist()
    return means[0], dict(zip(keys, means[1:]))


def _restore_rngs(state: dict[str, Any], retain_rng: random.Random) -> None:
    checkpoints.restore_rng(state["rng"])
    retain_rng.setstate(checkpoints.python_rng_from(state["rng"]["retain"]))


def _main_size(method_cls, data: UnlearnData) -> int:
    return len(data.retain if method_cls.trains_on == "retain" else data.forget)


def method_names() -> list[str]:
    """Registered method names (for help texts and error messages)."""
    return available_methods()
