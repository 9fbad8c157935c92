"""The attacker's update passes each rule in a constructed case; inversion recovers a digit."""

from __future__ import annotations

import pytest
import torch

from reliant.federated.aggregators import available_rules, get_rule
from reliant.federated.attacks.cgi import blend_coefficients, passes_rule, stealthy_update


def _constructed(seed: int = 0, n_benign: int = 9, d: int = 20):
    g = torch.Generator().manual_seed(seed)
    centre = torch.randn(d, generator=g, dtype=torch.float64)
    benign = centre + 0.1 * torch.randn((n_benign, d), generator=g, dtype=torch.float64)
    global_weights = torch.zeros(d, dtype=torch.float64)
    malicious = -50.0 * centre  # far away and pointing against the honest direction
    return benign, global_weights, malicious, centre


def _toy_validation(centre: torch.Tensor):
    """A server validation set on which the honest direction is right: accuracy 1 along it, loss
    the squared distance to it."""
    def evaluate(update: torch.Tensor) -> tuple[float, float]:
        return float(torch.dot(update, centre) > 0), float((update - centre).pow(2).sum())

    return evaluate


@pytest.mark.parametrize("name", available_rules())
def test_raw_replacement_is_caught_and_the_stealthy_update_passes(name):
    benign, global_weights, malicious, centre = _constructed()
    rule = get_rule(name, num_malicious=1)
    root = centre if rule.needs_root else None
    evaluate = _toy_validation(centre) if rule.needs_validation else None
    raw = (len(benign) + 1) * (malicious - global_weights)
    if name != "fedavg":  # FedAvg keeps everything: nothing to pass
        assert not passes_rule(rule, raw, benign, copies=1, root_update=root, evaluate=evaluate)
    blend = stealthy_update(rule, malicious, global_weights, benign, last_aggregate=centre, copies=1,
                            evaluate=evaluate)
    assert blend.passes
    assert passes_rule(rule, blend.update, benign, copies=1, root_update=root, evaluate=evaluate)
    # it still carries the poison: closer to M than the benign mean is
    towards = torch.dot(blend.update - benign.mean(0), malicious - global_weights)
    assert towards >= 0


def test_blend_coefficients_solve_the_least_squares():
    g = torch.Generator().manual_seed(3)
    p, r, a = (torch.randn(30, generator=g, dtype=torch.float64) for _ in range(3))
    gamma, beta = blend_coefficients(p, r, a, poison_weight=2.0)

    def objective(x, y):
        m = x * p / p.norm() + y * r
        return float((m - a).pow(2).sum() + 2.0 * (m - p).pow(2).sum())

    best = objective(gamma, beta)
    for dx, dy in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
        assert objective(gamma + dx, beta + dy) > best


@pytest.mark.slow  # two 300-step inversions: ~40 s on 2 busy cores
def test_inverting_gradients_recovers_an_8x8_digit_from_its_gradient():
    from sklearn.datasets import load_digits

    from reliant.federated.inversion import infer_label, invert_gradients, model_gradient
    from reliant.federated.metrics import psnr, ssim
    from reliant.federated.models import make_model

    digits = load_digits()
    image = torch.tensor(digits.images[5:6] / 16.0).unsqueeze(1)
    label = torch.tensor(digits.target[5:6])
    model = make_model("cnn", (1, 8, 8), 10, seed=0)
    gradient = model_gradient(model, image, label)
    assert infer_label(gradient) == int(label)
    result = invert_gradients(model, gradient, (1, 8, 8), steps=300, seed=1)
    assert psnr(result.image.numpy(), image[0].numpy()) > 25
    assert ssim(result.image.numpy(), image[0].numpy()) > 0.9
    # a wrong gradient (another digit's) does not give this digit back
    other = model_gradient(model, torch.tensor(digits.images[7:8] / 16.0).unsqueeze(1), label)
    wrong = invert_gradients(model, other, (1, 8, 8), steps=300, seed=1)
    assert psnr(wrong.image.numpy(), image[0].numpy()) < 20


def test_dlg_recovers_a_digit_through_an_mlp():
    from sklearn.datasets import load_digits

    from reliant.federated.inversion import deep_leakage, model_gradient
    from reliant.federated.metrics import psnr
    from reliant.federated.models import make_model

    digits = load_digits()
    image = torch.tensor(digits.images[0:1] / 16.0).unsqueeze(1)
    model = make_model("mlp", (1, 8, 8), 10, seed=0)
    result = deep_leakage(model, model_gradient(model, image, torch.tensor(digits.target[0:1])), (1, 8, 8), 10,
                          steps=15)
    assert psnr(result.image.numpy(), image[0].numpy()) > 25


def test_metrics_by_hand():
    import numpy as np

    from reliant.federated.metrics import mse, psnr

    a = np.zeros((1, 8, 8))
    b = np.full((1, 8, 8), 0.1)
    assert mse(b, a) == pytest.approx(0.01)
    assert psnr(b, a) == pytest.approx(20.0)
    assert psnr(a, a) == float("inf")
