"""Canaries and their exposure (Carlini et al., 2019, "The Secret Sharer").

A canary is a prefix followed by a random secret of a known format (here: ``n`` decimal
digits separated by spaces, e.g. ``"4 0 7 1"``). Inserted into training data, its
exposure says how much more likely the model finds the true secret than the other
secrets of the same format: ``log2 |R| - log2 rank``. The randomness space ``R`` is
enumerated when it is small enough, otherwise sampled uniformly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reliant.core.data import load_records
from reliant.core.errors import ConfigError, DataError
from reliant.memorization import metrics as M


@dataclass(frozen=True)
class Canary:
    prefix: str
    secret: str
    repetitions: int = 0  # times inserted into training data (0 = a held-out canary)


def secret_digits(secret: str) -> list[str]:
    return secret.split()


def format_secret(digits: Sequence[int | str]) -> str:
    return " ".join(str(d) for d in digits)


def make_canaries(n: int, n_digits: int = 4, *, seed: int = 0, template: str = "The secret code of {name} is") -> list[Canary]:
    """``n`` canaries with distinct fictitious names and random ``n_digits``-digit secrets."""
    from reliant.core.builtin_data import generate_people

    if n < 1 or n_digits < 1:
        raise ConfigError("need at least one canary of at least one digit", field="n_digits")
    rng = random.Random(f"reliant-canaries-{seed}")
    people = generate_people(n, seed=10_000 + seed)  # names from a stream the QA corpus never uses
    return [
        Canary(template.format(name=p.name), format_secret(rng.randrange(10) for _ in range(n_digits)))
        for p in people
    ]


def load_canaries(path: Any) -> list[Canary]:
    """Canaries from a file with ``prefix`` and ``secret`` (space-separated digits) and an
    optional ``repetitions``."""
    canaries = []
    for record in load_records(path):
        for name in ("prefix", "secret"):
            if not isinstance(record.get(name), str) or not record[name].strip():
                raise record.error("missing or empty (a canary needs 'prefix' and 'secret')", field=name)
        digits = record["secret"].split()
        if not all(len(d) == 1 and d.isdigit() for d in digits):
            raise record.error("must be single decimal digits separated by spaces, e.g. '4 0 7 1'", field="secret")
        reps = record.get("repetitions", 0)
        try:
            count = int(reps or 0)
            if isinstance(reps, bool) or (isinstance(reps, float) and reps != count):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise record.error(f"expected an integer, got {reps!r}", field="repetitions") from None
        if count < 0:
            raise record.error(f"must be >= 0 (times inserted; 0 = held out), got {count}", field="repetitions")
        reps = count
        canaries.append(Canary(record["prefix"].strip(), format_secret(digits), reps))
    return canaries


def canary_texts(canaries: Sequence[Canary]) -> list[str]:
    """Training texts that insert each canary ``repetitions`` times."""
    return [f"{c.prefix} {c.secret}" for c in canaries for _ in range(c.repetitions)]


def _candidate_secrets(canary: Canary, n_candidates: int | None, rng: np.random.Generator,
                       exact_up_to: int = 100_000) -> tuple[list[str], bool]:
    """Every other secret (exact) when the space has at most ``exact_up_to`` secrets, when
    ``n_candidates`` is None or when it would sample (nearly) all of them; otherwise
    ``n_candidates`` drawn uniformly without replacement."""
    n_digits = len(secret_digits(canary.secret))
    space = 10**n_digits
    if n_candidates is None or space <= exact_up_to or n_candidates >= space - 1:
        all_secrets = [format_secret(f"{i:0{n_digits}d}") for i in range(space)]
        return [s for s in all_secrets if s != canary.secret], True
    target = int("".join(secret_digits(canary.secret)))
    # Uniform without replacement over the space minus the canary: draw from space - 1
    # values and skip over the canary's own value.
    drawn = np.sort(rng.choice(space - 1, size=n_candidates, replace=False))
    chosen = [int(v) + (v >= target) for v in drawn]
    return [format_secret(f"{v:0{n_digits}d}") for v in chosen], False


def secret_nll(model: Any, tokenizer: Any, prefix: str, secrets: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Total negative log-likelihood of each secret after the prefix (its log-perplexity
    in the paper's sense, Def. 1)."""
    from reliant.core.models import answer_token_logprobs  # deliberately here: imports torch (start-up time)

    logps = answer_token_logprobs(model, tokenizer, [prefix] * len(secrets), list(secrets), batch_size=batch_size)
    return np.array([-float(t.sum()) for t in logps])


