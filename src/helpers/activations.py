"""Hidden-layer activations as point clouds, and the representational-similarity tools of P2's
discussion: linear CKA, the principal-component removal test of Ding et al. and layer matching.

Sections:

* **Point clouds** -- :func:`layer_names` picks layers by kind; :func:`point_clouds` runs the
  images through a network once, with forward hooks, and turns each layer's activation maps
  (N, C, H, W) into an (N, D) point cloud by one of :data:`CLOUD_METHODS`.
* **Similarity** -- :func:`linear_cka`, :func:`cka_matrix` on point clouds; on the full
  activation maps through their Gram matrices: :func:`gram_matrices`, :func:`cka_from_grams`,
  :func:`cka_matrix_from_grams`.
* **Sensitivity** -- :func:`remove_principal_components` (Ding, Denain & Steinhardt 2021), from
  either end of the spectrum (:data:`COMPONENT_ENDS`).
* **Layer matching** -- :func:`nearest_layers`, :func:`matching_share`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.preprocessing import KernelCenterer
from torch import nn

from helpers.hooks import forward_layers

from .resnet import BasicBlock

LAYER_KINDS = ("conv", "block")
"""``conv``: every Conv2d except the 1x1 projections of residual shortcuts (modules named
``...shortcut...``), its output before BatchNorm: P2's persistence layers, the 17 3x3
convolutions of a ResNet-18 (P2's ResNet has parameter-free shortcuts); ``block``: the output of
every residual block, after BatchNorm, the shortcut sum and ReLU."""

CLOUD_METHODS = ("top_l2", "gap", "random_projection", "random_interior")
"""How an activation map (C, H, W) becomes one point: the channel vector (C,) at the spatial
position of largest l2 norm (P2's choice for persistence); global average pooling (C,); the
flattened map (C*H*W,) times a fixed Gaussian matrix (n_components,); the channel vector at
one random interior position (P2's choice for Mapper)."""


# --------------------------------------------------------------------------------------------
# Point clouds
# --------------------------------------------------------------------------------------------


def layer_names(model: nn.Module, kind: str) -> list[str]:
    """Names (as in ``model.named_modules()``, in forward order) of the layers of ``kind`` (one
    of :data:`LAYER_KINDS`)."""
    if kind not in LAYER_KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; expected one of {LAYER_KINDS}")
    if kind == "block":
        return [name for name, module in model.named_modules() if isinstance(module, BasicBlock)]
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Conv2d) and "shortcut" not in name.split(".")]


def _top_l2(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): the channel vector at the position of largest l2 norm."""
    flat = maps.flatten(2)  # (B, C, H*W)
    best = flat.norm(dim=1).argmax(dim=1)  # (B,)
    return flat[torch.arange(len(flat)), :, best]


def _at_positions(maps: torch.Tensor, uniform: np.ndarray) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): the channel vector at one interior position per image, chosen by
    ``uniform`` (B, 2) numbers in [0, 1) (rows and columns 1 .. size-2; all of them when the map
    is narrower than 3)."""
    _, _, height, width = maps.shape
    def index(u: np.ndarray, size: int) -> torch.Tensor:
        low, count = (1, size - 2) if size >= 3 else (0, size)
        return torch.from_numpy(low + np.floor(u * count).astype(np.int64))
    rows, cols = index(uniform[:, 0], height), index(uniform[:, 1], width)
    return maps[torch.arange(len(maps)), :, rows, cols]


def _projection(features: int, n_components: int, seed: int, layer_index: int) -> torch.Tensor:
    """(features, n_components) Gaussian matrix with entries N(0, 1/n_components), fixed by
    ``(seed, layer_index)``: distances between projected points estimate the original ones."""
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, layer_index]).generate_state(1)[0]))
    return torch.randn(features, n_components, generator=generator) / np.sqrt(n_components)


def _as_images(images: np.ndarray) -> np.ndarray:
    """``images`` as a float32 (N, C, H, W) array; ``ValueError`` for another shape."""
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {batch.shape}")
    return batch


