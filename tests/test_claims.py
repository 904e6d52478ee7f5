import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from helpers import claims as c


def test_paired_effect_matches_scipys_paired_t():
    a = np.array([0.80, 0.82, 0.84, 0.86, 0.88])
    b = a - np.array([0.01, 0.02, 0.01, 0.02, 0.015])
    effect = c.paired_effect(a, b, scale=100, unit=" pp")
    reference = stats.ttest_rel(a, b)
    interval = reference.confidence_interval(0.95)
    assert effect.estimate == pytest.approx(0.015)
    assert (effect.low, effect.high) == pytest.approx((interval.low, interval.high))
    assert effect.pvalue == pytest.approx(reference.pvalue)
    assert effect.n == 5 and effect.describe().startswith("+1.50 [+") and "] pp (n=5, paired t)" in effect.describe()


def test_detectable_effect_has_the_stated_power():
    """Simulated paired t-tests at the detectable effect reject about 80% of the time."""
    rng = np.random.default_rng(0)
    spread, n = 1.0, 8
    effect = c.paired_effect(rng.normal(0, spread, n), np.zeros(n))
    true = c._detectable(spread / math.sqrt(n), n - 1)
    rejections = np.mean([stats.ttest_1samp(rng.normal(true, spread, n), 0).pvalue < 0.05 for _ in range(4000)])
    assert 0.75 < rejections < 0.85
    assert effect.detectable > 0


def test_models_at_chance_are_not_at_least_as_good():
    """Two models at chance, 2 seeds: the old rule called 'a >= b' reproduced."""
    tied = c.paired_effect(np.array([0.100, 0.110]), np.array([0.110, 0.100]))
    assert c.judge(tied, margin=0.02) == c.INCONCLUSIVE
    # identical constant predictions give a zero-width interval: the claim needs the validity check
    book = c.ClaimBook("01_demo")
    claim = book.add("a >= b", "x", c.paired_effect(np.full(2, 0.105), np.full(2, 0.105)), margin=0.02,
                     invalid="both models at the majority-class rate")
    assert claim.verdict == c.INCONCLUSIVE and "majority" in claim.untestable
    # a zero-spread sample measures no precision: no detectable effect, no verdict either way
    constant = c.paired_effect(np.full(3, 0.2), np.full(3, 0.1))
    assert np.isnan(constant.detectable) and c.judge(constant, smallest_effect=0.05) == c.INCONCLUSIVE
    few = c.correlation_effect(np.arange(3.0), np.arange(3.0))
    assert c.judge_parts({"a": few, "b": few}, smallest_effect=0.3) == (c.INCONCLUSIVE, "a")


def test_a_noisy_negative_difference_is_not_a_refutation():
    """-4.4 pp with p = 0.28 over 5 seeds: the interval still contains the paper's +3.7 pp."""
    rng = np.random.default_rng(1)
    diff = rng.normal(0, 1, 5)
    diff = (diff - diff.mean()) / diff.std(ddof=1)
    t = stats.t.isf(0.14, 4)
    diff = -0.044 + diff * 0.044 / t * math.sqrt(5)
    effect = c.paired_effect(diff, np.zeros(5))
    assert effect.pvalue == pytest.approx(0.28, abs=1e-6)
    assert c.judge(effect, smallest_effect=0.0369) == c.INCONCLUSIVE


def test_superiority_rules():
    better = c.paired_effect(np.array([0.9, 0.91, 0.92, 0.93]), np.array([0.8, 0.82, 0.81, 0.8]))
    worse = better.scaled(-1)
    noisy = c.paired_effect(np.array([0.9, 0.7, 0.9, 0.7]), np.array([0.8, 0.8, 0.8, 0.79]))
    tiny = c.paired_effect(np.array([0.801, 0.802, 0.801, 0.802]), np.array([0.80, 0.80, 0.80, 0.80]))
    assert c.judge(better, smallest_effect=0.03) == c.REPRODUCED
    assert c.judge(worse, smallest_effect=0.03) == c.NOT_REPRODUCED       # the opposite effect
    assert c.judge(worse, smallest_effect=0.03, direction=-1) == c.REPRODUCED
    assert c.judge(noisy, smallest_effect=0.03) == c.INCONCLUSIVE
    assert c.judge(tiny.scaled(-1), smallest_effect=0.03) == c.NOT_REPRODUCED  # excludes the effect of interest


