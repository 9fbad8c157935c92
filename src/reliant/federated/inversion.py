"""Gradient inversion: recover a client's input from a gradient (or an update) it produced.

* :func:`invert_gradients` — "Inverting Gradients" (Geiping et al., NeurIPS 2020), the recipe
  ``breaching``'s ``config/attack/invertinggradients.yaml`` records: minimise
  ``1 - cos(∇_θ L(x̂, y), g) + α_TV · TV(x̂)`` over x̂ with Adam on the *signed* gradient of
  the objective, the step size cut by 10 at 3/8, 5/8 and 7/8 of the iterations, and x̂ kept in
  the data box [0, 1] after every step (box constraint). The label is the attacker's target
  class (CGI) or is read off the last layer's bias gradient (iDLG, Zhao et al. 2020).
* :func:`deep_leakage` — DLG (Zhu et al., NeurIPS 2019), the weaker baseline: minimise the
  squared Euclidean distance between gradients with L-BFGS, over x̂ and a soft label.

A FedSGD update is ``-lr · Σ_i s_i ∇L_i``; the cosine objective is scale-invariant, so an
update is inverted as ``-update`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["InversionResult", "deep_leakage", "infer_label", "invert_gradients", "model_gradient", "total_variation"]


@dataclass
class InversionResult:
    image: torch.Tensor  # (C, H, W) in [0, 1]
    label: int
    objective: list[float]  # the matching objective, every ~1/50 of the iterations


def model_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, create_graph: bool = False
                   ) -> list[torch.Tensor]:
    """∇_θ of the mean cross-entropy of ``model`` on a batch (the gradient FedSGD sends)."""
    loss = nn.functional.cross_entropy(model(images), labels)
    return list(torch.autograd.grad(loss, list(model.parameters()), create_graph=create_graph))


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic TV: mean absolute difference of neighbouring pixels (as in breaching)."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return dx + dy


def infer_label(target_gradient: list[torch.Tensor]) -> int:
    """iDLG: for one image under cross-entropy the last bias gradient is softmax - onehot,
    negative only at the true class."""
    return int(torch.argmin(target_gradient[-1]).item())


def _cosine_distance(grads: list[torch.Tensor], target: list[torch.Tensor]) -> torch.Tensor:
    dot = sum((g * t).sum() for g, t in zip(grads, target))
    norm_g = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    norm_t = torch.sqrt(sum(t.pow(2).sum() for t in target))
    return 1 - dot / (norm_g * norm_t).clamp_min(1e-30)


def invert_gradients(model: nn.Module, target_gradient: list[torch.Tensor], shape: tuple[int, int, int],
                     label: int | None = None, *, steps: int = 600, lr: float = 0.1, tv_weight: float = 1e-4,
                     restarts: int = 1, seed: int = 0,
                     on_step: Callable[[int], None] | None = None) -> InversionResult:
    """Inverting Gradients for one image; the best of ``restarts`` random starts by final objective."""
    target = [t.detach() for t in target_gradient]
    label = infer_label(target) if label is None else int(label)
    labels = torch.tensor([label])
    dtype = next(model.parameters()).dtype
    generator = torch.Generator().manual_seed(seed)
    best: InversionResult | None = None
    best_value = float("inf")
    milestones = [int(steps * 3 / 8), int(steps * 5 / 8), int(steps * 7 / 8)]
    for restart in range(restarts):
        # breaching draws the start from N(0, 1) in normalised space; in [0, 1] pixel space that
        # is a clamp of N(0.5, 0.5²)
        candidate = (0.5 + 0.5 * torch.randn((1, *shape), generator=generator, dtype=dtype)).clamp(0, 1)
        candidate.requires_grad_(True)
        optimizer = torch.optim.Adam([candidate], lr=lr)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
        trace: list[float] = []
        for step in range(steps):
            optimizer.zero_grad()
            grads = model_gradient(model, candidate, labels, create_graph=True)
            objective = _cosine_distance(grads, target) + tv_weight * total_variation(candidate)
            objective.backward()
            candidate.grad.sign_()  # Adam on the signed gradient (Geiping et al., sec. 4)
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                candidate.clamp_(0, 1)  # the box constraint
            if step % max(1, steps // 50) == 0 or step == steps - 1:
                trace.append(float(objective.detach()))
            if on_step is not None:
                on_step(1)
        final = float(_cosine_distance(model_gradient(model, candidate, labels), target).detach())
        if final < best_value:
            best_value = final
            best = InversionResult(candidate.detach()[0].clone(), label, trace)
    assert best is not None
    return best


def deep_leakage(model: nn.Module, target_gradient: list[torch.Tensor], shape: tuple[int, int, int],
                 num_classes: int, *, steps: int = 100, seed: int = 0,
                 on_step: Callable[[int], None] | None = None) -> InversionResult:
    """DLG: L-BFGS on ‖∇_θ L(x̂, softmax(ŷ)) - g‖² over the image and a soft label."""
    target = [t.detach() for t in target_gradient]
    dtype = next(model.parameters()).dtype
    generator = torch.Generator().manual_seed(seed)
    candidate = torch.rand((1, *shape), generator=generator, dtype=dtype).requires_grad_(True)
    soft_label = torch.randn((1, num_classes), generator=generator, dtype=dtype).requires_grad_(True)
    optimizer = torch.optim.LBFGS([candidate, soft_label], lr=1.0, max_iter=20, history_size=50,
                                  line_search_fn="strong_wolfe")
    trace: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = model(candidate)
        loss = torch.sum(-torch.softmax(soft_label, -1) * torch.log_softmax(logits, -1), dim=-1).mean()
        grads = torch.autograd.grad(loss, list(model.parameters()), create_graph=True)
        distance = sum((g - t).pow(2).sum() for g, t in zip(grads, target))
        distance.backward()
        return distance

    for _ in range(steps):
        value = optimizer.step(closure)
        trace.append(float(value.detach()))
        if on_step is not None:
            on_step(1)
        if not torch.isfinite(value):
            break
    return InversionResult(candidate.detach()[0].clamp(0, 1).clone(), int(soft_label.argmax()), trace)
