"""Tests of the exercise specs of chapters 2 and 3 (l2bayes.exercises.ch02, ch03).

For every exercise: the reference from the chapter notebook passes its own
check, a stub is reported as not implemented, and one wrong implementation per
named misconception fails and is named, with its message.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import evaluate, exercise_ids, get_exercise, reference

CHAPTERS = Path(__file__).parents[1] / "chapters"
IDS = [*exercise_ids("02_ridge_regression"), *exercise_ids("03_choosing_lambda")]
SEEDS = (0, 1, 2)


def _ridge(X, y, lam):
    X = np.asarray(X, float)
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ np.asarray(y, float))


def _cov(X, noise_var, prior_var):
    X = np.asarray(X, float)
    return np.linalg.inv(X.T @ X / noise_var + np.eye(X.shape[1]) / prior_var)


def _centred(X, y, lam):
    X, y = np.asarray(X, float), np.asarray(y, float)
    X_mean, y_mean = X.mean(axis=0), y.mean()
    return X_mean, y_mean, _ridge(X - X_mean, y - y_mean, lam)


def _penalised_intercept(X, y, lam):
    w = _ridge(np.column_stack([np.ones(len(y)), X]), y, lam)
    return w[0], w[1:]


def _only_y_centred(X, y, lam):
    y_mean = np.mean(y)
    return y_mean, _ridge(X, np.asarray(y, float) - y_mean, lam)


def _centred_model(X, y, lam):
    _, y_mean, theta = _centred(X, y, lam)
    return y_mean, theta


def _sign_error(X, y, lam):
    X_mean, y_mean, theta = _centred(X, y, lam)
    return y_mean + X_mean @ theta, theta


def _log_gauss(X, y, noise_var, prior_var, *, logdet=0.5, const=True):
    X, y = np.asarray(X, float), np.asarray(y, float)
    n = len(y)
    C = noise_var * np.eye(n) + prior_var * X @ X.T
    L = np.linalg.cholesky(C)
    z = np.linalg.solve(L, y)
    return -0.5 * z @ z - 2 * logdet * np.log(np.diag(L)).sum() - (0.5 * n * math.log(2 * math.pi) if const else 0.0)


def _delta(X):
    return np.linalg.svd(np.asarray(X, float), compute_uv=False)


def _dof(X, lam, power=2):
    dp = _delta(X) ** power
    return float(np.sum(dp / (dp + lam)))


# One wrong implementation per named misconception: each must fail and be named.
WRONG = {
    "ch02-ridge-closed-form": {
        "mean-loss scaling": lambda X, y, lam: _ridge(X, y, len(y) * lam),
        "λ divided by n": lambda X, y, lam: _ridge(X, y, lam / len(y)),
        "half penalty": lambda X, y, lam: _ridge(X, y, lam / 2),
        "doubled penalty": lambda X, y, lam: _ridge(X, y, 2 * lam),
        "no penalty": lambda X, y, lam: np.linalg.lstsq(X, y, rcond=None)[0],
        "λ added to every entry": lambda X, y, lam: np.linalg.solve(X.T @ X + lam, X.T @ y),
    },
    "ch02-posterior-covariance": {
        "precision, not covariance": lambda X, s, sd: X.T @ X / s**2 + np.eye(X.shape[1]) / sd**2,
        "standard deviations for variances": lambda X, s, sd: _cov(X, s, sd),
        "s² factor missing": lambda X, s, sd: np.linalg.inv(X.T @ X + s**2 / sd**2 * np.eye(X.shape[1])),
        "ratio inverted": lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X + sd**2 / s**2 * np.eye(X.shape[1])),
        "prior left out": lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X),
    },
    "ch02-ridge-alpha-answer": {
        "swapped precision s²σ²": lambda: 0.6**2 * 1.5**2,
        "ratio inverted": lambda: 1.5**2 / 0.6**2,
        "standard deviations for variances": lambda: 0.6 / 1.5,
        "noise ignored": lambda: 1 / 1.5**2,
        "half of the answer": lambda: 0.6**2 / (2 * 1.5**2),
    },
    "ch02-ridge-intercept": {
        "penalised intercept": _penalised_intercept,
        "only y centred": _only_y_centred,
        "intercept of the centred model": _centred_model,
        "intercept sign error": _sign_error,
        "no intercept": lambda X, y, lam: (0.0, _ridge(X, y, lam)),
    },
    "ch03-log-evidence": {
        "Occam term missing": lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, logdet=0.0),
        "log-determinant scaled wrongly": lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, logdet=1.0),
        "normalising constant missing": lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, const=False),
        "standard deviations for variances": lambda X, y, s, sd: _log_gauss(X, y, s, sd),
        "noise and prior swapped": lambda X, y, s, sd: _log_gauss(X, y, sd**2, s**2),
        "precisions for variances": lambda X, y, s, sd: _log_gauss(X, y, s**-2, sd**-2),
        "negative log evidence": lambda X, y, s, sd: -_log_gauss(X, y, s**2, sd**2),
        "Occam factor dropped (weight-space form)": lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2)
        + 0.5 * np.linalg.slogdet(np.asarray(X, float).T @ X / s**2 + np.eye(np.shape(X)[1]) / sd**2)[1],
    },
    "ch03-ridge-lam-from-stds": {
        "standard deviations for variances": lambda s, sd: s / sd,
        "ratio inverted": lambda s, sd: sd**2 / s**2,
        "inverted and not squared": lambda s, sd: sd / s,
        "noise ignored": lambda s, sd: 1 / sd**2,
        "swapped precision s²σ²": lambda s, sd: s**2 * sd**2,
    },
    "ch03-evidence-statement": {
        "integrated, not fitted": lambda: "a",
        "θ fitted, not integrated": lambda: " C ",
        "held-out data": lambda: "d",
    },
    "ch03-effective-dof": {
        "singular values not squared": lambda X, lam: _dof(X, lam, power=1),
        "the prior's share": lambda X, lam: float(np.sum(lam / (_delta(X) ** 2 + lam))),
        "mean-loss scaling": lambda X, lam: _dof(X, len(X) * lam),
        "parameter count": lambda X, lam: float(np.shape(X)[1]),
    },
}

CASES = [(i, name, fn) for i, table in WRONG.items() for name, fn in table.items()]


def test_every_exercise_has_two_misconceptions_and_a_wrong_implementation_for_each():
    assert set(WRONG) == set(IDS) and len(IDS) == 8
    for exercise_id in IDS:
        names = [m.name for m in get_exercise(exercise_id).misconceptions]
        assert len(names) >= 2 and len(set(names)) == len(names)
        assert set(names) == set(WRONG[exercise_id]), f"{exercise_id}: every misconception needs a wrong implementation"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_signature_matches_the_reference_in_the_chapter(exercise_id):
    ex = get_exercise(exercise_id)
    assert tuple(inspect.signature(reference(exercise_id, CHAPTERS)).parameters) == ex.params


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_its_own_check(exercise_id):
    for seed in SEEDS:
        result = evaluate(exercise_id, reference(exercise_id, CHAPTERS), seed=seed, chapters=CHAPTERS)
        assert result and result.fraction == 1.0
        assert "passed all" in result.message and "Checked:" in result.message


@pytest.mark.parametrize("exercise_id", IDS)
def test_stub_fails_with_not_implemented(exercise_id):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = evaluate(exercise_id, stub, seed=0, chapters=CHAPTERS)
    assert not result and result.n_passed == 0
    assert "is not implemented yet" in result.message


@pytest.mark.parametrize("exercise_id, name, fn", CASES, ids=[f"{i}:{n}" for i, n, _ in CASES])
def test_each_misconception_fails_and_is_named(exercise_id, name, fn):
    message = next(m.message for m in get_exercise(exercise_id).misconceptions if m.name == name)
    for seed in SEEDS:
        result = evaluate(exercise_id, fn, seed=seed, chapters=CHAPTERS)
        assert not result
        assert result.misconception is not None and result.misconception.name == name, result.message
        assert f"Misconception ({name}): {message}" in result.message


def test_the_intercept_pair_is_checked_part_by_part():
    ex_id = "ch02-ridge-intercept"
    right = reference(ex_id, CHAPTERS)
    as_list = evaluate(ex_id, lambda X, y, lam: list(right(X, y, lam)), seed=0, chapters=CHAPTERS)
    assert as_list  # a list [b, theta] is as good as a tuple
    swapped = evaluate(ex_id, lambda X, y, lam: right(X, y, lam)[::-1], seed=0, chapters=CHAPTERS)
    assert not swapped and "intercept: expected a single number" in swapped.message
    theta_only = evaluate(ex_id, lambda X, y, lam: right(X, y, lam)[1], seed=0, chapters=CHAPTERS)
    assert not theta_only and "expected a tuple (intercept, theta)" in theta_only.message
    bad_theta = evaluate(ex_id, lambda X, y, lam: (right(X, y, lam)[0], 1.01 * right(X, y, lam)[1]), seed=0,
                         chapters=CHAPTERS)
    assert not bad_theta and "theta: values differ" in bad_theta.message


def test_other_correct_methods_pass():
    """Sound alternatives to the references (other solvers, other formulas) are not rejected."""
    def ridge_lstsq(X, y, lam):  # least squares on the augmented system [X; sqrt(lam) I]
        d = X.shape[1]
        return np.linalg.lstsq(np.vstack([X, math.sqrt(lam) * np.eye(d)]), np.concatenate([y, np.zeros(d)]), rcond=None)[0]

    def intercept_block(X, y, lam):  # the normal equations with an unpenalised intercept, no centring
        A = np.column_stack([np.ones(len(y)), X])
        P = lam * np.eye(A.shape[1])
        P[0, 0] = 0.0
        w = np.linalg.solve(A.T @ A + P, A.T @ y)
        return w[0], w[1:]

    def evidence_slogdet(X, y, s, sd):
        C = s**2 * np.eye(len(y)) + sd**2 * X @ X.T
        return -0.5 * y @ np.linalg.solve(C, y) - 0.5 * np.linalg.slogdet(C)[1] - len(y) / 2 * math.log(2 * math.pi)

    def dof_trace(X, lam):  # the trace of the hat matrix, in data space
        return float(np.trace(X @ X.T @ np.linalg.inv(X @ X.T + lam * np.eye(len(X))))) if lam > 0 else _dof(X, lam)

    for exercise_id, fn in [
        ("ch02-ridge-closed-form", ridge_lstsq),
        ("ch02-posterior-covariance", lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X + s**2 / sd**2 * np.eye(X.shape[1]))),
        ("ch02-ridge-intercept", intercept_block),
        ("ch03-log-evidence", evidence_slogdet),
        ("ch03-ridge-lam-from-stds", lambda s, sd: (s / sd) ** 2),
        ("ch03-effective-dof", dof_trace),
    ]:
        result = evaluate(exercise_id, fn, seed=0, chapters=CHAPTERS)
        assert result, result.message


def test_the_choice_exercise_names_what_it_expects():
    ex_id = "ch03-evidence-statement"
    for answer, text in [(2, "expected one letter as a str"), ("e", "is not one of the statements"), (None, "got None")]:
        result = evaluate(ex_id, lambda: answer, seed=0, chapters=CHAPTERS)
        assert not result and text in result.message, result.message
    assert evaluate(ex_id, lambda: "B", seed=0, chapters=CHAPTERS)