@dataclass
class ExposureResult:
    canaries: list[Canary]
    exposure: np.ndarray
    rank: np.ndarray  # exact rank, or the estimated rank |R| * fraction when sampled
    canary_nll: np.ndarray
    exact: bool
    max_exposure: float

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"prefix": c.prefix, "secret": c.secret, "repetitions": c.repetitions, "exposure": float(e),
             "rank": float(r), "nll": float(n)}
            for c, e, r, n in zip(self.canaries, self.exposure, self.rank, self.canary_nll)
        ]

    def by_repetitions(self) -> dict[int, float]:
        reps = np.array([c.repetitions for c in self.canaries])
        return {int(r): float(self.exposure[reps == r].mean()) for r in sorted(set(reps.tolist()))}


def canary_exposure(
    model: Any,
    tokenizer: Any,
    canaries: Sequence[Canary],
    *,
    n_candidates: int | None = 10_000,
    seed: int = 0,
    batch_size: int = 256,
    exact_up_to: int = 100_000,
    extrapolate: bool = True,
) -> ExposureResult:
    """Exposure of every canary. A space of at most ``exact_up_to`` secrets (or
    ``n_candidates=None``) is enumerated (:func:`metrics.exposure`, exact: up to
    ``log2 |R|`` bits, 13.29 for four digits). A larger one is sampled, ``n_candidates``
    other secrets uniformly without replacement (seed fixed per run), and the exposure read
    from a skew-normal fitted to their log-perplexities (:func:`metrics.exposure_extrapolated`,
    Carlini et al. 2019 Sec. 4.3, capped at ``log2 |R|``) or, with ``extrapolate=False``, from
    the sampled rank (:func:`metrics.exposure_sampled`, capped at ``log2(n + 1)``: the
    strongest canaries all read alike)."""
    if not canaries:
        raise DataError("no canaries to score")
    if n_candidates is not None and n_candidates < 1:
        raise ConfigError("n_candidates must be at least 1", field="n_candidates")
    rng = np.random.default_rng(seed)
    exposures, ranks, nlls = [], [], []
    exact_all = True
    max_exposure = np.inf
    from reliant.core.progress import track
    from reliant.memorization.lm import small_model_threads

    for canary in track(canaries, f"scoring {len(canaries)} canaries"):
        candidates, exact = _candidate_secrets(canary, n_candidates, rng, exact_up_to)
        with small_model_threads(model):
            scores = secret_nll(model, tokenizer, canary.prefix, [canary.secret, *candidates], batch_size)
        space = 10 ** len(secret_digits(canary.secret))
        if exact:
            value, rank = M.exposure(scores[0], scores[1:])
        else:
            if extrapolate:
                value = min(M.exposure_extrapolated(scores[0], scores[1:]), float(np.log2(space)))
            else:
                value = M.exposure_sampled(scores[0], scores[1:])
            rank = space * 2.0 ** (-value)
            exact_all = False
        bound = np.log2(space) if exact or extrapolate else np.log2(len(candidates) + 1)
        max_exposure = min(max_exposure, bound)
        exposures.append(value)
        ranks.append(rank)
        nlls.append(scores[0])
    return ExposureResult(list(canaries), np.array(exposures), np.array(ranks, dtype=float), np.array(nlls), exact_all, float(max_exposure))