def test_non_inferiority_rules():
    equal = c.paired_effect(np.array([0.90, 0.91, 0.92, 0.93]), np.array([0.905, 0.905, 0.925, 0.925]))
    much_worse = c.paired_effect(np.array([0.70, 0.72, 0.72, 0.73]), np.array([0.90, 0.91, 0.92, 0.93]))
    assert c.judge(equal, margin=0.02) == c.REPRODUCED
    assert c.judge(much_worse, margin=0.02) == c.NOT_REPRODUCED
    with pytest.raises(ValueError, match="either smallest_effect"):
        c.judge(equal, smallest_effect=0.01, margin=0.02)
    with pytest.raises(ValueError, match="positive"):
        c.judge(equal, smallest_effect=0.0)


def test_a_claim_of_several_parts_is_judged_jointly():
    rng = np.random.default_rng(2)
    base = rng.normal(0.2, 0.01, 30)
    clear = {f"t{i}": c.paired_effect(base + 0.05 + rng.normal(0, 0.01, 30), base) for i in range(6)}
    assert c.judge_parts(clear, smallest_effect=0.02)[0] == c.REPRODUCED
    # one noisy part with a negative estimate no longer refutes a claim of six parts
    noisy = dict(clear, t5=c.paired_effect(base - 0.004 + rng.normal(0, 0.05, 30), base))
    verdict, weakest = c.judge_parts(noisy, smallest_effect=0.02)
    assert (verdict, weakest) == (c.INCONCLUSIVE, "t5")
    # a part clearly below the effect of interest refutes it
    absent = dict(clear, t5=c.paired_effect(base + rng.normal(0, 0.001, 30), base))
    assert c.judge_parts(absent, smallest_effect=0.02)[0] == c.NOT_REPRODUCED
    with pytest.raises(ValueError, match="at least one part"):
        c.judge_parts({}, smallest_effect=0.02)


def test_a_part_judges_only_as_far_as_its_own_interval_reaches():
    # a rank correlation on ten networks: its standard error rules out rho <= -0.3 (claimed sign -),
    # its skewed bootstrap interval does not, so it refutes nothing
    skewed = c.Effect(0.44, -0.33, 0.88, 10, "Spearman, bootstrap interval", 0.25, math.inf, 0.80, 0.2)
    assert c._one_sided(skewed, -1, 0.3, above=False) < c.ALPHA / 4
    assert c.judge(skewed, smallest_effect=0.3, direction=-1) == c.INCONCLUSIVE
    assert c.judge_parts({"a": skewed, "b": skewed}, smallest_effect=0.3, direction=-1)[0] == c.INCONCLUSIVE
    beyond = replace(skewed, high=0.88, low=-0.2)
    assert c.judge_parts({"a": skewed, "b": beyond}, smallest_effect=0.3, direction=-1) == (c.NOT_REPRODUCED, "b")
    # and supports nothing when its interval reaches zero, whatever its standard error says
    positive = c.Effect(0.3, -0.01, 0.5, 10, "bootstrap", 0.05, math.inf, 0.2, 0.01)
    assert c.judge_parts({"a": positive, "b": replace(positive, low=0.1)}, smallest_effect=0.1)[0] == c.INCONCLUSIVE
    assert c.judge_parts({"a": replace(positive, low=0.1)}, smallest_effect=0.1)[0] == c.REPRODUCED


def test_holm_steps_down():
    assert c.holm_rejects([0.01, 0.02, 0.03], 0.05).tolist() == [True, True, True]
    assert c.holm_rejects([0.01, 0.04, 0.03], 0.05).tolist() == [True, False, False]
    assert c.holm_rejects([0.03, 0.5], 0.05).tolist() == [False, False]


def test_correlation_effect_has_permutation_p_and_detectable_size():
    x = np.arange(9.0)
    y = x + np.array([0, 1, -1, 0, 2, -2, 1, 0, -1]) * 0.4
    effect = c.correlation_effect(x, y, "kendall")
    assert effect.estimate == pytest.approx(stats.kendalltau(x, y).statistic)
    assert effect.pvalue < 0.01 and effect.low > 0
    assert c.detectable_correlation(7, "kendall") > 0.714 > c.detectable_correlation(30, "kendall")
    assert math.isnan(c.detectable_correlation(3, "spearman"))
    with pytest.raises(ValueError, match="unknown correlation 'tau'"):
        c.correlation_effect(x, y, "tau")


