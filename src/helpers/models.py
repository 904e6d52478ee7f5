"""The CNNs of chapter 1 (P1): image branch, topological branches, fusion and control models.

Every model is called as ``model(image, topo)``: ``image`` has shape (N, C, H, W) and ``topo``
the shape of the topological features it consumes ((N, D, L) curves or (N, D, R, R) persistence
images); models that ignore an input accept ``None`` for it. Outputs are logits (N, n_classes).

Architecture after P1's published code (TensorFlow, re-written here in PyTorch):

* image branch: 3x3 convs 16-32 (average pool) -64 (max pool, dropout .3) -128 (max pool,
  dropout .3) -256 (global max pool); the last pool is global so that any input size works
  (for 28x28 inputs it equals P1's max pool + flatten: the map is already 1x1 after it);
* curve branch: dilated causal 1-D CNN, 8 layers of 20 filters with dilations 1,2,4,8,1,2,4,8,
  then a 1x1 convolution to 10 channels, flattened;
* persistence-image branch: two 3x3 conv + max-pool stages (16, 32 channels), flattened;
* head: concatenation, dense 512 - 256 - n_classes.
"""

from __future__ import annotations

import torch
from torch import nn

MODEL_KINDS = {
    "cnn": "image CNN (P1's 'CNN')",
    "cnn_bc": "CNN + Betti-curve branch (P1's 'CNN-BC', the main model)",
    "cnn_pi": "CNN + persistence-image branch (P1's 'CNN-PI')",
    "cnn_pl": "CNN + persistence-landscape branch (P1's 'CNN-PL')",
    "wide_cnn": "image CNN widened to the parameter count of CNN-BC (capacity control)",
    "topo_bc": "Betti-curve branch alone (no image)",
}
TOPO_INPUT = {"cnn": None, "wide_cnn": None, "cnn_bc": "betti_curves", "topo_bc": "betti_curves",
              "cnn_pi": "persistence_images", "cnn_pl": "landscapes"}
IMAGE_CHANNELS = (16, 32, 64, 128, 256)


class ImageBranch(nn.Module):
    """P1's image CNN without its head: (N, C, H, W) -> (N, 256 * width).

    The five convolutions are ``conv1`` ... ``conv5`` and their activations ``relu1`` ...
    ``relu5``; P1's Grad-CAM layer, the 4th convolution with its ReLU (a Keras ``Conv2D`` with
    ``activation="relu"``), is ``relu4``.
    """

    def __init__(self, in_channels: int, width: float = 1.0) -> None:
        super().__init__()
        c = [max(1, round(n * width)) for n in IMAGE_CHANNELS]
        self.conv1 = nn.Conv2d(in_channels, c[0], 3, padding=1)
        self.conv2 = nn.Conv2d(c[0], c[1], 3, padding=1)
        self.conv3 = nn.Conv2d(c[1], c[2], 3, padding=1)
        self.conv4 = nn.Conv2d(c[2], c[3], 3, padding=1)
        self.conv5 = nn.Conv2d(c[3], c[4], 3, padding=1)
        self.relu1, self.relu2, self.relu3, self.relu4, self.relu5 = (nn.ReLU() for _ in range(5))
        self.out_features = c[4]
        self.body = nn.Sequential(
            self.conv1, self.relu1, self.conv2, self.relu2, nn.AvgPool2d(2),
            self.conv3, self.relu3, nn.MaxPool2d(2), nn.Dropout(0.3),
            self.conv4, self.relu4, nn.MaxPool2d(2), nn.Dropout(0.3),
            self.conv5, self.relu5, nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image)


