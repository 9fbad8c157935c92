"""The registry of learning methods: noise-robust losses/trainers and class-imbalance methods.

A method is one small class registered under one name:

* ``name`` -- the ``--method`` value; ``label`` -- what reports show; ``family`` -- ``"noise"``
  (robust to label noise) or ``"imbalance"`` (class-imbalanced learning);
* ``needs`` -- what it reads besides the images and labels, a subset of :data:`NEEDS`:
  ``transition`` (a noise transition matrix ``T``, estimated with HOC when not given),
  ``noise_rate`` (an estimate of the share of wrong labels), ``validation`` (a held-out split,
  for post-hoc adjustment). The workflow supplies exactly these and refuses to start without
  them, so the declaration stays truthful;
* ``reads`` -- the fields of :class:`reliant.construction.config.MethodParams` it uses;
* ``networks`` -- how many networks train side by side (co-teaching: 2); ``head`` --
  ``"linear"`` or ``"cosine"`` (LDAM's normalised last layer);
* ``setup(info)`` once before training, ``loss(batch) -> (loss, parts)`` per batch;
* post-hoc methods (``posthoc = True``) train with cross-entropy and then ``adjust`` the
  validation logits (DROPS and logit adjustment from :mod:`reliant.robustness.api`).

This module and the method modules import no torch at import time (the formulas in
:mod:`reliant.construction.losses` are imported when a loss is first computed), so the
registry can be listed cheaply.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["NEEDS", "REGISTRY", "BatchContext", "LearningMethod", "SetupInfo", "available_methods", "get_method",
           "losses", "register"]

NEEDS = frozenset({"transition", "noise_rate", "validation"})
FAMILIES = ("noise", "imbalance")


class _LazyModule:
    """A module imported on first attribute access (keeps torch out of registry listings)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


losses = _LazyModule("reliant.construction.losses")
torch_lazy = _LazyModule("torch")


@dataclass
class SetupInfo:
    """What a method sees once before training."""

    num_classes: int
    num_samples: int
    counts: Any  # np.ndarray, training rows per class
    epochs: int
    params: Any  # MethodParams
    device: Any = "cpu"
    transition: Any = None  # np.ndarray (K, K) or None
    noise_rate: float | None = None
    seed: int = 0


@dataclass
class BatchContext:
    """One training batch: the logits of every network, the (noisy) labels, the rows' indices
    in the training set, and where training is (``epoch`` counts from 0)."""

    logits: list[Any]
    labels: Any
    index: Any
    epoch: int
    epochs: int
    extra: dict[str, Any] = field(default_factory=dict)


class LearningMethod(abc.ABC):
    """Base class; subclasses set the class attributes and override :meth:`loss`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    family: ClassVar[str] = "noise"
    needs: ClassVar[frozenset[str]] = frozenset()
    reads: ClassVar[tuple[str, ...]] = ()
    networks: ClassVar[int] = 1
    head: ClassVar[str] = "linear"
    posthoc: ClassVar[bool] = False
    reference: ClassVar[str] = ""

    def setup(self, info: SetupInfo) -> None:
        self.info = info

    @abc.abstractmethod
    def loss(self, batch: BatchContext) -> tuple[Any, dict[str, float]]:
        raise NotImplementedError

    def adjust(self, val_logits: Any, val_labels: Any, prior: Any) -> Any:
        """Post-hoc methods: a fitted adjuster with ``decision_function(logits)``."""
        raise NotImplementedError(f"{self.name} is not a post-hoc method")

    def params_used(self, params: Any) -> dict[str, Any]:
        return {name: getattr(params, name) for name in self.reads}


REGISTRY: dict[str, type[LearningMethod]] = {}


def register(cls: type[LearningMethod]) -> type[LearningMethod]:
    if not cls.name or cls.name in REGISTRY:
        raise TypeError(f"{cls.__name__}: a method needs a unique name, got {cls.name!r}")
    if cls.family not in FAMILIES or not cls.needs <= NEEDS:
        raise TypeError(f"{cls.__name__}: family must be one of {FAMILIES}, needs a subset of {sorted(NEEDS)}")
    REGISTRY[cls.name] = cls
    return cls


def available_methods(family: str | None = None) -> list[str]:
    return [name for name, cls in REGISTRY.items() if family is None or cls.family == family]


def get_method(name: str) -> LearningMethod:
    if name not in REGISTRY:
        from reliant.core.errors import ConfigError

        raise ConfigError(f"unknown method {name!r} (choose from: {', '.join(REGISTRY)})", field="method")
    return REGISTRY[name]()
