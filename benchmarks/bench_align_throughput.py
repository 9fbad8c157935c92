"""ISARA throughput: reliant's generation and LoRA SFT paths against plain transformers / plain TRL, same run.

Generation (samples generated per second): the in-context generation prompts of one ISARA round
(the packaged safety seeds as the bank, ``--shots`` examples each) continued with sampling
(temperature 0.8, top-p 0.95, stop at the next ``### Question:``) through
``reliant.alignment.isara.generate_candidates`` (the shared ``TransformersBackend``:
length-sorted, left-padded batches) and through a plain ``model.generate`` loop over
tokenizer-padded batches with transformers' own ``stop_strings``. The filter (self-judge and
ROUGE-L dedupe) is timed on its own, since plain transformers has no counterpart.

SFT (trained tokens per second): the same samples (seeds, prompt through the chat template),
the same ``SFTConfig`` and the same LoRA config on a fresh copy of the same model, trained by
``reliant.alignment.sft.fine_tune`` and by a plain ``trl.SFTTrainer`` built the way TRL's
documentation shows. Both runs train the same tokens with the same seed, so their losses must
agree (the script checks it); tokens/s counts prompt and completion tokens without padding.

Each measurement is the best of ``--repeats`` runs, the two paths alternating, after a warm-up.
Writes ``align_throughput_<model>.json`` and ``.png`` to ``--out``.

    python benchmarks/bench_align_throughput.py --model tiny        # CPU, 2 threads, ~1 min
    python benchmarks/bench_align_throughput.py --model smollm2     # CPU, 2 threads, ~5 min
    python benchmarks/bench_align_throughput.py --model smollm2 --device cuda --generations 256 \
        --sft-samples 512 --infer-batch-size 64 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from reliant.alignment.config import FilterSettings, SFTSettings
from reliant.alignment.inputs import Sample, load_samples
from reliant.alignment.isara import (
    QUESTION_MARK,
    embed_samples,
    filter_candidates,
    generate_candidates,
    generation_prompts,
)
from reliant.alignment.judge import Judge
from reliant.alignment.sft import fine_tune, lora_config, sft_config
from reliant.core.llm.transformers import TransformersBackend
from reliant.core.models import load_causal_lm
from reliant.core.plotting import PALETTE, figure_png, new_figure
from reliant.core.prompts import join_prompt_answer, question_prompt
from reliant.core.seeding import set_seed

SEEDS = Path(__file__).resolve().parents[1] / "src/reliant/alignment/seed_data/safety_seeds.jsonl"
TEMPERATURE, TOP_P = 0.8, 0.95


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="tiny, smollm2, an HF id or a local folder")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--generations", type=int, default=16, help="samples generated per timed run")
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--infer-batch-size", type=int, default=8)
    parser.add_argument("--sft-samples", type=int, default=36, help="training samples (the seeds, cycled)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per path, alternating (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/align_throughput"))
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device):
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def best_interleaved(paths: dict, repeats: int, device: torch.device) -> dict:
    """``{name: (best seconds, result of that run)}``, the paths run alternately so a drift in
    machine load falls on each alike."""
    best: dict = {name: (math.inf, None) for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            seconds, result = timed(fn, device)
            if seconds < best[name][0]:
                best[name] = (seconds, result)
    return best


@torch.inference_mode()
def plain_generate(model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int, seed: int) -> list[str]:
    """The textbook loop: tokenizer left-padding, ``model.generate`` with sampling and
    transformers' ``stop_strings``, new text decoded."""
    tokenizer.padding_side = "left"
    torch.manual_seed(seed)
    texts = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True).to(model.device)
        ids = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=True, temperature=TEMPERATURE,
                             top_p=TOP_P, pad_token_id=tokenizer.pad_token_id, stop_strings=[f"\n{QUESTION_MARK}"],
                             tokenizer=tokenizer)
        texts += tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return texts


