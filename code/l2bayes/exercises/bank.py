"""The public case bank: what ``check`` compares with when the reference solutions are not there.

In the repository ``check`` runs the reference solution of the chapter notebook
on fresh cases. The student bundle's wheel has no chapter notebook, so it
carries instead, per exercise, the cases of one public seed (:data:`PUBLIC_SEED`:
the random ones drawn from it, then the fixed edge cases) with the outputs the
reference gave on them. The misconception detectors, comparisons and hints are
the specs' own code (``chNN.py``), shipped as they are. The grader never uses
this bank: it draws fresh hidden cases and runs the references.

Layout, inside the package: ``exercises/bank/index.json`` (format, seed,
exercise ids) and one ``<exercise id>.pickle`` per exercise, so that checking
a chapter-1 exercise does not load the torch tensors of chapter 4. The files
are written by :mod:`l2bayes.publishing.bundle` when it stages the wheel; the
repository has none, and then :func:`available` is ``False``.

Pickle is the format because the inputs include torch parameters that one
answer must be able to share with another; the bank is part of the installed
package, as trusted as its code.
"""

from __future__ import annotations

import json
import pickle
from functools import lru_cache
from importlib import resources
from pathlib import Path

from l2bayes.exercises.spec import Case

#: The seed of the bank's random cases; ``check(..., seed=PUBLIC_SEED)`` in the repository checks the same cases.
PUBLIC_SEED = 2_026_001
FORMAT = "l2bayes-case-bank/1"
INDEX = "index.json"
FOLDER = "bank"


def folder() -> Path:
    """Where the bank is (or would be) in the installed package."""
    return Path(str(resources.files("l2bayes.exercises"))) / FOLDER


def available() -> bool:
    """Whether this installation carries a case bank (the student wheel does, the repository does not)."""
    return (folder() / INDEX).is_file()


@lru_cache(maxsize=1)
def index() -> dict:
    """The bank's index: ``{"format", "seed", "exercises": {id: file name}}``."""
    data = json.loads((folder() / INDEX).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"the case bank at {folder()} has format {data.get('format')!r}, expected {FORMAT!r}")
    return data


@lru_cache(maxsize=64)
def load(exercise_id: str) -> tuple[int, list[Case], list]:
    """``(seed, cases, expected)`` of ``exercise_id`` from the bank; ``ValueError`` if it has none."""
    files = index()["exercises"]
    if exercise_id not in files:
        raise ValueError(f"exercise_id {exercise_id!r} is not in the case bank; it has {', '.join(files)}")
    data = pickle.loads((folder() / files[exercise_id]).read_bytes())
    cases = [Case(c["inputs"], c["label"], c["hint"]) for c in data["cases"]]
    return data["seed"], cases, data["expected"]


def dump(path, exercise_id: str, seed: int, cases, expected) -> None:
    """Write one exercise's cases and expected outputs to ``path`` (used when staging the wheel).

    Inputs and expected values go into one pickle, so an object they share
    stays shared when loaded.
    """
    if len(cases) != len(expected):
        raise ValueError(f"cases and expected must have one entry per case, got {len(cases)} and {len(expected)}")
    data = {
        "id": exercise_id,
        "seed": seed,
        "cases": [{"inputs": dict(c.inputs), "label": c.label, "hint": c.hint} for c in cases],
        "expected": list(expected),
    }
    Path(path).write_bytes(pickle.dumps(data, protocol=4))


def write_index(dest, seed: int, files: dict[str, str]) -> None:
    """Write the bank's ``index.json`` into the folder ``dest``."""
    text = json.dumps({"format": FORMAT, "seed": seed, "exercises": files}, indent=1, sort_keys=True)
    (Path(dest) / INDEX).write_text(text + "\n", encoding="utf-8")
