"""Interval estimates for outcome rates, and paired comparisons on the same mazes.

Example:
    >>> lo, hi = wilson_interval(70, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.604, 0.781)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when ``trials`` is 0."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact bounds at the edges
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


@dataclass(frozen=True)
class Rate:
    """A proportion with its count and Wilson 95% interval."""

    successes: int
    trials: int
    rate: float
    ci: tuple[float, float]

    @classmethod
    def of(cls, successes: int, trials: int) -> Rate:
        """Example:
        >>> Rate.of(3, 4).rate
        0.75
        """
        rate = successes / trials if trials else float("nan")
        return cls(int(successes), int(trials), rate, wilson_interval(successes, trials))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedComparison:
    """Steered vs unsteered outcomes on the same mazes.

    ``only_a``/``only_b``: mazes where only A (only B) had the outcome; the McNemar exact
    p-value tests whether these discordant counts differ; ``difference`` = rate(B) -
    rate(A) with a Wald interval for paired proportions.
    """

    n: int
    rate_a: float
    rate_b: float
    difference: float
    difference_ci: tuple[float, float]
    only_a: int
    only_b: int
    mcnemar_p: float

    def to_dict(self) -> dict:
        return asdict(self)


def mean_interval(values, z: float = Z95,
                  bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float, float]:
    """The mean of ``values`` with its normal-approximation 95% interval (sample standard
    deviation over sqrt(n)), clipped to ``bounds`` (shares: [0, 1]; differences of
    shares: [-1, 1]); the interval is all of ``bounds`` with fewer than two values, and
    the mean NaN without any.

    Example:
        >>> [round(v, 3) for v in mean_interval([0.0, 1.0, 0.5, 0.5])]
        [0.5, 0.1, 0.9]
        >>> mean_interval([-1.0, -1.0], bounds=(-1.0, 1.0))
        (-1.0, -1.0, -1.0)
    """
    values = [float(v) for v in values]
    low, high = bounds
    if not values:
        return float("nan"), low, high
    m = statistics.fmean(values)
    if len(values) == 1:
        return m, low, high
    half = z * statistics.stdev(values) / math.sqrt(len(values))
    return m, max(low, m - half), min(high, m + half)


def binned(rows: list[dict], key: str, edges: Sequence[int]):
    """The ``[low, high)`` bins of ``edges`` with the ``rows`` whose ``key`` falls in
    each, as ``(low, high, inside)``; empty bins are left out.

    Example:
        >>> rows = [{"d": 1}, {"d": 2}, {"d": 7}]
        >>> [(low, high, len(inside)) for low, high, inside in binned(rows, "d", [0, 5, 10, 20])]
        [(0, 5, 2), (5, 10, 1)]
    """
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = [r for r in rows if low <= r[key] < high]
        if inside:
            yield low, high, inside


def paired_comparison(a: list[bool], b: list[bool], z: float = Z95) -> PairedComparison:
    """Compare two outcome lists measured on the same mazes, in the same order.

    Example:
        >>> c = paired_comparison([True] * 10, [False] * 8 + [True] * 2)
        >>> c.only_a, c.only_b, c.difference
        (8, 0, -0.8)
    """
    if len(a) != len(b):
        raise ValueError(f"paired lists differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        raise ValueError("no pairs to compare")
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    diff = (only_b - only_a) / n
    var = max(0.0, (only_a + only_b) / n - diff * diff) / n
    half = z * math.sqrt(var)
    return PairedComparison(
        n=n,
        rate_a=sum(map(bool, a)) / n,
        rate_b=sum(map(bool, b)) / n,
        difference=diff,
        difference_ci=(max(-1.0, diff - half), min(1.0, diff + half)),
        only_a=only_a,
        only_b=only_b,
        mcnemar_p=mcnemar_exact_p(only_a, only_b),
    )


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of the discordant pairs at 1/2."""
    k, m = min(only_a, only_b), only_a + only_b
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(k + 1)) / 2**m
    return min(1.0, 2 * tail)
