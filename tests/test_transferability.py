import numpy as np
import pytest
from scipy import optimize, stats

from helpers import claims as c
from helpers import transferability as tr


def test_leep_of_a_perfect_and_of_an_uninformative_source():
    assert tr.leep(np.eye(2)[[0, 1, 1]], np.array([0, 1, 1])) == pytest.approx(0.0)
    uniform = np.full((3, 2), 0.5)
    expected = (2 * np.log(2 / 3) + np.log(1 / 3)) / 3
    assert tr.leep(uniform, np.array([0, 0, 1])) == pytest.approx(expected)


def test_leep_hand_computed_case():
    theta = np.array([[0.8, 0.2], [0.4, 0.6]])
    labels = np.array([0, 1])
    joint = np.array([[0.4, 0.1], [0.2, 0.3]])  # P(y, z)
    conditional = joint / joint.sum(0)
    expected = np.mean([np.log(theta[0] @ conditional[0]), np.log(theta[1] @ conditional[1])])
    assert tr.leep(theta, labels) == pytest.approx(expected)
    with pytest.raises(ValueError, match="probabilities"):
        tr.leep(np.array([[0.8, 0.8], [0.4, 0.6]]), labels)


def direct_log_evidence(features, target, alpha, beta):
    """log N(target; 0, I / beta + F F^T / alpha) per sample: the evidence without LogME's algebra."""
    covariance = np.eye(len(target)) / beta + features @ features.T / alpha
    return stats.multivariate_normal(np.zeros(len(target)), covariance).logpdf(target) / len(target)


def test_log_evidence_matches_the_gaussian_marginal_likelihood():
    rng = np.random.default_rng(0)
    features, target = rng.normal(size=(12, 3)), rng.normal(size=12)
    for alpha, beta in [(1.0, 1.0), (0.3, 5.0)]:
        assert tr.log_evidence(features, target, alpha, beta) == pytest.approx(
            direct_log_evidence(features, target, alpha, beta))


