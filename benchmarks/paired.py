"""Paired timing for a shared, noisy machine: variants interleaved, ratios taken pair by pair.

Timing A for a while and then B for a while lets a change in the machine's load
between the two land in the ratio (one run of a step-time benchmark read a worst
ratio of 3.94, the next 1.25). :func:`paired` instead runs A, B, A, B, ...,
alternating which goes first in each pair, and takes the ratio B/A within each
pair, whose two halves ran a few milliseconds apart under the same load. The
median of those ratios is the estimate; the spread reported beside it is the
interquartile range of the ratios, so a reader sees how much to trust it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Paired:
    """The result of :func:`paired`: median times and the median B/A ratio with its quartiles."""

    a: float
    b: float
    ratio: float
    low: float
    high: float
    pairs: int

    def spread(self) -> str:
        return f"[{self.low:.3f}, {self.high:.3f}]"

    def __str__(self) -> str:
        return f"{self.ratio:.3f} (IQR {self.spread()}, {self.pairs} pairs)"


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (``statistics.quantiles``, inclusive method)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def paired(run_a: Callable[[], float | None], run_b: Callable[[], float | None], pairs: int = 15,
           warmup: int = 2) -> Paired:
    """Time ``run_a`` and ``run_b`` interleaved, ``pairs`` times each after ``warmup`` unrecorded pairs.

    Each callable does one measured unit of work. If it returns a number, that
    number is taken as its time in seconds (for work that times itself, such as
    a page load); otherwise its wall time is measured here.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, int) or pairs < 1:
        raise ValueError(f"pairs must be a positive integer, got {pairs!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")

    def timed(fn) -> float:
        start = time.perf_counter()
        out = fn()
        return float(out) if isinstance(out, (int, float)) and not isinstance(out, bool) else time.perf_counter() - start

    times_a, times_b = [], []
    for i in range(warmup + pairs):
        if i % 2 == 0:
            ta = timed(run_a)
            tb = timed(run_b)
        else:
            tb = timed(run_b)
            ta = timed(run_a)
        if i >= warmup:
            times_a.append(ta)
            times_b.append(tb)
    low, ratio, high = quartiles([b / a for a, b in zip(times_a, times_b)])
    return Paired(statistics.median(times_a), statistics.median(times_b), ratio, low, high, pairs)


@dataclass(frozen=True)
class Rounds:
    """The result of :func:`rounds`: each variant's time in every round, in the same order of rounds."""

    times: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, reference: str) -> Paired:
        """The median of ``name``/``reference`` taken round by round, with its quartiles."""
        a, b = self.times[reference], self.times[name]
        low, ratio, high = quartiles([tb / ta for ta, tb in zip(a, b)])
        return Paired(statistics.median(a), statistics.median(b), ratio, low, high, len(a))


def rounds(runs: dict[str, Callable[[], float | None]], n: int = 5, warmup: int = 0) -> Rounds:
    """Run every variant of ``runs`` once per round, ``n`` recorded rounds after ``warmup`` unrecorded ones.

    The generalisation of :func:`paired` to more than two variants: round ``i``
    runs them in the order of ``runs`` rotated by ``i``, so that no variant is
    always first (a cold cache) or last (after the others' garbage), and every
    ratio is taken within a round, whose variants ran close together in time.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if not runs:
        raise ValueError("runs must name at least one variant")
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + n):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = _timed(runs[name])
            if i >= warmup:
                times[name].append(seconds)
    return Rounds(times)


def _timed(fn) -> float:
    start = time.perf_counter()
    out = fn()
    return float(out) if isinstance(out, (int, float)) and not isinstance(out, bool) else time.perf_counter() - start
