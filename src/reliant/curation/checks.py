"""Is a feature space fit for HOC and SimiFeat? Checked before either runs, and after HOC.

Both methods assume *2-NN clusterability*: a row and its nearest neighbours share a clean
label. Features that carry no label information (random, constant, all zero) break it,
and HOC then still returns a confident-looking ``T``. This module measures, on the k-NN
graph both methods read:

* the share of all-zero rows and of rows with an exact duplicate;
* the share of rows whose 1st and 2nd neighbour are an exact tie (saturated features);
* the nearest-neighbour label agreement against chance agreement ``Σ_c P(Ỹ=c)²``, with
  a z-score (agreement of n independent draws at chance has standard deviation
  ``sqrt(chance (1 − chance) / n)``) and the lift ``(agree − chance) / (1 − chance)``;
* the largest in-degree (how often one row is somebody's neighbour) against ``k``.

:func:`check_features` turns these into *problems* (the input is hopeless: the command
refuses, one line) and *warnings* (it runs, and says so in the report and on stderr).
:func:`check_transition` warns after HOC when ``T`` is not identifiable (a row not
diagonally dominant, near-singular ``T``, a class with almost no prior) or the estimated
noise exceeds a threshold.

:func:`transform_features` is the recommended feature transform: **probability inputs**
(non-negative rows summing to one, e.g. a classifier's predicted probabilities) **are
replaced by their logarithm**, ``log(max(p, 1e-12))``. Confident probabilities saturate:
many rows become the same one-hot vector in float32, cosine similarity is then exactly 1
within a class, neighbours are arbitrary members of a huge tie and the in-degree piles up.
Log-probabilities keep the margins that order the rows (measured on CIFAR-10 with
CIFAR-10H votes in ``docs/results/curation.md``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from reliant.core.errors import DataError

#: feature_transform choices: auto (log for probability rows), none, log.
FEATURE_TRANSFORMS = ("auto", "none", "log")
#: feature_check choices: refuse hopeless input, only warn, or skip the check.
FEATURE_CHECKS = ("refuse", "warn", "off")
#: Floor of the log transform (the probability of a class never predicted).
LOG_FLOOR = 1e-12
#: Nearest-neighbour label agreement must exceed chance by this many standard deviations.
MIN_AGREEMENT_Z = 3.0
#: Below this lift the features are accepted with a warning ("weakly informative").
WEAK_LIFT = 0.1


def looks_like_probabilities(features: np.ndarray, tolerance: float = 1e-3) -> bool:
    """Every entry in [0, 1] and every row summing to 1 (within ``tolerance``), 2+ columns."""
    x = np.asarray(features)
    if x.ndim != 2 or x.shape[1] < 2 or len(x) == 0:
        return False
    if float(x.min()) < 0 or float(x.max()) > 1 + tolerance:
        return False
    return bool(np.all(np.abs(x.sum(axis=1, dtype=np.float64) - 1.0) <= tolerance))


def transform_features(features: np.ndarray, transform: str = "auto") -> tuple[np.ndarray, str]:
    """Apply ``transform`` (see :data:`FEATURE_TRANSFORMS`); returns the features and what was
    done: ``"none"`` or ``"log"``. ``"log"`` on input with negative entries is refused."""
    if transform not in FEATURE_TRANSFORMS:
        raise ValueError(f"unknown feature transform {transform!r}")
    x = np.asarray(features, dtype=np.float32)
    if transform == "none" or (transform == "auto" and not looks_like_probabilities(x)):
        return x, "none"
    if float(x.min()) < 0:
        raise DataError("feature_transform log needs non-negative features (probabilities); "
                        f"found {float(x.min()):.3g}", field="feature_transform")
    return np.log(np.maximum(x, LOG_FLOOR)).astype(np.float32), "log"


@dataclass
class FeatureReport:
    """What :func:`check_features` measured, and the problems and warnings it found."""

    rows: int
    zero_rows: float
    duplicate_rows: float
    tied_first_neighbours: float
    neighbour_agreement: float
    chance_agreement: float
    agreement_z: float
    agreement_lift: float
    max_in_degree: int
    in_degree_k: int
    transform: str = "none"
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def _duplicate_share(features: np.ndarray) -> float:
    """Share of rows that have an exact (bit-identical) copy elsewhere."""
    x = np.ascontiguousarray(features)
    view = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, inverse, counts = np.unique(view, return_inverse=True, return_counts=True)
    return float(np.mean(counts[inverse.ravel()] > 1))


def check_features(features: np.ndarray, labels: np.ndarray, graph, num_classes: int, *,
                   k: int = 10, transform: str = "none") -> FeatureReport:
    """Measure the feature space on its k-NN ``graph`` and list problems and warnings."""
    x = np.asarray(features)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    zero = float(np.mean(~np.any(x != 0, axis=1)))
    duplicates = _duplicate_share(x)
    tied = float(np.mean(graph.sims[:, 0] == graph.sims[:, 1])) if graph.k >= 2 else 0.0
    first = graph.idx[:, 0]
    valid = first >= 0
    agree = float(np.mean(labels[valid] == labels[first[valid]])) if valid.any() else 0.0
    prior = np.bincount(labels, minlength=num_classes) / max(1, n)
    chance = float(np.sum(prior ** 2))
    spread = np.sqrt(max(chance * (1 - chance), 1e-12) / max(1, valid.sum()))
    z = (agree - chance) / spread
    lift = (agree - chance) / (1 - chance) if chance < 1 else 0.0
    kk = int(min(k, graph.k))
    neighbours = graph.idx[:, :kk].ravel()
    max_in = int(np.bincount(neighbours[neighbours >= 0], minlength=n).max()) if n else 0
    report = FeatureReport(rows=n, zero_rows=zero, duplicate_rows=duplicates, tied_first_neighbours=tied,
                           neighbour_agreement=agree, chance_agreement=chance, agreement_z=float(z),
                           agreement_lift=float(lift), max_in_degree=max_in, in_degree_k=kk, transform=transform)
    if zero > 0.5:
        report.problems.append(f"{zero:.0%} of the feature rows are all zero")
    if x.shape[0] > 1 and np.all(x == x[:1]):
        report.problems.append("every feature row is the same (constant features)")
    if z < MIN_AGREEMENT_Z:
        report.problems.append(
            f"nearest-neighbour labels agree {agree:.1%} of the time against {chance:.1%} by chance (z = {z:.1f}): "
            "the features carry no label information; give embeddings in which similar samples share labels "
            "(e.g. a model's embeddings or log-probabilities)")
    elif lift < WEAK_LIFT:
        report.warnings.append(
            f"weakly informative features: nearest-neighbour labels agree {agree:.1%} against {chance:.1%} by "
            f"chance (lift {lift:.3f}); HOC's 2-NN clusterability assumption is barely met")
    if 0 < zero <= 0.5:
        report.warnings.append(f"{zero:.1%} of the feature rows are all zero (similarity 0 to everything)")
    if tied > 0.2:
        report.warnings.append(
            f"{tied:.0%} of the rows have an exact tie between their 1st and 2nd neighbour (saturated or duplicated "
            "features); ties are broken at random, but a transform that restores the margins helps "
            "(--feature-transform log for probabilities)")
    elif duplicates > 0.2:
        report.warnings.append(f"{duplicates:.0%} of the rows have an exact duplicate")
    if kk and max_in > max(50, 20 * kk):
        report.warnings.append(
            f"one row is among the {kk} nearest neighbours of {max_in} rows (expected about {kk}): a hub that makes "
            "neighbour votes dependent")
    return report


def check_transition(T: np.ndarray, p: np.ndarray, noise_rate: float, *, max_noise: float = 0.5,
                     what: str = "label") -> list[str]:
    """Warnings about a HOC estimate: non-identifiable ``T`` or noise above ``max_noise``."""
    T = np.asarray(T, dtype=np.float64)
    K = len(T)
    warnings = []
    off = T - np.diag(np.diag(T)) * 1.0
    not_dominant = [i for i in range(K) if T[i, i] <= off[i].max()]
    if not_dominant:
        warnings.append(f"T is not diagonally dominant in rows {not_dominant}: HOC's assumption that most {what}s "
                        "are right fails there, so T is not identifiable")
    singular = float(np.linalg.svd(T, compute_uv=False).min())
    if singular < 0.05:
        warnings.append(f"T is near-singular (smallest singular value {singular:.3f}): some rows are nearly "
                        "identical, the classes are indistinguishable from these features and T is not identifiable")
    rare = [i for i in range(K) if p[i] < 0.1 / K]
    if rare:
        warnings.append(f"estimated clean prior of classes {rare} is below {0.1 / K:.3g}: their rows of T are "
                        "unconstrained")
    if noise_rate > max_noise:
        warnings.append(f"estimated {what} noise rate {noise_rate:.1%} is above {max_noise:.0%}: results are "
                        "unreliable (are the features informative, the labels mostly right?)")
    return warnings


def raise_or_warn(report: FeatureReport, mode: str, source: str | None) -> None:
    """Refuse (``mode="refuse"``) with the first problem as one line, or demote problems to warnings."""
    if not report.problems:
        return
    if mode == "refuse":
        raise DataError(f"{report.problems[0]} (run with --feature-check warn to go on anyway)", file=source,
                        field="features")
    report.warnings = [f"(not refused: --feature-check {mode}) {p}" for p in report.problems] + report.warnings
    report.problems = []


def emit_warnings(run, warnings: list[str], title: str = "Warnings") -> None:
    """Each warning on stderr (one line each), in the run log, and as a block of the report."""
    if not warnings:
        return
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
        run.log(f"warning: {line}")
    run.add_text(title, "\n".join(f"• {w}" for w in warnings))