def point_clouds(model: nn.Module, images: np.ndarray, layers: Sequence[str], method: str, seed: int = 0,
                 batch_size: int = 250, n_components: int = 64, device: str = "cpu") -> dict[str, np.ndarray]:
    """One point per image for each of ``layers``: ``{layer: (N, D) float32}``.

    One forward pass over ``images`` ((N, C, H, W) float32, what the model takes) in batches,
    without gradients, with forward hooks on the named layers; the model is put in evaluation
    mode. ``method`` is one of :data:`CLOUD_METHODS`; D is the layer's channel count, or
    ``n_components`` for ``random_projection``. ``seed`` fixes the projection matrices and the
    random positions (per layer; independent of ``batch_size``).
    """
    if method not in CLOUD_METHODS:
        raise ValueError(f"unknown point-cloud method {method!r}; expected one of {CLOUD_METHODS}")
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"layers {missing} are not modules of the model; e.g. {layer_names(model, 'conv')[:3]}")
    images = _as_images(images)
    if n_components < 1:
        raise ValueError(f"n_components must be positive, got {n_components}")
    rng = {name: np.random.default_rng([seed, index]) for index, name in enumerate(layers)}
    positions = {name: rng[name].random((len(images), 2)) for name in layers}
    projections: dict[str, torch.Tensor] = {}
    def reduce(name: str, maps: torch.Tensor, rows: slice) -> torch.Tensor:
        maps = maps.float().cpu()
        if method == "top_l2":
            return _top_l2(maps)
        if method == "gap":
            return maps.mean(dim=(2, 3))
        if method == "random_interior":
            return _at_positions(maps, positions[name][rows])
        flat = maps.flatten(1)
        if name not in projections:
            projections[name] = _projection(flat.shape[1], n_components, seed, list(layers).index(name))
        return flat @ projections[name]

    chunks = forward_layers(model, images, layers, reduce, batch_size, device)
    return {name: torch.cat(chunks[name]).numpy().astype(np.float32) for name in layers}


# --------------------------------------------------------------------------------------------
# Similarity
# --------------------------------------------------------------------------------------------


