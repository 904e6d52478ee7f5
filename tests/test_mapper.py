"""Known-answer tests of the Mapper helpers."""

import re

import numpy as np
import pandas as pd
import pytest

from helpers import mapper, pages


def two_blobs(n=100, seed=0):
    """Two tight Gaussian blobs 100 apart in 5-D, the second much farther from the origin."""
    rng = np.random.default_rng(seed)
    points = np.vstack([rng.normal(0, 0.1, (n, 5)) + 10, rng.normal(0, 0.1, (n, 5)) + 110])
    return points, np.repeat([0, 1], n)


def test_knee_index_of_a_hockey_stick():
    curve = np.concatenate([np.linspace(0, 1, 80), np.linspace(1, 100, 21)[1:]])
    assert mapper.knee_index(curve) == 79


def test_knee_eps_separates_the_dense_points_from_the_outliers():
    rng = np.random.default_rng(0)
    dense = rng.uniform(0, 1, (300, 2))
    outliers = rng.uniform(50, 500, (15, 2))
    eps = mapper.knee_eps(np.vstack([dense, outliers]), k=5)
    assert 0.02 < eps < 5


def test_knee_eps_uses_p2s_first_neighbour_by_default():
    # 50 pairs of points 0.1 apart, the pairs 10 apart, and three far outliers: the 1st neighbour
    # of a paired point is its partner (0.1), the 2nd is in the next pair (9.9, 10 at the ends)
    pairs = np.concatenate([[10.0 * i, 10.0 * i + 0.1] for i in range(50)])
    points = np.concatenate([pairs, [1000.0, 2000.0, 3000.0]])[:, None]
    assert mapper.knee_eps(points) == pytest.approx(0.1)
    assert mapper.knee_eps(points, k=1) == pytest.approx(0.1)
    assert 9.9 - 1e-9 <= mapper.knee_eps(points, k=2) <= 10.0
    assert mapper.mapper_graph(points, n_cubes=2).eps == pytest.approx(0.1)
    assert mapper.mapper_graph(points, n_cubes=2, knee_k=2).eps >= 9.9 - 1e-9


def test_two_far_apart_blobs_give_two_pure_components():
    points, labels = two_blobs()
    assert mapper.purity_stats(mapper.mapper_graph(points, knee_k=5), labels)["n_components"] == 2
    # P2's radius, the knee of the 1st-neighbour distances, is smaller: more points are noise
    # and a blob may split, but every node stays pure
    graph = mapper.mapper_graph(points)
    stats = mapper.purity_stats(graph, labels)
    assert stats["n_components"] >= 2
    assert stats["node_purity"] == 1.0 and stats["node_purity_share"] == 1.0 and stats["class_purity_share"] == 1.0
    assert stats["coverage"] > 0.6
    # P2's class-wise purity counts those points as 0: it equals the share of points in some node
    assert stats["class_purity"] == pytest.approx(stats["coverage"])
    assert stats["class_lift_share"] == pytest.approx(1.0) and stats["class_lift"] > 0.5


def test_shuffled_labels_on_the_blobs_are_near_chance():
    points, labels = two_blobs()
    graph = mapper.mapper_graph(points)
    shuffled = np.random.default_rng(1).permutation(labels)
    stats = mapper.purity_stats(graph, shuffled)
    assert abs(stats["class_lift"]) < 0.2 and abs(stats["class_lift_share"]) < 0.2
    assert stats["class_purity_share"] < 0.65


