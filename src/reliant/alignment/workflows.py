"""The run-directory workflow behind ``reliant align isara``.

:func:`run_isara` checks the output folder and reads every input file (seeds, pool, evaluation
set) *before* torch is imported or a model loads, so a bad file or flag is a one-line error.
Then it runs the stages, each finished stage written atomically to ``<out>.checkpoints/<stage>/``
(outside the run folder, so an interrupted run loses nothing): the baselines (``base``,
``icl_knn``, ``seed_sft``) and ``round-1`` ... ``round-N``. ``--resume`` reuses the finished
stages of an interrupted run with the same options; every stage is seeded from ``--seed`` and
its own index, so a resumed run gives the same results as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliant.alignment.config import IsaraConfig
from reliant.alignment.domains import get_domain
from reliant.alignment.inputs import Sample, load_eval_items, load_samples
from reliant.core.config import config_to_dict, replace_config
from reliant.core.errors import ConfigError
from reliant.core.rundir import check_output_dir, is_within, run_directory
from reliant.core.seeding import set_seed

__all__ = ["run_isara"]

STAGE_FILES = ("eval.json", "eval_samples.jsonl", "generated.jsonl", "kept.jsonl", "rejected.jsonl", "sft.json")


def _options(config: IsaraConfig) -> dict[str, Any]:
    """The options a finished stage depends on (everything but ``resume``)."""
    values = config_to_dict(config)
    values.pop("resume", None)
    return values


def _checkpoint_root(config: IsaraConfig, out: Path | None, final: Path) -> Path:
    root = final.with_name(final.name + ".checkpoints")
    if is_within(root, final):  # pragma: no cover - a sibling never is
        raise ConfigError("the checkpoint folder must lie outside the run folder", field="out")
    if config.resume:
        if out is None:
            raise ConfigError("--resume needs the --out of the interrupted run", field="resume")
        saved = root / "options.json"
        if not saved.is_file():
            raise ConfigError(f"nothing to resume: {root} holds no finished stages", field="resume")
        if json.loads(saved.read_text(encoding="utf-8")) != json.loads(json.dumps(_options(config))):
            raise ConfigError(f"the options differ from those of the run in {root}; resume with the same options",
                              field="resume")
    elif root.exists():
        raise ConfigError(f"{root} holds stages of an earlier run: pass --resume to continue it, or remove it",
                          field="resume")
    return root


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Stage:
    """A finished stage as read back from its checkpoint folder."""

    name: str
    folder: Path
    metrics: dict[str, float]
    samples: list[dict]
    generated: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    sft: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, name: str, folder: Path) -> Stage:
        sft = folder / "sft.json"
        return cls(name, folder, json.loads((folder / "eval.json").read_text(encoding="utf-8")),
                   _read_jsonl(folder / "eval_samples.jsonl"), _read_jsonl(folder / "generated.jsonl"),
                   _read_jsonl(folder / "kept.jsonl"), _read_jsonl(folder / "rejected.jsonl"),
                   json.loads(sft.read_text(encoding="utf-8")) if sft.is_file() else {})


class _StageWriter:
    """Builds a stage in a hidden folder beside its final place; renamed in only when complete."""

    def __init__(self, root: Path, name: str) -> None:
        self.final = root / name
        self.folder = root / f".{name}.partial"
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def commit(self) -> Path:
        os.replace(self.folder, self.final)
        return self.final


class _Pipeline:
    """The models, data and judges one run shares between its stages."""

    def __init__(self, config: IsaraConfig, seeds: list[Sample], pool: list[Sample], items: list[dict],
                 root: Path) -> None:
        from reliant.alignment.isara import embed_samples, retrieve_related
        from reliant.core.models import load_causal_lm

        self.config, self.seeds, self.items, self.root = config, seeds, items, root
        self.domain = get_domain(config.domain)
        self.device = config.device
        self.base, self.tokenizer = load_causal_lm(config.model, device=config.device)
        self.seed_vectors = embed_samples(seeds, config.device)
        pool_vectors = embed_samples(pool, config.device) if pool else None
        related = retrieve_related(self.seed_vectors, pool_vectors, config.pool_neighbors) if pool else []
        self.retrieved = [pool[i] for i in related]
        self._retrieved_vectors = pool_vectors[related] if related else None
        self._spec_backends: dict[str, Any] = {}

    # -- LLM roles

    def backend_for(self, spec: str, model=None, mode: str = "auto"):
        """``self`` -> the given in-process model; anything else -> the backend of that spec (built once)."""
        from reliant.core.llm import TransformersBackend, make_backend

        if spec == "self":
            return TransformersBackend((model, self.tokenizer), mode=mode, batch_size=self.config.infer_batch_size,
                                       show_progress=True)
        if spec not in self._spec_backends:
            self._spec_backends[spec] = make_backend(spec)
        return self._spec_backends[spec]

    def eval_judge(self):
        """One judge for every model's answers: the base model for ``--judge self``."""
        from reliant.alignment.evaluation import COMPLIANCE_QUESTION
        from reliant.alignment.judge import Judge

        spec = self.config.filters.judge
        if self.domain.name != "safety" or spec == "none":
            return None
        return Judge(self.backend_for(spec, self.base), COMPLIANCE_QUESTION)

    def fewl_filter(self, model, seed: int):
        """FEWL's ``scores`` over this round's samples (``--fewl-references``), or None when off;
        ``self`` is the model being aligned, with this round's adapter."""
        from reliant.alignment.judge import FEWLFilter

        settings = self.config.filters
        if not settings.fewl_references:
            return None
        # The references and the wrong-answer writer are asked questions (chat), not continued.
        references = [self.backend_for(spec, model) for spec in settings.fewl_references]
        wrong = None if settings.fewl_wrong_llm == "none" else self.backend_for(settings.fewl_wrong_llm, model)
        return FEWLFilter(references, wrong, n_wrong=settings.fewl_n_wrong, max_new_tokens=settings.fewl_max_new_tokens,
                          seed=seed, device=self.device).scores

    def close(self) -> None:
        for backend in self._spec_backends.values():
            backend.close()

    # -- stages

    def evaluate(self, model, writer: _StageWriter, prompter=None, label: str = "eval") -> None:
        from reliant.alignment.evaluation import Prompter, evaluate

        metrics, samples = evaluate(
            self.domain.name, model, self.tokenizer, self.items, prompter or Prompter(self.tokenizer),
            max_new_tokens=self.config.eval_max_new_tokens, batch_size=self.config.infer_batch_size,
            judge=self.eval_judge(), label=label, device=self.device,
        )
        (writer.folder / "eval.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        _write_jsonl(writer.folder / "eval_samples.jsonl", samples)

    def fresh_model(self):
        from reliant.core.models import load_causal_lm

        return load_causal_lm(self.config.model, device=self.config.device)[0]

    def train(self, samples: list[Sample], writer: _StageWriter, seed: int, label: str):
        from reliant.alignment.sft import fine_tune

        set_seed(seed)
        model, result = fine_tune(self.fresh_model(), self.tokenizer, samples, self.config.sft,
                                  writer.folder / "trainer", seed=seed, device=self.device, description=label)
        shutil.rmtree(writer.folder / "trainer", ignore_errors=True)
        model.save_pretrained(writer.folder / "adapter")
        info = {"samples": len(samples), "steps": result.steps, "seconds": result.seconds, "tokens": result.tokens,
                "tokens_per_second": result.tokens_per_second, "losses": result.losses}
        (writer.folder / "sft.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        return model

    def load_adapter(self, folder: Path):
        from peft import PeftModel

        model = PeftModel.from_pretrained(self.fresh_model(), folder / "adapter")
        model.eval()
        return model

    def run_round(self, index: int, generator_model, kept_before: list[Sample], writer: _StageWriter):
        """Generate, filter, fine-tune and evaluate round ``index``; returns the fine-tuned model."""
        import numpy as np

        from reliant.alignment.isara import embed_samples, filter_candidates, generate_candidates, generation_prompts
        from reliant.alignment.judge import Judge

        config, name = self.config, f"round-{index}"
        seed = (config.seed + index) % 2**32
        set_seed(seed)
        domain_samples = [*self.seeds, *kept_before]
        bank = [*domain_samples, *self.retrieved]
        parts = [self.seed_vectors]
        if kept_before:
            parts.append(embed_samples(kept_before, self.device))
        if self._retrieved_vectors is not None:
            parts.append(self._retrieved_vectors)
        bank_vectors = np.concatenate(parts)
        rng = np.random.default_rng(seed)
        anchors = rng.choice(len(domain_samples), size=config.generations,
                             replace=config.generations > len(domain_samples)).tolist()
        prompts = generation_prompts(bank, bank_vectors, anchors, config.shots)
        generator = self.backend_for(config.generator, generator_model, mode="completions")
        candidates = generate_candidates(generator, prompts, max_new_tokens=config.max_new_tokens,
                                         temperature=config.temperature, top_p=config.top_p, seed=seed)
        judge = None
        if config.filters.judge != "none":
            judge = Judge(self.backend_for(config.filters.judge, generator_model), self.domain.quality_question).scores
        existing = [s.prompt for s in domain_samples]
        kept, rejected = filter_candidates(candidates, existing, config.filters, judge,
                                           self.fewl_filter(generator_model, seed))
        _write_jsonl(writer.folder / "generated.jsonl", [c.as_dict(name, bank) for c in candidates])
        _write_jsonl(writer.folder / "kept.jsonl", [c.as_dict(name, bank) for c in kept])
        _write_jsonl(writer.folder / "rejected.jsonl", [c.as_dict(name, bank) for c in rejected])
        new = [Sample(c.prompt, c.response, name) for c in kept]
        model = self.train([*self.seeds, *kept_before, *new], writer, seed, f"{name}: fine-tuning")
        self.evaluate(model, writer, label=name)
        return model


def _stage(root: Path, name: str) -> Stage | None:
    folder = root / name
    return Stage.read(name, folder) if (folder / "eval.json").is_file() else None


def run_isara(config: IsaraConfig, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """Baselines, then ISARA rounds; per round the generated, kept and rejected samples, the
    adapter and the evaluation; report with the domain metric per round against the baselines."""
    config = replace_config(config)  # a config built in Python is checked like flags
    domain = get_domain(config.domain)
    inputs = [p for p in (config.seeds, config.pool, config.eval_data) if p]
    # Every input is validated before torch is imported or any model is loaded.
    final = check_output_dir(out, config=config, inputs=inputs, overwrite=overwrite, command="align-isara")
    root = _checkpoint_root(config, out, final)
    seeds = load_samples(config.seeds, source="seed", limit=config.max_seeds, what="seed samples")
    pool = load_samples(config.pool, source="pool", what="pool samples")
    items = load_eval_items(domain.name, config.eval_data, config.eval_limit, exclude=[s.prompt for s in seeds])

    set_seed(config.seed)
    title = f"ISARA self-alignment: {domain.label}"
    with run_directory("align-isara", config, final, title=title, overwrite=overwrite, inputs=inputs) as run:
        root.mkdir(parents=True, exist_ok=True)
        (root / "options.json").write_text(json.dumps(_options(config), indent=2), encoding="utf-8")
        pipeline = _Pipeline(config, seeds, pool, items, root)
        run.log(f"{len(seeds)} seeds, {len(pool)} pool samples ({len(pipeline.retrieved)} retrieved), "
                f"{len(items)} evaluation items; checkpoints in {root}")
        stages: dict[str, Stage] = {}
        try:
            stages.update(_baselines(pipeline, config, root))
            stages.update(_rounds(pipeline, config, root))
        finally:
            pipeline.close()
        for name, stage in stages.items():
            shutil.copytree(stage.folder, run.file(name), dirs_exist_ok=True)
        from reliant.alignment.report import add_report

        summary = add_report(run, config, domain, stages, retrieved=len(pipeline.retrieved))
    return run.path, summary


def _baselines(pipeline: _Pipeline, config: IsaraConfig, root: Path) -> dict[str, Stage]:
    from reliant.alignment.evaluation import Prompter, knn_shots

    stages: dict[str, Stage] = {}
    for offset, name in enumerate(config.baselines):
        stage = _stage(root, name)
        if stage is None:
            set_seed((config.seed + 1000 + offset) % 2**32)
            writer = _StageWriter(root, name)
            if name == "base":
                pipeline.evaluate(pipeline.base, writer, label="base")
            elif name == "icl_knn":
                questions = [item["prompt"] for item in pipeline.items]
                shots = knn_shots(questions, pipeline.seeds, pipeline.seed_vectors, config.icl_shots, config.device)
                pipeline.evaluate(pipeline.base, writer, Prompter(pipeline.tokenizer, shots), label="icl_knn")
            else:  # seed_sft
                model = pipeline.train(pipeline.seeds, writer, (config.seed + 1000 + offset) % 2**32,
                                       "seed_sft: fine-tuning")
                pipeline.evaluate(model, writer, label="seed_sft")
            stage = Stage.read(name, writer.commit())
        stages[name] = stage
    return stages


def _rounds(pipeline: _Pipeline, config: IsaraConfig, root: Path) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    kept: list[Sample] = []
    model = pipeline.base
    previous: Stage | None = None
    for index in range(1, config.rounds + 1):
        name = f"round-{index}"
        stage = _stage(root, name)
        if stage is None:
            if previous is not None and model is pipeline.base:  # resumed: the last finished round's model
                model = pipeline.load_adapter(previous.folder)
            writer = _StageWriter(root, name)
            model = pipeline.run_round(index, model, kept, writer)
            stage = Stage.read(name, writer.commit())
        kept += [Sample(row["prompt"], row["response"], name) for row in stage.kept]
        stages[name] = previous = stage
    return stages
