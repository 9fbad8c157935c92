"""Unlearning losses against hand-computed values.

The fixtures build logits as log-probabilities, so softmax returns exactly the
probabilities written below and every expected number is a short closed form.
"""

import math

import pytest
import torch

from reliant.core.errors import UserError
from reliant.unlearning.losses import (
    FLAT_DIVERGENCES,
    IGNORE_INDEX,
    add_retain_term,
    answer_token_counts,
    answer_token_logprobs,
    dpo_loss,
    flat_answer_probability,
    flat_loss,
    ga_loss,
    gd_loss,
    kl_retain_loss,
    npo_loss,
    sequence_logprob,
    sequence_nll,
    simnpo_loss,
    token_mean_nll,
)

X = IGNORE_INDEX


def _logits(rows):
    return torch.tensor(rows, dtype=torch.float64).log()


# Forget batch, B=2, L=4, V=3. Position t predicts labels[t + 1].
# Row 0 scores label 0 at position 0 (p=1/2) and label 1 at position 1 (p=3/5).
# Row 1 scores label 2 at position 1 (p=1/3) and label 2 at position 2 (p=1/2).
FORGET_PROBS = [
    [[1 / 2, 1 / 4, 1 / 4], [1 / 5, 3 / 5, 1 / 5], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.2, 0.7]],
    [[1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3], [1 / 4, 1 / 4, 1 / 2], [0.6, 0.2, 0.2]],
]
FORGET_LABELS = [[X, 0, 1, X], [X, X, 2, 2]]
FORGET_TOKEN_PROBS = [[1 / 2, 3 / 5], [1 / 3, 1 / 2]]

# Template ("I don't know") batch: row 0 scores label 1 three times (1/2, 3/5, 0.8),
# row 1 scores label 0 once (0.9).
TEMPLATE_PROBS = [
    [[1 / 4, 1 / 2, 1 / 4], [1 / 5, 3 / 5, 1 / 5], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]],
    [[1 / 3, 1 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3], [0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3]],
]
TEMPLATE_LABELS = [[X, 1, 1, 1], [X, X, X, 0]]
TEMPLATE_TOKEN_PROBS = [[1 / 2, 3 / 5, 0.8], [0.9]]


@pytest.fixture
def forget():
    return _logits(FORGET_PROBS), torch.tensor(FORGET_LABELS)


@pytest.fixture
def template():
    return _logits(TEMPLATE_PROBS), torch.tensor(TEMPLATE_LABELS)


def _mean(values):
    return sum(values) / len(values)


# --------------------------------------------------------------------------- token scoring


def test_answer_token_logprobs_applies_the_shift(forget):
    logits, labels = forget
    logp, mask = answer_token_logprobs(logits, labels)
    assert logp.shape == mask.shape == (2, 3)
    assert mask.tolist() == [[True, True, False], [False, True, True]]
    expected = [[math.log(1 / 2), math.log(3 / 5), 0.0], [0.0, math.log(1 / 3), math.log(1 / 2)]]
    for got, want in zip(logp.tolist(), expected):
        assert got == pytest.approx(want, abs=1e-12)
    assert answer_token_counts(labels).tolist() == [2, 2]


def test_half_precision_logits_are_scored_in_float32(forget):
    logits, labels = forget
    logp, _ = answer_token_logprobs(logits.to(torch.bfloat16), labels)
    assert logp.dtype == torch.float32
    assert logp[0, 0].item() == pytest.approx(math.log(1 / 2), abs=2e-2)


def test_sequence_nll_sum_mean_and_logprob(forget):
    logits, labels = forget
    sums = [-(math.log(1 / 2) + math.log(3 / 5)), -(math.log(1 / 3) + math.log(1 / 2))]
    assert sequence_nll(logits, labels, "sum").tolist() == pytest.approx(sums)
    assert sequence_nll(logits, labels).tolist() == pytest.approx([s / 2 for s in sums])
    assert sequence_logprob(logits, labels).tolist() == pytest.approx([-s for s in sums])
    with pytest.raises(ValueError, match="valid: mean, sum") as info:
        sequence_nll(logits, labels, "median")
    assert not isinstance(info.value, UserError)


