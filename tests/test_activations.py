from collections import OrderedDict

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from torch import nn

from helpers import activations, hooks
from helpers.resnet import resnet18


class Passthrough(nn.Module):
    """A 'network' whose only conv layer is the identity on two channels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(2)[:, :, None, None])

    def forward(self, x):
        return self.conv(x)


def test_layer_names_by_kind():
    model = resnet18(width=4)
    conv = activations.layer_names(model, "conv")
    # the 17 3x3 convolutions: the stem and two per block; the three 1x1 shortcut projections left out
    assert len(conv) == 17 and conv[0] == "conv1" and conv[-1] == "layer4.1.conv2"
    assert not [name for name in conv if "shortcut" in name]
    assert activations.layer_names(model, "block") == [f"layer{s}.{b}" for s in range(1, 5) for b in (0, 1)]
    with pytest.raises(ValueError, match=r"unknown layer kind 'bn'.*'conv', 'block'"):
        activations.layer_names(model, "bn")


def test_top_l2_and_average_pooling_of_known_maps():
    images = np.zeros((2, 2, 4, 4), dtype=np.float32)
    images[0, :, 1, 2] = [3.0, 4.0]  # norm 5, the largest of image 0
    images[0, :, 3, 3] = [1.0, 1.0]
    images[1, :, 0, 0] = [0.0, -2.0]
    model = Passthrough()
    top = activations.point_clouds(model, images, ["conv"], "top_l2")["conv"]
    assert np.allclose(top, [[3.0, 4.0], [0.0, -2.0]])
    pooled = activations.point_clouds(model, images, ["conv"], "gap", batch_size=1)["conv"]
    assert np.allclose(pooled, images.mean(axis=(2, 3)))


def test_random_positions_are_interior_seeded_and_independent_of_batches():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 2, 5, 5)).astype(np.float32)
    model = Passthrough()
    one = activations.point_clouds(model, images, ["conv"], "random_interior", seed=1, batch_size=3)["conv"]
    same = activations.point_clouds(model, images, ["conv"], "random_interior", seed=1, batch_size=20)["conv"]
    other = activations.point_clouds(model, images, ["conv"], "random_interior", seed=2)["conv"]
    assert np.array_equal(one, same) and not np.array_equal(one, other)
    interior = images[:, :, 1:4, 1:4]
    for point, patch in zip(one, interior):
        assert np.any(np.all(np.isclose(patch.reshape(2, -1).T, point), axis=1))


def test_random_projection_is_fixed_and_keeps_distances_roughly():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(30, 2, 16, 16)).astype(np.float32)
    model = Passthrough()
    projected = activations.point_clouds(model, images, ["conv"], "random_projection", n_components=256)["conv"]
    again = activations.point_clouds(model, images, ["conv"], "random_projection", n_components=256,
                                     batch_size=7)["conv"]
    assert projected.shape == (30, 256) and np.allclose(projected, again, atol=1e-5)
    flat = images.reshape(30, -1)
    ratio = np.linalg.norm(projected[0] - projected[1]) / np.linalg.norm(flat[0] - flat[1])
    assert 0.8 < ratio < 1.2


def test_point_clouds_of_a_resnet_have_one_row_per_image_and_reject_bad_input():
    model = resnet18(width=4)
    images = np.random.default_rng(0).random((5, 3, 32, 32), dtype=np.float32)
    clouds = activations.point_clouds(model, images, ["conv1", "layer4.1.conv2", "layer3.0"], "top_l2")
    assert [c.shape for c in clouds.values()] == [(5, 4), (5, 32), (5, 16)]
    with pytest.raises(ValueError, match=r"unknown point-cloud method 'max'"):
        activations.point_clouds(model, images, ["conv1"], "max")
    with pytest.raises(ValueError, match=r"layers \['layer9'\] are not modules"):
        activations.point_clouds(model, images, ["layer9"], "gap")
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        activations.point_clouds(model, images[0], ["conv1"], "gap")


def test_cka_of_a_representation_with_itself_and_its_rotations_is_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10))
    rotated = 3.0 * x @ ortho_group.rvs(10, random_state=1) + 5.0
    assert activations.linear_cka(x, x) == pytest.approx(1.0)
    assert activations.linear_cka(x, rotated) == pytest.approx(1.0)
    assert activations.linear_cka(x, rng.normal(size=(200, 10))) < 0.15
    matrix = activations.cka_matrix([x, rotated, x[:, :3]])
    assert np.allclose(np.diag(matrix), 1.0) and np.allclose(matrix, matrix.T)
    with pytest.raises(ValueError, match="same inputs, got 200 and 10 rows"):
        activations.linear_cka(x, x[:10])


def test_cka_from_gram_matrices_equals_cka_of_the_features():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 7)), rng.normal(size=(50, 30)) + 2.0
    y[:, :7] += 3 * x  # partly shared
    grams = [x @ x.T, y @ y.T, x[:, :2] @ x[:, :2].T]
    assert activations.cka_from_grams(grams[0], grams[1]) == pytest.approx(activations.linear_cka(x, y), abs=1e-10)
    matrix = activations.cka_matrix_from_grams(grams)
    expected = activations.cka_matrix([x, y, x[:, :2]])
    assert matrix.shape == (3, 3) and np.allclose(matrix, expected, atol=1e-10)
    assert np.allclose(activations.cka_matrix_from_grams(grams[:1], grams[1:]), expected[:1, 1:], atol=1e-10)
    with pytest.raises(ValueError, match=r"same inputs, got shapes \(50, 50\) and \(10, 10\)"):
        activations.cka_from_grams(grams[0], grams[1][:10, :10])
    with pytest.raises(ValueError, match=r"square \(N, N\) Gram matrix, got shape \(50, 7\)"):
        activations.cka_from_grams(x, grams[0])
    constant = np.full((50, 3), 2.0)
    with pytest.raises(ValueError, match="constant over the inputs"):
        activations.cka_from_grams(grams[0], constant @ constant.T)


def test_gram_matrices_are_the_products_of_the_flattened_maps():
    torch.manual_seed(0)
    # the in-place ReLU overwrites the convolution's output after its hook has run
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(2, 3, 3), relu=nn.ReLU(inplace=True), pool=nn.AvgPool2d(2)))
    images = np.random.default_rng(0).normal(size=(9, 2, 6, 6)).astype(np.float32)
    grams = activations.gram_matrices(model, images, ["conv", "pool"], batch_size=4)
    outputs = hooks.layer_outputs(model, images, ["conv", "pool"], batch_size=4)
    for name in ("conv", "pool"):
        flat = outputs[name].reshape(9, -1).astype(np.float64)
        assert grams[name].shape == (9, 9) and grams[name].dtype == np.float64
        assert np.allclose(grams[name], flat @ flat.T, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        activations.gram_matrices(model, images[0], ["conv"])


def test_removing_principal_components_removes_the_leading_directions():
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(500, 3)) * [10.0, 3.0, 1.0] + 7.0
    assert np.allclose(activations.remove_principal_components(cloud, 0, end="top"), cloud)
    one = activations.remove_principal_components(cloud, 1, end="top")
    spread = one.std(axis=0)
    assert spread[0] < 0.5 and spread[1] == pytest.approx(3.0, rel=0.1)
    assert np.allclose(one.mean(axis=0), cloud.mean(axis=0), atol=1e-4)
    assert np.allclose(activations.remove_principal_components(cloud, 3, end="top"), cloud.mean(axis=0), atol=1e-4)
    with pytest.raises(ValueError, match="k=4 components"):
        activations.remove_principal_components(cloud, 4)
    with pytest.raises(ValueError, match=r"unknown end 'middle'; expected one of \('bottom', 'top'\)"):
        activations.remove_principal_components(cloud, 1, end="middle")


def test_removing_the_bottom_component_zeroes_the_axis_of_least_variance():
    rng = np.random.default_rng(1)
    axes = ortho_group.rvs(4, random_state=2)  # rows: orthonormal axes in R^4
    # coordinates along the axes: centred, uncorrelated, of standard deviations exactly 8, 4, 2, 1
    # (orthonormal columns spanning the centred columns of a random matrix, rescaled)
    noise = rng.normal(size=(300, 4))
    coordinates = np.linalg.qr(noise - noise.mean(0))[0] * np.sqrt(300) * [8.0, 4.0, 2.0, 1.0]
    mean = np.array([1.0, -2.0, 3.0, 0.5])
    cloud = coordinates @ axes + mean
    bottom = activations.remove_principal_components(cloud, 1)  # end="bottom" by default
    kept = (bottom - mean) @ axes.T
    assert np.allclose(kept[:, 3], 0.0, atol=1e-4)
    assert np.allclose(kept[:, :3], coordinates[:, :3], atol=1e-4)
    # removing the top k and the bottom r - k splits the centred cloud between them
    for k in range(5):
        top = activations.remove_principal_components(cloud, k, end="top")
        rest = activations.remove_principal_components(cloud, 4 - k, end="bottom")
        assert np.allclose(top - mean + rest - mean, cloud - mean, atol=1e-4)
    assert np.allclose(activations.remove_principal_components(cloud, 4), mean, atol=1e-4)


def test_removed_components_count_from_either_end():
    assert activations.removed_components(5, 2, "top") == slice(0, 2)
    assert activations.removed_components(5, 2, "bottom") == slice(3, 5)
    assert np.arange(5)[activations.removed_components(5, 0, "bottom")].size == 0
    with pytest.raises(ValueError, match="k=6 components cannot be removed from 5"):
        activations.removed_components(5, 6, "top")


def test_layer_matching_shares():
    assert activations.matching_share(np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    shifted = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    assert activations.nearest_layers(shifted).tolist() == [1, 2, 0]
    assert activations.matching_share(shifted) == 0.0
    assert activations.matching_share(shifted, tolerance=1) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="square"):
        activations.matching_share(np.zeros((2, 3)))


def test_bottom_removal_keeps_the_distances_of_p2s_rank_c_minus_k_projection():
    """P2's sensitivity test projects the (c, N) activation matrix onto its top c - k left
    singular vectors (uncentred). On a centred cloud that is our bottom-k removal, up to a
    rotation: the pairwise distances, hence the Rips diagrams, agree."""
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(3)
    cloud = rng.normal(size=(60, 8)) * np.array([5, 4, 3, 2, 1, 0.5, 0.2, 0.1])
    cloud -= cloud.mean(0)
    for k in (1, 3, 5):
        matrix = cloud.T  # (c, N), P2's layout
        left, _, _ = np.linalg.svd(matrix, full_matrices=False)
        p2_projection = (left[:, : 8 - k].T @ matrix).T  # (N, c - k)
        ours = activations.remove_principal_components(cloud, k, "bottom")
        np.testing.assert_allclose(pdist(ours), pdist(p2_projection), rtol=1e-4, atol=1e-5)
