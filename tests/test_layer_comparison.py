import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats import ortho_group

from helpers import layer_comparison as lc
from helpers.activations import matching_share


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
    assert "Spearman +1.00" in exact.describe() and not exact.exact
    with pytest.raises(ValueError, match="same shape"):
        lc.mantel_test(gaps, lc.depth_gaps(5))


def _symmetric_noise(n_layers: int, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).random((n_layers, n_layers))
    noise = noise + noise.T
    np.fill_diagonal(noise, 0)
    return noise


def test_relabellings_are_all_orders_or_a_seeded_sample():
    orders, exact = lc.relabellings(3, 10)
    assert exact and orders.shape == (6, 3) and orders[0].tolist() == [0, 1, 2]
    assert len({tuple(o) for o in orders}) == 6
    sampled, exact = lc.relabellings(4, 10, seed=1)
    assert not exact and sampled.shape == (11, 4) and sampled[0].tolist() == [0, 1, 2, 3]
    assert all(sorted(o) == [0, 1, 2, 3] for o in sampled)
    assert np.array_equal(sampled, lc.relabellings(4, 10, seed=1)[0])
    with pytest.raises(ValueError, match="n_permutations=0: expected an integer of at least 1"):
        lc.relabellings(4, 0)


def test_mantel_test_enumerates_every_relabelling_of_few_layers():
    a, b = _symmetric_noise(5, 1), _symmetric_noise(5, 2) + lc.depth_gaps(5)
    result = lc.mantel_test(a, b, n_permutations=999)
    rows, cols = np.triu_indices(5, k=1)
    rhos = np.array([stats.spearmanr(a[np.ix_(o, o)][rows, cols], b[rows, cols]).statistic
                     for o in itertools.permutations(range(5))])
    assert result.exact and result.n_permutations == 120
    assert result.rho == pytest.approx(rhos[0])
    assert result.p_value == pytest.approx(np.mean(rhos >= rhos[0] - 1e-12))
    assert "exact, 120 relabellings" in result.describe()
    sampled = lc.mantel_test(_symmetric_noise(8, 1), lc.depth_gaps(8), n_permutations=999)
    assert not sampled.exact and sampled.n_permutations == 999  # 8! = 40320 > 999


