"""Wrong implementations of the exercises of chapter 7, one or more per named misconception."""

from __future__ import annotations

import numpy as np


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


def sigmoid(a):
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
        "MAP plug-in": [lambda mu, v: sigmoid(mu)],
        "variance for standard deviation": [lambda mu, v: sigmoid(np.asarray(mu) / (1 + np.pi * np.asarray(v) / 8))],
        "more confident, not less": [lambda mu, v: sigmoid(np.asarray(mu) * np.sqrt(1 + np.pi * np.asarray(v) / 8))],
        "π/8 left out": [lambda mu, v: sigmoid(np.asarray(mu) / np.sqrt(1 + np.asarray(v)))],
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
