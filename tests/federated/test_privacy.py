"""Central DP: the torch mirror against Flower's own DP wrappers and client mods, fed the same replies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliant.federated.aggregators import get_rule
from reliant.federated.privacy import FLOWER_DP_STRATEGIES, CentralDP, adaptive_noise_params, flat_clip, round_seed


def test_flat_clip_by_hand():
    updates = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], dtype=torch.float64)
    clipped, was_clipped = flat_clip(updates, 1.0)
    assert clipped.flatten().tolist() == pytest.approx([0.6, 0.8, 0.3, 0.4, 0.0, 0.0])
    assert was_clipped.tolist() == [True, False, False]


def test_adaptive_clipping_by_hand():
    # z = 0: no noise at all; 4 of 4 updates clipped -> C * exp(-0.2 * (1 - 0.5))
    dp = CentralDP("server-adaptive", 0.0, 2.0, 4, seed=0)
    update = torch.ones(3, dtype=torch.float64)
    out = dp.release(update, torch.tensor([True, True, True, True]), server_round=1)
    assert out.tolist() == update.tolist()
    assert dp.clipping_norm == pytest.approx(2.0 * np.exp(-0.1))
    # z = 0.3, m = 10: sigma_b = 0.5, the weights' multiplier (0.3^-2 - 1^-2)^-1/2
    assert adaptive_noise_params(0.3, 10, None) == pytest.approx((0.5, (0.3 ** -2 - 1.0) ** -0.5))
    with pytest.raises(ValueError, match="clipped-count stddev"):
        adaptive_noise_params(1.0, 10, None)


def test_fixed_noise_stddev_and_determinism():
    dp = CentralDP("server-fixed", 2.0, 0.5, 4, seed=7)
    assert dp.noise_stddev() == pytest.approx(2.0 * 0.5 / 4)
    zero = torch.zeros(20000, dtype=torch.float64)
    noise = dp.release(zero, torch.zeros(4, dtype=torch.bool), server_round=3)
    assert noise.std().item() == pytest.approx(0.25, rel=0.03)
    assert torch.equal(noise, dp.release(zero, torch.zeros(4, dtype=torch.bool), server_round=3))
    assert not torch.equal(noise, dp.release(zero, torch.zeros(4, dtype=torch.bool), server_round=4))


# --------------------------------------------------------------------------- against Flower

flwr = pytest.importorskip("flwr")


@pytest.fixture
def task_identity(monkeypatch):
    """Flower's Message needs the ids a running ServerApp/ClientApp sets."""
    from flwr.supercore.task_identity import TaskIdentity

    for key in ("_task_id", "_run_id", "_node_id"):
        monkeypatch.setattr(TaskIdentity, key, 1)


def _weights(vector: torch.Tensor):
    from flwr.app import Array, ArrayRecord

    return ArrayRecord({"weights": Array(vector.numpy().copy())})


def _flower_round(wrapper, mode: str, server_round: int, global_weights: torch.Tensor, new_weights: torch.Tensor,
                  examples: list[int]) -> torch.Tensor:
    """One round through Flower's wrapper (and, client-side, Flower's mod on each client)."""
    import flwr.clientapp.mod as mods
    from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict

    replies = []
    for k, (weights, count) in enumerate(zip(new_weights, examples)):
        config = ConfigRecord({"server-round": server_round, "clipping_norm": float(wrapper.clipping_norm)})
        sent = Message(RecordDict({"arrays": _weights(global_weights), "config": config}), dst_node_id=k + 1,
                       message_type="train")

        def client(msg, context, weights=weights, count=count):
            return Message(RecordDict({"arrays": _weights(weights), "metrics": MetricRecord({"num-examples": count})}),
                           reply_to=msg)

        mod = FLOWER_DP_STRATEGIES[mode][1]
        replies.append(getattr(mods, mod)(sent, None, client) if mod else client(sent, None))
    if not mode.startswith("client"):
        wrapper.current_arrays = _weights(global_weights)  # what its configure_train stores
    np.random.seed(round_seed(0, server_round))
    arrays, _ = wrapper.aggregate_train(server_round, replies)
    return torch.from_numpy(arrays["weights"].numpy())


