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


def verdict_correlated(rho: float, p_value: float, alpha: float = 0.05) -> str:
    """Claim "two quantities rise together", from a correlation ``rho`` and the one-sided
    ``p_value`` of a test that it is positive: reproduced when positive and significant at
    ``alpha``; not reproduced when zero or negative; otherwise inconclusive."""
    if not np.isfinite(rho):
        return INCONCLUSIVE
    if rho <= 0:
        return NOT_REPRODUCED
    return REPRODUCED if p_value < alpha else INCONCLUSIVE


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


def verdict_one_sided(difference: float, pvalue: float, alpha: float = 0.05) -> str:
    """Claim "a > b" from the observed difference a - b and a one-sided test's p-value:
    reproduced when positive and significant at ``alpha``; not reproduced when not positive;
    otherwise (positive, not significant, or no test) inconclusive."""
    if difference <= 0:
        return NOT_REPRODUCED
    return REPRODUCED if pvalue < alpha else INCONCLUSIVE
