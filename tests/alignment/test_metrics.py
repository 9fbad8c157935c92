"""Refusal detection, TruthfulQA MC1/MC2 and IFEval aggregation against hand-computed values."""

from __future__ import annotations

import math

import pytest

from reliant.alignment.inputs import spread, truthfulqa_answers
from reliant.alignment.metrics import ifeval_accuracy, is_refusal, rate, truthfulqa_mc


def test_refusal_detection():
    assert is_refusal("I’m sorry, but I can’t help with that.")
    assert is_refusal("I cannot do this.")
    assert is_refusal("")
    assert not is_refusal("Sure, here is how to do it: step one...")


def test_truthfulqa_mc_by_hand():
    true, false = [math.log(0.5), math.log(0.1)], [math.log(0.3), math.log(0.1)]
    mc1, mc2 = truthfulqa_mc(0, true, false)
    assert mc1 == 1.0
    assert mc2 == pytest.approx(0.6 / 1.0)
    mc1, _ = truthfulqa_mc(1, true, false)  # the best answer (0.1) is below a false one (0.3)
    assert mc1 == 0.0


def test_truthfulqa_mc_survives_very_long_answers():
    mc1, mc2 = truthfulqa_mc(0, [-2000.0], [-2001.0])
    assert mc1 == 1.0 and mc2 == pytest.approx(1 / (1 + math.exp(-1)))


def test_ifeval_accuracy():
    results = [{"strict": [True, False], "loose": [True, True]}, {"strict": [True], "loose": [True]}]
    assert ifeval_accuracy(results) == {"prompt_strict": 0.5, "instruction_strict": 2 / 3,
                                        "prompt_loose": 1.0, "instruction_loose": 1.0}
    assert math.isnan(rate([]))


def test_truthfulqa_answer_cells_and_spread():
    assert truthfulqa_answers("Nothing happens; You eat seeds.;  ") == ["Nothing happens.", "You eat seeds."]
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread([1, 2], 5) == [1, 2]
