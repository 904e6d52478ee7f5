import numpy as np
import pytest
import torch

from helpers import betti


def hollow_cube(size: int = 7) -> np.ndarray:
    """Low values on the surface of a cube, high inside and outside: one enclosed void."""
    volume = np.ones((size + 4, size + 4, size + 4))
    volume[2:-2, 2:-2, 2:-2] = 0.0
    volume[3:-3, 3:-3, 3:-3] = 1.0
    return volume


def ring(size: int = 9) -> np.ndarray:
    """Low values on a square ring in one plane of the volume: one loop."""
    volume = np.ones((3, size, size))
    volume[1, 2:-2, 2:-2] = 0.0
    volume[1, 3:-3, 3:-3] = 1.0
    return volume


def test_hollow_cube_has_one_void_and_a_ring_one_loop():
    diagrams = [betti.volume_diagrams(np.stack([hollow_cube(), hollow_cube()]), progress=False),
                betti.volume_diagrams(ring()[None], progress=False)]
    numbers = betti.betti_at(diagrams[:1], [0.5])[0, 0, 0]
    assert numbers.tolist() == [1, 0, 1]
    assert betti.betti_at([diagrams[1]], [0.5])[0, 0, 0].tolist() == [1, 1, 0]
    # at a threshold above every value the whole volume is one contractible block
    assert betti.betti_at(diagrams[:1], [2.0])[0, 0, 0].tolist() == [1, 0, 0]


def test_betti_at_counts_half_open_intervals_at_several_thresholds():
    diagram = [np.array([[0.0, np.inf], [0.2, 0.6]]), np.array([[0.3, 0.5]]), np.empty((0, 2))]
    counts = betti.betti_at([[diagram]], [0.6, 0.0, 0.4])
    assert counts[:, 0, 0].tolist() == [[1, 0, 0], [1, 0, 0], [2, 1, 0]]


def test_volume_checks_name_the_shape():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        betti.volume_diagrams(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        betti.standardise(np.full((1, 2, 2, 2), np.nan))


def test_standardise_gives_zero_mean_unit_spread():
    volumes = betti.standardise(np.random.default_rng(0).normal(5, 3, (2, 3, 4, 4)))
    assert np.allclose(volumes.mean(axis=(1, 2, 3)), 0) and np.allclose(volumes.std(axis=(1, 2, 3)), 1)
    assert np.all(betti.standardise(np.ones((1, 2, 2, 2))) == 0)


def test_decay_score_sign_follows_the_curve():
    layers = np.arange(1, 11)
    assert betti.decay_score(np.exp(-0.4 * layers)) < 0 < betti.decay_score(np.exp(0.1 * layers))
    assert betti.decay_score(np.full(10, 3.0)) == pytest.approx(0.0, abs=1e-6)
    # scale-free: the curve is normalised first
    assert betti.decay_score(7 * np.exp(-0.4 * layers)) == pytest.approx(betti.decay_score(np.exp(-0.4 * layers)))
    with pytest.raises(ValueError, match="at least 2 layers"):
        betti.decay_score(np.ones(1))


def test_decay_score_of_a_cubic_is_its_weighted_coefficients():
    x = np.arange(1, 9, dtype=float)
    curve = 50 + 2 * x - 0.3 * x**2 + 0.01 * x**3
    y_norm = np.linalg.norm(curve)
    expected = (2 + 0.5 * -0.3 + 0.5 * 0.01) / y_norm
    # ridge (alpha 1e-3) shrinks the coefficients slightly: agreement to 1%
    assert betti.decay_score(curve) == pytest.approx(expected, rel=1e-2)


def test_complexity_averages_classes_then_images():
    values = np.zeros((2, 3, 2, 3))
    values[0, :, 0] = [1, 1, 1]  # class 0: complexity 3 at layer 0
    values[1, 0, 0] = [6, 0, 0]  # class 1: one image of 6, two of 0 -> 2
    assert betti.complexity_by_layer(values).tolist() == [2.5, 0.0]
    flat, labels = values.reshape(6, 2, 3), np.repeat([0, 1], 3)
    assert betti.complexity_by_layer(flat, labels).tolist() == [2.5, 0.0]
    assert betti.by_class(flat, labels).shape == (2, 3, 2, 3)
    with pytest.raises(ValueError, match="unequal"):
        betti.by_class(flat[:5], labels[:5])


def test_subsampled_thetas_vary_around_the_full_theta():
    rng = np.random.default_rng(0)
    values = rng.poisson(np.linspace(40, 5, 6)[None, None, :, None], size=(3, 40, 6, 3))
    thetas = betti.subsample_thetas(values, 0.5, 20, seed=1)
    full = betti.decay_score(betti.complexity_by_layer(values))
    assert thetas.shape == (20,) and np.all(thetas < 0)
    assert abs(thetas.mean() - full) < 3 * thetas.std() + 1e-9


def test_decay_tau_of_a_falling_curve_is_minus_one():
    tau, pvalue = betti.decay_tau(np.array([9.0, 7, 4, 2, 1]))
    assert tau == pytest.approx(-1.0) and pvalue < 0.05


def test_layer_outputs_and_layer_diagrams_of_a_small_cnn():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(2, 3, 3))
    images = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    outputs = betti.layer_outputs(model, images, ["1", "2"], batch_size=3)
    assert outputs["1"].shape == (4, 2, 8, 8) and outputs["2"].shape == (4, 3, 6, 6)
    diagrams = betti.layer_diagrams(model, images, ["1", "2"], progress=False)
    assert len(diagrams) == 2 and len(diagrams[0]) == 4 and len(diagrams[0][0]) == 3
    with pytest.raises(KeyError, match="unknown layers"):
        betti.layer_outputs(model, images, ["nope"])


