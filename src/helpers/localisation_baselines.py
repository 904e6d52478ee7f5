"""Model-free maps for chapter 2's localisation benchmark: what a Grad-CAM map must beat.

Each function returns maps scaled and thresholded like Grad-CAM maps (see
:func:`helpers.explain.grad_cam`), so the same scores apply (:func:`helpers.explain.iou`,
:func:`~helpers.explain.pointing_game`, :func:`~helpers.explain.energy_in_mask`):

* :func:`centre_prior` -- a fixed Gaussian on the image centre: "the object is in the middle";
* :func:`intensity_maps` -- the image itself (brightest pixels first) or its negative (darkest
  first);
* :func:`fixed_band` / :func:`best_fixed_band` -- P1's inverse-image band at one filtration
  position chosen without a network (the best position for the masks scored: a baseline that
  favours itself);
* :func:`layer_ceiling` -- the object mask seen at a layer's resolution: the mask average-pooled
  to the layer's grid, upsampled like Grad-CAM. It uses the answer, so it is no baseline but an
  approximate ceiling of what a map on that grid can score.

Shapes: ``images`` (N, H, W) or (N, 1, H, W) grey in [0, 1]; ``masks`` (N, H, W) bool; every map
(N, H, W) float64 in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import LayerAttribution

from .explain import P1_WINDOW, inverse_image_band, iou, scale_maps
from .topology import as_image_batch


def centre_prior(n: int, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """``n`` copies of a Gaussian of standard deviation ``sigma`` (pixels) centred on the image
    centre (``(H - 1) / 2, (W - 1) / 2``), min-max scaled: (n, H, W), 1 at the centre.
    Thresholded at ``t`` it is the disc of radius ``sigma * sqrt(2 ln(1 / t))`` (up to the
    scaling's small offset)."""
    if not sigma > 0:
        raise ValueError(f"sigma={sigma!r}: expected a positive width in pixels")
    rows, cols = np.arange(shape[0]) - (shape[0] - 1) / 2, np.arange(shape[1]) - (shape[1] - 1) / 2
    gaussian = np.exp(-(rows[:, None] ** 2 + cols[None] ** 2) / (2 * sigma ** 2))
    return scale_maps(torch.as_tensor(np.broadcast_to(gaussian, (n, *shape)).copy()))


def intensity_maps(images: np.ndarray, darkest: bool = False) -> np.ndarray:
    """Each image min-max scaled, or (``darkest``) its negative: a map that ranks pixels by
    brightness (or darkness) alone. (N, H, W) in [0, 1]; a constant image gives 0."""
    batch = as_image_batch(images)
    return scale_maps(torch.as_tensor(-batch if darkest else batch))


def fixed_band(images: np.ndarray, sample_values: np.ndarray, end_bin: int, window: int = P1_WINDOW) -> np.ndarray:
    """P1's inverse-image band ending at the same filtration bin ``end_bin`` for every image (a
    1-D Grad-CAM that always peaks there): (N, H, W) bool, see
    :func:`helpers.explain.inverse_image_band`. ``sample_values`` (L,) in intensity units."""
    batch = as_image_batch(images)
    values = np.asarray(sample_values, dtype=np.float64)
    if not 0 <= end_bin < len(values):
        raise ValueError(f"end_bin={end_bin!r}: expected a bin in 0 .. {len(values) - 1}")
    heat = np.zeros((len(batch), len(values)))
    heat[:, end_bin] = 1.0
    return inverse_image_band(batch, heat, values, window)


def best_fixed_band(images: np.ndarray, masks: np.ndarray, sample_values: np.ndarray,
                    window: int = P1_WINDOW) -> tuple[np.ndarray, int]:
    """The :func:`fixed_band` whose marks have the highest mean IoU with ``masks``, and its end
    bin (the first on ties). It is chosen on the masks it is scored on, so it flatters the
    baseline: a network that beats it beats every fixed band."""
    bands = [fixed_band(images, sample_values, end, window) for end in range(len(sample_values))]
    mean_iou = [iou(band.astype(float), masks, [0.5]).mean() for band in bands]
    best = int(np.argmax(mean_iou))
    return bands[best], best


def layer_ceiling(masks: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The object masks as a map on a layer's ``grid`` (rows, columns): each mask average-pooled
    to the grid (adaptive pooling), upsampled bilinearly to the image size as Grad-CAM maps are,
    and min-max scaled. (N, H, W) in [0, 1]; an empty mask gives 0."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"masks have shape {masks.shape}: expected (N, H, W)")
    pooled = torch.nn.functional.adaptive_avg_pool2d(torch.as_tensor(masks[:, None], dtype=torch.float32),
                                                     tuple(grid))
    return scale_maps(LayerAttribution.interpolate(pooled, masks.shape[1:], interpolate_mode="bilinear")[:, 0])
