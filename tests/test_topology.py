"""Known-answer tests of helpers.topology: cubical persistence and its vectorisations."""

from __future__ import annotations

import importlib.util

import gudhi
import numpy as np
import pytest
from gudhi.representations import BettiCurve
from scipy.ndimage import gaussian_filter

from helpers.topology import (
    TopologicalFeatures,
    betti_curves_on_grid,
    cubical_diagrams,
    drop_essential_h0,
    split_features,
)

INF = np.inf


def sorted_pairs(diagram: np.ndarray) -> list[tuple[float, float]]:
    """Diagram rows as a sorted list of (birth, death) tuples, for order-free comparison."""
    return sorted(map(tuple, np.asarray(diagram).tolist()))


def ring_image(ring_value: float, background: float, size: int = 15) -> np.ndarray:
    """(size, size) image: pixels at distance 3..5 from the centre get ring_value."""
    rows, cols = np.mgrid[:size, :size] - size // 2
    distance = np.hypot(rows, cols)
    return np.where((distance >= 3) & (distance <= 5), ring_value, background)


def smooth_random_images(n: int, seed: int, size: int = 20) -> np.ndarray:
    """(n, size, size) random images smoothed so that they hold a few blobs and loops."""
    noise = np.random.default_rng(seed).random((n, size, size))
    return gaussian_filter(noise, sigma=(0, 1.5, 1.5))


# --------------------------------------------------------------------------------------------
# Cubical persistence: known answers
# --------------------------------------------------------------------------------------------


def test_dark_ring_has_one_component_and_one_loop():
    # Sublevel filtration: the dark ring (0) enters first and encloses the bright disk (1), so a
    # loop is born at 0 and dies at 1 when the inside fills in. The bright outside touches the
    # ring the moment it appears, so it never forms a second component.
    [[h0, h1]] = cubical_diagrams(ring_image(0.0, 1.0)[None], progress=False)
    assert sorted_pairs(h0) == [(0.0, INF)]
    assert sorted_pairs(h1) == [(0.0, 1.0)]


def test_bright_ring_separates_two_dark_components_and_still_has_a_loop():
    # The dark inside and the dark outside enter together at 0 as two components, and the
    # outside is a frame around the ring, hence a loop; both die at 1 when the ring enters.
    [[h0, h1]] = cubical_diagrams(ring_image(1.0, 0.0)[None], progress=False)
    assert sorted_pairs(h0) == [(0.0, 1.0), (0.0, INF)]
    assert sorted_pairs(h1) == [(0.0, 1.0)]


def test_constant_image_has_one_component_and_no_loop():
    [[h0, h1]] = cubical_diagrams(np.full((1, 7, 9), 0.3), progress=False)
    assert sorted_pairs(h0) == [(0.3, INF)]
    assert h1.shape == (0, 2)


def test_two_blobs_give_two_components_of_known_persistence():
    image = np.ones((12, 12))
    image[2:4, 2:4] = 0.0  # the older blob: lives for ever
    image[8:10, 7:10] = 0.25  # the younger blob: dies at 1.0 when the background joins them
    [[h0, h1]] = cubical_diagrams(image[None], progress=False)
    assert sorted_pairs(h0) == [(0.0, INF), (0.25, 1.0)]
    assert h1.shape == (0, 2)


def test_pixels_touching_at_a_corner_are_connected():
    image = np.ones((4, 4))
    image[1, 1] = image[2, 2] = 0.0
    [[h0, h1]] = cubical_diagrams(image[None], progress=False)
    assert sorted_pairs(h0) == [(0.0, INF)]
    assert h1.shape == (0, 2)


def test_diagrams_equal_gudhi_cubical_complex_over_z2():
    images = np.round(smooth_random_images(20, seed=1) * 20)  # integer values: many ties
    diagrams = cubical_diagrams(images, progress=False)
    for image, (h0, h1) in zip(images, diagrams):
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=image)
        complex_.compute_persistence(homology_coeff_field=2, min_persistence=0)
        assert sorted_pairs(h0) == sorted_pairs(complex_.persistence_intervals_in_dimension(0))
        assert sorted_pairs(h1) == sorted_pairs(complex_.persistence_intervals_in_dimension(1))


