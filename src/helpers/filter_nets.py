"""The small CNNs whose filters chapter 3 studies: model, first-layer initialisation, data, cached training.

:class:`FilterCNN` has a first layer of 64 3x3 filters (``conv1``) and a second 3x3 layer
(``conv2``, "the deeper layer"); :func:`train_network` trains one network described by a
:class:`NetworkSpec` with :func:`helpers.train.fit`, keeps the convolution weights at chosen
steps (checkpoints), evaluates it on the training subset, the test set and a domain-shift set,
and caches the result with :class:`helpers.cache.ArtifactCache`; :func:`train_networks` trains
the missing networks of a list in parallel processes. The tasks (:data:`TASKS`) include CIFAR-10
in colour, whose first-layer filters are 3x3x3: :func:`channel_records` takes one colour channel
of them, so that each channel's 3x3 filters are pooled and analysed on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import data as datasets
from .cache import ArtifactCache
from .claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Effect, correlation_effect, paired_effect
from .filters import (PRESENT, CircleStatistics, FilterSpace, circle_statistics, core_statistics, density_core, density_k,
                      distance_to_primary_circle, filter_bank, filter_space, spatial_filters)
from .train import Examples, TrainConfig, fit, pick_device, predict_proba

INITIALISATIONS = ("standard", "circle", "klein")
STANDARD, RANDOM_FIXED = "standard", "random (fixed)"
IMAGE_SIZE = 28
#: MNIST's digits fill a 20x20 box centred in the 28x28 frame; a shift set is framed the same way.
DIGIT_BOX = 20
#: The tasks this chapter trains on: name -> (data set of :func:`helpers.data.load`, its options).
TASKS: dict[str, tuple[str, dict[str, object]]] = {
    "mnist": ("mnist", {}), "digits": ("digits", {}),
    "cifar10": ("cifar10", {"grayscale": False}), "cifar10-gray": ("cifar10", {"grayscale": True})}
#: Names of the input channels of a colour image, in order.
COLOUR_CHANNELS = ("red", "green", "blue")
CONV_LAYERS = ("conv1", "conv2")
#: Images per forward pass when measuring accuracy: small batches keep a network's activations in
#: the processor's cache (much faster on one CPU thread than batches of hundreds).
EVAL_BATCH = 64


class FilterCNN(nn.Module):
    """(N, C, H, W) -> logits (N, n_classes): conv1 (``n_filters`` 3x3) - ReLU - max-pool 2 -
    conv2 (``n_deep`` 3x3) - ReLU - max-pool 2 - average-pool to 4x4 - linear. Called as
    ``model(image, topo)`` like every model of the book; ``topo`` is ignored. The weights are kept
    channels-last, so activations are too: on the CPU, max-pooling is about ten times faster so."""

    def __init__(self, in_channels: int = 1, n_filters: int = 64, n_deep: int = 16, n_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, n_filters, 3, padding=1)
        self.conv2 = nn.Conv2d(n_filters, n_deep, 3, padding=1)
        self.body = nn.Sequential(self.conv1, nn.ReLU(), nn.MaxPool2d(2), self.conv2, nn.ReLU(), nn.MaxPool2d(2),
                                  nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(n_deep * 16, n_classes))
        self.to(memory_format=torch.channels_last)

    def forward(self, image: torch.Tensor, topo: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(image)


def initialise_first_layer(model: FilterCNN, kind: str, trainable: bool = True) -> FilterCNN:
    """Replace ``model.conv1``'s weights by a filter bank of ``kind`` (:data:`INITIALISATIONS`).

    ``"standard"`` keeps PyTorch's default initialisation. ``"circle"`` and ``"klein"`` put
    :func:`helpers.filters.filter_bank` on every input channel, each filter scaled to the
    root-mean-square norm of the default filters it replaces, so the layer's scale is unchanged.
    ``trainable=False`` freezes the layer (weights and bias).
    """
    if kind not in INITIALISATIONS:
        raise ValueError(f"unknown initialisation {kind!r}; expected one of {INITIALISATIONS}")
    conv = model.conv1
    if kind != "standard":
        with torch.no_grad():
            default = conv.weight.detach()
            scale = default.flatten(1).norm(dim=1).pow(2).mean().sqrt()
            bank = torch.as_tensor(filter_bank(kind, conv.out_channels), dtype=default.dtype)
            bank = bank / bank.flatten(1).norm(dim=1)[:, None, None] * scale / np.sqrt(conv.in_channels)
            conv.weight.copy_(bank[:, None].expand_as(default))
    conv.weight.requires_grad_(trainable)
    conv.bias.requires_grad_(trainable)
    return model


# ----------------------------------------------------------------------------- data

@dataclass(frozen=True)
class FilterTask:
    """The data of one experiment: a ``pool`` of training images (networks train on stratified
    subsets of it), a ``val`` split for early stopping, a ``test`` split, and optionally a
    domain-shift set ``shift`` (same classes, another source); ``sources`` says which copy each
    came from; ``description`` identifies the task in cache keys."""

    name: str
    pool: Examples
    val: Examples
    test: Examples
    shift: Examples | None
    sources: dict[str, str]
    description: dict[str, object]


def _examples(dataset: datasets.Dataset) -> Examples:
    images = dataset.images
    if images.shape[-1] != IMAGE_SIZE or images.shape[-2] != IMAGE_SIZE:
        images = datasets.resize_images(images, IMAGE_SIZE)
    return Examples(np.ascontiguousarray(images, dtype=np.float32), None, dataset.labels)


def framed_like_mnist(images: np.ndarray, box: int = DIGIT_BOX, size: int = IMAGE_SIZE) -> np.ndarray:
    """``(N, C, size, size)`` float32: ``images`` (N, C, H, W) resized to ``box`` x ``box`` and
    centred on a zero background, as MNIST's digits sit in a 20x20 box of the 28x28 frame."""
    if not 0 < box <= size:
        raise ValueError(f"box={box}: expected 0 < box <= size ({size})")
    resized = datasets.resize_images(np.asarray(images, dtype=np.float32), box)
    margin = (size - box) // 2
    framed = np.zeros((*resized.shape[:2], size, size), dtype=np.float32)
    framed[..., margin:margin + box, margin:margin + box] = resized
    return framed