def test_token_mean_nll_pools_all_answer_tokens(template):
    logits, labels = template
    # Row 0 has 3 answer tokens, row 1 has 1: a pooled mean, not a mean of row means.
    expected = -(math.log(0.5) + math.log(0.6) + math.log(0.8) + math.log(0.9)) / 4
    assert token_mean_nll(logits, labels).item() == pytest.approx(expected)


# --------------------------------------------------------------------------- FLAT


def _g_and_f(name):
    """g* and f* written out directly from the FLAT paper's Table 1."""
    return {
        "kl": (lambda v: v, lambda u: math.exp(u - 1)),
        "js": (lambda v: math.log(2 / (1 + math.exp(-v))), lambda u: -math.log(2 - math.exp(u))),
        "pearson": (lambda v: v, lambda u: u * u / 4 + u),
        "tv": (lambda v: math.tanh(v) / 2, lambda u: u),
    }[name]


def _official_code_loss(name, p_e, p_f):
    """The released get_contrastive_loss, transcribed for scalars: activation and
    conjugate are the code's own (sign-flipped) forms, loss = act(P_e) - conj(P_f)."""
    log2 = math.log(2)
    act, conj = {
        "kl": (lambda x: -x, lambda x: -math.exp(x - 1)),
        "js": (lambda x: math.log(1 + math.exp(-x)) - log2,
               lambda x: -(x + math.log(1 + math.exp(-x))) + log2),
        "pearson": (lambda x: -x, lambda x: -(x * x / 4 + x)),
        "tv": (lambda x: -math.tanh(x) / 2, lambda x: -math.tanh(x) / 2),
    }[name]
    return act(p_e) - conj(p_f)


def test_flat_answer_probability_both_reductions(forget, template):
    logits, labels = forget
    paper = flat_answer_probability(logits, labels, "paper")
    assert paper.tolist() == pytest.approx([0.55, 5 / 12])
    # Official: every probability over B * (L - 1) = 6 slots, prompt and padding as 0.
    official = flat_answer_probability(logits, labels, "official")
    assert official.item() == pytest.approx((1 / 2 + 3 / 5 + 1 / 3 + 1 / 2) / 6)
    t_logits, t_labels = template
    assert flat_answer_probability(t_logits, t_labels).tolist() == pytest.approx([1.9 / 3, 0.9])
    assert flat_answer_probability(t_logits, t_labels, "official").item() == pytest.approx(2.8 / 6)


@pytest.mark.parametrize("divergence", ["kl", "js", "pearson", "tv"])
def test_flat_paper_reduction_matches_hand_values(divergence, forget, template):
    g, f = _g_and_f(divergence)
    p_e = [_mean(row) for row in TEMPLATE_TOKEN_PROBS]
    p_f = [_mean(row) for row in FORGET_TOKEN_PROBS]
    expected = _mean([-g(v) for v in p_e]) + _mean([f(g(v)) for v in p_f])
    loss = flat_loss(*template, *forget, divergence=divergence, reduction="paper")
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("divergence", ["kl", "js", "pearson", "tv"])
def test_flat_official_reduction_matches_hand_values_and_released_code(divergence, forget, template):
    g, f = _g_and_f(divergence)
    p_e = sum(sum(row) for row in TEMPLATE_TOKEN_PROBS) / 6
    p_f = sum(sum(row) for row in FORGET_TOKEN_PROBS) / 6
    loss = flat_loss(*template, *forget, divergence=divergence, reduction="official").item()
    assert loss == pytest.approx(-g(p_e) + f(g(p_f)), rel=1e-12)
    assert loss == pytest.approx(_official_code_loss(divergence, p_e, p_f), rel=1e-12)


def test_flat_reductions_differ_on_padded_batches(forget, template):
    paper = flat_loss(*template, *forget, divergence="kl", reduction="paper")
    official = flat_loss(*template, *forget, divergence="kl", reduction="official")
    assert abs(paper.item() - official.item()) > 0.1