class CausalConv1d(nn.Conv1d):
    """1-D convolution padded on the left only, so output t sees inputs <= t; length kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left_padding, 0)))


class CurveBranch(nn.Module):
    """Dilated causal 1-D CNN over curves (N, D, L) -> (N, out_channels * L).

    ``last_conv`` (the 1x1 convolution) is where the chapter 2 1-D Grad-CAM looks.
    """

    def __init__(self, in_channels: int, length: int, filters: int = 20,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8), kernel_size: int = 2,
                 out_channels: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for dilation in dilations:
            layers += [CausalConv1d(channels, filters, kernel_size, dilation), nn.ReLU()]
            channels = filters
        self.last_conv = nn.Conv1d(filters, out_channels, 1)
        self.body = nn.Sequential(*layers, self.last_conv, nn.ReLU(), nn.Flatten())
        self.out_features = out_channels * length

    def forward(self, curves: torch.Tensor) -> torch.Tensor:
        return self.body(curves)


class PersistenceImageBranch(nn.Module):
    """Small 2-D CNN over persistence images (N, D, R, R) -> (N, 32 * (R // 4) ** 2)."""

    def __init__(self, in_channels: int, resolution: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        )
        self.out_features = 32 * (resolution // 4) ** 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class FusionNet(nn.Module):
    """Late fusion: concatenate the branches' outputs, then dense 512 - 256 - n_classes.

    Either branch may be ``None`` (plain CNN, topological branch alone).
    """

    def __init__(self, image_branch: nn.Module | None, topo_branch: nn.Module | None,
                 n_classes: int, image_mean: float = 0.0, image_std: float = 1.0) -> None:
        super().__init__()
        if image_branch is None and topo_branch is None:
            raise ValueError("a model needs an image branch, a topological branch, or both")
        # images enter in [0, 1] and are standardised inside the model (statistics of the
        # training images), so explanations and plots work on the images as they are
        self.register_buffer("image_mean", torch.tensor(float(image_mean)))
        self.register_buffer("image_std", torch.tensor(float(image_std)))
        self.image_branch = image_branch
        self.topo_branch = topo_branch
        width = sum(b.out_features for b in (image_branch, topo_branch) if b is not None)
        self.head = nn.Sequential(
            nn.Linear(width, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, n_classes)
        )

    def forward(self, image: torch.Tensor | None, topo: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.image_branch is not None:
            parts.append(self.image_branch((image - self.image_mean) / self.image_std))
        if self.topo_branch is not None:
            if topo is None:
                raise ValueError("this model has a topological branch: pass its features as `topo`")
            parts.append(self.topo_branch(topo))
        return self.head(torch.cat(parts, dim=1))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(kind: str, *, image_shape: tuple[int, int, int], topo_shape: tuple[int, ...] | None,
                n_classes: int, width: float | None = None, image_mean: float = 0.0,
                image_std: float = 1.0) -> FusionNet:
    """A model of ``kind`` (see ``MODEL_KINDS``) for images of ``image_shape`` (C, H, W) and
    topological features of ``topo_shape`` ((D, L) for curves, (D, R, R) for images).
    ``width`` scales the image branch's channels: required for ``wide_cnn`` (see
    :func:`matching_width`), 1 for every other kind. ``image_mean`` and ``image_std`` (of the
    training images) standardise the image input inside the model."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    if (kind == "wide_cnn") != (width is not None):
        raise ValueError(f"width={width!r} for model {kind!r}: only 'wide_cnn' takes a width, and it needs one")
    if TOPO_INPUT[kind] is not None and topo_shape is None:
        raise ValueError(f"model {kind!r} needs the shape of its {TOPO_INPUT[kind]} input")
    in_channels = image_shape[0]
    image = None if kind == "topo_bc" else ImageBranch(in_channels, width or 1.0)
    topo: nn.Module | None = None
    if kind in ("cnn_bc", "cnn_pl", "topo_bc"):
        topo = CurveBranch(topo_shape[0], topo_shape[1])
    elif kind == "cnn_pi":
        topo = PersistenceImageBranch(topo_shape[0], topo_shape[1])
    return FusionNet(image, topo, n_classes, image_mean, image_std)


def matching_width(target_parameters: int, *, image_shape: tuple[int, int, int], n_classes: int,
                   step: float = 1 / 32, max_width: float = 3.0) -> float:
    """The image-branch width (a multiple of ``step``) whose plain CNN has the parameter count
    closest to ``target_parameters``: the wide-CNN control of P1."""
    widths = [step * i for i in range(int(1 / step), int(max_width / step) + 1)]
    counts = [count_parameters(build_model("wide_cnn", image_shape=image_shape, topo_shape=None,
                                           n_classes=n_classes, width=w)) for w in widths]
    return min(zip(widths, counts), key=lambda wc: abs(wc[1] - target_parameters))[0]
