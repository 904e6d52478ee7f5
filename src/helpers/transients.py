"""Simulated transient-vs-bogus difference-image cutouts with exact object masks.

P1's "transient versus bogus" cutouts are private; this module draws a public stand-in with the
same shape of problem: single-band ``size x size`` cutouts (38 x 38 by default) centred on a
detection in a difference image, about 10% of them real point sources and the rest subtraction
artefacts. Every quantity below is in units of the background noise's standard deviation
(``sigma_n = 1``) and of pixels; positions are (row, column) with pixel centres at integers.

Generative model of one cutout::

    image = scale( object + noise + gradient + texture )

``object`` is the noiseless profile of the thing that decides the label, sampled at pixel
centres, of one of these kinds:

``real`` (label 1)
    a point source: a circular Gaussian PSF with FWHM uniform in [1.5, 4] px, centred uniformly
    within +-2 px of the cutout centre (sub-pixel), with signal-to-noise ratio S/N log-uniform in
    [5, 100]. S/N is that of optimal PSF photometry, so the peak is
    ``S/N / (sqrt(pi) * sigma_psf)``.
``dipole`` (label 0)
    a misaligned subtraction: a positive and a negative PSF lobe (same FWHM law) separated by
    0.6 to 3 px in a random direction; lobe ratio 1 for 40% of them, else log-uniform in
    [0.4, 2.5] (unequal lobes, either sign dominant); S/N of the positive lobe in [5, 100].
``cosmic_ray``
    1 to 3 edge-connected single pixels (no PSF: sharper than any real source) near the centre,
    first pixel 8 to 150 sigma_n, the others 0.3 to 1 times as bright.
``streak``
    a cosmic-ray or satellite track: a line segment through a point within +-3 px of the centre,
    any direction, 10 px to 1.5 ``size`` long, Gaussian cross-section of width 0.5 to 0.9 px,
    amplitude 5 to 60 sigma_n.
``bad_line``
    a bad row or column, 1 or 2 px wide, within +-6 px of the centre, full length or a partial
    run of at least 10 px, amplitude 3 to 30 sigma_n of either sign.
``ring``
    the residual of a bright star: an annulus of radius 3 to 9 px and Gaussian width 0.6 to
    1.5 px, amplitude 3 to 40 sigma_n, with a dark core (a negative Gaussian of width 1 to 2 px
    and depth 0.2 to 1.5 times the annulus amplitude) in half of them.
``noise``
    no object at all: the detection was a fluctuation of the background.

The background is the same for every kind and carries no information about the label:
white Gaussian noise (sigma_n = 1); a linear gradient in a random direction reaching 0 to 3
sigma_n at the cutout's edge; and a texture, white noise smoothed by a Gaussian of width 1.5 to
4 px, rescaled to unit standard deviation and multiplied by an amplitude uniform in [0, 1].
Amplitudes drawn "in [a, b]" for S/N and brightness are log-uniform.

Masks are the exact support of the object: the pixels where ``|object| >= MASK_FRACTION *
max|object|`` (``MASK_FRACTION = 0.2``), so they are never empty. For ``noise`` cutouts, which
have no object, the mask is the 3 x 3 neighbourhood of the brightest background pixel within
4 px of the centre.

Finally every image is scaled to [0, 1] (``scaling``): ``"per_image"`` (the default) by its own
minimum and maximum, which removes the absolute brightness (a faint source and a bright cosmic
ray both peak at 1); ``"asinh"`` by one fixed map for all cutouts,
``(asinh(x / ASINH_SOFTENING) + a) / (2 a)`` with ``a = asinh(ASINH_LIMIT / ASINH_SOFTENING)``,
values beyond +-``ASINH_LIMIT`` sigma_n clipped: the astronomers' stretch, linear near the noise
and logarithmic for bright objects, which keeps brightness comparable across cutouts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

BOGUS_KINDS = ("dipole", "cosmic_ray", "streak", "bad_line", "ring", "noise")
BOGUS_WEIGHTS = (0.30, 0.15, 0.15, 0.10, 0.10, 0.20)
KINDS = ("real", *BOGUS_KINDS)
MASK_FRACTION = 0.2
NOISE_PEAK_RADIUS = 4.0
FWHM_RANGE = (1.5, 4.0)
REAL_SNR_RANGE = (5.0, 100.0)
MIN_SIZE = 20
CHUNK_SIZE = 2048
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
SCALINGS = ("per_image", "asinh")
ASINH_SOFTENING = 3.0
ASINH_LIMIT = 200.0


class Cutouts(NamedTuple):
    """Simulated cutouts: images (n, size, size) float32 in [0, 1], labels (n,) int64 with
    1 = real, masks (n, size, size) bool, kinds (n,) str naming the generating kind."""

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    kinds: np.ndarray


def simulate(n: int, *, seed: int | tuple[int, ...] = 0, real_fraction: float = 0.1,
             size: int = 38, scaling: str = "per_image") -> Cutouts:
    """Draw ``n`` cutouts (see the module docstring for the generative model).

    Exactly ``round(n * real_fraction)`` cutouts are real, at random positions in the batch;
    the bogus kinds are drawn with probabilities ``BOGUS_WEIGHTS``. The result depends only on
    ``(n, seed, real_fraction, size, scaling)``; ``seed`` may be a tuple (e.g. ``(seed, split)``)
    to derive independent streams; ``scaling`` is one of ``SCALINGS`` (module docstring).
    """
    _check_arguments(n, real_fraction, size)
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r}; expected one of {SCALINGS}")
    root = np.random.SeedSequence(seed)
    rng = np.random.default_rng(root.spawn(1)[0])
    kinds = _draw_kinds(rng, n, real_fraction)
    starts = range(0, n, CHUNK_SIZE)
    chunk_seeds = root.spawn(len(starts) + 1)[1:]
    parts = [_render_chunk(kinds[start:start + CHUNK_SIZE], np.random.default_rng(chunk_seed), size, scaling)
             for start, chunk_seed in tqdm(list(zip(starts, chunk_seeds)), desc="simulating cutouts",
                                           unit="chunk", disable=len(starts) < 4, leave=False)]
    images = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, size, size), np.float32)
    masks = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, size, size), bool)
    labels = (kinds == "real").astype(np.int64)
    return Cutouts(images, labels, masks, kinds)


def _check_arguments(n: int, real_fraction: float, size: int) -> None:
    """Raise ``ValueError`` for a negative ``n``, a fraction outside [0, 1] or a tiny size."""
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not 0.0 <= real_fraction <= 1.0:
        raise ValueError(f"real_fraction must lie in [0, 1], got {real_fraction!r}")
    if int(size) != size or size < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE} px, got {size!r}")


def _draw_kinds(rng: np.random.Generator, n: int, real_fraction: float) -> np.ndarray:
    """(n,) kind names: exactly round(n * real_fraction) 'real', the rest bogus kinds."""
    n_real = int(round(n * real_fraction))
    bogus = rng.choice(np.array(BOGUS_KINDS), size=n - n_real, p=BOGUS_WEIGHTS)
    kinds = np.concatenate([np.full(n_real, "real", dtype=bogus.dtype), bogus]).astype("<U10")
    return kinds[rng.permutation(n)]


def _render_chunk(kinds: np.ndarray, rng: np.random.Generator, size: int, scaling: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Images (m, size, size) float32 in [0, 1] and masks (m, size, size) bool for ``kinds``."""
    m = len(kinds)
    objects = np.zeros((m, size, size))
    for kind, render in _RENDERERS.items():
        where = np.flatnonzero(kinds == kind)
        if where.size:
            objects[where] = render(rng, where.size, size)
    background = backgrounds(rng, m, size)
    masks = object_masks(objects)
    is_noise = kinds == "noise"
    masks[is_noise] = noise_peak_masks(background[is_noise])
    scale = minmax_scale if scaling == "per_image" else asinh_scale
    return scale(objects + background), masks


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of the pixel centres, each (1, size, size) float64."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    return rows[None], cols[None]