def test_one_and_two_workers_give_identical_diagrams():
    images = smooth_random_images(53, seed=2)
    serial = cubical_diagrams(images, n_jobs=1, progress=False)
    parallel = cubical_diagrams(images, n_jobs=2, progress=False)
    assert len(serial) == len(parallel) == 53
    for one, two in zip(serial, parallel):
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)


def test_channel_axis_and_dimension_selection():
    images = smooth_random_images(4, seed=3)
    plain = cubical_diagrams(images, progress=False)
    with_channel = cubical_diagrams(images[:, None], homology_dims=(1,), progress=False)
    assert [len(item) for item in with_channel] == [1] * 4
    for full, only_h1 in zip(plain, with_channel):
        np.testing.assert_array_equal(full[1], only_h1[0])


def test_progress_bar_reports_chunks(capsys):
    cubical_diagrams(smooth_random_images(8, seed=4), n_jobs=2, progress=True)
    assert "cubical persistence" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((28, 28)), r"shape \(28, 28\).*\(N, H, W\)"),
        (np.zeros((2, 3, 28, 28)), r"shape \(2, 3, 28, 28\)"),
        (np.zeros((2, 0, 5)), "at least one pixel"),
        (np.array([[[0.0, np.nan], [1.0, np.inf]]]), "2 NaN or infinite"),
    ],
)
def test_bad_images_are_rejected(images, message):
    with pytest.raises(ValueError, match=message):
        cubical_diagrams(images, progress=False)


@pytest.mark.parametrize("dims", [(2,), (), (0, 0)])
def test_unsupported_homology_dims_are_rejected(dims):
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        cubical_diagrams(np.zeros((1, 4, 4)), homology_dims=dims, progress=False)


# --------------------------------------------------------------------------------------------
# Betti curves
# --------------------------------------------------------------------------------------------


def test_betti_curve_of_hand_made_diagram():
    diagram = np.array([[0.0, 2.0], [1.0, 4.0], [1.0, INF], [2.5, 2.75]])
    features = TopologicalFeatures(homology_dims=(0,), n_bins=5, reduced_homology=False).fit([[diagram]])
    np.testing.assert_array_equal(features.sample_values, [0.0, 1.0, 2.0, 3.0, 4.0])
    # alive means birth <= x < death; the bar (2.5, 2.75) falls between two samples
    expected = [1, 3, 2, 2, 1]
    np.testing.assert_array_equal(features.betti_curves([[diagram]]), [[expected]])
    # in reduced homology the essential bar (1, inf) does not count: one fewer from x = 1 on
    reduced = TopologicalFeatures(homology_dims=(0,), n_bins=5).fit([[diagram]])
    np.testing.assert_array_equal(reduced.betti_curves([[diagram]]), [[[1, 2, 1, 1, 0]]])


def test_reduced_homology_drops_exactly_the_essential_h0_bar():
    image = np.ones((7, 7))
    image[1, 1], image[5, 5], image[1, 5] = 0.1, 0.2, 0.3  # three dark pixels: three components
    image[3, 2:5], image[2:5, 3] = 0.5, 0.5                # a plus sign, no loop
    h0, h1 = cubical_diagrams(image[None], progress=False)[0]
    assert np.isinf(h0[:, 1]).sum() == 1 and np.isfinite(h1).all()
    reduced = drop_essential_h0(h0)
    assert len(reduced) == len(h0) - 1 and np.isfinite(reduced).all()
    kept = h0[np.isfinite(h0[:, 1])]
    np.testing.assert_array_equal(np.sort(reduced, axis=0), np.sort(kept, axis=0))
    assert reduced[:, 0].min() > h0[:, 0].min()  # the darkest pixel's bar is the one dropped
    features = TopologicalFeatures().fit([[h0, h1]])
    (r0, r1), = features.prepared([[h0, h1]])
    np.testing.assert_array_equal(r0, reduced)
    np.testing.assert_array_equal(r1, h1)  # H1 is untouched
    full = TopologicalFeatures(reduced_homology=False).fit([[h0, h1]]).prepared([[h0, h1]])[0][0]
    np.testing.assert_array_equal(full, h0)
    # an essential bar of a later birth is kept: only the oldest one goes
    np.testing.assert_array_equal(drop_essential_h0(np.array([[0.0, INF], [0.4, INF]])), [[0.4, INF]])
    np.testing.assert_array_equal(drop_essential_h0(np.array([[0.0, 0.5]])), [[0.0, 0.5]])


