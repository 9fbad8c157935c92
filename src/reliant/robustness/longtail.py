"""Long-tailed problems to test post-hoc methods on.

* :func:`exponential_profile`: the usual CIFAR-LT class profile ``pi_y ∝ ratio^(-y/(K-1))``
  (class 0 the head, class K-1 the tail, ``ratio = n_max / n_min``).
* :func:`longtail_split`: from any classifier's probabilities on a labelled set (e.g. the
  cross-validated CIFAR-10 test-set probabilities), simulate the outputs of the same model
  trained under a long-tailed prior by Bayes' rule under label shift,
  ``p_LT(y|x) ∝ p(y|x) pi_LT(y) / pi_src(y)``, then split the rows into a validation set
  (long-tailed like training, or balanced) and a balanced test set.
* :func:`synthetic_longtail`: a Gaussian-mixture problem with classes of unequal difficulty,
  a multinomial logistic regression trained on a long-tailed sample, and its logits on a
  long-tailed validation set and a balanced test set. Needs no files; used by tests and the
  demo when the shared data are absent.
"""

from __future__ import annotations

import numpy as np

from reliant.core.arrays import probabilities_to_logits
from reliant.core.errors import ConfigError, check_number
from reliant.robustness.config import VAL_PROFILES

__all__ = ["LongTailSplit", "exponential_profile", "longtail_split", "synthetic_longtail"]


def exponential_profile(num_classes: int, ratio: float) -> np.ndarray:
    """``pi_y ∝ ratio^(-y / (K - 1))``, normalised: head class 0, tail class K-1."""
    check_number(ratio, "ratio", low=1)
    exponents = np.arange(num_classes) / max(num_classes - 1, 1)
    weights = float(ratio) ** (-exponents)
    return weights / weights.sum()


class LongTailSplit(dict):
    """``val_logits, val_labels, test_logits, test_labels, prior`` (the simulated training
    prior), plus the row indices used (``val_index``, ``test_index``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _subsample(indices_by_class: list[np.ndarray], counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    chosen = [rng.choice(idx, size=min(int(c), len(idx)), replace=False) for idx, c in zip(indices_by_class, counts)]
    return np.sort(np.concatenate(chosen))


def longtail_split(probs: np.ndarray, labels: np.ndarray, *, ratio: float = 100.0, seed: int = 0,
                   val_fraction: float = 0.5, val_profile: str = "longtail",
                   source_prior: np.ndarray | None = None) -> LongTailSplit:
    """Simulate a long-tailed model and split its outputs into validation and test.

    Rows are shuffled per class and split ``val_fraction`` / rest. The validation half is
    subsampled to the long-tailed profile (``val_profile="longtail"``: class 0 keeps all its
    rows, class K-1 a ``1/ratio`` share) or kept balanced; the test half stays balanced
    (per-class accuracies do not depend on test priors). The logits are
    ``log p + log pi_LT - log source_prior`` (source prior uniform by default).
    """
    if val_profile not in VAL_PROFILES:
        raise ConfigError(f"unknown validation profile {val_profile!r} (longtail or balanced)", field="val_profile")
    check_number(val_fraction, "val_fraction", low=0, high=1, low_open=True, high_open=True)
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = probs.shape[1]
    prior = exponential_profile(k, ratio)
    src = np.full(k, 1.0 / k) if source_prior is None else np.asarray(source_prior, dtype=np.float64)
    logits = probabilities_to_logits(probs) + np.log(prior) - np.log(src / src.sum())
    rng = np.random.default_rng(seed)
    val_by_class, test_by_class = [], []
    for y in range(k):
        idx = rng.permutation(np.flatnonzero(labels == y))
        cut = int(round(len(idx) * val_fraction))
        val_by_class.append(idx[:cut])
        test_by_class.append(idx[cut:])
    val_sizes = np.array([len(v) for v in val_by_class])
    if val_profile == "longtail":
        counts = np.maximum(np.floor(val_sizes.max() * prior / prior[0] + 1e-9), 1).clip(max=val_sizes)
    else:
        counts = np.full(k, val_sizes.min())
    val_index = _subsample(val_by_class, counts, rng)
    test_index = np.sort(np.concatenate(test_by_class))
    return LongTailSplit(
        val_logits=logits[val_index], val_labels=labels[val_index],
        test_logits=logits[test_index], test_labels=labels[test_index],
        prior=prior, val_index=val_index, test_index=test_index,
    )


def synthetic_longtail(*, num_classes: int = 10, ratio: float = 100.0, n_max: int = 1000, dim: int = 16, radius: float = 3.0,
                       n_val_max: int = 1000, n_test_per_class: int = 300, seed: int = 0) -> LongTailSplit:
    """A trained-on-long-tail classifier's logits on a Gaussian-mixture problem.

    Class means are random on a sphere; classes get different spreads, so some are hard
    whatever the prior. A multinomial logistic regression is trained on ``n_max * pi_y``
    points per class; its logits are returned for a validation set with the same long-tailed
    profile (``n_val_max`` head rows) and a balanced test set.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    prior = exponential_profile(num_classes, ratio)
    means = rng.standard_normal((num_classes, dim))
    means *= radius / np.linalg.norm(means, axis=1, keepdims=True)
    spreads = np.linspace(0.7, 1.3, num_classes)[rng.permutation(num_classes)]

    def draw(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys = np.repeat(np.arange(num_classes), counts)
        xs = means[ys] + spreads[ys, None] * rng.standard_normal((len(ys), dim))
        return xs, ys

    train_counts = np.maximum(np.round(n_max * prior / prior[0]).astype(int), 2)
    val_counts = np.maximum(np.round(n_val_max * prior / prior[0]).astype(int), 2)
    x_train, y_train = draw(train_counts)
    x_val, y_val = draw(val_counts)
    x_test, y_test = draw(np.full(num_classes, n_test_per_class))
    model = LogisticRegression(C=1.0, max_iter=500)
    model.fit(x_train, y_train)
    return LongTailSplit(
        val_logits=model.decision_function(x_val), val_labels=y_val,
        test_logits=model.decision_function(x_test), test_labels=y_test,
        prior=train_counts / train_counts.sum(),
        val_index=np.arange(len(y_val)), test_index=np.arange(len(y_test)),
    )
