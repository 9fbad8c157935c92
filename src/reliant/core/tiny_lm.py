"""Tiny built-in language models, trained here, so every capability runs offline.

A tiny LM is a small Llama-architecture transformer (``transformers.LlamaForCausalLM``)
with its own byte-level BPE tokenizer (``tokenizers``), trained from scratch on a list of
prompt/answer pairs until it recalls them. It is saved with ``save_pretrained`` like any
Hugging Face model, so every loader, trainer and probe treats it like a real checkpoint.

Models are cached under ``$RELIANT_CACHE/tiny_lm`` (default ``~/.cache/reliant``) in a
directory named by a hash of the training data and settings: building the same model
twice trains once. Directories appear atomically (trained in a temporary directory, then
renamed), so an interrupted build leaves nothing a later run would mistake for a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from reliant.core.builtin_data import builtin_qa
from reliant.core.errors import ConfigError, UserError
from reliant.core.progress import progress_bar, quiet_transformers
from reliant.core.prompts import build_qa_batch, join_prompt_answer, qa_prompt
from reliant.core.seeding import set_seed

__all__ = [
    "TinyLMSettings",
    "build_tiny_lm",
    "build_tokenizer",
    "cache_root",
    "default_tiny_lm",
    "new_tiny_model",
    "resolve_tiny_name",
    "train_causal_lm",
]

_FORMAT_VERSION = 1
BOS, EOS, PAD = "<s>", "</s>", "<pad>"


@dataclass(frozen=True)
class TinyLMSettings:
    """Architecture and training schedule of a tiny LM.

    The defaults (about 2.5M parameters) memorise the built-in 800-question corpus to
    over 90% exact recall in a few minutes on two CPU cores.
    """

    vocab_size: int = 4096
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    intermediate_size: int = 512
    max_length: int = 256
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    seed: int = 0

    def check(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ConfigError("hidden_size must be divisible by num_heads", field="hidden_size")
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1", field=name)
        if self.max_length < 8:
            raise ConfigError("max_length must be at least 8", field="max_length")


def cache_root() -> Path:
    """Where reliant keeps models it builds: ``$RELIANT_CACHE`` or the user cache dir."""
    configured = os.environ.get("RELIANT_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reliant"


def build_tokenizer(texts: Sequence[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``texts`` that puts ``<s>`` before every
    encoding (so the first real token is always predicted from a context)."""
    # deliberately lazy: heavy import (start-up time)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD)


def new_tiny_model(tokenizer: Any, settings: TinyLMSettings) -> Any:
    """A freshly initialised Llama-style model sized by ``settings`` for ``tokenizer``."""
    from transformers import LlamaConfig, LlamaForCausalLM  # deliberately lazy: heavy import (start-up time)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_heads,
        max_position_embeddings=settings.max_length,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(settings.seed)
    return LlamaForCausalLM(config)


def train_causal_lm(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    epochs: int,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    weight_decay: float = 0.01,
    warmup_steps: int = 50,
    max_length: int = 256,
    seed: int = 0,
    description: str = "training",
) -> dict[str, list[float]]:
    """Fine-tune ``model`` on prompt/answer pairs (loss on answer tokens and the closing
    EOS; an empty prompt trains on the whole text) with AdamW and a linear-warmup cosine
    schedule. Returns the per-step loss history. Deterministic for a given ``seed``."""
    if len(prompts) != len(answers):
        raise UserError(f"{len(prompts)} prompts but {len(answers)} answers")
    if not prompts:
        raise UserError("nothing to train on: no examples")
    device = next(model.parameters()).device  # a model built or loaded here sits on one device
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(prompts) // batch_size)
    total_steps = max(1, epochs * steps_per_epoch)
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "norm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=learning_rate,
        betas=(0.9, 0.98),
    )

    def schedule(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    history: dict[str, list[float]] = {"loss": [], "learning_rate": []}
    model.train()
    with small_model_threads(model), progress_bar(description, total=total_steps) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(prompts), generator=generator).tolist()
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = build_qa_batch(tokenizer, [prompts[i] for i in chosen], [answers[i] for i in chosen], max_length)
                output = model(**{k: v.to(device) for k, v in batch.items()})
                output.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                history["loss"].append(float(output.loss.detach()))
                history["learning_rate"].append(float(scheduler.get_last_lr()[0]))
                bar.advance(1, status=f"loss {history['loss'][-1]:.3f}")
    model.eval()
    return history


