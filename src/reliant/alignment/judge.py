"""An LLM judge that answers a Yes/No question about a (request, answer) pair, through any
:class:`reliant.core.llm.LLMBackend`.

The verdict is a number, ``log P(Yes) - log P(No)`` of the judge's first answer token, read
from the backend's log-probabilities (one scoring pass, no sampling, no parsing), so a small
model's judgement is at least deterministic and graded. Backends that cannot score text (most
hosted chat APIs) are asked to answer instead; ``Yes``/``No`` then map to +1/-1 and anything
else to 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from reliant.core.errors import UserError

__all__ = ["Judge", "judge_text"]


def judge_text(request: str, answer: str, question: str) -> str:
    """The judge's user message: the pair, then the question."""
    return f"Request:\n{request.strip()}\n\nAnswer:\n{answer.strip()}\n\n{question.strip()} Reply with Yes or No."


class Judge:
    """``scores(pairs) -> [log P(Yes) - log P(No)]`` for ``(request, answer)`` pairs."""

    def __init__(self, backend, question: str) -> None:
        self.backend = backend
        self.question = question

    def _prompts(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        return [self.backend.render_chat([{"role": "user", "content": judge_text(r, a, self.question)}])
                for r, a in pairs]

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        prompts = self._prompts(pairs)
        # A chat template ends in "assistant\n": the answer starts there; plain "Assistant:" needs a space.
        yes = ["Yes" if p[-1:].isspace() else " Yes" for p in prompts]
        no = ["No" if p[-1:].isspace() else " No" for p in prompts]
        try:
            scored = self.backend.logprobs(prompts + prompts, yes + no)
        except UserError as exc:
            if "log-probabilities" not in str(exc):
                raise
            return self._answered(pairs)
        n = len(prompts)
        return [float(sum(scored[i]) - sum(scored[n + i])) for i in range(n)]

    def _answered(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        messages = [[{"role": "user", "content": judge_text(r, a, self.question)}] for r, a in pairs]
        replies = self.backend.chat(messages, max_new_tokens=4, temperature=0.0)
        verdicts = []
        for reply in replies:
            word = reply[0].strip().lower()
            verdicts.append(1.0 if word.startswith("yes") else -1.0 if word.startswith("no") else 0.0)
        return verdicts
