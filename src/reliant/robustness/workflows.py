"""The ``reliant robust`` commands and the ``reliant demo`` stage: files in, run directory out.

Each ``run_<command>(config, out, overwrite)`` reads and cross-checks every input file
through :mod:`reliant.core.data` first (a bad file is a one-line error before any method is
fitted or any figure drawn), then writes one run directory and returns
``(run_folder, summary_lines)``. The numbers come from
:func:`reliant.robustness.compare.compare_methods`; the figures and headline cards from
:mod:`reliant.robustness.report`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from reliant.core.data import check_rows, load_array, load_class_scores, load_labels, save_array
from reliant.core.errors import DataError
from reliant.core.rundir import RunDirectory, run_directory
from reliant.robustness.config import DropsConfig, LongTailConfig
from reliant.robustness.inputs import check_groups, load_vector

__all__ = ["cifar10_files", "demo_stage", "load_inputs", "run_drops", "run_longtail"]

SHARED_DATA = Path(os.environ.get("RELIANT_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
"""``../shared/data`` beside the repository (real data for demos; absent in installs);
``RELIANT_SHARED_DATA`` points elsewhere."""


# --------------------------------------------------------------------------- drops


def _load_groups(path: Path, name: str, rows: int, reference: str) -> np.ndarray:
    groups = load_array(path, name=name, ndim=(1, 2), dtype="int")
    groups = groups.reshape(-1) if groups.ndim == 2 and groups.shape[1] == 1 else groups
    check_rows(name, len(groups), rows, path, reference)
    return check_groups(groups, name=name, file=path)


def load_inputs(config: DropsConfig) -> dict:
    """Read and cross-check every array named in the config (one-line errors): validation
    scores as logits (``--probs`` files are turned into log-probabilities), labels, and the
    optional test set, groups, prior and target."""
    scores_path, scores_name, are_probs = config.scores
    val_logits = load_class_scores(scores_path, name=scores_name, probabilities=are_probs)
    k = val_logits.shape[1]
    val_labels = load_labels(config.labels, k, name="labels", rows=len(val_logits), reference=str(scores_path))
    empty = np.flatnonzero(np.bincount(val_labels, minlength=k) == 0)
    if empty.size:  # DROPS weighs classes by their validation loss: a class without rows cannot be weighed
        raise DataError(f"class {int(empty[0])} has no validation rows (DROPS weighs each class by its validation "
                        "loss)", file=config.labels, field="labels")
    inputs = {"val_logits": val_logits, "val_labels": val_labels, "test_logits": None, "test_labels": None,
              "val_groups": None, "test_groups": None, "prior": None, "prior_source": None, "target": None}
    test = config.test_scores
    if test is not None:
        test_path, test_name, test_probs = test
        test_logits = load_class_scores(test_path, name=test_name, probabilities=test_probs)
        if test_logits.shape[1] != k:
            raise DataError(f"has {test_logits.shape[1]} classes but {scores_path} has {k}", file=test_path,
                            field=test_name)
        inputs["test_logits"] = test_logits
        inputs["test_labels"] = load_labels(config.test_labels, k, name="test_labels", rows=len(test_logits),
                                            reference=str(test_path))
    if config.groups is not None:
        inputs["val_groups"] = _load_groups(Path(config.groups), "groups", len(val_logits), str(scores_path))
        if test is not None:  # DropsConfig.validate made sure the test groups are given
            inputs["test_groups"] = _load_groups(Path(config.test_groups), "test_groups", len(inputs["test_logits"]),
                                                 str(test[0]))
    if config.prior is not None:
        inputs["prior"] = load_vector(config.prior, k, name="prior")
        inputs["prior_source"] = f"given: {Path(config.prior)}"
    elif config.train_labels is not None:
        from reliant.robustness.drops import estimate_prior  # numpy only; no plotting

        train_labels = load_labels(config.train_labels, k, name="train_labels")
        inputs["prior"] = estimate_prior(train_labels, k, file=config.train_labels)
        inputs["prior_source"] = f"estimated from {len(train_labels)} training labels in {Path(config.train_labels)}"
    if config.target is not None:
        n_groups = k
        if inputs["val_groups"] is not None:
            n_groups = int(inputs["val_groups"].max()) + 1
            if inputs["test_groups"] is not None:
                n_groups = max(n_groups, int(inputs["test_groups"].max()) + 1)
        inputs["target"] = load_vector(config.target, n_groups, name="target")
    return inputs


def _input_paths(config: object) -> list[Path]:
    return [Path(value) for value in vars(config).values() if isinstance(value, (str, Path)) and Path(value).exists()]


def run_drops(config: DropsConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant robust drops``: fit DROPS and the baselines on validation scores, evaluate
    them on test (or validation), write a run directory with ``weights.json`` and
    ``predictions.npy``; returns ``(run_folder, summary_lines)``."""
    config.validate()  # resolve_config already did; a Python caller may have built the config by hand
    inputs = load_inputs(config)
    # Imported after every input was checked: the report modules pull in plotting.
    from reliant.robustness.compare import compare_methods
    from reliant.robustness.divergences import canonical
    from reliant.robustness.report import add_headlines, add_setup, add_to_report

    params = config.drops_params()
    with run_directory("robust drops", config, out, overwrite=overwrite, inputs=_input_paths(config),
                       title="reliant robust drops: distributionally robust post-hoc classifier") as run:
        k = inputs["val_logits"].shape[1]
        run.log(f"validation: {len(inputs['val_labels'])} rows, {k} classes; "
                f"test: {0 if inputs['test_labels'] is None else len(inputs['test_labels'])} rows")
        results = compare_methods(
            inputs["val_logits"], inputs["val_labels"], inputs["test_logits"], inputs["test_labels"],
            val_groups=inputs["val_groups"], test_groups=inputs["test_groups"], prior=inputs["prior"],
            target=inputs["target"], **params,
        )
        drops = results["drops"]
        add_setup(run, results, inputs["prior_source"])
        if results["evaluated_on"] == "validation":
            run.add_text("Note", "No test set was given: every number is measured on the validation set the "
                                 "methods were fitted on, so it is optimistic.")
        headline = add_to_report(run, results)
        run.log(f"prior π: {inputs['prior_source']}")
        run.log(f"DROPS: delta = {drops.delta:g} ({_delta_origin(results)}), lambda = {drops.lambda_:.4f}, "
                f"D(g, r) = {drops.divergence_:.4f}; temperature {results['temperature']:.4f}")
        add_headlines(run, headline, results["eval_delta"])
        run.file("weights.json").write_text(json.dumps({
            "weights_g": drops.weights_.tolist(), "target_r": drops.target_.tolist(),
            "prior_pi": drops.prior_.tolist(), "prior_source": inputs["prior_source"],
            "class_offsets": drops.offsets_.tolist(), "lambda": drops.lambda_,
            "divergence": canonical(config.divergence), "divergence_value": drops.divergence_, "delta": drops.delta,
            "delta_selection": results["delta_selection"], "temperature": results["temperature"],
        }, indent=2) + "\n")
        scored = inputs["test_logits"] if inputs["test_logits"] is not None else inputs["val_logits"]
        # the prediction of the fitted model: calibrated logits when a temperature was fitted
        save_array(drops.predict(scored / results["temperature"]), run.file("predictions.npy"))
        run.add_metrics({"headline": headline, "prior_source": inputs["prior_source"],
                         "selected_delta": drops.delta, "delta_selection": results["delta_selection"],
                         "temperature": results["temperature"]})
    split = "test" if results["evaluated_on"] == "test" else "val"
    lines = [f"prior π: {inputs['prior_source']}",
             f"DROPS δ = {drops.delta:g} ({_delta_origin(results)})"
             + (f"; logits divided by temperature {results['temperature']:.4f}" if config.calibrate != "none" else ""),
             f"evaluated on {results['evaluated_on']} (δ-worst at δ = {results['eval_delta']:g}):"]
    lines += [
        f"{name:30s} mean {entry[split]['mean_accuracy']:.4f}  worst {entry[split]['worst_accuracy']:.4f}  "
        f"δ-worst {entry[split]['delta_worst_accuracy']:.4f}"
        for name, entry in results["methods"].items()
    ]
    return run.path, lines


