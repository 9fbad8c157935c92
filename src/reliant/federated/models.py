"""The client models: an MLP, a small CNN and a small ResNet-style net.

None has batch normalisation: the attack assumes no batch statistics (CGI's threat model),
and a model without buffers is exactly its parameter vector, which is what clients send.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MODELS", "make_model", "flat_parameters", "set_flat_parameters"]

MODELS: tuple[str, ...] = ("mlp", "cnn", "resnet")


class MLP(nn.Module):
    def __init__(self, shape: tuple[int, int, int], num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        c, h, w = shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two 3x3 convolutions (the second with stride 2) and a linear head."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 16) -> None:
        super().__init__()
        c, h, w = shape
        self.features = nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.LeakyReLU(0.2),
                                      nn.Conv2d(width, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2))
        self.head = nn.Linear(width * ((h + 1) // 2) * ((w + 1) // 2), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class _Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class SmallResNet(nn.Module):
    """A stem convolution, two residual blocks (He et al. 2016, without batch norm), pooling and a head."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(shape[0], width, 3, padding=1)
        self.blocks = nn.Sequential(_Block(width), _Block(width))
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.blocks(torch.relu(self.stem(x)))).flatten(1))


def make_model(name: str, shape: tuple[int, int, int], num_classes: int, seed: int) -> nn.Module:
    """A freshly initialised model, the same for the same seed."""
    builders = {"mlp": MLP, "cnn": SmallCNN, "resnet": SmallResNet}
    if name not in builders:
        raise ValueError(f"unknown model {name!r} (known: {', '.join(MODELS)})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = builders[name](tuple(shape), num_classes)
    return model.double()


def flat_parameters(model: nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def set_flat_parameters(model: nn.Module, vector: torch.Tensor) -> nn.Module:
    # a copy: vector_to_parameters makes the parameters views of the vector, and an optimiser
    # step would then write into the caller's weights
    torch.nn.utils.vector_to_parameters(vector.detach().to(next(model.parameters()).dtype).clone(), model.parameters())
    return model
