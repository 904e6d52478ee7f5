"""Spaces of 3x3 filters: normalisation, DCT coordinates, density filtration, the primary circle.

The method of Carlsson et al. (2008) for 3x3 patches of natural images, applied by Carlsson &
Brüel Gabrielsson (2019) to the spatial filters of CNNs:

1. a 3x3 filter (or patch) is mean-centred and divided by a norm (:data:`NORMALISATIONS`): the
   D-norm ``sqrt(x^T D x)`` of Carlsson et al., ``D`` the graph Laplacian of the 4-connected 3x3
   grid (the sum of squared differences of neighbouring pixels), which is right for image patches;
   or the Euclidean norm, the geometry of the weights themselves (the default for filters);
   filters of lowest norm ("low contrast", e.g. dead filters) are dropped first;
2. it is written in the 8 DCT basis vectors ``e1 ... e8``: with the D-norm in the basis itself
   (each vector of D-norm 1), with the Euclidean norm in the same vectors scaled to Euclidean
   length 1 (``e1`` and ``e2`` already have it, so the primary circle is the same set of filters
   in both geometries); either way a filter becomes a unit vector of R^8 (a point of S^7);
3. ``rho_k(x)``, the distance to the k-th nearest neighbour, estimates density; ``X(k, p)`` keeps
   the ``p`` per cent of points with the smallest ``rho_k``; for clouds of different sizes ``k``
   is a fraction of the number of points (:func:`density_k`; Carlsson et al.: 300 of 50,000);
4. Vietoris-Rips persistence of what remains (:func:`helpers.topology.rips_diagrams`), on
   max-min landmarks when there are many points; circular coordinates of the longest H1 class
   from ripser's cocycles (:func:`circular_coordinates`) say where each point sits on that circle.

Linear patches ``x cos t + y sin t`` lie exactly in the span of ``e1`` and ``e2``: the unit circle
of that plane is the *primary circle* of rotating edges; a point's position on it is the angle
``t`` of the nearest linear filter (:func:`circle_angles`) and its distance to it
``sqrt(2 - 2 r)`` with ``r = sqrt(v1^2 + v2^2)`` (:func:`distance_to_primary_circle`).

Also here: the spatial filters of a convolution layer and filter banks on the primary circle and
on the Klein bottle (Love et al., 2023) for initialising a first layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import ripser
from gudhi.subsampling import choose_n_farthest_points
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import lsqr
from sklearn.neighbors import NearestNeighbors

from .claims import NOT_REPRODUCED, REPRODUCED, Effect, normal_effect
from .topology import rips_diagrams

PATCH_SIZE = 3
N_COORDINATES = PATCH_SIZE * PATCH_SIZE - 1  # dimension of the space of centred 3x3 patches


def _grid(rows: list[list[float]], scale: float) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64) / np.sqrt(scale)


_ROW_EDGE, _ROW_BAR = [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]
#: (8, 3, 3) the DCT basis of Carlsson et al. (2008), each vector of D-norm 1 (e1: horizontal
#: gradient, constant down the columns; e2: its transpose; e3, e4: bars; e5 ... e8: products).
DCT_BASIS = np.stack([
    _grid([_ROW_EDGE] * 3, 6), _grid([_ROW_EDGE] * 3, 6).T,
    _grid([_ROW_BAR] * 3, 54), _grid([_ROW_BAR] * 3, 54).T,
    _grid([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], 8),
    _grid([[1, 0, -1], [-2, 0, 2], [1, 0, -1]], 48),
    _grid([[1, -2, 1], [0, 0, 0], [-1, 2, -1]], 48),
    _grid([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], 216),
])


def grid_laplacian(size: int = PATCH_SIZE) -> np.ndarray:
    """``(size^2, size^2)`` graph Laplacian of the 4-connected ``size x size`` pixel grid
    (pixels in row-major order): ``x @ L @ x`` is the sum of squared neighbour differences."""
    index = np.arange(size * size).reshape(size, size)
    laplacian = np.zeros((size * size, size * size))
    for a, b in [*zip(index[:, :-1].ravel(), index[:, 1:].ravel()),
                 *zip(index[:-1].ravel(), index[1:].ravel())]:
        laplacian[[a, b], [a, b]] += 1.0
        laplacian[[a, b], [b, a]] -= 1.0
    return laplacian


D_MATRIX = grid_laplacian()


def _as_patch_rows(patches: np.ndarray) -> np.ndarray:
    """(n, 3, 3) or (n, 9) -> (n, 9) float64; ``ValueError`` on any other shape or non-finite."""
    array = np.asarray(patches, dtype=np.float64)
    if array.ndim == 3 and array.shape[1:] == (PATCH_SIZE, PATCH_SIZE):
        array = array.reshape(len(array), -1)
    if array.ndim != 2 or array.shape[1] != PATCH_SIZE * PATCH_SIZE:
        raise ValueError(f"expected 3x3 patches of shape (n, 3, 3) or (n, 9), got shape {np.shape(patches)}")
    if not np.all(np.isfinite(array)):
        raise ValueError("patches contain NaN or infinite values")
    return array


def d_norm(patches: np.ndarray) -> np.ndarray:
    """``(n,)`` D-norms ``sqrt(x^T D x)`` of 3x3 patches (n, 3, 3) or (n, 9)."""
    rows = _as_patch_rows(patches)
    return np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", rows, D_MATRIX, rows), 0.0))


def dct_coordinates(patches: np.ndarray) -> np.ndarray:
    """``(n, 8)`` coordinates of the mean-centred patches in the DCT basis ``e1 ... e8``.

    The basis spans the centred patches and is Euclidean-orthogonal, so coordinate ``i`` is
    ``<x - mean, e_i> / |e_i|^2``; the Euclidean length of the result equals the D-norm.
    """
    rows = _as_patch_rows(patches)
    centred = rows - rows.mean(axis=1, keepdims=True)
    basis = DCT_BASIS.reshape(N_COORDINATES, -1)
    return centred @ basis.T / np.sum(basis**2, axis=1)


def euclidean_coordinates(patches: np.ndarray) -> np.ndarray:
    """``(n, 8)`` coordinates of the mean-centred patches in the DCT basis scaled to Euclidean
    length 1 (an orthonormal basis of the centred patches): the Euclidean length of the result is
    the Euclidean norm of the centred patch; coordinates 1 and 2 equal :func:`dct_coordinates`'."""
    rows = _as_patch_rows(patches)
    centred = rows - rows.mean(axis=1, keepdims=True)
    basis = DCT_BASIS.reshape(N_COORDINATES, -1)
    return centred @ (basis / np.linalg.norm(basis, axis=1, keepdims=True)).T


