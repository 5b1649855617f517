"""Wrong implementations of the exercises of chapter 8, one or more per named misconception."""

from __future__ import annotations

import math


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
