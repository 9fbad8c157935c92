"""Each loss against values worked out by hand, and forward correction recovering the clean optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reliant.construction import losses

# Two rows, three classes; softmax of row 0 = (e^2, e^1, e^0) / Z.
LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
LABELS = torch.tensor([0, 2])
Z0 = math.exp(2) + math.exp(1) + 1.0
P0 = [math.exp(2) / Z0, math.exp(1) / Z0, 1.0 / Z0]  # 0.6652, 0.2447, 0.0900
P1 = [1 / 3] * 3


def test_cross_entropy_by_hand():
    expected = (-math.log(P0[0]) - math.log(P1[2])) / 2
    assert losses.cross_entropy(LOGITS, LABELS).item() == pytest.approx(expected, rel=1e-6)


def test_weighted_cross_entropy_divides_by_the_weights_of_the_batch():
    weight = torch.tensor([2.0, 1.0, 0.5])
    expected = (2.0 * -math.log(P0[0]) + 0.5 * -math.log(P1[2])) / 2.5
    assert losses.cross_entropy(LOGITS, LABELS, weight).item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_by_hand():
    eps = 0.2
    row0 = (1 - eps) * -math.log(P0[0]) + eps * np.mean([-math.log(p) for p in P0])
    row1 = (1 - eps) * -math.log(1 / 3) + eps * -math.log(1 / 3)
    assert losses.label_smoothing_loss(LOGITS, LABELS, eps).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_gce_by_hand_and_its_limits():
    q = 0.5
    expected = ((1 - P0[0] ** q) / q + (1 - (1 / 3) ** q) / q) / 2
    assert losses.gce_loss(LOGITS, LABELS, q).item() == pytest.approx(expected, rel=1e-6)
    mae = ((1 - P0[0]) + (1 - 1 / 3)) / 2  # q = 1 is the mean absolute error on p_y
    assert losses.gce_loss(LOGITS, LABELS, 1.0).item() == pytest.approx(mae, rel=1e-6)
    ce = losses.cross_entropy(LOGITS, LABELS).item()
    assert losses.gce_loss(LOGITS, LABELS, 1e-4).item() == pytest.approx(ce, rel=1e-3)  # q -> 0 is CE


def test_forward_correction_by_hand():
    T = torch.tensor([[0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.0, 0.3, 0.7]])
    noisy0 = P0[0] * 0.8 + P0[1] * 0.1 + P0[2] * 0.0  # (p T)_0
    noisy1 = (0.0 + 0.0 + 0.7) / 3  # (p T)_2 with p uniform
    expected = (-math.log(noisy0) - math.log(noisy1)) / 2
    assert losses.forward_corrected_loss(LOGITS, LABELS, T).item() == pytest.approx(expected, rel=1e-6)
    assert losses.forward_corrected_loss(LOGITS, LABELS, torch.eye(3)).item() == pytest.approx(
        losses.cross_entropy(LOGITS, LABELS).item(), rel=1e-6)


def test_peer_loss_by_hand_with_known_pairs():
    generator = torch.Generator().manual_seed(3)
    first = torch.randint(2, (2,), generator=generator)
    second = torch.randint(2, (2,), generator=generator)
    nll = [[-math.log(p) for p in P0], [-math.log(p) for p in P1]]
    peer = np.mean([nll[int(a)][int(LABELS[int(b)])] for a, b in zip(first, second)])
    expected = (-math.log(P0[0]) - math.log(P1[2])) / 2 - 0.5 * peer
    value = losses.peer_loss(LOGITS, LABELS, 0.5, generator=torch.Generator().manual_seed(3))
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_coteaching_updates_each_network_on_the_others_small_loss_rows():
    labels = torch.tensor([0, 0, 0, 0])
    a = torch.tensor([[5.0, 0.0], [4.0, 0.0], [0.0, 3.0], [0.0, 4.0]])  # A: rows 0, 1 easy
    b = torch.tensor([[0.0, 3.0], [0.0, 4.0], [5.0, 0.0], [4.0, 0.0]])  # B: rows 2, 3 easy
    loss_a, loss_b = losses.coteaching_losses(a, b, labels, forget_rate=0.5)
    per_a = torch.nn.functional.cross_entropy(a, labels, reduction="none")
    per_b = torch.nn.functional.cross_entropy(b, labels, reduction="none")
    assert loss_a.item() == pytest.approx(per_a[[2, 3]].mean().item())  # B's easy rows
    assert loss_b.item() == pytest.approx(per_b[[0, 1]].mean().item())  # A's easy rows
    assert len(losses.coteaching_keep(per_a, 0.0)) == 4 and len(losses.coteaching_keep(per_a, 0.99)) == 1


def test_elr_by_hand():
    targets = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    inner0 = 0.5 * P0[0] + 0.5 * P0[1]
    inner1 = 1 / 3
    ce = (-math.log(P0[0]) - math.log(P1[2])) / 2
    expected = ce + 2.0 * (math.log(1 - inner0) + math.log(1 - inner1)) / 2
    assert losses.elr_loss(LOGITS, LABELS, targets, 2.0).item() == pytest.approx(expected, rel=1e-4)


def test_class_weights_by_hand():
    counts = np.array([100, 10, 1])
    inverse = np.array([0.01, 0.1, 1.0])
    assert np.allclose(losses.class_weights(counts), inverse / inverse.mean())
    beta = 0.9
    effective = (1 - beta) / (1 - beta ** counts)
    assert np.allclose(losses.class_weights(counts, "effective", beta), effective / effective.mean())


def test_logit_adjusted_and_balanced_softmax_by_hand():
    counts = torch.tensor([8.0, 1.0, 1.0])
    log_prior = torch.log(counts / counts.sum())
    shifted0 = [2 + math.log(0.8), 1 + math.log(0.1), math.log(0.1)]
    expected0 = -shifted0[0] + math.log(sum(math.exp(v) for v in shifted0))
    shifted1 = [math.log(0.8), math.log(0.1), math.log(0.1)]
    expected1 = -shifted1[2] + math.log(sum(math.exp(v) for v in shifted1))
    la = losses.logit_adjusted_loss(LOGITS, LABELS, log_prior, tau=1.0).item()
    assert la == pytest.approx((expected0 + expected1) / 2, rel=1e-6)
    # Balanced softmax is the logit-adjusted loss at tau = 1 (log n = log pi + log N).
    assert losses.balanced_softmax_loss(LOGITS, LABELS, counts).item() == pytest.approx(la, rel=1e-6)
    assert losses.logit_adjusted_loss(LOGITS, LABELS, log_prior, tau=0.0).item() == pytest.approx(
        losses.cross_entropy(LOGITS, LABELS).item())


def test_ldam_by_hand():
    counts = np.array([16.0, 1.0, 81.0])
    margins = losses.ldam_margins(counts, max_margin=0.5)
    raw = counts ** -0.25  # 0.5, 1, 1/3
    assert np.allclose(margins, raw * 0.5 / raw.max())
    cos = torch.tensor([[0.5, 0.2, -0.1], [0.1, 0.0, 0.3]])
    labels = torch.tensor([0, 2])
    s = 10.0
    row0 = [s * (0.5 - margins[0]), s * 0.2, s * -0.1]
    row1 = [s * 0.1, s * 0.0, s * (0.3 - margins[2])]
    expected = np.mean([-row0[0] + math.log(sum(math.exp(v) for v in row0)),
                        -row1[2] + math.log(sum(math.exp(v) for v in row1))])
    value = losses.ldam_loss(cos, labels, torch.tensor(margins, dtype=torch.float32), scale=s)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_forward_correction_with_the_true_T_recovers_the_clean_optimum():
    """A linear softmax model on a synthetic problem with strong asymmetric noise: plain CE on the
    noisy labels learns the noisy posterior (class 0 becomes mostly class 1), forward correction
    with the true T learns back the clean one, and nearly matches training on clean labels."""
    rng = np.random.default_rng(0)
    K, n = 3, 6000
    means = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]])
    clean = rng.integers(0, K, n)
    x = means[clean] + rng.normal(size=(n, 2))
    T = np.array([[0.4, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.2, 0.8]])  # 60% of class 0 labelled 1
    noisy = np.array([rng.choice(K, p=T[c]) for c in clean])
    x_test_clean = rng.integers(0, K, 3000)
    x_test = means[x_test_clean] + rng.normal(size=(3000, 2))

    def fit(labels, transition=None):
        torch.manual_seed(0)
        model = torch.nn.Linear(2, K)
        optimizer = torch.optim.LBFGS(model.parameters(), max_iter=200, line_search_fn="strong_wolfe")
        xs, ys = torch.tensor(x, dtype=torch.float32), torch.tensor(labels)
        Tt = None if transition is None else torch.tensor(transition, dtype=torch.float32)

        def closure():
            optimizer.zero_grad()
            logits = model(xs)
            loss = losses.cross_entropy(logits, ys) if Tt is None else losses.forward_corrected_loss(logits, ys, Tt)
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            return (model(torch.tensor(x_test, dtype=torch.float32)).argmax(1).numpy() == x_test_clean).mean()

    clean_acc, noisy_acc, forward_acc = fit(clean), fit(noisy), fit(noisy, T)
    assert noisy_acc < clean_acc - 0.15  # the noise really hurts CE
    assert forward_acc > clean_acc - 0.02  # forward correction recovers the clean optimum
