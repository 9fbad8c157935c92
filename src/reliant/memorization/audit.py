"""Membership-inference audit of a causal LM: every score on members and non-members,
model-level AUROC / TPR at low FPR, example-level memorization, and the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reliant.core.errors import ConfigError
from reliant.core.metrics import check_fraction, min_negatives_for_fpr
from reliant.core.rundir import RunDirectory
from reliant.memorization import metrics as M
from reliant.memorization.inputs import Example
from reliant.core.errors import DataError
from reliant.memorization.lm import (
    ATTACK_LABELS,
    ATTACKS,
    ExtractionResult,
    api_token_statistics,
    extraction,
    gradient_norms,
    small_model_threads,
    token_statistics,
)

LOW_FPRS = (0.001, 0.01, 0.1)


def attack_summary(members: np.ndarray, nonmembers: np.ndarray, *, seed: int = 0, n_boot: int = 200) -> dict[str, float]:
    """AUROC (with a bootstrap 95% interval) and TPR at 0.1%, 1% and 10% FPR.

    A TPR at an FPR below ``1 / #non-members`` cannot be measured on this sample (TPR at
    0.1% FPR needs at least 1,000 non-members): it is still reported, as the TPR at zero
    false positives, but ``tpr_at_<x>pct_fpr_measurable`` is False and the report tables
    print it as not measurable."""
    low, high = M.bootstrap_auroc(members, nonmembers, n_boot=n_boot, seed=seed) if n_boot else (float("nan"),) * 2
    summary = {"auroc": M.auroc(members, nonmembers), "auroc_ci_low": low, "auroc_ci_high": high}
    for fpr in LOW_FPRS:
        key = f"tpr_at_{fpr * 100:g}pct_fpr"
        summary[key] = M.tpr_at_fpr(members, nonmembers, fpr)
        summary[f"{key}_measurable"] = len(nonmembers) >= min_negatives_for_fpr(fpr)
    summary["member_mean"] = float(np.mean(members))
    summary["nonmember_mean"] = float(np.mean(nonmembers))
    return summary


def tpr_cell(summary: dict, fpr: float) -> float | str:
    """A summary's TPR at ``fpr`` for a report table, or why it cannot be measured."""
    key = f"tpr_at_{fpr * 100:g}pct_fpr"
    if summary.get(f"{key}_measurable", True):
        return summary[key]
    return f"n/a (needs ≥ {min_negatives_for_fpr(fpr):,} non-members)"


def empirical_fpr(scores: np.ndarray, nonmember_scores: np.ndarray, leave_one_out: bool = False) -> np.ndarray:
    """For each score, the fraction of non-members scoring at least as high: the FPR an
    auditor pays to flag that example (small = the example stands out as memorised).
    ``leave_one_out`` excludes the example itself (for scoring the non-members)."""
    ref = np.sort(nonmember_scores)
    at_least = len(ref) - np.searchsorted(ref, scores, side="left")
    if leave_one_out:
        return (at_least - 1) / max(len(ref) - 1, 1)
    return at_least / len(ref)


def membership_p_value(scores: np.ndarray, nonmember_scores: np.ndarray, leave_one_out: bool = False) -> np.ndarray:
    """Empirical p-value of "this example is no more member-like than a non-member":
    ``(1 + #non-members scoring at least as high) / (1 + #non-members)`` (the example itself
    left out for non-members). Never 0, so ``-log10 p`` is a finite per-example
    memorization strength, at most ``log10(n + 1)`` with ``n`` non-members."""
    ref = np.sort(nonmember_scores)
    at_least = len(ref) - np.searchsorted(ref, scores, side="left")
    if leave_one_out:
        return at_least / len(ref)  # (at_least - 1 + 1) / (len - 1 + 1)
    return (at_least + 1) / (len(ref) + 1)