def test_purity_of_a_hand_made_graph():
    # node a: 3 of class 0, 1 of class 1; node b: 2 of class 1, 2 of class 2 (shares point 3 with a)
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2, 3], "b": [3, 4, 5, 6]}, n_points=7)
    counts = mapper.class_counts(graph, labels)
    np.testing.assert_array_equal(counts, [[3, 1, 0], [0, 2, 2]])
    # majority share: 3/4 and 2/4; P2: two distinct labels in each node, purity 1/2 each
    assert mapper.node_purity(counts, "share") == pytest.approx((3 / 4 + 2 / 4) / 2)
    assert mapper.node_purity(counts) == mapper.node_purity(counts, "p2") == pytest.approx(0.5)
    sharing = mapper.class_sharing(counts)
    # class 1 has one point in a (share 1/4 there) and two memberships in b (share 2/4)
    assert sharing[1, 1] == pytest.approx((1 * 0.25 + 2 * 0.5) / 3)
    assert sharing[0, 0] == pytest.approx(0.75) and sharing[2, 2] == pytest.approx(0.5)
    np.testing.assert_allclose(sharing.sum(1), 1.0)
    assert mapper.class_purity(graph, labels, definition="share") == pytest.approx((0.75 + 5 / 12 + 0.5) / 3)
    assert mapper.class_purity(graph, labels) == pytest.approx(0.5)  # every point sits in nodes of purity 1/2
    assert graph.edges == [("a", "b")] and mapper.n_components(graph) == 1
    np.testing.assert_allclose(mapper.point_purity(graph, labels, "share"), [0.75] * 3 + [0.625] + [0.5] * 3)
    np.testing.assert_allclose(mapper.point_purity(graph, labels), 0.5)


