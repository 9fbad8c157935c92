"""The measured claims (slow: they use the built-in target/reference tiny LMs, trained once
and cached), the demo stage, and a real-data smoke test on MUSE-News when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

MUSE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "muse_news"


def test_load_examples_reads_muse_privleak_lists():
    if not (MUSE / "privleak_forget.json").exists():
        pytest.skip("MUSE-News data not present")
    from reliant.memorization.api import load_examples

    examples = load_examples(MUSE / "privleak_forget.json", limit=5)
    assert len(examples) == 5 and all(e.prompt == "" and len(e.target) > 100 for e in examples)
    assert examples[0].line == 1 and examples[0].source.endswith("privleak_forget.json")


def test_muse_audit_smoke(small_lm):
    if not (MUSE / "privleak_holdout.json").exists():
        pytest.skip("MUSE-News data not present")
    from reliant.memorization.api import audit_lm, load_examples

    forget = load_examples(MUSE / "privleak_forget.json", limit=6)
    holdout = load_examples(MUSE / "privleak_holdout.json", limit=6)
    result = audit_lm(small_lm, forget, holdout, attacks=["loss", "zlib", "min_k_pp"], max_length=96, n_boot=0)
    # a model trained on neither cannot tell them apart reliably; only check the mechanics
    assert set(result.summary) == {"loss", "zlib", "min_k_pp"}
    assert all(0 <= s["auroc"] <= 1 for s in result.summary.values())


@pytest.fixture(scope="module")
def builtin():
    from reliant.memorization.api import builtin_setup

    return builtin_setup(seed=0)


@pytest.mark.slow
def test_attacks_separate_members_and_control_is_near_chance(builtin):
    from reliant.memorization.api import ATTACKS, audit_lm

    target = audit_lm(str(builtin.target_dir), builtin.members, builtin.nonmembers,
                      reference=str(builtin.reference_dir), n_boot=0)
    assert all(s["auroc"] > 0.7 for s in target.summary.values()), target.summary
    control = audit_lm(str(builtin.reference_dir), builtin.members, builtin.nonmembers,
                       attacks=[a for a in ATTACKS if a != "reference"], n_boot=0)
    assert all(abs(s["auroc"] - 0.5) < 0.2 for s in control.summary.values()), control.summary


@pytest.mark.slow
def test_exposure_of_inserted_canaries_exceeds_control(builtin):
    from reliant.core.models import load_causal_lm
    from reliant.memorization.api import canary_exposure

    results = {}
    for label, path in (("target", builtin.target_dir), ("control", builtin.reference_dir)):
        model, tokenizer = load_causal_lm(str(path), device="cpu")
        results[label] = canary_exposure(model, tokenizer, builtin.canaries, n_candidates=99, seed=0)
    reps = np.array([c.repetitions for c in builtin.canaries])
    most = reps == reps.max()
    assert results["target"].exposure[most].mean() > results["control"].exposure[most].mean() + 2
    # same seed, same candidates, same exposure
    model, tokenizer = load_causal_lm(str(builtin.target_dir), device="cpu")
    again = canary_exposure(model, tokenizer, builtin.canaries, n_candidates=99, seed=0)
    assert np.array_equal(again.exposure, results["target"].exposure)


@pytest.mark.slow
def test_demo_stage(builtin, tmp_path):
    from reliant.core.rundir import run_directory
    from reliant.memorization.api import demo_stage

    with run_directory("demo", {"seed": 0}, tmp_path / "demo") as run:
        result = demo_stage(run, seed=0)
    headline = result["headline"]
    assert headline["auroc_loss"] > 0.7 and "exposure_target_x16" in headline
    assert (tmp_path / "demo" / "memorization_roc.png").exists()
    assert (tmp_path / "demo" / "memorization_per_example_memorization.jsonl").exists()
