"""A model zoo small enough to train on a laptop CPU, for ranking pre-trained models (P4).

Seven architectures of four families (:data:`FAMILIES`) and different depths
(:data:`ARCHITECTURES`), each at any width: plain CNNs of 4, 6 and 8 convolutions, a VGG-like network, residual networks with one and two basic
blocks per stage (:class:`helpers.resnet.CifarResNet`) and a MobileNetV2-like network of
inverted residual blocks. Every network is a :class:`ZooNet`: a ``body`` that maps images
(N, C, H, W) in [0, 1] to pooled features (N, F), and a linear head ``fc``; ``probe_layers``
names the modules (one per stage or block) whose outputs are the activation volumes P4 studies.

Protocol (:func:`pretrain`, :func:`fine_tune`, :func:`from_scratch`, :func:`linear_probe`):
pre-train on a source task; measure the accuracy achievable on a target task by fine-tuning every
weight with a new head (several fine-tuning seeds), by training the same architecture on the
target task alone (what transfer is measured against), and by a logistic-regression probe on the
frozen features. Trained weights and results are kept in :class:`helpers.cache.ArtifactCache`;
missing ones are trained in parallel processes of one thread each.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from helpers import transferability
from helpers.volume_betti import LayerBetti, layer_betti
from helpers.cache import ArtifactCache
from helpers.data import Dataset, load, resize_images, stratified_indices
from helpers.resnet import CifarResNet
from helpers.train import Examples, TrainConfig, fit, pick_device, predict_proba

LINEAR_PROBE_C = 1.0


class ZooNet(nn.Module):
    """``fc(body(image))``; ``body`` ends in global pooling, ``probe_layers`` are module names
    (prefixed ``body.``) whose outputs are (N, C, H, W) volumes, from shallow to deep."""

    def __init__(self, body: nn.Module, n_features: int, n_classes: int, probe_layers: Sequence[str]) -> None:
        super().__init__()
        self.body = body
        self.fc = nn.Linear(n_features, n_classes)
        self.probe_layers = tuple(f"body.{name}" for name in probe_layers)

    def forward(self, image: torch.Tensor, topo: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.body(image))


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


def plain_cnn(depth: int, width: int, in_channels: int, n_classes: int) -> ZooNet:
    """``depth`` 3x3 conv-BN-ReLU blocks (``block0`` ...), channels doubling and resolution
    halving at three evenly spaced blocks; global average pool."""
    downsample = {int(round(depth * f)) for f in (0.25, 0.5, 0.75)} - {0}
    blocks, channels = nn.Sequential(), in_channels
    for index in range(depth):
        out = width * 2 ** sum(1 for d in downsample if d <= index)
        blocks.add_module(f"block{index}", _conv_block(channels, out, 2 if index in downsample else 1))
        channels = out
    body = nn.Sequential(blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return ZooNet(body, channels, n_classes, [f"0.block{index}" for index in range(depth)])


def vgg_like(width: int, in_channels: int, n_classes: int) -> ZooNet:
    """VGG's pattern at small scale: three stages of two 3x3 conv-BN-ReLU blocks (width, 2x,
    4x channels), each stage closed by 2x2 max pooling; global average pool."""
    layers, names, channels = nn.Sequential(), [], in_channels
    for stage in range(3):
        out = width * 2 ** stage
        for index in range(2):
            name = f"conv{stage}_{index}"
            layers.add_module(name, _conv_block(channels, out))
            names.append(f"0.{name}")
            channels = out
        layers.add_module(f"pool{stage}", nn.MaxPool2d(2))
    return ZooNet(nn.Sequential(layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), channels, n_classes, names)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion (ReLU6), 3x3 depthwise (ReLU6), linear 1x1 projection;
    identity shortcut when the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int = 4) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_like(width: int, in_channels: int, n_classes: int) -> ZooNet:
    """A stem conv and six inverted residual blocks (``block0`` ...) with strides
    1, 2, 1, 2, 1, 1 and width, 1.5x, 1.5x, 2x, 2x, 2x channels; global average pool."""
    plan = [(width, 1), (3 * width // 2, 2), (3 * width // 2, 1), (2 * width, 2), (2 * width, 1), (2 * width, 1)]
    layers = nn.Sequential()
    layers.add_module("stem", _conv_block(in_channels, width))
    channels = width
    for index, (out, stride) in enumerate(plan):
        layers.add_module(f"block{index}", InvertedResidual(channels, out, stride))
        channels = out
    names = ["0.stem"] + [f"0.block{index}" for index in range(len(plan))]
    return ZooNet(nn.Sequential(layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), channels, n_classes, names)


def resnet(blocks: Sequence[int], width: int, in_channels: int, n_classes: int) -> ZooNet:
    """:class:`helpers.resnet.CifarResNet` with its head replaced: probes the stem's ReLU and
    every basic block."""
    body = CifarResNet(blocks, width, in_channels, n_classes=1)
    n_features = body.fc.in_features
    body.fc = nn.Identity()
    names = ["relu"] + [f"layer{stage}.{index}" for stage, count in enumerate(blocks, start=1) for index in range(count)]
    return ZooNet(body, n_features, n_classes, names)


ARCHITECTURES: dict[str, tuple[str, Callable[[int, int, int], ZooNet]]] = {
    "plain4": ("plain CNN, 4 convolutions", lambda w, c, k: plain_cnn(4, w, c, k)),
    "plain6": ("plain CNN, 6 convolutions", lambda w, c, k: plain_cnn(6, w, c, k)),
    "plain8": ("plain CNN, 8 convolutions", lambda w, c, k: plain_cnn(8, w, c, k)),
    "vgg": ("VGG-like, 3 stages of 2 convolutions", vgg_like),
    "resnet10": ("ResNet-10 (1 basic block per stage)", lambda w, c, k: resnet((1, 1, 1, 1), w, c, k)),
    "resnet18": ("ResNet-18 (2 basic blocks per stage)", lambda w, c, k: resnet((2, 2, 2, 2), w, c, k)),
    "mobilenet": ("MobileNetV2-like, 6 inverted residual blocks", mobilenet_like),
}
"""Name -> (description, builder(width, in_channels, n_classes))."""

FAMILIES = {"plain4": "plain", "plain6": "plain", "plain8": "plain", "vgg": "VGG", "resnet10": "ResNet",
            "resnet18": "ResNet", "mobilenet": "MobileNet"}
"""Name -> architecture family."""


def build(name: str, width: int, in_channels: int, n_classes: int, seed: int) -> ZooNet:
    """Architecture ``name`` with weights initialised from ``seed``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid choices: {', '.join(ARCHITECTURES)}")
    if width < 2:
        raise ValueError(f"width must be at least 2 channels, got {width}")
    torch.manual_seed(seed)
    return ARCHITECTURES[name][1](width, in_channels, n_classes)


