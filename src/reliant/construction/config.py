"""Options of the ``reliant construct`` commands, declared once (see :func:`reliant.core.config.option`).

This module imports only the standard library and :mod:`reliant.core.config`, so
``reliant construct --help`` and a bad flag never load torch. The registries (methods,
collection backends, detectors) are consulted only when a value is checked. Shared sections:
:class:`TrainingParams` (the training loop) and :class:`MethodParams` (every learning
method's own parameters, each declared once; a method reads only the ones it lists in
``reads``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["BenchmarkConfig", "CleanConfig", "CollectConfig", "DesignConfig", "MethodParams", "SUITES",
           "TrainConfig", "TrainingParams"]

SUITES = ("noise-detection", "noise-learning", "imbalance")
ARCHITECTURES = ("small_cnn", "resnet8")
DETECTOR_NAMES = ("simifeat_vote", "simifeat_rank", "cleanlab")


def _methods() -> list[str]:
    from reliant.construction.methods import available_methods  # registry, torch-free

    return available_methods()


def _backends() -> list[str]:
    from reliant.construction.backends import available_backends

    return available_backends()


@dataclass
class TrainingParams:
    """The training loop shared by every method (Adam, cosine schedule, per-channel standardisation)."""

    architecture: str = option("small_cnn", "Network: small_cnn (4 conv layers) or resnet8.", choices=ARCHITECTURES)
    width: int = option(16, "Channels of the first stage (later stages double it).", min=4, max=256)
    epochs: int = option(6, "Training epochs.", min=1, max=1000)
    batch_size: int = option(128, "Images per batch.", min=2, max=8192)
    lr: float = option(1e-2, "Adam learning rate (cosine-annealed to 0).", gt=0, max=1)
    weight_decay: float = option(5e-4, "Adam weight decay.", min=0, max=1)
    device: str = option("auto", "auto, cpu, cuda or cuda:N.")


@dataclass
class MethodParams:
    """Every learning method's own parameters (each method reads only its own)."""

    smoothing: float = option(0.1, "Label smoothing ε (label_smoothing).", min=0, lt=1)
    q: float = option(0.7, "GCE exponent q; 0 → CE, 1 → MAE (gce).", gt=0, max=1)
    peer_alpha: float = option(0.5, "Weight α of the peer term (peer).", min=0, max=5)
    peer_warmup: float = option(0.25, "Share of epochs trained with plain CE before the peer term (peer).",
                                min=0, lt=1)
    forget_rate: Optional[float] = option(None, "Co-teaching's final forget rate τ; default: HOC's noise-rate "
                                                "estimate (coteaching).", min=0, max=0.95)
    coteaching_ramp: float = option(0.3, "Share of epochs over which the forget rate rises to τ (coteaching).",
                                    gt=0, max=1)
    elr_lambda: float = option(3.0, "ELR regularisation weight λ (elr).", min=0, max=100)
    elr_beta: float = option(0.7, "ELR target momentum β (elr).", min=0, lt=1)
    weighting: str = option("inverse", "Class weights: inverse frequency or effective number (reweight).",
                            choices=("inverse", "effective"))
    weighting_beta: float = option(0.9999, "β of the effective number (reweight).", gt=0, lt=1)
    tau: float = option(1.0, "Logit-adjustment temperature τ (logit_adjusted, posthoc_la).", min=0, max=10)
    ldam_max_margin: float = option(0.5, "Largest LDAM margin, given to the rarest class (ldam_drw).", gt=0, max=5)
    ldam_scale: float = option(30.0, "LDAM logit scale s on the cosine head (ldam_drw).", gt=0, max=100)
    drw_start: float = option(0.8, "Share of epochs before deferred re-weighting starts (ldam_drw).", min=0, max=1)
    drops_delta: float = option(0.5, "KL radius δ of DROPS around the uniform class mix (drops).", min=0, max=10)


