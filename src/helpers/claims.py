"""Claims for the scorecard: an effect with a direction, its interval, and a computed verdict.

A claim of a paper is stated as an **effect with a direction**: a number that is positive when
the paper is right (a difference of accuracies, a rank correlation, trained minus untrained, a
statistic minus its null). The run measures it as an :class:`Effect`: the estimate, its 95%
interval, the sample size, how the interval was made, and the smallest effect the design could
have detected (80% power at 5%, two-sided, from the observed spread and n). The claim also names
its **smallest effect of interest** (the paper's own effect where it reports one, otherwise a
margin the chapter states). The verdict (:func:`judge`) is then mechanical:

- **reproduced**: the interval excludes zero in the claimed direction (for "at least as good"
  claims: it lies above minus the non-inferiority margin);
- **not reproduced**: the interval lies below the smallest effect of interest, or shows the
  opposite effect (for "at least": it lies below minus the margin);
- **inconclusive**: neither; the scorecard then shows the detectable effect, so that a reader
  sees how weak the experiment was.

A claim of several parts ("at every threshold") is judged by Holm-corrected one-sided tests of
its parts, each counting only as far as its own interval reaches (:func:`judge_parts`). A claim
whose experiment could not see the effect at all (for example networks that did not beat a
model-free baseline) is inconclusive whatever its interval: pass ``invalid=`` with the reason. Claims about what training builds are judged on trained minus
a control, and the control's value is shown beside ours.

A chapter records its claims with :class:`ClaimBook` and saves them as JSON into the run folder
(``$TOPOCNN_RUN_DIR``, set by the runner; default ``<root>/_build/run/interactive`` for a
notebook run by hand); the runner collects every chapter's file into the scorecard page.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
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
CONFIDENCE = 0.95   # level of every interval
POWER = 0.80        # power behind every detectable effect
MIN_BOOTSTRAP_UNITS = 10  # fewer units than this and a bootstrap does not measure precision
ALPHA = 1 - CONFIDENCE


# ----------------------------------------------------------------------------- effects

@dataclass(frozen=True)
class Effect:
    """An estimated effect in its own units (a difference of accuracies as a fraction, a
    correlation, a count of bars, ...).

    ``low`` and ``high`` bound its 95% interval; ``se`` is its standard error and ``df`` the
    degrees of freedom of the reference distribution (``inf``: normal), used for the one-sided
    tests of claims of several parts; ``detectable`` is the smallest absolute effect this design
    detects with 80% power at 5% (two-sided), ``nan`` when no effect is detectable (too small a
    sample); ``pvalue`` is the two-sided p-value of "no effect"; ``method`` names the interval;
    ``scale`` and ``unit`` say how to print it (0.012 with scale 100 and unit " pp" prints as
    +1.20 pp)."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    se: float
    df: float
    detectable: float
    pvalue: float
    scale: float = 1.0
    unit: str = ""
    digits: int = 2

    def bare(self, value: float, signed: bool = True) -> str:
        """``value`` in this effect's display units, without the unit (``nan``: "n/a")."""
        if not np.isfinite(value):
            return "n/a"
        return f"{value * self.scale:{'+' if signed else ''}.{self.digits}f}"

    def format(self, value: float, signed: bool = True) -> str:
        """``value`` in this effect's display units, e.g. ``+1.20 pp`` ("n/a" for ``nan``)."""
        text = self.bare(value, signed)
        return text if text == "n/a" else text + self.unit

    def interval(self) -> str:
        """E.g. ``[-0.50, +3.10] pp``."""
        return f"[{self.bare(self.low)}, {self.bare(self.high)}]{self.unit}"

    def with_interval(self) -> str:
        """E.g. ``+1.20 [-0.50, +3.10] pp``."""
        return f"{self.bare(self.estimate)} {self.interval()}"

    def describe(self) -> str:
        """E.g. ``+1.20 [-0.50, +3.10] pp (n=5, paired t)``."""
        return f"{self.with_interval()} (n={self.n}, {self.method})"

    def scaled(self, factor: float) -> "Effect":
        """The same effect multiplied by ``factor`` (``factor < 0`` flips the interval), e.g. to
        turn "a minus b" into "b minus a"."""
        low, high = sorted((self.low * factor, self.high * factor))
        return Effect(self.estimate * factor, low, high, self.n, self.method, self.se * abs(factor), self.df,
                      self.detectable * abs(factor), self.pvalue, self.scale, self.unit, self.digits)


