"""Aggregation rules: one registered class each, the maths in plain torch.

Every rule takes the clients' updates stacked as rows of an ``(n, d)`` tensor (an update is
the client's new weights minus the global weights it started from) and returns an
:class:`Aggregate`: the aggregated update and the share of it each client contributed
(``kept_share``, summing to 1). A client whose share is 0 was excluded by the rule, which is
how reports measure a rule's *detection* of the attacker.

Flower aggregates the returned weights rather than the updates; every rule here is
translation-equivariant, so both give the same global model when all clients start from
the same weights (``tests/federated/test_aggregators.py`` checks each rule against Flower's
own functions). Flower's strategies are the ones the Flower layer runs
(:mod:`reliant.federated.simulation`); what Flower lacks (FLTrust) is written here and wired
into a strategy that subclasses Flower's ``FedAvg``.

Rules and sources:

* ``fedavg`` — McMahan et al. 2017: mean weighted by examples.
* ``krum`` / ``multikrum`` — Blanchard et al. 2017: score(i) = sum of squared distances to
  its n - f - 2 nearest updates; Krum keeps the lowest, Multi-Krum the m lowest and averages them.
* ``bulyan`` — El Mhamdi et al. 2018: θ = n - 2f updates chosen by Multi-Krum, then per
  coordinate the mean of the β = θ - 2f values closest to the coordinate-wise median. As in
  Flower, the θ updates are chosen by one Multi-Krum pass (the paper removes them one Krum at a time).
* ``median`` — Yin et al. 2018: coordinate-wise median.
* ``trimmedmean`` — Yin et al. 2018: per coordinate, drop the ⌊βn⌋ smallest and largest values.
* ``fltrust`` — Cao et al., NDSS 2021: trust score TS_i = ReLU(cos(g_i, g_0)) against the
  server's update g_0 on a small clean root set; each update rescaled to ‖g_0‖; aggregate
  Σ TS_i ĝ_i / Σ TS_i (zero when every score is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

__all__ = [
    "Aggregate",
    "AggregationRule",
    "REGISTRY",
    "RULE_LABELS",
    "available_rules",
    "get_rule",
    "register",
]


@dataclass
class Aggregate:
    """The aggregated update and how much of it each client supplied."""

    update: torch.Tensor  # (d,)
    kept_share: torch.Tensor  # (n,), sums to 1 (all zeros only when FLTrust trusts nobody)
    scores: torch.Tensor | None = None  # Krum scores or FLTrust trust scores, when the rule has them

    def excluded(self) -> list[bool]:
        """Clients the rule gave no weight at all."""
        return [bool(share <= 0) for share in self.kept_share]


class AggregationRule:
    """One aggregation rule. ``num_malicious`` is the f the rule is configured to tolerate."""

    name: ClassVar[str]
    label: ClassVar[str]
    needs_root: ClassVar[bool] = False  # whether the server computes an update on a clean root set
    excludes_clients: ClassVar[bool] = False  # whether "share 0" is a per-client decision (detection)

    def __init__(self, num_malicious: int = 0, trim_fraction: float = 0.2, num_selected: int | None = None) -> None:
        self.num_malicious = int(num_malicious)
        self.trim_fraction = float(trim_fraction)
        self.num_selected = num_selected

    def min_clients(self) -> int:
        """The fewest updates the rule is defined on."""
        return 1

    def aggregate(self, updates: torch.Tensor, weights: torch.Tensor | None = None,
                  root_update: torch.Tensor | None = None) -> Aggregate:
        updates = _check_updates(updates)
        if len(updates) < self.min_clients():
            raise ValueError(f"{self.label} with f={self.num_malicious} needs at least {self.min_clients()} "
                             f"updates, got {len(updates)}")
        weights = torch.ones(len(updates), dtype=updates.dtype) if weights is None else weights.to(updates.dtype)
        return self._aggregate(updates, weights, root_update)

    def _aggregate(self, updates: torch.Tensor, weights: torch.Tensor, root_update: torch.Tensor | None) -> Aggregate:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_malicious={self.num_malicious})"


REGISTRY: dict[str, type[AggregationRule]] = {}


def register(cls: type[AggregationRule]) -> type[AggregationRule]:
    if cls.name in REGISTRY:
        raise ValueError(f"aggregation rule {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def available_rules() -> list[str]:
    return list(REGISTRY)


def get_rule(name: str, **params: Any) -> AggregationRule:
    try:
        return REGISTRY[name](**params)
    except KeyError:
        raise ValueError(f"unknown aggregation rule {name!r} (known: {', '.join(REGISTRY)})") from None


def _check_updates(updates: torch.Tensor) -> torch.Tensor:
    if not isinstance(updates, torch.Tensor) or updates.ndim != 2 or len(updates) == 0:
        raise TypeError("updates must be a non-empty (n, d) tensor, one row per client")
    return updates


def _weighted_mean(updates: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    share = weights / weights.sum()
    return share @ updates, share


def pairwise_squared_distances(updates: torch.Tensor) -> torch.Tensor:
    """‖u_i - u_j‖² for every pair (exact, not via the ‖a‖² + ‖b‖² - 2ab expansion)."""
    return torch.cdist(updates.double(), updates.double()).pow(2).to(updates.dtype)


def krum_scores(updates: torch.Tensor, num_malicious: int) -> torch.Tensor:
    """Blanchard et al. (2017), eq. of Krum: the sum of squared distances from each update to its
    n - f - 2 nearest other updates (at least 1, as in Flower)."""
    distances = pairwise_squared_distances(updates)
    n = len(updates)
    closest = max(1, n - num_malicious - 2)
    distances.fill_diagonal_(float("inf"))
    nearest = torch.sort(distances, dim=1).values[:, : min(closest, n - 1)]
    return nearest.sum(dim=1) if n > 1 else torch.zeros(1, dtype=updates.dtype)


def multikrum_select(updates: torch.Tensor, num_malicious: int, num_selected: int) -> torch.Tensor:
    """Indices of the ``num_selected`` lowest Krum scores (ties broken by index, stably)."""
    scores = krum_scores(updates, num_malicious)
    return torch.sort(scores, stable=True).indices[:num_selected]


@register
class FedAvg(AggregationRule):
    name = "fedavg"
    label = "FedAvg"

    def _aggregate(self, updates, weights, root_update):
        update, share = _weighted_mean(updates, weights)
        return Aggregate(update, share)


@register
class MultiKrum(AggregationRule):
    name = "multikrum"
    label = "Multi-Krum"
    excludes_clients = True

    def selected_count(self, n: int) -> int:
        # Blanchard et al. use m = n - f; Flower's MultiKrum takes m as a parameter.
        return self.num_selected if self.num_selected is not None else max(1, n - self.num_malicious)

    def _aggregate(self, updates, weights, root_update):
        chosen = multikrum_select(updates, self.num_malicious, min(self.selected_count(len(updates)), len(updates)))
        mask = torch.zeros(len(updates), dtype=updates.dtype)
        mask[chosen] = weights[chosen]
        share = mask / mask.sum()
        return Aggregate(share @ updates, share, krum_scores(updates, self.num_malicious))


@register
class Krum(MultiKrum):
    name = "krum"
    label = "Krum"

    def selected_count(self, n: int) -> int:
        return 1


@register
class Bulyan(AggregationRule):
    name = "bulyan"
    label = "Bulyan"
    excludes_clients = True

    def min_clients(self) -> int:
        return 4 * self.num_malicious + 3

    def _aggregate(self, updates, weights, root_update):
        n, f = len(updates), self.num_malicious
        theta, beta = n - 2 * f, n - 4 * f
        chosen = multikrum_select(updates, f, theta)
        selected = updates[chosen]
        median = selected.median(dim=0).values if theta % 2 else selected.quantile(0.5, dim=0)
        # Per coordinate, the beta selected values closest to the median (Flower uses np.median,
        # the mean of the two middle values for even θ; torch.median would take the lower one).
        closest = torch.topk((selected - median).abs(), beta, dim=0, largest=False).indices
        update = torch.gather(selected, 0, closest).mean(dim=0)
        counts = torch.zeros(n, dtype=updates.dtype)
        counts.index_add_(0, chosen, torch.bincount(closest.reshape(-1), minlength=theta).to(updates.dtype))
        return Aggregate(update, counts / counts.sum(), krum_scores(updates, f))


def _coordinate_share(order: torch.Tensor, low: int, high: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """Share of the coordinates at which each client's value sits in sorted positions [low, high)."""
    kept = order[low:high]  # (high - low, d) client indices
    counts = torch.bincount(kept.reshape(-1), minlength=n).to(dtype)
    return counts / counts.sum()


