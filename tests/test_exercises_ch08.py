"""Tests of the exercise specs of chapter 8 (l2bayes.exercises.ch08).

For every exercise: the reference from the chapter notebook passes its own
check, a stub is reported as not implemented, and one or more wrong
implementations per named misconception fail and are named, with the message.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import check, evaluate, exercise_ids, get_exercise, reference

CHAPTERS = Path(__file__).parents[1] / "chapters"
IDS = list(exercise_ids("08_sampling"))


def _step(theta, grad, noise, lr, wd, T, *, decay=True, scale=None):
    s = math.sqrt(2 * lr * T) if scale is None else scale(lr, T)
    return theta - lr * (grad + (wd * theta if decay else 0)) + s * noise


WRONG = {
    "ch08-sgld-noise-std": {
        "summed-loss temperature": [lambda lr, n, s: math.sqrt(2 * lr)],
        "factor of two missing": [lambda lr, n, s: math.sqrt(lr * 2 * s**2 / n), lambda lr, n, s: math.sqrt(2 * lr * s**2 / n)],
        "variance for standard deviation": [lambda lr, n, s: 2 * lr * 2 * s**2 / n],
        "s for s squared": [lambda lr, n, s: math.sqrt(2 * lr * 2 * s / n)],
    },
    "ch08-sgld-step": {
        "noise scaled by the learning rate": [
            lambda th, g, xi, lr, wd, T: _step(th, g, xi, lr, wd, T, scale=lambda lr, T: lr * math.sqrt(2 * T)),
            lambda th, g, xi, lr, wd, T: _step(th, g, xi, lr, wd, T, scale=lambda lr, T: lr * T),
        ],
        "noise without the square root": [lambda th, g, xi, lr, wd, T: _step(th, g, xi, lr, wd, T, scale=lambda lr, T: 2 * lr * T)],
        "temperature ignored": [lambda th, g, xi, lr, wd, T: _step(th, g, xi, lr, wd, T, scale=lambda lr, T: math.sqrt(2 * lr))],
        "decay left out": [lambda th, g, xi, lr, wd, T: _step(th, g, xi, lr, wd, T, decay=False)],
    },
    "ch08-sgld-stationary-variance": {
        "the continuous-time answer": [lambda a, lr, T: T / a],
        "bias with the wrong sign": [lambda a, lr, T: T / (a * (1 + lr * a / 2))],
        "first order only": [lambda a, lr, T: T / a + lr * T / 2],
        "the noise alone": [lambda a, lr, T: 2 * lr * T],
    },
    "ch08-ar1-ess": {
        "one-sided sum": [lambda N, rho: N * (1 - rho)],
        "upside down": [lambda N, rho: N * (1 + rho) / (1 - rho)],
        "the autocorrelation time itself": [lambda N, rho: (1 + rho) / (1 - rho)],
    },
    "ch08-cold-posterior": {
        "mean moved too": [lambda m, S, t: (t * m, t * S), lambda m, S, t: (m / t, t * S)],
        "covariance divided by the temperature": [lambda m, S, t: (m, S / t)],
        "standard deviations scaled by the temperature": [lambda m, S, t: (m, t**2 * S)],
        "covariance scaled by the square root": [lambda m, S, t: (m, math.sqrt(t) * S)],
    },
}

CASES = [(i, name, k, fn) for i, table in WRONG.items() for name, fns in table.items() for k, fn in enumerate(fns)]


def test_the_chapter_has_five_exercises_each_with_a_wrong_implementation_per_misconception():
    assert len(IDS) == 5 and set(WRONG) == set(IDS)
    for i in IDS:
        names = [m.name for m in get_exercise(i).misconceptions]
        assert len(names) >= 3 and len(set(names)) == len(names)
        assert set(names) == set(WRONG[i]), f"{i}: every misconception needs a wrong implementation here"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_passes(exercise_id):
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


def test_references_agree_with_independent_computations():
    # The closed forms the references implement, against simulation-free independent routes.
    from scipy.linalg import solve_discrete_lyapunov

    variance = reference("ch08-sgld-stationary-variance", CHAPTERS)
    for a, lr, T in [(2.0, 0.3, 0.5), (0.7, 1.9, 0.01)]:
        lyap = solve_discrete_lyapunov(np.array([[1 - lr * a]]), np.array([[2 * lr * T]]))[0, 0]
        assert math.isclose(variance(a, lr, T), lyap, rel_tol=1e-12)
    ess = reference("ch08-ar1-ess", CHAPTERS)
    for rho in (0.9, -0.4):
        tau = 1 + 2 * sum(rho**k for k in range(1, 2000))  # the integrated autocorrelation time, summed
        assert math.isclose(ess(1000, rho), 1000 / tau, rel_tol=1e-9)
    cold = reference("ch08-cold-posterior", CHAPTERS)
    S = np.array([[2.0, 0.3], [0.3, 0.5]])
    m, S_cold = cold(np.array([1.0, -1.0]), S, 0.25)
    # log density of N(m, S)^(1/tau) minus that of N(m, tau S) is constant in theta
    thetas = np.random.default_rng(0).standard_normal((5, 2))
    diff = [-0.5 * (t - m) @ np.linalg.solve(S, t - m) / 0.25 + 0.5 * (t - m) @ np.linalg.solve(S_cold, t - m) for t in thetas]
    np.testing.assert_allclose(diff, 0.0, atol=1e-12)
