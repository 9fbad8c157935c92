"""Steady-state cost of one unlearning step: reliant's trainer against a plain PyTorch loop.

For every registered method this benchmark runs, in one process and on the same model,
optimizer set-up and batches,

* reliant's trainer (:func:`reliant.unlearning.trainer.unlearn_model`, what ``reliant unlearn
  run`` and :func:`reliant.unlearning.api.unlearn` call), timed from one step's end to the next
  through its ``on_step`` hook, so set-up (reference log-probabilities, a frozen reference copy,
  accelerate, the optimizer) is never divided into the per-step figure;
* a hand-written plain PyTorch loop computing the same loss on the same batches: batches
  tokenised and padded before the loop, the same forward passes and the same loss maths from
  :mod:`reliant.unlearning.losses`, ``backward``, gradient clipping, AdamW and the linear
  schedule, nothing else. Both start from the same weights, so their per-step losses must agree
  (``loss_max_abs_diff``): that is the check that the two compute the same thing;
* a plain cross-entropy step (``model(**batch, labels=labels).loss``) on the forget batch, the
  cost of one forward/backward pass, the unit every method's step is also reported in.

Each measurement is repeated ``--rounds`` times, alternating which of trainer and plain loop
runs first (ABBA), and the first ``--warmup`` intervals of every run are dropped; the figures
are medians over the rest.
The target of issue 16 is ``trainer / plain <= 1.05`` for every method.

    python benchmarks/bench_unlearn_step.py --out benchmarks/results/unlearn_step

``--model`` takes any causal LM id or path (default: the built-in tiny LM); ``--device cuda``
runs on a GPU. ``--mfu`` instead times a torch.compile'd bf16 step of a randomly initialised
~1B Llama (plain cross-entropy and FLAT through the trainer) and reports model FLOPs
utilisation against ``--peak-tflops`` (GPU only; ``--mfu-size small`` is a CPU smoke test).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

TARGET_RATIO = 1.05


def registered_methods() -> list[str]:
    from reliant.unlearning.methods import available_methods

    return available_methods()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="causal LM id/path, or 'tiny'")
    parser.add_argument("--methods", default="all", help="comma list of registered methods, or 'all'")
    parser.add_argument("--steps", type=int, default=16, help="optimizer steps per timed run")
    parser.add_argument("--warmup", type=int, default=3, help="step intervals dropped at the start of every run")
    parser.add_argument("--rounds", type=int, default=3, help="trainer/plain-loop alternations per method")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mfu", action="store_true", help="time a compiled bf16 ~1B Llama step instead (GPU)")
    parser.add_argument("--mfu-size", choices=("1b", "small"), default="1b")
    parser.add_argument("--mfu-batch-size", type=int, default=16)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the device's dense bf16 peak (H100/H200: 989)")
    parser.add_argument("--out", default="benchmarks/results/unlearn_step")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------- the plain loop


def forward(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def split_halves(model, both, n_first):
    """Logits and labels of the two halves of one concatenated batch, each cut to its width."""
    logits = forward(model, both)
    halves = []
    for rows in (slice(0, n_first), slice(n_first, None)):
        width = int(both["attention_mask"][rows].sum(-1).max())
        halves.append((logits[rows, :width], both["labels"][rows, :width]))
    return halves


def summed_logps(logits, labels):
    from reliant.unlearning import losses

    token_logps, mask = losses.answer_token_logprobs(logits, labels)
    return (token_logps * mask).sum(-1), mask.sum(-1)


class PlainMethod:
    """One method's loss written out by hand over pre-built batches (no reliant classes)."""

    def __init__(self, name, params, model, reference, seed):
        self.name, self.p, self.model, self.ref, self.seed = name, params, model, reference, seed
        self.dual = float(getattr(params, "retain_weight", 1.0))

    def retain_term(self, b):
        from reliant.unlearning import losses

        if self.name in ("gd", "npo", "simnpo", "idkdpo", "wga", "satimp"):
            return self.p.retain_weight * losses.token_mean_nll(forward(self.model, b["retain"]), b["retain"]["labels"])
        return 0.0

    def loss(self, b):
        import torch

        from reliant.unlearning import losses

        m, p, name, ref = self.model, self.p, self.name, self.ref
        if name == "retain_ft":
            return losses.sequence_nll(forward(m, b["forget"]), b["forget"]["labels"]).mean()
        if name in ("flat", "idkdpo", "idkdpo_forget"):
            (fl, fy), (tl, ty) = split_halves(m, b["both"], len(b["indices"]))
            if name == "flat":
                return losses.flat_loss(tl, ty, fl, fy, divergence=p.divergence, reduction=p.reduction)
            lose, _ = summed_logps(fl, fy)
            win, _ = summed_logps(tl, ty)
            dpo = losses.dpo_loss(win, lose, ref["template_logps"][b["indices"]], ref["forget_logps"][b["indices"]], beta=p.beta)
            return p.forget_weight * dpo + self.retain_term(b)
        f = b["forget"]
        if name == "rmu":
            forward(m, f)
            forget_term = losses.rmu_activation_loss(ref["policy_hook"].output, ref["control"], f["labels"] != -100)
            forward(m, b["retain"])
            retain_acts = ref["policy_hook"].output
            with torch.no_grad():
                forward(ref["model"], b["retain"])
            retain_term = losses.rmu_activation_loss(retain_acts, ref["reference_hook"].output, b["retain"]["labels"] != -100)
            return p.forget_weight * forget_term + p.retain_weight * retain_term
        logits = forward(m, f)
        if name in ("ga", "gd", "ga_kl"):
            forget_term = losses.ga_loss(logits, f["labels"])
        elif name in ("npo", "npo_forget"):
            forget_term = losses.npo_loss(summed_logps(logits, f["labels"])[0], ref["forget_logps"][b["indices"]], beta=p.beta)
        elif name in ("simnpo", "simnpo_forget"):
            forget_term = losses.simnpo_loss(*summed_logps(logits, f["labels"]), beta=p.beta, delta=p.delta)
        elif name == "wga":
            forget_term = losses.wga_loss(logits, f["labels"], beta=p.beta)
        elif name == "satimp":
            forget_term = losses.satimp_loss(logits, f["labels"], beta1=p.beta1, beta2=p.beta2)
        elif name == "ceu":
            forget_term = losses.ceu_loss(logits, f["labels"], ignore_first_n_answer_tokens=p.ignore_first)
        elif name == "undial":
            with torch.no_grad():
                teacher = forward(ref["model"], f)
            forget_term = losses.undial_loss(logits, teacher, f["labels"], beta=p.beta)
        elif name == "pdu":
            forget_term = losses.pdu_forget_loss(logits, f["labels"])
            self.slack = losses.token_mean_nll(forward(m, b["retain"]), b["retain"]["labels"]) - ref["eps"]
            return p.forget_weight * forget_term + self.dual * self.slack
        else:
            raise SystemExit(f"no plain loop written for method {name!r}: add it to PlainMethod.loss")
        if name == "ga_kl":
            with torch.no_grad():
                ref_logits = forward(ref["model"], b["retain"])
            kl = losses.kl_retain_loss(forward(m, b["retain"]), ref_logits)
            return p.forget_weight * forget_term + p.retain_weight * kl
        return p.forget_weight * forget_term + self.retain_term(b)

    def after_update(self, epoch):
        if self.name == "pdu" and epoch >= self.p.dual_warmup_epochs:
            self.dual = max(0.0, self.dual + self.p.dual_step * float(self.slack.detach()))


