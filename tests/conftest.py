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


@pytest.fixture(autouse=True)
def _restore_signal_handlers():
    """Some libraries (Flower's simulation, ray) replace SIGINT/SIGTERM handlers in the test
    process and leave them; children started later would inherit an ignored SIGINT and never
    see Ctrl-C. Every test starts from the handlers the session started with."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        if signal.getsignal(sig) is not handler and handler is not None:
            signal.signal(sig, handler)