@pytest.mark.parametrize("reduction", ["paper", "official"])
@pytest.mark.parametrize("divergence", sorted(FLAT_DIVERGENCES))
def test_minimising_flat_raises_template_and_lowers_forget(divergence, reduction):
    torch.manual_seed(0)
    # One shared context; the template answer is token 0 and the forget answer
    # token 1 at the same positions, so the two terms pull against each other.
    theta = torch.nn.Parameter(torch.randn(1, 5, 4, dtype=torch.float64))
    template_labels = torch.tensor([[X, 0, 0, 0, X], [X, X, 0, 0, 0]])
    forget_labels = torch.tensor([[X, 1, 1, 1, X], [X, X, 1, 1, 1]])
    optimiser = torch.optim.SGD([theta], lr=1.0)

    def probs():
        logits = theta.expand(2, -1, -1)
        return (
            flat_answer_probability(logits, template_labels).mean().item(),
            flat_answer_probability(logits, forget_labels).mean().item(),
        )

    p_e0, p_f0 = probs()
    for _ in range(10):
        optimiser.zero_grad()
        logits = theta.expand(2, -1, -1)
        flat_loss(logits, template_labels, logits, forget_labels, divergence, reduction).backward()
        optimiser.step()
    p_e1, p_f1 = probs()
    assert p_e1 > p_e0 + 0.01
    assert p_f1 < p_f0 - 0.01


def test_flat_rejects_unknown_names(forget, template):
    with pytest.raises(ValueError) as info:
        flat_loss(*template, *forget, divergence="hellinger")
    assert not isinstance(info.value, UserError)
    message = str(info.value)
    assert "hellinger" in message and "kl, js, pearson, tv" in message and "\n" not in message
    with pytest.raises(ValueError, match="valid: paper, official"):
        flat_loss(*template, *forget, reduction="batch")
    assert flat_loss(*template, *forget, divergence="KL").item() == pytest.approx(
        flat_loss(*template, *forget, divergence="kl").item()
    )


def test_flat_paper_needs_answer_tokens_in_every_row(forget, template):
    logits, _ = forget
    labels = torch.tensor([[X, 0, 1, X], [2, X, X, X]])  # row 1 scores nothing after the shift
    with pytest.raises(ValueError, match="forget row 1 has no answer tokens"):
        flat_loss(*template, logits, labels)
    # The official reduction just counts the empty row as zeros, like the released code.
    flat_loss(*template, logits, labels, reduction="official")


# --------------------------------------------------------------------------- baselines


def test_ga_and_gd(forget, template):
    forget_nll = -(math.log(1 / 2) + math.log(3 / 5) + math.log(1 / 3) + math.log(1 / 2)) / 4
    retain_nll = -(math.log(0.5) + math.log(0.6) + math.log(0.8) + math.log(0.9)) / 4
    assert ga_loss(*forget).item() == pytest.approx(-forget_nll)
    assert gd_loss(*forget, *template).item() == pytest.approx(-forget_nll + retain_nll)
    weighted = gd_loss(*forget, *template, gamma=2.0, alpha=0.5).item()
    assert weighted == pytest.approx(-2 * forget_nll + 0.5 * retain_nll)


def test_kl_retain_loss_is_kl_reference_to_current():
    current = _logits([[[1 / 2, 1 / 2], [1 / 4, 3 / 4]]]).requires_grad_()
    reference = _logits([[[3 / 4, 1 / 4], [1 / 4, 3 / 4]]]).requires_grad_()
    kl_first = 3 / 4 * math.log((3 / 4) / (1 / 2)) + 1 / 4 * math.log((1 / 4) / (1 / 2))
    # OpenUnlearning: batchmean over all B * L = 2 positions, the second contributing 0.
    loss = kl_retain_loss(current, reference)
    assert loss.item() == pytest.approx(kl_first / 2)
    # Restricted to the positions that predict answer tokens (only position 0 here).
    assert kl_retain_loss(current, reference, torch.tensor([[X, 1]])).item() == pytest.approx(kl_first)
    loss.backward()
    assert reference.grad is None and current.grad is not None
    with pytest.raises(ValueError, match="differ in shape"):
        kl_retain_loss(current, reference[:, :1])


