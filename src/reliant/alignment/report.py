"""Figures, tables and headline cards of ``reliant align isara``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["add_report", "reason_kind"]

STAGE_LABELS = {"base": "base model", "seed_sft": "SFT on seeds", "icl_knn": "ICL-kNN (no fine-tuning)"}


def reason_kind(reason: str) -> str:
    """The filter a rejection reason belongs to: unparsable, length, judge, FEWL or near-duplicate."""
    head = reason.split(":", 1)[0]
    if head in ("unparsable", "judge", "near-duplicate"):
        return head
    if head == "FEWL":
        return "fewl"
    return "length" if "too" in reason else "other"


def _label(name: str) -> str:
    return STAGE_LABELS.get(name, f"ISARA {name}")


def _short(text: Any, width: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def add_report(run, config, domain, stages: Mapping[str, Any], retrieved: int) -> list[str]:
    """Fill ``run`` (metrics, headlines, tables, figures); returns the summary lines."""
    from reliant.core.plotting import PALETTE, new_figure

    rounds = [name for name in stages if name.startswith("round-")]
    baselines = [name for name in stages if not name.startswith("round-")]
    metric = domain.metric
    per_round = []
    for name in rounds:
        stage = stages[name]
        kinds = Counter(reason_kind(row.get("reason", "")) for row in stage.rejected)
        per_round.append({
            "round": name, "generated": len(stage.generated), "kept": len(stage.kept), "rejected": len(stage.rejected),
            **{f"rejected_{k}": kinds.get(k, 0) for k in ("unparsable", "length", "judge", "fewl", "near-duplicate")},
            "sft_samples": stage.sft.get("samples", 0), "sft_steps": stage.sft.get("steps", 0),
            "sft_tokens_per_s": round(float(stage.sft.get("tokens_per_second", 0.0)), 1),
            domain.metric_label: stage.metrics.get(metric),
        })
    run.add_metrics({
        "domain": domain.name, "metric": metric, "retrieved_pool_samples": retrieved,
        "stages": {name: stage.metrics for name, stage in stages.items()}, "rounds": per_round,
    })

    reference = stages["base"].metrics.get(metric) if "base" in stages else None
    group = f"{domain.metric_label}: ISARA vs the base model"
    for name in [*rounds, *baselines]:
        if name == "base":
            continue
        run.add_headline(_label(name), stages[name].metrics.get(metric), group=group, baseline=reference,
                         baseline_label="base model", better=domain.better)
    if "base" in stages:
        run.add_headline("base model", reference, group=group)
    run.add_headline("samples kept (all rounds)", sum(r["kept"] for r in per_round), group="Self-generated data")
    run.add_headline("samples generated (all rounds)", sum(r["generated"] for r in per_round),
                     group="Self-generated data")

    metric_names = sorted({k for stage in stages.values() for k in stage.metrics})
    run.add_table("Evaluation of every model", [
        {"model": _label(name), **{k: stage.metrics.get(k) for k in metric_names}} for name, stage in stages.items()
    ], caption=f"{len(next(iter(stages.values())).samples)} evaluation items per model; the domain metric is "
               f"{domain.metric_label} ({'lower' if domain.better == 'lower' else 'higher'} is better).")
    run.add_table("Rounds: generated, kept and rejected samples", per_round,
                  caption="Rejections by filter: unparsable output, length, the judge, FEWL (when on), "
                          "ROUGE-L near-duplicate.")

    fig, ax = new_figure(5.6, 3.4)
    xs = list(range(1, len(rounds) + 1))
    ax.plot(xs, [stages[n].metrics.get(metric) for n in rounds], marker="o", color=PALETTE[0], label="ISARA")
    for colour, name in zip(PALETTE[1:], baselines):
        ax.axhline(stages[name].metrics.get(metric), linestyle="--", color=colour, label=_label(name))
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel(domain.metric_label)
    ax.legend(fontsize=7)
    run.add_figure("Domain metric per round", fig, save_as="metric_per_round.png",
                   caption=f"ISARA after each round against the baselines (dashed); "
                           f"{'lower' if domain.better == 'lower' else 'higher'} is better.")

    fig, ax = new_figure(5.6, 3.0)
    ax.bar(xs, [r["kept"] for r in per_round], color=PALETTE[2], label="kept")
    ax.bar(xs, [r["rejected"] for r in per_round], bottom=[r["kept"] for r in per_round], color=PALETTE[3],
           label="rejected")
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel("generated samples")
    ax.legend(fontsize=7)
    run.add_figure("Kept and rejected samples per round", fig, save_as="kept_rejected.png",
                   caption="How much of what the model wrote survived the filters each round.")

    examples = []
    for name in rounds:
        for row in stages[name].kept[:3]:
            examples.append({"round": name, "status": "kept", "prompt": _short(row["prompt"]),
                             "response": _short(row["response"])})
        for row in stages[name].rejected[:3]:
            examples.append({"round": name, "status": "rejected: " + _short(row.get("reason", ""), 80),
                             "prompt": _short(row.get("prompt") or row.get("raw", "")),
                             "response": _short(row.get("response", ""))})
    if examples:
        run.add_table("Example generations", examples, caption="The first kept and rejected samples of each round.")
    answers = []
    for i in range(min(3, len(next(iter(stages.values())).samples))):
        for name, stage in stages.items():
            sample = stage.samples[i]
            answers.append({"item": i + 1, "model": _label(name), "prompt": _short(sample["prompt"], 100),
                            "answer": _short(sample.get("answer", ""), 200)})
    run.add_table("Evaluation answers", answers, caption="The same evaluation items answered by every model.")
    lines = [f"{_label(name)}: {domain.metric_label} {stage.metrics.get(metric):.3f}" for name, stage in stages.items()]
    lines.append(f"kept {sum(r['kept'] for r in per_round)} of {sum(r['generated'] for r in per_round)} "
                 f"generated samples over {len(rounds)} round(s)")
    return lines
