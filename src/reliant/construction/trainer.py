"""The training loop every method shares: minibatch Adam on image arrays, deterministic under a seed.

Images arrive as ``uint8`` arrays ``(N, H, W, C)``; they are scaled to [0, 1] and standardised
per channel with the training set's mean and standard deviation (kept in the result, so test
images get the same transform). The loop draws each epoch's order from a seeded
``torch.Generator``, hands the method a :class:`~reliant.construction.methods.BatchContext`
per batch, and measures throughput (training images per second, forward + backward +
update, excluding evaluation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reliant.construction.methods import BatchContext, LearningMethod, SetupInfo
from reliant.construction.models import build_model
from reliant.core.progress import progress_bar

__all__ = ["TrainResult", "TrainSettings", "prepare_images", "predict_logits", "recalibrate_batchnorm",
           "resolve_device", "train_method"]


@dataclass
class TrainSettings:
    """Loop settings (the command's ``--epochs``, ``--batch-size``, ``--lr``, ...)."""

    architecture: str = "small_cnn"
    width: int = 16
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-2
    weight_decay: float = 5e-4
    device: str = "auto"
    seed: int = 0


@dataclass
class TrainResult:
    method: str
    models: list[Any]
    mean: np.ndarray
    std: np.ndarray
    seconds: float
    images_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def model(self) -> Any:
        """The network used for predictions (co-teaching reports its first network, as the paper)."""
        return self.models[0]

    def logits(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        return predict_logits(self.model, prepare_images(images, self.mean, self.std), batch_size)

    def features(self, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
        return predict_logits(self.model, prepare_images(images, self.mean, self.std), batch_size, features=True)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return scaled.mean(axis=0).astype(np.float32), np.maximum(scaled.std(axis=0), 1e-3).astype(np.float32)


def prepare_images(images: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """``uint8 (N, H, W, C)`` -> standardised ``float32 (N, C, H, W)``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    x = (x - torch.from_numpy(mean)) / torch.from_numpy(std)
    return x.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def predict_logits(model: Any, x: torch.Tensor, batch_size: int = 512, features: bool = False) -> np.ndarray:
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size].to(device)
        outputs.append((model.features(chunk) if features else model(chunk)).float().cpu())
    return torch.cat(outputs).numpy().astype(np.float64)


@torch.no_grad()
def recalibrate_batchnorm(model: Any, x: torch.Tensor, batch_size: int) -> None:
    """Replace batch norm's running statistics by their exact average over the training images.

    The running averages (momentum 0.1) lag far behind the weights after the few hundred steps
    a CPU-sized run takes, and evaluation in ``eval()`` mode then sees shifted activations; one
    forward pass with ``momentum=None`` (a cumulative average) fixes that, at the cost of one
    epoch's forward passes without gradients."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for start in range(0, len(x), max(batch_size, 256)):
        model(x[start:start + max(batch_size, 256)])
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


def train_method(
    method: LearningMethod,
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    settings: TrainSettings,
    params: Any,
    *,
    transition: np.ndarray | None = None,
    noise_rate: float | None = None,
    description: str | None = None,
) -> TrainResult:
    """Train ``method`` on ``images`` / (possibly noisy) ``labels``; returns the trained network(s)."""
    from reliant.core.seeding import set_seed

    set_seed(settings.seed)
    device = resolve_device(settings.device)
    labels = np.asarray(labels, dtype=np.int64)
    mean, std = channel_stats(images)
    x = prepare_images(images, mean, std).to(device)
    y = torch.from_numpy(labels).to(device)
    counts = np.bincount(labels, minlength=num_classes)
    method.setup(SetupInfo(num_classes=num_classes, num_samples=len(labels), counts=counts, epochs=settings.epochs,
                           params=params, device=device, transition=transition, noise_rate=noise_rate,
                           seed=settings.seed))
    models = [build_model(settings.architecture, images.shape[-1], num_classes, head=method.head, width=settings.width).to(device)
              for _ in range(method.networks)]
    parameters = [p for model in models for p in model.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    steps_per_epoch = max(1, -(-len(labels) // settings.batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    order_generator = torch.Generator().manual_seed(settings.seed)
    history: list[dict[str, float]] = []
    seconds = 0.0
    with progress_bar(description or f"training {method.label}", total=settings.epochs * steps_per_epoch) as bar:
        for epoch in range(settings.epochs):
            for model in models:
                model.train()
            order = torch.randperm(len(labels), generator=order_generator).to(device)
            totals: dict[str, float] = {}
            started = time.perf_counter()
            for start in range(0, len(labels), settings.batch_size):
                index = order[start:start + settings.batch_size]
                if len(index) < 2:  # batch norm needs two rows; the last one-row batch is skipped
                    continue
                batch = BatchContext(logits=[model(x[index]) for model in models], labels=y[index], index=index,
                                     epoch=epoch, epochs=settings.epochs)
                loss, parts = method.loss(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                for key, value in parts.items():
                    totals[key] = totals.get(key, 0.0) + float(value) / steps_per_epoch
                bar.advance(1, status=f"epoch {epoch + 1}/{settings.epochs} loss {float(loss.detach()):.3f}")
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - started
            history.append({"epoch": epoch + 1, **totals})
    for model in models:
        recalibrate_batchnorm(model, x, settings.batch_size)
    images_seen = settings.epochs * len(labels)
    return TrainResult(method=method.name, models=models, mean=mean, std=std, seconds=seconds,
                       images_per_second=images_seen / max(seconds, 1e-9), history=history)
