"""Persistent homology of images and its vectorisations.

Sections of this module:

* **Cubical persistence** -- :func:`cubical_diagrams`: sublevel-filtration persistence diagrams
  of a batch of grey images, computed in chunks on all cores.
* **Vietoris-Rips persistence** -- :func:`rips_diagrams`: persistence of a point cloud with
  ripser.py, or giotto-ph's multi-threaded ripser where it is installed (:func:`rips_backend`);
  :func:`layer_rips_diagrams` for many clouds at once; :func:`cloud_scale` for putting clouds of
  different scales on a common one.
* **Diagram distances** -- :func:`diagram_distance` (sliced Wasserstein, Wasserstein through
  gudhi's hera, bottleneck through gudhi) with essential classes handled
  explicitly, and :func:`distance_matrix` between two lists of diagrams.
* **Vectorisations** -- :class:`TopologicalFeatures`: Betti curves, persistence images and
  persistence landscapes on filtration ranges learned from the training split only (P1's
  giotto-tda settings by default: reduced homology, one sampling range per dimension);
  :func:`split_features` runs the whole chain (images -> diagrams -> features) for several
  splits at once.

Conventions shared by every function here:

* A *diagram* is a ``(k, 2)`` float64 array of ``(birth, death)`` pairs in the units of the
  filtration (for images: pixel intensity). Essential classes have ``death = +inf``.
* The diagrams of a batch are a ``list`` with one entry per item; each entry is a ``list`` with
  one diagram per requested homology dimension, in the order the dimensions were requested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import importlib.util

import gudhi
import numpy as np
import ripser
from gudhi.hera import wasserstein_distance
from gudhi.representations import Landscape
from gudhi.representations.metrics import pairwise_persistence_diagram_distances
from gudhi.sklearn.cubical_persistence import CubicalPersistence
from joblib import Parallel, delayed, effective_n_jobs
from scipy.spatial.distance import pdist
from tqdm.auto import tqdm

Diagram = np.ndarray
"""A ``(k, 2)`` float64 array of ``(birth, death)`` pairs; ``death`` may be ``+inf``."""

CUBICAL_HOMOLOGY_DIMS = (0, 1)
"""Homology dimensions a 2-D image can have (its cubical complex has no 2-cycles)."""

FEATURE_KINDS = ("betti_curves", "persistence_images", "landscapes")
"""Names of the vectorisations computed by :class:`TopologicalFeatures`."""

CHUNKS_PER_WORKER = 4
"""Chunks of images handed to each worker: enough to balance load, few enough to keep the
per-task overhead negligible next to the persistence computation."""


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def check_homology_dims(homology_dims: Sequence[int]) -> tuple[int, ...]:
    """Return ``homology_dims`` as a tuple after checking it is a non-empty set of 0 and/or 1."""
    dims = tuple(homology_dims)
    if not dims or len(set(dims)) != len(dims) or any(d not in CUBICAL_HOMOLOGY_DIMS for d in dims):
        raise ValueError(
            f"homology_dims={homology_dims!r} is not supported: expected a non-empty sequence of "
            f"distinct values from {CUBICAL_HOMOLOGY_DIMS} (a 2-D image has no higher homology)"
        )
    return dims


def as_image_batch(images: np.ndarray) -> np.ndarray:
    """Return ``images`` as a float64 array of shape ``(N, H, W)``.

    Accepts ``(N, H, W)`` or single-channel ``(N, 1, H, W)`` arrays (or anything ``np.asarray``
    turns into one, such as a CPU tensor); raises ``ValueError`` for any other shape, for images
    without pixels and for NaN or infinite pixel values.
    """
    batch = np.asarray(images, dtype=np.float64)
    if batch.ndim == 4 and batch.shape[1] == 1:
        batch = batch[:, 0]
    if batch.ndim != 3:
        raise ValueError(
            f"images have shape {batch.shape}: expected a batch of grey images of shape "
            f"(N, H, W) or (N, 1, H, W)"
        )
    if batch.shape[0] > 0 and batch.shape[1] * batch.shape[2] == 0:
        raise ValueError(f"images have shape {batch.shape}: each image needs at least one pixel")
    n_bad = int(np.size(batch) - np.count_nonzero(np.isfinite(batch)))
    if n_bad:
        raise ValueError(
            f"images contain {n_bad} NaN or infinite pixel values: expected finite intensities"
        )
    return batch


def check_count(name: str, value: int, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an integer of at least {minimum}")
    return int(value)


def _check_diagrams(diagrams: Sequence[Sequence[Diagram]], n_dims: int) -> None:
    """Raise ``ValueError`` unless every item holds ``n_dims`` diagrams of shape ``(k, 2)``."""
    for index, item in enumerate(diagrams):
        if len(item) != n_dims:
            raise ValueError(
                f"item {index} has {len(item)} diagrams: expected one per homology dimension, "
                f"{n_dims} in all"
            )
        for diagram in item:
            if np.ndim(diagram) != 2 or np.shape(diagram)[1] != 2:
                raise ValueError(
                    f"item {index} holds a diagram of shape {np.shape(diagram)}: expected (k, 2) "
                    f"(birth, death) pairs"
                )


# --------------------------------------------------------------------------------------------
# Cubical persistence
# --------------------------------------------------------------------------------------------


def _chunk_diagrams(chunk: np.ndarray, homology_dims: tuple[int, ...]) -> list[list[Diagram]]:
    """Sublevel cubical persistence of each image of a ``(n, H, W)`` chunk, in one thread.

    gudhi's ``CubicalPersistence`` treats the pixels as top-dimensional cells and, for 2-D
    input, runs its specialised rectangle algorithm, which returns the same diagrams as
    ``CubicalComplex(top_dimensional_cells=image)`` over Z/2 (the homology of a planar cubical
    complex is torsion-free, so the coefficient field does not change it). Bars of zero length
    are left out.
    """
    persistence = CubicalPersistence(
        homology_dimensions=list(homology_dims),
        input_type="top_dimensional_cells",
        homology_coeff_field=2,
        min_persistence=0.0,
        n_jobs=1,
    )
    return persistence.fit_transform(chunk)


def cubical_diagrams(
    images: np.ndarray,
    homology_dims: Sequence[int] = (0, 1),
    n_jobs: int = -1,
    progress: bool = True,
) -> list[list[Diagram]]:
    """Persistence diagrams of the sublevel filtration of each grey image.

    Each pixel is a top-dimensional (2-D) cell whose filtration value is its intensity; a pixel
    enters the filtration once the threshold reaches its value, so dark structures appear first.
    Pixels sharing only a corner are connected.

    Args:
        images: ``(N, H, W)`` or ``(N, 1, H, W)`` array of finite intensities.
        homology_dims: which of 0 (components) and 1 (loops) to return, in this order.
        n_jobs: worker threads (joblib convention: -1 means all cores). The images are split
            into about ``CHUNKS_PER_WORKER`` chunks per worker, not one task per image.
        progress: show a progress bar over the chunks.

    Returns:
        For each image a list with one ``(k, 2)`` float64 diagram per entry of
        ``homology_dims``; essential classes have death ``+inf``.

    Raises:
        ValueError: for a badly shaped batch, non-finite pixels or an unsupported dimension.
    """
    dims = check_homology_dims(homology_dims)
    return diagrams_in_chunks(as_image_batch(images), lambda chunk: _chunk_diagrams(chunk, dims), n_jobs,
                              progress, "cubical persistence")


def diagrams_in_chunks(batch: np.ndarray, chunk_diagrams: Callable[[np.ndarray], list[list[Diagram]]],
                       n_jobs: int = -1, progress: bool = True, description: str = "persistence"
                       ) -> list[list[Diagram]]:
    """Apply ``chunk_diagrams`` (a chunk of items -> one list of diagrams per item) to the
    items of ``batch`` in about ``CHUNKS_PER_WORKER`` chunks per worker thread, in order.

    gudhi releases the GIL while computing persistence, so threads run chunks side by side
    without copying the items to worker processes. ``n_jobs`` follows joblib (-1: all cores).
    """
    if len(batch) == 0:
        return []
    n_workers = effective_n_jobs(n_jobs)
    chunks = np.array_split(batch, min(len(batch), n_workers * CHUNKS_PER_WORKER))
    results = Parallel(n_jobs=n_workers, prefer="threads", return_as="generator")(
        delayed(chunk_diagrams)(chunk) for chunk in chunks
    )
    diagrams: list[list[Diagram]] = []
    for chunk_result in tqdm(results, total=len(chunks), desc=description, unit="chunk", disable=not progress):
        diagrams.extend(chunk_result)
    return diagrams


# --------------------------------------------------------------------------------------------
# Vietoris-Rips persistence
# --------------------------------------------------------------------------------------------


RIPS_BACKENDS = ("ripser", "giotto-ph")
"""Libraries that compute Vietoris-Rips persistence here: ripser.py (MIT, a dependency of the
library, one thread) and giotto-ph (AGPL-3.0, optional: ``pip install giotto-ph``, wheels up to
CPython 3.12; the same algorithm on several threads). Both give the same diagrams."""


def giotto_ph_installed() -> bool:
    """Whether giotto-ph (import name ``gph``) can be imported here."""
    return importlib.util.find_spec("gph") is not None


def rips_backend() -> str:
    """The backend :func:`rips_diagrams` uses by default: ``"giotto-ph"`` when it is importable,
    else ``"ripser"``."""
    return "giotto-ph" if giotto_ph_installed() else "ripser"


def rips_diagrams(
    points: np.ndarray,
    homology_dims: Sequence[int] = (0, 1),
    n_threads: int = -1,
    max_edge_length: float = np.inf,
    backend: str | None = None,
) -> list[Diagram]:
    """Vietoris-Rips persistence diagrams of one point cloud (Euclidean distances, Z/2).

    Computed by ripser's algorithm, through ripser.py or giotto-ph's multi-threaded
    ``ripser_parallel`` (see :data:`RIPS_BACKENDS`). Bars of zero length are left out.

    Args:
        points: ``(n, d)`` array of ``n`` points in ``R^d`` (n >= 2), finite.
        homology_dims: which dimensions to return, in this order (each 0, 1 or 2).
        n_threads: threads for giotto-ph's reduction; -1 means all cores (ripser.py uses one).
        max_edge_length: edges longer than this are not added (classes alive then die at inf).
        backend: one of :data:`RIPS_BACKENDS`; ``None`` means :func:`rips_backend`.

    Returns:
        One ``(k, 2)`` float64 diagram per entry of ``homology_dims``; the one essential H0
        class (and any class alive at ``max_edge_length``) has death ``+inf``.
    """
    cloud = np.asarray(points, dtype=np.float64)
    if cloud.ndim != 2 or len(cloud) < 2:
        raise ValueError(f"points must be an (n, d) array with n >= 2, got shape {cloud.shape}")
    if not np.all(np.isfinite(cloud)):
        raise ValueError("points contain NaN or infinite coordinates")
    dims = tuple(int(d) for d in homology_dims)
    if not dims or any(d not in (0, 1, 2) for d in dims):
        raise ValueError(f"unsupported homology dimensions {tuple(homology_dims)}; expected some of (0, 1, 2)")
    backend = rips_backend() if backend is None else backend
    if backend == "ripser":
        result = ripser.ripser(cloud, maxdim=max(dims), thresh=max_edge_length, coeff=2)["dgms"]
    elif backend == "giotto-ph":
        if not giotto_ph_installed():
            raise ModuleNotFoundError("the Rips backend 'giotto-ph' is not installed: pip install giotto-ph "
                                      "(wheels up to CPython 3.12), or use backend='ripser'")
        from gph import ripser_parallel

        result = ripser_parallel(cloud, maxdim=max(dims), thresh=max_edge_length, coeff=2,
                                 n_threads=effective_n_jobs(n_threads))["dgms"]
    else:
        raise ValueError(f"unknown Rips backend {backend!r}; expected one of {RIPS_BACKENDS}")
    diagrams = []
    for dim in dims:
        diagram = np.asarray(result[dim], dtype=np.float64).reshape(-1, 2)
        diagrams.append(diagram[diagram[:, 1] > diagram[:, 0]])
    return diagrams


CLOUD_SCALES = ("none", "median_distance")
"""How a point cloud's distances are scaled before persistence: not at all (the units of the
activations), or divided by the median distance between two of its points."""


def cloud_scale(points: np.ndarray, method: str) -> float:
    """The number a cloud's distances are divided by under ``method`` (one of :data:`CLOUD_SCALES`).

    A Vietoris-Rips diagram scales with its cloud (the diagram of ``points / s`` is the diagram
    of ``points`` divided by ``s``), so diagrams computed once can be put on any scale afterwards.
    """
    if method not in CLOUD_SCALES:
        raise ValueError(f"unknown cloud scaling {method!r}; expected one of {CLOUD_SCALES}")
    if method == "none":
        return 1.0
    cloud = np.asarray(points, dtype=np.float64)
    if cloud.ndim != 2 or len(cloud) < 2:
        raise ValueError(f"points must be an (n, d) array with n >= 2, got shape {cloud.shape}")
    scale = float(np.median(pdist(cloud)))
    if not scale > 0:
        raise ValueError("the median distance between the points is 0: the cloud has no scale")
    return scale


def layer_rips_diagrams(
    clouds: Mapping[str, np.ndarray],
    homology_dims: Sequence[int] = (0, 1),
    n_threads: int = -1,
    progress: bool = True,
) -> dict[str, list[Diagram]]:
    """:func:`rips_diagrams` of each named cloud ``{name: (n, d) array}``, with a progress bar:
    ``{name: [one diagram per entry of homology_dims]}``."""
    return {name: rips_diagrams(points, homology_dims, n_threads)
            for name, points in tqdm(clouds.items(), desc="Rips persistence", unit="cloud",
                                     disable=not progress)}


# --------------------------------------------------------------------------------------------
# Diagram distances
# --------------------------------------------------------------------------------------------

DIAGRAM_METRICS = ("sliced_wasserstein", "wasserstein", "bottleneck")
"""Distances between persistence diagrams: sliced Wasserstein (P2's choice), the q-Wasserstein
distance (gudhi's hera, sup-norm between points) and the bottleneck distance (gudhi)."""

HERA_RELATIVE_ERROR = 1e-4
"""Relative error allowed to hera's Wasserstein computation."""


def split_essential(diagram: Diagram) -> tuple[Diagram, np.ndarray]:
    """The finite points ``(k, 2)`` of a diagram and the births ``(m,)`` of its essential
    classes (death ``+inf``), sorted. Raises ``ValueError`` for a badly shaped diagram, NaN, or
    an infinite birth."""
    points = np.asarray(diagram, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"a diagram is a (k, 2) array of (birth, death) pairs, got shape {points.shape}")
    if np.isnan(points).any() or np.isinf(points[:, 0]).any():
        raise ValueError("a diagram holds NaN or an infinite birth")
    essential = np.isinf(points[:, 1])
    return points[~essential], np.sort(points[essential, 0])


def _check_metric(metric: str, order: float, n_directions: int) -> None:
    if metric not in DIAGRAM_METRICS:
        raise ValueError(f"unknown diagram metric {metric!r}; expected one of {DIAGRAM_METRICS}")
    if not order >= 1:
        raise ValueError(f"order={order!r}: the Wasserstein exponent must be at least 1")
    check_count("n_directions", n_directions)


def _sliced_wasserstein(finite: Sequence[Diagram], others: Sequence[Diagram], n_directions: int) -> np.ndarray:
    """(L, M) sliced Wasserstein distances between finite diagrams, by gudhi's vectorised
    implementation: ``n_directions`` lines at angles ``-pi/2 + i pi / (n_directions + 1)``."""
    # gudhi samples num_directions angles in [-pi/2, pi/2) and drops the last one.
    return pairwise_persistence_diagram_distances(list(finite), list(others), metric="sliced_wasserstein",
                                                  num_directions=n_directions + 1, n_jobs=1)


def _finite_distance(a: Diagram, b: Diagram, metric: str, order: float) -> float:
    """Wasserstein or bottleneck distance between two finite diagrams."""
    if metric == "bottleneck":
        return float(gudhi.bottleneck_distance(a, b))
    return float(wasserstein_distance(a, b, order=order, internal_p=np.inf, delta=HERA_RELATIVE_ERROR))


def _with_essential(finite: float, births_a: np.ndarray, births_b: np.ndarray, metric: str, order: float) -> float:
    """Add the cost of matching the essential classes (births, sorted) to a finite part's distance."""
    if len(births_a) != len(births_b):
        return float("inf")
    gaps = np.abs(births_a - births_b)
    if metric == "sliced_wasserstein":
        return float(finite + gaps.sum())
    if metric == "bottleneck":
        return float(max(finite, gaps.max(initial=0.0)))
    return float((finite**order + np.sum(gaps**order)) ** (1.0 / order))


def diagram_distance(a: Diagram, b: Diagram, metric: str = "sliced_wasserstein", *, order: float = 1.0,
                     n_directions: int = 50) -> float:
    """Distance between two diagrams ``(k, 2)`` of one homology dimension, in filtration units.

    * ``"sliced_wasserstein"``: the mean, over ``n_directions`` lines through the origin evenly
      spread over half a turn (P2 used 50), of the 1-Wasserstein distance between the diagrams'
      projections, each diagram completed by the other's projections onto the diagonal (Carriere,
      Cuturi & Oudot 2017). Computed by gudhi's vectorised implementation; it is the quantity
      ``persim.sliced_wasserstein`` computes (P2's code) with its Python loop, on a grid of
      directions spaced ``pi / (n_directions + 1)`` instead of ``pi / n_directions``.
    * ``"wasserstein"``: the ``order``-Wasserstein distance (gudhi's hera; sup-norm between
      points, relative error :data:`HERA_RELATIVE_ERROR`).
    * ``"bottleneck"``: gudhi's bottleneck distance.

    Essential classes (infinite death) are compared explicitly, apart from the finite points:
    two diagrams with different numbers of them are at distance ``inf``; otherwise they are
    matched in order of birth (the optimal matching of points on a line) and their birth
    differences are added to the finite part's cost: as ``order``-th powers for Wasserstein, as a
    maximum for bottleneck, as a sum (the 1-Wasserstein distance of the births) for sliced
    Wasserstein. Rips H1 diagrams computed without an edge threshold have no essential classes;
    H0 has exactly one, born at 0 in every cloud, so it adds nothing.
    """
    return float(distance_matrix([a], [b], metric, progress=False, order=order, n_directions=n_directions)[0, 0])


def distance_matrix(
    diagrams: Sequence[Diagram],
    others: Sequence[Diagram] | None = None,
    metric: str = "sliced_wasserstein",
    progress: bool = True,
    order: float = 1.0,
    n_directions: int = 50,
) -> np.ndarray:
    """``(L, M)`` matrix of :func:`diagram_distance` between every diagram of ``diagrams`` and
    every one of ``others`` (default: ``diagrams`` itself, a symmetric matrix with a zero
    diagonal, computed from its upper triangle). Sliced Wasserstein distances are computed in one
    vectorised call; the others pair by pair, with a progress bar."""
    _check_metric(metric, order, n_directions)
    symmetric = others is None
    first = [split_essential(d) for d in diagrams]
    second = first if symmetric else [split_essential(d) for d in others]
    if metric == "sliced_wasserstein":
        finite = _sliced_wasserstein([f for f, _ in first], [f for f, _ in second], n_directions)
    else:
        finite = np.zeros((len(first), len(second)))
        pairs = [(i, j) for i in range(len(first)) for j in range(len(second)) if not symmetric or j > i]
        for i, j in tqdm(pairs, desc=metric, unit="pair", disable=not progress):
            finite[i, j] = _finite_distance(first[i][0], second[j][0], metric, order)
            if symmetric:
                finite[j, i] = finite[i, j]
    matrix = np.array([[_with_essential(finite[i, j], first[i][1], second[j][1], metric, order)
                        for j in range(len(second))] for i in range(len(first))])
    if symmetric:
        np.fill_diagonal(matrix, 0.0)
    return matrix


# --------------------------------------------------------------------------------------------
# Vectorisations
# --------------------------------------------------------------------------------------------


def _finite_range(diagrams: Sequence[Sequence[Diagram]]) -> tuple[float, float]:
    """Smallest and largest finite birth or death value over all diagrams of a batch."""
    values = np.concatenate([np.ravel(d) for item in diagrams for d in item] + [np.empty(0)])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("the diagrams hold no finite birth or death value to learn a range from")
    return float(finite.min()), float(finite.max())


def drop_essential_h0(diagram: Diagram) -> Diagram:
    """The H0 diagram (k, 2) of a connected space in reduced homology: the essential bar (infinite
    death) born first is removed, every other bar kept in order. Sublevel persistence of an image
    has exactly one essential H0 bar, born at the darkest pixel; giotto-tda's
    ``reduced_homology=True`` (P1) drops it. A diagram without an essential bar is returned as
    it is."""
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    essential = np.flatnonzero(np.isinf(diagram[:, 1]))
    if essential.size == 0:
        return diagram
    oldest = essential[np.argmin(diagram[essential, 0])]
    return np.delete(diagram, oldest, axis=0)


def _dimension_diagrams(diagrams: Sequence[Sequence[Diagram]], dim_index: int) -> list[Diagram]:
    """The diagrams of one homology dimension (position ``dim_index``) for every item."""
    return [np.asarray(item[dim_index], dtype=np.float64).reshape(-1, 2) for item in diagrams]


def _clip_infinite_deaths(diagram: Diagram, high: float) -> Diagram:
    """Copy of ``diagram`` with every infinite death replaced by ``high``."""
    clipped = diagram.copy()
    clipped[np.isinf(clipped[:, 1]), 1] = high
    return clipped


def betti_curves_on_grid(diagrams: Sequence[Diagram], grid: np.ndarray) -> np.ndarray:
    """Betti curves of many diagrams of one dimension, sampled on a common grid.

    The value at ``grid[j]`` is the number of intervals with ``birth <= grid[j] < death``
    (the Betti number of the sublevel set at that filtration value); infinite deaths count as
    alive at every value from their birth on. This is the same count as
    ``gudhi.representations.BettiCurve(predefined_grid=grid)``, vectorised over the whole batch.

    Args:
        diagrams: ``N`` arrays of shape ``(k_i, 2)``.
        grid: ``(n,)`` strictly increasing filtration values.

    Returns:
        ``(N, n)`` int64 array of Betti numbers.
    """
    n_samples = len(grid)
    sizes = [len(d) for d in diagrams]
    owner = np.repeat(np.arange(len(diagrams)), sizes)
    pairs = np.concatenate([np.reshape(d, (-1, 2)) for d in diagrams] + [np.empty((0, 2))])
    # The interval is alive at grid index j exactly when first_alive <= j < first_dead.
    first_alive = np.searchsorted(grid, pairs[:, 0], side="left")
    first_dead = np.searchsorted(grid, pairs[:, 1], side="left")
    row_start = owner * (n_samples + 1)
    steps = np.bincount(row_start + first_alive, minlength=len(diagrams) * (n_samples + 1))
    steps -= np.bincount(row_start + first_dead, minlength=len(diagrams) * (n_samples + 1))
    return np.cumsum(steps.reshape(len(diagrams), n_samples + 1), axis=1)[:, :n_samples]


def persistence_image(diagram: Diagram, births: np.ndarray, persistences: np.ndarray,
                      bandwidth: float) -> np.ndarray:
    """``(len(persistences), len(births))`` persistence image of one finite diagram (k, 2).

    Sum over points of the normalised 2-D Gaussian of standard deviation ``bandwidth`` centred at
    ``(birth, death - birth)``, evaluated at the grid ``births`` x ``persistences``; the Gaussian
    factorises, so the sum is ``G_p.T @ G_b`` with ``G_b`` (k, n_birth) and ``G_p`` (k, n_pers).
    """
    scale = 2.0 * bandwidth**2
    along_birth = np.exp(-np.square(diagram[:, :1] - births[None, :]) / scale)
    along_persistence = np.exp(-np.square((diagram[:, 1:] - diagram[:, :1]) - persistences[None, :]) / scale)
    return along_persistence.T @ along_birth / (np.pi * scale)


class TopologicalFeatures:
    """Betti curves, persistence images and landscapes on ranges learned from training data.

    ``fit`` learns a filtration range ``[low, high]`` per homology dimension: the smallest and
    largest finite birth or death value of that dimension in the training diagrams (with
    ``range_per_dimension=False``, of all dimensions together, the same range for each). Every
    later transform, of the training split or any other, uses those ranges unchanged, so nothing
    about validation or test images leaks into the features. A dimension whose training values
    span no range (none, or a single value) gets the range of all dimensions together, as in
    giotto-tda.

    Reduced homology (``reduced_homology=True``, P1's giotto-tda setting): the essential H0 bar
    of each diagram is dropped before anything else (:func:`drop_essential_h0`), so the one
    component that never dies does not count.

    Sampling: curves and landscapes of dimension ``d`` are sampled at ``samplings[d] =
    np.linspace(low_d, high_d, n_bins)`` (endpoints included, units of the filtration, i.e.
    pixel intensity for images): P1's giotto-tda ``BettiCurve`` and ``PersistenceLandscape``.
    Bin ``j`` of a curve describes the sublevel set ``{pixel <= samplings[d, j]}``. Persistence
    images use the range of all dimensions together (:attr:`filtration_range`).

    Infinite deaths (left only without reduced homology): Betti curves count an essential class
    at every sample value from its birth on. Landscapes and persistence images need finite
    points, so there an infinite death is clipped to the fitted ``high``.

    Args:
        homology_dims: homology dimensions of the diagrams, in the order they are stored.
        n_bins: samples per Betti curve or landscape.
        image_resolution: ``(n_birth, n_persistence)`` pixels of a persistence image (gudhi's
            order). The image spans birth in ``[low, high]`` and persistence in
            ``[0, high - low]``.
        image_bandwidth: standard deviation of the Gaussian placed on each point of a
            persistence image, in filtration units; ``None`` means ``(high - low) /
            max(image_resolution)``, about one pixel.
        n_landscapes: number of landscape functions kept per homology dimension.
        reduced_homology: drop the essential H0 bar of every diagram (P1); ``False`` keeps it.
        range_per_dimension: one sampling range per homology dimension (P1); ``False``: one
            range for all.
    """

    def __init__(
        self,
        homology_dims: Sequence[int] = (0, 1),
        n_bins: int = 100,
        image_resolution: tuple[int, int] = (28, 28),
        image_bandwidth: float | None = None,
        n_landscapes: int = 1,
        reduced_homology: bool = True,
        range_per_dimension: bool = True,
    ) -> None:
        if len(image_resolution) != 2:
            raise ValueError(f"image_resolution={image_resolution!r}: expected two pixel counts")
        if image_bandwidth is not None and not image_bandwidth > 0:
            raise ValueError(
                f"image_bandwidth={image_bandwidth!r}: expected a positive number or None"
            )
        self.homology_dims = check_homology_dims(homology_dims)
        self.n_bins = check_count("n_bins", n_bins, minimum=2)
        self.image_resolution = (check_count("image_resolution[0]", image_resolution[0]),
                                 check_count("image_resolution[1]", image_resolution[1]))
        self.image_bandwidth = image_bandwidth
        self.n_landscapes = check_count("n_landscapes", n_landscapes)
        self.reduced_homology = bool(reduced_homology)
        self.range_per_dimension = bool(range_per_dimension)
        self._range: tuple[float, float] | None = None
        self._ranges: tuple[tuple[float, float], ...] | None = None

    # -- fitted state -------------------------------------------------------------------------

    def prepared(self, diagrams: Sequence[Sequence[Diagram]]) -> list[list[Diagram]]:
        """The diagrams as the features see them: checked, float64 ``(k, 2)``, and in reduced
        homology when ``reduced_homology`` is set (the essential H0 bar dropped)."""
        _check_diagrams(diagrams, len(self.homology_dims))
        h0 = self.homology_dims.index(0) if self.reduced_homology and 0 in self.homology_dims else None
        return [[drop_essential_h0(d) if i == h0 else np.asarray(d, dtype=np.float64).reshape(-1, 2)
                 for i, d in enumerate(item)] for item in diagrams]

    def fit(self, diagrams: Sequence[Sequence[Diagram]]) -> TopologicalFeatures:
        """Learn the ranges from the finite values of the TRAINING diagrams; returns self.

        Raises ``ValueError`` when the diagrams hold no finite value or only a single one.
        """
        prepared = self.prepared(diagrams)
        low, high = _finite_range(prepared)
        if low == high:
            raise ValueError(
                f"all finite birth and death values equal {low}: the training diagrams do not "
                f"span a filtration range"
            )
        ranges = []
        for dim_index in range(len(self.homology_dims)):
            values = np.concatenate([np.ravel(item[dim_index]) for item in prepared] + [np.empty(0)])
            finite = values[np.isfinite(values)]
            spans = self.range_per_dimension and finite.size and finite.min() < finite.max()
            ranges.append((float(finite.min()), float(finite.max())) if spans else (low, high))
        self._range, self._ranges = (low, high), tuple(ranges)
        return self

    @property
    def filtration_range(self) -> tuple[float, float]:
        """The fitted ``(low, high)`` of all dimensions together, in filtration units (the range
        of the persistence images); ``RuntimeError`` before ``fit``."""
        return self._fitted_range()

    @property
    def ranges(self) -> tuple[tuple[float, float], ...]:
        """The fitted ``(low, high)`` of each homology dimension, in the order of ``homology_dims``."""
        self._fitted_range()
        return self._ranges

    def _fitted_range(self) -> tuple[float, float]:
        """The fitted ``(low, high)``; raises ``RuntimeError`` when ``fit`` has not been called."""
        if self._range is None:
            raise RuntimeError(
                "TopologicalFeatures is not fitted: call fit(training_diagrams) before "
                "computing features"
            )
        return self._range

    @property
    def samplings(self) -> np.ndarray:
        """``(n_dims, n_bins)`` float64: row ``d`` is ``np.linspace(low_d, high_d, n_bins)``,
        where the curves and landscapes of dimension ``homology_dims[d]`` are sampled."""
        return np.stack([np.linspace(low, high, self.n_bins) for low, high in self.ranges])

    @property
    def sample_values(self) -> np.ndarray:
        """``(n_bins,)`` float64: the sampling shared by every dimension, when they share one
        (``range_per_dimension=False``, or equal fitted ranges); ``ValueError`` otherwise (use
        :attr:`samplings`)."""
        samplings = self.samplings
        if not np.all(samplings == samplings[0]):
            raise ValueError(f"the homology dimensions are sampled on different ranges {self.ranges}: "
                             "use samplings[d] for dimension homology_dims[d]")
        return samplings[0]

    @property
    def bandwidth(self) -> float:
        """Gaussian standard deviation of the persistence images, in filtration units."""
        low, high = self.filtration_range
        if self.image_bandwidth is not None:
            return float(self.image_bandwidth)
        return (high - low) / max(self.image_resolution)

    # -- features -----------------------------------------------------------------------------

    def _per_dimension(self, diagrams: Sequence[Sequence[Diagram]]) -> Iterator[list[Diagram]]:
        """Check the batch (and that the featuriser is fitted); yield each dimension's diagrams,
        in reduced homology when that is set."""
        self._fitted_range()
        prepared = self.prepared(diagrams)
        for dim_index in range(len(self.homology_dims)):
            yield _dimension_diagrams(prepared, dim_index)

    def betti_curves(self, diagrams: Sequence[Sequence[Diagram]]) -> np.ndarray:
        """``(N, n_dims, n_bins)`` float32: intervals alive at each of ``samplings[d]``."""
        curves = [betti_curves_on_grid(dim_diagrams, grid)
                  for dim_diagrams, grid in zip(self._per_dimension(diagrams), self.samplings)]
        return np.stack(curves, axis=1).astype(np.float32)

    def persistence_images(self, diagrams: Sequence[Sequence[Diagram]]) -> np.ndarray:
        """``(N, n_dims, n_persistence, n_birth)`` float32 persistence images.

        The images of gudhi's ``PersistenceImage`` with constant weight (a test checks equality):
        each ``(birth, death)`` point becomes a normalised Gaussian density of standard deviation
        :attr:`bandwidth` centred at ``(birth, death - birth)``, evaluated on the pixel grid. Row
        ``i`` is persistence ``np.linspace(0, high - low, n_persistence)[i]``, column ``j`` is birth
        ``np.linspace(low, high, n_birth)[j]``. Infinite deaths are clipped to ``high``.
        The Gaussian is separable, so each image is one small matrix product instead of gudhi's
        point-by-pixel loop (about 50 times faster on diagrams of a few hundred points).
        """
        low, high = self.filtration_range
        n_birth, n_persistence = self.image_resolution
        births = np.linspace(low, high, n_birth)
        persistences = np.linspace(0.0, high - low, n_persistence)
        images = [[persistence_image(_clip_infinite_deaths(d, high), births, persistences, self.bandwidth)
                   for d in dim_diagrams] for dim_diagrams in self._per_dimension(diagrams)]
        return np.asarray(images, dtype=np.float32).transpose(1, 0, 2, 3)

    def landscapes(self, diagrams: Sequence[Sequence[Diagram]]) -> np.ndarray:
        """``(N, n_dims * n_landscapes, n_bins)`` float32 persistence landscapes.

        gudhi's ``Landscape`` sampled at :attr:`samplings` (row ``d`` for dimension
        ``homology_dims[d]``); channel ``d * n_landscapes + k`` is the ``k``-th landscape
        (``k = 0`` the largest) of homology dimension ``homology_dims[d]``. gudhi scales
        landscapes by ``sqrt(2)``: a point ``(b, d)`` gives the tent ``sqrt(2) * max(0, min(x - b,
        d - x))``. Infinite deaths are clipped to the dimension's ``high``.
        """
        curves = []
        for dim_diagrams, (low, high) in zip(self._per_dimension(diagrams), self.ranges):
            landscaper = Landscape(num_landscapes=self.n_landscapes, resolution=self.n_bins,
                                   sample_range=[low, high])
            curves.append(landscaper.fit_transform([_clip_infinite_deaths(d, high) for d in dim_diagrams]))
        return np.stack(curves, axis=1).astype(np.float32).reshape(len(diagrams), -1, self.n_bins)

    def transform(
        self, diagrams: Sequence[Sequence[Diagram]], kinds: Sequence[str] = FEATURE_KINDS
    ) -> dict[str, np.ndarray]:
        """Several feature kinds of the same diagrams: ``{kind: array}`` for each of ``kinds``."""
        unknown = [kind for kind in kinds if kind not in FEATURE_KINDS]
        if unknown:
            raise ValueError(f"unknown feature kinds {unknown}: expected some of {FEATURE_KINDS}")
        return {kind: getattr(self, kind)(diagrams) for kind in kinds}


def split_features(
    splits: Mapping[str, np.ndarray],
    featuriser: TopologicalFeatures | None = None,
    fit_on: str = "train",
    kinds: Sequence[str] = FEATURE_KINDS,
    n_jobs: int = -1,
    progress: bool = True,
) -> tuple[TopologicalFeatures, dict[str, dict[str, np.ndarray]]]:
    """Images of several splits -> diagrams (computed once per split) -> features.

    The featuriser is fitted on the diagrams of ``splits[fit_on]`` only, then every split is
    transformed with that fitted range.

    Args:
        splits: ``{split name: (N, H, W) or (N, 1, H, W) images}``, e.g. train/val/test.
        featuriser: an unfitted :class:`TopologicalFeatures` (default settings when ``None``);
            its ``homology_dims`` decide which diagrams are computed.
        fit_on: the name of the training split.
        kinds: which of :data:`FEATURE_KINDS` to compute.
        n_jobs, progress: passed to :func:`cubical_diagrams`.

    Returns:
        The fitted featuriser and ``{split name: {kind: array}}``.
    """
    if fit_on not in splits:
        raise ValueError(f"fit_on={fit_on!r} is not one of the splits {sorted(splits)}")
    if featuriser is None:
        featuriser = TopologicalFeatures()
    diagrams = {name: cubical_diagrams(images, featuriser.homology_dims, n_jobs, progress)
                for name, images in splits.items()}
    featuriser.fit(diagrams[fit_on])
    return featuriser, {name: featuriser.transform(d, kinds) for name, d in diagrams.items()}
