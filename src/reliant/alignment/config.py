"""The options of ``reliant align isara``, declared once.

Three levels, never copied into each other: the command (:class:`IsaraConfig`: model, files,
rounds, generation, evaluation, baselines), its ``filters`` section (:class:`FilterSettings`: the
dedupe, length and judge filters) and its ``sft`` section (:class:`SFTSettings`: what
:func:`reliant.alignment.sft.sft_config` turns into a ``trl.SFTConfig``; TRL's own fields are
not restated). YAML takes the sections nested (``sft: {lr: 1e-4}``) or dotted; flags keep the
leaf name (``--lr``). This module imports only the standard library and :mod:`reliant.core.config`,
so ``reliant align --help`` and a bad flag never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from reliant.alignment.domains import DOMAIN_NAMES
from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["BASELINES", "FilterSettings", "IsaraConfig", "SFTSettings"]

BASELINES: tuple[str, ...] = ("base", "seed_sft", "icl_knn")
"""Baselines run beside ISARA: the base model, LoRA SFT on the seeds only, and retrieval ICL
(the k nearest seeds as in-context examples, no fine-tuning: the paper's ICL-kNN)."""


@dataclass
class SFTSettings:
    """LoRA supervised fine-tuning of one round (TRL ``SFTTrainer``)."""

    epochs: int = option(3, "Passes over a round's training set (the seeds and every sample kept so far).", min=1)
    lr: float = option(2e-4, "Peak learning rate (AdamW, linear decay).", gt=0)
    batch_size: int = option(8, "Samples per device and step.", min=1)
    grad_accum: int = option(1, "Batches accumulated into one optimizer step.", min=1)
    warmup_ratio: float = option(0.0, "Fraction of the steps spent warming up.", min=0, lt=1)
    max_length: int = option(256, "Longest prompt + response in tokens (longer ones are cut).", min=16)
    lora_r: int = option(8, "Rank of the LoRA adapters.", min=1)
    lora_alpha: int = option(16, "LoRA alpha (the adapters' scale is alpha / r).", min=1)
    lora_dropout: float = option(0.0, "Dropout on the LoRA inputs.", min=0, lt=1)


@dataclass
class FilterSettings:
    """Which generated samples are kept."""

    max_rouge_l: float = option(
        0.7, "Drop a sample whose prompt has ROUGE-L F1 above this with a seed or an already kept prompt.", min=0, max=1
    )
    min_prompt_words: int = option(3, "Fewest words a generated prompt may have.", min=1)
    max_prompt_words: int = option(150, "Most words a generated prompt may have.", min=1)
    min_response_words: int = option(3, "Fewest words a generated response may have.", min=1)
    max_response_words: int = option(400, "Most words a generated response may have.", min=1)
    judge: str = option(
        "self", "Quality judge: self (the model being aligned, this round), none, or an LLM backend spec "
        "(tiny, smollm2, hf:<id-or-path>, openai:<model>@<url>).",
    )
    judge_threshold: float = option(
        0.0, "Keep a sample when the judge's log P(Yes) - log P(No) is above this.", allow_nonfinite=False
    )
    fewl_references: list[str] = option(
        default_factory=list, help="FEWL filter (off when empty): LLM backends whose answers to each generated "
        "question serve as FEWL's references (self = the model being aligned, this round; or specs such as tiny, "
        "smollm2, hf:<id-or-path>, openai:<model>@<url>).",
    )
    fewl_wrong_llm: str = option(
        "self", "Writer of FEWL's intentionally wrong answers and their corrections (the references' expertise "
        "weights): self, an LLM backend spec, or none (uniform weights).",
    )
    fewl_n_wrong: int = option(2, "Intentionally wrong answers per generated question (FEWL's paper: 5).", min=1)
    fewl_keep: float = option(
        0.5, "Fraction of the samples reaching the FEWL filter that are kept, highest FEWL score first "
        "(FEWL is a ranking: without gold answers no threshold is calibrated).", gt=0, max=1,
    )
    fewl_max_new_tokens: int = option(64, "Longest reference or intentionally wrong answer, in tokens.", min=8)


@dataclass
class IsaraConfig:
    """ISARA self-alignment: retrieve, generate in context, filter, LoRA-SFT, repeat; with baselines and evaluation."""

    model: str = option("tiny", "Model to align: tiny, tiny:<name>, smollm2, an HF id or a local folder.")
    seeds: Optional[str] = option(
        None, "Seed samples of the target domain: jsonl/json/csv with prompt and response "
        "(or Alpaca instruction, input, output).", required=True, path="file",
    )
    pool: Optional[str] = option(
        None, "Pool of prompt/response samples (same formats) to retrieve domain-related in-context examples from.",
        required=True, path="file",
    )
    domain: str = option("safety", "Target domain; decides the evaluation and the judge's question.", choices=DOMAIN_NAMES)
    rounds: int = option(3, "Rounds of generate, filter and fine-tune.", min=1, max=50)
    max_seeds: int = option(100, "The most seed samples accepted (ISARA starts from fewer than 100).", min=1)
    generations: int = option(32, "Samples the model generates per round.", min=1)
    shots: int = option(4, "In-context examples per generation: an anchor and its nearest neighbours.", min=1, max=16)
    pool_neighbors: int = option(2, "Pool samples retrieved per seed into the in-context bank (0: seeds only).", min=0)
    temperature: float = option(0.8, "Sampling temperature of the generator (0: greedy).", min=0)
    top_p: float = option(0.95, "Nucleus sampling mass of the generator.", gt=0, max=1)
    max_new_tokens: int = option(160, "Longest generated sample, in tokens.", min=8)
    generator: str = option(
        "self", "Who writes new samples: self (the model being aligned, with this round's adapter) or an LLM "
        "backend spec (a fixed generator, e.g. openai:<model>@<url>?mode=completions).",
    )
    eval_data: Optional[str] = option(
        None, "Evaluation file (default: the packaged set of the domain: AdvBench goals, TruthfulQA, IFEval); "
        "e.g. BeaverTails-Evaluation jsonl with a prompt field.", path="file",
    )
    eval_limit: int = option(40, "Evaluation items per model (spread over the set).", min=1)
    eval_max_new_tokens: int = option(96, "Longest evaluation answer, in tokens.", min=1)
    baselines: list[str] = option(
        default_factory=lambda: list(BASELINES), help="Baselines to run in the same run: base, seed_sft, icl_knn.",
        choices=BASELINES,
    )
    icl_shots: int = option(3, "Nearest seeds shown to the ICL-kNN baseline.", min=1)
    infer_batch_size: int = option(8, "Prompts per generation and scoring batch (inference).", min=1)
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps.")
    resume: bool = option(False, "Continue from the stages already finished in <out>.checkpoints (same options).")
    seed: int = seed_option()
    filters: FilterSettings = field(default_factory=FilterSettings)
    sft: SFTSettings = field(default_factory=SFTSettings)

    def validate(self) -> None:
        if len(set(self.baselines)) != len(self.baselines):
            raise ConfigError(f"a baseline is listed twice ({','.join(self.baselines)})", field="baselines")
        if self.filters.min_prompt_words > self.filters.max_prompt_words:
            raise ConfigError("--min-prompt-words is above --max-prompt-words", field="filters.min_prompt_words")
        if self.filters.min_response_words > self.filters.max_response_words:
            raise ConfigError("--min-response-words is above --max-response-words", field="filters.min_response_words")
        # Only the spec text is checked here (torch-free); the backend is built when it is used.
        from reliant.core.llm.spec import parse_spec

        if self.generator != "self":
            parse_spec(self.generator)
        if self.filters.judge not in ("self", "none"):
            parse_spec(self.filters.judge)
        if len(set(self.filters.fewl_references)) != len(self.filters.fewl_references):
            raise ConfigError(f"a reference is listed twice ({','.join(self.filters.fewl_references)})",
                              field="filters.fewl_references")
        for spec in self.filters.fewl_references:
            if spec == "none":
                raise ConfigError("'none' is not a reference; leave --fewl-references out to turn the FEWL filter "
                                  "off", field="filters.fewl_references")
            if spec != "self":
                parse_spec(spec)
        if self.filters.fewl_wrong_llm not in ("self", "none"):
            parse_spec(self.filters.fewl_wrong_llm)
