"""Options of the ``reliant curate`` commands, declared once (standard library only).

HOC's and SimiFeat's own parameters are nested sections (:class:`HocParams`,
:class:`SimiFeatParams`) shared by ``diagnose``, ``detect`` and ``select``; the rater's are
:class:`RaterParams`, shared by ``rate`` and ``select``. On the command line a nested field
keeps its own name (``--hoc-rounds``, ``--detect-rounds``, ``--max-new-tokens``); in YAML it
may be given nested (``hoc: {hoc_rounds: 10}``), dotted (``hoc.hoc_rounds: 10``) or by its
own name (``hoc_rounds: 10``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = [
    "CheckParams",
    "DETECT_METHODS",
    "DetectConfig",
    "DiagnoseConfig",
    "GRAPH_BACKENDS",
    "HocParams",
    "NUM_LEVELS",
    "RateConfig",
    "RaterParams",
    "SIMIFEAT_METHODS",
    "SelectConfig",
    "SimiFeatParams",
]

#: k-NN graph backends: exact search, faiss inverted file (approximate), or auto by pool size.
GRAPH_BACKENDS = ("auto", "exact", "ivf")
#: SimiFeat's two detectors.
SIMIFEAT_METHODS = ("rank", "vote")
#: Detectors of ``curate detect``: SimiFeat's two, or cleanlab's find_label_issues on --pred-probs.
DETECT_METHODS = SIMIFEAT_METHODS + ("cleanlab",)
#: What to do with pool records whose required fields are empty.
EMPTY_FIELD_RULES = ("refuse", "drop", "score0")
#: What a flagged row's SimiFeat round proposes (see SimiFeatParams.suggestion).
SUGGESTION_RULES = ("winner", "runner_up")
#: How SimiFeat-rank's per-class rates are clipped (see SimiFeatParams.rank_clip).
RANK_CLIPS = ("official", "range")
#: Rating prompts: DS2's released prompt, or reliant's earlier one.
RATING_PROMPTS = ("official", "reliant")
#: How a rating is read from the rater: its generated JSON, or its probabilities of 1..10.
RATING_MODES = ("generate", "likelihood")
#: Feature transforms before HOC/SimiFeat (see curation.checks).
FEATURE_TRANSFORMS = ("auto", "none", "log")
#: What the feature check does with hopeless features.
FEATURE_CHECKS = ("refuse", "warn", "off")
#: DS2's score levels (a 1-10 LLM rating compressed to 0..5).
NUM_LEVELS = 6


@dataclass
class HocParams:
    """HOC: consensus counts over subsample rounds, then the consensus equations solved."""

    hoc_rounds: int = option(50, "HOC subsample rounds whose consensus counts are averaged (official Docta/DS2: "
                                 "50; reliant before 0.2: 20).", min=1)
    hoc_fraction: float = option(0.8, "Share of the rows drawn in each HOC round.", gt=0, max=1)
    hoc_steps: int = option(1500, "Optimiser steps solving the HOC consensus equations for T and p.", min=1)


@dataclass
class SimiFeatParams:
    """SimiFeat: k-NN label votes over subsample rounds."""

    neighbors: int = option(10, "Nearest neighbours whose labels vote on each sample (SimiFeat).", min=1)
    detect_rounds: int = option(51, "SimiFeat subsample rounds; a sample is flagged when most of its rounds flag it "
                                    "(official: 51; reliant before 0.2: 11).", min=1)
    detect_fraction: float = option(0.9, "Share of the rows drawn in each SimiFeat round.", gt=0, max=1)
    suggestion: str = option("winner", "What a flagged row's round counts as its suggested label: winner (the vote "
                                       "winner, even when it is the row's own label, as the official code does) or "
                                       "runner_up (the best other label; reliant before 0.2).",
                             choices=SUGGESTION_RULES)
    rank_clip: str = option("official", "How SimiFeat-rank clips its per-class flag rates: official (only rates "
                                        "<= 0 become 0.05 and >= 1 become 0.95) or range (every rate clipped to "
                                        "[0.05, 0.95]; reliant before 0.2).", choices=RANK_CLIPS)


@dataclass
class CheckParams:
    """The feature check before HOC/SimiFeat and the warnings after HOC (curation.checks)."""

    feature_transform: str = option("auto", "Transform of the features before the k-NN graph: auto (log of "
                                            "probability rows, i.e. rows of non-negative numbers summing to 1), "
                                            "log, or none.", choices=FEATURE_TRANSFORMS)
    feature_check: str = option("refuse", "Hopeless features (labels of neighbours agree no more than chance, "
                                          "constant or mostly zero rows): refuse, warn, or off.",
                                choices=FEATURE_CHECKS)
    max_noise_rate: float = option(0.5, "Warn when HOC estimates a higher noise rate than this.", gt=0, max=1)


@dataclass
class RaterParams:
    """How the LLM rater is asked."""

    prompt: str = option("official", "Rating prompt: official (DS2's released prompt, with its instruction not to "
                                     "concentrate the ratings, keys Rarity/Complexity/Informativeness/Overall "
                                     "rating) or reliant (reliant's earlier prompt).", choices=RATING_PROMPTS)
    rating_mode: str = option("generate", "How the rating is read: generate (the rater writes the JSON rating and "
                                          "it is parsed, as DS2 does) or likelihood (one forward pass: the most "
                                          "probable overall rating 1-10 after the reply is begun with the "
                                          "prompt's overall key, and the probability-weighted mean kept; every "
                                          "record is rated; needs a rater that scores text).",
                              choices=RATING_MODES)
    max_retries: int = option(3, "Re-asks (sampling at temperature 0.7) per reply that does not parse (official: "
                                 "3).", min=0)
    max_new_tokens: int = option(128, "Tokens the rater may generate per reply (official: 128).", min=1)


def _check_cache_folder(path: Optional[Path]) -> None:
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ConfigError("is a file, expected a folder to keep embeddings in", file=path, field="embedding_cache")


@dataclass
class _LabelledInputs:
    """Features (or texts to embed) and noisy labels, shared by ``diagnose`` and ``detect``."""

    features: Optional[Path] = option(None, "Feature/embedding array (.npy/.csv/.txt/.pt/.safetensors), rows x dims.",
                                      path="file")
    labels: Optional[Path] = option(None, "Noisy labels, one integer per row (array file); with --data, replaces "
                                          "its label field.", path="file")
    data: Optional[str] = option(None, "Records (jsonl/json/csv/parquet or HF dataset id) with texts to embed "
                                       "instead of --features, and labels.")
    text_field: str = option("text", "Text field of --data.")
    label_field: str = option("label", "Label field of --data (used when --labels is not given).")
    clean_labels: Optional[Path] = option(None, "Known clean labels (array file), to score the estimate.", path="file")
    num_classes: Optional[int] = option(None, "Number of classes (default: largest label + 1).", min=2)
    embedding_cache: Optional[Path] = option(None, "Folder where the embeddings of --data are cached between runs.")
    knn_backend: str = option("auto", "k-NN graph: exact, ivf (faiss inverted file, approximate, its probed "
                                      "cells chosen for recall@k 0.97 against exact search on 500 rows; for very "
                                      "large pools) or auto (ivf from 60,000 rows).", choices=GRAPH_BACKENDS)
    checks: CheckParams = field(default_factory=CheckParams)

    def validate(self) -> None:
        if self.features is not None and self.data is not None:
            raise ConfigError("give --features or --data (texts to embed), not both", field="features")
        if self.features is None and self.data is None:
            raise ConfigError("give --features (an array file) or --data (a records file with texts)",
                              field="features")
        if self.features is not None and self.labels is None:
            raise ConfigError("give --labels (one integer label per row)", field="labels")
        _check_cache_folder(self.embedding_cache)


@dataclass
class DiagnoseConfig(_LabelledInputs):
    """Estimate the noise transition matrix T, the clean prior p and the noise rate (HOC)."""

    neighbors: int = option(10, "Nearest neighbours kept per sample in the k-NN graph (HOC uses the two nearest "
                                "that fall in each round's subsample; the rest are spares).", min=1)
    rater_labels: Optional[str] = option(None, "Comma list of 3 or more label files, one per rater, each labelling "
                                               "the same items: HOC given the 2-NN (the other raters play the "
                                               "neighbours) estimates one T per rater; no features needed.")
    hoc: HocParams = field(default_factory=HocParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.rater_labels is not None:
            files = [f for f in (x.strip() for x in self.rater_labels.split(",")) if f]
            if len(files) < 3:
                raise ConfigError(f"needs 3 or more label files (comma-separated), got {len(files)}",
                                  field="rater_labels")
            for f in files:
                if not Path(f).is_file():
                    raise ConfigError("no such file", file=f, field="rater_labels")
            if self.features is not None or self.data is not None or self.labels is not None:
                raise ConfigError("give --rater-labels alone, or --features/--data with --labels", field="rater_labels")
            return
        super().validate()


@dataclass
class DetectConfig(_LabelledInputs):
    """Flag mislabelled samples with SimiFeat (k-NN label votes, ranked per class); writes flagged.jsonl."""

    method: str = option("rank", "Detector: SimiFeat rank (per-class cut from the HOC estimate), SimiFeat vote "
                                 "(local majority), or cleanlab (find_label_issues on --pred-probs).",
                         choices=DETECT_METHODS)
    pred_probs: Optional[Path] = option(None, "Out-of-sample predicted probabilities (rows x classes array file), "
                                              "e.g. cross-validated: run cleanlab and the argmax baseline on them; "
                                              "without --features/--data they are also SimiFeat's features.",
                                        path="file")
    baseline: bool = option(True, "Also run cleanlab's find_label_issues (on --pred-probs, else on k-NN pred_probs) "
                                  "and the argmax(pred_probs) != label baseline.")
    datalab: bool = option(False, "Also run cleanlab's Datalab checks (outliers, near duplicates, class imbalance, "
                                  "non-IID order, underperforming groups, null features) into the same report.")
    hoc: HocParams = field(default_factory=HocParams)
    simifeat: SimiFeatParams = field(default_factory=SimiFeatParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.features is None and self.data is None and self.pred_probs is not None:
            if self.labels is None:
                raise ConfigError("give --labels (one integer label per row)", field="labels")
            _check_cache_folder(self.embedding_cache)
            return
        super().validate()


@dataclass
class RateConfig:
    """Rate each pool sample with an LLM (DS2 prompt) and write 6-level scores (scores.npy)."""

    pool: Optional[str] = option(None, "Alpaca-format pool (instruction, optional input, output): a "
                                       "jsonl/json/csv/parquet file or HF dataset id.", required=True)
    rater: Optional[str] = option(None, "LLM backend spec of the rater: tiny, hf:<id-or-path>, "
                                        "openai:<model>@<url>.", required=True)
    empty_fields: str = option("refuse", "Records with an empty instruction or output: refuse the pool (listing "
                                         "every one), drop them, or score0 (keep them, not rated, score 0).",
                               choices=EMPTY_FIELD_RULES)
    rating: RaterParams = field(default_factory=RaterParams)
    seed: int = seed_option()


@dataclass
class SelectConfig:
    """DS2: curate LLM scores (HOC + SimiFeat), add a long-tail score, select --budget samples; with baselines."""

    pool: Optional[str] = option(None, "Alpaca-format pool (instruction, optional input, output): a "
                                       "jsonl/json/csv/parquet file or HF dataset id.", required=True)
    scores: Optional[Path] = option(None, "Scores 0..5 per pool sample (array file, e.g. scores.npy of "
                                          "`reliant curate rate`).", path="file")
    rater: Optional[str] = option(None, "Rate the pool with this LLM backend instead of --scores: tiny, "
                                        "hf:<id-or-path>, openai:<model>@<url>.")
    budget: Optional[int] = option(None, "How many samples to select.", required=True, min=1)
    embeddings: Optional[Path] = option(None, "Precomputed pool embeddings (array file, rows x dims); default: "
                                              "embed the pool with the packaged MiniLM.", path="file")
    embedding_cache: Optional[Path] = option(None, "Folder where the pool's embeddings are cached between runs.")
    threshold: float = option(0.5, "Confidence a SimiFeat suggestion needs to replace a flagged score.", min=0, max=1)
    long_tail_neighbors: int = option(10, "Nearest neighbours whose mean distance gives the long-tail score.", min=1)
    max_similarity: float = option(0.9, "Cosine similarity above which the DEITA-style baseline skips a sample.",
                                   min=-1, max=1)
    knn_backend: str = option("auto", "k-NN graph: exact, ivf (faiss inverted file, approximate, its probed "
                                      "cells chosen for recall@k 0.97 against exact search on 500 rows; for very "
                                      "large pools) or auto (ivf from 60,000 rows).", choices=GRAPH_BACKENDS)
    empty_fields: str = option("refuse", "Records with an empty instruction or output: refuse the pool (listing "
                                         "every one), drop them, or score0 (keep them with score 0).",
                               choices=EMPTY_FIELD_RULES)
    duplicate_pool: bool = option(False, "Curate the pool concatenated with itself, as the official DS2 code does "
                                         "(every row's twin is a neighbour candidate); off by default.")
    hoc: HocParams = field(default_factory=HocParams)
    simifeat: SimiFeatParams = field(default_factory=SimiFeatParams)
    checks: CheckParams = field(default_factory=CheckParams)
    rating: RaterParams = field(default_factory=RaterParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if (self.scores is None) == (not self.rater):
            raise ConfigError("give exactly one of --scores FILE or --rater BACKEND", field="scores")
        _check_cache_folder(self.embedding_cache)