def test_each_homology_dimension_gets_its_own_sampling_range():
    h0 = np.array([[0.0, INF], [0.1, 0.4], [0.2, 0.3]])
    h1 = np.array([[0.5, 0.9], [0.6, 0.7]])
    features = TopologicalFeatures(n_bins=5).fit([[h0, h1]])
    assert features.ranges == ((0.1, 0.4), (0.5, 0.9))  # H0 without its essential bar
    np.testing.assert_allclose(features.samplings, [np.linspace(0.1, 0.4, 5), np.linspace(0.5, 0.9, 5)])
    assert features.filtration_range == (0.1, 0.9)
    with pytest.raises(ValueError, match="different ranges"):
        features.sample_values
    curves = features.betti_curves([[h0, h1]])
    np.testing.assert_array_equal(curves[0], [[1, 1, 2, 1, 0], [1, 2, 1, 1, 0]])
    shared = TopologicalFeatures(n_bins=5, range_per_dimension=False).fit([[h0, h1]])
    assert shared.ranges == ((0.1, 0.9), (0.1, 0.9))
    np.testing.assert_allclose(shared.sample_values, np.linspace(0.1, 0.9, 5))
    # a dimension whose training values span nothing falls back to the range of all dimensions
    single = TopologicalFeatures(n_bins=5).fit([[h0, np.array([[0.5, 0.5]])]])
    assert single.ranges[1] == (0.1, 0.5)


def test_vectorised_betti_curves_equal_gudhi_betti_curve():
    rng = np.random.default_rng(5)
    diagrams = []
    for size in [0, 1, 3, 10, 25, 0, 7]:
        births = rng.integers(0, 20, size).astype(float)
        deaths = births + rng.integers(1, 10, size)
        deaths[rng.random(size) < 0.2] = INF
        diagrams.append(np.column_stack([births, deaths]).reshape(-1, 2))
    integer_grid = np.arange(-1.0, 31.0)  # samples land exactly on births and deaths
    float_grid = np.sort(rng.uniform(-1, 31, 57))
    for grid in (integer_grid, float_grid):
        reference = BettiCurve(predefined_grid=grid).fit_transform(diagrams)
        np.testing.assert_array_equal(betti_curves_on_grid(diagrams, grid), reference)


# --------------------------------------------------------------------------------------------
# The featuriser: fitting, shapes, landscapes and images
# --------------------------------------------------------------------------------------------


def test_fit_range_comes_from_training_diagrams_only():
    train = smooth_random_images(30, seed=6) * 0.5  # intensities within [0, 0.5]
    test = smooth_random_images(30, seed=7) * 2.0  # a wider range
    train_diagrams = cubical_diagrams(train, progress=False)
    features = TopologicalFeatures(n_bins=50, reduced_homology=False, range_per_dimension=False).fit(train_diagrams)
    finite = np.concatenate([d.ravel() for item in train_diagrams for d in item])
    finite = finite[np.isfinite(finite)]
    assert features.filtration_range == (finite.min(), finite.max())
    assert features.filtration_range[1] <= 0.5
    before = features.sample_values.copy()
    features.transform(cubical_diagrams(test, progress=False))
    np.testing.assert_array_equal(features.sample_values, before)
    np.testing.assert_array_equal(before, np.linspace(*features.filtration_range, 50))


