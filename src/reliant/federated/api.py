"""Federated learning and the CGI attack: what a user (or another capability) imports.

>>> import torch
>>> from reliant.federated.api import get_rule
>>> updates = torch.tensor([[0.0], [1.0], [2.0], [10.0]], dtype=torch.float64)
>>> get_rule("median").aggregate(updates).update.tolist()
[1.5]
>>> get_rule("krum", num_malicious=1).aggregate(updates).kept_share.tolist()
[0.0, 1.0, 0.0, 0.0]

:class:`CentralDP` is the torch mirror of Flower's DP wrappers (clipping + Gaussian noise of
the aggregate). :func:`invert_gradients` recovers an image from a gradient; :func:`run_attack` /
:func:`run_simulate` are the ``reliant federated attack`` / ``simulate`` commands.
"""

from __future__ import annotations

from reliant.federated.aggregators import Aggregate, AggregationRule, available_rules, get_rule
from reliant.federated.attacks.cgi import craft_malicious_model, stealthy_update
from reliant.federated.config import AttackConfig, SimulateConfig
from reliant.federated.inversion import deep_leakage, invert_gradients
from reliant.federated.metrics import image_scores
from reliant.federated.privacy import CentralDP
from reliant.federated.workflows import run_attack, run_simulate

__all__ = [
    "Aggregate",
    "AggregationRule",
    "AttackConfig",
    "CentralDP",
    "SimulateConfig",
    "available_rules",
    "craft_malicious_model",
    "deep_leakage",
    "get_rule",
    "image_scores",
    "invert_gradients",
    "run_attack",
    "run_simulate",
    "stealthy_update",
]