def prepare_task(dataset: str, n_pool: int | None, n_val: int, n_test: int | None, shift: str | None = None,
                 seed: int = 0) -> FilterTask:
    """Load the task ``dataset`` (one of :data:`TASKS`: ``mnist``, ``digits``, ``cifar10`` in
    colour, 3 channels, or ``cifar10-gray``) with its images resized to 28x28.

    The training split (a stratified subsample of ``n_pool + n_val`` when ``n_pool`` is given) is
    split stratified into ``val`` (``n_val`` images) and the ``pool``; ``test`` is a stratified
    subsample of ``n_test`` of the test split (all when None); ``shift`` names a data set whose
    train and test splits together, framed like MNIST (:func:`framed_like_mnist`), form the
    domain-shift set.
    """
    if dataset not in TASKS:
        raise ValueError(f"unknown task {dataset!r}; expected one of {tuple(TASKS)}")
    source, options = TASKS[dataset]
    n_train_split = None if n_pool is None else n_pool + n_val
    train = datasets.load(source, "train", n=n_train_split, seed=seed, **options)
    test = datasets.load(source, "test", n=n_test, seed=seed, **options)
    if n_val >= len(train):
        raise ValueError(f"n_val={n_val} leaves no training images out of {len(train)}")
    val_index = datasets.stratified_indices(train.labels, n_val, seed)
    pool_index = np.setdiff1d(np.arange(len(train)), val_index)
    everything = _examples(train)
    sources = {"train": train.source, "test": test.source}
    shift_examples = None
    if shift is not None:
        parts = [datasets.load(shift, split) for split in ("train", "test")]
        shift_examples = Examples(np.concatenate([framed_like_mnist(p.images) for p in parts]), None,
                                  np.concatenate([p.labels for p in parts]))
        sources["shift"] = (" + ".join(p.source for p in parts)
                            + f"; resized to {DIGIT_BOX}x{DIGIT_BOX} and centred in {IMAGE_SIZE}x{IMAGE_SIZE}, like MNIST")
    description = {"dataset": dataset, "n_pool": n_pool, "n_val": n_val, "n_test": n_test, "shift": shift,
                   "seed": seed, "options": options, "image_size": IMAGE_SIZE,
                   "shift_box": DIGIT_BOX}
    return FilterTask(dataset, everything.subset(pool_index), everything.subset(val_index), _examples(test),
                      shift_examples, sources, description)