def pad(tokenizer, pairs, max_length, device):
    from reliant.core.prompts import encode_prompt_answer, pad_encoded, pad_token_id, question_prompt

    encoded = [encode_prompt_answer(tokenizer, question_prompt(tokenizer, q), a, add_eos=True) for q, a in pairs]
    return {k: v.to(device) for k, v in pad_encoded(encoded, pad_token_id(tokenizer), max_length=max_length).items()}


def plan_batches(tokenizer, data, settings, method_cls, device):
    """The trainer's batches, in its order, tokenised up front: the shuffled indices of the
    same seeded loader prepared by accelerate (which reorders a plain RandomSampler), the same
    retain draws (``random.Random(seed + 1)``)."""
    import torch
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from accelerate.utils import set_seed

    main = data.retain if method_cls.trains_on == "retain" else data.forget
    set_seed(settings.seed)  # as the trainer does before it builds its loader
    generator = torch.Generator().manual_seed(settings.seed)
    loader = Accelerator().prepare(DataLoader(range(len(main)), batch_size=settings.batch_size, shuffle=True, generator=generator))
    retain_rng = random.Random(settings.seed + 1)
    plan = []
    for epoch in range(settings.epochs):
        for index_batch in loader:
            idx = index_batch.tolist()
            batch = {"indices": torch.tensor(idx), "epoch": epoch, "forget": pad(tokenizer, [main[i] for i in idx], settings.max_length, device)}
            if "template" in method_cls.needs:
                both = [data.forget[i] for i in idx] + [(data.forget[i][0], data.templates[i]) for i in idx]
                batch["both"] = pad(tokenizer, both, settings.max_length, device)
            if "retain" in method_cls.needs and method_cls.trains_on == "forget":
                drawn = [data.retain[retain_rng.randrange(len(data.retain))] for _ in idx]
                batch["retain"] = pad(tokenizer, drawn, settings.max_length, device)
            plan.append(batch)
    return plan


