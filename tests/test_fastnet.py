import numpy as np
import pytest
import torch

from helpers.fastnet import ConvGroup, FastCifarNet, fast_cifar_net, whitening_weights


def correlated_images(n=400, channels=3, size=8, seed=0):
    """Images whose neighbouring pixels and channels are strongly correlated (smoothed noise)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(n, 1, size + 1, size + 1))
    smooth = (noise[:, :, 1:, 1:] + noise[:, :, :-1, 1:] + noise[:, :, 1:, :-1]) / 3
    return np.concatenate([smooth + 0.3 * rng.normal(size=smooth.shape) for _ in range(channels)], 1).astype(np.float32)


def test_whitening_filters_turn_the_patches_into_unit_variance_uncorrelated_responses():
    images = correlated_images()
    filters = whitening_weights(images, eps=0.0)
    assert filters.shape == (24, 3, 2, 2)
    responses = torch.nn.functional.conv2d(torch.from_numpy(images), filters[:12].double().float())
    flat = responses.permute(0, 2, 3, 1).reshape(-1, 12).double()
    covariance = np.cov(flat.numpy(), rowvar=False)
    assert np.allclose(covariance, np.eye(12), atol=0.05)
    assert torch.equal(filters[12:], -filters[:12])


def test_whitening_names_a_bad_shape():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) with H, W >= 2, got \(4, 3, 1, 8\)"):
        whitening_weights(np.zeros((4, 3, 1, 8), np.float32))


def test_network_has_seven_convolutions_and_classifies_32_pixel_images():
    images = np.random.default_rng(0).random((20, 3, 32, 32), dtype=np.float32)
    torch.manual_seed(0)
    model = fast_cifar_net(images, width=8)
    convolutions = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions == ["whiten"] + [f"group{g}.conv{c}" for g in (1, 2, 3) for c in (1, 2)]
    assert [m.conv2.out_channels for m in model.modules() if isinstance(m, ConvGroup)] == [8, 16, 32]
    assert not model.whiten.weight.requires_grad and model.whiten.bias.requires_grad
    assert model(torch.from_numpy(images)).shape == (20, 10)
    np.testing.assert_allclose(model.image_mean.flatten().numpy(), images.mean(axis=(0, 2, 3)), rtol=1e-5)


def test_network_names_bad_whitening_filters_and_width():
    with pytest.raises(ValueError, match=r"whitening filters must have shape \(8, 1, 2, 2\)"):
        FastCifarNet(4, in_channels=1, whitening=torch.zeros(24, 3, 2, 2))
    with pytest.raises(ValueError, match="width must be a positive number of channels, got 0"):
        FastCifarNet(0)


def test_whitening_sees_images_of_every_class_when_the_data_are_stored_class_by_class():
    # 6,000 images stored in two blocks: 5,000 dark ones, then 1,000 bright ones
    images = np.concatenate([np.zeros((5000, 1, 4, 4)), np.ones((1000, 1, 4, 4))]).astype(np.float32)
    images += np.random.default_rng(0).normal(0, 0.01, images.shape).astype(np.float32)
    torch.manual_seed(0)
    model = fast_cifar_net(images, width=2)
    standardised = (images - images.mean()) / images.std()
    responses = torch.nn.functional.conv2d(torch.from_numpy(standardised), model.whiten.weight[:4])
    # fitted to both blocks, the strongest whitened direction has unit variance over all images
    assert responses.permute(1, 0, 2, 3).reshape(4, -1).var(1).max() < 1.5