# ----------------------------------------------------------------------------- training

@dataclass(frozen=True)
class NetworkSpec:
    """One network: trained on ``n_train`` images of the task's pool (stratified subset drawn with
    ``seed``, which also seeds the weights and batch order), first layer ``init`` (trainable or
    not), for ``max_steps`` Adam steps; ``snapshot_steps`` are the checkpoints (0 = initial)."""

    n_train: int
    seed: int
    init: str = "standard"
    trainable_init: bool = True
    max_steps: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-3
    eval_every: int = 50
    snapshot_steps: tuple[int, ...] = (0, 10, 25, 50, 100, 200)

    def __post_init__(self) -> None:
        if self.init not in INITIALISATIONS:
            raise ValueError(f"unknown initialisation {self.init!r}; expected one of {INITIALISATIONS}")
        if self.n_train < 10:
            raise ValueError(f"n_train={self.n_train}: expected at least 10 training images")

    @property
    def label(self) -> str:
        """E.g. ``"circle (fixed)"``, ``"standard"`` or ``"random (fixed)"`` (the default
        initialisation frozen: the control for freezing a first layer)."""
        if self.init == "standard":
            return STANDARD if self.trainable_init else RANDOM_FIXED
        return f"{self.init} ({'trainable' if self.trainable_init else 'fixed'})"


def accuracy(model: nn.Module, examples: Examples | None, device: str = "auto", batch_size: int = EVAL_BATCH) -> float:
    """Share of ``examples`` that ``model`` (evaluation mode, channels-last) classifies right, in
    batches of ``batch_size``; NaN when ``examples`` is None."""
    if examples is None:
        return float("nan")
    predicted = predict_proba(model, examples, device, channels_last=True, batch_size=batch_size).argmax(1)
    return float(np.mean(predicted == examples.labels))


