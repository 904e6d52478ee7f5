"""The CIFAR-10 networks of chapters 4 and 5, trained once and cached.

Two architectures (:data:`ARCHITECTURES`): ``"fast"``, the airbench-style network of
:mod:`helpers.fastnet` (7 convolutions, 85-90% on CIFAR-10 after a few epochs on a CPU), which
carries the book's verdicts, and ``"resnet18"``, P2's ResNet-18 (:mod:`helpers.resnet`), for
runs with a GPU. ``prepare`` loads and splits the images; ``trained_networks`` returns networks
trained with SGD (Nesterov momentum, one-cycle schedule, weight decay, crop-and-flip
augmentation; the settings are a :class:`helpers.train.TrainConfig`) from the artifact cache,
training and caching those that are missing in parallel processes; ``untrained_network`` is the
same network at its initial weights (the control). A network is identified in the cache by the
data configuration, its architecture, width and seed and the training settings
(:func:`network_key`); chapter 4 records them in a manifest that chapter 5 reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import torch
from joblib import effective_n_jobs
from sklearn.model_selection import train_test_split
from torch import nn

from . import data as datasets
from . import manifest
from .cache import ArtifactCache
from .fastnet import FastCifarNet, fitted_input
from .models import count_parameters
from .resnet import resnet18
from .train import Examples, History, TrainConfig, fit, predict_proba

SPLITS = ("train", "val", "test")
IMAGE_SIZE = 32
NETWORK_DATASETS = ("cifar10", "digits")
"""Data sets the networks are trained on: CIFAR-10 (P2's) and scikit-learn's digits resized to
32x32 (embedded, for the offline profile)."""
ARCHITECTURES = ("fast", "resnet18")
"""``"fast"``: :class:`helpers.fastnet.FastCifarNet` (groups of ``width``, ``2 width``, ``4 width``
channels; tested with test-time flips, as airbench measures it); ``"resnet18"``: P2's ResNet-18
with ``width`` stem channels (64 in P2), tested without flips."""
CACHE_KIND = "cifar-network"


@dataclass(frozen=True)
class NetworkData:
    """Images and labels of the three splits.

    ``images[split]`` (N, C, 32, 32) float32 in [0, 1] (C = 3 for CIFAR-10, 1 for digits);
    ``labels[split]`` (N,) int64 indexing ``class_names`` (the validation split may be empty);
    ``source`` says which copy of the data set was read; ``config`` identifies the data in cache
    keys.
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

    @cached_property
    def fast_input(self) -> tuple[list[float], list[float], torch.Tensor]:
        """The fast network's input fitted to the training images (channel means, standard
        deviations, whitening filters: :func:`helpers.fastnet.fitted_input`), computed once and
        shared by every seed's network."""
        return fitted_input(self.images["train"])

    def sample(self, split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """A stratified random sample of ``n`` images of ``split`` and their labels:
        ``((n, C, 32, 32), (n,))``, in the split's order. (The splits keep the order of the data
        set's files, which may be class by class: take a sample, not the first ``n``.)"""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        keep = datasets.stratified_indices(self.labels[split], n, seed)
        return self.images[split][keep], self.labels[split][keep]

    def examples(self, split: str) -> Examples | None:
        """The images and labels of ``split`` as training-loop input (``None`` for an empty
        validation split)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if len(self.labels[split]) == 0:
            return None
        return Examples(self.images[split], None, self.labels[split])


@dataclass
class TrainedNetwork:
    """A trained network: ``model`` (evaluation mode, CPU), its ``architecture``, ``seed`` and
    ``width``, the training ``history``, the accuracy on the test split (a fraction) and the
    parameter count."""

    model: nn.Module
    architecture: str
    seed: int
    width: int
    history: History
    test_accuracy: float
    parameters: int


def prepare(n_train: int, n_val: int, n_test: int, seed: int = 0, dataset: str = "cifar10") -> NetworkData:
    """Load ``n_train + n_val`` images of ``dataset``'s training split (a stratified subsample
    drawn with ``seed``; all of them when that is the whole split), split them stratified into
    train and validation (``n_val = 0``: no validation split, so training runs its whole
    schedule), and ``n_test`` images of its test split. Images smaller than 32x32 (digits) are
    resized to 32x32."""
    if dataset not in NETWORK_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r} for the networks; expected one of {NETWORK_DATASETS}")
    for name, value, least in (("n_train", n_train, 1), ("n_val", n_val, 0), ("n_test", n_test, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    train_set = datasets.load(dataset, "train", n=n_train + n_val, seed=seed)
    test_set = datasets.load(dataset, "test", n=n_test, seed=seed)
    if n_val == 0:
        train_index, val_index = np.arange(len(train_set)), np.arange(0)
    else:
        train_index, val_index = train_test_split(np.arange(len(train_set)), test_size=n_val,
                                                  stratify=train_set.labels, random_state=seed)
    full_train = _at_image_size(train_set.images)
    images = {"train": full_train[train_index], "val": full_train[val_index],
              "test": _at_image_size(test_set.images)}
    labels = {"train": train_set.labels[train_index], "val": train_set.labels[val_index],
              "test": test_set.labels}
    config = {"dataset": dataset, "n_train": int(n_train), "n_val": int(n_val), "n_test": int(n_test),
              "seed": int(seed), "image_size": IMAGE_SIZE}
    return NetworkData(images, labels, train_set.class_names, f"{train_set.source}; {test_set.source}", config)


def _at_image_size(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C, 32, 32), resizing only when needed."""
    if images.shape[2:] == (IMAGE_SIZE, IMAGE_SIZE):
        return np.ascontiguousarray(images, dtype=np.float32)
    return datasets.resize_images(images, IMAGE_SIZE)


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")


def untrained_network(data: NetworkData, seed: int, width: int, architecture: str = "fast") -> nn.Module:
    """The network of ``architecture`` and ``width`` at the initial weights that ``seed`` gives
    (those the trained network of that seed started from), evaluation mode, CPU. The fast
    network's whitening filters come from ``data``'s training images and are the same for every
    seed."""
    _check_architecture(architecture)
    torch.manual_seed(seed)
    if architecture == "fast":
        mean, std, whitening = data.fast_input
        return FastCifarNet(width, data.channels, len(data.class_names), whitening, mean, std).eval()
    return resnet18(width, in_channels=data.channels, n_classes=len(data.class_names),
                    image_mean=data.channel_mean, image_std=data.channel_std).eval()


def network_key(data: NetworkData, seed: int, width: int, train_config: TrainConfig | None,
                architecture: str = "fast") -> dict[str, Any]:
    """What identifies a network in cache keys: the data, the architecture, its width and seed
    and the training settings (``train_config`` ``None``: the untrained network of that seed)."""
    _check_architecture(architecture)
    key = {"data": data.config, "architecture": architecture, "width": int(width)}
    if train_config is None:
        return {**key, "train": None, "seed": int(seed)}
    return {**key, "train": {**vars(train_config), "seed": int(seed)}}


def _train(data: NetworkData, seed: int, width: int, train_config: TrainConfig, architecture: str,
           device: str) -> dict[str, Any]:
    """Train one network from its seeded initial weights; the artifact holds the weights, the
    history, the parameter count and the test accuracy."""
    model = untrained_network(data, seed, width, architecture)
    seeded = TrainConfig(**{**vars(train_config), "seed": int(seed)})
    history = fit(model, data.examples("train"), data.examples("val"), seeded, device=device, progress=False)
    probabilities = predict_proba(model, data.examples("test"), device=device,
                                  channels_last=train_config.channels_last, flips=architecture == "fast")
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history,
            "parameters": count_parameters(model),
            "test_accuracy": float((probabilities.argmax(1) == data.labels["test"]).mean())}


