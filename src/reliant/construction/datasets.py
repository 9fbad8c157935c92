"""The real image data the benchmarks use (``../shared/data``): CIFAR-10 test images with their
CIFAR-10H human votes, MNIST test digits, and scikit-learn's 8x8 digits for fast tests.

CIFAR-10 image order. ``images/cifar10_test.npz`` holds the images sorted by (class, file
number NNNN), from JPEG files named ``test/<class>/NNNN.jpg``; the shared README's spot check
fits "NNNN is the k-th image (from 0) of its class in the canonical test-batch order", so
canonical index = the NNNN-th row labelled ``c`` in the canonical label file (from cleanlab's
``cifar10_test_set_original_labels.npy``). :func:`cifar10_order_evidence` tests that mapping
on all 10,000 images rather than one: pixel-space nearest-neighbour votes of our images agree
with cleanlab's cross-validated probabilities of the mapped canonical rows far more than under
a shuffled within-class mapping (the numbers are in docs/results/construction.md). Only with
that mapping do the CIFAR-10H votes belong to our images. CIFAR-10H and the cleanlab files
are read from the shared folder and never shipped (CIFAR-10H is CC BY-NC-SA).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reliant.core.errors import DataError

__all__ = ["SHARED_DATA", "ImageSet", "cifar10_canonical_rows", "cifar10_order_evidence", "digits", "downsample",
           "load_cifar10", "load_mnist", "shared_file"]

SHARED_DATA = Path(os.environ.get("RELIANT_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))


@dataclass
class ImageSet:
    """``images`` uint8 (N, H, W, C), ``labels`` int64, class names, and CIFAR-10H vote counts
    per row where known."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    human_votes: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, rows: np.ndarray) -> ImageSet:
        votes = None if self.human_votes is None else self.human_votes[rows]
        return ImageSet(self.name, self.images[rows], self.labels[rows], self.class_names, votes)


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        raise DataError("not found (the benchmarks need ../shared/data; set RELIANT_SHARED_DATA)", file=path)
    return path


def cifar10_canonical_rows(labels: np.ndarray, file_index: np.ndarray, canonical_labels: np.ndarray) -> np.ndarray:
    """Canonical test-set index of each row: the ``file_index``-th canonical row of its class."""
    rows = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        mine = np.flatnonzero(labels == c)
        canonical = np.flatnonzero(canonical_labels == c)
        if file_index[mine].max() >= len(canonical):
            raise DataError(f"class {c}: file number {file_index[mine].max()} beyond the {len(canonical)} canonical rows",
                            field="file_index")
        rows[mine] = canonical[file_index[mine]]
    if len(np.unique(rows)) != len(rows):
        raise DataError("two images map to one canonical row", field="file_index")
    return rows


def load_cifar10() -> ImageSet:
    """CIFAR-10 test images in canonical order, with CIFAR-10H vote counts."""
    data = np.load(shared_file("images", "cifar10_test.npz"))
    canonical_labels = np.load(shared_file("cleanlab_cifar10", "cifar10_test_set_original_labels.npy")).astype(np.int64)
    labels = data["labels"].astype(np.int64)
    rows = cifar10_canonical_rows(labels, data["file_index"].astype(np.int64), canonical_labels)
    order = np.argsort(rows)
    votes = np.load(shared_file("cifar10h", "cifar10h-counts.npy"))
    return ImageSet("cifar10", data["images"][order], labels[order], [str(n) for n in data["class_names"]], votes)


def cifar10_order_evidence(seed: int = 0, k: int = 10) -> dict[str, float]:
    """Correlation, over all 10,000 images, between the k-NN (pixel cosine) vote for each image's
    own label and cleanlab's cross-validated probability of that label at the mapped canonical
    row -- under the README's mapping and under a within-class shuffle of it."""
    from reliant.core.knn import knn  # deliberately lazy: torch

    data = load_cifar10()
    pyx = np.load(shared_file("cleanlab_cifar10", "cifar10_test_set_pyx.npy"))
    flat = data.images.reshape(len(data.images), -1).astype(np.float32)
    flat -= flat.mean(axis=1, keepdims=True)
    _, idx = knn(flat, k=k, backend="exact")
    own_vote = (data.labels[idx] == data.labels[:, None]).mean(axis=1)
    rows = np.arange(len(data.labels))
    mapped = np.corrcoef(own_vote, pyx[rows, data.labels])[0, 1]
    rng = np.random.default_rng(seed)
    shuffled = rows.copy()
    for c in range(10):
        members = np.flatnonzero(data.labels == c)
        shuffled[members] = rng.permutation(members)
    return {"mapped": float(mapped), "shuffled": float(np.corrcoef(own_vote, pyx[shuffled, data.labels])[0, 1])}


def load_mnist() -> ImageSet:
    data = np.load(shared_file("images", "mnist_test.npz"))
    return ImageSet("mnist", data["images"][..., None], data["labels"].astype(np.int64), [str(d) for d in range(10)])


def digits() -> ImageSet:
    """scikit-learn's 1,797 8x8 digits (values 0-16) as uint8 0-255, 16x16 (pixel-repeated)."""
    from sklearn.datasets import load_digits  # deliberately lazy: sklearn

    raw = load_digits()
    images = np.clip(raw.images * 16, 0, 255).astype(np.uint8).repeat(2, axis=1).repeat(2, axis=2)[..., None]
    return ImageSet("digits", images, raw.target.astype(np.int64), [str(d) for d in range(10)])


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` pixel blocks (32x32 -> 16x16 for the CPU-sized runs)."""
    if factor == 1:
        return images
    n, h, w, c = images.shape
    blocks = images[:, : h - h % factor, : w - w % factor].reshape(n, h // factor, factor, w // factor, factor, c)
    return np.round(blocks.astype(np.float32).mean(axis=(2, 4))).astype(np.uint8)
