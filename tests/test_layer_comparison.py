import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import layer_comparison as lc


def test_upper_triangle_and_depth_gaps():
    gaps = lc.depth_gaps(4)
    assert gaps[0].tolist() == [0, 1, 2, 3] and np.allclose(gaps, gaps.T)
    assert lc.upper_triangle(gaps).tolist() == [1, 2, 3, 1, 2, 1]
    with pytest.raises(ValueError, match=r"square \(L, L\) matrix with L >= 3, got shape \(2, 3\)"):
        lc.upper_triangle(np.zeros((2, 3)))


def test_mantel_test_finds_a_monotone_relation_and_not_a_random_one():
    gaps = lc.depth_gaps(10)
    exact = lc.mantel_test(np.sqrt(gaps), gaps, n_permutations=199)
    assert exact.rho == pytest.approx(1.0) and exact.p_value == pytest.approx(1 / 200)
    rng = np.random.default_rng(0)
    noise = rng.random((10, 10))
    noise = noise + noise.T
    np.fill_diagonal(noise, 0)
    unrelated = lc.mantel_test(noise, gaps, n_permutations=199)
    assert unrelated.p_value > 0.05 and abs(unrelated.rho) < 0.3
    assert lc.mantel_test(np.sqrt(gaps), gaps, n_permutations=50, seed=3) == lc.mantel_test(
        np.sqrt(gaps), gaps, n_permutations=50, seed=3)
    assert "Spearman +1.00" in exact.describe()
    with pytest.raises(ValueError, match="same shape"):
        lc.mantel_test(gaps, lc.depth_gaps(5))


def test_disagreements_name_the_pair_ranked_most_differently():
    a = lc.depth_gaps(4)
    b = a.copy()
    b[0, 3] = b[3, 0] = 0.5  # b calls the first and last layer the closest pair; a the farthest
    table = lc.disagreements(a, b, ["l0", "l1", "l2", "l3"], top=1, labels=("x", "y"))
    row = table.iloc[0]
    assert (row["layer"], row["other layer"]) == ("l0", "l3")
    assert row["rank by x"] == 1.0 and row["rank by y"] == 0.0 and row["rank difference"] == 1.0
    with pytest.raises(ValueError, match="3 layer names for 4 layers"):
        lc.disagreements(a, b, ["l0", "l1", "l2"])


def test_matching_shares_pool_every_pair_of_networks():
    identity = 1.0 - np.eye(3)
    shifted = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    table = lc.matching_shares({"good": [identity, identity], "bad": [shifted, identity]})
    assert table.loc["good", "share within 0"] == 1.0
    assert table.loc["bad", "share within 0"] == 0.5
    assert table.loc["bad", "share within 1"] == pytest.approx((2 / 3 + 1) / 2)
    assert table.loc["bad", "layers matched"] == 6


def test_removing_principal_components_moves_a_circle_in_a_plane_of_high_variance():
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 150)
    # a circle of radius 3 in the first two coordinates, small noise in four more
    cloud = np.c_[3 * np.cos(angles), 3 * np.sin(angles), rng.normal(0, 0.1, (150, 4))]
    table = lc.principal_component_sensitivity(cloud, [0, 1, 2], metric="bottleneck", progress=False)
    assert table["components removed"].tolist() == [0, 1, 2]
    assert table["persistence distance"].iloc[0] == pytest.approx(0.0, abs=1e-6)  # float32 rounding
    assert table["1 - CKA"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    # removing the circle's plane destroys its long H1 bar (about 2.5 long): the distance jumps
    assert table["persistence distance"].iloc[2] > 1.0
    assert table["variance removed"].iloc[2] > 0.95
    assert table["1 - CKA"].is_monotonic_increasing


def test_matching_by_network_averages_each_networks_partners():
    identity = 1.0 - np.eye(3)
    shifted = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])  # every layer matched one off
    shares = lc.matching_by_network([identity, shifted, identity], ["a", "a", "b"])
    assert shares == {"a": 0.5, "b": 1.0}
    assert lc.matching_by_network([shifted], ["a"], tolerance=1)["a"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 matrices and 1 names"):
        lc.matching_by_network([identity, identity], ["a"])



def test_sensitivity_effect_correlates_steps_with_the_distance():
    rising = pd.DataFrame({"components removed": [0, 1, 2, 4, 0, 1, 2, 4],
                           "persistence distance": [0, 0.1, 0.3, 0.9, 0, 0.2, 0.4, 1.0]})
    effect = lc.sensitivity_effect(rising)
    assert effect.n == 6 and effect.low > 0
    assert effect.estimate == pytest.approx(stats.spearmanr([1, 2, 4, 1, 2, 4], [0.1, 0.3, 0.9, 0.2, 0.4, 1.0]).statistic)
    one_step = lc.sensitivity_effect(rising[rising["components removed"].isin([0, 2])])
    assert np.isnan(one_step.estimate) and "1 distinct numbers" in one_step.method