def references(name, params, model, tokenizer, data, settings, device):
    """What a method needs from the original model, computed before the loop."""
    import torch

    from reliant.unlearning import losses
    from reliant.unlearning.methods.rmu import _Capture, decoder_layers

    ref = {}

    @torch.no_grad()
    def logps(pairs):
        model.eval()
        out = []
        for start in range(0, len(pairs), settings.batch_size):
            batch = pad(tokenizer, pairs[start : start + settings.batch_size], settings.max_length, device)
            out.append(summed_logps(forward(model, batch), batch["labels"])[0])
        return torch.cat(out)

    if name in ("npo", "npo_forget", "idkdpo", "idkdpo_forget"):
        ref["forget_logps"] = logps(data.forget)
    if name in ("idkdpo", "idkdpo_forget"):
        ref["template_logps"] = logps([(q, t) for (q, _), t in zip(data.forget, data.templates)])
    if name in ("ga_kl", "undial", "rmu"):
        ref["model"] = copy.deepcopy(model).eval().requires_grad_(False)
    if name == "rmu":
        layers = decoder_layers(model)
        layer = params.layer if params.layer < len(layers) else len(layers) // 2
        ref["policy_hook"] = _Capture(layers[layer])
        ref["reference_hook"] = _Capture(decoder_layers(ref["model"])[layer])
        direction = torch.rand(1, 1, model.config.hidden_size, generator=torch.Generator().manual_seed(settings.seed))
        ref["control"] = (direction / direction.norm() * params.steering).to(device)
    if name == "pdu":
        with torch.no_grad():
            model.eval()
            total, count = 0.0, 0
            for s in range(0, len(data.retain), settings.batch_size):
                b = pad(tokenizer, data.retain[s : s + settings.batch_size], settings.max_length, device)
                token_logps, mask = losses.answer_token_logprobs(forward(model, b), b["labels"])
                total += float(-(token_logps * mask).sum())
                count += int(mask.sum())
        ref["eps"] = params.retain_eps if params.retain_eps is not None else total / count
    model.train()
    return ref


def optimizer_and_schedule(model, settings, n_steps):
    """AdamW with weight decay off for norms and biases and a linear warm-up/decay: the
    optimizer reliant's trainer builds."""
    import torch
    from transformers import get_scheduler

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr
    )
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * n_steps), num_training_steps=n_steps)
    return optimizer, scheduler


def plain_loop(step_loss, after_update, model, settings, plan):
    """Plain PyTorch: loss, backward, clip, step. Returns (end-of-step times, losses)."""
    import torch

    optimizer, scheduler = optimizer_and_schedule(model, settings, len(plan))
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    stamps, values = [], []
    for batch in plan:
        loss = step_loss(batch)
        loss.backward()
        if settings.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        after_update(batch["epoch"])
        values.append(loss.item())
        stamps.append(time.perf_counter())
    return stamps, values


def steady(stamps, warmup):
    """Step intervals after the first ``warmup`` ones."""
    intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    return intervals[warmup:]


# --------------------------------------------------------------------------- one method


def bench_data(args, method_cls):
    from reliant.core.builtin_data import builtin_qa, split_forget_retain
    from reliant.unlearning.api import load_templates
    from reliant.unlearning.trainer import UnlearnData, pair_templates

    records = builtin_qa(n_people=100, seed=0)
    forget, retain = split_forget_retain(records, 0.2)
    forget = [(r["question"], r["answer"]) for r in forget][: args.batch_size * args.steps]
    retain = [(r["question"], r["answer"]) for r in retain]
    if method_cls.trains_on == "retain":
        retain = retain[: args.batch_size * args.steps]
    return UnlearnData(forget=forget, templates=pair_templates(len(forget), load_templates(), 0), retain=retain)


