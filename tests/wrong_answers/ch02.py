"""Wrong implementations of the exercises of chapter 2, one or more per named misconception."""

from __future__ import annotations

import numpy as np


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


WRONG = {
    "ch02-ridge-closed-form": {
        "mean-loss scaling": [lambda X, y, lam: _ridge(X, y, len(y) * lam)],
        "λ divided by n": [lambda X, y, lam: _ridge(X, y, lam / len(y))],
        "half penalty": [lambda X, y, lam: _ridge(X, y, lam / 2)],
        "doubled penalty": [lambda X, y, lam: _ridge(X, y, 2 * lam)],
        "no penalty": [lambda X, y, lam: np.linalg.lstsq(X, y, rcond=None)[0]],
        "λ added to every entry": [lambda X, y, lam: np.linalg.solve(X.T @ X + lam, X.T @ y)],
    },
    "ch02-posterior-covariance": {
        "precision, not covariance": [lambda X, s, sd: X.T @ X / s**2 + np.eye(X.shape[1]) / sd**2],
        "standard deviations for variances": [lambda X, s, sd: _cov(X, s, sd)],
        "s² factor missing": [lambda X, s, sd: np.linalg.inv(X.T @ X + s**2 / sd**2 * np.eye(X.shape[1]))],
        "ratio inverted": [lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X + sd**2 / s**2 * np.eye(X.shape[1]))],
        "prior left out": [lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X)],
    },
    "ch02-ridge-alpha-answer": {
        "swapped precision s²σ²": [lambda: 0.6**2 * 1.5**2],
        "ratio inverted": [lambda: 1.5**2 / 0.6**2],
        "standard deviations for variances": [lambda: 0.6 / 1.5],
        "noise ignored": [lambda: 1 / 1.5**2],
        "half of the answer": [lambda: 0.6**2 / (2 * 1.5**2)],
    },
    "ch02-ridge-intercept": {
        "penalised intercept": [_penalised_intercept],
        "only y centred": [_only_y_centred],
        "intercept of the centred model": [_centred_model],
        "intercept sign error": [_sign_error],
        "no intercept": [lambda X, y, lam: (0.0, _ridge(X, y, lam))],
    },
}
