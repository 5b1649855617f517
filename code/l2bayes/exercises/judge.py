"""Judging answers: draw cases, compare outcomes with the reference, name misconceptions.

The steps are separate so that the same judgement serves two callers:

* :func:`l2bayes.exercises.check` calls the student's function in the
  notebook's own process (:func:`run_local`);
* the batch grader calls it in a sandboxed worker and brings the outcomes
  back to its own process, where :func:`judge` compares them.

Either way an :class:`Outcome` per case goes in and a :class:`CheckResult`
(truthy iff every case passed, with a message for the student) comes out.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from l2bayes.exercises.inputs import mark_copies, tensor_ids
from l2bayes.exercises.spec import Case, Exercise, Misconception, describe, show


@dataclass(frozen=True)
class Outcome:
    """What happened when the function under test met one case.

    ``kind`` is ``"returned"`` (with ``value``), ``"raised"`` (``error_type``
    and ``detail`` give the exception) or ``"lost"`` (the call never finished:
    a time limit, a crash; ``detail`` says which).
    """

    kind: str
    value: Any = None
    error_type: str = ""
    detail: str = ""

    @classmethod
    def returned(cls, value) -> "Outcome":
        return cls("returned", value=value)

    @classmethod
    def raised(cls, error_type: str, detail: str) -> "Outcome":
        return cls("raised", error_type=error_type, detail=detail)

    @classmethod
    def lost(cls, detail: str) -> "Outcome":
        return cls("lost", detail=detail)

    @property
    def not_implemented(self) -> bool:
        return self.kind == "raised" and self.error_type == "NotImplementedError"


@dataclass(frozen=True, eq=False)
class CaseResult:
    """One case judged: ``reason`` is ``None`` when it passed."""

    case: Case
    expected: Any
    outcome: Outcome
    reason: str | None

    @property
    def passed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, eq=False)
class CheckResult:
    """The verdict on one function for one exercise; truthy iff every case passed."""

    exercise: Exercise
    seed: int
    results: tuple[CaseResult, ...]
    misconception: Misconception | None = None
    message: str = ""

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def fraction(self) -> float:
        """Share of cases passed: the partial credit."""
        return self.n_passed / len(self.results) if self.results else 0.0

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"<CheckResult {self.exercise.id}: {self.n_passed}/{len(self.results)} cases passed>"


def case_rng(exercise: Exercise, seed: int) -> np.random.Generator:
    """The generator for ``exercise``'s random cases: depends on the seed and the id only."""
    return np.random.default_rng([seed, zlib.crc32(exercise.id.encode())])


def draw_cases(exercise: Exercise, seed: int) -> list[Case]:
    """``exercise.n_random`` random cases from ``seed``, then the fixed edge cases."""
    rng = case_rng(exercise, seed)
    cases = [Case(exercise.random_case(rng), "random") for _ in range(exercise.n_random)]
    return cases + list(exercise.edge_cases)


def arguments(exercise: Exercise, case: Case) -> list:
    """The positional arguments for ``case``, deep-copied so a call cannot change the case."""
    return [copy.deepcopy(case.inputs[p]) for p in exercise.params]


def run_local(exercise: Exercise, fn, case: Case) -> Outcome:
    """Call ``fn`` on ``case`` in this process; any exception (and ``sys.exit``) becomes an outcome."""
    args = arguments(exercise, case)
    try:
        # Tensors of the answer that are not the arguments themselves are marked (inputs.mark_copies), as
        # the batch grader's worker marks them before they cross the wire: a copy is told from the original.
        return Outcome.returned(mark_copies(fn(*args), tensor_ids(args)))
    except (Exception, SystemExit) as exc:  # a student's bug is a verdict, not a crash
        return Outcome.raised(type(exc).__name__, _exception_text(exc))


def _exception_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the function called sys.exit({exc.code!r})"
    return str(exc)[:500]


def judge(exercise: Exercise, cases, expected, outcomes, *, seed: int) -> CheckResult:
    """Compare each outcome with the expected value and write the message."""
    if not (len(cases) == len(expected) == len(outcomes)):
        raise ValueError(
            f"cases, expected and outcomes must have one entry per case, got "
            f"{len(cases)}, {len(expected)} and {len(outcomes)}"
        )
    results = tuple(
        CaseResult(case, want, got, _reason(exercise, want, got))
        for case, want, got in zip(cases, expected, outcomes)
    )
    misconception = diagnose(exercise, results)
    partial = CheckResult(exercise, seed, results, misconception)
    return CheckResult(exercise, seed, results, misconception, message=format_message(partial))


