"""Betti numbers of embeddings by depth (P4) and of point clouds by layer (Naitzat et al.).

Sections of this module:

* **Activation volumes** -- :func:`layer_outputs` hooks named layers of a network;
  :func:`volume_diagrams` computes the sublevel cubical persistence (H0, H1, H2) of each
  ``(C, H, W)`` activation tensor seen as a 3-D grey volume, in parallel threads;
  :func:`layer_diagrams` chains the two for every layer.
* **Betti numbers and complexity** -- :func:`betti_at` counts the intervals alive at one or
  several thresholds; :func:`complexity_by_layer` averages ``b0 + b1 + b2`` over images and
  classes as P4 does.
* **The decay score theta** -- :func:`decay_score`, exactly P4's definition; :func:`decay_tau`
  and :func:`decay_taus` (Kendall tau of complexity against depth, of one or several curves) and
  :func:`subsample_thetas` (theta on random subsets of the images).
* **P4's released arrays** -- :data:`RELEASED` and :func:`load_released`: the per-layer Betti
  numbers of nine ImageNet-pretrained models on CIFAR-10 from the authors' repository.
* **The precursor** -- :func:`nested_rings`, :class:`RingMLP`, :func:`knn_betti` and
  :func:`layerwise_knn_betti`: Betti numbers of a k-nearest-neighbour Vietoris-Rips complex of
  each class, layer by layer, in a small MLP (Naitzat, Zhitnikov & Lim, 2020).

Shapes: ``betti`` arrays end in ``(..., L, 3)``: ``L`` layers, then ``b0, b1, b2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import gudhi
import numpy as np
import torch
from gudhi.sklearn.cubical_persistence import CubicalPersistence
from scipy import stats
from scipy.sparse.csgraph import dijkstra
from sklearn.linear_model import Ridge
from sklearn.neighbors import kneighbors_graph
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from torch import nn
from tqdm.auto import tqdm

from helpers import data
from helpers.paths import DATA_ENV, download_dir, offline_data_dir
from helpers.topology import Diagram, betti_curves_on_grid, diagrams_in_chunks
from helpers.train import Examples, TrainConfig, fit

VOLUME_HOMOLOGY_DIMS = (0, 1, 2)
"""Homology dimensions of a 3-D cubical complex."""

THETA_DEGREE = 3
THETA_RIDGE_ALPHA = 1e-3
THETA_WEIGHTS = (1.0, 0.5, 0.5)
"""P4's theta: weights of the coefficients of x, x^2 and x^3 of the fitted polynomial."""


# --------------------------------------------------------------------------------------------
# Activation volumes and their cubical persistence
# --------------------------------------------------------------------------------------------


def as_volume_batch(volumes: np.ndarray) -> np.ndarray:
    """Return ``volumes`` as float64 ``(N, C, H, W)``; ``ValueError`` for another shape or
    non-finite values."""
    batch = np.asarray(volumes, dtype=np.float64)
    if batch.ndim != 4 or 0 in batch.shape[1:]:
        raise ValueError(f"volumes have shape {batch.shape}: expected (N, C, H, W) with C, H, W >= 1")
    if not np.all(np.isfinite(batch)):
        raise ValueError("volumes contain NaN or infinite values: expected finite activations")
    return batch


def standardise(volumes: np.ndarray) -> np.ndarray:
    """Each volume of ``(N, C, H, W)`` shifted to mean 0 and scaled to standard deviation 1
    (constant volumes become all zeros), so one threshold means the same at every layer."""
    batch = as_volume_batch(volumes)
    mean = batch.mean(axis=(1, 2, 3), keepdims=True)
    std = batch.std(axis=(1, 2, 3), keepdims=True)
    return (batch - mean) / np.where(std > 0, std, 1.0)


