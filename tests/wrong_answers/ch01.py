"""Wrong implementations of the exercises of chapter 1, one or more per named misconception."""

from __future__ import annotations

import numpy as np


def _q(theta):
    theta = np.asarray(theta, float)
    return theta @ theta, theta.size


WRONG = {
    "ch01-penalty-grad": {
        "factor of two": [lambda theta, lam, centre: 2 * lam * (theta - centre)],
        "half kept": [lambda theta, lam, centre: lam / 2 * (theta - centre)],
        "centre ignored": [lambda theta, lam, centre: lam * theta],
        "sign flipped": [lambda theta, lam, centre: lam * (centre - theta)],
        "penalty, not its gradient": [lambda theta, lam, centre: 0.5 * lam * np.sum((theta - centre) ** 2)],
    },
    "ch01-neg-log-prior": {
        "normalising constant dropped": [lambda theta, s: _q(theta)[0] / (2 * s**2)],
        "σ in place of σ²": [lambda theta, s: _q(theta)[0] / (2 * s) + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2)],
        "log(2πσ) for log(2πσ²)": [lambda theta, s: _q(theta)[0] / (2 * s**2) + _q(theta)[1] / 2 * np.log(2 * np.pi * s)],
        "σ everywhere": [lambda theta, s: _q(theta)[0] / (2 * s) + _q(theta)[1] / 2 * np.log(2 * np.pi * s)],
        "constant for one entry": [lambda theta, s: _q(theta)[0] / (2 * s**2) + 0.5 * np.log(2 * np.pi * s**2)],
        "log prior, not its negative": [
            lambda theta, s: -(_q(theta)[0] / (2 * s**2) + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2)),
        ],
        "½ missing in the exponent": [lambda theta, s: _q(theta)[0] / s**2 + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2)],
    },
    "ch01-mse-weight-decay": {
        "batch size for n": [lambda sd, s, n, b: 2 * s**2 / (b * sd**2)],
        "σ in place of σ²": [lambda sd, s, n, b: 2 * s / (n * sd)],
        "factor 2 missing": [lambda sd, s, n, b: s**2 / (n * sd**2)],
        "noise variance missing": [lambda sd, s, n, b: 2 / (n * sd**2)],
        "cross-entropy formula": [lambda sd, s, n, b: 1 / (n * sd**2)],
        "n missing": [lambda sd, s, n, b: 2 * s**2 / sd**2],
        "upside down": [lambda sd, s, n, b: n * sd**2 / (2 * s**2)],
    },
    "ch01-prior-from-weight-decay": {
        "wd = 1/σ² (n forgotten)": [lambda: 5e-4**-0.5],
        "variance for standard deviation": [lambda: 1 / (50_000 * 5e-4)],
        "precision for standard deviation": [lambda: 50_000 * 5e-4],
        "MSELoss's factor 2": [lambda: (2 / (50_000 * 5e-4)) ** 0.5],
        "penalty without the half": [lambda: (2 * 50_000 * 5e-4) ** -0.5],
    },
}
