"""The duplicate finder finds planted duplicates (exact, recompressed/brightened, embedding), and
unreadable files are reported, not fatal."""

from __future__ import annotations

import numpy as np

from reliant.construction import dedup
from reliant.construction.images import load_images


def _cifar_like(n: int, seed: int) -> np.ndarray:
    """Smooth random images (distinct low-frequency patterns), like photos and unlike white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (n, 4, 4, 3)).astype(np.float32)
    return np.clip(coarse.repeat(8, axis=1).repeat(8, axis=2) + rng.normal(0, 4, (n, 32, 32, 3)), 0, 255).astype(np.uint8)


def test_perceptual_hash_finds_planted_near_duplicates_and_nothing_else():
    images = _cifar_like(60, 0)
    planted = {60: 3, 61: 10, 62: 25, 63: 40}
    rng = np.random.default_rng(1)
    copies = [
        images[3],                                                                     # exact copy
        np.clip(images[10].astype(int) + 12, 0, 255).astype(np.uint8),                  # brighter
        np.clip(images[25] + rng.normal(0, 6, images[25].shape), 0, 255).astype(np.uint8),  # noisy
        images[40][::2, ::2].repeat(2, axis=0).repeat(2, axis=1),                       # down- and up-sampled
    ]
    allimages = np.concatenate([images, np.stack(copies)])
    pairs = dedup.hash_pairs(dedup.perceptual_hashes(allimages), max_distance=6)
    groups = dedup.duplicate_groups(len(allimages), pairs)
    found = {g[0]: set(g[1:]) for g in groups}
    assert found == {original: {copy} for copy, original in planted.items()}
    keep = dedup.keep_mask(len(allimages), groups)
    assert keep[:60].all() and not keep[60:].any()


def test_exact_and_embedding_duplicates():
    pairs = dedup.exact_pairs(["a", "b", "a", "c", "b", "a"])
    assert sorted(map(tuple, pairs.tolist())) == [(0, 2), (0, 5), (1, 4)]
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 16))
    features[49] = features[7] * 1.01 + 1e-4  # a planted near-copy in feature space
    found = dedup.embedding_pairs(features, min_similarity=0.99)
    assert [tuple(p) for p in found.tolist()] == [(7, 49)]


def test_removal_is_not_transitive():
    # 0~1 and 1~2, but 0 and 2 are not alike: 1 goes, 2 stays (it duplicates no kept row).
    groups = dedup.duplicate_groups(3, np.array([[0, 1], [1, 2]]))
    assert groups == [[0, 1]]
    assert dedup.keep_mask(3, groups).tolist() == [True, False, True]


def test_unreadable_files_are_reported_and_skipped(tmp_path, digit_tree):
    good = sorted(str(p) for p in (digit_tree / "digit0").glob("*.png"))[:5]
    (tmp_path / "truncated.png").write_bytes(open(good[0], "rb").read()[:40])
    (tmp_path / "text.png").write_text("hello")
    paths = [good[0], str(tmp_path / "truncated.png"), good[1], str(tmp_path / "text.png"), str(tmp_path / "gone.png")]
    images, ok, problems = load_images(paths, 16)
    assert ok.tolist() == [True, False, True, False, False]
    assert images.shape == (2, 16, 16, 3)
    assert [p["path"] for p in problems] == [
        paths[1], paths[3], paths[4]]
    assert all(p["reason"] for p in problems)