# --------------------------------------------------------------------------------------------
# Source and target tasks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One task: train, validation and test examples (labels renumbered 0..k-1) and the names
    of its classes."""

    train: Examples
    val: Examples
    test: Examples
    class_names: tuple[str, ...]


def class_task(train: Dataset, test: Dataset, classes: Sequence[int], n_train: int, n_val: int,
               n_test: int, seed: int) -> Task:
    """The task of telling ``classes`` apart: stratified, disjoint train and validation subsets of
    ``train`` and a test subset of ``test``, with labels renumbered in the order of ``classes``."""

    def restrict(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isin(dataset.labels, classes)
        relabel = {c: i for i, c in enumerate(classes)}
        return dataset.images[keep], np.array([relabel[c] for c in dataset.labels[keep]], dtype=np.int64)

    images, labels = restrict(train)
    chosen = stratified_indices(labels, n_train + n_val, seed)
    rng = np.random.default_rng(seed)
    val_part = np.sort(chosen[stratified_indices(labels[chosen], n_val, seed + 1)])
    train_part = np.setdiff1d(chosen, val_part)
    test_images, test_labels = restrict(test)
    test_part = stratified_indices(test_labels, n_test, seed)
    rng.shuffle(train_part)
    return Task(Examples(images[train_part], None, labels[train_part]),
                Examples(images[val_part], None, labels[val_part]),
                Examples(test_images[test_part], None, test_labels[test_part]),
                tuple(train.class_names[c] for c in classes))


def load_tasks(dataset: str, source_classes: Sequence[int], target_classes: Sequence[int], n_source_train: int,
               n_target_train: int, n_val: int, n_test: int, image_size: int, seed: int
               ) -> tuple[Task, Task, str]:
    """Source and target tasks from one data set (``"cifar10"``, ``"digits"``, ``"mnist"`` ...):
    images resized to ``image_size`` pixels, the source task on ``source_classes``, the target
    task on ``target_classes``; and the data set's source line."""
    overlap = set(source_classes) & set(target_classes)
    if overlap:
        raise ValueError(f"source and target classes overlap in {sorted(overlap)}; the tasks must be disjoint")
    # The whole test split; from the train split a stratified subsample over every class, large
    # enough (10% margin for unbalanced classes) for the train and validation images of each task.
    test = load(dataset, "test", seed=seed)
    per_class = max(-(-(n_source_train + n_val) // len(source_classes)), -(-(n_target_train + n_val) // len(target_classes)))
    train = load(dataset, "train", n=int(1.1 * per_class * len(test.class_names)), seed=seed)
    train = Dataset(train.name, "train", resize_images(train.images, image_size), train.labels, train.class_names,
                    None, train.source)
    test = Dataset(test.name, "test", resize_images(test.images, image_size), test.labels, test.class_names,
                   None, test.source)
    source = class_task(train, test, source_classes, n_source_train, n_val, n_test, seed)
    target = class_task(train, test, target_classes, n_target_train, n_val, n_test, seed)
    note = f"{train.source}; {test.source}; resized to {image_size}x{image_size} px"
    return source, target, note


# --------------------------------------------------------------------------------------------
# Pre-training, fine-tuning, probing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooSpec:
    """What identifies a network: architecture, width, input channels, number of output classes,
    seed of its initial weights, and a description of the data it is trained on (part of the
    cache key)."""

    name: str
    width: int
    in_channels: int
    n_classes: int
    seed: int
    source: str


def _trained(spec: ZooSpec, task: Task, config: TrainConfig, device: str) -> dict[str, object]:
    """Weights and test accuracy of the network of ``spec`` trained on ``task``."""
    model = build(spec.name, spec.width, spec.in_channels, spec.n_classes, spec.seed)
    history = fit(model, task.train, task.val, config, device=device, progress=False)
    accuracy = float((predict_proba(model, task.test, device).argmax(1) == task.test.labels).mean())
    return {"state": {k: v.cpu() for k, v in model.state_dict().items()},
            "metrics": {"accuracy": accuracy, "seconds": history.seconds, "steps": history.steps[-1]}}


def _fine_tuned(model: ZooNet, task: Task, config: TrainConfig, device: str) -> dict[str, float]:
    """Target test accuracy of a copy of ``model`` with a new head, every weight trained on ``task``."""
    tuned = copy.deepcopy(model)
    torch.manual_seed(config.seed)
    tuned.fc = nn.Linear(tuned.fc.in_features, len(task.class_names))
    history = fit(tuned, task.train, task.val, config, device=device, progress=False)
    accuracy = float((predict_proba(tuned, task.test, device).argmax(1) == task.test.labels).mean())
    return {"accuracy": accuracy, "seconds": history.seconds}


def _task_key(task: Task) -> dict[str, object]:
    return {"classes": task.class_names, "n_train": len(task.train), "n_val": len(task.val), "n_test": len(task.test)}


def _workers(n_jobs: int, device: str) -> int:
    """Processes for training: ``n_jobs`` on the CPU, 1 (this process) on an accelerator."""
    return n_jobs if pick_device(device).type == "cpu" else 1


def pretrain(specs: Sequence[ZooSpec], task: Task, config: TrainConfig, cache: ArtifactCache, device: str = "auto",
             n_jobs: int = 1, progress: bool = True) -> list[tuple[ZooNet, dict[str, float]]]:
    """Each network of ``specs`` trained on the source ``task`` (cached; the missing ones in
    ``n_jobs`` processes): the model in evaluation mode and its source test accuracy, seconds and
    steps."""
    stored = cache.get_or_compute_many(
        "zoo-pretrained", [({"spec": asdict(spec), "train": asdict(config), "task": _task_key(task)},
                            partial(_trained, spec, task, config, device)) for spec in specs],
        _workers(n_jobs, device), progress, "pre-training")
    out = []
    for spec, artifact in zip(specs, stored):
        model = build(spec.name, spec.width, spec.in_channels, spec.n_classes, spec.seed)
        model.load_state_dict(artifact["state"])
        out.append((model.eval(), artifact["metrics"]))
    return out


def fine_tune(models: Sequence[tuple[ZooSpec, ZooNet]], task: Task, configs: Sequence[TrainConfig],
              cache: ArtifactCache, device: str = "auto", n_jobs: int = 1, progress: bool = True) -> np.ndarray:
    """Target test accuracy ``(n_models, n_configs)`` after fine-tuning every weight of each
    pre-trained model with a new head, once per configuration (one per fine-tuning seed)."""
    items = [({"spec": asdict(spec), "train": asdict(config), "task": _task_key(task)},
              partial(_fine_tuned, model, task, config, device)) for spec, model in models for config in configs]
    stored = cache.get_or_compute_many("zoo-fine-tuned", items, _workers(n_jobs, device), progress, "fine-tuning")
    return np.array([artifact["accuracy"] for artifact in stored]).reshape(len(models), len(configs))


def from_scratch(specs: Sequence[ZooSpec], task: Task, config: TrainConfig, cache: ArtifactCache,
                 device: str = "auto", n_jobs: int = 1, progress: bool = True) -> np.ndarray:
    """Target test accuracy ``(n_specs,)`` of each network of ``specs`` trained on the target
    ``task`` alone from its initial weights: what an architecture reaches without transfer."""
    stored = cache.get_or_compute_many(
        "zoo-scratch", [({"spec": asdict(spec), "train": asdict(config), "task": _task_key(task)},
                         partial(_trained, spec, task, config, device)) for spec in specs],
        _workers(n_jobs, device), progress, "training from scratch")
    return np.array([artifact["metrics"]["accuracy"] for artifact in stored])


@torch.no_grad()
def pooled_features(model: ZooNet, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The body's pooled features ``(N, F)`` float64 of ``images`` (CPU, evaluation mode)."""
    model = model.cpu().eval()
    parts = [model.body(torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size], dtype=np.float32)))
             for i in range(0, len(images), batch_size)]
    return torch.cat(parts).double().numpy()


