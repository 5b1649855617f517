r"""Checking specs for the exercises of chapter 10, *What weight decay does in deep networks*.

The reference solutions are the cells tagged ``solution`` in
``chapters/10_deep_networks.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: :math:`\delta` is ``delta`` (singular values), :math:`\eta` is ``lr``,
:math:`t` is ``num_steps``, :math:`\mathrm{wd}` is ``weight_decay``, :math:`n`
the training-set size and :math:`B` ``batch_size``.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, log_uniform, same

CHAPTER = "10_deep_networks"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


# --- gd_filter(delta, lr, num_steps) = 1 - (1 - lr delta^2)^t ---------------------------------


def _filter_case(rng: np.random.Generator) -> dict:
    delta = np.sort(np.exp(rng.uniform(np.log(0.05), np.log(3.0), size=int(rng.integers(3, 9)))))[::-1]
    return {"delta": delta, "lr": float(rng.uniform(0.2, 0.9)) / delta.max() ** 2, "num_steps": int(rng.integers(2, 200))}


def _gd(x: dict, *, steps_shift: int = 0, power: int = 2, scale: float = 1.0) -> np.ndarray:
    return 1.0 - (1.0 - scale * x["lr"] * _arr(x, "delta") ** power) ** (x["num_steps"] + steps_shift)


GD_FILTER = Exercise(
    id="ch10-gd-filter",
    chapter=CHAPTER,
    function="gd_filter",
    params=("delta", "lr", "num_steps"),
    returns="array of delta's shape",
    checks="1 − (1 − ηδ²)^t for random singular values from 0.05 to 3, η·max δ² from 0.2 to 0.9 and t from 2 to "
    "200, plus t = 1, t = 0 and a zero singular value.",
    random_case=_filter_case,
    edge_cases=(
        Case({"delta": np.array([2.0, 1.0, 0.5]), "lr": 0.2, "num_steps": 1}, "one step",
             "After one step from zero the factor is ηδ²."),
        Case({"delta": np.array([2.0, 1.0]), "lr": 0.1, "num_steps": 0}, "no steps", "θ₀ = 0: every factor is 0."),
        Case({"delta": np.array([1.5, 0.0]), "lr": 0.3, "num_steps": 20}, "a zero singular value",
             "A direction X does not see is never moved."),
    ),
    misconceptions=(
        Misconception(
            "ridge form",
            "your factors are ridge's, δ²/(δ² + 1/(ηt)): early stopping resembles ridge with λ = 1/(ηt), but its own "
            "factors are 1 − (1 − ηδ²)^t, from unrolling θ_{t+1} = θ_t + ηXᵀ(y − Xθ_t).",
            lambda x, want, got: same(got, _arr(x, "delta") ** 2 / (_arr(x, "delta") ** 2 + 1.0 / (x["lr"] * x["num_steps"]))),
        ),
        Misconception(
            "exponent off by one",
            "your exponent is t − 1 or t + 1: from θ₀ = 0, after t steps the error along v_j has been multiplied by "
            "(1 − ηδ_j²) exactly t times.",
            lambda x, want, got: same(got, _gd(x, steps_shift=-1)) or same(got, _gd(x, steps_shift=1)),
        ),
        Misconception(
            "delta for delta squared",
            "your factor uses ηδ: the curvature of ½‖y − Xθ‖² along v_j is δ_j², the square of the singular value.",
            lambda x, want, got: same(got, _gd(x, power=1)),
        ),
        Misconception(
            "factor of two",
            "your factor is 1 − (1 − 2ηδ²)^t, the one for ‖y − Xθ‖² without the half: the exercise's loss is "
            "½‖y − Xθ‖², whose curvature is δ².",
            lambda x, want, got: same(got, _gd(x, scale=2.0)),
        ),
    ),
    hint="In the SVD basis each coordinate's error shrinks by (1 − ηδ_j²) per step, starting from the whole "
    "least-squares coefficient at θ₀ = 0.",
)


# --- early_stopping_lam_mse(lr, num_steps, n) = n / (2 lr t) ------------------------------------


def _mse_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(20, 5000))
    return {"lr": log_uniform(rng, 1e-3, 0.5), "num_steps": int(rng.integers(5, 2000)), "n": n}


def _lam(x: dict) -> float:
    return x["n"] / (2.0 * x["lr"] * x["num_steps"])


EARLY_STOPPING_LAM_MSE = Exercise(
    id="ch10-early-stopping-lam",
    chapter=CHAPTER,
    function="early_stopping_lam_mse",
    params=("lr", "num_steps", "n"),
    returns="float",
    checks="λ_ridge = n/(2·lr·t) for torch SGD on MSELoss(mean), for random lr, t and n, plus 2·lr·t = n.",
    random_case=_mse_case,
    edge_cases=(Case({"lr": 0.5, "num_steps": 100, "n": 100}, "2 lr t equals n", "Then λ_ridge = 1."),),
    misconceptions=(
        Misconception(
            "mean ignored",
            "your λ is 1/(lr·t), which holds for ½‖y − Xθ‖²: MSELoss(mean) is (1/n)‖y − Xθ‖², whose gradient is 2/n "
            "times larger, so its lr is a step η = 2·lr/n on ½‖y − Xθ‖², and λ_ridge = 1/(ηt) = n/(2·lr·t).",
            lambda x, want, got: same(got, 1.0 / (x["lr"] * x["num_steps"])),
        ),
        Misconception(
            "factor of two",
            "your λ is n/(lr·t) or n/(4·lr·t): the mean squared error (1/n)‖y − Xθ‖² has gradient (2/n)Xᵀ(Xθ − y), "
            "so η = 2·lr/n exactly.",
            lambda x, want, got: same(got, 2 * _lam(x)) or same(got, _lam(x) / 2),
        ),
        Misconception(
            "upside down",
            "your λ grows with training time: training longer is a weaker penalty, λ_ridge = n/(2·lr·t).",
            lambda x, want, got: same(got, 1.0 / _lam(x)),
        ),
    ),
    hint="Write MSELoss(mean) as (2/n)·½‖y − Xθ‖² to find the step η on ½‖y − Xθ‖², then use λ = 1/(ηt).",
)


# --- adamw_tau_epochs(lr, weight_decay, n, batch_size) = B / (lr wd n) --------------------------


def _tau_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(1000, 100_000))
    batch_size = int(rng.choice([16, 32, 64, 128, 256]))
    return {"lr": log_uniform(rng, 1e-4, 1e-2), "weight_decay": log_uniform(rng, 1e-3, 0.3), "n": n, "batch_size": batch_size}


def _tau(x: dict) -> float:
    return x["batch_size"] / (x["lr"] * x["weight_decay"] * x["n"])


ADAMW_TAU_EPOCHS = Exercise(
    id="ch10-adamw-tau-epochs",
    chapter=CHAPTER,
    function="adamw_tau_epochs",
    params=("lr", "weight_decay", "n", "batch_size"),
    returns="float",
    checks="τ_epoch = B/(lr·wd·n) for random lr, wd, n and batch sizes, plus full-batch training (B = n).",
    random_case=_tau_case,
    edge_cases=(Case({"lr": 0.01, "weight_decay": 0.1, "n": 500, "batch_size": 500}, "full batch",
                     "With B = n an epoch is one step: τ_epoch = 1/(lr·wd)."),),
    misconceptions=(
        Misconception(
            "steps not epochs",
            "your τ is 1/(lr·wd), the timescale in steps: an epoch has n/B steps, so τ_epoch = B/(lr·wd·n).",
            lambda x, want, got: same(got, 1.0 / (x["lr"] * x["weight_decay"])),
        ),
        Misconception(
            "steps per epoch upside down",
            "your τ is n/(B·lr·wd): divide the timescale in steps by the number of steps per epoch, n/B.",
            lambda x, want, got: same(got, x["n"] / (x["batch_size"] * x["lr"] * x["weight_decay"])),
        ),
        Misconception(
            "batch size ignored",
            "your τ is 1/(lr·wd·n): an epoch is n/B steps, not n.",
            lambda x, want, got: same(got, 1.0 / (x["lr"] * x["weight_decay"] * x["n"])),
        ),
    ),
    hint="AdamW's shrink (1 − lr·wd) per step forgets with a timescale of 1/(lr·wd) steps; convert steps to epochs.",
)


# --- gradient_after_scaling(grad, scale): gradient at c W of a scale-invariant loss ------------


def _scaled_case(rng: np.random.Generator) -> dict:
    return {"grad": rng.normal(0.0, 1.0, size=(int(rng.integers(2, 5)), int(rng.integers(2, 5)))),
            "scale": away_from(rng, 0.05, 20.0, [1.0])}


GRADIENT_AFTER_SCALING = Exercise(
    id="ch10-scaled-gradient",
    chapter=CHAPTER,
    function="gradient_after_scaling",
    params=("grad", "scale"),
    returns="array of grad's shape",
    checks="the gradient at cW of a loss with L(cW) = L(W) for every c > 0, given the gradient at W: g/c, for random "
    "gradients and c from 0.05 to 20, plus c = 1.",
    random_case=_scaled_case,
    edge_cases=(Case({"grad": np.array([[0.5, -1.0], [2.0, 0.0]]), "scale": 1.0}, "scale is one"),),
    misconceptions=(
        Misconception(
            "unchanged",
            "your gradient is the same at cW as at W: the loss is the same, but the gradient is a rate per unit of W, "
            "and at cW a change of W by c·Δ does what Δ did at W. Differentiate L(cW) = L(W): c·∇L(cW) = ∇L(W).",
            lambda x, want, got: same(got, _arr(x, "grad")),
        ),
        Misconception(
            "scaled with the weights",
            "your gradient grows with the weights (c·g): it shrinks, ∇L(cW) = ∇L(W)/c, which is why weights with a "
            "large norm learn slowly (effective learning rate η/‖W‖²).",
            lambda x, want, got: same(got, x["scale"] * _arr(x, "grad")),
        ),
        Misconception(
            "scale squared",
            "your gradient is g/c²: that is how the effective learning rate scales (η/‖W‖²), the gradient itself "
            "scales as g/c.",
            lambda x, want, got: same(got, _arr(x, "grad") / x["scale"] ** 2),
        ),
    ),
    hint="Differentiate both sides of L(cW) = L(W) with respect to W.",
)

EXERCISES = (GD_FILTER, EARLY_STOPPING_LAM_MSE, ADAMW_TAU_EPOCHS, GRADIENT_AFTER_SCALING)