@dataclass
class DesignConfig:
    """Let an LLM design the classes, attributes and search queries of a task (JSON, schema-checked, editable)."""

    task: Optional[str] = option(None, "What the dataset is for, in words (e.g. 'recognise kitchen utensils'). "
                                       "Required unless --design is given.")
    class_names: list[str] = option([], "Class names to use instead of asking the LLM for them.")
    design: Optional[Path] = option(None, "An existing (edited) design.json to validate and save as this run's "
                                          "design; no LLM is called.", path="file")
    llm: str = option("smollm2", "LLM backend: smollm2, tiny, hf:<id-or-path> or openai:<model>@<url>.")
    num_classes: int = option(5, "Classes to ask for when --class-names is not given.", min=2, max=100)
    num_attributes: int = option(3, "Attributes and queries to ask for per class.", min=1, max=20)
    max_retries: int = option(2, "Re-asks (sampling) when a reply is not valid JSON.", min=0, max=10)
    max_new_tokens: int = option(160, "Tokens per LLM reply.", min=16, max=4096)
    seed: int = seed_option()

    def validate(self) -> None:
        if self.design is None and not (self.task and self.task.strip()):
            raise ConfigError("give --task (or an existing --design to validate)", field="task")
        if self.design is not None and (self.task or self.class_names):
            raise ConfigError("--design is used as it is: do not combine it with --task or --class-names",
                              field="design")


@dataclass
class CollectConfig:
    """Collect labelled images from a backend (folder tree, manifest, HTTP search API) into a manifest."""

    backend: str = option("folder", "Collection backend: folder (ROOT/<class>/<image>), manifest (CSV/JSONL of "
                                    "path or url + label) or http (a search API, queries from --design).",
                          choices=_backends)
    root: Optional[Path] = option(None, "Folder tree, one sub-folder per class (backend folder).", path="dir")
    manifest: Optional[Path] = option(None, "CSV/JSONL manifest with path or url, and label (backend manifest).",
                                      path="file")
    design: Optional[Path] = option(None, "design.json from `reliant construct design`: the classes (manifest "
                                          "integer labels) and the queries (backend http).", path="file")
    url_template: Optional[str] = option(None, "Search URL with {query} and {page}, answering JSON (backend http).")
    results_key: str = option("results", "Dotted path of the result list in the JSON answer (backend http).")
    url_field: str = option("url", "Dotted path of the image URL inside one result (backend http).")
    pages: int = option(1, "Result pages per query (backend http).", min=1, max=100)
    max_per_query: int = option(50, "Images kept per query at most (backend http).", min=1, max=10000)
    timeout: float = option(10.0, "Seconds per HTTP request before it is retried.", gt=0, max=600)
    retries: int = option(2, "Retries of a failed HTTP request (timeouts, connection errors, 429, 5xx).",
                          min=0, max=10)
    rate_limit: float = option(5.0, "HTTP requests per second at most (0: no limit).", min=0, max=1000)
    max_bytes: int = option(20_000_000, "Largest download accepted, in bytes.", min=1000)
    image_size: int = option(32, "Side length images are decoded to when checked (and later trained at).",
                             min=8, max=512)
    seed: int = seed_option()

    def validate(self) -> None:
        needed = {"folder": ("root",), "manifest": ("manifest",), "http": ("design", "url_template")}[self.backend]
        for name in needed:
            if getattr(self, name) is None:
                raise ConfigError(f"--backend {self.backend} needs --{name.replace('_', '-')}", field=name)
        if self.backend == "http" and "{query}" not in self.url_template:
            raise ConfigError("must contain {query}", field="url_template")


@dataclass
class CleanConfig:
    """Remove unreadable files and duplicates, then flag label errors (SimiFeat, HOC, cleanlab) on learned features."""

    manifest: Optional[Path] = option(None, "manifest.jsonl from `reliant construct collect` (path, label).",
                                      required=True, path="file")
    image_size: int = option(32, "Side length images are decoded to.", min=8, max=512)
    hash_distance: int = option(4, "Largest perceptual-hash (64-bit phash) Hamming distance of near-duplicates.",
                                min=0, max=32)
    embedding_similarity: float = option(0.995, "Feature cosine similarity from which two images are "
                                                "near-duplicates (1 disables).", min=0, max=1)
    detectors: list[str] = option(list(DETECTOR_NAMES), "Label-error detectors to run.", choices=DETECTOR_NAMES)
    drop_flagged: bool = option(False, "Also leave flagged label errors out of clean_manifest.jsonl (default: "
                                       "keep them, marked).")
    training: TrainingParams = field(default_factory=TrainingParams)
    seed: int = seed_option()

    def validate(self) -> None:
        if not self.detectors:
            raise ConfigError("give at least one detector", field="detectors")


