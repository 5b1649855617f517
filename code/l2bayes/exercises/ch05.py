r"""Checking specs for the exercises of chapter 5, *Weight decay from scratch*.

The reference solutions are the cells tagged ``solution`` in
``chapters/05_weight_decay_from_scratch.ipynb``; here are only the cases,
tolerances, hints and the misconceptions each exercise recognises. Notation
as in the book's equation ``eq-sgd-step``: :math:`g = \pm\nabla L + \mathrm{wd}\,\theta`,
:math:`b` is ``buf`` (``None`` before the first step), :math:`\mu` is
``momentum``, :math:`\tau` is ``dampening``, :math:`\eta` is ``lr``.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, close, close_tuple, describe, log_uniform, part, same

CHAPTER = "05_weight_decay_from_scratch"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _step_inputs(rng: np.random.Generator, *, first_step_share: float = 0.3) -> dict:
    """θ, ∇L and a buffer (``None`` for a first step) of 2 to 7 entries, η and wd."""
    d = int(rng.integers(2, 8))
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "buf": None if rng.random() < first_step_share else rng.normal(0.0, 1.0, size=d),
        "lr": log_uniform(rng, 0.01, 0.3),
    }


# --- dampened_sgd_step(theta, grad, buf, lr, momentum, dampening, weight_decay) ----------------


def _dampening(rng: np.random.Generator) -> float:
    tau = float(rng.uniform(0.1, 0.9))
    while abs(tau - 0.5) < 0.1:  # at tau = 1/2, tau and 1 - tau cannot be told apart
        tau = float(rng.uniform(0.1, 0.9))
    return tau


def _dampened_case(rng: np.random.Generator) -> dict:
    x = _step_inputs(rng, first_step_share=0.5)  # the first step is half the point of this exercise
    return {
        "theta": x["theta"], "grad": x["grad"], "buf": x["buf"], "lr": x["lr"],
        "momentum": float(rng.uniform(0.5, 0.95)),
        "dampening": _dampening(rng),
        "weight_decay": log_uniform(rng, 0.05, 1.0),
    }


def _dampened(x: dict, *, first_scale: float = 1.0, scale=None, decay_in_g: bool = True):
    """(theta, buf) of a dampened step; the keywords give the misconceptions."""
    theta, lr, mu, tau = _arr(x, "theta"), x["lr"], x["momentum"], x["dampening"]
    decay = x["weight_decay"] * theta
    g = _arr(x, "grad") + (decay if decay_in_g else 0.0)
    if x["buf"] is None:
        buf = first_scale * g
    else:
        buf = mu * _arr(x, "buf") + ((1 - tau) if scale is None else scale) * g
    return theta - lr * buf - lr * (0.0 if decay_in_g else decay), buf


def _later(x: dict) -> bool:
    return x["buf"] is not None


DAMPENED_SGD_STEP = Exercise(
    id="ch05-dampened-step",
    chapter=CHAPTER,
    function="dampened_sgd_step",
    params=("theta", "grad", "buf", "lr", "momentum", "dampening", "weight_decay"),
    returns="tuple (theta, buf) of arrays of theta's shape",
    checks="g = ∇L + wd·θ, b = g at the first step (buf None) and μb + (1 − τ)g later, θ − ηb (both θ and b), "
    "for random θ, ∇L, buffers of 2 to 7 entries, η from 0.01 to 0.3, μ from 0.5 to 0.95, τ from 0.1 to 0.9 "
    "and wd from 0.05 to 1, about half of them first steps, plus τ = 0, τ = 1, μ = 0 and a 2×2 matrix.",
    random_case=_dampened_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "buf": None, "lr": 0.1,
              "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05},
             "first step (buf is None)", "At the first step torch copies g into the buffer, undampened: b = g."),
        Case({"theta": np.array([0.5, 1.5]), "grad": np.array([-0.2, 0.4]), "buf": np.array([1.0, -1.0]), "lr": 0.2,
              "momentum": 0.8, "dampening": 0.0, "weight_decay": 0.3},
             "dampening is zero", "With τ = 0 the buffer is μb + g, momentum without dampening."),
        Case({"theta": np.array([0.7, -0.3, 2.0]), "grad": np.array([0.1, 0.5, -0.2]), "buf": np.array([0.4, 0.0, -0.6]),
              "lr": 0.05, "momentum": 0.8, "dampening": 1.0, "weight_decay": 0.1},
             "dampening is one", "With τ = 1 the new gradient does not enter the buffer after the first step: b = μb."),
        Case({"theta": np.array([1.2, -0.8]), "grad": np.array([0.5, 0.5]), "buf": np.array([-0.3, 0.9]), "lr": 0.1,
              "momentum": 0.0, "dampening": 0.4, "weight_decay": 0.2},
             "momentum is zero", "With μ = 0 the buffer is (1 − τ)g after the first step."),
        Case({"theta": np.array([[1.0, -1.0], [0.5, 2.0]]), "grad": np.array([[0.1, 0.2], [-0.3, 0.4]]),
              "buf": np.array([[0.5, 0.0], [-0.5, 1.0]]), "lr": 0.1, "momentum": 0.9, "dampening": 0.2,
              "weight_decay": 0.1},
             "theta is a 2x2 matrix"),
    ),
    misconceptions=(
        Misconception(
            "dampening at the first step",
            "at the first step your buffer is (1 − τ)g: torch copies g into the buffer undampened at the first "
            "step (b = g) and dampens only the later ones, b = μb + (1 − τ)g.",
            lambda x, want, got: not _later(x) and same(got, _dampened(x, first_scale=1 - x["dampening"])),
        ),
        Misconception(
            "decay added after the buffer",
            "your buffer holds ∇L without wd·θ, and the decay is added to the step afterwards: torch adds wd·θ "
            "to the gradient first, g = ∇L + wd·θ, so the decay is dampened and accumulated in the buffer "
            "with the data gradient.",
            lambda x, want, got: same(got, _dampened(x, decay_in_g=False)),
        ),
        Misconception(
            "dampening ignored",
            "your later steps use b = μb + g: with dampening τ the new gradient enters the buffer scaled by "
            "(1 − τ), b = μb + (1 − τ)g.",
            lambda x, want, got: _later(x) and same(got, _dampened(x, scale=1.0)),
        ),
        Misconception(
            "τ for 1 − τ",
            "your buffer adds τ·g: dampening τ is the share of the new gradient that is held back, so the "
            "gradient enters scaled by (1 − τ).",
            lambda x, want, got: _later(x) and same(got, _dampened(x, scale=x["dampening"])),
        ),
    ),
    hint="g = ∇L + wd·θ; b = g if buf is None else μ·buf + (1 − τ)·g; return (θ − η·b, b).",
    compare=close_tuple("theta", "buf"),
)


# --- nesterov_sgd_step(theta, grad, buf, lr, momentum, weight_decay) ---------------------------


def _nesterov_case(rng: np.random.Generator) -> dict:
    x = _step_inputs(rng)
    x["momentum"] = float(rng.uniform(0.5, 0.95))
    x["weight_decay"] = log_uniform(rng, 0.05, 1.0)
    return x


def _nesterov_buf(x: dict, g: np.ndarray) -> np.ndarray:
    return g.copy() if x["buf"] is None else x["momentum"] * _arr(x, "buf") + g


def _g(x: dict, *, decay: bool = True) -> np.ndarray:
    return _arr(x, "grad") + (x["weight_decay"] * _arr(x, "theta") if decay else 0.0)


def _no_decay_in_g(x: dict, got) -> bool:
    theta, lr, mu = _arr(x, "theta"), x["lr"], x["momentum"]
    g = _g(x, decay=False)
    buf = _nesterov_buf(x, g)
    step = g + mu * buf
    return any(same(got, (theta - lr * s, buf)) for s in (step, step + x["weight_decay"] * theta))


NESTEROV_SGD_STEP = Exercise(
    id="ch05-nesterov-step",
    chapter=CHAPTER,
    function="nesterov_sgd_step",
    params=("theta", "grad", "buf", "lr", "momentum", "weight_decay"),
    returns="tuple (theta, buf) of arrays of theta's shape",
    checks="g = ∇L + wd·θ, b = g at the first step (buf None) and μb + g later, θ − η(g + μb) with the new b "
    "(both θ and b), for random θ, ∇L, buffers of 2 to 7 entries, η from 0.01 to 0.3, μ from 0.5 to 0.95 "
    "and wd from 0.05 to 1, about a third of them first steps, plus μ = 0, wd = 0 and a 2×2 matrix.",
    random_case=_nesterov_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "buf": None, "lr": 0.1,
              "momentum": 0.9, "weight_decay": 0.05},
             "first step (buf is None)", "At the first step b = g, so the step is θ − η(1 + μ)g."),
        Case({"theta": np.array([0.5, 1.5]), "grad": np.array([-0.2, 0.4]), "buf": np.array([1.0, -1.0]), "lr": 0.2,
              "momentum": 0.0, "weight_decay": 0.3},
             "momentum is zero", "With μ = 0 Nesterov's step is plain SGD with decay."),
        Case({"theta": np.array([0.7, -0.3, 2.0]), "grad": np.array([0.1, 0.5, -0.2]), "buf": np.array([0.4, 0.0, -0.6]),
              "lr": 0.05, "momentum": 0.8, "weight_decay": 0.0},
             "weight_decay is zero"),
        Case({"theta": np.array([[1.0, -1.0], [0.5, 2.0]]), "grad": np.array([[0.1, 0.2], [-0.3, 0.4]]),
              "buf": np.array([[0.5, 0.0], [-0.5, 1.0]]), "lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
             "theta is a 2x2 matrix"),
    ),
    misconceptions=(
        Misconception(
            "heavy-ball step",
            "your step is θ − η(μ·b_old + g): that is heavy-ball momentum, stepping by the buffer alone, which "
            "is also what using the old buffer in g + μb gives. Nesterov's look-ahead updates the buffer first, "
            "b = μb + g, and then steps θ − η(g + μb) with the new b.",
            lambda x, want, got: same(part(got, 0), _arr(x, "theta") - x["lr"] * _nesterov_buf(x, _g(x))),
        ),
        Misconception(
            "decay left out of g",
            "your buffer holds ∇L without wd·θ: torch adds the decay to the gradient first, g = ∇L + wd·θ, and "
            "uses that g both in the buffer and in the look-ahead g + μb.",
            lambda x, want, got: _no_decay_in_g(x, got),
        ),
        Misconception(
            "μ missing in the look-ahead",
            "your step is θ − η(g + b): the look-ahead adds the buffer scaled by the momentum, θ − η(g + μb).",
            lambda x, want, got: same(
                got, (_arr(x, "theta") - x["lr"] * (_g(x) + _nesterov_buf(x, _g(x))), _nesterov_buf(x, _g(x)))
            ),
        ),
    ),
    hint="g = ∇L + wd·θ; b = g if buf is None else μ·buf + g; return (θ − η(g + μ·b), b), with the new b.",
    compare=close_tuple("theta", "buf"),
)


# --- maximize_sgd_step(theta, grad, lr, weight_decay) = theta - lr (-grad + wd theta) ----------


def _maximize_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 8))
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "lr": log_uniform(rng, 0.01, 0.3),
        "weight_decay": log_uniform(rng, 0.05, 1.0),
    }


def _ascent(x: dict, *, grad_sign: float = 1.0, shrink=None) -> np.ndarray:
    theta = _arr(x, "theta")
    shrink = x["lr"] * x["weight_decay"] if shrink is None else shrink
    return (1 - shrink) * theta + grad_sign * x["lr"] * _arr(x, "grad")


MAXIMIZE_SGD_STEP = Exercise(
    id="ch05-maximize-step",
    chapter=CHAPTER,
    function="maximize_sgd_step",
    params=("theta", "grad", "lr", "weight_decay"),
    returns="array of theta's shape",
    checks="θ − η(−∇F + wd·θ) = (1 − η·wd)θ + η∇F for random θ, ∇F of 2 to 7 entries, η from 0.01 to 0.3 "
    "and wd from 0.05 to 1, plus wd = 0, ∇F = 0, θ = 0 and a 2×3 matrix.",
    random_case=_maximize_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "lr": 0.1, "weight_decay": 0.0},
             "weight_decay is zero", "With wd = 0 the step is plain ascent: θ + η∇F."),
        Case({"theta": np.array([2.0, -1.0]), "grad": np.zeros(2), "lr": 0.1, "weight_decay": 0.3},
             "grad is zero", "With ∇F = 0 only the decay acts, and it still shrinks θ toward zero."),
        Case({"theta": np.zeros(3), "grad": np.array([1.0, -1.0, 2.0]), "lr": 0.05, "weight_decay": 0.4},
             "theta is zero"),
        Case({"theta": np.arange(6.0).reshape(2, 3) / 3 - 1, "grad": np.full((2, 3), 0.5), "lr": 0.1, "weight_decay": 0.2},
             "theta is a 2x3 matrix"),
    ),
    misconceptions=(
        Misconception(
            "decay negated too",
            "your step is θ + η(∇F + wd·θ), so the weights grow: maximize negates only the objective's gradient, "
            "and torch adds wd·θ after that, so the decay still pulls θ toward zero: θ − η(−∇F + wd·θ).",
            lambda x, want, got: same(got, _ascent(x, shrink=-x["lr"] * x["weight_decay"])),
        ),
        Misconception(
            "maximize ignored",
            "your step descends, θ − η(∇F + wd·θ): with maximize=True the objective's gradient is negated "
            "first, so θ moves up ∇F: θ − η(−∇F + wd·θ).",
            lambda x, want, got: same(got, _ascent(x, grad_sign=-1.0)),
        ),
        Misconception(
            "decay without the learning rate",
            "your step shrinks θ by (1 − wd): the decay wd·θ is part of the gradient the learning rate "
            "multiplies, so the factor is (1 − η·wd).",
            lambda x, want, got: same(got, _ascent(x, shrink=x["weight_decay"])),
        ),
    ),
    hint="torch negates the gradient first, then adds the decay: g = −∇F + wd·θ, and the step is θ − η·g.",
    compare=close(rtol=1e-9, atol=1e-12),
)



# --- maximize_objective_answer(): a choice among statements, no code to write ------------------

#: The statements of the exercise, by letter (the notebook prints the same list).
MAXIMIZE_STATEMENTS = {
    "A": "It ascends F + (wd/2)‖θ‖²: maximize flips the sign of the decay too, so the weights grow.",
    "B": "It ascends F − (wd/2)‖θ‖²; with F the log-likelihood, that is the log posterior of the Gaussian prior.",
    "C": "It ascends F − (wd/2)‖θ‖²; with F the log posterior, that is the log posterior of the Gaussian prior.",
    "D": "It descends F + (wd/2)‖θ‖²: maximize only changes the sign of the decay.",
}


def _choice(letters: str):
    """Compare a letter answer, case and surrounding spaces ignored; the reason names what was chosen."""

    def compare(expected, got) -> str | None:
        if not isinstance(got, str) or got.strip().upper() not in letters:
            return f"expected one of the letters {', '.join(letters)} (a str), got {describe(got)}"
        return None if got.strip().upper() == expected.strip().upper() else f"you chose {got.strip().upper()}"

    return compare


def _chose(letter: str):
    return lambda x, want, got: isinstance(got, str) and got.strip().upper() == letter


MAXIMIZE_OBJECTIVE = Exercise(
    id="ch05-maximize-objective",
    chapter=CHAPTER,
    function="maximize_objective_answer",
    params=(),
    returns="str: the letter of the true statement",
    checks="the letter of the true statement about SGD(maximize=True, weight_decay=wd) on an objective F.",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the statements of the question"),),
    misconceptions=(
        Misconception(
            "decay negated too",
            "A says maximize negates the decay as well: torch negates only ∇F and then adds wd·θ, so the step "
            "θ + η(∇F − wd·θ) still pulls the weights toward zero.",
            _chose("A"),
        ),
        Misconception(
            "prior counted twice",
            "C takes F to be the log posterior: then F already holds the prior's −‖θ‖²/(2σ²), and the decay adds "
            "a second −(wd/2)‖θ‖², a prior counted twice. F must be the log-likelihood.",
            _chose("C"),
        ),
        Misconception(
            "maximize ignored",
            "D has the optimizer descend: with maximize=True, θ moves up ∇F; only the decay term keeps its "
            "sign, so the objective ascended is F − (wd/2)‖θ‖².",
            _chose("D"),
        ),
    ),
    hint="Write the step: g = −∇F + wd·θ, θ ← θ − ηg = θ + η∇(F − (wd/2)‖θ‖²). Which F makes that a log posterior?",
    compare=_choice("ABCD"),
)

EXERCISES = (DAMPENED_SGD_STEP, NESTEROV_SGD_STEP, MAXIMIZE_SGD_STEP, MAXIMIZE_OBJECTIVE)
