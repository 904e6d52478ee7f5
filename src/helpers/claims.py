"""Claims for the scorecard: what a paper says, what our run measured, and a computed verdict.

A chapter records its claims with :class:`ClaimBook` and saves them as JSON into the run folder
(``$TOPOCNN_RUN_DIR``, set by the runner; default ``<root>/_build/run/interactive`` for a
notebook run by hand). The runner collects every
chapter's file into the scorecard page. Verdicts are computed from the numbers by the functions
below, never typed by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .paths import project_root

RUN_DIR_ENV = "TOPOCNN_RUN_DIR"
REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


@dataclass(frozen=True)
class Claim:
    """One row of the scorecard."""

    chapter: str
    name: str
    paper_value: str
    our_value: str
    verdict: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")


def run_dir() -> Path:
    """Folder of the current run's records: ``$TOPOCNN_RUN_DIR`` or ``<root>/_build/run/interactive``."""
    return Path(os.environ.get(RUN_DIR_ENV) or project_root() / "_build" / "run" / "interactive")


class ClaimBook:
    """The claims of one chapter, saved to ``<run_dir>/claims/<chapter>.json``."""

    def __init__(self, chapter: str) -> None:
        self.chapter = chapter
        self.claims: list[Claim] = []

    def add(self, name: str, paper_value: str, our_value: str, verdict: str, note: str = "") -> Claim:
        claim = Claim(self.chapter, name, paper_value, our_value, verdict, note)
        self.claims = [c for c in self.claims if c.name != name] + [claim]
        return claim

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.claims]).drop(columns="chapter")

    def save(self) -> Path:
        path = run_dir() / "claims" / f"{self.chapter}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([asdict(c) for c in self.claims], indent=2))
        return path


def load_claims(folder: Path) -> list[Claim]:
    """All claims saved under ``folder/claims``, ordered by chapter file name."""
    claims = []
    for path in sorted((folder / "claims").glob("*.json")):
        claims.extend(Claim(**row) for row in json.loads(path.read_text()))
    return claims


@dataclass(frozen=True)
class PairedComparison:
    """``a`` against ``b`` paired by seed: mean difference, its spread, and two paired tests."""

    mean_difference: float
    std_difference: float
    n_pairs: int
    t_pvalue: float
    wilcoxon_pvalue: float

    def describe(self, scale: float = 100.0, unit: str = " pp", digits: int = 2, pairs: str = "seeds") -> str:
        """E.g. ``+1.50 pp ± 0.55 (n=5 seeds, paired t p=0.003, Wilcoxon p=0.06)``: the mean
        difference times ``scale`` with ``unit``, its standard deviation, and the tests."""
        return (
            f"{self.mean_difference * scale:+.{digits}f}{unit} ± {self.std_difference * scale:.{digits}f} "
            f"(n={self.n_pairs} {pairs}, paired t p={self.t_pvalue:.3g}, Wilcoxon p={self.wilcoxon_pvalue:.3g})"
        )


def paired_comparison(a: np.ndarray, b: np.ndarray) -> PairedComparison:
    """Compare two arrays of one metric paired by seed (shape (n_seeds,) each)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-D of equal length, got shapes {a.shape} and {b.shape}")
    diff = a - b
    if len(diff) < 2:
        t_p = w_p = float("nan")
    elif np.all(diff == 0):
        t_p = w_p = 1.0
    else:
        t_p = float(stats.ttest_rel(a, b).pvalue)
        w_p = float(stats.wilcoxon(a, b).pvalue)
    spread = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    return PairedComparison(float(diff.mean()), spread, len(diff), t_p, w_p)


def verdict_at_least(comparison: PairedComparison, alpha: float = 0.05) -> str:
    """Claim "a >= b": reproduced when a is not below b on average; refuted only when a is
    significantly below b (paired t-test at ``alpha``); otherwise inconclusive."""
    if comparison.mean_difference >= 0:
        return REPRODUCED
    if comparison.t_pvalue < alpha:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def verdict_greater(comparison: PairedComparison, alpha: float = 0.05) -> str:
    """Claim "a > b": reproduced when a is above b and the paired t-test says so at ``alpha``;
    not reproduced when a is at or below b on average; inconclusive when above but not significant."""
    if comparison.mean_difference <= 0:
        return NOT_REPRODUCED
    if comparison.t_pvalue < alpha:
        return REPRODUCED
    return INCONCLUSIVE


def verdict_gain_shrinks(small_data: PairedComparison, large_data: PairedComparison, alpha: float = 0.05) -> str:
    """Claim "a helps most when data are scarce", from a-minus-b comparisons at the smallest and
    the largest training-set size: reproduced when the gain with little data is larger than with
    much data and significantly positive; not reproduced when it is not larger; else inconclusive."""
    if small_data.mean_difference <= large_data.mean_difference:
        return NOT_REPRODUCED
    return verdict_greater(small_data, alpha)


def verdict_all(verdicts: list[str]) -> str:
    """A claim made of several parts (e.g. "at every threshold"): reproduced when every part is,
    not reproduced when any part is not, otherwise inconclusive."""
    if not verdicts:
        raise ValueError("verdict_all needs at least one verdict")
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if any(v == NOT_REPRODUCED for v in verdicts):
        return NOT_REPRODUCED
    return INCONCLUSIVE


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rank correlation ``rho`` of two samples, its percentile-bootstrap confidence
    interval ``[low, high]`` at ``level``, the two-sided p-value, and the sample size ``n``."""

    rho: float
    low: float
    high: float
    pvalue: float
    n: int
    level: float = 0.95

    def describe(self) -> str:
        """E.g. ``rho = +0.42 [0.10, 0.68] (n=40, p=0.007)``."""
        return (f"rho = {self.rho:+.2f} [{self.low:+.2f}, {self.high:+.2f}] "
                f"(n={self.n}, p={self.pvalue:.2g})")


