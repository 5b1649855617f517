"""Wrong implementations of the exercises of chapter 10, one or more per named misconception."""

from __future__ import annotations

import numpy as np

WRONG = {
    "ch10-gd-filter": {
        "ridge form": [lambda d, lr, t: d**2 / (d**2 + 1 / (lr * t))],
        "exponent off by one": [lambda d, lr, t: 1 - (1 - lr * d**2) ** (t - 1), lambda d, lr, t: 1 - (1 - lr * d**2) ** (t + 1)],
        "delta for delta squared": [lambda d, lr, t: 1 - (1 - lr * d) ** t],
        "factor of two": [lambda d, lr, t: 1 - (1 - 2 * lr * d**2) ** t],
    },
    "ch10-early-stopping-lam": {
        "mean ignored": [lambda lr, t, n: 1 / (lr * t)],
        "factor of two": [lambda lr, t, n: n / (lr * t), lambda lr, t, n: n / (4 * lr * t)],
        "upside down": [lambda lr, t, n: 2 * lr * t / n],
    },
    "ch10-adamw-tau-epochs": {
        "steps not epochs": [lambda lr, wd, n, b: 1 / (lr * wd)],
        "steps per epoch upside down": [lambda lr, wd, n, b: n / (b * lr * wd)],
        "batch size ignored": [lambda lr, wd, n, b: 1 / (lr * wd * n)],
    },
    "ch10-scaled-gradient": {
        "unchanged": [lambda g, c: np.array(g, dtype=float)],
        "scaled with the weights": [lambda g, c: c * np.asarray(g)],
        "scale squared": [lambda g, c: np.asarray(g) / c**2],
    },
}