def test_p2_purity_known_answers():
    # node a holds labels {0, 0, 1}: two distinct labels, P2 purity 1/2 (majority share 2/3);
    # node b holds {2, 2}: purity 1; point 5 (class 2) is in no node and counts 0 for its class
    labels = np.array([0, 0, 1, 2, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2], "b": [3, 4]}, n_points=6)
    counts = mapper.class_counts(graph, labels)
    np.testing.assert_allclose(mapper.node_values(counts), [0.5, 1.0])
    np.testing.assert_allclose(mapper.node_values(counts, "share"), [2 / 3, 1.0])
    assert mapper.node_purity(counts) == pytest.approx(0.75)
    # class 0: 1/2 and 1/2; class 1: 1/2; class 2: 1, 1 and 0 for the uncovered point
    assert mapper.class_purity(graph, labels) == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    # the majority-share variant leaves the uncovered point out: class 2 is pure
    assert mapper.class_purity(graph, labels, definition="share") == pytest.approx((2 / 3 + 1 / 3 + 1) / 3)
    stats = mapper.purity_stats(graph, labels, n_permutations=3)
    assert stats["class_purity"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert stats["node_purity_share"] == pytest.approx((2 / 3 + 1) / 2)
    # a point in two nodes takes the mean of their purities
    two = mapper.graph_from_nodes({"a": [0, 1, 2], "b": [2, 3, 4]}, n_points=6)
    assert mapper.point_purity(two, labels)[2] == pytest.approx((1 / 2 + 1 / 2) / 2)
    with pytest.raises(ValueError, match="unknown purity definition 'gini'"):
        mapper.class_purity(graph, labels, definition="gini")


def test_point_in_no_node_has_no_purity_and_components_count_isolated_nodes():
    graph = mapper.graph_from_nodes({"a": [0, 1], "b": [2]}, n_points=4)
    purity = mapper.point_purity(graph, np.array([0, 1, 1, 0]))
    assert np.isnan(purity[3]) and purity[2] == 1.0 and purity[0] == 0.5
    assert mapper.n_components(graph) == 2
    assert mapper.purity_stats(graph, np.array([0, 1, 1, 0]))["coverage"] == 0.75


def test_superclasses_of_cifar10():
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    coarse, groups = mapper.superclass_labels(np.arange(10), names)
    assert groups == ("vehicle", "animal")
    np.testing.assert_array_equal(coarse, [0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    with pytest.raises(ValueError, match="'cow'"):
        mapper.superclass_labels(np.array([0]), ("cow",))


def test_half_rise_index():
    assert mapper.half_rise_index([0.1, 0.1, 0.2, 0.5, 0.5]) == 3  # half of the rise 0.1 -> 0.5 is 0.3
    assert mapper.half_rise_index([0.4, 0.6, 0.5, 0.45]) == 1
    assert mapper.half_rise_index([0.5, 0.4, 0.3]) == 3  # never rises
    with pytest.raises(ValueError, match="fraction=0"):
        mapper.half_rise_index([0.1, 0.2], fraction=0)


def test_first_index_reaching():
    assert mapper.first_index_reaching([0.1, 0.4, 0.6, 0.9], 0.5) == 2
    assert mapper.first_index_reaching([0.1, 0.2], 0.5) == 2


def test_shared_pairs_lists_the_most_mixed_pair_first():
    counts = np.array([[5, 5, 0], [0, 0, 10], [4, 6, 0]])
    pairs = mapper.shared_pairs(mapper.class_sharing(counts), ["cat", "dog", "ship"], top=2)
    assert tuple(pairs.iloc[0][["class", "shares nodes with"]]) == ("cat", "dog")
    assert pairs.iloc[1]["share"] == 0


def test_pca_lens_and_settings():
    points, _ = two_blobs()
    lens = mapper.lens_values(points, "pca", n_components=2)
    assert lens.shape == (200, 2)
    graph = mapper.mapper_graph(points, lens="pca", n_cubes=4, overlap=0.3, eps=1.0)
    assert graph.eps == 1.0 and graph.settings["n_components"] == 2
    assert sum(graph.sizes) >= 200


@pytest.mark.parametrize("kwargs, message", [
    ({"lens": "umap"}, "unknown lens 'umap'"),
    ({"overlap": 1.5}, "overlap=1.5"),
    ({"eps": "elbow"}, "eps='elbow'"),
    ({"eps": -1.0}, "eps=-1.0"),
    ({"n_cubes": 0}, "n_cubes=0"),
])
def test_bad_settings_are_named(kwargs, message):
    points, _ = two_blobs(20)
    with pytest.raises(ValueError, match=message):
        mapper.mapper_graph(points, **kwargs)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        mapper.mapper_graph(np.zeros(10))
    graph = mapper.graph_from_nodes({"a": [0, 1]}, n_points=3)
    with pytest.raises(ValueError, match="3 non-negative integers"):
        mapper.class_counts(graph, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"node 'b'"):
        mapper.graph_from_nodes({"b": [5]}, n_points=3)


def test_interactive_html_is_a_kepler_mapper_page_that_loads_nothing_from_another_host():
    points, labels = two_blobs(30)
    graph = mapper.mapper_graph(points, n_cubes=3)
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    labels = np.where(labels == 0, 0, 3)
    page = mapper.interactive_html(graph, labels, names, "blobs", groups=mapper.CIFAR10_SUPERCLASSES)
    assert page.lstrip().lower().startswith("<!doctype html") and "vehicle (superclass)" in page
    assert pages.external_resources(page) == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "fonts.googleapis" not in page and "cdnjs" not in page.split("inlined for")[0]
    assert "https://d3js.org v6.1.1" in page and "saveAs" in page  # d3 6.1.1 and FileSaver are inlined
    assert "sourceMappingURL" not in page
    frame = mapper.iframe(page, height=300)
    assert frame.startswith('<div class="mapper-graph"><iframe srcdoc=')
    assert '"' not in frame.split('srcdoc="')[1].split('" width')[0]  # the page is escaped
    assert pages.embedded_pages("<p>text</p>" + frame + frame) == [page, page]


def test_external_resources_finds_every_kind_of_remote_reference():
    page = """<html><head><link rel="icon" href="http://i.example/x.jpg"><link href='//fonts.example/css' rel=stylesheet>
    <style>@import "https://a.example/b.css"; body { background: url(https://b.example/c.png) }</style>
    <script src="https://cdn.example/d3.js"></script><script>var ns = "http://www.w3.org/2000/svg";</script></head>
    <body><img src="data:image/png;base64,AAAA"><a href="#top">top</a><div style="background:url('http://c.example/d')">
    </div><img srcset="https://d.example/e.png 2x"></body></html>"""
    assert pages.external_resources(page) == [
        "http://i.example/x.jpg", "//fonts.example/css", "https://a.example/b.css", "https://b.example/c.png",
        "https://cdn.example/d3.js", "http://c.example/d", "https://d.example/e.png 2x"]
    assert pages.external_resources("<script src='local.js'></script><a href='page.html'>x</a>") == []


def test_offline_page_inlines_known_scripts_and_refuses_unknown_ones():
    page = ('<html><head><link href="https://fonts.googleapis.com/css?family=X" rel="stylesheet"></head><body>'
            '<script src="https://cdn.jsdelivr.net/npm/file-saver@2.0.2/dist/FileSaver.min.js"></script></body></html>')
    offline = mapper.offline_page(page)
    assert pages.external_resources(offline) == [] and "FileSaver.v2.0.5.min.js, inlined" in offline
    with pytest.raises(ValueError, match="https://cdn.example/plotly.js, which has no vendored copy"):
        mapper.offline_page('<script src="https://cdn.example/plotly.js"></script>')
    with pytest.raises(ValueError, match="still loads from other hosts"):
        mapper.offline_page('<img src="https://x.example/a.png">')


def test_draw_colours_nodes_by_majority_class():
    import matplotlib.pyplot as plt

    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2, 3], "b": [3, 4, 5, 6]}, n_points=7)
    fig, ax = plt.subplots()
    mapper.draw(graph, labels, ["x", "y", "z"], ax, palette=["red", "green", "blue"])
    colours = ax.collections[-1].get_facecolors()[:, :3]
    np.testing.assert_allclose(colours, [[1, 0, 0], [0, 0.5019608, 0]], atol=1e-6)
    plt.close(fig)


