"""The ``reliant construct`` commands: ``run_<command>(config, out, overwrite) -> (run folder, summary lines)``.

Each handler checks every input (files, manifests, designs, the LLM spec, the search API's
answers) before it creates the run folder or loads a model, so a bad input is one line on
stderr, exit 2, and nothing left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reliant.construction.config import BenchmarkConfig, CleanConfig, CollectConfig, DesignConfig, TrainConfig
from reliant.core.data import save_array, save_records
from reliant.core.errors import DataError
from reliant.core.rundir import run_directory

__all__ = ["run_benchmark", "run_clean", "run_collect", "run_design", "run_train", "train_settings"]


def train_settings(training, seed: int):
    from reliant.construction.trainer import TrainSettings

    return TrainSettings(architecture=training.architecture, width=training.width, epochs=training.epochs,
                         batch_size=training.batch_size, lr=training.lr, weight_decay=training.weight_decay,
                         device=training.device, seed=seed)


# --------------------------------------------------------------------------- design


def run_design(config: DesignConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant construct design``: ``design.json`` (schema-valid, editable), its schema and the LLM transcript."""
    from reliant.construction.design import DESIGN_SCHEMA, design_classes, load_design

    config.validate()
    given = load_design(config.design) if config.design is not None else None
    if given is None:
        from reliant.core.llm import make_backend, parse_spec

        parse_spec(config.llm)  # a bad spec is a one-line error before any model loads
    with run_directory("construct design", config, out, overwrite=overwrite,
                       title="reliant construct design: classes, attributes and search queries") as run:
        transcript: list[dict] = []
        if given is not None:
            design = given
            run.log(f"validated the design in {config.design}")
        else:
            from reliant.core.seeding import set_seed

            set_seed(config.seed)
            with make_backend(config.llm) as backend:
                design, transcript = design_classes(
                    config.task.strip(), backend, num_classes=config.num_classes, class_names=config.class_names,
                    num_attributes=config.num_attributes, max_retries=config.max_retries,
                    max_new_tokens=config.max_new_tokens, seed=config.seed)
        run.file("design.json").write_text(json.dumps(design, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        run.file("design.schema.json").write_text(json.dumps(DESIGN_SCHEMA, indent=2) + "\n", encoding="utf-8")
        save_records(transcript, run.file("transcript.jsonl"))
        from_llm = sum(c.get("origin") == "llm" for c in design["classes"])
        parsed = sum(t["parsed"] for t in transcript)
        run.add_headline("classes", len(design["classes"]), group="design")
        run.add_headline("classes detailed by the LLM", from_llm, group="design", better="higher")
        run.add_headline("LLM replies that parsed", f"{parsed} / {len(transcript)}", group="design")
        run.add_table("Classes", [{"class": c["name"], "origin": c.get("origin", "user"),
                                   "attributes": "; ".join(c.get("attributes", [])),
                                   "queries": "; ".join(c["queries"])} for c in design["classes"]],
                      caption="origin 'fallback': the LLM gave no valid JSON for this class, so its name is the "
                              "query. Edit design.json and pass it back with --design.")
        run.add_metrics({"classes": len(design["classes"]), "classes_from_llm": from_llm,
                         "llm_replies": len(transcript), "llm_replies_parsed": parsed})
    return run.path, [f"{len(design['classes'])} classes ({from_llm} detailed by the LLM); "
                      f"edit {run.path / 'design.json'} and collect with --design"]


# --------------------------------------------------------------------------- collect


def _download(plan_items, folder: Path, client, run) -> tuple[list, list[dict]]:
    from reliant.construction.backends.http_client import FetchError
    from reliant.core.progress import track

    kept, problems = [], []
    for i, item in enumerate(track(plan_items, "downloading images")):
        if item.url is None:
            kept.append(item)
            continue
        try:
            body = client.get_bytes(item.url)
        except FetchError as exc:
            problems.append({"url": item.url, "reason": f"download failed: {exc}"})
            continue
        suffix = Path(item.url.split("?")[0]).suffix.lower()
        target = folder / item.label.replace("/", "_") / f"{i:06d}{suffix if len(suffix) <= 5 else ''}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        item.path = str(target)
        kept.append(item)
    return kept, problems


def run_collect(config: CollectConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant construct collect``: ``manifest.jsonl`` + ``classes.json``; unreadable files in ``unreadable.jsonl``."""
    from reliant.construction.backends import get_backend
    from reliant.construction.images import load_images

    config.validate()
    plan = get_backend(config.backend).plan(config)
    local = [item for item in plan.items if item.url is None]
    local_images, local_ok, local_problems = load_images([i.path for i in local], config.image_size)
    if local and not plan.items[len(local):] and not local_ok.any():
        source = config.root or config.manifest
        raise DataError(f"none of its {len(local)} image files could be read (first: {local_problems[0]['path']}: "
                        f"{local_problems[0]['reason']})", file=source, field="root" if config.root else "manifest")
    with run_directory("construct collect", config, out, overwrite=overwrite,
                       title=f"reliant construct collect: {config.backend} backend") as run:
        good_local = [item for item, ok in zip(local, local_ok) if ok]
        problems = list(local_problems)
        remote = [item for item in plan.items if item.url is not None]
        if remote:
            from reliant.construction.backends.http_search import client_for

            with client_for(config) as client:
                downloaded, failures = _download(remote, run.path / "images", client, run)
            problems += failures
            images, ok, bad = load_images([i.path for i in downloaded], config.image_size)
            problems += bad
            good_remote = [item for item, keep in zip(downloaded, ok) if keep]
            for item, keep in zip(downloaded, ok):
                if not keep:
                    Path(item.path).unlink(missing_ok=True)
        else:
            good_remote, images = [], np.zeros((0, config.image_size, config.image_size, 3), np.uint8)
        kept = good_local + good_remote
        if not kept:
            raise DataError(f"no image could be collected ({len(problems)} failed; first: "
                            f"{problems[0].get('url') or problems[0].get('path')}: {problems[0]['reason']})"
                            if problems else "no image could be collected", field="backend")
        all_images = np.concatenate([local_images, images]) if len(images) else local_images
        classes = [c for c in plan.classes if any(i.label == c for i in kept)]
        # downloads are named relative to the run folder (its staging name changes on success)
        save_records([{"path": str(Path(i.path).relative_to(run.path)) if i.url else i.path, "label": i.label,
                       "source": i.url or i.where} for i in kept],
                     run.file("manifest.jsonl"))
        run.file("classes.json").write_text(json.dumps(classes, ensure_ascii=False) + "\n", encoding="utf-8")
        save_records(problems, run.file("unreadable.jsonl"))
        save_records(plan.skipped, run.file("skipped.jsonl"))
        counts = [sum(i.label == c for i in kept) for c in classes]
        for p in problems:
            run.log(f"skipped {p.get('path') or p.get('url')}: {p['reason']}")
        run.add_headline("images collected", len(kept), group="collection")
        run.add_headline("unreadable or failed", len(problems), group="collection", better="lower")
        run.add_headline("skipped (not images)", len(plan.skipped), group="collection", better="lower")
        run.add_headline("classes", len(classes), group="collection")
        run.add_table("Images per class", [{"class": c, "images": n} for c, n in zip(classes, counts)])
        run.add_figure("Images per class", _figure("plot_class_counts", classes, counts),
                       caption="a long bar next to short ones is the class imbalance training will face.")
        sample = np.linspace(0, len(kept) - 1, min(16, len(kept))).astype(int)
        run.add_figure("Sample images", _figure("plot_image_grid", all_images[sample], [kept[i].label for i in sample]),
                       caption="evenly spaced rows of the manifest with their labels: check that they look right.")
        if problems:
            run.add_table("Unreadable or failed files (skipped)", problems[:50],
                          caption=f"{len(problems)} in all, every one in unreadable.jsonl.")
        run.add_metrics({"collected": len(kept), "unreadable": len(problems), "skipped": len(plan.skipped),
                         "classes": classes, "per_class": dict(zip(classes, counts))})
    lines = [f"collected {len(kept)} images in {len(classes)} classes; {len(problems)} unreadable/failed and "
             f"{len(plan.skipped)} non-image files skipped", f"manifest: {run.path / 'manifest.jsonl'}"]
    return run.path, lines


def _figure(name: str, *args):
    from reliant.construction import report

    return getattr(report, name)(*args)


# --------------------------------------------------------------------------- clean


def run_clean(config: CleanConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant construct clean``: duplicates, unreadable files and label errors; ``clean_manifest.jsonl``."""
    from reliant.construction.inputs import load_manifest

    config.validate()
    manifest = load_manifest(config.manifest, config.image_size)
    if len(manifest.labels) < 20:
        raise DataError(f"has {len(manifest.labels)} readable images; cleaning needs at least 20", file=config.manifest,
                        field="manifest")
    from reliant.construction import dedup
    from reliant.construction.detection import DETECTOR_LABELS, detect, estimate_noise
    from reliant.construction.images import file_sha256
    from reliant.construction.methods import get_method
    from reliant.construction.trainer import train_method
    from reliant.core.progress import track

    with run_directory("construct clean", config, out, overwrite=overwrite, inputs=[config.manifest],
                       title="reliant construct clean: duplicates, unreadable files, label errors") as run:
        n, K = len(manifest.labels), len(manifest.classes)
        hashes = [file_sha256(r["path"]) for r in track(manifest.rows, "file hashes")]
        pixel_keys = [str(hash(img.tobytes())) for img in manifest.images]
        exact = np.concatenate([dedup.exact_pairs(hashes), dedup.exact_pairs(pixel_keys)])
        bits = dedup.perceptual_hashes(manifest.images)
        near = dedup.hash_pairs(bits, config.hash_distance)
        training = train_settings(config.training, config.seed)
        model = train_method(get_method("ce"), manifest.images, manifest.labels, K, training, None,
                             description="training the feature model (CE)")
        features = model.features(manifest.images)
        embedded = dedup.embedding_pairs(features, config.embedding_similarity) if config.embedding_similarity < 1 \
            else np.zeros((0, 2), np.int64)
        kinds = {}
        for kind, pairs in (("exact", exact), ("perceptual hash", near), ("embedding", embedded)):
            for a, b in pairs:
                kinds.setdefault((int(a), int(b)), kind)
        all_pairs = np.array(list(kinds), dtype=np.int64).reshape(-1, 2)
        groups = dedup.duplicate_groups(n, all_pairs)
        keep = dedup.keep_mask(n, groups)
        kept_rows = np.flatnonzero(keep)
        flags = {}
        for name in config.detectors:
            flagged = np.zeros(n, dtype=bool)
            flagged[kept_rows] = detect(name, features[kept_rows], manifest.labels[kept_rows], K, seed=config.seed)
            flags[name] = flagged
        hoc = estimate_noise(features[kept_rows], manifest.labels[kept_rows], K, seed=config.seed)
        votes = np.sum([flags[name] for name in config.detectors], axis=0)
        flagged_any = votes * 2 > len(config.detectors)  # a majority of the detectors
        out_rows, flagged_rows = [], []
        for i in kept_rows:
            row = {**manifest.rows[i], "flagged_by": [d for d in config.detectors if flags[d][i]],
                   "label_error": bool(flagged_any[i])}
            if row["label_error"]:
                flagged_rows.append(row)
                if config.drop_flagged:
                    continue
            out_rows.append(row)
        save_records(out_rows, run.file("clean_manifest.jsonl"))
        run.file("classes.json").write_text(json.dumps(manifest.classes, ensure_ascii=False) + "\n", encoding="utf-8")
        save_records(flagged_rows, run.file("flagged.jsonl"))
        save_records([{"kept": manifest.rows[g[0]]["path"], "dropped": [manifest.rows[j]["path"] for j in g[1:]],
                       "found_by": sorted({kinds.get((min(a, b), max(a, b)), "") for a in g for b in g if a < b} - {""})}
                      for g in groups], run.file("duplicates.jsonl"))
        save_records(manifest.unreadable, run.file("unreadable.jsonl"))
        save_array(hoc.T, run.file("transition.npy"))
        dropped = n - len(kept_rows)
        run.add_headline("readable images", n, group="cleaning")
        run.add_headline("unreadable (skipped)", len(manifest.unreadable), group="cleaning", better="lower")
        run.add_headline("duplicates removed", dropped, group="cleaning")
        run.add_headline("label errors (majority of detectors)", int(flagged_any.sum()), group="cleaning")
        run.add_headline("HOC noise-rate estimate", hoc.noise_rate, group="cleaning")
        run.add_table("Duplicate pairs by test", [{"test": k, "pairs": int(sum(v == k for v in kinds.values()))}
                                                  for k in ("exact", "perceptual hash", "embedding")])
        run.add_table("Flagged label errors per detector",
                      [{"detector": DETECTOR_LABELS[d], "flagged": int(flags[d].sum()),
                        "share": float(flags[d][kept_rows].mean())} for d in config.detectors],
                      caption=f"on the {len(kept_rows)} rows left after de-duplication; HOC estimates "
                              f"{hoc.noise_rate:.1%} wrong labels.")
        shown = np.flatnonzero(flagged_any)[:16]
        if len(shown):
            run.add_figure("Suspected label errors", _figure("plot_image_grid", manifest.images[shown],
                                                             [manifest.rows[i]["label"] for i in shown]),
                           caption="images a majority of detectors flagged, with their given label.")
        run.add_metrics({"readable": n, "unreadable": len(manifest.unreadable), "duplicate_groups": len(groups),
                         "duplicates_removed": dropped, "flagged": {d: int(flags[d].sum()) for d in config.detectors},
                         "label_errors": int(flagged_any.sum()), "hoc_noise_rate": hoc.noise_rate,
                         "hoc_transition": hoc.T.tolist()})
    return run.path, [f"{n} readable, {dropped} duplicates removed, {int(flagged_any.sum())} suspected label errors "
                      f"(HOC noise rate {hoc.noise_rate:.1%})", f"clean manifest: {run.path / 'clean_manifest.jsonl'}",
                      f"transition matrix for --method forward: {run.path / 'transition.npy'}"]


# --------------------------------------------------------------------------- train


def _stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        take = int(round(fraction * len(rows))) if len(rows) > 1 else 0
        held.append(rows[:take])
    held_rows = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), held_rows), held_rows


def run_train(config: TrainConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant construct train``: train one method, evaluate, save ``model.safetensors`` and predictions."""
    from reliant.construction.inputs import load_manifest
    from reliant.construction.methods import get_method

    method = get_method(config.method)
    train = load_manifest(config.manifest, config.image_size)
    K = len(train.classes)
    transition = None
    if config.transition is not None:
        from reliant.core.data import load_array

        transition = load_array(config.transition, name="transition", ndim=2)
        if transition.shape != (K, K):
            raise DataError(f"has shape {transition.shape}, expected ({K}, {K}) for the {K} classes",
                            file=config.transition, field="transition")
        if (transition < 0).any() or not np.allclose(transition.sum(axis=1), 1.0, atol=1e-3):
            raise DataError("rows must be probabilities summing to 1", file=config.transition, field="transition")
    if config.test_manifest is not None:
        test = load_manifest(config.test_manifest, config.image_size, field="test_manifest", classes=train.classes)
        train_rows, test_images, test_labels = np.arange(len(train.labels)), test.images, test.labels
        test_source = str(config.test_manifest)
    else:
        train_rows, held = _stratified_split(train.labels, config.test_fraction, config.seed)
        test_images, test_labels = train.images[held], train.labels[held]
        test_source = f"{len(held)} held-out rows of the training manifest (their labels may be noisy)"
    validation = None
    if method.posthoc:
        fit_rows, val_rows = _stratified_split(train.labels[train_rows], config.val_fraction, config.seed + 1)
        validation = (train.images[train_rows][val_rows], train.labels[train_rows][val_rows])
        train_rows = train_rows[fit_rows]
    images, labels = train.images[train_rows], train.labels[train_rows]
    if len(np.unique(labels)) < 2 or len(labels) < 10:
        raise DataError(f"needs at least 10 training images in 2 classes, has {len(labels)}", file=config.manifest,
                        field="manifest")
    from reliant.construction.learning import fit_method
    from reliant.robustness.api import accuracy_report

    with run_directory("construct train", config, out, overwrite=overwrite,
                       title=f"reliant construct train: {method.label}") as run:
        settings = train_settings(config.training, config.seed)
        outcome = fit_method(config.method, images, labels, K, settings, config.method_params, test_images,
                             transition=transition, validation=validation)
        predictions = outcome.test_logits.argmax(axis=1)
        report = accuracy_report(predictions, test_labels, num_groups=K)
        save_array(outcome.test_logits, run.file("test_logits.npy"))
        save_array(predictions, run.file("test_predictions.npy"))
        trained = outcome.result
        if trained is not None:
            from safetensors.torch import save_file

            state = {f"net{n}.{k}": v.detach().cpu().contiguous() for n, m in enumerate(trained.models)
                     for k, v in m.state_dict().items()}
            save_file(state, str(run.file("model.safetensors")))
            run.add_figure("Training loss", _figure("plot_training_curve", trained.history),
                           caption="the method's loss parts per epoch (co-teaching also shows its forget rate).")
        counts = np.bincount(labels, minlength=K).tolist()
        run.add_figure("Per-class test accuracy", _figure("plot_per_class_accuracy", train.classes,
                                                          report["per_group_accuracy"], counts),
                       caption="n is the class's training rows: tail classes (small n) are where imbalance hurts.")
        group = method.label
        run.add_headline("test accuracy", report["mean_accuracy"], group=group, better="higher")
        run.add_headline("balanced accuracy", report["balanced_accuracy"], group=group, better="higher")
        run.add_headline("worst-class accuracy", report["worst_accuracy"], group=group, better="higher")
        if outcome.images_per_second:
            run.add_headline("training images / s", outcome.images_per_second, group=group, better="higher")
        run.add_text("Test set", test_source)
        run.add_metrics({"method": config.method, "test": report, "seconds": outcome.seconds,
                         "images_per_second": outcome.images_per_second, "train_rows": len(labels),
                         "unreadable": train.unreadable, "history": trained.history if trained else [],
                         **outcome.extras})
    return run.path, [f"{method.label}: test accuracy {report['mean_accuracy']:.4f}, balanced "
                      f"{report['balanced_accuracy']:.4f}, worst class {report['worst_accuracy']:.4f} ({test_source})"]


# --------------------------------------------------------------------------- benchmark


def run_benchmark(config: BenchmarkConfig, out: Path | None = None, overwrite: bool = False):
    """``reliant construct benchmark``: one of the three leaderboards on the shared real data."""
    from reliant.construction.datasets import shared_file

    config.validate()
    needed = [("images", "cifar10_test.npz"), ("cleanlab_cifar10", "cifar10_test_set_original_labels.npy")]
    if config.suite != "imbalance" and any(s.startswith("human") for s in config.noise):
        needed.append(("cifar10h", "cifar10h-counts.npy"))
    if config.suite == "imbalance" and "mnist" in config.datasets:
        needed.append(("images", "mnist_test.npz"))
    for parts in needed:
        shared_file(*parts)
    from reliant.construction.benchmark import SCORES, aggregate, plot_leaderboard, run_suite

    with run_directory(f"construct benchmark {config.suite}", config, out, overwrite=overwrite,
                       title=f"reliant construct benchmark: {config.suite}") as run:
        rows = run_suite(config, run)
        table = aggregate(rows, config.suite)
        save_records(rows, run.file("results.jsonl"))
        save_records(table, run.file("leaderboard.csv"))
        key = SCORES[config.suite][0]
        for setting in dict.fromkeys(r["setting"] for r in table):
            ranked = sorted((r for r in table if r["setting"] == setting), key=lambda r: -r[key])
            run.add_table(f"Leaderboard: {setting}", ranked, caption=f"sorted by {key.replace('_', ' ')}, mean over seeds")
            best = ranked[0]
            baseline = next((r for r in ranked if r["method"] == "CE"), None)
            run.add_headline(f"best: {best['method']}", best[key], group=setting, better="higher",
                             baseline=None if baseline is None else baseline[key],
                             baseline_label=None if baseline is None else "CE")
        run.add_figure("Leaderboard", plot_leaderboard(table, config.suite),
                       caption=f"{key.replace('_', ' ')} of every method per setting.")
        run.add_metrics({"suite": config.suite, "leaderboard": table, "rows": rows})
    lines = [f"{r['setting']:28s} {r['method']:30s} {key} {r[key]:.4f}  ({r['seconds']:.1f} s)" for r in table]
    return run.path, lines