def test_split_features_fits_on_train_and_computes_every_kind():
    splits = {"train": smooth_random_images(12, seed=8),
              "test": smooth_random_images(5, seed=9) * 3}
    featuriser, features = split_features(splits, TopologicalFeatures(n_bins=20), progress=False)
    train_diagrams = cubical_diagrams(splits["train"], progress=False)
    train_only = TopologicalFeatures(n_bins=20).fit(train_diagrams)
    assert featuriser.filtration_range == train_only.filtration_range
    test_diagrams = cubical_diagrams(splits["test"], progress=False)
    np.testing.assert_array_equal(features["test"]["betti_curves"],
                                  train_only.betti_curves(test_diagrams))
    assert features["train"]["betti_curves"].shape == (12, 2, 20)
    assert features["test"]["persistence_images"].shape == (5, 2, 28, 28)
    assert features["test"]["landscapes"].shape == (5, 2, 20)


def test_feature_shapes_dtypes_and_signs():
    diagrams = cubical_diagrams(smooth_random_images(6, seed=10), progress=False)
    features = TopologicalFeatures(n_bins=30, image_resolution=(10, 6), n_landscapes=3)
    computed = features.fit(diagrams).transform(diagrams)
    assert computed["betti_curves"].shape == (6, 2, 30)
    assert computed["persistence_images"].shape == (6, 2, 6, 10)
    assert computed["landscapes"].shape == (6, 6, 30)
    for array in computed.values():
        assert array.dtype == np.float32
        assert (array >= 0).all() and array.max() > 0
    # the k-th landscape never exceeds the (k-1)-th
    layers = computed["landscapes"].reshape(6, 2, 3, 30)
    assert (np.diff(layers, axis=2) <= 0).all()


def test_landscape_is_the_scaled_tent_at_the_sample_values():
    features = TopologicalFeatures(homology_dims=(0,), n_bins=5).fit([[np.array([[0.0, 2.0]])]])
    landscape = features.landscapes([[np.array([[0.0, 2.0]])]])
    np.testing.assert_allclose(landscape, [[np.sqrt(2) * np.array([0, 0.5, 1, 0.5, 0])]])


def test_infinite_deaths_are_clipped_to_high_in_landscapes():
    features = TopologicalFeatures(homology_dims=(0,), n_bins=9, n_landscapes=2, reduced_homology=False)
    features.fit([[np.array([[0.0, 4.0]])]])
    landscapes = features.landscapes([[np.array([[0.0, INF], [0.0, 4.0]])]])
    # (0, inf) becomes (0, 4): two identical tents
    np.testing.assert_allclose(landscapes[0, 0], landscapes[0, 1])
    np.testing.assert_allclose(landscapes[0, 0], np.sqrt(2) * np.minimum(
        features.sample_values, 4.0 - features.sample_values))


def test_persistence_image_peaks_at_birth_column_and_persistence_row():
    features = TopologicalFeatures(homology_dims=(1,), image_resolution=(11, 6))
    features.fit([[np.array([[0.0, 10.0]])]])
    # birth axis: 0, 1, ..., 10; persistence axis: 0, 2, ..., 10
    image = features.persistence_images([[np.array([[2.0, 8.0]])]])[0, 0]
    assert np.unravel_index(image.argmax(), image.shape) == (3, 2)


# --------------------------------------------------------------------------------------------
# The featuriser: errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "use", ["betti_curves", "persistence_images", "landscapes", "transform"]
)
def test_features_before_fit_raise(use):
    with pytest.raises(RuntimeError, match="not fitted"):
        getattr(TopologicalFeatures(), use)([[np.zeros((0, 2)), np.zeros((0, 2))]])


def test_sample_values_before_fit_raise():
    with pytest.raises(RuntimeError, match="fit"):
        TopologicalFeatures().sample_values


