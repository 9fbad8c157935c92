"""Unlearning objectives as pure functions of model outputs.

Nothing here loads a model or runs a forward pass: a trainer computes logits (or
per-sequence log-probabilities) and calls these functions, which only do the math.
All losses are *minimised*.

Conventions (Hugging Face causal LM):

* ``logits`` has shape ``(B, L, V)``; ``labels`` has shape ``(B, L)`` and holds
  :data:`IGNORE_INDEX` (-100) on every position that is not part of the answer
  (prompt, padding).
* Position ``t`` predicts token ``t + 1``, so logits are shifted left by one and labels
  right by one before scoring; a batch of length ``L`` yields ``L - 1`` predictions.
* The *sequence log-probability* of an answer is the **sum** of its answer-token
  log-probabilities, which is what OpenUnlearning's ``compute_batch_nll``
  (``src/trainer/utils.py``) returns, negated, and what NPO and DPO use.

Methods and sources:

* FLAT -- Wang et al., "LLM Unlearning via Loss Adjustment with Only Forget Data",
  ICLR 2025; official code ``UCSC-REAL/FLAT``, ``dataloader.py``
  (``CustomTrainerForgetting.compute_loss``, branch ``loss_type == "cl"``, with
  ``ProbLossStable`` and ``get_contrastive_loss``).
* WGA, SatImp, CE-U, UNDIAL, RMU, PDU -- see each function's docstring for its paper and
  the OpenUnlearning function it matches (``src/trainer/utils.py``, ``unlearn/ceu.py``,
  ``unlearn/rmu.py``, ``unlearn/pdu.py``).
* GA, GradDiff, KL-on-retain, NPO, SimNPO, IdkDPO -- the formulas of OpenUnlearning
  (``locuslab/open-unlearning``, ``src/trainer/unlearn/*.py`` and
  ``src/trainer/utils.py``). Every OpenUnlearning method except GA derives from
  ``GradDiff`` and returns ``gamma * forget_term + alpha * retain_term``; the
  functions here return the forget term and :func:`add_retain_term` combines them.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100
"""Label value of positions that are not scored (prompt and padding)."""

__all__ = [
    "FLAT_DIVERGENCES",
    "FLAT_REDUCTIONS",
    "IGNORE_INDEX",
    "FDivergence",
    "add_retain_term",
    "answer_token_counts",
    "answer_token_logprobs",
    "ceu_loss",
    "dpo_loss",
    "flat_answer_probability",
    "flat_loss",
    "ga_loss",
    "gd_loss",
    "kl_retain_loss",
    "npo_loss",
    "pdu_forget_loss",
    "rmu_activation_loss",
    "satimp_loss",
    "sequence_logprob",
    "sequence_nll",
    "simnpo_loss",
    "token_mean_nll",
    "token_means_over_processes",
    "undial_loss",
    "wga_loss",
]


# --------------------------------------------------------------------------- validation


def _check_choice(value: object, valid: tuple[str, ...], what: str) -> str:
    if isinstance(value, str) and value.lower() in valid:
        return value.lower()
    raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def _check_logits_labels(logits: object, labels: object, name: str) -> None:
    if not isinstance(logits, Tensor) or not isinstance(labels, Tensor):
        raise TypeError(f"{name}: logits and labels must be torch tensors")
    if logits.dim() != 3:
        raise ValueError(
            f"{name} logits must have shape (batch, length, vocab); got {tuple(logits.shape)}"
        )
    if labels.shape != logits.shape[:2]:
        raise ValueError(
            f"{name} labels must have shape (batch, length) = {tuple(logits.shape[:2])}; "
            f"got {tuple(labels.shape)}"
        )
    batch, length, vocab = logits.shape
    if batch == 0 or vocab == 0:
        raise ValueError(f"{name} batch is empty: logits shape {tuple(logits.shape)}")
    if length < 2:
        raise ValueError(
            f"{name} sequences need at least 2 positions (position t predicts token t+1); "
            f"got length {length}"
        )
    if not logits.is_floating_point():
        raise TypeError(f"{name} logits must be floating point; got {logits.dtype}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} labels must be integer token ids; got {labels.dtype}")
    outside = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= vocab))
    if bool(outside.any()):
        raise ValueError(
            f"{name} labels hold ids outside [0, {vocab}) that are not {IGNORE_INDEX}"
        )


def _check_sequence_values(values: object, name: str) -> Tensor:
    if not isinstance(values, Tensor):
        raise TypeError(f"{name} must be a torch tensor of shape (batch,)")
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(f"{name} must have shape (batch,) with batch >= 1; got {tuple(values.shape)}")
    if not values.is_floating_point():
        raise TypeError(f"{name} must be floating point; got {values.dtype}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return values


def _check_same_shape(**tensors: Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"per-sequence inputs must have the same shape; got {listed}")


def _check_beta(beta: float) -> float:
    if not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a positive number; got {beta!r}")
    return float(beta)


# --------------------------------------------------------------------------- token scoring


def _token_logprobs(logits: Tensor, labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    _check_logits_labels(logits, labels, name)
    shift_logits = logits[:, :-1, :]
    shift_labels = labels[:, 1:]
    # Half-precision log-softmax over a large vocabulary loses digits that the
    # probabilities FLAT works with cannot spare; HF upcasts its loss the same way.
    if shift_logits.dtype in (torch.float16, torch.bfloat16):
        shift_logits = shift_logits.float()
    batch, steps, vocab = shift_logits.shape
    # The same call as OpenUnlearning's compute_batch_nll; ignored positions give exactly 0.
    nll = F.cross_entropy(
        shift_logits.reshape(batch * steps, vocab),
        shift_labels.reshape(batch * steps),
        ignore_index=IGNORE_INDEX,
        reduction="none",
    ).view(batch, steps)
    return -nll, shift_labels != IGNORE_INDEX


def answer_token_logprobs(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Log-probability of every answer token, with the causal shift applied.

    Returns ``(token_logprobs, mask)``, both of shape ``(B, L - 1)``: entry ``t`` scores
    ``labels[:, t + 1]`` under ``logits[:, t]``; ``mask`` is True on answer tokens and
    ``token_logprobs`` is 0 wherever ``mask`` is False.
    """
    return _token_logprobs(logits, labels, "batch")