def _detectable(se: float, df: float) -> float:
    """Smallest effect found with power ``POWER`` by a two-sided test at ``ALPHA`` whose
    estimate has standard error ``se`` and a t distribution with ``df`` degrees of freedom."""
    if not (np.isfinite(se) and se >= 0 and df > 0):
        return float("nan")
    return float((stats.t.ppf(1 - ALPHA / 2, df) + stats.t.ppf(POWER, df)) * se)


def _check_samples(*samples: np.ndarray, minimum: int = 2) -> list[np.ndarray]:
    arrays = [np.asarray(s, dtype=float) for s in samples]
    shapes = [a.shape for a in arrays]
    if any(a.ndim != 1 for a in arrays) or len(set(shapes)) != 1:
        raise ValueError(f"samples must be 1-D and of equal length, got shapes {' and '.join(map(str, shapes))}")
    if len(arrays[0]) < minimum:
        raise ValueError(f"need at least {minimum} pairs, got {len(arrays[0])}")
    for a in arrays:
        if not np.all(np.isfinite(a)):
            bad = np.flatnonzero(~np.isfinite(a)).tolist()
            raise ValueError(f"samples contain NaN or infinite values at positions {bad}")
    return arrays


def paired_effect(a: np.ndarray, b: np.ndarray, scale: float = 1.0, unit: str = "", digits: int = 2) -> Effect:
    """Mean of ``a - b`` over pairs (shape (n,) each, n >= 2, e.g. seeds) with its paired-t
    interval. Identical differences give a zero-width interval."""
    a, b = _check_samples(a, b)
    diff = a - b
    n = len(diff)
    mean, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n))
    df = n - 1
    if se <= 1e-12 * max(1.0, abs(mean)):  # identical differences, up to rounding
        se = 0.0
        low = high = mean
        pvalue = 1.0 if mean == 0 else 0.0
    else:
        half = float(stats.t.ppf(1 - ALPHA / 2, df) * se)
        low, high = mean - half, mean + half
        pvalue = float(2 * stats.t.sf(abs(mean) / se, df))
    # identical differences measure no spread: with a handful of seeds that is luck, not precision
    detectable = _detectable(se, df) if se > 0 else float("nan")
    return Effect(mean, low, high, n, "paired t", se, df, detectable, pvalue, scale, unit, digits)


def mean_effect(values: Sequence[float], scale: float = 1.0, unit: str = "", digits: int = 2) -> Effect:
    """Mean of ``values`` (n,), n >= 2 (one per seed or model), with its one-sample t interval."""
    values = np.asarray(values, dtype=np.float64)
    return replace(paired_effect(values, np.zeros_like(values), scale, unit, digits), method="t over units")


def trained_minus_control(trained: Sequence[float], control: Sequence[float], scale: float = 1.0, unit: str = "",
                          digits: int = 2) -> tuple[Effect, Effect]:
    """A statistic of trained networks against the same statistic of their controls (e.g. the
    untrained networks of the same seeds), both (n,) in the same order, n >= 2: the judged effect
    ``trained - control`` with its paired-t interval, and the control's mean with its t interval
    (shown beside ours)."""
    return paired_effect(trained, control, scale, unit, digits), mean_effect(control, scale, unit, digits)