def _reason(exercise: Exercise, expected, outcome: Outcome) -> str | None:
    if outcome.kind == "returned":
        try:
            return exercise.compare(expected, outcome.value)
        except Exception as exc:  # noqa: BLE001 - an odd value must not break the checker
            return f"the answer could not be compared ({type(exc).__name__}: {exc}); got {describe(outcome.value)}"
    if outcome.not_implemented:
        return "not implemented yet"
    if outcome.kind == "raised":
        return f"your function raised {outcome.error_type}: {outcome.detail}".rstrip(": ")
    return outcome.detail


def diagnose(exercise: Exercise, results) -> Misconception | None:
    """The first misconception whose detector matches every failed case that returned a value."""
    failed = [r for r in results if not r.passed and r.outcome.kind == "returned"]
    if not failed:
        return None
    for m in exercise.misconceptions:
        if all(_detects(m, r) for r in failed):
            return m
    return None


def _detects(m: Misconception, r: CaseResult) -> bool:
    try:
        return bool(m.detect(r.case.inputs, r.expected, r.outcome.value))
    except Exception:  # noqa: BLE001 - a detector that cannot apply does not match
        return False


def first_reason(results) -> str:
    return next(r.reason for r in results if not r.passed)


def format_message(result: CheckResult) -> str:
    """The feedback printed by ``check`` and stored by the grader."""
    ex, results = result.exercise, result.results
    n = len(results)
    if result.passed:
        n_edge = sum(r.case.label != "random" for r in results)
        return (
            f"✓ {ex.id}: {ex.function} passed all {n} cases ({n - n_edge} random, {n_edge} edge cases).\n"
            f"  Checked: {ex.checks}"
        )
    if all(r.outcome.not_implemented for r in results):
        return (
            f"✗ {ex.id}: {ex.function} is not implemented yet: replace the "
            f"`raise NotImplementedError` in {ex.signature} with your solution."
        )
    reasons = {r.reason for r in results}
    index, first = next((i + 1, r) for i, r in enumerate(results) if not r.passed)
    inputs = ", ".join(f"{k} = {show(v)}" for k, v in first.case.inputs.items()) or "(none)"
    if len(reasons) == 1 and all(r.outcome.kind != "returned" for r in results):
        # Every case failed the same way (an exception, a time limit): one case's inputs show where.
        lines = [f"✗ {ex.id}: {ex.function} failed all {n} cases: {first_reason(results)}",
                 f"  inputs of case 1: {inputs}"]
        if first.case.hint or ex.hint:
            lines.append(f"  Hint: {first.case.hint or ex.hint}")
        return "\n".join(lines)
    where = "a random case" if first.case.label == "random" else f"the edge case '{first.case.label}'"
    lines = [
        f"✗ {ex.id}: {ex.function} failed {n - result.n_passed} of {n} cases. "
        f"First failure: case {index}, {where}.",
        f"  inputs:   {inputs}",
        f"  expected: {show(first.expected)}",
    ]
    if first.outcome.kind == "returned":
        lines.append(f"  got:      {show(first.outcome.value)}")
        lines += _differing_entry(ex, first.expected, first.outcome.value)
    lines.append(f"  problem:  {first.reason}")
    if result.misconception is not None:
        lines.append(f"  Misconception ({result.misconception.name}): {result.misconception.message}")
    elif first.case.hint or ex.hint:
        lines.append(f"  Hint: {first.case.hint or ex.hint}")
    lines.append(f"  (These cases again: check({ex.id!r}, {ex.function}, seed={result.seed}).)")
    return "\n".join(lines)


def _differing_entry(ex: Exercise, expected, got) -> list[str]:
    """For a tuple answer, the first entry that the exercise's comparison rejects, written out in full.

    A tuple's repr is cut at 200 characters, often before the entry that is wrong; each entry is
    judged by putting it alone into the expected tuple and comparing that.
    """
    if not (isinstance(expected, tuple) and isinstance(got, (tuple, list)) and len(got) == len(expected) > 1):
        return []
    for k, entry in enumerate(got):
        hybrid = expected[:k] + (entry,) + expected[k + 1:]
        try:
            wrong = ex.compare(expected, hybrid) is not None
        except Exception:  # noqa: BLE001 - an entry that cannot be compared is the one to show
            wrong = True
        if wrong:
            return [f"  entry {k} of the tuple differs:",
                    f"    expected[{k}]: {show(expected[k])}",
                    f"    got[{k}]:      {show(entry)}"]
    return []