def answer_token_counts(labels: Tensor) -> Tensor:
    """Number of scored answer tokens per sequence, ``(B,)``, after the causal shift."""
    if not isinstance(labels, Tensor) or labels.dim() != 2 or labels.shape[1] < 2:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"labels must be a tensor of shape (batch, length >= 2); got {shape}")
    return (labels[:, 1:] != IGNORE_INDEX).sum(dim=-1)


def _require_answer_tokens(mask: Tensor, name: str) -> Tensor:
    counts = mask.sum(dim=-1)
    empty = (counts == 0).nonzero().flatten()
    if empty.numel():
        raise ValueError(
            f"{name} row {int(empty[0])} has no answer tokens (all labels after the first "
            f"position are {IGNORE_INDEX}); a per-token mean is undefined"
        )
    return counts


def sequence_logprob(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sequence answer log-probability ``log p(y | x)`` = sum of token log-probs, ``(B,)``."""
    token_logp, _ = _token_logprobs(logits, labels, "batch")
    return token_logp.sum(dim=-1)


def sequence_nll(logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """Per-sequence negative log-likelihood of the answer tokens, ``(B,)``.

    ``reduction="sum"`` gives ``-log p(y | x)`` (OpenUnlearning's ``compute_batch_nll``);
    ``reduction="mean"`` divides by the number of answer tokens, which is TOFU's
    ``avg_gt_loss`` (``evaluate_util.py``: ``gt_loss / num_token_gt``).
    """
    mode = _check_choice(reduction, ("mean", "sum"), "sequence_nll reduction")
    token_logp, mask = _token_logprobs(logits, labels, "batch")
    total = -token_logp.sum(dim=-1)
    if mode == "sum":
        return total
    return total / _require_answer_tokens(mask, "batch")


# --------------------------------------------------------------------------- token means


_TOKEN_MEAN_PROCESSES: ContextVar[int] = ContextVar("reliant_unlearning_token_mean_processes", default=1)


@contextmanager
def token_means_over_processes(num_processes: int) -> Iterator[None]:
    """Inside this block, every mean over answer tokens in this module is the global batch's.

    Under data parallelism each of N processes computes its loss on its shard and DDP averages
    the N gradients. A per-sequence mean survives that average exactly (equal shards), a
    per-token mean does not: the mean of N shard token means weights a token of a short shard
    more than one of a long shard. So here each shard's token *sum* is divided by the global
    token count / N (one all-reduce of the count per mean), and the average DDP takes is then
    exactly one token mean over the global batch: N processes of batch B compute what one
    process of batch N*B computes (``tests/unlearning/test_distributed.py``). This is the
    correction Hugging Face's Trainer applies with ``num_items_in_batch``. The trainer opens this
    block around every training step; outside it (evaluation, one process) nothing changes.
    """
    if not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes must be an integer >= 1; got {num_processes!r}")
    token = _TOKEN_MEAN_PROCESSES.set(num_processes)
    try:
        yield
    finally:
        _TOKEN_MEAN_PROCESSES.reset(token)


def _answer_token_mean(values: Tensor) -> Tensor:
    """The mean of per-answer-token ``values`` (already flattened to answer tokens), over this
    process's tokens, or over the global batch's inside :func:`token_means_over_processes`."""
    processes = _TOKEN_MEAN_PROCESSES.get()
    if processes == 1:
        return values.mean()
    count = torch.tensor(float(values.numel()), dtype=torch.float64, device=values.device)
    torch.distributed.all_reduce(count)
    return values.sum() / (count / processes).to(values.dtype)


def token_mean_nll(logits: Tensor, labels: Tensor) -> Tensor:
    """NLL averaged over every answer token of the batch -- the scalar HF's ``outputs.loss``
    returns for a causal LM, which OpenUnlearning's GA and GradDiff use directly."""
    return _token_mean_nll(logits, labels, "batch")


def _token_mean_nll(logits: Tensor, labels: Tensor, name: str) -> Tensor:
    token_logp, mask = _token_logprobs(logits, labels, name)
    if not bool(mask.any()):
        raise ValueError(f"{name} batch has no answer tokens (every label is {IGNORE_INDEX})")
    return -_answer_token_mean(token_logp[mask])


# --------------------------------------------------------------------------- FLAT


@dataclass(frozen=True)
class FDivergence:
    """The two functions FLAT needs from an f-divergence's variational form.

    ``activation`` is g* (applied to the template score) and ``conjugate`` is f*
    (applied to g* of the forget score); FLAT minimises ``-g*(P_e) + f*(g*(P_f))``.
    """

    name: str
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]


def _identity(v: Tensor) -> Tensor:
    return v


def _kl_conjugate(u: Tensor) -> Tensor:
    return torch.exp(u - 1.0)


def _js_activation(v: Tensor) -> Tensor:
    # log(2 / (1 + exp(-v))) written with softplus so it never overflows.
    return math.log(2.0) - F.softplus(-v)


def _js_conjugate(u: Tensor) -> Tensor:
    # Defined for u < log 2, which _js_activation always returns.
    return -torch.log(2.0 - torch.exp(u))


def _pearson_conjugate(u: Tensor) -> Tensor:
    return u * u / 4.0 + u


def _tv_activation(v: Tensor) -> Tensor:
    return torch.tanh(v) / 2.0


FLAT_DIVERGENCES: dict[str, FDivergence] = {
    "kl": FDivergence("kl", _identity, _kl_conjugate),
    "js": FDivergence("js", _js_activation, _js_conjugate),
    "pearson": FDivergence("pearson", _identity, _pearson_conjugate),
    "tv": FDivergence("tv", _tv_activation, _identity),
}
"""g* and f* per divergence (FLAT paper; the released ``get_contrastive_loss`` negates both):

==========  =========================  =====================
name        g*(v)                      f*(u)
==========  =========================  =====================
kl          v                          exp(u - 1)
js          log(2 / (1 + exp(-v)))     -log(2 - exp(u))
pearson     v                          u^2 / 4 + u
tv          tanh(v) / 2                u
==========  =========================  =====================
"""

FLAT_REDUCTIONS = ("paper", "official")


def flat_answer_probability(logits: Tensor, labels: Tensor, reduction: str = "paper") -> Tensor:
    """The answer score FLAT feeds into g*: average token *probability* (not log-prob).

    * ``"paper"``: per sequence, the mean of the answer tokens' probabilities, ``(B,)``.
    * ``"official"``: one scalar for the batch, the sum of all answer-token
      probabilities divided by ``B * (L - 1)``, i.e. prompt and padding positions count
      as probability 0. This is what ``ProbLossStable`` (``NLLLoss(reduction="none",
      ignore_index=-100)`` applied to softmax outputs) followed by
      ``torch.stack(per_row).mean()`` computes in ``UCSC-REAL/FLAT/dataloader.py``.
    """
    mode = _check_choice(reduction, FLAT_REDUCTIONS, "FLAT reduction")
    return _flat_probability(logits, labels, mode, "batch")


def _flat_probability(logits: Tensor, labels: Tensor, mode: str, name: str) -> Tensor:
    token_logp, mask = _token_logprobs(logits, labels, name)
    probs = token_logp.exp() * mask
    if mode == "official":
        return probs.sum() / probs.numel()
    return probs.sum(dim=-1) / _require_answer_tokens(mask, name)


def flat_loss(
    template_logits: Tensor,
    template_labels: Tensor,
    forget_logits: Tensor,
    forget_labels: Tensor,
    divergence: str = "kl",
    reduction: str = "paper",
) -> Tensor:
    """FLAT loss ``L = -g*(P_e) + f*(g*(P_f))`` (Wang et al., ICLR 2025).

    ``P_e`` scores the template answers (e.g. "I don't know") and ``P_f`` the forget
    answers to the same forget questions; both come from
    :func:`flat_answer_probability`. Minimising raises ``P_e`` and lowers ``P_f``
    with the weights the chosen divergence's variational form assigns, and needs no
    retain data.

    ``reduction="paper"`` (default) follows the paper: each sequence's mean token
    probability goes through g*/f* and the batch expectation is taken afterwards, so
    the template and forget batches may differ in size. ``reduction="official"``
    reproduces the released code (``dataloader.py``, ``loss_type == "cl"``):
    ``get_contrastive_loss`` applies g*/f* once, to batch scalars that also divide by
    prompt and padding positions. Because g*/f* are non-linear (except g* for KL and
    Pearson), the two differ in value and in how the gradient is weighted; with long
    padded sequences the official scalars are a small fraction of the paper's.
    """
    div = FLAT_DIVERGENCES[_check_choice(divergence, tuple(FLAT_DIVERGENCES), "FLAT divergence")]
    mode = _check_choice(reduction, FLAT_REDUCTIONS, "FLAT reduction")
    p_e = _flat_probability(template_logits, template_labels, mode, "template")
    p_f = _flat_probability(forget_logits, forget_labels, mode, "forget")
    return -div.activation(p_e).mean() + div.conjugate(div.activation(p_f)).mean()


# --------------------------------------------------------------------------- baselines


def add_retain_term(
    forget_loss: Tensor,
    retain_loss: Tensor | None = None,
    *,
    gamma: float = 1.0,
    alpha: float = 1.0,
) -> Tensor:
    """``gamma * forget_loss + alpha * retain_loss`` (OpenUnlearning ``GradDiff``);
    ``gamma * forget_loss`` alone when there is no retain term."""
    if retain_loss is None:
        return gamma * forget_loss
    return gamma * forget_loss + alpha * retain_loss


def ga_loss(forget_logits: Tensor, forget_labels: Tensor) -> Tensor:
    """Gradient ascent: ``-NLL(forget)`` with NLL averaged over all answer tokens of the
    batch (OpenUnlearning ``GradAscent``: ``loss = -outputs.loss``)."""
    return -_token_mean_nll(forget_logits, forget_labels, "forget")


def gd_loss(
    forget_logits: Tensor,
    forget_labels: Tensor,
    retain_logits: Tensor,
    retain_labels: Tensor,
    *,
    gamma: float = 1.0,
    alpha: float = 1.0,
) -> Tensor:
    """Gradient difference: ``gamma * (-NLL(forget)) + alpha * NLL(retain)``, both
    token-averaged over the batch (OpenUnlearning ``GradDiff``, retain_loss_type=NLL,
    defaults gamma = alpha = 1)."""
    return add_retain_term(
        ga_loss(forget_logits, forget_labels),
        _token_mean_nll(retain_logits, retain_labels, "retain"),
        gamma=gamma,
        alpha=alpha,
    )


def kl_retain_loss(
    current_logits: Tensor,
    reference_logits: Tensor,
    labels: Tensor | None = None,
) -> Tensor:
    """``KL(reference || current)`` of the next-token distributions on retain inputs.

    With ``labels=None`` (default) this is OpenUnlearning's ``compute_kl_divergence``:
    ``kl_div(log_softmax(current), log_softmax(reference), reduction="batchmean",
    log_target=True)`` over the flattened ``(B * L, V)`` rows, i.e. every position
    (prompt and padding included) counts and the sum is divided by ``B * L``. Passing
    ``labels`` restricts the average to the positions that predict answer tokens
    (shifted as everywhere else), which ignores padding. No gradient flows into the
    reference.
    """
    for name, t in (("current", current_logits), ("reference", reference_logits)):
        if not isinstance(t, Tensor) or t.dim() != 3 or t.numel() == 0:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} logits must be a non-empty (batch, length, vocab) tensor; got {shape}")
    if current_logits.shape != reference_logits.shape:
        raise ValueError(
            f"current and reference logits differ in shape: {tuple(current_logits.shape)} "
            f"vs {tuple(reference_logits.shape)}"
        )
    cur, ref = current_logits, reference_logits.detach()
    if cur.dtype in (torch.float16, torch.bfloat16):
        cur = cur.float()
    if ref.dtype in (torch.float16, torch.bfloat16):
        ref = ref.float()
    cur_logp = torch.log_softmax(cur, dim=-1)
    ref_logp = torch.log_softmax(ref, dim=-1)
    vocab = cur.shape[-1]
    if labels is None:
        return F.kl_div(
            cur_logp.reshape(-1, vocab), ref_logp.reshape(-1, vocab),
            reduction="batchmean", log_target=True,
        )
    _check_logits_labels(current_logits, labels, "retain")
    mask = labels[:, 1:] != IGNORE_INDEX
    if not bool(mask.any()):
        raise ValueError(f"retain batch has no answer tokens (every label is {IGNORE_INDEX})")
    per_position = (ref_logp.exp() * (ref_logp - cur_logp)).sum(dim=-1)[:, :-1]
    return _answer_token_mean(per_position[mask])


