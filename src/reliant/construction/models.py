"""Image classifiers sized for a couple of CPU cores: a small CNN and a ResNet-8 (32x32 inputs).

Both expose ``features(x)`` (the penultimate representation, used for label-error detection
and HOC) and ``forward(x)`` (logits). ``head="cosine"`` replaces the last linear layer by a
normalised one (cosine similarity of unit features and unit class weights), which LDAM
needs (Cao et al. 2019 use the same ``NormedLinear`` layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHITECTURES", "CosineHead", "ResNet8", "SmallCNN", "build_model"]


class CosineHead(nn.Module):
    """``cos(f, w_c)`` for every class ``c``: the logits LDAM scales by ``s``."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, num_classes).uniform_(-1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=0)


def _head(in_features: int, num_classes: int, head: str) -> nn.Module:
    if head == "cosine":
        return CosineHead(in_features, num_classes)
    if head == "linear":
        return nn.Linear(in_features, num_classes)
    raise ValueError(f"unknown head {head!r}")


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Four 3x3 conv layers (``w-w-2w-2w`` channels, batch norm, two max-pools), global
    average pooling, then the head: about 17k weights at ``w = 16``."""

    def __init__(self, in_channels: int, num_classes: int, head: str = "linear", width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn(in_channels, width), _conv_bn(width, width), nn.MaxPool2d(2),
            _conv_bn(width, 2 * width), _conv_bn(2 * width, 2 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.feature_dim = 2 * width
        self.head = _head(self.feature_dim, num_classes, head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet8(nn.Module):
    """He et al.'s CIFAR ResNet with one basic block per stage (``w-2w-4w`` channels): 1 stem
    conv + 3 x 2 block convs + the head = 8 weight layers, about 78k weights at ``w = 16``."""

    def __init__(self, in_channels: int, num_classes: int, head: str = "linear", width: int = 16) -> None:
        super().__init__()
        self.stem = _conv_bn(in_channels, width)
        self.stages = nn.Sequential(_BasicBlock(width, width, 1), _BasicBlock(width, 2 * width, 2),
                                    _BasicBlock(2 * width, 4 * width, 2))
        self.feature_dim = 4 * width
        self.head = _head(self.feature_dim, num_classes, head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.stages(self.stem(x)), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


ARCHITECTURES = {"small_cnn": SmallCNN, "resnet8": ResNet8}


def build_model(architecture: str, in_channels: int, num_classes: int, head: str = "linear", width: int = 16) -> nn.Module:
    """``width``: channels of the first stage (the later stages double it)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}")
    return ARCHITECTURES[architecture](in_channels, num_classes, head=head, width=width)
