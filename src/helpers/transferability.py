"""Transferability scores: how well a pre-trained model should do on a target task, before
fine-tuning it. Three published scores, implemented from their papers:

* :func:`leep` -- LEEP (Nguyen, Hassner, Seeger & Archambeau, ICML 2020): from the source
  head's class probabilities on the target images;
* :func:`logme` -- LogME (You, Liu, Wang & Long, ICML 2021): the maximised log evidence of a
  Bayesian linear model from the features to each one-hot target column;
* :func:`h_score` -- H-score (Bao, Li, Huang, Zhang, Zheng, Zamir & Guibas, ICIP 2019): how much of the feature
  covariance the class-conditional means explain.

Higher is better for all three. ``features`` are ``(n, d)`` float arrays, ``labels`` ``(n,)``
integers of the target classes.

:func:`rank_correlations`, :func:`correlation_table` and :func:`tau_advantage` judge any such
scores against the accuracy the models actually reach: correlations over models (with intervals,
permutation p-values and the detectable tau), and a paired bootstrap over models of one score's
Kendall tau minus another's. :func:`family_baseline` is the model-free score that knows only each
model's architecture family. :func:`ranking_agreement` measures how well a score
ranks the same models again when it is recomputed differently (the invariance claims).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .claims import Effect, bootstrap_effect, correlation_effect, kendall_tau_b

LOGME_TOLERANCE = 1e-6
LOGME_MAX_ITERATIONS = 100


def _check(features: np.ndarray, labels: np.ndarray, what: str = "features") -> tuple[np.ndarray, np.ndarray]:
    values, targets = np.asarray(features, dtype=np.float64), np.asarray(labels)
    if values.ndim != 2 or targets.ndim != 1 or len(values) != len(targets) or len(values) < 2:
        raise ValueError(f"{what} must be (n, d) and labels (n,) with n >= 2, got {values.shape} and {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0:
        raise ValueError("labels must be non-negative integers")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} contain NaN or infinite values")
    return values, targets


def leep(source_probabilities: np.ndarray, labels: np.ndarray) -> float:
    """LEEP score: ``mean_i log sum_z P(y_i | z) theta_z(x_i)``.

    ``source_probabilities`` (n, Z): the pre-trained model's softmax over its Z source classes
    for each target image; ``P(y | z)`` is the empirical conditional of target label y given
    source label z, from the joint ``P(y, z) = mean_i theta_z(x_i) 1[y_i = y]``.
    """
    theta, targets = _check(source_probabilities, labels, "source_probabilities")
    if np.any(theta < 0) or not np.allclose(theta.sum(1), 1.0, atol=1e-4):
        raise ValueError("source_probabilities must be rows of probabilities (non-negative, summing to 1)")
    one_hot = np.eye(targets.max() + 1)[targets]  # (n, Y)
    joint = one_hot.T @ theta / len(targets)  # (Y, Z)
    conditional = joint / np.maximum(joint.sum(0, keepdims=True), np.finfo(float).tiny)
    expected = theta @ conditional.T  # (n, Y): sum_z P(y | z) theta_z(x)
    return float(np.mean(np.log(expected[np.arange(len(targets)), targets])))


def log_evidence(features: np.ndarray, target: np.ndarray, alpha: float, beta: float) -> float:
    """Log evidence per sample of ``target`` (n,) under ``target = features @ w + noise`` with prior
    ``w ~ N(0, I / alpha)`` and noise ``N(0, 1 / beta)`` (LogME's eq. 2, via the eigenvalues of
    ``F^T F``)."""
    values = np.asarray(features, dtype=np.float64)
    n, d = values.shape
    eigenvalues, eigenvectors = np.linalg.eigh(values.T @ values)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    m = beta * eigenvectors @ ((eigenvectors.T @ (values.T @ target)) / (alpha + beta * eigenvalues))
    residual = float(np.sum((values @ m - target) ** 2))
    evidence = (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                - beta / 2 * residual - alpha / 2 * float(m @ m) - 0.5 * np.sum(np.log(alpha + beta * eigenvalues)))
    return float(evidence / n)


def _logme_column(values: np.ndarray, target: np.ndarray, eigenvalues: np.ndarray,
                  eigenvectors: np.ndarray) -> tuple[float, float]:
    """LogME's fixed-point iteration (You et al., Algorithm 1) for one target column:
    the maximising ``(alpha, beta)``."""
    n = len(target)
    projected = eigenvectors.T @ (values.T @ target)
    alpha, beta = 1.0, 1.0
    for _ in range(LOGME_MAX_ITERATIONS):
        gamma = float(np.sum(beta * eigenvalues / (alpha + beta * eigenvalues)))
        m = beta * eigenvectors @ (projected / (alpha + beta * eigenvalues))
        residual = float(np.sum((values @ m - target) ** 2))
        new_alpha = gamma / max(float(m @ m), np.finfo(float).tiny)
        new_beta = (n - gamma) / max(residual, np.finfo(float).tiny)
        converged = abs(new_alpha - alpha) / alpha < LOGME_TOLERANCE and abs(new_beta - beta) / beta < LOGME_TOLERANCE
        alpha, beta = new_alpha, new_beta
        if converged:
            break
    return alpha, beta


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME: for each target class, the log evidence (per sample) of its one-hot column under a
    Bayesian linear model of the features, maximised over the prior precision alpha and the
    noise precision beta by You et al.'s fixed-point iteration; averaged over classes."""
    values, targets = _check(features, labels)
    eigenvalues, eigenvectors = np.linalg.eigh(values.T @ values)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    scores = []
    for c in np.unique(targets):
        column = (targets == c).astype(np.float64)
        alpha, beta = _logme_column(values, column, eigenvalues, eigenvectors)
        scores.append(log_evidence(values, column, alpha, beta))
    return float(np.mean(scores))