def test_partial_mantel_test_separates_a_shared_signal_from_a_shared_control():
    a = _symmetric_noise(10, 1)
    noisy_copy = a + 0.1 * _symmetric_noise(10, 2)
    shared = lc.partial_mantel_test(a, noisy_copy, _symmetric_noise(10, 3), n_permutations=199)
    assert shared.rho > 0.8 and shared.p_value == pytest.approx(1 / 200)
    # both matrices follow the depth gaps; their ties at equal gaps are broken by independent noise
    gaps = lc.depth_gaps(10)
    square = gaps**2 + 1e-3 * _symmetric_noise(10, 6)
    root = np.sqrt(gaps) + 1e-3 * _symmetric_noise(10, 7)
    assert lc.mantel_test(square, root, n_permutations=199).rho > 0.9
    partial = lc.partial_mantel_test(square, root, gaps, n_permutations=199)
    assert abs(partial.rho) < 0.3 and partial.p_value > 0.05
    with pytest.raises(ValueError, match="ranks of a are a linear function of the control's"):
        lc.partial_mantel_test(gaps**2, root, gaps)
    with pytest.raises(ValueError, match="same shape"):
        lc.partial_mantel_test(a, a, lc.depth_gaps(5))
    with pytest.raises(ValueError, match="b is constant off the diagonal"):
        lc.mantel_test(a, np.ones((10, 10)))


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
    table = lc.principal_component_sensitivity(cloud, [0, 1, 2], metrics=("bottleneck",), end="top",
                                               progress=False)
    assert table["components removed"].tolist() == [0, 1, 2] and set(table["end"]) == {"top"}
    assert table["bottleneck"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert table["1 - CKA"].iloc[0] == pytest.approx(0.0, abs=1e-6)
    # removing the circle's plane destroys its long H1 bar (about 2.5 long): the distance jumps
    assert table["bottleneck"].iloc[2] > 1.0
    assert table["variance removed"].iloc[2] > 0.95
    assert table["1 - CKA"].is_monotonic_increasing
    # removing the four directions of noise keeps the circle
    bottom = lc.principal_component_sensitivity(cloud, [4], metrics=("bottleneck",), progress=False)
    assert bottom["bottleneck"].iloc[0] < 0.5 and bottom["variance removed"].iloc[0] < 0.01


def test_probe_accuracy_of_separable_and_of_unrelated_labels():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    separable = np.c_[labels * 4.0 + rng.normal(0, 0.5, 100), rng.normal(size=100)]
    assert lc.probe_accuracy(separable, labels) == 1.0
    assert lc.probe_accuracy(rng.normal(size=(100, 2)), labels) < 0.7
    with pytest.raises(ValueError, match=r"\(N, D\) cloud and \(N,\) labels, got shapes \(100, 2\) and \(99,\)"):
        lc.probe_accuracy(separable, labels[:99])


def test_removing_a_low_variance_direction_blinds_a_probe_while_cka_barely_moves():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    # three directions of large variance carry nothing; the class sits on the one of least variance
    coordinates = np.c_[rng.normal(0, [10.0, 6.0, 4.0], (200, 3)), 2.0 * labels - 1 + rng.normal(0, 0.1, 200)]
    cloud = coordinates @ ortho_group.rvs(4, random_state=0)
    table = lc.principal_component_sensitivity(cloud, [0, 1], labels=labels, progress=False)
    assert list(table.columns) == ["components removed", "end", "sliced_wasserstein", "wasserstein", "bottleneck",
                                   "1 - CKA", "variance removed", "probe accuracy", "probe drop"]
    assert np.allclose(table.loc[0, ["sliced_wasserstein", "wasserstein", "bottleneck", "probe drop"]], 0, atol=1e-12)
    assert table.loc[0, "probe accuracy"] > 0.95
    assert table.loc[1, "probe accuracy"] < 0.7 and table.loc[1, "probe drop"] > 0.3
    assert table.loc[1, "1 - CKA"] < 1e-3 and table.loc[1, "variance removed"] < 0.01
    # the accuracy of the whole cloud is the reference even when k = 0 is not asked for
    alone = lc.principal_component_sensitivity(cloud, [1], labels=labels, metrics=(), progress=False)
    assert alone.loc[0, "probe drop"] == pytest.approx(table.loc[1, "probe drop"])


def test_many_sensitivity_tables_are_the_same_in_worker_processes_and_here():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 40)
    requests = [{"points": rng.normal(size=(80, 5)) + labels[:, None] * shift, "removed": [0, 2], "labels": labels,
                 "probe_folds": 2, "metrics": metrics}
                for shift, metrics in ((0.5, ("sliced_wasserstein",)), (2.0, ("bottleneck", "wasserstein")))]
    here = lc.principal_component_sensitivities(requests, progress=False)
    workers = lc.principal_component_sensitivities(requests, n_jobs=2, progress=False)
    for request, table, other in zip(requests, here, workers):
        pd.testing.assert_frame_equal(table, other)
        pd.testing.assert_frame_equal(table, lc.principal_component_sensitivity(**request, progress=False))
    assert list(workers[1].columns[2:4]) == ["bottleneck", "wasserstein"]
    with pytest.raises(ValueError, match="n_jobs=0: expected an integer of at least 1"):
        lc.principal_component_sensitivities(requests, n_jobs=0)


def test_matching_share_of_a_network_averages_its_partners():
    identity = 1.0 - np.eye(3)
    shifted = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])  # every layer matched one off
    table = lc.matching_test([identity, shifted, identity], ["a", "a", "b"], n_permutations=9)
    assert dict(zip(table["network"], table["share"])) == {"a": 0.5, "b": 1.0}
    assert lc.matching_test([shifted], ["a"], tolerance=1, n_permutations=9)["share"].iloc[0] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 matrices and 1 names"):
        lc.matching_test([identity, identity], ["a"])



def test_matching_test_counts_the_relabellings_that_match_as_well():
    gaps = lc.depth_gaps(6)  # every layer's nearest partner layer is the one at its own depth
    table = lc.matching_test([gaps], ["a"], n_permutations=999)
    row = table.iloc[0]
    assert list(table.columns) == ["network", "share", "null mean", "p-value", "relabellings", "exact"]
    assert row["share"] == 1.0 and row["exact"] and row["relabellings"] == 720
    assert row["p-value"] == pytest.approx(1 / 720)  # only the identity keeps every layer at its depth
    assert row["null mean"] == pytest.approx(1 / 6)  # a relabelled nearest layer is at any depth equally often
    # within one layer: the orders moving no layer by more than one place, Fibonacci's F(7) = 13 of them
    loose = lc.matching_test([gaps], ["a"], tolerance=1, n_permutations=999).iloc[0]
    brute = np.mean([matching_share(gaps[:, list(o)], 1) >= 1.0 for o in itertools.permutations(range(6))])
    assert loose["p-value"] == pytest.approx(brute) == pytest.approx(13 / 720)


