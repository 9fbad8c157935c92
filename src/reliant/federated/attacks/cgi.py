"""CGI, the client-side poisoning gradient inversion of Wei et al. (arXiv 2309.07415), in plain torch.

The malicious client

1. **crafts a malicious model** M from the global model it receives, amplifying the loss of
   the target class t so that, once the global model is near M, honest clients' gradients on
   class-t images dominate the aggregate (:func:`craft_malicious_model`). What it can use is
   the *knowledge level*:

   * ``full`` — labelled data of every other class: descend their cross-entropy and ascend the
     cross-entropy of the same images relabelled t (a "trap": nothing looks like t any more);
   * ``semi`` — a few class-t images: ascend their cross-entropy, descend it on its own other-class data;
   * ``none`` — no class-t image: synthesise some by model inversion of the global model
     (maximise the class-t score under a TV prior, :func:`synthesise_class_images`), then as ``semi``.

2. **poisons the global model stealthily** each round: with the replacement direction
   p = (n / m)(M - w_t) (n clients, m attackers: what carries an average to M), its own benign update r, and the last aggregate â = w_t - w_{t-1} it can infer
   from two global models, it sends m = γ p/‖p‖ + β r with (γ, β) minimising
   ‖m - â‖² + c ‖m - p‖² (closed form; the authors optimise the same two scalars by SGD), and,
   if its estimate of the rule's decision (the rule run on benign updates of its own data) would
   still exclude m, blends m towards its benign updates until it passes (:func:`stealthy_update`).

3. **inverts the aggregate** the round after (:mod:`reliant.federated.inversion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from reliant.federated.aggregators import AggregationRule, Evaluator
from reliant.federated.inversion import total_variation
from reliant.federated.models import flat_parameters, set_flat_parameters

__all__ = ["BlendResult", "blend_coefficients", "craft_malicious_model", "passes_rule", "stealthy_update",
           "synthesise_class_images"]


def synthesise_class_images(model: nn.Module, target_class: int, count: int, shape: tuple[int, ...], *,
                            steps: int = 100, lr: float = 0.05, tv_weight: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Model inversion (Fredrikson et al. 2015 style): inputs in [0, 1] the model scores as the
    target class, smoothed by a TV prior; the ``none`` knowledge level's stand-in for real images."""
    generator = torch.Generator().manual_seed(seed)
    dtype = next(model.parameters()).dtype
    images = torch.rand((count, *shape), generator=generator, dtype=dtype).requires_grad_(True)
    optimizer = torch.optim.Adam([images], lr=lr)
    labels = torch.full((count,), target_class, dtype=torch.long)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels) + tv_weight * total_variation(images)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            images.clamp_(0, 1)
    return images.detach()


def craft_malicious_model(model: nn.Module, global_weights: torch.Tensor, knowledge: str, own_images: torch.Tensor,
                          own_labels: torch.Tensor, target_class: int, *, target_images: torch.Tensor | None = None,
                          steps: int = 60, lr: float = 0.05, batch_size: int = 32, seed: int = 0) -> torch.Tensor:
    """The weights of the malicious model M (see the module doc); ``model`` is left at M."""
    other = own_labels != target_class
    benign_x, benign_y = own_images[other], own_labels[other]
    if knowledge in ("semi", "none") and (target_images is None or len(target_images) == 0):
        raise ValueError(f"knowledge {knowledge!r} needs target-class images (real or synthesised)")
    if knowledge not in ("full", "semi", "none"):
        raise ValueError(f"unknown knowledge level {knowledge!r}")
    set_flat_parameters(model, global_weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(benign_x), (min(batch_size, len(benign_x)),), generator=generator)
        x, y = benign_x[pick], benign_y[pick]
        main = nn.functional.cross_entropy(model(x), y)
        if knowledge == "full":
            trap_labels = torch.full_like(y, target_class)
            amplified = nn.functional.cross_entropy(model(x), trap_labels)
        else:
            trap_labels = torch.full((len(target_images),), target_class, dtype=torch.long)
            amplified = nn.functional.cross_entropy(model(target_images), trap_labels)
        optimizer.zero_grad()
        (main - amplified).backward()
        # gradient ascent on a cross-entropy is unbounded: clip each step so M stays finite
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return flat_parameters(model)


def blend_coefficients(direction: torch.Tensor, reference: torch.Tensor, last_aggregate: torch.Tensor,
                       poison_weight: float) -> tuple[float, float]:
    """(γ, β) minimising ‖γ p̂ + β r - â‖² + c ‖γ p̂ + β r - p‖² (normal equations of a 2-column least squares)."""
    unit = direction / direction.norm().clamp_min(1e-30)
    basis = torch.stack([unit, reference], dim=1)  # (d, 2)
    goal = (last_aggregate + poison_weight * direction) / (1.0 + poison_weight)
    gram = basis.T @ basis + 1e-12 * torch.eye(2, dtype=basis.dtype)
    gamma, beta = torch.linalg.solve(gram, basis.T @ goal).tolist()
    return float(gamma), float(beta)


def passes_rule(rule: AggregationRule, candidate: torch.Tensor, benign: torch.Tensor, copies: int,
                root_update: torch.Tensor | None = None, evaluate: Evaluator | None = None) -> bool:
    """Whether ``rule`` keeps the candidate (sent by ``copies`` colluding clients) among ``benign``
    updates: a positive share for rules that exclude clients, and for coordinate-wise rules a share
    at least half the mean benign share."""
    updates = torch.cat([candidate.expand(copies, -1), benign], dim=0)
    result = rule.aggregate(updates, root_update=root_update, evaluate=evaluate)
    share = result.kept_share[:copies].mean()
    if rule.excludes_clients:
        return bool(share > 0)
    return bool(share >= 0.5 * result.kept_share[copies:].mean())


@dataclass
class BlendResult:
    update: torch.Tensor
    gamma: float
    beta: float
    shrink: float  # how far the blend was moved towards the benign updates to pass (0: not at all)
    passes: bool  # whether the attacker's estimate of the rule keeps it


def stealthy_update(rule: AggregationRule, malicious: torch.Tensor, global_weights: torch.Tensor,
                    benign: torch.Tensor, last_aggregate: torch.Tensor, copies: int, poison_weight: float = 1.0,
                    grid: int = 10, evaluate: Evaluator | None = None) -> BlendResult:
    """The attacker's update for one round (step 2 of the module doc). ``benign`` holds benign
    updates the attacker computed on its own data (its estimate of the honest clients), the
    first of which is its reference r; for FLTrust their mean stands in for the server's root update,
    and for Fang ``evaluate`` (on the attacker's own data) for the server's validation set."""
    # model replacement (Bagdasaryan et al. 2020): scaled so that, averaged with the others,
    # the update would carry the global model to M
    direction = (len(benign) + copies) / copies * (malicious - global_weights)
    reference = benign[0]
    gamma, beta = blend_coefficients(direction, reference, last_aggregate, poison_weight)
    blend = gamma * direction / direction.norm().clamp_min(1e-30) + beta * reference
    root = benign.mean(dim=0) if rule.needs_root else None
    anchor = benign.mean(dim=0)
    for step in range(grid + 1):
        shrink = step / grid
        candidate = (1 - shrink) * blend + shrink * anchor
        if passes_rule(rule, candidate, benign, copies, root, evaluate):
            return BlendResult(candidate, gamma, beta, shrink, True)
    return BlendResult(anchor, gamma, beta, 1.0, False)
