"""Wrong implementations of the exercises of chapter 5, one or more per named misconception."""

from __future__ import annotations


def _dampened(theta, grad, buf, lr, mu, tau, wd, *, first=1.0, scale=None, in_g=True):
    g = grad + (wd * theta if in_g else 0)
    new = first * g if buf is None else mu * buf + ((1 - tau) if scale is None else scale) * g
    return theta - lr * new - (0 if in_g else lr * wd * theta), new


def _nesterov(theta, grad, buf, lr, mu, wd, *, look=True, old=False, in_g=True, decay_after=False, mu_in_look=True):
    g = grad + (wd * theta if in_g else 0)
    new = g.copy() if buf is None else mu * buf + g
    if not look:
        step = new
    elif old:
        step = g + mu * buf
    else:
        step = g + (mu if mu_in_look else 1) * new
    return theta - lr * (step + (wd * theta if decay_after else 0)), new


WRONG = {
    "ch05-dampened-step": {
        "dampening at the first step": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, first=1 - tau)],
        "decay added after the buffer": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, in_g=False)],
        "dampening ignored": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, scale=1.0)],
        "τ for 1 − τ": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, scale=tau)],
    },
    "ch05-nesterov-step": {
        "heavy-ball step": [
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, look=False),
            # the old buffer in the look-ahead gives the same numbers; it raises on buf=None (not a returned value)
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, old=True),
        ],
        "decay left out of g": [
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, in_g=False),
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, in_g=False, decay_after=True),
        ],
        "μ missing in the look-ahead": [lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, mu_in_look=False)],
    },
    "ch05-maximize-step": {
        "decay negated too": [lambda th, g, lr, wd: th + lr * (g + wd * th)],
        "maximize ignored": [lambda th, g, lr, wd: th - lr * (g + wd * th)],
        "decay without the learning rate": [lambda th, g, lr, wd: (1 - wd) * th + lr * g],
    },
    # A conceptual exercise: no arguments, the answer is a letter.
    "ch05-maximize-objective": {
        "decay negated too": [lambda: "A"],
        "prior counted twice": [lambda: "C", lambda: " c "],
        "maximize ignored": [lambda: "D"],
    },
}
