"""The CNNs of chapter 1 (P1): image branch, topological branches, fusion and control models.

Every model is called as ``model(image, topo)``: ``image`` has shape (N, C, H, W) and ``topo``
the shape of the topological features it consumes ((N, D, L) curves or (N, D, R, R) persistence
images); models that ignore an input accept ``None`` for it. Outputs are logits (N, n_classes).

Architecture after P1's published code (TensorFlow/Keras, re-written here in PyTorch):

* image branch: 3x3 convs 16-32 (average pool) -64 (max pool, dropout .3) -128 (max pool,
  dropout .3) -256 (global max pool); the last pool is global so that any input size works
  (for 28x28 inputs it equals P1's max pool + flatten: the map is already 1x1 after it);
  P1's wide CNN has 32-64-128-256-256 channels (:data:`WIDE_CHANNELS`);
* curve branch: batch normalisation of the input curves, then a dilated causal 1-D CNN, 8
  layers of 20 filters with dilations 1,2,4,8,1,2,4,8, each followed by ReLU and dropout (0.1),
  then a 1x1 convolution to 10 channels without activation, flattened;
* persistence-image branch: P1 reuses the image CNN (its own weights) on the persistence images;
* head: concatenation, dense 512 (ReLU, dropout .3) - 256 (ReLU) - n_classes;
* initialisation: Keras's defaults, Glorot-uniform weights and zero biases.

:class:`Architecture` holds these choices, P1's as the defaults, with the alternatives the book
used before (PyTorch's default initialisation, no input normalisation or curve dropout, a ReLU
after the 1x1 convolution, no head dropout, a small persistence-image CNN) as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MODEL_KINDS = {
    "cnn": "image CNN (P1's 'CNN')",
    "cnn_bc": "CNN + Betti-curve branch (P1's 'CNN-BC', the main model)",
    "cnn_pi": "CNN + persistence-image branch (P1's 'CNN-PI')",
    "cnn_pl": "CNN + persistence-landscape branch (P1's 'CNN-PL')",
    "wide_cnn": "image CNN with doubled channels, about CNN-BC's parameter count (P1's capacity control)",
    "topo_bc": "Betti-curve branch alone (no image)",
}
TOPO_INPUT = {"cnn": None, "wide_cnn": None, "cnn_bc": "betti_curves", "topo_bc": "betti_curves",
              "cnn_pi": "persistence_images", "cnn_pl": "landscapes"}
IMAGE_CHANNELS = (16, 32, 64, 128, 256)
WIDE_CHANNELS = (32, 64, 128, 256, 256)
"""Channels of P1's wide CNN (its last layer is not doubled)."""
INITIALISATIONS = ("keras", "torch")
PI_BRANCHES = ("image_cnn", "small")
KERAS_BATCHNORM = {"momentum": 0.01, "eps": 1e-3}
"""Keras's BatchNormalization defaults (momentum 0.99 of the old running value, epsilon 1e-3)
in PyTorch's convention (weight of the new batch statistic)."""


@dataclass(frozen=True)
class Architecture:
    """The choices of the fusion models that P1's published code fixes; P1's are the defaults.

    ``init``: ``"keras"`` (Glorot-uniform weights, zero biases: Keras's defaults, P1) or
    ``"torch"`` (PyTorch's default, Kaiming-uniform weights with a=sqrt(5) and small uniform
    biases). ``curve_input_norm``: batch normalisation of the curve input (P1). ``curve_dropout``:
    dropout after each causal convolution of the curve branch (P1's published code: 0.1; 0 for
    none). ``curve_last_relu``: a ReLU after the 1x1 convolution (P1: none). ``head_dropout``:
    dropout after the head's first dense layer (P1: 0.3). ``pi_branch``: ``"image_cnn"`` (P1:
    the image CNN applied to the persistence images) or ``"small"`` (two conv + pool stages).
    ``wide``: ``"p1"`` (P1's 32-64-128-256-256 channels) or ``"matched"`` (every layer scaled
    by one factor to CNN-BC's parameter count, :func:`matching_width`).
    """

    init: str = "keras"
    curve_input_norm: bool = True
    curve_dropout: float = 0.1
    curve_last_relu: bool = False
    head_dropout: float = 0.3
    pi_branch: str = "image_cnn"
    wide: str = "p1"

    def __post_init__(self) -> None:
        for name, value, choices in (("init", self.init, INITIALISATIONS), ("pi_branch", self.pi_branch, PI_BRANCHES),
                                     ("wide", self.wide, ("p1", "matched"))):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
        for name in ("curve_dropout", "head_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected a dropout rate in [0, 1)")


EARLIER_ARCHITECTURE = Architecture(init="torch", curve_input_norm=False, curve_dropout=0.0, curve_last_relu=True,
                                    head_dropout=0.0, pi_branch="small", wide="matched")
"""The book's earlier port, which departed from P1's code in every field of :class:`Architecture`."""


