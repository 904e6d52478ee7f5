"""One training loop for every model of the book, plus prediction and metrics.

Seeded and device-aware (CUDA or MPS when present, else CPU); Adam (or SGD with momentum and a
one-cycle schedule, P2's recipe for CIFAR ResNets) with early stopping on a validation split,
restoring the best weights; optional crop-and-flip augmentation; optional snapshots of the
weights at chosen steps; a progress bar over steps.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn import metrics
from torch import nn
from tqdm.auto import tqdm


@dataclass(frozen=True)
class Examples:
    """Model inputs and labels: ``images`` (N, C, H, W) float32, ``topo`` the topological
    features (N, ...) float32 or ``None``, ``labels`` (N,) int64."""

    images: np.ndarray
    topo: np.ndarray | None
    labels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.images) != n or (self.topo is not None and len(self.topo) != n):
            topo_len = None if self.topo is None else len(self.topo)
            raise ValueError(f"inputs disagree in length: images {len(self.images)}, topo {topo_len}, labels {n}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "Examples":
        topo = None if self.topo is None else self.topo[index]
        return Examples(self.images[index], topo, self.labels[index])


OPTIMISERS = ("adam", "sgd")
SCHEDULES = ("constant", "one_cycle")
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. P1 used Adam 1e-3, batch 32, up to 20 epochs with early stopping.

    The budget is counted in optimisation steps rather than epochs, so that networks trained on
    100 or on 10,000 images get the same number of updates: training runs for at most
    ``max_steps`` batches (reshuffling at every pass over the data), checks the validation loss
    every ``eval_every`` steps, and stops after ``patience`` checks without improvement, but not
    before ``min_steps`` steps (a network can sit on an early plateau, e.g. answering the majority
    class, for a few hundred steps before it learns).

    ``optimiser`` is ``"adam"`` or ``"sgd"`` (momentum 0.9, Nesterov); ``schedule`` is
    ``"constant"`` or ``"one_cycle"`` (the learning rate rises to ``learning_rate`` over the
    first 25% of ``max_steps`` and anneals to zero); ``augment`` pads by ``augment_padding``
    pixels (4: the standard CIFAR augmentation), crops back at a random offset and flips
    horizontally at random; ``label_smoothing`` mixes that share of the uniform distribution
    into the training targets (0: plain cross-entropy).
    ``channels_last`` trains in PyTorch's channels-last memory format (weights and image
    batches), which its CPU convolutions run faster: the same model, other rounding.
    ``precision`` is ``"float32"`` or ``"bfloat16"``: the latter runs the training forward pass
    under ``torch.autocast`` in bfloat16 (convolutions and linear layers; weights, gradients,
    optimiser state and the loss stay float32), about 1.6x faster on CPUs with native bfloat16
    (AVX512-BF16 or AMX) and on recent GPUs, slower on CPUs without it. Evaluation always runs
    in float32.
    """

    max_steps: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-3
    eval_every: int = 25
    patience: int = 3
    min_steps: int = 0
    seed: int = 0
    optimiser: str = "adam"
    schedule: str = "constant"
    weight_decay: float = 0.0
    augment: bool = False
    channels_last: bool = False
    augment_padding: int = 4
    label_smoothing: float = 0.0
    precision: str = "float32"

    def __post_init__(self) -> None:
        for name, value, choices in (("optimiser", self.optimiser, OPTIMISERS),
                                     ("schedule", self.schedule, SCHEDULES),
                                     ("precision", self.precision, PRECISIONS)):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
        for name in ("max_steps", "batch_size", "eval_every", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.min_steps <= self.max_steps:
            raise ValueError(f"min_steps must lie in [0, max_steps={self.max_steps}], got {self.min_steps}")
        if self.augment_padding < 0:
            raise ValueError(f"augment_padding must be a number of pixels >= 0, got {self.augment_padding}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")


@dataclass
class History:
    """Validation checks: the step of each, the mean training loss since the previous check,
    the validation loss (mean cross-entropy) and accuracy; the step whose weights were kept;
    ``snapshots`` maps each requested step (0 = the initial weights) to a CPU copy of the
    state dict at that step."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_step: int = 0
    seconds: float = 0.0
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)


def pick_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA, else Apple MPS, else CPU; or any name torch accepts."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _batches(examples: Examples, batch_size: int, device: torch.device, order: np.ndarray | None = None):
    order = np.arange(len(examples)) if order is None else order
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        images = torch.from_numpy(examples.images[index]).to(device)
        topo = None if examples.topo is None else torch.from_numpy(examples.topo[index]).to(device)
        yield images, topo, torch.from_numpy(examples.labels[index]).to(device)


def _memory_format(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``images`` (N, C, H, W) in the channels-last memory format when asked, else as they are."""
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


EVAL_BATCH = {False: 512, True: 128}
"""Images per forward pass in evaluation, by memory format (channels-last runs best on smaller batches)."""


@torch.no_grad()
def _evaluate_loss(model: nn.Module, examples: Examples, device: torch.device,
                   channels_last: bool = False) -> tuple[float, float]:
    model.eval()
    total_loss, correct = 0.0, 0
    for images, topo, labels in _batches(examples, EVAL_BATCH[channels_last], device):
        logits = model(_memory_format(images, channels_last), topo)
        total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    return total_loss / len(examples), correct / len(examples)


def _shuffled_batches(examples: Examples, batch_size: int, device: torch.device, rng: np.random.Generator):
    """Batches forever, reshuffled at every pass over ``examples``."""
    while True:
        yield from _batches(examples, batch_size, device, rng.permutation(len(examples)))


def crop_and_flip(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Standard CIFAR augmentation of a batch (N, C, H, W): zero-pad by ``padding`` pixels, crop
    back to H x W at a random offset per image, and flip half of the images left-right."""
    n, _, height, width = images.shape
    padded = nn.functional.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    rows = (offsets[:, :1] + torch.arange(height)).to(images.device)  # (N, H)
    cols = (offsets[:, 1:] + torch.arange(width)).to(images.device)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = (torch.rand(n, generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped).contiguous()


def _optimiser(model: nn.Module, config: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    if config.optimiser == "adam":
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    else:
        optimiser = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
    if config.schedule == "constant":
        return optimiser, None
    return optimiser, torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate,
                                                          total_steps=config.max_steps, pct_start=0.25)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


NARROWEST_ONEDNN_CHANNELS = 8
"""Convolutions with fewer channels than this are trained without oneDNN (see :func:`fit`)."""


def uses_narrow_convolutions(model: nn.Module) -> bool:
    """Whether any 2-D convolution of ``model`` has fewer than ``NARROWEST_ONEDNN_CHANNELS``
    output channels (the input convolution's 1 or 3 input channels do not count)."""
    return any(m.out_channels < NARROWEST_ONEDNN_CHANNELS for m in model.modules() if isinstance(m, nn.Conv2d))


def fit(model: nn.Module, train: Examples, val: Examples | None, config: TrainConfig = TrainConfig(),
        device: str = "auto", progress: bool = True, snapshot_steps: Sequence[int] = ()) -> History:
    """Train ``model`` in place with early stopping on the ``val`` loss (see :func:`_fit`).

    Networks with very narrow convolutions (e.g. a ResNet of width 4 on one-channel images) train
    with oneDNN switched off: with augmented batches, its CPU kernels corrupt memory in the
    backward pass of such networks (torch 2.13), which aborts the process."""
    with torch.backends.mkldnn.flags(enabled=not uses_narrow_convolutions(model)):
        return _fit(model, train, val, config, device, progress, snapshot_steps)


def _fit(model: nn.Module, train: Examples, val: Examples | None, config: TrainConfig,
         device: str, progress: bool, snapshot_steps: Sequence[int]) -> History:
    """Train ``model`` in place with early stopping on the ``val`` loss.

    Runs at most ``config.max_steps`` steps, checks the validation loss every
    ``config.eval_every`` steps, stops after ``config.patience`` checks without improvement, and
    restores the weights of the best check. Without ``val`` (``None``) it runs all
    ``config.max_steps`` steps and keeps the last weights; the checks then record the training
    loss only (validation loss and accuracy ``nan``). ``config.seed`` fixes the batch order, augmentation
    and dropout: with the same initial weights the result is the same on a given device.
    ``snapshot_steps`` lists steps (0 = before training) whose weights are kept in
    ``History.snapshots``; steps after an early stop are simply absent.
    """
    torch.manual_seed(config.seed)
    target = pick_device(device)
    model.to(target)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    optimiser, scheduler = _optimiser(model, config)
    best_state = None if val is None else copy.deepcopy(model.state_dict())
    history, best_loss = History(), float("inf")
    wanted_snapshots = set(snapshot_steps)
    if 0 in wanted_snapshots:
        history.snapshots[0] = _cpu_state(model)
    batches = _shuffled_batches(train, config.batch_size, target, np.random.default_rng(config.seed))
    augmentation = torch.Generator().manual_seed(config.seed)
    start, running, seen, checks_without_gain = time.perf_counter(), 0.0, 0, 0
    bar = tqdm(total=config.max_steps, desc="steps", leave=False, disable=not progress)
    model.train()
    for step in range(1, config.max_steps + 1):
        images, topo, labels = next(batches)
        if config.augment:
            images = crop_and_flip(images, augmentation, config.augment_padding)
        images = _memory_format(images, config.channels_last)
        optimiser.zero_grad()
        with torch.autocast(target.type, dtype=torch.bfloat16, enabled=config.precision == "bfloat16"):
            logits = model(images, topo)
        loss = nn.functional.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
        loss.backward()
        optimiser.step()
        if scheduler is not None:
            scheduler.step()
        if step in wanted_snapshots:
            history.snapshots[step] = _cpu_state(model)
        running, seen = running + loss.item() * len(labels), seen + len(labels)
        bar.update()
        if step % config.eval_every and step != config.max_steps:
            continue
        val_loss, val_accuracy = (float("nan"),) * 2 if val is None else _evaluate_loss(
            model, val, target, config.channels_last)
        model.train()
        history.steps.append(step)
        history.train_loss.append(running / seen)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        running, seen = 0.0, 0
        bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.3f}")
        if val is None:
            history.best_step = step
        elif val_loss < best_loss:
            best_loss, history.best_step, checks_without_gain = val_loss, step, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            checks_without_gain += 1
            if checks_without_gain >= config.patience and step >= config.min_steps:
                break
    bar.close()
    if val is not None:
        model.load_state_dict(best_state)
    if config.channels_last:
        model.to(memory_format=torch.contiguous_format)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, examples: Examples, device: str = "auto", channels_last: bool = False,
                  flips: bool = False, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities (N, n_classes) of ``model`` in evaluation mode; ``channels_last``
    runs it in that memory format (faster on CPUs; the model is left in the default format);
    ``flips`` averages the logits of each image and its left-right mirror (test-time
    augmentation); ``batch_size`` images per forward pass (None: :data:`EVAL_BATCH` of the
    memory format)."""
    target = pick_device(device)
    model.to(target).eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)

    def logits(images: torch.Tensor, topo: torch.Tensor | None) -> torch.Tensor:
        images = _memory_format(images, channels_last)
        if not flips:
            return model(images, topo)
        return (model(images, topo) + model(images.flip(3), topo)) / 2

    chunks = [torch.softmax(logits(images, topo), 1).cpu()
              for images, topo, _ in _batches(examples, batch_size or EVAL_BATCH[channels_last], target)]
    model.to(memory_format=torch.contiguous_format)
    return torch.cat(chunks).numpy()


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """P1's metrics: accuracy, macro recall, weighted precision, weighted F1, and ROC AUC of
    the positive class (label 1) on binary tasks. ``probabilities`` has shape (N, n_classes)."""
    predicted = probabilities.argmax(1)
    scores = {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "macro_recall": metrics.recall_score(labels, predicted, average="macro", zero_division=0),
        "weighted_precision": metrics.precision_score(labels, predicted, average="weighted", zero_division=0),
        "weighted_f1": metrics.f1_score(labels, predicted, average="weighted", zero_division=0),
    }
    if probabilities.shape[1] == 2:
        scores["roc_auc"] = metrics.roc_auc_score(labels, probabilities[:, 1])
    return {name: float(value) for name, value in scores.items()}
