"""ADC's three benchmarks, built from real data by :func:`run_suite`.

1. ``noise-detection`` -- CIFAR-10 images with real human noise (one CIFAR-10H annotator's
   vote per image, seeded) or synthetic symmetric / asymmetric noise; each detector flags
   label errors on the features of a CE model trained on the noisy labels; precision,
   recall and F1 against the rows whose label really is wrong.
2. ``noise-learning`` -- the same noisy training sets; every noise-robust method trains on
   them and is scored by accuracy on held-out images with their clean CIFAR-10 labels.
3. ``imbalance`` -- long-tailed training subsets (exponential profile, ratio 10 / 100) of
   CIFAR-10 and MNIST, a long-tailed validation split (for the post-hoc methods), a balanced
   test split; accuracy, balanced accuracy and worst-class accuracy.

Every row records the method's own time (training, or fitting for post-hoc methods on top of
the shared CE model) and its training throughput.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from reliant.construction.datasets import ImageSet, downsample, load_cifar10, load_mnist
from reliant.construction.detection import DETECTOR_LABELS, DETECTORS, detect
from reliant.construction.learning import fit_method, hoc_estimate
from reliant.construction.methods import available_methods, get_method
from reliant.construction.noise import asymmetric_noise, human_noise, longtail_indices, symmetric_noise, transition_of
from reliant.construction.trainer import TrainSettings, train_method
from reliant.core.progress import note

__all__ = ["SCORES", "aggregate", "noisy_labels", "plot_leaderboard", "run_suite", "split_noise_data"]


def noisy_labels(setting: str, data: ImageSet, rows: np.ndarray, seed: int) -> np.ndarray:
    kind, _, rate = setting.partition(":")
    clean = data.labels[rows]
    if kind == "human":
        if data.human_votes is None:
            raise ValueError(f"{data.name} has no human votes")
        return human_noise(data.human_votes[rows], seed)
    if kind == "symmetric":
        return symmetric_noise(clean, float(rate), data.num_classes, seed)
    return asymmetric_noise(clean, float(rate), data.name, seed)


def split_noise_data(data: ImageSet, train_size: int, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(data.labels))
    return np.sort(order[:train_size]), np.sort(order[train_size:train_size + test_size])


def _settings(config, seed: int) -> TrainSettings:
    t = config.training
    return TrainSettings(architecture=t.architecture, width=t.width, epochs=t.epochs, batch_size=t.batch_size,
                         lr=t.lr, weight_decay=t.weight_decay, device=t.device, seed=seed)


def _detection_scores(flagged: np.ndarray, is_noisy: np.ndarray) -> dict[str, float]:
    from reliant.curation.api import detection_scores

    return detection_scores(flagged, is_noisy)


def _noise_suite(config, run, learning: bool) -> list[dict[str, Any]]:
    data = load_cifar10()
    images = downsample(data.images, config.downsample)
    names = config.methods or (available_methods("noise") if learning else list(DETECTORS))
    rows_out = []
    for seed in config.seeds:
        train_rows, test_rows = split_noise_data(data, config.train_size, config.test_size, seed)
        clean = data.labels[train_rows]
        for setting in config.noise:
            noisy = noisy_labels(setting, data, train_rows, seed)
            true_rate = float(np.mean(noisy != clean))
            note(f"{setting}, seed {seed}: {true_rate:.1%} of {len(noisy)} training labels are wrong")
            run.log(f"{setting} seed {seed}: true noise rate {true_rate:.4f}")
            settings = _settings(config, seed)
            reference = train_method(get_method("ce"), images[train_rows], noisy, 10, settings, config.method_params,
                                     description=f"CE on {setting} (seed {seed})")
            base = {"setting": setting, "seed": seed, "true_noise_rate": true_rate}
            if learning:
                hoc = hoc_estimate(reference, images[train_rows], noisy, 10, seed)
                true_T = transition_of(clean, noisy, 10)
                base |= {"hoc_noise_rate": hoc.noise_rate, "hoc_T_error": float(np.abs(hoc.T - true_T).sum() / 10)}
                runs = [(name, name, None, config.method_params) for name in names]  # (row, method, label, params)
                if config.oracles:  # the same methods fed the truth: how much of their result is HOC's error
                    runs += [("forward_true_T", "forward", "Forward (true T, oracle)", config.method_params),
                             ("coteaching_true_rate", "coteaching", "Co-teaching (true noise rate, oracle)",
                              replace(config.method_params, forget_rate=true_rate))]
                for row_name, name, label, params in runs:
                    outcome = fit_method(name, images[train_rows], noisy, 10, settings, params, images[test_rows],
                                         reference=reference, hoc=hoc,
                                         transition=true_T if row_name == "forward_true_T" else None)
                    label = label or outcome.label
                    accuracy = float(np.mean(outcome.test_logits.argmax(1) == data.labels[test_rows]))
                    rows_out.append({**base, "method": row_name, "label": label, "test_accuracy": accuracy,
                                     "seconds": outcome.seconds, "images_per_second": outcome.images_per_second})
                    run.log(f"  {row_name}: clean test accuracy {accuracy:.4f} ({outcome.seconds:.1f} s)")
            else:
                import time

                features = reference.features(images[train_rows])
                for name in names:
                    started = time.perf_counter()
                    flagged = detect(name, features, noisy, 10, seed=seed)
                    scores = _detection_scores(flagged, noisy != clean)
                    rows_out.append({**base, "method": name, "label": DETECTOR_LABELS[name], **scores,
                                     "seconds": time.perf_counter() - started})
                    run.log(f"  {name}: P {scores['precision']:.3f} R {scores['recall']:.3f} F1 {scores['f1']:.3f}")
    return rows_out


def _imbalance_split(data: ImageSet, ratio: float, head_size: int, seed: int):
    rng = np.random.default_rng(seed)
    test, pool = [], []
    for c in range(data.num_classes):
        members = rng.permutation(np.flatnonzero(data.labels == c))
        test.append(members[:200])
        pool.append(members[200:])
    pool_rows = np.sort(np.concatenate(pool))
    train = pool_rows[longtail_indices(data.labels[pool_rows], data.num_classes, ratio, head_size, seed)]
    rest = np.setdiff1d(pool_rows, train)
    val = rest[longtail_indices(data.labels[rest], data.num_classes, ratio, max(10, head_size // 4), seed + 1)]
    return train, val, np.sort(np.concatenate(test))


def _imbalance_suite(config, run) -> list[dict[str, Any]]:
    from reliant.robustness.api import accuracy_report

    names = config.methods or ["ce", *available_methods("imbalance")]
    rows_out = []
    for dataset in config.datasets:
        data = load_cifar10() if dataset == "cifar10" else load_mnist()
        images = downsample(data.images, config.downsample)
        for ratio in config.ratios:
            for seed in config.seeds:
                train, val, test = _imbalance_split(data, ratio, config.head_size, seed)
                counts = np.bincount(data.labels[train], minlength=10)
                note(f"{dataset} ratio {ratio:g}, seed {seed}: {len(train)} training rows, head {counts.max()}, "
                     f"tail {counts.min()}")
                settings = _settings(config, seed)
                reference = train_method(get_method("ce"), images[train], data.labels[train], 10, settings,
                                         config.method_params, description=f"CE on {dataset}-LT {ratio:g}")
                for name in names:
                    outcome = fit_method(name, images[train], data.labels[train], 10, settings, config.method_params,
                                         images[test], reference=reference,
                                         validation=(images[val], data.labels[val]))
                    report = accuracy_report(outcome.test_logits.argmax(1), data.labels[test])
                    rows_out.append({"setting": f"{dataset}-LT ratio {ratio:g}", "dataset": dataset, "ratio": ratio,
                                     "seed": seed, "method": name, "label": outcome.label,
                                     "accuracy": report["mean_accuracy"],
                                     "balanced_accuracy": report["balanced_accuracy"],
                                     "worst_class_accuracy": report["worst_accuracy"],
                                     "tail_accuracy": report["per_group_accuracy"][-1],
                                     "seconds": outcome.seconds, "images_per_second": outcome.images_per_second,
                                     "train_rows": int(len(train))})
                    run.log(f"  {dataset} {ratio:g} {name}: balanced {report['balanced_accuracy']:.4f} "
                            f"worst {report['worst_accuracy']:.4f}")
    return rows_out


SCORES = {"noise-detection": ("f1", "precision", "recall"), "noise-learning": ("test_accuracy",),
          "imbalance": ("balanced_accuracy", "worst_class_accuracy", "tail_accuracy")}


def run_suite(config, run) -> list[dict[str, Any]]:
    if config.suite == "imbalance":
        return _imbalance_suite(config, run)
    return _noise_suite(config, run, learning=config.suite == "noise-learning")


def aggregate(rows: list[dict[str, Any]], suite: str) -> list[dict[str, Any]]:
    """Mean (and, with several seeds, standard deviation) over seeds per (setting, method)."""
    keys = SCORES[suite]
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["setting"], row["method"]), []).append(row)
    table = []
    for (setting, method), group in grouped.items():
        entry = {"setting": setting, "method": group[0]["label"]}
        for key in keys:
            values = np.array([r[key] for r in group], dtype=np.float64)
            entry[key] = float(values.mean())
            if len(values) > 1:
                entry[f"{key}_std"] = float(values.std(ddof=1))
        entry["seconds"] = float(np.mean([r["seconds"] for r in group]))
        entry["seeds"] = len(group)
        table.append(entry)
    return table


def plot_leaderboard(table: list[dict[str, Any]], suite: str):
    from reliant.core.plotting import PALETTE, new_figure

    key = SCORES[suite][0]
    settings = list(dict.fromkeys(r["setting"] for r in table))
    methods = list(dict.fromkeys(r["method"] for r in table))
    fig, ax = new_figure(max(6.0, 1.2 * len(settings) * len(methods) / 3), 3.8)
    width = 0.8 / len(methods)
    for m, method in enumerate(methods):
        values = [next((r[key] for r in table if r["setting"] == s and r["method"] == method), np.nan) for s in settings]
        ax.bar(np.arange(len(settings)) + m * width - 0.4 + width / 2, values, width, label=method,
               color=PALETTE[m % len(PALETTE)])
    ax.set_xticks(np.arange(len(settings)), settings)
    ax.set_ylabel(key.replace("_", " "))
    ax.legend(fontsize=7, ncol=2)
    return fig

