import numpy as np
import pytest

from helpers import decay


def test_decay_score_sign_follows_the_curve():
    layers = np.arange(1, 11)
    assert decay.decay_score(np.exp(-0.4 * layers)) < 0 < decay.decay_score(np.exp(0.1 * layers))
    assert decay.decay_score(np.full(10, 3.0)) == pytest.approx(0.0, abs=1e-6)
    # scale-free: the curve is normalised first
    assert decay.decay_score(7 * np.exp(-0.4 * layers)) == pytest.approx(decay.decay_score(np.exp(-0.4 * layers)))
    with pytest.raises(ValueError, match="at least 4 layers"):
        decay.decay_score(np.ones(1))


def test_decay_score_of_a_cubic_is_its_weighted_coefficients():
    x = np.arange(1, 9, dtype=float)
    curve = 50 + 2 * x - 0.3 * x**2 + 0.01 * x**3
    y_norm = np.linalg.norm(curve)
    expected = (2 + 0.5 * -0.3 + 0.5 * 0.01) / y_norm
    # ridge (alpha 1e-3) shrinks the coefficients slightly: agreement to 1%
    assert decay.decay_score(curve) == pytest.approx(expected, rel=1e-2)


def test_complexity_averages_classes_then_images():
    values = np.zeros((2, 3, 2, 3))
    values[0, :, 0] = [1, 1, 1]  # class 0: complexity 3 at layer 0
    values[1, 0, 0] = [6, 0, 0]  # class 1: one image of 6, two of 0 -> 2
    assert decay.complexity_by_layer(values).tolist() == [2.5, 0.0]
    flat, labels = values.reshape(6, 2, 3), np.repeat([0, 1], 3)
    assert decay.complexity_by_layer(flat, labels).tolist() == [2.5, 0.0]
    assert decay.by_class(flat, labels).shape == (2, 3, 2, 3)
    with pytest.raises(ValueError, match="unequal"):
        decay.by_class(flat[:5], labels[:5])


def test_subsampled_thetas_vary_around_the_full_theta():
    rng = np.random.default_rng(0)
    values = rng.poisson(np.linspace(40, 5, 6)[None, None, :, None], size=(3, 40, 6, 3))
    thetas = decay.subsample_thetas(values, 0.5, 20, seed=1)
    full = decay.decay_score(decay.complexity_by_layer(values))
    assert thetas.shape == (20,) and np.all(thetas < 0)
    assert abs(thetas.mean() - full) < 3 * thetas.std() + 1e-9


def test_decay_tau_of_a_falling_curve_is_minus_one():
    tau, pvalue = decay.decay_tau(np.array([9.0, 7, 4, 2, 1]))
    assert tau == pytest.approx(-1.0) and pvalue < 0.05


def test_decay_taus_of_falling_and_rising_curves():
    falling = [np.array([5.0, 4, 3, 2, 1]) + i for i in range(3)]
    assert decay.decay_taus(falling + [np.array([1.0, 2, 3])]).tolist() == pytest.approx([-1, -1, -1, 1])
    with pytest.raises(ValueError, match=r"curves \[1\] are constant"):
        decay.decay_taus([np.array([3.0, 2, 1]), np.ones(4)])


def test_theta_refuses_curves_shorter_than_a_cubic_needs():
    with pytest.raises(ValueError, match="at least 4 layers"):
        decay.decay_score(np.array([3.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="at least 6 layers"):
        decay.decay_score(np.arange(5.0), degree=5, weights=(1,) * 5)
    with pytest.raises(ValueError, match="one weight per coefficient"):
        decay.decay_score(np.arange(6.0), degree=2, weights=(1.0, 0.5, 0.5))
    with pytest.raises(ValueError, match="unknown layer scale"):
        decay.decay_score(np.arange(6.0), layer_scale="log")


def test_a_falling_curve_can_have_a_positive_theta():
    # falls at every layer (tau -1 against depth), faster late than early: the fitted cubic's
    # coefficients, weighted as P4 does, give theta > 0 -- why the decay tau is reported beside theta
    curve = np.array([9.35, 8.81, 7.95, 6.9, 5.67, 2.74, 2.59, 1.12])
    assert decay.decay_tau(curve)[0] == pytest.approx(-1.0)
    assert decay.decay_score(curve) > 0


def test_relative_layer_scale_changes_theta_but_not_its_sign_for_a_line():
    line = np.linspace(10, 1, 8)
    index, relative = decay.decay_score(line, degree=1, weights=(1.0,)), \
        decay.decay_score(line, degree=1, weights=(1.0,), layer_scale="relative")
    assert index < 0 and relative < 0
    assert relative == pytest.approx(index * 7, rel=1e-2)  # x spans 7 units on the index scale, 1 on the relative


def test_specification_panel_computes_each_choice():
    rng = np.random.default_rng(0)
    mean_betti = {"a": rng.uniform(1, 20, (8, 3)), "b": rng.uniform(1, 20, (5, 3))}
    voxels = {"a": np.arange(8, 0, -1) * 100, "b": np.arange(5, 0, -1) * 100}
    panel = decay.specification_thetas(mean_betti, voxels)
    assert panel.shape == (len(decay.SPECIFICATIONS), 2)
    names = [s.name for s in decay.SPECIFICATIONS]
    p4 = panel[0]
    assert p4[0] == pytest.approx(decay.decay_score(mean_betti["a"].sum(1)))
    b1 = panel[names.index("b1 only")]
    assert b1[1] == pytest.approx(decay.decay_score(mean_betti["b"][:, 1]))
    dropped = panel[names.index("first layer dropped")]
    assert dropped[0] == pytest.approx(decay.decay_score(mean_betti["a"][1:].sum(1)))
    # model b keeps 4 layers when one is dropped: theta still defined
    assert np.isfinite(dropped[1])
    per_voxel = panel[names.index("Betti numbers per voxel")]
    assert per_voxel[0] == pytest.approx(decay.decay_score((mean_betti["a"] / voxels["a"][:, None]).sum(1)))
    assert np.all(np.isnan(decay.specification_thetas(mean_betti)[names.index("Betti numbers per voxel")]))
    short = decay.specification_theta(rng.uniform(1, 5, (4, 3)), decay.SPECIFICATIONS[names.index("last layer dropped")])
    assert np.isnan(short)
