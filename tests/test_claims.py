import json

import numpy as np
import pytest

from helpers import claims as c


def test_paired_comparison_of_known_samples():
    a = np.array([0.80, 0.82, 0.84, 0.86, 0.88])
    comparison = c.paired_comparison(a, a - np.array([0.01, 0.02, 0.01, 0.02, 0.015]))
    assert comparison.mean_difference == pytest.approx(0.015)
    assert comparison.n_pairs == 5
    assert comparison.t_pvalue < 0.01
    assert "+1.50 pp" in comparison.describe()


def test_verdicts_follow_the_numbers():
    better = c.paired_comparison(np.array([0.9, 0.91, 0.92, 0.93]), np.array([0.8, 0.82, 0.81, 0.8]))
    worse = c.paired_comparison(np.array([0.8, 0.82, 0.81, 0.8]), np.array([0.9, 0.91, 0.92, 0.93]))
    noisy = c.paired_comparison(np.array([0.9, 0.7, 0.9, 0.7]), np.array([0.8, 0.8, 0.8, 0.79]))
    assert c.verdict_greater(better) == c.REPRODUCED
    assert c.verdict_greater(worse) == c.NOT_REPRODUCED
    assert c.verdict_greater(noisy) == c.INCONCLUSIVE
    assert c.verdict_at_least(better) == c.REPRODUCED
    assert c.verdict_at_least(worse) == c.NOT_REPRODUCED


def test_identical_samples_are_not_a_difference():
    same = c.paired_comparison(np.ones(3), np.ones(3))
    assert same.mean_difference == 0 and same.t_pvalue == 1.0
    assert c.verdict_at_least(same) == c.REPRODUCED
    assert c.verdict_greater(same) == c.NOT_REPRODUCED


def test_claims_are_saved_where_the_runner_collects_them(tmp_path, monkeypatch):
    monkeypatch.setenv(c.RUN_DIR_ENV, str(tmp_path))
    book = c.ClaimBook("01_demo")
    book.add("x > y", "1 vs 0", "2 vs 1", c.REPRODUCED)
    book.add("x > y", "1 vs 0", "0 vs 1", c.NOT_REPRODUCED)  # a re-run replaces, never duplicates
    path = book.save()
    assert path == tmp_path / "claims" / "01_demo.json"
    assert len(json.loads(path.read_text())) == 1
    assert c.load_claims(tmp_path)[0].verdict == c.NOT_REPRODUCED


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="'maybe'"):
        c.Claim("01", "n", "p", "o", "maybe")
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        c.paired_comparison(np.ones(3), np.ones(2))


def test_gain_that_shrinks_with_data():
    big_gain = c.paired_comparison(np.array([0.80, 0.82, 0.81, 0.83]), np.array([0.70, 0.71, 0.70, 0.72]))
    small_gain = c.paired_comparison(np.array([0.95, 0.96, 0.95, 0.96]), np.array([0.95, 0.95, 0.94, 0.96]))
    assert c.verdict_gain_shrinks(big_gain, small_gain) == c.REPRODUCED
    assert c.verdict_gain_shrinks(small_gain, big_gain) == c.NOT_REPRODUCED


def test_a_claim_of_several_parts_needs_every_part():
    assert c.verdict_all([c.REPRODUCED, c.REPRODUCED]) == c.REPRODUCED
    assert c.verdict_all([c.REPRODUCED, c.INCONCLUSIVE]) == c.INCONCLUSIVE
    assert c.verdict_all([c.INCONCLUSIVE, c.NOT_REPRODUCED]) == c.NOT_REPRODUCED
    with pytest.raises(ValueError):
        c.verdict_all([])


def test_verdict_sign_needs_the_right_sign_and_significance():
    assert c.verdict_sign(-0.8, 0.001, expected_sign=-1) == c.REPRODUCED
    assert c.verdict_sign(-0.3, 0.2, expected_sign=-1) == c.INCONCLUSIVE
    assert c.verdict_sign(0.3, 0.001, expected_sign=-1) == c.NOT_REPRODUCED
    assert c.verdict_sign(0.0, 1.0, expected_sign=1) == c.NOT_REPRODUCED
    with pytest.raises(ValueError, match="expected_sign"):
        c.verdict_sign(0.5, 0.01, expected_sign=0)


def test_verdict_probability_has_a_grey_zone():
    assert c.verdict_probability(0.97) == c.REPRODUCED
    assert c.verdict_probability(0.5) == c.INCONCLUSIVE
    assert c.verdict_probability(0.02) == c.NOT_REPRODUCED
    with pytest.raises(ValueError):
        c.verdict_probability(1.5)


def test_verdict_agreement_thresholds_kendall_tau():
    assert c.verdict_agreement(0.9) == c.REPRODUCED
    assert c.verdict_agreement(0.4) == c.INCONCLUSIVE
    assert c.verdict_agreement(-0.1) == c.NOT_REPRODUCED
    with pytest.raises(ValueError):
        c.verdict_agreement(0.5, high=0.2, low=0.6)


def test_verdict_earlier():
    assert c.verdict_earlier([1, 2, 0], [3, 4, 1], never=8) == c.REPRODUCED
    assert c.verdict_earlier([3, 8], [3, 2], never=8) == c.NOT_REPRODUCED
    assert c.verdict_earlier([1, 5], [3, 2], never=8) == c.INCONCLUSIVE
    assert c.verdict_earlier([8, 8], [8, 8], never=8) == c.INCONCLUSIVE
    with pytest.raises(ValueError, match="one pair"):
        c.verdict_earlier([1], [1, 2], never=8)


def test_verdict_sign_of_a_correlation():
    assert c.verdict_sign(0.6, 0.001) == c.REPRODUCED
    assert c.verdict_sign(0.2, 0.3) == c.INCONCLUSIVE
    assert c.verdict_sign(-0.4, 0.99) == c.NOT_REPRODUCED
    assert c.verdict_sign(float("nan"), 1.0) == c.INCONCLUSIVE


def test_verdict_above_chance():
    assert c.verdict_above_chance(18, 20, 0.1) == c.REPRODUCED
    assert c.verdict_above_chance(1, 20, 0.1) == c.NOT_REPRODUCED
    assert c.verdict_above_chance(4, 20, 0.1) == c.INCONCLUSIVE  # binomial p = 0.13
    with pytest.raises(ValueError, match="trials >= 1"):
        c.verdict_above_chance(3, 2, 0.1)


def test_verdict_sign_of_a_difference():
    assert c.verdict_sign(0.02, 0.001) == c.REPRODUCED
    assert c.verdict_sign(0.02, 0.2) == c.INCONCLUSIVE
    assert c.verdict_sign(0.02, float("nan")) == c.INCONCLUSIVE
    assert c.verdict_sign(-0.01, 0.001) == c.NOT_REPRODUCED
