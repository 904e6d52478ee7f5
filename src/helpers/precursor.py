"""The precursor of P4: Betti numbers of each class as a point cloud, layer by layer
(Naitzat, Zhitnikov & Lim, 2020, "Topology of deep neural networks").

:func:`nested_rings` draws two classes of known topology in the plane; :class:`RingMLP` is a
small fully connected network; :func:`knn_betti` counts b0, b1 of the Vietoris-Rips complex of a
k-nearest-neighbour graph metric (in hops, so that layers of different scales are comparable);
:func:`layerwise_knn_betti` does so at the input and after every hidden layer, and
:func:`excess_betti` measures how far the numbers are from those of a point.
"""

from __future__ import annotations

import gudhi
import numpy as np
import torch
from scipy.sparse.csgraph import dijkstra
from sklearn.neighbors import kneighbors_graph
from torch import nn

from helpers.hooks import layer_outputs
from helpers.train import Examples, TrainConfig, fit


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
