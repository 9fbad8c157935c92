"""Options of ``reliant collab analyze``, declared once.

Imports only the standard library and :mod:`reliant.core.config`, so ``reliant collab
--help`` and a bad flag load nothing heavy. The number of class names can only be checked
against the data (the number of columns), so that check stays in the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["CollabConfig", "DEFERRAL_NAMES"]

DEFERRAL_NAMES: tuple[str, ...] = ("confidence", "compare_confidence", "realizable_surrogate")
"""The registered deferral rules (reliant.collaboration.deferral.DEFERRAL_METHODS; a test
keeps the two equal), listed here so ``--help`` imports nothing."""


@dataclass
class CollabConfig:
    """Compare human and machine mistakes; fit deferral and combination teams; plot accuracy vs deferral rate."""

    machine_probs: Optional[Path] = option(None, "Machine probabilities, rows x classes (.npy/.csv/.txt/.pt/"
                                                 ".safetensors). Give this or --machine-logits.", path="file")
    machine_logits: Optional[Path] = option(None, "Machine logits, rows x classes (instead of --machine-probs).",
                                            path="file")
    human_votes: Optional[Path] = option(None, "Human vote counts (rows x classes) or one human label per row.",
                                         required=True, path="file")
    labels: Optional[Path] = option(None, "True labels, one integer per row.", required=True, path="file")
    second_machine_probs: Optional[Path] = option(None, "A second machine's probabilities on the same rows: adds "
                                                        "the AI-AI teams (machine A with machine B).", path="file")
    second_machine_logits: Optional[Path] = option(None, "A second machine's logits (instead of "
                                                         "--second-machine-probs).", path="file")
    features: Optional[Path] = option(None, "Features per row (rows x d, e.g. image embeddings) the learned "
                                            "deferral rules see besides the machine's log-probabilities.", path="file")
    deferral_methods: list[str] = option(list(DEFERRAL_NAMES), "Deferral rules, each cross-fitted: "
                                                               + ", ".join(DEFERRAL_NAMES) + ".",
                                         choices=DEFERRAL_NAMES)
    budget: Optional[float] = option(None, "Human-effort budget: defer at most about this share of rows "
                                           "(0-1; default: each rule's own threshold).", min=0, max=1)
    annotators: int = option(1, "Votes drawn per row to form 'the human' (0 = all of a row's votes).", min=0)
    folds: int = option(2, "Cross-fitting folds for the teams (each team is scored on rows it was not fitted on).",
                        min=2)
    alpha: float = option(1.0, "Dirichlet smoothing of the human confusion matrix.", gt=0)
    bins: int = option(5, "Quantile bins of difficulty (machine confidence, human agreement).", min=1)
    class_names: list[str] = option([], "Class names for plots, one per class, in class order.")
    seed: int = seed_option()

    def __post_init__(self) -> None:
        # ``class_names`` used to be one comma-separated string; a Python caller may still pass one.
        if isinstance(self.class_names, str):
            self.class_names = [name.strip() for name in self.class_names.split(",") if name.strip()]

    def validate(self) -> None:
        """Exactly one machine score file; at most one for the second machine; a rule to run."""
        if (self.machine_probs is None) == (self.machine_logits is None):
            raise ConfigError("give exactly one of --machine-probs or --machine-logits", field="machine_probs")
        if self.second_machine_probs is not None and self.second_machine_logits is not None:
            raise ConfigError("give --second-machine-probs or --second-machine-logits, not both",
                              field="second_machine_logits")
        if not self.deferral_methods:
            raise ConfigError("give at least one deferral method", field="deferral_methods")

    @property
    def machine_scores(self) -> tuple[Path, str, bool]:
        """The machine score file, its field name and whether it holds probabilities."""
        if self.machine_probs is not None:
            return Path(self.machine_probs), "machine_probs", True
        return Path(self.machine_logits), "machine_logits", False

    @property
    def second_machine_scores(self) -> tuple[Path, str, bool] | None:
        """The second machine's score file, its field name and whether it holds probabilities."""
        if self.second_machine_probs is not None:
            return Path(self.second_machine_probs), "second_machine_probs", True
        if self.second_machine_logits is not None:
            return Path(self.second_machine_logits), "second_machine_logits", False
        return None
