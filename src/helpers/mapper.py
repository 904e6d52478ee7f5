"""Mapper graphs of activation point clouds (KeplerMapper), their class purity, and their display.

A Mapper graph summarises a point cloud (N, D): a *lens* maps every point to a few numbers, the
lens range is covered by overlapping intervals, the points of each interval are clustered
(DBSCAN), every cluster becomes a node, and two nodes are joined when they share points. P2's
settings are the defaults: lens = l2 norm of each activation vector, 10 intervals with 50%
overlap, DBSCAN with ``min_samples=5`` and ``eps`` at the knee of the sorted distances to the
k-th nearest neighbour (:func:`knee_eps`). The graph itself is KeplerMapper's
(:mod:`kmapper`); this module adds the statistics that say how well the graph separates classes:

* *node purity*: the mean, over nodes, of the share of the node's most common class;
* *class-wise purity*: for each class, the mean share of that class in the nodes holding its
  points (weighted by how many of its points each node holds), averaged over classes; the
  diagonal of :func:`class_sharing`, whose off-diagonal entries say which classes share nodes;
* both again after shuffling the labels over the same graph (*chance*), and the *lift*
  ``(purity - chance) / (1 - chance)``: 0 at chance, 1 for perfectly separated classes. Small
  nodes are pure by chance, and two superclasses are purer than ten classes by chance, so levels
  are compared by their lift.

The claims of chapter 5 are judged on trained networks minus their untrained initial networks
(:func:`lift_rise`, :func:`superclass_lead` and :func:`mixed_node_effect` give the statistics).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import kmapper
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from .claims import Effect, bootstrap_effect
from .topology import check_count

LENSES = ("l2norm", "pca")
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


def knee_eps(points: np.ndarray, k: int = 5) -> float:
    """DBSCAN radius at the knee of the sorted distances of each point to its ``k``-th nearest
    neighbour (the point itself not counted), in the units of ``points`` (N, D)."""
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
                 min_samples: int = 5, eps: str | float = "knee", n_components: int = 2,
                 seed: int = 0) -> MapperGraph:
    """KeplerMapper graph of ``points`` (N, D) with P2's settings as defaults.

    ``lens``: see :func:`lens_values`; ``n_cubes`` intervals per lens dimension overlapping by
    the fraction ``overlap`` (in (0, 1)); DBSCAN with ``min_samples`` and radius ``eps``, either
    a positive number or ``"knee"`` (:func:`knee_eps` with ``k = min_samples``, computed once on
    the whole cloud). Points DBSCAN calls noise belong to no node. The clustering runs on one
    thread: Mapper solves many small problems, for which starting OpenMP threads costs more than
    it saves (several times more on a busy machine)."""
    points = _check_points(points)
    n_cubes = check_count("n_cubes", n_cubes)
    min_samples = check_count("min_samples", min_samples)
    if not 0.0 < overlap < 1.0:
        raise ValueError(f"overlap={overlap!r}: expected a fraction strictly between 0 and 1")
    if isinstance(eps, str):
        if eps != "knee":
            raise ValueError(f"eps={eps!r}: expected 'knee' or a positive number")
        radius = knee_eps(points, k=min_samples)
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
                "eps": eps, "n_components": n_components if lens == "pca" else 1}
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


def node_purity(counts: np.ndarray) -> float:
    """Mean over nodes of the majority class's share, from class counts (n_nodes, n_classes)."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or len(counts) == 0:
        raise ValueError(f"counts must be (n_nodes, n_classes) with at least one node, got shape {counts.shape}")
    return float(np.mean(counts.max(1) / counts.sum(1)))


def class_sharing(counts: np.ndarray) -> np.ndarray:
    """(n_classes, n_classes) matrix: entry [a, b] is the mean share of class b in the nodes that
    hold class a's points, each node weighted by how many of a's points it holds. Rows sum to 1;
    the diagonal is each class's purity; a class with no point in any node has a row of NaN."""
    counts = np.asarray(counts, dtype=float)
    shares = counts / counts.sum(1, keepdims=True)
    weights = counts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts.T @ shares) / weights[:, None]


def class_purity(counts: np.ndarray) -> float:
    """Class-wise purity: the mean over classes present in the graph of the diagonal of
    :func:`class_sharing`."""
    return float(np.nanmean(np.diag(class_sharing(counts))))


