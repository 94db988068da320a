"""The numbers of an experiment: a mean score and its 95 % Student-t interval, plain arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054
# The 0.975 quantile of Student's t with 1-30 degrees of freedom; past 30 a Cornish-Fisher expansion
# of the normal quantile (within 1e-4 of the exact value there).
_T95 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604,
        2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555,
        2.0518, 2.0484, 2.0452, 2.0423)


def t95(df: int) -> float:
    """The two-sided 95 % critical value of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a t interval needs at least one degree of freedom")
    if df <= len(_T95):
        return _T95[df - 1]
    z = Z95
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(scores: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95 % t interval, mean ± t(0.975, n-1) · s / √n.

    s is the sample standard deviation (n - 1 in the denominator). One score has a mean and no
    interval (NaN, NaN); none has neither.
    """
    n = len(scores)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(scores) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / (n - 1))
    half = t95(n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half
