"""One federation: its data split, its clients' and server's code, and the in-process engine.

Everything a client or the server does is a plain function of a :class:`Federation` (built
deterministically from a flat settings dict, the same one Flower's ``run_config`` carries),
the client id, the round and the global weights. The Flower layer
(:mod:`reliant.federated.simulation`) and :func:`run_local` call the very same functions, so
both engines give the same global models (a test checks it).

Rounds of an attack run: ``1..W`` warm-up (everyone honest), ``W+1..W+P`` poisoning (the
attackers send :func:`~reliant.federated.attacks.cgi.stealthy_update`), then one inversion
round in which every honest client takes one FedSGD step on one image and the victims' image
is of the target class. ``poison=False`` is the no-poisoning baseline: the attackers stay
honest and the same rounds run.

With central DP (``--dp``) the server step is clip (server-side variants; the client-side
ones clip in each client's mod) → rule → noise, as Flower's DP wrappers do
(:mod:`reliant.federated.privacy`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from reliant.core.errors import ConfigError
from reliant.federated.aggregators import Aggregate, AggregationRule, Evaluator, get_rule
from reliant.federated.attacks.cgi import craft_malicious_model, stealthy_update, synthesise_class_images
from reliant.federated.inputs import load_images, partition
from reliant.federated.models import flat_parameters, make_model, set_flat_parameters
from reliant.federated.privacy import CentralDP

__all__ = ["Federation", "RoundRecord", "ServerStep", "build_federation", "client_train", "make_evaluator", "run_local",
           "server_aggregate", "settings_from_config"]


def settings_from_config(config: Any, poison: bool | None = None) -> dict[str, Any]:
    """The flat settings of a SimulateConfig / AttackConfig (JSON-able: Flower's run_config)."""
    fed, agg, dp = config.federation, config.aggregation, config.privacy
    attack = getattr(config, "attack", None)
    attackers = attack.attackers if attack is not None else 0
    settings: dict[str, Any] = {
        "dataset": fed.dataset, "data_dir": "" if fed.data_dir is None else str(fed.data_dir), "limit": fed.limit,
        "model": fed.model, "clients": fed.clients, "partition": fed.partition, "alpha": fed.alpha,
        "algorithm": fed.algorithm, "local_steps": fed.local_steps, "batch_size": fed.batch_size, "lr": fed.lr,
        "test_size": fed.test_size, "root_size": fed.root_size, "seed": config.seed,
        "rule": agg.rule, "assumed_malicious": agg.tolerated(attackers), "trim_fraction": agg.trim_fraction,
        "krum_selected": 0 if agg.krum_selected is None else agg.krum_selected,
        "afa_xi": agg.afa_xi, "afa_xi_step": agg.afa_xi_step,
        "dp": dp.dp, "noise_multiplier": dp.noise_multiplier, "clipping_norm": dp.clipping_norm,
        "target_clipped_quantile": dp.target_clipped_quantile, "clip_norm_lr": dp.clip_norm_lr,
        "clipped_count_stddev": -1.0 if dp.clipped_count_stddev is None else dp.clipped_count_stddev,
        "attackers": attackers, "poison": bool(poison) if attack is not None else False,
        "rounds": getattr(config, "rounds", 0),
    }
    if attack is not None:
        settings.update({
            "knowledge": attack.knowledge, "target_class": attack.target_class,
            "warmup_rounds": attack.warmup_rounds, "poison_rounds": attack.poison_rounds,
            "craft_steps": attack.craft_steps, "craft_lr": attack.craft_lr,
            "known_target_samples": attack.known_target_samples, "poison_weight": attack.poison_weight,
            "victims": attack.victims,
            "rounds": attack.warmup_rounds + attack.poison_rounds + 1,
        })
    return settings


@dataclass
class Federation:
    settings: dict[str, Any]
    images: torch.Tensor  # every image, (N, C, H, W)
    labels: torch.Tensor
    num_classes: int
    shape: tuple[int, int, int]
    test_index: np.ndarray
    root_index: np.ndarray
    known_target_index: np.ndarray  # target-class images only the attacker holds (knowledge "semi")
    client_index: list[np.ndarray]
    victims: list[int] = field(default_factory=list)
    victim_images: list[int] = field(default_factory=list)  # one image index per victim
    source: str = ""

    def model(self) -> nn.Module:
        return make_model(self.settings["model"], self.shape, self.num_classes, self.settings["seed"])

    def rule(self) -> AggregationRule:
        s = self.settings
        return get_rule(s["rule"], num_malicious=s["assumed_malicious"], trim_fraction=s["trim_fraction"],
                        num_selected=s["krum_selected"] or None, afa_xi=s["afa_xi"], afa_xi_step=s["afa_xi_step"])

    def privacy(self) -> CentralDP | None:
        """A fresh DP mechanism (its clipping norm then evolves over the run), or None without DP."""
        s = self.settings
        if s["dp"] == "none":
            return None
        return CentralDP(s["dp"], s["noise_multiplier"], s["clipping_norm"], s["clients"], s["seed"],
                         s["target_clipped_quantile"], s["clip_norm_lr"],
                         None if s["clipped_count_stddev"] < 0 else s["clipped_count_stddev"])

    def phase(self, server_round: int) -> str:
        s = self.settings
        if not s["attackers"]:
            return "train"
        if server_round <= s["warmup_rounds"]:
            return "warmup"
        if server_round <= s["warmup_rounds"] + s["poison_rounds"]:
            return "poison"
        return "invert"

    def is_attacker(self, client: int) -> bool:
        return client < self.settings["attackers"]

    def client_data(self, client: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(self.client_index[client])
        return self.images[index], self.labels[index]

    def generator(self, *key: int) -> torch.Generator:
        """A random stream for (seed, *key): the same in every process and engine."""
        digest = hashlib.sha256(json.dumps([self.settings["seed"], *key]).encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


_CACHE: dict[str, Federation] = {}


def build_federation(settings: dict[str, Any]) -> Federation:
    """The federation of ``settings`` (cached per process: Flower calls it in every ClientApp)."""
    key = json.dumps(settings, sort_keys=True)
    if key in _CACHE:
        return _CACHE[key]
    s = settings
    data = load_images(s["dataset"], s["data_dir"] or None, s["limit"])
    rng = np.random.default_rng(s["seed"])
    order = rng.permutation(len(data.labels))
    test_index, root_index = order[: s["test_size"]], order[s["test_size"]: s["test_size"] + s["root_size"]]
    pool = order[s["test_size"] + s["root_size"]:]
    known = np.array([], dtype=np.int64)
    target = s.get("target_class", 0)
    if s["attackers"]:
        if target >= data.num_classes:
            raise ConfigError(f"--target-class {target} but {data.source} has {data.num_classes} classes",
                              field="target_class")
        if s["knowledge"] == "semi":
            candidates = pool[data.labels[pool] == target]
            known = candidates[: s["known_target_samples"]]
            pool = np.setdiff1d(pool, known, assume_unique=False)
            pool = rng.permutation(pool)
    parts = [pool[p] for p in partition(data.labels[pool], s["clients"], s["partition"], s["alpha"], rng, min_size=2)]
    federation = Federation(s, torch.from_numpy(data.images), torch.from_numpy(data.labels), data.num_classes,
                            data.shape, test_index, root_index, known, parts, source=data.source)
    if s["attackers"]:
        holders = [c for c in range(s["attackers"], s["clients"]) if (data.labels[parts[c]] == target).any()]
        if len(holders) < s["victims"]:
            raise ConfigError(f"only {len(holders)} honest clients hold a class-{target} image, fewer than --victims "
                              f"{s['victims']}", field="victims")
        federation.victims = holders[: s["victims"]]
        federation.victim_images = [int(parts[c][data.labels[parts[c]] == target][0]) for c in federation.victims]
    _CACHE[key] = federation
    return federation


# ----------------------------------------------------------------------------- local training


def local_update(fed: Federation, model: nn.Module, global_weights: torch.Tensor, images: torch.Tensor,
                 labels: torch.Tensor, generator: torch.Generator, one_step: bool = False) -> torch.Tensor:
    """New weights minus ``global_weights`` after this client's local SGD (FedSGD: one step on one batch)."""
    s = fed.settings
    set_flat_parameters(model, global_weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=s["lr"])
    steps = 1 if one_step or s["algorithm"] == "fedsgd" else s["local_steps"]
    for _ in range(steps):
        pick = torch.randperm(len(labels), generator=generator)[: s["batch_size"]]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images[pick]), labels[pick]).backward()
        optimizer.step()
    return flat_parameters(model) - global_weights


def _inversion_image(fed: Federation, client: int) -> torch.Tensor:
    """The one image a client trains on in the inversion round: the victim's target-class image,
    or for everyone else its first image of another class."""
    if client in fed.victims:
        index = fed.victim_images[fed.victims.index(client)]
    else:
        own = fed.client_index[client]
        others = own[fed.labels[torch.as_tensor(own)].numpy() != fed.settings["target_class"]]
        index = int((others if len(others) else own)[0])
    return torch.tensor([index])


def client_train(fed: Federation, client: int, server_round: int, global_weights: torch.Tensor,
                 state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int, dict[str, float]]:
    """One client's round: (update, number of examples, metrics). ``state`` persists across this
    client's rounds (Flower's ``context.state``); only attackers use it."""
    model = fed.model()
    images, labels = fed.client_data(client)
    generator = fed.generator(server_round, client)
    phase = fed.phase(server_round)
    attacking = fed.is_attacker(client) and fed.settings["poison"]
    metrics: dict[str, float] = {}
    if phase == "invert":
        pick = _inversion_image(fed, client)
        update = local_update(fed, model, global_weights, fed.images[pick], fed.labels[pick], generator, one_step=True)
        examples = 1
    elif phase == "poison" and attacking:
        update, metrics = _attacker_update(fed, model, client, server_round, global_weights, state)
        examples = len(labels)
    else:
        update = local_update(fed, model, global_weights, images, labels, generator)
        examples = len(labels)
    if fed.is_attacker(client):
        state["previous_global"] = global_weights.clone()
    return update, examples, metrics


def _attacker_update(fed: Federation, model: nn.Module, client: int, server_round: int, global_weights: torch.Tensor,
                     state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    s = fed.settings
    images, labels = fed.client_data(client)
    if "malicious" not in state:
        target_images = None
        if s["knowledge"] == "semi":
            target_images = fed.images[torch.as_tensor(fed.known_target_index)]
        elif s["knowledge"] == "none":
            set_flat_parameters(model, global_weights)
            target_images = synthesise_class_images(model, s["target_class"], s["known_target_samples"], fed.shape,
                                                    seed=s["seed"])
        state["malicious"] = craft_malicious_model(model, global_weights, s["knowledge"], images, labels,
                                                   s["target_class"], target_images=target_images,
                                                   steps=s["craft_steps"], lr=s["craft_lr"],
                                                   batch_size=s["batch_size"], seed=s["seed"])
    honest = s["clients"] - s["attackers"]
    # its estimate of the honest clients: benign updates on its own data, one per honest client
    benign = torch.stack([local_update(fed, model, global_weights, images, labels,
                                       fed.generator(server_round, client, k)) for k in range(honest)])
    last_aggregate = global_weights - state["previous_global"]
    rule = fed.rule()
    # a rule that validates on the server's data is estimated on the attacker's own data
    evaluate = make_evaluator(fed, global_weights, images, labels) if rule.needs_validation else None
    blend = stealthy_update(rule, state["malicious"], global_weights, benign, last_aggregate,
                            copies=s["attackers"], poison_weight=s["poison_weight"], evaluate=evaluate)
    return blend.update, {"gamma": blend.gamma, "beta": blend.beta, "shrink": blend.shrink,
                          "passes_estimate": float(blend.passes)}


def root_update(fed: Federation, server_round: int, global_weights: torch.Tensor) -> torch.Tensor:
    """The server's own update on its clean root set (FLTrust's g_0), trained as the clients train."""
    index = torch.as_tensor(fed.root_index)
    one_step = fed.phase(server_round) == "invert"
    return local_update(fed, fed.model(), global_weights, fed.images[index], fed.labels[index],
                        fed.generator(server_round, -1), one_step=one_step)


def make_evaluator(fed: Federation, global_weights: torch.Tensor, images: torch.Tensor,
                   labels: torch.Tensor) -> Evaluator:
    """(accuracy, mean cross-entropy) on ``images`` of the global model moved by an update."""
    model = fed.model()

    def evaluate(update: torch.Tensor) -> tuple[float, float]:
        set_flat_parameters(model, global_weights + update)
        with torch.no_grad():
            logits = model(images)
        return (float((logits.argmax(1) == labels).double().mean()),
                float(nn.functional.cross_entropy(logits, labels)))

    return evaluate


@dataclass
class ServerStep:
    """One round on the server: what the global model moves by, the rule's decision, what it saw."""

    update: torch.Tensor  # the rule's aggregate, noised under DP
    decision: Aggregate  # the rule's result on ``seen``
    seen: torch.Tensor  # the updates the rule aggregated (clipped under DP)
    clipped: torch.Tensor | None = None  # which updates DP clipping scaled down


def server_aggregate(fed: Federation, server_round: int, global_weights: torch.Tensor, updates: torch.Tensor,
                     examples: torch.Tensor, privacy: CentralDP | None = None,
                     clipped: torch.Tensor | None = None) -> ServerStep:
    """The server's round: DP clipping (server-side variants), the rule, DP noise. With the
    client-side variants ``updates`` arrive clipped and ``clipped`` says which were."""
    rule = fed.rule()
    if privacy is not None and not privacy.clips_on_client:
        updates, clipped = privacy.clip(updates)
    root = root_update(fed, server_round, global_weights) if rule.needs_root else None
    evaluate = None
    if rule.needs_validation:
        index = torch.as_tensor(fed.root_index)
        evaluate = make_evaluator(fed, global_weights, fed.images[index], fed.labels[index])
    decision = rule.aggregate(updates, examples, root_update=root, evaluate=evaluate)
    if privacy is None:
        return ServerStep(decision.update, decision, updates)
    if clipped is None:
        raise ValueError("client-side DP clipping needs the clients' clipped flags")
    return ServerStep(privacy.release(decision.update, clipped, server_round), decision, updates, clipped)


# ----------------------------------------------------------------------------- evaluation + engine


def evaluate(fed: Federation, weights: torch.Tensor) -> dict[str, float]:
    """Test accuracy and loss of the global model, and its loss on test images of the target class."""
    model = set_flat_parameters(fed.model(), weights)
    index = torch.as_tensor(fed.test_index)
    x, y = fed.images[index], fed.labels[index]
    with torch.no_grad():
        logits = model(x)
        losses = nn.functional.cross_entropy(logits, y, reduction="none")
    out = {"accuracy": float((logits.argmax(1) == y).double().mean()), "loss": float(losses.mean())}
    target = fed.settings.get("target_class")
    if fed.settings["attackers"] and (y == target).any():
        out["target_loss"] = float(losses[y == target].mean())
        out["other_loss"] = float(losses[y != target].mean())
    return out


@dataclass
class RoundRecord:
    """What one round produced; the server sees all of it, the attacker only ``global_after``."""

    server_round: int
    phase: str
    global_before: torch.Tensor
    global_after: torch.Tensor
    updates: torch.Tensor  # (n, d) in client order
    kept_share: list[float]
    metrics: dict[str, float]
    client_metrics: dict[int, dict[str, float]]


def run_local(fed: Federation, rounds: int, on_round: Callable[[RoundRecord], None] | None = None,
              device: str = "cpu") -> torch.Tensor:
    """All rounds in this process; returns the final global weights."""
    weights = flat_parameters(fed.model())
    states: list[dict[str, torch.Tensor]] = [{} for _ in range(fed.settings["clients"])]
    privacy = fed.privacy()
    for server_round in range(1, rounds + 1):
        results = [client_train(fed, c, server_round, weights, states[c]) for c in range(fed.settings["clients"])]
        updates = torch.stack([r[0] for r in results])
        examples = torch.tensor([float(r[1]) for r in results], dtype=updates.dtype)
        clipped = None
        if privacy is not None and privacy.clips_on_client:  # what Flower's clipping mod does on each node
            updates, clipped = privacy.clip(updates)
        step = server_aggregate(fed, server_round, weights, updates, examples, privacy, clipped)
        new_weights = weights + step.update
        if on_round is not None:
            on_round(RoundRecord(server_round, fed.phase(server_round), weights, new_weights, step.seen,
                                 step.decision.kept_share.tolist(), round_metrics(fed, new_weights, step, privacy),
                                 {c: r[2] for c, r in enumerate(results)}))
        weights = new_weights
    return weights


def round_metrics(fed: Federation, new_weights: torch.Tensor, step: ServerStep,
                  privacy: CentralDP | None) -> dict[str, float]:
    """The global model's test metrics, and DP's clipping this round."""
    metrics = evaluate(fed, new_weights)
    if privacy is not None and step.clipped is not None:
        metrics["dp_clipped_share"] = float(step.clipped.double().mean())
        metrics["dp_clipping_norm"] = privacy.clipping_norm
        metrics["dp_noise_stddev"] = privacy.noise_stddev()
    return metrics
