"""Residual networks for 32x32 images (CIFAR-style), narrowed to train on a laptop CPU.

The layout is He et al.'s ResNet for CIFAR as used by P2 (ResNet-18: four stages of two basic
blocks each, a 3x3 stem without max-pool), with a ``width`` parameter for the stem's channels
(64 in the original; stages have width, 2*width, 4*width, 8*width channels). ``blocks`` sets the
number of basic blocks per stage, so ``(1, 1, 1, 1)`` is a ResNet-10 and ``(2, 2, 2, 2)`` a
ResNet-18.

Like every model of the book the network is called as ``model(image, topo=None)``: ``image``
(N, C, H, W) float32, output logits (N, n_classes). Module names follow torchvision
(``conv1``, ``bn1``, ``layer1.0.conv1`` ...) so hooks can be placed by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv-BatchNorm stages with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for small images: stem, four stages of :class:`BasicBlock`, global average pool,
    linear head. ``image_mean``/``image_std`` (one value per channel) standardise the input
    inside the model, so callers pass images in [0, 1]."""

    def __init__(self, blocks: Sequence[int] = (2, 2, 2, 2), width: int = 16, in_channels: int = 3,
                 n_classes: int = 10, image_mean: Sequence[float] | None = None,
                 image_std: Sequence[float] | None = None) -> None:
        super().__init__()
        if len(blocks) != 4 or min(blocks) < 1:
            raise ValueError(f"blocks must be four positive counts (one per stage), got {tuple(blocks)}")
        if width < 1:
            raise ValueError(f"width must be a positive number of channels, got {width}")
        mean = torch.zeros(in_channels) if image_mean is None else torch.as_tensor(image_mean, dtype=torch.float32)
        std = torch.ones(in_channels) if image_std is None else torch.as_tensor(image_std, dtype=torch.float32)
        self.register_buffer("image_mean", mean.reshape(1, in_channels, 1, 1))
        self.register_buffer("image_std", std.reshape(1, in_channels, 1, 1))
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        channels = width
        for stage, count in enumerate(blocks, start=1):
            out_channels = width * 2 ** (stage - 1)
            stride = 1 if stage == 1 else 2
            layers = []
            for index in range(count):
                layers.append(BasicBlock(channels, out_channels, stride if index == 0 else 1))
                channels = out_channels
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, image: torch.Tensor, topo: torch.Tensor | None = None) -> torch.Tensor:
        x = (image - self.image_mean) / self.image_std
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet18(width: int = 16, in_channels: int = 3, n_classes: int = 10, **normalisation) -> CifarResNet:
    """P2's ResNet-18 layout with ``width`` stem channels (64 in the original)."""
    return CifarResNet((2, 2, 2, 2), width, in_channels, n_classes, **normalisation)