def npo_loss(forget_logp_policy_seq: Tensor, forget_logp_ref_seq: Tensor, beta: float = 0.1) -> Tensor:
    """Negative preference optimisation (Zhang et al., 2024), forget term.

    ``-(2 / beta) * mean_i logsigmoid(-beta * (logp_i - logp_ref_i))`` where ``logp`` is
    the *summed* answer log-probability of forget sequence ``i`` under the current model
    and ``logp_ref`` under the frozen original (:func:`sequence_logprob`, shapes
    ``(B,)``). This is OpenUnlearning's ``compute_dpo_loss`` with only a losing side;
    its NPO trainer adds ``alpha * retain NLL`` (:func:`add_retain_term`). Default beta
    0.1 as in ``configs/trainer/NPO.yaml``. No gradient flows into the reference.
    """
    beta = _check_beta(beta)
    policy = _check_sequence_values(forget_logp_policy_seq, "forget_logp_policy_seq")
    ref = _check_sequence_values(forget_logp_ref_seq, "forget_logp_ref_seq")
    _check_same_shape(forget_logp_policy_seq=policy, forget_logp_ref_seq=ref)
    log_ratio = policy - ref.detach()
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio).mean()


def simnpo_loss(
    forget_logp_seq: Tensor,
    forget_num_tokens: Tensor,
    beta: float = 4.5,
    gamma: float = 0.0,
    delta: float = 0.0,
) -> Tensor:
    """SimNPO (Fan et al., 2024), forget term: reference-free NPO on the
    length-normalised NLL.

    ``-(2 / beta) * mean_i logsigmoid(beta * (-logp_i / n_i - delta) - gamma)`` with
    ``logp_i`` the summed answer log-probability (:func:`sequence_logprob`) and ``n_i``
    the number of answer tokens (:func:`answer_token_counts`).

    The two margins are the two published parameterisations of the same thing:
    ``gamma`` is the paper's reward margin (outside ``beta``); ``delta`` is
    OpenUnlearning's (``SimNPO``: ``forget_loss / num_tokens - delta``, inside ``beta``,
    called ``gamma`` in the official ``OPTML-Group/Unlearn-Simple`` config). Set one of
    them; ``gamma = beta * delta`` gives the same loss. OpenUnlearning's TOFU config
    uses beta 4.5 and delta 0, with forget weight 0.125 and retain weight 1 applied by
    the trainer (:func:`add_retain_term`).
    """
    beta = _check_beta(beta)
    logp = _check_sequence_values(forget_logp_seq, "forget_logp_seq")
    if not isinstance(forget_num_tokens, Tensor) or forget_num_tokens.shape != logp.shape:
        shape = (
            tuple(forget_num_tokens.shape)
            if isinstance(forget_num_tokens, Tensor)
            else type(forget_num_tokens).__name__
        )
        raise ValueError(
            f"forget_num_tokens must be a tensor of shape {tuple(logp.shape)}; got {shape}"
        )
    if not bool((forget_num_tokens > 0).all()):
        raise ValueError("forget_num_tokens must be positive for every sequence")
    for name, margin in (("gamma", gamma), ("delta", delta)):
        if not isinstance(margin, (int, float)) or not math.isfinite(margin):
            raise ValueError(f"{name} must be a finite number; got {margin!r}")
    mean_nll = -logp / forget_num_tokens.to(logp.dtype)
    return -(2.0 / beta) * F.logsigmoid(beta * (mean_nll - delta) - gamma).mean()


