"""HOC: noise transition matrix and clean prior from high-order consensus of 2-NN labels.

Zhu, Song & Liu, "Clusterability as an Alternative to Anchor Points When Learning with
Noisy Labels", ICML 2021. Notation: clean label ``Y``, noisy label ``Ỹ``, clean prior
``p_i = P(Y=i)`` and transition matrix ``T_ij = P(Ỹ=j | Y=i)`` (rows sum to one).

2-NN clusterability: a sample and its two nearest neighbours share one clean label, and
their label noise is independent given it. Then the consensus of the three noisy labels
has closed forms (the paper's first-, second- and third-order equations):

    c1[j]     = P(Ỹ1=j)                 = Σ_i p_i T_ij
    c2[j,l]   = P(Ỹ1=j, Ỹ2=l)           = Σ_i p_i T_ij T_il
    c3[j,l,m] = P(Ỹ1=j, Ỹ2=l, Ỹ3=m)     = Σ_i p_i T_ij T_il T_im

The empirical frequencies ĉ1, ĉ2, ĉ3 are counted from (label, 1st-NN label, 2nd-NN label)
triples, averaged over rounds of random subsamples, and ``(T, p)`` is the minimiser of
``Σ_r ||ĉ_r − c_r(T, p)||_2`` over row-stochastic ``T`` and a probability vector ``p``
(softmax parametrisation, Adam with the analytic gradient, from a diagonal-dominant start so that the solution is
the one where most labels are right, as the paper assumes: ``T_ii > T_ij``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reliant.core.arrays import softmax
from reliant.core.progress import progress_bar, track
from reliant.curation.neighbors import NeighborGraph, SubsampleRounds


@dataclass
class HOCResult:
    """Estimated ``T`` (K x K, rows sum to 1) and clean prior ``p``; ``noisy_prior`` is the
    observed label frequency; ``consensus`` the averaged (ĉ1, ĉ2, ĉ3)."""

    T: np.ndarray
    p: np.ndarray
    noisy_prior: np.ndarray
    consensus: tuple[np.ndarray, np.ndarray, np.ndarray]
    loss: float
    rounds: int
    sample_size: int
    dropped: int = 0
    history: list[float] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return int(self.T.shape[0])

    @property
    def noise_rate(self) -> float:
        """Estimated share of wrong labels: ``1 − Σ_i p_i T_ii``."""
        return float(1.0 - np.sum(self.p * np.diag(self.T)))

    def posterior_clean_given_noisy(self) -> np.ndarray:
        """``P(Y=i | Ỹ=j) = p_i T_ij / P(Ỹ=j)`` as a K x K matrix (Bayes rule); its diagonal
        is the share of correct labels among those labelled ``j``."""
        joint = self.p[:, None] * self.T
        return joint / np.maximum(self.noisy_prior[None, :], 1e-12)


def consensus_counts(labels: np.ndarray, nn1: np.ndarray, nn2: np.ndarray, num_classes: int):
    """Empirical first/second/third-order consensus frequencies of label triples."""
    K = num_classes
    n = len(labels)
    c1 = np.bincount(labels, minlength=K).astype(np.float64) / n
    c2 = np.bincount(labels * K + nn1, minlength=K * K).astype(np.float64).reshape(K, K) / n
    c3 = np.bincount((labels * K + nn1) * K + nn2, minlength=K ** 3).astype(np.float64).reshape(K, K, K) / n
    return c1, c2, c3


def analytic_consensus(T, p):
    """The three consensus equations for given ``T`` and ``p``."""
    c1 = p @ T
    c2 = np.einsum("i,ij,il->jl", p, T, T)
    c3 = np.einsum("i,ij,il,im->jlm", p, T, T, T)
    return c1, c2, c3


def consensus_loss_and_grad(T: np.ndarray, p: np.ndarray, consensus) -> tuple[float, np.ndarray, np.ndarray]:
    """``L = Σ_r ||c_r(T, p) − ĉ_r||_2`` and its gradients with respect to ``T`` and ``p``.

    With ``G_r = (c_r − ĉ_r) / ||c_r − ĉ_r||``:
    ``∂L/∂p_i = Σ_j G1_j T_ij + Σ_jl G2_jl T_ij T_il + Σ_jlm G3_jlm T_ij T_il T_im`` and
    ``∂L/∂T_ij = p_i [G1_j + Σ_l (G2_jl + G2_lj) T_il + Σ_lm (G3_jlm + G3_ljm + G3_lmj) T_il T_im]``.
    """
    model = analytic_consensus(T, p)
    loss = 0.0
    G = []
    for c, target in zip(model, consensus):
        e = c - target
        norm = float(np.sqrt(np.sum(e * e)))
        loss += norm
        G.append(e / norm if norm > 0 else np.zeros_like(e))
    G1, G2, G3 = G
    S2 = G2 + G2.T
    S3 = G3 + G3.transpose(1, 0, 2) + G3.transpose(1, 2, 0)
    grad_p = T @ G1 + np.einsum("jl,ij,il->i", G2, T, T) + np.einsum("jlm,ij,il,im->i", G3, T, T, T)
    inner = G1[None, :] + T @ S2.T + np.einsum("jlm,il,im->ij", S3, T, T)
    grad_T = p[:, None] * inner
    return loss, grad_T, grad_p


def solve_transition(
    consensus: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    steps: int = 1500,
    lr: float = 0.1,
    init_diagonal: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, float, list[float]]:
    """Fit ``(T, p)`` to the consensus frequencies; returns ``(T, p, loss, loss_history)``.

    ``T = softmax_rows(W)``, ``p = softmax(v)``; ``W`` starts at ``init_diagonal·I − 1``
    and ``v`` at zero (a uniform prior), so the fit is deterministic. Adam on ``(W, v)``
    with the analytic gradient of :func:`consensus_loss_and_grad`; the best iterate is kept.
    """
    K = len(consensus[0])
    consensus = tuple(np.asarray(c, dtype=np.float64) for c in consensus)
    W = init_diagonal * np.eye(K) - np.ones((K, K))
    v = np.zeros(K)
    params = [W, v]
    m = [np.zeros_like(W), np.zeros_like(v)]
    s = [np.zeros_like(W), np.zeros_like(v)]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    best = (float("inf"), None, None)
    history: list[float] = []
    with progress_bar("HOC: solving the consensus equations", total=steps) as bar:
        for step in range(1, steps + 1):
            T = softmax(params[0], axis=1)
            p = softmax(params[1], axis=0)
            loss, gT, gp = consensus_loss_and_grad(T, p, consensus)
            if loss < best[0]:
                best = (loss, T, p)
            if step % 50 == 1:
                history.append(loss)
            if step % 50 == 0 or step == steps:
                bar.advance(step - (step - 1) // 50 * 50, status=f"loss {best[0]:.4g}")
            grads = [T * (gT - np.sum(gT * T, axis=1, keepdims=True)), p * (gp - np.dot(gp, p))]
            for i in range(2):
                m[i] = beta1 * m[i] + (1 - beta1) * grads[i]
                s[i] = beta2 * s[i] + (1 - beta2) * grads[i] ** 2
                params[i] = params[i] - lr * (m[i] / (1 - beta1 ** step)) / (np.sqrt(s[i] / (1 - beta2 ** step)) + eps)
    loss_min, T_best, p_best = best
    return T_best, p_best, float(loss_min), history


def estimate_transition(
    labels: np.ndarray,
    num_classes: int,
    graph: NeighborGraph,
    *,
    rounds: int = 50,
    sample_fraction: float = 0.8,
    seed: int = 0,
    steps: int = 1500,
    lr: float = 0.1,
) -> HOCResult:
    """HOC on a pool: count consensus triples in ``rounds`` random subsamples (each a
    ``sample_fraction`` share of the rows, neighbours searched inside the subsample),
    average them, and solve the consensus equations for ``T`` and ``p``."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    K = int(num_classes)
    rng = np.random.default_rng(seed)
    size = max(3, min(n, int(round(sample_fraction * n))))
    sums = [np.zeros(K), np.zeros((K, K)), np.zeros((K, K, K))]
    dropped = 0
    subsample = SubsampleRounds(graph)
    row_index = None
    for _ in track(range(max(1, rounds)), "HOC: consensus counts over subsample rounds"):
        rows = subsample.draw(rng, size)
        # The two nearest sampled neighbours of each sampled row, read off the graph's
        # lists (= restrict_to_sample(..., 2), without compacting the lists).
        idx, member, count = subsample.sampled_neighbours(rows)
        ok = count[:, -1] >= 2
        dropped += int(len(rows) - np.count_nonzero(ok))
        if row_index is None or len(row_index) != len(rows):
            row_index = np.arange(len(rows))
        first = idx[row_index, np.argmax(member, axis=1)]
        second = idx[row_index, np.argmax(count >= 2, axis=1)]
        counts = consensus_counts(labels[rows[ok]], labels[first[ok]], labels[second[ok]], K)
        for total, c in zip(sums, counts):
            total += c
    consensus = tuple(s / max(1, rounds) for s in sums)
    T, p, loss, history = solve_transition(consensus, steps=steps, lr=lr)
    noisy_prior = np.bincount(labels, minlength=K).astype(np.float64) / n
    return HOCResult(T=T, p=p, noisy_prior=noisy_prior, consensus=consensus, loss=loss,
                     rounds=max(1, rounds), sample_size=size, dropped=dropped, history=history)


