"""Unlearning methods: one registered class each (see :mod:`.base` for the contract).

>>> from reliant.unlearning.methods import available_methods, get_method
>>> available_methods()[:3]
['flat', 'ga', 'gd']
>>> sorted(get_method("npo").needs)
['reference', 'retain']
"""

from reliant.unlearning.methods.base import (
    METHOD_LABELS,
    NEEDS,
    REGISTRY,
    SetupEnv,
    StepContext,
    UnlearningMethod,
    available_methods,
    get_method,
    register,
)

# Registration order is the order of --help and of `unlearn bench --methods all`.
from reliant.unlearning.methods import flat as _flat  # noqa: E402,F401  (FLAT first)
from reliant.unlearning.methods import ascent as _ascent  # noqa: E402,F401  (GA, GD, GA+KL)
from reliant.unlearning.methods import npo as _npo  # noqa: E402,F401  (NPO, SimNPO and forget-only variants)
from reliant.unlearning.methods import idkdpo as _idkdpo  # noqa: E402,F401
from reliant.unlearning.methods import reweighted as _reweighted  # noqa: E402,F401  (WGA, SatImp, CE-U, UNDIAL)
from reliant.unlearning.methods import rmu as _rmu  # noqa: E402,F401
from reliant.unlearning.methods import pdu as _pdu  # noqa: E402,F401
from reliant.unlearning.methods import retain_ft as _retain_ft  # noqa: E402,F401

__all__ = [
    "METHOD_LABELS",
    "NEEDS",
    "REGISTRY",
    "SetupEnv",
    "StepContext",
    "UnlearningMethod",
    "available_methods",
    "get_method",
    "register",
]
