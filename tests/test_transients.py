"""Known-answer tests of the transient-vs-bogus simulator."""

import numpy as np
import pytest

from helpers import transients
from helpers.transients import BOGUS_KINDS, KINDS, simulate


@pytest.fixture(scope="module")
def batch() -> transients.Cutouts:
    return simulate(3000, seed=11, real_fraction=0.1, size=38)


def test_shapes_dtypes_and_ranges(batch):
    assert batch.images.shape == (3000, 38, 38) and batch.images.dtype == np.float32
    assert batch.labels.shape == (3000,) and batch.labels.dtype == np.int64
    assert batch.masks.shape == (3000, 38, 38) and batch.masks.dtype == bool
    assert batch.kinds.shape == (3000,) and set(batch.kinds) <= set(KINDS)
    assert batch.images.min() == 0.0 and batch.images.max() == 1.0
    np.testing.assert_allclose(batch.images.min(axis=(1, 2)), 0.0)
    np.testing.assert_allclose(batch.images.max(axis=(1, 2)), 1.0)


def test_labels_follow_kinds_and_fraction(batch):
    np.testing.assert_array_equal(batch.labels, (batch.kinds == "real").astype(np.int64))
    assert batch.labels.sum() == 300
    assert simulate(1000, seed=0, real_fraction=0.25).labels.sum() == 250


def test_every_bogus_kind_appears(batch):
    counts = {kind: int((batch.kinds == kind).sum()) for kind in BOGUS_KINDS}
    assert all(count >= 100 for count in counts.values()), counts


def test_deterministic_per_seed_and_different_between_seeds():
    first, again, other = simulate(200, seed=5), simulate(200, seed=5), simulate(200, seed=6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.images, other.images)
    assert not np.array_equal(simulate(200, seed=(5, 0)).images, simulate(200, seed=(5, 2)).images)


def test_masks_never_empty(batch):
    assert batch.masks.sum(axis=(1, 2)).min() >= 1


def test_real_masks_centred_within_the_offset_range(batch):
    centre = (38 - 1) / 2
    rows, cols = np.mgrid[0:38, 0:38]
    real = batch.masks[batch.labels == 1]
    area = real.sum(axis=(1, 2))
    row_centroid = (real * rows).sum(axis=(1, 2)) / area
    col_centroid = (real * cols).sum(axis=(1, 2)) / area
    assert np.abs(row_centroid - centre).max() <= 2.5
    assert np.abs(col_centroid - centre).max() <= 2.5


def test_noise_masks_are_three_by_three_near_the_centre(batch):
    noise = batch.masks[batch.kinds == "noise"]
    assert (noise.sum(axis=(1, 2)) <= 9).all()
    rows, cols = np.nonzero(noise.any(axis=0))
    assert np.hypot(rows - 18.5, cols - 18.5).max() <= transients.NOISE_PEAK_RADIUS + 2


def test_point_source_mask_covers_peak_and_is_centred_on_the_source():
    rng = np.random.default_rng(0)
    row, col = rng.uniform(15, 22, 50), rng.uniform(15, 22, 50)
    sigma = rng.uniform(1.5, 4.0, 50) / transients.FWHM_PER_SIGMA
    profiles = transients.gaussian_profiles(row, col, sigma, np.full(50, 7.0), 38)
    masks = transients.object_masks(profiles)
    brightest = profiles.reshape(50, -1).argmax(axis=1)
    assert masks.reshape(50, -1)[np.arange(50), brightest].all()
    rows, cols = np.mgrid[0:38, 0:38]
    area = masks.sum(axis=(1, 2))
    assert np.abs((masks * rows).sum(axis=(1, 2)) / area - row).max() < 0.5
    assert np.abs((masks * cols).sum(axis=(1, 2)) / area - col).max() < 0.5


def test_mask_rule_is_the_stated_fraction_of_the_peak():
    profile = np.zeros((1, 5, 5))
    profile[0, 2, 2], profile[0, 2, 3], profile[0, 0, 0] = -10.0, 2.0, 1.9
    mask = transients.object_masks(profile)[0]
    assert mask[2, 2] and mask[2, 3] and not mask[0, 0] and mask.sum() == 2


