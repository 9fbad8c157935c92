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

__all__ = ["Judge", "PairwiseJudge", "judge_text", "pairwise_text"]


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


PAIRWISE_QUESTION = ("Which answer is more helpful, relevant, accurate and detailed? "
                     "Reply with A or B.")


def pairwise_text(request: str, first: str, second: str, question: str = PAIRWISE_QUESTION) -> str:
    """The pairwise judge's user message: the request, answer A, answer B, then the question."""
    return (f"Request:\n{request.strip()}\n\nAnswer A:\n{first.strip()}\n\nAnswer B:\n{second.strip()}\n\n"
            f"{question.strip()}")


class PairwiseJudge:
    """Which of two answers to a request is better, asked in both orders (AlpaGasus / Vicuna
    protocol): an answer wins when the judge prefers it in both orders (or in one, with an exact
    tie in the other), loses in the mirror case, and ties when the verdict follows the position
    (position bias).

    A verdict is ``log P(A) - log P(B)`` of the judge's first answer token, read from the
    backend's log-probabilities (no parsing); backends that cannot score text answer instead,
    ``A``/``B`` mapping to +1/-1 and anything else to 0.
    """

    def __init__(self, backend, question: str = PAIRWISE_QUESTION) -> None:
        self.backend = backend
        self.question = question

    def margins(self, triples: Sequence[tuple[str, str, str]]) -> list[float]:
        """``log P(A) - log P(B)`` for each ``(request, answer A, answer B)``."""
        if not triples:
            return []
        prompts = [self.backend.render_chat([{"role": "user", "content": pairwise_text(r, a, b, self.question)}])
                   for r, a, b in triples]
        # One scoring pass per prompt (choice_logprobs); prompts of one template end alike, so one
        # choice spelling serves them all: "A" after a chat template's newline, " A" after "Assistant:".
        spaced = [p[-1:].isspace() for p in prompts]
        try:
            if all(spaced) or not any(spaced):
                choices = ["A", "B"] if spaced[0] else [" A", " B"]
                return [float(a - b) for a, b in self.backend.choice_logprobs(prompts, choices)]
            first = ["A" if s else " A" for s in spaced]
            second = ["B" if s else " B" for s in spaced]
            scored = self.backend.logprobs(prompts + prompts, first + second)
        except UserError as exc:
            if "log-probabilities" not in str(exc):
                raise
            messages = [[{"role": "user", "content": pairwise_text(r, a, b, self.question)}] for r, a, b in triples]
            words = [reply[0].strip().upper()[:1] for reply in
                     self.backend.chat(messages, max_new_tokens=2, temperature=0.0)]
            return [1.0 if w == "A" else -1.0 if w == "B" else 0.0 for w in words]
        n = len(prompts)
        return [float(sum(scored[i]) - sum(scored[n + i])) for i in range(n)]

    def compare(self, requests: Sequence[str], candidate: Sequence[str], reference: Sequence[str]) -> list[str]:
        """``"win"``, ``"tie"`` or ``"lose"`` of each candidate answer against the reference answer."""
        if not len(requests) == len(candidate) == len(reference):
            raise ValueError("requests, candidate and reference answers must have the same length")
        n = len(requests)
        margins = self.margins([*zip(requests, candidate, reference), *zip(requests, reference, candidate)])
        outcomes = []
        for as_first, as_second in zip(margins[:n], margins[n:]):
            votes = (as_first > 0) - (as_first < 0) + (as_second < 0) - (as_second > 0)
            # Win both orders, or win one and tie the other (AlpaGasus); a split verdict is a tie.
            outcomes.append("win" if votes >= 1 else "lose" if votes <= -1 else "tie")
        return outcomes
