import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from torch import nn

from helpers import activations
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
    assert len(conv) == 20 and conv[0] == "conv1" and "layer2.0.shortcut.0" in conv
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


def test_removing_principal_components_removes_the_leading_directions():
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(500, 3)) * [10.0, 3.0, 1.0] + 7.0
    assert np.allclose(activations.remove_principal_components(cloud, 0), cloud)
    one = activations.remove_principal_components(cloud, 1)
    spread = one.std(axis=0)
    assert spread[0] < 0.5 and spread[1] == pytest.approx(3.0, rel=0.1)
    assert np.allclose(one.mean(axis=0), cloud.mean(axis=0), atol=1e-4)
    assert np.allclose(activations.remove_principal_components(cloud, 3), cloud.mean(axis=0), atol=1e-4)
    with pytest.raises(ValueError, match="k=4 components"):
        activations.remove_principal_components(cloud, 4)


def test_layer_matching_shares():
    assert activations.matching_share(np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    shifted = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    assert activations.nearest_layers(shifted).tolist() == [1, 2, 0]
    assert activations.matching_share(shifted) == 0.0
    assert activations.matching_share(shifted, tolerance=1) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="square"):
        activations.matching_share(np.zeros((2, 3)))
