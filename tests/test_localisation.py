"""Known-answer tests of chapter 2's localisation benchmark (helpers.localisation and
helpers.localisation_baselines): maps equal to the mask, constant maps, a centre prior on a
centred disc, the mask at a layer's grid, and the verdicts built on them."""

import numpy as np
import pandas as pd
import pytest

from helpers import explain, localisation
from helpers import localisation_baselines as baselines
from helpers.claims import NOT_REPRODUCED, REPRODUCED, ClaimBook, judge
from helpers.models import build_model


def study_rows(attention_a, attention_b, accuracy_a, accuracy_b):
    rows = []
    for seed in range(4):
        for model, attention, accuracy in (("a", attention_a, accuracy_a), ("b", attention_b, accuracy_b)):
            rows.append({"model": model, "seed": seed, "distractor": "none", "accuracy": 0.9,
                         "attention_on_object": 0.1, "attention_on_distractor": 0.9})
            rows.append({"model": model, "seed": seed, "distractor": "artefact",
                         "accuracy": accuracy + 0.01 * seed, "attention_on_object": 0.1,
                         "attention_on_distractor": attention + 0.01 * seed * (model == "b")})
    return pd.DataFrame(rows)


def test_a_model_that_looks_less_at_the_distractor_is_less_distracted():
    table = localisation.distractor_comparison(study_rows(0.1, 0.3, 0.8, 0.6), "a", "b", ["artefact"])
    assert judge(table.loc["artefact", "attention_effect"], smallest_effect=0.05) == REPRODUCED
    assert table.loc["artefact", "accuracy drop: b minus a"].startswith("+20.00 [")
    reverse = localisation.distractor_comparison(study_rows(0.3, 0.1, 0.8, 0.6), "a", "b", ["artefact"])
    assert judge(reverse.loc["artefact", "attention_effect"], smallest_effect=0.05) == NOT_REPRODUCED


def disc_masks(n=4, size=21, radius=3.5):
    """(n, size, size) centred discs; the last image's disc moved to a corner."""
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    masks = np.repeat((rows ** 2 + cols ** 2 <= radius ** 2)[None], n, axis=0)
    masks[-1] = np.roll(masks[-1], (-7, -7), axis=(0, 1))
    return masks


# --------------------------------------------------------------------------------------------
# Model-free maps
# --------------------------------------------------------------------------------------------


def test_centre_prior_thresholded_at_a_half_is_the_disc_of_its_width():
    sigma = 3.0
    prior = baselines.centre_prior(2, (21, 21), sigma)
    assert prior.shape == (2, 21, 21) and prior[0, 10, 10] == 1 and prior.min() == 0
    disc = disc_masks(2, radius=sigma * np.sqrt(2 * np.log(2)))[:1].repeat(2, axis=0)
    assert explain.iou(prior, disc, [0.5])[:, 0].tolist() == [1.0, 1.0]
    assert explain.pointing_game(prior, disc).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="sigma=0"):
        baselines.centre_prior(1, (5, 5), 0)


def test_intensity_maps_rank_pixels_by_brightness_and_darkness():
    images = np.zeros((1, 1, 4, 4))
    images[0, 0, 1, 2] = 0.8
    images[0, 0, 3, 3] = -0.2
    bright, dark = baselines.intensity_maps(images), baselines.intensity_maps(images, darkest=True)
    assert bright[0, 1, 2] == 1 and bright[0, 3, 3] == 0
    np.testing.assert_allclose(dark, 1 - bright)
    assert not baselines.intensity_maps(np.ones((1, 3, 3))).any()


def test_fixed_band_is_the_band_inverse_image_at_one_bin_and_the_best_one_finds_the_blob():
    image = np.full((1, 8, 8), 0.05)
    blob = np.zeros((1, 8, 8), bool)
    blob[0, 2:5, 3:6] = True
    image[blob] = 0.75
    values = np.linspace(0, 1, 21)
    band = baselines.fixed_band(image, values, 16, window=3)      # intensities 0.70 .. 0.80
    np.testing.assert_array_equal(band, blob)
    best, end = baselines.best_fixed_band(image, blob, values, window=3)
    assert end in (15, 16, 17) and (best == blob).all()
    with pytest.raises(ValueError, match="end_bin=21"):
        baselines.fixed_band(image, values, 21)


