import numpy as np
import pytest
import torch

from helpers import precursor


def test_knn_betti_of_a_circle_and_of_two_blobs():
    angle = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    circle = np.c_[np.cos(angle), np.sin(angle)]
    assert precursor.knn_betti(circle, k=4).tolist() == [1, 1]
    blobs = np.concatenate([np.random.default_rng(0).normal(0, 0.1, (60, 2)),
                            np.random.default_rng(1).normal(5, 0.1, (60, 2))])
    assert precursor.knn_betti(blobs, k=8, scale=2).tolist() == [2, 0]
    with pytest.raises(ValueError, match="n > k"):
        precursor.knn_betti(circle[:3], k=4)


def test_nested_rings_have_the_announced_topology():
    points, labels = precursor.nested_rings(300, seed=0)
    assert points.shape == (600, 2) and np.bincount(labels).tolist() == [300, 300]
    assert precursor.knn_betti(points[labels == 0], k=10, scale=2).tolist() == [1, 1]
    assert precursor.knn_betti(points[labels == 1], k=10, scale=2).tolist() == [2, 1]
    assert precursor.excess_betti(np.array([[1, 0], [2, 1]])).tolist() == [0, 2]


def test_ring_mlp_layers_and_layerwise_betti():
    model = precursor.RingMLP("tanh", width=5, depth=3)
    points, labels = precursor.nested_rings(60, seed=0)
    assert model(torch.from_numpy(points)).shape == (120, 2)
    numbers = precursor.layerwise_knn_betti(model, points, labels, k=6)
    assert numbers.shape == (2, 4, 2)
    with pytest.raises(ValueError, match="unknown activation"):
        precursor.RingMLP("sigmoid")
