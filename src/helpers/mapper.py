"""Mapper graphs of activation point clouds (KeplerMapper), their class purity, and their display.

A Mapper graph summarises a point cloud (N, D): a *lens* maps every point to a few numbers, the
lens range is covered by overlapping intervals, the points of each interval are clustered
(DBSCAN), every cluster becomes a node, and two nodes are joined when they share points. P2's
settings are the defaults: lens = l2 norm of each activation vector, 10 intervals with 50%
overlap, DBSCAN with ``min_samples=5`` and ``eps`` at the knee of the sorted distances to the
1st nearest neighbour (:func:`knee_eps`), on the channel vectors after ``bn2`` and ReLU inside
each residual block, before the residual sum (:func:`layer_clouds`). The graph itself is
KeplerMapper's (:mod:`kmapper`); this module adds the statistics that say how well the graph
separates classes. Two definitions of purity (:data:`PURITY_DEFINITIONS`):

* ``"p2"`` (P2's ``get_nodewise_purity.py`` and ``get_classwise_purity.py``, the default): a
  node's purity is 1 / (number of distinct labels in it); *node purity* is its mean over nodes; a
  point's purity is the mean purity of the nodes holding it, 0 for a point in no node;
  *class-wise purity* is the mean point purity of each class, averaged over classes;
* ``"share"``: a node's purity is the share of its most common label (node purity, and a
  point's purity is their mean over the nodes holding it); class-wise purity is the mean share
  of each class in the nodes holding its points, points in no node left out (the diagonal of
  :func:`class_sharing`, whose off-diagonal entries say which classes share nodes).

Both are computed again after shuffling the labels over the same graph (*chance*), and the *lift*
``(purity - chance) / (1 - chance)`` is 0 at chance and 1 for perfectly separated classes (P2's
class-wise purity reaches at most the share of points in some node). Small nodes are pure by
chance, and two superclasses are purer than ten classes by chance, so levels are compared by
their lift.

The claims of chapter 5 are judged on trained networks minus their untrained initial networks
(:func:`lift_rise`, :func:`superclass_lead`), against every other split of the classes into groups
of the same sizes (:func:`split_null`), and by a permutation test stratified by class
(:func:`misclassification_test`). :func:`interactive_html` writes KeplerMapper's page with its
scripts inlined from the vendored copies in ``helpers/vendor`` (d3 6.1.1, FileSaver), so that it
loads nothing from another host.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources

import kmapper
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits
from torch import nn

from . import activations, pages
from .claims import Effect, null_effect
from .fastnet import ConvGroup
from .resnet import BasicBlock
from .topology import check_count

LENSES = ("l2norm", "pca")
PURITY_DEFINITIONS = ("p2", "share")
"""``"p2"``: P2's purity, 1 / (distinct labels) per node, points in no node count 0;
``"share"``: the share of the majority label (nodes) or of the class's own label (class-wise),
points in no node left out."""
LAYER_CHOICES = ("bn2_relu", "block")
"""Where a ResNet's residual block is read: ``"bn2_relu"``, its second BatchNorm followed by ReLU,
before the residual sum (P2's Mapper layers); ``"block"``, the block's output after the sum and
ReLU. The fast network (:class:`helpers.fastnet.FastCifarNet`) has no residual sum: ``"bn2_relu"``
reads the output of each of its six BatchNorm-and-GELU stages (the normalised, activated output of
every 3x3 convolution, the same role), ``"block"`` the output of each of its three groups."""
CIFAR10_SUPERCLASSES = {"vehicle": ("airplane", "automobile", "ship", "truck"),
                        "animal": ("bird", "cat", "deer", "dog", "frog", "horse")}


def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or len(points) < 2:
        raise ValueError(f"points must be a 2-D array (N, D) with N >= 2, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain NaN or infinite values")
    return points


def knee_index(values: np.ndarray) -> int:
    """Index of the knee of an increasing curve: the point farthest from the straight line
    between its first and last points (the "kneedle" construction), for a 1-D array."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 3:
        raise ValueError(f"the knee needs a 1-D curve of at least 3 values, got shape {values.shape}")
    x = np.linspace(0.0, 1.0, len(values))
    span = values[-1] - values[0]
    y = (values - values[0]) / span if span > 0 else np.zeros_like(values)
    return int(np.argmax(x - y))


def knee_eps(points: np.ndarray, k: int = 1) -> float:
    """DBSCAN radius at the knee of the sorted distances of each point to its ``k``-th nearest
    neighbour (the point itself not counted), in the units of ``points`` (N, D). P2
    (``get_knn.elbow_eps``) uses the 1st nearest neighbour, the default."""
    points = _check_points(points)
    k = check_count("k", k)
    if k >= len(points):
        raise ValueError(f"k={k} needs more than {k} points, got {len(points)}")
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    kth = np.sort(distances[:, k])
    return float(kth[knee_index(kth)])


def lens_values(points: np.ndarray, lens: str = "l2norm", n_components: int = 2, seed: int = 0) -> np.ndarray:
    """The lens (N, d): ``"l2norm"``, the Euclidean norm of each point (d = 1, P2's lens), or
    ``"pca"``, the first ``n_components`` principal components (d = n_components)."""
    points = _check_points(points)
    if lens not in LENSES:
        raise ValueError(f"unknown lens {lens!r}; expected one of {LENSES}")
    if lens == "l2norm":
        return np.linalg.norm(points, axis=1)[:, None]
    n_components = check_count("n_components", n_components)
    if n_components > min(points.shape):
        raise ValueError(f"n_components={n_components} exceeds the data's rank bound {min(points.shape)}")
    return PCA(n_components=n_components, svd_solver="full", random_state=seed).fit_transform(points)


def block_layers(model: nn.Module, where: str = "bn2_relu") -> dict[str, str]:
    """The module to hook for each layer Mapper reads (see :data:`LAYER_CHOICES`): layer name ->
    module name, in forward order. A ResNet gives one layer per residual block (``"layer1.0" ->
    "layer1.0.bn2"`` for ``"bn2_relu"``, the block itself for ``"block"``); the fast network one
    per BatchNorm-and-GELU stage (``"group1.1" -> "group1.act1"``) or per group (``"group1"``)."""
    if where not in LAYER_CHOICES:
        raise ValueError(f"unknown layer choice {where!r}; expected one of {LAYER_CHOICES}")
    blocks = [name for name, module in model.named_modules() if isinstance(module, BasicBlock)]
    groups = [name for name, module in model.named_modules() if isinstance(module, ConvGroup)]
    if blocks:
        return {name: f"{name}.bn2" if where == "bn2_relu" else name for name in blocks}
    if groups and where == "block":
        return {name: name for name in groups}
    if groups:
        return {f"{name}.{stage}": f"{name}.act{stage}" for name in groups for stage in (1, 2)}
    raise ValueError(f"{type(model).__name__} has neither residual blocks nor convolution groups")


def layer_clouds(model: nn.Module, images: np.ndarray, where: str = "bn2_relu", seed: int = 0,
                 device: str = "cpu") -> dict[str, np.ndarray]:
    """P2's Mapper point clouds: for every layer of :func:`block_layers` (name -> (N, C)
    float32, in depth order), the channel vector of each image (N, C, H, W) at one random interior position
    (:func:`helpers.activations.point_clouds`, ``"random_interior"``), read where
    :func:`block_layers` says. A hooked ResNet ``bn2`` output goes through ReLU here: ReLU acts
    on each entry, so taking it after choosing the position is the same."""
    hooked = block_layers(model, where)
    clouds = activations.point_clouds(model, images, list(hooked.values()), "random_interior", seed=seed,
                                      device=device)
    return {block: np.maximum(clouds[module], 0) if module.endswith(".bn2") else clouds[module]
            for block, module in hooked.items()}


@dataclass(frozen=True)
class MapperGraph:
    """A Mapper graph of ``n_points`` points.

    ``nodes``: node name -> sorted member indices (int arrays); ``edges``: pairs of node names
    sharing at least one point; ``lens`` (N, d) the lens values; ``eps`` the DBSCAN radius used;
    ``settings`` the parameters; ``kmapper_graph`` KeplerMapper's own dictionary (for
    :func:`interactive_html`)."""

    nodes: dict[str, np.ndarray]
    edges: list[tuple[str, str]]
    lens: np.ndarray
    eps: float
    n_points: int
    settings: dict[str, object]
    kmapper_graph: dict = field(repr=False)

    @property
    def node_names(self) -> list[str]:
        return list(self.nodes)

    @property
    def sizes(self) -> np.ndarray:
        """Members per node (n_nodes,)."""
        return np.array([len(members) for members in self.nodes.values()], dtype=int)


def mapper_graph(points: np.ndarray, lens: str = "l2norm", n_cubes: int = 10, overlap: float = 0.5,
                 min_samples: int = 5, eps: str | float = "knee", knee_k: int = 1, n_components: int = 2,
                 seed: int = 0) -> MapperGraph:
    """KeplerMapper graph of ``points`` (N, D) with P2's settings as defaults.

    ``lens``: see :func:`lens_values`; ``n_cubes`` intervals per lens dimension overlapping by
    the fraction ``overlap`` (in (0, 1)); DBSCAN with ``min_samples`` and radius ``eps``, either
    a positive number or ``"knee"`` (:func:`knee_eps` with ``k = knee_k``, P2's 1st nearest
    neighbour by default, computed once on the whole cloud). Points DBSCAN calls noise belong
    to no node. The clustering runs on one thread: Mapper solves many small problems, for which
    starting OpenMP threads costs more than it saves (several times more on a busy machine)."""
    points = _check_points(points)
    n_cubes = check_count("n_cubes", n_cubes)
    min_samples = check_count("min_samples", min_samples)
    if not 0.0 < overlap < 1.0:
        raise ValueError(f"overlap={overlap!r}: expected a fraction strictly between 0 and 1")
    if isinstance(eps, str):
        if eps != "knee":
            raise ValueError(f"eps={eps!r}: expected 'knee' or a positive number")
        radius = knee_eps(points, k=knee_k)
    elif eps > 0:
        radius = float(eps)
    else:
        raise ValueError(f"eps={eps!r}: expected 'knee' or a positive number")
    radius = max(radius, np.finfo(float).tiny)  # DBSCAN refuses 0 (duplicated points)
    lens_array = lens_values(points, lens, n_components, seed)
    with threadpool_limits(limits=1, user_api="openmp"):
        raw = kmapper.KeplerMapper(verbose=0).map(lens_array, points,
                                                  clusterer=DBSCAN(eps=radius, min_samples=min_samples),
                                                  cover=kmapper.Cover(n_cubes=n_cubes, perc_overlap=overlap))
    nodes = {name: np.array(sorted(members), dtype=int) for name, members in raw["nodes"].items()}
    edges = sorted({tuple(sorted((a, b))) for a, ends in raw["links"].items() for b in ends})
    settings = {"lens": lens, "n_cubes": n_cubes, "overlap": overlap, "min_samples": min_samples,
                "eps": eps, "knee_k": knee_k, "n_components": n_components if lens == "pca" else 1}
    return MapperGraph(nodes, edges, lens_array, radius, len(points), settings, raw)


def graph_from_nodes(nodes: dict[str, Sequence[int]], n_points: int) -> MapperGraph:
    """A :class:`MapperGraph` from hand-made nodes (name -> member indices), with an edge between
    every two nodes that share a point; for tests and worked examples."""
    members = {name: np.array(sorted(set(ids)), dtype=int) for name, ids in nodes.items()}
    for name, ids in members.items():
        if len(ids) == 0 or ids.min() < 0 or ids.max() >= n_points:
            raise ValueError(f"node {name!r} must hold indices in [0, {n_points}), got {ids.tolist()}")
    names = list(members)
    edges = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
             if np.intersect1d(members[a], members[b]).size]
    raw = {"nodes": {n: ids.tolist() for n, ids in members.items()},
           "links": {a: [b for x, b in edges if x == a] for a in names}, "simplices": [], "meta_data": {},
           "meta_nodes": {}}
    return MapperGraph(members, edges, np.zeros((n_points, 1)), float("nan"), n_points, {}, raw)


