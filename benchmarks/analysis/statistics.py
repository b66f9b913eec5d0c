"""Is a difference between models real? Paired differences over seeds, ranks, Friedman, Nemenyi.

Two models in one cell (a task instance at one problem size) are compared over the seeds both
ran, paired by (seed, data_seed, model_seed): the mean of the paired differences A - B, a
bootstrap confidence interval of it (``scipy.stats.bootstrap``, ``paired=True``, BCa; the
percentile interval where BCa is undefined) and a two-sided paired test: the paired t-test
(``scipy.stats.ttest_rel``, at least :data:`MIN_PAIRS` ``["t"]`` pairs) by default, or the
Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, exact, at least 6 pairs: with 5 the
smallest two-sided p is 1/16). Fewer pairs than the test's minimum give "too few seeds".

Over cells, models are ranked in each cell by their mean score (1 = best, in the direction of the
cell's metric; tied means share the average of their ranks). With three models or more, the
Friedman test (``scipy.stats.friedmanchisquare``) over the cells every model ran, then the
Nemenyi post-hoc (Demsar 2006): two models differ when their mean ranks differ by more than the
critical difference CD = q_alpha sqrt(k (k + 1) / (6 N)), q_alpha = the studentized range's
1 - alpha quantile for k groups and infinite degrees of freedom over sqrt(2)
(``scipy.stats.studentized_range``). With two models, the sign test over cells
(``scipy.stats.binomtest`` on wins against losses, ties left out).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
CONFIDENCE = 0.95
RESAMPLES = 9999
TESTS = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}
MIN_PAIRS = {"t": 3, "wilcoxon": 6}
TOO_FEW = "too few seeds"
# Mean scores equal to this many significant digits tie (float sums differ in the last bit).
TIE_DIGITS = 12


# ------------------------------------------------------------------------------------------------
# Two models in one cell


@dataclass
class Paired:
    """A - B over `n` shared seeds: mean difference, its confidence interval, the test's p."""

    n: int
    difference: float
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan
    test: str = "t"

    @property
    def testable(self) -> bool:
        return self.n >= MIN_PAIRS[self.test]

    def verdict(self, alpha: float = ALPHA) -> str:
        if not self.testable:
            return TOO_FEW
        return "significant" if self.p < alpha else "not significant"


def _mean_difference(a, b, axis=-1):
    return np.mean(np.asarray(a) - np.asarray(b), axis=axis)


