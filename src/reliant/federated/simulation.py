"""The Flower layer: the federation's client and server code as a Flower ServerApp and ClientApp.

The only module that imports ``flwr`` (lazily, inside functions). It uses Flower's Message
API (``flwr.serverapp.ServerApp``/``Grid``, ``flwr.clientapp.ClientApp``) and Flower's own
strategies for the rules Flower has (``FedAvg``, ``Krum``, ``MultiKrum``, ``Bulyan``,
``FedMedian``, ``FedTrimmedAvg``): their ``aggregate_train`` computes the new global model.
Each is subclassed only to record, per round, what the rule did (the clients' updates and the
share each kept, from :mod:`reliant.federated.aggregators`) and how far Flower's result is from
the torch rule's (``flower_vs_torch_max_abs``, expected ~1e-16). FLTrust, AFA and Fang, which
Flower lacks, subclass Flower's ``FedAvg`` and aggregate with the torch rule. With ``--dp`` the
rule's strategy is wrapped in Flower's DP strategy (and the ClientApp gets Flower's clipping mod
for the client-side variants); the recording layer then subclasses the wrapper, so the model it
checks is the noised one.

A client sends its whole model as one flat float64 array, with ``num-examples`` and its
``client`` id in the metrics (the attacker's diagnostics in a separate ConfigRecord). :func:`run_flower` runs the apps with
``flwr.simulation.run_simulation``; the module-level ``client_app`` / ``server_app`` read the
same settings from the run config of a real deployment (SuperLink + SuperNodes, see
docs/results/federated.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from reliant.federated.federation import RoundRecord, build_federation, client_train, round_metrics, server_aggregate
from reliant.federated.models import flat_parameters
from reliant.federated.privacy import FLOWER_DP_STRATEGIES, round_seed

__all__ = ["FLOWER_STRATEGIES", "make_client_app", "make_server_app", "make_strategy", "run_flower"]

#: the Flower strategy class each rule runs on (FLTrust, AFA, Fang: reliant's, subclassing Flower's FedAvg)
FLOWER_STRATEGIES: dict[str, str] = {
    "fedavg": "FedAvg", "krum": "Krum", "multikrum": "MultiKrum", "bulyan": "Bulyan", "median": "FedMedian",
    "trimmedmean": "FedTrimmedAvg", "fltrust": "FedAvg", "afa": "FedAvg", "fang": "FedAvg",
}
#: the rules whose aggregation is Flower's own code
FLOWER_NATIVE: frozenset[str] = frozenset({"fedavg", "krum", "multikrum", "bulyan", "median", "trimmedmean"})


def _to_tensor(record: Any) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([a.ravel() for a in record.to_numpy_ndarrays()]).astype(np.float64))


def _state_dict(record: Any) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(array.numpy().copy()) for key, array in record.items()}


def make_client_app(settings: dict[str, Any] | None = None):
    """A ClientApp running :func:`~reliant.federated.federation.client_train` for the node's
    ``partition-id``; settings from the argument (simulation) or the run config (deployment).
    With client-side DP it runs Flower's clipping mod (fixed or adaptive) on every node."""
    from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    def train(msg: Message, context: Context) -> Message:
        spec = settings if settings is not None else json.loads(str(context.run_config["settings"]))
        fed = build_federation(spec)
        client = int(context.node_config["partition-id"])
        global_weights = _to_tensor(msg.content["arrays"])
        server_round = int(msg.content["config"]["server-round"])
        state = _state_dict(context.state["attacker"]) if "attacker" in context.state else {}
        update, examples, metrics = client_train(fed, client, server_round, global_weights, state)
        if state:
            context.state["attacker"] = ArrayRecord({k: Array(v.numpy()) for k, v in state.items()})
        reply = RecordDict({
            "arrays": ArrayRecord({"weights": Array((global_weights + update).numpy())}),
            # the same metric keys from every client (Flower aggregates them); the attacker's own
            # diagnostics travel as a ConfigRecord that no strategy reads (bookkeeping of the simulation)
            "metrics": MetricRecord({"num-examples": int(examples), "client": client}),
            "diagnostics": ConfigRecord({k: float(v) for k, v in metrics.items()}),
        })
        return Message(content=reply, reply_to=msg)

    def central_dp_mod(msg: Message, context: Context, call_next):
        """Flower's clipping mod of the run's client-side DP variant (read at call time, so a
        deployment's ClientApp follows its run config); a pass-through otherwise."""
        import flwr.clientapp.mod as flower_mods

        spec = settings if settings is not None else json.loads(str(context.run_config["settings"]))
        mod = FLOWER_DP_STRATEGIES.get(spec.get("dp", "none"), ("", None))[1]
        return call_next(msg, context) if mod is None else getattr(flower_mods, mod)(msg, context, call_next)

    app = ClientApp(mods=[central_dp_mod])
    app.train()(train)
    return app


