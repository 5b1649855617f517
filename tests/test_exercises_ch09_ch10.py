"""Tests of the exercise specs of chapters 9 and 10: references pass, stubs and named mistakes fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import check, evaluate, exercise_ids, get_exercise, reference

CHAPTERS = Path(__file__).parents[1] / "chapters"
IDS = [i for c in ("09_informative_priors", "10_deep_networks") for i in exercise_ids(c)]


def _solve(X, y, lam, centre=0.0):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y + lam * np.asarray(centre))


# --- wrong implementations, one or more per named misconception --------------------------------

WRONG = {
    "ch09-l2sp-step": {
        "decay toward zero": [lambda th, g, c, lr, lam: th - lr * (g + lam * th)],
        "sign flipped": [lambda th, g, c, lr, lam: th - lr * (g - lam * (th - c))],
        "factor of two": [lambda th, g, c, lr, lam: th - lr * (g + 2 * lam * (th - c))],
        "pull without the learning rate": [lambda th, g, c, lr, lam: th - lr * g - lam * (th - c)],
    },
    "ch09-ridge-toward": {
        "shrinks toward zero": [lambda X, y, lam, c: _solve(X, y, lam)],
        "centre added after": [lambda X, y, lam, c: _solve(X, y, lam) + c],
        "centre not weighted by lam": [lambda X, y, lam, c: np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y + c)],
    },
    "ch09-prior-std-from-wd": {
        "variance for std": [lambda wd, n: 1 / (n * wd)],
        "n left out": [lambda wd, n: 1 / np.sqrt(wd)],
        "MSE conversion": [lambda wd, n: np.sqrt(2 / (n * wd))],
        "upside down": [lambda wd, n: np.sqrt(n * wd)],
    },
    "ch09-plain-decay-limit": {
        "initialisation remembered": [lambda X, y, lam, init: _solve(X, y, lam, init)],
        "stays at the initialisation": [lambda X, y, lam, init: np.array(init, dtype=float)],
        "decay ignored": [lambda X, y, lam, init: np.linalg.lstsq(X, y, rcond=None)[0]],
    },
    "ch10-gd-filter": {
        "ridge form": [lambda d, lr, t: d**2 / (d**2 + 1 / (lr * t))],
        "exponent off by one": [lambda d, lr, t: 1 - (1 - lr * d**2) ** (t - 1), lambda d, lr, t: 1 - (1 - lr * d**2) ** (t + 1)],
        "delta for delta squared": [lambda d, lr, t: 1 - (1 - lr * d) ** t],
        "factor of two": [lambda d, lr, t: 1 - (1 - 2 * lr * d**2) ** t],
    },
    "ch10-early-stopping-lam": {
        "mean ignored": [lambda lr, t, n: 1 / (lr * t)],
        "factor of two": [lambda lr, t, n: n / (lr * t), lambda lr, t, n: n / (4 * lr * t)],
        "upside down": [lambda lr, t, n: 2 * lr * t / n],
    },
    "ch10-adamw-tau-epochs": {
        "steps not epochs": [lambda lr, wd, n, b: 1 / (lr * wd)],
        "steps per epoch upside down": [lambda lr, wd, n, b: n / (b * lr * wd)],
        "batch size ignored": [lambda lr, wd, n, b: 1 / (lr * wd * n)],
    },
    "ch10-scaled-gradient": {
        "unchanged": [lambda g, c: np.array(g, dtype=float)],
        "scaled with the weights": [lambda g, c: c * np.asarray(g)],
        "scale squared": [lambda g, c: np.asarray(g) / c**2],
    },
}

CASES = [(i, name, k, fn) for i, table in WRONG.items() for name, fns in table.items() for k, fn in enumerate(fns)]


def test_every_exercise_has_two_misconceptions_and_a_wrong_implementation_for_each():
    assert set(WRONG) == set(IDS) and len(IDS) == 8
    for i in IDS:
        names = [m.name for m in get_exercise(i).misconceptions]
        assert len(names) >= 2 and len(set(names)) == len(names)
        assert set(names) == set(WRONG[i]), f"{i}: every misconception needs a wrong implementation here"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_passes_and_matches_the_spec(exercise_id):
    ref = reference(exercise_id, CHAPTERS)
    for seed in (0, 1, 2):
        result = evaluate(exercise_id, ref, seed=seed, chapters=CHAPTERS)
        assert result and result.fraction == 1.0, result.message
        assert "passed all" in result.message


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_stub_fails_with_not_implemented(exercise_id, capsys):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = check(exercise_id, stub, seed=0, chapters=CHAPTERS)
    assert not result and result.n_passed == 0
    assert "is not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id, name, k, fn", CASES, ids=[f"{i}:{n}:{k}" for i, n, k, _ in CASES])
def test_each_misconception_fails_and_is_named(exercise_id, name, k, fn):
    ex = get_exercise(exercise_id)
    message = next(m.message for m in ex.misconceptions if m.name == name)
    for seed in (0, 1, 2):
        result = evaluate(exercise_id, fn, seed=seed, chapters=CHAPTERS)
        assert not result
        assert result.misconception is not None and result.misconception.name == name, result.message
        assert f"Misconception ({name}): {message}" in result.message