def test_stratified_gap_compares_images_of_the_same_class():
    purity = np.array([1.0, 1.0, 0.5, 0.4, 0.4, 0.1])
    strata = np.array([0, 0, 0, 1, 1, 1])
    wrong = np.array([False, False, True, False, False, True])
    # class 0: 1.0 - 0.5; class 1: 0.4 - 0.1; one misclassified image each
    assert mapper.stratified_gap(purity, wrong, strata) == pytest.approx((0.5 + 0.3) / 2)
    both = mapper.stratified_gap(purity, np.stack([wrong, ~wrong]), strata)
    # flags swapped: two "misclassified" images per class, each 0.5 (class 0) or 0.3 (class 1) purer
    assert both.shape == (2,) and both[1] == pytest.approx(-(2 * 0.5 + 2 * 0.3) / 4)


def confounded_graph():
    """Class 0's 20 images in a pure node, class 1's 20 in a node mixed with class 2's 20; in
    class 1 the network errs often, in class 0 rarely, and errors are unrelated to purity within
    each class."""
    labels = np.repeat([0, 1, 2], 20)
    graph = mapper.graph_from_nodes({"pure": range(20), "mixed": range(20, 60)}, n_points=60)
    predicted = labels.copy()
    predicted[[0]] = 1          # one error in the pure class
    predicted[20:35] = 0        # fifteen in class 1
    predicted[40:45] = 0        # five in class 2
    return graph, labels, predicted


def test_misclassification_test_removes_the_class_confound():
    graph, labels, predicted = confounded_graph()
    effect, summary = mapper.misclassification_test(graph, labels, predicted, n_permutations=500)
    assert summary["difference"] > 0.2  # the plain comparison sees an effect made by the classes
    assert summary["stratified_gap"] == 0 and effect.estimate == pytest.approx(0)  # within classes: none
    assert summary["pvalue"] == 1.0 and effect.low <= 0 <= effect.high
    assert summary["n_misclassified"] == 21 and summary["n_correct"] == 39


def test_misclassification_test_finds_a_constructed_effect():
    # two classes of 60 images; in each class the 15 misclassified images sit in a node mixed
    # with the other class, the correct ones in a pure node
    labels = np.repeat([0, 1], 60)
    nodes = {"pure 0": range(0, 45), "pure 1": range(60, 105), "mixed": list(range(45, 60)) + list(range(105, 120))}
    graph = mapper.graph_from_nodes(nodes, n_points=120)
    predicted = labels.copy()
    predicted[45:60], predicted[105:120] = 1, 0
    effect, summary = mapper.misclassification_test(graph, labels, predicted, n_permutations=500)
    assert summary["stratified_gap"] == pytest.approx(1.0 - 0.5)  # P2: pure node 1, mixed node 1/2
    assert summary["pvalue"] == pytest.approx(1 / 501) and effect.low > 0
    share, _ = mapper.misclassification_test(graph, labels, predicted, n_permutations=100, definition="share")
    assert share.estimate > 0


