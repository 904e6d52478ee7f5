"""Betti numbers of activation volumes at a threshold (P4's cubical homology of embeddings).

The activation of one image at one convolutional layer is a ``(C, H, W)`` volume, read as a 3-D
grey image. Its sublevel set at a threshold ``t`` (the voxels with value ``<= t``) is turned into
a cubical complex in one of two ways (:data:`CONSTRUCTIONS`):

``"V"`` (values on vertices; CubicalRipser's ``cripser``, which P4's code uses; gudhi's
    ``CubicalComplex(vertices=...)``): each voxel is a vertex; an edge, square or cube of the grid
    is in the complex when all its voxels are, so only voxels sharing a face connect.
``"T"`` (top-dimensional cells; ``tcripser``; gudhi's ``top_dimensional_cells=``): each voxel is
    a closed unit cube, so voxels touching at a face, an edge or a corner connect.

:func:`betti_numbers` counts b0, b1, b2 of that complex at one or several thresholds without
computing persistence: b0 is the number of connected components of the sublevel set (6- or
26-connected), b2 the number of bounded components of its complement (26- or 6-connected, the
dual connectivity), and b1 follows from the Euler characteristic, ``b1 = b0 + b2 - chi``, with
``chi`` counted cell by cell. :func:`reference_betti_numbers` reads the same numbers off gudhi's
full persistence diagrams (``birth <= t < death``); the tests and ``benchmarks/`` compare the two.

:func:`layer_betti` chains a forward pass (:func:`helpers.hooks.forward_layers`, all layers in one
pass), the standardisation of each volume and :func:`betti_numbers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import gudhi
import numpy as np
import torch
from scipy import ndimage
from torch import nn
from tqdm.auto import tqdm

from helpers.hooks import check_layers, forward_layers

CONSTRUCTIONS = ("V", "T")
"""``"V"``: values on vertices (P4's ``cripser``); ``"T"``: values on top-dimensional cells."""

VOLUME_HOMOLOGY_DIMS = (0, 1, 2)


def check_construction(construction: str) -> str:
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"unknown cubical construction {construction!r}; valid choices: {CONSTRUCTIONS} "
                         f"(V: values on vertices, as P4's cripser; T: values on top-dimensional cells)")
    return construction


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


# --------------------------------------------------------------------------------------------
# The engine: components and the Euler characteristic
# --------------------------------------------------------------------------------------------


def _structure(connectivity: int) -> np.ndarray:
    """Connectivity within each volume of an (N, C, H, W) batch, none across volumes:
    ``connectivity`` 1 is face adjacency (6 neighbours), 3 is face, edge or corner (26)."""
    inner = ndimage.generate_binary_structure(3, connectivity)
    structure = np.zeros((3, 3, 3, 3), dtype=bool)
    structure[1] = inner
    return structure


_FACE, _CORNER = _structure(1), _structure(3)