@dataclass
class AuditResult:
    members: list[Example]
    nonmembers: list[Example]
    member_scores: dict[str, np.ndarray]
    nonmember_scores: dict[str, np.ndarray]
    summary: dict[str, dict[str, float]]
    primary: str
    extraction: ExtractionResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The neighbourhood attack's paraphrases of each text, members then non-members (None
    #: without that attack): saved with the scores, so a user can see what was compared.
    neighbours: list[list[str]] | None = None

    def scores(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {a: (self.member_scores[a], self.nonmember_scores[a]) for a in self.member_scores}

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n_members": len(self.members), "n_nonmembers": len(self.nonmembers),
                               "primary_attack": self.primary, "attacks": self.summary}
        if self.extraction is not None:
            out["extraction"] = {
                "exact_match_rate": float(self.extraction.exact.mean()),
                "mean_normalized_edit_distance": float(self.extraction.edit_distance.mean()),
                "mean_rouge_l": float(self.extraction.rouge_l.mean()),
                "approx_memorized_rate_edit_le_0.1": float(np.mean(self.extraction.edit_distance <= 0.1)),
            }
        out.update(self.extra)
        return out

    def per_example_rows(self) -> list[dict[str, Any]]:
        rows = []
        primary_fpr_m = empirical_fpr(self.member_scores[self.primary], self.nonmember_scores[self.primary])
        primary_fpr_n = empirical_fpr(self.nonmember_scores[self.primary], self.nonmember_scores[self.primary], True)
        pvals = {
            "member": membership_p_value(self.member_scores[self.primary], self.nonmember_scores[self.primary]),
            "nonmember": membership_p_value(self.nonmember_scores[self.primary], self.nonmember_scores[self.primary], True),
        }
        for split, examples, scores, fprs in (
            ("member", self.members, self.member_scores, primary_fpr_m),
            ("nonmember", self.nonmembers, self.nonmember_scores, primary_fpr_n),
        ):
            offset = 0 if split == "member" else len(self.members)
            for i, example in enumerate(examples):
                row = {"split": split, "source": example.source, "line": example.line, "text": example.target[:200]}
                row.update({attack: float(values[i]) for attack, values in scores.items()})
                row["empirical_fpr"] = float(fprs[i])
                row["p_value"] = float(pvals[split][i])
                if split == "member" and self.extraction is not None:
                    row["extracted_exact"] = bool(self.extraction.exact[i])
                    row["edit_distance"] = float(self.extraction.edit_distance[i])
                    row["rouge_l"] = float(self.extraction.rouge_l[i])
                    row["generation"] = self.extraction.generations[i][:200]
                if self.neighbours is not None:
                    row["neighbours"] = [text[:200] for text in self.neighbours[offset + i]]
                rows.append(row)
        return rows


def _load(model: Any, device: str) -> tuple[Any, Any]:
    if isinstance(model, tuple):
        return model
    from reliant.core.models import load_causal_lm

    return load_causal_lm(str(model), device=device)


def is_api_model(model: Any) -> bool:
    """A model given as ``openai:<model>@<url>`` (or an :class:`~reliant.core.llm.LLMBackend`)
    is audited through its completions endpoint's log-probabilities."""
    from reliant.core.llm import LLMBackend

    return isinstance(model, LLMBackend) or (isinstance(model, str) and model.startswith("openai:"))


class _Target:
    """A model to score texts with: local ``(model, tokenizer)`` or an LLM backend (API)."""

    def __init__(self, model: Any, device: str) -> None:
        from reliant.core.llm import LLMBackend, make_backend

        self.api = is_api_model(model)
        self.owned = False
        if self.api:
            self.owned = not isinstance(model, LLMBackend)
            self.backend = model if isinstance(model, LLMBackend) else make_backend(model)
            self.name = self.backend.name
        else:
            self.model, self.tokenizer = _load(model, device)
            self.name = str(getattr(getattr(self.model, "config", None), "_name_or_path", "model"))

    def provides(self) -> frozenset[str]:
        return frozenset() if self.api else frozenset({"distribution", "token_ids", "gradients"})

    def prompt(self, example: Example) -> str:
        return example.prompt if self.api else example.prompt_for(self.tokenizer)

    def stats(self, examples: Sequence[Example], *, batch_size: int, max_length: int | None):
        if self.api:
            return api_token_statistics(self.backend, examples)
        with small_model_threads(self.model):
            return token_statistics(self.model, self.tokenizer, examples, batch_size=batch_size, max_length=max_length)

    def close(self) -> None:
        if self.api and self.owned:
            self.backend.close()


PARAPHRASE_PROMPT = ("Paraphrase the text below: keep its meaning and about its length, change the wording. "
                     "Reply with the paraphrase only.\n\n{text}")


def paraphrases(backend: Any, texts: Sequence[str], n: int, *, max_new_tokens: int = 64, seed: int = 0) -> list[list[str]]:
    """``n`` sampled paraphrases of each text (the neighbourhood attack's neighbours); empty
    replies and copies of the text are dropped."""
    replies = backend.chat([[{"role": "user", "content": PARAPHRASE_PROMPT.format(text=t)}] for t in texts],
                           n=n, temperature=1.0, max_new_tokens=max_new_tokens, seed=seed)
    return [[r.strip() for r in row if r.strip() and r.strip() != text.strip()] for row, text in zip(replies, texts)]


