"""Every registered learning method runs on a few real digits: finite loss parts, weights change,
``needs`` declared truthfully; and the registry is what the CLI offers."""

from __future__ import annotations

import numpy as np
import pytest

from reliant.construction.config import MethodParams, TrainConfig
from reliant.construction.learning import fit_method
from reliant.construction.methods import REGISTRY, available_methods, get_method
from reliant.construction.trainer import TrainSettings, train_method
from reliant.core.config import option_specs


@pytest.fixture(scope="module")
def small():
    from reliant.construction.datasets import digits

    data = digits()
    rows = np.random.default_rng(0).permutation(len(data.labels))[:240]
    return data.images[rows[:200]], data.labels[rows[:200]], data.images[rows[200:]], data.labels[rows[200:]]


SETTINGS = TrainSettings(epochs=1, batch_size=50, device="cpu", width=8)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_method_trains_and_predicts(name, small):
    x, y, x_test, _ = small
    validation = (x_test, np.arange(len(x_test)) % 10)
    outcome = fit_method(name, x, y, 10, SETTINGS, MethodParams(), x_test,
                         transition=np.full((10, 10), 0.02) + 0.8 * np.eye(10), validation=validation)
    assert outcome.test_logits.shape == (len(x_test), 10) and np.isfinite(outcome.test_logits).all()
    method = get_method(name)
    if not method.posthoc:
        assert all(np.isfinite(v) for h in outcome.result.history for v in h.values())
        assert len(outcome.result.models) == method.networks
    if "noise_rate" in method.needs:
        assert 0 <= outcome.extras["noise_rate"] <= 1


def test_weights_change_and_training_is_deterministic(small):
    x, y, x_test, _ = small
    a = train_method(get_method("gce"), x, y, 10, SETTINGS, MethodParams())
    b = train_method(get_method("gce"), x, y, 10, SETTINGS, MethodParams())
    import torch

    from reliant.construction.models import build_model

    torch.manual_seed(0)
    fresh = build_model("small_cnn", 1, 10, width=8)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.model.parameters(), fresh.parameters()))


def test_forward_without_transition_refuses_and_coteaching_reads_the_forget_rate():
    method = get_method("forward")
    with pytest.raises(ValueError, match="transition"):
        from reliant.construction.methods import SetupInfo

        method.setup(SetupInfo(num_classes=3, num_samples=4, counts=np.ones(3), epochs=1, params=MethodParams()))
    co = get_method("coteaching")
    from reliant.construction.methods import SetupInfo

    co.setup(SetupInfo(3, 4, np.ones(3), 10, MethodParams(forget_rate=0.4, coteaching_ramp=0.5), noise_rate=0.1))
    assert [round(co.forget_rate(e, 10), 3) for e in (0, 2, 5, 9)] == [0.0, 0.16, 0.4, 0.4]


def test_registry_families_and_params_are_declared():
    assert available_methods("noise") == ["ce", "label_smoothing", "gce", "forward", "peer", "coteaching", "elr"]
    assert available_methods("imbalance") == ["reweight", "logit_adjusted", "balanced_softmax", "ldam_drw",
                                              "posthoc_la", "drops"]
    fields = {spec.name for spec in option_specs(MethodParams)}
    for cls in REGISTRY.values():
        assert set(cls.reads) <= fields, cls.name
    # the --method help names every registered method
    help_text = next(s.help for s in option_specs(TrainConfig) if s.name == "method")
    assert all(name in help_text for name in REGISTRY)