def trained_networks(data: NetworkData, seeds: list[int], width: int, train_config: TrainConfig,
                     cache: ArtifactCache, architecture: str = "fast", device: str = "auto", n_jobs: int = 1,
                     progress: bool = True, threads: int = 1) -> list[TrainedNetwork]:
    """The networks of ``architecture`` and ``width`` trained on ``data`` from the initial
    weights of each of ``seeds`` (the seed of ``train_config`` is replaced by each seed), in
    order: from ``cache`` (kind ``"cifar-network"``), the missing ones trained with
    :func:`helpers.train.fit` in ``n_jobs`` processes of ``threads`` torch threads each (-1: all
    cores; the networks are the same for any ``n_jobs``, and differ at the level of rounding
    between thread counts) and cached."""
    requests = [(network_key(data, seed, width, train_config, architecture),
                 lambda seed=seed: _train(data, seed, width, train_config, architecture, device)) for seed in seeds]
    artifacts = cache.get_or_compute_many(CACHE_KIND, requests, n_jobs=effective_n_jobs(n_jobs), progress=progress,
                                          desc=f"{architecture} networks", threads=threads)
    networks = []
    for seed, artifact in zip(seeds, artifacts):
        model = untrained_network(data, seed, width, architecture)
        model.load_state_dict(artifact["state_dict"])
        networks.append(TrainedNetwork(model.eval(), architecture, int(seed), int(width), artifact["history"],
                                       artifact["test_accuracy"], artifact["parameters"]))
    return networks


@dataclass(frozen=True)
class Protocol(manifest.Recorded):
    """Everything that identifies chapter 4's networks: the arguments of :func:`prepare`
    (``data_options``: n_train, n_val, n_test, seed, dataset), the architecture and width, the
    seeds and the training settings."""

    CHAPTER: ClassVar[str] = "04_layer_persistence_distances"  # trains the CIFAR networks and records this protocol

    data_options: dict[str, Any]
    architecture: str
    width: int
    seeds: tuple[int, ...]
    train_config: TrainConfig

    def __post_init__(self) -> None:
        _check_architecture(self.architecture)

    def as_dict(self) -> dict[str, Any]:
        """The protocol as JSON-serialisable values (what the manifest holds)."""
        return {"data_options": self.data_options, "architecture": self.architecture, "width": self.width,
                "seeds": list(self.seeds), "train_config": vars(self.train_config)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Protocol":
        return cls(values["data_options"], values["architecture"], int(values["width"]), tuple(values["seeds"]),
                   TrainConfig(**values["train_config"]))

    def prepare(self) -> NetworkData:
        """The data the networks were trained and tested on (:func:`prepare`)."""
        return prepare(**self.data_options)


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