def audit_lm(
    model: Any,
    members: Sequence[Example],
    nonmembers: Sequence[Example],
    *,
    reference: Any = None,
    attacks: Sequence[str] = ATTACKS,
    k: float = 0.2,
    extract: bool = False,
    prefix_tokens: int = 32,
    suffix_tokens: int = 32,
    batch_size: int = 16,
    max_length: int | None = 512,
    device: str = "auto",
    seed: int = 0,
    n_boot: int = 200,
    params: Any = None,
    recall_prefix: Sequence[Example] | None = None,
    frequency_texts: Sequence[str] | None = None,
    paraphraser: Any = None,
    log: Any = None,
) -> AuditResult:
    """Score members and non-members with every attack and summarise each attack.

    ``model`` and ``reference`` are a model name/path (anything ``load_causal_lm`` takes), a
    ``(model, tokenizer)`` pair, or an ``openai:<model>@<url>`` spec / LLM backend (scored
    through the endpoint's log-probabilities: attacks that need the distribution, token ids
    or gradients are skipped). Attacks whose needs are not met (no reference, no paraphraser)
    are skipped and listed in ``result.extra["skipped_attacks"]``. ``attacks`` defaults to the
    five statistics-only attacks; names come from
    :data:`reliant.memorization.attacks.ATTACK_REGISTRY`. ``params`` is a
    :class:`~reliant.memorization.config.MIAParams`; ``recall_prefix`` the non-member texts
    ReCaLL conditions on (default: the first ``params.recall_shots`` non-members, then left
    out of every attack's evaluation); ``frequency_texts`` DC-PDD's reference corpus
    (default: members and non-members pooled); ``paraphraser`` an LLM backend or spec for the
    neighbourhood attack. ``extract`` also runs the greedy extraction probe on the members.
    """
    from reliant.memorization.attacks import ATTACK_REGISTRY, AttackContext
    from reliant.memorization.config import MIAParams

    params = params or MIAParams()
    note = log or (lambda message: None)
    if not members or not nonmembers:
        raise ConfigError("an audit needs at least one member and one non-member")
    check_fraction(k)
    unknown = [a for a in attacks if a not in ATTACK_REGISTRY]
    if unknown:
        raise ConfigError(f"unknown attack(s) {unknown} (choose from {', '.join(ATTACK_REGISTRY)})", field="attacks")
    members, nonmembers = list(members), list(nonmembers)
    has_prefix = recall_prefix is not None
    if "recall" in attacks and recall_prefix is None and len(nonmembers) > params.recall_shots:
        shots = params.recall_shots
        recall_prefix, nonmembers = nonmembers[:shots], nonmembers[shots:]
        has_prefix = True
        note(f"ReCaLL prefix: the first {shots} non-members, left out of every attack's evaluation")
    target = _Target(model, device)
    ref = _Target(reference, device) if reference is not None else None
    available = set(target.provides()) | ({"reference"} if ref is not None else set())
    if has_prefix:
        available.add("prefix")
    if paraphraser is not None:
        available.add("paraphraser")
    skipped = {a: sorted(ATTACK_REGISTRY[a].needs - available) for a in attacks if ATTACK_REGISTRY[a].needs - available}
    wanted = [a for a in attacks if a not in skipped]
    for attack, missing in skipped.items():
        note(f"attack {attack} skipped: needs {', '.join(missing)}")
    if not wanted:
        raise ConfigError("no attack left to run: " + "; ".join(f"{a} needs {', '.join(m)}" for a, m in skipped.items()),
                          field="attacks")
    examples = members + nonmembers
    is_member = np.array([True] * len(members) + [False] * len(nonmembers))
    try:
        stats = target.stats(examples, batch_size=batch_size, max_length=max_length)
        for stat, example in zip(stats, examples):
            if len(stat.logprobs) == 0:
                raise DataError("has no tokens to score", file=example.source or None, line=example.line, field="text")
        ctx = AttackContext(examples, is_member, stats, k=k, params=params)
        needs = set().union(*(ATTACK_REGISTRY[a].needs for a in wanted))
        if "reference" in needs:
            ctx.reference_stats = ref.stats(examples, batch_size=batch_size, max_length=max_length)
        if "recall" in wanted:
            prefix = "\n\n".join(" ".join(f"{e.prompt} {e.target}".split()) for e in recall_prefix)
            conditioned = [Example(f"{prefix}\n\n{target.prompt(e)}" if target.prompt(e) else f"{prefix}\n\n",
                                   e.target, e.source, e.line) for e in examples]
            ctx.prefix_stats = target.stats(conditioned, batch_size=batch_size, max_length=None)
        if "dc_pdd" in wanted:
            corpus = list(frequency_texts) if frequency_texts is not None else [e.target for e in examples]
            ids = [target.tokenizer(t, add_special_tokens=False)["input_ids"] for t in corpus]
            ctx.token_frequencies = M.token_frequencies(ids, len(target.tokenizer))
        if "gradnorm" in wanted:
            with small_model_threads(target.model):
                ctx.gradient_norms = gradient_norms(target.model, target.tokenizer, examples, max_length=max_length)
        if "neighbourhood" in wanted:
            from reliant.core.llm import LLMBackend, make_backend

            backend = paraphraser if isinstance(paraphraser, LLMBackend) else make_backend(paraphraser)
            try:
                neighbours = paraphrases(backend, [e.target for e in examples], params.n_neighbours,
                                         max_new_tokens=params.neighbour_max_new_tokens, seed=seed)
            finally:
                if not isinstance(paraphraser, LLMBackend):
                    backend.close()
            flat = [Example(e.prompt, text, e.source, e.line, question=e.question)
                    for e, row in zip(examples, neighbours) for text in row]
            flat_stats = target.stats(flat, batch_size=batch_size, max_length=max_length) if flat else []
            ctx.neighbour_stats, position = [], 0
            for row in neighbours:
                ctx.neighbour_stats.append(flat_stats[position: position + len(row)])
                position += len(row)
            ctx.extra["neighbours"] = neighbours
        all_scores = {a: np.asarray(ATTACK_REGISTRY[a].scores(ctx), dtype=float) for a in wanted}
        m_scores = {a: v[is_member] for a, v in all_scores.items()}
        n_scores = {a: v[~is_member] for a, v in all_scores.items()}
        summary = {a: attack_summary(m_scores[a], n_scores[a], seed=seed, n_boot=n_boot) for a in m_scores}
        primary = "reference" if "reference" in m_scores else next(iter(m_scores))
        result = AuditResult(members, nonmembers, m_scores, n_scores, summary, primary)
        result.extra["skipped_attacks"] = skipped
        result.extra["target"] = target.name
        if recall_prefix is not None and "recall" in wanted:
            result.extra["recall_prefix_texts"] = len(recall_prefix)
        result.extra["warnings"] = low_fpr_warnings(summary, len(nonmembers))
        if "neighbours" in ctx.extra:
            result.neighbours = ctx.extra["neighbours"]
            result.extra["neighbours_per_text"] = float(np.mean([len(r) for r in ctx.extra["neighbours"]]))
        if extract:
            if target.api:
                note("extraction skipped: it decodes greedily from the model's own tokens (local models only)")
            else:
                with small_model_threads(target.model):
                    result.extraction = extraction(target.model, target.tokenizer, members, prefix_tokens=prefix_tokens,
                                                   suffix_tokens=suffix_tokens, batch_size=batch_size)
    finally:
        target.close()
        if ref is not None:
            ref.close()
    return result


