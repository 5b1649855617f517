"""Paired timing for a shared, noisy machine: variants interleaved, ratios taken pair by pair.

Timing A for a while and then B for a while lets a change in the machine's load
between the two land in the ratio (one run of a step-time benchmark read a worst
ratio of 3.94, the next 1.25). :func:`paired` instead runs A, B, A, B, ...,
alternating which goes first in each pair, and takes the ratio B/A within each
pair, whose two halves ran a few milliseconds apart under the same load. The
median of those ratios is the estimate; the spread reported beside it is the
interquartile range of the ratios, so a reader sees how much to trust it.

Two refinements, for what that leaves. ``clock=time.process_time`` times each
unit by this process's CPU time, which a unit preempted by another program does
not see (the wall time does, whole). :func:`sliced` interleaves variants that
each take seconds much more finely: each is a sequence of steps, and the steps of
the variants alternate, so the load a round saw is the same for all of them.
:func:`tree_cpu_clock` reads the CPU time of this process and of every process
it has started, ended or not (a cgroup of its own), for work done in children
that ``resource.getrusage`` does not see, such as sandboxes.
"""

from __future__ import annotations

import atexit
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterable


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
           warmup: int = 2, clock: Callable[[], float] = time.perf_counter) -> Paired:
    """Time ``run_a`` and ``run_b`` interleaved, ``pairs`` times each after ``warmup`` unrecorded pairs.

    Each callable does one measured unit of work. If it returns a number, that
    number is taken as its time in seconds (for work that times itself, such as
    a page load); otherwise its time is measured here with ``clock`` (the wall
    time by default; ``time.process_time`` for this process's CPU time).
    """
    _check_counts(pairs=pairs, warmup=warmup, clock=clock)

    def timed(fn) -> float:
        return _timed(fn, clock)

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


def rounds(runs: dict[str, Callable[[], float | None]], n: int = 5, warmup: int = 0,
           clock: Callable[[], float] = time.perf_counter, seconds: float = 0.0,
           most: int | None = None) -> Rounds:
    """Run every variant of ``runs`` once per round, ``n`` recorded rounds after ``warmup`` unrecorded ones.

    The generalisation of :func:`paired` to more than two variants: round ``i``
    runs them in the order of ``runs`` rotated by ``i``, so that no variant is
    always first (a cold cache) or last (after the others' garbage), and every
    ratio is taken within a round, whose variants ran close together in time.

    With ``seconds``, rounds go on after the ``n``-th until the recorded rounds
    have taken ``seconds`` in all (every variant's time counted), or ``most``
    rounds have been recorded: variants that take a second or less get more
    rounds, so a median that one disturbed round cannot move.
    """
    _check_counts(n=n, warmup=warmup, clock=clock)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds >= 0:
        raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
    if most is not None:
        _check_counts(most=most, clock=clock)
        if most < n:
            raise ValueError(f"most must be at least n ({n}), got {most}")
    if not runs:
        raise ValueError("runs must name at least one variant")
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    spent, i = 0.0, 0
    while i < warmup + n or (spent < seconds and (most is None or i - warmup < most)):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            t = _timed(runs[name], clock)
            if i >= warmup:
                times[name].append(t)
                spent += t
        i += 1
    return Rounds(times)


def sliced(runs: dict[str, Callable[[], Iterable]], n: int = 5, warmup: int = 0,
           clock: Callable[[], float] = time.perf_counter) -> Rounds:
    """Like :func:`rounds`, but each variant is a sequence of steps, and the variants' steps alternate.

    ``runs[name]()`` returns an iterable (a generator, typically) whose every
    step (``next``) is one slice of the variant's work. In each round the
    variants advance one step each in turn, in the order of ``runs`` rotated by
    the round's number, until all are exhausted (one with fewer steps drops out
    early); a variant's time in the round is the sum of its steps' times. A
    variant that takes seconds then spreads over the whole round beside the
    others, instead of running in a stretch of its own whose load may differ.
    If a step yields a number, that number is taken as its time in seconds.
    """
    _check_counts(n=n, warmup=warmup, clock=clock)
    if not runs:
        raise ValueError("runs must name at least one variant")
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + n):
        shift = i % len(names)
        order = names[shift:] + names[:shift]
        steps = {name: iter(runs[name]()) for name in order}
        total = dict.fromkeys(order, 0.0)
        while steps:
            for name in [name for name in order if name in steps]:
                start = clock()
                try:
                    out = next(steps[name])
                except StopIteration:
                    del steps[name]
                    out = None
                end = clock()
                total[name] += _seconds(out, start, end)
        if i >= warmup:
            for name in names:
                times[name].append(total[name])
    return Rounds(times)


def _check_counts(clock, **counts) -> None:
    for name, value in counts.items():
        smallest = 0 if name == "warmup" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
            kind = "a non-negative" if smallest == 0 else "a positive"
            raise ValueError(f"{name} must be {kind} integer, got {value!r}")
    if not callable(clock):
        raise ValueError(f"clock must be a callable returning seconds, such as time.process_time, got {clock!r}")


def _seconds(out, start: float, end: float) -> float:
    return float(out) if isinstance(out, (int, float)) and not isinstance(out, bool) else end - start


def _timed(fn, clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    out = fn()
    return _seconds(out, start, clock())


#: Where a cgroup of this process's own may be made: cgroup v1's cpuacct, else a cgroup v2 hierarchy.
CGROUP_ROOTS = ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")


def cgroup_cpu_seconds(folder) -> float:
    """The CPU seconds used by the tasks of the cgroup ``folder`` and its descendants, ended ones included.

    cgroup v1's ``cpuacct.usage`` (nanoseconds) or cgroup v2's ``usage_usec``
    line of ``cpu.stat`` (microseconds).
    """
    usage = os.path.join(folder, "cpuacct.usage")
    if os.path.exists(usage):
        with open(usage) as f:
            return int(f.read().strip()) / 1e9
    with open(os.path.join(folder, "cpu.stat")) as f:
        for line in f:
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    raise ValueError(f"folder {folder!r} holds neither cpuacct.usage nor a usage_usec line in cpu.stat")


def tree_cpu_clock(roots=CGROUP_ROOTS) -> Callable[[], float] | None:
    """A clock of the CPU seconds of this process and of every process it starts, or ``None`` where there is none.

    Moves this process into a new cgroup under the first of ``roots`` that
    allows it (which takes root, and must be done before it starts threads or
    children); processes started afterwards are born in it, and the cgroup keeps
    counting their CPU time after they end, where ``getrusage(RUSAGE_CHILDREN)``
    sees a child only once its own parent has waited for it (a sandbox's
    processes, never). The cgroup is removed at exit.
    """
    pid = str(os.getpid())
    for root in roots:
        if not os.path.exists(os.path.join(root, "cgroup.procs")):
            continue
        try:
            folder = tempfile.mkdtemp(prefix="l2bayes-bench-", dir=root)
        except OSError:
            continue
        try:
            with open(os.path.join(folder, "cgroup.procs"), "w") as f:
                f.write(pid)
            cgroup_cpu_seconds(folder)
        except (OSError, ValueError):
            _leave(root, folder, pid)
            continue
        atexit.register(_leave, root, folder, pid)
        return lambda: cgroup_cpu_seconds(folder)
    return None


def _leave(root: str, folder: str, pid: str) -> None:
    try:
        with open(os.path.join(root, "cgroup.procs"), "w") as f:
            f.write(pid)
        os.rmdir(folder)
    except OSError:
        pass