def bootstrap_effect(statistic: Callable[..., float], samples: Sequence[np.ndarray], n_resamples: int = 2000,
                     seed: int = 0, scale: float = 1.0, unit: str = "", digits: int = 2,
                     method: str = "bootstrap", vectorised: bool = False) -> Effect:
    """``statistic(*samples)`` with a paired percentile-bootstrap interval (the samples are
    resampled together, by position; each of shape (n,), n >= 3). The standard error is the
    bootstrap distribution's spread; the p-value is the two-sided bootstrap share of resamples
    on the far side of zero. With fewer than ``MIN_BOOTSTRAP_UNITS`` units the resamples cover
    too few configurations for the interval to hold its level, so no effect is detectable
    (``detectable`` is ``nan``) and a verdict on it is inconclusive. With ``vectorised``, the
    statistic takes ``(B, n)`` arrays (B resamples at once) and returns ``(B,)``; the resamples
    are the same as without."""
    arrays = _check_samples(*samples, minimum=3)
    estimate = float(statistic(*arrays)) if not vectorised else float(statistic(*(a[None] for a in arrays))[0])
    rng = np.random.default_rng(seed)
    n = len(arrays[0])
    chosen = np.stack([rng.integers(0, n, n) for _ in range(n_resamples)])
    if vectorised:
        draws = np.concatenate([statistic(*(a[chosen[start:start + 500]] for a in arrays))
                                for start in range(0, n_resamples, 500)])
    else:
        draws = np.array([statistic(*(a[rows] for a in arrays)) for rows in chosen], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if len(draws) < n_resamples // 2:
        raise ValueError(f"the statistic was undefined on {n_resamples - len(draws)} of {n_resamples} resamples")
    low, high = np.quantile(draws, [ALPHA / 2, 1 - ALPHA / 2])
    se = float(draws.std(ddof=1))
    pvalue = float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))
    detectable = _detectable(se, math.inf) if n >= MIN_BOOTSTRAP_UNITS else float("nan")
    return Effect(estimate, float(low), float(high), n, method, se, math.inf, detectable, pvalue,
                  scale, unit, digits)


def normal_effect(estimate: float, se: float, n: int, method: str, scale: float = 1.0, unit: str = "",
                  digits: int = 2) -> Effect:
    """An estimate with a known standard error ``se`` and a normal reference distribution: the
    interval estimate +/- 1.96 se (e.g. a difference of two statistics whose spread a null
    distribution gives)."""
    if not (np.isfinite(estimate) and np.isfinite(se) and se >= 0):
        raise ValueError(f"need a finite estimate and standard error >= 0, got {estimate}, {se}")
    half = float(stats.norm.ppf(1 - ALPHA / 2) * se)
    pvalue = float(2 * stats.norm.sf(abs(estimate) / se)) if se > 0 else float(estimate == 0)
    return Effect(float(estimate), estimate - half, estimate + half, int(n), method, float(se), math.inf,
                  _detectable(se, math.inf), pvalue, scale, unit, digits)


def null_effect(observed: float, null: np.ndarray, scale: float = 1.0, unit: str = "", digits: int = 3,
                method: str = "null draws") -> Effect:
    """``observed`` minus the mean of its null distribution (``null``, shape (m,), m >= 2: the
    statistic recomputed on data with the effect removed, e.g. random filters), with the interval
    the null's own spread gives: observed minus the null's 97.5th and 2.5th percentiles. The
    p-value is the one-sided Monte-Carlo p, doubled."""
    (null,) = _check_samples(null)
    if not np.isfinite(observed):
        raise ValueError(f"observed statistic is {observed}")
    centre, se = float(null.mean()), float(null.std(ddof=1))
    low, high = observed - np.quantile(null, 1 - ALPHA / 2), observed - np.quantile(null, ALPHA / 2)
    pvalue = float(min(1.0, 2 * (1 + np.sum(null >= observed)) / (len(null) + 1)))
    return Effect(observed - centre, float(low), float(high), len(null), method, se, math.inf,
                  _detectable(se, math.inf), pvalue, scale, unit, digits)


CORRELATIONS = {"spearman": (stats.spearmanr, 1.06, 3), "kendall": (stats.kendalltau, 0.437, 4),
                "pearson": (stats.pearsonr, 1.0, 3)}