def _delta_origin(results: dict) -> str:
    selection = results["delta_selection"]
    if selection is None:
        return "fixed by --delta"
    return (f"selected on validation by {selection['folds']}-fold cross-fitting for {selection['metric']}"
            + (f" at δ = {selection['eval_delta']:g}" if selection["metric"] == "delta_worst" else "")
            + f" from {', '.join(f'{d:g}' for d in selection['deltas'])}")


# --------------------------------------------------------------------------- longtail


def run_longtail(config: LongTailConfig, out: Path | None = None, overwrite: bool = False) -> tuple[Path, list[str]]:
    """``reliant robust longtail``: simulate a long-tailed model from probabilities on a
    labelled set and write validation/test arrays (``val_logits.npy``, ``val_labels.npy``,
    ``test_logits.npy``, ``test_labels.npy``, ``prior.npy``); returns ``(run_folder, summary_lines)``."""
    probs_path, labels_path = Path(config.probs), Path(config.labels)
    logits = load_class_scores(probs_path, name="probs", probabilities=True)
    labels = load_labels(labels_path, logits.shape[1], rows=len(logits), reference=str(probs_path))
    # Imported after the inputs were checked.
    from reliant.core.arrays import softmax
    from reliant.robustness.longtail import longtail_split
    from reliant.robustness.report import plot_validation_profile

    split = longtail_split(softmax(logits), labels, ratio=config.ratio, seed=config.seed,
                           val_fraction=config.val_fraction, val_profile=config.val_profile)
    with run_directory("robust longtail", config, out, overwrite=overwrite, inputs=[probs_path, labels_path],
                       title="reliant robust longtail: a simulated long-tailed model") as run:
        for key in ("val_logits", "val_labels", "test_logits", "test_labels", "prior", "val_index", "test_index"):
            save_array(split[key], run.file(f"{key}.npy"))
        counts = np.bincount(split.val_labels, minlength=logits.shape[1])
        run.add_table("Validation rows per class", [{"class": y, "validation rows": int(c), "training prior π": p}
                                                   for y, (c, p) in enumerate(zip(counts, split.prior))],
                      caption="Class 0 is the head, the last class the tail; the test split stays balanced.")
        run.add_figure("Validation profile", plot_validation_profile(counts, config.ratio),
                       caption="a straight falling line on this log scale (the exponential long-tail profile), "
                               f"head / tail row ratio close to {config.ratio:g}.")
        run.add_metrics({"val_rows": int(len(split.val_labels)), "test_rows": int(len(split.test_labels)),
                         "val_counts": counts.tolist(), "prior": split.prior.tolist()})
        run.add_headline("validation rows", int(len(split.val_labels)), group="simulated split")
        run.add_headline("test rows", int(len(split.test_labels)), group="simulated split")
        run.add_headline("head / tail validation rows", float(counts.max() / max(counts.min(), 1)),
                         group="simulated split", baseline=config.ratio, baseline_label="--ratio")
    folder = run.path
    return folder, [f"wrote val_logits.npy, val_labels.npy, test_logits.npy, test_labels.npy, prior.npy to {folder}",
                    f"next: reliant robust drops --logits {folder / 'val_logits.npy'} --labels "
                    f"{folder / 'val_labels.npy'} --test-logits {folder / 'test_logits.npy'} --test-labels "
                    f"{folder / 'test_labels.npy'} --prior {folder / 'prior.npy'}"]


