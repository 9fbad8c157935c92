"""Machine unlearning for language models: methods, losses, metrics and benchmarks.

Start with :func:`reliant.unlearning.api.unlearn`. Each method is one registered class in
``reliant.unlearning.methods`` (``available_methods()`` lists them); ``trainer`` runs the one
training loop, with resumable checkpoints (``checkpoints``).

``reliant.unlearning.losses`` holds the training objectives (FLAT and the usual
baselines: gradient ascent, gradient difference, KL on retain, NPO, SimNPO, IdkDPO) as
pure functions of logits and labels or of per-sequence log-probabilities, so that a
trainer computes the forward passes and these functions only do the math.

``reliant.unlearning.metrics`` holds the evaluation statistics of TOFU (probability,
ROUGE-L recall, truth ratio, model utility, forget quality) and MUSE (VerbMem,
KnowMem, Min-K% membership scores, PrivLeak), numbers in and numbers out.
"""