def test_layer_ceiling_is_the_mask_at_full_resolution_and_blurred_on_a_coarse_grid():
    masks = disc_masks()
    full = baselines.layer_ceiling(masks, (21, 21))
    np.testing.assert_allclose(explain.iou(full, masks, localisation.THRESHOLDS), 1.0)
    coarse = baselines.layer_ceiling(masks, (3, 3))
    scores = explain.iou(coarse, masks, localisation.THRESHOLDS)
    assert (scores < 1).all() and (scores > 0).all()
    assert not baselines.layer_ceiling(np.zeros((1, 6, 6), bool), (3, 3)).any()


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def test_kind_groups_keep_real_sources_apart_and_reject_unknown_kinds():
    groups = localisation.kind_groups(np.array(["real", "dipole", "streak", "dipole"]), 4)
    assert list(groups) == ["all", "real", "bogus", "dipole", "streak"]
    assert groups["bogus"].tolist() == [False, True, True, True] and groups["dipole"].sum() == 2
    assert list(localisation.kind_groups(None, 4)) == ["all"]
    with pytest.raises(ValueError, match=r"unknown object kinds \['galaxy'\]"):
        localisation.kind_groups(np.array(["real", "galaxy"]), 2)
    with pytest.raises(ValueError, match=r"kinds have shape \(1,\)"):
        localisation.kind_groups(np.array(["real"]), 2)


def runs_of(maps_by_model, seeds=(0, 1, 2)):
    """One run per model and seed; every seed's maps drop a random tenth of the pixels (set to 0),
    so that scores vary over seeds as a network's do."""
    runs = []
    for seed in seeds:
        keep = np.random.default_rng(seed).uniform(size=next(iter(maps_by_model.values())).shape) > 0.1
        runs += [localisation.Explained(model, seed, np.zeros(len(maps)), maps * keep)
                 for model, maps in maps_by_model.items()]
    return runs


def noise_maps(shape, seed=1):
    return np.random.default_rng(seed).uniform(size=shape)


def test_maps_equal_to_the_mask_score_one_and_constant_maps_score_the_mask_area():
    masks = disc_masks()
    kinds = np.array(["real", "real", "dipole", "streak"])
    constant = np.full(masks.shape, 0.5)
    runs = [localisation.Explained(name, 0, np.zeros(4), maps) for name, maps in
            (("mask", masks * 0.9), ("flat", constant))]
    scores = localisation.localisation_scores(runs, masks, kinds, thresholds=(0.05, 0.5))
    mask_rows = scores[scores.model == "mask"]
    assert (mask_rows[["iou", "pointing", "energy"]] == 1).all().all()
    flat = scores[(scores.model == "flat") & (scores.kind == "real")].set_index("threshold")
    area = masks[0].mean()
    assert flat.loc[0.05, "iou"] == pytest.approx(area) and flat.loc[0.5, "iou"] == pytest.approx(area)
    assert flat.loc[0.05, "pointing"] == 0 and flat.loc[0.05, "energy"] == pytest.approx(area)
    assert set(scores.kind) == {"all", "real", "bogus", "dipole", "streak"}
    assert set(scores.layer) == {"relu4"} and set(scores.convention) == {"ours"}


def benchmark_inputs():
    masks = disc_masks()
    images = np.where(masks, 0.8, 0.1)[:, None]
    free = localisation.model_free_maps(images, masks, np.linspace(0, 1, 100), centre_sigma=3.0)
    base = localisation.baseline_scores(free, {"relu4": (3, 3), "relu2": (21, 21)}, masks)
    runs = runs_of({"perfect": masks * 0.9, "blind": noise_maps(masks.shape)})
    return localisation.localisation_scores(runs, masks), base, free


def test_benchmark_shows_networks_model_free_maps_and_the_ceiling_of_the_layer():
    scores, base, free = benchmark_inputs()
    table = localisation.benchmark(scores, base, "relu4")
    assert list(table.index) == ["perfect", "blind", *free, "ceiling: mask on a 3x3 grid"]
    assert list(table.columns) == [f"IoU at {t:g}" for t in localisation.THRESHOLDS] + ["pointing", "share in mask"]
    assert (table.loc["perfect", "IoU at 0.5"] > 0.8) and (table.loc["blind", "IoU at 0.5"] < 0.1)
    # bright discs on a dark ground: the brightest pixels find them, the darkest never do
    assert table.loc["brightest pixels", "pointing"] == 1 and table.loc["darkest pixels", "IoU at 0.5"] == 0
    # the centre prior points at three of the four discs
    assert table.loc["centre prior (sigma 3 px)", "pointing"] == 0.75
    sweep = localisation.layer_sweep(scores, base, "pointing")
    assert list(sweep.columns) == ["relu4"]
    assert sweep.loc["ceiling: mask on the layer's grid", "relu4"] == table.iloc[-1]["pointing"]
    assert sweep.loc["brightest pixels", "relu4"] == 1