def test_matching_test_of_matrices_unrelated_to_depth_is_not_significant():
    rng = np.random.default_rng(0)
    hub = np.ones((8, 8))
    hub[:, 5] = 0.0  # one layer of the partner is the nearest to every layer: one row matches, however relabelled
    matrices = [rng.random((8, 8)), rng.random((8, 8)), hub]
    table = lc.matching_test(matrices, ["random", "random", "hub"], n_permutations=499)
    assert table["network"].tolist() == ["random", "hub"]
    assert not table["exact"].any() and (table["relabellings"] == 500).all()  # 8! = 40320 > 499
    assert table["share"].tolist() == [np.mean([matching_share(m) for m in matrices[:2]]), matching_share(hub)]
    assert table["p-value"].iloc[0] > 0.3
    assert table["share"].iloc[1] == table["null mean"].iloc[1] == 1 / 8 and table["p-value"].iloc[1] == 1.0
    with pytest.raises(ValueError, match="2 matrices and 1 names"):
        lc.matching_test(matrices[:2], ["a"])


def _steps(layers: dict[str, list[float]], column: str = "bottleneck") -> pd.DataFrame:
    """A sensitivity table: per layer, k = 0, 1, 2, ... components removed and the values."""
    return pd.concat([pd.DataFrame({"layer": name, "components removed": range(len(values)), column: values})
                      for name, values in layers.items()], ignore_index=True)


def test_sensitivity_effect_pools_the_correlation_within_each_layer():
    # rising within each layer, but on scales so different that pooled rows would not be monotone
    table = _steps({"conv1": [0, 0.1, 0.2, 0.3, 0.4], "conv2": [0, 5, 6, 7, 8]})
    effect = lc.sensitivity_effect(table, "bottleneck")
    assert effect.estimate == pytest.approx(1.0) and effect.n == 8
    assert effect.low == pytest.approx(1.0) and effect.high == pytest.approx(1.0)
    # 4! x 4! = 576 relabellings, all enumerated: only "both unchanged" and "both reversed" reach |rho| = 1
    assert effect.pvalue == pytest.approx(2 / 576) and "exact, 576 relabellings" in effect.method
    assert effect.df == math.inf and "'layer' groups" in effect.method
    pooled = stats.spearmanr(table["components removed"][table["components removed"] > 0],
                             table["bottleneck"][table["components removed"] > 0]).statistic
    assert pooled < 0.9


def test_sensitivity_effect_of_noise_is_near_zero():
    rng = np.random.default_rng(0)
    table = _steps({f"layer{i}": [0, *rng.random(6)] for i in range(4)}, "1 - CKA")
    effect = lc.sensitivity_effect(table, "1 - CKA", n_permutations=999)
    assert abs(effect.estimate) < 0.3 and effect.pvalue > 0.05 and effect.low < 0 < effect.high
    assert effect.n == 24 and effect.se > 0 and effect.detectable == pytest.approx(2.80 * effect.se, rel=1e-3)
    assert "1000 relabellings" in effect.method and "exact" not in effect.method
    single = lc.sensitivity_effect(table[table["layer"] == "layer0"], "1 - CKA", by=None)
    used = table[(table["layer"] == "layer0") & (table["components removed"] > 0)]
    assert single.estimate == pytest.approx(stats.spearmanr(used["components removed"], used["1 - CKA"]).statistic)
    assert np.isnan(single.detectable)  # 6 rows are too few for a bootstrap to measure precision


def test_sensitivity_effect_against_the_probe_drop_and_undefined_cases():
    table = _steps({"conv1": [0, 0.1, 0.3, 0.2], "conv2": [0, 0.2, 0.4, 0.6]}).assign(
        **{"probe drop": [0, 0.05, 0.2, 0.1, 0, 0.1, 0.2, 0.3]})
    effect = lc.sensitivity_effect(table, "bottleneck", against="probe drop")
    assert effect.estimate == pytest.approx(1.0) and effect.n == 6 and "exact, 36 relabellings" in effect.method
    assert effect.pvalue == pytest.approx(2 / 36)
    too_short = lc.sensitivity_effect(table[table["components removed"] < 3], "bottleneck")
    assert np.isnan(too_short.estimate) and "conv1: 2 rows" in too_short.method
    flat = lc.sensitivity_effect(table.assign(bottleneck=1.0), "bottleneck")
    assert np.isnan(flat.pvalue) and "1 distinct 'bottleneck'" in flat.method
    with pytest.raises(ValueError, match=r"no columns \['persistence distance'\]"):
        lc.sensitivity_effect(table, "persistence distance")


def test_sensitivity_effect_has_no_interval_when_most_resamples_of_three_rows_are_constant():
    # three rows per layer, two of them tied: a resample of a layer is constant a third of the time
    table = pd.DataFrame({"components removed": [1, 2, 3] * 4, "distance": [0.1, 0.1, 0.3] * 4,
                          "layer": np.repeat(list("abcd"), 3)})
    effect = lc.sensitivity_effect(table, "distance", n_permutations=99)
    assert effect.estimate == pytest.approx(np.sqrt(3) / 2) and np.isnan(effect.low) and np.isnan(effect.high)
    assert "undefined on" in effect.method
