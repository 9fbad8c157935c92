"""The deferral registry, cross-fitting, the budget, per-part metrics, tie-aware difficulty bins
and AI-AI teams: tests that fail on the old behaviour (bins split ties by row order, only an
in-sample curve maximum, one hard-coded rule)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import check_grad

from reliant.collaboration.api import (
    DEFERRAL_METHODS,
    DeferralData,
    analyze,
    cross_fitted_deferral,
    deferral_parts,
    difficulty_bins,
    synthetic_human_machine,
)
from reliant.collaboration.config import DEFERRAL_NAMES
from reliant.collaboration.deferral import make_deferral
from tests.cli_runner import run_main


@pytest.fixture(scope="module")
def data():
    return synthetic_human_machine(n=1500, num_classes=5, votes_per_item=10, seed=1, machine_rho=0.8)


def _deferral_data(d, seed=0):
    from reliant.collaboration.analysis import _rule_features
    from reliant.collaboration.votes import plurality, sample_annotators

    rng = np.random.default_rng(seed)
    human = plurality(sample_annotators(d["votes"], 1, rng), rng)
    return DeferralData(d["logits"], _rule_features(d["logits"], None), human, d["labels"])


def test_registry_matches_the_cli_choices():
    assert tuple(DEFERRAL_METHODS) == DEFERRAL_NAMES
    for name, cls in DEFERRAL_METHODS.items():
        assert cls.name == name and cls.label


@pytest.mark.parametrize("name", DEFERRAL_NAMES)
def test_every_rule_fits_scores_and_beats_the_machine_alone(name, data):
    dd = _deferral_data(data)
    fit, held = np.arange(0, 1500, 2), np.arange(1, 1500, 2)
    rule = make_deferral(name).fit(dd.take(fit))
    scores = rule.score(dd.take(held))
    assert scores.shape == (len(held),) and np.all(np.isfinite(scores)) and np.isfinite(rule.threshold_)
    parts = deferral_parts(scores > rule.threshold_, dd.machine_pred[held], dd.other_pred[held], dd.labels[held])
    assert 0 < parts["deferred"] < 1
    assert parts["accuracy"] > np.mean(dd.machine_pred[held] == dd.labels[held])
    # a rule keeps rows where the machine is more accurate than on average, and hands over harder ones
    assert parts["machine accuracy on kept rows"] > np.mean(dd.machine_pred[held] == dd.labels[held])


def test_compare_confidence_learns_where_the_human_is_right():
    """Humans always right where the machine says class 0, always wrong elsewhere; the machine
    is 60 % sure of everything: defer exactly the rows the machine calls class 0."""
    rng = np.random.default_rng(0)
    n, k = 800, 3
    labels = rng.integers(0, k, n)
    machine = np.where(rng.random(n) < 0.6, labels, (labels + 1) % k)
    logits = np.log(np.full((n, k), 0.2))
    logits[np.arange(n), machine] = np.log(0.6)
    human = np.where(machine == 0, labels, (labels + 2) % k)
    features = np.eye(k)[machine]  # what the machine said is all a rule sees besides its confidence
    dd = DeferralData(logits, features, human, labels)
    rule = make_deferral("compare_confidence").fit(dd)
    deferred = rule.score(dd) > rule.threshold_
    assert np.array_equal(deferred, machine == 0)


def test_realizable_surrogate_gradient_is_exact(data):
    dd = _deferral_data(data).take(np.arange(300))
    rule = make_deferral("realizable_surrogate")
    captured = {}
    import reliant.collaboration.deferral as module

    real_minimize = module.minimize

    def spy(fun, x0, **kwargs):
        captured["fun"] = fun
        return real_minimize(fun, x0, **kwargs)

    module.minimize = spy
    try:
        rule.fit(dd)
    finally:
        module.minimize = real_minimize
    fun = captured["fun"]
    w = np.random.default_rng(0).normal(size=len(rule.weights_)) * 0.3
    assert check_grad(lambda v: fun(v)[0], lambda v: fun(v)[1], w) < 1e-5


def test_cross_fitting_is_out_of_sample_and_budget_caps(data):
    dd = _deferral_data(data)
    first = cross_fitted_deferral(dd, ["compare_confidence"], folds=2, seed=3)["compare_confidence"]
    # scrambling the labels of the rows a fold is scored on leaves that fold's decisions unchanged
    parts = np.array_split(np.random.default_rng(3).permutation(len(dd.labels)), 2)
    scrambled = dd.labels.copy()
    scrambled[parts[0]] = (scrambled[parts[0]] + 1) % 5
    rerun = cross_fitted_deferral(DeferralData(dd.logits, dd.features, dd.other_pred, scrambled),
                                  ["compare_confidence"], folds=2, seed=3)["compare_confidence"]
    assert np.array_equal(first["deferred"][parts[0]], rerun["deferred"][parts[0]])
    assert not np.array_equal(first["deferred"][parts[1]], rerun["deferred"][parts[1]])
    assert first["deferred"].mean() > 0.12
    capped = cross_fitted_deferral(dd, DEFERRAL_NAMES, folds=2, seed=3, budget=0.1)
    for entry in capped.values():
        assert 0.05 < entry["deferred"].mean() <= 0.1 + 0.03


def test_deferral_parts_by_hand():
    labels = np.array([0, 1, 2, 0])
    parts = deferral_parts(np.array([True, False, True, False]), np.array([1, 1, 2, 2]), np.array([0, 0, 0, 0]), labels)
    assert parts == {"accuracy": 0.5, "deferred": 0.5, "coverage": 0.5, "machine accuracy on kept rows": 0.5,
                     "human accuracy on deferred rows": 0.5}


def test_difficulty_bins_never_split_ties_by_row_order():
    """60 % of rows unanimous (agreement 1): the old np.array_split cut them into three bins by
    row order, showing an artefact 'trend' among identical images."""
    score = np.concatenate([np.linspace(0.3, 0.9, 400), np.ones(600)])
    correct = {"machine": np.concatenate([np.zeros(400), np.arange(600) < 300]).astype(bool)}
    bins = difficulty_bins(score, correct, bins=5)
    assert [b["rows"] for b in bins] == [200, 200, 600]
    assert bins[-1]["score from"] == bins[-1]["score to"] == 1.0
    assert sum(b["rows"] for b in bins) == 1000
    # without ties the bins are the usual equal-count quantile bins
    assert [b["rows"] for b in difficulty_bins(np.arange(100.0), correct={"m": np.ones(100)}, bins=4)] == [25] * 4


def test_analyze_reports_deferral_and_ai_ai(data):
    result = analyze(data["logits"], data["votes"], data["labels"], seed=0, budget=0.3,
                     second_machine_logits=data["logits_b"])
    assert set(result["deferral"]) == set(DEFERRAL_NAMES) and result["budget"] == 0.3
    for entry in result["deferral"].values():
        assert entry["deferred"] <= 0.33
    assert result["best_curve_accuracy_is_in_sample"] is True
    ai = result["ai_ai"]
    assert [row["team"] for row in ai["teams"]][:2] == ["machine A alone", "machine B alone"]
    assert len(ai["teams"]) == 2 + len(DEFERRAL_NAMES) + 3
    # two machines that share their hard items err more alike than the machine and the human
    assert ai["error_consistency"] > result["comparison"]["error_consistency"]


def test_cli_reports_cross_fitted_deferral_budget_and_ai_ai(data, tmp_path, capsys):
    for key in ("logits", "votes", "labels", "logits_b"):
        np.save(tmp_path / f"{key}.npy", data[key])
    code = run_main(["collab", "analyze", "--machine-logits", str(tmp_path / "logits.npy"), "--human-votes",
                     str(tmp_path / "votes.npy"), "--labels", str(tmp_path / "labels.npy"), "--second-machine-logits",
                     str(tmp_path / "logits_b.npy"), "--budget", "0.2", "--deferral-methods",
                     "confidence,realizable_surrogate", "--out", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "cross-fitted deferral, confidence" in out and "cross-fitted deferral, realizable_surrogate" in out
    assert "compare_confidence" not in out and "AI-AI best team" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["collab"]["deferral"]) == {"confidence", "realizable_surrogate"}
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Deferral rules, cross-fitted (per part)" in html and "AI-AI teams" in html
