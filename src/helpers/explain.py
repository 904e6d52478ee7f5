"""Where the fusion models look (chapter 2, P1): Grad-CAM, localisation scores, inverse images.

Sections of this module:

* **Grad-CAM** -- :func:`grad_cam` on the image branch (P1: its 4th convolution) and
  :func:`grad_cam_1d` on the Betti-curve branch (its last, 1x1 convolution), both through captum's
  ``LayerGradCam``, in one of two :data:`CONVENTIONS` (this book's: the logit, min-max scaled;
  P1's: the softmax probability, divided by the maximum); :func:`predict_targets` gives the
  predicted classes to explain.
* **Localisation** -- :func:`iou` of thresholded maps with object masks (P1's measure),
  :func:`energy_in_mask`, a threshold-free share of the map inside the mask, and
  :func:`pointing_game`, whether the map's maximum lies on the object.
* **Topological inverse images** -- :func:`inverse_image_band`, P1's version: the pixels whose
  intensity lies in a window of filtration values ending where the 1-D Grad-CAM peaks; and
  :func:`inverse_image_pairs` / :func:`persistence_pair_pixels`: the pixels that create and kill
  the most persistent classes of the image's sublevel cubical filtration.

Conventions: models are :class:`~helpers.models.FusionNet` s called as ``model(image, topo)``;
``images`` are (N, C, H, W) float32 in [0, 1] (grey (N, H, W) or (N, 1, H, W) for the inverse
images), ``topo`` the (N, D, L) Betti curves of curve models or ``None`` for image-only models.
Every Grad-CAM map is scaled to [0, 1] per item; a constant map (in particular an all-zero one)
becomes 0 everywhere, since it singles out no region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import gudhi
import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from .topology import as_image_batch, check_count, check_homology_dims

DEFAULT_BATCH_SIZE = 64
"""Items per Grad-CAM or prediction pass: bounds the memory of activations and gradients."""

P1_WINDOW = 32
"""Width, in filtration bins, of P1's topological inverse image (of 100 bins)."""

CONVENTIONS = ("ours", "p1")
"""Grad-CAM conventions of :func:`grad_cam`: ``"ours"`` explains the target's logit and min-max
scales each map; ``"p1"`` (P1's code) explains the target's softmax probability and divides each
map by its maximum."""

PAIR_BIRTH = 1
"""Bit of :func:`persistence_pair_pixels` marking a pixel that creates a class."""

PAIR_DEATH = 2
"""Bit of :func:`persistence_pair_pixels` marking a pixel that kills a class."""


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _check_same_length(name: str, array: np.ndarray | torch.Tensor | None, n_items: int,
                       reference: str) -> None:
    """Raise ``ValueError`` unless ``array`` (when given) has ``n_items`` rows like ``reference``."""
    if array is not None and len(array) != n_items:
        raise ValueError(
            f"{name} has shape {tuple(array.shape)} but {reference} holds {n_items} items: "
            f"expected one row of {name} per item"
        )


def _model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters."""
    return next(model.parameters()).device


def _as_tensor(array: np.ndarray | torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """``array`` as a float32 tensor on ``device`` (``None`` stays ``None``)."""
    if array is None:
        return None
    return torch.as_tensor(array, dtype=torch.float32, device=device)


def _batches(n_items: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` items covering ``range(n_items)``."""
    for start in range(0, n_items, batch_size):
        yield slice(start, min(start + batch_size, n_items))


def _part(tensor: torch.Tensor | None, rows: slice) -> torch.Tensor | None:
    """``tensor[rows]``, or ``None`` for a missing input."""
    return None if tensor is None else tensor[rows]


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (no dropout) for the block, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------------


