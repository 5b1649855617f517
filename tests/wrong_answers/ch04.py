"""Wrong implementations of the exercises of chapter 4, one or more per named misconception.

The group exercise takes ``named_parameters``, a list of ``(name, parameter)`` pairs.
"""

from __future__ import annotations


def momentum_step(theta, grad, buf, lr, mu, wd, *, in_buf=True, decay=True, average=False):
    """SGD with momentum and weight decay; the flags make its misconceptions."""
    g = grad + (wd * theta if decay and in_buf else 0)
    new = mu * buf + ((1 - mu) if average else 1) * g
    return theta - lr * new - (lr * wd * theta if decay and not in_buf else 0), new


def split(named):
    """``(weights, others)``: the parameters whose name ends in ``weight``, and the rest."""
    weights = [p for n, p in named if n.endswith("weight")]
    others = [p for n, p in named if not n.endswith("weight")]
    return weights, others


def groups_all(named, wd):
    return [{"params": [p for _, p in named], "weight_decay": wd}]


def groups_all_generator(named, wd):
    return [{"params": (p for _, p in named), "weight_decay": wd}]  # torch accepts a generator


def groups_typo(named, wd):
    weights, others = split(named)
    return [{"params": weights, "weight_dacay": wd}, {"params": others, "weight_decay": 0.0}]


def groups_swapped(named, wd):
    weights, others = split(named)
    return [{"params": weights, "weight_decay": 0.0}, {"params": others, "weight_decay": wd}]


def groups_weights_only(named, wd):
    return [{"params": split(named)[0], "weight_decay": wd}]


def groups_listed_twice(named, wd):
    weights, _ = split(named)
    return [{"params": weights, "weight_decay": wd}, {"params": [p for _, p in named], "weight_decay": 0.0}]


def groups_by_shape(named, wd):
    ps = [p for _, p in named]
    return [{"params": [p for p in ps if p.ndim > 1], "weight_decay": wd},
            {"params": [p for p in ps if p.ndim <= 1], "weight_decay": 0.0}]


WRONG = {
    "ch04-sgd-decay-step": {
        "factor of two": [lambda th, g, lr, wd: th - lr * (g + 2 * wd * th)],
        "decay without the learning rate": [lambda th, g, lr, wd: (1 - wd) * th - lr * g],
        "sign flipped": [lambda th, g, lr, wd: (1 + lr * wd) * th - lr * g],
        "decay left out": [lambda th, g, lr, wd: th - lr * g],
    },
    "ch04-sgd-momentum-step": {
        "decay outside the buffer": [
            lambda th, g, b, lr, mu, wd: momentum_step(th, g, b, lr, mu, wd, in_buf=False),
            lambda th, g, b, lr, mu, wd: ((1 - lr * wd) * th - lr * (mu * b + g), mu * b + g),  # shrink form
        ],
        "stepping with the old buffer": [lambda th, g, b, lr, mu, wd: (th - lr * b, mu * b + g + wd * th)],
        "buffer as an average": [lambda th, g, b, lr, mu, wd: momentum_step(th, g, b, lr, mu, wd, average=True)],
        "decay left out": [lambda th, g, b, lr, mu, wd: momentum_step(th, g, b, lr, mu, wd, decay=False)],
        "old buffer returned": [lambda th, g, b, lr, mu, wd: (momentum_step(th, g, b, lr, mu, wd)[0], b)],
    },
    "ch04-decay-groups": {
        "misspelled key": [groups_typo],
        "biases decayed too": [groups_all, groups_all_generator],
        "decay swapped": [groups_swapped],
        "parameter missing or listed twice": [groups_weights_only, groups_listed_twice],
        "decided by shape": [groups_by_shape],
    },
    # A conceptual exercise: no arguments, the answer is a number.
    "ch04-momentum-decay": {
        "momentum ignored": [lambda: 0.1 * 5e-4],
        "μ for 1 − μ": [lambda: 0.1 * 5e-4 / 0.9],
        "buffer as an average": [lambda: 0.1 * 5e-4 * 0.1],
        "decay without the learning rate": [lambda: 5e-4 / 0.1, lambda: 5e-3],
    },
}
