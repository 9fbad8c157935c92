"""Memorization of small classifiers, measured by training many models on random subsets.

One set of subset-trained models (each example included with probability ``p``, so every
example has models that saw it and models that did not) gives, at once:

* counterfactual memorization / Feldman self-influence per example (Zhang et al., 2021;
  Feldman & Zhang, 2020), from correctness and from the true-label probability;
* forgetting events per example (Toneva et al., 2019), from each model's per-epoch
  predictions on its own training subset;
* LiRA membership inference (Carlini et al., 2022), online and offline, with every model in
  turn as the target and the others as its shadow models, against the plain
  confidence-threshold attack (Yeom et al., 2018) as baseline.

The model is a small MLP in PyTorch (deterministic on CPU for a given seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reliant.core.errors import ConfigError
from reliant.core.progress import track
from reliant.memorization import metrics as M
from reliant.memorization.inputs import ClassifierData, load_classifier_data

__all__ = ["ClassifierData", "SubsetResult", "atypicality", "digits_with_noise", "load_classifier_data",
           "train_on_subsets"]


def digits_with_noise(noise: float = 0.05, seed: int = 0, n: int | None = None) -> ClassifierData:
    """scikit-learn's bundled 8x8 digits (1,797 images, offline), standardised, with a
    ``noise`` fraction of labels flipped to another class at random."""
    from sklearn.datasets import load_digits

    if not 0 <= noise < 1:
        raise ConfigError(f"noise must be in [0, 1), got {noise}", field="noise")
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(int)
    rng = np.random.default_rng(seed)
    if n is not None:
        keep = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
        x, y = x[keep], y[keep]
    noisy = y.copy()
    flip = rng.choice(len(y), size=int(round(noise * len(y))), replace=False)
    noisy[flip] = (y[flip] + rng.integers(1, 10, size=len(flip))) % 10
    return ClassifierData(x, noisy, y, [f"digits:{i}" for i in range(len(y))])


def _train_one(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, *, hidden: int, epochs: int, lr: float, batch_size: int, seed: int,
    weight_decay: float,
) -> tuple[torch.nn.Module, np.ndarray]:
    """Train an MLP with Adam; returns it and the (epochs x n) correctness history on x."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = np.zeros((epochs, len(y)), dtype=bool)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            chosen = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[chosen]), y[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            history[epoch] = (model(x).argmax(1) == y).numpy()
    return model, history