def kendall_tau_b(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Kendall's tau-b of ``x`` and ``y`` along ``axis``, for many rows at once: arrays of shape
    ``(..., n)`` give ``(...)`` (NaN where one side is constant). Equal to
    ``scipy.stats.kendalltau``; O(n^2) memory per row, for the tens of models a ranking has."""
    a = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    b = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    a, b = np.broadcast_arrays(a, b)
    sign_a = np.sign(a[..., :, None] - a[..., None, :])
    sign_b = np.sign(b[..., :, None] - b[..., None, :])
    concordance = (sign_a * sign_b).sum(axis=(-1, -2))
    untied = np.sqrt((sign_a != 0).sum(axis=(-1, -2)) * (sign_b != 0).sum(axis=(-1, -2)).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(untied > 0, concordance / np.where(untied > 0, untied, 1.0), np.nan)


def detectable_correlation(n: int, method: str = "spearman") -> float:
    """Smallest |correlation| found with 80% power at 5% (two-sided) from ``n`` pairs, through
    Fisher's z with the standard error of the ``method`` (Fieller, Hartley & Pearson 1957:
    1.06 / (n - 3) for Spearman, 0.437 / (n - 4) for Kendall, 1 / (n - 3) for Pearson);
    ``nan`` when n is too small for the approximation."""
    if method not in CORRELATIONS:
        raise ValueError(f"unknown correlation {method!r}; expected one of {sorted(CORRELATIONS)}")
    _, variance, offset = CORRELATIONS[method]
    if n <= offset:
        return float("nan")
    z = (stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)) * math.sqrt(variance / (n - offset))
    return float(math.tanh(z))


def correlation_effect(x: np.ndarray, y: np.ndarray, method: str = "spearman", n_resamples: int = 2000,
                       n_permutations: int = 9999, seed: int = 0) -> Effect:
    """Rank (or linear) correlation of ``x`` and ``y`` (shape (n,), n >= 3) with a paired
    percentile-bootstrap interval, a permutation p-value (exact when n! <= ``n_permutations``)
    and the detectable |correlation| at n (:func:`detectable_correlation`)."""
    if method not in CORRELATIONS:
        raise ValueError(f"unknown correlation {method!r}; expected one of {sorted(CORRELATIONS)}")
    x, y = _check_samples(x, y, minimum=3)
    if method == "kendall":  # vectorised: thousands of resamples of tens of models in a second
        statistic, vectorised = kendall_tau_b, True
    else:
        function = CORRELATIONS[method][0]
        statistic, vectorised = (lambda a, b, axis=-1: float(function(a, b).statistic)), False
    estimate = float(statistic(x, y))
    boot = bootstrap_effect(statistic, (x, y), n_resamples=n_resamples, seed=seed, vectorised=vectorised)
    permutation = stats.permutation_test((x, y), statistic, permutation_type="pairings", vectorized=vectorised,
                                         n_resamples=n_permutations, alternative="two-sided", batch=500,
                                         random_state=np.random.default_rng(seed))
    return Effect(estimate, boot.low, boot.high, len(x), f"{method}, bootstrap interval, permutation p",
                  boot.se, math.inf, detectable_correlation(len(x), method), float(permutation.pvalue))


# ----------------------------------------------------------------------------- verdicts

def _oriented(effect: Effect, direction: int) -> tuple[float, float]:
    if direction not in (1, -1):
        raise ValueError(f"direction={direction!r}: expected +1 or -1")
    return tuple(sorted((direction * effect.low, direction * effect.high)))  # type: ignore[return-value]


def _check_rule(smallest_effect: float | None, margin: float | None) -> None:
    if (smallest_effect is None) == (margin is None):
        raise ValueError(f"give either smallest_effect (a claimed effect) or margin (an 'at least' claim), "
                         f"got smallest_effect={smallest_effect}, margin={margin}")
    value = smallest_effect if margin is None else margin
    if not value > 0:
        raise ValueError(f"{'smallest_effect' if margin is None else 'margin'} must be positive, got {value}")


def judge(effect: Effect, smallest_effect: float | None = None, direction: int = 1,
          margin: float | None = None) -> str:
    """The verdict on a claimed effect of sign ``direction``.

    Superiority claims (``margin`` None): reproduced when the interval lies above zero in the
    claimed direction; not reproduced when it lies below ``smallest_effect`` (> 0, the smallest
    effect of interest in the claimed direction), which includes the opposite effect.
    Non-inferiority ("at least as good") claims: reproduced when the interval lies above
    ``-margin``; not reproduced when it lies below ``-margin``. Otherwise inconclusive, and
    always inconclusive when the design can detect no effect (``effect.detectable`` is ``nan``:
    too few units, or no spread to measure its precision by)."""
    _check_rule(smallest_effect, margin)
    low, high = _oriented(effect, direction)
    if not (np.isfinite(low) and np.isfinite(high) and np.isfinite(effect.detectable)):
        return INCONCLUSIVE
    threshold = 0.0 if margin is None else -margin
    if low > threshold:
        return REPRODUCED
    if high < (smallest_effect if margin is None else -margin):
        return NOT_REPRODUCED
    return INCONCLUSIVE


def _one_sided(effect: Effect, direction: int, beyond: float, above: bool) -> float:
    """One-sided p-value of "direction * effect <= beyond" (``above``) or ">= beyond"."""
    estimate = direction * effect.estimate
    if effect.se == 0:
        return 0.0 if (estimate > beyond if above else estimate < beyond) else 1.0
    z = (estimate - beyond) / effect.se
    return float(stats.t.sf(z, effect.df) if above else stats.t.cdf(z, effect.df))


def holm_rejects(pvalues: Sequence[float], alpha: float) -> np.ndarray:
    """Which hypotheses Holm's step-down procedure rejects at family-wise level ``alpha``."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    rejected = np.zeros(len(p), bool)
    for rank, index in enumerate(order):
        if p[index] > alpha / (len(p) - rank):
            break
        rejected[index] = True
    return rejected


