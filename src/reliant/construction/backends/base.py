"""The registry of collection backends: where a dataset's samples come from.

A backend is a class registered under one name (the ``--backend`` value) with a ``plan``
method that turns the command's options into a list of :class:`Item` (a local file or a URL,
with its class name) and the classes in order. ``plan`` runs before the run folder exists:
a folder with no images, a manifest with a bad row or a search API that answers garbage is a
one-line error and leaves nothing behind. URLs are downloaded afterwards, inside the run, by
:mod:`reliant.construction.backends.http_client` (timeouts, retries, rate limit); one that
fails is reported and skipped.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["REGISTRY", "CollectionBackend", "Item", "Plan", "available_backends", "get_backend", "register"]


@dataclass
class Item:
    """One sample to collect: ``path`` (local) or ``url``; ``label`` is its class name;
    ``where`` says where it came from (``file:line`` of a manifest, the query, the folder)."""

    label: str
    path: str | None = None
    url: str | None = None
    where: str = ""


@dataclass
class Plan:
    classes: list[str]
    items: list[Item]
    skipped: list[dict[str, str]]  # {"path" or "url", "reason"}: not collected, reported


class CollectionBackend(abc.ABC):
    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    @abc.abstractmethod
    def plan(self, config: Any) -> Plan:
        raise NotImplementedError


REGISTRY: dict[str, type[CollectionBackend]] = {}


def register(cls: type[CollectionBackend]) -> type[CollectionBackend]:
    if not cls.name or cls.name in REGISTRY:
        raise TypeError(f"{cls.__name__}: a backend needs a unique name")
    REGISTRY[cls.name] = cls
    return cls


def available_backends() -> list[str]:
    return list(REGISTRY)


def get_backend(name: str) -> CollectionBackend:
    return REGISTRY[name]()