def dpo_loss(
    preferred_logp_policy_seq: Tensor,
    dispreferred_logp_policy_seq: Tensor,
    preferred_logp_ref_seq: Tensor,
    dispreferred_logp_ref_seq: Tensor,
    beta: float = 0.1,
) -> Tensor:
    """DPO forget term as OpenUnlearning uses it for IdkDPO: preferred = refusal
    ("I don't know"), dispreferred = forget answer, both to the same forget question.

    Arguments follow TRL's order: policy preferred, policy dispreferred, reference
    preferred, reference dispreferred; all are summed answer log-probabilities ``(B,)``.
    ``-(2 / beta) * mean_i logsigmoid(beta * ((w_i - w_ref_i) - (l_i - l_ref_i)))``
    (``compute_dpo_loss`` in ``src/trainer/utils.py``; note the ``2 / beta`` scale,
    which standard DPO lacks). Default beta 0.1 as in ``configs/trainer/DPO.yaml``.
    No gradient flows into the reference.
    """
    beta = _check_beta(beta)
    named = {
        "preferred_logp_policy_seq": preferred_logp_policy_seq,
        "dispreferred_logp_policy_seq": dispreferred_logp_policy_seq,
        "preferred_logp_ref_seq": preferred_logp_ref_seq,
        "dispreferred_logp_ref_seq": dispreferred_logp_ref_seq,
    }
    for name, value in named.items():
        _check_sequence_values(value, name)
    _check_same_shape(**named)
    preferred = preferred_logp_policy_seq - preferred_logp_ref_seq.detach()
    dispreferred = dispreferred_logp_policy_seq - dispreferred_logp_ref_seq.detach()
    return -(2.0 / beta) * F.logsigmoid(beta * (preferred - dispreferred)).mean()


