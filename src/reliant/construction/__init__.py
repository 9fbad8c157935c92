"""Automatic dataset construction (ADC; Liu et al., "Automatic Dataset Construction (ADC): Sample
Collection, Data Curation, and Beyond", arXiv 2408.11338): an LLM designs the classes, a
collection backend gathers samples, cleaning removes duplicates and finds label errors
(through :mod:`reliant.curation.api`), and noise-robust / class-imbalanced learning trains on
what is left; three benchmarks measure each stage on real data. Import from
:mod:`reliant.construction.api`.
"""