def _check_labels(graph: MapperGraph, labels: np.ndarray, n_classes: int | None = None) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.shape != (graph.n_points,) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(f"labels must be {graph.n_points} non-negative integers (one per point), "
                         f"got shape {labels.shape} and dtype {labels.dtype}")
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    if labels.max() >= n_classes:
        raise ValueError(f"label {labels.max()} is out of range for n_classes={n_classes}")
    return labels, n_classes


def incidence(graph: MapperGraph) -> sparse.csr_matrix:
    """Node-by-point membership matrix (n_nodes, n_points) of 0/1 entries."""
    rows = np.concatenate([np.full(len(ids), i) for i, ids in enumerate(graph.nodes.values())] or [np.array([], int)])
    cols = np.concatenate(list(graph.nodes.values()) or [np.array([], int)])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(graph.nodes), graph.n_points))


def class_counts(graph: MapperGraph, labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Points of each class in each node (n_nodes, n_classes)."""
    labels, n_classes = _check_labels(graph, labels, n_classes)
    return np.asarray(incidence(graph) @ np.eye(n_classes)[labels])


def _check_definition(definition: str) -> None:
    if definition not in PURITY_DEFINITIONS:
        raise ValueError(f"unknown purity definition {definition!r}; expected one of {PURITY_DEFINITIONS}")


def node_values(counts: np.ndarray, definition: str = "p2") -> np.ndarray:
    """Purity of each node (n_nodes,) from class counts (n_nodes, n_classes): P2's
    1 / (number of distinct labels), or (``"share"``) the majority label's share."""
    _check_definition(definition)
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or len(counts) == 0:
        raise ValueError(f"counts must be (n_nodes, n_classes) with at least one node, got shape {counts.shape}")
    if definition == "p2":
        return 1.0 / (counts > 0).sum(1)
    return counts.max(1) / counts.sum(1)


def node_purity(counts: np.ndarray, definition: str = "p2") -> float:
    """Mean over nodes of :func:`node_values` (P2's node purity by default)."""
    return float(np.mean(node_values(counts, definition)))


def _point_values(member: sparse.csr_matrix, counts: np.ndarray, definition: str) -> np.ndarray:
    """Point purity (N,): the mean :func:`node_values` of the nodes holding each point, from the
    incidence matrix and the class counts; NaN for a point in no node."""
    memberships = np.asarray(member.sum(0)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(member.T @ node_values(counts, definition)).ravel() / memberships


def point_purity(graph: MapperGraph, labels: np.ndarray, definition: str = "p2") -> np.ndarray:
    """For each point (N,), the mean purity of the nodes it belongs to (:func:`node_values`:
    P2's 1 / (distinct labels), or the majority label's share); NaN for points in no node. Low
    values mark points that sit in mixed nodes."""
    _check_definition(definition)
    return _point_values(incidence(graph), class_counts(graph, labels), definition)


def _class_purity(member: sparse.csr_matrix, counts: np.ndarray, labels: np.ndarray, n_classes: int,
                  definition: str) -> float:
    if definition == "share":
        return float(np.nanmean(np.diag(class_sharing(counts))))
    points = np.nan_to_num(_point_values(member, counts, "p2"), nan=0.0)  # P2: a point in no node counts 0
    sizes = np.bincount(labels, None, n_classes)
    present = sizes > 0
    return float(np.mean(np.bincount(labels, points, n_classes)[present] / sizes[present]))


def class_purity(graph: MapperGraph, labels: np.ndarray, n_classes: int | None = None,
                 definition: str = "p2") -> float:
    """Class-wise purity of ``graph`` for ``labels`` (N,), averaged over the classes present.
    P2's (``get_classwise_purity.py``): the mean over a class's points of :func:`point_purity`,
    a point in no node counting 0. ``"share"``: the mean share of the class in the nodes holding
    its points, each membership counted once, points in no node left out (the diagonal of
    :func:`class_sharing`)."""
    _check_definition(definition)
    labels, n_classes = _check_labels(graph, labels, n_classes)
    member = incidence(graph)
    return _class_purity(member, np.asarray(member @ np.eye(n_classes)[labels]), labels, n_classes, definition)


def class_sharing(counts: np.ndarray) -> np.ndarray:
    """(n_classes, n_classes) matrix: entry [a, b] is the mean share of class b in the nodes that
    hold class a's points, each node weighted by how many of a's points it holds. Rows sum to 1;
    the diagonal is each class's purity; a class with no point in any node has a row of NaN."""
    counts = np.asarray(counts, dtype=float)
    shares = counts / counts.sum(1, keepdims=True)
    weights = counts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts.T @ shares) / weights[:, None]


def n_components(graph: MapperGraph) -> int:
    """Number of connected components of the graph (isolated nodes count)."""
    index = {name: i for i, name in enumerate(graph.nodes)}
    if not index:
        return 0
    rows = [index[a] for a, _ in graph.edges]
    cols = [index[b] for _, b in graph.edges]
    adjacency = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(index),) * 2)
    return int(connected_components(adjacency, directed=False)[0])