def test_fit_without_a_range_is_rejected():
    with pytest.raises(ValueError, match="no finite"):
        TopologicalFeatures(homology_dims=(0,)).fit([[np.zeros((0, 2))]])
    with pytest.raises(ValueError, match="do not span"):
        TopologicalFeatures(homology_dims=(0,), reduced_homology=False).fit([[np.array([[0.5, INF]])]])
    with pytest.raises(ValueError, match="no finite"):  # reduced: the essential bar is all there was
        TopologicalFeatures(homology_dims=(0,)).fit([[np.array([[0.5, INF]])]])


def test_diagrams_of_the_wrong_layout_are_rejected():
    features = TopologicalFeatures().fit([[np.array([[0.0, 1.0]]), np.zeros((0, 2))]])
    with pytest.raises(ValueError, match="one per homology dimension"):
        features.betti_curves([[np.array([[0.0, 1.0]])]])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        features.betti_curves([[np.zeros(3), np.zeros((0, 2))]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"homology_dims": (0, 2)}, r"\(0, 1\)"),
        ({"n_bins": 1}, "n_bins=1"),
        ({"n_landscapes": 0}, "n_landscapes=0"),
        ({"image_resolution": (28,)}, "two pixel counts"),
        ({"image_bandwidth": -1.0}, "image_bandwidth=-1.0"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TopologicalFeatures(**kwargs)


def test_unknown_kind_and_split_are_rejected():
    features = TopologicalFeatures().fit([[np.array([[0.0, 1.0]]), np.zeros((0, 2))]])
    with pytest.raises(ValueError, match="unknown feature kinds"):
        features.transform([[np.array([[0.0, 1.0]]), np.zeros((0, 2))]], kinds=["curves"])
    with pytest.raises(ValueError, match="fit_on='train'"):
        split_features({"training": np.zeros((1, 4, 4))}, progress=False)


def test_persistence_images_equal_gudhis_on_random_diagrams():
    from gudhi.representations import PersistenceImage

    rng = np.random.default_rng(3)
    births = rng.uniform(0, 1, (2, 40))
    diagrams = [[np.column_stack([b, b + rng.uniform(0, 0.5, 40)]), np.empty((0, 2))] for b in births]
    features = TopologicalFeatures(image_resolution=(12, 9)).fit(diagrams)
    low, high = features.filtration_range
    gudhi_imager = PersistenceImage(bandwidth=features.bandwidth, resolution=[12, 9],
                                    im_range=[low, high, 0.0, high - low])
    expected = gudhi_imager.fit_transform([d[0] for d in diagrams]).reshape(2, 9, 12)
    ours = features.persistence_images(diagrams)
    assert ours.shape == (2, 2, 9, 12)
    assert np.allclose(ours[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert np.all(ours[:, 1] == 0)


# ---------------------------------------------------------------- Vietoris-Rips persistence


def test_rips_of_a_noisy_circle_has_one_long_h1_bar_and_one_essential_component():
    from helpers.topology import rips_diagrams

    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 300)
    circle = np.c_[np.cos(angles), np.sin(angles), np.zeros(300)] + rng.normal(0, 0.03, (300, 3))
    h0, h1 = rips_diagrams(circle, (0, 1))
    assert np.isinf(h0[:, 1]).sum() == 1
    lengths = np.sort(h1[:, 1] - h1[:, 0])[::-1]
    assert lengths[0] > 1.2 and lengths[1] < 0.3  # the unit circle's hole is born small, dies near sqrt(3)


def test_rips_matches_ripser_and_rejects_bad_input():
    from ripser import ripser

    from helpers.topology import rips_diagrams

    points = np.random.default_rng(1).normal(size=(80, 4))
    ours = rips_diagrams(points, (1,), backend="ripser")[0]
    theirs = ripser(points, maxdim=1)["dgms"][1]
    theirs = theirs[theirs[:, 1] > theirs[:, 0]]
    np.testing.assert_allclose(np.sort(ours, axis=0), np.sort(theirs, axis=0), rtol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        rips_diagrams(np.zeros(5))
    with pytest.raises(ValueError, match=r"unsupported homology dimensions \(3,\)"):
        rips_diagrams(points, (3,))
    with pytest.raises(ValueError, match=r"unknown Rips backend 'gudhi'.*'ripser', 'giotto-ph'"):
        rips_diagrams(points, backend="gudhi")


def test_the_default_rips_backend_is_giotto_ph_exactly_when_it_is_importable(monkeypatch):
    from helpers import topology

    expected = "giotto-ph" if importlib.util.find_spec("gph") is not None else "ripser"
    assert topology.rips_backend() == expected
    monkeypatch.setattr(topology, "giotto_ph_installed", lambda: False)
    assert topology.rips_backend() == "ripser"
    with pytest.raises(ModuleNotFoundError, match="pip install giotto-ph"):
        topology.rips_diagrams(np.eye(3), backend="giotto-ph")


def book_clouds() -> dict[str, np.ndarray]:
    """Point clouds made as the chapters make theirs, small: chapter 4's activation clouds of
    an untrained ResNet (top-l2 channel vectors, global average pooling, a random projection to
    64 dimensions) and chapter 3's filter space of a noisy circle filter bank (8-d DCT
    coordinates) with its density core."""
    import torch

    from helpers import activations, filters
    from helpers.resnet import resnet18

    torch.manual_seed(0)
    images = np.random.default_rng(5).normal(size=(120, 3, 32, 32)).astype(np.float32)
    model = resnet18(width=4)
    layers = ["layer1.1.conv2", "layer3.1.conv2"]
    clouds = {f"{method} {layer}": cloud for method in ("top_l2", "gap", "random_projection")
              for layer, cloud in activations.point_clouds(model, images, layers, method).items()}
    bank = filters.circle_filter_bank(300) + np.random.default_rng(6).normal(0, 0.1, (300, 3, 3))
    space = filters.filter_space(bank).points
    clouds["filter space"] = space
    clouds["filter space, density core"] = space[filters.density_core(space, 15, 30)]
    return clouds


@pytest.mark.skipif(importlib.util.find_spec("gph") is None, reason="giotto-ph is not installed")
def test_ripser_and_giotto_ph_give_the_same_diagrams_on_the_book_clouds():
    from helpers.topology import rips_diagrams

    for name, cloud in book_clouds().items():
        first = rips_diagrams(cloud, (0, 1), backend="ripser")
        second = rips_diagrams(cloud, (0, 1), backend="giotto-ph", n_threads=2)
        for dim, (a, b) in enumerate(zip(first, second)):
            assert len(a) == len(b), f"{name}, H{dim}: {len(a)} bars from ripser, {len(b)} from giotto-ph"
            np.testing.assert_allclose(a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])], rtol=1e-5,
                                       err_msg=f"{name}, H{dim}")