def _column(values: np.ndarray) -> np.ndarray:
    """(m,) -> (m, 1, 1) for broadcasting against (m, size, size) images."""
    return np.asarray(values, dtype=np.float64)[:, None, None]


def _log_uniform(rng: np.random.Generator, low: float, high: float, m: int) -> np.ndarray:
    """(m,) samples whose logarithm is uniform on [log low, log high]."""
    return np.exp(rng.uniform(np.log(low), np.log(high), m))


def gaussian_profiles(row: np.ndarray, col: np.ndarray, sigma: np.ndarray, peak: np.ndarray,
                      size: int) -> np.ndarray:
    """Circular Gaussians sampled at pixel centres: (m, size, size).

    ``row``, ``col`` (m,) centres in px, ``sigma`` (m,) widths in px, ``peak`` (m,) amplitudes.
    """
    rows, cols = pixel_grid(size)
    r2 = (rows - _column(row)) ** 2 + (cols - _column(col)) ** 2
    return _column(peak) * np.exp(-r2 / (2.0 * _column(sigma) ** 2))


def _psf_sigma(rng: np.random.Generator, m: int) -> np.ndarray:
    """(m,) Gaussian PSF widths in px for FWHM uniform in ``FWHM_RANGE``."""
    return rng.uniform(*FWHM_RANGE, m) / FWHM_PER_SIGMA