def purity_lift(purity: float, chance: float) -> float:
    """``(purity - chance) / (1 - chance)``: 0 at chance level, 1 when perfectly pure."""
    return float((purity - chance) / (1 - chance)) if chance < 1 else float("nan")


def _suffix(definition: str) -> str:
    return "" if definition == "p2" else f"_{definition}"


def purity_stats(graph: MapperGraph, labels: np.ndarray, n_classes: int | None = None, n_permutations: int = 20,
                 seed: int = 0) -> dict[str, float]:
    """Purity of ``graph`` for ``labels`` (N,) and against chance, by both definitions.

    Returns ``node_purity`` and ``class_purity`` (P2's definitions), their means over
    ``n_permutations`` shuffles of the labels (``chance_node_purity``, ``chance_class_purity``),
    the lifts ``(purity - chance) / (1 - chance)`` (``node_lift``, ``class_lift``); the same seven
    with the suffix ``_share`` for the majority-share definitions; ``n_nodes``, ``n_edges``,
    ``n_components`` and ``coverage`` (share of points in at least one node)."""
    labels, n_classes = _check_labels(graph, labels, n_classes)
    n_permutations = check_count("n_permutations", n_permutations)
    if not graph.nodes:
        raise ValueError("the graph has no nodes (DBSCAN found only noise): try a larger eps or smaller min_samples")
    member = incidence(graph)
    onehot = np.eye(n_classes)

    def values(shuffled: np.ndarray) -> list[float]:
        counts = np.asarray(member @ onehot[shuffled])
        return [v for definition in PURITY_DEFINITIONS
                for v in (node_purity(counts, definition),
                          _class_purity(member, counts, shuffled, n_classes, definition))]

    observed = values(labels)
    rng = np.random.default_rng(seed)
    chance = np.mean([values(rng.permutation(labels)) for _ in range(n_permutations)], axis=0)
    result: dict[str, float] = {}
    for index, definition in enumerate(PURITY_DEFINITIONS):
        suffix = _suffix(definition)
        node, klass = observed[2 * index], observed[2 * index + 1]
        node_chance, class_chance = float(chance[2 * index]), float(chance[2 * index + 1])
        result |= {f"node_purity{suffix}": node, f"class_purity{suffix}": klass,
                   f"chance_node_purity{suffix}": node_chance, f"chance_class_purity{suffix}": class_chance,
                   f"node_lift{suffix}": purity_lift(node, node_chance),
                   f"class_lift{suffix}": purity_lift(klass, class_chance)}
    return result | {"n_nodes": len(graph.nodes), "n_edges": len(graph.edges), "n_components": n_components(graph),
                     "coverage": float(np.mean(np.asarray(member.sum(0)).ravel() > 0))}


