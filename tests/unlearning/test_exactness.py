"""Regression tests for issue 16: each would have caught one of the wrong numbers.

PrivLeak's AUC convention, the retain terms the OpenUnlearning names promise (token mean,
KL over every position), FLAT's single concatenated pass, templates redrawn each epoch,
EOS scored in TOFU probabilities, empty answers refused, and the new losses and metrics
against hand computations.
"""

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reliant.core.builtin_data import builtin_qa
from reliant.core.errors import UserError
from reliant.core.models import mean_answer_nll
from reliant.core.prompts import qa_prompt, qa_text
from reliant.unlearning import losses, metrics
from reliant.unlearning.config import UnlearnSettings
from reliant.unlearning.evaluate import _mean_nll, mia_suite, privleak_auc
from reliant.unlearning.methods import REGISTRY, StepContext
from reliant.unlearning.trainer import UnlearnData, _BatchBuilder, _qa_batch, epoch_templates, pair_templates

SEEN = builtin_qa(n_people=10)            # what the session's small LM was trained on
UNSEEN = builtin_qa(n_people=20)[len(SEEN):]


# ----------------------------------------------------------------- PrivLeak


def test_privleak_of_a_model_that_still_knows_the_forget_set_is_near_minus_100(small_lm):
    """MUSE: PrivLeak = (AUC - AUC_retrain) / AUC_retrain on 1 - AUC(forget as members).
    A model trained on the 'forget' texts against a never-trained-on holdout reads about
    -100 % against a retrained model at chance (0.5); the old convention read about +100."""
    model, tokenizer = small_lm
    forget = [qa_text(r["question"], r["answer"]) for r in SEEN[:40]]
    holdout = [qa_text(r["question"], r["answer"]) for r in UNSEEN[:40]]
    mia = mia_suite(model, tokenizer, forget, holdout)
    assert mia["mia_loss"] > 0.8 and mia["mia_min_k"] > 0.8  # the attacks see the memorised set
    leak = metrics.privleak(privleak_auc(mia), 0.5)
    assert -100 <= leak < -50  # the old convention gave (AUC - 0.5) / 0.5 > +50


# ----------------------------------------------------------------- retain terms


class _StubModel(torch.nn.Module):
    """Logits are a fixed function of the ids, so every term can be recomputed by hand."""

    def __init__(self, vocab=11, scale=1.0):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0)) * scale)

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(logits=self.table[input_ids])


def _stub_batches():
    # Two retain rows with 1 and 4 answer tokens: the token mean and the mean of
    # per-sequence means differ.
    input_ids = torch.tensor([[1, 2, 3, 0, 0, 0], [1, 4, 5, 6, 7, 8]])
    labels = torch.tensor([[-100, -100, 3, -100, -100, -100], [-100, -100, 5, 6, 7, 8]])
    return {"input_ids": input_ids, "attention_mask": (labels != -101).long(), "labels": labels}


def _stub_ctx(model, batch):
    return StepContext(model=model, indices=[0, 1], device="cpu", forget=[("q", "a")] * 2, templates=None,
                       retain=[("q", "a")] * 2, build_batch=lambda pairs: batch, retain_rng=random.Random(0),
                       method="gd")


def test_graddiff_retain_term_is_the_token_mean_nll():
    model, batch = _StubModel(), _stub_batches()
    value = _stub_ctx(model, batch).retain_nll()
    logits = model(batch["input_ids"], batch["attention_mask"]).logits
    hf_loss = F.cross_entropy(logits[:, :-1].reshape(-1, 11), batch["labels"][:, 1:].reshape(-1), ignore_index=-100)
    per_sequence = losses.sequence_nll(logits, batch["labels"]).mean()
    assert float(value) == pytest.approx(float(hf_loss), rel=1e-6)
    assert abs(float(per_sequence) - float(hf_loss)) > 1e-3  # the old reduction is a different number


