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
* ``afa`` — Adaptive Federated Averaging, Muñoz-González, Co and Lupu 2019 (arXiv 1909.05125),
  Algorithm 1: repeat { a = weighted mean of the good updates; s_k = cos(u_k, a); μ, med, σ
  the mean, median and (population) standard deviation of the s_k; if μ < med drop the updates
  with s_k < med - ξσ, else those with s_k > med + ξσ; ξ += Δξ } until nothing is dropped
  (ξ₀ = 2, Δξ = 0.5 as in the paper). The paper's Beta-posterior reputation that blocks a
  client over rounds is left out (the aggregate uses example weights, the prior's p_k = 1/2 for all).
* ``fang`` — the ERR + LFR defence of Fang, Cao, Jia and Gong (USENIX Security 2020, sec. 6), as the
  CGI authors combine it: on the server's validation (root) set, ERR_i = acc(a) - acc(a_{-i}) and
  LFR_i = loss(a) - loss(a_{-i}), where a is the mean of all updates and a_{-i} the mean without
  client i; both min-max normalised to [0, 1]; the f clients with the lowest ERR_i - LFR_i
  (removing them helps accuracy and loss the most) are dropped and the rest averaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

__all__ = [
    "Aggregate",
    "AggregationRule",
    "Evaluator",
    "REGISTRY",
    "RULE_LABELS",
    "available_rules",
    "get_rule",
    "register",
]


Evaluator = Callable[[torch.Tensor], tuple[float, float]]
"""(accuracy, loss) on the server's validation set of the global model moved by an update (Fang's ERR/LFR)."""


@dataclass
class Aggregate:
    """The aggregated update and how much of it each client supplied."""

    update: torch.Tensor  # (d,)
    kept_share: torch.Tensor  # (n,), sums to 1 (all zeros only when FLTrust trusts nobody)
    scores: torch.Tensor | None = None  # Krum scores, FLTrust trust scores, AFA cosines, Fang's ERR - LFR

    def excluded(self) -> list[bool]:
        """Clients the rule gave no weight at all."""
        return [bool(share <= 0) for share in self.kept_share]


class AggregationRule:
    """One aggregation rule. ``num_malicious`` is the f the rule is configured to tolerate."""

    name: ClassVar[str]
    label: ClassVar[str]
    needs_root: ClassVar[bool] = False  # whether the server computes an update on a clean root set
    needs_validation: ClassVar[bool] = False  # whether the server scores candidate aggregates on its root set
    excludes_clients: ClassVar[bool] = False  # whether "share 0" is a per-client decision (detection)

    def __init__(self, num_malicious: int = 0, trim_fraction: float = 0.2, num_selected: int | None = None,
                 afa_xi: float = 2.0, afa_xi_step: float = 0.5) -> None:
        self.num_malicious = int(num_malicious)
        self.trim_fraction = float(trim_fraction)
        self.num_selected = num_selected
        self.afa_xi = float(afa_xi)
        self.afa_xi_step = float(afa_xi_step)

    def min_clients(self) -> int:
        """The fewest updates the rule is defined on."""
        return 1

    def aggregate(self, updates: torch.Tensor, weights: torch.Tensor | None = None,
                  root_update: torch.Tensor | None = None, evaluate: Evaluator | None = None) -> Aggregate:
        """``root_update``: the server's own update (FLTrust); ``evaluate``: scores an update on the
        server's validation set (Fang)."""
        updates = _check_updates(updates)
        if len(updates) < self.min_clients():
            raise ValueError(f"{self.label} with f={self.num_malicious} needs at least {self.min_clients()} "
                             f"updates, got {len(updates)}")
        weights = torch.ones(len(updates), dtype=updates.dtype) if weights is None else weights.to(updates.dtype)
        if self.needs_validation:
            if evaluate is None:
                raise ValueError(f"{self.label} needs an evaluator on the server's validation set (evaluate)")
            return self._validate_and_aggregate(updates, weights, evaluate)
        return self._aggregate(updates, weights, root_update)

    def _aggregate(self, updates: torch.Tensor, weights: torch.Tensor, root_update: torch.Tensor | None) -> Aggregate:
        raise NotImplementedError

    def _validate_and_aggregate(self, updates: torch.Tensor, weights: torch.Tensor, evaluate: Evaluator) -> Aggregate:
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


def _kept_mean(updates: torch.Tensor, weights: torch.Tensor, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean of the rows where ``kept`` is true; share 0 for the others."""
    masked = torch.where(kept, weights, torch.zeros_like(weights))
    share = masked / masked.sum()
    return share @ updates, share


@register
class AFA(AggregationRule):
    name = "afa"
    label = "AFA"
    excludes_clients = True

    def _aggregate(self, updates, weights, root_update):
        good = torch.ones(len(updates), dtype=torch.bool)
        xi = self.afa_xi
        norms = updates.norm(dim=1).clamp_min(torch.finfo(updates.dtype).tiny)
        while True:
            mean, _ = _kept_mean(updates, weights, good)
            similarity = (updates @ mean) / (norms * mean.norm().clamp_min(torch.finfo(updates.dtype).tiny))
            s = similarity[good]
            mu, sigma = s.mean(), s.std(unbiased=False)
            median = s.quantile(0.5)  # numpy's median: the mean of the two middle values for an even count
            if mu < median:
                bad = good & (similarity < median - xi * sigma)
            else:
                bad = good & (similarity > median + xi * sigma)
            if not bad.any():
                break
            good &= ~bad
            xi += self.afa_xi_step
        update, share = _kept_mean(updates, weights, good)
        return Aggregate(update, share, similarity)


def _min_max(values: torch.Tensor) -> torch.Tensor:
    gap = values.max() - values.min()
    shifted = values - values.min()
    return shifted / gap if gap > 0 else shifted


@register
class Fang(AggregationRule):
    name = "fang"
    label = "Fang (ERR+LFR)"
    needs_validation = True
    excludes_clients = True

    def min_clients(self) -> int:
        return self.num_malicious + 1

    def _validate_and_aggregate(self, updates, weights, evaluate):
        n = len(updates)
        everyone = torch.ones(n, dtype=torch.bool)
        accuracy_all, loss_all = evaluate(_kept_mean(updates, weights, everyone)[0])
        error_effect = torch.zeros(n, dtype=updates.dtype)
        loss_effect = torch.zeros(n, dtype=updates.dtype)
        for i in range(n):
            without = everyone.clone()
            without[i] = False
            accuracy, loss = evaluate(_kept_mean(updates, weights, without)[0])
            error_effect[i] = accuracy_all - accuracy  # > 0: client i raised the accuracy
            loss_effect[i] = loss_all - loss  # > 0: client i raised the loss
        score = _min_max(error_effect) - _min_max(loss_effect)
        kept = torch.zeros(n, dtype=torch.bool)
        kept[torch.sort(-score, stable=True).indices[: n - self.num_malicious]] = True
        update, share = _kept_mean(updates, weights, kept)
        return Aggregate(update, share, score)


#: what reports show for each registered rule
RULE_LABELS: dict[str, str] = {name: cls.label for name, cls in REGISTRY.items()}