def superclass_labels(labels: np.ndarray, class_names: Sequence[str],
                      groups: dict[str, Sequence[str]] = CIFAR10_SUPERCLASSES) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map fine labels (N,) to the index of their group in ``groups`` (name -> member class
    names; every class in exactly one group). Returns the coarse labels and the group names."""
    owner = {}
    for index, (group, members) in enumerate(groups.items()):
        for name in members:
            if name in owner:
                raise ValueError(f"class {name!r} is in more than one group")
            owner[name] = index
    missing = [name for name in class_names if name not in owner]
    if missing:
        raise ValueError(f"classes {missing} belong to no group of {list(groups)}")
    table = np.array([owner[name] for name in class_names])
    return table[np.asarray(labels)], tuple(groups)


def first_index_reaching(values: Sequence[float], level: float) -> int:
    """Index of the first value at or above ``level``; ``len(values)`` when none reaches it."""
    reached = np.flatnonzero(np.asarray(values, dtype=float) >= level)
    return int(reached[0]) if reached.size else len(values)


def half_rise_index(values: Sequence[float], fraction: float = 0.5) -> int:
    """Index of the first value that has completed ``fraction`` of the rise from the first value
    to the largest one (``v[i] >= v[0] + fraction * (max(v) - v[0])``, for i >= 1); ``len(values)``
    when the values never rise above the first. Says *where* a curve rises, whatever its height."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"need a 1-D sequence of at least 2 values, got shape {values.shape}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction!r}: expected a number in (0, 1]")
    rise = values.max() - values[0]
    if rise <= 0:
        return len(values)
    return 1 + first_index_reaching(values[1:], values[0] + fraction * rise)


