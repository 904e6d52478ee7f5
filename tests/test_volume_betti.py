import numpy as np
import pytest
import torch

from helpers import volume_betti as vb


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


@pytest.mark.parametrize("construction", vb.CONSTRUCTIONS)
def test_known_shapes(construction):
    numbers = vb.betti_numbers(hollow_cube()[None],
                               [0.5, 2.0], construction)
    assert numbers[0, 0].tolist() == [1, 0, 1]  # a sphere
    assert numbers[1, 0].tolist() == [1, 0, 0]  # everything: one contractible block
    assert vb.betti_numbers(ring()[None], [0.5], construction)[0, 0].tolist() == [1, 1, 0]


def test_voxels_touching_at_a_corner_connect_in_t_only():
    volume = np.ones((1, 2, 2, 2))
    volume[0, 0, 0, 0] = volume[0, 1, 1, 1] = 0.0
    assert vb.betti_numbers(volume, [0.5], "V")[0, 0].tolist() == [2, 0, 0]
    assert vb.betti_numbers(volume, [0.5], "T")[0, 0].tolist() == [1, 0, 0]


@pytest.mark.parametrize("construction", vb.CONSTRUCTIONS)
def test_engine_equals_gudhi_on_random_volumes(construction):
    rng = np.random.default_rng(1)
    for trial in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 7, 3))
        volumes = rng.normal(size=(3, *shape))
        if trial % 3 == 0:
            volumes = np.maximum(volumes, 0)  # ReLU-like: many tied values
        thresholds = [-0.7, 0.0, 0.4, 1.3]
        assert np.array_equal(vb.betti_numbers(volumes, thresholds, construction),
                              vb.reference_betti_numbers(volumes, thresholds, construction)), (trial, shape)


def test_engine_equals_gudhi_on_smooth_activation_like_volumes():
    # smoothed noise has large components, loops and voids: the regime of real activations
    from scipy import ndimage
    rng = np.random.default_rng(2)
    volumes = np.stack([ndimage.gaussian_filter(rng.normal(size=(6, 12, 12)), 1.2) for _ in range(6)])
    volumes = vb.standardise(volumes)
    for construction in vb.CONSTRUCTIONS:
        engine = vb.betti_numbers(volumes, [-0.5, 0.0, 0.5], construction)
        assert np.array_equal(engine, vb.reference_betti_numbers(volumes, [-0.5, 0.0, 0.5], construction))
        assert engine[..., 1].max() > 0  # the check exercises b1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        vb.betti_numbers(np.zeros((3, 4, 4)), [0.0])
    with pytest.raises(ValueError, match="NaN"):
        vb.standardise(np.full((1, 2, 2, 2), np.nan))
    with pytest.raises(ValueError, match="unknown cubical construction 'X'"):
        vb.betti_numbers(np.zeros((1, 2, 2, 2)), [0.0], "X")
    with pytest.raises(ValueError, match="thresholds"):
        vb.betti_numbers(np.zeros((1, 2, 2, 2)), [])


def test_standardise_gives_zero_mean_unit_spread():
    volumes = vb.standardise(np.random.default_rng(0).normal(5, 3, (2, 3, 4, 4)))
    assert np.allclose(volumes.mean(axis=(1, 2, 3)), 0) and np.allclose(volumes.std(axis=(1, 2, 3)), 1)
    assert np.all(vb.standardise(np.ones((1, 2, 2, 2))) == 0)


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 4, 3))


def test_layer_betti_of_a_small_cnn_matches_the_volumes_it_sees():
    model = small_cnn()
    images = np.random.default_rng(0).random((7, 1, 8, 8)).astype(np.float32)
    found = vb.layer_betti(model, images, ["1", "2"], [0.0, 0.5], batch_size=3, progress=False)
    assert found.numbers.shape == (2, 7, 2, 3) and found.voxels.tolist() == [3 * 8 * 8, 4 * 6 * 6]
    with torch.no_grad():
        relu = model[1](model[0](torch.from_numpy(images))).numpy()
    expected = vb.betti_numbers(vb.standardise(relu), [0.0, 0.5])
    assert np.array_equal(found.numbers[:, :, 0], expected)
    assert np.array_equal(found.at(0.5), found.numbers[1])
    with pytest.raises(ValueError, match="was not computed"):
        found.at(0.25)


def test_channel_permutation_keeps_the_network_and_moves_the_numbers_in_v():
    model = small_cnn()
    images = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    own = vb.layer_betti(model, images, ["2"], [0.0], progress=False)
    permuted = vb.layer_betti(model, images, ["2"], [0.0], channel_seed=1, progress=False)
    again = vb.layer_betti(model, images, ["2"], [0.0], channel_seed=1, progress=False)
    assert np.array_equal(permuted.numbers, again.numbers)
    assert own.numbers.shape == permuted.numbers.shape
    assert not np.array_equal(own.numbers, permuted.numbers)


def test_channel_orders_are_never_a_symmetry_of_the_grid():
    for seed in range(20):
        order = vb.channel_order(4, seed, 0)
        assert sorted(order.tolist()) == [0, 1, 2, 3]
        assert order.tolist() not in ([0, 1, 2, 3], [3, 2, 1, 0])
    assert vb.channel_order(2, 0, 0).tolist() == [0, 1]  # two channels have no other order


def test_engine_agreement_on_a_network():
    found = vb.engine_agreement(small_cnn(), np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32),
                                ["1", "2"], [-0.5, 0.0, 0.5], "V", 10, seed=0)
    assert found == {"volumes": 10, "equal": 10}
