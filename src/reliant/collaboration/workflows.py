"""The ``reliant collab analyze`` command and the ``reliant demo`` stage.

:func:`run_analyze` reads and cross-checks the machine scores, human votes and labels
through :mod:`reliant.core.data` first (a bad file is a one-line error before any team is
fitted), then writes one run directory and returns ``(run_folder, summary_lines)``.
"""

from __future__ import annotations

import json
from pathlib import Path

from reliant.collaboration.config import CollabConfig
from reliant.core.data import check_rows, load_array, load_class_scores, load_labels
from reliant.core.errors import ConfigError, DataError
from reliant.core.rundir import RunDirectory, run_directory

__all__ = ["demo_stage", "load_inputs", "run_analyze"]


def load_inputs(config: CollabConfig) -> dict:
    """Read and cross-check the machine scores, human votes and labels (one-line errors)."""
    from reliant.collaboration.votes import as_counts

    path, name, are_probs = config.machine_scores
    logits = load_class_scores(path, name=name, probabilities=are_probs)
    n, k = logits.shape
    votes_path = Path(config.human_votes)
    raw = load_array(votes_path, name="human_votes", ndim=(1, 2))
    check_rows("human_votes", len(raw), n, votes_path, str(path))
    votes = as_counts(raw, k, name="human_votes", file=votes_path)
    labels = load_labels(config.labels, k, rows=n, reference=str(path))
    names = list(config.class_names) or None
    if names is not None and len(names) != k:
        raise ConfigError(f"expected {k} comma-separated names (one per class of {path}), got {len(names)}",
                          field="class_names")
    paths = [path, votes_path, Path(config.labels)]
    second = None
    if config.second_machine_scores is not None:
        second_path, second_name, second_probs = config.second_machine_scores
        second = load_class_scores(second_path, name=second_name, probabilities=second_probs)
        check_rows(second_name, len(second), n, second_path, str(path))
        if second.shape[1] != k:
            raise DataError(f"has {second.shape[1]} classes but {path} has {k}", file=second_path, field=second_name)
        paths.append(second_path)
    features = None
    if config.features is not None:
        features = load_array(config.features, name="features", ndim=(1, 2), dtype="float")
        features = features.reshape(len(features), -1)
        check_rows("features", len(features), n, config.features, str(path))
        paths.append(Path(config.features))
    return {"logits": logits, "votes": votes, "labels": labels, "class_names": names, "paths": paths,
            "second_logits": second, "features": features}


def run_analyze(config: CollabConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant collab analyze``: error analysis and teams, written to a run directory;
    returns ``(run_folder, summary_lines)``."""
    config.validate()  # resolve_config already did; a Python caller may have built the config by hand
    inputs = load_inputs(config)
    # Imported after every input was checked: the report pulls in plotting.
    from reliant.collaboration.analysis import analyze
    from reliant.collaboration.report import add_headlines, add_to_report

    with run_directory("collab analyze", config, out, overwrite=overwrite, inputs=inputs["paths"],
                       title="reliant collab analyze: human vs machine errors and teams") as run:
        run.log(f"{len(inputs['labels'])} rows, {inputs['logits'].shape[1]} classes; "
                f"human = {config.annotators or 'all'} vote(s) per row")
        result = analyze(inputs["logits"], inputs["votes"], inputs["labels"], annotators=config.annotators,
                         folds=config.folds, alpha=config.alpha, bins=config.bins, seed=config.seed,
                         deferral_methods=config.deferral_methods, budget=config.budget,
                         features=inputs["features"], second_machine_logits=inputs["second_logits"])
        headline = add_to_report(run, result, class_names=inputs["class_names"])
        add_headlines(run, headline)
        run.add_metrics({"headline": headline})
        run.file("teams.json").write_text(json.dumps(result["teams"], indent=2) + "\n")
    lines = [f"{row['team']:60s} accuracy {row['accuracy']:.4f}  human consulted {row['human consulted']:.2f}"
             for row in result["teams"]]
    lines += [f"cross-fitted deferral, {name}: accuracy {entry['accuracy']:.4f}, deferred {entry['deferred']:.2%}, "
              f"machine on kept {entry['machine accuracy on kept rows']:.4f}, human on deferred "
              f"{entry['human accuracy on deferred rows']:.4f}" for name, entry in result["deferral"].items()]
    if result["ai_ai"] is not None:
        lines.append(f"AI-AI best team {result['ai_ai']['best_team_accuracy']:.4f} vs human-AI best team "
                     f"{result['best_team_accuracy']:.4f}")
    lines.append(f"error consistency κ = {result['comparison']['error_consistency']:.4f}; "
                 f"team beats both: {result['team_beats_both']}")
    return run.path, lines


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """Human vs machine on a synthetic problem whose two sources err on different items and
    classes: error analysis, deferral curve and learned teams."""
    from reliant.collaboration.analysis import analyze
    from reliant.collaboration.report import add_to_report
    from reliant.collaboration.synthetic import synthetic_human_machine

    data = synthetic_human_machine(n=3000, votes_per_item=20, seed=seed)
    result = analyze(data["logits"], data["votes"], data["labels"], annotators=1, seed=seed)
    headline = add_to_report(run, result, prefix="Collaboration: ")
    best_single = max(headline["machine_accuracy"], headline["human_accuracy"])
    run.add_headline("best team acc (synthetic)", headline["best_team_accuracy"], group="Collaboration",
                     baseline=best_single, baseline_label="best single source", better="higher")
    return {**headline, "source": "synthetic human votes and machine logits (reliant.collaboration.synthetic)"}