def separation_layers(purity: pd.DataFrame, rule: Callable[[np.ndarray], int]) -> pd.DataFrame:
    """Where each level separates: the block index that ``rule`` picks on the lift curve of
    class-wise purity (e.g. :func:`half_rise_index`), per seed and lens. ``purity``: rows of
    :func:`purity_by_layer` with a ``seed`` column (one cover); returns a table indexed by
    ``(seed, lens)`` with one column per level."""
    return (purity.sort_values("depth").groupby(["seed", "lens", "level"]).class_lift
            .apply(lambda values: rule(values.to_numpy())).unstack("level"))


def superclass_lead(separation: pd.DataFrame, lens: str) -> pd.Series:
    """How many blocks earlier the superclasses separate than the classes, per seed (sorted):
    the class column of :func:`separation_layers` minus the superclass column, for ``lens``.
    Positive when superclasses come first."""
    if lens not in separation.index.get_level_values("lens"):
        raise ValueError(f"no lens {lens!r} in the table; it has {sorted(set(separation.index.get_level_values('lens')))}")
    table = separation.xs(lens, level="lens").sort_index()
    return (table["class"] - table["superclass"]).astype(float)


def lift_rise(purity: pd.DataFrame, lens: str, level: str = "class") -> pd.Series:
    """Lift of class-wise purity at the deepest layer minus at the first, per seed (sorted), for
    one ``lens`` and ``level`` (rows of :func:`purity_by_layer` with a ``seed`` column, one cover)."""
    rows = purity[(purity.lens == lens) & (purity.level == level)]
    if rows.empty:
        raise ValueError(f"no rows for lens {lens!r} and level {level!r}")
    curves = rows.pivot_table(index="seed", columns="depth", values="class_lift").sort_index()
    return curves[curves.columns.max()] - curves[curves.columns.min()]


def two_group_splits(class_names: Sequence[str], groups: dict[str, Sequence[str]]) -> list[tuple[str, ...]]:
    """Every split of ``class_names`` into two groups of the sizes of ``groups`` (two groups),
    each given by the classes of the first group, the true split first (C(10, 4) = 210 for
    CIFAR-10's 4 vehicle and 6 animal classes). With equal sizes each split is listed once."""
    if len(groups) != 2:
        raise ValueError(f"the split null needs exactly two groups, got {list(groups)}")
    superclass_labels(np.arange(len(class_names)), class_names, groups)  # every class in one group
    first = tuple(name for name in class_names if name in set(next(iter(groups.values()))))
    size = len(first)
    splits = [tuple(class_names[i] for i in chosen) for chosen in itertools.combinations(range(len(class_names)), size)]
    if 2 * size == len(class_names):  # {A, B} and {B, A} are the same split: keep those holding class 0
        splits = [split for split in splits if class_names[0] in split]
        if class_names[0] not in first:
            first = tuple(name for name in class_names if name not in first)
    return [first] + [split for split in splits if split != first]


