"""A small CIFAR network that trains to 85-90% test accuracy on a CPU in minutes.

The layout follows Jordan's airbench networks (github.com/KellerJordan/cifar10-airbench), which
reach 94% on CIFAR-10 in a few seconds on a GPU, narrowed for a CPU:

* a fixed **whitening** convolution: 2x2 filters, the eigenvectors of the covariance of the
  training images' 2x2 patches scaled by their inverse standard deviation, each with its
  negative (2 x C x 4 channels, 24 for colour images); only its bias is trained;
* three **groups** of two 3x3 convolutions: ``conv1`` -> 2x2 max-pool -> BatchNorm -> GELU ->
  ``conv2`` -> BatchNorm -> GELU, of ``width``, ``2 width`` and ``4 width`` channels;
* global max-pooling and a linear head without bias, its logits scaled by ``LOGIT_SCALE``.

That is 7 convolutions, and no residual connections. Like every model of the book it is called as
``model(image, topo=None)``: ``image`` (N, C, 32, 32) float32 in [0, 1], output logits
(N, n_classes). Module names (``whiten``, ``group1.conv1``, ``group1.act2`` ...) are what hooks
are placed on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

PATCH = 2
"""Side of the whitening filters, pixels."""
LOGIT_SCALE = 1 / 9
"""Multiplies the head's output (airbench's temperature): keeps the initial logits small."""
WHITENING_EPS = 5e-4
"""Added to the patch covariance's eigenvalues before they are inverted."""
WHITENING_IMAGES = 5000
"""Training images (a fixed random subset) whose patches the whitening filters are fitted to."""


class ConvGroup(nn.Module):
    """Two 3x3 convolutions without bias; the first is followed by 2x2 max-pooling; each by
    BatchNorm and GELU. (N, in, H, W) -> (N, out, H // 2, W // 2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = nn.GELU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.pool(self.conv1(x))))
        return self.act2(self.bn2(self.conv2(x)))


def whitening_weights(images: np.ndarray, eps: float = WHITENING_EPS) -> torch.Tensor:
    """Whitening filters of the 2x2 patches of ``images`` ((N, C, H, W) float32, standardised as
    the network sees them): (2 C 4, C, 2, 2) float32, the P = 4 C eigenvectors of the patch
    covariance divided by the square roots of their eigenvalues (plus ``eps``), then the same
    filters negated (after a GELU, a filter and its negative keep both signs of the response)."""
    patches = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if patches.ndim != 4 or min(patches.shape[2:]) < PATCH:
        raise ValueError(f"images must have shape (N, C, H, W) with H, W >= {PATCH}, got {tuple(patches.shape)}")
    channels = patches.shape[1]
    flat = patches.unfold(2, PATCH, 1).unfold(3, PATCH, 1)  # (N, C, H-1, W-1, 2, 2)
    flat = flat.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels * PATCH * PATCH).double()
    centred = flat - flat.mean(0)
    covariance = centred.T @ centred / len(centred)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = (eigenvectors.T / torch.sqrt(eigenvalues.clamp(min=0) + eps)[:, None])
    filters = filters.reshape(-1, channels, PATCH, PATCH).float()
    return torch.cat([filters, -filters])


class FastCifarNet(nn.Module):
    """Whitening convolution, GELU, three :class:`ConvGroup` of ``width``, ``2 width`` and
    ``4 width`` channels, global max-pool, linear head. ``whitening`` holds the whitening
    filters (:func:`whitening_weights` of the standardised training images); ``image_mean`` and
    ``image_std`` (one value per channel) standardise the input inside the model."""

    def __init__(self, width: int = 32, in_channels: int = 3, n_classes: int = 10,
                 whitening: torch.Tensor | None = None, image_mean: Sequence[float] | None = None,
                 image_std: Sequence[float] | None = None) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be a positive number of channels, got {width}")
        whitening_channels = 2 * in_channels * PATCH * PATCH
        if whitening is not None and tuple(whitening.shape) != (whitening_channels, in_channels, PATCH, PATCH):
            raise ValueError(f"whitening filters must have shape {(whitening_channels, in_channels, PATCH, PATCH)}, "
                             f"got {tuple(whitening.shape)}")
        mean = torch.zeros(in_channels) if image_mean is None else torch.as_tensor(image_mean, dtype=torch.float32)
        std = torch.ones(in_channels) if image_std is None else torch.as_tensor(image_std, dtype=torch.float32)
        self.register_buffer("image_mean", mean.reshape(1, in_channels, 1, 1))
        self.register_buffer("image_std", std.reshape(1, in_channels, 1, 1))
        self.whiten = nn.Conv2d(in_channels, whitening_channels, PATCH, bias=True)
        if whitening is not None:
            self.whiten.weight.data.copy_(whitening)
        self.whiten.weight.requires_grad_(False)
        self.act0 = nn.GELU()
        channels = whitening_channels
        for index, out_channels in enumerate((width, 2 * width, 4 * width), start=1):
            setattr(self, f"group{index}", ConvGroup(channels, out_channels))
            channels = out_channels
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(channels, n_classes, bias=False)

    def forward(self, image: torch.Tensor, topo: torch.Tensor | None = None) -> torch.Tensor:
        x = self.act0(self.whiten((image - self.image_mean) / self.image_std))
        for group in (self.group1, self.group2, self.group3):
            x = group(x)
        return self.fc(torch.flatten(self.pool(x), 1)) * LOGIT_SCALE


def fitted_input(images: np.ndarray) -> tuple[list[float], list[float], torch.Tensor]:
    """The part of a :class:`FastCifarNet` fitted to its training images ``images`` ((N, C, H, W)
    float32 in [0, 1]): their channel means and standard deviations (C values each), which
    standardise the input, and the whitening filters (:func:`whitening_weights`) of
    :data:`WHITENING_IMAGES` of them, standardised (drawn at random with a fixed seed, so that a
    data set stored class by class gives patches of every class). The same for every seed."""
    images = np.asarray(images, dtype=np.float32)
    mean, std = images.mean(axis=(0, 2, 3)), images.std(axis=(0, 2, 3))
    chosen = np.random.default_rng(0).choice(len(images), size=min(WHITENING_IMAGES, len(images)), replace=False)
    standardised = (images[np.sort(chosen)] - mean[None, :, None, None]) / std[None, :, None, None]
    return [float(v) for v in mean], [float(v) for v in std], whitening_weights(standardised)


def fast_cifar_net(images: np.ndarray, width: int = 32, n_classes: int = 10) -> FastCifarNet:
    """A :class:`FastCifarNet` for training images ``images`` ((N, C, H, W) float32 in [0, 1]),
    with the input :func:`fitted_input` gives. Its other weights come from torch's generator
    (seed it first)."""
    mean, std, whitening = fitted_input(images)
    return FastCifarNet(width, np.shape(images)[1], n_classes, whitening, mean, std)