def test_npo_matches_formula_and_freezes_reference():
    policy = torch.tensor([-12.0, -30.0], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([-10.0, -35.0], dtype=torch.float64, requires_grad=True)
    beta = 0.1
    expected = _mean([
        -(2 / beta) * math.log(1 / (1 + math.exp(beta * (p - r))))
        for p, r in ((-12.0, -10.0), (-30.0, -35.0))
    ])
    loss = npo_loss(policy, ref, beta)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert ref.grad is None and policy.grad is not None
    # NPO's gradient lowers the forget log-probability.
    assert (policy.grad > 0).all()


def test_simnpo_matches_formula():
    logp = torch.tensor([-6.0, -2.0], dtype=torch.float64)
    counts = torch.tensor([3, 4])
    beta, delta = 4.5, 0.5

    def term(lp, n, margin_outside=0.0, margin_inside=0.0):
        z = beta * (-lp / n - margin_inside) - margin_outside
        return -(2 / beta) * math.log(1 / (1 + math.exp(-z)))

    # OpenUnlearning / official-code margin, inside beta.
    expected = _mean([term(-6.0, 3, margin_inside=delta), term(-2.0, 4, margin_inside=delta)])
    assert simnpo_loss(logp, counts, beta, delta=delta).item() == pytest.approx(expected)
    # The paper's margin, outside beta: gamma = beta * delta is the same loss.
    assert simnpo_loss(logp, counts, beta, gamma=beta * delta).item() == pytest.approx(expected)
    no_margin = _mean([term(-6.0, 3), term(-2.0, 4)])
    assert simnpo_loss(logp, counts, beta).item() == pytest.approx(no_margin)
    with pytest.raises(ValueError, match="positive"):
        simnpo_loss(logp, torch.tensor([3, 0]))


def test_dpo_matches_formula():
    w, w_ref = torch.tensor([-5.0, -4.0]), torch.tensor([-6.0, -4.5])
    l, l_ref = torch.tensor([-20.0, -9.0]), torch.tensor([-18.0, -10.0])
    beta = 0.1
    expected = _mean([
        -(2 / beta) * math.log(1 / (1 + math.exp(-beta * ((a - b) - (c - d)))))
        for a, b, c, d in ((-5.0, -6.0, -20.0, -18.0), (-4.0, -4.5, -9.0, -10.0))
    ])
    # TRL argument order: policy preferred, policy dispreferred, reference preferred, reference dispreferred.
    assert dpo_loss(w, l, w_ref, l_ref, beta).item() == pytest.approx(expected, rel=1e-6)


def test_add_retain_term():
    assert add_retain_term(torch.tensor(2.0)).item() == 2.0
    assert add_retain_term(torch.tensor(2.0), torch.tensor(1.0), gamma=3, alpha=4).item() == 10.0


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "logits, labels, needle",
    [
        (torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.long), "shape (batch, length, vocab)"),
        (torch.zeros(2, 4, 3), torch.zeros(2, 5, dtype=torch.long), "labels must have shape"),
        (torch.zeros(2, 1, 3), torch.zeros(2, 1, dtype=torch.long), "at least 2 positions"),
        (torch.zeros(2, 4, 3), torch.full((2, 4), 3), "outside [0, 3)"),
        (torch.zeros(2, 4, 3), torch.zeros(2, 4), "integer token ids"),
        (torch.zeros(0, 4, 3), torch.zeros(0, 4, dtype=torch.long), "empty"),
    ],
)
def test_bad_logits_and_labels(logits, labels, needle):
    # A contract break is a bug in the caller: a plain exception that keeps its traceback.
    with pytest.raises((TypeError, ValueError)) as info:
        sequence_nll(logits, labels, "sum")
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert not isinstance(info.value, UserError)


def test_bad_sequence_inputs():
    a = torch.tensor([-1.0, -2.0])
    with pytest.raises(ValueError, match="same shape"):
        npo_loss(a, torch.tensor([-1.0]))
    with pytest.raises(ValueError, match=r"shape \(batch,\)"):
        npo_loss(torch.tensor(-1.0), torch.tensor(-1.0))
    with pytest.raises(ValueError, match="NaN"):
        npo_loss(torch.tensor([float("nan"), 1.0]), a)
    with pytest.raises(ValueError, match="beta"):
        npo_loss(a, a, beta=0)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(a, a, a, a, beta=-1.0)


def test_contract_breaks_are_not_user_errors():
    a = torch.tensor([-1.0, -2.0])
    for call in (lambda: npo_loss(a, torch.tensor([-1.0])), lambda: npo_loss(a, a, beta=0), lambda: token_mean_nll(a, a)):
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        assert not isinstance(info.value, UserError)
