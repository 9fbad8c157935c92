"""Human vs machine: how their mistakes differ, and when a human-machine team beats both.

Following Liu, Wei, Liu & Davis ("Human and AI Perceptual Differences in Image
Classification Errors"). Import from :mod:`reliant.collaboration.api`. Inside: ``votes``
turns per-item human vote counts (e.g. CIFAR-10H) into human predictions and confusion
statistics; ``metrics`` compares the two error distributions (confusion structure,
per-class error, error overlap and consistency, agreement); ``combine`` builds the post-hoc
teams (confidence-based deferral to the human, a calibrated product-of-experts and a
confusion-matrix combination fitted on one split and evaluated on another); ``analysis``
runs all of it on one labelled set; ``report`` draws it; ``config`` / ``workflows`` /
``cli`` are the ``reliant collab`` command. Shared array helpers come from
:mod:`reliant.core.data` and :mod:`reliant.core.arrays`.
"""
