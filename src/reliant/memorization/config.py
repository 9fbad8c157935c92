"""Options of ``reliant memorization audit``, ``canaries`` and ``counterfactual``, declared once.

This module imports only the standard library and :mod:`reliant.core.config`, so ``--help``
and a bad flag never load numpy or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["ATTACK_NAMES", "DEFAULT_ATTACKS", "AuditConfig", "CanaryConfig", "CounterfactualConfig", "MIAParams"]

# The names of the attack registry, reliant.memorization.attacks.ATTACK_REGISTRY (that
# module imports numpy; a test keeps the two equal).
ATTACK_NAMES = ("loss", "zlib", "reference", "min_k", "min_k_pp", "gradnorm", "recall", "dc_pdd", "rmia",
                "neighbourhood")
# Run by default: every attack that needs nothing the user must add (the neighbourhood attack
# needs a paraphrasing LLM and minutes of generation).
DEFAULT_ATTACKS = ATTACK_NAMES[:-1]


@dataclass
class MIAParams:
    """Parameters of the newer attacks (module docstring of reliant.memorization.attacks)."""

    recall_prefix: Optional[str] = option(None, "ReCaLL: file of non-member texts to condition on (default: the "
                                                "first --recall-shots non-members, then left out of every attack's "
                                                "evaluation).", path="file")
    recall_shots: int = option(5, "ReCaLL: non-member texts in the prefix.", min=1)
    dc_pdd_bound: float = option(0.01, "DC-PDD: upper bound a of each token's score.", gt=0)
    frequency_corpus: Optional[str] = option(None, "DC-PDD: texts whose token frequencies calibrate the scores "
                                                   "(default: members and non-members pooled, labels unused).",
                                             path="file")
    rmia_a: float = option(0.3, "RMIA (offline): a in p(x) = ((1 + a) p_ref(x) + 1 - a) / 2.", min=0, max=1)
    rmia_gamma: float = option(1.0, "RMIA: likelihood-ratio threshold gamma against population texts.", gt=0)
    neighbour_llm: str = option("smollm2", "Neighbourhood attack: LLM spec that paraphrases each text.")
    n_neighbours: int = option(5, "Neighbourhood attack: paraphrases per text.", min=1)
    neighbour_max_new_tokens: int = option(64, "Neighbourhood attack: tokens per paraphrase.", min=1)

_DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps."


@dataclass
class AuditConfig:
    """Score a model on member and non-member texts with every membership attack."""

    model: Optional[str] = option(None, "Model to audit: tiny:<name>, a Hugging Face id, a local folder, or "
                                        "openai:<model>@<url> (a completions endpoint with echo and logprobs; "
                                        "log-probability attacks only). Omit --model, --members and --nonmembers "
                                        "for the built-in experiment.")
    members: Optional[str] = option(None, "Texts the model was trained on (jsonl/json/csv/parquet with 'text', or "
                                          "'question' and 'answer'; or a JSON list of strings).")
    nonmembers: Optional[str] = option(None, "Texts it was not trained on, same format.")
    reference: Optional[str] = option(None, "Reference model for the reference-ratio and RMIA attacks (same forms "
                                            "as --model).")
    attacks: list[str] = option(list(DEFAULT_ATTACKS), "Membership attacks to run (neighbourhood also needs "
                                                       "--neighbour-llm).", choices=ATTACK_NAMES)
    min_k_fraction: float = option(0.2, "Fraction of lowest-probability tokens scored by Min-K% and Min-K%++.",
                                   gt=0, max=1)
    extract: bool = option(True, "Also test greedy extraction of member suffixes.")
    prefix_tokens: int = option(32, "Prefix length (tokens) for extraction from plain texts.", min=1)
    suffix_tokens: int = option(32, "Suffix length (tokens) for extraction from plain texts.", min=1)
    batch_size: int = option(16, "Texts scored per batch.", min=1)
    max_length: int = option(512, "Tokens scored per text at most.", min=1)
    limit: Optional[int] = option(None, "Use only the first N records of each file.", min=1)
    device: str = option("auto", _DEVICE_HELP)
    control: bool = option(True, "Built-in experiment: also audit the never-trained control model.")
    mia: MIAParams = field(default_factory=MIAParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if not self.attacks:
            raise ConfigError(f"give at least one attack (choose from: {', '.join(ATTACK_NAMES)})", field="attacks")
        given = {"model": self.model, "members": self.members, "nonmembers": self.nonmembers}
        missing = [name for name, value in given.items() if value is None]
        if missing and len(missing) < len(given):
            raise ConfigError("give --model, --members and --nonmembers together (or none of them for the built-in "
                              "experiment)", field=missing[0])

    @property
    def builtin(self) -> bool:
        """No model and no files: the built-in target/reference tiny-LM experiment."""
        return self.model is None and self.members is None and self.nonmembers is None


@dataclass
class CanaryConfig:
    """Exposure of inserted canaries (secret sharer)."""

    model: Optional[str] = option(None, "Model to test (tiny:<name>, a Hugging Face id or a local folder); omit "
                                        "--model and --canaries for the built-in experiment.")
    canaries: Optional[str] = option(None, "File of canaries: 'prefix', 'secret' (digits separated by spaces) and "
                                           "optional 'repetitions'.")
    exact_up_to: int = option(100_000, "Enumerate every secret (exact exposure) when the space has at most this "
                                       "many; above it, sample --n-candidates.", min=1)
    n_candidates: int = option(10_000, "Other secrets sampled per canary when the space is larger than "
                                       "--exact-up-to; 0 always enumerates.", min=0)
    extrapolate: bool = option(True, "With sampling, fit a skew-normal to the sampled log-perplexities (Carlini et "
                                     "al. 2019, Sec. 4.3) instead of the sampled rank, which caps at log2(n+1).")
    batch_size: int = option(256, "Secrets scored per batch.", min=1)
    device: str = option("auto", _DEVICE_HELP)
    seed: int = seed_option()

    def validate(self) -> None:
        if (self.model is None) != (self.canaries is None):
            raise ConfigError("give --model and --canaries together (or neither for the built-in experiment)",
                              field="model" if self.model is None else "canaries")


@dataclass
class CounterfactualConfig:
    """Counterfactual memorization, forgetting events and LiRA on a small classifier."""

    data: Optional[str] = option(None, "Records with 'features' (a list of numbers) and 'label' (an integer >= 0), "
                                       "optionally 'true_label'; default: scikit-learn's digits with flipped labels.")
    noise: float = option(0.05, "Fraction of flipped labels in the built-in digits.", min=0, lt=1)
    n_models: int = option(16, "Models trained on random subsets.", min=2)
    inclusion: float = option(0.5, "Probability that an example is in a model's subset.", gt=0, lt=1)
    epochs: int = option(60, "Training epochs of each model.", min=1)
    hidden: int = option(256, "Hidden units of the MLP.", min=1)
    lr: float = option(1e-2, "Adam learning rate.", gt=0)
    lira_targets: int = option(4, "Models used in turn as the LiRA target (the others are its shadows).", min=1)
    seed: int = seed_option()
