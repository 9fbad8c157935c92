"""Options of ``reliant hallucination score`` and ``simulate``, declared once.

FEWL's own parameters are one dataclass, :class:`FEWLParams`, nested in the score command's
config as the ``fewl`` section (YAML ``fewl: {neighbors: 8}`` or ``fewl.neighbors: 8``; the
flag keeps its own name, ``--neighbors``). This module imports only the standard library and
:mod:`reliant.core.config`, so ``--help`` and a bad flag never load numpy or torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from reliant.core.config import option, replace_config, seed_option
from reliant.core.errors import ConfigError

__all__ = ["DIVERGENCE_NAMES", "FEWLParams", "SIMULATE_SOURCES", "ScoreConfig", "SimulateConfig"]

# The keys of reliant.hallucination.fewl.DIVERGENCES (that module imports numpy; a test keeps
# the two equal).
DIVERGENCE_NAMES = ("tv", "kl", "js", "pearson", "hellinger")
WEIGHTINGS = ("expertise", "uniform")
SIMULATE_SOURCES = ("builtin", "truthfulqa", "chale")


@dataclass
class FEWLParams:
    """FEWL's knobs; the module docstring of :mod:`~reliant.hallucination.fewl` explains each."""

    neighbors: int = option(25, "Neighbouring questions (k-NN) whose reference answers give the laziness penalty "
                                "(>= 1 with the penalty on).", min=0)
    neighbor_max_sim: float = option(0.95, "Neighbours more similar than this to the question are skipped "
                                           "(near-duplicates).", gt=0, max=1)
    divergence: str = option("tv", "f-divergence of the agreement term.", choices=DIVERGENCE_NAMES)
    temperature: float = option(0.1, "Softmax temperature of the reference expertise weights.", gt=0)
    weighting: str = option("expertise", "Reference weights: expertise (FEWL) or uniform.", choices=WEIGHTINGS)
    laziness_penalty: bool = option(True, "Subtract the penalty for answers that fit neighbouring questions too.")
    penalty_weighting: str = option("expertise", "Weights inside the laziness penalty.", choices=WEIGHTINGS)
    diversity_weighting: bool = option(True, "Down-weight generic references: multiply each reference's weight by its "
                                             "answer diversity across neighbouring questions (1 - mean similarity of "
                                             "its own answers to them); one that always says the same gets ~0.")
    threshold: str | float = option("none", "Hallucination verdict threshold: 'none' (scores only; the default, "
                                            "since no threshold is calibrated without gold labels), 'auto' (per "
                                            "question, midway between its IW and CO answers' scores; uncalibrated) "
                                            "or a number.")
    baseline_reference: int = option(0, "Index of the reference LLM used by the single-reference baseline.", min=0)

    def validate(self) -> None:
        if (self.laziness_penalty or self.diversity_weighting) and self.neighbors < 1:
            raise ConfigError(f"must be >= 1 with the laziness penalty or diversity weighting on (or give "
                              f"--no-laziness-penalty --no-diversity-weighting), got {self.neighbors}", field="neighbors")
        if self.threshold not in ("auto", "none"):
            try:
                value = float(self.threshold)
            except (TypeError, ValueError):
                raise ConfigError(f"must be 'none', 'auto' or a number, got {self.threshold!r}", field="threshold") from None
            if not math.isfinite(value):
                raise ConfigError(f"must be 'none', 'auto' or a finite number, got {self.threshold!r}", field="threshold")

    def check(self) -> None:
        """Every declared range and choice, and :meth:`validate` (for parameters built in Python)."""
        replace_config(self)


