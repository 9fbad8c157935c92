"""Heavier checks: the demo stage, a tiny local LM as reference LLM, and real data (skipped when
../shared/data is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reliant.hallucination.api import FEWLParams, OneHotEncoder, TextEncoder, qa_from_records, score
from reliant.hallucination.scoring import score_qa
from reliant.hallucination.simulate import chale_candidates, default_references, load_items, simulate_records, truthfulqa_items

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CHALE = DATA / "chale" / "chale.json"
TRUTHFULQA = DATA / "truthfulqa" / "TruthfulQA.csv"


@pytest.mark.slow
def test_demo_stage_adds_figures_and_numbers(tmp_path):
    from reliant.core.rundir import run_directory
    from reliant.hallucination.api import demo_stage

    with run_directory("demo", {"seed": 0}, tmp_path / "demo") as run:
        numbers = demo_stage(run, 0)
    assert numbers["fewl_auroc"] > 0.5 and set(numbers["reference_weights"]) >= {"expert-a", "lazy"}
    html = (tmp_path / "demo" / "report.html").read_text()
    assert "Hallucination (FEWL)" in html and html.count("<img") >= 3


@pytest.mark.slow
def test_tiny_local_lm_as_reference(small_lm_dir):
    from reliant.core.builtin_data import builtin_qa

    records = builtin_qa(n_people=10)[:6]
    rows = [{"question": r["question"], "answers": {"right": r["answer"], "wrong": r["perturbed_answer"][0]},
             "wrong_answers": list(r["perturbed_answer"][:2])} for r in records]
    result = score(rows, reference_llms=[str(small_lm_dir)], encoder=OneHotEncoder(256),
                   params=FEWLParams(neighbors=2, threshold="0"), max_new_tokens=32, seed=0)
    assert result.qa.reference_names and len(result.qa.references[0]) == 1
    assert all(isinstance(r[0], str) for r in result.qa.references)
    assert np.isfinite(result.scores["right"]).all()


@pytest.mark.slow
@pytest.mark.skipif(not CHALE.exists(), reason="CHALE not present")
def test_chale_fewl_ranks_non_halu_above_halu():
    items = load_items("chale", CHALE, limit=40, seed=0)
    records = simulate_records(items, chale_candidates(), default_references([i.group for i in items]), n_wrong=3,
                               n_samples=0, seed=0)
    result = score_qa(qa_from_records(records), TextEncoder(), FEWLParams(neighbors=10))
    means = {m: float(np.mean(s)) for m, s in result.scores.items()}
    assert means["non-halu"] > means["halu"] and means["non-halu"] > means["mid-halu"]
    assert result.evaluation["fewl"]["auroc"] > result.evaluation["reference_average"]["auroc"]


@pytest.mark.skipif(not TRUTHFULQA.exists(), reason="TruthfulQA not present")
def test_truthfulqa_items_parse():
    items = truthfulqa_items(TRUTHFULQA)
    assert len(items) == 817
    assert all(i.correct and i.incorrect and i.group for i in items)
    assert json.dumps(items[0].question)
