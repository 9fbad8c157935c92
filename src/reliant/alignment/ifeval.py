"""IFEval's rule-based instruction checks (Zhou et al., 2023, "Instruction-Following Evaluation for
Large Language Models"), re-implemented because ``lm-eval`` is not installed here.

Each of the 25 instruction types of IFEval's ``input_data.jsonl`` is one function registered
under its id (``@instruction("punctuation:no_comma")``) in :data:`INSTRUCTIONS`, the registry the
data loader validates against. Each follows ``check_following`` of
``google-research/instruction_following_eval/instructions.py``: the same regular expressions, the
same "less than" / "at least" relations, the same treatment of a language that cannot be
detected (counted as followed). Two deliberate deviations, both because NLTK's ``punkt`` model
is not installed offline:

* ``length_constraints:number_sentences`` counts sentences with IFEval's own regex splitter
  (``instructions_util.split_into_sentences``) instead of punkt;
* ``change_case:capital_word_frequency`` tokenizes with NLTK's Treebank-style word tokenizer
  on the whole text (``word_tokenize`` minus its punkt sentence split).

:func:`follows` scores one response as IFEval's ``evaluation_lib`` does: *strict* checks the
response as given; *loose* also accepts it when any of seven variants passes (first line
removed, last line removed, both, and each of the four with ``*`` removed).
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["INSTRUCTIONS", "check_instruction", "count_words", "follows", "instruction", "split_into_sentences"]

Check = Callable[..., bool]
INSTRUCTIONS: dict[str, Check] = {}
"""Instruction id -> ``check(response, **kwargs) -> bool``."""

_RELATIONS = ("less than", "at least")


def instruction(instruction_id: str) -> Callable[[Check], Check]:
    """Register a check under an IFEval instruction id."""

    def register(check: Check) -> Check:
        if instruction_id in INSTRUCTIONS:
            raise ValueError(f"instruction {instruction_id!r} is registered twice")
        INSTRUCTIONS[instruction_id] = check
        return check

    return register


def _compare(actual: int, relation: str, threshold: int) -> bool:
    if relation == _RELATIONS[0]:
        return actual < threshold
    if relation == _RELATIONS[1]:
        return actual >= threshold
    raise ValueError(f"relation must be one of {_RELATIONS}, got {relation!r}")


# ------------------------------------------------------------------- text helpers (instructions_util)

_ALPHABETS = "([A-Za-z])"
_PREFIXES = "(Mr|St|Mrs|Ms|Dr)[.]"
_SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)"
_STARTERS = r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)"
_ACRONYMS = "([A-Z][.][A-Z][.](?:[A-Z][.])?)"
_WEBSITES = "[.](com|net|org|io|gov|edu|me)"
_DIGITS = "([0-9])"
_MULTIPLE_DOTS = r"\.{2,}"


def split_into_sentences(text: str) -> list[str]:
    """IFEval's rule-based sentence splitter: abbreviations, initials, decimals, websites and
    ellipses do not end a sentence; ``.``, ``?`` and ``!`` do."""
    text = " " + text + "  "
    text = text.replace("\n", " ")
    text = re.sub(_PREFIXES, "\\1<prd>", text)
    text = re.sub(_WEBSITES, "<prd>\\1", text)
    text = re.sub(_DIGITS + "[.]" + _DIGITS, "\\1<prd>\\2", text)
    text = re.sub(_MULTIPLE_DOTS, lambda match: "<prd>" * len(match.group(0)) + "<stop>", text)
    if "Ph.D" in text:
        text = text.replace("Ph.D.", "Ph<prd>D<prd>")
    text = re.sub(r"\s" + _ALPHABETS + "[.] ", " \\1<prd> ", text)
    text = re.sub(_ACRONYMS + " " + _STARTERS, "\\1<stop> \\2", text)
    text = re.sub(_ALPHABETS + "[.]" + _ALPHABETS + "[.]" + _ALPHABETS + "[.]", "\\1<prd>\\2<prd>\\3<prd>", text)
    text = re.sub(_ALPHABETS + "[.]" + _ALPHABETS + "[.]", "\\1<prd>\\2<prd>", text)
    text = re.sub(" " + _SUFFIXES + "[.] " + _STARTERS, " \\1<stop> \\2", text)
    text = re.sub(" " + _SUFFIXES + "[.]", " \\1<prd>", text)
    text = re.sub(" " + _ALPHABETS + "[.]", " \\1<prd>", text)
    for closing, moved in ((".”", "”."), ('."', '".'), ('!"', '"!'), ('?"', '"?')):
        text = text.replace(closing, moved)
    for mark in ".?!":
        text = text.replace(mark, mark + "<stop>")
    text = text.replace("<prd>", ".")
    sentences = [s.strip() for s in text.split("<stop>")]
    if sentences and not sentences[-1]:
        sentences = sentences[:-1]
    return sentences


def count_words(text: str) -> int:
    """Words as IFEval counts them: runs of ``\\w`` (NLTK's ``RegexpTokenizer(r"\\w+")``)."""
    return len(re.findall(r"\w+", text))


def _detect_language(text: str) -> str | None:
    """langdetect's guess, seeded as langdetect recommends for reproducible results; None when
    it cannot tell (IFEval then counts the instruction as followed)."""
    import langdetect  # deliberately lazy: loads its language profiles (start-up time)

    langdetect.DetectorFactory.seed = 0
    try:
        return langdetect.detect(text)
    except langdetect.LangDetectException:
        return None


# ------------------------------------------------------------------- the 25 instruction types


@instruction("keywords:existence")
def _keywords_existence(value: str, *, keywords: Sequence[str]) -> bool:
    return all(re.search(keyword, value, flags=re.IGNORECASE) for keyword in keywords)


@instruction("keywords:frequency")
def _keyword_frequency(value: str, *, keyword: str, frequency: int, relation: str) -> bool:
    return _compare(len(re.findall(keyword.strip(), value, flags=re.IGNORECASE)), relation, frequency)


@instruction("keywords:forbidden_words")
def _forbidden_words(value: str, *, forbidden_words: Sequence[str]) -> bool:
    return not any(re.search(r"\b" + word + r"\b", value, flags=re.IGNORECASE) for word in forbidden_words)


@instruction("keywords:letter_frequency")
def _letter_frequency(value: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    return _compare(collections.Counter(value.lower())[letter.strip().lower()], let_relation, let_frequency)


@instruction("language:response_language")
def _response_language(value: str, *, language: str) -> bool:
    detected = _detect_language(value)
    return True if detected is None else detected == language


@instruction("length_constraints:number_sentences")
def _number_sentences(value: str, *, num_sentences: int, relation: str) -> bool:
    return _compare(len(split_into_sentences(value)), relation, num_sentences)


@instruction("length_constraints:number_paragraphs")
def _number_paragraphs(value: str, *, num_paragraphs: int) -> bool:
    paragraphs = re.split(r"\s?\*\*\*\s?", value)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False  # an empty paragraph between two dividers
    return count == num_paragraphs


@instruction("length_constraints:number_words")
def _number_words(value: str, *, num_words: int, relation: str) -> bool:
    return _compare(count_words(value), relation, num_words)


@instruction("length_constraints:nth_paragraph_first_word")
def _nth_paragraph_first_word(value: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    paragraphs = re.split(r"\n\n", value)
    count = len(paragraphs) - sum(1 for p in paragraphs if not p.strip())
    if nth_paragraph > count:
        return False
    paragraph = paragraphs[nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    found = ""
    for letter in word:
        if letter in {".", ",", "?", "!", "'", '"'}:
            break
        found += letter.lower()
    return count == num_paragraphs and found == first_word.lower()


@instruction("detectable_content:number_placeholders")
def _placeholders(value: str, *, num_placeholders: int) -> bool:
    return len(re.findall(r"\[.*?\]", value)) >= num_placeholders


@instruction("detectable_content:postscript")
def _postscript(value: str, *, postscript_marker: str) -> bool:
    marker = postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    return bool(re.findall(pattern, value.lower(), flags=re.MULTILINE))


@instruction("detectable_format:number_bullet_lists")
def _bullet_lists(value: str, *, num_bullets: int) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", value, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", value, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


_CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@instruction("detectable_format:constrained_response")
def _constrained_response(value: str) -> bool:
    value = value.strip()
    return any(option in value for option in _CONSTRAINED_RESPONSES)


@instruction("detectable_format:number_highlighted_sections")
def _highlighted_sections(value: str, *, num_highlights: int) -> bool:
    count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", value) if h.strip("*").strip())
    count += sum(1 for h in re.findall(r"\*\*[^\n\*]*\*\*", value) if h.removeprefix("**").removesuffix("**").strip())
    return count >= num_highlights


@instruction("detectable_format:multiple_sections")
def _multiple_sections(value: str, *, section_spliter: str, num_sections: int) -> bool:
    sections = re.split(r"\s?" + section_spliter.strip() + r"\s?\d+\s?", value)
    return len(sections) - 1 >= num_sections


@instruction("detectable_format:json_format")
def _json_format(value: str) -> bool:
    value = value.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        value = value.removeprefix(fence)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@instruction("detectable_format:title")
def _title(value: str) -> bool:
    return any(title.lstrip("<").rstrip(">").strip() for title in re.findall(r"<<[^\n]+>>", value))


@instruction("combination:two_responses")
def _two_responses(value: str) -> bool:
    valid = []
    parts = value.split("******")
    for index, part in enumerate(parts):
        if not part.strip():
            if index not in (0, len(parts) - 1):
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


@instruction("combination:repeat_prompt")
def _repeat_prompt(value: str, *, prompt_to_repeat: str) -> bool:
    return value.strip().lower().startswith(prompt_to_repeat.strip().lower())


@instruction("startend:end_checker")
def _end_checker(value: str, *, end_phrase: str) -> bool:
    return value.strip().strip('"').lower().endswith(end_phrase.strip().lower())


@instruction("change_case:capital_word_frequency")
def _capital_word_frequency(value: str, *, capital_frequency: int, capital_relation: str) -> bool:
    from nltk.tokenize import NLTKWordTokenizer  # deliberately lazy: nltk is slow to import

    words = NLTKWordTokenizer().tokenize(value)
    return _compare(sum(1 for word in words if word.isupper()), capital_relation, capital_frequency)


@instruction("change_case:english_capital")
def _english_capital(value: str) -> bool:
    detected = _detect_language(value)
    return value.isupper() and (detected is None or detected == "en")


@instruction("change_case:english_lowercase")
def _english_lowercase(value: str) -> bool:
    detected = _detect_language(value)
    return value.islower() and (detected is None or detected == "en")


@instruction("punctuation:no_comma")
def _no_comma(value: str) -> bool:
    return not re.search(r"\,", value)


@instruction("startend:quotation")
def _quotation(value: str) -> bool:
    value = value.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


# ------------------------------------------------------------------- scoring a response


def check_instruction(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether ``response`` follows one instruction (arguments left ``None`` are dropped, as
    IFEval does before ``build_description``); an empty response never does."""
    check = INSTRUCTIONS[instruction_id]
    arguments = {k: v for k, v in (kwargs or {}).items() if v is not None}
    return bool(response.strip()) and check(response, **arguments)


def _loose_variants(response: str) -> list[str]:
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    variants = [response, without_first, without_last, without_both]
    return variants + [v.replace("*", "") for v in variants]


def follows(response: str, instruction_ids: Sequence[str], kwargs: Sequence[Mapping[str, Any]]) -> dict[str, list[bool]]:
    """``{"strict": [...], "loose": [...]}``: per instruction, whether the response follows it."""
    strict = [check_instruction(i, response, k) for i, k in zip(instruction_ids, kwargs)]
    variants = _loose_variants(response)
    loose = [any(check_instruction(i, v, k) for v in variants) for i, k in zip(instruction_ids, kwargs)]
    return {"strict": strict, "loose": loose}