def n_components(graph: MapperGraph) -> int:
    """Number of connected components of the graph (isolated nodes count)."""
    index = {name: i for i, name in enumerate(graph.nodes)}
    if not index:
        return 0
    rows = [index[a] for a, _ in graph.edges]
    cols = [index[b] for _, b in graph.edges]
    adjacency = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(index),) * 2)
    return int(connected_components(adjacency, directed=False)[0])


def point_purity(graph: MapperGraph, labels: np.ndarray) -> np.ndarray:
    """For each point (N,), the mean majority share of the nodes it belongs to (NaN for points in
    no node): low values mark points that sit in mixed nodes."""
    counts = class_counts(graph, labels)
    majority_share = counts.max(1) / counts.sum(1)
    member = incidence(graph)
    memberships = np.asarray(member.sum(0)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(member.T @ majority_share).ravel() / memberships


def purity_lift(purity: float, chance: float) -> float:
    """``(purity - chance) / (1 - chance)``: 0 at chance level, 1 when perfectly pure."""
    return float((purity - chance) / (1 - chance)) if chance < 1 else float("nan")


def purity_stats(graph: MapperGraph, labels: np.ndarray, n_classes: int | None = None, n_permutations: int = 20,
                 seed: int = 0) -> dict[str, float]:
    """Purity of ``graph`` for ``labels`` (N,) and against chance.

    Returns ``node_purity``, ``class_purity``, their means over ``n_permutations`` shuffles of
    the labels (``chance_node_purity``, ``chance_class_purity``), the lifts
    ``(purity - chance) / (1 - chance)`` (``node_lift``, ``class_lift``), ``n_nodes``,
    ``n_edges``, ``n_components`` and ``coverage`` (share of points in at least one node)."""
    labels, n_classes = _check_labels(graph, labels, n_classes)
    n_permutations = check_count("n_permutations", n_permutations)
    if not graph.nodes:
        raise ValueError("the graph has no nodes (DBSCAN found only noise): try a larger eps or smaller min_samples")
    member = incidence(graph)
    onehot = np.eye(n_classes)

    def both(values: np.ndarray) -> tuple[float, float]:
        counts = np.asarray(member @ onehot[values])
        return node_purity(counts), class_purity(counts)

    node, klass = both(labels)
    rng = np.random.default_rng(seed)
    chance = np.mean([both(rng.permutation(labels)) for _ in range(n_permutations)], axis=0)
    return {"node_purity": node, "class_purity": klass,
            "chance_node_purity": float(chance[0]), "chance_class_purity": float(chance[1]),
            "node_lift": purity_lift(node, chance[0]), "class_lift": purity_lift(klass, chance[1]),
            "n_nodes": len(graph.nodes), "n_edges": len(graph.edges), "n_components": n_components(graph),
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


def mixed_node_effect(graph: MapperGraph, control: MapperGraph, labels: np.ndarray, predicted: np.ndarray,
                      n_resamples: int = 2000, seed: int = 0) -> tuple[Effect, Effect]:
    """Do misclassified points sit in more mixed nodes than correctly classified ones, beyond
    what the same points show in a control graph (the untrained network's, same layer and lens)?

    With ``predicted`` labels (N,) of the trained network: for the points in some node of both
    graphs, the mean :func:`point_purity` of correct minus misclassified points in ``graph``,
    minus the same gap in ``control``; a bootstrap over points gives its interval. Returns that
    effect and the control's own gap (same bootstrap). Points that are ambiguous in themselves
    sit in mixed nodes of any graph: the control removes them from the claim."""
    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted must have the shape of labels {labels.shape}, got {predicted.shape}")
    ours, theirs = point_purity(graph, labels), point_purity(control, labels)
    placed = ~np.isnan(ours) & ~np.isnan(theirs)
    wrong = (predicted != labels)[placed].astype(float)
    ours, theirs = ours[placed], theirs[placed]
    if min(wrong.sum(), len(wrong) - wrong.sum()) < 2:
        raise ValueError(f"need at least 2 correct and 2 misclassified points in both graphs, got "
                         f"{int(len(wrong) - wrong.sum())} and {int(wrong.sum())}")

    def gap(purity: np.ndarray, misclassified: np.ndarray) -> float:
        bad = misclassified > 0
        if bad.all() or not bad.any():
            return float("nan")
        return float(purity[~bad].mean() - purity[bad].mean())

    effect = bootstrap_effect(lambda a, b, w: gap(a, w) - gap(b, w), (ours, theirs, wrong), n_resamples, seed,
                              digits=3, method="bootstrap over images")
    shown = bootstrap_effect(gap, (theirs, wrong), n_resamples, seed, digits=3, method="bootstrap over images")
    return effect, shown


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


def interactive_html(graph: MapperGraph, labels: np.ndarray, class_names: Sequence[str], title: str,
                     groups: dict[str, Sequence[str]] | None = None) -> str:
    """KeplerMapper's interactive page (a complete HTML document, str) for ``graph``: a toggle
    colours the nodes by the share of each class (and of each group in ``groups``), tooltips list
    the members' class names."""
    labels, _ = _check_labels(graph, labels, len(class_names))
    columns = [np.eye(len(class_names))[labels]]
    names = list(class_names)
    if groups:
        coarse, group_names = superclass_labels(labels, class_names, groups)
        columns.append(np.eye(len(group_names))[coarse])
        names += [f"{name} (superclass)" for name in group_names]
    return kmapper.KeplerMapper(verbose=0).visualize(
        graph.kmapper_graph, color_values=np.hstack(columns), color_function_name=names,
        custom_tooltips=np.asarray(class_names)[labels], title=title, save_file=False)


def iframe(page: str, height: int = 620) -> str:
    """An ``<iframe>`` holding the complete HTML document ``page`` inline (``srcdoc``), wrapped in
    a ``<div>``, so that a notebook output or a book page shows it without a separate file."""
    check_count("height", height)
    return (f'<div class="mapper-graph"><iframe srcdoc="{html.escape(page, quote=True)}" width="100%" '
            f'height="{height}" style="border: 1px solid #ddd" loading="lazy"></iframe></div>')


def misclassified_purity(graph: MapperGraph, labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Do misclassified points sit in mixed nodes? From true ``labels`` and ``predicted`` labels
    (N,): the mean :func:`point_purity` of correctly and of wrongly classified points that lie
    in some node, their difference (correct minus misclassified), the one-sided Mann-Whitney
    p-value of "correct points sit in purer nodes", and the counts."""
    labels, _ = _check_labels(graph, labels)
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted must have the shape of labels {labels.shape}, got {predicted.shape}")
    purity = point_purity(graph, labels)
    placed = ~np.isnan(purity)
    wrong = predicted != labels
    correct, misclassified = purity[placed & ~wrong], purity[placed & wrong]
    if len(correct) and len(misclassified):
        pvalue = float(stats.mannwhitneyu(correct, misclassified, alternative="greater").pvalue)
    else:
        pvalue = float("nan")
    correct_purity = float(correct.mean()) if len(correct) else float("nan")
    wrong_purity = float(misclassified.mean()) if len(misclassified) else float("nan")
    return {"purity_correct": correct_purity, "purity_misclassified": wrong_purity,
            "difference": correct_purity - wrong_purity, "mannwhitney_p": pvalue,
            "n_correct": int(len(correct)), "n_misclassified": int(len(misclassified))}


def purity_by_layer(clouds: dict[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str],
                    groups: dict[str, Sequence[str]] = CIFAR10_SUPERCLASSES, lenses: Sequence[str] = ("l2norm",),
                    covers: Sequence[tuple[int, float]] = ((10, 0.5),), n_permutations: int = 20, seed: int = 0,
                    progress: bool = True, **options: object) -> tuple[pd.DataFrame, dict[tuple, MapperGraph]]:
    """Mapper graph of every layer's cloud for every lens and cover, and its purity at the class
    and at the group (superclass) level.

    ``clouds``: layer name -> (N, D) points of the same N images, in depth order; ``labels`` (N,)
    their classes; ``covers``: (n_cubes, overlap) pairs; ``options`` go to :func:`mapper_graph`
    (``min_samples``, ``eps``, ``n_components``). Returns a long table, one row per layer, lens,
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