def worker(args: argparse.Namespace) -> dict:
    import torch

    from reliant.core.models import load_causal_lm, quiet_transformers
    from reliant.unlearning.methods import get_method
    from reliant.unlearning.trainer import UnlearnSettings, unlearn_model

    quiet_transformers()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    method_cls = get_method(args.worker)
    model, tokenizer = load_causal_lm(args.model, device=args.device)
    initial = copy.deepcopy(model.state_dict())
    data = bench_data(args, method_cls)
    # Templates drawn once, so the plain loop sees exactly the trainer's pairs.
    settings = UnlearnSettings(method=args.worker, epochs=1, lr=1e-5, batch_size=args.batch_size, template_draw="once", seed=0)
    params = method_cls.Params()
    plan = plan_batches(tokenizer, data, settings, method_cls, args.device)

    trainer_times, plain_times, ce_times, diffs = [], [], [], []
    trainer_losses, plain_losses = [], []

    def run_trainer():
        model.load_state_dict(initial)
        stamps: list[float] = []
        result = unlearn_model(model, tokenizer, data, settings, on_step=lambda step, record: stamps.append(time.perf_counter()))
        trainer_times.extend(steady(stamps, args.warmup))
        trainer_losses[:] = [h["loss"] for h in result.history]

    def run_plain():
        model.load_state_dict(initial)
        ref = references(args.worker, params, model, tokenizer, data, settings, args.device)
        plain = PlainMethod(args.worker, params, model, ref, settings.seed)
        stamps, values = plain_loop(plain.loss, plain.after_update, model, settings, plan)
        for hook in ("policy_hook", "reference_hook"):
            if hook in ref:
                ref[hook].handle.remove()
        plain_times.extend(steady(stamps, args.warmup))
        plain_losses[:] = values

    for round_index in range(args.rounds):
        # ABBA: which loop runs first alternates, so neither always meets the warmer (or colder)
        # caches and allocator.
        for run in ((run_trainer, run_plain) if round_index % 2 == 0 else (run_plain, run_trainer)):
            run()
        diffs.append(max(abs(a - b) for a, b in zip(trainer_losses, plain_losses)))

        model.load_state_dict(initial)

        def ce_step(batch):
            f = batch["forget"]
            return model(input_ids=f["input_ids"], attention_mask=f["attention_mask"], labels=f["labels"]).loss

        stamps, _ = plain_loop(ce_step, lambda epoch: None, model, settings, plan)
        ce_times += steady(stamps, args.warmup)

    trainer_s, plain_s, ce_s = (statistics.median(t) for t in (trainer_times, plain_times, ce_times))
    return {
        "method": args.worker,
        "label": method_cls.label,
        "needs": " + ".join(["forget", *sorted(method_cls.needs)]),
        "trainer_ms_per_step": trainer_s * 1000,
        "plain_ms_per_step": plain_s * 1000,
        "plain_ce_ms_per_step": ce_s * 1000,
        "trainer_vs_plain": trainer_s / plain_s,
        "trainer_vs_plain_ce": trainer_s / ce_s,
        "plain_vs_plain_ce": plain_s / ce_s,
        "timed_intervals": len(trainer_times),
        "loss_max_abs_diff": max(diffs),
        "steps_per_run": len(plan),
    }


# --------------------------------------------------------------------------- MFU (GPU)


