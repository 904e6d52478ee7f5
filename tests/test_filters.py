"""Known-answer tests of the filter-space pipeline (helpers.filters) and of its natural-image
validation (Carlsson et al. 2008) on a subsample of the published patches."""

import os

import numpy as np
import pandas as pd
import pytest

from helpers import filters
from helpers.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from helpers.data import load_natural_patches

needs_real_data = pytest.mark.skipif(not os.environ.get("TOPOCNN_DATA"),
                                     reason="TOPOCNN_DATA is not set: the natural-patch file is not available offline")


def angular_difference(a, b):
    return np.abs(np.angle(np.exp(1j * (a - b))))


def noisy_circle_filters(n, noise, seed):
    """Linear filters at random angles plus Gaussian noise; returns (filters, angles)."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, n)
    x, y = filters.circle_filter_bank(4)[:2]  # the filters x and y
    bank = np.cos(angles)[:, None, None] * x + np.sin(angles)[:, None, None] * y
    return bank + noise * rng.normal(size=bank.shape) + rng.normal(size=(n, 1, 1)), angles


def test_dct_basis_has_unit_d_norm_and_is_orthogonal():
    basis = filters.DCT_BASIS.reshape(8, 9)
    np.testing.assert_allclose(filters.d_norm(filters.DCT_BASIS), 1.0)
    gram = basis @ basis.T
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=1), 0.0, atol=1e-12)  # centred


def test_d_norm_is_the_sum_of_squared_neighbour_differences():
    patch = np.arange(9.0).reshape(3, 3) ** 2
    horizontal = np.sum(np.diff(patch, axis=1) ** 2)
    vertical = np.sum(np.diff(patch, axis=0) ** 2)
    assert filters.d_norm(patch[None])[0] == pytest.approx(np.sqrt(horizontal + vertical))


def test_dct_coordinates_preserve_the_d_norm_and_invert():
    patches = np.random.default_rng(0).normal(size=(20, 3, 3))
    coordinates = filters.dct_coordinates(patches)
    np.testing.assert_allclose(np.linalg.norm(coordinates, axis=1), filters.d_norm(patches), rtol=1e-10)
    centred = patches - patches.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(filters.patches_from_dct(coordinates), centred, atol=1e-12)


def test_filter_space_normalises_and_drops_low_contrast():
    rng = np.random.default_rng(1)
    patches = rng.normal(size=(50, 3, 3)) * np.linspace(0.01, 1, 50)[:, None, None] + 5.0  # constant offset
    space = filters.filter_space(patches, drop_fraction=0.2)
    assert len(space) == 40 and not space.kept[:10].any() and space.kept[10:].all()
    np.testing.assert_allclose(np.linalg.norm(space.points, axis=1), 1.0)


def test_constant_filters_are_dropped():
    patches = np.concatenate([np.ones((3, 3, 3)), np.random.default_rng(2).normal(size=(5, 3, 3))])
    assert filters.filter_space(patches, drop_fraction=0.0).kept.tolist() == [False] * 3 + [True] * 5


def test_bad_shapes_and_parameters_are_refused():
    with pytest.raises(ValueError, match="3x3 patches"):
        filters.d_norm(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="drop_fraction"):
        filters.filter_space(np.zeros((4, 3, 3)), drop_fraction=1.0)
    with pytest.raises(ValueError, match="k=10"):
        filters.knn_density(np.zeros((5, 8)), 10)
    with pytest.raises(ValueError, match="p=0"):
        filters.densest(np.ones(4), 0)
    with pytest.raises(ValueError, match=r"\(out, in, 3, 3\)"):
        filters.spatial_filters(np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="unknown filter bank 'torus'"):
        filters.filter_bank("torus", 4)


def test_spatial_filters_are_the_slices_of_every_input_channel():
    weight = np.arange(2 * 3 * 9.0).reshape(2, 3, 3, 3)
    slices = filters.spatial_filters(weight)
    assert slices.shape == (6, 3, 3)
    np.testing.assert_array_equal(slices[4], weight[1, 1])


def test_knn_density_and_core_on_a_known_configuration():
    points = np.concatenate([np.zeros((5, 2)) + np.arange(5)[:, None] * 0.01, [[10.0, 0], [20.0, 0], [30.0, 0]]])
    rho = filters.knn_density(points, 2)
    assert rho[:5].max() < 0.05 and rho[5:].min() > 9
    assert filters.density_core(points, 2, 50).tolist() == [0, 1, 2, 3]
    both = filters.knn_densities(points, [1, 2])
    np.testing.assert_array_equal(both[2], rho)
    assert np.all(both[1] <= both[2])


def test_circle_bank_lies_on_the_primary_circle_at_its_angles():
    bank = filters.circle_filter_bank(16)
    space = filters.filter_space(bank, drop_fraction=0.0)
    np.testing.assert_allclose(filters.distance_to_primary_circle(space.points), 0.0, atol=1e-7)
    np.testing.assert_allclose(filters.circle_angles(space.points), 2 * np.pi * np.arange(16) / 16, atol=1e-12)


def test_klein_bank_is_centred_distinct_and_contains_the_circle():
    bank = filters.filter_bank("klein", 64)
    assert bank.shape == (64, 3, 3)
    np.testing.assert_allclose(bank.sum(axis=(1, 2)), 0.0, atol=1e-12)
    points = filters.filter_space(bank, drop_fraction=0.0).points
    distances = np.linalg.norm(points[:, None] - points[None], axis=2) + np.eye(64)
    assert distances.min() > 1e-6
    # t2 = pi / 2 and 3 pi / 2 give the linear filters u and -u: 2 of every 8 rows on the circle.
    on_circle = filters.distance_to_primary_circle(points) < 1e-7
    assert on_circle.sum() == 16 and on_circle.reshape(8, 8)[:, [2, 6]].all()


def test_noisy_circle_gives_one_dominant_bar_and_recovers_the_angles():
    bank, angles = noisy_circle_filters(300, noise=0.08, seed=3)
    space = filters.filter_space(bank, drop_fraction=0.0)
    stats = filters.circle_statistics(space.points, k=10, p=80, max_landmarks=200)
    assert stats.top > 0.8 and stats.dominance > 4 and stats.long_bars() == 1
    assert stats.share_near_circle > 0.95
    assert np.median(angular_difference(filters.circle_angles(space.points), angles)) < 0.1


def test_random_filters_have_no_dominant_bar_and_the_verdicts_say_so():
    null = filters.null_top_persistence(300, n_draws=4, seed=10, k_fraction=10 / 270, p=80, max_landmarks=200,
                                        n_threads=1)
    random_stats = filters.circle_statistics(filters.filter_space(filters.random_filters(300, 99)).points,
                                             k=10, p=80, max_landmarks=200)
    assert random_stats.dominance < 2 and random_stats.share_near_circle < 0.2
    circle_stats = filters.circle_statistics(filters.filter_space(noisy_circle_filters(300, 0.08, 4)[0]).points,
                                             k=10, p=80, max_landmarks=200)
    assert circle_stats.top > 2 * null.max()
    assert filters.circle_presence(circle_stats, null) == filters.PRESENT
    assert filters.circle_presence(random_stats, null + 1.0) == filters.ABSENT
    assert filters.circle_presence(random_stats, [random_stats.top - 1e-9]) in (filters.UNCLEAR, filters.ABSENT)
    with pytest.raises(ValueError, match="at least one null value"):
        filters.circle_presence(random_stats, [])


def test_landmarks_are_spread_and_sorted():
    points = np.concatenate([np.zeros((100, 2)), [[1.0, 0.0], [0.0, 1.0]]])
    chosen = filters.landmarks(points, 3)
    assert len(chosen) == 3 and 100 in chosen and 101 in chosen
    assert filters.landmarks(points, 500).tolist() == list(range(102))


@needs_real_data
def test_natural_patches_subsample_shows_the_primary_circle():
    """Carlsson et al.: X(300, 30) of 50,000 patches is a circle. On a 10,000-patch subsample the
    same density (k scaled to 60) gives one dominant H1 bar, its core near the e1/e2 circle."""
    points, source = load_natural_patches(n=10_000, seed=0)
    assert points.shape == (10_000, 8) and "subsample of 10,000" in source
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=1e-6)
    stats = filters.circle_statistics(points, k=60, p=30, max_landmarks=300)
    assert stats.long_bars(0.3) == 1 and stats.dominance > 3
    assert stats.share_near_circle > 0.5


def test_class_count_gap_is_positive_exactly_for_the_right_count():
    assert filters.class_count_gap(np.array([1.0, 0.2, 0.1]), 1) == pytest.approx(0.3)
    five = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.1])
    assert filters.class_count_gap(five, 5) == pytest.approx(0.1)
    assert filters.class_count_gap(five, 1) < 0 and filters.class_count_gap(five, 4) < 0
    assert filters.class_count_gap(np.array([]), 1) < 0
    with pytest.raises(ValueError, match="at least 1"):
        filters.class_count_gap(five, 0)


def test_a_noisy_circle_has_one_class_and_its_change_is_judged_against_the_null_spread():
    core = filters.filter_space(noisy_circle_filters(300, 0.08, 4)[0]).points
    gaps = filters.class_count_gaps(core, 1, max_landmarks=150, n_halves=8)
    effect = filters.class_count_effect(gaps, len(core))
    assert gaps.shape == (9,) and effect.estimate == gaps[0] and effect.low > 0.2
    with pytest.raises(ValueError, match="at least 2 halves"):
        filters.class_count_effect(gaps[:2], len(core))
    change = filters.change_against_null(0.6, 0.2, np.array([0.18, 0.2, 0.22]))
    assert change.estimate == pytest.approx(0.4) and change.se == pytest.approx(np.sqrt(2) * 0.02)
    with pytest.raises(ValueError, match="2 null draws"):
        filters.change_against_null(0.6, 0.2, np.array([0.2]))


def test_euclidean_and_d_norm_coordinates_agree_on_the_primary_circle():
    patches = np.random.default_rng(5).normal(size=(30, 3, 3))
    euclidean = filters.euclidean_coordinates(patches)
    centred = patches - patches.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(euclidean, axis=1), np.linalg.norm(centred, axis=(1, 2)), rtol=1e-10)
    np.testing.assert_allclose(euclidean[:, :2], filters.dct_coordinates(patches)[:, :2], atol=1e-12)
    bank = filters.circle_filter_bank(12)
    for norm in filters.NORMALISATIONS:
        space = filters.filter_space(bank, 0.0, norm)
        assert space.norm == norm
        np.testing.assert_allclose(np.linalg.norm(space.points, axis=1), 1.0)
        np.testing.assert_allclose(filters.distance_to_primary_circle(space.points), 0.0, atol=1e-7)
    # i.i.d. weights: the e1/e2 plane holds 2/8 of the Euclidean energy, far less under the D-norm
    energy = {norm: np.mean(np.sum(filters.filter_space(filters.random_filters(4000, 0), 0.0, norm).points[:, :2] ** 2,
                                   axis=1)) for norm in filters.NORMALISATIONS}
    assert energy["euclidean"] == pytest.approx(0.25, abs=0.02) and energy["d-norm"] < 0.15
    with pytest.raises(ValueError, match="unknown normalisation 'l1'"):
        filters.filter_space(bank, 0.0, "l1")


def test_density_k_is_a_fraction_of_the_points():
    assert filters.density_k(50_000, 0.006) == 300
    assert filters.density_k(100, 0.006) == 1 and filters.density_k(10, 0.9) == 9
    with pytest.raises(ValueError, match="k fraction=1.5"):
        filters.density_k(100, 1.5)


def test_circular_coordinates_recover_the_angle_of_a_noisy_circle():
    rng = np.random.default_rng(7)
    angles = rng.uniform(0, 2 * np.pi, 150)
    points = np.zeros((150, 8))
    points[:, 0], points[:, 1] = np.cos(angles), np.sin(angles)
    points += 0.1 * rng.normal(size=points.shape)
    coordinates, bar = filters.circular_coordinates(points)
    assert coordinates.shape == (150,) and bar > 0.8
    assert filters.circular_agreement(coordinates, angles) > 0.9
    # up to a rotation and a reflection
    assert filters.circular_agreement(-angles + 1.0, angles) == pytest.approx(1.0)
    null = filters.agreement_null(coordinates, angles, 50, seed=0)
    assert null.max() < 0.35
    with pytest.raises(ValueError, match="no H1 class"):
        filters.circular_coordinates(np.column_stack([np.arange(10.0), np.zeros(10)]))


def test_the_dominant_class_of_noisy_circle_filters_is_the_primary_circle():
    bank, _ = noisy_circle_filters(200, noise=0.1, seed=8)
    core = filters.filter_space(bank, 0.0).points
    result = filters.dominant_circle_agreement(core, max_landmarks=120, n_permutations=50)
    assert result.agreement > 0.9 and result.agreement > result.null.max() + 0.5
    random_core = filters.filter_space(filters.random_filters(200, 3), 0.0).points
    assert filters.dominant_circle_agreement(random_core, 120, 50).agreement < 0.6


def test_sensitivity_grid_sees_a_circle_that_random_filters_lack():
    bank, _ = noisy_circle_filters(200, noise=0.1, seed=9)
    grid = filters.sensitivity_grid(bank, n_null=2, seed=0, norms=filters.NORMALISATIONS, k_fractions=[0.05],
                                    ps=[50, 100], max_landmarks=100, drop_fraction=0.0, n_threads=1)
    assert len(grid) == 4 and set(grid.norm) == set(filters.NORMALISATIONS)
    assert (grid.k == 10).all() and (grid.excess > 0.3).all()
    np.testing.assert_allclose(grid.excess, grid.top - grid.null_max)


def test_presence_effect_adds_the_spread_over_networks_to_the_nulls():
    null = np.array([0.30, 0.34, 0.38, 0.32, 0.36])
    steady = filters.presence_effect(0.6, np.full(6, 0.6), null)
    assert steady.estimate == pytest.approx(0.6 - 0.34)
    assert steady.se == pytest.approx(null.std(ddof=1))
    shaky = filters.presence_effect(0.6, np.array([0.3, 0.9, 0.35, 0.85]), null)
    assert shaky.se == pytest.approx(np.sqrt(np.mean([0.09, 0.09, 0.0625, 0.0625]) + null.var(ddof=1)))
    assert shaky.low < 0 < steady.low
    with pytest.raises(ValueError, match="need at least 2 half-sample values"):
        filters.presence_effect(0.6, np.array([0.6]), null)
    with pytest.raises(ValueError, match="need at least 2 null draws"):
        filters.presence_effect(0.6, np.full(3, 0.6), null[:1])
    change = filters.change_against_null(0.6, 0.3, null, network_spreads=(0.1, 0.05))
    assert change.se == pytest.approx(np.sqrt(2 * null.var(ddof=1) + 0.01 + 0.0025))


def test_a_verdict_the_sensitivity_grid_contradicts_is_flagged():
    grid = pd.DataFrame({"norm": "euclidean", "excess": [0.1, 0.2, -0.05]})
    assert filters.settings_beyond_null(grid) == (2, 3)
    reason = filters.setting_dependence(NOT_REPRODUCED, grid)
    assert reason.startswith("the answer depends on the density setting: 2 of the 3 settings")
    assert filters.setting_dependence(REPRODUCED, grid) is None
    assert filters.setting_dependence(INCONCLUSIVE, grid) is None
    assert "only 1 of the 3" in filters.setting_dependence(REPRODUCED, grid.assign(excess=[0.1, -0.2, -0.05]))
    with pytest.raises(ValueError, match="one normalisation"):
        filters.setting_dependence(REPRODUCED, pd.concat([grid, grid.assign(norm="d-norm")]))