def test_logme_is_the_maximised_evidence():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 4))
    labels = (features[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(int)
    best = []
    for c in (0, 1):
        column = (labels == c).astype(float)
        result = optimize.minimize(lambda p: -direct_log_evidence(features, column, *np.exp(p)), [0.0, 0.0],
                                   method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
        best.append(-result.fun)
    assert tr.logme(features, labels) == pytest.approx(np.mean(best), abs=1e-4)


def test_logme_prefers_informative_features():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], 30)
    informative = np.eye(3)[labels] + 0.1 * rng.normal(size=(90, 3))
    assert tr.logme(informative, labels) > tr.logme(rng.normal(size=(90, 3)), labels)


def test_h_score_of_a_label_feature_and_symmetric_noise_is_one():
    labels = np.array([0, 0, 1, 1])
    features = np.c_[labels, [1, -1, 1, -1]].astype(float)
    assert tr.h_score(features, labels) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        tr.h_score(features[:, 0], labels)


def test_rank_correlations_and_bootstrap_favour_the_right_score():
    accuracy = np.arange(8.0)
    scores = {"good": accuracy + np.array([0, 0.1, 0, 0.1, 0, 0.1, 0, 0.1]),
              "bad": np.array([3.0, 1, 7, 0, 5, 2, 6, 4])}
    table = tr.rank_correlations(scores, accuracy)
    assert table.loc["good", "kendall_tau"] == pytest.approx(1.0)
    assert table.loc["bad", "kendall_tau"] < 0.5
    advantage = tr.tau_advantage(scores, accuracy, "good", "bad", n_boot=200)
    assert advantage.estimate > 0 and advantage.low > 0
    tied = tr.tau_advantage(scores, accuracy, "good", "good", n_boot=200)
    assert tied.estimate == tied.low == tied.high == 0  # ties are no advantage either way
    with pytest.raises(ValueError, match="'other'"):
        tr.tau_advantage(scores, accuracy, "other", "good")


def test_ranking_agreement_is_zero_for_the_same_ranking_and_minus_two_for_the_reverse():
    reference = np.arange(12.0)
    same = tr.ranking_agreement(reference, [2 * reference + 1, reference], n_boot=200)
    assert (same.estimate, same.low, same.high) == pytest.approx((0, 0, 0), abs=1e-12)
    assert c.judge(same, margin=0.4) == c.REPRODUCED
    reverse = tr.ranking_agreement(reference, [-reference], n_boot=200)
    assert reverse.estimate == pytest.approx(-2.0) and c.judge(reverse, margin=0.4) == c.NOT_REPRODUCED
    shuffled = np.array([3.0, 1, 7, 0, 5, 2, 6, 4, 11, 9, 8, 10])
    partial = tr.ranking_agreement(reference, [shuffled, reference], n_boot=200)
    assert partial.estimate == pytest.approx((stats.kendalltau(shuffled, reference).statistic + 1) / 2 - 1)
    with pytest.raises(ValueError, match="at least one ranking"):
        tr.ranking_agreement(reference, [])


# Golden values: the scores of the published reference code on the inputs below, computed once
# outside the project (the reference code is not part of it) and recorded to full precision.
# References: thuml/LogME at commit 56551ca94a3295bcc37e6a01b1291911af985f07 (LogME.py, LEEP.py;
# numba 0.68.1, numpy 2.4.6) and YaojieBao/An-Information-theoretic-Metric-of-Transferability at
# commit 9a3f2d3f2511b6825a9d18c5fd7becbb06cae0b1 (getCov / getHscore in README.md, the same code
# as 3D_scene_understanding/H-score_1st_order.py's getDiffNN).


def golden_inputs():
    """Features (60, 8) with 3 classes of 20 and class-dependent means; wide features (30, 50)
    with 3 classes of 10 (more features than images); source probabilities (60, 5), a softmax of
    logits that favour source class 2 * y for target class y."""
    rng = np.random.default_rng(15)
    labels = np.repeat([0, 1, 2], 20)
    features = rng.normal(size=(60, 8)) + 1.5 * rng.normal(size=(3, 8))[labels]
    few_labels = np.repeat([0, 1, 2], 10)
    wide = rng.normal(size=(30, 50)) + 0.5 * rng.normal(size=(3, 50))[few_labels]
    logits = rng.normal(size=(60, 5)) + 2.0 * np.eye(5)[[0, 2, 4]][labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return features, labels, wide, few_labels, probabilities


def test_leep_equals_the_reference_implementation():
    _, labels, _, _, probabilities = golden_inputs()
    # thuml/LogME @56551ca, LEEP.py: LEEP(probabilities, labels)
    reference = -0.6530227218848219
    assert tr.leep(probabilities, labels) == pytest.approx(reference, abs=1e-9)


def test_logme_equals_the_reference_implementation_when_images_outnumber_features():
    features, labels, _, _, _ = golden_inputs()
    # thuml/LogME @56551ca, LogME.py: LogME(regression=False).fit(features, labels), which is
    # _fit_fixed_point (stops once alpha / beta changes by <= 1e-3, at most 11 steps)
    fixed_point = -0.05740555204532399
    # the same, calling LogME._fit_icml (the ICML 2021 iteration: stops at a 1% change of alpha / beta)
    icml = -0.05742083693432317
    score = tr.logme(features, labels)
    # Both references stop the iteration earlier than the project does (relative change 1e-6), so
    # they end slightly below the maximum of the evidence: the project's score is at least theirs,
    # within 1e-7 of the fixed-point reference (observed 1.7e-9) and 1e-4 of the ICML one (1.5e-5).
    assert score == pytest.approx(fixed_point, abs=1e-7)
    assert score == pytest.approx(icml, abs=1e-4)
    assert score >= fixed_point - 1e-12 and score >= icml


def test_logme_when_features_outnumber_images_is_the_maximised_evidence_not_the_reference_value():
    _, _, wide, few_labels, _ = golden_inputs()
    n, d = wide.shape
    score = tr.logme(wide, few_labels)
    # Direct maximisation of the evidence, independent of LogME's algebra: scipy Nelder-Mead over
    # log(alpha), log(beta) of stats.multivariate_normal(0, I / beta + F F^T / alpha).logpdf(y) / n
    # for each class column (xatol 1e-10, fatol 1e-13), averaged over the classes.
    maximum = -0.5380858695627742
    assert score == pytest.approx(maximum, abs=1e-9)
    # thuml/LogME @56551ca, LogME.py: LogME(regression=False).fit(wide, few_labels)
    # (_fit_fixed_point), and the per-class alpha and beta it stores in .alphas / .betas.
    fixed_point = 1.353391727889748
    alphas = np.array([309.52019658424234, 257.2496633324993, 312.08676625066335])
    betas = np.array([13.793451622866547, 75.65149601267191, 55.304157925178714])
    # _fit_fixed_point sums log(alpha + beta * s^2) over the min(n, d) singular values only, but keeps
    # d / 2 log(alpha): the d - n zero eigenvalues of F^T F each lack their -log(alpha) / 2, so its
    # value is too high by (d - n) / (2 n) mean_c log(alpha_c) (1.89 here; 0 when n >= d).
    corrected = fixed_point - (d - n) / (2 * n) * np.mean(np.log(alphas))
    # Its iteration also stops at a 1e-3 relative change and evaluates the evidence with the data
    # terms of the previous step, so even corrected it is below the maximum (by 5.6e-4 here).
    assert score == pytest.approx(corrected, abs=1e-3) and score > corrected
    # The exact evidence at the reference's own (alpha, beta) is lower than the project's score:
    # the project's maximum is the more accurate one.
    at_reference = np.mean([tr.log_evidence(wide, (few_labels == k).astype(float), a, b)
                            for k, (a, b) in enumerate(zip(alphas, betas))])
    assert at_reference == pytest.approx(-0.5385104141969853, abs=1e-9)  # direct_log_evidence at them
    assert score > at_reference + 1e-4
    # thuml/LogME @56551ca, LogME.py: LogME._fit_icml (eigenvalues of the d x d F^T F, so no missing
    # term, but a 1% stopping rule): below the maximum by 6.2e-4.
    icml = -0.5387042121641511
    assert score == pytest.approx(icml, abs=1e-3) and score > icml


def test_h_score_equals_the_reference_implementation():
    features, labels, wide, few_labels, _ = golden_inputs()
    # YaojieBao/An-Information-theoretic-Metric-of-Transferability @9a3f2d3, README.md:
    # getHscore(features, labels). Its covariances divide by n - 1 and the project's by n; the
    # factor cancels in tr(cov(f)^+ cov(E[f | y])). Its pinv cut-off (rcond 1e-15) and numpy's
    # default in the project both lie far from the covariance's singular values here.
    assert tr.h_score(features, labels) == pytest.approx(1.7228515956807084, rel=1e-9)
    # getHscore(wide, few_labels): with d >= n - 1 the pseudo-inverse whitens the whole span of the
    # centred features, so H-score is the rank of the between-class covariance, classes - 1 = 2,
    # whatever the features (reference 2.0000000000000004).
    assert tr.h_score(wide, few_labels) == pytest.approx(2.0000000000000004, abs=1e-9)
    assert tr.h_score(wide, np.random.default_rng(0).permutation(few_labels)) == pytest.approx(2.0, abs=1e-9)
