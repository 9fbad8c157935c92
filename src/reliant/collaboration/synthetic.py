"""A synthetic human-machine problem with known, different error structures (no files needed).

Each item of class ``y`` has a machine difficulty ``e_m`` and a human difficulty ``e_h`` drawn
from Beta distributions whose underlying normal scores are correlated (``rho``), so the
two sources find partly, not fully, the same items hard. The machine's probabilities mix the
true class with the machine's own confusion partners, ``p = (1 - e_m) 1_y + e_m M_y``, tempered
and jittered into logits; each of ``votes_per_item`` humans votes from
``(1 - e_h) 1_y + e_h H_y``. ``M`` and ``H`` send mistakes to different (overlapping) classes,
as CIFAR-10 machines and humans do (Liu, Wei, Liu & Davis).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import norm

__all__ = ["synthetic_human_machine"]


def _confusion_rows(num_classes: int, partners: dict[int, list[int]], rng: np.random.Generator) -> np.ndarray:
    rows = np.full((num_classes, num_classes), 0.02)
    for y in range(num_classes):
        for k in partners.get(y, []):
            rows[y, k] += 1.0
        rows[y, y] = 0.0
        rows[y] += 0.05 * rng.random(num_classes) * (np.arange(num_classes) != y)
    return rows / rows.sum(axis=1, keepdims=True)


def synthetic_human_machine(n: int = 4000, num_classes: int = 10, votes_per_item: int = 20, rho: float = 0.3,
                            seed: int = 0, machine_rho: float | None = None) -> dict[str, np.ndarray]:
    """``{"logits", "votes", "labels"}`` for ``n`` items: machine logits (n x K), human vote
    counts (n x K, ``votes_per_item`` each) and the true labels. With ``machine_rho`` also
    ``"logits_b"``: a second machine whose difficulty correlates with the first one's at
    ``machine_rho`` (and with the human's at ``rho``) and that shares its confusion partners,
    as two networks trained on the same data tend to."""
    rng = np.random.default_rng(seed)
    k = num_classes
    labels = rng.integers(0, k, size=n)
    machine_partners = {y: [(y + 1) % k] for y in range(k)}
    human_partners = {y: [(y + 3) % k, (y + 1) % k] if y % 3 == 0 else [(y + 3) % k] for y in range(k)}
    m_rows = _confusion_rows(k, machine_partners, rng)
    h_rows = _confusion_rows(k, human_partners, rng)
    z = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    # drawn after z, so the first machine and the votes are the same with or without the second machine
    z_b = None
    if machine_rho is not None:
        z_b = machine_rho * z[:, 0] + np.sqrt(max(1.0 - machine_rho ** 2, 0.0)) * rng.standard_normal(n)
    u = norm.cdf(z)
    e_m = beta_dist.ppf(u[:, 0], 0.6, 3.0)  # mostly easy for the machine, a heavy tail of hard items
    e_h = beta_dist.ppf(u[:, 1], 0.5, 5.0)
    onehot = np.eye(k)[labels]
    p_machine = (1 - e_m)[:, None] * onehot + e_m[:, None] * m_rows[labels]
    logits = 3.0 * np.log(np.clip(p_machine, 1e-6, None)) + 0.8 * rng.standard_normal((n, k))
    p_human = (1 - e_h)[:, None] * onehot + e_h[:, None] * h_rows[labels]
    p_human /= p_human.sum(axis=1, keepdims=True)
    votes = np.stack([rng.multinomial(votes_per_item, p) for p in p_human])
    out = {"logits": logits, "votes": votes.astype(np.int64), "labels": labels.astype(np.int64)}
    if z_b is not None:
        e_b = beta_dist.ppf(norm.cdf(z_b), 0.6, 3.0)
        p_b = (1 - e_b)[:, None] * onehot + e_b[:, None] * m_rows[labels]
        out["logits_b"] = 3.0 * np.log(np.clip(p_b, 1e-6, None)) + 0.8 * rng.standard_normal((n, k))
    return out
