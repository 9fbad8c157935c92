"""The ``reliant memorization`` commands end to end, and their one-line errors (exit 2)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from reliant.core.builtin_data import generate_people, people_qa
from reliant.core.data import save_records


@pytest.fixture(scope="module")
def qa_files(tmp_path_factory):
    """Members: QA the small LM was trained on (people 0-9); non-members: people 10-19."""
    root = tmp_path_factory.mktemp("memo_data")
    people = generate_people(20, seed=0)
    records = people_qa(people, seed=0)
    members = [{"question": r["question"], "answer": r["answer"]} for r in records if r["person_index"] < 10][::4]
    nonmembers = [{"question": r["question"], "answer": r["answer"]} for r in records if r["person_index"] >= 10][::4]
    save_records(members, root / "members.jsonl")
    save_records(nonmembers, root / "nonmembers.jsonl")
    save_records([{"text": f"{r['question']} {r['answer']}"} for r in members[:6]], root / "member_texts.csv")
    return root


@pytest.fixture(scope="module")
def untrained_reference(small_lm_dir, tmp_path_factory):
    """A reference model with the small LM's tokenizer and random weights (cheap)."""
    from transformers import AutoTokenizer

    from reliant.core.tiny_lm import TinyLMSettings, new_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(small_lm_dir)
    model = new_tiny_model(tokenizer, TinyLMSettings(vocab_size=512, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, seed=1))
    target = tmp_path_factory.mktemp("ref") / "reference"
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def run_main(args, capsys):
    """The console entry point in-process: returns (exit code, stderr)."""
    from reliant.cli import main

    argv = sys.argv
    sys.argv = ["reliant", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")] if parent.exists() else []


def test_audit_end_to_end(small_lm_dir, untrained_reference, qa_files, tmp_path):
    from reliant.cli import app

    out = tmp_path / "audit"
    args = ["memorization", "audit", "--model", str(small_lm_dir), "--members", str(qa_files / "members.jsonl"),
            "--nonmembers", str(qa_files / "nonmembers.jsonl"), "--reference", str(untrained_reference),
            "--out", str(out), "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    from reliant.memorization.config import DEFAULT_ATTACKS

    assert set(metrics["attacks"]) == set(DEFAULT_ATTACKS)
    for attack, summary in metrics["attacks"].items():
        assert 0 <= summary["auroc"] <= 1
        assert summary["tpr_at_1pct_fpr"] <= summary["tpr_at_10pct_fpr"]
    # the small LM memorised its people: LOSS separates them from held-out people
    assert metrics["attacks"]["loss"]["auroc"] > 0.8
    assert "extraction" in metrics and 0 <= metrics["extraction"]["exact_match_rate"] <= 1
    rows = [json.loads(line) for line in (out / "per_example_scores.jsonl").read_text().splitlines()]
    # ReCaLL's prefix is the first 5 non-members, left out of every attack's evaluation
    assert (metrics["n_members"], metrics["n_nonmembers"]) == (20, 15) and len(rows) == 35
    assert any("0.1% FPR is not measurable" in w for w in metrics["warnings"])
    html = (out / "report.html").read_text()
    assert "ROC curves" in html and "Score distributions" in html and "Memorization per example" in html
    for name in ("roc.png", "histograms.png", "profile.png", "extraction.png", "config.yaml", "log.txt"):
        assert (out / name).exists(), name

    # same seed, same numbers (bootstrap intervals included)
    again = tmp_path / "again"
    assert CliRunner().invoke(app, args[:-4] + ["--out", str(again), "--seed", "3"]).exit_code == 0
    assert json.loads((again / "metrics.json").read_text()) == metrics


def test_audit_plain_texts_without_reference(small_lm_dir, qa_files, tmp_path):
    from reliant.cli import app

    out = tmp_path / "texts"
    result = CliRunner().invoke(app, [
        "memorization", "audit", "--model", str(small_lm_dir), "--members", str(qa_files / "member_texts.csv"),
        "--nonmembers", str(qa_files / "nonmembers.jsonl"), "--attacks", "loss,min_k", "--no-extract",
        "--limit", "6", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["attacks"]) == {"loss", "min_k"} and metrics["n_members"] == 6


def test_canaries_with_file(small_lm_dir, tmp_path):
    from reliant.cli import app

    save_records([{"prefix": "The secret code of Bo Ra is", "secret": "1 2 3", "repetitions": 1},
                  {"prefix": "The secret code of Ki Lo is", "secret": "9 0 9"}], tmp_path / "canaries.jsonl")
    out = tmp_path / "canary_run"
    result = CliRunner().invoke(app, ["memorization", "canaries", "--model", str(small_lm_dir), "--canaries",
                                      str(tmp_path / "canaries.jsonl"), "--n-candidates", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    model = metrics["canaries"]["model"]
    assert model["exact_enumeration"] is True and model["max_possible_exposure"] == pytest.approx(np.log2(1000))
    rows = [json.loads(line) for line in (out / "canary_exposure.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(0 <= r["exposure"] <= np.log2(1000) + 1e-9 for r in rows)
    assert (out / "exposure.png").exists()


def test_counterfactual_small(tmp_path):
    from reliant.cli import app

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 5)) * 3
    records = []
    for i in range(90):
        label = i % 3
        records.append({"features": (centers[label] + rng.normal(size=5)).round(4).tolist(),
                        "label": (label + 1) % 3 if i < 6 else label, "true_label": label})
    save_records(records, tmp_path / "points.jsonl")
    out = tmp_path / "cf"
    result = CliRunner().invoke(app, ["memorization", "counterfactual", "--data", str(tmp_path / "points.jsonl"),
                                      "--n-models", "6", "--epochs", "8", "--lira-targets", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_mislabelled"] == 6
    assert set(metrics["lira"]) == {"lira_online", "lira_offline", "confidence"}
    assert len((out / "per_example_memorization.jsonl").read_text().splitlines()) == 90
    assert "Memorization profile" in (out / "report.html").read_text()


# ------------------------------------------------------------------ bad inputs


@pytest.fixture()
def bad_files(tmp_path):
    (tmp_path / "no_answer.jsonl").write_text('{"question": "Who?", "answer": "Me."}\n{"question": "Where?"}\n')
    (tmp_path / "broken.jsonl").write_text('{"text": "fine"}\n{"text": \n')
    (tmp_path / "empty_text.csv").write_text("text,id\nhello there,1\n   ,2\n")
    (tmp_path / "wrong_field.jsonl").write_text('{"body": "no text field"}\n')
    (tmp_path / "good.jsonl").write_text('{"text": "A fine member text."}\n')
    (tmp_path / "bad_canary.jsonl").write_text('{"prefix": "The code is", "secret": "12 x"}\n')
    (tmp_path / "bad_points.jsonl").write_text('{"features": [1, 2], "label": 0}\n{"features": [1], "label": 1}\n')
    (tmp_path / "nan_points.jsonl").write_text('{"features": [1, 2], "label": 0}\n{"features": [1, 2], "label": -1}\n')
    return tmp_path


@pytest.mark.parametrize(
    "args, expected",
    [
        (["audit", "--model", "M", "--members", "{d}/missing.jsonl", "--nonmembers", "{d}/good.jsonl"], "missing.jsonl: no such file"),
        (["audit", "--model", "M", "--members", "{d}/no_answer.jsonl", "--nonmembers", "{d}/good.jsonl"], "no_answer.jsonl:2: field 'answer'"),
        (["audit", "--model", "M", "--members", "{d}/good.jsonl", "--nonmembers", "{d}/broken.jsonl"], "broken.jsonl:2: invalid JSON"),
        (["audit", "--model", "M", "--members", "{d}/empty_text.csv", "--nonmembers", "{d}/good.jsonl"], "empty_text.csv:3: field 'text': is empty"),
        (["audit", "--model", "M", "--members", "{d}/wrong_field.jsonl", "--nonmembers", "{d}/good.jsonl"], "wrong_field.jsonl:1: field 'text': missing"),
        (["audit", "--model", "M", "--members", "{d}/good.jsonl", "--nonmembers", "{d}/good.jsonl", "--attacks", "loss,magic"], "field 'attacks'"),
        (["audit", "--model", "M", "--members", "{d}/good.jsonl", "--nonmembers", "{d}/good.jsonl", "--min-k-fraction", "1.5"], "field 'min_k_fraction'"),
        (["audit", "--model", "M"], "field 'members'"),
        (["audit", "--model", "{d}/no_model", "--members", "{d}/good.jsonl", "--nonmembers", "{d}/good.jsonl"], "no_model' not found"),
        (["canaries", "--model", "M", "--canaries", "{d}/bad_canary.jsonl"], "bad_canary.jsonl:1: field 'secret'"),
        (["canaries", "--model", "M", "--canaries", "{d}/good.jsonl", "--n-candidates", "-1"], "field 'n_candidates'"),
        (["counterfactual", "--data", "{d}/bad_points.jsonl"], "bad_points.jsonl:2: field 'features'"),
        (["counterfactual", "--data", "{d}/nan_points.jsonl"], "nan_points.jsonl:2: field 'label'"),
        (["counterfactual", "--n-models", "1"], "field 'n_models'"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(args, expected, bad_files, capsys):
    out = bad_files / "runs" / "out"
    code, err = run_main(["memorization", *[a.format(d=bad_files) for a in args], "--out", str(out)], capsys)
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert not out.exists() and leftovers(out.parent) == []


def test_existing_out_needs_overwrite(bad_files, capsys):
    out = bad_files / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    code, err = run_main(["memorization", "counterfactual", "--n-models", "2", "--out", str(out)], capsys)
    assert code == 2 and "already exists" in err
    assert (out / "keep.txt").exists()
