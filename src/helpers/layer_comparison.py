"""Comparing layers: matrices of layer-to-layer distances, their agreement, and the
principal-component sensitivity test of Ding, Denain & Steinhardt (2021).

A *layer matrix* is an (L, L) array of dissimilarities between the L layers of a network (a
persistence distance, or 1 - CKA), symmetric with a zero diagonal. Two such matrices are
compared through their off-diagonal entries: Spearman's rank correlation, with a Mantel
permutation test (rows and columns of one matrix relabelled together) for its significance
(:func:`mantel_test`), also given a third matrix such as the depth gaps
(:func:`partial_mantel_test`). Every permutation test here enumerates all L! relabellings when
there are no more than the permutations asked for, and samples them otherwise.

The claims of chapters 4 and 5 are about what training builds: :func:`helpers.claims.trained_minus_control`
turns one statistic per seed, of the trained networks and of their untrained initial networks,
into the judged effect (trained minus untrained, paired by seed) and the control's own value;
:func:`matching_test` gives the cross-seed matching share of each network and tests it against
relabelled layers; :func:`principal_component_sensitivity`
runs Ding et al.'s test on one cloud and :func:`sensitivity_effect` pools its tables over layers
into one effect.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .activations import linear_cka, matching_share, remove_principal_components, removed_components
from .claims import ALPHA, MIN_BOOTSTRAP_UNITS, Effect, normal_effect
from .topology import DIAGRAM_METRICS, check_count, diagram_distance, rips_diagrams
from .workers import in_processes


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


def _all_orders(n: int) -> np.ndarray:
    """(n!, n) int array of every order of n items, the identity first."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n)


def _random_orders(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count + 1, n) int array: the identity, then ``count`` random orders of n items."""
    return np.array([np.arange(n)] + [rng.permutation(n) for _ in range(count)], dtype=np.int64)


def relabellings(n_layers: int, n_permutations: int, seed: int = 0) -> tuple[np.ndarray, bool]:
    """The layer orders a permutation test compares, and whether they are all of them:
    ``((R, n_layers) int array, exact)``, row 0 the identity (the observed labelling). All
    ``n_layers!`` orders (exact) when there are at most ``n_permutations``; otherwise the identity
    and ``n_permutations`` random orders (seeded), so that R = n_permutations + 1."""
    check_count("n_permutations", n_permutations)
    if math.factorial(n_layers) <= n_permutations:
        return _all_orders(n_layers), True
    return _random_orders(n_layers, n_permutations, np.random.default_rng(seed)), False


@dataclass(frozen=True)
class MantelResult:
    """Spearman (or partial Spearman) correlation ``rho`` of two layer matrices' off-diagonal
    entries, and the share ``p_value`` of layer relabellings giving a correlation at least as
    large (one-sided, counting the observed one). ``exact``: all L! relabellings were compared
    (``n_permutations`` = L!); otherwise ``n_permutations`` random ones and the observed one."""

    rho: float
    p_value: float
    n_permutations: int
    exact: bool = False

    def describe(self) -> str:
        relabelled = (f"exact, {self.n_permutations} relabellings" if self.exact
                      else f"{self.n_permutations} permutations")
        return f"Spearman {self.rho:+.2f} (Mantel p={self.p_value:.3g}, {relabelled})"


def _rank_residuals(values: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Ranks of each row of ``values`` (R, m) minus their least-squares fit on the columns of
    ``design`` (m, q): (R, m)."""
    ranks = stats.rankdata(values, axis=-1)
    coefficients = np.linalg.lstsq(design, ranks.T, rcond=None)[0]  # (q, R)
    return ranks - (design @ coefficients).T


