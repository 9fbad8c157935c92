"""DS2: diversity-aware score curation for data selection.

Pang et al., "Improving Data Efficiency via Curating LLM-Driven Rating Systems", ICLR 2025.

1. **Rating** (:func:`rate_samples`): an LLM rates each sample (rarity, complexity,
   informativeness, overall on 1-10) in a JSON reply; unparsable replies are retried, and
   the overall rating is compressed to 6 levels: ``<=4 → 0, 5 → 1, 6 → 2, 7 → 3, 8 → 4,
   >=9 → 5`` (a reply that never parses counts as 0, as in the released scores).
2. **Score curation** (:func:`curate_scores`): the levels are noisy labels of the
   embeddings; HOC estimates the score transition matrix, SimiFeat-rank flags the scores
   that disagree with their neighbours, and a flagged score is replaced by its suggestion
   when the suggestion's confidence is at least ``threshold``.
3. **Long-tail score** (:func:`long_tail_scores`): the mean cosine distance ``d̄_i`` to
   the ``k`` nearest neighbours over the whole pool, squashed to [0, 1) by
   ``d̄_i / (d̄_i + median(d̄))`` (1/2 for a typical sample; rarer samples score higher).
4. **Selection** (:func:`select_ds2`): highest curated level first; the level that crosses
   the budget is filled by long-tail score.

Baselines: :func:`select_random`, :func:`select_score_threshold` (AlpaGasus-style: keep
the highest raw levels) and :func:`select_score_diversity` (DEITA-style: by raw score,
skipping a sample whose cosine similarity to an already selected one exceeds 0.9).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reliant.curation.config import NUM_LEVELS
from reliant.curation.hoc import HOCResult, estimate_transition
from reliant.curation.neighbors import NeighborGraph
from reliant.curation.simifeat import DetectionResult, detect_label_errors, rank_rates



RATING_SYSTEM = (
    "You judge how useful a single instruction-response pair would be as training data for "
    "an instruction-following assistant."
)

RATING_TEMPLATE = """Read the example below and rate it.

### Instruction
{instruction}

### Input
{input}

### Response
{output}

Give four integer ratings from 1 (worst) to 10 (best):
- "rarity": how uncommon the task or knowledge is compared with typical instruction data;
- "complexity": how much reasoning, skill or domain knowledge a good answer needs;
- "informativeness": how much a model could learn from this response (correct, complete, clear);
- "overall": your overall judgement of the example's value as training data.

Reply with only a JSON object on one line, for example:
{example}"""
#: The example rating of reliant's prompt: a small rater may copy it instead of rating.
RELIANT_EXAMPLE_RATING = {"rarity": 5, "complexity": 6, "informativeness": 7, "overall": 6}

RATING_KEYS = ("rarity", "complexity", "informativeness", "overall")
# The official prompt's keys, as reliant's (case and the word "rating" do not matter).
_KEY_ALIASES = {"overall rating": "overall", "overall_rating": "overall"}

#: DS2's released rating prompt (UCSC-REAL/DS2, LLM_scoring/scoring_api.py), word for word,
#: with its system message; the sample follows as "### user: ... ### assistant: ...".
OFFICIAL_SYSTEM = "You are a helpful assistant."
OFFICIAL_PRE_PROMPT = '''
        As a data quality estimator, your task is to assess the quality of data sample based on the criteria: Rarity, Complexity, Informativeness.
        Please rate the sample on a scale from 1 to 10 for each criterion, and return an overall rating on a scale from 1 to 10, where a higher score indicates higher level of quality.
        Ensure that the ratings are not overly concentrated around a specific score. If multiple samples have similar qualities, consider spreading the scores more evenly to reflect subtle differences.
        Please carefully evaluate the following data sample and return the integral evaluation scores using the JSON format:
        {
            "Rarity": <number, 1-10>,
            "Complexity": <number, 1-10>,
            "Informativeness": <number, 1-10>,
            "Overall rating": <number, 1-10>
        }
        '''


def rating_prompt(record: dict, prompt: str = "official") -> str:
    """The rating prompt for one Alpaca-style record (``instruction``, ``input``, ``output``):
    DS2's official prompt (the user turn is the instruction and input, the assistant turn
    the output, then ``### Rating:``) or reliant's earlier one (``prompt="reliant"``)."""
    if prompt == "reliant":
        return RATING_TEMPLATE.format(instruction=record.get("instruction", ""),
                                      input=record.get("input", "") or "(none)", output=record.get("output", ""),
                                      example=json.dumps(RELIANT_EXAMPLE_RATING))
    user = "\n".join(part for part in (record.get("instruction", ""), record.get("input", "") or "") if part)
    conversation = f"### user: {user}\n### assistant: {record.get('output', '')}\n"
    return OFFICIAL_PRE_PROMPT + conversation + "\n### Rating:"