def test_a_network_must_beat_the_best_model_free_map_to_be_said_to_localise():
    scores, base, _ = benchmark_inputs()
    verdicts = localisation.beats_model_free(scores, base, ["perfect", "blind"], margin=0.02)
    # the brightest pixels are as good as the perfect map here: the network does not beat them
    assert verdicts.loc["blind", "beats it?"] == "no"
    # on these two-level images the brightest pixels are the discs themselves: nothing beats them
    assert verdicts.loc["perfect", "beats it?"] == "no"
    masks = disc_masks()
    free = {"centre prior": baselines.centre_prior(len(masks), masks.shape[1:], 3.0)}
    base = localisation.baseline_scores(free, {}, masks)
    verdicts = localisation.beats_model_free(scores, base, ["perfect"], margin=0.02)
    assert verdicts.loc["perfect", "beats it?"] == "yes"
    assert verdicts.loc["perfect", "best model-free map"].startswith("centre prior:")


def test_localisation_claims_judge_cnn_bc_against_the_cnn_the_wide_cnn_and_the_model_free_maps():
    masks = disc_masks()
    runs = runs_of({"cnn_bc": masks * 0.9, "cnn": noise_maps(masks.shape), "wide_cnn": noise_maps(masks.shape, 2)})
    scores = localisation.localisation_scores(runs, masks)
    free = {"centre prior": baselines.centre_prior(len(masks), masks.shape[1:], 3.0)}
    book = ClaimBook("test")
    localisation.record_localisation_claims(book, scores, localisation.baseline_scores(free, {}, masks),
                                            "relu4", "ours", 0.02, None, "test")
    assert book.table().verdict.tolist() == [REPRODUCED] * 3


def test_inverse_image_claims_compare_with_the_model_free_band_and_brightest_pixels():
    masks = disc_masks()
    rng = np.random.default_rng(0)
    off = ~masks & (rng.uniform(size=masks.shape) < 0.05)
    marks = {"band": masks | (off & (rng.uniform(size=masks.shape) < 0.3)), "fixed band": off,
             "pairs": off, "brightest": masks | (rng.uniform(size=masks.shape) < 0.1)}
    per_image = localisation.inverse_image_scores(marks, masks)
    summary = localisation.inverse_image_summary(per_image, masks)
    assert summary.loc["fixed band", "IoU with mask"] == 0 and summary.loc["pairs", "marked pixels per image"] > 0
    assert summary["chance share (mask area)"].iloc[0] == pytest.approx(masks.mean())
    book = ClaimBook("test")
    localisation.record_inverse_image_claims(book, per_image, "band", "fixed band", "pairs", "brightest",
                                             0.05, None, "test")
    assert book.table().verdict.tolist() == [REPRODUCED, NOT_REPRODUCED]


def test_gallery_picks_one_right_and_one_wrong_image_per_class():
    labels, predicted = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 1])
    assert localisation.gallery_picks(labels, predicted, ["bogus", "real"]) == [
        (0, "bogus, right"), (1, "bogus, wrong"), (2, "real, right")]


def test_layer_grid_and_unknown_layers():
    model = build_model("cnn", image_shape=(1, 38, 38), topo_shape=None, n_classes=2)
    grids = {layer: localisation.layer_grid(model, layer, (1, 38, 38)) for layer in ("relu2", "relu3", "relu4")}
    assert grids == {"relu2": (38, 38), "relu3": (19, 19), "relu4": (9, 9)}
    with pytest.raises(ValueError, match="relu9"):
        localisation.image_layer(model, "relu9")


def test_relative_gains_divide_the_paired_difference_by_the_baselines_mean():
    rows = [{"model": model, "seed": seed, "layer": "relu4", "convention": "ours", "kind": "all", "threshold": 0.5,
             "iou": value, "pointing": 0.0, "energy": 0.0}
            for seed, (bc, cnn) in enumerate([(0.05, 0.04), (0.06, 0.05), (0.08, 0.06)])
            for model, value in (("cnn_bc", bc), ("cnn", cnn))]
    table = localisation.compare_at_thresholds(pd.DataFrame(rows), "cnn_bc", "cnn")
    gain = localisation.relative_gains(table, "cnn_bc", "cnn")[0.5]
    assert gain.estimate == pytest.approx((0.04 / 3) / 0.05)  # 26.7% of the CNN's mean IoU
    assert gain.describe().startswith("+26.7 [") and gain.low < gain.estimate < gain.high
    assert localisation.P1_SMALLEST_RELATIVE_IOU_GAIN == pytest.approx(0.239 / 0.194 - 1)