def _conv_weights(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {layer: state[f"{layer}.weight"].numpy().copy() for layer in CONV_LAYERS}


def _train(spec: NetworkSpec, task: FilterTask, device: str, progress: bool) -> dict[str, object]:
    """Train, evaluate at every checkpoint and at the end; the cached record."""
    if spec.n_train > len(task.pool):
        raise ValueError(f"n_train={spec.n_train} exceeds the {len(task.pool)} images of the {task.name} pool")
    train = task.pool.subset(datasets.stratified_indices(task.pool.labels, spec.n_train, spec.seed))
    torch.manual_seed(spec.seed)
    model = initialise_first_layer(FilterCNN(in_channels=train.images.shape[1]), spec.init, spec.trainable_init)
    # Train for the whole budget (patience covers every check); the best check's weights are kept.
    config = TrainConfig(max_steps=spec.max_steps, batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                         eval_every=spec.eval_every, patience=spec.max_steps, seed=spec.seed)
    history = fit(model, train, task.val, config, device=device, progress=progress,
                  snapshot_steps=spec.snapshot_steps)
    checkpoints = {}
    probe = FilterCNN(in_channels=train.images.shape[1])
    for step, state in sorted(history.snapshots.items()):
        probe.load_state_dict(state)
        checkpoints[step] = {"weights": _conv_weights(state), "test_accuracy": accuracy(probe, task.test, device)}
    final = {name: value.detach().cpu() for name, value in model.state_dict().items()}
    return {"weights": _conv_weights(final), "checkpoints": checkpoints, "best_step": history.best_step,
            "train_accuracy": accuracy(model, train, device), "test_accuracy": accuracy(model, task.test, device),
            "shift_accuracy": accuracy(model, task.shift, device), "seconds": history.seconds,
            "val_steps": history.steps, "val_accuracy": history.val_accuracy}


def _network_key(spec: NetworkSpec, task: FilterTask) -> dict[str, object]:
    return {"spec": asdict(spec), "task": task.description}


def train_network(spec: NetworkSpec, task: FilterTask, cache: ArtifactCache, device: str = "auto",
                  progress: bool = False) -> dict[str, object]:
    """The cached record of one network (trained now when absent from the cache).

    Keys: ``weights`` ({"conv1", "conv2"}: arrays (out, in, 3, 3) after training, best check
    restored), ``checkpoints`` ({step: {"weights", "test_accuracy"}}),
    ``train_accuracy`` (on its training subset), ``test_accuracy``, ``shift_accuracy`` (NaN
    without a shift set), ``best_step``, ``seconds``, ``val_steps`` and ``val_accuracy``.
    """
    return cache.get_or_compute("filter-cnn", _network_key(spec, task), lambda: _train(spec, task, device, progress))


def train_networks(specs: Sequence[NetworkSpec], task: FilterTask, cache: ArtifactCache, device: str = "auto",
                   n_jobs: int = 1, progress: bool = True) -> list[dict[str, object]]:
    """:func:`train_network` for each spec (same cache entries), with a progress bar over
    networks; the missing ones are trained in ``n_jobs`` processes of one thread each on the CPU
    (in this process on an accelerator). The records do not depend on ``n_jobs``."""
    workers = n_jobs if pick_device(device).type == "cpu" else 1
    return cache.get_or_compute_many("filter-cnn", [(_network_key(spec, task), partial(_train, spec, task, device, False))
                                                    for spec in specs], workers, progress, f"{task.name} networks")


def spec_grid(n_train: Sequence[int], seeds: Sequence[int], **settings: object) -> list[NetworkSpec]:
    """One :class:`NetworkSpec` per (training-set size, seed), all with the same ``settings``."""
    return [NetworkSpec(n_train=int(size), seed=int(seed), **settings) for size in n_train for seed in seeds]


#: What a task's entry of :func:`zoo_grids`' ``overrides`` may change.
OVERRIDABLE = ("n_seeds", "max_steps", "learning_rate", "batch_size", "snapshot_steps")


def zoo_grids(names: Sequence[str], n_train: Sequence[int], seeds: Sequence[int],
              overrides: dict[str, dict[str, object]] | None = None, **settings: object) -> dict[str, list[NetworkSpec]]:
    """Each task's zoo, name -> :func:`spec_grid` of ``n_train`` x ``seeds`` with ``settings``,
    except where ``overrides[name]`` (keys in :data:`OVERRIDABLE`) says otherwise: ``n_seeds``
    keeps the first that many seeds, the others replace the setting of that name (a list of
    ``snapshot_steps`` becomes a tuple)."""
    overrides = overrides or {}
    for name, changes in overrides.items():
        if name not in names:
            raise ValueError(f"overrides name the task {name!r}, which is not trained; tasks: {list(names)}")
        unknown = sorted(set(changes) - set(OVERRIDABLE))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown} for task {name!r}; expected some of {OVERRIDABLE}")
        if not 1 <= int(changes.get("n_seeds", len(seeds))) <= len(seeds):
            raise ValueError(f"n_seeds={changes['n_seeds']!r} for task {name!r}: expected 1 to {len(seeds)}")
    grids = {}
    for name in names:
        changes = dict(overrides.get(name, {}))
        n_seeds = int(changes.pop("n_seeds", len(seeds)))
        if "snapshot_steps" in changes:
            changes["snapshot_steps"] = tuple(int(step) for step in changes["snapshot_steps"])
        grids[name] = spec_grid(n_train, seeds[:n_seeds], **{**settings, **changes})
    return grids


def filter_views(zoo: dict[str, Sequence[dict[str, object]]],
                 deep_networks: int) -> dict[tuple[str, str], list[dict[str, object]]]:
    """The pooled filter spaces the chapter analyses: ``(label, layer)`` -> the records whose
    filters of ``layer`` are pooled. ``conv1``: every network of the task, labelled by the
    task's name when its images have one channel, and one view per colour channel of a colour
    task, labelled e.g. ``"cifar10 (red)"`` (:func:`channel_records`); ``conv2``: the first
    ``deep_networks`` networks, labelled by the task's name (its spatial filters are per input
    channel already)."""
    if deep_networks < 1:
        raise ValueError(f"deep_networks={deep_networks!r}: expected at least one network")
    views = {}
    for name, records in zoo.items():
        n_channels = records[0]["weights"]["conv1"].shape[1]
        if n_channels == 1:
            views[name, "conv1"] = list(records)
        elif n_channels == len(COLOUR_CHANNELS):
            for channel, colour in enumerate(COLOUR_CHANNELS):
                views[f"{name} ({colour})", "conv1"] = channel_records(records, channel)
        else:
            raise ValueError(f"task {name!r} has {n_channels} input channels; expected 1 or {len(COLOUR_CHANNELS)}")
        views[name, "conv2"] = list(records[:deep_networks])
    return views


