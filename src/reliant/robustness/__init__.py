"""Distributionally robust post-hoc classifiers under prior shift (DROPS, Wei et al., ICLR 2023).

Import from :mod:`reliant.robustness.api`. Inside: ``drops`` (the DROPS estimator and its
baselines: no adjustment, logit adjustment, balanced- and worst-optimal reweighting),
``divergences`` (the divergence balls and the exact worst reweighting inside one),
``metrics`` (mean, balanced, worst and delta-worst accuracy), ``longtail`` (long-tailed test
problems), ``compare`` (every method on one data set), ``report`` (figures and tables),
``config`` / ``workflows`` / ``cli`` (the ``reliant robust`` commands) and ``inputs``
(group ids and prior/target vectors).
"""
