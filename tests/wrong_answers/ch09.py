"""Wrong implementations of the exercises of chapter 9, one or more per named misconception."""

from __future__ import annotations

import numpy as np


def _solve(X, y, lam, centre=0.0):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y + lam * np.asarray(centre))


WRONG = {
    "ch09-l2sp-step": {
        "decay toward zero": [lambda th, g, c, lr, lam: th - lr * (g + lam * th)],
        "sign flipped": [lambda th, g, c, lr, lam: th - lr * (g - lam * (th - c))],
        "factor of two": [lambda th, g, c, lr, lam: th - lr * (g + 2 * lam * (th - c))],
        "pull without the learning rate": [lambda th, g, c, lr, lam: th - lr * g - lam * (th - c)],
    },
    "ch09-ridge-toward": {
        "shrinks toward zero": [lambda X, y, lam, c: _solve(X, y, lam)],
        "centre added after": [lambda X, y, lam, c: _solve(X, y, lam) + c],
        "centre not weighted by lam": [lambda X, y, lam, c: np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y + c)],
    },
    "ch09-prior-std-from-wd": {
        "variance for std": [lambda wd, n: 1 / (n * wd)],
        "n left out": [lambda wd, n: 1 / np.sqrt(wd)],
        "MSE conversion": [lambda wd, n: np.sqrt(2 / (n * wd))],
        "upside down": [lambda wd, n: np.sqrt(n * wd)],
    },
    "ch09-plain-decay-limit": {
        "initialisation remembered": [lambda X, y, lam, init: _solve(X, y, lam, init)],
        "stays at the initialisation": [lambda X, y, lam, init: np.array(init, dtype=float)],
        "decay ignored": [lambda X, y, lam, init: np.linalg.lstsq(X, y, rcond=None)[0]],
    },
}