def test_rips_diagrams_scale_with_the_cloud_and_cloud_scale_knows_its_median():
    from helpers.topology import cloud_scale, layer_rips_diagrams

    points = np.random.default_rng(2).normal(size=(60, 3))
    scale = cloud_scale(points, "median_distance")
    assert cloud_scale(points, "none") == 1.0
    assert cloud_scale(points * 4.0, "median_distance") == pytest.approx(4.0 * scale)
    diagrams = layer_rips_diagrams({"raw": points, "scaled": points / scale}, (0, 1), progress=False)
    for raw, scaled in zip(diagrams["raw"], diagrams["scaled"]):
        np.testing.assert_allclose(raw / scale, scaled, rtol=1e-5)
    with pytest.raises(ValueError, match=r"unknown cloud scaling 'max'.*'none', 'median_distance'"):
        cloud_scale(points, "max")


# ---------------------------------------------------------------- diagram distances


@pytest.mark.parametrize("metric", ["sliced_wasserstein", "wasserstein", "bottleneck"])
def test_a_diagram_is_at_distance_zero_from_itself_and_symmetric(metric):
    from helpers.topology import diagram_distance

    rng = np.random.default_rng(3)
    births = rng.uniform(0, 1, 30)
    first = np.c_[births, births + rng.uniform(0.01, 1, 30)]
    second = first + rng.normal(0, 0.05, first.shape)
    assert diagram_distance(first, first, metric) == pytest.approx(0.0, abs=1e-9)
    assert diagram_distance(first, second, metric) == pytest.approx(diagram_distance(second, first, metric), rel=1e-6)
    assert diagram_distance(first, second, metric) > 0


