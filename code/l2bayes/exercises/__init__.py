"""Exercises with instant feedback: ``assert check("ch01-penalty-grad", penalty_grad)``.

Each exercise is written once, in its chapter notebook: the statement in a
sphinx-exercise block, the reference solution as a function in a code cell
tagged ``solution``, then a check cell. This package holds, per exercise, only
the checking spec (cases, tolerances, misconceptions; see :mod:`.spec` and
``ch01.py``) and reads the reference from the chapter notebook.

Where the expected values come from: in the repository, the reference
solutions of the chapter notebooks, run on fresh cases. In the student bundle,
whose wheel carries no reference, the public case bank (:mod:`.bank`): the
cases of one public seed with the outputs the references gave. The verdict,
misconception and hint are computed the same way from either.

``check`` is the one function here that prints: it is what a reader calls in a
notebook. :func:`evaluate` does the same work without printing.

To add a chapter's exercises, write ``chNN.py`` beside ``ch01.py`` (a tuple
``EXERCISES`` of :class:`Exercise`; inputs and answers may be floats, numpy
arrays or torch tensors) (found by name: every ``chNN`` module in this package is read).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import secrets

import l2bayes.exercises as _package
from l2bayes.exercises.judge import CaseResult, CheckResult, Outcome, draw_cases, judge, run_local
from l2bayes.exercises import bank
from l2bayes.exercises.notebooks import CHAPTERS_ENV, chapters_dir, load_reference
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
    "uses_bank",
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


def uses_bank(chapters=None) -> bool:
    """Whether :func:`evaluate` compares with the case bank: no ``chapters`` given, none in the
    environment, and a bank installed (the student wheel); otherwise it runs the references."""
    return chapters is None and not os.environ.get(CHAPTERS_ENV) and bank.available()


def evaluate(exercise_id: str, fn, *, seed: int | None = None, chapters=None) -> CheckResult:
    """Check ``fn`` against the reference, or the case bank, without printing; see :func:`check`."""
    ex = get_exercise(exercise_id)
    if not callable(fn):
        raise ValueError(f"fn must be the function to check, got {type(fn).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if uses_bank(chapters):
        public, cases, expected = bank.load(exercise_id)
        if seed is not None and seed != public:
            raise ValueError(
                f"seed must be {public} (or omitted) here: without the reference solutions, check uses the "
                f"public cases of seed {public}; other seeds need the book's chapters (chapters=...)"
            )
        seed = public
    else:
        if seed is None:
            seed = secrets.randbits(32)
        ref = reference(exercise_id, chapters)
        cases = draw_cases(ex, seed)
        outcomes = [run_local(ex, ref, case) for case in cases]
        broken = [o for o in outcomes if o.kind != "returned"]
        if broken:
            raise RuntimeError(f"the reference solution of {exercise_id} failed: {broken[0].error_type}: {broken[0].detail}")
        expected = [o.value for o in outcomes]
    outcomes = [run_local(ex, fn, case) for case in cases]
    return judge(ex, cases, expected, outcomes, seed=seed)


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
        seed, so a failure can be replayed); fresh cases when omitted. With
        the case bank (the student bundle) the cases are those of the bank's
        public seed, and only that seed is accepted.
    chapters : path, optional
        Folder of chapter notebooks holding the reference solutions (this
        also turns the case bank off).

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