def _sorted_replies(replies: Any) -> list:
    """The replies without errors, in client order (what every layer aggregates)."""
    replies = [r for r in replies if not r.has_error()]
    return sorted(replies, key=lambda r: int(r.content["metrics"]["client"]))


class _KeepsGlobal:
    """Keeps the global weights a round starts from (Flower's aggregate_train is not given them)."""

    def configure_train(self, server_round, arrays, config, grid):
        self.round_global = _to_tensor(arrays)
        return super().configure_train(server_round, arrays, config, grid)  # type: ignore[misc]


def _updates_and_examples(replies: list, global_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    updates = torch.stack([_to_tensor(r.content["arrays"]) - global_weights for r in replies])
    examples = torch.tensor([float(r.content["metrics"]["num-examples"]) for r in replies], dtype=torch.float64)
    return updates, examples


def make_strategy(fed: Any, on_round: Callable[[RoundRecord], None] | None = None):
    """The Flower strategy of ``fed``'s rule, wrapped in Flower's DP strategy with ``--dp``;
    the outermost layer records every round through ``on_round``."""
    import flwr.serverapp.strategy as strategies
    from flwr.app import Array, ArrayRecord

    s = fed.settings
    n, f = s["clients"], s["assumed_malicious"]
    name = s["rule"]
    base = getattr(strategies, FLOWER_STRATEGIES[name])
    kwargs: dict[str, Any] = {"fraction_train": 1.0, "fraction_evaluate": 0.0, "min_train_nodes": n,
                              "min_available_nodes": n, "min_evaluate_nodes": 0}
    if name in ("krum", "bulyan"):
        kwargs["num_malicious_nodes"] = f
    if name == "multikrum":
        kwargs.update(num_malicious_nodes=f, num_nodes_to_select=fed.rule().selected_count(n))
    if name == "trimmedmean":
        kwargs["beta"] = s["trim_fraction"]

    class RuleStrategy(_KeepsGlobal, base):  # type: ignore[misc, valid-type]
        """Flower's strategy for the rule; the rules Flower lacks aggregate with the torch rule."""

        def aggregate_train(self, server_round, replies):
            replies = _sorted_replies(replies)
            if name in FLOWER_NATIVE:
                return super().aggregate_train(server_round, replies)
            updates, examples = _updates_and_examples(replies, self.round_global)
            step = server_aggregate(fed, server_round, self.round_global, updates, examples)
            arrays = ArrayRecord({"weights": Array((self.round_global + step.update).numpy())})
            return arrays, self.train_metrics_aggr_fn([r.content for r in replies], self.weighted_by_key)

    privacy = fed.privacy()  # reliant's mirror of Flower's DP wrapper: checks it every round
    if privacy is None:
        outer, args, outer_kwargs = RuleStrategy, (), kwargs
    else:
        outer = getattr(strategies, FLOWER_DP_STRATEGIES[s["dp"]][0])
        args = (RuleStrategy(**kwargs), s["noise_multiplier"])
        if privacy.adaptive:
            outer_kwargs = {"num_sampled_clients": n, "initial_clipping_norm": s["clipping_norm"],
                            "target_clipped_quantile": s["target_clipped_quantile"],
                            "clip_norm_lr": s["clip_norm_lr"], "clipped_count_stddev": privacy.clipped_count_stddev}
        else:
            outer_kwargs = {"clipping_norm": s["clipping_norm"], "num_sampled_clients": n}

    bases = (outer,) if issubclass(outer, _KeepsGlobal) else (_KeepsGlobal, outer)

    class Recorded(*bases):  # type: ignore[misc]
        """Records each round: what the rule saw and kept, and Flower's model against reliant's."""

        def aggregate_train(self, server_round, replies):
            replies = _sorted_replies(replies)
            # read before Flower's server-side DP clipping rewrites the replies in place
            updates, examples = _updates_and_examples(replies, self.round_global)
            clipped = None
            if privacy is not None and privacy.clips_on_client:
                clipped = (torch.tensor([bool(r.content["metrics"]["norm_bit"]) for r in replies])
                           if privacy.adaptive else privacy.clip(updates)[1])
            step = server_aggregate(fed, server_round, self.round_global, updates, examples, privacy, clipped)
            if privacy is not None:
                # Flower's DP wrappers draw from numpy's global random state: seed it so the noise
                # is the mirror's (and the run deterministic)
                np.random.seed(round_seed(s["seed"], server_round))
            arrays, metrics = super().aggregate_train(server_round, replies)
            new_global = _to_tensor(arrays)
            if on_round is not None:
                record_metrics = round_metrics(fed, new_global, step, privacy)
                record_metrics["flower_vs_torch_max_abs"] = float(
                    (new_global - (self.round_global + step.update)).abs().max())
                client_metrics = {int(r.content["metrics"]["client"]): {
                    k: float(v) for k, v in r.content["diagnostics"].items()} for r in replies}
                on_round(RoundRecord(server_round, fed.phase(server_round), self.round_global, new_global, step.seen,
                                     step.decision.kept_share.tolist(), record_metrics, client_metrics))
            return arrays, metrics

    return Recorded(*args, **outer_kwargs)


def make_server_app(settings: dict[str, Any] | None = None, on_round: Callable[[RoundRecord], None] | None = None,
                    result: dict[str, Any] | None = None):
    """A ServerApp that trains ``settings['rounds']`` rounds with the rule's strategy."""
    from flwr.app import Array, ArrayRecord, Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        spec = settings if settings is not None else json.loads(str(context.run_config["settings"]))
        fed = build_federation(spec)
        strategy = make_strategy(fed, on_round)
        initial = ArrayRecord({"weights": Array(flat_parameters(fed.model()).numpy())})
        outcome = strategy.start(grid=grid, initial_arrays=initial, num_rounds=spec["rounds"])
        if result is not None:
            result["weights"] = _to_tensor(outcome.arrays)

    return app


def run_flower(settings: dict[str, Any], on_round: Callable[[RoundRecord], None] | None = None,
               cpus: int | None = None) -> torch.Tensor:
    """A Flower simulation (ray backend) of ``settings``; returns the final global weights."""
    import os

    from flwr.simulation import run_simulation

    for name in ("flwr", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)  # Flower logs every round at INFO on the console
    cpus = cpus or max(1, min(os.cpu_count() or 1, 4))
    result: dict[str, Any] = {}
    run_simulation(server_app=make_server_app(settings, on_round, result), client_app=make_client_app(settings),
                   num_supernodes=settings["clients"],
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"num_cpus": cpus, "include_dashboard": False,
                                                 "log_to_driver": False}})
    if "weights" not in result:
        raise RuntimeError("the Flower simulation ended without a final model (see the ray/Flower log above)")
    return result["weights"]


# For a real deployment `flwr run` loads ``reliant.federated.simulation:client_app`` /
# ``:server_app``; the settings come from the run config key "settings" (a JSON string).
def __getattr__(name: str) -> Any:  # built on first access, so importing this module stays light
    if name == "client_app":
        return make_client_app()
    if name == "server_app":
        return make_server_app()
    raise AttributeError(name)