def predict_targets(model: nn.Module, images: np.ndarray | torch.Tensor | None,
                    topo: np.ndarray | torch.Tensor | None,
                    batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """The model's predicted classes: ``(N,)`` int64 argmax of the logits ``model(images, topo)``.

    ``images`` (N, C, H, W) and ``topo`` (N, D, L) as the model takes them (either may be
    ``None`` when the model has no branch for it). Runs in eval mode, ``batch_size`` items a pass.
    """
    device = _model_device(model)
    images_t, topo_t = _as_tensor(images, device), _as_tensor(topo, device)
    n_items = len(images_t if images_t is not None else topo_t)
    _check_same_length("topo", topo_t, n_items, "images")
    predictions = []
    with _evaluating(model), torch.no_grad():
        for rows in _batches(n_items, batch_size):
            predictions.append(model(_part(images_t, rows), _part(topo_t, rows)).argmax(dim=1))
    return torch.cat(predictions).cpu().numpy()


def scale_maps(maps: torch.Tensor, by_maximum: bool = False) -> np.ndarray:
    """Scale each item of ``maps`` (N, ...) to [0, 1]: min-max, or (``by_maximum``, for
    non-negative maps) divided by its maximum; constant maps (min-max) and all-zero maps become 0."""
    flat = maps.detach().flatten(start_dim=1).double().cpu().numpy()
    low = np.zeros((len(flat), 1)) if by_maximum else flat.min(axis=1, keepdims=True)
    spread = flat.max(axis=1, keepdims=True) - low
    scaled = np.divide(flat - low, spread, out=np.zeros_like(flat), where=spread > 0)
    return scaled.reshape(maps.shape)


def _layer_grad_cam(forward: Callable[..., torch.Tensor], layer: nn.Module, inputs: torch.Tensor,
                    other: torch.Tensor | None, targets: torch.Tensor, batch_size: int,
                    by_maximum: bool = False) -> np.ndarray:
    """Grad-CAM of ``layer`` for ``forward(inputs, other)``, upsampled to the input's size.

    ``inputs`` (N, C, *S) is the tensor whose spatial shape ``S`` (H, W) or (L,) the maps are
    resized to (bilinear or linear interpolation of the layer's map), ``other`` the model's other
    input (or ``None``). captum's ``LayerGradCam`` averages the layer's gradients over every
    dimension after the channel one -- (H, W) for a 2-D layer, the L positions for a 1-D one --
    so the same call is P1's Grad-CAM for both branches. Returns (N, *S) maps in [0, 1], scaled
    as :func:`scale_maps` says.
    """
    cam = LayerGradCam(forward, layer)
    size = tuple(inputs.shape[2:])
    mode = {1: "linear", 2: "bilinear"}[len(size)]
    maps = []
    for rows in _batches(len(inputs), batch_size):
        extra = None if other is None else (other[rows],)
        raw = cam.attribute(inputs[rows], target=targets[rows], additional_forward_args=extra,
                            relu_attributions=True)
        maps.append(LayerAttribution.interpolate(raw, size, interpolate_mode=mode)[:, 0])
    return scale_maps(torch.cat(maps), by_maximum)


def _targets_tensor(targets: np.ndarray | torch.Tensor | Sequence[int], n_items: int,
                    device: torch.device) -> torch.Tensor:
    """``targets`` as an int64 tensor of shape (n_items,); ``ValueError`` for another shape."""
    tensor = torch.as_tensor(targets, device=device).long()
    if tensor.shape != (n_items,):
        raise ValueError(
            f"targets have shape {tuple(tensor.shape)} but the inputs hold {n_items} items: "
            f"expected one class index per item, shape ({n_items},)"
        )
    return tensor


def grad_cam(model: nn.Module, images: np.ndarray | torch.Tensor, topo: np.ndarray | torch.Tensor | None,
             targets: np.ndarray | torch.Tensor | Sequence[int], layer: nn.Module | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE, convention: str = "ours") -> np.ndarray:
    """Grad-CAM of the image branch: where in each image the model looks for class ``targets``.

    For each item, the activations of ``layer`` (K channels) are weighted by the gradient of the
    target's output averaged over the layer's positions, summed over channels, passed through a
    ReLU, upsampled bilinearly to the image size (captum's ``LayerAttribution.interpolate``) and
    scaled to [0, 1]. ``convention`` (one of :data:`CONVENTIONS`): ``"ours"`` differentiates the
    target's logit and min-max scales the map; ``"p1"`` differentiates the target's softmax
    probability and divides the map by its maximum (P1's code; it divides before upsampling, we
    after, which can lower a map's maximum below 1 by at most the interpolation's smoothing). The
    model runs in eval mode (no dropout); its previous mode is restored.

    Args:
        model: a model with an image branch, called as ``model(images, topo)``.
        images: (N, C, H, W) float in [0, 1].
        topo: (N, D, L) Betti curves for fusion models, ``None`` for image-only models.
        targets: (N,) class indices to explain (predicted or true labels).
        layer: the layer to explain; default ``model.image_branch.relu4``, the 4th convolution's
            activated output (P1's choice).
        batch_size: items per pass.
        convention: ``"ours"`` or ``"p1"``.

    Returns:
        (N, H, W) float64 maps in [0, 1] (unitless relative importance).

    Raises:
        ValueError: when the model has no image branch, ``topo`` or ``targets`` do not hold one
            row per image, or ``convention`` is unknown.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown Grad-CAM convention {convention!r}; expected one of {CONVENTIONS}")
    if layer is None:
        if getattr(model, "image_branch", None) is None:
            raise ValueError("this model has no image branch (model.image_branch is None): "
                             "pass the layer to explain, or use grad_cam_1d for its curve branch")
        layer = model.image_branch.relu4
    device = _model_device(model)
    images_t, topo_t = _as_tensor(images, device), _as_tensor(topo, device)
    _check_same_length("topo", topo_t, len(images_t), "images")
    targets_t = _targets_tensor(targets, len(images_t), device)

    def probabilities(image: torch.Tensor, curves: torch.Tensor | None = None) -> torch.Tensor:
        return torch.softmax(model(image, curves), dim=1)

    forward = probabilities if convention == "p1" else model
    with _evaluating(model):
        return _layer_grad_cam(forward, layer, images_t, topo_t, targets_t, batch_size,
                               by_maximum=convention == "p1")


def _curve_layer(model: nn.Module) -> nn.Module:
    """``model.topo_branch.last_conv``; ``ValueError`` when the model has no curve branch."""
    layer = getattr(getattr(model, "topo_branch", None), "last_conv", None)
    if layer is None:
        branch = type(getattr(model, "topo_branch", None)).__name__
        raise ValueError(
            f"this model has no curve branch (its topological branch is {branch}): the 1-D "
            f"Grad-CAM needs a Betti-curve or landscape model such as 'cnn_bc' or 'topo_bc'"
        )
    return layer


def grad_cam_1d(model: nn.Module, images: np.ndarray | torch.Tensor | None,
                topo: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor | Sequence[int],
                layer: nn.Module | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """1-D Grad-CAM of the curve branch: which filtration bins the model weighs for ``targets``.

    The construction of :func:`grad_cam` on a 1-D convolution over the L bins: the gradient of the
    target logit averaged over the L positions weights each channel, the weighted channels are
    summed, ReLU'd, resized linearly to L (a no-op for the default layer, which keeps the length)
    and min-max normalised. P1 reads the result as a heat strip over the filtration.

    Args:
        model: a model with a curve branch (``'cnn_bc'``, ``'cnn_pl'``, ``'topo_bc'``).
        images: (N, C, H, W) float in [0, 1], or ``None`` for a model without image branch.
        topo: (N, D, L) curves as the model takes them.
        targets: (N,) class indices to explain.
        layer: the 1-D convolution to explain; default ``model.topo_branch.last_conv``.
        batch_size: items per pass.

    Returns:
        (N, L) float64 heat strips in [0, 1]; entry ``j`` belongs to filtration bin ``j``
        (filtration value ``samplings[d][j]`` of the featuriser in homology dimension ``d``).

    Raises:
        ValueError: when the model has no curve branch (and no ``layer`` is given), or ``images``
            or ``targets`` do not hold one row per curve.
    """
    layer = _curve_layer(model) if layer is None else layer
    device = _model_device(model)
    images_t, topo_t = _as_tensor(images, device), _as_tensor(topo, device)
    _check_same_length("images", images_t, len(topo_t), "topo")
    targets_t = _targets_tensor(targets, len(topo_t), device)

    # captum takes the curves as its input tensor and the images (possibly None) as an extra
    # argument, so models without an image branch work too
    def curves_first(curves: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        return model(image, curves)

    with _evaluating(model):
        return _layer_grad_cam(curves_first, layer, topo_t, images_t, targets_t, batch_size)


# --------------------------------------------------------------------------------------------
# Localisation scores
# --------------------------------------------------------------------------------------------


def _check_maps_and_masks(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``maps`` as float64 and ``masks`` as bool, after checking both are (N, H, W) alike."""
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ValueError(
            f"maps have shape {maps.shape} and masks {masks.shape}: expected both (N, H, W) "
            f"with the same shape"
        )
    return maps, masks


def iou(maps: np.ndarray, masks: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Intersection over union of each thresholded map with its mask (P1's localisation score).

    Map ``i`` binarised at threshold ``t`` is ``maps[i] >= t``. When both that region and the
    mask are empty the IoU is defined as 0 (nothing was found, so nothing was localised).

    Args:
        maps: (N, H, W) maps in [0, 1], e.g. from :func:`grad_cam`.
        masks: (N, H, W) bool object masks.
        thresholds: (T,) thresholds in the maps' units.

    Returns:
        (N, T) float64 IoU values in [0, 1].
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    levels = np.asarray(thresholds, dtype=np.float64).reshape(1, -1, 1, 1)
    regions = maps[:, None] >= levels
    intersection = (regions & masks[:, None]).sum(axis=(2, 3))
    union = (regions | masks[:, None]).sum(axis=(2, 3))
    return np.divide(intersection, union, out=np.zeros(union.shape), where=union > 0)


def energy_in_mask(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Share of each map's total mass that lies inside its mask (threshold-free localisation).

    Args:
        maps: (N, H, W) non-negative maps.
        masks: (N, H, W) bool object masks.

    Returns:
        (N,) float64 in [0, 1]: ``sum(map * mask) / sum(map)``, 0 for an all-zero map.
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    inside = np.where(masks, maps, 0.0).sum(axis=(1, 2))
    total = maps.sum(axis=(1, 2))
    return np.divide(inside, total, out=np.zeros(total.shape), where=total > 0)


def pointing_game(maps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Whether each map's maximum lies on its object: the pointing game of Zhang et al. (2018).

    A pixel is a hit when it lies within ``tolerance`` pixels of the mask (Chebyshev distance:
    the mask dilated by a (2 tolerance + 1)-pixel square). When several pixels share the maximum
    the score is the share of them that hit, so ties are neither rewarded nor punished by the
    order of the pixels; a constant map (in particular an all-zero one) points nowhere and scores 0.

    Args:
        maps: (N, H, W) maps.
        masks: (N, H, W) bool object masks.
        tolerance: pixels of slack around the mask, at least 0.

    Returns:
        (N,) float64 in [0, 1]: 1 when the (every) maximum hits, 0 when it misses.
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    if int(tolerance) != tolerance or tolerance < 0:
        raise ValueError(f"tolerance={tolerance!r}: expected a whole number of pixels, at least 0")
    if tolerance:
        size = 2 * int(tolerance) + 1
        masks = torch.nn.functional.max_pool2d(torch.as_tensor(masks[:, None], dtype=torch.float32), size,
                                               stride=1, padding=int(tolerance))[:, 0].numpy() > 0
    flat = maps.reshape(len(maps), -1)
    peaks = flat == flat.max(axis=1, keepdims=True)
    hits = (peaks & masks.reshape(len(masks), -1)).sum(axis=1) / peaks.sum(axis=1)
    return np.where(flat.min(axis=1) < flat.max(axis=1), hits, 0.0)


# --------------------------------------------------------------------------------------------
# Topological inverse images
# --------------------------------------------------------------------------------------------


def inverse_image_band(images: np.ndarray, heat_1d: np.ndarray, sample_values: np.ndarray,
                       window: int = P1_WINDOW) -> np.ndarray:
    """P1's topological inverse image: the pixels in the filtration band the curve branch weighs.

    For image ``i`` let ``p`` be the bin where ``heat_1d[i]`` peaks (the first one on ties); the
    inverse image keeps the pixels whose intensity lies in the closed window of filtration values
    ``[sample_values[max(0, p - window + 1)], sample_values[p]]`` -- ``window`` bins ending at the
    peak (P1: 32 of 100). ``sample_values`` must be one homology dimension's sampling of the fitted
    featuriser (``TopologicalFeatures.samplings[d]``, one range per dimension as in P1), which is
    in pixel-intensity units, so bins are mapped back to intensities through the filtration range
    actually used to compute that dimension's curve. Multiply the images by the result to zero the rest, as P1's figures do.

    Args:
        images: (N, H, W) or (N, 1, H, W) grey images, in the intensities the diagrams were
            computed from.
        heat_1d: (N, L) 1-D Grad-CAM strips, e.g. from :func:`grad_cam_1d`.
        sample_values: (L,) increasing filtration value of each bin, pixel-intensity units.
        window: band width in bins, at least 1.

    Returns:
        (N, H, W) bool masks of the kept pixels.

    Raises:
        ValueError: for a bad ``window`` or inputs whose shapes do not match.
    """
    window = check_count("window", window)
    batch = as_image_batch(images)
    heat = np.asarray(heat_1d, dtype=np.float64)
    values = np.asarray(sample_values, dtype=np.float64)
    if heat.ndim != 2 or values.shape != heat.shape[1:] or len(heat) != len(batch):
        raise ValueError(
            f"images have shape {batch.shape}, heat_1d {heat.shape} and sample_values "
            f"{values.shape}: expected (N, H, W), (N, L) and (L,)"
        )
    peaks = heat.argmax(axis=1)
    low = values[np.maximum(peaks - window + 1, 0)].reshape(-1, 1, 1)
    high = values[peaks].reshape(-1, 1, 1)
    return (batch >= low) & (batch <= high)


def _pair_cells(image: np.ndarray, homology_dims: tuple[int, ...]) -> list[np.ndarray]:
    """Finite persistence pairs of one (H, W) image's sublevel filtration, per dimension.

    Each entry (in the order of ``homology_dims``) is a (k, 2) int array of (birth pixel, death
    pixel) indices into ``image.ravel()`` (C order). gudhi's ``cofaces_of_persistence_pairs``
    numbers the top-dimensional cells in Fortran order (first axis fastest), so its indices are
    converted here.
    """
    complex_ = gudhi.CubicalComplex(top_dimensional_cells=image)
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    regular, _essential = complex_.cofaces_of_persistence_pairs()
    pairs = []
    for dim in homology_dims:
        cells = regular[dim] if dim < len(regular) else np.empty((0, 2), dtype=np.int64)
        rows, cols = np.unravel_index(np.reshape(cells, (-1, 2)), image.shape, order="F")
        pairs.append(np.ravel_multi_index((rows, cols), image.shape))
    return pairs


def _most_persistent(pairs: np.ndarray, flat_image: np.ndarray, n_classes: int) -> np.ndarray:
    """The ``n_classes`` rows of ``pairs`` (k, 2) with the longest positive bars, longest first."""
    persistence = flat_image[pairs[:, 1]] - flat_image[pairs[:, 0]]
    order = np.argsort(-persistence, kind="stable")
    return pairs[order[persistence[order] > 0][:n_classes]]


def persistence_pair_pixels(images: np.ndarray, n_classes: int = 1,
                            homology_dims: Sequence[int] = (0, 1)) -> np.ndarray:
    """Pixels creating and killing the most persistent classes of each image, as bit codes.

    Sublevel cubical filtration of each grey image (pixels are top-dimensional cells, as in
    :func:`~helpers.topology.cubical_diagrams`). In each dimension of ``homology_dims``, the
    ``n_classes`` finite classes with the longest bars (``death - birth``, in intensity units;
    bars of length 0 are ignored, essential classes have no death pixel and are left out) mark
    their birth pixel with :data:`PAIR_BIRTH` and their death pixel with :data:`PAIR_DEATH`.
    For H0 the birth pixel is a local minimum and the death pixel the saddle where its component
    merges into an older one; for H1 the birth pixel closes a loop and the death pixel (a local
    maximum inside it) fills its hole. Among pixels of equal intensity gudhi picks one.

    Args:
        images: (N, H, W) or (N, 1, H, W) grey images.
        n_classes: classes kept per homology dimension, at least 1.
        homology_dims: which of 0 and 1 to use.

    Returns:
        (N, H, W) uint8 codes: ``PAIR_BIRTH | PAIR_DEATH`` bits, 0 for other pixels (a pixel may
        carry both bits when it creates one class and kills another).
    """
    n_classes = check_count("n_classes", n_classes)
    dims = check_homology_dims(homology_dims)
    batch = as_image_batch(images)
    codes = np.zeros(batch.shape, dtype=np.uint8)
    for image, code in zip(batch, codes):
        flat_code = code.reshape(-1)
        for pairs in _pair_cells(image, dims):
            kept = _most_persistent(pairs, image.reshape(-1), n_classes)
            flat_code[kept[:, 0]] |= PAIR_BIRTH
            flat_code[kept[:, 1]] |= PAIR_DEATH
    return codes


def inverse_image_pairs(images: np.ndarray, n_classes: int = 1,
                        homology_dims: Sequence[int] = (0, 1)) -> np.ndarray:
    """Persistence-pair inverse image: (N, H, W) bool, True at the pixels that create or kill
    the ``n_classes`` most persistent finite classes of each dimension (see
    :func:`persistence_pair_pixels`, which also tells births from deaths)."""
    return persistence_pair_pixels(images, n_classes, homology_dims) != 0


def extreme_pixels_like(images: np.ndarray, marks: np.ndarray, brightest: bool = False) -> np.ndarray:
    """A model-free baseline of an inverse image: for each image, as many pixels as ``marks``
    keeps, chosen as the darkest (or ``brightest``) ones (ties broken by position), no network
    involved.

    Args:
        images: (N, H, W) or (N, 1, H, W) grey images.
        marks: (N, H, W) bool inverse images whose pixel counts are matched.
        brightest: pick the brightest pixels instead of the darkest.

    Returns:
        (N, H, W) bool masks of the chosen pixels, ``marks[i].sum()`` of them in image ``i``.
    """
    batch = as_image_batch(images)
    marks = np.asarray(marks, dtype=bool)
    if marks.shape != batch.shape:
        raise ValueError(f"marks have shape {marks.shape}, images {batch.shape}: expected the same (N, H, W)")
    flat = batch.reshape(len(batch), -1)
    order = np.argsort(-flat if brightest else flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None].repeat(len(flat), 0), axis=1)
    return (ranks < marks.reshape(len(marks), -1).sum(1, keepdims=True)).reshape(marks.shape)
