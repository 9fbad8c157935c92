"""Class design (ADC's first stage): an LLM proposes the classes of a task, their attributes and
the search queries that will collect them, as JSON validated against :data:`DESIGN_SCHEMA`.

The LLM is any :class:`reliant.core.llm.LLMBackend` (``smollm2`` offline, ``openai:<model>@<url>``
for a server). Its replies are parsed for the first JSON value of the expected shape; a reply
that does not parse is asked again with sampling (``max_retries`` times). What the LLM could
not give is filled declaratively and marked (``"origin": "fallback"``), so the saved
``design.json`` always validates and says which parts came from the model; the user edits it
and passes it back with ``--design``. Only the declarative queries are ever used: the paper
lets the LLM write collection code, reliant never executes anything an LLM wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reliant.core.errors import DataError

__all__ = ["DESIGN_SCHEMA", "class_names_prompt", "design_classes", "load_design", "parse_json_value",
           "validate_design"]

DESIGN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["task", "classes"],
    "additionalProperties": False,
    "properties": {
        "task": {"type": "string", "minLength": 1},
        "classes": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["name", "queries"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 80},
                    "description": {"type": "string"},
                    "attributes": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "queries": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                    "origin": {"enum": ["llm", "fallback", "user"]},
                },
            },
        },
    },
}

SYSTEM = "You design image datasets. Answer with JSON only, no explanation."


def class_names_prompt(task: str, num_classes: int) -> str:
    return (f"Task: {task}\nList {num_classes} distinct, concrete class names for this image classification task. "
            f'Answer with a JSON array of {num_classes} short strings, for example ["cat", "dog"].')


def class_detail_prompt(task: str, name: str, num_attributes: int) -> str:
    return (f"Task: {task}\nClass: {name}\nGive {num_attributes} visual attributes or subclasses of \"{name}\" "
            f"and {num_attributes} image search queries that find photos of it. Answer with one JSON object: "
            f'{{"attributes": ["..."], "queries": ["..."]}}')


_DECODER = json.JSONDecoder()


def parse_json_value(text: str, kind: type) -> Any:
    """The first JSON value of type ``kind`` (list or dict) found anywhere in ``text``, or None."""
    opener = "[" if kind is list else "{"
    for match in re.finditer(re.escape(opener), text or ""):
        try:
            value, _ = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, kind):
            return value
    return None


def _clean_strings(values: Any, limit: int) -> list[str]:
    if not isinstance(values, list):
        return []
    seen, out = set(), []
    for value in values:
        # A value without a letter or digit is the prompt's own placeholder echoed back ("...").
        if not isinstance(value, str) or not any(ch.isalnum() for ch in value):
            continue
        if value.strip().lower() not in seen and len(value) <= 200:
            seen.add(value.strip().lower())
            out.append(value.strip())
    return out[:limit]


def _ask(backend, chats: list[list[dict[str, str]]], parse, max_retries: int, max_new_tokens: int, seed: int,
         transcript: list[dict], what: str) -> list[Any]:
    """Ask every chat; re-ask the ones whose reply ``parse`` rejects (sampling), up to ``max_retries``."""
    from reliant.core.progress import note

    answers: list[Any] = [None] * len(chats)
    pending = list(range(len(chats)))
    for attempt in range(max_retries + 1):
        if not pending:
            break
        # one batched call, so the backend draws no bar of its own: say what is being waited for
        again = f", re-ask {attempt}/{max_retries}" if attempt else ""
        note(f"{backend.name}: {what}, {len(pending)} prompt(s){again}")
        replies = backend.chat([chats[i] for i in pending], max_new_tokens=max_new_tokens,
                               temperature=0.0 if attempt == 0 else 0.8, seed=seed + attempt)
        still = []
        for i, reply in zip(pending, replies):
            text = reply[0] if reply else ""
            parsed = parse(text)
            transcript.append({"prompt": chats[i][-1]["content"], "attempt": attempt, "reply": text,
                               "parsed": parsed is not None})
            if parsed is None:
                still.append(i)
            else:
                answers[i] = parsed
        pending = still
    return answers


def design_classes(task: str, backend, *, num_classes: int = 5, class_names: Sequence[str] | None = None,
                   num_attributes: int = 3, max_retries: int = 2, max_new_tokens: int = 160,
                   seed: int = 0) -> tuple[dict, list[dict]]:
    """The design JSON for ``task`` and the transcript of every prompt and reply.

    Raises :class:`~reliant.core.errors.DataError` when neither ``class_names`` nor the LLM
    gives at least two classes (a user-fixable situation: name them, or use another LLM).
    """
    transcript: list[dict] = []
    names = list(class_names or [])
    origin = "user" if names else "llm"
    if not names:
        def parse_names(text: str):
            found = _clean_strings(parse_json_value(text, list), num_classes)
            return found if len(found) >= 2 else None

        chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": class_names_prompt(task, num_classes)}]
        (names,) = _ask(backend, [chat], parse_names, max_retries, max_new_tokens, seed, transcript,
                        what=f"asking for {num_classes} class names")
        if names is None:
            raise DataError(f"the LLM ({backend.name}) gave no JSON list of class names in {max_retries + 1} tries; "
                            "name the classes with --class-names or use a stronger --llm", field="llm")

    def parse_detail(text: str):
        value = parse_json_value(text, dict)
        if value is None:
            return None
        queries = _clean_strings(value.get("queries"), num_attributes)
        return {"attributes": _clean_strings(value.get("attributes"), num_attributes), "queries": queries} \
            if queries else None

    chats = [[{"role": "system", "content": SYSTEM},
              {"role": "user", "content": class_detail_prompt(task, name, num_attributes)}] for name in names]
    details = _ask(backend, chats, parse_detail, max_retries, max_new_tokens, seed + 100, transcript,
                   what="asking for attributes and search queries per class")
    classes = []
    for name, detail in zip(names, details):
        if detail is None:  # declarative fallback, marked: the class name itself is the query
            classes.append({"name": name, "attributes": [], "queries": [f"{name} photo"], "origin": "fallback"})
        else:
            classes.append({"name": name, **detail, "origin": origin})
    design = {"task": task, "classes": classes}
    validate_design(design, source="the LLM's design")
    return design, transcript


def validate_design(design: Any, source: str | Path = "design.json") -> dict:
    """Check ``design`` against :data:`DESIGN_SCHEMA` (and unique class names); one-line DataError."""
    import jsonschema  # deliberately lazy: only design files need it

    validator = jsonschema.Draft202012Validator(DESIGN_SCHEMA)
    errors = sorted(validator.iter_errors(design), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise DataError(f"does not match the design schema: {error.message}", file=source, field=where)
    names = [c["name"].strip().lower() for c in design["classes"]]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"class names repeat: {', '.join(duplicated)}", file=source, field="classes")
    return design


def load_design(path: str | Path) -> dict:
    """Read and validate a (user-edited) design file."""
    from reliant.core.data import read_text_file

    text = read_text_file(path, field="design")
    try:
        design = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg})", file=path, line=exc.lineno, field="design") from None
    return validate_design(design, source=path)
