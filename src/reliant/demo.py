"""``reliant demo``: a tour of every capability built so far, on built-in data, in one run
directory. Each capability adds a stage here, calling only its own ``api.py``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import typer

from reliant.capabilities import demo_stages, landed
from reliant.core.builtin_data import builtin_qa
from reliant.core.cli_common import command
from reliant.core.config import option, seed_option
from reliant.core.errors import ConfigError
from reliant.core.plotting import PALETTE, new_figure
from reliant.core.progress import progress_bar
from reliant.core.prompts import qa_prompt
from reliant.core.seeding import set_seed

if TYPE_CHECKING:
    from reliant.core.rundir import RunDirectory


@dataclass
class DemoConfig:
    """Run every capability built so far on built-in data; writes one run directory with report.html."""

    seed: int = seed_option()
    n_people: int = option(100, "Fictitious people in the built-in QA corpus of the foundation stage.", min=1)
    recall_sample: int = option(200, "QA pairs the tiny LM is asked to recall in the foundation stage.", min=1)
    stages: list[str] = option(["all"], "Stages to run ('all', 'foundation', or capability names).",
                               choices=lambda: stage_names())


def stage_names() -> list[str]:
    """``all``, ``foundation`` and every landed capability with an ``api.py`` (found on disk,
    not imported, so a bad ``--stages`` is rejected at once)."""
    return ["all", "foundation", *(c.name for c in landed("api"))]


def stage_foundation(run: RunDirectory, config: DemoConfig) -> dict:
    """Built-in data, the tiny LM that learns it, and embedding retrieval over it."""
    # Deliberately imported here: these load numpy, torch and transformers, which `reliant
    # demo --help` and a rejected option must not wait for (start-up time).
    import numpy as np

    from reliant.core.embeddings import embed
    from reliant.core.knn import knn
    from reliant.core.models import greedy_generate, load_causal_lm
    from reliant.core.tiny_lm import default_tiny_lm

    records = builtin_qa(n_people=config.n_people, seed=0)
    run.log(f"built-in corpus: {len(records)} QA about {config.n_people} fictitious people")

    model_dir = default_tiny_lm()
    model, tokenizer = load_causal_lm(str(model_dir))
    rng = np.random.default_rng(config.seed)
    sample = [records[i] for i in rng.choice(len(records), size=min(config.recall_sample, len(records)), replace=False)]
    answers = greedy_generate(model, tokenizer, [qa_prompt(r["question"]) for r in sample], max_new_tokens=48)
    exact = [a.strip() == r["answer"].strip() for a, r in zip(answers, sample)]
    recall = float(np.mean(exact))

    history_file = model_dir / "train_history.json"
    if history_file.exists():
        history = json.loads(history_file.read_text())
        losses = history.get("loss") or history.get("losses") or []
        if losses:
            fig, ax = new_figure()
            ax.plot(np.arange(1, len(losses) + 1), losses, color=PALETTE[0])
            ax.set_xlabel("training step")
            ax.set_ylabel("loss (answer tokens)")
            ax.set_yscale("log")
            ax.set_title("Tiny built-in LM learning the fictitious-people corpus")
            run.add_figure("Tiny LM training loss", fig,
                           caption="the loss should fall by orders of magnitude: the tiny LM memorises the "
                                   f"corpus, so later stages have facts to forget and members to detect "
                                   f"(model cached at {model_dir}).")

    # Paraphrase retrieval: does the embedder map each reworded answer to its own fact?
    truths = [r["answer"] for r in records]
    paraphrases = [r["paraphrased_answer"] for r in records]
    truth_vectors = embed(truths, show_progress=False)
    para_vectors = embed(paraphrases, show_progress=False)
    sims, idx = knn(para_vectors, truth_vectors, k=5, normalized=True)
    top1 = float(np.mean(idx[:, 0] == np.arange(len(records))))
    top5 = float(np.mean((idx == np.arange(len(records))[:, None]).any(axis=1)))
    matched = np.sum(para_vectors * truth_vectors, axis=1)
    fig, ax = new_figure()
    ax.hist(matched, bins=40, alpha=0.8, label="paraphrase vs its own answer", color=PALETTE[2])
    ax.hist(sims[:, 1], bins=40, alpha=0.6, label="2nd nearest answer", color=PALETTE[3])
    ax.set_xlabel("cosine similarity (all-MiniLM-L6-v2)")
    ax.set_ylabel("QA pairs")
    ax.legend()
    run.add_figure("Embedding neighbours", fig,
                   caption="the green mass (a paraphrase vs its own answer) should sit right of the orange one (vs the "
                           f"next-nearest answer): retrieval then finds the right fact (top-1 {top1:.1%}, top-5 {top5:.1%}).")

    rows = [
        {"question": r["question"], "trained answer": r["answer"], "tiny LM answer": a, "exact": bool(e)}
        for r, a, e in list(zip(sample, answers, exact))[:8]
    ]
    run.add_table("Tiny LM answers (sample)", rows)
    # Baselines from the same data: answering every question with the corpus' most common
    # answer, and picking a random answer for a paraphrase.
    most_common = max(set(truths), key=truths.count)
    majority = float(np.mean([r["answer"].strip() == most_common.strip() for r in sample]))
    run.add_headline("tiny LM exact recall", recall, group="foundation", baseline=majority,
                     baseline_label="most common answer", better="higher")
    run.add_headline("paraphrase → answer top-1", top1, group="foundation", baseline=1 / len(records),
                     baseline_label="chance", better="higher")
    return {"tiny_lm_exact_recall": recall, "paraphrase_retrieval_top1": top1, "paraphrase_retrieval_top5": top5,
            "corpus_size": len(records)}


STAGES: dict[str, Callable[[RunDirectory, DemoConfig], dict]] = {"foundation": stage_foundation}


def all_stages() -> dict[str, Callable[[RunDirectory, DemoConfig], dict]]:
    """The foundation stage, then every landed capability's ``demo_stage(run, seed)``."""
    found = {
        name: (lambda run, config, stage=stage: stage(run, config.seed)) for name, stage in demo_stages().items()
    }
    return {**STAGES, **found}


