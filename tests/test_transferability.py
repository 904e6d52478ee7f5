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