@register
class Median(AggregationRule):
    name = "median"
    label = "Median"

    def _aggregate(self, updates, weights, root_update):
        n = len(updates)
        values, order = torch.sort(updates, dim=0, stable=True)
        if n % 2:
            update, low, high = values[n // 2], n // 2, n // 2 + 1
        else:  # numpy's median (and Flower's FedMedian): the mean of the two middle values
            update, low, high = (values[n // 2 - 1] + values[n // 2]) / 2, n // 2 - 1, n // 2 + 1
        return Aggregate(update, _coordinate_share(order, low, high, n, updates.dtype))


@register
class TrimmedMean(AggregationRule):
    name = "trimmedmean"
    label = "Trimmed mean"

    def _aggregate(self, updates, weights, root_update):
        if not 0.0 <= self.trim_fraction < 0.5:
            raise ValueError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction}")
        n = len(updates)
        cut = int(self.trim_fraction * n)  # as scipy.stats.trim_mean and Flower's FedTrimmedAvg
        values, order = torch.sort(updates, dim=0, stable=True)
        update = values[cut:n - cut].mean(dim=0)
        return Aggregate(update, _coordinate_share(order, cut, n - cut, n, updates.dtype))


@register
class FLTrust(AggregationRule):
    name = "fltrust"
    label = "FLTrust"
    needs_root = True
    excludes_clients = True

    def _aggregate(self, updates, weights, root_update):
        if root_update is None:
            raise ValueError("FLTrust needs the server's update on its root set (root_update)")
        root = root_update.to(updates.dtype).reshape(-1)
        root_norm = root.norm()
        norms = updates.norm(dim=1)
        cosine = (updates @ root) / (norms * root_norm).clamp_min(torch.finfo(updates.dtype).tiny)
        trust = torch.relu(cosine)
        if trust.sum() <= 0:
            return Aggregate(torch.zeros_like(root), torch.zeros(len(updates), dtype=updates.dtype), trust)
        rescaled = updates * (root_norm / norms.clamp_min(torch.finfo(updates.dtype).tiny)).unsqueeze(1)
        share = trust / trust.sum()
        return Aggregate(share @ rescaled, share, trust)


#: what reports show for each registered rule
RULE_LABELS: dict[str, str] = {name: cls.label for name, cls in REGISTRY.items()}
