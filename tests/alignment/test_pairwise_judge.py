"""The pairwise judge asks both orders and cancels position bias the AlpaGasus way."""

from __future__ import annotations

import pytest

from reliant.alignment.judge import PairwiseJudge, pairwise_text
from reliant.core.errors import UserError


def _answer(prompt: str, label: str) -> str:
    return prompt.split(f"Answer {label}:\n", 1)[1].split("\n\n", 1)[0]


class _LengthJudge:
    """Prefers the longer answer by ``strength`` nats, plus ``bias`` nats for whatever sits in slot A."""

    def __init__(self, strength: float, bias: float) -> None:
        self.strength, self.bias, self.prompts = strength, bias, []

    def render_chat(self, messages):
        return messages[-1]["content"] + "\nAssistant:"

    def logprobs(self, prompts, continuations):
        self.prompts += prompts
        out = []
        for prompt, choice in zip(prompts, continuations):
            slot = choice.strip()
            score = self.strength * len(_answer(prompt, slot)) + (self.bias if slot == "A" else 0.0)
            out.append([score])
        return out

    def choice_logprobs(self, prompts, choices):
        return [[sum(self.logprobs([p], [c])[0]) for c in choices] for p in prompts]


def test_both_orders_are_asked_and_a_consistent_preference_wins():
    judge = PairwiseJudge(_LengthJudge(strength=1.0, bias=0.5))
    outcomes = judge.compare(["q1", "q2"], ["a long detailed answer", "no"], ["short", "a long detailed answer"])
    assert outcomes == ["win", "lose"]
    assert len(judge.backend.prompts) == 8  # 2 items x 2 orders x 2 choices
    assert all(p.endswith("Assistant:") for p in judge.backend.prompts)


def test_position_bias_alone_is_a_tie():
    judge = PairwiseJudge(_LengthJudge(strength=0.0, bias=2.0))  # always says "A"
    assert judge.compare(["q"], ["one answer"], ["another"]) == ["tie"]


def test_margins_are_log_a_minus_log_b():
    judge = PairwiseJudge(_LengthJudge(strength=1.0, bias=0.0))
    assert judge.margins([("q", "abcd", "ab")]) == pytest.approx([2.0])
    assert "Answer A:\nabcd" in pairwise_text("q", "abcd", "ab")


class _ChatOnly:
    def render_chat(self, messages):
        return messages[-1]["content"]

    def logprobs(self, prompts, continuations):
        raise UserError("this server returns no log-probabilities")

    choice_logprobs = logprobs

    def chat(self, messages, max_new_tokens, temperature):
        return [["A"] if "good" in _answer(m[-1]["content"], "A") else ["B"] for m in messages]


def test_a_backend_without_log_probabilities_answers_instead():
    assert PairwiseJudge(_ChatOnly()).compare(["q"], ["a good one"], ["bad"]) == ["win"]


def test_lengths_must_match():
    with pytest.raises(ValueError):
        PairwiseJudge(_ChatOnly()).compare(["q"], ["a"], [])
