"""Divergence balls around a target distribution ``r`` on the probability simplex.

DROPS (Wei et al., ICLR 2023) measures a classifier by its *delta-worst accuracy*: the
smallest reweighting ``sum_y g_y acc_y`` over weights ``g`` in the ball
``{g in simplex : D(g, r) <= delta}`` (their Eq. 2). Four divergences are offered, as in the
reference implementation:

* ``kl``          ``D(g, r) = sum_y g_y log(g_y / r_y)``
* ``reverse_kl``  ``D(g, r) = sum_y r_y log(r_y / g_y)``
* ``l1``          ``D(g, r) = sum_y |g_y - r_y|``
* ``l2``          ``D(g, r) = sum_y (g_y - r_y)^2``  (the *squared* Euclidean distance)

:func:`worst_case_weights` solves ``min_g <g, a>`` over the ball exactly (dual
bisection for kl / reverse_kl / l2, a greedy mass transport for l1);
:func:`shrink_into_ball` moves any ``g`` onto the segment towards ``r`` until it is inside.
``r`` must be strictly positive.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from reliant.core.errors import ConfigError
from reliant.robustness.config import DIVERGENCES

__all__ = [
    "DIVERGENCES",
    "divergence",
    "divergence_gradient",
    "max_divergence",
    "project_simplex",
    "shrink_into_ball",
    "worst_case_weights",
]

_ALIASES = {"reverse-kl": "reverse_kl", "rkl": "reverse_kl", "reversekl": "reverse_kl"}
_TINY = 1e-300


def canonical(kind: str) -> str:
    """The canonical divergence name; an unknown one is a ConfigError naming the field."""
    name = _ALIASES.get(str(kind).lower(), str(kind).lower())
    if name not in DIVERGENCES:
        raise ConfigError(f"unknown divergence {kind!r} (choose {', '.join(DIVERGENCES)})", field="divergence")
    return name


def divergence(g: np.ndarray, r: np.ndarray, kind: str = "kl") -> float:
    """``D(g, r)`` for one of :data:`DIVERGENCES` (``0 log 0 = 0``; reverse KL is ``inf``
    where ``g`` vanishes)."""
    kind = canonical(kind)
    g = np.asarray(g, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if kind == "kl":
        mask = g > 0
        return float(np.sum(g[mask] * (np.log(g[mask]) - np.log(r[mask]))))
    if kind == "reverse_kl":
        if np.any(g <= 0):
            return math.inf
        return float(np.sum(r * (np.log(r) - np.log(g))))
    if kind == "l1":
        return float(np.sum(np.abs(g - r)))
    return float(np.sum((g - r) ** 2))


def divergence_gradient(g: np.ndarray, r: np.ndarray, kind: str = "kl") -> np.ndarray:
    """``dD(g, r)/dg`` (a subgradient for l1)."""
    kind = canonical(kind)
    g = np.maximum(np.asarray(g, dtype=np.float64), _TINY)
    if kind == "kl":
        return np.log(g) - np.log(r) + 1.0
    if kind == "reverse_kl":
        return -r / g
    if kind == "l1":
        return np.sign(g - r)
    return 2.0 * (g - r)


def max_divergence(r: np.ndarray, kind: str = "kl") -> float:
    """The largest ``D(g, r)`` the simplex allows (``inf`` for reverse KL): beyond it the
    ball is the whole simplex and delta-worst accuracy is worst-class accuracy."""
    kind = canonical(kind)
    r = np.asarray(r, dtype=np.float64)
    if kind == "kl":
        return float(-np.log(r.min()))
    if kind == "reverse_kl":
        return math.inf
    if kind == "l1":
        return float(2.0 * (1.0 - r.min()))
    return float(np.max(np.sum(r**2) - 2.0 * r + 1.0))


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (sort-based, exact)."""
    v = np.asarray(v, dtype=np.float64)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    ind = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - css / ind > 0)[0][-1]
    theta = css[rho] / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def shrink_into_ball(g: np.ndarray, r: np.ndarray, delta: float, kind: str = "kl", iters: int = 60) -> np.ndarray:
    """Return ``g`` if ``D(g, r) <= delta``, else the point ``r + s (g - r)`` with the largest
    ``s in [0, 1]`` inside the ball (``D`` is convex with ``D(r, r) = 0``, so it grows along
    the segment and bisection finds ``s``)."""
    g = np.asarray(g, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if divergence(g, r, kind) <= delta:
        return g
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if divergence(r + mid * (g - r), r, kind) <= delta:
            lo = mid
        else:
            hi = mid
    return r + lo * (g - r)


def _kl_worst(a: np.ndarray, r: np.ndarray, delta: float) -> np.ndarray:
    """``argmin <g, a>`` s.t. ``KL(g || r) <= delta``: ``g_t ∝ r exp(-t a)`` with the largest
    ``t >= 0`` such that ``KL(g_t || r) <= delta`` (dual variable ``lambda = 1/t``)."""
    lowest = a <= a.min() + 1e-12
    if delta >= -math.log(r[lowest].sum()) - 1e-12:
        return np.where(lowest, r, 0.0) / r[lowest].sum()
    spread = float(a.max() - a.min())

    def weights(t: float) -> np.ndarray:
        logits = np.log(r) - t * (a - a.min())
        return np.exp(logits - logsumexp(logits))

    lo, hi = 0.0, 1.0 / spread
    while divergence(weights(hi), r, "kl") <= delta:
        lo, hi = hi, hi * 2.0
        if hi > 1e15 / spread:
            return weights(lo)
    return weights(_bisect_inside(lambda t: divergence(weights(t), r, "kl") <= delta, lo, hi))


def _bisect_inside(inside, lo: float, hi: float, iterations: int = 100) -> float:
    """The largest ``t`` in ``[lo, hi]`` with ``inside(t)`` (``inside(lo)`` holds, ``inside(hi)``
    does not), by ``iterations`` halvings; the ball constraints above are monotone in ``t``."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if inside(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _l2_worst(a: np.ndarray, r: np.ndarray, delta: float) -> np.ndarray:
    """``argmin <g, a>`` s.t. ``||g - r||^2 <= delta``: ``g_t = Proj(r - t a)`` with the
    largest ``t`` inside the ball (the distance to ``r`` grows with ``t``)."""
    spread = float(a.max() - a.min())
    centred = a - a.mean()

    def weights(t: float) -> np.ndarray:
        return project_simplex(r - t * centred)

    far = weights(1e12 / spread)
    if divergence(far, r, "l2") <= delta:
        return far
    lo, hi = 0.0, 1.0 / spread
    while divergence(weights(hi), r, "l2") <= delta:
        lo, hi = hi, hi * 2.0
    return weights(_bisect_inside(lambda t: divergence(weights(t), r, "l2") <= delta, lo, hi))


def _l1_worst(a: np.ndarray, r: np.ndarray, delta: float) -> np.ndarray:
    """``argmin <g, a>`` s.t. ``||g - r||_1 <= delta``: move up to ``delta / 2`` of mass from
    the highest-value entries onto the lowest one (each unit moved costs 2 in L1 and gains
    ``a_i - a_min``, so the greedy transport is the LP optimum)."""
    g = r.copy()
    target = int(np.argmin(a))
    budget = delta / 2.0
    for i in np.argsort(-a, kind="stable"):
        if budget <= 0 or i == target or a[i] <= a[target]:
            continue
        moved = min(budget, g[i])
        g[i] -= moved
        g[target] += moved
        budget -= moved
    return g


def _reverse_kl_worst(a: np.ndarray, r: np.ndarray, delta: float) -> np.ndarray:
    """``argmin <g, a>`` s.t. ``sum r log(r/g) <= delta``: stationarity gives
    ``g_y = r_y / (t a_y + c)`` with ``c`` normalising and the largest ``t`` inside the ball."""
    spread = float(a.max() - a.min())
    b = (a - a.min()) / spread

    def weights(t: float) -> np.ndarray:
        # find c > 0 (since t*b_min = 0) with sum r / (t b + c) = 1; the sum decreases in c
        lo, hi = 1e-300, 1.0  # at c = 1: sum r/(t b + 1) <= 1
        for _ in range(200):
            mid = math.sqrt(lo * hi) if hi / lo > 4 else 0.5 * (lo + hi)
            if np.sum(r / (t * b + mid)) > 1.0:
                lo = mid
            else:
                hi = mid
        g = r / (t * b + hi)
        return g / g.sum()

    lo, hi = 0.0, 1.0
    while divergence(weights(hi), r, "reverse_kl") <= delta:
        lo, hi = hi, hi * 2.0
        if hi > 1e15:
            return weights(lo)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if divergence(weights(mid), r, "reverse_kl") <= delta:
            lo = mid
        else:
            hi = mid
    return weights(lo)


def worst_case_weights(values: np.ndarray, r: np.ndarray, delta: float, kind: str = "kl") -> np.ndarray:
    """The weights ``g`` in ``{g in simplex : D(g, r) <= delta}`` minimising ``<g, values>``.

    With ``values`` the per-class accuracies this is the adversary of the delta-worst
    accuracy (DROPS Eq. 2); ``delta = 0`` gives ``r``, ``delta >= max_divergence(r)`` the
    worst class. Exact up to floating point: the returned ``g`` is always inside the ball.
    """
    kind = canonical(kind)
    a = np.asarray(values, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if a.shape != r.shape or a.ndim != 1:
        raise ValueError(f"values {a.shape} and r {r.shape} must be vectors of one length")
    if delta < 0:
        raise ConfigError(f"delta must be >= 0, got {delta}", field="delta")
    if delta == 0 or float(a.max() - a.min()) <= 1e-15:
        return r.copy()
    if kind == "kl":
        return _kl_worst(a, r, delta)
    if kind == "l2":
        return _l2_worst(a, r, delta)
    if kind == "l1":
        return _l1_worst(a, r, delta)
    return _reverse_kl_worst(a, r, delta)