def run_demo(config: DemoConfig, out=None, overwrite: bool = False) -> RunDirectory:
    from reliant.core.rundir import run_directory  # deliberately lazy: numpy, jinja2 (start-up time)

    set_seed(config.seed)
    stages = all_stages()
    wanted = list(stages) if "all" in config.stages else list(dict.fromkeys(config.stages))
    unknown = [s for s in wanted if s not in stages]
    if unknown:  # a capability with an api.py but no demo_stage
        raise ConfigError(f"stage {unknown[0]!r} has no demo (stages: {', '.join(stages)})", field="stages")
    with run_directory("demo", config, out, title="reliant demo: a tour on built-in data", overwrite=overwrite) as run:
        timings = {}
        with progress_bar("demo stages", total=len(wanted)) as bar:
            for name in wanted:
                start = time.perf_counter()
                run.log(f"stage {name}: start")
                bar.advance(0, status=name)
                with run.headline_group(name):
                    run.add_metrics({name: stages[name](run, config)})
                timings[name] = round(time.perf_counter() - start, 2)
                run.log(f"stage {name}: {timings[name]} s")
                bar.advance(1, status=f"{name} done in {timings[name]:.0f} s")
        run.add_metrics({"seconds": timings})
        run.add_table("Stages", [{"stage": k, "seconds": v} for k, v in timings.items()])
    return run


def demo_handler(config: DemoConfig, out: Path | None, overwrite: bool) -> tuple[Path, list[str]]:
    """``reliant demo``: the run folder and no extra summary lines."""
    return run_demo(config, out, overwrite).path, []


def register(app: typer.Typer) -> None:
    command(app, "demo", DemoConfig, demo_handler, example="reliant demo --stages foundation,curation --out runs/demo")