def rating_chat(record: dict, prompt: str = "official") -> list[dict]:
    system = RATING_SYSTEM if prompt == "reliant" else OFFICIAL_SYSTEM
    return [{"role": "system", "content": system}, {"role": "user", "content": rating_prompt(record, prompt)}]


_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.S)


def parse_rating(text: str) -> dict[str, int] | None:
    """The first JSON object in ``text`` holding an integer ``overall`` in 1..10 (other
    keys kept when valid), or None."""
    for match in _JSON_OBJECT.finditer(text or ""):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        ratings: dict[str, int] = {}
        lowered = {_KEY_ALIASES.get(str(key).strip().lower(), str(key).strip().lower()): value
                   for key, value in data.items()}
        for key in RATING_KEYS:
            value = lowered.get(key)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value.strip())
            if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer() \
                    and 1 <= value <= 10:
                ratings[key] = int(value)
        if "overall" in ratings:
            return ratings
    return None


def compress_rating(overall: int | None) -> int:
    """1-10 overall rating → 6 levels (``<=4 → 0``, 5..8 → 1..4, ``>=9 → 5``); None → 0."""
    if overall is None:
        return 0
    return int(min(5, max(0, int(overall) - 4)))


def rate_samples(records: Sequence[dict], backend, *, max_retries: int = 3, max_new_tokens: int = 128,
                 seed: int = 0, prompt: str = "official") -> tuple[np.ndarray, list[dict | None]]:
    """Rate every record with ``backend`` (an :class:`reliant.core.llm.LLMBackend`).

    The first pass is greedy; replies that do not parse are asked again (sampling at
    temperature 0.7 with a new seed) up to ``max_retries`` times. Returns the 6-level
    scores and the parsed ratings (None where every attempt failed).
    """
    scores, ratings, _ = rate_samples_with_replies(records, backend, max_retries=max_retries,
                                                   max_new_tokens=max_new_tokens, seed=seed, prompt=prompt)
    return scores, ratings


def rate_samples_with_replies(records: Sequence[dict], backend, *, max_retries: int = 3, max_new_tokens: int = 128,
                              seed: int = 0, prompt: str = "official"
                              ) -> tuple[np.ndarray, list[dict | None], list[str | None]]:
    """:func:`rate_samples`, plus the rater's last reply for every record that never parsed
    (None where one did), so a user can see what the rater wrote instead of a rating."""
    chats = [rating_chat(r, prompt) for r in records]
    ratings: list[dict | None] = [None] * len(records)
    last_replies: list[str | None] = [None] * len(records)
    pending = list(range(len(records)))
    for attempt in range(max_retries + 1):
        if not pending:
            break
        replies = backend.chat([chats[i] for i in pending], max_new_tokens=max_new_tokens,
                               temperature=0.0 if attempt == 0 else 0.7, seed=seed + attempt)
        still = []
        for i, reply in zip(pending, replies):
            text = reply[0] if reply else ""
            parsed = parse_rating(text)
            if parsed is None:
                still.append(i)
                last_replies[i] = text
            else:
                ratings[i] = parsed
                last_replies[i] = None
        pending = still
    scores = np.array([compress_rating(r["overall"] if r else None) for r in ratings], dtype=np.int64)
    return scores, ratings, last_replies