def _components_per_volume(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """Number of connected components of each volume of a boolean (N, C, H, W) batch, (N,)."""
    labels, count = ndimage.label(mask, structure=structure)
    owner = np.zeros(count + 1, dtype=np.int64)
    where = labels > 0
    owner[labels[where]] = np.nonzero(where)[0]
    return np.bincount(owner[1:], minlength=len(mask))


def _windows_all(mask: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """For each axis-aligned cell spanning ``axes`` (1 voxel wide along them), whether all the
    voxels of the 2 x ... x 2 window are in ``mask`` (N, C, H, W) -- the V-construction's cells."""
    cells = mask
    for axis in axes:
        low = [slice(None)] * 4
        high = [slice(None)] * 4
        low[axis], high[axis] = slice(None, -1), slice(1, None)
        cells = cells[tuple(low)] & cells[tuple(high)]
    return cells


def _count_per_volume(cells: np.ndarray) -> np.ndarray:
    return cells.reshape(len(cells), -1).sum(axis=1)


def _euler_vertices(mask: np.ndarray) -> np.ndarray:
    """Euler characteristic of each volume's V-construction complex (N,): vertices - edges +
    squares - cubes, the cells whose voxels are all in ``mask``."""
    chi = _count_per_volume(mask).astype(np.int64)
    for size, sign in ((1, -1), (2, 1), (3, -1)):
        for axes in _axis_sets(size):
            chi += sign * _count_per_volume(_windows_all(mask, axes))
    return chi


def _axis_sets(size: int) -> list[tuple[int, ...]]:
    spatial = (1, 2, 3)
    return [axes for axes in product(spatial, repeat=size) if list(axes) == sorted(set(axes))]


def _euler_top_cells(mask: np.ndarray) -> np.ndarray:
    """Euler characteristic of the union of the closed unit cubes of the voxels in ``mask``
    (T-construction), (N,): a cell of the grid is in the union when any voxel containing it is."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1), (1, 1)))
    chi = -_count_per_volume(mask).astype(np.int64)  # the cubes themselves
    for size, sign in ((0, 1), (1, -1), (2, 1)):
        # cells of dimension ``size``: spanning ``size`` axes, shared by voxels along the others
        for spanned in _axis_sets(size) if size else [()]:
            shared = [axis for axis in (1, 2, 3) if axis not in spanned]
            cells = np.zeros((), dtype=bool)
            for offsets in product((0, 1), repeat=len(shared)):
                window = [slice(None)] * 4
                for axis in spanned:
                    window[axis] = slice(1, -1)
                for axis, offset in zip(shared, offsets):
                    window[axis] = slice(offset, padded.shape[axis] - 1 + offset)
                cells = cells | padded[tuple(window)]
            chi += sign * _count_per_volume(cells)
    return chi


def _betti_of_mask(mask: np.ndarray, construction: str) -> np.ndarray:
    """(N, 3) b0, b1, b2 of the cubical complex of each boolean volume of (N, C, H, W)."""
    inside, outside = (_FACE, _CORNER) if construction == "V" else (_CORNER, _FACE)
    b0 = _components_per_volume(mask, inside)
    background = np.pad(~mask, ((0, 0), (1, 1), (1, 1), (1, 1)), constant_values=True)
    b2 = _components_per_volume(background, outside) - 1
    chi = _euler_vertices(mask) if construction == "V" else _euler_top_cells(mask)
    return np.stack([b0, b0 + b2 - chi, b2], axis=1)


def betti_numbers(volumes: np.ndarray, thresholds: Sequence[float], construction: str = "V") -> np.ndarray:
    """Betti numbers b0, b1, b2 of the sublevel complex of each volume at each threshold.

    Args:
        volumes: ``(N, C, H, W)`` finite values.
        thresholds: filtration values; a voxel is in the sublevel set when its value is ``<= t``.
        construction: ``"V"`` or ``"T"`` (:data:`CONSTRUCTIONS`).

    Returns:
        int64 ``(n_thresholds, N, 3)``; equal to :func:`reference_betti_numbers`.
    """
    batch = as_volume_batch(volumes)
    check_construction(construction)
    grid = np.asarray(thresholds, dtype=np.float64)
    if grid.ndim != 1 or len(grid) == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(f"thresholds must be a non-empty 1-D sequence of finite values, got {thresholds!r}")
    return np.stack([_betti_of_mask(batch <= t, construction) for t in grid])


def reference_betti_numbers(volumes: np.ndarray, thresholds: Sequence[float], construction: str = "V") -> np.ndarray:
    """The same numbers as :func:`betti_numbers`, read off gudhi's persistence diagrams (Z/2):
    intervals with ``birth <= t < death``. Slow; the check of the engine."""
    batch = as_volume_batch(volumes)
    check_construction(construction)
    grid = np.asarray(thresholds, dtype=np.float64)
    out = np.zeros((len(grid), len(batch), 3), dtype=np.int64)
    for index, volume in enumerate(batch):
        argument = {"vertices": volume} if construction == "V" else {"top_dimensional_cells": volume}
        complex_ = gudhi.CubicalComplex(**argument)
        complex_.compute_persistence(homology_coeff_field=2, min_persistence=-1)
        for dim in VOLUME_HOMOLOGY_DIMS:
            pairs = complex_.persistence_intervals_in_dimension(dim).reshape(-1, 2)
            alive = (pairs[None, :, 0] <= grid[:, None]) & (grid[:, None] < pairs[None, :, 1])
            out[:, index, dim] = alive.sum(axis=1)
    return out


# --------------------------------------------------------------------------------------------
# Betti numbers of a network's layers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerBetti:
    """Betti numbers of the activation volumes of ``N`` images at ``L`` layers.

    ``numbers``: int64 ``(n_thresholds, N, L, 3)`` (b0, b1, b2); ``thresholds``: ``(n_thresholds,)``
    in standard deviations of each volume; ``voxels``: ``(L,)`` voxels per volume (C * H * W)."""

    numbers: np.ndarray
    thresholds: np.ndarray
    voxels: np.ndarray

    def at(self, threshold: float) -> np.ndarray:
        """``(N, L, 3)`` Betti numbers at one of the computed thresholds."""
        matches = np.flatnonzero(np.isclose(self.thresholds, threshold))
        if len(matches) == 0:
            raise ValueError(f"threshold {threshold} was not computed; computed: {self.thresholds.tolist()}")
        return self.numbers[matches[0]]


def channel_order(n_channels: int, seed: int, layer_index: int) -> np.ndarray:
    """A random order of ``n_channels`` channels, fixed by ``(seed, layer_index)``, that is
    neither the identity nor the reversal (both are symmetries of the grid and leave every Betti
    number unchanged); two or fewer channels keep their order."""
    if n_channels <= 2:
        return np.arange(n_channels)
    rng = np.random.default_rng([seed, layer_index])
    while True:
        order = rng.permutation(n_channels)
        if not (np.array_equal(order, np.arange(n_channels)) or np.array_equal(order, np.arange(n_channels)[::-1])):
            return order


def layer_betti(model: nn.Module, images: np.ndarray, layers: Sequence[str], thresholds: Sequence[float],
                construction: str = "V", channel_seed: int | None = None, batch_size: int = 100,
                progress: bool = True) -> LayerBetti:
    """Betti numbers of the standardised activation volume of every image at every layer.

    One forward pass over ``images`` ((N, C, H, W) float32) in batches; each layer's ``(C, H, W)``
    output volumes are standardised (:func:`standardise`) and counted at every threshold with
    :func:`betti_numbers`. With ``channel_seed`` set, the channels of each layer are first put in a
    random order (:func:`channel_order`, one per layer, the same for every image): the network's
    function is unchanged, the stacking of its activation maps is not. Runs on the CPU.
    """
    check_construction(construction)
    grid = np.asarray(thresholds, dtype=np.float64)
    orders: dict[str, np.ndarray] = {}
    voxels: dict[str, int] = {}

    def count(name: str, output: torch.Tensor, _rows: slice) -> np.ndarray:
        volume = output.double().cpu().numpy()
        if volume.ndim != 4:
            raise ValueError(f"layer {name!r} outputs shape {tuple(volume.shape)}: expected (N, C, H, W) volumes")
        voxels[name] = int(np.prod(volume.shape[1:]))
        if channel_seed is not None:
            if name not in orders:
                orders[name] = channel_order(volume.shape[1], channel_seed, list(layers).index(name))
            volume = volume[:, orders[name]]
        return betti_numbers(standardise(volume), grid, construction)

    batches = range(0, len(images), batch_size)
    parts: list[dict[str, list[np.ndarray]]] = []
    for start in tqdm(batches, desc="Betti numbers of volumes", unit="batch", disable=not progress):
        parts.append(forward_layers(model, images[start:start + batch_size], layers, count, batch_size))
    numbers = np.stack([np.concatenate([part[name][0] for part in parts], axis=1) for name in layers], axis=2)
    return LayerBetti(numbers, grid, np.array([voxels[name] for name in layers], dtype=np.int64))


def engine_agreement(model: nn.Module, images: np.ndarray, layers: Sequence[str], thresholds: Sequence[float],
                     construction: str, n_volumes: int, seed: int) -> dict[str, int]:
    """How many of ``n_volumes`` standardised activation volumes of ``model`` (drawn at random
    over images and layers, fixed by ``seed``) get the same Betti numbers at every threshold from
    :func:`betti_numbers` and from :func:`reference_betti_numbers`: ``{"volumes", "equal"}``."""
    outputs = forward_layers(model, images, layers, lambda _name, output, _rows: output.double().cpu().numpy(),
                             batch_size=len(images))
    rng = np.random.default_rng(seed)
    picks = [(layers[int(rng.integers(len(layers)))], int(rng.integers(len(images)))) for _ in range(n_volumes)]
    equal = 0
    for layer, image in picks:
        volume = standardise(outputs[layer][0][image:image + 1])
        equal += int(np.array_equal(betti_numbers(volume, thresholds, construction),
                                    reference_betti_numbers(volume, thresholds, construction)))
    return {"volumes": n_volumes, "equal": equal}
