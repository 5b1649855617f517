"""Tests of l2bayes.transfer: ridge toward a centre and the diagonal Laplace precision."""

import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import Ridge

from l2bayes.transfer import diagonal_laplace_precision, ridge_toward


def _problem(seed=0, n=20, d=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return rng, X, X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)


def test_ridge_toward_solves_the_normal_equations_and_matches_sklearn_on_the_residual():
    rng, X, y = _problem()
    centre = rng.standard_normal(4)
    for lam in (0.01, 1.0, 50.0):
        theta = ridge_toward(X, y, lam, centre)
        np.testing.assert_allclose(theta, np.linalg.solve(X.T @ X + lam * np.eye(4), X.T @ y + lam * centre), rtol=1e-11)
        sk = Ridge(alpha=lam, fit_intercept=False, solver="svd").fit(X, y - X @ centre)
        np.testing.assert_allclose(theta, centre + sk.coef_, rtol=1e-10)


def test_ridge_toward_with_one_lam_per_weight_minimises_the_objective():
    rng, X, y = _problem(1)
    centre, lam = rng.standard_normal(4), np.array([0.1, 2.0, 10.0, 0.5])
    objective = lambda t: np.sum((y - X @ t) ** 2) + np.sum(lam * (t - centre) ** 2)
    gradient = lambda t: -2 * X.T @ (y - X @ t) + 2 * lam * (t - centre)
    best = optimize.minimize(objective, np.zeros(4), jac=gradient, method="BFGS", options={"gtol": 1e-11}).x
    np.testing.assert_allclose(ridge_toward(X, y, lam, centre), best, rtol=1e-7)


def test_ridge_toward_limits_and_several_targets():
    rng, X, y = _problem(2)
    centre = rng.standard_normal(4)
    np.testing.assert_allclose(ridge_toward(X, y, 1e12, centre), centre, atol=1e-9)
    np.testing.assert_allclose(ridge_toward(X, y, 0.0, centre), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-9)
    Y, C = np.column_stack([y, 2 * y]), np.column_stack([centre, -centre])
    both = ridge_toward(X, Y, 3.0, C)
    np.testing.assert_allclose(both[:, 1], ridge_toward(X, 2 * y, 3.0, -centre), rtol=1e-12)


def test_an_unpenalised_weight_on_a_rank_deficient_design_falls_back_to_least_squares():
    X = np.column_stack([np.ones(3), np.ones(3), [0.0, 1.0, 2.0]])  # two identical columns
    y = np.array([1.0, 2.0, 2.5])
    theta = ridge_toward(X, y, np.array([0.0, 0.0, 1.0]), np.zeros(3))
    assert np.all(np.isfinite(theta))
    grad = -2 * X.T @ (y - X @ theta) + 2 * np.array([0.0, 0.0, 1.0]) * theta
    np.testing.assert_allclose(grad, 0.0, atol=1e-9)


@pytest.mark.parametrize("kwargs, name", [
    (dict(X=np.ones(3), y=np.ones(3), lam=1.0, centre=np.zeros(1)), "X"),
    (dict(X=np.ones((3, 2)), y=np.ones(4), lam=1.0, centre=np.zeros(2)), "y"),
    (dict(X=np.ones((3, 2)), y=np.ones(3), lam=-1.0, centre=np.zeros(2)), "lam"),
    (dict(X=np.ones((3, 2)), y=np.ones(3), lam=np.ones(3), centre=np.zeros(2)), "lam"),
    (dict(X=np.ones((3, 2)), y=np.ones(3), lam=1.0, centre=np.zeros(3)), "centre"),
    (dict(X=np.ones((3, 2)), y=np.ones((3, 2)), lam=1.0, centre=np.zeros(2)), "centre"),
    (dict(X=np.ones((3, 2)), y=np.array([1.0, np.nan, 0.0]), lam=1.0, centre=np.zeros(2)), "y"),
])
def test_ridge_toward_rejects_bad_inputs_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ridge_toward(**kwargs)


def test_diagonal_laplace_precision_is_the_diagonal_of_the_hessian():
    _, X, _ = _problem(3)
    X[:, 2] = 0.0  # an input that is blank in every example keeps the prior precision
    h = diagonal_laplace_precision(X, noise_std=0.5, prior_std=2.0)
    hessian = X.T @ X / 0.25 + np.eye(4) / 4.0
    np.testing.assert_allclose(h, np.diag(hessian), rtol=1e-13)
    assert h[2] == pytest.approx(0.25)
    # a diagonal Laplace variance never exceeds the exact marginal variance
    assert np.all(1 / h <= np.diag(np.linalg.inv(hessian)) * (1 + 1e-12))


@pytest.mark.parametrize("kwargs, name", [
    (dict(X=np.ones(3), noise_std=1.0, prior_std=1.0), "X"),
    (dict(X=np.ones((3, 2)), noise_std=0.0, prior_std=1.0), "noise_std"),
    (dict(X=np.ones((3, 2)), noise_std=1.0, prior_std=-1.0), "prior_std"),
])
def test_diagonal_laplace_precision_rejects_bad_inputs_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        diagonal_laplace_precision(**kwargs)
