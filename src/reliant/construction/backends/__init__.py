"""Collection backends, one registered class each (see :mod:`.base`).

>>> from reliant.construction.backends import available_backends
>>> available_backends()
['folder', 'manifest', 'http']
"""

from reliant.construction.backends.base import REGISTRY, CollectionBackend, Item, Plan, available_backends, get_backend

from reliant.construction.backends import folder as _folder  # noqa: E402,F401
from reliant.construction.backends import manifest as _manifest  # noqa: E402,F401
from reliant.construction.backends import http_search as _http_search  # noqa: E402,F401

__all__ = ["REGISTRY", "CollectionBackend", "Item", "Plan", "available_backends", "get_backend"]