def low_fpr_warnings(summary: dict[str, dict[str, Any]], n_nonmembers: int) -> list[str]:
    """One sentence per false-positive rate that this many non-members cannot measure."""
    out = []
    for fpr in LOW_FPRS:
        needed = min_negatives_for_fpr(fpr)
        if n_nonmembers < needed:
            out.append(f"TPR at {fpr * 100:g}% FPR is not measurable with {n_nonmembers:,} non-members (needs at "
                       f"least {needed:,}); it is shown as n/a, and the raw value in metrics.json is the TPR at zero "
                       "false positives")
    return out


def write_audit(run: RunDirectory, result: AuditResult, *, prefix: str = "", title_suffix: str = "") -> None:
    """Add an audit's metrics, tables, figures and per-example scores to a run directory."""
    from reliant.core.data import save_records
    from reliant.memorization.report import histogram_figure, profile_figure, roc_figure

    key = prefix.rstrip("_") if prefix else None
    metrics = result.metrics()
    run.add_metrics({key: metrics} if key else metrics)
    save_records(result.per_example_rows(), run.file(f"{prefix}per_example_scores.jsonl"))
    rows = []
    for attack, s in result.summary.items():
        rows.append({
            "attack": ATTACK_LABELS.get(attack, attack), "AUROC": s["auroc"],
            "95% CI": f"{s['auroc_ci_low']:.3f}–{s['auroc_ci_high']:.3f}",
            "TPR@0.1%FPR": tpr_cell(s, 0.001), "TPR@1%FPR": tpr_cell(s, 0.01), "TPR@10%FPR": tpr_cell(s, 0.1),
        })
    best = int(np.argmax([s["auroc"] for s in result.summary.values()]))
    run.add_table(f"Membership inference{title_suffix}", rows, highlight=[best],
                  caption=f"{len(result.members)} members vs {len(result.nonmembers)} non-members; higher score = member. "
                          "TPR at a fixed FPR is exact on ties (largest TPR of a threshold whose FPR does not exceed it).")
    warnings = result.extra.get("warnings") or []
    skipped = result.extra.get("skipped_attacks") or {}
    for message in warnings:
        run.log(f"warning: {message}")
    notes = [f"warning: {m}." for m in warnings]
    notes += [f"{ATTACK_LABELS.get(a, a)} skipped: needs {', '.join(m)}." for a, m in skipped.items()]
    if notes:
        run.add_text(f"Warnings and skipped attacks{title_suffix}", "\n".join(notes), preformatted=True)
    run.add_figure(f"ROC curves{title_suffix}", roc_figure(result.scores(), ATTACK_LABELS), save_as=f"{prefix}roc.png",
                   caption="Log-log axes: the low-FPR corner is what matters for privacy (Carlini et al., 2022).")
    run.add_figure(f"Score distributions{title_suffix}", histogram_figure(result.scores(), ATTACK_LABELS),
                   save_as=f"{prefix}histograms.png",
                   caption="Members vs non-members per attack: the less the two histograms overlap, the more the "
                           "attack reveals.")
    primary = result.primary
    p_m = membership_p_value(result.member_scores[primary], result.nonmember_scores[primary])
    p_n = membership_p_value(result.nonmember_scores[primary], result.nonmember_scores[primary], True)
    run.add_figure(
        f"Memorization per example{title_suffix}",
        profile_figure(-np.log10(p_m), -np.log10(p_n), "-log10 membership p-value",
                       f"How far each example stands out ({ATTACK_LABELS.get(primary, primary)})"),
        save_as=f"{prefix}profile.png",
        caption="Per example: p = (1 + non-members scoring at least as high) / (1 + non-members); "
                f"0 = indistinguishable from non-members, {np.log10(len(result.nonmembers) + 1):.2f} = above every one.",
    )
    if result.extraction is not None:
        ex = result.extraction
        run.add_figure(f"Extraction per member{title_suffix}", _extraction_figure(ex), save_as=f"{prefix}extraction.png",
                       caption="Members sorted by how closely the greedy continuation matches the true suffix; "
                               "the area above the dotted 0.9 line is (nearly) extracted text.")
        run.add_table(f"Extraction examples{title_suffix}", [
            {"prefix": p[-60:], "true suffix": s[:80], "generated": g[:80], "exact": bool(e), "edit": float(d)}
            for p, s, g, e, d in list(zip(ex.prefixes, ex.suffixes, ex.generations, ex.exact, ex.edit_distance))[:8]
        ])
    # Cards: every attack against LOSS (Yeom et al.), the baseline the later attacks improve on.
    loss = result.summary.get("loss", {}).get("auroc")
    for attack, s in result.summary.items():
        baseline = loss if attack != "loss" else None
        run.add_headline(f"AUROC {ATTACK_LABELS.get(attack, attack)}{title_suffix}", s["auroc"],
                         group=f"membership inference{title_suffix} (higher = stronger attack)",
                         baseline=baseline, baseline_label="LOSS" if baseline is not None else None, better="higher")
    if result.extraction is not None:
        run.add_headline(f"members extracted exactly{title_suffix}", float(result.extraction.exact.mean()),
                         group=f"extraction{title_suffix}")
        run.add_headline(f"mean ROUGE-L of the greedy continuation{title_suffix}",
                         float(result.extraction.rouge_l.mean()), group=f"extraction{title_suffix}")


def _extraction_figure(ex: ExtractionResult):
    from reliant.core.plotting import PALETTE, new_figure

    fig, ax = new_figure(5.6, 3.2)
    values = np.sort(1 - ex.edit_distance)[::-1]
    ax.plot(np.linspace(0, 1, len(values)), values, color=PALETTE[0], label="1 - normalised edit distance")
    ax.plot(np.linspace(0, 1, len(values)), np.sort(ex.rouge_l)[::-1], color=PALETTE[2], label="ROUGE-L F1")
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("fraction of members (sorted)")
    ax.set_ylabel("similarity to the true suffix")
    ax.set_title(f"Greedy extraction: {ex.exact.mean():.1%} exact")
    ax.legend(fontsize=8)
    return fig