def _near_centre(rng: np.random.Generator, m: int, size: int, spread: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(m,) rows and (m,) columns uniform within +-spread px of the cutout centre."""
    centre = (size - 1) / 2.0
    return centre + rng.uniform(-spread, spread, m), centre + rng.uniform(-spread, spread, m)


def psf_peak(snr: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Peak of a Gaussian PSF of width ``sigma`` px whose optimal-photometry S/N is ``snr``
    in unit white noise: ``snr / (sqrt(pi) * sigma)``."""
    return snr / (np.sqrt(np.pi) * sigma)


def point_sources(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) real transients: Gaussian PSFs near the centre, S/N in REAL_SNR_RANGE."""
    sigma = _psf_sigma(rng, m)
    row, col = _near_centre(rng, m, size, 2.0)
    snr = _log_uniform(rng, *REAL_SNR_RANGE, m)
    return gaussian_profiles(row, col, sigma, psf_peak(snr, sigma), size)


def dipoles(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) misaligned-subtraction dipoles: a positive and a negative PSF lobe."""
    sigma = _psf_sigma(rng, m)
    row, col = _near_centre(rng, m, size, 2.0)
    peak = psf_peak(_log_uniform(rng, 5.0, 100.0, m), sigma)
    ratio = np.where(rng.random(m) < 0.4, 1.0, _log_uniform(rng, 0.4, 2.5, m))
    half = rng.uniform(0.6, 3.0, m) / 2.0
    angle = rng.uniform(0.0, 2.0 * np.pi, m)
    d_row, d_col = half * np.sin(angle), half * np.cos(angle)
    positive = gaussian_profiles(row + d_row, col + d_col, sigma, peak, size)
    negative = gaussian_profiles(row - d_row, col - d_col, sigma, ratio * peak, size)
    return positive - negative


def cosmic_rays(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) cosmic-ray hits: 1 to 3 edge-connected bright single pixels."""
    centre = (size - 1) // 2
    n_pixels = rng.integers(1, 4, m)
    steps = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])
    walk = steps[rng.integers(0, 4, (m, 2))]
    start = centre + rng.integers(-2, 3, (m, 1, 2))
    pixels = np.clip(start + np.concatenate([np.zeros((m, 1, 2), int), np.cumsum(walk, 1)], 1),
                     0, size - 1)
    brightness = _log_uniform(rng, 8.0, 150.0, m)[:, None] * np.concatenate(
        [np.ones((m, 1)), rng.uniform(0.3, 1.0, (m, 2))], 1)
    brightness[np.arange(3)[None, :] >= n_pixels[:, None]] = 0.0
    objects = np.zeros((m, size * size))
    image_index = np.repeat(np.arange(m), 3)
    flat = (pixels[..., 0] * size + pixels[..., 1]).ravel()
    np.add.at(objects, (image_index, flat), brightness.ravel())
    return objects.reshape(m, size, size)


def streaks(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) cosmic-ray or satellite streaks: sharp line segments near the centre."""
    row, col = _near_centre(rng, m, size, 3.0)
    angle = _column(rng.uniform(0.0, np.pi, m))
    half_length = _column(rng.uniform(10.0, 1.5 * size, m) / 2.0)
    width = _column(rng.uniform(0.5, 0.9, m))
    amplitude = _column(_log_uniform(rng, 5.0, 60.0, m))
    rows, cols = pixel_grid(size)
    d_row, d_col = rows - _column(row), cols - _column(col)
    along = d_row * np.sin(angle) + d_col * np.cos(angle)
    across = d_row * np.cos(angle) - d_col * np.sin(angle)
    taper = np.clip(half_length + 0.5 - np.abs(along), 0.0, 1.0)
    return amplitude * np.exp(-across**2 / (2.0 * width**2)) * taper


def bad_lines(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) bad rows or columns: 1-2 px wide, full or partial, either sign."""
    rows, cols = pixel_grid(size)
    is_row = _column(rng.random(m) < 0.5)
    across = np.where(is_row, rows, cols)
    along = np.where(is_row, cols, rows)
    first = _column((size - 1) // 2 + rng.integers(-6, 7, m))
    width = _column(rng.integers(1, 3, m))
    full = rng.random(m) < 0.5
    run = rng.integers(10, size + 1, m)
    start = np.where(full, 0, rng.integers(0, size - run + 1))
    stop = np.where(full, size, start + run)
    inside = ((across >= first) & (across < first + width)
              & (along >= _column(start)) & (along < _column(stop)))
    sign = np.where(rng.random(m) < 0.5, -1.0, 1.0)
    return _column(sign * _log_uniform(rng, 3.0, 30.0, m)) * inside


def rings(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) bright-star residuals: annuli, half of them with a dark core."""
    row, col = _near_centre(rng, m, size, 1.5)
    radius = _column(rng.uniform(3.0, 9.0, m))
    width = _column(rng.uniform(0.6, 1.5, m))
    amplitude = _log_uniform(rng, 3.0, 40.0, m)
    rows, cols = pixel_grid(size)
    distance = np.sqrt((rows - _column(row)) ** 2 + (cols - _column(col)) ** 2)
    annulus = _column(amplitude) * np.exp(-((distance - radius) ** 2) / (2.0 * width**2))
    depth = np.where(rng.random(m) < 0.5, rng.uniform(0.2, 1.5, m), 0.0) * amplitude
    core = gaussian_profiles(row, col, rng.uniform(1.0, 2.0, m), depth, size)
    return annulus - core


def no_objects(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) zeros: the ``noise`` kind has no object."""
    return np.zeros((m, size, size))


_RENDERERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "real": point_sources,
    "dipole": dipoles,
    "cosmic_ray": cosmic_rays,
    "streak": streaks,
    "bad_line": bad_lines,
    "ring": rings,
    "noise": no_objects,
}


def backgrounds(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) task-irrelevant background: white noise + gradient + texture."""
    return (rng.standard_normal((m, size, size)) + gradients(rng, m, size)
            + textures(rng, m, size))


def gradients(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) linear ramps in a random direction, 0 to 3 sigma_n at the edge."""
    rows, cols = pixel_grid(size)
    centre, half = (size - 1) / 2.0, size / 2.0
    angle = _column(rng.uniform(0.0, 2.0 * np.pi, m))
    slope = _column(rng.uniform(0.0, 3.0, m)) / half
    return slope * ((rows - centre) * np.sin(angle) + (cols - centre) * np.cos(angle))


def textures(rng: np.random.Generator, m: int, size: int) -> np.ndarray:
    """(m, size, size) smoothed white noise (Gaussian width 1.5-4 px, via FFT, periodic),
    scaled to unit standard deviation times an amplitude uniform in [0, 1]."""
    white = rng.standard_normal((m, size, size))
    width = _column(rng.uniform(1.5, 4.0, m))
    f_row = np.fft.fftfreq(size)[None, :, None]
    f_col = np.fft.rfftfreq(size)[None, None, :]
    transfer = np.exp(-2.0 * (np.pi * width) ** 2 * (f_row**2 + f_col**2))
    smooth = np.fft.irfft2(np.fft.rfft2(white) * transfer, s=(size, size))
    smooth /= smooth.std(axis=(1, 2), keepdims=True)
    return _column(rng.uniform(0.0, 1.0, m)) * smooth


def object_masks(objects: np.ndarray) -> np.ndarray:
    """(m, H, W) bool: pixels where ``|object| >= MASK_FRACTION * max|object|`` per image.

    An all-zero object gives an all-True mask here; callers replace those (``noise`` kind).
    """
    magnitude = np.abs(objects)
    return magnitude >= MASK_FRACTION * magnitude.max(axis=(1, 2), keepdims=True)


def noise_peak_masks(background: np.ndarray) -> np.ndarray:
    """(m, H, W) bool: the 3 x 3 neighbourhood of each image's brightest pixel within
    ``NOISE_PEAK_RADIUS`` px of the centre."""
    m, height, width = background.shape
    rows, cols = np.mgrid[0:height, 0:width]
    central = np.hypot(rows - (height - 1) / 2.0, cols - (width - 1) / 2.0) <= NOISE_PEAK_RADIUS
    peak = np.where(central[None], background, -np.inf).reshape(m, -1).argmax(axis=1)
    peak_row, peak_col = np.divmod(peak, width)
    return ((np.abs(rows[None] - peak_row[:, None, None]) <= 1)
            & (np.abs(cols[None] - peak_col[:, None, None]) <= 1))


def minmax_scale(images: np.ndarray) -> np.ndarray:
    """(m, H, W) -> float32 in [0, 1], each image scaled by its own minimum and maximum."""
    low = images.min(axis=(1, 2), keepdims=True)
    span = images.max(axis=(1, 2), keepdims=True) - low
    return ((images - low) / np.where(span > 0, span, 1.0)).astype(np.float32)


def asinh_scale(images: np.ndarray) -> np.ndarray:
    """(m, H, W) in units of sigma_n -> float32 in [0, 1] by one fixed asinh stretch for every
    image (module docstring): brightness stays comparable across images."""
    limit = np.arcsinh(ASINH_LIMIT / ASINH_SOFTENING)
    stretched = np.arcsinh(np.clip(images, -ASINH_LIMIT, ASINH_LIMIT) / ASINH_SOFTENING)
    return ((stretched + limit) / (2.0 * limit)).astype(np.float32)


# ----------------------------------------------------------------------------- distractors

DISTRACTORS = ("texture", "noise", "artefact")
DISTRACTOR_MIN_DISTANCE = 10.0


def add_distractor(images: np.ndarray, kind: str, *, seed: int = 0, strength: float = 1.0,
                   scaling: str = "per_image") -> tuple[np.ndarray, np.ndarray]:
    """Add task-irrelevant structure to images (n, H, W) in [0, 1] and bring them back to
    [0, 1] as their ``scaling`` does: each by its own minimum and maximum (``"per_image"``), or
    clipped, keeping the common scale (``"asinh"``).

    ``kind``:

    ``texture``
        smoothed noise (as in the simulator's background) of standard deviation
        ``0.15 * strength`` in image units;
    ``noise``
        white Gaussian noise of standard deviation ``0.15 * strength``;
    ``artefact``
        one bright Gaussian blob (width 1.5 px, peak ``strength`` times the image's maximum)
        at least ``DISTRACTOR_MIN_DISTANCE`` px from the centre, where no labelled object is.

    Returns the new images (n, H, W) float32 and the distractor masks (n, H, W) bool: the whole
    image for ``texture`` and ``noise``, the blob's support (at least ``MASK_FRACTION`` of its
    peak) for ``artefact``.
    """
    if kind not in DISTRACTORS:
        raise ValueError(f"unknown distractor {kind!r}; expected one of {DISTRACTORS}")
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r}; expected one of {SCALINGS}")
    rescale = minmax_scale if scaling == "per_image" else _clip_unit
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must have shape (n, H, H), got {images.shape}")
    rng = np.random.default_rng(np.random.SeedSequence((seed, DISTRACTORS.index(kind))))
    m, size = images.shape[0], images.shape[1]
    if kind == "texture":
        textured = textures(rng, m, size)
        added = 0.15 * strength * textured / np.maximum(textured.std(axis=(1, 2), keepdims=True), 1e-12)
        return rescale(images + added), np.ones(images.shape, bool)
    if kind == "noise":
        return rescale(images + 0.15 * strength * rng.standard_normal(images.shape)), np.ones(images.shape, bool)
    row, col = _far_from_centre(rng, m, size)
    blob = gaussian_profiles(row, col, np.full(m, 1.5), strength * images.max(axis=(1, 2)), size)
    return rescale(images + blob), object_masks(blob)


def _clip_unit(images: np.ndarray) -> np.ndarray:
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def _far_from_centre(rng: np.random.Generator, m: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(m,) row and column positions at least ``DISTRACTOR_MIN_DISTANCE`` px from the centre and
    2 px inside the border."""
    centre = (size - 1) / 2.0
    radius = rng.uniform(DISTRACTOR_MIN_DISTANCE, centre - 2.0, m)
    angle = rng.uniform(0.0, 2.0 * np.pi, m)
    row = np.clip(centre + radius * np.sin(angle), 2.0, size - 3.0)
    col = np.clip(centre + radius * np.cos(angle), 2.0, size - 3.0)
    return row, col
