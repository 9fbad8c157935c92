"""Who judges a (request, answer) pair: an LLM answering a Yes/No question about it, through any
:class:`reliant.core.llm.LLMBackend` (:class:`Judge`, :class:`PairwiseJudge`), or FEWL's
hallucination score against reference LLMs' answers (:class:`FEWLFilter`).

The verdict is a number, ``log P(Yes) - log P(No)`` of the judge's first answer token, read
from the backend's log-probabilities (one scoring pass, no sampling, no parsing), so a small
model's judgement is at least deterministic and graded. Backends that cannot score text (most
hosted chat APIs) are asked to answer instead; ``Yes``/``No`` then map to +1/-1 and anything
else to 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from reliant.core.errors import UserError

__all__ = ["FEWLFilter", "Judge", "PairwiseJudge", "judge_text", "pairwise_text", "two_choice_margins"]


def judge_text(request: str, answer: str, question: str) -> str:
    """The judge's user message: the pair, then the question."""
    return f"Request:\n{request.strip()}\n\nAnswer:\n{answer.strip()}\n\n{question.strip()} Reply with Yes or No."


def two_choice_margins(backend, contents: Sequence[str], first: str, second: str, *, reply_tokens: int,
                       one_pass: bool = False) -> list[float]:
    """``log P(first) - log P(second)`` as the judge's reply to each user message, read from the
    backend's log-probabilities (no parsing). A backend that cannot score text answers instead:
    a reply starting with ``first`` is +1, with ``second`` -1, anything else 0.

    ``one_pass``: score both words in one pass per prompt (:meth:`choice_logprobs`) when every
    prompt ends alike, instead of one :meth:`logprobs` pair each."""
    prompts = [backend.render_chat([{"role": "user", "content": c}]) for c in contents]
    # A chat template ends in "assistant\n": the answer starts there; plain "Assistant:" needs a space.
    spaced = [p[-1:].isspace() for p in prompts]
    try:
        if one_pass and len(set(spaced)) == 1:
            words = [first, second] if spaced[0] else [f" {first}", f" {second}"]
            return [float(a - b) for a, b in backend.choice_logprobs(prompts, words)]
        firsts = [first if s else f" {first}" for s in spaced]
        seconds = [second if s else f" {second}" for s in spaced]
        scored = backend.logprobs(prompts + prompts, firsts + seconds)
    except UserError as exc:
        if "log-probabilities" not in str(exc):
            raise
        replies = backend.chat([[{"role": "user", "content": c}] for c in contents], max_new_tokens=reply_tokens,
                               temperature=0.0)
        words = [reply[0].strip().lower() for reply in replies]
        return [1.0 if w.startswith(first.lower()) else -1.0 if w.startswith(second.lower()) else 0.0
                for w in words]
    n = len(prompts)
    return [float(sum(scored[i]) - sum(scored[n + i])) for i in range(n)]


class Judge:
    """``scores(pairs) -> [log P(Yes) - log P(No)]`` for ``(request, answer)`` pairs."""

    def __init__(self, backend, question: str) -> None:
        self.backend = backend
        self.question = question

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        return two_choice_margins(self.backend, [judge_text(r, a, self.question) for r, a in pairs], "Yes", "No",
                                  reply_tokens=4)


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
        return two_choice_margins(self.backend, [pairwise_text(r, a, b, self.question) for r, a, b in triples],
                                  "A", "B", reply_tokens=2, one_pass=True)

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


class FEWLFilter:
    """``scores(pairs) -> [FEWL score]`` of generated ``(question, answer)`` samples, higher = more
    truthful: FEWL (Wei et al. 2024) through :mod:`reliant.hallucination`'s façade, with no gold
    answer. Each reference backend answers every question greedily; ``wrong_llm`` writes
    ``n_wrong`` intentionally wrong answers and their corrections per question, from which each
    reference's per-question expertise weight comes (``None``: uniform weights). The laziness
    penalty compares each answer with the references' answers to the nearest other questions of
    the same batch (up to FEWL's 25), so a lone sample is scored without it.
    """

    def __init__(self, references: Sequence, wrong_llm=None, *, n_wrong: int = 2, max_new_tokens: int = 64,
                 seed: int = 0, device: str = "auto") -> None:
        if not references:
            raise ValueError("FEWL needs at least one reference backend")
        self.references = list(references)
        self.wrong_llm = wrong_llm
        self.n_wrong = n_wrong
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.device = device
        self.last_result = None  # the FEWLResult of the latest call (weights, references' answers)

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        from reliant.hallucination.api import FEWLParams, score

        if not pairs:
            return []
        weighting = "expertise" if self.wrong_llm is not None else "uniform"
        # FEWL's neighbour search already takes at most the batch's other questions (none for a
        # lone sample, which is then scored without the laziness penalty).
        params = FEWLParams(weighting=weighting, penalty_weighting=weighting)
        records = [{"id": str(i + 1), "question": q, "answer": a} for i, (q, a) in enumerate(pairs)]
        result = score(records, reference_llms=self.references, wrong_llm=self.wrong_llm, n_wrong=self.n_wrong,
                       params=params, max_new_tokens=self.max_new_tokens, sentence_scores=False,
                       device=self.device, seed=self.seed)
        self.last_result = result
        return [float(v) for v in result.scores[result.models[0]]]