@dataclass(frozen=True)
class SplitNull:
    """The statistic of every two-group split of the classes (:func:`two_group_splits`):
    ``splits`` (n_splits,) tuples of the first group's classes, the true split first;
    ``statistics`` (n_splits,); ``rank`` of the true split (1 = largest; ties count against it);
    ``pvalue`` the exact permutation p-value, the share of splits whose statistic is at least the
    true split's (the true one included)."""

    splits: list[tuple[str, ...]]
    statistics: np.ndarray

    @property
    def observed(self) -> float:
        return float(self.statistics[0])

    @property
    def rank(self) -> int:
        return int(np.sum(self.statistics >= self.observed))

    @property
    def pvalue(self) -> float:
        return self.rank / len(self.statistics)

    def effect(self, digits: int = 3) -> Effect:
        """The true split's statistic minus the mean of the other splits', with the interval the
        other splits' spread gives (:func:`helpers.claims.null_effect`): its lower end is above 0
        when the true split beats 97.5% of the others."""
        return null_effect(self.observed, self.statistics[1:], digits=digits,
                           method=f"against all {len(self.statistics) - 1} other splits of the classes")


def split_null(graphs: Sequence[MapperGraph], labels: np.ndarray, class_names: Sequence[str],
               groups: dict[str, Sequence[str]] = CIFAR10_SUPERCLASSES, statistic: str = "class_purity",
               definition: str = "p2") -> SplitNull:
    """Is the grouping ``groups`` special? For every split of the classes into two groups of the
    same sizes, the coarse-level ``statistic`` (``"class_purity"`` or ``"node_purity"``, by
    ``definition``) of each graph in ``graphs`` (e.g. one per seed, all of the same N points with
    fine ``labels`` (N,)), averaged over the graphs. The true split's rank among all of them is an
    exact permutation test: under the null that the graph knows nothing of the grouping, every
    split is equally likely to come out on top."""
    if statistic not in ("class_purity", "node_purity"):
        raise ValueError(f"unknown statistic {statistic!r}; expected 'class_purity' or 'node_purity'")
    _check_definition(definition)
    if not graphs:
        raise ValueError("split_null needs at least one graph")
    splits = two_group_splits(class_names, groups)
    index = {name: i for i, name in enumerate(class_names)}
    tables = np.ones((len(splits), len(class_names)), dtype=int)  # class -> group (0 = the split's first group)
    for row, split in enumerate(splits):
        tables[row, [index[name] for name in split]] = 0
    values = np.zeros(len(splits))
    for graph in graphs:
        labels, _ = _check_labels(graph, labels, len(class_names))
        member = incidence(graph)
        for row, table in enumerate(tables):
            coarse = table[labels]
            counts = np.asarray(member @ np.eye(2)[coarse])
            values[row] += (node_purity(counts, definition) if statistic == "node_purity" else
                            _class_purity(member, counts, coarse, 2, definition))
    return SplitNull(splits, values / len(graphs))


