"""Scoring a hand-built set end to end with exact-match similarity, the input reader, backends
in the reference/IW roles, selection, and the simulator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reliant.core.errors import ConfigError, DataError
from reliant.core.llm import LLMBackend
from reliant.hallucination.api import FEWLParams, OneHotEncoder, load_qa, qa_from_records, score, select_examples
from reliant.hallucination.inputs import attach_references
from reliant.hallucination.scoring import score_qa
from reliant.hallucination.simulate import chale_candidates, chale_items, default_candidates, default_references, load_items, simulate_records

HAND = [
    {"id": "a", "question": "Q one?", "answers": {"m": "A", "n": "B"}, "references": {"r1": "A", "r2": "B"},
     "wrong_answers": ["B"], "hallucinated": {"m": 0, "n": 1}},
    {"id": "b", "question": "Q two?", "answers": {"m": "D", "n": "C"}, "references": {"r1": "C", "r2": "D"},
     "wrong_answers": ["C"], "hallucinated": {"m": 0, "n": 1}},
]


def test_score_hand_built_with_exact_similarity():
    qa = qa_from_records(HAND)
    result = score_qa(qa, OneHotEncoder(64), FEWLParams(neighbors=1, temperature=0.1))
    # q1: r1 disagrees with IW "B" (e = 0), r2 equals it (e = -1): λ = softmax(0, -10)
    w = 1 / (1 + math.exp(-10))
    assert result.weights[0] == pytest.approx([w, 1 - w])
    assert result.weights[1] == pytest.approx([1 - w, w])
    # m agrees with the expert on both questions; neighbour answers never match -> no penalty
    assert result.scores["m"] == pytest.approx([w * 0.5 * math.tanh(1)] * 2)
    assert result.scores["n"] == pytest.approx([(1 - w) * 0.5 * math.tanh(1)] * 2)
    assert result.penalty["m"] == pytest.approx([0, 0])
    assert result.model_table()[0]["model"] == "m"
    assert result.evaluation["fewl"]["auroc"] == pytest.approx(1.0)
    # the reference average cannot tell them apart
    assert result.baselines["reference_average"]["m"] == pytest.approx(result.baselines["reference_average"]["n"])
    # thresholds: IW answer "B"/"C" scores as n does; m is above it, n is not below it
    assert not result.hallucinated("m").any()
    chosen = select_examples(result)
    assert [r["model"] for r in chosen] == ["m", "m"]


def test_uniform_weighting_is_reference_average_form():
    result = score_qa(qa_from_records(HAND), OneHotEncoder(64), FEWLParams(neighbors=1, weighting="uniform"))
    assert result.weights == pytest.approx(np.full((2, 2), 0.5))
    assert result.scores["m"] == pytest.approx(result.scores["n"])


def test_reader_formats_and_errors(tmp_path):
    csv = tmp_path / "qa.csv"
    csv.write_text('question,answer,references,wrong_answers,hallucinated\n'
                   '"Q?","yes","[""yes"", ""no""]","[""no""]",0\n'
                   '"R?","no","[""x"", ""y""]","[""z""]",true\n')
    qa = load_qa(csv, model_name="mine")
    assert qa.models == ["mine"] and qa.references == [["yes", "no"], ["x", "y"]]
    assert qa.reference_names == ["ref-1", "ref-2"] and qa.gold["mine"].tolist() == [0.0, 1.0]
    assert qa.lines == [2, 3]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(HAND[0]) + "\n" + json.dumps({**HAND[1], "references": {"r1": "C"}}) + "\n")
    with pytest.raises(DataError, match="reference answers but line 1"):
        load_qa(bad)
    bad.write_text(json.dumps({**HAND[0], "hallucinated": {"m": 2}}) + "\n")
    with pytest.raises(DataError) as info:
        load_qa(bad)
    assert "bad.jsonl:1" in info.value.one_line() and "hallucinated" in info.value.one_line()


def test_references_from_separate_file_by_id(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "references"} for r in HAND]
    refs = tmp_path / "refs.jsonl"
    refs.write_text("\n".join(json.dumps({"id": r["id"], "references": r["references"]}) for r in reversed(HAND)) + "\n")
    qa = attach_references(qa_from_records(rows), refs)
    assert qa.references == [["A", "B"], ["C", "D"]]
    with pytest.raises(ConfigError, match="no reference answers"):
        score_qa(qa_from_records(rows), OneHotEncoder(64))


class EchoBackend(LLMBackend):
    """A fake backend: answers a question prompt with a fixed map, IW prompts with 'wrong'."""

    name = "echo"

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, n=1, seed=None, stop=None):
        self.calls.append((list(prompts), n, seed))
        out = []
        for p in prompts:
            if "intentionally wrong" in p:
                out.append([f"wrong {i}" for i in range(n)])
            elif "is wrong" in p:
                out.append(["fixed"] * n)
            else:
                out.append([next(v for k, v in self.answers.items() if k in p)] * n)
        return out

    def logprobs(self, prompts, continuations):
        raise NotImplementedError


def test_backends_fill_references_and_wrong_answers():
    rows = [{"question": r["question"], "answers": r["answers"]} for r in HAND]
    ref = EchoBackend({"Q one": "A", "Q two": "D"})
    iw = EchoBackend({})
    result = score(rows, reference_llms=[ref, EchoBackend({"Q one": "B", "Q two": "C"})], wrong_llm=iw, n_wrong=2,
                   encoder=OneHotEncoder(64), params=FEWLParams(neighbors=1), seed=3)
    assert result.qa.reference_names == ["echo", "echo#2"]
    assert result.qa.wrong[0] == ["wrong 0", "wrong 1"] and result.qa.corrected[0] == ["fixed", "fixed"]
    assert ref.calls[0][2] == 3
    assert result.scores["m"][0] > 0 and result.scores["n"][0] == pytest.approx(result.scores["m"][0])


def test_simulation_is_deterministic_and_labelled():
    items = load_items("builtin", limit=16, seed=1)
    groups = [i.group for i in items]
    one = simulate_records(items, default_candidates(3), default_references(groups), seed=5)
    two = simulate_records(items, default_candidates(3), default_references(groups), seed=5)
    assert one == two and len(one) == 16
    assert all(set(r["hallucinated"].values()) <= {0.0, 0.5, 1.0} for r in one)
    assert set(one[0]["references"]) == {"expert-a", "expert-b", "generalist", "weak", "lazy"}


def test_chale_items_from_small_file(tmp_path):
    path = tmp_path / "chale.json"
    path.write_text(json.dumps({"Question": ["who?"], "Short_ans": ["Ann"], "Long_ans": ["<P> Ann did . </P>"],
                                "halu": ["Bob"], "mid-halu": ["Ann and Bob"], "non-halu": ["Ann."]}))
    (item,) = chale_items(path)
    assert item.correct == ["Ann."] and item.reference_correct == ["Ann", "Ann did ."]
    records = simulate_records([item], chale_candidates(), [], n_wrong=1, n_samples=0)
    assert records[0]["answers"] == {"non-halu": "Ann.", "mid-halu": "Ann and Bob", "halu": "Bob"}
    assert records[0]["hallucinated"] == {"non-halu": 0.0, "mid-halu": 0.5, "halu": 1.0}
    path.write_text("{}")
    with pytest.raises(DataError, match="missing"):
        chale_items(path)


def test_lazy_reference_is_penalised_through_neighbours():
    # r1 says "same" to every question (lazy); a candidate echoing it gains nothing.
    rows = [{"question": f"Q{i}?", "answers": {"echo": "same", "true": f"T{i}"},
             "references": {"lazy": "same", "good": f"T{i}"}} for i in range(3)]
    result = score_qa(qa_from_records(rows), OneHotEncoder(64), FEWLParams(neighbors=2, weighting="uniform"))
    g1 = 0.5 * math.tanh(1.0)
    # echo: agreement with lazy = g(1), penalty from lazy's neighbour answers = g(1) -> 0
    assert result.agreement["echo"] == pytest.approx([0.5 * g1] * 3)
    assert result.penalty["echo"] == pytest.approx([0.5 * g1] * 3)
    assert result.scores["echo"] == pytest.approx([0.0] * 3)
    assert result.scores["true"] == pytest.approx([0.5 * g1] * 3)