@dataclass
class TrainConfig:
    """Train an image classifier on a (noisy, long-tailed) manifest with a noise-robust or imbalance method."""

    manifest: Optional[Path] = option(None, "Training manifest (manifest.jsonl / clean_manifest.jsonl).",
                                      required=True, path="file")
    test_manifest: Optional[Path] = option(None, "Test manifest with trusted labels; default: a held-out share "
                                                 "of --manifest (whose labels may be noisy).", path="file")
    method: str = option("ce", "Learning method from the registry (ce, label_smoothing, gce, forward, peer, "
                               "coteaching, elr, reweight, logit_adjusted, balanced_softmax, ldam_drw, posthoc_la, "
                               "drops); a wrong name lists them all.", choices=_methods)
    transition: Optional[Path] = option(None, "Noise transition matrix T (K x K, rows sum to 1) for forward; "
                                              "default: estimated with HOC.", path="file")
    test_fraction: float = option(0.2, "Share of --manifest held out for testing when --test-manifest is not given.",
                                  gt=0, lt=1)
    val_fraction: float = option(0.2, "Share of the training rows held out for post-hoc methods (drops, posthoc_la).",
                                 gt=0, lt=1)
    image_size: int = option(32, "Side length images are decoded to.", min=8, max=512)
    training: TrainingParams = field(default_factory=TrainingParams)
    method_params: MethodParams = field(default_factory=MethodParams)
    seed: int = seed_option()


@dataclass
class BenchmarkConfig:
    """Run one of ADC's three benchmarks on real data (CIFAR-10 + CIFAR-10H, MNIST) and write its leaderboard."""

    suite: str = option("noise-learning", "Benchmark: noise-detection, noise-learning or imbalance.", choices=SUITES)
    methods: list[str] = option([], "Methods to compare (default: every registered method of the suite's family; "
                                    "for noise-detection: the detectors).")
    noise: list[str] = option(["human", "symmetric:0.4", "asymmetric:0.3"],
                              "Noise settings: human (one CIFAR-10H vote per image), symmetric:RATE, asymmetric:RATE.")
    ratios: list[float] = option([10.0, 100.0], "Imbalance ratios n_max / n_min (imbalance suite).", min=1)
    datasets: list[str] = option(["cifar10", "mnist"], "Data sets of the imbalance suite.",
                                 choices=("cifar10", "mnist"))
    seeds: list[int] = option([0], "Seeds; each noise setting / ratio is run once per seed.", min=0)
    train_size: int = option(3000, "Training images (noise suites), drawn from the 10,000 CIFAR-10 test images.",
                             min=100, max=9000)
    test_size: int = option(1000, "Held-out images with clean labels (noise suites).", min=100, max=5000)
    head_size: int = option(500, "Training images of the head class (imbalance suite; at most 700).", min=20, max=700)
    oracles: bool = option(False, "noise-learning: also train forward correction with the true transition matrix "
                                  "and co-teaching with the true noise rate of the training labels (oracle rows "
                                  "that tell each method apart from HOC's estimate).")
    downsample: int = option(2, "Average k x k pixel blocks (2: 32x32 -> 16x16, sized for CPUs; 1: full size).",
                             min=1, max=4)
    training: TrainingParams = field(default_factory=TrainingParams)
    method_params: MethodParams = field(default_factory=MethodParams)
    seed: int = seed_option()

    def validate(self) -> None:
        for setting in self.noise:
            kind, _, rate = setting.partition(":")
            if kind == "human" and not rate:
                continue
            if kind not in ("symmetric", "asymmetric"):
                raise ConfigError(f"unknown noise setting {setting!r} (human, symmetric:RATE, asymmetric:RATE)",
                                  field="noise")
            try:
                value = float(rate)
            except ValueError:
                raise ConfigError(f"{setting!r}: the rate must be a number", field="noise") from None
            if not 0 <= value < 1:
                raise ConfigError(f"{setting!r}: the rate must be in [0, 1)", field="noise")
        if not self.seeds:
            raise ConfigError("give at least one seed", field="seeds")
        if self.methods:
            known = list(DETECTOR_NAMES) if self.suite == "noise-detection" else _methods()
            unknown = [m for m in self.methods if m not in known]
            if unknown:
                raise ConfigError(f"unknown method {unknown[0]!r} for {self.suite} (choose from: {', '.join(known)})",
                                  field="methods")
