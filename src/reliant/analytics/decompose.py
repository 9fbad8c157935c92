"""Task decomposition: a multi-part question becomes sub-questions answered and cited apart.

FALM splits complex questions and chart requests into steps (arXiv 2406.06559, Sec. 3,
"content referencing and task decomposition"). The rules, tried in order:

1. a comparison over time, "how did X change between A and B" / "compare X in A and B" /
   "X in A versus B" -> "X in A" and "X in B" (each resolved to its own date window);
2. several questions in one, separated by "?" or by "and"/";" before a question word
   ("What did GM announce in 2008 and how did Ford respond?") -> one per part, a part with no
   time of its own inheriting the time expression of the whole question;
3. anything else stays one question.
"""

from __future__ import annotations

import re

from reliant.analytics.time_resolution import TIME_EXPRESSION, resolve_time

__all__ = ["decompose"]

_QUESTION_WORD = r"(?:what|how|why|when|who|whom|which|where|did|does|do|is|are|was|were|has|have|will|can)"
_CHANGE = re.compile(rf"^(?:how\s+(?:did|has|have|does|do)\s+)?(?P<topic>.+?)\s+(?:change|changed|evolve|evolved|develop|"
                     rf"differ|compare|move|moved)\s+(?:from|between)\s+(?P<a>{TIME_EXPRESSION})\s+(?:and|to|until)\s+"
                     rf"(?P<b>{TIME_EXPRESSION})\s*[?.!]*$")
_COMPARE = re.compile(rf"^compare\s+(?P<topic>.+?)\s+(?:in|during|for)\s+(?P<a>{TIME_EXPRESSION})\s+(?:and|with|to|versus|vs\.?)\s+"
                      rf"(?:(?:in|during|for)\s+)?(?P<b>{TIME_EXPRESSION})\s*[?.!]*$")
_VERSUS = re.compile(rf"^(?P<topic>.+?)\s+(?:in|during)\s+(?P<a>{TIME_EXPRESSION})\s+(?:versus|vs\.?|compared (?:to|with))\s+"
                     rf"(?:(?:in|during)\s+)?(?P<b>{TIME_EXPRESSION})\s*[?.!]*$")
_SPLIT = re.compile(rf"\?\s+|;\s*|,?\s+and\s+(?={_QUESTION_WORD}\b)")


def _clean(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;")
    return text[:1].upper() + text[1:] if text else text


def decompose(question: str) -> list[str]:
    """The sub-questions of ``question`` (a list of one when it has a single part).

    >>> decompose("How did oil prices change between 2007 and 2008?")
    ['What happened to oil prices in 2007?', 'What happened to oil prices in 2008?']
    >>> decompose("What did GM announce in 2008 and how did Ford respond?")
    ['What did GM announce in 2008?', 'How did Ford respond in 2008?']
    """
    text = " ".join(question.split())
    lowered = text.lower()
    for pattern in (_CHANGE, _COMPARE, _VERSUS):
        match = pattern.match(lowered)
        if match:
            start, end = match.span("topic")
            topic = text[start:end]
            periods = [text[slice(*match.span(name))] for name in ("a", "b")]
            return [f"What happened to {topic} in {period}?" for period in periods]
    parts = [p for p in (_clean(p) for p in _SPLIT.split(text)) if len(p.split()) >= 2]
    if len(parts) <= 1:
        return [text]
    whole = resolve_time(text)
    inherited = whole.expressions[0] if whole.expressions else ""
    out = []
    for part in parts:
        part = part.rstrip("?.! ")
        if inherited and not resolve_time(part).expressions:
            part = f"{part} {inherited}"
        out.append(part + "?")
    return out
