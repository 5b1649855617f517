"""Tests of l2bayes.ridge: ridge, its path, the posterior, the evidence and its maximum."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy.stats import multivariate_normal
from sklearn.linear_model import BayesianRidge, Ridge

from l2bayes import bayes_posterior, center_data, fit_evidence, log_evidence, ridge_fit, ridge_path

shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))  # (n, d): both n >= d and d > n
seeds = st.integers(0, 2**32 - 1)
stds = st.floats(0.05, 5.0)
lams = st.floats(1e-3, 1e3)


def _data(seed, n, d, noise_std=0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + noise_std * rng.standard_normal(n)
    return X, y


def _augmented_lstsq(X, y, lam):
    """Ridge as least squares on [X; sqrt(lam) I] (QR/SVD of the stacked matrix, no normal equations)."""
    d = X.shape[1]
    A = np.vstack([X, math.sqrt(lam) * np.eye(d)])
    return np.linalg.lstsq(A, np.concatenate([y, np.zeros(d)]), rcond=None)[0]


# ---------------------------------------------------------------------------- ridge_fit


@settings(max_examples=40, deadline=None)
@given(seed=seeds, shape=shapes, lam=lams)
def test_ridge_fit_matches_the_augmented_least_squares_problem(seed, shape, lam):
    X, y = _data(seed, *shape)
    np.testing.assert_allclose(ridge_fit(X, y, lam), _augmented_lstsq(X, y, lam), rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, shape=shapes, noise_std=stds, prior_std=stds)
def test_ridge_fit_is_the_posterior_mean_computed_in_data_space(seed, shape, noise_std, prior_std):
    # Posterior mean by conditioning y ~ N(0, s^2 I + sigma^2 X X^T): sigma^2 X^T (s^2 I + sigma^2 X X^T)^-1 y.
    X, y = _data(seed, *shape)
    n = X.shape[0]
    expected = prior_std**2 * X.T @ np.linalg.solve(noise_std**2 * np.eye(n) + prior_std**2 * X @ X.T, y)
    theta = ridge_fit(X, y, noise_std**2 / prior_std**2)
    np.testing.assert_allclose(theta, expected, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("n, d", [(30, 4), (4, 30)])
def test_ridge_fit_matches_scikit_learn(n, d):
    X, y = _data(0, n, d)
    expected = Ridge(alpha=0.37, fit_intercept=False, solver="svd").fit(X, y).coef_
    np.testing.assert_allclose(ridge_fit(X, y, 0.37), expected, rtol=1e-11)


def test_ridge_fit_with_zero_penalty_is_minimum_norm_least_squares():
    X, y = _data(1, 6, 3)
    np.testing.assert_allclose(ridge_fit(X, y, 0.0), np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-12)
    X = np.column_stack([X, X[:, 0]])  # rank deficient: Cholesky fails, the SVD gives the minimum norm
    np.testing.assert_allclose(ridge_fit(X, y, 0.0), np.linalg.pinv(X) @ y, rtol=1e-10)
    Xw, yw = _data(2, 3, 7)  # d > n: interpolates with the smallest norm
    np.testing.assert_allclose(ridge_fit(Xw, yw, 0.0), np.linalg.pinv(Xw) @ yw, rtol=1e-10)


def _exact_ridge(X, y, lam):
    """(X^T X + lam I)^-1 X^T y in exact rational arithmetic on the float inputs, rounded once at the end."""
    n, d = X.shape
    Xf = [[Fraction(float(v)) for v in row] for row in X]
    yf = [Fraction(float(v)) for v in y]
    M = [
        [sum(Xf[k][i] * Xf[k][j] for k in range(n)) + (Fraction(lam) if i == j else 0) for j in range(d)]
        + [sum(Xf[k][i] * yf[k] for k in range(n))]
        for i in range(d)
    ]
    for c in range(d):  # Gauss-Jordan; exact, so no pivoting strategy is needed beyond non-zero
        p = next(r for r in range(c, d) if M[r][c] != 0)
        M[c], M[p] = M[p], M[c]
        for r in range(d):
            if r != c:
                f = M[r][c] / M[c][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c])]
    return np.array([float(M[i][d] / M[i][i]) for i in range(d)])


@pytest.mark.parametrize("lam", [1e-12, 1e-8])
def test_ridge_fit_is_accurate_on_a_nearly_collinear_design(lam):
    # Two columns that agree to 1e-6: cond(X) ~ 3e6, so cond(X^T X + lam I) ~ 1e13 and the
    # normal equations solved naively lose about 13 digits. The SVD fallback keeps the error near
    # eps * cond(X). Tolerance: 1e-9 relative to max|theta| (the exact answer, from fractions).
    rng = np.random.default_rng(3)
    x1 = rng.standard_normal(10)
    X = np.column_stack([x1, x1 + 1e-6 * rng.standard_normal(10), rng.standard_normal(10)])
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.01 * rng.standard_normal(10)
    exact = _exact_ridge(X, y, lam)
    scale = np.max(np.abs(exact))
    naive = np.linalg.solve(X.T @ X + lam * np.eye(3), X.T @ y)
    assert np.max(np.abs(naive - exact)) > 1e-8 * scale  # the problem is hard for the naive method
    assert np.max(np.abs(ridge_fit(X, y, lam) - exact)) <= 1e-9 * scale
    assert np.max(np.abs(ridge_path(X, y, [lam])[0] - exact)) <= 1e-9 * scale
    # The dual branch (d > n): 3 examples, 4 features, X X^T nearly singular.
    Xw = np.column_stack([X[:3, :2], X[:3, :2] + 1e-6 * rng.standard_normal((3, 2))])
    yw = y[:3]
    np.testing.assert_allclose(ridge_fit(Xw, yw, lam), _exact_ridge(Xw, yw, lam), rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------- ridge_path


@settings(max_examples=30, deadline=None)
@given(seed=seeds, shape=shapes, lam_list=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=5))
def test_ridge_path_rows_are_ridge_fits(seed, shape, lam_list):
    X, y = _data(seed, *shape)
    path = ridge_path(X, y, lam_list)
    assert path.shape == (len(lam_list), X.shape[1])
    for lam, theta in zip(lam_list, path):
        np.testing.assert_allclose(theta, ridge_fit(X, y, lam), rtol=1e-7, atol=1e-9)


def test_ridge_path_shrinks_monotonically_to_zero():
    X, y = _data(4, 40, 5)
    norms = np.linalg.norm(ridge_path(X, y, np.logspace(-3, 8, 30)), axis=1)
    assert np.all(np.diff(norms) < 0) and norms[-1] < 1e-5 * norms[0]


# ---------------------------------------------------------------------------- center_data


def test_center_data_gives_scikit_learns_unpenalised_intercept():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((25, 3)) + [5.0, -2.0, 1.0]
    y = 4.0 + X @ [1.0, 2.0, -1.0] + 0.1 * rng.standard_normal(25)
    Xc, yc, X_mean, y_mean = center_data(X, y)
    np.testing.assert_allclose(Xc.mean(axis=0), 0.0, atol=1e-14)
    assert abs(yc.mean()) < 1e-14 and X_mean.shape == (3,) and isinstance(y_mean, float)
    theta = ridge_fit(Xc, yc, 3.0)
    sk = Ridge(alpha=3.0, fit_intercept=True, solver="svd").fit(X, y)
    np.testing.assert_allclose(theta, sk.coef_, rtol=1e-11)
    np.testing.assert_allclose(y_mean - X_mean @ theta, sk.intercept_, rtol=1e-11)


# ---------------------------------------------------------------------------- bayes_posterior


@settings(max_examples=30, deadline=None)
@given(seed=seeds, shape=shapes, noise_std=stds, prior_std=stds)
def test_bayes_posterior_matches_the_precision_form(seed, shape, noise_std, prior_std):
    X, y = _data(seed, *shape)
    d = X.shape[1]
    A = X.T @ X / noise_std**2 + np.eye(d) / prior_std**2  # posterior precision
    mean, cov = bayes_posterior(X, y, noise_std=noise_std, prior_std=prior_std)
    np.testing.assert_allclose(mean, np.linalg.solve(A, X.T @ y / noise_std**2), rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(cov @ A, np.eye(d), atol=1e-9)
    np.testing.assert_array_equal(cov, cov.T)


def test_bayes_posterior_covariance_is_the_conditional_covariance_in_data_space():
    # Joint Gaussian of (theta, y): Cov(theta | y) = sigma^2 I - sigma^4 X^T (s^2 I + sigma^2 X X^T)^-1 X.
    for n, d in [(20, 3), (3, 20)]:
        X, y = _data(6, n, d)
        s, sigma = 0.4, 1.7
        cond = sigma**2 * np.eye(d) - sigma**4 * X.T @ np.linalg.solve(s**2 * np.eye(n) + sigma**2 * X @ X.T, X)
        _, cov = bayes_posterior(X, y, noise_std=s, prior_std=sigma)
        np.testing.assert_allclose(cov, cond, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------- log_evidence


@settings(max_examples=30, deadline=None)
@given(seed=seeds, shape=shapes, noise_std=stds, prior_std=stds)
def test_log_evidence_is_the_marginal_gaussian_density(seed, shape, noise_std, prior_std):
    X, y = _data(seed, *shape)
    n = X.shape[0]
    cov = noise_std**2 * np.eye(n) + prior_std**2 * X @ X.T
    expected = multivariate_normal(np.zeros(n), cov).logpdf(y)
    assert log_evidence(X, y, noise_std=noise_std, prior_std=prior_std) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_log_evidence_matches_integration_over_one_weight():
    X, y = _data(7, 15, 1)
    s, sigma = 0.3, 2.0
    closed = log_evidence(X, y, noise_std=s, prior_std=sigma)

    def integrand(t):
        r = y - X[:, 0] * t
        log_lik = -r @ r / (2 * s**2) - len(y) / 2 * math.log(2 * math.pi * s**2)
        return math.exp(log_lik - t * t / (2 * sigma**2) - 0.5 * math.log(2 * math.pi * sigma**2) - closed)

    centre = ridge_fit(X, y, s**2 / sigma**2)[0]
    value, _ = integrate.quad(integrand, centre - 5, centre + 5, epsabs=1e-13, epsrel=1e-12)
    assert math.log(value) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------- fit_evidence


def _neg_log_ev(log_stds, X, y):
    return -log_evidence(X, y, noise_std=math.exp(log_stds[0]), prior_std=math.exp(log_stds[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_evidence_is_a_stationary_point_and_the_maximum(seed):
    X, y = _data(seed, 40, 6, noise_std=0.5)
    noise_std, prior_std = fit_evidence(X, y)
    x0 = np.log([noise_std, prior_std])
    h = 1e-5  # central differences: truncation ~ h^2, rounding ~ eps * |log evidence| / h, both < 1e-8
    grad = [(_neg_log_ev(x0 + h * e, X, y) - _neg_log_ev(x0 - h * e, X, y)) / (2 * h) for e in np.eye(2)]
    assert np.max(np.abs(grad)) < 1e-7
    best = optimize.minimize(_neg_log_ev, [0.0, 0.0], args=(X, y), method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    np.testing.assert_allclose(x0, best.x, atol=1e-6)
    assert -best.fun <= log_evidence(X, y, noise_std=noise_std, prior_std=prior_std) + 1e-10


def test_fit_evidence_matches_scikit_learns_bayesian_ridge():
    X, y = _data(8, 60, 5, noise_std=0.7)
    noise_std, prior_std = fit_evidence(X, y)
    br = BayesianRidge(fit_intercept=False, alpha_1=0, alpha_2=0, lambda_1=0, lambda_2=0,
                       tol=1e-14, max_iter=100_000).fit(X, y)
    # scikit-learn's alpha_ is the noise precision 1/s^2 and lambda_ the weight precision 1/sigma^2.
    assert noise_std == pytest.approx(br.alpha_**-0.5, rel=1e-9)
    assert prior_std == pytest.approx(br.lambda_**-0.5, rel=1e-9)


def test_fit_evidence_reports_an_exact_fit_instead_of_returning_nonsense():
    X, _ = _data(9, 8, 3)
    with pytest.raises(RuntimeError, match="converge"):
        fit_evidence(X, X @ np.ones(3))  # y in the column space of X: the evidence grows without bound as s -> 0


# ---------------------------------------------------------------------------- bad inputs

X_OK, Y_OK = _data(10, 5, 2)
KW = {"noise_std": 1.0, "prior_std": 1.0}


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ridge_fit(X_OK, Y_OK[:4], 1.0), "X and y"),
        (lambda: ridge_fit(X_OK[:, 0], Y_OK, 1.0), "X must be 2-dimensional"),
        (lambda: ridge_fit(X_OK, X_OK, 1.0), "y must be 1-dimensional"),
        (lambda: ridge_fit(np.where(np.eye(5, 2) > 0, np.nan, X_OK), Y_OK, 1.0), "X must contain only finite"),
        (lambda: ridge_fit(X_OK, np.r_[Y_OK[:4], np.inf], 1.0), "y must contain only finite"),
        (lambda: ridge_fit(np.empty((0, 2)), np.empty(0), 1.0), "X must not be empty"),
        (lambda: ridge_fit(X_OK, Y_OK, -1.0), "lam"),
        (lambda: ridge_fit(X_OK, Y_OK, float("nan")), "lam"),
        (lambda: ridge_fit(X_OK, Y_OK, "1"), "lam"),
        (lambda: ridge_fit([["a", "b"]], [1.0], 1.0), "X must be an array"),
        (lambda: ridge_path(X_OK, Y_OK, [1.0, -1.0]), "lams"),
        (lambda: ridge_path(X_OK, Y_OK, []), "lams"),
        (lambda: ridge_path(X_OK, Y_OK, [[1.0]]), "lams"),
        (lambda: ridge_path(X_OK, Y_OK[:3], [1.0]), "X and y"),
        (lambda: center_data(X_OK, Y_OK[:3]), "X and y"),
        (lambda: center_data(X_OK, np.full(5, np.nan)), "y"),
        (lambda: bayes_posterior(X_OK, Y_OK, noise_std=0.0, prior_std=1.0), "noise_std"),
        (lambda: bayes_posterior(X_OK, Y_OK, noise_std=1.0, prior_std=-1.0), "prior_std"),
        (lambda: bayes_posterior(X_OK[None], Y_OK, **KW), "X must be 2-dimensional"),
        (lambda: log_evidence(X_OK, Y_OK, noise_std=float("inf"), prior_std=1.0), "noise_std"),
        (lambda: log_evidence(X_OK, Y_OK, noise_std=1.0, prior_std=0.0), "prior_std"),
        (lambda: log_evidence(X_OK, Y_OK[:2], **KW), "X and y"),
        (lambda: fit_evidence(X_OK, np.zeros(5)), "y"),
        (lambda: fit_evidence(X_OK, Y_OK, tol=0.0), "tol"),
        (lambda: fit_evidence(X_OK, Y_OK, max_iter=0), "max_iter"),
        (lambda: fit_evidence(X_OK, Y_OK[:, None]), "y must be 1-dimensional"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_inputs_are_not_modified():
    X, y = X_OK.copy(), Y_OK.copy()
    ridge_fit(X, y, 1.0)
    ridge_path(X, y, [1.0])
    bayes_posterior(X, y, **KW)
    log_evidence(X, y, **KW)
    center_data(X, y)
    np.testing.assert_array_equal(X, X_OK)
    np.testing.assert_array_equal(y, Y_OK)