def test_misclassification_test_under_the_null():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 40)
    nodes = {f"n{i}": rng.choice(120, 4, replace=False) for i in range(60)}  # nodes of 1 to 3 labels
    graph = mapper.graph_from_nodes(nodes, n_points=120)
    pvalues = []
    for seed in range(20):  # errors drawn independently of the graph
        predicted = np.where(np.random.default_rng(seed).random(120) < 0.3, (labels + 1) % 3, labels)
        pvalues.append(mapper.misclassification_test(graph, labels, predicted, n_permutations=200, seed=seed)[1]["pvalue"])
    assert np.mean(np.array(pvalues) < 0.05) <= 0.15 and 0.3 < np.mean(pvalues) < 0.7
    with pytest.raises(ValueError, match=r"2 correct and 2 misclassified points in some node, got \d+ and 1"):
        mapper.misclassification_test(graph, labels, np.where(np.arange(120) == 6, 2, labels))


def test_purity_by_layer_on_a_layer_that_separates_and_one_that_does_not():
    points, labels = two_blobs()
    noise = np.random.default_rng(0).normal(size=points.shape)
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    fine = np.where(labels == 0, 0, 3)  # airplane (vehicle) vs cat (animal)
    table, graphs = mapper.purity_by_layer({"noise": noise, "blobs": points}, fine, names,
                                           covers=[(5, 0.5), (10, 0.3)], progress=False)
    assert len(table) == 2 * 2 * 2 and len(graphs) == 4
    blobs = table[(table.layer == "blobs")]
    assert (blobs.class_lift_share > 0.99).all() and (blobs.class_lift > 0.5).all() and (blobs.depth == 1).all()
    assert (table[table.layer == "noise"].class_lift < 0.3).all()
    assert (table[table.layer == "noise"].class_lift_share < 0.3).all()


def lift_table():
    """Lift curves over four blocks, two seeds: superclasses half-risen one block before classes."""
    curves = {(0, "superclass"): [0, 0.8, 0.9, 1.0], (0, "class"): [0, 0.1, 0.6, 1.0],
              (1, "superclass"): [0, 0.2, 0.9, 1.0], (1, "class"): [0.1, 0.1, 0.2, 0.7]}
    return pd.DataFrame([{"seed": seed, "lens": "l2norm", "level": level, "depth": depth, "class_lift": value}
                         for (seed, level), curve in curves.items() for depth, value in enumerate(curve)])


def test_superclass_lead_and_lift_rise_per_seed():
    separation = mapper.separation_layers(lift_table(), mapper.half_rise_index)
    assert separation.loc[(0, "l2norm")].tolist() == [2, 1]  # columns: class, superclass
    lead = mapper.superclass_lead(separation, "l2norm")
    assert lead.to_dict() == {0: 1.0, 1: 1.0}
    assert mapper.lift_rise(lift_table(), "l2norm").to_dict() == pytest.approx({0: 1.0, 1: 0.6})
    with pytest.raises(ValueError, match="no lens 'pca'"):
        mapper.superclass_lead(separation, "pca")
    with pytest.raises(ValueError, match="no rows for lens 'pca'"):
        mapper.lift_rise(lift_table(), "pca")


CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def test_two_group_splits_of_cifar10():
    splits = mapper.two_group_splits(CIFAR10, mapper.CIFAR10_SUPERCLASSES)
    assert len(splits) == 210 and len(set(splits)) == 210
    assert splits[0] == ("airplane", "automobile", "ship", "truck")
    halves = mapper.two_group_splits(list("abcd"), {"x": ["c", "d"], "y": ["a", "b"]})
    assert halves == [("a", "b"), ("a", "c"), ("a", "d")]  # {a, b} | {c, d} once, the true split first
    with pytest.raises(ValueError, match="exactly two groups"):
        mapper.two_group_splits(list("abc"), {"x": ["a"], "y": ["b"], "z": ["c"]})


def test_split_null_ranks_the_true_split_first_when_the_graph_knows_it():
    # one node per superclass, holding all its classes: only the true split is pure
    labels = np.repeat(np.arange(10), 5)
    vehicle = np.isin(labels, [0, 1, 8, 9])
    graph = mapper.graph_from_nodes({"v": np.flatnonzero(vehicle), "a": np.flatnonzero(~vehicle)}, n_points=50)
    null = mapper.split_null([graph, graph], labels, CIFAR10)
    assert len(null.statistics) == 210 and null.observed == pytest.approx(1.0)
    assert null.rank == 1 and null.pvalue == pytest.approx(1 / 210)
    assert np.all(null.statistics[1:] < 1)
    assert null.effect().low > 0 and null.effect().pvalue == pytest.approx(2 / 210)