def mfu_worker(args: argparse.Namespace) -> dict:
    """A compiled bf16 step of a randomly initialised Llama: plain cross-entropy, and FLAT
    through reliant's trainer (``compile=True``; no reference model is held)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reliant.core.models import load_causal_lm
    from reliant.unlearning.methods import get_method
    from reliant.unlearning.trainer import UnlearnSettings, unlearn_model

    _, tokenizer = load_causal_lm(args.model, device="cpu")
    if args.mfu_size == "1b":  # TinyLlama-1.1B's shape
        config = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                             num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)
    else:
        config = LlamaConfig(vocab_size=max(len(tokenizer), 2048), hidden_size=64, intermediate_size=128,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = LlamaForCausalLM(config).to(device=args.device, dtype=dtype)
    n_params = sum(p.numel() for p in model.parameters())
    args.batch_size = args.mfu_batch_size
    data = bench_data(args, get_method("flat"))
    settings = UnlearnSettings(method="flat", epochs=1, lr=1e-5, batch_size=args.batch_size, template_draw="once",
                               seed=0, compile=True)
    plan = plan_batches(tokenizer, data, settings, get_method("flat"), args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    stamps: list[float] = []
    unlearn_model(model, tokenizer, data, settings, on_step=lambda step, record: (sync(), stamps.append(time.perf_counter())))
    flat_s = statistics.median(steady(stamps, args.warmup))
    compiled = torch.compile(model)

    def ce_step(batch):
        f = batch["forget"]
        return compiled(input_ids=f["input_ids"], attention_mask=f["attention_mask"], labels=f["labels"]).loss

    stamps, _ = plain_loop(ce_step, lambda epoch: None, model, settings, plan)
    ce_s = statistics.median(steady(stamps, args.warmup))
    # Model FLOPs of a training step: 6 per parameter per token processed (forward + backward).
    flat_tokens = statistics.mean(int(b["both"]["input_ids"].numel()) for b in plan)
    ce_tokens = statistics.mean(int(b["forget"]["input_ids"].numel()) for b in plan)
    peak = args.peak_tflops * 1e12
    return {
        "model": f"random Llama ({args.mfu_size}), {n_params / 1e9:.2f}B parameters, {dtype}",
        "device": args.device,
        "batch_size": args.batch_size,
        "peak_tflops": args.peak_tflops,
        "flat_ms_per_step": flat_s * 1000,
        "flat_mfu": 6 * n_params * flat_tokens / flat_s / peak,
        "plain_ce_ms_per_step": ce_s * 1000,
        "plain_ce_mfu": 6 * n_params * ce_tokens / ce_s / peak,
    }


# --------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.model == "tiny":
        from reliant.core.tiny_lm import default_tiny_lm

        args.model = str(default_tiny_lm())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = registered_methods() if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = []
    # All methods in this one process, one after the other: a method's trainer run, plain loop
    # and cross-entropy loop alternate inside its own measurement, so they share conditions.
    for method in ["mfu"] if args.mfu else methods:
        started = time.perf_counter()
        args.worker = method
        row = mfu_worker(args) if args.mfu else worker(args)
        rows.append(row)
        if args.mfu:
            print(json.dumps(row, indent=2))
        else:
            print(f"{method:14s} trainer {row['trainer_ms_per_step']:7.1f} ms  plain {row['plain_ms_per_step']:7.1f} ms  "
                  f"x{row['trainer_vs_plain']:.3f}  ({row['trainer_vs_plain_ce']:.2f} CE steps)  "
                  f"|dloss| {row['loss_max_abs_diff']:.1e}  [{time.perf_counter() - started:.0f} s]", flush=True)
    report = {
        "benchmark": "unlearn_step_mfu" if args.mfu else "unlearn_step",
        "model": args.model if not args.model.startswith(str(Path.home())) else "built-in tiny LM (default)",
        "device": args.device,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_at_end": os.getloadavg(),
        "steps_per_run": args.steps,
        "rounds": args.rounds,
        "warmup_intervals_dropped": args.warmup,
        "batch_size": args.batch_size,
        "target_trainer_vs_plain": TARGET_RATIO,
        "rows": rows,
    }
    if not args.mfu:
        report["all_within_target"] = all(r["trainer_vs_plain"] <= TARGET_RATIO for r in rows)
        report["worst"] = max(rows, key=lambda r: r["trainer_vs_plain"])["method"]
    name = "unlearn_step_mfu" if args.mfu else "unlearn_step"
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    if not args.mfu:
        plot(rows, out / "unlearn_step.png")
    print(f"wrote {out / (name + '.json')}" + ("" if args.mfu else " and unlearn_step.png"))


def plot(rows: list[dict], path: Path) -> None:
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, axes = new_figure(10.0, 0.3 * len(rows) + 1.6, ncols=2)
    names = [r["method"] for r in rows]
    ratios = [r["trainer_vs_plain"] for r in rows]
    axes[0].barh(names, ratios, color=[PALETTE[0] if x <= TARGET_RATIO else PALETTE[3] for x in ratios])
    axes[0].axvline(1.0, color="black", lw=0.8)
    axes[0].axvline(TARGET_RATIO, color="black", lw=0.8, ls="--")
    axes[0].set_xlim(min(0.9, min(ratios) - 0.02), max(1.1, max(ratios) + 0.02))
    axes[0].set_xlabel("reliant trainer / plain PyTorch loop, same loss (dashed: 1.05 target)")
    axes[0].invert_yaxis()
    axes[1].barh(names, [r["trainer_vs_plain_ce"] for r in rows], color="#9a9a9a")
    axes[1].axvline(1.0, color="black", lw=0.8, ls="--")
    axes[1].set_xlabel("step time in plain cross-entropy steps")
    axes[1].invert_yaxis()
    fig.suptitle("Steady-state time per unlearning step (median; set-up excluded)", fontsize=10)
    path.write_bytes(figure_png(fig))


if __name__ == "__main__":
    main()
