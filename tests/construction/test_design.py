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


def test_design_command_parses_reasks_and_saves_the_run(tmp_path, monkeypatch):
    """``construct design --task`` end to end with a scripted backend in place of smollm2: the
    re-ask path, the fallback and the run folder's files and counts."""
    import reliant.core.llm as llm_module
    from tests.cli_runner import run_main

    llm = ScriptedLLM([
        "Sure! The classes are spoon and fork.",              # names: no JSON, re-asked
        '```json\n["spoon", "fork", "ladle"]\n```',            # names parse on the re-ask
        '{"attributes": ["metal"], "queries": ["steel spoon"]}',
        "forks are nice",                                     # fork: no JSON ...
        '{"attributes": [], "queries": ["wooden ladle"]}',
        '{"attributes": ["four tines"], "queries": ["dinner fork"]}',   # ... fork parses on the re-ask
    ])
    specs = []
    monkeypatch.setattr(llm_module, "make_backend", lambda spec, **kw: specs.append(spec) or llm)
    out = tmp_path / "design"
    assert run_main(["construct", "design", "--task", "kitchen utensils", "--num-classes", "3",
                     "--max-retries", "1", "--llm", "smollm2", "--out", out]) == 0
    assert specs == ["smollm2"]
    design = load_design(out / "design.json")
    assert [(c["name"], c["queries"], c["origin"]) for c in design["classes"]] == [
        ("spoon", ["steel spoon"], "llm"), ("fork", ["dinner fork"], "llm"), ("ladle", ["wooden ladle"], "llm")]
    transcript = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert [(t["attempt"], t["parsed"]) for t in transcript] == [(0, False), (1, True), (0, True), (0, False),
                                                                 (0, True), (1, True)]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["llm_replies"] == 6 and metrics["llm_replies_parsed"] == 4 and metrics["classes_from_llm"] == 3
    assert "wooden ladle" in (out / "report.html").read_text()


def test_the_prompts_placeholder_echoed_back_is_not_a_design():
    # SmolLM2 answered the detail prompt with its own template, {"attributes": ["..."], ...}.
    llm = ScriptedLLM([
        '["cat", "dog"]',
        '{"attributes": ["..."], "queries": ["..."]}',     # cat: the placeholder, asked again
        '{"attributes": ["beagle"], "queries": ["beagle photo", "…", "--"]}',  # dog (same batch)
        '{"attributes": ["tabby"], "queries": ["tabby cat photo"]}',           # cat, re-asked
    ])
    design, transcript = design_classes("pets", llm, num_classes=2, max_retries=2)
    assert design["classes"][0]["queries"] == ["tabby cat photo"]
    assert design["classes"][1]["queries"] == ["beagle photo"]
    assert [t["parsed"] for t in transcript] == [True, False, True, True]
