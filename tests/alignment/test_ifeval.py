"""IFEval's checks on hand-made responses, one passing and one failing case per instruction type."""

from __future__ import annotations

import pytest

from reliant.alignment.ifeval import INSTRUCTIONS, check_instruction, count_words, follows, split_into_sentences

# id -> (kwargs, a response that follows it, one that does not)
CASES = {
    "keywords:existence": ({"keywords": ["river", "stone"]}, "A Stone by the River.", "Only a river here."),
    "keywords:frequency": ({"keyword": "cat", "frequency": 2, "relation": "at least"}, "Cat and cat.", "One cat."),
    "keywords:forbidden_words": ({"forbidden_words": ["bad"]}, "A badge is fine.", "That is Bad."),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 2, "let_relation": "less than"}, "zoo", "zzz"),
    "language:response_language": (
        {"language": "fr"}, "Bonjour, je suis très heureux de vous voir aujourd'hui dans cette belle ville.",
        "Hello, I am very happy to see you today in this beautiful city.",
    ),
    "length_constraints:number_sentences": (
        {"num_sentences": 3, "relation": "less than"}, "One. Two.", "One. Two. Three. Mr. Smith came.",
    ),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 2}, "First.\n***\nSecond.", "First.\n***\n\n***\nX"),
    "length_constraints:number_words": ({"num_words": 5, "relation": "at least"}, "one two three four five", "one two"),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"}, "First part.\n\n\"Then, the end.",
        "First part.\n\nNext part.",
    ),
    "detectable_content:number_placeholders": ({"num_placeholders": 2}, "Dear [name] at [address]", "Dear [name]"),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, "Bye.\nP.S. See you", "Bye. PS see you"),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, "* one\n- two", "* one\n* two\n* three"),
    "detectable_format:constrained_response": ({}, "My answer is maybe.", "Perhaps."),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 2}, "*one* and **two**", "*one* and **"),
    "detectable_format:multiple_sections": (
        {"section_spliter": "Section", "num_sections": 2}, "Section 1\nA\nSection 2\nB", "Section 1\nA",
    ),
    "detectable_format:json_format": ({}, "```json\n{\"a\": 1}\n```", "{a: 1}"),
    "detectable_format:title": ({}, "<<Ode to Joy>>\ntext", "<< >> text"),
    "combination:two_responses": ({}, "Yes.\n******\nNo.", "Yes.\n******\nYes."),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Say hi."}, "say hi. Hi!", "Hi! Say hi."),
    "startend:end_checker": ({"end_phrase": "Any other questions?"}, "Done. Any other questions?\"", "Any other questions? No"),
    "change_case:capital_word_frequency": (
        {"capital_frequency": 2, "capital_relation": "at least"}, "THIS is VERY good", "This is VERY good",
    ),
    "change_case:english_capital": ({}, "THIS IS A SENTENCE WRITTEN IN ENGLISH.", "This is written in English."),
    "change_case:english_lowercase": ({}, "this is a sentence written in english.", "This is written in English."),
    "punctuation:no_comma": ({}, "No commas here.", "Yes, commas."),
    "startend:quotation": ({}, '  "wrapped"  ', '"not wrapped'),
}


def test_every_registered_type_has_a_case():
    assert set(CASES) == set(INSTRUCTIONS)
    assert len(INSTRUCTIONS) == 25


@pytest.mark.parametrize("instruction_id", sorted(CASES))
def test_check_passes_and_fails(instruction_id):
    kwargs, good, bad = CASES[instruction_id]
    assert check_instruction(instruction_id, good, kwargs) is True
    assert check_instruction(instruction_id, bad, kwargs) is False


def test_empty_response_never_follows():
    assert check_instruction("punctuation:no_comma", "   ", {}) is False


def test_none_arguments_are_dropped_like_ifeval():
    assert check_instruction("punctuation:no_comma", "ok", {"unused": None}) is True


def test_loose_accepts_markdown_and_a_leading_line():
    response = "Sure, here it is:\n*\"wrapped answer\"*"
    result = follows(response, ["startend:quotation"], [{}])
    assert result == {"strict": [False], "loose": [True]}


def test_text_helpers_match_ifeval():
    # As IFEval's splitter: "Dr." and the decimal do not end a sentence; an acronym such as
    # "p.m." never does either, so "p.m. Really?" stays one sentence.
    assert split_into_sentences("Dr. Who came. It was 3.5 p.m. Really? Yes!") == [
        "Dr. Who came.", "It was 3.5 p.m. Really?", "Yes!"
    ]
    assert count_words("It's a well-known fact, 42.") == 7