# ----------------------------------------------------------------------------- filter spaces of networks

def layer_filters(record: dict[str, object], layer: str, step: int | None = None) -> np.ndarray:
    """``(n, 3, 3)`` spatial filters of ``layer`` (``conv1`` or ``conv2``) of a trained network's
    record, after training (``step=None``) or at checkpoint ``step``."""
    if layer not in CONV_LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {CONV_LAYERS}")
    if step is None:
        weights = record["weights"]
    elif step in record["checkpoints"]:
        weights = record["checkpoints"][step]["weights"]
    else:
        raise ValueError(f"no checkpoint at step {step}; available: {sorted(record['checkpoints'])}")
    return spatial_filters(weights[layer])


def channel_records(records: Sequence[dict[str, object]], channel: int) -> list[dict[str, object]]:
    """``records`` with the ``conv1`` weights, after training and at every checkpoint, cut to
    input channel ``channel``: (out, in, 3, 3) -> (out, 1, 3, 3), one colour's 3x3 filters of a
    first layer on colour images; ``conv2`` and the other keys as they are, and ``channel`` added
    (the input channel that :func:`pooled_space` gives as each point's provenance)."""
    out = []
    for record in records:
        n_channels = record["weights"]["conv1"].shape[1]
        if not (isinstance(channel, (int, np.integer)) and 0 <= channel < n_channels):
            raise ValueError(f"channel={channel!r}: expected an input channel of conv1, an integer in 0..{n_channels - 1}")
        if "channel" in record:
            raise ValueError(f"the record is already cut to channel {record['channel']}")

        def cut(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {**weights, "conv1": weights["conv1"][:, channel:channel + 1].copy()}

        checkpoints = {step: {**checkpoint, "weights": cut(checkpoint["weights"])}
                       for step, checkpoint in record["checkpoints"].items()}
        out.append({**record, "weights": cut(record["weights"]), "checkpoints": checkpoints, "channel": int(channel)})
    return out


def median_filter_change(records: Sequence[dict[str, object]], layer: str) -> float:
    """How far training moved the spatial filters of ``layer``: the median over every filter of
    every network of |W_trained - W_initial| / |W_initial| (Euclidean norms of the 3x3 slices)."""
    changes = []
    for record in records:
        trained, initial = layer_filters(record, layer), layer_filters(record, layer, 0)
        changes.append(np.linalg.norm(trained - initial, axis=(1, 2)) / np.linalg.norm(initial, axis=(1, 2)))
    return float(np.median(np.concatenate(changes)))


def not_trained_away(records: Sequence[dict[str, object]], layer: str, minimum: float) -> str | None:
    """``None`` when the median filter of ``layer`` moved by at least ``minimum`` times its
    initial norm (:func:`median_filter_change`); otherwise the reason that the filters cannot
    show what training builds."""
    change = median_filter_change(records, layer)
    if change >= minimum:
        return None
    return (f"the {layer} filters are still mostly their initialisation: training moved the median filter by "
            f"{change:.2f} of its initial norm, below the {minimum:.2f} needed to judge what training builds")


def _provenance(record: dict[str, object], layer: str, network: int, index: np.ndarray) -> np.ndarray:
    """``(len(index), 3)`` network, filter (output channel) and input channel of the spatial
    filters ``index`` of ``layer`` (positions in :func:`layer_filters`)."""
    n_in = record["weights"][layer].shape[1]
    channel = index % n_in if "channel" not in record or layer != "conv1" else np.full(len(index), record["channel"])
    return np.column_stack([np.full(len(index), network), index // n_in, channel])


def pooled_space(records: Sequence[dict[str, object]], layer: str, step: int | None = None,
                 drop_fraction: float = 0.1, norm: str = "euclidean") -> FilterSpace:
    """The filter space of ``layer`` pooled over several networks (each network's filters are
    normalised on their own by ``norm``, then put together); ``origin`` (m, 3) holds each point's
    network (its position in ``records``), filter (output channel of ``layer``) and input
    channel (for records of :func:`channel_records`, the channel they were cut to)."""
    spaces = [filter_space(layer_filters(r, layer, step), drop_fraction, norm) for r in records]
    origin = np.concatenate([_provenance(record, layer, network, np.flatnonzero(s.kept))
                             for network, (record, s) in enumerate(zip(records, spaces))]).astype(np.int64)
    return FilterSpace(np.concatenate([s.points for s in spaces]), np.concatenate([s.kept for s in spaces]),
                       np.concatenate([s.contrast for s in spaces]), norm, origin)


def _circle_row(filters: np.ndarray, prefix: str, k: int, p: float, max_landmarks: int, radius: float,
                drop_fraction: float, norm: str, n_threads: int) -> dict[str, float]:
    space = filter_space(filters, drop_fraction, norm)
    stats = circle_statistics(space.points, min(k, len(space) - 1), p, max_landmarks, radius, n_threads)
    return {f"{prefix}top": stats.top, f"{prefix}dominance": stats.dominance,
            f"{prefix}near_circle": stats.share_near_circle,
            f"{prefix}mean_distance": float(np.mean(distance_to_primary_circle(space.points)))}


def network_table(specs: Sequence[NetworkSpec], records: Sequence[dict[str, object]], k: int = 8, p: float = 50.0,
                  max_landmarks: int = 150, radius: float = 0.5, drop_fraction: float = 0.1,
                  steps: Sequence[int | None] = (None,), norm: str = "euclidean", n_threads: int = -1) -> pd.DataFrame:
    """One row per network and step (``None``: after training): its settings, accuracies
    (``test_accuracy``; at the end also ``train_accuracy``, ``gap`` = train minus test and
    ``shift_accuracy``) and, for each layer, the circle statistics of its own filters
    (``conv1_top``, ``conv1_dominance``, ``conv1_near_circle``, ``conv1_mean_distance``: mean
    distance of all kept filters to the primary circle, ``conv2_...``) with density
    core ``X(k, p)`` (``k`` capped below the number of filters), ``max_landmarks`` and ``radius``,
    filters normalised by ``norm``."""
    rows = []
    for network, (spec, record) in enumerate(zip(specs, records)):
        for step in steps:
            row = {"network": network, "n_train": spec.n_train, "seed": spec.seed, "init": spec.label,
                   "step": spec.max_steps if step is None else step}
            if step is None:
                row.update(test_accuracy=record["test_accuracy"], train_accuracy=record["train_accuracy"],
                           gap=record["train_accuracy"] - record["test_accuracy"],
                           shift_accuracy=record["shift_accuracy"])
            else:
                row["test_accuracy"] = record["checkpoints"][step]["test_accuracy"]
            for layer in CONV_LAYERS:
                row.update(_circle_row(layer_filters(record, layer, step), f"{layer}_", k, p, max_landmarks, radius,
                                       drop_fraction, norm, n_threads))
            rows.append(row)
    return pd.DataFrame(rows)


def steps_to_reach(steps: Sequence[int], accuracies: Sequence[float], target: float) -> float:
    """First training step at which a learning curve (``accuracies`` at increasing ``steps``)
    reaches ``target``, interpolating linearly between checkpoints; NaN when it never does."""
    steps, accuracies = np.asarray(steps, dtype=float), np.asarray(accuracies, dtype=float)
    if steps.shape != accuracies.shape or steps.ndim != 1 or len(steps) == 0:
        raise ValueError(f"steps and accuracies must be 1-D of equal length, got {steps.shape}, {accuracies.shape}")
    above = np.flatnonzero(accuracies >= target)
    if above.size == 0:
        return float("nan")
    first = above[0]
    if first == 0:
        return float(steps[0])
    s0, s1, a0, a1 = steps[first - 1], steps[first], accuracies[first - 1], accuracies[first]
    return float(s0 + (target - a0) / (a1 - a0) * (s1 - s0))


def pooled_statistics(records: Sequence[dict[str, object]], layer: str, step: int | None = None,
                      k_fraction: float = 0.006, p: float = 30.0, max_landmarks: int = 400, radius: float = 0.5,
                      drop_fraction: float = 0.1, norm: str = "euclidean", n_threads: int = -1) -> CircleStatistics:
    """:func:`helpers.filters.core_statistics` of the :func:`pooled_space` of ``layer`` at
    ``step``, with density core ``X(k, p)``, ``k`` the fraction ``k_fraction`` of the points."""
    points = pooled_space(records, layer, step, drop_fraction, norm).points
    return core_statistics(points, k_fraction, p, max_landmarks, radius, n_threads)


def half_sample_tops(records: Sequence[dict[str, object]], layer: str, step: int | None = None, n_halves: int = 10,
                     seed: int = 0, k_fraction: float = 0.006, p: float = 30.0, max_landmarks: int = 400,
                     drop_fraction: float = 0.1, norm: str = "euclidean", n_threads: int = -1) -> np.ndarray:
    """``(n_halves,)`` longest H1 bar (:func:`pooled_statistics`) of the pooled filters of
    ``n_halves`` random halves of ``records`` (``len(records) // 2`` networks each, drawn
    without replacement with ``seed``): how much the pooled barcode depends on which networks were
    trained, for :func:`helpers.filters.presence_effect`."""
    if len(records) < 2 or n_halves < 2:
        raise ValueError(f"need at least 2 networks and 2 halves, got {len(records)} networks and {n_halves} halves")
    rng = np.random.default_rng(seed)
    halves = [np.sort(rng.permutation(len(records))[: len(records) // 2]) for _ in range(int(n_halves))]
    return np.array([pooled_statistics([records[i] for i in half], layer, step, k_fraction, p, max_landmarks,
                                       drop_fraction=drop_fraction, norm=norm, n_threads=n_threads).top
                     for half in halves])


def pooled_core(records: Sequence[dict[str, object]], layer: str, step: int | None = None,
                k_fraction: float = 0.006, p: float = 30.0, drop_fraction: float = 0.1,
                norm: str = "euclidean") -> np.ndarray:
    """``(m, 8)`` the density core ``X(k, p)`` of the :func:`pooled_space` of ``layer`` at
    ``step``, ``k`` the fraction ``k_fraction`` of the points."""
    points = pooled_space(records, layer, step, drop_fraction, norm).points
    return points[density_core(points, density_k(len(points), k_fraction), p)]


def emergence_untestable(final_verdict: str, last_presence: str = PRESENT) -> str | None:
    """Whether "the circle emerges in training" can be judged, given the verdict on the circle in
    the trained filters against the null and :func:`helpers.filters.circle_presence` at the last
    checkpoint: only when that verdict is reproduced and the last checkpoint shows the circle
    present (there must be a circle at the end for it to have emerged); otherwise the reason, so
    the emergence claim is inconclusive rather than a stronger verdict than the one it rests on."""
    if final_verdict not in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE):
        raise ValueError(f"unknown verdict {final_verdict!r}")
    if final_verdict != REPRODUCED:
        return (f"the circle in the trained filters is {final_verdict} against the random-filter null, so there is "
                "no circle at the last checkpoint whose emergence could be judged")
    if last_presence != PRESENT:
        return (f"the circle is {last_presence} at the last checkpoint although the best-validation weights show it: "
                "the longest bar at this density is not stable across checkpoints, so its emergence is not judged")
    return None


def versus_controls(table: pd.DataFrame, condition: str, controls: Sequence[str]) -> dict[str, Effect]:
    """Paired differences (percentage points) of ``condition`` minus each of ``controls``:
    ``table`` has one row per seed and one column per condition (accuracies as fractions)."""
    missing = [c for c in (condition, *controls) if c not in table]
    if missing:
        raise ValueError(f"conditions {missing} are not in the table; have {list(table.columns)}")
    return {f"minus {control}": paired_effect(table[condition].to_numpy(), table[control].to_numpy(), scale=100,
                                              unit=" pp", digits=1) for control in controls}


P3_TRANSFER_GAIN = 0.22 - 0.10
"""The companion paper's gain in MNIST-to-SVHN accuracy from fixed angular first-layer filters
(about 10% to 22%): the threshold of interest of chapter 3's transfer claim."""


def size_adjusted_correlation(table: pd.DataFrame, measure: str, target: str, seed: int = 0) -> Effect:
    """Spearman correlation of ``measure`` and ``target`` across the networks of ``table`` (one
    row per network, with ``n_train``) after removing each training-set size's mean from both,
    so that the training-set size, which moves both, does not make the correlation; with
    :func:`helpers.claims.correlation_effect`'s interval, permutation p and detectable |rho|."""
    missing = [c for c in (measure, target, "n_train") if c not in table]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; have {list(table.columns)}")
    rows = table[[measure, target, "n_train"]].dropna()
    centred = rows[[measure, target]] - rows.groupby("n_train")[[measure, target]].transform("mean")
    return correlation_effect(centred[measure].to_numpy(), centred[target].to_numpy(), "spearman", seed=seed)