# --------------------------------------------------------------------------- several raters, 2-NN given


@dataclass
class RaterHOCResult:
    """One ``T`` per rater (``T[a]``: P(rater a says j | clean i)), the shared clean prior ``p``."""

    T: np.ndarray
    p: np.ndarray
    loss: float


def rater_consensus(labels: np.ndarray, num_classes: int) -> dict[tuple[int, ...], np.ndarray]:
    """Empirical consensus tables of ``labels`` (items x raters): the label frequencies of
    every rater, the joint of every pair and of every triple of raters."""
    from itertools import combinations

    n, R = labels.shape
    K = num_classes
    tables: dict[tuple[int, ...], np.ndarray] = {}
    for order in (1, 2, 3):
        for group in combinations(range(R), order):
            flat = np.zeros(n, dtype=np.int64)
            for a in group:
                flat = flat * K + labels[:, a]
            tables[group] = np.bincount(flat, minlength=K ** order).reshape((K,) * order) / n
    return tables


def estimate_transition_raters(labels: np.ndarray, num_classes: int, *, steps: int = 1500, lr: float = 0.1,
                               init_diagonal: float = 5.0) -> RaterHOCResult:
    """HOC with the 2-NN given (the official ``already_2nn`` form), generalised to one ``T``
    per rater: ``R >= 3`` raters label the same items, each rater's noise independent given
    the clean label, so for raters a, b, c

        c_a[j] = Σ_i p_i T_a[i,j],   c_ab[j,l] = Σ_i p_i T_a[i,j] T_b[i,l],
        c_abc[j,l,m] = Σ_i p_i T_a[i,j] T_b[i,l] T_c[i,m]

    (the official form uses one shared ``T``). ``Σ ||ĉ − c||_2`` over every table is
    minimised by Adam on softmax parametrisations from a diagonal-dominant start (torch
    autograd; K and R are small)."""
    import torch  # deliberately lazy: only this mode needs autograd

    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 2 or labels.shape[1] < 3:
        raise ValueError("labels must be items x raters with 3 or more raters")
    R, K = labels.shape[1], int(num_classes)
    tables = {group: torch.tensor(table, dtype=torch.float64) for group, table in
              rater_consensus(labels, K).items()}
    W = torch.tensor(np.stack([init_diagonal * np.eye(K) - 1.0] * R), dtype=torch.float64, requires_grad=True)
    v = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([W, v], lr=lr)
    letters = "jlm"
    best = (float("inf"), None, None)
    with progress_bar("HOC (raters): solving the consensus equations", total=steps) as bar:
        for step in range(steps):
            T = torch.softmax(W, dim=2)
            p = torch.softmax(v, dim=0)
            loss = torch.zeros((), dtype=torch.float64)
            for group, target in tables.items():
                spec = "i," + ",".join(f"i{letters[o]}" for o in range(len(group))) + "->" + letters[:len(group)]
                model = torch.einsum(spec, p, *[T[a] for a in group])
                loss = loss + torch.linalg.vector_norm(model - target)
            value = float(loss.detach())
            if value < best[0]:
                best = (value, T.detach().numpy().copy(), p.detach().numpy().copy())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if (step + 1) % 50 == 0 or step + 1 == steps:
                bar.advance(50 if (step + 1) % 50 == 0 else (step + 1) % 50, status=f"loss {best[0]:.4g}")
    return RaterHOCResult(T=best[1], p=best[2], loss=best[0])