def _relabelled_correlation(a: np.ndarray, b: np.ndarray, control: np.ndarray | None, n_permutations: int,
                            seed: int) -> MantelResult:
    """Correlation of the rank residuals of the off-diagonal entries of layer matrices ``a`` and
    ``b`` (L, L) given an intercept and the ranks of ``control`` (or the intercept alone), tested
    by relabelling the layers of ``a`` (see :func:`relabellings`) and recomputing its residuals."""
    matrices = {"a": _square(a, "a"), "b": _square(b, "b")}
    if control is not None:
        matrices["control"] = _square(control, "control")
    shapes = {name: m.shape for name, m in matrices.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"the matrices must have the same shape, got {shapes}")
    a, b = matrices["a"], matrices["b"]
    rows, cols = np.triu_indices(len(a), k=1)
    design = np.ones((len(rows), 1))
    if control is not None:
        design = np.c_[design, stats.rankdata(matrices["control"][rows, cols])]
    orders, exact = relabellings(len(a), n_permutations, seed)
    residuals = {"a": _rank_residuals(a[orders[:, rows], orders[:, cols]], design),  # (R, m), row 0 observed
                 "b": _rank_residuals(b[rows, cols][None], design)}
    for name, residual in residuals.items():
        # ranks run from 1 to m, so a residual of rounding alone is far below 1e-9 m^1.5
        if np.linalg.norm(residual[0]) <= 1e-9 * len(rows) ** 1.5:
            raise ValueError(f"{name} is constant off the diagonal: no rank correlation is defined" if control is None
                             else f"the ranks of {name} are a linear function of the control's: no partial "
                                  f"correlation is defined")
    target = residuals["b"][0]
    rho = residuals["a"] @ target / (np.linalg.norm(residuals["a"], axis=1) * np.linalg.norm(target))
    p_value = float(np.mean(rho >= rho[0] - 1e-12))
    return MantelResult(float(rho[0]), p_value, len(orders) if exact else n_permutations, exact)


def mantel_test(a: np.ndarray, b: np.ndarray, n_permutations: int = 999, seed: int = 0) -> MantelResult:
    """Is layer matrix ``a`` rank-correlated with layer matrix ``b`` (both (L, L))? Spearman's
    correlation of their off-diagonal entries; the null distribution relabels the layers of ``a``
    (rows and columns together), which keeps the dependence between entries that share a layer:
    all L! relabellings when L! <= ``n_permutations``, else ``n_permutations`` random ones."""
    return _relabelled_correlation(a, b, None, n_permutations, seed)


def partial_mantel_test(a: np.ndarray, b: np.ndarray, control: np.ndarray, n_permutations: int = 999,
                        seed: int = 0) -> MantelResult:
    """Is layer matrix ``a`` rank-correlated with layer matrix ``b`` beyond what a third layer
    matrix ``control`` (e.g. :func:`depth_gaps`) explains? All (L, L).

    The partial Spearman correlation: the ranks of the off-diagonal entries of ``a`` and of ``b``
    are each regressed on the ranks of ``control`` by least squares (with an intercept), and the
    residuals correlated. The null distribution relabels the layers of ``a`` (rows and columns
    together; all L! relabellings when L! <= ``n_permutations``) and recomputes its residuals each
    time (the permutation of the raw matrix, Legendre & Legendre, *Numerical Ecology*); p is
    one-sided (a correlation at least as large). ``ValueError`` when the control fixes the ranks
    of ``a`` or ``b`` entirely (no residual left to correlate)."""
    return _relabelled_correlation(a, b, control, n_permutations, seed)


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


