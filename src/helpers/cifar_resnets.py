"""The CIFAR-10 ResNets of chapters 4 and 5 (P2's networks), trained once and cached.

``prepare`` loads and splits the images; ``trained_resnet`` / ``trained_resnets`` return
ResNet-18s trained with P2's recipe (SGD with momentum, one-cycle schedule, weight decay,
crop-and-flip augmentation) from the artifact cache, training and caching any that is missing;
``untrained_resnet`` is the same network at its initial weights (the control). A network is
identified in the cache by the data configuration, its width, its seed and the training
settings, so chapter 5 finds chapter 4's networks by repeating those settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from . import data as datasets
from .cache import ArtifactCache
from .models import count_parameters
from .resnet import CifarResNet, resnet18
from .train import Examples, History, TrainConfig, fit, predict_proba

SPLITS = ("train", "val", "test")
IMAGE_SIZE = 32
RESNET_DATASETS = ("cifar10", "digits")
"""Data sets the ResNets are trained on: CIFAR-10 (P2's) and scikit-learn's digits resized to
32x32 (embedded, for the offline profile)."""
CACHE_KIND = "cifar-resnet"


@dataclass(frozen=True)
class ResNetData:
    """Images and labels of the three splits.

    ``images[split]`` (N, C, 32, 32) float32 in [0, 1] (C = 3 for CIFAR-10, 1 for digits);
    ``labels[split]`` (N,) int64 indexing ``class_names``; ``source`` says which copy of the data
    set was read; ``config`` identifies the data in cache keys.
    """

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    source: str
    config: dict[str, Any]

    @property
    def channels(self) -> int:
        return int(self.images["train"].shape[1])

    @property
    def channel_mean(self) -> list[float]:
        """Per-channel mean of the training images (what the network subtracts)."""
        return [float(v) for v in self.images["train"].mean(axis=(0, 2, 3))]

    @property
    def channel_std(self) -> list[float]:
        """Per-channel standard deviation of the training images (what the network divides by)."""
        return [float(v) for v in self.images["train"].std(axis=(0, 2, 3))]

    def examples(self, split: str) -> Examples:
        """The images and labels of ``split`` as training-loop input."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return Examples(self.images[split], None, self.labels[split])


@dataclass
class TrainedResNet:
    """A trained network: ``model`` (evaluation mode, CPU), its ``seed`` and ``width``, the
    training ``history``, the accuracy on the test split (a fraction) and the parameter count."""

    model: CifarResNet
    seed: int
    width: int
    history: History
    test_accuracy: float
    parameters: int


def prepare(n_train: int, n_val: int, n_test: int, seed: int = 0, dataset: str = "cifar10") -> ResNetData:
    """Load ``n_train + n_val`` images of ``dataset``'s training split (a stratified subsample
    drawn with ``seed``), split them stratified into train and validation, and ``n_test`` images
    of its test split. Images smaller than 32x32 (digits) are resized to 32x32."""
    if dataset not in RESNET_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r} for the ResNets; expected one of {RESNET_DATASETS}")
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    train_set = datasets.load(dataset, "train", n=n_train + n_val, seed=seed)
    test_set = datasets.load(dataset, "test", n=n_test, seed=seed)
    train_index, val_index = train_test_split(np.arange(len(train_set)), test_size=n_val,
                                              stratify=train_set.labels, random_state=seed)
    full_train = _at_image_size(train_set.images)
    images = {"train": full_train[train_index], "val": full_train[val_index],
              "test": _at_image_size(test_set.images)}
    labels = {"train": train_set.labels[train_index], "val": train_set.labels[val_index],
              "test": test_set.labels}
    config = {"dataset": dataset, "n_train": int(n_train), "n_val": int(n_val), "n_test": int(n_test),
              "seed": int(seed), "image_size": IMAGE_SIZE}
    return ResNetData(images, labels, train_set.class_names, f"{train_set.source}; {test_set.source}", config)