def test_released_arrays_are_pinned_to_the_authors_repository(monkeypatch, tmp_path):
    assert len(betti.RELEASED) == 9
    for entry in betti.RELEASED:
        assert entry.url.startswith("https://raw.githubusercontent.com/Cross-Caps/DNNTopology/")
        assert " " not in entry.url and entry.url.endswith(entry.file)
    with pytest.raises(ValueError, match="unknown released model"):
        betti.load_released("AlexNet")
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="vgg16_cifar10.npy"):
        betti.load_released("VGG16")
    folder = tmp_path / betti.RELEASED_FOLDER
    folder.mkdir()
    np.save(folder / "vgg16_cifar10.npy", np.zeros((10, 200, 13, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="md5"):
        betti.load_released("VGG16")


def test_offline_released_array_when_present():
    import os

    if not os.environ.get("TOPOCNN_DATA"):
        pytest.skip("no offline data folder")
    array, copy = betti.load_released("ResNet18")
    assert array.shape == (10, 200, 11, 3) and "md5 verified" in copy
    assert "offline copy" in copy and os.environ["TOPOCNN_DATA"] not in copy


def test_knn_betti_of_a_circle_and_of_two_blobs():
    angle = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    circle = np.c_[np.cos(angle), np.sin(angle)]
    assert betti.knn_betti(circle, k=4).tolist() == [1, 1]
    blobs = np.concatenate([np.random.default_rng(0).normal(0, 0.1, (60, 2)),
                            np.random.default_rng(1).normal(5, 0.1, (60, 2))])
    assert betti.knn_betti(blobs, k=8, scale=2).tolist() == [2, 0]
    with pytest.raises(ValueError, match="n > k"):
        betti.knn_betti(circle[:3], k=4)


def test_nested_rings_have_the_announced_topology():
    points, labels = betti.nested_rings(300, seed=0)
    assert points.shape == (600, 2) and np.bincount(labels).tolist() == [300, 300]
    assert betti.knn_betti(points[labels == 0], k=10, scale=2).tolist() == [1, 1]
    assert betti.knn_betti(points[labels == 1], k=10, scale=2).tolist() == [2, 1]
    assert betti.excess_betti(np.array([[1, 0], [2, 1]])).tolist() == [0, 2]


def test_ring_mlp_layers_and_layerwise_betti():
    model = betti.RingMLP("tanh", width=5, depth=3)
    points, labels = betti.nested_rings(60, seed=0)
    assert model(torch.from_numpy(points)).shape == (120, 2)
    numbers = betti.layerwise_knn_betti(model, points, labels, k=6)
    assert numbers.shape == (2, 4, 2)
    with pytest.raises(ValueError, match="unknown activation"):
        betti.RingMLP("sigmoid")


def test_decay_taus_of_falling_and_rising_curves():
    falling = [np.array([5.0, 4, 3, 2, 1]) + i for i in range(3)]
    assert betti.decay_taus(falling + [np.array([1.0, 2, 3])]).tolist() == pytest.approx([-1, -1, -1, 1])
    with pytest.raises(ValueError, match=r"curves \[1\] are constant"):
        betti.decay_taus([np.array([3.0, 2, 1]), np.ones(4)])


def test_released_array_without_copy_or_network_names_the_url(monkeypatch, tmp_path):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.delenv("TOPOCNN_DATA", raising=False)
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="raw.githubusercontent.com/Cross-Caps/DNNTopology/.*resnet18_cifar10.npy"):
        betti.load_released("ResNet18")
