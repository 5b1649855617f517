"""Wrong implementations of the exercises of chapter 3, one or more per named misconception."""

from __future__ import annotations

import math

import numpy as np


def _log_gauss(X, y, noise_var, prior_var, *, logdet=0.5, const=True):
    X, y = np.asarray(X, float), np.asarray(y, float)
    n = len(y)
    C = noise_var * np.eye(n) + prior_var * X @ X.T
    L = np.linalg.cholesky(C)
    z = np.linalg.solve(L, y)
    return -0.5 * z @ z - 2 * logdet * np.log(np.diag(L)).sum() - (0.5 * n * math.log(2 * math.pi) if const else 0.0)


def _delta(X):
    return np.linalg.svd(np.asarray(X, float), compute_uv=False)


def dof(X, lam, power=2):
    """Effective degrees of freedom from the singular values raised to ``power`` (2 is right)."""
    dp = _delta(X) ** power
    return float(np.sum(dp / (dp + lam)))


WRONG = {
    "ch03-log-evidence": {
        "Occam term missing": [lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, logdet=0.0)],
        "log-determinant scaled wrongly": [lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, logdet=1.0)],
        "normalising constant missing": [lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2, const=False)],
        "standard deviations for variances": [lambda X, y, s, sd: _log_gauss(X, y, s, sd)],
        "noise and prior swapped": [lambda X, y, s, sd: _log_gauss(X, y, sd**2, s**2)],
        "precisions for variances": [lambda X, y, s, sd: _log_gauss(X, y, s**-2, sd**-2)],
        "negative log evidence": [lambda X, y, s, sd: -_log_gauss(X, y, s**2, sd**2)],
        "Occam factor dropped (weight-space form)": [
            lambda X, y, s, sd: _log_gauss(X, y, s**2, sd**2)
            + 0.5 * np.linalg.slogdet(np.asarray(X, float).T @ X / s**2 + np.eye(np.shape(X)[1]) / sd**2)[1],
        ],
    },
    "ch03-ridge-lam-from-stds": {
        "standard deviations for variances": [lambda s, sd: s / sd],
        "ratio inverted": [lambda s, sd: sd**2 / s**2],
        "inverted and not squared": [lambda s, sd: sd / s],
        "noise ignored": [lambda s, sd: 1 / sd**2],
        "swapped precision s²σ²": [lambda s, sd: s**2 * sd**2],
    },
    "ch03-evidence-statement": {
        "integrated, not fitted": [lambda: "a"],
        "θ fitted, not integrated": [lambda: " C "],
        "held-out data": [lambda: "d"],
    },
    "ch03-effective-dof": {
        "singular values not squared": [lambda X, lam: dof(X, lam, power=1)],
        "the prior's share": [lambda X, lam: float(np.sum(lam / (_delta(X) ** 2 + lam)))],
        "mean-loss scaling": [lambda X, lam: dof(X, len(X) * lam)],
        "parameter count": [lambda X, lam: float(np.shape(X)[1])],
    },
}
