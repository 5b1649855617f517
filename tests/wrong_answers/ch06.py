"""Wrong implementations of the exercises of chapter 6, one or more per named misconception.

The step functions take ``(theta, grad, m, v, t, lr, beta1, beta2, eps, weight_decay)``:
``a[5]`` is the learning rate and ``a[9]`` the weight decay.
"""

from __future__ import annotations

import numpy as np


def _adam(theta, grad, m, v, t, lr, b1, b2, eps, wd, *, l2=0.0, l2_in_v=True, shrink=None, after=False,
          correct=True, hats=False):
    g = grad + l2 * theta
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g if l2_in_v else grad) ** 2
    mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
    step = lr * mh / (np.sqrt(vh) + eps)
    s = 0.0 if shrink is None else shrink
    theta = (1 - s) * (theta - step) if after else (1 - s) * theta - step
    return (theta, mh, vh) if hats else (theta, m, v)


def adamw(*a, **kw):
    """The AdamW step (right unless a keyword makes one of its misconceptions)."""
    return _adam(*a, shrink=a[5] * a[9], **kw)


def adam_l2(*a, **kw):
    """The Adam step with coupled L2 (right unless a keyword makes one of its misconceptions)."""
    return _adam(*a, l2=a[9], **kw)


WRONG = {
    "ch06-adamw-step": {
        "L2 added to the gradient": [adam_l2],
        "decay without the learning rate": [lambda *a: _adam(*a, shrink=a[9])],
        "no bias correction": [lambda *a: adamw(*a, correct=False)],
        "decay after the Adam step": [lambda *a: adamw(*a, after=True)],
        "bias-corrected moments returned": [lambda *a: adamw(*a, hats=True)],
        "decay as 1 − η²·wd": [lambda *a: _adam(*a, shrink=a[5] ** 2 * a[9])],
    },
    "ch06-adam-l2-step": {
        "factor of two": [lambda *a: _adam(*a, l2=2 * a[9])],
        "decoupled instead of coupled": [adamw],
        "decay in m only": [lambda *a: adam_l2(*a, l2_in_v=False)],
        "no bias correction": [lambda *a: adam_l2(*a, correct=False)],
    },
    "ch06-paper-to-torch": {
        "multiplied by alpha": [lambda lam, alpha: lam * alpha],
        "omega unchanged": [lambda omega, alpha: omega],
        "upside down": [lambda lam, alpha: alpha / lam],
    },
    # A conceptual exercise: no arguments, the answer is a number.
    "ch06-box-half-width": {
        "learning rate in the box": [lambda: 1 / (1e-3 * 1e-2)],
        "a Gaussian's σ": [lambda: 10.0],
        "the decay itself": [lambda: 0.01],
        "full width": [lambda: 200.0],
    },
}
