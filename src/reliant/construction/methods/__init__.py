"""Learning methods, one registered class each (see :mod:`.base` for the contract).

>>> from reliant.construction.methods import available_methods
>>> available_methods("noise")
['ce', 'label_smoothing', 'gce', 'forward', 'peer', 'coteaching', 'elr']
>>> available_methods("imbalance")
['reweight', 'logit_adjusted', 'balanced_softmax', 'ldam_drw', 'posthoc_la', 'drops']
"""

from reliant.construction.methods.base import (
    NEEDS,
    REGISTRY,
    BatchContext,
    LearningMethod,
    SetupInfo,
    available_methods,
    get_method,
    register,
)

# Registration order is the order of --help, reports and leaderboards.
from reliant.construction.methods import standard as _standard  # noqa: E402,F401  (CE, LS, GCE)
from reliant.construction.methods import forward as _forward  # noqa: E402,F401
from reliant.construction.methods import peer as _peer  # noqa: E402,F401
from reliant.construction.methods import coteaching as _coteaching  # noqa: E402,F401
from reliant.construction.methods import elr as _elr  # noqa: E402,F401
from reliant.construction.methods import imbalance as _imbalance  # noqa: E402,F401
from reliant.construction.methods import posthoc as _posthoc  # noqa: E402,F401

__all__ = ["NEEDS", "REGISTRY", "BatchContext", "LearningMethod", "SetupInfo", "available_methods", "get_method",
           "register"]