def test_ga_kl_takes_the_kl_over_every_position_like_openunlearning():
    model, reference, batch = _StubModel(), _StubModel(scale=0.5), _stub_batches()
    method = REGISTRY["ga_kl"](REGISTRY["ga_kl"].Params())
    method.reference_model = reference
    _, parts = method.loss(_stub_ctx(model, batch))
    current = F.log_softmax(model(batch["input_ids"], None).logits, -1).reshape(-1, 11)
    ref = F.log_softmax(reference(batch["input_ids"], None).logits, -1).reshape(-1, 11)
    expected = (ref.exp() * (ref - current)).sum() / current.shape[0]  # batchmean over B * L rows
    assert parts["retain"] == pytest.approx(float(expected), rel=1e-5)
    answer_only = float(losses.kl_retain_loss(model(batch["input_ids"], None).logits,
                                              reference(batch["input_ids"], None).logits, batch["labels"]))
    assert abs(answer_only - parts["retain"]) > 1e-3


# ----------------------------------------------------------------- FLAT in one pass


@pytest.mark.parametrize("reduction", ["paper", "official"])
def test_flat_one_concatenated_pass_equals_two_passes(small_lm, reduction):
    model, tokenizer = small_lm
    forget = [(r["question"], r["answer"]) for r in SEEN[:4]]
    templates = ["I don't know.", "I have no idea who that is, sorry.", "No comment.", "I cannot say."]
    build = _BatchBuilder(tokenizer, 192, "cpu")
    ctx = StepContext(model=model, indices=[0, 1, 2, 3], device="cpu", forget=forget, templates=templates, retain=None,
                      build_batch=build, retain_rng=random.Random(0), method="flat")
    method = REGISTRY["flat"](REGISTRY["flat"].Params(reduction=reduction))
    model.zero_grad()
    joint, _ = method.loss(ctx)
    joint.backward()
    joint_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    f = _qa_batch(tokenizer, forget, 192)
    t = _qa_batch(tokenizer, [(q, a) for (q, _), a in zip(forget, templates)], 192)
    logits = lambda b: model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits  # noqa: E731
    separate = losses.flat_loss(logits(t), t["labels"], logits(f), f["labels"], reduction=reduction)
    separate.backward()
    assert float(joint) == pytest.approx(float(separate), rel=1e-5, abs=1e-7)
    for a, p in zip(joint_grads, model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)
    model.zero_grad()


def test_batch_builder_gives_the_tensors_of_build_qa_batch(small_lm):
    _, tokenizer = small_lm
    pairs = [(r["question"], r["answer"]) for r in SEEN[:5]]
    built, expected = _BatchBuilder(tokenizer, 20, "cpu")(pairs), _qa_batch(tokenizer, pairs, 20)
    for key in expected:
        assert torch.equal(built[key], expected[key])


# ----------------------------------------------------------------- templates


def test_templates_are_redrawn_each_epoch_by_default_and_once_on_request():
    pool = [f"refusal {i}" for i in range(50)]
    first = pair_templates(6, pool, 3)
    data = UnlearnData(forget=[("q", "a")] * 6, templates=first, template_pool=pool,
                       own_template=[False] * 5 + [True])
    redrawn = epoch_templates(data, UnlearnSettings(epochs=3, seed=3))
    assert redrawn[0] == first and redrawn[1] != first and redrawn[2] != redrawn[1]
    assert all(epoch[5] == first[5] for epoch in redrawn)  # a record's own template is kept
    assert redrawn == epoch_templates(data, UnlearnSettings(epochs=3, seed=3))  # reproducible (and on resume)
    once = epoch_templates(data, UnlearnSettings(epochs=3, seed=3, template_draw="once"))
    assert once == [first] * 3
    assert UnlearnSettings().template_draw == "redraw"


# ----------------------------------------------------------------- TOFU probabilities


def test_tofu_probability_scores_the_eos_token(small_lm):
    model, tokenizer = small_lm
    questions, answers = [r["question"] for r in SEEN[:6]], [r["answer"] for r in SEEN[:6]]
    ours = _mean_nll(model, tokenizer, questions, answers, 4)
    with_eos = mean_answer_nll(model, tokenizer, [qa_prompt(q) for q in questions], answers, add_eos=True)
    without = mean_answer_nll(model, tokenizer, [qa_prompt(q) for q in questions], answers)
    np.testing.assert_allclose(ours, with_eos, rtol=1e-5)
    assert not np.allclose(ours, without)


def test_an_empty_answer_is_an_error_not_probability_one(small_lm):
    model, tokenizer = small_lm
    with pytest.raises(UserError, match="answer 2 is empty"):
        _mean_nll(model, tokenizer, ["q1", "q2"], ["a", "  "], 4)