def patches_from_dct(coordinates: np.ndarray) -> np.ndarray:
    """``(n, 3, 3)`` centred patches with the given ``(n, 8)`` DCT coordinates (the inverse)."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    if coordinates.ndim != 2 or coordinates.shape[1] != N_COORDINATES:
        raise ValueError(f"expected DCT coordinates of shape (n, 8), got shape {coordinates.shape}")
    return np.einsum("ni,ijk->njk", coordinates, DCT_BASIS)


@dataclass(frozen=True)
class FilterSpace:
    """Normalised filters: ``points`` (m, 8) unit vectors (coordinates of the kept filters, see
    :func:`filter_space`); ``kept`` (n,) bool, which input filters were kept; ``contrast`` (n,)
    their norms before normalisation (units of the weights); ``norm`` the normalisation used;
    ``origin`` (m, 3) int, for pooled spaces the network, filter and input channel of each point
    (:func:`helpers.filter_nets.pooled_space`)."""

    points: np.ndarray
    kept: np.ndarray
    contrast: np.ndarray
    norm: str = "euclidean"
    origin: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)


#: Normalisations of a centred filter: by its Euclidean norm (coordinates in the orthonormal DCT
#: basis, :func:`euclidean_coordinates`) or by its D-norm (Carlsson et al.'s, :func:`dct_coordinates`).
NORMALISATIONS = ("euclidean", "d-norm")


def filter_space(filters: np.ndarray, drop_fraction: float = 0.1, norm: str = "euclidean") -> FilterSpace:
    """Mean-centre ``filters`` (n, 3, 3), drop the ``drop_fraction`` of lowest ``norm`` (one of
    :data:`NORMALISATIONS`; also any of norm zero), divide by that norm and express in the DCT
    basis (orthonormal for ``"euclidean"``, of D-norm 1 for ``"d-norm"``)."""
    if not 0.0 <= drop_fraction < 1.0:
        raise ValueError(f"drop_fraction={drop_fraction!r}: expected a fraction in [0, 1)")
    if norm not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {norm!r}; expected one of {NORMALISATIONS}")
    rows = _as_patch_rows(filters)
    if len(rows) == 0:
        raise ValueError("no filters given")
    coordinates = dct_coordinates(rows) if norm == "d-norm" else euclidean_coordinates(rows)
    contrast = np.linalg.norm(coordinates, axis=1)
    threshold = np.quantile(contrast, drop_fraction) if drop_fraction > 0 else 0.0
    kept = (contrast >= threshold) & (contrast > 1e-12 * max(contrast.max(), 1e-300))
    return FilterSpace(coordinates[kept] / contrast[kept, None], kept, contrast, norm)


def spatial_filters(weight: np.ndarray) -> np.ndarray:
    """``(out * in, 3, 3)`` spatial filters of a convolution weight ``(out, in, 3, 3)``: every
    input channel's slice of every filter (a first layer on grey images gives its ``out`` filters)."""
    array = np.asarray(weight, dtype=np.float64)
    if array.ndim != 4 or array.shape[2:] != (PATCH_SIZE, PATCH_SIZE):
        raise ValueError(f"expected a 3x3 convolution weight of shape (out, in, 3, 3), got shape {array.shape}")
    return array.reshape(-1, PATCH_SIZE, PATCH_SIZE)