#: The reply each prompt's assistant turn starts with in likelihood rating: the overall key
#: of its own JSON format, so the next token is the rating.
LIKELIHOOD_PREFILL = {"official": '{"Overall rating": ', "reliant": '{"overall": '}
RATING_CHOICES = tuple(str(r) for r in range(1, 11))


def rate_samples_by_likelihood(records: Sequence[dict], backend, *, prompt: str = "official"
                               ) -> tuple[np.ndarray, list[dict]]:
    """Rate every record by the rater's probabilities instead of its generated text.

    The chat of :func:`rating_chat` is rendered with the assistant's reply begun as
    :data:`LIKELIHOOD_PREFILL`; the rating is the most probable of "1".."10" as the
    continuation (what greedy decoding would write if it had to follow the format), and the
    probability-weighted mean is kept as ``expected_overall`` (G-Eval's score). One forward
    pass per record with an in-process backend, and every record gets a rating. Returns the
    6-level scores and one dict per record: ``overall``, ``expected_overall`` and
    ``probabilities`` (of 1..10, renormalised over the ten)."""
    prompts = [backend.render_chat(rating_chat(r, prompt)) + LIKELIHOOD_PREFILL[prompt] for r in records]
    logps = np.asarray(backend.choice_logprobs(prompts, list(RATING_CHOICES)), dtype=np.float64).reshape(
        len(records), len(RATING_CHOICES))
    probabilities = np.exp(logps - logps.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    values = np.arange(1, len(RATING_CHOICES) + 1)
    overall = values[probabilities.argmax(axis=1)]
    expected = probabilities @ values
    ratings = [{"overall": int(o), "expected_overall": round(float(e), 3),
                "probabilities": [round(float(x), 4) for x in row]}
               for o, e, row in zip(overall, expected, probabilities)]
    return np.array([compress_rating(int(o)) for o in overall], dtype=np.int64), ratings


def long_tail_scores(graph: NeighborGraph, k: int = 10) -> np.ndarray:
    """``d̄ / (d̄ + median d̄)`` with ``d̄_i`` the mean cosine distance to the ``k`` nearest rows."""
    k = int(min(k, graph.k))
    mean_distance = np.mean(1.0 - graph.sims[:, :k].astype(np.float64), axis=1)
    mean_distance = np.clip(mean_distance, 0.0, None)
    median = float(np.median(mean_distance))
    return mean_distance / (mean_distance + max(median, 1e-12))


@dataclass
class ScoreCuration:
    """Raw and curated scores plus the HOC and SimiFeat results they came from."""

    raw: np.ndarray
    curated: np.ndarray
    hoc: HOCResult
    detection: DetectionResult
    threshold: float

    @property
    def changed(self) -> np.ndarray:
        return self.raw != self.curated


def curate_scores(
    scores: np.ndarray,
    graph: NeighborGraph,
    *,
    num_levels: int = NUM_LEVELS,
    threshold: float = 0.5,
    k: int = 10,
    hoc_rounds: int = 50,
    hoc_fraction: float = 0.8,
    detect_rounds: int = 51,
    detect_fraction: float = 0.9,
    hoc_steps: int = 1500,
    suggestion: str = "winner",
    rank_clip: str = "official",
    duplicate_pool: bool = False,
    seed: int = 0,
) -> ScoreCuration:
    """HOC → SimiFeat-rank → replace a flagged score by its suggestion when confident.

    ``duplicate_pool``: curate the pool concatenated with itself, as the official code does
    (its ``load_embedding(..., duplicate=True)``); the graph of the doubled pool is derived
    from ``graph`` (:func:`~reliant.curation.neighbors.duplicated_graph`) and each row keeps
    the result of its first copy."""
    scores = np.asarray(scores, dtype=np.int64)
    n = len(scores)
    work_scores, work_graph = scores, graph
    if duplicate_pool:
        from reliant.curation.neighbors import duplicated_graph

        work_scores, work_graph = np.concatenate([scores, scores]), duplicated_graph(graph, seed=seed)
    hoc = estimate_transition(work_scores, num_levels, work_graph, rounds=hoc_rounds, sample_fraction=hoc_fraction,
                              seed=seed, steps=hoc_steps)
    detection = detect_label_errors(work_scores, num_levels, work_graph, method="rank", k=k, rounds=detect_rounds,
                                    sample_fraction=detect_fraction,
                                    class_rates=rank_rates(hoc.T, hoc.p, hoc.noisy_prior, rank_clip), seed=seed + 1,
                                    suggestion=suggestion)
    if duplicate_pool:
        detection = DetectionResult(**{name: (value[:n] if isinstance(value, np.ndarray) and name != "class_rates"
                                              else value) for name, value in vars(detection).items()})
    replace = detection.flagged & (detection.confidence >= threshold)
    curated = np.where(replace, detection.suggested, scores)
    return ScoreCuration(raw=scores, curated=curated, hoc=hoc, detection=detection, threshold=threshold)


def _by_level_then(levels: np.ndarray, secondary: np.ndarray, budget: int) -> np.ndarray:
    """Indices of the ``budget`` rows with the highest level, ties by higher ``secondary``,
    then by lower index."""
    order = np.lexsort((np.arange(len(levels)), -secondary, -levels))
    return np.sort(order[: min(budget, len(levels))])


def select_ds2(curated: np.ndarray, long_tail: np.ndarray, budget: int) -> np.ndarray:
    """DS2: curated level first, the boundary level filled by long-tail score."""
    return _by_level_then(np.asarray(curated), np.asarray(long_tail, dtype=float), budget)


def select_random(n: int, budget: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(budget, n), replace=False))