def test_null_effect_is_judged_against_the_null_spread():
    null = np.linspace(0.20, 0.30, 10)
    above = c.null_effect(0.5, null)
    assert above.estimate == pytest.approx(0.25) and above.low > 0
    assert c.judge(c.null_effect(0.26, null), smallest_effect=0.05) == c.INCONCLUSIVE
    with pytest.raises(ValueError, match="at least 2 pairs"):
        c.null_effect(0.5, np.array([0.2]))


def test_bad_inputs_name_the_sizes():
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        c.paired_effect(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="at least 2 pairs, got 1"):
        c.paired_effect(np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match=r"NaN .* positions \[1\]"):
        c.paired_effect(np.array([1.0, np.nan, 2.0]), np.ones(3))
    with pytest.raises(ValueError, match="'maybe'"):
        c.Claim("01", "n", "p", "o", "maybe")


def test_claims_are_saved_where_the_runner_collects_them(tmp_path, monkeypatch):
    monkeypatch.setenv(c.RUN_DIR_ENV, str(tmp_path))
    book = c.ClaimBook("01_demo")
    up = c.paired_effect(np.array([2.0, 2.1, 1.9]), np.array([1.0, 1.05, 0.95]))
    book.add("x > y", "1 vs 0", up, smallest_effect=0.5, control="untrained: +0.1")
    claim = book.add("x > y", "1 vs 0", up.scaled(-1), smallest_effect=0.5)  # a re-run replaces, never duplicates
    path = book.save()
    assert path == tmp_path / "claims" / "01_demo.json"
    assert len(json.loads(path.read_text())) == 1
    loaded = c.load_claims(tmp_path)[0]
    assert loaded == claim and loaded.verdict == c.NOT_REPRODUCED
    assert loaded.effect.startswith("-1.00 [") and loaded.n == 3 and loaded.smallest_effect == "+0.50"
    assert book.verdict("x > y") == c.NOT_REPRODUCED
    with pytest.raises(KeyError, match="no claim 'z'"):
        book.verdict("z")


def test_a_bootstrap_over_too_few_units_gives_no_verdict():
    rng = np.random.default_rng(3)
    few = c.bootstrap_effect(np.mean, (rng.normal(1.0, 0.1, 7),), n_resamples=200)
    many = c.bootstrap_effect(np.mean, (rng.normal(1.0, 0.1, 30),), n_resamples=200)
    assert few.low > 0 and np.isnan(few.detectable) and c.judge(few, smallest_effect=0.5) == c.INCONCLUSIVE
    assert many.detectable > 0 and c.judge(many, smallest_effect=0.5) == c.REPRODUCED


def test_trained_minus_control_pairs_by_position():
    trained, control = np.array([0.60, 0.70, 0.65]), np.array([0.40, 0.45, 0.50])
    effect, shown = c.trained_minus_control(trained, control)
    reference = stats.ttest_rel(trained, control).confidence_interval(0.95)
    assert effect.estimate == pytest.approx(0.2) and (effect.low, effect.high) == pytest.approx(
        (reference.low, reference.high))
    one_sample = stats.ttest_1samp(control, 0).confidence_interval(0.95)
    assert shown.estimate == pytest.approx(0.45) and shown.low == pytest.approx(one_sample.low)
    assert shown.method == "t over units"
    # the control's value does not enter the effect when both move together
    same, _ = c.trained_minus_control(control + 0.3, control)
    assert (same.low, same.high) == pytest.approx((0.3, 0.3))
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        c.trained_minus_control(trained, control[:2])


def test_vectorised_kendall_equals_scipy_with_ties():
    from scipy import stats

    rng = np.random.default_rng(4)
    x, y = rng.integers(0, 5, (50, 12)), rng.normal(size=(50, 12))
    y[:, :3] = y[:, [0]]  # ties on both sides
    expected = [stats.kendalltau(a, b).statistic for a, b in zip(x, y)]
    assert np.allclose(c.kendall_tau_b(x, y), expected)
    assert np.isnan(c.kendall_tau_b(np.ones(5), np.arange(5.0)))


def test_vectorised_bootstrap_draws_the_same_resamples():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=15), rng.normal(size=15)
    loop = c.bootstrap_effect(lambda a, b: float(c.kendall_tau_b(a, b)), (x, y), n_resamples=300, seed=2)
    batch = c.bootstrap_effect(c.kendall_tau_b, (x, y), n_resamples=300, seed=2, vectorised=True)
    assert (loop.estimate, loop.low, loop.high, loop.se) == pytest.approx((batch.estimate, batch.low, batch.high, batch.se))
