"""ISARA self-alignment (Guo et al., arXiv 2401.06785): what a user (or another capability) imports.

The command ``reliant align isara`` is :func:`run_isara` (options: :class:`IsaraConfig`). The loop's
parts are plain functions: :func:`retrieve_related` (MiniLM k-NN from seeds into a pool),
:func:`generation_prompts` / :func:`parse_generation` (retrieval-augmented in-context
generation), :func:`filter_candidates` (length, judge, FEWL, ROUGE-L dedupe; the judges are
:class:`Judge`, :class:`PairwiseJudge` and :class:`FEWLFilter`) and :func:`fine_tune` (LoRA SFT
on TRL). Evaluations: :func:`evaluate` (safety, TruthfulQA MC1/MC2, IFEval) and
IFEval's checks :func:`follows`.

>>> from reliant.alignment.api import follows, parse_generation
>>> parse_generation("How do I stay safe online?\\n### Answer:\\nUse strong passwords.")
('How do I stay safe online?', 'Use strong passwords.')
>>> follows("hello world", ["change_case:english_lowercase", "punctuation:no_comma"], [{}, {}])["strict"]
[True, True]
"""

from __future__ import annotations

from reliant.alignment.config import FilterSettings, IsaraConfig, SFTSettings
from reliant.alignment.domains import DOMAINS
from reliant.alignment.evaluation import Prompter
from reliant.alignment.ifeval import INSTRUCTIONS, follows
from reliant.alignment.inputs import Sample, load_eval_items, load_samples, spread
from reliant.alignment.isara import filter_candidates, generation_prompts, parse_generation, retrieve_related
from reliant.alignment.judge import FEWLFilter, Judge, PairwiseJudge
from reliant.alignment.metrics import NO_COMMENT, is_refusal, truthfulqa_mc


def fine_tune(*args, **kwargs):
    """:func:`reliant.alignment.sft.fine_tune` (imported on use: TRL is heavy)."""
    from reliant.alignment.sft import fine_tune as _fine_tune

    return _fine_tune(*args, **kwargs)


def evaluate(*args, **kwargs):
    """:func:`reliant.alignment.evaluation.evaluate` (imported on use)."""
    from reliant.alignment.evaluation import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


def run_isara(config, out=None, overwrite=False):
    """:func:`reliant.alignment.workflows.run_isara`: the ``reliant align isara`` command."""
    from reliant.alignment.workflows import run_isara as _run

    return _run(config, out, overwrite)


__all__ = [
    "DOMAINS",
    "FEWLFilter",
    "FilterSettings",
    "INSTRUCTIONS",
    "IsaraConfig",
    "Judge",
    "NO_COMMENT",
    "PairwiseJudge",
    "Prompter",
    "SFTSettings",
    "Sample",
    "evaluate",
    "filter_candidates",
    "fine_tune",
    "follows",
    "generation_prompts",
    "is_refusal",
    "load_eval_items",
    "load_samples",
    "parse_generation",
    "retrieve_related",
    "run_isara",
    "spread",
    "truthfulqa_mc",
]