def judge_parts(parts: Mapping[str, Effect], smallest_effect: float | None = None, direction: int = 1,
                margin: float | None = None) -> tuple[str, str]:
    """The verdict on a claim that holds in every part (every threshold, every seed, ...), and
    the name of the weakest part (largest one-sided p).

    Each part is tested one-sided at the level of a 95% interval (2.5%) with Holm's correction
    over the parts: reproduced when every part's "no effect" (for "at least": "worse than
    ``-margin``") is rejected; not reproduced when some part's "at least the smallest effect of
    interest" (for "at least": "better than ``-margin``") is rejected; otherwise inconclusive.
    Tests use each part's standard error and degrees of freedom; a part whose design detects no
    effect (``detectable`` is ``nan``) makes the claim inconclusive.

    So that a verdict never contradicts the intervals the scorecard shows, a part counts for the
    claim only when its own 95% interval also clears the threshold, and against it only when its
    interval also lies beyond the refuting value: a skewed interval (a bootstrap of a rank
    correlation on ten networks) can reach a value its standard error alone rules out."""
    if not parts:
        raise ValueError("a claim of several parts needs at least one part")
    _check_rule(smallest_effect, margin)
    names = list(parts)
    threshold = 0.0 if margin is None else -margin
    refuting = smallest_effect if margin is None else -margin
    claim_p = [_one_sided(parts[n], direction, threshold, above=True) for n in names]
    against_p = [_one_sided(parts[n], direction, refuting, above=False) for n in names]
    weakest = names[int(np.argmax(claim_p))]
    blind = [n for n in names if not np.isfinite(parts[n].detectable)]
    if blind:
        return INCONCLUSIVE, blind[0]
    oriented = [_oriented(parts[n], direction) for n in names]
    if holm_rejects(claim_p, ALPHA / 2).all() and all(low > threshold for low, _ in oriented):
        return REPRODUCED, weakest
    refuting_parts = [index for index, (rejected, (_, high)) in enumerate(zip(holm_rejects(against_p, ALPHA / 2),
                                                                              oriented))
                      if rejected and high < refuting]
    if refuting_parts:
        return NOT_REPRODUCED, names[min(refuting_parts, key=against_p.__getitem__)]
    return INCONCLUSIVE, weakest


# ----------------------------------------------------------------------------- the scorecard

@dataclass(frozen=True)
class Claim:
    """One row of the scorecard: the paper's value, ours, the judged effect with its interval,
    the smallest effect of interest, the detectable effect, n, the control, and the verdict;
    ``untestable`` is the reason this run's experiment could not see the effect, if any."""

    chapter: str
    name: str
    paper_value: str
    our_value: str
    verdict: str
    note: str = ""
    effect: str = ""
    smallest_effect: str = ""
    detectable: str = ""
    n: int | None = None
    control: str = ""
    rule: str = ""
    untestable: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; expected one of {VERDICTS}")


