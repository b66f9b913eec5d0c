"""Capacity: how much information a readout recovers, in bits (docs/measurements.md).

A classifier with accuracy a over C equiprobable classes, whose errors are spread evenly over the
C - 1 wrong classes, is a C-ary symmetric channel. Its mutual information is

    I(a) = log2 C + a log2 a + (1 - a) log2((1 - a) / (C - 1))          [bits]

with 0 log2 0 = 0: I(1/C) = 0 (chance), I(1) = log2 C, strictly increasing on [1/C, 1]. On NAR any
of the N keys can be asked for, so a readout at accuracy a holds N * I(a) bits about the N values
(the "stored bits"). Over a sweep of N, the capacity threshold is the largest N still recalled at
mean accuracy >= 0.9, and the peak stored bits is the most the model ever held.

Every function accepts Python numbers, numpy arrays or pandas Series (the per-point functions
broadcast and keep a Series' index); sweep functions return floats.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "capacity_table",
    "capacity_threshold",
    "information_bits",
    "peak_stored_bits",
    "stored_bits",
]


def _like(value, template):
    """`value` (ndarray) as a float for scalar input, a Series for Series input, else an array."""
    if isinstance(template, pd.Series):
        return pd.Series(value, index=template.index, name=template.name)
    if np.ndim(value) == 0 and np.ndim(template) == 0:
        return float(value)
    return value


def information_bits(acc, num_classes, clip: bool = True):
    """I(a) in bits recovered at accuracy `acc` over `num_classes` = C equiprobable classes.

        I(a) = log2 C + a log2 a + (1 - a) log2((1 - a) / (C - 1)),   0 log2 0 := 0

    so I(1) = log2 C and I(0) = log2(C / (C - 1)). The formula is >= 0 everywhere with its minimum
    0 at chance a = 1/C. Below chance it rises again (knowing which class it is *not*); here such
    accuracies are sampling noise around chance, so with `clip` (default) I(a) = 0 for a <= 1/C,
    which makes I non-decreasing on [0, 1]. `clip=False` gives the formula as written.

    Args:
        acc: accuracy in [0, 1] (number, array or Series; NaN propagates).
        num_classes: C >= 2 (broadcasts against `acc`).
        clip: zero below chance.

    Returns:
        I(a), same shape (and Series index) as `acc`.
    """
    a = np.asarray(acc, dtype=float)
    c = np.asarray(num_classes, dtype=float)
    if np.any(c < 2):
        raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
    if np.any((a < 0) | (a > 1)):
        raise ValueError(f"accuracy must lie in [0, 1], got {acc!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        hit = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1.0)), 0.0)
        miss_p = (1 - a) / (c - 1)
        miss = np.where(a < 1, (1 - a) * np.log2(np.where(a < 1, miss_p, 1.0)), 0.0)
    bits = np.log2(c) + hit + miss
    bits = np.where(np.isnan(a), np.nan, np.maximum(bits, 0.0))  # rounding: never below 0
    if clip:
        bits = np.where(a <= 1 / c, 0.0, bits)
    return _like(bits, acc)


def stored_bits(acc, num_classes, num_keys, clip: bool = True):
    """N * I(a): bits held about N independently queryable values (NAR: N keys, C classes).

    Args:
        acc: accuracy a in [0, 1].
        num_classes: C >= 2.
        num_keys: N (broadcasts).
        clip: as in :func:`information_bits`.

    Returns:
        N * I(a), same shape as `acc`; at most N log2 C.
    """
    bits = np.asarray(information_bits(acc, num_classes, clip), dtype=float)
    return _like(np.asarray(num_keys, dtype=float) * bits, acc)


def _sweep(sizes, accs) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (sizes, accs) with NaN accuracies dropped; checks unique positive sizes."""
    n = np.asarray(sizes, dtype=float).reshape(-1)
    a = np.asarray(accs, dtype=float).reshape(-1)
    if n.shape != a.shape:
        raise ValueError(f"sizes and accuracies differ in length: {n.shape[0]} vs {a.shape[0]}")
    keep = ~np.isnan(a)
    n, a = n[keep], a[keep]
    if np.any(n <= 0):
        raise ValueError(f"sizes must be positive, got {n.tolist()}")
    if len(np.unique(n)) != len(n):
        raise ValueError(f"sizes must be unique (aggregate over seeds first), got {n.tolist()}")
    order = np.argsort(n)
    return n[order], a[order]


