"""Distributionally robust post-hoc classifiers under prior shift (DROPS).

``reliant.robustness.divergences`` holds the divergence balls (KL, reverse KL, L1,
squared L2) and the exact worst reweighting inside one; ``metrics`` the per-class /
per-group accuracy statistics (mean, balanced, worst, delta-worst); ``drops`` the DROPS
estimator of Wei et al. (ICLR 2023) and its baselines (no adjustment, logit
adjustment, balanced-error and worst-class optimal reweighting); ``inputs`` the loading
and validation of ``(logits, labels[, groups])`` arrays, shared with
``reliant.collaboration`` through :mod:`reliant.robustness.api`.
"""
