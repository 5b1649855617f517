"""Every exercise of the book, checked the same way: one registry, ``l2bayes.exercises.EXERCISES``.

For every exercise, in every book that holds its chapter (the book's own
chapters and, for chapter 1, the grader's fixture book):

* the reference solution has the spec's signature and passes its own check on
  hidden cases (fresh seeds, the references run as the grader runs them) and
  on the public case bank (what the student wheel compares with);
* a stub is reported as not implemented;
* every misconception the spec names has at least one wrong implementation in
  ``tests/wrong_answers/chNN.py``, and each of them fails and is named, with its
  message, on hidden cases, and gets from the public bank the same verdicts
  and message as from the references.

Tests of what only one chapter's exercises do live in ``test_exercise_specs.py``;
tests of the checking machinery itself in ``test_exercises.py``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from pathlib import Path

import pytest

import l2bayes.exercises as exercises
from l2bayes.exercises import EXERCISES, bank, check, evaluate, get_exercise, reference
from wrong_answers import CASES, WRONG

ROOT = Path(__file__).parents[1]
BOOKS = {"book": ROOT / "chapters", "fixture": Path(__file__).parent / "submissions" / "book" / "chapters"}
SEEDS = (0, 1, 2, 3)

#: How many exercises each chapter has: a spec module that stops being found would otherwise
#: take its exercises and their registry tests away without a failure.
EXERCISES_PER_CHAPTER = {
    "01_prior_to_penalty": 4,
    "02_ridge_regression": 4,
    "03_choosing_lambda": 4,
    "04_weight_decay_sgd": 4,
    "05_weight_decay_from_scratch": 4,
    "06_adam_adamw": 4,
    "07_laplace": 4,
    "08_sampling": 5,
    "09_informative_priors": 4,
    "10_deep_networks": 4,
}
#: Every exercise names at least two distinct misconceptions; these chapters' exercises more.
MIN_MISCONCEPTIONS = {"08_sampling": 3}


def _books(exercise_id: str) -> list[str]:
    chapter = EXERCISES[exercise_id].chapter
    return [name for name, folder in BOOKS.items() if (folder / f"{chapter}.ipynb").is_file()]


REFERENCES = [(book, i) for i in EXERCISES for book in _books(i)]
MISTAKES = [(book, i, name, k, fn) for i, name, k, fn in CASES for book in _books(i)]


# --- the registry is complete ---------------------------------------------------------------


def test_every_chapter_has_its_exercises():
    assert Counter(ex.chapter for ex in EXERCISES.values()) == EXERCISES_PER_CHAPTER


def test_the_exercises_are_those_the_chapters_check():
    checked = []
    for path in sorted(BOOKS["book"].glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                checked += re.findall(r"""\bcheck\(\s*["']([^"']+)["']""", "".join(cell["source"]))
    assert sorted(checked) == sorted(EXERCISES), "each exercise is checked once, in its chapter"


def test_every_misconception_has_a_wrong_implementation_and_nothing_else_does():
    assert set(WRONG) == set(EXERCISES), (
        f"no wrong implementations for {sorted(set(EXERCISES) - set(WRONG))}; "
        f"wrong implementations of no exercise: {sorted(set(WRONG) - set(EXERCISES))}"
    )
    for exercise_id, ex in EXERCISES.items():
        names = [m.name for m in ex.misconceptions]
        assert len(names) >= MIN_MISCONCEPTIONS.get(ex.chapter, 2), exercise_id
        assert len(set(names)) == len(names), f"{exercise_id}: two misconceptions share a name"
        assert set(names) == set(WRONG[exercise_id]), (
            f"{exercise_id}: every misconception needs a wrong implementation in tests/wrong_answers "
            f"(missing: {sorted(set(names) - set(WRONG[exercise_id]))}; "
            f"not in the spec: {sorted(set(WRONG[exercise_id]) - set(names))})"
        )
        for name, fns in WRONG[exercise_id].items():
            assert fns and all(callable(fn) for fn in fns), f"{exercise_id}: {name}"


# --- hidden cases: the references run on fresh seeds ------------------------------------------


@pytest.mark.parametrize("book, exercise_id", REFERENCES, ids=[f"{b}:{i}" for b, i in REFERENCES])
def test_the_signature_matches_the_reference(book, exercise_id):
    ex = get_exercise(exercise_id)
    assert tuple(inspect.signature(reference(exercise_id, BOOKS[book])).parameters) == ex.params


@pytest.mark.parametrize("book, exercise_id", REFERENCES, ids=[f"{b}:{i}" for b, i in REFERENCES])
def test_the_reference_passes_its_own_check(book, exercise_id):
    ref = reference(exercise_id, BOOKS[book])
    for seed in SEEDS:
        result = evaluate(exercise_id, ref, seed=seed, chapters=BOOKS[book])
        assert result and result.passed and result.fraction == 1.0, result.message
        assert "passed all" in result.message and "Checked:" in result.message


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_stub_fails_with_not_implemented(exercise_id, capsys):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = check(exercise_id, stub, seed=0, chapters=BOOKS["book"])
    assert not result and result.n_passed == 0
    assert "is not implemented yet" in result.message
    assert result.message in capsys.readouterr().out


@pytest.mark.parametrize("book, exercise_id, name, k, fn", MISTAKES, ids=[f"{b}:{i}:{n}:{k}" for b, i, n, k, _ in MISTAKES])
def test_each_misconception_fails_and_is_named(book, exercise_id, name, k, fn):
    message = next(m.message for m in get_exercise(exercise_id).misconceptions if m.name == name)
    for seed in SEEDS:
        result = evaluate(exercise_id, fn, seed=seed, chapters=BOOKS[book])
        assert not result
        assert result.misconception is not None and result.misconception.name == name, result.message
        assert f"Misconception ({name}): {message}" in result.message


# --- the public case bank: what the student wheel compares with -------------------------------


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_with_the_bank_the_reference_passes_on_the_public_cases(with_bank, exercise_id):
    assert exercises.uses_bank() and not exercises.uses_bank(BOOKS["book"])
    result = evaluate(exercise_id, reference(exercise_id, BOOKS["book"]))
    assert result.passed and result.seed == bank.PUBLIC_SEED
    assert len(result.results) == EXERCISES[exercise_id].n_random + len(EXERCISES[exercise_id].edge_cases)


@pytest.mark.parametrize("exercise_id, name, k, fn", CASES, ids=[f"{i}:{n}:{k}" for i, n, k, _ in CASES])
def test_with_the_bank_each_misconception_fails_and_is_named_as_with_the_references(with_bank, exercise_id, name, k, fn):
    offline = evaluate(exercise_id, fn)
    online = evaluate(exercise_id, fn, seed=bank.PUBLIC_SEED, chapters=BOOKS["book"])
    assert not offline.passed
    assert offline.misconception is not None and offline.misconception.name == name, offline.message
    assert [r.passed for r in offline.results] == [r.passed for r in online.results]
    assert offline.message == online.message