# ----------------------------------------------------------------------------- density filtration

def density_k(n_points: int, fraction: float) -> int:
    """The density parameter ``k`` for a cloud of ``n_points``: ``fraction`` of the points
    (Carlsson et al.'s 300 of 50,000 is 0.006), rounded, at least 1 and below ``n_points``."""
    if not 0 < fraction < 1:
        raise ValueError(f"k fraction={fraction!r}: expected a fraction of the points in (0, 1)")
    if n_points < 2:
        raise ValueError(f"n_points={n_points}: a density needs at least 2 points")
    return int(min(n_points - 1, max(1, round(fraction * n_points))))


def knn_densities(points: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """``{k: rho_k}`` for each ``k`` of ``ks``: ``rho_k`` (n,) is the Euclidean distance of each
    point of ``points`` (n, d) to its k-th nearest neighbour (the point itself not counted); small
    means dense. One neighbour search serves every ``k``."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"points must be an (n, d) array, got shape {points.shape}")
    for k in ks:
        if int(k) != k or not 1 <= k < len(points):
            raise ValueError(f"k={k!r}: expected an integer with 1 <= k < number of points ({len(points)})")
    search = NearestNeighbors(n_neighbors=int(max(ks)) + 1, algorithm="brute", n_jobs=-1).fit(points)
    distances, _ = search.kneighbors(points)
    return {int(k): distances[:, int(k)] for k in ks}


def knn_density(points: np.ndarray, k: int) -> np.ndarray:
    """``(n,)`` ``rho_k`` of ``points`` (n, d): see :func:`knn_densities`."""
    return knn_densities(points, [k])[int(k)]


def densest(rho: np.ndarray, p: float) -> np.ndarray:
    """Sorted indices of the ``p`` per cent (0 < p <= 100) of points with the smallest density
    radius ``rho`` (n,), at least 2 (ties broken by index)."""
    if not 0 < p <= 100:
        raise ValueError(f"p={p!r}: expected a percentage in (0, 100]")
    count = max(2, int(round(len(rho) * p / 100.0)))
    return np.sort(np.argsort(rho, kind="stable")[:count])


def density_core(points: np.ndarray, k: int, p: float) -> np.ndarray:
    """Sorted indices of ``X(k, p)``: the ``p`` per cent of ``points`` (n, d) with the smallest
    ``rho_k``."""
    return densest(knn_density(points, k), p)


def landmarks(points: np.ndarray, n: int) -> np.ndarray:
    """Sorted indices of ``n`` max-min (farthest-point) landmarks of ``points`` (m, d), starting
    from point 0, with gudhi; all indices when ``m <= n``."""
    if int(n) != n or n < 2:
        raise ValueError(f"n={n!r}: expected an integer number of landmarks >= 2")
    if len(points) <= n:
        return np.arange(len(points))
    chosen = choose_n_farthest_points(points=np.asarray(points, dtype=np.float64), nb_points=int(n),
                                      starting_point=0)
    coordinates = np.asarray(chosen)
    search = NearestNeighbors(n_neighbors=1).fit(points)
    return np.sort(search.kneighbors(coordinates, return_distance=False)[:, 0])


# ----------------------------------------------------------------------------- the primary circle

def circle_angles(points: np.ndarray) -> np.ndarray:
    """``(n,)`` position in [0, 2 pi) of each point (n, 8) on the primary circle: the angle ``t``
    of the linear filter ``x cos t + y sin t`` (x to the right, y up) nearest to it, i.e. the
    direction in which the filter's intensity increases. In DCT coordinates that filter is
    proportional to ``(-cos t, sin t, 0, ...)``, so ``t = atan2(v2, -v1)``."""
    points = _dct_points(points)
    return np.mod(np.arctan2(points[:, 1], -points[:, 0]), 2 * np.pi)


def distance_to_primary_circle(points: np.ndarray) -> np.ndarray:
    """``(n,)`` Euclidean distance of unit vectors (n, 8) to the unit circle of the e1/e2 plane:
    ``sqrt(2 - 2 r)``, ``r`` the length of the projection on that plane (0 on the circle, at most
    ``sqrt(2)``)."""
    points = _dct_points(points)
    radius = np.hypot(points[:, 0], points[:, 1])
    return np.sqrt(np.maximum(2.0 - 2.0 * radius, 0.0))


def _dct_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != N_COORDINATES:
        raise ValueError(f"expected points in DCT coordinates of shape (n, 8), got shape {points.shape}")
    return points


@dataclass(frozen=True)
class CircleStatistics:
    """What the H1 barcode of a filter space says about circles.

    ``n_points``: points in the density core; ``n_landmarks``: points given to Rips;
    ``persistences``: H1 bar lengths, longest first (D-norm units, i.e. distances on S^7);
    ``top``: the longest (0 without any bar); ``second``: the next (0 without one);
    ``dominance``: ``top / second`` (``inf`` when there is a single bar);
    ``share_near_circle``: share of the core within ``radius`` of the primary circle;
    ``radius``: that distance.
    """

    n_points: int
    n_landmarks: int
    persistences: np.ndarray
    top: float
    second: float
    dominance: float
    share_near_circle: float
    radius: float

    def long_bars(self, fraction: float = 0.5) -> int:
        """How many H1 bars are at least ``fraction`` of the longest one."""
        return int(np.sum(self.persistences >= fraction * self.top)) if self.top > 0 else 0


def h1_persistences(points: np.ndarray, n_threads: int = -1) -> np.ndarray:
    """H1 bar lengths (death - birth), longest first, of the Rips filtration of ``points``."""
    (diagram,) = rips_diagrams(points, homology_dims=(1,), n_threads=n_threads)
    return np.sort(diagram[:, 1] - diagram[:, 0])[::-1]


def circle_statistics(points: np.ndarray, k: int | None = None, p: float = 100.0, max_landmarks: int = 400,
                      radius: float = 0.5, n_threads: int = -1) -> CircleStatistics:
    """Density core ``X(k, p)`` of ``points`` (n, 8) (all points when ``k`` is None), max-min
    landmarks, Rips H1, and the statistics of :class:`CircleStatistics`."""
    points = _dct_points(points)
    core = points if k is None else points[density_core(points, k, p)]
    chosen = core[landmarks(core, max_landmarks)]
    bars = h1_persistences(chosen, n_threads)
    top = float(bars[0]) if len(bars) else 0.0
    second = float(bars[1]) if len(bars) > 1 else 0.0
    dominance = top / second if second > 0 else (np.inf if top > 0 else 0.0)
    near = float(np.mean(distance_to_primary_circle(core) <= radius))
    return CircleStatistics(len(core), len(chosen), bars, top, second, dominance, near, radius)


# ----------------------------------------------------------------------------- filter banks

def _pixel_grid() -> tuple[np.ndarray, np.ndarray]:
    """x (column, left to right) and y (row, bottom to top) coordinates in {-1, 0, 1} of a 3x3 grid."""
    y, x = np.meshgrid([1.0, 0.0, -1.0], [-1.0, 0.0, 1.0], indexing="ij")
    return x, y


def circle_filter_bank(n: int) -> np.ndarray:
    """``(n, 3, 3)`` linear filters ``x cos t + y sin t`` at ``n`` evenly spaced angles
    ``t = 2 pi j / n`` (the companion paper's angular filters; exactly on the primary circle)."""
    if int(n) != n or n < 1:
        raise ValueError(f"n={n!r}: expected a positive number of filters")
    x, y = _pixel_grid()
    angles = 2 * np.pi * np.arange(n) / n
    return np.cos(angles)[:, None, None] * x + np.sin(angles)[:, None, None] * y


def klein_filter_bank(n_angles: int, n_mix: int) -> np.ndarray:
    """``(n_angles * n_mix, 3, 3)`` Klein-bottle filters of Love et al. (2023):
    ``F(t1, t2) = sin t2 u + cos t2 Q(u)``, ``u = x cos t1 + y sin t1``, ``Q(u) = 2 u^2 - 1``,
    mean-centred, on the grid ``t1 = pi i / n_angles`` (``F(t1 + pi, -t2) = F(t1, t2)``, so this
    half-turn covers the bottle) and ``t2 = 2 pi j / n_mix``; row ``i * n_mix + j``."""
    for name, value in (("n_angles", n_angles), ("n_mix", n_mix)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value!r}: expected a positive integer")
    x, y = _pixel_grid()
    t1 = np.pi * np.arange(n_angles) / n_angles
    t2 = 2 * np.pi * np.arange(n_mix) / n_mix
    u = np.cos(t1)[:, None, None] * x + np.sin(t1)[:, None, None] * y  # (n_angles, 3, 3)
    quadratic = 2 * u**2 - 1
    bank = np.sin(t2)[None, :, None, None] * u[:, None] + np.cos(t2)[None, :, None, None] * quadratic[:, None]
    bank = bank.reshape(-1, PATCH_SIZE, PATCH_SIZE)
    return bank - bank.mean(axis=(1, 2), keepdims=True)


FILTER_BANKS = ("circle", "klein")


def filter_bank(kind: str, n: int) -> np.ndarray:
    """``(n, 3, 3)`` bank of ``kind`` (one of :data:`FILTER_BANKS`): ``n`` circle filters, or
    Klein-bottle filters on a grid of ``n_angles x n_mix = n`` (as square as divisors allow)."""
    if kind not in FILTER_BANKS:
        raise ValueError(f"unknown filter bank {kind!r}; expected one of {FILTER_BANKS}")
    if kind == "circle":
        return circle_filter_bank(n)
    n_mix = max(d for d in range(1, int(np.sqrt(n)) + 1) if n % d == 0)
    return klein_filter_bank(n // n_mix, n_mix)


# ----------------------------------------------------------------------------- null and verdict

def random_filters(n: int, seed: int) -> np.ndarray:
    """``(n, 3, 3)`` filters with independent uniform(-1, 1) entries: the spatial filters of
    PyTorch's default (Kaiming-uniform) initialisation, up to a scale that normalisation removes."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(int(n), PATCH_SIZE, PATCH_SIZE))


def core_statistics(points: np.ndarray, k_fraction: float | None, p: float, max_landmarks: int = 400,
                    radius: float = 0.5, n_threads: int = -1) -> CircleStatistics:
    """:func:`circle_statistics` of ``X(k, p)`` with ``k`` the fraction ``k_fraction`` of the
    points (:func:`density_k`); all points when ``k_fraction`` is None."""
    k = None if k_fraction is None else density_k(len(points), k_fraction)
    return circle_statistics(points, k, p, max_landmarks, radius, n_threads)


def null_top_persistence(n_filters: int, n_draws: int, seed: int, k_fraction: float | None = None,
                         p: float = 100.0, max_landmarks: int = 400, drop_fraction: float = 0.1,
                         norm: str = "euclidean", n_threads: int = -1) -> np.ndarray:
    """``(n_draws,)`` longest H1 bar of :func:`core_statistics` on ``n_filters`` random filters
    (:func:`random_filters`, seeds ``seed, seed + 1, ...``) through the same pipeline: what
    "a dominant bar" has to beat."""
    tops = [core_statistics(filter_space(random_filters(n_filters, seed + draw), drop_fraction, norm).points,
                            k_fraction, p, max_landmarks, n_threads=n_threads).top for draw in range(int(n_draws))]
    return np.asarray(tops)


def sensitivity_grid(filters: np.ndarray, n_null: int, seed: int, norms: Sequence[str],
                     k_fractions: Sequence[float], ps: Sequence[float], max_landmarks: int = 400,
                     drop_fraction: float = 0.1, n_threads: int = -1) -> pd.DataFrame:
    """How the answer depends on the method: for each normalisation x k fraction x p, the
    longest H1 bar of ``X(k, p)`` of ``filters`` (n, 3, 3) (e.g. pooled trained filters), the
    mean and largest of ``n_null`` random-filter draws of the same size through the same
    pipeline, and ``excess`` = longest minus the null's largest (positive: beyond every draw).
    One row per cell (columns ``norm, k_fraction, k, p, points, top, second, null_mean, null_max,
    excess``)."""
    if n_null < 1:
        raise ValueError(f"n_null={n_null}: the grid needs at least one null draw")
    nulls = [random_filters(len(filters), seed + draw) for draw in range(int(n_null))]
    rows = []
    for norm in norms:
        points = filter_space(filters, drop_fraction, norm).points
        null_points = [filter_space(null, drop_fraction, norm).points for null in nulls]
        for fraction in k_fractions:
            for p in ps:
                stats = core_statistics(points, fraction, p, max_landmarks, n_threads=n_threads)
                null_tops = np.array([core_statistics(q, fraction, p, max_landmarks, n_threads=n_threads).top
                                      for q in null_points])
                rows.append({"norm": norm, "k_fraction": fraction, "k": density_k(len(points), fraction), "p": p,
                             "points": stats.n_points, "top": stats.top, "second": stats.second,
                             "null_mean": float(null_tops.mean()), "null_max": float(null_tops.max()),
                             "excess": stats.top - float(null_tops.max())})
    return pd.DataFrame(rows)


def settings_beyond_null(grid: pd.DataFrame) -> tuple[int, int]:
    """How many settings (rows) of a :func:`sensitivity_grid` show a longest H1 bar beyond every
    null draw (``excess`` > 0), and how many settings it has."""
    return int((grid["excess"] > 0).sum()), len(grid)


def setting_dependence(verdict: str, grid: pd.DataFrame) -> str | None:
    """Why a verdict on the circle in a filter space, judged at one density setting, cannot
    stand when the :func:`sensitivity_grid` of the same filters (its rows of the same
    normalisation) says otherwise: "not reproduced" while most of the grid's settings show a
    longest bar beyond every null draw, or "reproduced" while most do not. ``None`` when the grid
    agrees (or is split evenly) or the verdict is already inconclusive."""
    if grid.empty or grid["norm"].nunique() != 1:
        raise ValueError(f"need the grid rows of one normalisation, got {sorted(grid.get('norm', pd.Series()).unique())}")
    beyond, total = settings_beyond_null(grid)
    majority = f"{beyond} of the {total} settings of the sensitivity grid ({grid['norm'].iloc[0]} norm)"
    if verdict == NOT_REPRODUCED and 2 * beyond > total:
        return (f"the answer depends on the density setting: {majority} show a longest bar beyond every null draw, "
                "the chosen one does not")
    if verdict == REPRODUCED and 2 * beyond < total:
        return (f"the answer depends on the density setting: only {majority} show a longest bar beyond every null "
                "draw")
    return None


# ----------------------------------------------------------------------------- circular coordinates

def circular_coordinates(points: np.ndarray, coefficient: int = 47, fraction: float = 0.5) -> tuple[np.ndarray, float]:
    """Circular coordinates (de Silva, Morozov & Vejdemo-Johansson 2011) of the longest H1 class
    of the Rips filtration of ``points`` (n, d): angles ``(n,)`` in [0, 2 pi) that go once round
    that circle, and the class's bar length.

    ripser.py computes the class's cocycle with coefficients in Z/``coefficient`` (a prime, large
    enough that the lift to integers in (-p/2, p/2] is a cocycle); at the scale ``birth +
    fraction * (death - birth)`` the integer cocycle ``z`` on the edges shorter than it is smoothed
    to its harmonic representative ``z - delta f`` (least squares, scipy's lsqr) and the
    coordinate of a point is ``2 pi f mod 2 pi``. The orientation and the origin are arbitrary;
    points not joined to the circle at that scale get ``f = 0``."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or len(points) < 3:
        raise ValueError(f"points must be an (n, d) array with n >= 3, got shape {points.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r}: expected a share of the bar in (0, 1)")
    result = ripser.ripser(points, maxdim=1, coeff=int(coefficient), do_cocycles=True)
    bars = result["dgms"][1]
    if len(bars) == 0:
        raise ValueError("the points have no H1 class, so no circular coordinates")
    longest = int(np.argmax(bars[:, 1] - bars[:, 0]))
    birth, death = bars[longest]
    scale = birth + fraction * (death - birth)
    distances = result["dperm2all"]
    i, j = np.nonzero(np.triu(distances < scale, 1))
    cocycle = np.asarray(result["cocycles"][1][longest], dtype=np.int64)
    lifted = np.where(cocycle[:, 2] > coefficient // 2, cocycle[:, 2] - coefficient, cocycle[:, 2])
    values = {}
    for a, b, value in zip(cocycle[:, 0], cocycle[:, 1], lifted):
        values[(a, b)], values[(b, a)] = value, -value
    z = np.array([values.get((a, b), 0) for a, b in zip(i, j)], dtype=np.float64)
    rows = np.repeat(np.arange(len(i)), 2)
    delta = coo_matrix((np.tile([-1.0, 1.0], len(i)), (rows, np.column_stack([i, j]).ravel())),
                       shape=(len(i), len(points))).tocsr()
    f = lsqr(delta, z, atol=1e-10, btol=1e-10)[0]
    return np.mod(2 * np.pi * f, 2 * np.pi), float(death - birth)


def circular_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """How well two sets of angles (n,) agree up to a rotation and a reflection: the largest of
    ``|mean exp(i (a - s b))|`` over ``s = +1, -1``; 1 when ``a = +/- b + c``, about
    ``sqrt(pi / (4 n))`` for unrelated angles. The statistic of :func:`agreement_null`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"expected two 1-D arrays of at least 2 equal-length angles, got {a.shape}, {b.shape}")
    return float(max(abs(np.mean(np.exp(1j * (a - s * b)))) for s in (1, -1)))


def agreement_null(a: np.ndarray, b: np.ndarray, n_permutations: int, seed: int) -> np.ndarray:
    """``(n_permutations,)`` :func:`circular_agreement` of ``a`` with shuffled ``b``: its value
    when the two angles are unrelated."""
    rng = np.random.default_rng(seed)
    return np.array([circular_agreement(a, rng.permutation(b)) for _ in range(int(n_permutations))])


@dataclass(frozen=True)
class CircleAgreement:
    """Is the longest H1 class the primary circle? ``coordinates`` (m,): circular coordinates of
    that class at the landmarks of a density core; ``angles`` (m,): the landmarks' angles on the
    primary circle (:func:`circle_angles`); ``agreement``: :func:`circular_agreement` of the two;
    ``null`` (n_permutations,): the same with the angles shuffled; ``bar``: the class's length."""

    coordinates: np.ndarray
    angles: np.ndarray
    agreement: float
    null: np.ndarray
    bar: float


def dominant_circle_agreement(core: np.ndarray, max_landmarks: int = 400, n_permutations: int = 200,
                              seed: int = 0) -> CircleAgreement:
    """:class:`CircleAgreement` of a density core (n, 8): max-min landmarks, circular coordinates
    of their longest H1 class (:func:`circular_coordinates`), against the primary-circle angles."""
    chosen = _dct_points(core)[landmarks(core, max_landmarks)]
    coordinates, bar = circular_coordinates(chosen)
    angles = circle_angles(chosen)
    return CircleAgreement(coordinates, angles, circular_agreement(coordinates, angles),
                           agreement_null(coordinates, angles, n_permutations, seed), bar)


PRESENT, ABSENT, UNCLEAR = "present", "absent", "unclear"


def circle_presence(statistics: CircleStatistics, null_tops: np.ndarray, min_dominance: float = 2.0) -> str:
    """Does one cloud show a primary-circle-like dominant H1 class? ``"present"`` when the
    longest bar is longer than every bar of the null (``null_tops``, from random filters) and at
    least ``min_dominance`` times the second; ``"absent"`` when it is no longer than the null's
    95th percentile; otherwise ``"unclear"``. A description for tables; the chapter's claims are
    judged by :mod:`helpers.claims` on the longest bar against the null."""
    null_tops = np.asarray(null_tops, dtype=float)
    if null_tops.size == 0:
        raise ValueError("circle_presence needs at least one null value")
    if statistics.top > null_tops.max() and statistics.dominance >= min_dominance:
        return PRESENT
    if statistics.top <= np.quantile(null_tops, 0.95):
        return ABSENT
    return UNCLEAR


def class_count_gap(persistences: np.ndarray, n_classes: int, fraction: float = 0.5) -> float:
    """How clearly a barcode has ``n_classes`` bars of at least ``fraction`` of the longest:
    the smaller of (the ``n_classes``-th bar minus that cut) and (the cut minus the next bar),
    as a share of the longest bar. Positive exactly when :meth:`CircleStatistics.long_bars`
    counts ``n_classes``; ``persistences`` (m,) longest first."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    bars = np.concatenate([np.asarray(persistences, dtype=float), np.zeros(n_classes + 1)])
    if bars[0] <= 0:
        return -fraction
    cut = fraction * bars[0]
    return float(min(bars[n_classes - 1] - cut, cut - bars[n_classes]) / bars[0])


def class_count_gaps(core: np.ndarray, n_classes: int, max_landmarks: int = 400, n_halves: int = 20,
                     seed: int = 0, n_threads: int = -1) -> np.ndarray:
    """:func:`class_count_gap` of the H1 barcode of a density core (n, 8), then of ``n_halves``
    random halves of it (landmarks and Rips recomputed on each; halves repeat no point, which Rips
    would see as a cluster): shape (1 + n_halves,), the whole core first."""
    core = _dct_points(core)

    def gap(points: np.ndarray) -> float:
        return class_count_gap(h1_persistences(points[landmarks(points, max_landmarks)], n_threads), n_classes)

    rng = np.random.default_rng(seed)
    halves = [gap(core[rng.permutation(len(core))[: len(core) // 2]]) for _ in range(n_halves)]
    return np.array([gap(core), *halves])


def class_count_effect(gaps: np.ndarray, n_points: int) -> Effect:
    """The known-answer check "this core has that many H1 classes" as an effect: the whole core's
    gap (``gaps[0]``, from :func:`class_count_gaps`) with a normal interval whose standard error
    is the spread of the half-sample gaps around it (half-sampling estimates the whole sample's
    standard error); ``n_points`` is the core's size."""
    gaps = np.asarray(gaps, dtype=float)
    if gaps.ndim != 1 or len(gaps) < 3:
        raise ValueError(f"need the whole core's gap and at least 2 halves, got shape {gaps.shape}")
    se = float(np.sqrt(np.mean((gaps[1:] - gaps[0]) ** 2)))
    return normal_effect(float(gaps[0]), se, n_points, f"normal, half-sampling ({len(gaps) - 1} halves)", digits=3)


def network_spread(top: float, half_tops: np.ndarray) -> float:
    """Standard error of a pooled filter space's statistic ``top`` over the networks pooled, by
    half-sampling: the root-mean-square distance from ``top`` of the same statistic on random
    halves of the networks (``half_tops``, (h,), h >= 2). It overestimates where a half's smaller
    pool shifts the statistic."""
    half_tops = np.asarray(half_tops, dtype=float)
    if half_tops.ndim != 1 or len(half_tops) < 2:
        raise ValueError(f"need at least 2 half-sample values, got shape {half_tops.shape}")
    return float(np.sqrt(np.mean((half_tops - top) ** 2)))


def presence_effect(top: float, half_tops: np.ndarray, null: np.ndarray) -> Effect:
    """The longest H1 bar ``top`` of a pooled filter space minus the mean of its random-filter
    null (``null``, (m,), m >= 2), with a normal interval whose standard error adds two spreads:
    the null's, and the statistic's own over the networks pooled (:func:`network_spread` of
    ``half_tops``). One barcode of one pool can change by more than the null's spread when the
    networks change at the level of rounding; this interval is meant to contain that."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or len(null) < 2:
        raise ValueError(f"need at least 2 null draws, got shape {null.shape}")
    se = float(np.sqrt(network_spread(top, half_tops) ** 2 + null.var(ddof=1)))
    return normal_effect(float(top - null.mean()), se, len(half_tops),
                         f"normal, half-sampling over networks ({len(half_tops)} halves) + random-filter null "
                         f"({len(null)} draws)", digits=3)


def change_against_null(after: float, before: float, null: np.ndarray,
                        network_spreads: tuple[float, float] = (0.0, 0.0)) -> Effect:
    """``after - before`` of a statistic of two clouds of one size (the longest H1 bar of trained
    and of initial filters), with the interval that the spread of its null distribution (``null``,
    (m,), the statistic on random filters of that size) gives: each value has that spread, so
    their difference has sqrt(2) times it; ``network_spreads`` (after, before) adds each value's
    spread over the networks pooled (:func:`network_spread`)."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or len(null) < 2:
        raise ValueError(f"need at least 2 null draws, got shape {null.shape}")
    se = float(np.sqrt(2 * null.var(ddof=1) + network_spreads[0] ** 2 + network_spreads[1] ** 2))
    method = "normal, spread of the random-filter null" + (" and over networks" if any(network_spreads) else "")
    return normal_effect(after - before, se, len(null), method, digits=3)
