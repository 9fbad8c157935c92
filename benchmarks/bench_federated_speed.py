"""Speed of reliant's federated engines and inversion against plain torch loops of the same math.

Measured in one run, on the same data, model and random streams:

* **simulation rounds/s**: reliant's in-process engine (``run_local``: the registry rule, the
  per-client bookkeeping) and the Flower engine (``run_flower``: ServerApp/ClientApp on ray;
  steady rounds/s between the first and the last round, and the start-up apart) against a plain
  torch FedAvg loop written here (every client runs the same local SGD, the server averages by
  examples). The plain loop's final weights must equal the local engine's (the same math).
* **inversion iterations/s**: :func:`reliant.federated.inversion.invert_gradients` against a
  plain torch loop of the Inverting Gradients recipe (cosine + TV, Adam on the signed gradient,
  step decay, box), from the same start: the two reconstructions must be equal.

Writes benchmarks/results/federated_speed/federated_speed.json and .png. Sized for 2 CPU cores
(digits, 10 clients, CNN, 5 local steps; a few minutes on a loaded machine). Bigger:
``--dataset mnist --rounds 20 --steps 500 --flower-rounds 10``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from reliant.core.config import resolve_config
from reliant.federated.config import SimulateConfig
from reliant.federated.federation import build_federation, run_local, settings_from_config
from reliant.federated.inversion import invert_gradients, model_gradient, total_variation
from reliant.federated.models import flat_parameters, set_flat_parameters

OUT = Path(__file__).resolve().parent / "results" / "federated_speed"


def plain_fedavg(fed, rounds: int) -> torch.Tensor:
    """FedAvg in plain torch: the same local SGD and batch draws as reliant's clients."""
    s = fed.settings
    model = fed.model()
    weights = flat_parameters(model)
    for server_round in range(1, rounds + 1):
        new_weights, counts = [], []
        for client in range(s["clients"]):
            index = torch.as_tensor(fed.client_index[client])
            images, labels = fed.images[index], fed.labels[index]
            generator = fed.generator(server_round, client)
            set_flat_parameters(model, weights)
            optimizer = torch.optim.SGD(model.parameters(), lr=s["lr"])
            for _ in range(s["local_steps"]):
                pick = torch.randperm(len(labels), generator=generator)[: s["batch_size"]]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(images[pick]), labels[pick]).backward()
                optimizer.step()
            new_weights.append(flat_parameters(model) - weights)
            counts.append(float(len(labels)))
        share = torch.tensor(counts, dtype=torch.float64)
        weights = weights + (share / share.sum()) @ torch.stack(new_weights)
    return weights


def plain_inverting_gradients(model, target, shape, label: int, steps: int, lr: float, tv_weight: float,
                              seed: int) -> torch.Tensor:
    """Inverting Gradients in plain torch (one restart), the same start as reliant's."""
    generator = torch.Generator().manual_seed(seed)
    image = (0.5 + 0.5 * torch.randn((1, *shape), generator=generator, dtype=torch.float64)).clamp(0, 1)
    image.requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=[int(steps * 3 / 8), int(steps * 5 / 8), int(steps * 7 / 8)], gamma=0.1)
    labels = torch.tensor([label])
    params = list(model.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        grads = torch.autograd.grad(nn.functional.cross_entropy(model(image), labels), params, create_graph=True)
        dot = sum((g * t).sum() for g, t in zip(grads, target))
        norms = torch.sqrt(sum(g.pow(2).sum() for g in grads)) * torch.sqrt(sum(t.pow(2).sum() for t in target))
        (1 - dot / norms.clamp_min(1e-30) + tv_weight * total_variation(image)).backward()
        image.grad.sign_()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    return image.detach()[0]


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200, help="inversion iterations")
    parser.add_argument("--flower-rounds", type=int, default=4, help="0: skip the Flower engine")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = resolve_config(SimulateConfig, dataset=args.dataset, rounds=args.rounds, engine="local", seed=0)
    settings = settings_from_config(config)
    fed = build_federation(settings)
    run_local(fed, 1)  # warm-up: imports, allocator
    local_s, local_weights = best_of(args.repeats, lambda: run_local(fed, args.rounds))
    plain_s, plain_weights = best_of(args.repeats, lambda: plain_fedavg(fed, args.rounds))
    same_math = float((local_weights - plain_weights).abs().max())
    result: dict = {
        "settings": {**vars(args), "clients": settings["clients"], "model": settings["model"],
                     "local_steps": settings["local_steps"], "torch_threads": 1},
        "simulation": {"local_engine_rounds_per_s": args.rounds / local_s, "plain_torch_rounds_per_s": args.rounds / plain_s,
                       "local_vs_plain": plain_s / local_s, "max_abs_weight_difference": same_math},
    }
    print(json.dumps(result["simulation"]), flush=True)
    if args.flower_rounds:
        from reliant.federated.simulation import run_flower

        stamps: list[float] = []
        flower_settings = dict(settings, rounds=args.flower_rounds)
        start = time.perf_counter()
        run_flower(flower_settings, lambda record: stamps.append(time.perf_counter()))
        total = time.perf_counter() - start
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        result["simulation"].update({"flower_rounds_per_s_steady": steady, "flower_total_s": total,
                                     "flower_start_up_s": stamps[0] - start,
                                     "flower_vs_plain": steady / (args.rounds / plain_s)})
        print(json.dumps(result["simulation"]), flush=True)
    model = fed.model()
    victim = fed.images[:1]
    target = model_gradient(model, victim, fed.labels[:1])
    label = int(fed.labels[0])
    ours_s, ours = best_of(args.repeats, lambda: invert_gradients(model, target, fed.shape, label=label,
                                                                  steps=args.steps, seed=1).image)
    plain_inv_s, plain = best_of(args.repeats, lambda: plain_inverting_gradients(model, target, fed.shape, label,
                                                                                 args.steps, 0.1, 1e-4, seed=1))
    result["inversion"] = {"reliant_iterations_per_s": args.steps / ours_s, "plain_torch_iterations_per_s":
                           args.steps / plain_inv_s, "reliant_vs_plain": plain_inv_s / ours_s,
                           "max_abs_pixel_difference": float((ours - plain).abs().max())}
    print(json.dumps(result["inversion"]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "federated_speed.json").write_text(json.dumps(result, indent=2) + "\n")

    from reliant.core.plotting import PALETTE, new_figure

    fig, axes = new_figure(9.0, 3.2, ncols=2)
    sim = result["simulation"]
    names = ["plain torch", "reliant local"] + (["reliant Flower (steady)"] if "flower_rounds_per_s_steady" in sim else [])
    values = [sim["plain_torch_rounds_per_s"], sim["local_engine_rounds_per_s"]] + (
        [sim["flower_rounds_per_s_steady"]] if "flower_rounds_per_s_steady" in sim else [])
    axes[0].bar(names, values, color=PALETTE[: len(values)])
    axes[0].set_ylabel("rounds / s")
    axes[0].set_title(f"{settings['clients']} clients, {settings['model']}, {settings['local_steps']} local steps",
                      fontsize=9)
    inv = result["inversion"]
    axes[1].bar(["plain torch", "reliant"], [inv["plain_torch_iterations_per_s"], inv["reliant_iterations_per_s"]],
                color=PALETTE[:2])
    axes[1].set_ylabel("inversion iterations / s")
    axes[1].set_title("Inverting Gradients, one image", fontsize=9)
    fig.savefig(OUT / "federated_speed.png", dpi=120, bbox_inches="tight")


if __name__ == "__main__":
    main()