def _as_cloud(points: np.ndarray, name: str) -> np.ndarray:
    cloud = np.asarray(points, dtype=np.float64)
    if cloud.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) array, got shape {cloud.shape}")
    return cloud


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same N inputs (Kornblith et
    al. 2019): ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc``
    (N, D1) and ``Yc`` (N, D2). In [0, 1]; 1 for representations equal up to an orthogonal
    transform and isotropic scaling."""
    x, y = _as_cloud(x, "x"), _as_cloud(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must describe the same inputs, got {len(x)} and {len(y)} rows")
    x, y = x - x.mean(0), y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    scale = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if scale == 0:
        raise ValueError("a representation is constant over the inputs; CKA is undefined")
    return float(cross / scale)


def cka_matrix(clouds: Sequence[np.ndarray], others: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """(L, M) linear CKA between every cloud of ``clouds`` and every cloud of ``others``
    (default: ``clouds`` itself, a symmetric matrix with ones on the diagonal)."""
    others = clouds if others is None else others
    return np.array([[linear_cka(a, b) for b in others] for a in clouds])


def gram_matrices(model: nn.Module, images: np.ndarray, layers: Sequence[str], batch_size: int = 250,
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """``{layer: (N, N) float64}``: the Gram matrix ``X X^T`` of each named layer's flattened
    activation maps ``X`` (N, C*H*W) for ``images`` ((N, C, H, W) float32, what the model takes).

    One forward pass in batches, without gradients, with forward hooks (the model is put in
    evaluation mode); each layer's maps are kept as float32 until the pass ends, then multiplied
    in float64, one layer at a time. The Gram matrices give linear CKA on the whole activation
    (:func:`cka_from_grams`) without a point-cloud summary."""
    # a copy: a later in-place operation (ReLU(inplace=True)) would change the hooked output
    chunks = forward_layers(model, _as_images(images), layers,
                            lambda _name, maps, _rows: maps.float().cpu().flatten(1).clone(), batch_size, device)
    grams = {}
    for name in layers:
        flat = torch.cat(chunks.pop(name)).numpy().astype(np.float64)
        grams[name] = flat @ flat.T
    return grams


def _as_gram(matrix: np.ndarray, name: str) -> np.ndarray:
    gram = np.asarray(matrix, dtype=np.float64)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise ValueError(f"{name} must be a square (N, N) Gram matrix, got shape {gram.shape}")
    return gram


def cka_from_grams(k: np.ndarray, l: np.ndarray) -> float:
    """Linear CKA of two representations of the same N inputs from their (N, N) Gram matrices
    ``K = X X^T`` and ``L = Y Y^T``: ``<HKH, HLH>_F / (||HKH||_F ||HLH||_F)`` with the centring
    matrix ``H = I - 11^T / N`` (HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), Kornblith et al.
    2019); equal to :func:`linear_cka` of X and Y, whatever their widths."""
    k, l = _as_gram(k, "k"), _as_gram(l, "l")
    if k.shape != l.shape:
        raise ValueError(f"the Gram matrices must describe the same inputs, got shapes {k.shape} and {l.shape}")
    centred_k, centred_l = (KernelCenterer().fit_transform(gram) for gram in (k, l))
    scale = np.linalg.norm(centred_k) * np.linalg.norm(centred_l)
    if scale <= 1e-12 * np.linalg.norm(k) * np.linalg.norm(l):
        raise ValueError("a representation is constant over the inputs (its centred Gram matrix is 0); "
                         "CKA is undefined")
    return float(np.sum(centred_k * centred_l) / scale)


def cka_matrix_from_grams(grams: Sequence[np.ndarray], others: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """(L, M) linear CKA between the representations of every (N, N) Gram matrix of ``grams`` and
    every one of ``others`` (default: ``grams`` itself, a symmetric matrix with ones on the
    diagonal): the Gram-matrix counterpart of :func:`cka_matrix`."""
    others = grams if others is None else others
    return np.array([[cka_from_grams(a, b) for b in others] for a in grams])


# --------------------------------------------------------------------------------------------
# Sensitivity: principal-component removal
# --------------------------------------------------------------------------------------------


COMPONENT_ENDS = ("bottom", "top")
"""Which principal components :func:`remove_principal_components` removes: those of smallest
variance (Ding, Denain & Steinhardt 2021 and P2's code keep the top r - k of the r = min(N, D)
principal directions), or those of largest variance."""


def removed_components(rank: int, k: int, end: str) -> slice:
    """The positions, among ``rank`` principal components ordered by decreasing variance, of the
    ``k`` that removal from ``end`` (one of :data:`COMPONENT_ENDS`) deletes."""
    if end not in COMPONENT_ENDS:
        raise ValueError(f"unknown end {end!r}; expected one of {COMPONENT_ENDS}")
    if not 0 <= k <= rank:
        raise ValueError(f"k={k} components cannot be removed from {rank} principal components")
    return slice(0, k) if end == "top" else slice(rank - k, rank)


def remove_principal_components(points: np.ndarray, k: int, end: str = "bottom") -> np.ndarray:
    """(N, D) float32 cloud with ``k`` of its r = min(N, D) principal components removed (Ding,
    Denain & Steinhardt 2021): the centred points are projected onto the orthogonal complement of
    the ``k`` principal directions of smallest (``end="bottom"``) or largest (``"top"``) variance,
    and the mean is added back. ``k = 0`` returns the cloud unchanged; ``k`` must not exceed r."""
    cloud = _as_cloud(points, "points")
    deleted = removed_components(min(cloud.shape), k, end)
    if k == 0:
        return cloud.astype(np.float32)
    mean = cloud.mean(0)
    centred = cloud - mean
    _, _, directions = np.linalg.svd(centred, full_matrices=False)  # (r, D) rows: principal directions
    removed = directions[deleted]
    return (centred - centred @ removed.T @ removed + mean).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Layer matching
# --------------------------------------------------------------------------------------------


def nearest_layers(distances: np.ndarray) -> np.ndarray:
    """For each row layer (of one network) the column layer (of another) at the smallest
    distance: ``distances`` (L, M) -> (L,) int column indices (ties: the first)."""
    matrix = np.asarray(distances, dtype=np.float64)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"distances must be a non-empty (L, M) matrix, got shape {matrix.shape}")
    return matrix.argmin(axis=1)


def matching_share(distances: np.ndarray, tolerance: int = 0) -> float:
    """Share of the row layers whose nearest column layer lies within ``tolerance`` positions of
    the same depth (``distances`` square, (L, L), layers in the same order in both networks)."""
    matrix = np.asarray(distances, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"layer matching needs a square (L, L) matrix, got shape {matrix.shape}")
    offsets = np.abs(nearest_layers(matrix) - np.arange(len(matrix)))
    return float(np.mean(offsets <= tolerance))