def keras_initialise(model: nn.Module) -> nn.Module:
    """Keras's default initialisation, in place: every convolution and dense layer gets
    Glorot-uniform weights, uniform in +-sqrt(6 / (fan_in + fan_out)) with fan_in = input
    channels x kernel size and fan_out = output channels x kernel size, and zero biases; batch
    normalisations get scale 1 and shift 0. Returns ``model``."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def scaled_channels(width: float) -> tuple[int, ...]:
    """:data:`IMAGE_CHANNELS` each scaled by ``width`` (at least one channel each)."""
    return tuple(max(1, round(n * width)) for n in IMAGE_CHANNELS)


class ImageBranch(nn.Module):
    """P1's image CNN without its head: (N, C, H, W) -> (N, channels[-1]).

    The five convolutions are ``conv1`` ... ``conv5`` and their activations ``relu1`` ...
    ``relu5``; P1's Grad-CAM layer, the 4th convolution with its ReLU (a Keras ``Conv2D`` with
    ``activation="relu"``), is ``relu4``. ``channels``: the five convolutions' output channels.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...] = IMAGE_CHANNELS) -> None:
        super().__init__()
        if len(channels) != 5 or min(channels) < 1:
            raise ValueError(f"channels={channels!r}: expected five positive channel counts")
        c = list(channels)
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

    ``input_norm`` puts a batch normalisation (Keras's settings) on the D input channels;
    ``dropout`` follows every causal convolution's ReLU; ``last_relu`` adds a ReLU after the 1x1
    convolution ``last_conv``, which is where the chapter 2 1-D Grad-CAM looks.
    """

    def __init__(self, in_channels: int, length: int, filters: int = 20,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8), kernel_size: int = 2,
                 out_channels: int = 10, input_norm: bool = True, dropout: float = 0.1,
                 last_relu: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(in_channels, **KERAS_BATCHNORM)] if input_norm else []
        channels = in_channels
        for dilation in dilations:
            layers += [CausalConv1d(channels, filters, kernel_size, dilation), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            channels = filters
        self.last_conv = nn.Conv1d(filters, out_channels, 1)
        tail = [nn.ReLU()] if last_relu else []
        self.body = nn.Sequential(*layers, self.last_conv, *tail, nn.Flatten())
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
    """Late fusion: concatenate the branches' outputs, then dense 512 (dropout ``head_dropout``,
    none by default here; :func:`build_model` passes P1's 0.3) - 256 - n_classes.

    Either branch may be ``None`` (plain CNN, topological branch alone).
    """

    def __init__(self, image_branch: nn.Module | None, topo_branch: nn.Module | None,
                 n_classes: int, image_mean: float = 0.0, image_std: float = 1.0,
                 head_dropout: float = 0.0) -> None:
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
        dropout = [nn.Dropout(head_dropout)] if head_dropout else []
        self.head = nn.Sequential(
            nn.Linear(width, 512), nn.ReLU(), *dropout, nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, n_classes)
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
                image_std: float = 1.0, architecture: Architecture = Architecture()) -> FusionNet:
    """A model of ``kind`` (see ``MODEL_KINDS``) for images of ``image_shape`` (C, H, W) and
    topological features of ``topo_shape`` ((D, L) for curves, (D, R, R) for images).
    ``width`` scales every channel of the image branch, only for ``wide_cnn``: ``None`` gives
    P1's wide CNN (:data:`WIDE_CHANNELS`), a number the matched control (see
    :func:`matching_width`). ``image_mean`` and ``image_std`` (of the training images)
    standardise the image input inside the model; ``architecture`` holds the choices of P1's
    code (:class:`Architecture`)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    if kind != "wide_cnn" and width is not None:
        raise ValueError(f"width={width!r} for model {kind!r}: only 'wide_cnn' takes a width")
    if TOPO_INPUT[kind] is not None and topo_shape is None:
        raise ValueError(f"model {kind!r} needs the shape of its {TOPO_INPUT[kind]} input")
    in_channels = image_shape[0]
    channels = (WIDE_CHANNELS if width is None else scaled_channels(width)) if kind == "wide_cnn" else IMAGE_CHANNELS
    image = None if kind == "topo_bc" else ImageBranch(in_channels, channels)
    topo: nn.Module | None = None
    if kind in ("cnn_bc", "cnn_pl", "topo_bc"):
        topo = CurveBranch(topo_shape[0], topo_shape[1], input_norm=architecture.curve_input_norm,
                           dropout=architecture.curve_dropout, last_relu=architecture.curve_last_relu)
    elif kind == "cnn_pi":
        topo = (ImageBranch(topo_shape[0]) if architecture.pi_branch == "image_cnn"
                else PersistenceImageBranch(topo_shape[0], topo_shape[1]))
    model = FusionNet(image, topo, n_classes, image_mean, image_std, architecture.head_dropout)
    return keras_initialise(model) if architecture.init == "keras" else model


def matching_width(target_parameters: int, *, image_shape: tuple[int, int, int], n_classes: int,
                   step: float = 1 / 32, max_width: float = 3.0) -> float:
    """The image-branch width (a multiple of ``step``) whose plain CNN has the parameter count
    closest to ``target_parameters``: a wide-CNN control that matches a count exactly (P1's own
    doubles the channels instead, :data:`WIDE_CHANNELS`)."""
    widths = [step * i for i in range(int(1 / step), int(max_width / step) + 1)]
    counts = [count_parameters(build_model("wide_cnn", image_shape=image_shape, topo_shape=None,
                                           n_classes=n_classes, width=w)) for w in widths]
    return min(zip(widths, counts), key=lambda wc: abs(wc[1] - target_parameters))[0]
