"""Known-answer tests of helpers.explain: Grad-CAM, localisation scores, inverse images.

The Grad-CAM tests use fusion nets whose branches are hand-wired contrast detectors: channel 0
of the explained convolution is ``x - 0.5`` (bright), channel 1 is ``0.5 - x`` (dark); each
branch outputs the spatial means of their ReLUs and the head passes them through, so class 0
counts bright evidence and class 1 dark evidence. Grad-CAM for class 0 must then light exactly the
bright regions, for class 1 the dark ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.explain import (
    PAIR_BIRTH,
    PAIR_DEATH,
    energy_in_mask,
    extreme_pixels_like,
    grad_cam,
    grad_cam_1d,
    inverse_image_band,
    inverse_image_pairs,
    iou,
    persistence_pair_pixels,
    pointing_game,
    predict_targets,
)
from helpers.models import EARLIER_ARCHITECTURE, FusionNet, build_model

BRIGHT, DARK = 0, 1


def contrast_conv(conv_type: type[nn.Module]) -> nn.Module:
    """1x1 convolution, 1 -> 2 channels: (x - 0.5, 0.5 - x)."""
    conv = conv_type(1, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).reshape(conv.weight.shape))
        conv.bias.copy_(torch.tensor([-0.5, 0.5]))
    return conv


class ContrastImageBranch(nn.Module):
    """(N, 1, H, W) -> (N, 2): 2x2 average pool, then ``conv4`` = contrast detectors and its
    activation ``relu4``, named like the real image branch's."""

    out_features = 2

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.conv4 = contrast_conv(nn.Conv2d)
        self.relu4 = nn.ReLU()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.relu4(self.conv4(self.pool(image))).mean(dim=(2, 3))


class ContrastCurveBranch(nn.Module):
    """(N, 1, L) -> (N, 2): ``last_conv`` = contrast detectors over the bins."""

    out_features = 2

    def __init__(self) -> None:
        super().__init__()
        self.last_conv = contrast_conv(nn.Conv1d)

    def forward(self, curves: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.last_conv(curves)).mean(dim=2)


