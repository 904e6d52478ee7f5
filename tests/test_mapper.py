"""Known-answer tests of the Mapper helpers."""

import numpy as np
import pandas as pd
import pytest

from helpers import mapper


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


def test_two_far_apart_blobs_give_two_pure_components():
    points, labels = two_blobs()
    graph = mapper.mapper_graph(points)
    stats = mapper.purity_stats(graph, labels)
    assert stats["n_components"] == 2
    assert stats["node_purity"] == 1.0 and stats["class_purity"] == 1.0
    assert stats["class_lift"] == pytest.approx(1.0)
    assert stats["coverage"] > 0.9  # the knee radius leaves the sparsest few points as noise


def test_shuffled_labels_on_the_blobs_are_near_chance():
    points, labels = two_blobs()
    graph = mapper.mapper_graph(points)
    shuffled = np.random.default_rng(1).permutation(labels)
    stats = mapper.purity_stats(graph, shuffled)
    assert abs(stats["class_lift"]) < 0.2
    assert stats["class_purity"] < 0.65


def test_purity_of_a_hand_made_graph():
    # node a: 3 of class 0, 1 of class 1; node b: 2 of class 1, 2 of class 2 (shares point 3 with a)
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2, 3], "b": [3, 4, 5, 6]}, n_points=7)
    counts = mapper.class_counts(graph, labels)
    np.testing.assert_array_equal(counts, [[3, 1, 0], [0, 2, 2]])
    assert mapper.node_purity(counts) == pytest.approx((3 / 4 + 2 / 4) / 2)
    sharing = mapper.class_sharing(counts)
    # class 1 has one point in a (share 1/4 there) and two memberships in b (share 2/4)
    assert sharing[1, 1] == pytest.approx((1 * 0.25 + 2 * 0.5) / 3)
    assert sharing[0, 0] == pytest.approx(0.75) and sharing[2, 2] == pytest.approx(0.5)
    np.testing.assert_allclose(sharing.sum(1), 1.0)
    assert mapper.class_purity(counts) == pytest.approx((0.75 + 5 / 12 + 0.5) / 3)
    assert graph.edges == [("a", "b")] and mapper.n_components(graph) == 1
    np.testing.assert_allclose(mapper.point_purity(graph, labels), [0.75] * 3 + [0.625] + [0.5] * 3)


def test_point_in_no_node_has_no_purity_and_components_count_isolated_nodes():
    graph = mapper.graph_from_nodes({"a": [0, 1], "b": [2]}, n_points=4)
    purity = mapper.point_purity(graph, np.array([0, 1, 1, 0]))
    assert np.isnan(purity[3]) and purity[2] == 1.0
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


def test_interactive_html_is_a_kepler_mapper_page_and_embeds_in_an_iframe():
    points, labels = two_blobs(30)
    graph = mapper.mapper_graph(points, n_cubes=3)
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    labels = np.where(labels == 0, 0, 3)
    page = mapper.interactive_html(graph, labels, names, "blobs", groups=mapper.CIFAR10_SUPERCLASSES)
    assert page.lstrip().lower().startswith("<!doctype html") and "vehicle (superclass)" in page
    frame = mapper.iframe(page, height=300)
    assert frame.startswith('<div class="mapper-graph"><iframe srcdoc=')
    assert '"' not in frame.split('srcdoc="')[1].split('" width')[0]  # the page is escaped


def test_draw_colours_nodes_by_majority_class():
    import matplotlib.pyplot as plt

    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2, 3], "b": [3, 4, 5, 6]}, n_points=7)
    fig, ax = plt.subplots()
    mapper.draw(graph, labels, ["x", "y", "z"], ax, palette=["red", "green", "blue"])
    colours = ax.collections[-1].get_facecolors()[:, :3]
    np.testing.assert_allclose(colours, [[1, 0, 0], [0, 0.5019608, 0]], atol=1e-6)
    plt.close(fig)


def test_misclassified_points_in_mixed_nodes():
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    graph = mapper.graph_from_nodes({"a": [0, 1, 2], "b": [3, 4, 5, 6]}, n_points=7)
    predicted = np.array([0, 0, 0, 1, 2, 2, 1])  # the two errors are in the mixed node b
    result = mapper.misclassified_purity(graph, labels, predicted)
    assert result["purity_correct"] == pytest.approx((3 * 1.0 + 2 * 0.5) / 5)
    assert result["purity_misclassified"] == pytest.approx(0.5)
    assert result["n_misclassified"] == 2 and result["difference"] > 0
    assert 0 < result["mannwhitney_p"] < 0.2


def test_purity_by_layer_on_a_layer_that_separates_and_one_that_does_not():
    points, labels = two_blobs()
    noise = np.random.default_rng(0).normal(size=points.shape)
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    fine = np.where(labels == 0, 0, 3)  # airplane (vehicle) vs cat (animal)
    table, graphs = mapper.purity_by_layer({"noise": noise, "blobs": points}, fine, names,
                                           covers=[(5, 0.5), (10, 0.3)], progress=False)
    assert len(table) == 2 * 2 * 2 and len(graphs) == 4
    blobs = table[(table.layer == "blobs")]
    assert (blobs.class_lift > 0.99).all() and (blobs.depth == 1).all()
    assert (table[table.layer == "noise"].class_lift < 0.3).all()


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


def test_mixed_node_effect_is_measured_against_the_control_graph():
    labels = np.array([0] * 6 + [0, 1, 0, 1, 0, 1])
    predicted = labels.copy()
    predicted[[6, 7, 8]] = [1, 0, 1]  # the three errors sit in the mixed node
    graph = mapper.graph_from_nodes({"pure": range(6), "mixed": range(6, 12)}, n_points=12)
    one_node = mapper.graph_from_nodes({"all": range(12)}, n_points=12)  # every point equally mixed
    effect, control = mapper.mixed_node_effect(graph, one_node, labels, predicted, n_resamples=500)
    # correct points: six in the pure node (1.0), three in the mixed one (0.5); errors all at 0.5
    assert effect.estimate == pytest.approx((6 * 1.0 + 3 * 0.5) / 9 - 0.5) and effect.low > 0
    assert control.estimate == control.low == control.high == 0
    same, _ = mapper.mixed_node_effect(graph, graph, labels, predicted, n_resamples=200)
    assert same.estimate == same.low == same.high == 0  # the graph against itself shows no effect
    with pytest.raises(ValueError, match="2 correct and 2 misclassified points in both graphs, got 11 and 1"):
        mapper.mixed_node_effect(graph, one_node, labels, np.where(np.arange(12) == 6, 1, labels))