@dataclass
class ScoreConfig:
    """Score candidate answers with FEWL; writes scores.jsonl, weights.jsonl, metrics.json and report.html."""

    data: Optional[str] = option(None, "Questions and candidate answers (jsonl/json/csv/parquet or HF dataset id); "
                                       "`reliant hallucination simulate` writes one (records.jsonl).",
                                 required=True)
    references: Optional[str] = option(None, "Separate file of reference answers (joined on id or by line).")
    reference_llm: list[str] = option([], "Reference LLM specs whose answers become references: tiny, "
                                          "hf:<id-or-path>, openai:<model>@<url>.")
    wrong_llm: Optional[str] = option(None, "LLM spec that writes intentionally wrong (IW) answers and their "
                                            "corrections (CO).")
    n_wrong: int = option(5, "IW answers generated per question (with --wrong-llm).", min=1)
    correct: bool = option(True, "Also ask --wrong-llm to correct each IW answer (CO answers).")
    sample_llm: list[str] = option([], "MODEL=SPEC pairs: sample that candidate's LLM for the self-consistency "
                                       "baseline.")
    n_samples: int = option(5, "Sampled answers per question (with --sample-llm).", min=1)
    model_name: str = option("candidate", "Name of the candidate when lines give a single 'answer'.")
    answers_from: Optional[str] = option(None, "Reuse the LLM answers (references, IW/CO, samples) saved in "
                                               "generated.jsonl of an earlier score run folder instead of asking "
                                               "the LLMs again.")
    wrong_temperature: float = option(1.0, "Sampling temperature of the IW answers (--wrong-llm).", min=0)
    sample_temperature: float = option(1.0, "Sampling temperature of the candidate's samples (--sample-llm).", min=0)
    similarity: str = option("cosine", "Consistency scorer: cosine (sentence embeddings, --embedder), exact, "
                                       "nli:<cross-encoder id or path>, or judge:<llm spec> (e.g. judge:smollm2; "
                                       "agreement = p(Yes) from log-probabilities).")
    embedder: str = option("all-MiniLM-L6-v2", "Sentence-embedding model of --similarity cosine (and of the "
                                               "question neighbours), or 'exact' (identical text = 1).")
    selfcheck_nli: Optional[str] = option(None, "NLI cross-encoder for the SelfCheckGPT-NLI baseline (default: the "
                                                "--similarity nli: model, if any).")
    selfcheck_llm: Optional[str] = option(None, "LLM spec for the SelfCheckGPT-prompt baseline (default: the "
                                                "--similarity judge: LLM, if any).")
    sentence_scores: bool = option(True, "Also score each sentence of multi-sentence answers (sentences.jsonl).")
    device: str = option("auto", "Device of the NLI model: auto, cpu, cuda, cuda:N or mps.")
    embedding_cache: Optional[str] = option(None, "Folder where embeddings are cached between runs.")
    fewl: FEWLParams = field(default_factory=FEWLParams)
    select: int = option(0, "Write the K best-scored answers to selected.jsonl (ICL/SFT data); 0 = none.", min=0)
    limit: Optional[int] = option(None, "Score only the first N questions.", min=1)
    max_new_tokens: int = option(64, "Tokens each LLM may generate per answer.", min=1)
    seed: int = seed_option()

    def validate(self) -> None:
        try:
            self.fewl.validate()
        except ConfigError as exc:  # name the field by its place in this config
            raise ConfigError(exc.message, field=f"fewl.{exc.field}") from None
        if self.answers_from is not None and (self.reference_llm or self.wrong_llm or self.sample_llm):
            raise ConfigError("--answers-from replaces --reference-llm, --wrong-llm and --sample-llm; give one or "
                              "the other", field="answers_from")
        for entry in self.sample_llm:
            model, sep, spec = entry.partition("=")
            if not sep or not model.strip() or not spec.strip():
                raise ConfigError(f"expected MODEL=SPEC, got {entry!r}", field="sample_llm")

    def sample_llms(self) -> dict[str, str]:
        """``--sample-llm`` as ``{candidate model: backend spec}``."""
        pairs = (entry.partition("=") for entry in self.sample_llm)
        return {model.strip(): spec.strip() for model, _, spec in pairs}


@dataclass
class SimulateConfig:
    """Write simulated candidates and reference LLMs of known expertise (records.jsonl, for checking FEWL offline)."""

    source: str = option("builtin", "Labelled answer pools: builtin (shipped fictitious people), truthfulqa (CSV) "
                                    "or chale (JSON).", choices=SIMULATE_SOURCES)
    data: Optional[str] = option(None, "Data file of --source truthfulqa (CSV) or chale (JSON).")
    limit: Optional[int] = option(200, "Number of questions (a random subset).", min=1)
    n_models: int = option(6, "Candidate models, of evenly spread accuracy.", min=1)
    n_wrong: int = option(5, "Intentionally wrong (IW) answers per question.", min=1)
    n_samples: int = option(3, "Sampled answers per candidate and question (self-consistency); 0 = none.", min=0)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.source != "builtin" and self.data is None:
            raise ConfigError(f"--source {self.source} needs --data, the path to its data file", field="data")
