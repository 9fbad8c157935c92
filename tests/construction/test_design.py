"""Class design: JSON parsed from LLM replies, validated against the schema, fallbacks marked."""

from __future__ import annotations

import json

import pytest

from reliant.construction.design import design_classes, load_design, parse_json_value, validate_design
from reliant.core.errors import DataError
from reliant.core.llm import LLMBackend


class ScriptedLLM(LLMBackend):
    """Answers from a list of replies, in order (an LLM stand-in)."""

    name = "scripted"

    def __init__(self, replies):
        self.replies = list(replies)
        self.prompts = []

    def generate(self, prompts, **kwargs):
        self.prompts += list(prompts)
        return [[self.replies.pop(0) if self.replies else "no idea"] for _ in prompts]

    def logprobs(self, prompts, continuations):
        raise NotImplementedError


def test_parse_json_value_finds_the_first_value_of_the_kind():
    assert parse_json_value('Sure! ["a", "b"] and more', list) == ["a", "b"]
    assert parse_json_value('x {"queries": ["q"]} y', dict) == {"queries": ["q"]}
    assert parse_json_value("[not json", list) is None


def test_design_from_replies_with_a_retry_and_a_fallback():
    llm = ScriptedLLM([
        "Here are classes: cat, dog",                      # no JSON: asked again
        '["cat", "dog", "cat"]',                           # duplicates dropped
        '{"attributes": ["tabby"], "queries": ["tabby cat photo"]}',
        "I cannot", "still no", "nope",                    # dog never parses: fallback
    ])
    design, transcript = design_classes("pets", llm, num_classes=3, max_retries=2)
    assert [c["name"] for c in design["classes"]] == ["cat", "dog"]
    assert design["classes"][0] == {"name": "cat", "attributes": ["tabby"], "queries": ["tabby cat photo"],
                                    "origin": "llm"}
    assert design["classes"][1]["origin"] == "fallback" and design["classes"][1]["queries"] == ["dog photo"]
    assert [t["parsed"] for t in transcript] == [False, True, True, False, False, False]


def test_no_class_names_from_the_llm_is_a_user_error():
    with pytest.raises(DataError, match="no JSON list of class names"):
        design_classes("pets", ScriptedLLM([]), max_retries=1)


@pytest.mark.parametrize("design, expected", [
    ({"task": "t", "classes": [{"name": "a", "queries": ["q"]}]}, "classes"),
    ({"task": "t", "classes": [{"name": "a", "queries": []}, {"name": "b", "queries": ["q"]}]}, "classes/0/queries"),
    ({"task": "t", "classes": [{"name": "a", "queries": ["q"]}, {"name": "A", "queries": ["q"]}]}, "repeat"),
    ({"task": "t", "classes": [{"name": "a", "queries": ["q"], "code": "import os"},
                               {"name": "b", "queries": ["q"]}]}, "classes/0"),
])
def test_schema_rejects_bad_designs(design, expected):
    with pytest.raises(DataError, match=expected):
        validate_design(design)


def test_load_design_names_the_line_of_bad_json(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('{"task": "t",\n "classes": [}\n')
    with pytest.raises(DataError, match=r"d.json:2: field 'design': invalid JSON"):
        load_design(path)
    path.write_text(json.dumps({"task": "t", "classes": [{"name": "a", "queries": ["q"]},
                                                         {"name": "b", "queries": ["r"]}]}))
    assert load_design(path)["classes"][1]["name"] == "b"