def test_split_null_is_uniform_when_the_graph_ignores_superclasses():
    # one pure node per class: every split is equally pure, the true split ties with all
    labels = np.repeat(np.arange(10), 5)
    graph = mapper.graph_from_nodes({str(c): np.flatnonzero(labels == c) for c in range(10)}, n_points=50)
    null = mapper.split_null([graph], labels, CIFAR10, statistic="node_purity")
    assert np.allclose(null.statistics, 1.0) and null.rank == 210 and null.pvalue == 1.0
    # nodes pairing a vehicle with an animal class: the true split is the worst
    pairs = {f"{v}{a}": np.flatnonzero(np.isin(labels, [v, a])) for v, a in [(0, 2), (1, 3), (8, 4), (9, 5)]}
    pairs |= {"6": np.flatnonzero(labels == 6), "7": np.flatnonzero(labels == 7)}
    mixed = mapper.graph_from_nodes(pairs, n_points=50)
    worst = mapper.split_null([mixed], labels, CIFAR10)
    assert worst.rank == 210 and worst.observed == worst.statistics.min()
    with pytest.raises(ValueError, match="unknown statistic 'lift'"):
        mapper.split_null([graph], labels, CIFAR10, statistic="lift")


def test_layer_clouds_read_bn2_after_relu_before_the_residual_sum():
    import torch

    from helpers import hooks, resnet

    torch.manual_seed(0)
    model = resnet.resnet18(width=4)
    for module in model.modules():  # BatchNorm with non-trivial statistics, so that bn2 has negative outputs
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
    images = np.random.default_rng(0).normal(size=(6, 3, 32, 32)).astype(np.float32)
    assert list(mapper.block_layers(model).items())[0] == ("layer1.0", "layer1.0.bn2")
    assert list(mapper.block_layers(model, "block"))[-1] == mapper.block_layers(model, "block")["layer4.1"]
    clouds = mapper.layer_clouds(model, images, seed=1)
    blocks = mapper.layer_clouds(model, images, "block", seed=1)
    assert list(clouds) == list(blocks) and len(clouds) == 8
    maps = hooks.layer_outputs(model, images, ["layer2.1.bn2"])["layer2.1.bn2"]  # (6, 8, 16, 16)
    relu = np.maximum(maps, 0)
    cloud = clouds["layer2.1"]
    assert cloud.shape == (6, 8) and (cloud >= 0).all()
    for row, vector in enumerate(cloud):  # each point is the ReLU'd bn2 vector at some interior position
        interior = relu[row][:, 1:-1, 1:-1].reshape(8, -1).T
        assert np.isclose(interior, vector, atol=1e-6).all(1).any()
    assert not np.allclose(cloud, blocks["layer2.1"])  # the block output adds the shortcut
    with pytest.raises(ValueError, match="unknown layer choice 'conv'"):
        mapper.block_layers(model, "conv")


def test_layer_clouds_of_the_fast_network_read_every_activated_stage_as_it_is():
    import torch

    from helpers import fastnet, hooks

    images = np.random.default_rng(0).random((6, 3, 32, 32), dtype=np.float32)
    torch.manual_seed(0)
    model = fastnet.fast_cifar_net(images, width=4)
    assert mapper.block_layers(model) == {f"group{g}.{s}": f"group{g}.act{s}" for g in (1, 2, 3) for s in (1, 2)}
    assert mapper.block_layers(model, "block") == {"group1": "group1", "group2": "group2", "group3": "group3"}
    clouds = mapper.layer_clouds(model, images, seed=1)
    maps = hooks.layer_outputs(model, images, ["group1.act2"])["group1.act2"]  # GELU output, negative entries kept
    assert (maps < 0).any()
    for row, vector in enumerate(clouds["group1.2"]):
        interior = maps[row][:, 1:-1, 1:-1].reshape(4, -1).T
        assert np.isclose(interior, vector, atol=1e-6).all(1).any()
    with pytest.raises(ValueError, match="Linear has neither residual blocks nor convolution groups"):
        mapper.block_layers(torch.nn.Linear(2, 2))
