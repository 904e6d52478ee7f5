"""One training loop for every model of the book, plus prediction and metrics.

Seeded and device-aware (CUDA or MPS when present, else CPU); Adam with early stopping on a
validation split, restoring the best weights; a progress bar over steps.
"""

from __future__ import annotations

import copy
import time
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


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. P1 used Adam 1e-3, batch 32, up to 20 epochs with early stopping.

    The budget is counted in optimisation steps rather than epochs, so that networks trained on
    100 or on 10,000 images get the same number of updates: training runs for at most
    ``max_steps`` batches (reshuffling at every pass over the data), checks the validation loss
    every ``eval_every`` steps, and stops after ``patience`` checks without improvement.
    """

    max_steps: int = 200
    batch_size: int = 32
    learning_rate: float = 1e-3
    eval_every: int = 25
    patience: int = 3
    seed: int = 0


@dataclass
class History:
    """Validation checks: the step of each, the mean training loss since the previous check,
    the validation loss (mean cross-entropy) and accuracy; the step whose weights were kept."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_step: int = 0
    seconds: float = 0.0


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


@torch.no_grad()
def _evaluate_loss(model: nn.Module, examples: Examples, device: torch.device) -> tuple[float, float]:
    model.eval()
    total_loss, correct = 0.0, 0
    for images, topo, labels in _batches(examples, 512, device):
        logits = model(images, topo)
        total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    return total_loss / len(examples), correct / len(examples)


def _shuffled_batches(examples: Examples, batch_size: int, device: torch.device, rng: np.random.Generator):
    """Batches forever, reshuffled at every pass over ``examples``."""
    while True:
        yield from _batches(examples, batch_size, device, rng.permutation(len(examples)))


def fit(model: nn.Module, train: Examples, val: Examples, config: TrainConfig = TrainConfig(),
        device: str = "auto", progress: bool = True) -> History:
    """Train ``model`` in place with Adam and early stopping on the ``val`` loss.

    Runs at most ``config.max_steps`` steps, checks the validation loss every
    ``config.eval_every`` steps, stops after ``config.patience`` checks without improvement, and
    restores the weights of the best check. ``config.seed`` fixes the batch order and dropout:
    with the same initial weights the result is the same on a given device.
    """
    torch.manual_seed(config.seed)
    target = pick_device(device)
    model.to(target)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history, best_state, best_loss = History(), copy.deepcopy(model.state_dict()), float("inf")
    batches = _shuffled_batches(train, config.batch_size, target, np.random.default_rng(config.seed))
    start, running, seen, checks_without_gain = time.perf_counter(), 0.0, 0, 0
    bar = tqdm(total=config.max_steps, desc="steps", leave=False, disable=not progress)
    model.train()
    for step in range(1, config.max_steps + 1):
        images, topo, labels = next(batches)
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(images, topo), labels)
        loss.backward()
        optimiser.step()
        running, seen = running + loss.item() * len(labels), seen + len(labels)
        bar.update()
        if step % config.eval_every and step != config.max_steps:
            continue
        val_loss, val_accuracy = _evaluate_loss(model, val, target)
        model.train()
        history.steps.append(step)
        history.train_loss.append(running / seen)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        running, seen = 0.0, 0
        bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.3f}")
        if val_loss < best_loss:
            best_loss, history.best_step, checks_without_gain = val_loss, step, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            checks_without_gain += 1
            if checks_without_gain >= config.patience:
                break
    bar.close()
    model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, examples: Examples, device: str = "auto") -> np.ndarray:
    """Class probabilities (N, n_classes) of ``model`` in evaluation mode."""
    target = pick_device(device)
    model.to(target).eval()
    chunks = [torch.softmax(model(images, topo), 1).cpu() for images, topo, _ in _batches(examples, 512, target)]
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
