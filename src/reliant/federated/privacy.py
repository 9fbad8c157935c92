"""Central differential privacy for the aggregate: Flower's DP wrappers, their formulas in torch.

On the Flower engine these are Flower's own classes: the strategy wrappers
``DifferentialPrivacy{Server,Client}Side{Fixed,Adaptive}Clipping`` around the rule's strategy
and, for the client-side variants, ``fixedclipping_mod`` / ``adaptiveclipping_mod`` on the
ClientApp (:mod:`reliant.federated.simulation`). :class:`CentralDP` computes the same thing for
the in-process engine, and the Flower layer uses it to check Flower's result every round (a test
also feeds both the same replies, ``tests/federated/test_privacy.py``):

* **clipping** (FlatClip, McMahan et al. 2018, arXiv 1710.06963): each update Δ_k becomes
  Δ_k · min(1, C / ‖Δ_k‖₂), on the server (``server-*``) or by the client's mod (``client-*``);
* **noise**: after the rule aggregates the clipped updates, N(0, σ²) with σ = z · C / m is
  added to every weight (z the noise multiplier, m the number of sampled clients);
* **adaptive clipping** (Andrew et al. 2021, arXiv 1905.03871): with b the count of clipped
  updates, the server draws b̃ ~ N(b, σ_b²) and sets C ← C · exp(-η (b̃/m - γ)) (γ the
  target clipped quantile, η the clip-norm learning rate, σ_b = m/20 by default); the noise
  multiplier of the weights becomes (z⁻² - (2σ_b)⁻²)^(-1/2). As in Flower, the new C is
  computed before the aggregate's noise is drawn, so that noise uses the new C.

Flower draws its noise from numpy's global random state; the Flower layer seeds it with
:func:`round_seed` right before the wrapper aggregates, and this module draws from
``numpy.random.RandomState(round_seed(...))`` in the same order, so both engines add the same
noise and a run is deterministic under ``--seed``.

The client-side variants run Flower's mod on every node, the attacker's included: a deployment
that trusts its clients to clip gives a malicious client an unclipped channel, and the
server-side variants are the ones it cannot evade.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from reliant.federated.config import DP_MODES

__all__ = ["DP_MODES", "FLOWER_DP_STRATEGIES", "CentralDP", "adaptive_noise_params", "flat_clip", "round_seed"]

#: Flower's strategy wrapper (flwr.serverapp.strategy) and client mod (flwr.clientapp.mod) per mode
FLOWER_DP_STRATEGIES: dict[str, tuple[str, str | None]] = {
    "server-fixed": ("DifferentialPrivacyServerSideFixedClipping", None),
    "server-adaptive": ("DifferentialPrivacyServerSideAdaptiveClipping", None),
    "client-fixed": ("DifferentialPrivacyClientSideFixedClipping", "fixedclipping_mod"),
    "client-adaptive": ("DifferentialPrivacyClientSideAdaptiveClipping", "adaptiveclipping_mod"),
}


def round_seed(seed: int, server_round: int) -> int:
    """The 32-bit seed of round ``server_round``'s DP noise (numpy's legacy seeding takes < 2**32)."""
    digest = hashlib.sha256(json.dumps(["central-dp", seed, server_round]).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def flat_clip(updates: torch.Tensor, clipping_norm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row scaled by min(1, C / ‖row‖) (a zero row stays zero); and whether it was scaled down."""
    norms = updates.norm(dim=1)
    scale = torch.where(norms > 0, clipping_norm / norms, torch.ones_like(norms)).clamp(max=1.0)
    return updates * scale.unsqueeze(1), scale < 1


def adaptive_noise_params(noise_multiplier: float, num_sampled_clients: int,
                          clipped_count_stddev: float | None) -> tuple[float, float]:
    """(σ_b, the weights' noise multiplier) of adaptive clipping, as Flower computes them; a
    ``ValueError`` when z ≥ 2σ_b (no noise budget left for the weights)."""
    if noise_multiplier <= 0:
        return (0.0 if clipped_count_stddev is None else clipped_count_stddev), 0.0
    stddev = num_sampled_clients / 20 if clipped_count_stddev is None else clipped_count_stddev
    if noise_multiplier >= 2 * stddev:
        raise ValueError(f"noise multiplier {noise_multiplier:g} needs a clipped-count stddev above "
                         f"{noise_multiplier / 2:g} (it is {stddev:g})")
    return stddev, (noise_multiplier ** -2 - (2 * stddev) ** -2) ** -0.5


@dataclass
class CentralDP:
    """One run's DP mechanism; ``clipping_norm`` changes over rounds with adaptive clipping."""

    mode: str
    noise_multiplier: float
    clipping_norm: float
    num_sampled_clients: int
    seed: int
    target_clipped_quantile: float = 0.5
    clip_norm_lr: float = 0.2
    clipped_count_stddev: float | None = None
    weights_noise_multiplier: float = field(init=False)

    def __post_init__(self) -> None:
        if self.mode not in FLOWER_DP_STRATEGIES:
            raise ValueError(f"unknown DP mode {self.mode!r} (known: {', '.join(FLOWER_DP_STRATEGIES)})")
        self.weights_noise_multiplier = self.noise_multiplier
        if self.adaptive:
            self.clipped_count_stddev, self.weights_noise_multiplier = adaptive_noise_params(
                self.noise_multiplier, self.num_sampled_clients, self.clipped_count_stddev)

    @property
    def adaptive(self) -> bool:
        return self.mode.endswith("adaptive")

    @property
    def clips_on_client(self) -> bool:
        return self.mode.startswith("client")

    def clip(self, updates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip each update with the current norm (the server's clipping or the clients' mods)."""
        return flat_clip(updates, self.clipping_norm)

    def noise_stddev(self) -> float:
        return self.weights_noise_multiplier * self.clipping_norm / self.num_sampled_clients

    def release(self, aggregate_update: torch.Tensor, clipped: torch.Tensor, server_round: int) -> torch.Tensor:
        """The noised aggregate update of one round; adapts the clipping norm first (as Flower does)."""
        rng = np.random.RandomState(round_seed(self.seed, server_round))
        if self.adaptive:
            noisy_count = float(rng.normal(int(clipped.sum()), self.clipped_count_stddev))
            fraction = noisy_count / float(len(clipped))
            self.clipping_norm *= math.exp(-self.clip_norm_lr * (fraction - self.target_clipped_quantile))
        noise = rng.normal(0, self.noise_stddev(), tuple(aggregate_update.shape))
        return aggregate_update + torch.from_numpy(noise).to(aggregate_update.dtype)