def _at_image_size(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C, 32, 32), resizing only when needed."""
    if images.shape[2:] == (IMAGE_SIZE, IMAGE_SIZE):
        return np.ascontiguousarray(images, dtype=np.float32)
    return datasets.resize_images(images, IMAGE_SIZE)


def untrained_resnet(data: ResNetData, seed: int, width: int) -> CifarResNet:
    """ResNet-18 of ``width`` stem channels at the initial weights that ``seed`` gives (those
    the trained network of that seed started from), evaluation mode, CPU."""
    torch.manual_seed(seed)
    model = resnet18(width, in_channels=data.channels, n_classes=len(data.class_names),
                     image_mean=data.channel_mean, image_std=data.channel_std)
    return model.eval()


def network_key(data: ResNetData, seed: int, width: int, train_config: TrainConfig | None) -> dict[str, Any]:
    """What identifies a network in cache keys: the data, the architecture, its width and seed
    and the training settings (``train_config`` ``None``: the untrained network of that seed)."""
    key = {"data": data.config, "architecture": "resnet18", "width": int(width)}
    if train_config is None:
        return {**key, "train": None, "seed": int(seed)}
    return {**key, "train": {**vars(train_config), "seed": int(seed)}}


def _train(data: ResNetData, seed: int, width: int, train_config: TrainConfig, device: str) -> dict[str, Any]:
    """Train one network from its seeded initial weights; the artifact holds the weights, the
    history, the parameter count and the test accuracy."""
    model = untrained_resnet(data, seed, width)
    seeded = TrainConfig(**{**vars(train_config), "seed": int(seed)})
    history = fit(model, data.examples("train"), data.examples("val"), seeded, device=device, progress=False)
    probabilities = predict_proba(model, data.examples("test"), device=device)
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history,
            "parameters": count_parameters(model),
            "test_accuracy": float((probabilities.argmax(1) == data.labels["test"]).mean())}


def trained_resnet(data: ResNetData, seed: int, width: int, train_config: TrainConfig, cache: ArtifactCache,
                   device: str = "auto") -> TrainedResNet:
    """The ResNet-18 of ``width`` trained on ``data`` from the initial weights of ``seed`` (the
    seed of ``train_config`` is replaced by ``seed``): from ``cache`` (kind ``"cifar-resnet"``),
    or trained with :func:`helpers.train.fit` and cached."""
    config = network_key(data, seed, width, train_config)
    artifact = cache.get_or_compute(CACHE_KIND, config, lambda: _train(data, seed, width, train_config, device))
    model = untrained_resnet(data, seed, width)
    model.load_state_dict(artifact["state_dict"])
    return TrainedResNet(model.eval(), int(seed), int(width), artifact["history"], artifact["test_accuracy"],
                         artifact["parameters"])


def trained_resnets(data: ResNetData, seeds: list[int], width: int, train_config: TrainConfig,
                    cache: ArtifactCache, device: str = "auto", progress: bool = True) -> list[TrainedResNet]:
    """:func:`trained_resnet` for every seed, in order, with a progress bar."""
    return [trained_resnet(data, seed, width, train_config, cache, device)
            for seed in tqdm(list(seeds), desc="ResNets", disable=not progress)]


def undertrained(test_accuracies: list[float], minimum: float) -> str | None:
    """``None`` when the networks' mean test accuracy (fractions, one per seed) reaches
    ``minimum``; otherwise the reason they cannot stand in for P2's trained ResNet-18s (about 94%
    on CIFAR-10), so that a claim about trained networks is inconclusive rather than refuted."""
    if not test_accuracies:
        raise ValueError("undertrained needs the test accuracy of at least one network")
    mean = float(np.mean(test_accuracies))
    if mean >= minimum:
        return None
    return (f"the networks reach {100 * mean:.1f}% test accuracy on average, below the {100 * minimum:.0f}% "
            "at which they can stand in for P2's trained ResNet-18s (about 94%)")
