"""Memorization and membership inference (Wei et al., 2024 survey organisation): example-
and model-level measures for language models and small classifiers, and audits.

Import from :mod:`reliant.memorization.api`."""