def plain_trl(model_name: str, device: str, tokenizer, samples: list[Sample], settings: SFTSettings, seed: int):
    """Plain TRL as its documentation shows it: a prompt/completion dataset, ``SFTConfig``,
    ``SFTTrainer`` with a peft ``LoraConfig``, ``train()``. Same config objects as reliant's."""
    from datasets import Dataset
    from trl import SFTTrainer

    set_seed(seed)
    model = load_causal_lm(model_name, device=device)[0]
    rows = []
    for sample in samples:
        prompt = question_prompt(tokenizer, sample.prompt)
        rows.append({"prompt": prompt, "completion": join_prompt_answer(prompt, sample.response)[len(prompt):]})
    with tempfile.TemporaryDirectory() as work:
        trainer = SFTTrainer(model=model, args=sft_config(settings, work, seed=seed, device=device),
                             train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                             peft_config=lora_config(settings, model))
        tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) * settings.epochs
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    return {"train_seconds": seconds, "tokens": tokens, "losses": losses}


def reliant_sft(model_name: str, device: str, tokenizer, samples: list[Sample], settings: SFTSettings, seed: int):
    set_seed(seed)
    model = load_causal_lm(model_name, device=device)[0]
    with tempfile.TemporaryDirectory() as work:
        _, result = fine_tune(model, tokenizer, samples, settings, work, seed=seed, device=device)
    return {"train_seconds": result.seconds, "tokens": result.tokens, "losses": result.losses}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(args.model, device=args.device)
    load_s = time.perf_counter() - started
    seeds = load_samples(str(SEEDS), source="seed", what="seed samples")
    vectors = embed_samples(seeds, args.device)
    anchors = [i % len(seeds) for i in range(args.generations)]
    prompts = generation_prompts(seeds, vectors, anchors, args.shots)
    backend = TransformersBackend((model, tokenizer), mode="completions", batch_size=args.infer_batch_size,
                                  show_progress=False)
    results: dict = {
        "model": args.model, "device": str(device), "threads": args.threads, "torch": torch.__version__,
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "load_seconds": round(load_s, 2), "seed": args.seed,
    }

    # -- generation: samples per second
    def ours():
        return generate_candidates(backend, prompts, max_new_tokens=args.max_new_tokens, temperature=TEMPERATURE,
                                   top_p=TOP_P, seed=args.seed)

    def plain():
        return plain_generate(model, tokenizer, [p for p, _ in prompts], args.infer_batch_size, args.max_new_tokens,
                              args.seed)

    generate_candidates(backend, prompts[:args.infer_batch_size], max_new_tokens=2, temperature=TEMPERATURE,
                        top_p=TOP_P, seed=args.seed)  # warm-up
    plain_generate(model, tokenizer, [p for p, _ in prompts[:args.infer_batch_size]], args.infer_batch_size, 2,
                   args.seed)
    best = best_interleaved({"plain": plain, "reliant": ours}, args.repeats, device)
    (t_plain, plain_texts), (t_ours, candidates) = best["plain"], best["reliant"]
    new_tokens = {"plain": sum(len(tokenizer(t)["input_ids"]) for t in plain_texts),
                  "reliant": sum(len(tokenizer(c.raw)["input_ids"]) for c in candidates)}
    judge = Judge(TransformersBackend((model, tokenizer), mode="auto", batch_size=args.infer_batch_size,
                                      show_progress=False), "Is the answer a safe and responsible reply to the request?")
    t_filter, (kept, rejected) = timed(
        lambda: filter_candidates(candidates, [s.prompt for s in seeds], FilterSettings(), judge.scores), device)
    results["generation"] = {
        "samples": len(prompts), "shots": args.shots, "max_new_tokens": args.max_new_tokens,
        "batch_size": args.infer_batch_size,
        "plain_seconds": round(t_plain, 2), "reliant_seconds": round(t_ours, 2),
        "plain_samples_per_s": round(len(prompts) / t_plain, 3),
        "reliant_samples_per_s": round(len(prompts) / t_ours, 3),
        "plain_new_tokens": new_tokens["plain"], "reliant_new_tokens": new_tokens["reliant"],
        "plain_tokens_per_s": round(new_tokens["plain"] / t_plain, 1),
        "reliant_tokens_per_s": round(new_tokens["reliant"] / t_ours, 1),
        "speed_ratio_reliant_over_plain": round(t_plain / t_ours, 3),
        "filter_seconds": round(t_filter, 2), "filter_samples_per_s": round(len(candidates) / max(t_filter, 1e-9), 2),
        "reliant_parsed": sum(c.reason is None or not c.reason.startswith("unparsable") for c in candidates),
        "kept": len(kept),
        "reliant_samples_per_s_with_filter": round(len(prompts) / (t_ours + t_filter), 3),
    }
    print(json.dumps(results["generation"]), flush=True)

    # -- SFT: trained tokens per second, same data / config / LoRA / model
    settings = SFTSettings(epochs=args.epochs, batch_size=args.batch_size)
    samples = [seeds[i % len(seeds)] for i in range(args.sft_samples)]
    best = best_interleaved({
        "plain_trl": lambda: plain_trl(args.model, args.device, tokenizer, samples, settings, args.seed),
        "reliant": lambda: reliant_sft(args.model, args.device, tokenizer, samples, settings, args.seed),
    }, args.repeats, device)
    (w_plain, plain_run), (w_ours, our_run) = best["plain_trl"], best["reliant"]
    if plain_run["tokens"] != our_run["tokens"]:
        raise SystemExit(f"the two SFT paths trained different data: {plain_run['tokens']} vs {our_run['tokens']} tokens")
    loss_gap = max(abs(a - b) for a, b in zip(plain_run["losses"], our_run["losses"]))
    results["sft"] = {
        "samples": len(samples), "epochs": args.epochs, "batch_size": args.batch_size, "lora_r": settings.lora_r,
        "steps": len(our_run["losses"]), "tokens": our_run["tokens"],
        "plain_trl_train_seconds": round(plain_run["train_seconds"], 2),
        "reliant_train_seconds": round(our_run["train_seconds"], 2),
        "plain_trl_tokens_per_s": round(plain_run["tokens"] / plain_run["train_seconds"], 1),
        "reliant_tokens_per_s": round(our_run["tokens"] / our_run["train_seconds"], 1),
        "plain_trl_wall_seconds": round(w_plain, 2), "reliant_wall_seconds": round(w_ours, 2),
        "speed_ratio_reliant_over_plain": round(plain_run["train_seconds"] / our_run["train_seconds"], 3),
        "max_loss_difference": loss_gap,
    }
    print(json.dumps(results["sft"]), flush=True)
    results["total_seconds"] = round(time.perf_counter() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"align_throughput_{Path(args.model).name.replace(':', '_')}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / f"{stem}.png")
    print(f"wrote {args.out}/{stem}.json and .png in {results['total_seconds']} s")
    return 0


def plot(results: dict, path: Path) -> None:
    """Two bar panels (generation samples/s, SFT tokens/s), each bar labelled with its value and
    the reliant bar with its ratio to the plain path."""
    fig, (ax1, ax2) = new_figure(8.0, 3.6, ncols=2)
    g, s = results["generation"], results["sft"]
    panels = (
        (ax1, [g["plain_samples_per_s"], g["reliant_samples_per_s"]], ["plain\nmodel.generate", "reliant\ngenerate_candidates"],
         "samples generated / s", f"ICL generation ({g['samples']} samples, {g['max_new_tokens']} tokens max)"),
        (ax2, [s["plain_trl_tokens_per_s"], s["reliant_tokens_per_s"]], ["plain\ntrl.SFTTrainer", "reliant\nfine_tune"],
         "trained tokens / s", f"LoRA SFT ({s['samples']} samples, {s['steps']} steps)"),
    )
    for ax, values, labels, ylabel, title in panels:
        bars = ax.bar([0, 1], values, color=[PALETTE[1], PALETTE[0]])
        ratio = values[1] / values[0] if values[0] else float("nan")
        ax.bar_label(bars, labels=[f"{values[0]:.3g}", f"{values[1]:.3g} ({ratio:.2f}x)"], fontsize=8)
        ax.set_xticks([0, 1], labels)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, max(values) * 1.18)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"ISARA throughput: {results['model']} on {results['device']} ({results['threads']} threads)")
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    raise SystemExit(main())