def rank_correlation(x: np.ndarray, y: np.ndarray, level: float = 0.95, n_resamples: int = 2000,
                     seed: int = 0) -> RankCorrelation:
    """Spearman correlation of ``x`` and ``y`` (1-D, same length >= 3) with a paired bootstrap
    interval (scipy.stats.bootstrap, percentile method, ``n_resamples`` draws with ``seed``)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"rank_correlation needs two 1-D samples of equal length >= 3, got shapes {x.shape}, {y.shape}")
    result = stats.spearmanr(x, y)
    interval = stats.bootstrap((x, y), lambda a, b: stats.spearmanr(a, b).statistic, paired=True, vectorized=False,
                               confidence_level=level, n_resamples=n_resamples, method="percentile",
                               random_state=np.random.default_rng(seed)).confidence_interval
    return RankCorrelation(float(result.statistic), float(interval.low), float(interval.high),
                           float(result.pvalue), len(x), level)


def verdict_rank_correlation(correlation: RankCorrelation, sign: int = 1) -> str:
    """Claim "x and y are correlated with this ``sign``" (+1 or -1): reproduced when the confidence
    interval lies entirely on that side of zero, not reproduced when it lies entirely on the other
    side, inconclusive when it contains zero (or is undefined)."""
    if sign not in (1, -1):
        raise ValueError(f"sign={sign!r}: expected +1 or -1")
    low, high = sorted((sign * correlation.low, sign * correlation.high))
    if not (np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    if low > 0:
        return REPRODUCED
    if high < 0:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def verdict_probability(probability: float, level: float = 0.95) -> str:
    """Claim judged by a (bootstrap) probability that it holds: reproduced at ``level`` or above,
    not reproduced at ``1 - level`` or below, inconclusive in between."""
    if not 0.5 < level < 1 or not 0 <= probability <= 1:
        raise ValueError(f"need 0 <= probability <= 1 and 0.5 < level < 1, got {probability}, {level}")
    if probability >= level:
        return REPRODUCED
    if probability <= 1 - level:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def verdict_agreement(tau: float, high: float = 0.6, low: float = 0.2) -> str:
    """Claim "two rankings agree" (an invariance) from their Kendall tau: reproduced at ``high``
    or above, not reproduced below ``low``, inconclusive in between."""
    if not -1 <= low < high <= 1:
        raise ValueError(f"need -1 <= low < high <= 1, got low={low}, high={high}")
    if tau >= high:
        return REPRODUCED
    return NOT_REPRODUCED if tau < low else INCONCLUSIVE


def verdict_earlier(first: list[int], second: list[int], never: int) -> str:
    """Claim "A happens at an earlier layer than B", from the index of the first layer where A
    happens and where B happens in each repetition (seed), ``never`` meaning it did not happen:
    reproduced when A comes strictly first in every repetition; not reproduced when it comes
    first in none (A at the same layer as B, later, or never) and B happens in at least one;
    otherwise (mixed, or neither happens anywhere) inconclusive."""
    if len(first) != len(second) or not first:
        raise ValueError(f"need one pair of layer indices per repetition, got {len(first)} and {len(second)}")
    earlier = [a < b for a, b in zip(first, second)]
    if all(earlier):
        return REPRODUCED
    if not any(earlier) and any(b < never for b in second):
        return NOT_REPRODUCED
    return INCONCLUSIVE


def verdict_above_chance(successes: int, trials: int, chance: float, alpha: float = 0.05) -> str:
    """Claim "a method succeeds more often than chance", from ``successes`` out of ``trials``
    and the success probability ``chance`` of a random guess: reproduced when the one-sided
    binomial test rejects "no better than chance" at ``alpha``; not reproduced when the success
    rate is at or below chance; otherwise inconclusive."""
    if trials < 1 or not 0 <= successes <= trials or not 0 < chance < 1:
        raise ValueError(f"need 0 <= successes <= trials, trials >= 1 and 0 < chance < 1; got "
                         f"{successes}, {trials}, {chance}")
    if successes / trials <= chance:
        return NOT_REPRODUCED
    p_value = stats.binomtest(successes, trials, chance, alternative="greater").pvalue
    return REPRODUCED if p_value < alpha else INCONCLUSIVE


def verdict_sign(statistic: float, pvalue: float, expected_sign: int = 1, alpha: float = 0.05) -> str:
    """Claim "the effect has sign ``expected_sign``" (+1 or -1), from a statistic (a correlation,
    a difference a - b, ...) and the p-value of a test of it: reproduced when the statistic has
    that sign and ``pvalue < alpha``; not reproduced when it is zero or has the other sign;
    inconclusive when the sign is right but the test is not significant (or either is NaN)."""
    if expected_sign not in (1, -1):
        raise ValueError(f"expected_sign must be +1 or -1, got {expected_sign!r}")
    if not np.isfinite(statistic):
        return INCONCLUSIVE
    if np.sign(statistic) != expected_sign:
        return NOT_REPRODUCED
    return REPRODUCED if pvalue < alpha else INCONCLUSIVE
