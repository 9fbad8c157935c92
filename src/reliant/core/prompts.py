"""The question-answer text format shared by training, unlearning and evaluation.

Keeping it in one place means a model fine-tuned by one command is probed in exactly
the format it was trained on by every other command.
"""

from __future__ import annotations

QA_PROMPT_TEMPLATE = "Question: {question}\nAnswer:"


def qa_prompt(question: str) -> str:
    """The prompt a model completes with the answer."""
    return QA_PROMPT_TEMPLATE.format(question=question.strip())


def qa_text(question: str, answer: str) -> str:
    """Prompt and answer as one training text; the answer starts after a single space."""
    return f"{qa_prompt(question)} {answer.strip()}"
