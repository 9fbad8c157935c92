"""Each rule against hand-computed results, and against Flower's own aggregation functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliant.federated.aggregators import available_rules, get_rule
from reliant.federated.config import RULES

U = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [10.0, -10.0]], dtype=torch.float64)


def test_registry_matches_config_choices():
    assert sorted(available_rules()) == sorted(RULES)


def test_fedavg_weighted_by_examples():
    result = get_rule("fedavg").aggregate(U[:2], torch.tensor([1.0, 3.0]))
    assert result.update.tolist() == [0.75, 0.0]
    assert result.kept_share.tolist() == [0.25, 0.75]


def test_krum_by_hand():
    # f = 1, n = 5: each score sums the n - f - 2 = 2 smallest squared distances.
    # 0..3: two neighbours at distance 1 -> 2 each; 4: to (1,0) 81+100 = 181, to (0,0) 200 -> 381;
    # ties go to the first
    result = get_rule("krum", num_malicious=1).aggregate(U)
    assert result.scores[:4].tolist() == [2.0, 2.0, 2.0, 2.0]
    assert result.scores[4] == pytest.approx(181 + 200)
    assert result.update.tolist() == [0.0, 0.0]
    assert result.excluded() == [False, True, True, True, True]


def test_multikrum_averages_the_n_minus_f_best():
    result = get_rule("multikrum", num_malicious=1).aggregate(U)
    assert result.update.tolist() == [0.5, 0.5]
    assert result.excluded() == [False, False, False, False, True]


def test_median_and_trimmed_mean_by_hand():
    median = get_rule("median").aggregate(U)
    assert median.update.tolist() == [1.0, 0.0]
    trimmed = get_rule("trimmedmean", trim_fraction=0.2).aggregate(U)  # cut 1 at each end
    assert trimmed.update.tolist() == pytest.approx([2 / 3, 1 / 3])
    assert trimmed.kept_share.sum() == pytest.approx(1.0)
    assert trimmed.kept_share[4] == pytest.approx(0.0)  # the outlier is cut in both coordinates


def test_bulyan_by_hand():
    updates = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [100.0]], dtype=torch.float64)
    # n = 7, f = 1: θ = 5 chosen by Multi-Krum ({0..4}), median 2, β = 3 closest: 1, 2, 3
    result = get_rule("bulyan", num_malicious=1).aggregate(updates)
    assert result.update.tolist() == [2.0]
    assert result.kept_share[6] == 0 and result.kept_share[5] == 0
    with pytest.raises(ValueError, match="at least 7"):
        get_rule("bulyan", num_malicious=1).aggregate(updates[:6])


def test_fltrust_by_hand():
    updates = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]], dtype=torch.float64)
    root = torch.tensor([1.0, 1.0], dtype=torch.float64)
    result = get_rule("fltrust").aggregate(updates, root_update=root)
    # cosines 1/√2, 1/√2, -1/√2 -> trust 1/√2, 1/√2, 0; each rescaled to ‖root‖ = √2
    assert result.kept_share.tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert result.update.tolist() == pytest.approx([np.sqrt(2) / 2, np.sqrt(2) / 2])
    nobody = get_rule("fltrust").aggregate(-updates.abs(), root_update=root)
    assert nobody.update.tolist() == [0.0, 0.0]


def test_afa_by_hand():
    updates = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    # pass 1: mean (0.6, 0.2); cosines 0.9487 x3, 0.8944, -0.9487; mean 0.5584 < median 0.9487,
    # population std 0.7538: drop s < 0.9487 - 2 * 0.7538 = -0.559, i.e. the last update.
    # pass 2 (xi = 2.5): mean (1, 0.25); cosines 0.9701 x3, 0.8575; mean 0.9420 < median 0.9701,
    # std 0.0488: nothing below 0.9701 - 2.5 * 0.0488 = 0.848, so it stops.
    result = get_rule("afa").aggregate(updates)
    assert result.excluded() == [False, False, False, False, True]
    assert result.update.tolist() == pytest.approx([1.0, 0.25])
    assert result.scores[3] == pytest.approx(1.25 / (np.sqrt(2) * np.sqrt(1.0625)))
    # a tighter start (xi = 0.5) also drops (1, 1) in the second pass (0.8575 < 0.9701 - 1.0 * 0.0488)
    tight = get_rule("afa", afa_xi=0.5, afa_xi_step=0.5).aggregate(updates)
    assert tight.excluded() == [False, False, False, True, True]
    assert tight.update.tolist() == [1.0, 0.0]
    same = get_rule("afa").aggregate(torch.ones((4, 3), dtype=torch.float64))
    assert same.excluded() == [False] * 4


def test_fang_by_hand():
    updates = torch.tensor([[1.0, 0.0], [1.0, 0.2], [0.8, 0.0], [-3.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([1.0, 0.0], dtype=torch.float64)

    def evaluate(update):  # loss: squared distance to (1, 0); accuracy 1 when the loss is below 0.5
        loss = float((update - target).pow(2).sum())
        return float(loss < 0.5), loss

    # loss of the mean of all: |(-0.05, 0.05) - (1, 0)|² = 1.105 (accuracy 0); without client
    # 0, 1, 2, 3: 1.9644, 1.96, 1.7822, 0.0089 (accuracy 0, 0, 0, 1).
    # LFR = 1.105 - those = (-0.8594, -0.855, -0.6772, 1.0961) -> normalised (0, 0.0023, 0.0932, 1);
    # ERR = (0, 0, 0, -1) -> (1, 1, 1, 0); ERR - LFR = (1, 0.998, 0.907, -1): client 3 is dropped.
    result = get_rule("fang", num_malicious=1).aggregate(updates, evaluate=evaluate)
    assert result.excluded() == [False, False, False, True]
    assert result.update.tolist() == pytest.approx([2.8 / 3, 0.2 / 3])
    assert result.scores.tolist() == pytest.approx([1.0, 1 - 0.0044444 / 1.9555556, 1 - 0.1822222 / 1.9555556, -1.0],
                                                   abs=1e-6)
    two = get_rule("fang", num_malicious=2).aggregate(updates, evaluate=evaluate)
    assert two.excluded() == [False, False, True, True]
    with pytest.raises(ValueError, match="evaluator"):
        get_rule("fang", num_malicious=1).aggregate(updates)


# --------------------------------------------------------------------------- against Flower

flwr = pytest.importorskip("flwr")


def _records(updates: torch.Tensor):
    from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict

    return [RecordDict({"arrays": ArrayRecord({"w": Array(u.numpy())}), "metrics": MetricRecord({"num-examples": 1})})
            for u in updates]


def _random_updates(seed: int, n: int = 9, d: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    updates = torch.randn((n, d), generator=g, dtype=torch.float64)
    updates[0] += 20.0  # an outlier, so selection matters
    return updates


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("f, selected", [(1, 1), (2, 1), (2, 4)])
def test_multikrum_selection_matches_flower(seed, f, selected):
    from flwr.serverapp.strategy.multikrum import select_multikrum
    from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

    updates = _random_updates(seed)
    records = _records(updates)
    chosen = select_multikrum(records, num_malicious_nodes=f, num_nodes_to_select=selected)
    flower = aggregate_arrayrecords(chosen, "num-examples")["w"].numpy()
    ours = get_rule("multikrum", num_malicious=f, num_selected=selected).aggregate(updates).update.numpy()
    np.testing.assert_allclose(ours, flower, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_median_trimmed_bulyan_match_flower(seed):
    from flwr.serverapp.strategy.bulyan import aggregate_n_closest_weights
    from flwr.serverapp.strategy.fedtrimmedavg import trim_mean
    from flwr.serverapp.strategy.multikrum import select_multikrum

    updates = _random_updates(seed, n=10)
    array = updates.numpy()
    np.testing.assert_allclose(get_rule("median").aggregate(updates).update.numpy(), np.median(array, axis=0),
                               atol=1e-12)
    np.testing.assert_allclose(get_rule("trimmedmean", trim_fraction=0.2).aggregate(updates).update.numpy(),
                               trim_mean(array, 0.2), atol=1e-12)
    f = 1
    theta, beta = len(array) - 2 * f, len(array) - 4 * f
    chosen = select_multikrum(_records(updates), f, theta)
    selected = [[c["arrays"]["w"].numpy()] for c in chosen]
    median = [np.median(np.stack([s[0] for s in selected]), axis=0)]
    flower = aggregate_n_closest_weights(median, selected, beta)[0]
    np.testing.assert_allclose(get_rule("bulyan", num_malicious=f).aggregate(updates).update.numpy(), flower,
                               atol=1e-12)