def h_score(features: np.ndarray, labels: np.ndarray) -> float:
    """H-score: ``tr(cov(f)^+ cov(E[f | y]))``, with the pseudo-inverse of the feature covariance
    and the covariance of the features replaced by their class means (Bao et al., eq. 4)."""
    values, targets = _check(features, labels)
    centred = values - values.mean(0)
    class_means = np.zeros_like(centred)
    for c in np.unique(targets):
        class_means[targets == c] = centred[targets == c].mean(0)
    covariance = centred.T @ centred / len(values)
    between = class_means.T @ class_means / len(values)
    return float(np.trace(np.linalg.pinv(covariance, hermitian=True) @ between))


def rank_correlations(scores: Mapping[str, np.ndarray], accuracy: np.ndarray) -> pd.DataFrame:
    """Kendall tau (with p-value), Spearman rho and Pearson r between each score ``(n_models,)``
    and ``accuracy`` ``(n_models,)``; one row per score."""
    target = np.asarray(accuracy, dtype=np.float64)
    rows = {}
    for name, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != target.shape or len(target) < 3:
            raise ValueError(f"score {name!r} has shape {values.shape}, accuracy {target.shape}: need equal, >= 3 models")
        tau = stats.kendalltau(values, target)
        rows[name] = {"kendall_tau": tau.statistic, "kendall_p": tau.pvalue,
                      "spearman": stats.spearmanr(values, target).statistic,
                      "pearson": stats.pearsonr(values, target).statistic}
    return pd.DataFrame.from_dict(rows, orient="index")


def tau_advantage(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, candidate: str, baseline: str,
                  n_boot: int = 2000, seed: int = 0) -> Effect:
    """Kendall tau of ``candidate`` with ``accuracy`` minus that of ``baseline`` (each score
    ``(n_models,)``, oriented so that higher predicts higher accuracy), with a paired
    percentile-bootstrap interval over the models (both taus on the same resample)."""
    missing = [name for name in (candidate, baseline) if name not in scores]
    if missing:
        raise ValueError(f"unknown scores {missing}; valid choices: {', '.join(scores)}")

    def advantage(a: np.ndarray, b: np.ndarray, target: np.ndarray) -> np.ndarray:
        return kendall_tau_b(a, target) - kendall_tau_b(b, target)

    return bootstrap_effect(advantage, (scores[candidate], scores[baseline], accuracy), n_resamples=n_boot,
                            seed=seed, method="paired bootstrap over models", vectorised=True)


def ranking_agreement(reference: np.ndarray, others: Sequence[np.ndarray], n_boot: int = 2000,
                      seed: int = 0) -> Effect:
    """How far rankings of the same models are from ``reference`` ``(n_models,)``: the mean over
    ``others`` (each ``(n_models,)``, e.g. a score recomputed at another input resolution or on
    subsamples) of their Kendall tau with ``reference``, minus 1, with a percentile-bootstrap
    interval over the models. 0 is the same ranking, -1 an unrelated one, -2 the reverse: an
    invariance is an "at least" claim on this effect with a margin (tau at least 1 - margin)."""
    reference = np.asarray(reference, dtype=np.float64)
    rows = [np.asarray(other, dtype=np.float64) for other in others]
    if not rows:
        raise ValueError("need at least one ranking to compare with the reference")

    def shortfall(base: np.ndarray, *again: np.ndarray) -> np.ndarray:
        return np.mean([kendall_tau_b(row, base) for row in again], axis=0) - 1.0

    return bootstrap_effect(shortfall, (reference, *rows), n_resamples=n_boot, seed=seed,
                            method="Kendall tau minus 1, bootstrap over models", vectorised=True)


def correlation_table(scores: Mapping[str, np.ndarray], target: np.ndarray, n_resamples: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Kendall tau of each score ``(n_models,)`` with ``target`` ``(n_models,)``: estimate, 95%
    bootstrap interval, permutation p-value, detectable |tau| and the number of models (models
    where a score is NaN are left out of that score's row). One row per score, in order."""
    target = np.asarray(target, dtype=np.float64)
    rows = {}
    for name, values in scores.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != target.shape:
            raise ValueError(f"score {name!r} has shape {values.shape}, target {target.shape}: expected equal")
        keep = np.isfinite(values) & np.isfinite(target)
        effect = correlation_effect(values[keep], target[keep], "kendall", n_resamples, seed=seed)
        rows[name] = {"kendall_tau": effect.estimate, "low": effect.low, "high": effect.high,
                      "p": effect.pvalue, "detectable": effect.detectable, "models": int(keep.sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def family_baseline(families: Sequence[str], target: np.ndarray) -> np.ndarray:
    """For each model, the mean ``target`` of the *other* models of its family ``(n_models,)``:
    what knowing only the architecture family predicts. ``ValueError`` for a family of one."""
    names = np.asarray(families)
    values = np.asarray(target, dtype=np.float64)
    if names.shape != values.shape:
        raise ValueError(f"families {names.shape} and target {values.shape} must have the same shape")
    lonely = sorted({f for f in names if np.sum(names == f) < 2})
    if lonely:
        raise ValueError(f"families {lonely} have one model: a leave-one-out family mean needs two or more")
    return np.array([values[(names == f) & (np.arange(len(values)) != i)].mean() for i, f in enumerate(names)])