def bootstrap_interval(
    a: np.ndarray, b: np.ndarray, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Paired bootstrap interval of mean(a - b): BCa, or the percentile interval where BCa is
    undefined; the point itself when every difference is the same."""
    differences = a - b
    if len(differences) < 2 or np.all(differences == differences[0]):
        return float(differences[0]), float(differences[0])
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = stats.bootstrap(
                (a, b),
                _mean_difference,
                paired=True,
                vectorized=True,
                n_resamples=RESAMPLES,
                confidence_level=confidence,
                method=method,
                rng=np.random.default_rng(seed),
            )
        interval = result.confidence_interval
        if np.isfinite(interval.low) and np.isfinite(interval.high):
            break
    return float(interval.low), float(interval.high)


def paired_test(a: np.ndarray, b: np.ndarray, test: str = "t") -> float:
    """Two-sided p of the paired test of a against b. Differences that are all equal: p = 1
    when they are zero, 0 otherwise (the t statistic is infinite)."""
    differences = a - b
    if np.all(differences == differences[0]):
        return 1.0 if differences[0] == 0 else 0.0
    if test == "t":
        return float(stats.ttest_rel(a, b).pvalue)
    if test == "wilcoxon":
        return float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    raise ValueError(f"test must be one of {sorted(TESTS)}, got {test!r}")


def paired_difference(
    a, b, test: str = "t", confidence: float = CONFIDENCE, seed: int = 0, interval: bool = True
) -> Paired:
    """A - B over paired values (the same seeds in the same order); `interval=False` skips the
    bootstrap."""
    if test not in TESTS:
        raise ValueError(f"test must be one of {sorted(TESTS)}, got {test!r}")
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    if n == 0:
        return Paired(0, math.nan, test=test)
    out = Paired(n, float(np.mean(a - b)), test=test)
    if out.testable:
        if interval:
            out.low, out.high = bootstrap_interval(a, b, confidence, seed)
        out.p = paired_test(a, b, test)
    return out


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values (NaN stays NaN)."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m, running = len(order), 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted


def pair_by_seed(a: pd.DataFrame, b: pd.DataFrame, seed_keys: list[str]) -> pd.DataFrame:
    """The runs of a and b with the same seeds: columns `a` and `b` (scores, averaged over runs
    of one seed), one row per shared seed, in seed order."""
    keys = list(seed_keys)
    left = a.groupby(keys, dropna=False)["score"].mean().rename("a")
    right = b.groupby(keys, dropna=False)["score"].mean().rename("b")
    return pd.concat([left, right], axis=1, join="inner").sort_index()


# ------------------------------------------------------------------------------------------------
# Ranks over cells


def rank_scores(means: pd.Series, higher_is_better: bool) -> pd.Series:
    """Ranks of mean scores (1 = best); means equal to :data:`TIE_DIGITS` significant digits
    tie and share the average of their ranks."""
    rounded = means.map(lambda v: float(f"{v:.{TIE_DIGITS}g}") if pd.notna(v) else v)
    return rounded.rank(method="average", ascending=not higher_is_better)


def rank_table(means: pd.DataFrame, higher_is_better: pd.Series) -> pd.DataFrame:
    """Cells x models of mean scores -> cells x models of ranks (each cell in the direction
    of its metric; missing scores stay missing)."""
    return means.apply(lambda row: rank_scores(row, bool(higher_is_better[row.name])), axis=1)


def common_block(
    present: pd.DataFrame, min_columns: int = 2, keep: tuple = ()
) -> tuple[list, list]:
    """Rows (models) and columns (cells) such that every kept model has every kept column:
    start from all models; while fewer than `min_columns` columns are common to them, leave out
    the model (never one of `keep`) whose absence leaves the most common columns (ties: the one
    with fewer columns, then the later one). ([], []) when no two models share `min_columns`
    columns."""
    present = present.fillna(False).astype(bool)
    models = list(present.index)
    while len(models) >= 2:
        common = present.loc[models].all(axis=0)
        if common.sum() >= min_columns:
            return models, [c for c in present.columns if common[c]]

        def gain(model):
            rest = [m for m in models if m != model]
            return (
                present.loc[rest].all(axis=0).sum(),
                -present.loc[model].sum(),
                models.index(model),
            )

        candidates = [m for m in models if m not in keep]
        if not candidates:
            break
        models.remove(max(candidates, key=gain))
    return [], []


@dataclass
class Friedman:
    """The Friedman test over `n` cells and `k` models and the Nemenyi post-hoc."""

    k: int
    n: int
    statistic: float
    p: float
    mean_ranks: pd.Series
    critical_difference: float
    pairwise_p: pd.DataFrame
    alpha: float = ALPHA


def nemenyi_critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """CD = q_alpha sqrt(k (k + 1) / (6 n)), q_alpha = studentized range quantile / sqrt(2)."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def nemenyi_p(mean_ranks: pd.Series, n: int) -> pd.DataFrame:
    """Pairwise Nemenyi p-values: P(range of k standard normals > sqrt(2) |R_i - R_j| / se),
    se = sqrt(k (k + 1) / (6 n))."""
    k = len(mean_ranks)
    se = math.sqrt(k * (k + 1) / (6 * n))
    gaps = np.abs(mean_ranks.to_numpy()[:, None] - mean_ranks.to_numpy()[None, :])
    p = stats.studentized_range.sf(gaps / se * math.sqrt(2), k, np.inf)
    np.fill_diagonal(p, 1.0)
    return pd.DataFrame(p, index=mean_ranks.index, columns=mean_ranks.index)


def friedman(ranks: pd.DataFrame, alpha: float = ALPHA) -> Friedman:
    """Friedman test and Nemenyi post-hoc on a complete table of ranks (cells x models, at
    least 3 models and 2 cells)."""
    n, k = ranks.shape
    if k < 3 or n < 2 or ranks.isna().any().any():
        raise ValueError(f"Friedman needs >= 3 models and >= 2 complete cells, got {k} x {n}")
    result = stats.friedmanchisquare(*(ranks[c].to_numpy(float) for c in ranks.columns))
    mean_ranks = ranks.mean(axis=0).sort_values(kind="stable")
    return Friedman(
        k=k,
        n=n,
        statistic=float(result.statistic),
        p=float(result.pvalue),
        mean_ranks=mean_ranks,
        critical_difference=nemenyi_critical_difference(k, n, alpha),
        pairwise_p=nemenyi_p(mean_ranks, n),
        alpha=alpha,
    )


def sign_test(a_ranks: pd.Series, b_ranks: pd.Series) -> tuple[int, int, int, float]:
    """(wins of a, losses, ties, two-sided sign-test p over the cells with a winner)."""
    wins = int((a_ranks < b_ranks).sum())
    losses = int((a_ranks > b_ranks).sum())
    ties = int((a_ranks == b_ranks).sum())
    p = stats.binomtest(wins, wins + losses).pvalue if wins + losses else math.nan
    return wins, losses, ties, float(p)


def cliques(mean_ranks: pd.Series, critical_difference: float) -> list[tuple[int, int]]:
    """Maximal runs (first, last position in `mean_ranks`, sorted ascending) of models whose
    mean ranks lie within the critical difference: the bars of a CD diagram."""
    values = mean_ranks.to_numpy(float)
    runs = []
    for first in range(len(values)):
        last = first
        while last + 1 < len(values) and values[last + 1] - values[first] <= critical_difference:
            last += 1
        if last > first and not any(f <= first and last <= e for f, e in runs):
            runs.append((first, last))
    return runs
