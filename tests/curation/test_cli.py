"""``reliant curate`` end to end: run directories, determinism, bad inputs exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliant.cli import app
from reliant.curation.api import clusterable_features, make_transition
from tests.cli_runner import run_main

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
ALPACA = SHARED / "instructions" / "alpaca_random_9k.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    d = tmp_path_factory.mktemp("labelled")
    data = clusterable_features(800, 4, make_transition(4, 0.25, "random", seed=1), dim=16, seed=1)
    np.save(d / "features.npy", data.features)
    np.save(d / "labels.npy", data.noisy)
    np.save(d / "clean.npy", data.clean)
    return d, data


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    d = tmp_path_factory.mktemp("pool")
    data = clusterable_features(300, 6, make_transition(6, 0.3, "random", seed=2), dim=16, seed=2)
    records = [{"instruction": f"Task number {i}", "input": "" if i % 2 else f"context {i}", "output": f"Answer {i}"}
               for i in range(300)]
    (d / "pool.json").write_text(json.dumps(records))
    np.save(d / "emb.npy", data.features)
    np.save(d / "scores.npy", data.noisy)
    return d, data


def test_diagnose_writes_run_directory(labelled, tmp_path):
    d, data = labelled
    out = tmp_path / "diag"
    result = runner.invoke(app, ["curate", "diagnose", "--features", str(d / "features.npy"), "--labels",
                                 str(d / "labels.npy"), "--clean-labels", str(d / "clean.npy"), "--out", str(out),
                                 "--hoc-steps", "800"])
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "metrics.json", "report.html", "log.txt", "T.npy", "transition_matrix.png"):
        assert (out / name).exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["T_max_abs_error"] < 0.1
    assert abs(metrics["noise_rate_estimate"] - metrics["noise_rate_true"]) < 0.05
    assert "estimated noise rate" in result.output
    assert "<img" in (out / "report.html").read_text()


def test_detect_is_deterministic_and_beats_chance(labelled, tmp_path):
    d, data = labelled
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = runner.invoke(app, ["curate", "detect", "--features", str(d / "features.npy"), "--labels",
                                     str(d / "labels.npy"), "--clean-labels", str(d / "clean.npy"), "--out", str(out),
                                     "--seed", "3", "--hoc-steps", "500", "--detect-rounds", "5"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    flagged = [(o / "flagged.jsonl").read_text() for o in outs]
    assert flagged[0] == flagged[1]
    metrics = json.loads((outs[0] / "metrics.json").read_text())
    assert metrics["detection"]["f1"] > 0.8 > metrics["random_f1"] + 0.3
    assert "f1" in metrics["cleanlab"]
    first = json.loads(flagged[0].splitlines()[0])
    assert {"index", "label", "suggested_label", "flag_rate", "confidence", "clean_label"} <= set(first)


def test_detect_from_a_records_file_with_vote(tmp_path, labelled, monkeypatch):
    d, data = labelled
    rows = [{"text": f"t{i}", "label": int(y)} for i, y in enumerate(data.noisy[:200])]
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import reliant.core.embeddings as embeddings

    monkeypatch.setattr(embeddings, "embed", lambda texts, **kw: data.features[: len(texts)])
    out = tmp_path / "run"
    result = runner.invoke(app, ["curate", "detect", "--data", str(tmp_path / "data.jsonl"), "--method", "vote",
                                 "--no-baseline", "--hoc-steps", "300", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["method"] == "simifeat-vote"


def test_embedding_cache_is_a_folder_keyed_by_the_data(tmp_path, labelled, monkeypatch):
    d, data = labelled
    rows = [{"text": f"t{i}", "label": int(y)} for i, y in enumerate(data.noisy[:200])]
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import reliant.core.embeddings as embeddings

    seen = []

    def fake_embed(texts, cache=None, **kw):
        seen.append(Path(cache))
        return data.features[: len(texts)]

    monkeypatch.setattr(embeddings, "embed", fake_embed)
    cache = tmp_path / "cache"
    for name in ("a", "b"):
        result = runner.invoke(app, ["curate", "diagnose", "--data", str(tmp_path / "texts.jsonl"), "--hoc-steps",
                                     "100", "--embedding-cache", str(cache), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert seen[0] == seen[1] and seen[0].parent == cache
    assert seen[0].name.startswith("texts-") and seen[0].suffix == ".npy"
    # other texts, another file in the same folder
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps({**r, "text": r["text"] + "!"}) + "\n" for r in rows))
    assert runner.invoke(app, ["curate", "diagnose", "--data", str(tmp_path / "texts.jsonl"), "--hoc-steps", "100",
                               "--embedding-cache", str(cache), "--out", str(tmp_path / "c")]).exit_code == 0
    assert seen[2].parent == cache and seen[2] != seen[0]


def test_select_with_scores_and_embeddings(pool, tmp_path):
    d, data = pool
    out = tmp_path / "sel"
    args = ["curate", "select", "--pool", str(d / "pool.json"), "--scores", str(d / "scores.npy"), "--embeddings",
            str(d / "emb.npy"), "--budget", "50", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    selected = json.loads((out / "selected.json").read_text())
    assert len(selected) == 50
    # written in the pool's own format: the original records, unchanged
    originals = json.loads((d / "pool.json").read_text())
    assert all(s in originals for s in selected)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["selections"]) >= {"DS2", "random"}
    curated = np.load(out / "curated_scores.npy")
    assert np.mean(curated == data.clean) > np.mean(data.noisy == data.clean)
    # deterministic
    out2 = tmp_path / "sel2"
    assert runner.invoke(app, args[:-1] + [str(out2)]).exit_code == 0
    assert (out2 / "selected.json").read_text() == (out / "selected.json").read_text()


class NumberedRater:
    """A rater backend that answers each rating prompt of the ``pool`` fixture by its task number."""

    def __init__(self, reply):
        self.reply = reply

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return None

    def chat(self, chats, **kw):
        return [[self.reply(int(chat[-1]["content"].split("Task number ")[1].split()[0]))] for chat in chats]


def test_rate_and_select_with_an_llm_rater(pool, tmp_path, monkeypatch):
    d, data = pool

    import reliant.core.llm as llm

    echo = NumberedRater(lambda n: json.dumps({"overall": 3 + n % 8}))
    monkeypatch.setattr(llm, "make_backend", lambda spec, **kw: echo)
    small = tmp_path / "small.jsonl"
    records = json.loads((d / "pool.json").read_text())[:40]
    small.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "rate"
    result = runner.invoke(app, ["curate", "rate", "--pool", str(small), "--rater", "fake", "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = np.load(out / "scores.npy")
    assert scores.tolist() == [min(5, max(0, 3 + i % 8 - 4)) for i in range(40)]
    np.save(tmp_path / "emb.npy", data.features[:40])
    out = tmp_path / "sel"
    args = ["curate", "select", "--pool", str(small), "--rater", "fake", "--embeddings", str(tmp_path / "emb.npy"),
            "--budget", "10", "--out", str(out)]
    # the echo rater's scores have nothing to do with these embeddings: refused, nothing left behind
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "features carry no label information" in str(result.exception)
    assert not out.exists()
    result = runner.invoke(app, args + ["--feature-check", "warn"])
    assert result.exit_code == 0, result.output
    assert len((out / "selected.jsonl").read_text().splitlines()) == 10
    metrics = json.loads((out / "metrics.json").read_text())
    assert any("not refused" in w for w in metrics["warnings"])
    assert "Warnings" in (out / "report.html").read_text()


def test_rate_keeps_what_an_unparsable_rater_wrote_and_warns(pool, tmp_path, monkeypatch):
    d, _ = pool

    import reliant.core.llm as llm

    # one task in four gets a rating, the others prose (as SmolLM2-135M writes)
    rambler = NumberedRater(lambda n: '{"overall": 9}' if n % 4 == 0 else f"This sample {n} is great. " * 60)
    monkeypatch.setattr(llm, "make_backend", lambda spec, **kw: rambler)
    small = tmp_path / "small.jsonl"
    records = json.loads((d / "pool.json").read_text())[:20]
    small.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "rate"
    result = runner.invoke(app, ["curate", "rate", "--pool", str(small), "--rater", "fake", "--max-retries", "1",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "ratings.jsonl").read_text().splitlines()]
    assert [r["score"] for r in rows] == [5 if i % 4 == 0 else 0 for i in range(20)]
    assert all(("unparsed_reply" in r) == (i % 4 != 0) for i, r in enumerate(rows))
    assert rows[1]["unparsed_reply"].startswith("This sample 1 is great.") and len(rows[1]["unparsed_reply"]) == 400
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["unparsable"] == 15
    assert len(metrics["warnings"]) == 1 and metrics["warnings"][0].startswith("15 of 20 replies gave no rating")
    assert "1 warning" in result.output and "Warnings" in (out / "report.html").read_text()


def test_rate_warns_when_the_rater_copies_the_prompts_example(pool, tmp_path, monkeypatch):
    from reliant.curation.ds2 import RELIANT_EXAMPLE_RATING, rating_prompt

    d, _ = pool
    assert json.dumps(RELIANT_EXAMPLE_RATING) in rating_prompt({"instruction": "x", "output": "y"}, prompt="reliant")
    import reliant.core.llm as llm

    # what SmolLM2-135M does with --prompt reliant: the example back, for most tasks
    copier = NumberedRater(lambda n: json.dumps(RELIANT_EXAMPLE_RATING if n % 3 else {"overall": 9}))
    monkeypatch.setattr(llm, "make_backend", lambda spec, **kw: copier)
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in json.loads((d / "pool.json").read_text())[:12]))
    out = tmp_path / "rate"
    result = runner.invoke(app, ["curate", "rate", "--pool", str(small), "--rater", "fake", "--prompt", "reliant",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    warnings = json.loads((out / "metrics.json").read_text())["warnings"]
    assert warnings == [f"8 of 12 ratings are the prompt's example {RELIANT_EXAMPLE_RATING} word for word: the "
                        "rater is copying it, not rating"]


class LikelihoodRater(NumberedRater):
    """A rater backend that scores the ten ratings of each task: most probable at ``peak(n)``."""

    def __init__(self, peak):
        self.peak = peak
        self.prompts = []

    def render_chat(self, messages):
        return "\n".join(m["content"] for m in messages)

    def choice_logprobs(self, prompts, choices):
        self.prompts += prompts
        rows = []
        for prompt in prompts:
            peak = self.peak(int(prompt.split("Task number ")[1].split()[0]))
            rows.append([-abs(int(c) - peak) - 1.0 for c in choices])
        return rows


def test_rate_by_likelihood_rates_every_record_from_probabilities(pool, tmp_path, monkeypatch):
    from reliant.curation.ds2 import LIKELIHOOD_PREFILL

    d, _ = pool
    import reliant.core.llm as llm

    rater = LikelihoodRater(lambda n: 1 + n % 10)
    monkeypatch.setattr(llm, "make_backend", lambda spec, **kw: rater)
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in json.loads((d / "pool.json").read_text())[:30]))
    out = tmp_path / "rate"
    result = runner.invoke(app, ["curate", "rate", "--pool", str(small), "--rater", "fake", "--rating-mode",
                                 "likelihood", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert all(p.endswith(LIKELIHOOD_PREFILL["official"]) for p in rater.prompts) and len(rater.prompts) == 30
    rows = [json.loads(line) for line in (out / "ratings.jsonl").read_text().splitlines()]
    assert [r["overall"] for r in rows] == [1 + i % 10 for i in range(30)]
    assert [r["score"] for r in rows] == [min(5, max(0, i % 10 - 3)) for i in range(30)]
    for r in rows:
        probs = np.array(r["probabilities"])
        assert probs.sum() == pytest.approx(1, abs=1e-3) and probs.argmax() + 1 == r["overall"]
        assert r["expected_overall"] == pytest.approx(probs @ np.arange(1, 11), abs=1e-2)
    # symmetric around the peak, except where 1 or 10 cuts the tail: the mean leans inwards
    assert rows[0]["expected_overall"] > 1 and rows[9]["expected_overall"] < 10
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["unparsable"] == 0 and metrics["warnings"] == []


def test_rate_warns_when_the_ratings_are_concentrated(pool, tmp_path, monkeypatch):
    d, _ = pool
    import reliant.core.llm as llm

    monkeypatch.setattr(llm, "make_backend", lambda spec, **kw: LikelihoodRater(lambda n: 7 if n % 20 else 2))
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in json.loads((d / "pool.json").read_text())[:40]))
    out = tmp_path / "rate"
    result = runner.invoke(app, ["curate", "rate", "--pool", str(small), "--rater", "fake", "--rating-mode",
                                 "likelihood", "--prompt", "reliant", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["warnings"] == [
        "95% of the ratings are 7 of 10: ratings this concentrated say little about the data (DS2's prompt asks "
        "the rater not to concentrate them)"]


def _bad_pool_cases(d: Path):
    good = json.loads((d / "pool.json").read_text())
    cases = {}
    cases["empty"] = ("[]", None, "contains no records")
    missing_instruction = [dict(r) for r in good]
    del missing_instruction[4]["instruction"]
    cases["no-instruction"] = (json.dumps(missing_instruction), None, "field 'instruction': missing")
    missing_output = [dict(r) for r in good]
    del missing_output[7]["output"]
    cases["no-output"] = (json.dumps(missing_output), None, "field 'output': missing")
    scores = np.load(d / "scores.npy")
    out_of_range = scores.copy()
    out_of_range[9] = 7
    cases["range"] = (json.dumps(good), out_of_range, "score 7 at row 10 is outside 0..5")
    cases["length"] = (json.dumps(good), scores[:-5], "has 295 scores but the pool has 300 samples")
    negative = scores.copy()
    negative[0] = -1
    cases["negative"] = (json.dumps(good), negative, "score -1 at row 1 is outside 0..5")
    return cases


@pytest.mark.parametrize("case", ["empty", "no-instruction", "no-output", "range", "length", "negative"])
def test_select_bad_inputs_exit_2(pool, tmp_path, capsys, case):
    d, _ = pool
    text, scores, expected = _bad_pool_cases(d)[case]
    (tmp_path / "pool.json").write_text(text)
    np.save(tmp_path / "scores.npy", np.load(d / "scores.npy") if scores is None else scores)
    out = tmp_path / "run"
    code = run_main(["curate", "select", "--pool", str(tmp_path / "pool.json"), "--scores",
                     str(tmp_path / "scores.npy"), "--embeddings", str(d / "emb.npy"), "--budget", "5",
                     "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not list(tmp_path.glob(".run*"))


@pytest.mark.parametrize(("make", "extra", "expected"), [
    (lambda d, t: np.save(t / "labels.npy", np.load(d / "labels.npy")[:-1]), [], "has 799 labels but there are 800"),
    (lambda d, t: np.save(t / "labels.npy", np.where(np.arange(800) == 2, -3, np.load(d / "labels.npy"))), [],
     "label -3 at row 3 is negative"),
    (lambda d, t: np.save(t / "labels.npy", np.load(d / "labels.npy")), ["--num-classes", "3"],
     "is not below --num-classes 3"),
    (lambda d, t: np.save(t / "labels.npy", np.load(d / "labels.npy")), ["--method", "magic"],
     "field 'method': unknown value 'magic' (choose from: rank, vote, cleanlab)"),
    (lambda d, t: (t / "labels.npy").write_bytes(b"not an array"), [], "labels.npy: field 'labels'"),
    (lambda d, t: np.save(t / "labels.npy", np.load(d / "labels.npy")), ["--hoc-fraction", "1.5"],
     "field 'hoc.hoc_fraction': must be in (0, 1]"),
])
def test_detect_bad_inputs_exit_2(labelled, tmp_path, capsys, make, extra, expected):
    d, _ = labelled
    make(d, tmp_path)
    out = tmp_path / "run"
    code = run_main(["curate", "detect", "--features", str(d / "features.npy"), "--labels", str(tmp_path / "labels.npy"),
                     "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_features_with_nan_exit_2(labelled, tmp_path, capsys):
    d, _ = labelled
    features = np.load(d / "features.npy")
    features[5, 2] = np.nan
    np.save(tmp_path / "f.npy", features)
    code = run_main(["curate", "diagnose", "--features", str(tmp_path / "f.npy"), "--labels", str(d / "labels.npy"),
                     "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "f.npy: field 'features': contains NaN" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not ALPACA.exists(), reason="Alpaca samples not present")
def test_select_on_alpaca_with_offline_embedder(tmp_path):
    """End to end on real Alpaca-format data, the packaged embedder and a score file."""
    records = json.loads(ALPACA.read_text())[:200]
    pool = tmp_path / "alpaca.json"
    pool.write_text(json.dumps(records))
    scores = np.random.default_rng(0).integers(0, 6, size=len(records))
    np.save(tmp_path / "scores.npy", scores)
    out = tmp_path / "sel"
    args = ["curate", "select", "--pool", str(pool), "--scores", str(tmp_path / "scores.npy"),
            "--budget", "40", "--embedding-cache", str(tmp_path / "cache"), "--out", str(out)]
    # Random scores carry no signal the embeddings could agree with: the feature check refuses
    # them by default, and --feature-check warn goes on with the warning.
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "--feature-check warn" in str(refused.exception) and not out.exists()
    result = runner.invoke(app, [*args, "--feature-check", "warn"])
    assert result.exit_code == 0, result.output
    selected = json.loads((out / "selected.json").read_text())
    assert len(selected) == 40 and all(s in records for s in selected)
    cached = list((tmp_path / "cache").glob("alpaca-*.npy"))
    assert len(cached) == 1 and np.load(cached[0]).shape[0] == len(records)
