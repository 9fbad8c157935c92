"""Hallucination measurement without gold answers: FEWL (Wei et al. 2024) and its baselines.

Use :mod:`reliant.hallucination.api`.
"""
