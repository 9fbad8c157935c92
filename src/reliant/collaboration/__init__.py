"""Human vs machine: how their mistakes differ, and when a human-machine team beats both.

Following Liu, Wei, Liu & Davis ("Human and AI Perceptual Differences in Image
Classification Errors"): ``votes`` turns per-item human vote counts (e.g. CIFAR-10H) into
human predictions and confusion statistics; ``metrics`` compares the two error
distributions (confusion structure, per-class error, error overlap and consistency,
agreement); ``combine`` builds the post-hoc teams (confidence-based deferral to the human,
a calibrated product-of-experts and a confusion-matrix combination fitted on one split and
evaluated on another). Inputs are read through :mod:`reliant.robustness.api`.
"""
