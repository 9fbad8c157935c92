"""One method, end to end: supply what it ``needs``, train it (or adjust a CE model post hoc), predict.

Shared by ``reliant construct train`` and the benchmarks, so both train a method the same
way. What the registry says a method needs is supplied here:

* ``transition`` -- the given ``T``, else HOC's estimate from the features a cross-entropy
  *reference* model (trained on the same noisy data) gives the training images;
* ``noise_rate`` -- ``--forget-rate`` when given, else HOC's noise-rate estimate, likewise;
* ``validation`` / post-hoc methods -- the reference model's logits on a held-out split.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.construction.detection import estimate_noise
from reliant.construction.methods import get_method
from reliant.construction.trainer import TrainResult, TrainSettings, train_method

__all__ = ["MethodOutcome", "fit_method", "hoc_estimate"]


@dataclass
class MethodOutcome:
    name: str
    label: str
    test_logits: np.ndarray
    seconds: float  # training (or, post hoc, fitting) time of this method alone
    images_per_second: float | None
    result: TrainResult | None
    extras: dict[str, Any] = field(default_factory=dict)


def hoc_estimate(reference: TrainResult, images: np.ndarray, labels: np.ndarray, num_classes: int, seed: int):
    """HOC on the reference model's features of its own training images."""
    return estimate_noise(reference.features(images), labels, num_classes, seed=seed)


def fit_method(
    name: str,
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    settings: TrainSettings,
    params: Any,
    test_images: np.ndarray,
    *,
    reference: TrainResult | None = None,
    transition: np.ndarray | None = None,
    hoc: Any = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> MethodOutcome:
    """Train method ``name`` on ``images``/``labels`` and return its logits on ``test_images``.

    ``reference`` is a CE model trained with the same settings on the same rows (trained here
    when a need requires it and none is given); ``hoc`` a precomputed HOC estimate from it.
    """
    method = get_method(name)
    extras: dict[str, Any] = {}

    def need_reference() -> TrainResult:
        nonlocal reference
        if reference is None:
            reference = train_method(get_method("ce"), images, labels, num_classes, settings, params,
                                     description="training the CE reference model")
        return reference

    def need_hoc():
        nonlocal hoc
        if hoc is None:
            hoc = hoc_estimate(need_reference(), images, labels, num_classes, settings.seed)
        return hoc

    if method.posthoc:
        if validation is None:
            raise ValueError(f"{name} needs a validation split")
        base = need_reference()
        started = time.perf_counter()
        counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
        method.info = _info_only(params)
        adjuster = method.adjust(base.logits(validation[0]), validation[1], prior=np.maximum(counts, 1) / counts.sum())
        test_logits = adjuster.decision_function(base.logits(test_images))
        extras["class_offsets"] = np.asarray(adjuster.offsets_).tolist()
        return MethodOutcome(name, method.label, test_logits, time.perf_counter() - started, None, None, extras)
    if "transition" in method.needs and transition is None:
        transition = need_hoc().T
        extras["transition_source"] = "HOC"
    if "transition" in method.needs:
        extras["transition"] = np.asarray(transition).tolist()
    noise_rate = None
    if "noise_rate" in method.needs:
        noise_rate = params.forget_rate if getattr(params, "forget_rate", None) is not None else need_hoc().noise_rate
        extras["noise_rate"] = float(noise_rate)
    if name == "ce" and reference is not None:
        result = reference  # the reference *is* the CE model: never train it twice
    else:
        result = train_method(method, images, labels, num_classes, settings, params, transition=transition,
                              noise_rate=noise_rate, description=f"training {method.label}")
    return MethodOutcome(name, method.label, result.logits(test_images), result.seconds, result.images_per_second,
                         result, extras)


@dataclass
class _info_only:
    """The slice of :class:`~reliant.construction.methods.SetupInfo` a post-hoc ``adjust`` reads."""

    params: Any