# --------------------------------------------------------------------------- token-weighted ascent


def _answer_nll_tokens(logits: Tensor, labels: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Per-answer-token NLL (flattened, answer tokens only) and its probabilities."""
    token_logp, mask = _token_logprobs(logits, labels, name)
    if not bool(mask.any()):
        raise ValueError(f"{name} batch has no answer tokens (every label is {IGNORE_INDEX})")
    nll = -token_logp[mask]
    return nll, nll.detach().neg().exp()


def wga_loss(forget_logits: Tensor, forget_labels: Tensor, beta: float = 1.0) -> Tensor:
    """Weighted gradient ascent (Wang et al., 2025, "Rethinking LLM Unlearning Objectives: A
    Gradient Perspective and Go Beyond", ICLR 2025): ``-mean_t p_t^beta * NLL_t`` over every
    answer token of the batch, the weight ``p_t = exp(-NLL_t)`` detached, so tokens the model
    still predicts well are pushed hardest (OpenUnlearning ``compute_wga_loss``; beta 1)."""
    beta = _check_beta(beta)
    nll, prob = _answer_nll_tokens(forget_logits, forget_labels, "forget")
    return -_answer_token_mean(prob.pow(beta) * nll)


def satimp_loss(forget_logits: Tensor, forget_labels: Tensor, beta1: float = 5.0, beta2: float = 1.0) -> Tensor:
    """SatImp (Yang et al., 2025, "Exploring Criteria of Loss Reweighting to Enhance LLM
    Unlearning", ICML 2025): ``-mean_t p_t^beta1 (1 - p_t)^beta2 * NLL_t`` over answer tokens,
    weights detached -- saturation (``p^beta1``) times importance (``(1-p)^beta2``)
    (OpenUnlearning ``compute_satimp_loss``; beta1 5, beta2 1)."""
    beta1, beta2 = _check_beta(beta1), _check_beta(beta2)
    nll, prob = _answer_nll_tokens(forget_logits, forget_labels, "forget")
    return -_answer_token_mean(prob.pow(beta1) * (1.0 - prob).pow(beta2) * nll)


def ceu_loss(forget_logits: Tensor, forget_labels: Tensor, ignore_first_n_answer_tokens: int = 1) -> Tensor:
    """Cross-entropy unlearning, CE-U (Yang et al., 2025, "CE-U: Cross Entropy Unlearning",
    arXiv:2503.01224): at every answer position the target distribution is the model's own
    (detached) softmax with the true token's logit set to -inf, and the loss is the cross
    entropy of the model's distribution against it, averaged over answer positions. The
    first ``n`` answer tokens are not unlearned (the paper's footnote; OpenUnlearning
    ``compute_batch_ceu``, n = 1)."""
    if not isinstance(ignore_first_n_answer_tokens, int) or ignore_first_n_answer_tokens < 0:
        raise ValueError(f"ignore_first_n_answer_tokens must be an integer >= 0; got {ignore_first_n_answer_tokens!r}")
    _check_logits_labels(forget_logits, forget_labels, "forget")
    answer = forget_labels != IGNORE_INDEX
    skipped = answer & (answer.cumsum(dim=-1) <= ignore_first_n_answer_tokens)
    labels = forget_labels.masked_fill(skipped, IGNORE_INDEX)[:, 1:]
    logits = forget_logits[:, :-1, :]
    valid = labels != IGNORE_INDEX
    if not bool(valid.any()):
        raise ValueError("forget batch has no answer tokens left to unlearn after the skipped first tokens")
    rows = logits[valid].float()
    target_logits = rows.detach().clone()
    target_logits.scatter_(-1, labels[valid].unsqueeze(-1), float("-inf"))
    return _answer_token_mean(F.cross_entropy(rows, F.softmax(target_logits, dim=-1), reduction="none"))


def undial_loss(forget_logits: Tensor, reference_logits: Tensor, forget_labels: Tensor, beta: float = 10.0) -> Tensor:
    """UNDIAL (Dong et al., 2025, "UNDIAL: Self-Distillation with Adjusted Logits for Robust
    Unlearning in Large Language Models", NAACL 2025): self-distillation towards the original
    model's logits with the true token's logit lowered by ``beta``,
    ``mean_t CE(softmax(z_ref,t - beta * onehot(y_t)), p_theta,t)`` over the positions that
    predict answer tokens (beta 10, OpenUnlearning ``configs/trainer/UNDIAL.yaml``).

    OpenUnlearning's ``compute_undial_loss`` averages over every position, prompt and padding
    included (where its label -100 indexes the vocabulary from the end); this function keeps
    the paper's answer tokens only."""
    beta = _check_beta(beta)
    _check_logits_labels(forget_logits, forget_labels, "forget")
    if reference_logits.shape != forget_logits.shape:
        raise ValueError(f"reference logits {tuple(reference_logits.shape)} differ from {tuple(forget_logits.shape)}")
    labels = forget_labels[:, 1:]
    valid = labels != IGNORE_INDEX
    if not bool(valid.any()):
        raise ValueError(f"forget batch has no answer tokens (every label is {IGNORE_INDEX})")
    student = forget_logits[:, :-1, :][valid].float()
    teacher = reference_logits[:, :-1, :][valid].detach().float()
    teacher = teacher - beta * F.one_hot(labels[valid], teacher.shape[-1]).to(teacher.dtype)
    return _answer_token_mean(F.cross_entropy(student, F.softmax(teacher, dim=-1), reduction="none"))


def rmu_activation_loss(activations: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """RMU's activation distance (Li et al., 2024, "The WMDP Benchmark", Representation
    Misdirection for Unlearning): per sequence, the mean over the masked (answer) tokens of
    the per-dimension mean squared difference, then the batch mean -- OpenUnlearning's
    ``RMU.compute_activation_loss``. ``target`` is the scaled random control vector (forget)
    or the frozen model's activations (retain); ``mask`` ``(B, L)``, True on answer tokens."""
    if activations.dim() != 3 or mask.shape != activations.shape[:2]:
        raise ValueError(f"activations {tuple(activations.shape)} and mask {tuple(mask.shape)} do not match")
    counts = mask.sum(-1)
    if bool((counts == 0).any()):
        raise ValueError("a sequence has no answer tokens to compute RMU's activation loss on")
    squared = (activations.float() - target.detach().float().expand_as(activations)).pow(2).mean(-1)
    return ((squared * mask).sum(-1) / counts).mean()


def pdu_forget_loss(forget_logits: Tensor, forget_labels: Tensor) -> Tensor:
    """PDU's forget objective (Entesari et al., 2025, "Constrained Entropic Unlearning: A
    Primal-Dual Framework for Large Language Models"): ``mean_t (max_v z_t,v - mean_v z_t,v)^2``
    over the positions that predict answer tokens, which is 0 when the next-token logits are
    flat (maximum entropy). OpenUnlearning's ``PDU.compute_loss`` masks the logits with the
    unshifted labels; here the positions are those predicting answer tokens, as every
    other loss in this module."""
    _check_logits_labels(forget_logits, forget_labels, "forget")
    valid = forget_labels[:, 1:] != IGNORE_INDEX
    if not bool(valid.any()):
        raise ValueError(f"forget batch has no answer tokens (every label is {IGNORE_INDEX})")
    rows = forget_logits[:, :-1, :][valid].float()
    return _answer_token_mean((rows.max(dim=-1).values - rows.mean(dim=-1)).pow(2))