def matching_test(matrices: Sequence[np.ndarray], rows: Sequence[str], tolerance: int = 0,
                  n_permutations: int = 9999, seed: int = 0) -> pd.DataFrame:
    """Cross-seed layer matching per network, against layers matched at random.

    ``matrices[i]`` (L, L) holds dissimilarities between the layers of network ``rows[i]`` (rows)
    and of a partner network (columns, same layers in the same order). A network's ``share`` is
    the mean over its matrices of :func:`helpers.activations.matching_share` (the share of its
    layers whose nearest partner layer lies within ``tolerance`` layers of the same depth). The
    null relabels the column layers of all of the network's matrices by one common order (see
    :func:`relabellings`: all L! when L! <= ``n_permutations``, else the observed order and
    ``n_permutations`` random ones) and ``p-value`` is the share of relabellings whose share is at
    least the observed one. One row per network, in order of first appearance, with columns
    ``network``, ``share``, ``null mean`` (the mean share over the relabellings), ``p-value``,
    ``relabellings`` (how many were compared, the observed one included) and ``exact``."""
    if len(matrices) != len(rows) or not rows:
        raise ValueError(f"need one row network per matrix, got {len(matrices)} matrices and {len(rows)} names")
    grouped: dict[str, list[np.ndarray]] = {}
    for matrix, name in zip(matrices, rows):
        grouped.setdefault(name, []).append(np.asarray(matrix, dtype=np.float64))
    table = []
    for name, group in grouped.items():
        shapes = {m.shape for m in group}
        if len(shapes) != 1:
            raise ValueError(f"the matrices of network {name!r} have different shapes {sorted(shapes)}")
        orders, exact = relabellings(len(group[0]), n_permutations, seed)
        shares = np.array([np.mean([matching_share(m[:, order], tolerance) for m in group]) for order in orders])
        table.append({"network": name, "share": shares[0], "null mean": shares.mean(),
                      "p-value": np.mean(shares >= shares[0] - 1e-12), "relabellings": len(orders), "exact": exact})
    return pd.DataFrame(table)


