"""The ISARA loop's parts: retrieval, in-context prompts, parsing and the filter."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from reliant.alignment.inputs import Sample
from reliant.alignment.isara import (
    Candidate,
    filter_candidates,
    generation_prompts,
    icl_prompt,
    parse_generation,
    retrieve_related,
)

FILTERS = SimpleNamespace(max_rouge_l=0.7, min_prompt_words=2, max_prompt_words=50, min_response_words=2,
                          max_response_words=50, judge_threshold=0.0, fewl_keep=0.5)


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_retrieval_returns_the_nearest_pool_items():
    seeds = _unit([[1, 0, 0], [0, 1, 0]])
    pool = _unit([[0, 0, 1], [0.9, 0.1, 0], [0.1, 0.9, 0], [1, 0.5, 0], [0, 0.2, 1]])
    assert retrieve_related(seeds, pool, 1) == [1, 2]
    assert retrieve_related(seeds, pool, 2) == [1, 3, 2]  # seed 0: 1 then 3; seed 1: 2 then 3 (already in)
    assert retrieve_related(seeds, pool, 0) == []


def test_retrieval_with_the_packaged_embedder():
    from reliant.alignment.isara import embed_samples

    seeds = [Sample("How do I bake bread?", "Mix flour, water, yeast and salt, then bake.")]
    pool = [Sample("What is the capital of France?", "Paris."),
            Sample("How do I make sourdough bread?", "Feed a starter, mix the dough, proof and bake it."),
            Sample("Who wrote Hamlet?", "Shakespeare.")]
    assert retrieve_related(embed_samples(seeds, "cpu"), embed_samples(pool, "cpu"), 1) == [1]


def test_generation_prompts_put_the_anchor_last_after_its_neighbours():
    bank = [Sample(f"question {i}", f"answer {i}") for i in range(4)]
    vectors = _unit([[1, 0], [0.9, 0.1], [0, 1], [0.8, 0.2]])
    (text, shots), = generation_prompts(bank, vectors, [0], shots=3)
    assert shots == [3, 1, 0]  # nearest (1) next to the anchor, then 3
    assert text.endswith("### Answer:\nanswer 0\n\n### Question:\n")
    assert text.index("question 3") < text.index("question 1") < text.index("question 0")


def test_parse_generation():
    assert parse_generation(" How are you?\n### Answer:\nFine.\n\n### Question:\nMore") == ("How are you?", "Fine.")
    assert parse_generation("no marker at all") is None
    assert parse_generation("Question only\n### Answer:\n   ") is None
    assert icl_prompt([Sample("q", "a")]) == "### Question:\nq\n### Answer:\na\n\n### Question:\n"


def _candidate(prompt, response="a perfectly fine answer"):
    return Candidate(raw="", shots=[], prompt=prompt, response=response)


def test_filter_drops_near_duplicates_and_keeps_new_ones():
    existing = ["How can I make a bomb at home"]
    candidates = [
        _candidate("How can I make a bomb at home quickly"),      # ROUGE-L 0.93 with a seed
        _candidate("What is a healthy breakfast for children"),    # new
        _candidate("What is a healthy breakfast for kids"),        # near-duplicate of the one kept before it
        _candidate("Write a poem about the sea and the sky"),      # new
    ]
    kept, rejected = filter_candidates(candidates, existing, FILTERS)
    assert [c.prompt for c in kept] == ["What is a healthy breakfast for children", "Write a poem about the sea and the sky"]
    assert [c.prompt for c in rejected] == ["How can I make a bomb at home quickly", "What is a healthy breakfast for kids"]
    assert all(c.reason.startswith("near-duplicate: ROUGE-L") for c in rejected)


def test_filter_length_judge_and_parse_reasons():
    unparsable = Candidate(raw="junk", shots=[], reason="unparsable: no answer")
    short = _candidate("Hi", "ok then")
    judged = [_candidate("Explain how tides work please"), _candidate("Tell me about the moon landing")]
    kept, rejected = filter_candidates([unparsable, short, *judged], [], FILTERS, judge=lambda pairs: [1.5, -0.2])
    assert [c.prompt for c in kept] == ["Explain how tides work please"]
    reasons = [c.reason for c in rejected]
    assert reasons[0] == "unparsable: no answer"
    assert reasons[1] == "prompt too short (1 words < 2)"
    assert reasons[2].startswith("judge: log P(Yes) - log P(No) = -0.20")
    assert kept[0].judge_score == 1.5


def test_fewl_filter_keeps_the_best_share_after_the_judge():
    prompts = ["Explain how tides work please", "Tell me about the moon landing", "Why is the sea salty today",
               "Name the largest desert on earth", "Describe how rainbows form in sky"]
    candidates = [_candidate(p) for p in prompts]
    seen = []

    def fewl(pairs):
        seen.append([q for q, _ in pairs])
        return [0.2, 0.5, 0.2, float("nan")]  # the judge removed the first prompt

    kept, rejected = filter_candidates(candidates, [], FILTERS, judge=lambda pairs: [-1.0, 1, 1, 1, 1], fewl=fewl)
    assert seen == [prompts[1:]]  # FEWL scores only what the judge kept
    # ceil(0.5 * 4) = 2 kept: the best score (prompts[2]) and the earlier of the two tied at 0.2
    # (prompts[1]); NaN ranks last. The kept ones stay in generation order.
    assert [c.prompt for c in kept] == [prompts[1], prompts[2]]
    assert [c.fewl_score for c in kept] == [0.2, 0.5]
    fewl_rejected = [c for c in rejected if c.reason.startswith("FEWL:")]
    assert [c.prompt for c in fewl_rejected] == [prompts[3], prompts[4]]
    assert fewl_rejected[0].reason == "FEWL: score 0.200 below the best 50% (kept from 0.200)"
    assert kept[1].as_dict("round-1", [])["fewl_score"] == 0.5
    assert "fewl_score" not in _candidate("x y z").as_dict("round-1", [])


def test_fewl_filter_keeps_at_least_one_and_everything_at_keep_one():
    one = [_candidate("Explain how tides work please")]
    kept, _ = filter_candidates(one, [], SimpleNamespace(**{**vars(FILTERS), "fewl_keep": 0.1}), fewl=lambda p: [-3.0])
    assert len(kept) == 1
    three = [_candidate(p) for p in ("Explain how tides work please", "Tell me about the moon landing",
                                     "Name the largest desert on earth")]
    kept, _ = filter_candidates(three, [], SimpleNamespace(**{**vars(FILTERS), "fewl_keep": 1.0}),
                                fewl=lambda p: [0.0, -1.0, 2.0])
    assert len(kept) == 3