@contextmanager
def small_model_threads(*models: Any, max_parameters: int = 20_000_000) -> Iterator[None]:
    """Run tiny CPU models on one intra-op thread: their matrices are too small for
    threads to pay off, and on a busy machine the extra threads only spin (a 6x slowdown
    was measured here on two shared cores). Larger or GPU models are left alone."""
    small = all(
        next(m.parameters()).device.type == "cpu" and sum(p.numel() for p in m.parameters()) <= max_parameters for m in models
    )
    if not small:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _fingerprint(
    prompts: Sequence[str], answers: Sequence[str], settings: TinyLMSettings, tokenizer_texts: Sequence[str] | None
) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": _FORMAT_VERSION, "settings": asdict(settings)}, sort_keys=True).encode())
    if tokenizer_texts:
        digest.update(b"tokenizer-texts")
        for text in tokenizer_texts:
            digest.update(text.encode())
            digest.update(b"\x02")
    for prompt, answer in zip(prompts, answers):
        digest.update(prompt.encode())
        digest.update(b"\x00")
        digest.update(answer.encode())
        digest.update(b"\x01")
    return digest.hexdigest()[:16]


def _pointer(name: str) -> Path:
    return cache_root() / "tiny_lm" / f"{name}.latest"


def build_tiny_lm(
    prompts: Sequence[str],
    answers: Sequence[str],
    *,
    name: str = "custom",
    settings: TinyLMSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    tokenizer_texts: Sequence[str] | None = None,
) -> Path:
    """Train (or find in the cache) a tiny LM on prompt/answer pairs; return its directory.

    The directory holds the model and tokenizer (``save_pretrained``), ``train_history.json``
    (loss per step) and ``tiny_lm.json`` (settings and data size). ``load_causal_lm`` loads
    it by path, or as ``"tiny:<name>"``.

    ``tokenizer_texts`` trains the tokenizer on other texts than the training pairs, so
    that models trained on different subsets of one corpus (a target and its retain-only
    reference, say) share one vocabulary, as fine-tunes of one base model would.
    """
    settings = settings or TinyLMSettings()
    settings.check()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"tiny LM name {name!r} may only hold letters, digits, '.', '_' and '-'", field="name")
    if len(prompts) != len(answers) or not prompts:
        raise UserError("a tiny LM needs a non-empty list of prompts with one answer each")
    root = Path(cache_dir) if cache_dir is not None else cache_root() / "tiny_lm"
    fingerprint = _fingerprint(prompts, answers, settings, tokenizer_texts)
    target = root / f"{name}-{fingerprint}"
    if target.is_dir() and (target / "config.json").exists() and not rebuild:
        _write_pointer(name, target, cache_dir)
        return target
    quiet_transformers()
    set_seed(settings.seed)
    texts = [join_prompt_answer(p, a) for p, a in zip(prompts, answers)]
    tokenizer = build_tokenizer(list(tokenizer_texts) if tokenizer_texts else texts, settings.vocab_size)
    model = new_tiny_model(tokenizer, settings)
    history = train_causal_lm(
        model,
        tokenizer,
        prompts,
        answers,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_steps,
        max_length=settings.max_length,
        seed=settings.seed,
        description=f"training tiny LM '{name}'",
    )
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=root))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "train_history.json").write_text(json.dumps(history))
        info = {"name": name, "settings": asdict(settings), "examples": len(prompts), "parameters": model.num_parameters()}
        (staging / "tiny_lm.json").write_text(json.dumps(info, indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_pointer(name, target, cache_dir)
    return target


def _write_pointer(name: str, target: Path, cache_dir: str | os.PathLike | None) -> None:
    if cache_dir is not None:
        return
    pointer = _pointer(name)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    temp = pointer.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(str(target))
    os.replace(temp, pointer)


DEFAULT_PEOPLE = 100


def default_tiny_lm(settings: TinyLMSettings | None = None) -> Path:
    """The default tiny LM: trained on the built-in fictitious-people QA corpus
    (:func:`reliant.core.builtin_data.builtin_qa` with 100 people), built on first use."""
    records = builtin_qa(n_people=DEFAULT_PEOPLE, seed=0)
    return build_tiny_lm(
        [qa_prompt(r["question"]) for r in records],
        [r["answer"] for r in records],
        name="default",
        settings=settings,
    )


def resolve_tiny_name(name: str) -> Path:
    """``"tiny"`` → the default tiny LM (built if needed); ``"tiny:<name>"`` → the last
    tiny LM built under that name."""
    if name == "tiny" or name == "tiny:default":
        return default_tiny_lm()
    label = name.split(":", 1)[1]
    pointer = _pointer(label)
    if not pointer.exists():
        raise UserError(f"no tiny LM named '{label}' has been built (looked in {pointer.parent})")
    target = Path(pointer.read_text().strip())
    if not (target / "config.json").exists():
        raise UserError(f"tiny LM '{label}' points to {target}, which is gone; build it again")
    return target


def with_settings(**changes: Any) -> TinyLMSettings:
    """Default settings with some fields changed (validated)."""
    settings = replace(TinyLMSettings(), **changes)
    settings.check()
    return settings