@pytest.mark.parametrize("mode", list(FLOWER_DP_STRATEGIES))
@pytest.mark.parametrize("rule", ["fedavg", "krum"])
def test_mirror_matches_flowers_dp_wrappers(mode, rule, task_identity):
    import flwr.serverapp.strategy as strategies

    n, z, norm = 6, 0.4, 0.8
    inner = strategies.FedAvg() if rule == "fedavg" else strategies.Krum(num_malicious_nodes=1)
    wrapper_class = getattr(strategies, FLOWER_DP_STRATEGIES[mode][0])
    if mode.endswith("adaptive"):
        wrapper = wrapper_class(inner, z, n, initial_clipping_norm=norm)
    else:
        wrapper = wrapper_class(inner, z, norm, n)
    mirror = CentralDP(mode, z, norm, n, seed=0)
    torch_rule = get_rule(rule, num_malicious=1)
    g = torch.Generator().manual_seed(5)
    global_weights = torch.randn(7, generator=g, dtype=torch.float64)
    examples = [3, 1, 4, 1, 5, 9]
    for server_round in (1, 2, 3):
        scale = torch.tensor([0.2, 0.5, 1.0, 2.0, 3.0, 0.1], dtype=torch.float64).unsqueeze(1)
        updates = scale * torch.randn((n, 7), generator=g, dtype=torch.float64)
        assert wrapper.clipping_norm == pytest.approx(mirror.clipping_norm, rel=1e-12)
        flower = _flower_round(wrapper, mode, server_round, global_weights, global_weights + updates, examples)
        clipped_updates, clipped = mirror.clip(updates)
        decision = torch_rule.aggregate(clipped_updates, torch.tensor(examples, dtype=torch.float64))
        ours = global_weights + mirror.release(decision.update, clipped, server_round)
        np.testing.assert_allclose(ours.numpy(), flower.numpy(), rtol=0, atol=1e-12)
        assert (flower - global_weights - decision.update).abs().max() > 1e-3  # noise was added
        global_weights = flower
    assert wrapper.clipping_norm == pytest.approx(mirror.clipping_norm, rel=1e-12)
    if mode.endswith("adaptive"):
        assert mirror.clipping_norm != norm


@pytest.mark.parametrize("mode, rule", [("server-fixed", "krum"), ("client-adaptive", "fang"), ("none", "afa")])
def test_reliant_strategy_layers_inside_flower_agree_with_the_mirror(mode, rule, task_identity):
    """reliant's Flower strategy (the recording layer, Flower's DP wrapper, the rule's strategy) fed
    real client replies, passed through Flower's clipping mod where the mode has one, without ray."""
    import flwr.clientapp.mod as mods
    from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

    from reliant.core.config import resolve_config
    from reliant.federated.config import SimulateConfig
    from reliant.federated.federation import build_federation, client_train, settings_from_config
    from reliant.federated.models import flat_parameters
    from reliant.federated.simulation import make_strategy

    config = resolve_config(SimulateConfig, rule=rule, limit=400, test_size=60, root_size=40, clients=5, model="mlp",
                            rounds=2, dp=mode, clipping_norm=0.05, noise_multiplier=0.2)
    fed = build_federation(settings_from_config(config))
    records: list = []
    strategy = make_strategy(fed, records.append)
    weights = flat_parameters(fed.model())
    for server_round in (1, 2):
        arrays = _weights(weights)
        for layer in {strategy, getattr(strategy, "strategy", strategy)}:  # what configure_train stores
            layer.round_global = weights.clone()
        strategy.current_arrays = arrays
        replies = []
        for k in range(5):
            norm = float(getattr(strategy, "clipping_norm", 1.0))
            sent = Message(RecordDict({"arrays": arrays, "config": ConfigRecord({"server-round": server_round,
                                                                                 "clipping_norm": norm})}),
                           dst_node_id=k + 1, message_type="train")

            def client(msg, context, k=k, server_round=server_round, weights=weights):
                update, examples, _ = client_train(fed, k, server_round, weights, {})
                return Message(RecordDict({"arrays": _weights(weights + update),
                                           "metrics": MetricRecord({"num-examples": examples, "client": k}),
                                           "diagnostics": ConfigRecord({})}), reply_to=msg)

            mod = FLOWER_DP_STRATEGIES.get(mode, ("", None))[1]
            replies.append(getattr(mods, mod)(sent, None, client) if mod else client(sent, None))
        new_arrays, _ = strategy.aggregate_train(server_round, replies)
        weights = torch.from_numpy(new_arrays["weights"].numpy().copy())
    assert [r.server_round for r in records] == [1, 2]
    assert max(r.metrics["flower_vs_torch_max_abs"] for r in records) < 1e-12
    if mode != "none":
        assert records[0].metrics["dp_noise_stddev"] > 0
    if mode.endswith("adaptive"):
        assert records[-1].metrics["dp_clipping_norm"] != 0.05