def _chunk_volume_diagrams(chunk: np.ndarray) -> list[list[Diagram]]:
    """H0, H1, H2 diagrams of each ``(C, H, W)`` volume of a chunk, in one thread (gudhi, Z/2)."""
    persistence = CubicalPersistence(homology_dimensions=list(VOLUME_HOMOLOGY_DIMS),
                                     input_type="top_dimensional_cells", homology_coeff_field=2,
                                     min_persistence=0.0, n_jobs=1)
    return persistence.fit_transform(list(chunk))


def volume_diagrams(volumes: np.ndarray, n_jobs: int = -1, progress: bool = True) -> list[list[Diagram]]:
    """Sublevel cubical persistence of each 3-D volume.

    Each voxel of a ``(C, H, W)`` volume is a top-dimensional cube entering the filtration at
    its value; voxels sharing a face, edge or corner are adjacent (channels are an axis like
    height and width, as in P4).

    Args:
        volumes: ``(N, C, H, W)`` finite values.
        n_jobs: threads (-1: all cores); gudhi releases the GIL, chunks run side by side.
        progress: show a progress bar over chunks.

    Returns:
        For each volume ``[H0, H1, H2]``, each a ``(k, 2)`` float64 diagram; the one essential
        H0 class has death ``+inf``.
    """
    return diagrams_in_chunks(as_volume_batch(volumes), _chunk_volume_diagrams, n_jobs, progress,
                              "cubical persistence (3-D)")


