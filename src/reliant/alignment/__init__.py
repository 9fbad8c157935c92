"""Self-alignment from fewer than 100 seed samples: ISARA (Guo, Yao, Shen, Wei, Zhang, Wang and Liu,
"Human-Instruction-Free LLM Self-Alignment with Limited Samples", arXiv 2401.06785).

Import from :mod:`reliant.alignment.api`. Inside: ``isara`` (the loop as four functions:
retrieve, generate, filter, and the rounds that fine-tune on what was kept), ``sft`` (the only
module that imports TRL: LoRA supervised fine-tuning), ``domains`` (the target domains and their
packaged evaluation sets), ``evaluation`` (safety, TruthfulQA MC1/MC2, IFEval), ``ifeval`` (IFEval's
rule-based instruction checks, re-implemented), ``metrics`` (numbers in, numbers out), ``report``,
``config`` / ``workflows`` / ``cli`` (``reliant align isara``) and ``inputs`` (seed, pool and
evaluation files).
"""