@dataclass
class SubsetResult:
    data: ClassifierData
    included: np.ndarray  # (models, n) bool
    correct: np.ndarray  # (models, n) bool, each model on every example (observed label)
    label_prob: np.ndarray  # (models, n) softmax probability of the observed label
    phi: np.ndarray  # (models, n) logit-scaled confidence (LiRA)
    forgetting: np.ndarray  # (n,) forgetting events summed over the models that trained on it
    never_learned: np.ndarray  # (n,) bool: never learnt by any model that trained on it
    test_accuracy: float  # mean accuracy of the models on examples left out of their subset (clean labels)
    config: dict[str, Any] = field(default_factory=dict)

    def memorization(self) -> np.ndarray:
        """Counterfactual memorization on correctness (Feldman's self-influence)."""
        return M.counterfactual_memorization(self.correct.astype(float), self.included)

    def memorization_prob(self) -> np.ndarray:
        """Counterfactual memorization on the probability of the label (Zhang et al.)."""
        return M.counterfactual_memorization(self.label_prob, self.included)

    def lira(self, n_targets: int | None = None, global_variance: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """LiRA online/offline and the confidence baseline, pooled over target models:
        every model in turn (up to ``n_targets``) is the target, the rest its shadows.
        Returns attack -> (member scores, non-member scores)."""
        n_models = len(self.included)
        targets = range(n_models if n_targets is None else min(n_targets, n_models))
        pooled: dict[str, list[list[float]]] = {"lira_online": [[], []], "lira_offline": [[], []], "confidence": [[], []]}
        for t in targets:
            shadows = np.array([m for m in range(n_models) if m != t])
            inc = self.included[shadows]
            phi = self.phi[shadows]
            in_phi = np.where(inc, phi, np.nan)
            out_phi = np.where(~inc, phi, np.nan)
            ok = (~np.isnan(in_phi)).sum(0) >= 1
            ok &= (~np.isnan(out_phi)).sum(0) >= 2
            scores = {
                "lira_online": M.lira_online(self.phi[t][ok], in_phi[:, ok], out_phi[:, ok], global_variance=global_variance),
                "lira_offline": M.lira_offline(self.phi[t][ok], out_phi[:, ok], global_variance=global_variance),
                "confidence": self.phi[t][ok],
            }
            member = self.included[t][ok]
            for name, values in scores.items():
                pooled[name][0].extend(values[member].tolist())
                pooled[name][1].extend(values[~member].tolist())
        return {name: (np.array(m), np.array(n)) for name, (m, n) in pooled.items()}


def train_on_subsets(
    data: ClassifierData,
    *,
    n_models: int = 16,
    inclusion: float = 0.5,
    epochs: int = 60,
    hidden: int = 256,
    lr: float = 1e-2,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> SubsetResult:
    """Train ``n_models`` MLPs, each on an independent random subset (every example kept
    with probability ``inclusion``), and record what every estimator needs."""
    if n_models < 2:
        raise ConfigError("need at least 2 models (some with and some without each example)", field="n_models")
    if not 0 < inclusion < 1:
        raise ConfigError(f"inclusion must be in (0, 1), got {inclusion}", field="inclusion")
    if epochs < 1:
        raise ConfigError("epochs must be at least 1", field="epochs")
    n = len(data.labels)
    n_classes = int(data.labels.max()) + 1
    x = torch.tensor(data.features, dtype=torch.float32)
    y = torch.tensor(data.labels, dtype=torch.long)
    rng = np.random.default_rng(seed)
    included = rng.random((n_models, n)) < inclusion
    correct = np.zeros((n_models, n), dtype=bool)
    label_prob = np.zeros((n_models, n))
    phi = np.zeros((n_models, n))
    forgetting = np.zeros(n, dtype=int)
    learned_ever = np.zeros(n, dtype=bool)
    trained_ever = np.zeros(n, dtype=bool)
    held_out_acc = []
    # A small MLP gains nothing from intra-op threads; on a busy machine they only spin.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _fit_all(x, y, data, included, n_classes, hidden, epochs, lr, batch_size, seed, weight_decay,
                 correct, label_prob, phi, forgetting, learned_ever, trained_ever, held_out_acc)
    finally:
        torch.set_num_threads(threads)
    config = {"n_models": n_models, "inclusion": inclusion, "epochs": epochs, "hidden": hidden, "lr": lr,
              "batch_size": batch_size, "weight_decay": weight_decay, "seed": seed}
    return SubsetResult(data, included, correct, label_prob, phi, forgetting, trained_ever & ~learned_ever,
                        float(np.mean(held_out_acc)), config)


def _fit_all(x, y, data, included, n_classes, hidden, epochs, lr, batch_size, seed, weight_decay,
             correct, label_prob, phi, forgetting, learned_ever, trained_ever, held_out_acc) -> None:
    n = len(data.labels)
    clean = torch.tensor(data.true_labels if data.true_labels is not None else data.labels, dtype=torch.long)
    for m in track(range(len(included)), "training subset models"):
        idx = np.flatnonzero(included[m])
        model, history = _train_one(x[idx], y[idx], n_classes, hidden=hidden, epochs=epochs, lr=lr,
                                    batch_size=batch_size, seed=seed * 1000 + m, weight_decay=weight_decay)
        counts, never = M.forgetting_events(history)
        forgetting[idx] += counts
        learned_ever[idx] |= ~never
        trained_ever[idx] = True
        with torch.no_grad():
            logits = model(x).double().numpy()
        correct[m] = logits.argmax(1) == data.labels
        shifted = logits - logits.max(1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
        label_prob[m] = probs[np.arange(n), data.labels]
        phi[m] = M.logit_confidence(logits, data.labels)
        out = ~included[m]
        held_out_acc.append(float((logits.argmax(1)[out] == clean.numpy()[out]).mean()))


def atypicality(data: ClassifierData, k: int = 10) -> np.ndarray:
    """Share of an example's ``k`` nearest neighbours (Euclidean, itself excluded) whose
    label differs from its own: high for atypical or mislabelled examples."""
    x = data.features.astype(np.float64)
    sq = (x**2).sum(1)
    distances = sq[:, None] + sq[None, :] - 2 * x @ x.T
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    return (data.labels[nearest] != data.labels[:, None]).mean(1)