def capacity_threshold(sizes, mean_accs, level: float = 0.9) -> float:
    """The largest problem size N whose mean accuracy is >= `level`, interpolated in log N.

    With the sweep sorted by N, let i be the **last** point with acc_i >= level. If a larger point
    i + 1 exists (acc_{i+1} < level by the choice of i), the threshold is where the straight line
    between (log N_i, acc_i) and (log N_{i+1}, acc_{i+1}) crosses `level`:

        log N* = log N_i + (acc_i - level) / (acc_i - acc_{i+1}) * (log N_{i+1} - log N_i)

    so N_i <= N* < N_{i+1}. A dip below the level followed by a recovery counts the recovery
    (the largest N at or above the level wins).

    Edge cases:
        - every point at or above the level: the largest N (a lower bound, nothing to interpolate);
        - no point at or above the level: NaN (the threshold lies below the smallest N tested);
        - NaN accuracies are ignored; an empty sweep gives NaN.

    Args:
        sizes: [P] distinct positive sizes N (any order).
        mean_accs: [P] mean accuracy at each size (over seeds).
        level: accuracy level (default 0.9).

    Returns:
        N* as a float.
    """
    n, a = _sweep(sizes, mean_accs)
    above = np.nonzero(a >= level)[0]
    if len(above) == 0:
        return math.nan
    i = above[-1]
    if i == len(n) - 1:
        return float(n[i])
    t = (a[i] - level) / (a[i] - a[i + 1])
    return float(np.exp(np.log(n[i]) + t * (np.log(n[i + 1]) - np.log(n[i]))))


def peak_stored_bits(sizes, mean_accs, num_classes=None, clip: bool = True) -> float:
    """max over the sweep of N * I(acc_N) with C classes (default C = N, NAR's default).

    Args:
        sizes: [P] sizes N (number of keys).
        mean_accs: [P] mean accuracy at each size.
        num_classes: C per point ([P] or a number); None: C = N.
        clip: as in :func:`information_bits`.

    Returns:
        The peak in bits (NaN for an empty sweep).
    """
    n = np.asarray(sizes, dtype=float).reshape(-1)
    c = n if num_classes is None else np.broadcast_to(np.asarray(num_classes, dtype=float), n.shape)
    bits = np.asarray(stored_bits(mean_accs, c, n, clip), dtype=float).reshape(-1)
    return float(np.nanmax(bits)) if np.any(~np.isnan(bits)) else math.nan


def capacity_table(
    runs: pd.DataFrame,
    by: list[str],
    size: str = "size/num_keys",
    acc: str = "score",
    num_classes: str | None = "cap/num_classes",
    level: float = 0.9,
) -> pd.DataFrame:
    """Per group of a sweep: capacity threshold and peak stored bits from per-run rows.

    Accuracies are first averaged over the runs (seeds) of each (group, size); the threshold and
    the peak are taken over those means (stored bits at the mean accuracy).

    Args:
        runs: one row per run (e.g. the result.json files as a DataFrame).
        by: grouping columns, e.g. ["task", "model", "variant"].
        size: column with N.
        acc: column with the accuracy.
        num_classes: column with C; None or a missing column: C = N.
        level: accuracy level for the threshold.

    Returns:
        DataFrame indexed by `by` with columns `capacity_n`, `peak_bits`, `peak_bits_n` (the N of
        the peak), `sizes` (number of sweep points) and `seeds` (total runs).
    """
    rows = []
    for key, group in runs.groupby(by, dropna=False, sort=True):
        cols = {acc: "mean"}
        has_c = num_classes is not None and num_classes in group
        if has_c:
            cols[num_classes] = "first"
        mean = group.groupby(size).agg(cols).sort_index()
        c = mean[num_classes] if has_c else None
        bits = stored_bits(
            mean[acc], mean.index.to_numpy() if c is None else c, mean.index.to_numpy()
        )
        rows.append(
            dict(
                zip(by, key if isinstance(key, tuple) else (key,), strict=True),
                capacity_n=capacity_threshold(mean.index, mean[acc], level),
                peak_bits=peak_stored_bits(mean.index, mean[acc], c),
                peak_bits_n=float(bits.idxmax()) if bits.notna().any() else math.nan,
                sizes=len(mean),
                seeds=len(group),
            )
        )
    return pd.DataFrame(rows).set_index(by)
