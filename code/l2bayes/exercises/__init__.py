"""Exercises with instant feedback: ``assert check("ch01-penalty-grad", penalty_grad)``.

Each exercise is written once, in its chapter notebook: the statement in a
sphinx-exercise block, the reference solution as a function in a code cell
tagged ``solution``, then a check cell. This package holds, per exercise, only
the checking spec (cases, tolerances, misconceptions; see :mod:`.spec` and
``ch01.py``) and reads the reference from the chapter notebook.

``check`` is the one function here that prints: it is what a reader calls in a
notebook. :func:`evaluate` does the same work without printing.

To add a chapter's exercises, write ``chNN.py`` beside ``ch01.py`` (a tuple
``EXERCISES`` of :class:`Exercise`; inputs and answers may be floats, numpy
arrays or torch tensors) (found by name: every ``chNN`` module in this package is read).
"""

from __future__ import annotations

import secrets

import importlib
import pkgutil
import re

import l2bayes.exercises as _package
from l2bayes.exercises.judge import CaseResult, CheckResult, Outcome, draw_cases, judge, run_local
from l2bayes.exercises.notebooks import chapters_dir, load_reference
from l2bayes.exercises.spec import Case, Exercise, Misconception, Opaque, close, same

#: Every exercise of the book, by id, in book order.
_CHAPTER_MODULES = sorted(m.name for m in pkgutil.iter_modules(_package.__path__) if re.fullmatch(r"ch\d\d", m.name))
EXERCISES: dict[str, Exercise] = {
    ex.id: ex
    for name in _CHAPTER_MODULES
    for ex in importlib.import_module(f"l2bayes.exercises.{name}").EXERCISES
}

__all__ = [
    "EXERCISES",
    "Case",
    "CaseResult",
    "CheckResult",
    "Exercise",
    "Misconception",
    "Opaque",
    "Outcome",
    "chapters_dir",
    "check",
    "close",
    "evaluate",
    "exercise_ids",
    "get_exercise",
    "load_reference",
    "reference",
    "same",
]


def exercise_ids(chapter: str | None = None) -> tuple[str, ...]:
    """Ids of all exercises, or of those of one chapter (notebook stem), in book order."""
    return tuple(i for i, ex in EXERCISES.items() if chapter is None or ex.chapter == chapter)


def get_exercise(exercise_id: str) -> Exercise:
    """The spec of ``exercise_id``; ``ValueError`` listing the known ids if there is none."""
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        known = ", ".join(EXERCISES)
        raise ValueError(f"exercise_id {exercise_id!r} is not an exercise; known ids: {known}") from None


def reference(exercise_id: str, chapters=None):
    """The reference solution of ``exercise_id``, read from its chapter's solution cell."""
    ex = get_exercise(exercise_id)
    return load_reference(ex.chapter, ex.function, chapters)


def evaluate(exercise_id: str, fn, *, seed: int | None = None, chapters=None) -> CheckResult:
    """Check ``fn`` against the reference without printing; see :func:`check`."""
    ex = get_exercise(exercise_id)
    if not callable(fn):
        raise ValueError(f"fn must be the function to check, got {type(fn).__name__}")
    if seed is None:
        seed = secrets.randbits(32)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ref = reference(exercise_id, chapters)
    cases = draw_cases(ex, seed)
    expected = [run_local(ex, ref, case) for case in cases]
    broken = [o for o in expected if o.kind != "returned"]
    if broken:
        raise RuntimeError(f"the reference solution of {exercise_id} failed: {broken[0].error_type}: {broken[0].detail}")
    outcomes = [run_local(ex, fn, case) for case in cases]
    return judge(ex, cases, [o.value for o in expected], outcomes, seed=seed)


def check(exercise_id: str, fn, *, seed: int | None = None, chapters=None) -> CheckResult:
    """Check ``fn`` on fresh random cases and fixed edge cases, print the verdict, return it.

    Parameters
    ----------
    exercise_id : str
        The exercise, e.g. ``"ch01-penalty-grad"`` (``python -m l2bayes.exercises --list``).
    fn : callable
        Your function.
    seed : int, optional
        Draw the random cases from this seed (the failure message names the
        seed, so a failure can be replayed); fresh cases when omitted.
    chapters : path, optional
        Folder of chapter notebooks holding the reference solutions.

    Returns
    -------
    CheckResult
        Truthy iff every case passed, so a check cell reads ``assert check(...)``.
        The printed message says what was checked, or shows the first failing
        case (inputs, expected, got), names a recognised misconception, and
        gives a hint. An exception in ``fn`` is reported, not raised.
    """
    result = evaluate(exercise_id, fn, seed=seed, chapters=chapters)
    print(result.message)
    return result
