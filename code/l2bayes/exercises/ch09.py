r"""Checking specs for the exercises of chapter 9, *Informative priors and transfer learning*.

The reference solutions are the cells tagged ``solution`` in
``chapters/09_informative_priors.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: :math:`w_0` is ``centre`` (the pretrained weights), :math:`\lambda` is
``lam``, :math:`\eta` is ``lr``, :math:`\mathrm{wd}` is ``weight_decay``, ridge's
convention :math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta - w_0\rVert^2` for the
closed forms.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, log_uniform, same

CHAPTER = "09_informative_priors"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _solve(x: dict, lam: float, centre) -> np.ndarray:
    X, y = _arr(x, "X"), _arr(x, "y")
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y + lam * np.asarray(centre, dtype=float))


def _regression_case(rng: np.random.Generator, centre_key: str) -> dict:
    d = int(rng.integers(2, 6))
    n = int(rng.integers(d + 3, 30))
    X = rng.standard_normal((n, d)) * np.exp(rng.uniform(np.log(0.5), np.log(2.0), size=d))
    theta = rng.normal(0.0, 1.0, size=d)
    return {"X": X, "y": X @ theta + 0.3 * rng.standard_normal(n),
            "lam": log_uniform(rng, 0.5, 20.0), centre_key: theta + rng.normal(0.0, 1.0, size=d)}


# --- l2sp_sgd_step(theta, grad, centre, lr, lam) = theta - lr (grad + lam (theta - centre)) ----


def _step_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 8))
    return {"theta": rng.normal(0.0, 1.5, size=d), "grad": rng.normal(0.0, 1.0, size=d),
            "centre": rng.normal(0.0, 1.5, size=d), "lr": log_uniform(rng, 0.01, 0.3),
            "lam": log_uniform(rng, 0.05, 1.0)}


def _step(x: dict, *, pull: float = 1.0, toward_zero: bool = False, lr_on_pull: bool = True) -> np.ndarray:
    theta, grad, lr, lam = _arr(x, "theta"), _arr(x, "grad"), x["lr"], x["lam"]
    target = 0.0 if toward_zero else _arr(x, "centre")
    penalty = pull * lam * (theta - target)
    return theta - lr * grad - (lr if lr_on_pull else 1.0) * penalty


L2SP_SGD_STEP = Exercise(
    id="ch09-l2sp-step",
    chapter=CHAPTER,
    function="l2sp_sgd_step",
    params=("theta", "grad", "centre", "lr", "lam"),
    returns="array of theta's shape",
    checks="θ − η(∇L + λ(θ − w₀)) for random θ, ∇L and w₀ of 2 to 7 entries, η from 0.01 to 0.3 and λ from "
    "0.05 to 1, plus θ = w₀, w₀ = 0 and λ = 0.",
    random_case=_step_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0]), "grad": np.array([0.3, 0.1]), "centre": np.array([1.0, -2.0]),
              "lr": 0.1, "lam": 0.5}, "theta equals the centre", "At θ = w₀ the penalty pulls with zero force."),
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "centre": np.zeros(3),
              "lr": 0.1, "lam": 0.5}, "centre is zero", "With w₀ = 0 the step is plain weight decay."),
        Case({"theta": np.array([0.5, 1.5]), "grad": np.array([-0.2, 0.4]), "centre": np.array([2.0, 2.0]),
              "lr": 0.2, "lam": 0.0}, "lam is zero", "With λ = 0 the step is plain SGD."),
    ),
    misconceptions=(
        Misconception(
            "decay toward zero",
            "your step pulls θ toward 0, as plain weight decay does: the prior N(w₀, σ²I) is centred at the "
            "pretrained weights, so the penalty λ/2‖θ − w₀‖² has gradient λ(θ − w₀).",
            lambda x, want, got: same(got, _step(x, toward_zero=True)),
        ),
        Misconception(
            "sign flipped",
            "your step pushes θ away from w₀: the penalty's gradient λ(θ − w₀) is subtracted with the rest of "
            "the gradient, which moves θ toward w₀.",
            lambda x, want, got: same(got, _step(x, pull=-1.0)),
        ),
        Misconception(
            "factor of two",
            "your pull toward w₀ is twice too strong: the ½ of λ/2‖θ − w₀‖² cancels the 2 of the square.",
            lambda x, want, got: same(got, _step(x, pull=2.0)),
        ),
        Misconception(
            "pull without the learning rate",
            "your step moves θ by λ(θ − w₀) without the learning rate: the penalty's gradient is part of the "
            "gradient, and the whole gradient is multiplied by η.",
            lambda x, want, got: same(got, _step(x, lr_on_pull=False)),
        ),
    ),
    hint="The gradient of L + λ/2‖θ − w₀‖² is ∇L + λ(θ − w₀); step against it with the learning rate η.",
)


# --- ridge_toward_centre(X, y, lam, centre) = solve(X^T X + lam I, X^T y + lam centre) -------


def _toward_case(rng: np.random.Generator) -> dict:
    return _regression_case(rng, "centre")


_rng = np.random.default_rng(909)
_X = _rng.standard_normal((12, 3))
_y = _X @ np.array([1.0, -1.0, 0.5]) + 0.2 * _rng.standard_normal(12)

RIDGE_TOWARD_CENTRE = Exercise(
    id="ch09-ridge-toward",
    chapter=CHAPTER,
    function="ridge_toward_centre",
    params=("X", "y", "lam", "centre"),
    returns="array of shape (d,)",
    checks="(XᵀX + λI)⁻¹(Xᵀy + λw₀) for random X of 2 to 5 columns, λ from 0.5 to 20 and w₀ near the truth, "
    "plus w₀ = 0, a very large λ and a small one.",
    random_case=_toward_case,
    edge_cases=(
        Case({"X": _X, "y": _y, "lam": 3.0, "centre": np.zeros(3)}, "centre is zero",
             "With w₀ = 0 this is ordinary ridge."),
        Case({"X": _X, "y": _y, "lam": 1e6, "centre": np.array([0.3, 0.2, -0.1])}, "lam is huge",
             "As λ grows the answer tends to w₀, not to 0."),
        Case({"X": _X, "y": _y, "lam": 1e-3, "centre": np.array([5.0, 5.0, 5.0])}, "lam is tiny",
             "As λ shrinks the answer tends to least squares, whatever w₀."),
    ),
    misconceptions=(
        Misconception(
            "shrinks toward zero",
            "your answer is ordinary ridge, (XᵀX + λI)⁻¹Xᵀy: the penalty λ‖θ − w₀‖² adds λw₀ to the right-hand side "
            "of the normal equations.",
            lambda x, want, got: same(got, _solve(x, x["lam"], 0.0)) and not same(want, _solve(x, x["lam"], 0.0)),
        ),
        Misconception(
            "centre added after",
            "your answer is ridge toward 0 plus w₀: shifting θ by w₀ shifts the predictions by Xw₀ too, so fit the "
            "residual y − Xw₀ and then add w₀ (or solve (XᵀX + λI)θ = Xᵀy + λw₀).",
            lambda x, want, got: same(got, _solve(x, x["lam"], 0.0) + _arr(x, "centre")),
        ),
        Misconception(
            "centre not weighted by lam",
            "your right-hand side is Xᵀy + w₀: the gradient of λ‖θ − w₀‖² is 2λ(θ − w₀), so w₀ enters as λw₀.",
            lambda x, want, got: same(got, np.linalg.solve(_arr(x, "X").T @ _arr(x, "X") + x["lam"] * np.eye(_arr(x, "X").shape[1]),
                                                           _arr(x, "X").T @ _arr(x, "y") + _arr(x, "centre"))),
        ),
    ),
    hint="Set the gradient of ‖y − Xθ‖² + λ‖θ − w₀‖² to zero: (XᵀX + λI)θ = Xᵀy + λw₀; solve, never invert.",
)


# --- prior_std_from_weight_decay(weight_decay, n) = 1 / sqrt(n wd), mean cross-entropy --------


def _wd_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(10, 100_000))
    return {"weight_decay": away_from(rng, 1e-5, 0.5, [1.0 / n, 2.0 / n, float(n) ** -2]), "n": n}


def _std(x: dict) -> float:
    return 1.0 / np.sqrt(x["n"] * x["weight_decay"])


PRIOR_STD_FROM_WEIGHT_DECAY = Exercise(
    id="ch09-prior-std-from-wd",
    chapter=CHAPTER,
    function="prior_std_from_weight_decay",
    params=("weight_decay", "n"),
    returns="float",
    checks="σ = 1/√(n·wd) for wd from 1e-5 to 0.5 and n from 10 to 100,000, plus n·wd = 1 and n = 1.",
    random_case=_wd_case,
    edge_cases=(
        Case({"weight_decay": 0.01, "n": 100}, "n times weight_decay is 1", "Then σ = 1."),
        Case({"weight_decay": 0.25, "n": 1}, "a single example"),
    ),
    misconceptions=(
        Misconception(
            "variance for std",
            "you returned the variance 1/(n·wd): the question asks for the standard deviation σ, its square root.",
            lambda x, want, got: same(got, _std(x) ** 2),
        ),
        Misconception(
            "n left out",
            "your σ ignores n: the mean loss divides the log-likelihood by n, so the decay that stands for the prior "
            "is 1/(nσ²), and σ = 1/√(n·wd).",
            lambda x, want, got: same(got, 1.0 / np.sqrt(x["weight_decay"])),
        ),
        Misconception(
            "MSE conversion",
            "your σ has the factor 2 of MSELoss (wd = 2s²/(nσ²)): the cross-entropy is already a negative "
            "log-likelihood, so wd = 1/(nσ²).",
            lambda x, want, got: same(got, np.sqrt(2.0) * _std(x)),
        ),
        Misconception(
            "upside down",
            "your σ grows with the decay: a stronger decay is a narrower prior, σ = 1/√(n·wd).",
            lambda x, want, got: same(got, np.sqrt(x["n"] * x["weight_decay"])),
        ),
    ),
    hint="The mean loss plus wd/2‖θ‖² is 1/n times the summed loss plus (n·wd)/2‖θ‖², and n·wd = 1/σ².",
)


# --- plain_decay_limit(X, y, lam, init): where GD on ||y - X theta||^2 + lam ||theta||^2 goes ----


def _limit_case(rng: np.random.Generator) -> dict:
    return _regression_case(rng, "init")


PLAIN_DECAY_LIMIT = Exercise(
    id="ch09-plain-decay-limit",
    chapter=CHAPTER,
    function="plain_decay_limit",
    params=("X", "y", "lam", "init"),
    returns="array of shape (d,)",
    checks="the limit of gradient descent on ‖y − Xθ‖² + λ‖θ‖² started at the pretrained weights: "
    "(XᵀX + λI)⁻¹Xᵀy whatever the start, for random problems and starts, plus a start at the answer itself.",
    random_case=_limit_case,
    edge_cases=(
        Case({"X": _X, "y": _y, "lam": 2.0, "init": np.linalg.solve(_X.T @ _X + 2.0 * np.eye(3), _X.T @ _y)},
             "started at the ridge solution", "Started at the minimiser, gradient descent stays there."),
        Case({"X": _X, "y": _y, "lam": 2.0, "init": np.array([10.0, -10.0, 10.0])}, "started far away"),
    ),
    misconceptions=(
        Misconception(
            "initialisation remembered",
            "your limit is ridge toward the starting point, as L2-SP would give: the objective ‖y − Xθ‖² + λ‖θ‖² is "
            "strictly convex, so gradient descent reaches its one minimiser, (XᵀX + λI)⁻¹Xᵀy, from any start. "
            "Only a penalty centred at w₀ keeps w₀.",
            lambda x, want, got: same(got, _solve(x, x["lam"], x["init"])),
        ),
        Misconception(
            "stays at the initialisation",
            "your answer is the starting point: the data's gradient and the decay both move θ until the gradient of "
            "the objective is zero.",
            lambda x, want, got: same(got, _arr(x, "init")),
        ),
        Misconception(
            "decay ignored",
            "your answer is least squares: the decay λ‖θ‖² is part of the objective that gradient descent minimises.",
            lambda x, want, got: same(got, _solve(x, 0.0, 0.0)),
        ),
    ),
    hint="Gradient descent with a small enough step converges to the minimiser of a strictly convex objective; "
    "which objective is this, and does its minimiser depend on where you start?",
)

EXERCISES = (L2SP_SGD_STEP, RIDGE_TOWARD_CENTRE, PRIOR_STD_FROM_WEIGHT_DECAY, PLAIN_DECAY_LIMIT)
