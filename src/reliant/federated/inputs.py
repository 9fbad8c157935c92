"""Image data sets and their split into clients (IID or Dirichlet non-IID).

``--dataset`` is ``digits`` (scikit-learn's bundled 8x8 digits), ``mnist`` or ``cifar10``
(``mnist_test.npz`` / ``cifar10_test.npz`` in ``--data-dir``, the shared images folder by
default), or a path to an ``.npz`` file with ``images`` (N x H x W or N x H x W x C, uint8 or
floats in [0, 1]) and ``labels`` (N integers). Everything here is numpy: the files are
checked before torch is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.core.errors import ConfigError, DataError

__all__ = ["BUILTIN_DATASETS", "ImageData", "SHARED_IMAGES", "dirichlet_partition", "iid_partition", "load_images",
           "partition"]

SHARED_IMAGES = Path(os.environ.get("RELIANT_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data")
                     ) / "images"
"""``../shared/data/images`` beside the repository; ``RELIANT_SHARED_DATA`` points elsewhere."""

BUILTIN_DATASETS: dict[str, str] = {"digits": "", "mnist": "mnist_test.npz", "cifar10": "cifar10_test.npz"}


@dataclass
class ImageData:
    images: np.ndarray  # (N, C, H, W) float64 in [0, 1]
    labels: np.ndarray  # (N,) int64
    num_classes: int
    source: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]


def _digits() -> ImageData:
    from sklearn.datasets import load_digits  # deliberate: sklearn only when the digits are used

    bunch = load_digits()
    return ImageData((bunch.images / 16.0)[:, None].astype(np.float64), bunch.target.astype(np.int64), 10,
                     "scikit-learn digits (8x8)")


def load_images(dataset: str, data_dir: Path | None = None, limit: int | None = None) -> ImageData:
    """The data set named by ``dataset`` (see the module doc); one-line DataError on a bad file."""
    if dataset == "digits":
        data = _digits()
    else:
        if dataset in BUILTIN_DATASETS:
            folder = Path(data_dir) if data_dir is not None else SHARED_IMAGES
            path = folder / BUILTIN_DATASETS[dataset]
            if not path.is_file():
                raise DataError(f"{dataset} needs {path.name} in --data-dir (the shared images folder)", file=path,
                                field="dataset")
        else:
            path = Path(dataset)
            if not path.exists():
                raise DataError("no such data set file (give digits, mnist, cifar10 or an .npz file)", file=path,
                                field="dataset")
            if not path.is_file() or path.suffix != ".npz":
                raise DataError("expected an .npz file with 'images' and 'labels'", file=path, field="dataset")
        data = _read_npz(path)
    if limit is not None and limit < len(data.labels):
        data = ImageData(data.images[:limit], data.labels[:limit], data.num_classes, data.source)
    return data


def _read_npz(path: Path) -> ImageData:
    try:
        with np.load(path, allow_pickle=False) as archive:  # never unpickle a user's file
            if "images" not in archive.files or "labels" not in archive.files:
                raise DataError(f"needs arrays 'images' and 'labels' (has: {', '.join(archive.files)})", file=path,
                                field="dataset")
            images, labels = archive["images"], archive["labels"]
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001  (zip/format errors of many kinds: all mean "not a readable .npz")
        raise DataError(f"is not a readable .npz file ({type(exc).__name__})", file=path, field="dataset") from None
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3):
        images = images.transpose(0, 3, 1, 2)
    else:
        raise DataError(f"'images' must be N x H x W or N x H x W x C (C = 1 or 3), got shape {images.shape}",
                        file=path, field="images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"'labels' must be one integer per image ({len(images)}), got shape {labels.shape}", file=path,
                        field="labels")
    if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and labels.min() < 0):
        raise DataError("'labels' must be non-negative integers", file=path, field="labels")
    if images.dtype == np.uint8:
        pixels = images.astype(np.float64) / 255.0
    elif np.issubdtype(images.dtype, np.floating):
        pixels = images.astype(np.float64)
        if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
            raise DataError("float 'images' must be finite and in [0, 1]", file=path, field="images")
    else:
        raise DataError(f"'images' must be uint8 or float, got {images.dtype}", file=path, field="images")
    if len(labels) < 2:
        raise DataError("needs at least 2 images", file=path, field="images")
    return ImageData(pixels, labels.astype(np.int64), int(labels.max()) + 1, str(path))


def iid_partition(num_items: int, num_clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled indices cut into ``num_clients`` parts of (nearly) equal size."""
    return [np.sort(part) for part in np.array_split(rng.permutation(num_items), num_clients)]


def dirichlet_partition(labels: np.ndarray, num_clients: int, alpha: float, rng: np.random.Generator,
                        min_size: int = 1, attempts: int = 100) -> list[np.ndarray]:
    """Per class, client shares drawn from Dir(α) (Hsu et al. 2019); redrawn until every client
    holds at least ``min_size`` items. Small α gives each client few classes."""
    for _ in range(attempts):
        parts: list[list[int]] = [[] for _ in range(num_clients)]
        for cls in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == cls))
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
            for client, chunk in enumerate(np.split(members, cuts)):
                parts[client].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.array(p, dtype=np.int64)) for p in parts]
    raise ConfigError(f"a Dirichlet(alpha={alpha:g}) split of {len(labels)} images gives some of the {num_clients} "
                      f"clients fewer than {min_size} images in {attempts} draws; raise --alpha or --limit, or "
                      "use fewer clients", field="alpha")


def partition(labels: np.ndarray, num_clients: int, scheme: str, alpha: float, rng: np.random.Generator,
              min_size: int = 1) -> list[np.ndarray]:
    if num_clients * min_size > len(labels):
        raise ConfigError(f"{len(labels)} training images cannot give {num_clients} clients {min_size} each",
                          field="clients")
    if scheme == "iid":
        return iid_partition(len(labels), num_clients, rng)
    if scheme == "dirichlet":
        return dirichlet_partition(labels, num_clients, alpha, rng, min_size=min_size)
    raise ConfigError(f"unknown partition {scheme!r} (choose from: iid, dirichlet)", field="partition")
