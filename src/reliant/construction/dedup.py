"""Exact and near-duplicate images.

* exact: identical file bytes (SHA-256) or identical decoded pixels;
* perceptual: the DCT perceptual hash of ``imagehash`` (``phash``, 64 bits); two images whose
  hashes differ in at most ``max_distance`` bits are near-duplicates (resized, recompressed,
  slightly brightened copies stay within a few bits; distinct photos are ~32 bits apart);
* embedding: cosine similarity of a trained model's features at least ``min_similarity``
  (found with :func:`reliant.core.knn.knn`), which also catches crops and flips that move the
  hash.

Removal is greedy in file order, never transitive: a row is dropped when it duplicates an
earlier row that is *kept*, so a chain of small steps (a~b, b~c, ...) cannot sweep away
rows that are not alike. :func:`duplicate_groups` then lists each kept row with the rows it
caused to be dropped.
"""

from __future__ import annotations

import numpy as np

from reliant.core.progress import track

__all__ = ["duplicate_groups", "embedding_pairs", "exact_pairs", "hash_pairs", "keep_mask", "perceptual_hashes"]


def perceptual_hashes(images: np.ndarray) -> np.ndarray:
    """``imagehash.phash`` of each ``uint8 (H, W, C)`` image, as a ``(n, 64)`` bool bit array."""
    import imagehash
    from PIL import Image

    return np.stack([imagehash.phash(Image.fromarray(image.squeeze())).hash.reshape(-1)
                     for image in track(images, "perceptual hashes")]) if len(images) else np.zeros((0, 64), bool)


def hash_pairs(bits: np.ndarray, max_distance: int, block: int = 2048) -> np.ndarray:
    """``(i, j)`` with ``i < j`` whose Hamming distance is at most ``max_distance``."""
    signed = np.where(bits, 1.0, -1.0).astype(np.float32)  # distance = (64 - <a, b>) / 2
    n_bits = bits.shape[1]
    found = []
    for start in range(0, len(bits), block):
        agreement = signed[start:start + block] @ signed.T
        distance = (n_bits - agreement) / 2
        rows, cols = np.nonzero(distance <= max_distance + 1e-6)
        rows = rows + start
        keep = rows < cols
        found.append(np.stack([rows[keep], cols[keep]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def exact_pairs(keys: list[str]) -> np.ndarray:
    """Pairs of rows with the same key (file hash), each row paired with the group's first."""
    first: dict[str, int] = {}
    pairs = []
    for i, key in enumerate(keys):
        if key in first:
            pairs.append((first[key], i))
        else:
            first[key] = i
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def embedding_pairs(features: np.ndarray, min_similarity: float, k: int = 5) -> np.ndarray:
    from reliant.core.knn import knn  # deliberately lazy: torch

    if len(features) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    # centred first: post-ReLU features all point into one orthant, where every cosine is high
    centred = np.asarray(features, dtype=np.float32) - np.asarray(features, dtype=np.float32).mean(axis=0)
    sims, idx = knn(centred, k=min(k, len(features) - 1))
    rows, cols = np.nonzero(sims >= min_similarity)
    a, b = rows, idx[rows, cols]
    pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def duplicate_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
    """``[kept row, dropped rows...]`` for every kept row that has duplicates, by kept row.

    Rows are visited in order; row ``j`` is dropped when a pair links it to an earlier kept row.
    """
    earlier: dict[int, list[int]] = {}
    for a, b in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        low, high = (int(a), int(b)) if a < b else (int(b), int(a))
        if low != high:
            earlier.setdefault(high, []).append(low)
    kept = np.ones(n, dtype=bool)
    dropped_by: dict[int, list[int]] = {}
    for j in sorted(earlier):
        owners = [i for i in sorted(earlier[j]) if kept[i]]
        if owners:
            kept[j] = False
            dropped_by.setdefault(owners[0], []).append(j)
    return [[i, *rows] for i, rows in sorted(dropped_by.items())]


def keep_mask(n: int, groups: list[list[int]]) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    for group in groups:
        keep[group[1:]] = False
    return keep