def stratified_gap(purity: np.ndarray, wrong: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """How much purer the neighbourhoods of correctly classified points are than those of
    misclassified points *of the same class*: for each misclassified point, the mean ``purity``
    of the correct points of its stratum minus its own, averaged over misclassified points (strata
    without both kinds are left out). ``purity`` (N,), ``strata`` (N,) integers; ``wrong`` (N,)
    or (B, N) booleans (B flag vectors at once) -> () or (B,)."""
    single = np.ndim(wrong) == 1
    wrong = np.atleast_2d(np.asarray(wrong, dtype=bool))
    strata = np.asarray(strata)
    n_strata = int(strata.max()) + 1
    onehot = np.eye(n_strata)[strata]  # (N, S)
    n_wrong = wrong.astype(float) @ onehot  # (B, S)
    n_right = (~wrong).astype(float) @ onehot
    sum_wrong = (wrong * purity) @ onehot
    sum_right = (~wrong * purity) @ onehot
    both = (n_wrong > 0) & (n_right > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.where(both, sum_right / n_right - sum_wrong / n_wrong, 0.0)
        result = (gaps * n_wrong * both).sum(1) / (n_wrong * both).sum(1)
    return result[0] if single else result


def misclassification_test(graph: MapperGraph, labels: np.ndarray, predicted: np.ndarray, n_permutations: int = 2000,
                           seed: int = 0, definition: str = "p2") -> tuple[Effect, dict[str, float]]:
    """Do misclassified images sit in more mixed nodes than correctly classified images of the
    same class?

    Images share nodes, and classes differ both in how mixed their nodes are and in how often
    the network errs, so a plain comparison of correct and misclassified images mixes the two.
    The statistic is :func:`stratified_gap` of :func:`point_purity` (by ``definition``) over the
    images in some node, with true ``labels`` (N,) as strata and ``predicted`` (N,) the network's
    labels; its null distribution comes from ``n_permutations`` shuffles of the misclassified
    flag within each true class. Returns the :class:`~helpers.claims.Effect` (statistic minus
    the null mean, interval from the null's spread, :func:`helpers.claims.null_effect`) and a
    summary: the plain means ``purity_correct``, ``purity_misclassified`` and their
    ``difference``, the ``stratified_gap``, the one-sided permutation ``pvalue``
    ((1 + #null >= observed) / (1 + n_permutations)) and the counts."""
    labels, _ = _check_labels(graph, labels)
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted must have the shape of labels {labels.shape}, got {predicted.shape}")
    n_permutations = check_count("n_permutations", n_permutations)
    purity = point_purity(graph, labels, definition)
    placed = ~np.isnan(purity)
    purity, strata, wrong = purity[placed], labels[placed], (predicted != labels)[placed]
    if min(wrong.sum(), len(wrong) - wrong.sum()) < 2:
        raise ValueError(f"need at least 2 correct and 2 misclassified points in some node, got "
                         f"{int(len(wrong) - wrong.sum())} and {int(wrong.sum())}")
    mixed = [c for c in np.unique(strata) if 0 < wrong[strata == c].sum() < (strata == c).sum()]
    if not mixed:
        raise ValueError("no class has both correct and misclassified points in some node")
    # rounded, so that sums of the same numbers in another order tie with the observed value
    observed = round(float(stratified_gap(purity, wrong, strata)), 12)
    rng = np.random.default_rng(seed)
    shuffled = np.tile(wrong, (n_permutations, 1))
    for c in np.unique(strata):
        rows = np.flatnonzero(strata == c)
        shuffled[:, rows] = rng.permuted(shuffled[:, rows], axis=1)
    null = np.round(np.atleast_1d(stratified_gap(purity, shuffled, strata)), 12)
    effect = null_effect(observed, null, digits=3, method=f"{n_permutations} shuffles of the flag within each class")
    summary = {"purity_correct": float(purity[~wrong].mean()), "purity_misclassified": float(purity[wrong].mean()),
               "difference": float(purity[~wrong].mean() - purity[wrong].mean()), "stratified_gap": observed,
               "pvalue": float((1 + np.sum(null >= observed)) / (1 + n_permutations)),
               "n_correct": int((~wrong).sum()), "n_misclassified": int(wrong.sum())}
    return effect, summary


def shared_pairs(sharing: np.ndarray, class_names: Sequence[str], top: int = 5) -> pd.DataFrame:
    """The ``top`` pairs of distinct classes that share nodes most, from a :func:`class_sharing`
    matrix: ``share`` is the mean of [a, b] and [b, a]."""
    symmetric = (sharing + sharing.T) / 2
    rows = [(class_names[a], class_names[b], symmetric[a, b])
            for a in range(len(class_names)) for b in range(a + 1, len(class_names))]
    table = pd.DataFrame(rows, columns=["class", "shares nodes with", "share"])
    return table.sort_values("share", ascending=False, ignore_index=True).head(top)


def to_networkx(graph: MapperGraph) -> nx.Graph:
    """The graph as networkx, node attribute ``members`` (index array)."""
    result = nx.Graph()
    result.add_nodes_from((name, {"members": ids}) for name, ids in graph.nodes.items())
    result.add_edges_from(graph.edges)
    return result


def draw(graph: MapperGraph, labels: np.ndarray, class_names: Sequence[str], ax: plt.Axes, title: str = "",
         palette: Sequence | None = None, seed: int = 0) -> plt.Axes:
    """Static drawing for print: nodes coloured by their majority class, area proportional to
    membership, laid out by networkx's spring layout (seeded)."""
    counts = class_counts(graph, labels, len(class_names))
    colours = list(palette) if palette is not None else plt.get_cmap("tab10").colors
    if len(colours) < len(class_names):
        raise ValueError(f"palette has {len(colours)} colours for {len(class_names)} classes")
    net = to_networkx(graph)
    layout = nx.spring_layout(net, seed=seed, k=1.5 / np.sqrt(max(len(net), 1)))
    sizes = graph.sizes
    nx.draw_networkx_edges(net, layout, ax=ax, edge_color="0.6", width=0.8)
    nx.draw_networkx_nodes(net, layout, ax=ax, node_size=20 + 280 * sizes / max(sizes.max(), 1),
                           node_color=[colours[c] for c in counts.argmax(1)], linewidths=0.3,
                           edgecolors="0.2")
    ax.set_title(title)
    ax.axis("off")
    return ax


def _vendored(name: str) -> str:
    """Text of a vendored script in ``helpers/vendor`` (package data)."""
    return resources.files(__package__).joinpath("vendor", name).read_text(encoding="utf-8")


VENDORED_SCRIPTS = {"/d3": "d3.v6.1.1.min.js", "file-saver": "FileSaver.v2.0.5.min.js"}
"""The scripts KeplerMapper's page loads from CDNs, keyed by a word of their URL, and the file in
``helpers/vendor`` (from the npm packages ``d3@6.1.1`` and ``file-saver@2.0.5``, with their
licences) that replaces each."""
_SCRIPT = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK = re.compile(r"<link\b[^>]*\bhref=[\"'](?:https?:)?//[^\"']*[\"'][^>]*>")


def _inline(url: str) -> str:
    for word, name in VENDORED_SCRIPTS.items():
        if word in url.lower():
            source = re.sub(r"//# sourceMappingURL=\S+", "", _vendored(name))
            return f"<script>/* {name}, inlined for {url} */\n{source}\n</script>"
    raise ValueError(f"KeplerMapper's page loads {url}, which has no vendored copy; expected one of {list(VENDORED_SCRIPTS)}")


def offline_page(page: str) -> str:
    """``page`` (KeplerMapper's HTML document) with every external script replaced by the
    vendored copy inlined, and its links to other hosts (web fonts, the favicon) dropped: the
    page then draws with the system's fonts, the same offline and online. Raises ``ValueError``
    if anything from another host remains."""
    page = _LINK.sub("", _SCRIPT.sub(lambda match: _inline(match.group(1)), page))
    remaining = pages.external_resources(page)
    if remaining:
        raise ValueError(f"the page still loads from other hosts: {remaining}")
    return page


def interactive_html(graph: MapperGraph, labels: np.ndarray, class_names: Sequence[str], title: str,
                     groups: dict[str, Sequence[str]] | None = None) -> str:
    """KeplerMapper's interactive page (a complete HTML document, str) for ``graph``, made to
    load nothing from another host (:func:`offline_page`): a toggle colours the nodes by the
    share of each class (and of each group in ``groups``), tooltips list the members' class
    names."""
    labels, _ = _check_labels(graph, labels, len(class_names))
    columns = [np.eye(len(class_names))[labels]]
    names = list(class_names)
    if groups:
        coarse, group_names = superclass_labels(labels, class_names, groups)
        columns.append(np.eye(len(group_names))[coarse])
        names += [f"{name} (superclass)" for name in group_names]
    page = kmapper.KeplerMapper(verbose=0).visualize(
        graph.kmapper_graph, color_values=np.hstack(columns), color_function_name=names,
        custom_tooltips=np.asarray(class_names)[labels], title=title, save_file=False)
    return offline_page(page)


def iframe(page: str, height: int = 620) -> str:
    """An ``<iframe>`` holding the complete HTML document ``page`` inline (``srcdoc``), wrapped in
    a ``<div>``, so that a notebook output or a book page shows it without a separate file."""
    check_count("height", height)
    return (f'<div class="mapper-graph"><iframe srcdoc="{html.escape(page, quote=True)}" width="100%" '
            f'height="{height}" style="border: 1px solid #ddd" loading="lazy"></iframe></div>')


def purity_by_layer(clouds: dict[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str],
                    groups: dict[str, Sequence[str]] = CIFAR10_SUPERCLASSES, lenses: Sequence[str] = ("l2norm",),
                    covers: Sequence[tuple[int, float]] = ((10, 0.5),), n_permutations: int = 20, seed: int = 0,
                    progress: bool = True, **options: object) -> tuple[pd.DataFrame, dict[tuple, MapperGraph]]:
    """Mapper graph of every layer's cloud for every lens and cover, and its purity at the class
    and at the group (superclass) level.

    ``clouds``: layer name -> (N, D) points of the same N images, in depth order; ``labels`` (N,)
    their classes; ``covers``: (n_cubes, overlap) pairs; ``options`` go to :func:`mapper_graph`
    (``min_samples``, ``eps``, ``knee_k``, ``n_components``). Returns a long table, one row per layer, lens,
    cover and level (``"class"`` or ``"superclass"``) with the columns of :func:`purity_stats`
    plus ``depth`` (0-based layer index) and ``eps``; and the graphs keyed by
    ``(layer, lens, n_cubes, overlap)``."""
    from tqdm.auto import tqdm

    coarse, group_names = superclass_labels(labels, class_names, groups)
    levels = {"class": (np.asarray(labels), len(class_names)), "superclass": (coarse, len(group_names))}
    jobs = [(depth, layer, lens, cover) for depth, layer in enumerate(clouds) for lens in lenses for cover in covers]
    rows, graphs = [], {}
    for depth, layer, lens, (n_cubes, overlap) in tqdm(jobs, desc="Mapper graphs", disable=not progress):
        graph = mapper_graph(clouds[layer], lens=lens, n_cubes=n_cubes, overlap=overlap, seed=seed, **options)
        graphs[(layer, lens, n_cubes, overlap)] = graph
        for level, (values, n_classes) in levels.items():
            stats = purity_stats(graph, values, n_classes, n_permutations=n_permutations, seed=seed)
            rows.append({"layer": layer, "depth": depth, "lens": lens, "n_cubes": n_cubes, "overlap": overlap,
                         "level": level, "eps": graph.eps, **stats})
    return pd.DataFrame(rows), graphs
