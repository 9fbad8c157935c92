"""The options of ``reliant unlearn run|eval|bench``, each declared once.

Three levels, never copied into each other:

* the command (``RunConfig``): model, data files, LoRA, checkpoints;
* its training section ``train`` (:class:`UnlearnSettings`): what trained the model, the
  object :func:`reliant.unlearning.api.unlearn` and the trainer take;
* ``train.method_params`` (:data:`MethodParams`): every registered method's own ``Params``
  (``beta`` of NPO/SimNPO/IdkDPO, ``retain_weight``, FLAT's ``divergence``...), generated
  from the registry so that each parameter is declared once, in its method's file.

YAML takes them nested (``train: {lr: 1e-4, method_params: {beta: 0.2}}``) or dotted
(``train.lr: 1e-4``); flags keep the leaf name (``--lr``, ``--beta``). This module imports
only the standard library, :mod:`reliant.core.config` and the method registry (which is
torch-free), so ``reliant unlearn --help`` and a bad flag never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError
from reliant.unlearning.methods import REGISTRY, available_methods, get_method
from reliant.unlearning.methods.base import method_params_section
from reliant.unlearning.methods.flat import FlatParams

__all__ = ["BenchConfig", "EvalConfig", "MethodParams", "RunConfig", "SPLITS", "UnlearnSettings", "bench_methods"]

MethodParams = method_params_section(REGISTRY.values())
"""The union of every registered method's ``Params`` (built when this module is imported)."""

SPLITS = {"forget01": 2, "forget05": 10, "forget10": 20}
"""TOFU forget splits and their number of forget authors (the last ones)."""


def _methods_help(prefix: str) -> str:
    return prefix + ", ".join(f"{name} ({cls.label})" for name, cls in REGISTRY.items()) + "."


def bench_methods() -> list[str]:
    """The methods ``unlearn bench`` runs by default: every registered one but retain-only FT."""
    return [name for name in available_methods() if REGISTRY[name].trains_on != "retain"]


@dataclass
class UnlearnSettings:
    """Hyper-parameters of one unlearning run (the defaults suit the tiny built-in LM)."""

    method: str = option("flat", _methods_help("Unlearning method: "), choices=available_methods)
    epochs: int = option(5, "Passes over the forget set (over the retain set for retain_ft).", min=1)
    lr: float = option(1e-4, "Peak learning rate (AdamW, linear warm-up and decay).", gt=0)
    batch_size: int = option(8, "Forget examples per step.", min=1)
    grad_accum: int = option(1, "Batches accumulated into one optimizer step.", min=1)
    weight_decay: float = option(0.01, "AdamW weight decay (not on norms and biases).", min=0)
    warmup_ratio: float = option(0.1, "Fraction of the optimizer steps spent warming up.", min=0, max=1)
    max_grad_norm: float = option(1.0, "Gradient clipping norm (0: no clipping).", min=0)
    max_length: int = option(192, "Longest question + answer, in tokens (longer ones are cut).", min=1)
    compile: bool = option(False, "torch.compile the model.")
    template_draw: str = option(
        "redraw", "Template answers (FLAT, IdkDPO): redraw a refusal for every forget question each epoch, as the "
        "official FLAT data pipeline does, or draw once for the whole run.", choices=("redraw", "once"),
    )
    seed: int = seed_option()
    method_params: MethodParams = field(default_factory=MethodParams)  # type: ignore[valid-type]

    def check(self) -> None:
        """Every value against its declaration (for settings built in Python; the command
        line checks them when it resolves its options). A bad one is a one-line ConfigError."""
        from reliant.core.config import replace_config

        get_method(self.method)  # "unknown method 'x' (methods: ...)"
        replace_config(self)