def probe_accuracy(points: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """How well a linear probe reads the class from a cloud: the mean accuracy (a fraction) of
    scikit-learn's ``LogisticRegression(max_iter=1000)`` on the standardised points ``(N, D)``
    over a stratified ``folds``-fold cross-validation (folds shuffled by ``seed``), predicting
    ``labels`` (N,) ints."""
    cloud = np.asarray(points, dtype=np.float64)
    classes = np.asarray(labels)
    if cloud.ndim != 2 or classes.shape != (len(cloud),):
        raise ValueError(f"need an (N, D) cloud and (N,) labels, got shapes {cloud.shape} and {classes.shape}")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with threadpool_limits(1):  # problems this small run about ten times slower on several BLAS threads
        return float(cross_val_score(probe, cloud, classes, cv=split, scoring="accuracy").mean())


def principal_component_sensitivity(points: np.ndarray, removed: Sequence[int], labels: np.ndarray | None = None,
                                    metrics: Sequence[str] = DIAGRAM_METRICS, end: str = "bottom",
                                    scale: float = 1.0, probe_folds: int = 5, seed: int = 0,
                                    progress: bool = True, n_threads: int = -1) -> pd.DataFrame:
    """Ding, Denain & Steinhardt's test on one (N, D) cloud: remove k of its principal
    components for each k in ``removed`` (those of smallest variance for ``end="bottom"``, of
    largest for ``"top"``; :func:`helpers.activations.remove_principal_components`) and measure
    how far the reduced cloud moved from the original one.

    One row per k with columns ``components removed``, ``end``; one column per metric of
    ``metrics`` (:data:`helpers.topology.DIAGRAM_METRICS`), named after it: the distance between
    the H1 Rips diagrams of the original and the reduced cloud, divided by ``scale``; ``1 - CKA``
    (linear CKA of the original and the reduced cloud, 1 when every component is removed);
    ``variance removed``, the share of the total variance in the removed components. With
    ``labels`` ((N,) ints): ``probe accuracy``, :func:`probe_accuracy` of the reduced cloud
    (``probe_folds`` folds, ``seed``), and ``probe drop``, the original cloud's accuracy minus it:
    the function a similarity measure should follow (Ding et al.: removing low-variance
    components can destroy what a probe reads while CKA barely moves). ``n_threads``: threads of
    each Rips computation (:func:`helpers.topology.rips_diagrams`)."""
    cloud = np.asarray(points, dtype=np.float64)
    original = remove_principal_components(cloud, 0, end)  # the cloud as every reduced one is stored (float32)
    diagram = rips_diagrams(original, (1,), n_threads)[0]
    variances = np.linalg.svd(cloud - cloud.mean(0), compute_uv=False) ** 2  # (r,), decreasing
    baseline = probe_accuracy(original, labels, probe_folds, seed) if labels is not None else None
    table = []
    for k in tqdm(list(removed), desc="principal components removed", disable=not progress):
        reduced = remove_principal_components(cloud, k, end)
        moved = rips_diagrams(reduced, (1,), n_threads)[0]
        row = {"components removed": int(k), "end": end}
        row.update({metric: diagram_distance(diagram, moved, metric) / scale for metric in metrics})
        row["1 - CKA"] = 1.0 - linear_cka(cloud, reduced) if k < len(variances) else 1.0
        row["variance removed"] = float(variances[removed_components(len(variances), k, end)].sum() / variances.sum())
        if baseline is not None:
            row["probe accuracy"] = probe_accuracy(reduced, labels, probe_folds, seed)
            row["probe drop"] = baseline - row["probe accuracy"]
        table.append(row)
    return pd.DataFrame(table)


def principal_component_sensitivities(requests: Sequence[Mapping[str, object]], n_jobs: int = 1,
                                      progress: bool = True) -> list[pd.DataFrame]:
    """:func:`principal_component_sensitivity` of each request (a mapping of its keyword
    arguments: ``points``, ``removed``, ...), in order, in ``n_jobs`` worker processes (1: here)
    whose Rips computations run on one thread each; the tables are the same for any ``n_jobs``."""
    check_count("n_jobs", n_jobs)
    calls = [functools.partial(principal_component_sensitivity, **{**request, "progress": False, "n_threads": 1})
             for request in requests]
    return list(tqdm(in_processes(calls, n_jobs), total=len(calls), desc="principal components removed",
                     disable=not progress))


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's correlation of ``x`` and ``y`` along their last axis, (..., n) each
    (broadcast): (...), ``nan`` where one side is constant."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return stats.pearsonr(stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1), axis=-1).statistic


def _within_group_null(groups: Sequence[tuple[np.ndarray, np.ndarray]], n_permutations: int, seed: int
                       ) -> tuple[np.ndarray, bool]:
    """The mean within-group Spearman correlation of ``(x, y)`` pairs of (n_g,) arrays with ``x``
    relabelled within each group: ((R,) statistics, exact), the first the observed one. Every
    combination of within-group orders when their number (the product of the n_g!) is at most
    ``n_permutations``, else the observed orders and ``n_permutations`` random ones per group."""
    check_count("n_permutations", n_permutations)
    exact = math.prod(math.factorial(len(x)) for x, _ in groups) <= n_permutations
    if exact:  # every combination: the sum over groups of each group's correlations, on an outer grid
        per_group = [_spearman_rows(x[_all_orders(len(x))], y) for x, y in groups]
        return functools.reduce(np.add.outer, per_group).ravel() / len(groups), True
    rng = np.random.default_rng(seed)
    per_group = [_spearman_rows(x[_random_orders(len(x), n_permutations, rng)], y) for x, y in groups]
    return np.mean(per_group, axis=0), False


def _within_group_bootstrap(groups: Sequence[tuple[np.ndarray, np.ndarray]], n_resamples: int, seed: int
                            ) -> np.ndarray:
    """The mean within-group Spearman correlation of ``(x, y)`` pairs of (n_g,) arrays on
    ``n_resamples`` resamples of the rows within each group: (B,) finite values (resamples on
    which some group's correlation is undefined, all its resampled x or y equal, are left out)."""
    rng = np.random.default_rng(seed)
    draws = []
    for x, y in groups:
        chosen = rng.integers(0, len(x), (n_resamples, len(x)))
        draws.append(_spearman_rows(x[chosen], y[chosen]))
    means = np.mean(draws, axis=0)
    return means[np.isfinite(means)]


def sensitivity_effect(table: pd.DataFrame, column: str, against: str = "components removed",
                       by: str | None = "layer", n_permutations: int = 9999, n_resamples: int = 2000,
                       seed: int = 0) -> Effect:
    """Ding et al.'s test as one effect pooled over layers: does ``column`` rise with ``against``
    (``components removed``, or ``probe drop``) in :func:`principal_component_sensitivity` tables
    concatenated with a column ``by`` naming the layer (``by=None``: the table is one group)?

    Only the rows with components removed (k > 0) count. The estimate is the mean over the groups
    of the Spearman correlation of ``against`` and ``column`` within the group, so that the rows
    of one layer are not taken for independent units. The p-value (two-sided) relabels
    ``against`` within each group: all combinations when the product of the groups' n_g! is at
    most ``n_permutations``, else ``n_permutations`` random ones and the observed one. The 95%
    interval is the percentile bootstrap of ``n_resamples`` resamples of the rows within each
    group (seeded; resamples on which a group's correlation is undefined are left out), its
    spread the standard error; the detectable effect is that of a normal estimate with this
    standard error (``nan`` below :data:`helpers.claims.MIN_BOOTSTRAP_UNITS` rows). When a group
    has fewer than three rows, or a constant ``against`` or ``column``, no correlation is defined:
    the effect is ``nan`` (the verdict inconclusive) and its method says why; so is its interval
    when the correlation is undefined on more than half the bootstrap resamples."""
    missing = [name for name in (column, against, "components removed", by) if name and name not in table]
    if missing:
        raise ValueError(f"the table has no columns {missing}; it has {list(table.columns)}")
    used = table[table["components removed"] > 0]
    grouped = [("all rows", used)] if by is None else list(used.groupby(by, sort=False))
    undefined = [f"{group}: {len(rows)} rows, {rows[against].nunique()} distinct {against!r}, "
                 f"{rows[column].nunique()} distinct {column!r}" for group, rows in grouped
                 if len(rows) < 3 or rows[against].nunique() < 2 or rows[column].nunique() < 2]
    if not grouped or undefined:
        nan = float("nan")
        why = (f"undefined: {'; '.join(undefined) or 'no rows with components removed'} (need three rows and two "
               f"distinct values of each in every group)")
        return Effect(nan, nan, nan, len(used), why, nan, nan, nan, nan)
    groups = [(rows[against].to_numpy(float), rows[column].to_numpy(float)) for _, rows in grouped]
    null, exact = _within_group_null(groups, n_permutations, seed)
    estimate = float(null[0])
    pvalue = float(np.mean(np.abs(null) >= abs(estimate) - 1e-12))
    draws = _within_group_bootstrap(groups, n_resamples, seed)
    if len(draws) < n_resamples // 2:
        nan = float("nan")
        why = (f"undefined: the within-group correlation was undefined on {n_resamples - len(draws)} of "
               f"{n_resamples} bootstrap resamples (too few distinct rows per group)")
        return Effect(estimate, nan, nan, len(used), why, nan, nan, nan, pvalue)
    low, high = np.quantile(draws, [ALPHA / 2, 1 - ALPHA / 2])
    method = (f"mean Spearman of {against} and {column} within {len(groups)} "
              f"{'groups' if by is None else repr(by) + ' groups'}; permutation p "
              f"({'exact, ' if exact else ''}{len(null)} relabellings within groups), "
              f"bootstrap interval (rows resampled within groups)")
    # a normal reference for the standard error and the detectable effect; interval and p as above
    effect = replace(normal_effect(estimate, float(draws.std(ddof=1)), len(used), method),
                     low=float(low), high=float(high), pvalue=pvalue)
    return effect if len(used) >= MIN_BOOTSTRAP_UNITS else replace(effect, detectable=float("nan"))