def test_psf_peak_matches_optimal_snr():
    sigma = np.array([1.3])
    profile = transients.gaussian_profiles(np.array([50.0]), np.array([50.0]), sigma,
                                           transients.psf_peak(np.array([20.0]), sigma), 101)[0]
    snr = np.sqrt((profile**2).sum())  # optimal S/N in unit white noise
    assert snr == pytest.approx(20.0, rel=1e-3)


def test_cosmic_rays_are_sharper_than_any_psf():
    rays = transients.cosmic_rays(np.random.default_rng(1), 500, 38)
    lit = (rays > 0).sum(axis=(1, 2))
    assert lit.min() >= 1 and lit.max() <= 3


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="real_fraction"):
        simulate(10, seed=0, real_fraction=1.5)
    with pytest.raises(ValueError, match="size"):
        simulate(10, seed=0, size=8)


def test_artefact_distractor_is_a_bright_blob_away_from_the_object():
    from helpers.transients import DISTRACTOR_MIN_DISTANCE, add_distractor

    cutouts = simulate(50, seed=3, real_fraction=0.5)
    images, masks = add_distractor(cutouts.images, "artefact", seed=1)
    assert images.shape == cutouts.images.shape and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert masks.any(axis=(1, 2)).all()
    rows, cols = np.nonzero(masks[0])
    centre = (masks.shape[1] - 1) / 2
    assert np.hypot(rows.mean() - centre, cols.mean() - centre) >= DISTRACTOR_MIN_DISTANCE - 1
    brightest = images.reshape(50, -1).argmax(1)
    assert masks.reshape(50, -1)[np.arange(50), brightest].mean() > 0.8  # the blob dominates


@pytest.mark.parametrize("kind", ["texture", "noise"])
def test_global_distractors_change_the_background_and_cover_the_image(kind):
    from helpers.transients import add_distractor

    cutouts = simulate(20, seed=4)
    images, masks = add_distractor(cutouts.images, kind, seed=0)
    assert masks.all()
    assert np.abs(images - cutouts.images).mean() > 0.02
    again, _ = add_distractor(cutouts.images, kind, seed=0)
    assert np.array_equal(images, again)


def test_unknown_distractor_is_named():
    from helpers.transients import add_distractor

    with pytest.raises(ValueError, match="'smoke'.*texture"):
        add_distractor(np.zeros((1, 38, 38)), "smoke")


def test_asinh_scaling_keeps_brightness_comparable_across_cutouts():
    per_image = simulate(400, seed=5, real_fraction=0.5)
    fixed = simulate(400, seed=5, real_fraction=0.5, scaling="asinh")
    np.testing.assert_array_equal(per_image.masks, fixed.masks)  # the same cutouts, scaled otherwise
    assert np.allclose(per_image.images.max(axis=(1, 2)), 1.0) and np.allclose(per_image.images.min(axis=(1, 2)), 0.0)
    assert 0.0 <= fixed.images.min() and fixed.images.max() <= 1.0
    # one map for all: the same pixel order within each image, and the background near the middle
    for a, b in zip(per_image.images[:20], fixed.images[:20]):
        assert np.array_equal(np.argsort(a, axis=None, kind="stable")[-5:], np.argsort(b, axis=None, kind="stable")[-5:])
    assert abs(np.median(fixed.images) - 0.5) < 0.05
    # the brightest cosmic rays are brighter than the faintest point sources, which per-image scaling hides
    peaks = fixed.images.max(axis=(1, 2))
    assert np.median(peaks[fixed.kinds == "cosmic_ray"]) > np.percentile(peaks[fixed.kinds == "real"], 10)
    assert transients.asinh_scale(np.array([[[0.0, transients.ASINH_LIMIT, -1e6]]])).tolist() == [[[0.5, 1.0, 0.0]]]


def test_distractors_keep_the_fixed_scale_of_asinh_cutouts():
    from helpers.transients import add_distractor

    cutouts = simulate(30, seed=6, scaling="asinh")
    images, _ = add_distractor(cutouts.images, "noise", seed=0, scaling="asinh")
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert abs(np.median(images - cutouts.images)) < 0.01  # no per-image rescaling
    with pytest.raises(ValueError, match="unknown scaling 'log'"):
        simulate(5, seed=0, scaling="log")
    with pytest.raises(ValueError, match="unknown scaling 'log'"):
        add_distractor(cutouts.images, "noise", scaling="log")
