"""reliant.core.embeddings with the packaged all-MiniLM-L6-v2 (offline, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reliant.core import embeddings
from reliant.core.embeddings import DEFAULT_EMBEDDER, embed, load_embedder
from reliant.core.errors import UserError

SENTENCES = [
    "The cat is sleeping on the sofa.",
    "A kitten naps on the couch.",
    "Quarterly revenue grew by twelve percent.",
    "Stock prices fell sharply after the earnings report was published yesterday afternoon.",
    "Hi",
    "The weather is sunny today.",
]


@pytest.fixture(scope="module")
def model():
    return load_embedder(DEFAULT_EMBEDDER, device="cpu")


@pytest.fixture(scope="module")
def vectors(model):
    return embed(SENTENCES, device="cpu", batch_size=4, show_progress=False)


def test_shape_dtype_and_unit_norm(vectors):
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_closer_than_unrelated(vectors):
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.5
    assert sims[0, 1] > sims[0, 2] + 0.3
    assert sims[0, 1] > sims[1, 3] + 0.3


def test_input_order_preserved_against_one_at_a_time(model, vectors):
    singles = np.concatenate([embed([s], device="cpu", show_progress=False) for s in SENTENCES])
    np.testing.assert_allclose(vectors, singles, atol=1e-5)


def test_deterministic_and_batch_size_independent(model, vectors):
    again = embed(SENTENCES, device="cpu", batch_size=64, show_progress=False)
    np.testing.assert_allclose(vectors, again, atol=1e-5)


class StubEncoder:
    """Deterministic non-unit vectors (length, vowel count, 0...) to test the plumbing."""

    def __init__(self):
        self.batches = []

    def get_embedding_dimension(self):
        return 3

    def encode(self, texts, **kwargs):
        self.batches.append(list(texts))
        return np.array([[len(t), sum(c in "aeiou" for c in t), 0.0] for t in texts], dtype=np.float64)


def test_batches_sorted_by_length_and_order_restored(monkeypatch):
    stub = StubEncoder()
    monkeypatch.setattr(embeddings, "load_embedder", lambda name, device: stub)
    texts = ["aa", "a", "aaaaa", "", "aaaa", "aaa"]
    raw = embed(texts, normalize=False, batch_size=2, show_progress=False)
    assert raw.dtype == np.float32
    np.testing.assert_array_equal(raw[:, 0], [len(t) for t in texts])
    assert stub.batches == [["aaaaa", "aaaa"], ["aaa", "aa"], ["a", ""]]
    unit = embed(texts, batch_size=4, show_progress=False)
    np.testing.assert_allclose(np.linalg.norm(unit[[0, 1, 2, 4, 5]], axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(unit[3], 0.0)  # a zero vector stays zero, no NaN


def test_model_output_without_extra_normalisation(model, vectors):
    # MiniLM ends in a Normalize module, so its raw output is already unit length.
    raw = embed(SENTENCES, device="cpu", normalize=False, show_progress=False)
    np.testing.assert_allclose(raw, vectors, atol=1e-5)


def test_empty_input(model):
    out = embed([], device="cpu", show_progress=False)
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_loader_is_cached(model):
    assert load_embedder(DEFAULT_EMBEDDER, device="cpu") is model
    assert load_embedder("sentence-transformers/all-MiniLM-L6-v2", device="cpu") is not None
    assert not model.training


def test_cache_reused_without_loading_model(model, vectors, tmp_path, monkeypatch):
    path = tmp_path / "sub" / "emb.npy"
    first = embed(SENTENCES, device="cpu", cache=path, show_progress=False)
    np.testing.assert_allclose(first, vectors, atol=1e-5)
    meta = json.loads((tmp_path / "sub" / "emb.npy.meta.json").read_text())
    assert meta["model"] == DEFAULT_EMBEDDER and meta["count"] == len(SENTENCES) and meta["normalize"] is True
    assert sorted(p.name for p in path.parent.iterdir()) == ["emb.npy", "emb.npy.meta.json"]  # no temp left

    def no_loading(*args, **kwargs):
        raise AssertionError("model loaded although the cache matches")

    monkeypatch.setattr(embeddings, "load_embedder", no_loading)
    second = embed(SENTENCES, device="cpu", cache=path, show_progress=False)
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(np.asarray(second), np.asarray(first))


def test_cache_recomputed_when_inputs_change(model, vectors, tmp_path, monkeypatch):
    path = tmp_path / "emb.npy"
    embed(SENTENCES, device="cpu", cache=path, show_progress=False)
    calls = []
    real = embeddings.load_embedder

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(embeddings, "load_embedder", counting)
    changed = SENTENCES[:-1] + ["Something else entirely."]
    out = embed(changed, device="cpu", cache=path, show_progress=False)
    assert len(calls) == 1
    np.testing.assert_allclose(out[:-1], vectors[:-1], atol=1e-5)
    assert not np.allclose(out[-1], vectors[-1], atol=1e-3)
    assert json.loads((tmp_path / "emb.npy.meta.json").read_text())["sha256"] == embeddings.texts_sha256(changed)

    # Same texts, different normalize flag: recomputed too.
    embed(changed, device="cpu", cache=path, normalize=False, show_progress=False)
    assert len(calls) == 2
    assert json.loads((tmp_path / "emb.npy.meta.json").read_text())["normalize"] is False

    # A cache without its meta (e.g. a crash between the renames) is not trusted.
    (tmp_path / "emb.npy.meta.json").unlink()
    embed(changed, device="cpu", cache=path, normalize=False, show_progress=False)
    assert len(calls) == 3


def test_texts_hash_sees_boundaries():
    assert embeddings.texts_sha256(["ab", "c"]) != embeddings.texts_sha256(["a", "bc"])
    assert embeddings.texts_sha256([]) != embeddings.texts_sha256([""])


def test_empty_input_with_cache(model, tmp_path):
    out = embed([], device="cpu", cache=tmp_path / "e.npy", show_progress=False)
    assert out.shape == (0, 384)
    assert embed([], device="cpu", cache=tmp_path / "e.npy", show_progress=False).shape == (0, 384)


def test_non_string_names_its_index():
    with pytest.raises(UserError, match=r"texts\[2\] is int"):
        embed(["a", "b", 3], show_progress=False)
    with pytest.raises(UserError, match="single string"):
        embed("just one", show_progress=False)


def test_bad_batch_size():
    with pytest.raises(UserError, match="batch_size"):
        embed(["a"], batch_size=0, show_progress=False)


def test_missing_local_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such local directory") as info:
        load_embedder(str(tmp_path / "nope" / "model"), device="cpu")
    assert "\n" not in str(info.value)
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(UserError, match="is a file"):
        load_embedder(str(tmp_path / "file.bin"), device="cpu")
    with pytest.raises(UserError, match="neither modules.json nor config.json"):
        load_embedder(str(tmp_path), device="cpu")


def test_unreachable_hub_is_a_user_error(monkeypatch):
    monkeypatch.setattr(embeddings, "_hub_cached", lambda repo_id: False)
    monkeypatch.setattr(embeddings, "_hub_reachable", lambda: False)
    with pytest.raises(UserError, match="hub cannot be reached"):
        load_embedder("some-owner/some-embedder-that-is-not-here", device="cpu")


def test_cache_path_that_is_a_directory(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        embed(["a"], cache=tmp_path, show_progress=False)


def test_cache_recomputed_for_other_model_or_damaged_file(monkeypatch, tmp_path):
    stub = StubEncoder()
    monkeypatch.setattr(embeddings, "load_embedder", lambda name, device: stub)
    path = tmp_path / "emb.npy"
    texts = ["one", "three"]
    embed(texts, model="stub-a", cache=path, show_progress=False)
    embed(texts, model="stub-a", cache=path, show_progress=False)
    assert len(stub.batches) == 1
    embed(texts, model="stub-b", cache=path, show_progress=False)
    assert len(stub.batches) == 2
    assert json.loads((tmp_path / "emb.npy.meta.json").read_text())["model"] == "stub-b"
    path.write_bytes(b"not an npy file")
    out = embed(texts, model="stub-b", cache=path, show_progress=False)
    assert len(stub.batches) == 3
    assert out.shape == (2, 3)
    np.save(path, np.zeros((5, 3), dtype=np.float32))  # wrong row count under a matching meta
    assert embed(texts, model="stub-b", cache=path, show_progress=False).shape == (2, 3)
    assert len(stub.batches) == 4


def test_sigterm_during_embedding_leaves_no_temporary_files(model, tmp_path, monkeypatch):
    import os
    import signal

    import reliant.core.embeddings as embeddings

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(embeddings, "_fill", killed)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        embeddings.embed(["a", "b"], cache=tmp_path / "c.npy")
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is previous
