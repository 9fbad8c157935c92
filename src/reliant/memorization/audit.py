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
from reliant.memorization.lm import (
    ATTACK_LABELS,
    ATTACKS,
    ExtractionResult,
    extraction,
    membership_scores,
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
                rows.append(row)
        return rows


def _load(model: Any, device: str) -> tuple[Any, Any]:
    if isinstance(model, tuple):
        return model
    from reliant.core.models import load_causal_lm

    return load_causal_lm(str(model), device=device)


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
) -> AuditResult:
    """Score members and non-members with every attack and summarise each attack.

    ``model`` and ``reference`` are a model name/path (anything ``load_causal_lm`` takes)
    or a ``(model, tokenizer)`` pair. The reference model must share the target's tokenizer
    only in the sense that it scores the same text; its own tokens are used. Without a
    reference the ``reference`` attack is skipped. ``extract`` also runs the greedy
    extraction probe on the members.
    """
    if not members or not nonmembers:
        raise ConfigError("an audit needs at least one member and one non-member")
    check_fraction(k)
    target = _load(model, device)
    with small_model_threads(target[0]):
        member_stats = token_statistics(*target, members, batch_size=batch_size, max_length=max_length)
        nonmember_stats = token_statistics(*target, nonmembers, batch_size=batch_size, max_length=max_length)
    ref_m = ref_n = None
    if reference is not None:
        ref = _load(reference, device)
        with small_model_threads(ref[0]):
            ref_m = token_statistics(*ref, members, batch_size=batch_size, max_length=max_length)
            ref_n = token_statistics(*ref, nonmembers, batch_size=batch_size, max_length=max_length)
    wanted = [a for a in attacks if a != "reference" or reference is not None]
    if not wanted:
        raise ConfigError("no attack left to run (the reference attack needs --reference)", field="attacks")
    m_scores = membership_scores(member_stats, members, reference_stats=ref_m, k=k, attacks=wanted)
    n_scores = membership_scores(nonmember_stats, nonmembers, reference_stats=ref_n, k=k, attacks=wanted)
    summary = {a: attack_summary(m_scores[a], n_scores[a], seed=seed, n_boot=n_boot) for a in m_scores}
    primary = "reference" if "reference" in m_scores else next(iter(m_scores))
    result = AuditResult(list(members), list(nonmembers), m_scores, n_scores, summary, primary)
    if extract:
        with small_model_threads(target[0]):
            result.extraction = extraction(*target, members, prefix_tokens=prefix_tokens, suffix_tokens=suffix_tokens, batch_size=batch_size)
    return result


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
