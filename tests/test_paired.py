"""benchmarks/paired.py: interleaving and the median paired ratio (timings given, not measured)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("paired", ROOT / "benchmarks" / "paired.py")
paired_module = importlib.util.module_from_spec(_spec)
sys.modules["paired"] = paired_module  # dataclasses look their module up by name
_spec.loader.exec_module(paired_module)


def test_variants_alternate_and_ratios_are_taken_pair_by_pair():
    order, a_times, b_times = [], iter([1.0, 9.0, 1.0, 2.0, 4.0]), iter([2.0, 18.0, 3.0, 4.0, 8.0])

    def run_a():
        order.append("a")
        return next(a_times)

    def run_b():
        order.append("b")
        return next(b_times)

    r = paired_module.paired(run_a, run_b, pairs=4, warmup=1)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    # pairs after the warm-up: (9, 18), (1, 3), (2, 4), (4, 8): ratios 2, 3, 2, 2, although the load
    # changed ninefold between pairs
    assert r.ratio == 2.0 and r.low == 2.0 and r.high == 2.25 and r.pairs == 4
    assert r.a == 3.0 and r.b == 6.0


def test_wall_time_is_measured_when_the_callable_returns_nothing():
    r = paired_module.paired(lambda: None, lambda: sum(range(20_000)) and None, pairs=3, warmup=0)
    assert r.a > 0 and r.b > 0 and r.low <= r.ratio <= r.high


@pytest.mark.parametrize("kw", [{"pairs": 0}, {"pairs": 2.5}, {"warmup": -1}, {"pairs": True}])
def test_bad_counts_are_refused(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        paired_module.paired(lambda: 1.0, lambda: 1.0, **kw)


def test_rounds_rotate_the_order_and_take_ratios_round_by_round():
    order = []
    given = {"a": iter([1.0, 10.0, 2.0]), "b": iter([2.0, 20.0, 4.0]), "c": iter([3.0, 30.0, 7.0])}

    def run(name):
        def fn():
            order.append(name)
            return next(given[name])
        return fn

    r = paired_module.rounds({name: run(name) for name in "abc"}, n=3)
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    # the load changed tenfold between rounds; the ratios within each round did not
    assert r.ratio("b", "a").ratio == 2.0 and r.ratio("b", "a").low == 2.0 and r.ratio("b", "a").high == 2.0
    c = r.ratio("c", "a")
    assert (c.low, c.ratio, c.high) == (3.0, 3.0, 3.25) and c.pairs == 3
    assert r.median("c") == 7.0


def test_rounds_skip_the_warm_up_and_refuse_bad_counts():
    calls = []
    r = paired_module.rounds({"a": lambda: calls.append("a") or 1.0, "b": lambda: 2.0}, n=2, warmup=1)
    assert len(calls) == 3 and r.times == {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    for kw in ({"n": 0}, {"n": True}, {"warmup": -1}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            paired_module.rounds({"a": lambda: 1.0}, **kw)
    with pytest.raises(ValueError, match="runs"):
        paired_module.rounds({})


class Clock:
    """A clock that reads given times, one per call: timings given, not measured."""

    def __init__(self, *readings):
        self.readings = iter(readings)

    def __call__(self):
        return next(self.readings)


def test_paired_and_rounds_read_the_clock_they_are_given():
    # readings: start, end of a, start, end of b (pair 1, a first), then b, a (pair 2)
    r = paired_module.paired(lambda: None, lambda: None, pairs=2, warmup=0, clock=Clock(0, 1, 1, 4, 10, 12, 12, 13))
    # pair 1: a 1, b 3; pair 2: b 2, a 1
    assert (r.a, r.b) == (1.0, 2.5) and (r.low, r.ratio, r.high) == (2.25, 2.5, 2.75)
    q = paired_module.rounds({"a": lambda: None, "b": lambda: None}, n=1, clock=Clock(5, 6, 6, 9))
    assert q.times == {"a": [1], "b": [3]}


def test_sliced_alternates_steps_and_sums_each_variants_steps_within_a_round():
    order = []

    def variant(name, steps):
        def run():
            for k in range(steps):
                order.append(f"{name}{k}")
                yield None
        return run

    # the clock advances half a second per reading: each step (and the call that finds the end) lasts 0.5 s
    ticks = iter(range(1000))
    r = paired_module.sliced({"a": variant("a", 1), "b": variant("b", 3)}, n=2, clock=lambda: next(ticks) * 0.5)
    # round 0: a0 b0 | (a ends) b1 | b2 | (b ends); round 1 starts with b
    assert order == ["a0", "b0", "b1", "b2", "b0", "a0", "b1", "b2"]
    # a: one step and its end, 2 calls of 0.5 s; b: three steps and its end, 4 calls of 0.5 s
    assert r.times == {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    assert r.ratio("b", "a").ratio == 2.0


def test_sliced_takes_yielded_numbers_as_the_steps_times_and_skips_the_warm_up():
    made = []

    def run():
        made.append(1)
        yield 2.0
        yield 3.0

    def ref():
        yield 1.0
        yield 0.5

    r = paired_module.sliced({"ref": ref, "x": run}, n=2, warmup=1, clock=Clock(*range(100)))
    # the call that finds a generator exhausted yields nothing: its clock time (1 s here) counts
    assert len(made) == 3 and r.times == {"ref": [2.5, 2.5], "x": [6.0, 6.0]}
    assert r.ratio("x", "ref").ratio == 2.4


@pytest.mark.parametrize("kw", [{"n": 0}, {"warmup": -1}, {"n": 1.5}, {"clock": 3.0}])
def test_sliced_refuses_bad_arguments(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        paired_module.sliced({"a": lambda: iter([1.0])}, **kw)
    with pytest.raises(ValueError, match="runs"):
        paired_module.sliced({})


def test_rounds_go_on_until_the_recorded_rounds_have_taken_the_seconds_asked_for():
    # a takes 1 s and b 2 s a round: 3 s a round, so 10 s asks for 4 rounds
    r = paired_module.rounds({"a": lambda: 1.0, "b": lambda: 2.0}, n=2, warmup=1, seconds=10.0)
    assert r.times == {"a": [1.0] * 4, "b": [2.0] * 4}
    # at most `most` rounds, and never fewer than n
    r = paired_module.rounds({"a": lambda: 1.0, "b": lambda: 2.0}, n=2, seconds=100.0, most=5)
    assert len(r.times["a"]) == 5
    r = paired_module.rounds({"a": lambda: 10.0}, n=3, seconds=5.0)
    assert len(r.times["a"]) == 3


@pytest.mark.parametrize("kw", [{"seconds": -1.0}, {"seconds": "10"}, {"most": 0}, {"most": 1}])
def test_rounds_refuse_bad_budgets(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        paired_module.rounds({"a": lambda: 1.0}, n=2, **kw)


def test_the_cgroup_clock_reads_v1_nanoseconds_and_v2_microseconds(tmp_path):
    v1, v2, neither = tmp_path / "v1", tmp_path / "v2", tmp_path / "none"
    for d in (v1, v2, neither):
        d.mkdir()
    (v1 / "cpuacct.usage").write_text("2500000000\n")
    (v2 / "cpu.stat").write_text("usage_usec 1750000\nuser_usec 1500000\nsystem_usec 250000\n")
    (neither / "cpu.stat").write_text("user_usec 1\n")
    assert paired_module.cgroup_cpu_seconds(v1) == 2.5
    assert paired_module.cgroup_cpu_seconds(v2) == 1.75
    with pytest.raises(ValueError, match="folder"):
        paired_module.cgroup_cpu_seconds(neither)


def test_no_tree_clock_where_no_cgroup_can_be_made(tmp_path):
    # a folder that is not a cgroup hierarchy (no cgroup.procs), and one whose cgroups count nothing
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "cgroup.procs").write_text("")
    assert paired_module.tree_cpu_clock(roots=(str(tmp_path / "absent"), str(tmp_path / "fake"))) is None