# ----------------------------------------------------------------- new losses by hand


def _tokens():
    logits = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 0.0, -1.0], [0.5, 0.5, 0.0]]], requires_grad=True)
    labels = torch.tensor([[-100, 2, 0]])
    logp = F.log_softmax(logits.detach(), -1)
    return logits, labels, logp


def test_wga_and_satimp_by_hand():
    logits, labels, logp = _tokens()
    nll = torch.stack([-logp[0, 0, 2], -logp[0, 1, 0]])
    p = (-nll).exp()
    assert float(losses.wga_loss(logits, labels, beta=2.0)) == pytest.approx(float(-(p**2 * nll).mean()))
    expected = -(p**5 * (1 - p) ** 1 * nll).mean()
    assert float(losses.satimp_loss(logits, labels, beta1=5.0, beta2=1.0)) == pytest.approx(float(expected))


def test_ceu_by_hand_skips_the_first_answer_token():
    logits, labels, logp = _tokens()
    # Only the second answer token (label 0, predicted at position 1) is unlearned.
    row = logits.detach()[0, 1]
    target = F.softmax(row.masked_fill(torch.tensor([True, False, False]), float("-inf")), -1)
    expected = -(target * F.log_softmax(row, -1)).sum()
    assert float(losses.ceu_loss(logits, labels, 1)) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="no answer tokens left"):
        losses.ceu_loss(logits, labels, 2)


def test_undial_by_hand():
    logits, labels, _ = _tokens()
    teacher = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]])
    rows = []
    for position, label in ((0, 2), (1, 0)):
        adjusted = teacher[0, position].clone()
        adjusted[label] -= 10.0
        rows.append(-(F.softmax(adjusted, -1) * F.log_softmax(logits.detach()[0, position], -1)).sum())
    assert float(losses.undial_loss(logits, teacher, labels, beta=10.0)) == pytest.approx(float(torch.stack(rows).mean()))


def test_pdu_and_rmu_by_hand():
    logits, labels, _ = _tokens()
    rows = logits.detach()[0, :2]
    expected = ((rows.max(-1).values - rows.mean(-1)) ** 2).mean()
    assert float(losses.pdu_forget_loss(logits, labels)) == pytest.approx(float(expected))
    acts = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]])
    target = torch.tensor([[[1.0, 0.0]]])
    mask = torch.tensor([[True, True, False]])
    # token 0: ((0)^2 + 2^2)/2 = 2; token 1: (2^2 + 4^2)/2 = 10; mean over 2 tokens = 6
    assert float(losses.rmu_activation_loss(acts, target, mask)) == pytest.approx(6.0)


# ----------------------------------------------------------------- new metrics by hand


def test_exact_memorization_and_extraction_strength():
    flags = np.array([False, True, False, True, True])
    assert metrics.exact_memorization(flags) == pytest.approx(3 / 5)
    assert metrics.extraction_strength(flags) == pytest.approx(1 - 3 / 5)  # the suffix after token 3 is greedy
    assert metrics.extraction_strength(np.ones(4, bool)) == 1.0
    assert metrics.extraction_strength(np.array([True, False])) == 0.0


def test_truth_ratio_prob_mean():
    pert = np.array([[1.0, 3.0]])
    para = np.array([1.5])
    p_para, p_pert = math.exp(-1.5), math.exp(-2.0)  # geometric mean of exp(-1), exp(-3)
    assert metrics.truth_ratio_prob_mean(pert, para)[0] == pytest.approx(p_para / (p_para + p_pert))


def test_retain_logs_round_trip_in_openunlearning_format(tmp_path):
    import json

    ratios = np.array([0.5, 1.2, 0.01])
    logs = metrics.retain_logs(ratios, mia_min_k_auc=0.8)
    assert logs["forget_truth_ratio"]["value_by_index"]["1"] == {"score": 1.2}
    (tmp_path / "TOFU_EVAL.json").write_text(json.dumps(logs))
    read, auc = metrics.read_retain_logs(tmp_path / "TOFU_EVAL.json")
    np.testing.assert_allclose(read, ratios)
    assert auc == pytest.approx(0.2)  # MUSE's convention, 1 - mia_min_k
