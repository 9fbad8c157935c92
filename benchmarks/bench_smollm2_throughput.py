"""SmolLM2-135M-Instruct throughput: reliant's batched paths against plain transformers, same run.

Generation: greedy, ``--new-tokens`` new tokens per prompt, at batch sizes 1, 8 and 32, through
``TransformersBackend.generate`` (reliant: length-sorted, left-padded batches) and through a
plain ``model.generate`` loop over tokenizer-padded batches (``padding_side="left"``). Both see
the same chat-templated prompts and greedy decoding, so their outputs must be identical (the
script checks it); tokens/s counts the new tokens up to each row's EOS.

Scoring: log-probabilities of answer tokens given their prompt, through
``TransformersBackend.logprobs`` (``core.models.score_tokens``) and through a plain forward loop
(right-padded batches, log_softmax, gather); tokens/s counts scored tokens.

Each measurement is the best of ``--repeats`` runs after a short warm-up (2 new tokens). Writes
``smollm2_throughput.json`` and ``.png`` to ``--out``.

    python benchmarks/bench_smollm2_throughput.py                   # CPU, 2 threads, ~3-4 min
    python benchmarks/bench_smollm2_throughput.py --device cuda --batch-sizes 1,8,32,128
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from reliant.core.llm.transformers import TransformersBackend
from reliant.core.models import load_causal_lm
from reliant.core.plotting import PALETTE, figure_png, new_figure
from reliant.core.prompts import question_prompt

QUESTIONS = [
    "What is the capital of France?", "Name a primary colour.", "What do bees make?",
    "How many legs does a spider have?", "What is water made of?", "Who wrote Hamlet?",
    "What is the largest planet?", "Why is the sky blue?", "What is 7 times 8?",
    "Name a mammal that can fly.", "What language is spoken in Brazil?", "What is photosynthesis?",
    "How many days are in a leap year?", "What is the boiling point of water?", "Name a prime number.",
    "What is the opposite of hot?", "Which ocean is the largest?", "What gas do plants take in?",
    "What is the tallest mountain?", "How many continents are there?", "What is a noun?",
    "Who painted the Mona Lisa?", "What is the freezing point of water?", "Name a string instrument.",
    "What does a thermometer measure?", "What is the square root of 81?", "What is the sun?",
    "Name a programming language.", "What is gravity?", "What colour is a ripe banana?",
    "What is the chemical symbol for gold?", "How many hours are in a day?",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompts-at-batch-1", type=int, default=4, help="prompts timed one at a time")
    parser.add_argument("--score-pairs", type=int, default=64)
    parser.add_argument("--score-batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path, alternating (best kept)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smollm2_throughput"))
    return parser.parse_args(argv)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_times_interleaved(a, b, repeats: int, device: torch.device, warmup_a=None, warmup_b=None):
    """Best-of-``repeats`` times of ``a`` and ``b``, run alternately (a, b, a, b, ...), so a
    drift in machine load or allocator state falls on both paths alike rather than on
    whichever runs second."""
    (warmup_a or a)()
    (warmup_b or b)()
    best_a = best_b = float("inf")
    result_a = result_b = None
    for _ in range(repeats):
        for which in ("a", "b"):
            fn = a if which == "a" else b
            sync(device)
            start = time.perf_counter()
            result = fn()
            sync(device)
            elapsed = time.perf_counter() - start
            if which == "a":
                best_a, result_a = min(best_a, elapsed), result
            else:
                best_b, result_b = min(best_b, elapsed), result
    return (best_a, result_a), (best_b, result_b)


@torch.inference_mode()
def plain_generate(model, tokenizer, prompts: list[str], batch_size: int, new_tokens: int) -> list[list[int]]:
    """The textbook loop: tokenizer left-padding, model.generate, greedy."""
    tokenizer.padding_side = "left"
    out: list[list[int]] = []
    eos = tokenizer.eos_token_id
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True).to(model.device)
        ids = model.generate(**batch, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for row in ids[:, batch["input_ids"].shape[1] :].tolist():
            out.append(row[: row.index(eos)] if eos in row else row)
    return out


@torch.inference_mode()
def plain_score(model, tokenizer, prompts: list[str], answers: list[str], batch_size: int) -> int:
    """A plain forward loop: right-padded prompt+answer, log_softmax, gather answer tokens."""
    tokenizer.padding_side = "right"
    scored = 0
    for start in range(0, len(prompts), batch_size):
        p, a = prompts[start : start + batch_size], answers[start : start + batch_size]
        n_prompt = [len(tokenizer(x)["input_ids"]) for x in p]
        batch = tokenizer([x + y for x, y in zip(p, a)], return_tensors="pt", padding=True).to(model.device)
        logp = torch.log_softmax(model(**batch).logits[:, :-1].float(), dim=-1)
        picked = logp.gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
        for row, k in enumerate(n_prompt):
            n = int(batch["attention_mask"][row].sum())
            scored += int(picked[row, k - 1 : n - 1].numel())
    return scored


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    started = time.perf_counter()
    model, tokenizer = load_causal_lm("smollm2", device=device)
    load_s = time.perf_counter() - started
    backend = TransformersBackend((model, tokenizer), mode="completions", show_progress=False)
    prompts_all = [question_prompt(tokenizer, q) for q in QUESTIONS]
    results: dict = {
        "model": "smollm2 (SmolLM2-135M-Instruct, float32 on CPU)" if device.type == "cpu" else f"smollm2 on {device}",
        "device": str(device), "threads": args.threads, "torch": torch.__version__, "python": sys.version.split()[0],
        "platform": platform.platform(), "cpus": os.cpu_count(), "load_seconds": round(load_s, 2),
        "new_tokens": args.new_tokens, "generation": [], "scoring": {},
    }
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        n = args.prompts_at_batch_1 if bs == 1 else bs
        prompts = [prompts_all[i % len(prompts_all)] for i in range(n)]
        backend.batch_size = bs
        (t_plain, plain_ids), (t_ours, ours) = best_times_interleaved(
            lambda: plain_generate(model, tokenizer, prompts, bs, args.new_tokens),
            lambda: backend.generate(prompts, max_new_tokens=args.new_tokens), args.repeats, device,
            warmup_a=lambda: plain_generate(model, tokenizer, prompts[:bs], bs, 2),
            warmup_b=lambda: backend.generate(prompts[:bs], max_new_tokens=2),
        )
        tokens = sum(len(ids) for ids in plain_ids)
        plain_texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in plain_ids]
        same = sum(a == b[0] for a, b in zip(plain_texts, ours))
        row = {"batch_size": bs, "prompts": n, "new_tokens": tokens,
               "plain_tokens_per_s": round(tokens / t_plain, 2), "reliant_tokens_per_s": round(tokens / t_ours, 2),
               "ratio": round(t_plain / t_ours, 3), "identical_outputs": f"{same}/{n}",
               "plain_seconds": round(t_plain, 2), "reliant_seconds": round(t_ours, 2)}
        results["generation"].append(row)
        print(json.dumps(row), flush=True)
    answers = [f"The answer to '{q}' is short." for q in QUESTIONS]
    pairs = [(prompts_all[i % len(QUESTIONS)], answers[i % len(QUESTIONS)]) for i in range(args.score_pairs)]
    sp, sa = [p for p, _ in pairs], [a for _, a in pairs]
    backend.batch_size = args.score_batch_size
    (t_plain, scored), (t_ours, logps) = best_times_interleaved(
        lambda: plain_score(model, tokenizer, sp, sa, args.score_batch_size),
        lambda: backend.logprobs(sp, sa), args.repeats, device,
    )
    ours_tokens = sum(len(x) for x in logps)
    results["scoring"] = {"pairs": len(pairs), "batch_size": args.score_batch_size, "scored_tokens": ours_tokens,
                          "plain_scored_tokens": scored,
                          "plain_tokens_per_s": round(scored / t_plain, 1), "reliant_tokens_per_s": round(ours_tokens / t_ours, 1),
                          "ratio": round((ours_tokens / t_ours) / (scored / t_plain), 3)}
    print(json.dumps(results["scoring"]), flush=True)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "smollm2_throughput.json").write_text(json.dumps(results, indent=1))
    fig, (ax1, ax2) = new_figure(8.0, 3.4, ncols=2)
    gen = results["generation"]
    xs = range(len(gen))
    ax1.bar([x - 0.2 for x in xs], [g["plain_tokens_per_s"] for g in gen], 0.4, label="plain model.generate", color=PALETTE[1])
    ax1.bar([x + 0.2 for x in xs], [g["reliant_tokens_per_s"] for g in gen], 0.4, label="reliant backend", color=PALETTE[0])
    ax1.set_xticks(list(xs), [str(g["batch_size"]) for g in gen])
    ax1.set_xlabel("batch size")
    ax1.set_ylabel("new tokens / s")
    ax1.set_title(f"greedy generation ({args.new_tokens} new tokens)")
    ax1.legend(fontsize=8)
    s = results["scoring"]
    ax2.bar([0, 1], [s["plain_tokens_per_s"], s["reliant_tokens_per_s"]], color=[PALETTE[1], PALETTE[0]])
    ax2.set_xticks([0, 1], ["plain forward", "reliant score_tokens"])
    ax2.set_ylabel("scored tokens / s")
    ax2.set_title(f"scoring (batch {s['batch_size']})")
    fig.suptitle(f"SmolLM2-135M-Instruct on {device} ({args.threads} threads)")
    fig.tight_layout()
    (args.out / "smollm2_throughput.png").write_bytes(figure_png(fig))
    print(f"wrote {args.out}/smollm2_throughput.json and .png in {results['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
