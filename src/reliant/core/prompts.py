"""The question-answer format shared by training, unlearning and evaluation, as text and as
tokens.

Keeping it in one place means a model fine-tuned by one command is probed in exactly
the format it was trained on by every other command.

**Chat templates.** A model whose tokenizer has a chat template (an instruct model such as
``smollm2``) is asked its questions through that template, as a single user turn ending in the
assistant's generation prompt (:func:`question_prompt`), so its numbers are comparable with
published ones; a model without one (the tiny LMs, base models) keeps the plain
``Question: ...\nAnswer:`` format (:func:`qa_prompt`). The templated prompt already holds the
model's special tokens; everything below (boundary, EOS, padding) applies to it unchanged.

Conventions of the token form (used by :mod:`reliant.core.models`, :mod:`reliant.core.tiny_lm`
and every capability that trains or scores a causal LM):

* **Prompt/answer boundary.** A prompt and its answer are joined exactly like
  :func:`qa_text`: ``prompt + " " + answer.strip()`` (no separator when the prompt is empty
  or already ends in whitespace). The prompt and the joined text are tokenized the same way
  (with the tokenizer's own special tokens, e.g. a leading BOS), and the answer tokens are
  those after the longest common prefix of the two token lists. A token that straddles the
  boundary therefore belongs to the answer, as in the lm-evaluation-harness and
  :class:`reliant.core.llm.TransformersBackend`.
* **Empty prompt.** With an empty prompt the whole answer is scored (Min-K%-style text
  scoring). When the tokenizer adds no BOS of its own (GPT-2), its BOS (or EOS) id is put
  in front so that the first text token also has a context to be scored under.
* **EOS.** Training batches (:func:`build_qa_batch`) end every answer with EOS, which is
  scored, so a fine-tuned model learns to stop (TOFU does the same). Scoring helpers leave
  EOS out by default so a "text" is only its own tokens; pass ``add_eos=True`` to include it.
* **Padding.** Batches are padded by hand and ``tokenizer.padding_side`` is never read or
  changed: scoring and training batches are right-padded (:func:`pad_encoded`; position ids
  then match the unpadded sequence, so batched and one-at-a-time results agree).

This module is imported by command modules, so it imports torch only inside
:func:`pad_encoded`, where tensors are built (start-up time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reliant.core.errors import ConfigError, UserError

if TYPE_CHECKING:
    import torch

__all__ = [
    "IGNORE_INDEX",
    "QA_PROMPT_TEMPLATE",
    "build_qa_batch",
    "chat_prompt",
    "encode_prompt_answer",
    "has_chat_template",
    "join_prompt_answer",
    "pad_encoded",
    "pad_token_id",
    "qa_prompt",
    "qa_text",
    "few_shot_prompt",
    "question_prompt",
    "start_token_id",
]

QA_PROMPT_TEMPLATE = "Question: {question}\nAnswer:"

#: The label of a position that is not trained on or scored (prompt and padding).
IGNORE_INDEX = -100


def qa_prompt(question: str) -> str:
    """The prompt a model completes with the answer."""
    return QA_PROMPT_TEMPLATE.format(question=question.strip())


def has_chat_template(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` carries a chat template (instruct models do, the tiny LMs do not)."""
    return bool(getattr(tokenizer, "chat_template", None))


def chat_prompt(tokenizer: Any, messages: Sequence[Any], *, chat_template: str | None = None) -> str:
    """``messages`` (``{"role", "content"}`` mappings) through the chat template (the given
    one, else the tokenizer's), ending in the assistant's generation prompt."""
    template = chat_template or getattr(tokenizer, "chat_template", None)
    if not template:
        raise UserError("the tokenizer has no chat template to format a chat with")
    return tokenizer.apply_chat_template(
        [dict(m) for m in messages], chat_template=template, tokenize=False, add_generation_prompt=True
    )


def question_prompt(tokenizer: Any, question: str, *, system: str | None = None) -> str:
    """The prompt that asks ``tokenizer``'s model ``question``.

    Through the model's own chat template (one user turn, after an optional ``system`` turn,
    with the generation prompt added) when it has one; otherwise the plain QA format of
    :func:`qa_prompt` (``system``, if given, is then put on a line before it). Answers are
    joined to either with :func:`join_prompt_answer`.
    """
    if has_chat_template(tokenizer):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": question.strip()}
        ]
        return chat_prompt(tokenizer, messages)
    prompt = qa_prompt(question)
    return f"{system.strip()}\n{prompt}" if system else prompt


def few_shot_prompt(tokenizer: Any, shots: Sequence[tuple[str, str]], question: str) -> str:
    """``question`` after worked ``(question, answer)`` examples: earlier user/assistant turns
    of the chat template when the model has one, QA blocks separated by a blank line
    otherwise (MUSE's in-context format for KnowMem)."""
    if has_chat_template(tokenizer):
        messages: list[dict[str, str]] = []
        for shot_question, shot_answer in shots:
            messages += [{"role": "user", "content": shot_question.strip()},
                         {"role": "assistant", "content": shot_answer.strip()}]
        messages.append({"role": "user", "content": question.strip()})
        return chat_prompt(tokenizer, messages)
    return "".join(f"{qa_prompt(q)} {a}\n\n" for q, a in shots) + qa_prompt(question)