@torch.no_grad()
def layer_outputs(model: nn.Module, inputs: np.ndarray, layers: Sequence[str],
                  batch_size: int = 64) -> dict[str, np.ndarray]:
    """Outputs of the named sub-modules of ``model`` for ``inputs`` (N, ...) float32.

    Returns ``{layer: (N, ...) float32}`` in the order of ``layers`` (for a convolutional layer
    ``(N, C, H, W)`` volumes); runs on the CPU in evaluation mode. ``KeyError`` names an unknown
    layer and the valid names.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise KeyError(f"unknown layers {unknown}; the model has {sorted(n for n in modules if n)}")
    model = model.cpu().eval()
    stored: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    hooks = [modules[name].register_forward_hook(
        lambda _module, _inputs, output, name=name: stored[name].append(output.detach().clone()))
        for name in layers]
    try:
        for start in range(0, len(inputs), batch_size):
            model(torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch_size], dtype=np.float32)))
    finally:
        for hook in hooks:
            hook.remove()
    return {name: torch.cat(parts).numpy() for name, parts in stored.items()}


def layer_diagrams(model: nn.Module, images: np.ndarray, layers: Sequence[str], n_jobs: int = -1,
                   progress: bool = True) -> list[list[list[Diagram]]]:
    """Cubical diagrams of the standardised activation volume of every image at every layer.

    Returns ``diagrams[layer][image] = [H0, H1, H2]`` (see :func:`volume_diagrams`).
    """
    result = []
    for name in tqdm(layers, desc="layers", unit="layer", disable=not progress):
        volume = layer_outputs(model, images, [name])[name]
        result.append(volume_diagrams(standardise(volume), n_jobs=n_jobs, progress=False))
    return result


# --------------------------------------------------------------------------------------------
# Betti numbers at a threshold and complexity by layer
# --------------------------------------------------------------------------------------------


def betti_at(diagrams: Sequence[Sequence[Sequence[Diagram]]], thresholds: Sequence[float]) -> np.ndarray:
    """Betti numbers at each threshold: intervals with ``birth <= t < death``.

    Args:
        diagrams: ``diagrams[layer][image] = [H0, H1, H2]`` as from :func:`layer_diagrams`.
        thresholds: filtration values (for standardised volumes: standard deviations).

    Returns:
        int64 array ``(n_thresholds, N, L, 3)``.
    """
    grid = np.asarray(thresholds, dtype=np.float64)
    if grid.ndim != 1 or len(grid) == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got {thresholds!r}")
    order = np.argsort(grid)
    n_layers, n_images = len(diagrams), len(diagrams[0]) if diagrams else 0
    out = np.zeros((len(grid), n_images, n_layers, 3), dtype=np.int64)
    for layer, per_image in enumerate(diagrams):
        if len(per_image) != n_images:
            raise ValueError(f"layer {layer} has {len(per_image)} images, layer 0 has {n_images}")
        for dim in range(3):
            curves = betti_curves_on_grid([item[dim] for item in per_image], grid[order])
            out[order, :, layer, dim] = curves.T
    return out


def complexity_by_layer(betti: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """P4's topological complexity per layer: ``b0 + b1 + b2`` averaged over the images of each
    class, then over classes.

    Args:
        betti: ``(n_classes, n_images, L, 3)`` (P4's released layout), or ``(N, L, 3)`` with
            ``labels`` (N,) naming each image's class.

    Returns:
        ``(L,)`` float64.
    """
    values = np.asarray(betti, dtype=np.float64)
    if labels is None:
        if values.ndim != 4 or values.shape[-1] != 3:
            raise ValueError(f"betti has shape {values.shape}: expected (n_classes, n_images, L, 3) "
                             f"or (N, L, 3) with labels")
        return values.sum(axis=3).mean(axis=1).mean(axis=0)
    labels = np.asarray(labels)
    if values.ndim != 3 or values.shape[-1] != 3 or len(labels) != len(values):
        raise ValueError(f"betti has shape {values.shape} and labels {labels.shape}: expected (N, L, 3) and (N,)")
    totals = values.sum(axis=2)
    return np.mean([totals[labels == c].mean(axis=0) for c in np.unique(labels)], axis=0)


def decay_score(complexity: np.ndarray) -> float:
    """P4's decay score theta of a complexity curve ``(L,)``, L >= 2.

    The curve is divided by its Euclidean norm; a degree-3 polynomial of the layer index
    ``1..L`` is fitted by ridge regression (alpha 1e-3, intercept fitted apart); with ``c1, c2,
    c3`` its coefficients of ``x, x^2, x^3``, ``theta = c1 + 0.5 c2 + 0.5 c3``. A curve falling
    with depth has negative theta; the faster it falls, the more negative.
    """
    curve = np.asarray(complexity, dtype=np.float64)
    if curve.ndim != 1 or len(curve) < 2 or not np.all(np.isfinite(curve)):
        raise ValueError(f"complexity must be a finite 1-D curve over at least 2 layers, got shape {curve.shape}")
    norm = np.linalg.norm(curve)
    y = curve / norm if norm > 0 else curve
    x = np.arange(1, len(curve) + 1, dtype=np.float64).reshape(-1, 1)
    fit = make_pipeline(PolynomialFeatures(degree=THETA_DEGREE), Ridge(alpha=THETA_RIDGE_ALPHA)).fit(x, y)
    coefficients = fit.steps[1][1].coef_[1:]  # the first column is the constant 1
    return float(np.dot(coefficients, THETA_WEIGHTS))


def decay_tau(complexity: np.ndarray) -> tuple[float, float]:
    """Kendall tau of complexity ``(L,)`` against the layer index, and its p-value."""
    result = stats.kendalltau(np.arange(len(complexity)), complexity)
    return float(result.statistic), float(result.pvalue)


def decay_taus(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Kendall tau of each complexity curve ``(L_i,)`` with its layer index, ``(n_curves,)``:
    negative where complexity falls with depth. Judge them across models with
    :func:`helpers.claims.mean_effect` or, against untrained copies of the same models,
    :func:`helpers.claims.trained_minus_control`."""
    taus = np.array([decay_tau(np.asarray(curve))[0] for curve in curves])
    if len(taus) == 0 or np.any(np.isnan(taus)):
        raise ValueError(f"need at least one curve, each with at least two distinct values; curves "
                         f"{np.flatnonzero(np.isnan(taus)).tolist()} are constant")
    return taus


def subsample_thetas(betti: np.ndarray, fraction: float, n_draws: int, seed: int) -> np.ndarray:
    """Theta of ``n_draws`` random subsets of the images of each class (``betti`` in the
    ``(n_classes, n_images, L, 3)`` layout), each keeping ``fraction`` of them; ``(n_draws,)``."""
    values = np.asarray(betti)
    if values.ndim != 4 or not 0 < fraction <= 1:
        raise ValueError(f"need betti (n_classes, n_images, L, 3) and 0 < fraction <= 1, got "
                         f"{values.shape} and {fraction}")
    keep = max(1, int(round(fraction * values.shape[1])))
    rng = np.random.default_rng(seed)
    thetas = []
    for _ in range(n_draws):
        chosen = np.stack([rng.choice(values.shape[1], keep, replace=False) for _ in range(values.shape[0])])
        thetas.append(decay_score(complexity_by_layer(np.take_along_axis(values, chosen[:, :, None, None], 1))))
    return np.asarray(thetas)


def by_class(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(N, ...)`` values regrouped as ``(n_classes, n_per_class, ...)``; every class must have
    the same number of items (a stratified sample)."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(set(counts)) != 1:
        raise ValueError(f"classes have unequal counts {dict(zip(classes.tolist(), counts.tolist()))}")
    return np.stack([values[labels == c] for c in classes])


# --------------------------------------------------------------------------------------------
# P4's released arrays
# --------------------------------------------------------------------------------------------

RELEASED_REPOSITORY = "Cross-Caps/DNNTopology"
RELEASED_FOLDER = "dnntopology-cifar10"


@dataclass(frozen=True)
class ReleasedArray:
    """One of P4's released arrays: ``(10 classes, 200 images, L layers, 3)`` Betti numbers of an
    ImageNet-pretrained torchvision model on CIFAR-10, the fine-tuned accuracy (%) P4 reports,
    and where the file lies in the authors' repository (path at a fixed commit) with its md5."""

    model: str
    file: str
    accuracy: float
    commit: str
    folder: str
    md5: str

    @property
    def url(self) -> str:
        return (f"https://raw.githubusercontent.com/{RELEASED_REPOSITORY}/{self.commit}/"
                f"{quote(self.folder)}/{self.file}")


_OLD, _PRL = "7597ae8ae85e882c605d20d1a9725422b3ba51a4", "ab90d2d01891877343ce00b5f6bab3eb28b62234"
_OLD_FOLDER, _PRL_FOLDER = "Accuracy vs TTP plots/Bettis/cifar10", "PRL/Accuracy vs TTP plots/Bettis/cifar10"
RELEASED = (
    ReleasedArray("VGG16", "vgg16_cifar10.npy", 94.74, _PRL, _PRL_FOLDER, "8cf8e76a9a5590a35d87e371be427843"),
    ReleasedArray("ResNet18", "resnet18_cifar10.npy", 95.42, _PRL, _PRL_FOLDER, "1d143c003cd2720e12aa14e0bcf78d70"),
    ReleasedArray("ResNet50", "resnet50_cifar10.npy", 95.78, _PRL, _PRL_FOLDER, "05f45302477de9c3e752cc1b0f277073"),
    ReleasedArray("ResNet101", "resnet101_cifar10.npy", 95.92, _PRL, _PRL_FOLDER, "6d76924d7c79e1cff5128b79791a9783"),
    ReleasedArray("ResNet152", "resnet152_cifar10.npy", 95.93, _OLD, _OLD_FOLDER, "0ff639ab4f8324a9ded18b03d44df151"),
    ReleasedArray("MobileNetV2", "mobilet_cifar10.npy", 95.17, _OLD, _OLD_FOLDER, "e07b2aada84f6a355f9c404ad5fc94d1"),
    ReleasedArray("DenseNet121", "densenet121_cifar10.npy", 96.53, _OLD, _OLD_FOLDER, "ddb9dbe01a80e2cb3a131b63c57d1f39"),
    ReleasedArray("DenseNet169", "densenet169_cifar10.npy", 96.21, _OLD, _OLD_FOLDER, "5e3341be4d577a2b5b8c411e8c6811a6"),
    ReleasedArray("DenseNet201", "densenet201_cifar10.npy", 96.39, _OLD, _OLD_FOLDER, "32b618a1a33eee7de0f7fadc41f81b0f"),
)


def _released_file(entry: ReleasedArray) -> tuple[Path, str]:
    """Path of one released array (offline copy or download) and a phrase saying which copy."""
    offline = offline_data_dir()
    if offline is None:
        path = download_dir() / RELEASED_FOLDER / entry.file
        if not path.exists():
            data.download(entry.url, path, entry.md5)
        return path, f"downloaded from {entry.url} (md5 verified)"
    path = offline / RELEASED_FOLDER / entry.file
    if not path.exists():
        raise FileNotFoundError(f"P4's array {entry.file} not found in {DATA_ENV}={offline}: looked for "
                                f"{path}. Download it from {entry.url}, or unset {DATA_ENV} to download it")
    found = data.md5sum(path)
    if found != entry.md5:
        raise ValueError(f"{path} has md5 {found}, expected {entry.md5} (the file at {entry.url})")
    return path, f"{data.OFFLINE_COPY}, md5 verified against the authors' file"


def load_released(model: str) -> tuple[np.ndarray, str]:
    """P4's released Betti numbers of ``model`` (a name in :data:`RELEASED`):
    ``(10, 200, L, 3)`` int64, and one line saying which copy was read."""
    entries = {entry.model: entry for entry in RELEASED}
    if model not in entries:
        raise ValueError(f"unknown released model {model!r}; valid choices: {', '.join(entries)}")
    path, copy = _released_file(entries[model])
    array = np.load(path)
    if array.ndim != 4 or array.shape[:2] != (10, 200) or array.shape[3] != 3:
        raise ValueError(f"{path} holds shape {array.shape}: expected (10, 200, L, 3)")
    return array, copy


# --------------------------------------------------------------------------------------------
# The precursor: k-NN Vietoris-Rips Betti numbers layer by layer (Naitzat et al.)
# --------------------------------------------------------------------------------------------


def nested_rings(n: int, seed: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two classes in the plane, ``n`` points each, ``(2n, 2)`` float32 points and labels:
    class 0 a ring of radius 1 (Betti numbers 1, 1); class 1 a disk of radius 0.5 inside it
    plus a ring of radius 1.6 around it (Betti numbers 2, 1). Radial jitter ``noise``."""
    rng = np.random.default_rng(seed)

    def ring(count: int, radius: float) -> np.ndarray:
        angle = rng.uniform(0, 2 * np.pi, count)
        r = radius + noise * rng.standard_normal(count)
        return np.c_[r * np.cos(angle), r * np.sin(angle)]

    disk_count = n // 2
    angle = rng.uniform(0, 2 * np.pi, disk_count)
    r = 0.5 * np.sqrt(rng.uniform(0, 1, disk_count))
    disk = np.c_[r * np.cos(angle), r * np.sin(angle)]
    points = np.concatenate([ring(n, 1.0), disk, ring(n - disk_count, 1.6)]).astype(np.float32)
    return points, np.repeat([0, 1], n).astype(np.int64)


class RingMLP(nn.Module):
    """A fully connected network of ``depth`` hidden layers of ``width`` units with ``activation``
    (``"relu"`` or ``"tanh"``): (N, 2) points -> (N, n_classes) logits. The hidden
    activations are the modules ``act0 ... act{depth-1}``; called as ``model(points, topo=None)``."""

    ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}

    def __init__(self, activation: str, width: int = 15, depth: int = 8, n_classes: int = 2) -> None:
        super().__init__()
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid choices: {tuple(self.ACTIVATIONS)}")
        self.depth = depth
        size = 2
        for index in range(depth):
            setattr(self, f"linear{index}", nn.Linear(size, width))
            setattr(self, f"act{index}", self.ACTIVATIONS[activation]())
            size = width
        self.head = nn.Linear(size, n_classes)

    def forward(self, points: torch.Tensor, topo: torch.Tensor | None = None) -> torch.Tensor:
        x = points
        for index in range(self.depth):
            x = getattr(self, f"act{index}")(getattr(self, f"linear{index}")(x))
        return self.head(x)

    @property
    def hidden_layers(self) -> list[str]:
        return [f"act{index}" for index in range(self.depth)]


def train_ring_mlp(activation: str, n_points: int, width: int, depth: int, config: TrainConfig,
                   seed: int) -> tuple[RingMLP, float]:
    """A :class:`RingMLP` trained on :func:`nested_rings` (``n_points`` per class, random stream
    ``seed``; validation rings from ``seed + 1000``), and its validation accuracy."""
    torch.manual_seed(seed)
    model = RingMLP(activation, width, depth)
    points, labels = nested_rings(n_points, seed)
    val_points, val_labels = nested_rings(n_points, seed + 1000)
    history = fit(model, Examples(points, None, labels), Examples(val_points, None, val_labels), config,
                  device="cpu", progress=False)
    return model, history.val_accuracy[history.steps.index(history.best_step)]


def knn_betti(points: np.ndarray, k: int, scale: int = 1, max_dim: int = 1) -> np.ndarray:
    """Betti numbers ``b0 .. b_max_dim`` of the Vietoris-Rips complex of the k-NN graph metric.

    The symmetrised k-nearest-neighbour graph of ``points`` (n, d) defines a path metric (number
    of hops); its Vietoris-Rips complex at ``scale`` hops (scale 1: the clique complex of the
    graph) is built in gudhi's SimplexTree. Independent of the units of the points, so layers
    of different scales are comparable, as in Naitzat et al. Returns int64 ``(max_dim + 1,)``.
    """
    cloud = np.asarray(points, dtype=np.float64)
    if cloud.ndim != 2 or len(cloud) <= k:
        raise ValueError(f"points must be (n, d) with n > k={k}, got shape {cloud.shape}")
    if scale < 1 or max_dim < 0:
        raise ValueError(f"scale must be at least 1 hop and max_dim at least 0, got {scale}, {max_dim}")
    graph = kneighbors_graph(cloud, k, mode="connectivity")
    graph = graph.maximum(graph.T).tocoo()
    if scale > 1:
        hops = dijkstra(graph, unweighted=True, limit=scale)
        rows, cols = np.nonzero(np.isfinite(hops) & (hops > 0))
    else:
        rows, cols = graph.row, graph.col
    tree = gudhi.SimplexTree()
    for vertex in range(len(cloud)):
        tree.insert([vertex])
    for a, b in zip(rows, cols):
        if a < b:
            tree.insert([int(a), int(b)])
    tree.expansion(max_dim + 1)
    tree.compute_persistence(homology_coeff_field=2, persistence_dim_max=True)
    numbers = list(tree.betti_numbers())[: max_dim + 1]
    return np.array(numbers + [0] * (max_dim + 1 - len(numbers)), dtype=np.int64)


@torch.no_grad()
def layerwise_knn_betti(model: RingMLP, points: np.ndarray, labels: np.ndarray, k: int,
                        scale: int = 1) -> np.ndarray:
    """``(n_classes, depth + 1, 2)`` Betti numbers b0, b1 of each class's points at the input
    (index 0) and after every hidden layer of ``model`` (see :func:`knn_betti`)."""
    outputs = layer_outputs(model, points, model.hidden_layers, batch_size=len(points))
    clouds = [np.asarray(points, dtype=np.float64)] + [outputs[name] for name in model.hidden_layers]
    return np.stack([np.stack([knn_betti(cloud[labels == c], k, scale) for cloud in clouds])
                     for c in np.unique(labels)])


def excess_betti(betti: np.ndarray) -> np.ndarray:
    """How far Betti numbers ``(..., 2)`` (b0, b1) are from those of a point (1, 0):
    ``(b0 - 1) + b1`` per entry, shape ``(...)``."""
    values = np.asarray(betti)
    return np.maximum(values[..., 0] - 1, 0) + values[..., 1]
