"""The feature check, the probability transform, the warnings after HOC, and the real-pool,
multi-rater, official-rule and cleanlab-detector paths added with them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from reliant.cli import app
from reliant.curation.api import clusterable_features, make_transition, neighbor_graph
from reliant.curation.checks import check_features, check_transition, looks_like_probabilities, transform_features
from reliant.curation.ds2 import curate_scores
from reliant.curation.hoc import estimate_transition_raters
from reliant.curation.inputs import load_pool
from reliant.curation.neighbors import duplicated_graph
from reliant.curation.simifeat import detect_label_errors, rank_rates
from tests.cli_runner import assert_exit_2_one_line

runner = CliRunner()


@pytest.fixture(scope="module")
def noisy_data():
    return clusterable_features(1500, 5, make_transition(5, 0.25, "random", seed=3), dim=16, seed=3)


# --------------------------------------------------------------------------- transform


def test_probability_rows_are_recognised_and_logged():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
    assert looks_like_probabilities(probs)
    out, applied = transform_features(probs, "auto")
    assert applied == "log"
    np.testing.assert_allclose(out, np.log(np.maximum(probs, 1e-12)), rtol=1e-6)
    raw, applied = transform_features(probs, "none")
    assert applied == "none" and raw is not None and np.array_equal(raw, probs)
    features = rng.normal(size=(50, 4)).astype(np.float32)
    assert not looks_like_probabilities(features)
    assert transform_features(features, "auto")[1] == "none"
    assert not looks_like_probabilities(np.abs(features))  # non-negative but rows do not sum to 1


def test_log_transform_refuses_negative_features():
    with pytest.raises(ValueError, match="non-negative"):
        transform_features(np.array([[0.5, -0.5], [1.0, 0.0]], dtype=np.float32), "log")


def test_log_transform_removes_saturation_ties():
    # Confident probabilities: float32 rows that are exactly one-hot for many samples.
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 600)
    logits = rng.normal(size=(600, 3))
    logits[np.arange(600), labels] += rng.uniform(20, 25, 600)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    raw_graph = neighbor_graph(probs, 5)
    logged, _ = transform_features(probs)
    log_graph = neighbor_graph(logged, 5)
    raw_ties = np.mean(raw_graph.sims[:, 0] == raw_graph.sims[:, 1])
    log_ties = np.mean(log_graph.sims[:, 0] == log_graph.sims[:, 1])
    assert raw_ties > 0.3 and log_ties < raw_ties / 3


# --------------------------------------------------------------------------- feature check


def test_informative_features_pass(noisy_data):
    graph = neighbor_graph(noisy_data.features, 12)
    report = check_features(noisy_data.features, noisy_data.noisy, graph, 5)
    assert report.problems == [] and report.agreement_z > 10
    assert report.neighbour_agreement > report.chance_agreement + 0.3


@pytest.mark.parametrize("kind", ["random", "constant", "zero"])
def test_hopeless_features_are_problems(noisy_data, kind):
    n = len(noisy_data.noisy)
    features = {"random": np.random.default_rng(4).normal(size=(n, 16)), "constant": np.ones((n, 16)),
                "zero": np.zeros((n, 16))}[kind].astype(np.float32)
    report = check_features(features, noisy_data.noisy, neighbor_graph(features, 12), 5)
    assert report.problems
    assert any("no label information" in p for p in report.problems)


def test_transition_warnings():
    K = 4
    p = np.full(K, 0.25)
    assert check_transition(0.8 * np.eye(K) + 0.05, p, 0.15) == []
    flat = np.full((K, K), 0.25)
    warnings = check_transition(flat, p, 0.75)
    assert any("not diagonally dominant" in w for w in warnings)
    assert any("near-singular" in w for w in warnings)
    assert any("above 50%" in w for w in warnings)
    assert any("prior" in w for w in check_transition(0.8 * np.eye(K) + 0.05, np.array([0.5, 0.5, 0.0, 0.0]), 0.1))


def test_detect_refuses_random_features_with_one_line(tmp_path, capsys, noisy_data):
    n = len(noisy_data.noisy)
    np.save(tmp_path / "random.npy", np.random.default_rng(5).normal(size=(n, 16)).astype(np.float32))
    np.save(tmp_path / "labels.npy", noisy_data.noisy)
    args = ["curate", "detect", "--features", str(tmp_path / "random.npy"), "--labels", str(tmp_path / "labels.npy"),
            "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(args, capsys, "the features carry no label information", tmp_path)
    assert_exit_2_one_line(["curate", "diagnose"] + args[2:], capsys, "--feature-check warn", tmp_path)


def test_detect_warns_on_stderr_and_in_the_report(tmp_path, noisy_data):
    n = len(noisy_data.noisy)
    np.save(tmp_path / "random.npy", np.random.default_rng(5).normal(size=(n, 16)).astype(np.float32))
    np.save(tmp_path / "labels.npy", noisy_data.noisy)
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", "diagnose", "--features", str(tmp_path / "random.npy"), "--labels",
                                 str(tmp_path / "labels.npy"), "--feature-check", "warn", "--hoc-rounds", "3",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    warnings = json.loads((out / "metrics.json").read_text())["warnings"]
    assert any("no label information" in w for w in warnings)
    assert any("not identifiable" in w for w in warnings)
    assert "warning: " in result.stderr if hasattr(result, "stderr") and result.stderr_bytes is not None else True
    assert "Warnings" in (out / "report.html").read_text()


# --------------------------------------------------------------------------- official rules


def test_suggestion_rules_differ_only_in_what_is_proposed(noisy_data):
    graph = neighbor_graph(noisy_data.features, 14)
    rates = np.full(5, 0.3)
    winner = detect_label_errors(noisy_data.noisy, 5, graph, class_rates=rates, rounds=5, seed=0)
    runner_up = detect_label_errors(noisy_data.noisy, 5, graph, class_rates=rates, rounds=5, seed=0,
                                    suggestion="runner_up")
    np.testing.assert_array_equal(winner.flagged, runner_up.flagged)
    # rounds the own label wins count against the other labels under the official rule
    assert np.all(winner.confidence <= runner_up.confidence + 1e-12)
    assert np.all(winner.suggested[winner.flagged] != noisy_data.noisy[winner.flagged])


def test_rank_clip_official_keeps_small_rates():
    T = np.diag([0.99, 0.5, 1.0])
    T = T + (1 - T.sum(axis=1, keepdims=True)) / 3
    prior = np.full(3, 1 / 3)
    official = rank_rates(T, prior, prior)
    assert 0 < official[0] < 0.05 and official[2] == 0.05
    assert rank_rates(T, prior, prior, "range")[0] == 0.05


def test_duplicated_graph_puts_the_twin_first(noisy_data):
    graph = neighbor_graph(noisy_data.features, 6)
    doubled = duplicated_graph(graph)
    n = len(graph)
    assert doubled.idx.shape == (2 * n, 6)
    np.testing.assert_array_equal(doubled.idx[:n, 0], np.arange(n, 2 * n))
    np.testing.assert_array_equal(doubled.sims[:, 0], 1.0)
    assert set(doubled.idx[0, 1:3] % n) == {graph.idx[0, 0]}
    curation = curate_scores(noisy_data.noisy, graph, num_levels=5, hoc_rounds=3, detect_rounds=3,
                             duplicate_pool=True, hoc_steps=200)
    assert curation.curated.shape == noisy_data.noisy.shape


# --------------------------------------------------------------------------- several raters


def test_rater_hoc_recovers_each_raters_transition():
    rng = np.random.default_rng(7)
    K, n = 4, 20000
    clean = rng.choice(K, size=n, p=[0.4, 0.3, 0.2, 0.1])
    Ts = [make_transition(K, rate, "random", seed=s) for s, rate in ((1, 0.1), (2, 0.25), (3, 0.35))]
    labels = np.stack([np.array([rng.choice(K, p=T[c]) for c in clean]) for T in Ts], axis=1)
    result = estimate_transition_raters(labels, K, steps=1500)
    for T_est, T in zip(result.T, Ts):
        assert np.abs(T_est - T).max() < 0.06
    np.testing.assert_allclose(result.p, [0.4, 0.3, 0.2, 0.1], atol=0.03)


def test_diagnose_rater_labels_end_to_end(tmp_path):
    rng = np.random.default_rng(8)
    clean = rng.integers(0, 3, 3000)
    files = []
    for r, rate in enumerate((0.1, 0.2, 0.3)):
        T = make_transition(3, rate, "symmetric", seed=r)
        np.save(tmp_path / f"rater{r}.npy", np.array([rng.choice(3, p=T[c]) for c in clean]))
        files.append(str(tmp_path / f"rater{r}.npy"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", "diagnose", "--rater-labels", ",".join(files), "--hoc-steps", "800",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    noise = [1 - float(np.sum(np.array(metrics["p"]) * np.diag(np.array(metrics["T"][f"rater{r}"]))))
             for r in range(3)]
    assert noise[0] < noise[1] < noise[2]
    assert (out / "T_rater2.npy").is_file()


# --------------------------------------------------------------------------- real pools


def test_pool_with_empty_fields_lists_every_record_with_lines(tmp_path):
    records = [{"instruction": f"do {i}", "input": "", "output": "" if i in (2, 5) else f"did {i}"} for i in range(8)]
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(records, indent=4))
    with pytest.raises(ValueError) as info:
        load_pool(path)
    message = str(info.value)
    assert "2 of 8 records" in message and "record 3 (line 12)" in message and "record 6 (line 27)" in message
    assert path.read_text().splitlines()[11].strip() == "{"
    dropped = load_pool(path, "drop")
    assert len(dropped) == 6 and dropped.dropped == [3, 6] and dropped.positions.tolist() == [1, 2, 4, 5, 7, 8]
    kept = load_pool(path, "score0")
    assert len(kept) == 8 and kept.empty.tolist() == [i in (2, 5) for i in range(8)]


def test_select_scores_empty_records_zero_and_lists_rewrites(tmp_path):
    data = clusterable_features(200, 6, make_transition(6, 0.3, "random", seed=2), dim=16, seed=2)
    records = [{"instruction": f"t{i}", "input": "", "output": "" if i == 7 else f"a{i}"} for i in range(200)]
    (tmp_path / "pool.json").write_text(json.dumps(records))
    np.save(tmp_path / "emb.npy", data.features)
    np.save(tmp_path / "scores.npy", data.noisy)
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", "select", "--pool", str(tmp_path / "pool.json"), "--scores",
                                 str(tmp_path / "scores.npy"), "--embeddings", str(tmp_path / "emb.npy"), "--budget",
                                 "20", "--empty-fields", "score0", "--hoc-rounds", "5", "--detect-rounds", "5",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert rows[7]["raw_score"] == 0
    rewritten = [json.loads(line) for line in (out / "rewritten.jsonl").read_text().splitlines()]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(rewritten) == metrics["changed"] == int(np.sum(metrics["rewritten_moves"]))
    assert all(r["raw_score"] != r["curated_score"] for r in rewritten)
    assert metrics["records_scored_0_for_empty_fields"] == [8]


def test_select_with_dropped_records_takes_scores_of_the_file_or_of_the_kept_records(tmp_path):
    """`curate rate --empty-fields drop` writes one score per kept record; `select` with the
    same rule takes those, or one score per record of the file, with the same selection."""
    data = clusterable_features(200, 6, make_transition(6, 0.3, "random", seed=3), dim=16, seed=3)
    records = [{"instruction": f"t{i}", "input": "", "output": "" if i in (7, 50) else f"a{i}"} for i in range(200)]
    (tmp_path / "pool.json").write_text(json.dumps(records))
    kept = np.array([i not in (7, 50) for i in range(200)])
    np.save(tmp_path / "emb.npy", data.features[kept])
    np.save(tmp_path / "file_scores.npy", data.noisy)
    np.save(tmp_path / "kept_scores.npy", data.noisy[kept])
    np.save(tmp_path / "short.npy", data.noisy[:150])
    args = ["curate", "select", "--pool", str(tmp_path / "pool.json"), "--embeddings", str(tmp_path / "emb.npy"),
            "--budget", "20", "--empty-fields", "drop", "--hoc-rounds", "5", "--detect-rounds", "5"]
    for name in ("file", "kept"):
        result = runner.invoke(app, args + ["--scores", str(tmp_path / f"{name}_scores.npy"), "--out",
                                            str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "file" / "selected.json").read_text() == (tmp_path / "kept" / "selected.json").read_text()
    result = runner.invoke(app, args + ["--scores", str(tmp_path / "short.npy"), "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0
    assert "has 150 scores but the pool has 200 samples (198 once the 2 records with empty fields are dropped)" \
        in str(result.exception)
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------- cleanlab as a detector


def test_detect_with_pred_probs_runs_cleanlab_and_argmax(tmp_path):
    rng = np.random.default_rng(9)
    n, K = 600, 3
    clean = rng.integers(0, K, n)
    noisy = np.where(rng.random(n) < 0.15, rng.integers(0, K, n), clean)
    logits = rng.normal(size=(n, K)) + 3.0 * np.eye(K)[clean]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for name, value in (("probs", probs), ("noisy", noisy), ("clean", clean)):
        np.save(tmp_path / f"{name}.npy", value)
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", "detect", "--pred-probs", str(tmp_path / "probs.npy"), "--labels",
                                 str(tmp_path / "noisy.npy"), "--clean-labels", str(tmp_path / "clean.npy"),
                                 "--method", "cleanlab", "--hoc-rounds", "5", "--detect-rounds", "5",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "cleanlab" and metrics["feature_check"]["transform"] == "log"
    names = set(metrics["detectors"])
    assert {"cleanlab find_label_issues (--pred-probs)", "argmax(pred_probs) != label", "SimiFeat-rank"} <= names
    assert metrics["detection"]["f1"] > 0.5
    assert metrics["cleanlab"]["seconds"] < 5  # the call only, not `import cleanlab`


@pytest.mark.slow
def test_detect_with_datalab_adds_its_checks(tmp_path, noisy_data):
    np.save(tmp_path / "f.npy", noisy_data.features[:400])
    np.save(tmp_path / "l.npy", noisy_data.noisy[:400])
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", "detect", "--features", str(tmp_path / "f.npy"), "--labels",
                                 str(tmp_path / "l.npy"), "--datalab", "--hoc-rounds", "5", "--detect-rounds", "5",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    datalab = json.loads((out / "metrics.json").read_text())["datalab"]
    assert {"outlier", "near_duplicate", "class_imbalance"} <= set(datalab)
    assert (out / "datalab_issues.jsonl").is_file()
    assert "cleanlab Datalab" in (out / "report.html").read_text()


def test_new_inputs_fail_with_one_line(tmp_path, capsys):
    rng = np.random.default_rng(10)
    np.save(tmp_path / "a.npy", rng.integers(0, 3, 50))
    np.save(tmp_path / "short.npy", rng.integers(0, 3, 40))
    np.save(tmp_path / "bad_probs.npy", rng.random((50, 3)))  # rows do not sum to 1
    a, short, bad = (str(tmp_path / f) for f in ("a.npy", "short.npy", "bad_probs.npy"))
    out = ["--out", str(tmp_path / "out")]
    assert_exit_2_one_line(["curate", "diagnose", "--rater-labels", f"{a},{a}"] + out, capsys,
                           "needs 3 or more label files", tmp_path)
    assert_exit_2_one_line(["curate", "diagnose", "--rater-labels", f"{a},{a},{short}"] + out, capsys,
                           "the raters must label the same items", tmp_path)
    assert_exit_2_one_line(["curate", "detect", "--pred-probs", bad, "--labels", a] + out, capsys,
                           "is not a probability vector", tmp_path)
    assert_exit_2_one_line(["curate", "detect", "--pred-probs", bad, "--labels", a, "--feature-check", "maybe"]
                           + out, capsys, "unknown value 'maybe'", tmp_path)