def run_dir() -> Path:
    """Folder of the current run's records: ``$TOPOCNN_RUN_DIR`` or ``<root>/_build/run/interactive``."""
    return Path(os.environ.get(RUN_DIR_ENV) or project_root() / "_build" / "run" / "interactive")


@dataclass
class ClaimBook:
    """The claims of one chapter, saved to ``<run_dir>/claims/<chapter>.json``."""

    chapter: str
    claims: list[Claim] = field(default_factory=list)

    def _store(self, claim: Claim) -> Claim:
        self.claims = [c for c in self.claims if c.name != claim.name] + [claim]
        return claim

    def add(self, name: str, paper_value: str, effect: Effect, smallest_effect: float | None = None,
            direction: int = 1, margin: float | None = None, our_value: str | None = None,
            control: Effect | str | None = None, control_name: str = "control", invalid: str | None = None,
            note: str = "") -> Claim:
        """Record a claim judged by :func:`judge` on ``effect`` (e.g. trained minus control);
        ``our_value`` describes the measurement (default: the effect); ``control`` is the
        control's own value, shown beside ours; ``invalid`` is the reason the experiment could not
        see the effect (the verdict is then inconclusive)."""
        verdict = judge(effect, smallest_effect, direction, margin)
        return self._store(self._claim(name, paper_value, effect, verdict, smallest_effect, direction, margin,
                                       our_value, control, control_name, invalid, note, "interval"))

    def add_parts(self, name: str, paper_value: str, parts: Mapping[str, Effect],
                  smallest_effect: float | None = None, direction: int = 1, margin: float | None = None,
                  our_value: str | None = None, control: Effect | str | None = None, control_name: str = "control",
                  invalid: str | None = None, note: str = "") -> Claim:
        """Record a claim that must hold in every part, judged by :func:`judge_parts`; the
        scorecard shows the weakest part's effect, and the largest detectable effect of any part."""
        verdict, weakest = judge_parts(parts, smallest_effect, direction, margin)
        shown = parts[weakest]
        detectable = [p.detectable for p in parts.values()]
        shown = replace(shown, method=f"{shown.method}; weakest of {len(parts)} parts ({weakest})",
                        detectable=max(detectable) if np.all(np.isfinite(detectable)) else float("nan"))
        if our_value is None:
            our_value = "; ".join(f"{part}: {e.format(e.estimate)}" for part, e in parts.items())
        return self._store(self._claim(name, paper_value, shown, verdict, smallest_effect, direction, margin,
                                       our_value, control, control_name, invalid, note,
                                       f"Holm over {len(parts)} parts"))

    def _claim(self, name, paper_value, effect, verdict, smallest_effect, direction, margin, our_value, control,
               control_name, invalid, note, rule) -> Claim:
        if invalid:
            verdict = INCONCLUSIVE
        sign = "+" if direction > 0 else "-"
        if margin is None:
            rule = f"{rule}; claimed sign {sign}"
            interest = effect.format(direction * smallest_effect)
        else:
            rule = f"{rule}; at least, margin {effect.format(margin, signed=False)}"
            interest = effect.format(-direction * margin)
        if isinstance(control, Effect):
            control = f"{control_name}: {control.with_interval()}"
        return Claim(self.chapter, name, paper_value, effect.describe() if our_value is None else our_value,
                     verdict, note, effect.with_interval(), interest,
                     effect.format(effect.detectable, signed=False), effect.n, control or "", rule, invalid or "")

    def table(self) -> pd.DataFrame:
        columns = ["name", "our_value", "effect", "smallest_effect", "detectable", "n", "control", "verdict",
                   "untestable"]
        return pd.DataFrame([asdict(c) for c in self.claims])[columns]

    def verdict(self, name: str) -> str:
        """The verdict of the claim called ``name``."""
        for claim in self.claims:
            if claim.name == name:
                return claim.verdict
        raise KeyError(f"no claim {name!r}; recorded: {[c.name for c in self.claims]}")

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
