"""Wrong implementations of the book's exercises, one table per chapter, as data for the tests.

Each ``chNN.py`` here holds ``WRONG = {exercise id: {misconception name: [wrong fn, ...]}}``:
for every misconception that ``l2bayes.exercises.chNN`` names, one or more
implementations that make exactly that mistake. The registry test
(``tests/test_exercise_registry.py``) checks that each is caught and named, and
that the tables cover every declared misconception, so a new misconception
without a wrong implementation fails. Modules are found by name, as the specs
are.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

_CHAPTER_MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"ch\d\d", m.name))

#: Every chapter's table, merged: exercise id -> {misconception name -> [wrong implementations]}.
WRONG: dict[str, dict[str, list]] = {}
for _name in _CHAPTER_MODULES:
    _table = importlib.import_module(f"{__name__}.{_name}").WRONG
    _clash = set(_table) & set(WRONG)
    if _clash:
        raise ValueError(f"exercise ids {sorted(_clash)} have wrong implementations in two chapter tables")
    WRONG.update(_table)

#: ``(exercise id, misconception name, k, wrong fn)``, one row per wrong implementation.
CASES = [(i, name, k, fn) for i, table in WRONG.items() for name, fns in table.items() for k, fn in enumerate(fns)]
