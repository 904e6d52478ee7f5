"""Comparing layers: matrices of layer-to-layer distances, their agreement, and the
principal-component sensitivity test of Ding, Denain & Steinhardt (2021).

A *layer matrix* is an (L, L) array of dissimilarities between the L layers of a network (a
persistence distance, or 1 - CKA), symmetric with a zero diagonal. Two such matrices are
compared through their off-diagonal entries: Spearman's rank correlation, with a Mantel
permutation test (rows and columns of one matrix permuted together) for its significance.

The claims of chapters 4 and 5 are about what training builds: :func:`helpers.claims.trained_minus_control`
turns one statistic per seed, of the trained networks and of their untrained initial networks,
into the judged effect (trained minus untrained, paired by seed) and the control's own value;
:func:`matching_by_network` gives the cross-seed matching share of each network, and
:func:`sensitivity_effect` the rank correlation of Ding et al.'s test as an effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from .activations import linear_cka, matching_share, remove_principal_components
from .claims import Effect, correlation_effect
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


def matching_by_network(matrices: Sequence[np.ndarray], rows: Sequence[str], tolerance: int = 0) -> dict[str, float]:
    """Cross-seed layer matching per network: ``matrices[i]`` (L, L) holds dissimilarities
    between the layers of network ``rows[i]`` (rows) and of another network (columns, same
    layers in the same order). For each network named in ``rows``, the share of its layers whose
    nearest layer in the other network lies within ``tolerance`` layers of the same depth,
    averaged over its partners; networks in order of first appearance."""
    if len(matrices) != len(rows) or not rows:
        raise ValueError(f"need one row network per matrix, got {len(matrices)} matrices and {len(rows)} names")
    shares: dict[str, list[float]] = {}
    for matrix, name in zip(matrices, rows):
        shares.setdefault(name, []).append(matching_share(matrix, tolerance))
    return {name: float(np.mean(values)) for name, values in shares.items()}


def sensitivity_effect(table: pd.DataFrame, column: str = "persistence distance") -> Effect:
    """Ding et al.'s test as an effect: Spearman's rank correlation between the number of
    principal components removed (k > 0) and ``column`` over the rows of
    :func:`principal_component_sensitivity` tables (several layers concatenated), with its
    bootstrap interval and permutation p-value. With fewer than two distinct k > 0, or fewer than
    three rows, no correlation is defined: the effect is ``nan`` (the verdict inconclusive) and its
    method says why."""
    removed = table[table["components removed"] > 0]
    if removed["components removed"].nunique() < 2 or len(removed) < 3:
        why = (f"undefined: {removed['components removed'].nunique()} distinct numbers of components removed "
               f"in {len(removed)} rows (need two and three)")
        nan = float("nan")
        return Effect(nan, nan, nan, len(removed), why, nan, nan, nan, nan)
    return correlation_effect(removed["components removed"].to_numpy(float), removed[column].to_numpy(float),
                              "spearman")


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
