"""Automatic dataset construction (ADC): what a user (or another capability) imports.

Start with a method from the registry on image arrays:

>>> import numpy as np
>>> from reliant.construction.api import TrainSettings, MethodParams, fit_method, digits, symmetric_noise
>>> data = digits()
>>> noisy = symmetric_noise(data.labels, 0.3, 10, seed=0)
>>> outcome = fit_method("gce", data.images[:1200], noisy[:1200], 10, TrainSettings(epochs=1, device="cpu"),
...                      MethodParams(), data.images[1200:])    # doctest: +SKIP
>>> from reliant.construction.api import available_methods
>>> available_methods("imbalance")
['reweight', 'logit_adjusted', 'balanced_softmax', 'ldam_drw', 'posthoc_la', 'drops']

The commands are :func:`run_design`, :func:`run_collect`, :func:`run_clean`, :func:`run_train` and
:func:`run_benchmark` (``reliant construct design|collect|clean|train|benchmark``); the loss
formulas live in :mod:`reliant.construction.losses`, the registries in
:mod:`reliant.construction.methods` and :mod:`reliant.construction.backends`.
"""

from __future__ import annotations

from reliant.construction.config import (
    BenchmarkConfig,
    CleanConfig,
    CollectConfig,
    DesignConfig,
    MethodParams,
    TrainConfig,
    TrainingParams,
)
from reliant.construction.datasets import digits
from reliant.construction.design import design_classes, validate_design
from reliant.construction.learning import fit_method
from reliant.construction.methods import available_methods, get_method
from reliant.construction.noise import symmetric_noise
from reliant.construction.trainer import TrainSettings
from reliant.construction.workflows import run_benchmark, run_clean, run_collect, run_design, run_train

__all__ = [
    "BenchmarkConfig",
    "CleanConfig",
    "CollectConfig",
    "DesignConfig",
    "MethodParams",
    "TrainConfig",
    "TrainSettings",
    "TrainingParams",
    "available_methods",
    "design_classes",
    "digits",
    "fit_method",
    "get_method",
    "run_benchmark",
    "run_clean",
    "run_collect",
    "run_design",
    "run_train",
    "symmetric_noise",
    "validate_design",
]
