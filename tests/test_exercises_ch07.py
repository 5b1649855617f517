"""Tests of the exercise specs of chapter 7 (l2bayes.exercises.ch07).

For every exercise: the reference from the chapter notebook passes its own
check, a stub is reported as not implemented, and one or more wrong
implementations per named misconception fail and are named, with the message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import check, evaluate, exercise_ids, get_exercise, reference

CHAPTERS = Path(__file__).parents[1] / "chapters"
IDS = list(exercise_ids("07_laplace"))
SEEDS = (0, 1, 2)


def _precision(wd, n, loss, s, *, use_n=True, two=True, square=True, mse_rule=True):
    value = wd * (n if use_n else 1)
    if loss == "mse" and mse_rule:
        value /= (2 if two else 1) * s ** (2 if square else 1)
    return value


def _evidence(log_lik, theta, P, alpha, *, penalty=True, normaliser=True, logdet=-0.5):
    theta, P = np.asarray(theta, float), np.asarray(P, float)
    value = log_lik - (0.5 * alpha * theta @ theta if penalty else 0.0)
    value += 0.5 * len(theta) * np.log(alpha) if normaliser else 0.0
    return value + logdet * np.log(np.linalg.det(P))


def _sigmoid(a):
    return 1 / (1 + np.exp(-np.asarray(a, float)))


def _variance(J, M):
    J = np.asarray(J, float)
    return np.array([row @ M @ row for row in J])


WRONG = {
    "ch07-prior-precision": {
        "weight_decay is the precision": [
            lambda wd, n, loss, s: wd,
            lambda wd, n, loss, s: _precision(wd, n, loss, s, use_n=False),
        ],
        "MSELoss taken as the negative log-likelihood": [lambda wd, n, loss, s: _precision(wd, n, loss, s, two=False)],
        "noise_std not squared": [lambda wd, n, loss, s: _precision(wd, n, loss, s, square=False)],
        "noise variance ignored": [lambda wd, n, loss, s: n * wd],
    },
    "ch07-laplace-evidence": {
        "Occam factor missing": [
            lambda ll, th, P, a: _evidence(ll, th, P, a, normaliser=False, logdet=0.0),
            lambda ll, th, P, a: _evidence(ll, th, P, a, logdet=0.0),
        ],
        "prior normaliser missing": [lambda ll, th, P, a: _evidence(ll, th, P, a, normaliser=False)],
        "log-determinant of the covariance": [lambda ll, th, P, a: _evidence(ll, th, P, a, logdet=0.5)],
        "penalty missing": [lambda ll, th, P, a: _evidence(ll, th, P, a, penalty=False)],
    },
    "ch07-probit": {
        "MAP plug-in": [lambda mu, v: _sigmoid(mu)],
        "variance for standard deviation": [lambda mu, v: _sigmoid(np.asarray(mu) / (1 + np.pi * np.asarray(v) / 8))],
        "more confident, not less": [lambda mu, v: _sigmoid(np.asarray(mu) * np.sqrt(1 + np.pi * np.asarray(v) / 8))],
        "π/8 left out": [lambda mu, v: _sigmoid(np.asarray(mu) / np.sqrt(1 + np.asarray(v)))],
    },
    "ch07-linearised-variance": {
        "precision for covariance": [lambda J, P: _variance(J, np.asarray(P, float))],
        "correlations ignored": [
            lambda J, P: np.asarray(J, float) ** 2 @ np.diag(np.linalg.inv(P)),
            lambda J, P: np.asarray(J, float) ** 2 @ (1 / np.diag(P)),
        ],
        "standard deviation instead of variance": [lambda J, P: np.sqrt(_variance(J, np.linalg.inv(P)))],
    },
}

CASES = [(i, name, k, fn) for i, table in WRONG.items() for name, fns in table.items() for k, fn in enumerate(fns)]


def test_every_exercise_has_misconceptions_each_with_a_wrong_implementation():
    assert set(WRONG) == set(IDS) and len(IDS) >= 4
    for i in IDS:
        names = [m.name for m in get_exercise(i).misconceptions]
        assert len(names) >= 2 and len(set(names)) == len(names)
        assert set(names) == set(WRONG[i]), f"{i}: every misconception needs a wrong implementation here"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_passes(exercise_id):
    ref = reference(exercise_id, CHAPTERS)
    for seed in SEEDS:
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
    for seed in SEEDS:
        result = evaluate(exercise_id, fn, seed=seed, chapters=CHAPTERS)
        assert not result
        assert result.misconception is not None and result.misconception.name == name, result.message
        assert f"Misconception ({name}): {message}" in result.message


def test_the_conceptual_misconception_is_the_plug_in_prediction():
    # The plug-in is right only when there is no uncertainty: the case with v = 0 passes, every other fails.
    result = evaluate("ch07-probit", lambda mu, v: _sigmoid(mu), seed=0, chapters=CHAPTERS)
    labels = {c.case.label: c.passed for c in result.results}
    assert labels["logit_var is zero"] and labels["logit_mean is zero"] and not labels["huge variance"]