def select_score_threshold(raw: np.ndarray, budget: int, seed: int = 0) -> np.ndarray:
    """AlpaGasus-style: the highest raw levels; the boundary level sampled at random."""
    tiebreak = np.random.default_rng(seed).random(len(raw))
    return _by_level_then(np.asarray(raw), tiebreak, budget)


def select_score_diversity(raw: np.ndarray, embeddings: np.ndarray, budget: int, *, max_similarity: float = 0.9,
                           seed: int = 0, block: int = 256) -> np.ndarray:
    """DEITA-style: walk samples by raw level (random order within a level) and keep one
    unless its cosine similarity to an already kept sample exceeds ``max_similarity``."""
    raw = np.asarray(raw)
    tiebreak = np.random.default_rng(seed).random(len(raw))
    order = np.lexsort((tiebreak, -raw))
    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    budget = min(budget, len(raw))
    kept = np.empty((budget, x.shape[1]), dtype=np.float32)
    chosen: list[int] = []
    for start in range(0, len(order), block):
        if len(chosen) >= budget:
            break
        candidates = order[start:start + block]
        # similarity to everything kept before this block, then within the block in order
        blocked = np.zeros(len(candidates), dtype=bool)
        if chosen:
            blocked = (x[candidates] @ kept[: len(chosen)].T).max(axis=1) > max_similarity
        inner = x[candidates] @ x[candidates].T
        taken_here: list[int] = []
        for j, row in enumerate(candidates):
            if len(chosen) >= budget:
                break
            if blocked[j] or (taken_here and inner[j, taken_here].max() > max_similarity):
                continue
            kept[len(chosen)] = x[row]
            chosen.append(int(row))
            taken_here.append(j)
    return np.sort(np.asarray(chosen, dtype=np.int64))
