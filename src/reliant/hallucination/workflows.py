"""The run-folder workflows behind ``reliant hallucination score`` and ``simulate``.

Each ``run_<command>(config, out, overwrite) -> (run_folder, summary_lines)`` checks every
input (LLM specs, data files, what FEWL will need) before the run folder exists and before
an embedding model or LLM is loaded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from reliant.hallucination.config import ScoreConfig, SimulateConfig

__all__ = ["run_score", "run_simulate"]


def _check_specs(config: ScoreConfig) -> None:
    """Every LLM spec and the similarity parse (no model is built): a typo fails in a fraction
    of a second."""
    from reliant.core.errors import ConfigError
    from reliant.core.llm import parse_spec
    from reliant.hallucination.consistency import check_similarity_spec

    specs = [("reference_llm", s) for s in config.reference_llm]
    specs += [("wrong_llm", config.wrong_llm)] if config.wrong_llm is not None else []
    specs += [("sample_llm", s) for s in config.sample_llms().values()]
    specs += [("selfcheck_llm", config.selfcheck_llm)] if config.selfcheck_llm is not None else []
    for name, spec in specs:
        try:
            parse_spec(spec)
        except ConfigError as exc:
            raise ConfigError(exc.message, field=exc.field or name) from None
    check_similarity_spec(config.similarity)
    if config.similarity != "cosine" and config.embedder == "exact":
        raise ConfigError(f"--embedder exact is exact-match similarity; it cannot go with --similarity "
                          f"{config.similarity}", field="embedder")


def run_score(config: ScoreConfig, out: str | os.PathLike | None = None, overwrite: bool = False,
              encoder: Any = None) -> tuple[Path, list[str]]:
    """Score ``config.data`` with FEWL and write a run folder; returns its path and summary lines.

    ``encoder`` replaces the sentence-embedding model (tests pass a cheap one)."""
    from reliant.core.data import save_records
    from reliant.core.rundir import run_directory
    from reliant.core.seeding import set_seed
    from reliant.hallucination.generate import GENERATED_FILE, check_sample_models, load_generated
    from reliant.hallucination.inputs import attach_references, load_qa
    from reliant.hallucination.scoring import check_ready

    _check_specs(config)
    # Read and check every input before the run folder exists or any model loads.
    qa = load_qa(config.data, model_name=config.model_name, limit=config.limit)
    if config.references:
        attach_references(qa, config.references)
    sample_llms = config.sample_llms()
    check_sample_models(qa, sample_llms)
    reference_llms, wrong_llm = len(config.reference_llm), config.wrong_llm is not None
    if config.answers_from is not None:
        reused = load_generated(qa, config.answers_from)  # checked here; applied by score()
        reference_llms, wrong_llm = len(reused.reference_names), any(reused.wrong)
    check_ready(qa, config.fewl, reference_llms=reference_llms, wrong_llm=wrong_llm, section="fewl.")
    set_seed(config.seed)
    inputs = [p for p in (config.data, config.references, config.answers_from) if p]
    with run_directory("hallucination score", config, out, title="FEWL hallucination scores", overwrite=overwrite,
                       inputs=inputs) as run:
        from reliant.hallucination.api import score  # deliberately here: pulls in the embedding stack
        from reliant.hallucination.generate import generated_records
        from reliant.hallucination.report import write_report

        run.log(f"{len(qa)} questions, candidate models: {', '.join(qa.models)}")
        result = score(qa, reference_llms=list(config.reference_llm), wrong_llm=config.wrong_llm,
                       n_wrong=config.n_wrong, sample_llms=sample_llms, n_samples=config.n_samples,
                       correct=config.correct, params=config.fewl, similarity=config.similarity, encoder=encoder,
                       embedder=config.embedder, embedding_cache=config.embedding_cache,
                       selfcheck_nli=config.selfcheck_nli, selfcheck_llm=config.selfcheck_llm,
                       answers_from=config.answers_from, max_new_tokens=config.max_new_tokens,
                       wrong_temperature=config.wrong_temperature, sample_temperature=config.sample_temperature,
                       sentence_scores=config.sentence_scores, device=config.device, seed=config.seed)
        run.log(f"similarity: {result.similarity}; references: {', '.join(result.qa.reference_names)}")
        if result.generated is not None and not result.generated.empty():
            save_records(generated_records(result.qa, result.generated), run.file(GENERATED_FILE))
            run.log(f"LLM answers saved to {GENERATED_FILE} (reuse them with --answers-from {run.path})")
        metrics = write_report(run, result, select=config.select)
        run.add_metrics(metrics)
        _score_headlines(run, result)
    lines = [f"{row['rank']:>3}. {row['model']}: mean FEWL {row['mean FEWL']:.4f}" for row in result.model_table()]
    for name, values in result.evaluation.items():
        lines.append(f"vs gold, {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    return run.path, lines


def _score_headlines(run: Any, result: Any) -> None:
    """Cards by stage: the data, FEWL's ranking, and (with gold labels) FEWL against the
    unweighted reference average, the baseline FEWL improves on. No card shows a
    thresholded hallucination rate: no threshold is calibrated without gold labels."""
    table = result.model_table()
    best, worst = table[0], table[-1]
    run.add_headline("questions", len(result.qa), group="data")
    run.add_headline("candidate models", len(result.models), group="data")
    run.add_headline("reference LLMs", len(result.qa.reference_names), group="data")
    run.add_headline(f"mean FEWL of the best model ({best['model']})", best["mean FEWL"], group="FEWL ranking",
                     baseline=worst["mean FEWL"], baseline_label=f"worst model ({worst['model']})", better="higher")
    fewl = result.evaluation.get("fewl")
    if not fewl:
        return
    average = result.evaluation.get("reference_average", {})
    for key, label in (("auroc", "FEWL AUROC vs gold (hallucinated answers)"),
                       ("spearman", "FEWL model-ranking ρ vs gold")):
        value = fewl.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        run.add_headline(label, value, group="FEWL vs gold labels", baseline=average.get(key),
                         baseline_label="reference average", better="higher")


# --------------------------------------------------------------------------- simulate


def run_simulate(config: SimulateConfig, out: str | os.PathLike | None = None,
                 overwrite: bool = False) -> tuple[Path, list[str]]:
    """Write ``records.jsonl`` (the input format of ``score``, with gold labels) into a run
    folder, with the simulated models' true accuracies in metrics.json and the report."""
    from reliant.core.data import save_records
    from reliant.core.rundir import run_directory
    from reliant.hallucination.simulate import default_candidates, default_references, load_items, simulate_records

    items = load_items(config.source, config.data, limit=config.limit, seed=config.seed)
    candidates = default_candidates(config.n_models, seed=config.seed)
    references = default_references([i.group for i in items], seed=config.seed)
    records = simulate_records(items, candidates, references, n_wrong=config.n_wrong, n_samples=config.n_samples,
                               seed=config.seed)
    inputs = [config.data] if config.data else []
    with run_directory("hallucination simulate", config, out, title="Simulated FEWL benchmark", overwrite=overwrite,
                       inputs=inputs) as run:
        target = save_records(records, run.file("records.jsonl"))
        run.log(f"{len(records)} simulated questions from {config.source} written to {target.name}")
        models = _simulated_rates(records, [c.name for c in candidates])
        run.add_metrics({"n_questions": len(records), "source": config.source,
                         "gold_hallucination_rate": models, "records": "records.jsonl"})
        run.add_table("Simulated candidate models", [
            {"model": c.name, "P(correct)": c.accuracy, "style": c.style, "gold hallucination rate": models[c.name]}
            for c in candidates
        ], caption="Gold rate = mean hallucination degree of the simulated answers (0 correct, 0.5 half, 1 wrong).")
        run.add_table("Simulated reference LLMs", [
            {"reference": r.name, "P(correct)": r.accuracy, "P(correct) per topic": _per_topic(r.group_accuracy),
             "P(lazy answer)": r.lazy}
            for r in references
        ], caption="FEWL should give the experts the most weight on their topics and the lazy reference the least.")
        run.add_figure("Gold hallucination rate per candidate", _rates_figure(models),
                       caption="The ranking FEWL should recover from the texts alone (lower = fewer hallucinations).")
        best = min(models, key=models.get)
        worst = max(models, key=models.get)
        run.add_headline("questions", len(records), group="data")
        run.add_headline("candidate models", len(candidates), group="data")
        run.add_headline(f"gold hallucination rate of the best model ({best})", models[best], group="simulated truth",
                         baseline=models[worst], baseline_label=f"worst model ({worst})", better="lower")
    lines = [f"wrote {len(records)} simulated questions to {run.path / 'records.jsonl'}",
             f"score them with: reliant hallucination score --data {run.path / 'records.jsonl'}"]
    return run.path, lines


def _simulated_rates(records: list[dict], names: list[str]) -> dict[str, float]:
    """Mean gold hallucination degree of each candidate's simulated answers."""
    return {name: sum(float(r["hallucinated"][name]) for r in records) / max(len(records), 1) for name in names}


def _per_topic(accuracy: dict[str, float]) -> str:
    if not accuracy:
        return "same on every topic"
    values = sorted(set(accuracy.values()))
    return " / ".join(f"{v:g} on {sum(1 for a in accuracy.values() if a == v)} topics" for v in values)


def _rates_figure(rates: dict[str, float]) -> Any:
    from reliant.core.plotting import PALETTE, new_figure

    fig, ax = new_figure(5.6, 3.2)
    names = list(rates)
    ax.bar(names, [rates[n] for n in names], color=PALETTE[0])
    ax.set_ylabel("gold hallucination rate")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    return fig