def qa_text(question: str, answer: str) -> str:
    """Prompt and answer as one training text; the answer starts after a single space."""
    return f"{qa_prompt(question)} {answer.strip()}"


def join_prompt_answer(prompt: str, answer: str) -> str:
    """The text a prompt and its answer form; equals ``qa_text`` for a ``qa_prompt``."""
    answer = answer.strip()
    if not prompt or prompt[-1].isspace():
        return prompt + answer
    return f"{prompt} {answer}"


def start_token_id(tokenizer: Any) -> int:
    """The token an empty prompt starts with: the tokenizer's BOS, else its EOS."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise UserError("the tokenizer has no BOS or EOS token to start an empty prompt with")


def pad_token_id(tokenizer: Any) -> int:
    """The id padding uses: the tokenizer's pad token, else its EOS (padding is masked out)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise UserError("the tokenizer has neither a pad token nor an EOS token to pad with")
    return int(pad)


def encode_prompt_answer(tokenizer: Any, prompt: str, answer: str, *, add_eos: bool = False) -> tuple[list[int], int]:
    """Token ids of prompt + answer, and the index where the answer tokens start.

    See the module docstring for how the boundary is found. With ``add_eos`` the EOS id
    follows the answer (and counts as an answer token).
    """
    return encode_prompt_answers(tokenizer, [prompt], [answer], add_eos=add_eos)[0]


def encode_prompt_answers(
    tokenizer: Any, prompts: Sequence[str], answers: Sequence[str], *, add_eos: bool = False
) -> list[tuple[list[int], int]]:
    """:func:`encode_prompt_answer` of many pairs, with two batched tokenizer calls."""
    check_pairs(prompts, answers)
    if not prompts:
        return []
    prompt_batch = tokenizer(list(prompts))["input_ids"]
    full_batch = tokenizer([join_prompt_answer(p, a) for p, a in zip(prompts, answers)])["input_ids"]
    eos = tokenizer.eos_token_id
    encoded = []
    for prompt_ids, full_ids in zip(prompt_batch, full_batch):
        prompt_ids, full_ids = list(prompt_ids), list(full_ids)
        # Some tokenizers (e.g. with a post-processor that appends EOS) end every encoding with
        # a special token; the common prefix below stops before it for the prompt, but the
        # joined text must not carry it into the answer either.
        if eos is not None and full_ids and full_ids[-1] == eos and prompt_ids and prompt_ids[-1] == eos:
            full_ids = full_ids[:-1]
            prompt_ids = prompt_ids[:-1]
        boundary = 0
        for x, y in zip(prompt_ids, full_ids):
            if x != y:
                break
            boundary += 1
        if boundary == 0:
            # No special start token: give the first answer token a context to be scored under.
            full_ids = [start_token_id(tokenizer)] + full_ids
            boundary = 1
        if add_eos:
            full_ids.append(int(tokenizer.eos_token_id))
        encoded.append((full_ids, boundary))
    return encoded


def pad_encoded(
    encoded: Sequence[tuple[list[int], int]], pad_id: int, *, max_length: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad ``(ids, answer_start)`` pairs into input_ids, attention_mask and labels
    (IGNORE_INDEX on prompt and pad); sequences over ``max_length`` lose their end."""
    import torch  # deliberately lazy: command modules import this one (start-up time)

    rows = [(ids[:max_length] if max_length else ids, start) for ids, start in encoded]
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (ids, start) in enumerate(rows):
        n = len(ids)
        input_ids[i, :n] = torch.tensor(ids, dtype=torch.long)
        attention_mask[i, :n] = 1
        if start < n:
            labels[i, start:n] = input_ids[i, start:n]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def check_pairs(prompts: Sequence[str], answers: Sequence[str]) -> None:
    """Prompts and answers are two equally long sequences of strings."""
    if isinstance(prompts, str) or isinstance(answers, str):
        raise TypeError("prompts and answers must be sequences of strings, not a single string")
    if len(prompts) != len(answers):
        raise UserError(f"{len(prompts)} prompts but {len(answers)} answers")


def build_qa_batch(
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    max_length: int,
    *,
    add_eos: bool = True,
) -> dict[str, torch.Tensor]:
    """A right-padded training batch: ``input_ids``, ``attention_mask`` and ``labels``
    equal to the input ids on answer tokens (and the closing EOS) and IGNORE_INDEX on
    prompt and padding. Sequences longer than ``max_length`` are cut at the end."""
    check_pairs(prompts, answers)
    if max_length < 2:
        raise ConfigError(f"max_length must be at least 2, got {max_length}", field="max_length")
    encoded = [encode_prompt_answer(tokenizer, p, a, add_eos=add_eos) for p, a in zip(prompts, answers)]
    return pad_encoded(encoded, pad_token_id(tokenizer), max_length=max_length)
