"""Shared fixtures: a small tiny LM trained once per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Captured stderr is not a terminal, so commands would print plain progress lines; the
# one-line error assertions want stderr to themselves. tests/core/test_progress.py turns it on.
os.environ.setdefault("RELIANT_PROGRESS", "0")


@pytest.fixture(scope="session")
def small_lm_dir(tmp_path_factory):
    """A tiny LM trained on 10 built-in people (80 QA); enough to test mechanics fast."""
    from reliant.core.builtin_data import builtin_qa
    from reliant.core.prompts import qa_prompt
    from reliant.core.tiny_lm import TinyLMSettings, build_tiny_lm

    records = builtin_qa(n_people=10)
    settings = TinyLMSettings(vocab_size=512, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, epochs=40, batch_size=16, warmup_steps=10)
    return build_tiny_lm(
        [qa_prompt(r["question"]) for r in records],
        [r["answer"] for r in records],
        name="test-small",
        settings=settings,
        cache_dir=tmp_path_factory.mktemp("tiny_cache"),
    )


@pytest.fixture(scope="session")
def small_lm(small_lm_dir):
    from reliant.core.models import load_causal_lm

    return load_causal_lm(str(small_lm_dir), device="cpu")
