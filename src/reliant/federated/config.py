"""Options of ``reliant federated simulate`` and ``reliant federated attack``, declared once.

Imports only the standard library and :mod:`reliant.core.config`, so ``--help`` and a bad
flag never load torch or Flower. The federation (data, clients, model, local training), the
aggregation rule and, for the attack, the attacker and the inversion are nested sections;
each leaf keeps its own flag name (``--clients``, ``--rule``, ``--knowledge``, ``--tv-weight``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError

__all__ = ["AggregationParams", "AttackConfig", "AttackParams", "DP_MODES", "FederationParams", "InversionParams",
           "PrivacyParams", "RULES", "SimulateConfig"]

RULES: tuple[str, ...] = ("fedavg", "krum", "multikrum", "bulyan", "median", "trimmedmean", "fltrust", "afa", "fang")
"""The registered aggregation rules (:mod:`reliant.federated.aggregators`; a test keeps the two equal)."""

MODELS: tuple[str, ...] = ("mlp", "cnn", "resnet")
KNOWLEDGE: tuple[str, ...] = ("full", "semi", "none")
ENGINES: tuple[str, ...] = ("flower", "local")
DP_MODES: tuple[str, ...] = ("none", "server-fixed", "server-adaptive", "client-fixed", "client-adaptive")
"""Central DP of the aggregate (Flower's DP strategy wrappers and client mods; :mod:`reliant.federated.privacy`)."""


@dataclass
class FederationParams:
    """Data, clients, model and local training."""

    dataset: str = option("digits", "digits (scikit-learn's 8x8, bundled), mnist, cifar10 (from --data-dir), or an "
                                    ".npz file with 'images' and 'labels'.")
    data_dir: Optional[Path] = option(None, "Folder with mnist_test.npz / cifar10_test.npz; default: the shared "
                                            "images folder.", path="dir")
    limit: int = option(1500, "Use only the first N images of the data set (train, test and root split together).",
                        min=20)
    model: str = option("cnn", "Client model: an MLP, a small CNN or a small ResNet-style net (no batch norm).",
                        choices=MODELS)
    clients: int = option(10, "Number of clients (Flower SuperNodes).", min=2, max=1000)
    partition: str = option("iid", "How the training images are split among clients.", choices=("iid", "dirichlet"))
    alpha: float = option(0.5, "Concentration of the Dirichlet split (smaller: fewer classes per client).", gt=0)
    algorithm: str = option("fedavg", "fedsgd: one gradient step per round on one batch; fedavg: --local-steps "
                                      "SGD steps per round.", choices=("fedsgd", "fedavg"))
    local_steps: int = option(5, "SGD steps per round with --algorithm fedavg.", min=1)
    batch_size: int = option(16, "Client batch size.", min=1)
    lr: float = option(0.1, "Client SGD learning rate.", gt=0)
    test_size: int = option(300, "Held-out images for the global model's accuracy.", min=10)
    root_size: int = option(100, "Clean images the server holds (FLTrust's root set, Fang's validation set), held out "
                                 "from the clients.",
                            min=1)
    engine: str = option("flower", "flower: a Flower simulation (ServerApp/ClientApp on ray); local: the same "
                                   "client and server code in this process (fast sweeps, no ray).", choices=ENGINES)
    device: str = option("cpu", "Where the local engine and inversion run: cpu, cuda, cuda:N (Flower clients use CPU).")

    def check(self, attackers: int = 0) -> None:
        if self.test_size + self.root_size + self.clients > self.limit:
            raise ConfigError(f"--limit {self.limit} leaves no training images for {self.clients} clients after "
                              f"--test-size {self.test_size} and --root-size {self.root_size}", field="limit")
        if attackers >= self.clients:
            raise ConfigError(f"{attackers} attackers need more than {attackers} clients (--clients {self.clients})",
                              field="attackers")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ConfigError(f"unknown device {self.device!r} (cpu, cuda or cuda:N)", field="device")


@dataclass
class AggregationParams:
    """The server's aggregation rule."""

    rule: str = option("fedavg", "Aggregation rule (Flower's FedAvg, Krum, MultiKrum, Bulyan, FedMedian, "
                                 "FedTrimmedAvg; FLTrust, AFA and Fang's ERR+LFR written here).", choices=RULES)
    assumed_malicious: Optional[int] = option(None, "The number f of malicious clients the rule is set to tolerate; "
                                                    "default: the number of attackers (1 for simulate).", min=0)
    trim_fraction: float = option(0.2, "Share of values cut at each end by trimmedmean.", min=0, lt=0.5)
    krum_selected: Optional[int] = option(None, "Updates multikrum averages; default n - f.", min=1)
    afa_xi: float = option(2.0, "AFA's initial tolerance: updates whose cosine to the aggregate is more than xi "
                                "standard deviations from the median are dropped.", gt=0)
    afa_xi_step: float = option(0.5, "How much AFA widens xi after each pass that dropped an update.", min=0)

    def check(self, clients: int, attackers: int) -> None:
        f = self.tolerated(attackers)
        if f >= clients:
            raise ConfigError(f"--assumed-malicious {f} must be below --clients {clients}", field="assumed_malicious")
        if self.rule == "bulyan" and clients < 4 * f + 3:
            raise ConfigError(f"bulyan with f = {f} needs at least 4f + 3 = {4 * f + 3} clients, got {clients}",
                              field="clients")
        if self.krum_selected is not None and self.krum_selected > clients:
            raise ConfigError(f"--krum-selected {self.krum_selected} exceeds --clients {clients}",
                              field="krum_selected")
        if self.rule == "trimmedmean" and 2 * int(self.trim_fraction * clients) >= clients:
            raise ConfigError(f"--trim-fraction {self.trim_fraction:g} cuts every one of {clients} values",
                              field="trim_fraction")

    def tolerated(self, attackers: int) -> int:
        return self.assumed_malicious if self.assumed_malicious is not None else max(attackers, 1)


@dataclass
class PrivacyParams:
    """Central differential privacy of the aggregate (Flower's DP wrappers)."""

    dp: str = option("none", "Clip each update (on the server or by Flower's client mod; fixed norm or adaptive, "
                              "Andrew et al. 2021) and add Gaussian noise to the aggregate.", choices=DP_MODES)
    noise_multiplier: float = option(0.5, "z: the aggregate's noise has standard deviation z * clipping norm / "
                                          "clients.", min=0)
    clipping_norm: float = option(1.0, "L2 norm each update is clipped to (the initial norm with adaptive "
                                       "clipping).", gt=0)
    target_clipped_quantile: float = option(0.5, "Adaptive clipping: the share of updates the norm should clip.",
                                            min=0, max=1)
    clip_norm_lr: float = option(0.2, "Adaptive clipping: learning rate of the geometric norm update.", gt=0)
    clipped_count_stddev: Optional[float] = option(None, "Adaptive clipping: noise on the clipped count; default "
                                                         "clients / 20.", min=0)

    def check(self, clients: int) -> None:
        if self.dp.endswith("adaptive") and self.noise_multiplier > 0:
            stddev = clients / 20 if self.clipped_count_stddev is None else self.clipped_count_stddev
            if self.noise_multiplier >= 2 * stddev:
                raise ConfigError(f"adaptive clipping with --noise-multiplier {self.noise_multiplier:g} needs "
                                  f"--clipped-count-stddev above {self.noise_multiplier / 2:g} (it is {stddev:g})",
                                  field="noise_multiplier")


@dataclass
class AttackParams:
    """The CGI attacker (Wei et al. 2023): malicious model, poisoning, target."""

    attackers: int = option(1, "Malicious clients (the first ones); they send the same crafted update.", min=1)
    knowledge: str = option("semi", "What the attacker knows: full (labelled data of every other class), semi (a few "
                                    "target-class images), none (synthesises them by model inversion).",
                            choices=KNOWLEDGE)
    target_class: int = option(0, "The class whose training images the attacker wants.", min=0)
    warmup_rounds: int = option(5, "Honest rounds before the attack starts.", min=1)
    poison_rounds: int = option(10, "Rounds in which the attacker sends its blended malicious update.", min=1)
    craft_steps: int = option(60, "Optimisation steps that craft the malicious model.", min=1)
    craft_lr: float = option(0.05, "Learning rate of those steps.", gt=0)
    known_target_samples: int = option(4, "Target-class images the attacker holds (semi) or synthesises (none).",
                                       min=1)
    poison_weight: float = option(1.0, "Weight of 'close to the malicious model' against 'close to the last "
                                       "aggregate' when blending the malicious update.", min=0)
    victims: int = option(1, "Honest clients holding one target-class image in the inversion round.", min=1)


@dataclass
class InversionParams:
    """Gradient inversion of the update the attacker observes."""

    method: str = option("ig", "ig: Inverting Gradients (cosine + TV, signed Adam, box); dlg: Deep Leakage "
                               "from Gradients (L2, L-BFGS).", choices=("ig", "dlg"))
    steps: int = option(400, "Optimisation steps of the inversion (L-BFGS outer steps for dlg).", min=1)
    inversion_lr: float = option(0.1, "Adam step size of Inverting Gradients.", gt=0)
    tv_weight: float = option(1e-4, "Weight of the total-variation prior.", min=0)
    restarts: int = option(1, "Random restarts; the best by final gradient match is kept.", min=1)


@dataclass
class SimulateConfig:
    """Honest federated training under one aggregation rule; reports accuracy per round."""

    federation: FederationParams = field(default_factory=FederationParams)
    aggregation: AggregationParams = field(default_factory=AggregationParams)
    privacy: PrivacyParams = field(default_factory=PrivacyParams)
    rounds: int = option(5, "Federated rounds.", min=1)
    seed: int = seed_option()

    def validate(self) -> None:
        self.federation.check()
        self.aggregation.check(self.federation.clients, 0)
        self.privacy.check(self.federation.clients)


@dataclass
class AttackConfig:
    """CGI: a client poisons the global model, passes the rule, and inverts the aggregate; with baselines."""

    federation: FederationParams = field(default_factory=FederationParams)
    aggregation: AggregationParams = field(default_factory=AggregationParams)
    privacy: PrivacyParams = field(default_factory=PrivacyParams)
    attack: AttackParams = field(default_factory=AttackParams)
    inversion: InversionParams = field(default_factory=InversionParams)
    seed: int = seed_option()

    def validate(self) -> None:
        self.federation.check(self.attack.attackers)
        self.aggregation.check(self.federation.clients, self.attack.attackers)
        self.privacy.check(self.federation.clients)
        honest = self.federation.clients - self.attack.attackers
        if self.attack.victims > honest:
            raise ConfigError(f"--victims {self.attack.victims} exceeds the {honest} honest clients", field="victims")