def test_distances_of_a_single_point_to_the_empty_diagram_are_known():
    from helpers.topology import diagram_distance

    point, empty = np.array([[1.0, 3.0]]), np.empty((0, 2))
    # the point's nearest diagonal point is (2, 2): sup-norm distance 1
    assert diagram_distance(point, empty, "bottleneck") == pytest.approx(1.0)
    assert diagram_distance(point, empty, "wasserstein") == pytest.approx(1.0, rel=1e-3)
    assert diagram_distance(empty, empty, "sliced_wasserstein") == 0.0
    # sliced Wasserstein never exceeds sqrt(2) times the 1-Wasserstein distance (Euclidean ground)
    assert 0 < diagram_distance(point, empty, "sliced_wasserstein") <= np.sqrt(2)


def test_essential_classes_are_matched_by_birth_or_give_infinity():
    from helpers.topology import diagram_distance, split_essential

    a = np.array([[0.0, np.inf], [0.0, 1.0]])
    b = np.array([[0.5, np.inf], [0.0, 1.0]])
    finite, births = split_essential(a)
    assert finite.tolist() == [[0.0, 1.0]] and births.tolist() == [0.0]
    assert diagram_distance(a, b, "bottleneck") == pytest.approx(0.5)
    assert diagram_distance(a, b, "wasserstein", order=2) == pytest.approx(0.5, rel=1e-3)
    assert diagram_distance(a, b, "sliced_wasserstein") == pytest.approx(0.5)
    assert np.isinf(diagram_distance(a, a[1:], "wasserstein"))
    with pytest.raises(ValueError, match=r"unknown diagram metric 'energy'"):
        diagram_distance(a, b, "energy")
    with pytest.raises(ValueError, match=r"\(k, 2\) array"):
        diagram_distance(np.zeros(3), b)


def test_distance_matrix_is_symmetric_with_a_zero_diagonal_and_agrees_with_pairs():
    from helpers.topology import diagram_distance, distance_matrix, rips_diagrams

    rng = np.random.default_rng(4)
    angles = rng.uniform(0, 2 * np.pi, (3, 80))
    circles = [np.c_[r * np.cos(a), r * np.sin(a)] + rng.normal(0, 0.05, (80, 2)) for r, a in zip((1, 1, 3), angles)]
    h1 = [rips_diagrams(c, (1,))[0] for c in circles]
    matrix = distance_matrix(h1, metric="wasserstein", progress=False)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    assert matrix[0, 1] < matrix[0, 2]  # two unit circles are closer to each other than to a circle of radius 3
    cross = distance_matrix(h1[:1], h1, metric="bottleneck", progress=False)
    assert cross.shape == (1, 3) and cross[0, 2] == pytest.approx(diagram_distance(h1[0], h1[2], "bottleneck"))


def test_sliced_wasserstein_is_the_quantity_persim_computes():
    from persim import sliced_wasserstein

    from helpers.topology import diagram_distance

    rng = np.random.default_rng(5)
    diagrams = []
    for n in (40, 25):
        births = rng.uniform(0, 1, n)
        diagrams.append(np.c_[births, births + rng.uniform(0.05, 1, n)])
    ours = diagram_distance(*diagrams, "sliced_wasserstein", n_directions=50)
    assert ours == pytest.approx(sliced_wasserstein(*diagrams, M=50), rel=0.02)
