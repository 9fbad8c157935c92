"""The loss formulas of the noise-robust and class-imbalanced learning methods, as plain functions.

Every function takes ``logits`` (batch x K) and integer ``labels`` (batch,) and returns the
mean loss over the batch (a scalar tensor), unless it says otherwise. The registry classes in
:mod:`reliant.construction.methods` call these; the tests check each against values worked
out by hand.

Noise-robust:

* :func:`cross_entropy` -- ``-log p_y``.
* :func:`label_smoothing_loss` -- Szegedy et al. 2016: ``(1-ε)(-log p_y) + ε · mean_c(-log p_c)``.
* :func:`gce_loss` -- generalised cross-entropy, Zhang & Sabuncu, NeurIPS 2018, Eq. 6:
  ``(1 - p_y^q) / q`` (q→0 is CE, q=1 is MAE).
* :func:`forward_corrected_loss` -- Patrini et al., CVPR 2017, "forward correction":
  ``-log (softmax(z) T)_ỹ`` with ``T_ij = P(Ỹ=j | Y=i)``.
* :func:`peer_loss` -- Liu & Guo, ICML 2020, Eq. 5: ``ℓ(f(x_n), ỹ_n) − α ℓ(f(x_{n1}), ỹ_{n2})``
  with ``n1``, ``n2`` drawn independently (here: two independent permutations of the batch).
* :func:`coteaching_losses` -- Han et al., NeurIPS 2018, Algorithm 1: each network keeps the
  ``1 − forget_rate`` share of the batch with the smallest loss under it, and the *other*
  network is updated on those samples.
* :func:`elr_loss` -- Liu et al., NeurIPS 2020, Eq. 8: ``CE + λ log(1 − ⟨p, t⟩)`` where ``t``
  is a running average of the model's (detached) predictions per sample (Eq. 9).

Class-imbalanced:

* :func:`class_weights` -- inverse class frequency ``w_c ∝ 1/n_c`` or the effective number
  (Cui et al., CVPR 2019) ``w_c ∝ (1−β)/(1−β^{n_c})``, normalised to mean 1 over classes.
* :func:`logit_adjusted_loss` -- Menon et al., ICLR 2021, Eq. 10: ``CE(z + τ log π, y)``.
* :func:`balanced_softmax_loss` -- Ren et al., NeurIPS 2020, Eq. 4: ``CE(z + log n, y)``; since
  ``log n = log π + log N`` and softmax ignores a shared constant, this *is* the logit-adjusted
  loss with ``τ = 1`` (a test checks the identity).
* :func:`ldam_loss` -- Cao et al., NeurIPS 2019, Eq. 13: ``CE(s · (z − Δ_y e_y), y)`` with
  margins ``Δ_c = C / n_c^{1/4}``, ``C`` chosen so the largest margin is ``max_margin``; the
  logits are cosine similarities of a normalised head, as in their code.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "balanced_softmax_loss",
    "class_weights",
    "coteaching_keep",
    "coteaching_losses",
    "cross_entropy",
    "elr_loss",
    "forward_corrected_loss",
    "gce_loss",
    "label_smoothing_loss",
    "ldam_margins",
    "ldam_loss",
    "logit_adjusted_loss",
    "peer_loss",
]

_EPS = 1e-7


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``mean_n w_{y_n} (−log p_{y_n})`` (PyTorch's weighted mean divides by ``Σ w_{y_n}``)."""
    return F.cross_entropy(logits, labels, weight=weight)


def label_smoothing_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy against ``(1−ε) e_y + ε/K``: ``(1−ε)(−log p_y) + ε mean_c(−log p_c)``."""
    log_p = F.log_softmax(logits, dim=1)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    uniform = -log_p.mean(dim=1)
    return ((1.0 - smoothing) * nll + smoothing * uniform).mean()


def gce_loss(logits: torch.Tensor, labels: torch.Tensor, q: float) -> torch.Tensor:
    """Generalised cross-entropy ``(1 − p_y^q) / q`` (Zhang & Sabuncu 2018, Eq. 6)."""
    p_y = F.softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1).clamp_min(_EPS)
    return ((1.0 - p_y.pow(q)) / q).mean()


def forward_corrected_loss(logits: torch.Tensor, labels: torch.Tensor, transition: torch.Tensor) -> torch.Tensor:
    """``−log (softmax(z) T)_ỹ``: the model's clean posterior pushed through ``T`` (rows: clean
    class, columns: noisy class) is fitted to the noisy label (Patrini et al. 2017, Thm. 2)."""
    noisy_probs = F.softmax(logits, dim=1) @ transition
    return F.nll_loss(torch.log(noisy_probs.clamp_min(_EPS)), labels)


def peer_loss(logits: torch.Tensor, labels: torch.Tensor, alpha: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``CE(z_n, ỹ_n) − α CE(z_{n1}, ỹ_{n2})`` averaged over the batch, the peer term pairing the
    prediction of one random sample with the label of another, drawn independently."""
    n = len(labels)
    pick_prediction = torch.randint(n, (n,), generator=generator).to(labels.device)
    pick_label = torch.randint(n, (n,), generator=generator).to(labels.device)
    peer = F.cross_entropy(logits[pick_prediction], labels[pick_label])
    return F.cross_entropy(logits, labels) - alpha * peer