@dataclass
class RunConfig:
    """Unlearn a forget set from a model; writes the unlearned model, metrics and a report."""

    model: str = option("tiny", "Model to unlearn from: tiny, tiny:<name>, smollm2, an HF id or a local folder.")
    forget: Optional[str] = option(None, "Forget QA (jsonl/json/csv/parquet, an HF id, or tofu:forget05_perturbed).")
    retain: Optional[str] = option(
        None, "Retain QA, for the methods that use it ("
        + ", ".join(name for name, cls in REGISTRY.items() if "retain" in cls.needs) + ")."
    )
    templates: Optional[str] = option(
        None, "Template answers for the methods that use them ("
        + ", ".join(name for name, cls in REGISTRY.items() if "template" in cls.needs) + "; default: TOFU's idontknow list)."
    )
    eval_forget: Optional[str] = option(None, "Forget QA with perturbed answers to evaluate on (default: --forget).")
    eval_retain: Optional[str] = option(None, "Retain QA to evaluate on (default: --retain).")
    lora_r: int = option(0, "Train LoRA adapters of this rank instead of all weights (0: full fine-tuning).", min=0)
    checkpoint_every: int = option(0, "Save a resumable checkpoint every N epochs (0: off).", min=0)
    checkpoint_steps: int = option(0, "Save a resumable checkpoint every N optimizer steps (0: off).", min=0)
    checkpoint_dir: Optional[str] = option(None, "Checkpoint folder (default: <out>.checkpoints beside the run folder).")
    resume: Optional[str] = option(
        None, "Checkpoint folder of an interrupted run to continue from (same settings).", path="dir"
    )
    save_model: bool = option(True, "Save the unlearned model in the run folder (model/).")
    train: UnlearnSettings = field(default_factory=UnlearnSettings)

    def validate(self) -> None:
        method = get_method(self.train.method)
        if method.trains_on == "forget" and not self.forget:
            raise ConfigError("--forget FILE is required", field="forget")
        if "retain" in method.needs and not self.retain:
            raise ConfigError(f"method {method.name!r} needs --retain FILE", field="retain")


@dataclass
class EvalConfig:
    """TOFU and MUSE metrics for a model (and forget quality/PrivLeak against a retrained one)."""

    model: str = option("tiny", "Model to evaluate: tiny, a run folder's model/, an HF id or a local folder.")
    forget: Optional[str] = option(None, "Forget QA (TOFU *_perturbed format for the truth ratio), or tofu:<split>.")
    retain: Optional[str] = option(None, "Retain QA (e.g. tofu:retain_perturbed).")
    real_authors: Optional[str] = option(None, "TOFU real_authors_perturbed (or tofu:real_authors_perturbed).")
    world_facts: Optional[str] = option(None, "TOFU world_facts_perturbed (or tofu:world_facts_perturbed).")
    retrained_model: Optional[str] = option(None, "Retain-only model, for forget quality and PrivLeak.")
    retain_logs: Optional[str] = option(
        None, "A stored evaluation of the retain-only model in OpenUnlearning's format (TOFU_EVAL.json: "
        "forget_truth_ratio value_by_index, mia_min_k agg_value), used instead of --retrained-model; "
        "every eval run writes one.", path="file",
    )
    muse: Optional[str] = option(None, "Folder of MUSE files (knowmem_*, verbmem_forget, privleak_*).", path="dir")
    max_new_tokens: int = option(200, "Longest greedy TOFU answer, in tokens (TOFU / OpenUnlearning: 200; MUSE's "
                                 "VerbMem and KnowMem keep their own 128 and 32).", min=1)
    batch_size: int = option(16, "Questions scored per batch.", min=1)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.retain_logs and self.retrained_model:
            raise ConfigError("give --retrained-model or --retain-logs, not both", field="retain_logs")
        if not any((self.forget, self.retain, self.real_authors, self.world_facts, self.muse)):
            raise ConfigError(
                "give at least one evaluation set (--forget, --retain, --real-authors, --world-facts) or --muse",
                field="forget",
            )


@dataclass
class BenchConfig:
    """Every method on a TOFU split with tiny LMs: table, trade-off plot, sample generations."""

    split: str = option("forget05", "TOFU split to forget.", choices=tuple(SPLITS))
    methods: list[str] = option(
        default_factory=bench_methods, help=_methods_help("Methods to run (default: all but retain_ft): "),
        choices=available_methods,
    )
    epochs: int = option(5, "Unlearning epochs per method.", min=1)
    # 125 steps on forget05: at the demo's 3e-4 GA, NPO, SimNPO and FLAT collapse the tiny LM.
    lr: Optional[float] = option(1e-4, "Learning rate of every method (TOFU-style: one rate for all).", gt=0)
    batch_size: int = option(8, "Forget examples per step.", min=1)
    flat: FlatParams = field(default_factory=FlatParams)
    target_epochs: int = option(30, "Epochs of the target and retrained tiny LMs (cached once built).", min=1)
    eval_retain: int = option(100, "Retain questions scored per model.", min=1)
    max_new_tokens: int = option(200, "Longest greedy TOFU answer, in tokens (TOFU / OpenUnlearning: 200).", min=1)
    samples: int = option(4, "Forget questions whose generations the report shows.", min=0)
    seed: int = seed_option()

    def validate(self) -> None:
        if not self.methods:
            raise ConfigError("give at least one method", field="methods")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"a method is listed twice ({','.join(self.methods)})", field="methods")