def source_probabilities(model: ZooNet, images: np.ndarray) -> np.ndarray:
    """The source head's class probabilities ``(N, n_source_classes)`` on ``images``."""
    return predict_proba(model, Examples(images, None, np.zeros(len(images), dtype=np.int64)), "cpu")


def linear_probe(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                 test_labels: np.ndarray) -> float:
    """Test accuracy of a logistic regression on standardised frozen features."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=LINEAR_PROBE_C, max_iter=2000))
    probe.fit(train_features, train_labels)
    return float(probe.score(test_features, test_labels))


def transfer_scores(model: ZooNet, task: Task) -> dict[str, float]:
    """Linear-probe accuracy on the target ``task`` and the three transferability scores of the
    pre-trained ``model``, all from its target training images."""
    train_features = pooled_features(model, task.train.images)
    test_features = pooled_features(model, task.test.images)
    return {
        "linear_probe_accuracy": linear_probe(train_features, task.train.labels, test_features, task.test.labels),
        "logme": transferability.logme(train_features, task.train.labels),
        "leep": transferability.leep(source_probabilities(model, task.train.images), task.train.labels),
        "h_score": transferability.h_score(train_features, task.train.labels),
    }


# --------------------------------------------------------------------------------------------
# Betti numbers of the zoo's activation volumes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BettiJob:
    """One network's Betti numbers to compute: its spec, its weights (``model``) and what they are
    (``weights``: e.g. ``"pre-trained"`` with the training configuration, or ``"untrained"``),
    the images, thresholds, cubical construction and channel order (``channel_seed``, None: the
    network's own)."""

    spec: ZooSpec
    model: ZooNet
    weights: str
    images: np.ndarray
    thresholds: tuple[float, ...]
    construction: str = "V"
    channel_seed: int | None = None

    def key(self) -> dict[str, object]:
        digest = hashlib.sha256(np.ascontiguousarray(self.images, dtype=np.float32).tobytes()).hexdigest()[:16]
        return {"spec": asdict(self.spec), "weights": self.weights, "images": [list(self.images.shape), digest],
                "thresholds": list(self.thresholds), "construction": self.construction,
                "channel_seed": self.channel_seed, "layers": list(self.model.probe_layers)}

    def compute(self) -> dict[str, np.ndarray]:
        found = layer_betti(self.model, self.images, self.model.probe_layers, self.thresholds, self.construction,
                            self.channel_seed, progress=False)
        return {"numbers": found.numbers, "thresholds": found.thresholds, "voxels": found.voxels}


def volume_betti(jobs: Sequence[BettiJob], cache: ArtifactCache, n_jobs: int = 1,
                 progress: bool = True) -> list[LayerBetti]:
    """:func:`helpers.volume_betti.layer_betti` for each job (cached as ``"zoo-betti"``; the
    missing ones in ``n_jobs`` processes)."""
    stored = cache.get_or_compute_many("zoo-betti", [(job.key(), job.compute) for job in jobs], n_jobs, progress,
                                       "Betti numbers of volumes")
    return [LayerBetti(item["numbers"], item["thresholds"], item["voxels"]) for item in stored]


def not_learned(source_accuracy: Sequence[float], n_classes: int, minimum: float) -> str | None:
    """Why a ranking of the zoo cannot test a transfer claim, or ``None``: a network whose source
    test accuracy is below ``minimum`` has not learned what it is supposed to transfer (chance is
    ``1 / n_classes``)."""
    values = np.asarray(source_accuracy, dtype=np.float64)
    short = int((values < minimum).sum())
    if short == 0:
        return None
    return (f"{short} of {len(values)} networks reach less than {minimum:.0%} on the source task (chance "
            f"{1 / n_classes:.0%}; lowest {values.min():.0%}): they have not learned what they should transfer")