def coteaching_keep(per_sample_loss: torch.Tensor, forget_rate: float) -> torch.Tensor:
    """Indices of the ``round((1 − forget_rate) n)`` smallest losses (at least one)."""
    n = len(per_sample_loss)
    keep = max(1, int(round((1.0 - forget_rate) * n)))
    return torch.argsort(per_sample_loss.detach(), stable=True)[:keep]


def coteaching_losses(logits_a: torch.Tensor, logits_b: torch.Tensor, labels: torch.Tensor,
                      forget_rate: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Co-teaching's cross update: network A learns from the samples B finds easy, and B from
    the ones A finds easy. Returns ``(loss_a, loss_b)``."""
    loss_a = F.cross_entropy(logits_a, labels, reduction="none")
    loss_b = F.cross_entropy(logits_b, labels, reduction="none")
    easy_for_a = coteaching_keep(loss_a, forget_rate)
    easy_for_b = coteaching_keep(loss_b, forget_rate)
    return loss_a[easy_for_b].mean(), loss_b[easy_for_a].mean()


def elr_loss(logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor, lam: float) -> torch.Tensor:
    """Early-learning regularisation: ``CE + λ log(1 − ⟨p, t⟩)``; ``targets`` are the running
    averages ``t`` of the rows (no gradient flows into them). The probabilities are clamped to
    ``[1e-4, 1 − 1e-4]`` and renormalised, as in the authors' code, so the log stays finite."""
    probs = F.softmax(logits, dim=1).clamp(1e-4, 1.0 - 1e-4)
    probs = probs / probs.sum(dim=1, keepdim=True)
    agreement = (probs * targets.detach()).sum(dim=1)
    return F.cross_entropy(logits, labels) + lam * torch.log(1.0 - agreement).mean()


def class_weights(counts: np.ndarray, scheme: str = "inverse", beta: float = 0.9999) -> np.ndarray:
    """Per-class loss weights, mean 1 over classes: ``1/n_c`` (``inverse``) or the effective
    number ``(1−β)/(1−β^{n_c})`` (``effective``, Cui et al. 2019)."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    if scheme == "inverse":
        raw = 1.0 / counts
    elif scheme == "effective":
        raw = (1.0 - beta) / (1.0 - np.power(beta, counts))
    else:
        raise ValueError(f"unknown weighting scheme {scheme!r}")
    return raw / raw.mean()


def logit_adjusted_loss(logits: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor,
                        tau: float = 1.0) -> torch.Tensor:
    """``CE(z + τ log π, y)`` (Menon et al. 2021, Eq. 10); predict with the raw ``z``."""
    return F.cross_entropy(logits + tau * log_prior, labels)


def balanced_softmax_loss(logits: torch.Tensor, labels: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``−log (n_y e^{z_y} / Σ_c n_c e^{z_c})`` (Ren et al. 2020, Eq. 4)."""
    return F.cross_entropy(logits + torch.log(counts.clamp_min(1.0)), labels)


def ldam_margins(counts: np.ndarray, max_margin: float = 0.5) -> np.ndarray:
    """``Δ_c ∝ n_c^{-1/4}``, scaled so that the rarest class gets ``max_margin``."""
    raw = 1.0 / np.power(np.maximum(np.asarray(counts, dtype=np.float64), 1.0), 0.25)
    return raw * (max_margin / raw.max())


def ldam_loss(logits: torch.Tensor, labels: torch.Tensor, margins: torch.Tensor, scale: float = 30.0,
              weight: torch.Tensor | None = None) -> torch.Tensor:
    """``CE(s (z − Δ_y e_y), y)``, optionally class-weighted (the DRW stage)."""
    shifted = logits - F.one_hot(labels, logits.shape[1]).to(logits.dtype) * margins[labels][:, None]
    return F.cross_entropy(scale * shifted, labels, weight=weight)