def contrast_model(image: bool, curve: bool) -> FusionNet:
    """FusionNet whose logit k is the sum of its branches' feature k (k = BRIGHT, DARK)."""
    model = FusionNet(ContrastImageBranch() if image else None,
                      ContrastCurveBranch() if curve else None, n_classes=2)
    width = 2 * (image + curve)
    first, _, second, _, last = model.head
    with torch.no_grad():
        for layer in (first, second, last):
            layer.weight.zero_()
            layer.bias.zero_()
        for layer in (first, second):
            layer.weight[:width, :width] = torch.eye(width)
        last.weight[:, :width] = torch.eye(2).repeat(1, width // 2)
    return model


def quadrant_images() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two (1, 16, 12) images on grey 0.5 and the (2, 16, 12) masks of their bright and dark
    quadrants: image 0 bright top-left, dark bottom-right; image 1 the other way round."""
    images = np.full((2, 1, 16, 12), 0.5, dtype=np.float32)
    top_left = np.zeros((16, 12), dtype=bool)
    top_left[:8, :6] = True
    bottom_right = np.zeros((16, 12), dtype=bool)
    bottom_right[8:, 6:] = True
    bright = np.stack([top_left, bottom_right])
    dark = np.stack([bottom_right, top_left])
    images[:, 0][bright] = 1.0
    images[:, 0][dark] = 0.0
    return images, bright, dark


def bump_curves(n: int = 2) -> np.ndarray:
    """(n, 1, 100) curves: 0.5 everywhere, 1 on bins 40..60, 0 on bins 0..9."""
    curves = np.full((n, 1, 100), 0.5, dtype=np.float32)
    curves[:, :, 40:61] = 1.0
    curves[:, :, :10] = 0.0
    return curves


# --------------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_curves", [False, True])
def test_grad_cam_lights_the_region_that_carries_the_target_class(with_curves):
    images, bright, dark = quadrant_images()
    model = contrast_model(image=True, curve=with_curves)
    topo = bump_curves() if with_curves else None
    for target, region in ((BRIGHT, bright), (DARK, dark)):
        maps = grad_cam(model, images, topo, [target, target])
        assert maps.shape == (2, 16, 12)
        assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)
        assert np.all(energy_in_mask(maps, region) > 0.9)


def test_p1_convention_explains_the_probability_and_divides_by_the_maximum():
    images, bright, _ = quadrant_images()
    model = contrast_model(image=True, curve=False)
    maps = grad_cam(model, images, None, [BRIGHT, BRIGHT], convention="p1")
    assert np.allclose(maps.max(axis=(1, 2)), 1) and np.all(energy_in_mask(maps, bright) > 0.9)
    # a uniformly bright image (0.8) with a brighter patch (1.0): the bright detector reads 0.3
    # and 0.5, the dark detector 0; dividing by the maximum keeps the background at 0.3 / 0.5,
    # min-max scaling sends it to 0
    lit = np.full((1, 1, 16, 12), 0.8, dtype=np.float32)
    lit[0, 0, :8, :6] = 1.0
    p1 = grad_cam(model, lit, None, [BRIGHT], convention="p1")
    ours = grad_cam(model, lit, None, [BRIGHT])
    assert p1[0, 12, 10] == pytest.approx(0.6) and ours[0, 12, 10] == pytest.approx(0.0)
    assert p1[0, 2, 2] == pytest.approx(1.0) and ours[0, 2, 2] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown Grad-CAM convention 'softmax'.*'ours', 'p1'"):
        grad_cam(model, lit, None, [BRIGHT], convention="softmax")


def test_grad_cam_1d_peaks_on_the_bins_that_carry_the_target_class():
    images, _, _ = quadrant_images()
    heat = grad_cam_1d(contrast_model(image=True, curve=True), images, bump_curves(), [BRIGHT, BRIGHT])
    assert heat.shape == (2, 100)
    assert np.all((heat.argmax(axis=1) >= 40) & (heat.argmax(axis=1) <= 60))
    assert np.all(heat[:, 40:61] == 1) and np.all(heat[:, :40] == 0) and np.all(heat[:, 61:] == 0)
    dark_heat = grad_cam_1d(contrast_model(image=False, curve=True), None, bump_curves(), [DARK, DARK])
    assert np.all(dark_heat[:, :10] == 1) and np.all(dark_heat[:, 10:] == 0)


def test_predict_targets_is_the_argmax_of_the_logits():
    model = contrast_model(image=True, curve=False)
    images = np.stack([np.full((1, 8, 8), 0.9), np.full((1, 8, 8), 0.1), np.full((1, 8, 8), 0.8)])
    assert predict_targets(model, images, None, batch_size=2).tolist() == [BRIGHT, DARK, BRIGHT]


def test_grad_cam_of_real_models_is_batch_independent_and_keeps_the_training_mode():
    torch.manual_seed(1)
    # the earlier architecture (dead ReLU units) leaves some maps blank, which must stay 0, not NaN
    model = build_model("cnn_bc", image_shape=(1, 16, 16), topo_shape=(2, 100), n_classes=3,
                        architecture=EARLIER_ARCHITECTURE)
    model.train()
    images = torch.rand(6, 1, 16, 16)
    curves = torch.rand(6, 2, 100)
    targets = np.array([0, 1, 2, 0, 1, 2])
    maps = grad_cam(model, images, curves, targets)
    heat = grad_cam_1d(model, images, curves, targets, batch_size=2)
    assert model.training
    assert maps.shape == (6, 16, 16) and heat.shape == (6, 100)
    for strips in (maps, heat):
        peaks = strips.reshape(6, -1).max(axis=1)
        assert strips.min() == 0 and set(peaks) == {0.0, 1.0}  # ReLU'd and normalised, some blank
    np.testing.assert_allclose(grad_cam(model, images, curves, targets, batch_size=2), maps, atol=1e-5)
    np.testing.assert_allclose(grad_cam_1d(model, images, curves, targets), heat, atol=1e-5)
    cnn = build_model("cnn", image_shape=(1, 16, 16), topo_shape=None, n_classes=3)
    assert grad_cam(cnn, images, None, predict_targets(cnn, images, None)).shape == (6, 16, 16)


@pytest.mark.parametrize("kind", ["cnn", "cnn_pi"])
def test_grad_cam_1d_needs_a_curve_branch(kind):
    topo_shape = (2, 8, 8) if kind == "cnn_pi" else None
    model = build_model(kind, image_shape=(1, 16, 16), topo_shape=topo_shape, n_classes=2)
    with pytest.raises(ValueError, match="no curve branch"):
        grad_cam_1d(model, torch.rand(2, 1, 16, 16), torch.rand(2, 2, 8, 8), [0, 1])


def test_grad_cam_needs_an_image_branch():
    model = contrast_model(image=False, curve=True)
    with pytest.raises(ValueError, match="no image branch"):
        grad_cam(model, None, bump_curves(), [0, 1])


def test_grad_cam_rejects_inputs_of_different_lengths():
    images, _, _ = quadrant_images()
    model = contrast_model(image=True, curve=True)
    with pytest.raises(ValueError, match=r"targets have shape \(3,\).*2 items"):
        grad_cam(model, images, bump_curves(), [0, 1, 0])
    with pytest.raises(ValueError, match=r"topo has shape \(3, 1, 100\).*2 items"):
        grad_cam(model, images, bump_curves(3), [0, 1])
    with pytest.raises(ValueError, match=r"images has shape \(2, 1, 16, 12\).*3 items"):
        grad_cam_1d(model, images, bump_curves(3), [0, 1, 0])


# --------------------------------------------------------------------------------------------
# Localisation scores
# --------------------------------------------------------------------------------------------


def scored_maps() -> tuple[np.ndarray, np.ndarray]:
    """Two (2, 4) maps and masks: a column ramp with its left half masked; zeros, empty mask."""
    ramp = np.tile([0.9, 0.6, 0.3, 0.0], (2, 1))
    left = np.zeros((2, 4), dtype=bool)
    left[:, :2] = True
    return np.stack([ramp, np.zeros((2, 4))]), np.stack([left, np.zeros((2, 4), dtype=bool)])


def test_iou_of_hand_made_maps():
    maps, masks = scored_maps()
    scores = iou(maps, masks, [0.5, 0.2, 0.95, 0.0])
    # ramp: >= .5 is the mask; >= .2 is 6 pixels around its 4; >= .95 is empty; >= 0 all 8.
    # zeros with an empty mask: empty region and empty mask count as 0; >= 0 is 8 vs 0 pixels.
    np.testing.assert_allclose(scores, [[1, 4 / 6, 0, 4 / 8], [0, 0, 0, 0]])


def test_energy_in_mask_is_the_share_of_mass_inside():
    maps, masks = scored_maps()
    np.testing.assert_allclose(energy_in_mask(maps, masks), [3.0 / 3.6, 0.0])


def test_pointing_game_of_known_maps():
    masks = np.zeros((4, 6, 6), dtype=bool)
    masks[:, 2:4, 2:4] = True
    maps = np.zeros((4, 6, 6))
    maps[0] = masks[0]                  # the mask itself: every maximum hits
    maps[1, 0, 0] = 1.0                 # a peak in the corner: a miss
    maps[2, 1, 1] = 1.0                 # a peak one pixel diagonally off the object
    maps[3] = 0.5                       # constant: points nowhere
    np.testing.assert_allclose(pointing_game(maps, masks), [1, 0, 0, 0])
    np.testing.assert_allclose(pointing_game(maps, masks, tolerance=1), [1, 0, 1, 0])
    tied = np.zeros((1, 6, 6))
    tied[0, 2, 2] = tied[0, 5, 5] = 1.0  # two maxima, one on the object
    assert pointing_game(tied, masks[:1]).tolist() == [0.5]
    with pytest.raises(ValueError, match="tolerance=-1"):
        pointing_game(maps, masks, tolerance=-1)


def test_scores_reject_maps_and_masks_of_different_shapes():
    maps, masks = scored_maps()
    with pytest.raises(ValueError, match=r"\(2, 2, 4\).*\(2, 4, 2\)"):
        iou(maps, masks.transpose(0, 2, 1), [0.5])
    with pytest.raises(ValueError, match=r"\(2, 2, 4\).*\(1, 2, 4\)"):
        energy_in_mask(maps, masks[:1])


# --------------------------------------------------------------------------------------------
# Topological inverse images
# --------------------------------------------------------------------------------------------


def blob_image() -> tuple[np.ndarray, np.ndarray]:
    """(8, 8) dark background (0.04) with a bright 3x3 blob (0.72 .. 0.8), and the blob's mask."""
    image = np.full((8, 8), 0.04)
    blob = np.zeros((8, 8), dtype=bool)
    blob[2:5, 3:6] = True
    image[blob] = np.linspace(0.72, 0.8, 9)
    return image, blob


def peaked_heat(peak: int, length: int = 100) -> np.ndarray:
    """(length,) heat strip rising linearly to 1 at ``peak`` and falling after it."""
    return 1.0 - np.abs(np.arange(length) - peak) / length


def test_band_inverse_image_keeps_the_pixels_in_the_window_ending_at_the_peak():
    image, blob = blob_image()
    values = np.linspace(0.0, 1.0, 100)
    # bin 80 is 0.808: the window [bin 49, bin 80] = [0.495, 0.808] holds the blob only;
    # bin 5 is 0.0505: its window is clipped to [bin 0, bin 5] = [0, 0.0505], the background.
    kept = inverse_image_band(np.stack([image, image]), np.stack([peaked_heat(80), peaked_heat(5)]),
                              values)
    np.testing.assert_array_equal(kept, np.stack([blob, ~blob]))


def test_band_inverse_image_maps_bins_through_the_sample_values():
    image, _ = blob_image()
    image[0, 0] = 0.5
    # fitted range [0.2, 0.6]: the last bin ends at 0.6 and its 32-bin window starts near 0.47
    kept = inverse_image_band(image[None, None], peaked_heat(99)[None], np.linspace(0.2, 0.6, 100))
    assert np.argwhere(kept[0]).tolist() == [[0, 0]]
    one_bin = inverse_image_band(np.linspace(0, 1, 100).reshape(1, 10, 10), peaked_heat(30)[None],
                                 np.linspace(0, 1, 100), window=1)
    assert np.flatnonzero(one_bin[0]).tolist() == [30]


def test_band_inverse_image_rejects_mismatched_shapes():
    image, _ = blob_image()
    with pytest.raises(ValueError, match=r"\(1, 50\).*\(100,\)"):
        inverse_image_band(image[None], np.ones((1, 50)), np.linspace(0, 1, 100))
    with pytest.raises(ValueError, match=r"\(1, 8, 8\).*\(2, 100\)"):
        inverse_image_band(image[None], np.ones((2, 100)), np.linspace(0, 1, 100))
    with pytest.raises(ValueError, match="window=0"):
        inverse_image_band(image[None], np.ones((1, 100)), np.linspace(0, 1, 100), window=0)


def enclosed_peak() -> np.ndarray:
    """(5, 7) image: a dark border ring (0.1) closed last at (0, 2) (0.3) around a bright plateau
    (0.6) whose maximum (0.9) is at (2, 4). Sublevel H1: the ring's loop is born when (0, 2)
    enters and dies when the maximum fills the last hole inside it."""
    image = np.full((5, 7), 0.1)
    image[1:4, 1:6] = 0.6
    image[2, 4] = 0.9
    image[0, 2] = 0.3
    return image


def two_pits() -> np.ndarray:
    """(3, 7) bright image with three dark pits (0.1, 0.2, 0.3) on one row, separated by walls of
    0.5 and 0.8. Finite H0 classes: born at 0.3 (1, 5), dies at 0.8 (1, 4); born at 0.2 (1, 3),
    dies at 0.5 (1, 2)."""
    image = np.full((3, 7), 0.9)
    image[1, 1:6] = [0.1, 0.5, 0.2, 0.8, 0.3]
    return image


def codes_at(shape: tuple[int, int], births: list, deaths: list) -> np.ndarray:
    """Expected (H, W) pair codes with the given birth and death pixels."""
    codes = np.zeros(shape, dtype=np.uint8)
    for pixel in births:
        codes[pixel] |= PAIR_BIRTH
    for pixel in deaths:
        codes[pixel] |= PAIR_DEATH
    return codes


def test_pair_inverse_image_marks_the_loop_around_a_bright_blob():
    image = enclosed_peak()
    expected = codes_at(image.shape, births=[(0, 2)], deaths=[(2, 4)])
    np.testing.assert_array_equal(persistence_pair_pixels(image[None], homology_dims=(1,))[0], expected)
    # no finite H0 class here, so asking for both dimensions gives the same pixels
    np.testing.assert_array_equal(persistence_pair_pixels(image[None, None])[0], expected)
    # the transposed image gives the transposed answer (gudhi's cell order is Fortran's)
    np.testing.assert_array_equal(persistence_pair_pixels(image.T[None])[0], expected.T)
    np.testing.assert_array_equal(inverse_image_pairs(image[None])[0], expected != 0)


def test_pair_inverse_image_keeps_the_most_persistent_classes():
    image = two_pits()
    np.testing.assert_array_equal(persistence_pair_pixels(image[None], 1, (0,))[0],
                                  codes_at(image.shape, births=[(1, 5)], deaths=[(1, 4)]))
    both = codes_at(image.shape, births=[(1, 5), (1, 3)], deaths=[(1, 4), (1, 2)])
    np.testing.assert_array_equal(persistence_pair_pixels(image[None], 2, (0,))[0], both)


def test_pair_inverse_image_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_classes=0"):
        inverse_image_pairs(two_pits()[None], n_classes=0)
    with pytest.raises(ValueError, match="homology_dims"):
        inverse_image_pairs(two_pits()[None], homology_dims=(2,))


def test_extreme_pixels_match_the_count_of_an_inverse_image():
    images = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    images[1] = images[1][::-1]
    marks = np.zeros((2, 3, 3), bool)
    marks[0, 2, :2] = True          # two pixels
    marks[1, 0, 0] = True           # one pixel
    darkest = extreme_pixels_like(images, marks)
    assert darkest.sum(axis=(1, 2)).tolist() == [2, 1]
    assert darkest[0, 0, :2].all() and darkest[1, 2, 0]
    brightest = extreme_pixels_like(images, marks, brightest=True)
    assert brightest.sum(axis=(1, 2)).tolist() == [2, 1]
    assert brightest[0, 2, 2] and brightest[0, 2, 1] and brightest[1, 0, 2]
    with pytest.raises(ValueError, match=r"marks have shape \(2, 2, 2\)"):
        extreme_pixels_like(images, marks[:, :2, :2])
