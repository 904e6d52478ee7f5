"""Comparing layers: matrices of layer-to-layer distances, their agreement, and the
principal-component sensitivity test of Ding, Denain & Steinhardt (2021).

A *layer matrix* is an (L, L) array of dissimilarities between the L layers of a network (a
persistence distance, or 1 - CKA), symmetric with a zero diagonal. Two such matrices are
compared through their off-diagonal entries: Spearman's rank correlation, with a Mantel
permutation test (rows and columns of one matrix permuted together) for its significance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from .activations import linear_cka, matching_share, remove_principal_components
from .topology import diagram_distance, rips_diagrams


def _square(matrix: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or len(values) < 3:
        raise ValueError(f"{name} must be a square (L, L) matrix with L >= 3, got shape {values.shape}")
    return values


def upper_triangle(matrix: np.ndarray) -> np.ndarray:
    """The entries above the diagonal of an (L, L) matrix, row by row: (L (L - 1) / 2,)."""
    values = _square(matrix, "matrix")
    return values[np.triu_indices(len(values), k=1)]


def depth_gaps(n_layers: int) -> np.ndarray:
    """(L, L) matrix of ``|i - j|``: how many layers apart layers i and j are."""
    index = np.arange(n_layers)
    return np.abs(index[:, None] - index[None, :]).astype(np.float64)


@dataclass(frozen=True)
class MantelResult:
    """Spearman correlation ``rho`` of two layer matrices' off-diagonal entries, and the share
    ``p_value`` of ``n_permutations`` layer relabellings giving a correlation at least as large
    (one-sided, counting the observed one)."""

    rho: float
    p_value: float
    n_permutations: int

    def describe(self) -> str:
        return f"Spearman {self.rho:+.2f} (Mantel p={self.p_value:.3g}, {self.n_permutations} permutations)"


def mantel_test(a: np.ndarray, b: np.ndarray, n_permutations: int = 999, seed: int = 0) -> MantelResult:
    """Is layer matrix ``a`` rank-correlated with layer matrix ``b`` (both (L, L))? The null
    distribution relabels the layers of ``a`` at random (rows and columns together), which keeps
    the dependence between entries that share a layer."""
    a, b = _square(a, "a"), _square(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"the matrices must have the same shape, got {a.shape} and {b.shape}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be positive, got {n_permutations}")
    rows, cols = np.triu_indices(len(a), k=1)
    target = stats.rankdata(b[rows, cols])

    def rho(matrix: np.ndarray) -> float:
        return float(np.corrcoef(stats.rankdata(matrix[rows, cols]), target)[0, 1])

    observed = rho(a)
    rng = np.random.default_rng(seed)
    at_least = 0
    for _ in range(n_permutations):
        order = rng.permutation(len(a))
        at_least += rho(a[np.ix_(order, order)]) >= observed - 1e-12
    return MantelResult(observed, (at_least + 1) / (n_permutations + 1), n_permutations)


def disagreements(a: np.ndarray, b: np.ndarray, names: Sequence[str], top: int = 5,
                  labels: tuple[str, str] = ("a", "b")) -> pd.DataFrame:
    """The ``top`` layer pairs on which two layer matrices disagree most: entries ranked within
    each matrix (0 = the closest pair, 1 = the farthest); the table has the two layers, each
    matrix's rank, and ``rank difference`` (``labels[0]`` minus ``labels[1]``), largest first by
    absolute value."""
    a, b = _square(a, "a"), _square(b, "b")
    if len(names) != len(a):
        raise ValueError(f"{len(names)} layer names for {len(a)} layers")
    rows, cols = np.triu_indices(len(a), k=1)
    def rank(matrix: np.ndarray) -> np.ndarray:
        return (stats.rankdata(matrix[rows, cols]) - 1) / max(len(rows) - 1, 1)
    first, second = rank(a), rank(b)
    table = pd.DataFrame({"layer": [names[i] for i in rows], "other layer": [names[j] for j in cols],
                          f"rank by {labels[0]}": first, f"rank by {labels[1]}": second,
                          "rank difference": first - second})
    return table.reindex(table["rank difference"].abs().sort_values(ascending=False).index).head(top)


def matching_shares(cross_matrices: Mapping[str, Sequence[np.ndarray]], tolerances: Sequence[int] = (0, 1)
                    ) -> pd.DataFrame:
    """Cross-seed layer matching per measure. ``cross_matrices[measure]`` holds (L, L) matrices
    of dissimilarity between the layers of one network (rows) and of another seed's (columns);
    the table has one row per measure and, for each tolerance t, the share of rows whose nearest
    column lies within t layers of the same depth, pooled over all matrices, and the number of
    layers matched."""
    rows = {}
    for measure, matrices in cross_matrices.items():
        if not matrices:
            raise ValueError(f"no matrices for measure {measure!r}")
        rows[measure] = {f"share within {t}": float(np.mean([matching_share(m, t) for m in matrices]))
                         for t in tolerances}
        rows[measure]["layers matched"] = int(sum(len(m) for m in matrices))
    return pd.DataFrame(rows).T.rename_axis("measure")


def principal_component_sensitivity(points: np.ndarray, removed: Sequence[int], metric: str = "sliced_wasserstein",
                                    scale: float = 1.0, progress: bool = True) -> pd.DataFrame:
    """Ding et al.'s test on one (N, D) cloud: remove its top k principal components for each k
    in ``removed``, recompute the H1 Rips diagram, and measure how far it moved from the original
    one (``metric`` of :data:`helpers.topology.DIAGRAM_METRICS`, distances divided by ``scale``)
    and how far the cloud moved by CKA (``1 - linear CKA``). One row per k with columns
    ``components removed``, ``persistence distance``, ``1 - CKA`` and the share of the variance
    removed."""
    cloud = np.asarray(points, dtype=np.float64)
    original = rips_diagrams(cloud, (1,))[0]
    variances = np.linalg.svd(cloud - cloud.mean(0), compute_uv=False) ** 2
    rows = []
    for k in tqdm(list(removed), desc="principal components removed", disable=not progress):
        reduced = remove_principal_components(cloud, k)
        moved = rips_diagrams(reduced, (1,))[0]
        rows.append({"components removed": int(k),
                     "persistence distance": diagram_distance(original, moved, metric) / scale,
                     "1 - CKA": 1.0 - linear_cka(cloud, reduced) if k < min(cloud.shape) else 1.0,
                     "variance removed": float(variances[:k].sum() / variances.sum())})
    return pd.DataFrame(rows)