# --------------------------------------------------------------------------- demo


def cifar10_files() -> tuple[Path, Path] | None:
    """The shared cross-validated CIFAR-10 probabilities and labels, when present."""
    folder = SHARED_DATA / "cleanlab_cifar10"
    probs, labels = folder / "cifar10_test_set_pyx.npy", folder / "cifar10_test_set_original_labels.npy"
    return (probs, labels) if probs.is_file() and labels.is_file() else None


def demo_stage(run: RunDirectory, seed: int) -> dict:
    """DROPS vs logit adjustment on a long-tailed CIFAR-10 model (simulated from the shared
    cross-validated probabilities) or, without them, on a synthetic long-tailed problem."""
    from reliant.robustness.compare import compare_methods
    from reliant.robustness.longtail import longtail_split, synthetic_longtail
    from reliant.robustness.report import add_headlines, add_setup, add_to_report

    files = cifar10_files()
    if files is not None:
        split = longtail_split(np.load(files[0]), np.load(files[1]).astype(np.int64), ratio=100.0, seed=seed)
        source = "CIFAR-10 (cleanlab cross-validated probabilities, simulated ratio-100 long tail)"
    else:
        split = synthetic_longtail(seed=seed)
        source = "synthetic Gaussian mixture, logistic regression trained with ratio-100 long tail"
    run.log(f"robustness demo on {source}")
    results = compare_methods(split.val_logits, split.val_labels, split.test_logits, split.test_labels,
                              prior=split.prior, seed=seed)  # δ selected on validation, as on the CLI
    add_setup(run, results, "the simulated long-tailed training prior", prefix="Robustness: ")
    headline = add_to_report(run, results, prefix="Robustness: ")
    add_headlines(run, headline, results["eval_delta"], group_prefix="Robustness: ",
                  stats=("worst_accuracy", "delta_worst_accuracy"))
    return {**headline, "source": source}
