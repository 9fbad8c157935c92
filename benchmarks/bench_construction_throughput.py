"""Training throughput of ``reliant construct``'s trainer against a plain torch loop of the same
model, data, batch size and optimiser, in the same process (images per second, forward +
backward + update, evaluation excluded).

    .venv/bin/python benchmarks/bench_construction_throughput.py --images 1500 --epochs 2
    .venv/bin/python benchmarks/bench_construction_throughput.py --images 9000 --epochs 5 --device cuda --downsample 1

Writes benchmarks/results/construction_throughput/construction_throughput.json and .png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from reliant.construction.datasets import downsample, load_cifar10
from reliant.construction.methods import get_method
from reliant.construction.models import build_model
from reliant.construction.trainer import TrainSettings, channel_stats, prepare_images, resolve_device, train_method

OUT = Path(__file__).resolve().parent / "results" / "construction_throughput"


def plain_loop(x: torch.Tensor, y: torch.Tensor, settings: TrainSettings) -> float:
    torch.manual_seed(settings.seed)
    model = build_model(settings.architecture, x.shape[1], 10, width=settings.width).to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    seconds = 0.0
    for epoch in range(settings.epochs):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)).to(x.device)
        started = time.perf_counter()
        model.train()
        for start in range(0, len(y), settings.batch_size):
            index = order[start:start + settings.batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - started
    return settings.epochs * len(y) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--downsample", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--architecture", default="small_cnn")
    args = parser.parse_args()
    data = load_cifar10()
    images = downsample(data.images[:: max(1, 10000 // args.images)][: args.images], args.downsample)
    labels = data.labels[:: max(1, 10000 // args.images)][: args.images]
    settings = TrainSettings(architecture=args.architecture, epochs=args.epochs, device=args.device)
    mean, std = channel_stats(images)
    device = resolve_device(args.device)
    x, y = prepare_images(images, mean, std).to(device), torch.from_numpy(labels).to(device)
    results = {}
    for name in ("CE", "GCE", "co-teaching (2 networks)"):
        method = {"CE": "ce", "GCE": "gce", "co-teaching (2 networks)": "coteaching"}[name]
        from reliant.construction.config import MethodParams

        result = train_method(get_method(method), images, labels, 10, settings, MethodParams(forget_rate=0.2))
        results[f"reliant {name}"] = result.images_per_second
    results["plain torch loop (CE)"] = plain_loop(x, y, settings)
    ratio = results["reliant CE"] / results["plain torch loop (CE)"]
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"images": int(len(labels)), "image_side": int(images.shape[1]), "epochs": args.epochs,
              "device": str(device), "architecture": args.architecture, "images_per_second": results,
              "reliant_ce_over_plain": ratio, "torch_threads": torch.get_num_threads()}
    (OUT / "construction_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    from reliant.core.plotting import figure_png, new_figure

    fig, ax = new_figure(6, 3)
    ax.barh(list(results), list(results.values()))
    ax.set_xlabel("training images / s")
    (OUT / "construction_throughput.png").write_bytes(figure_png(fig))
    for key, value in results.items():
        print(f"{key:32s} {value:8.0f} images/s")
    print(f"reliant CE / plain loop: {ratio:.2f}")


if __name__ == "__main__":
    main()
