r"""Checking specs for the exercises of chapter 7, *The Laplace approximation*.

The reference solutions are the cells tagged ``solution`` in
``chapters/07_laplace.ipynb``; here are only the cases, tolerances, hints and
the misconceptions each exercise recognises. Notation as in the book:
:math:`\mathrm{wd}` is ``weight_decay``, :math:`\alpha` is ``prior_precision``,
:math:`s` is ``noise_std``, :math:`P` is ``precision`` (the posterior precision
:math:`H + \alpha I`), :math:`J` is ``jacobian`` and :math:`\mu, v` are the mean
and variance of a logit.
"""

from __future__ import annotations

import math

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, close, log_uniform, same

CHAPTER = "07_laplace"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    """A well-conditioned random symmetric positive definite d x d matrix with correlations."""
    A = rng.standard_normal((d, d))
    return A @ A.T + d * np.eye(d) * float(rng.uniform(0.3, 1.5))


# --- prior_precision_from_weight_decay(weight_decay, n, loss, noise_std) ----------------------


def _precision_case(rng: np.random.Generator) -> dict:
    loss = "mse" if rng.random() < 0.6 else "cross_entropy"
    # s away from 1 and from 1/sqrt(2), where some mistakes give the right number
    noise_std = away_from(rng, 0.05, 3.0, [1.0, 1 / math.sqrt(2), 0.5]) if loss == "mse" else 1.0
    return {"weight_decay": log_uniform(rng, 1e-5, 0.1), "n": int(rng.integers(10, 5000)), "loss": loss,
            "noise_std": noise_std}


def _precision(x: dict, *, n: bool = True, two: bool = True, square: bool = True) -> float:
    value = x["weight_decay"] * (x["n"] if n else 1.0)
    if x["loss"] == "mse":
        s = x["noise_std"] ** (2 if square else 1)
        value /= (2 if two else 1) * s
    return value


PRIOR_PRECISION = Exercise(
    id="ch07-prior-precision",
    chapter=CHAPTER,
    function="prior_precision_from_weight_decay",
    params=("weight_decay", "n", "loss", "noise_std"),
    returns="float",
    checks="n·wd for the mean cross-entropy and n·wd/(2s²) for MSELoss, for random wd from 1e-5 to 0.1, n from 10 "
    "to 5000 and s from 0.05 to 3, plus wd = 0, n = 1 and s = 1.",
    random_case=_precision_case,
    edge_cases=(
        Case({"weight_decay": 0.0, "n": 100, "loss": "mse", "noise_std": 0.3}, "weight_decay is zero",
             "No decay is a flat prior: precision 0."),
        Case({"weight_decay": 0.01, "n": 1, "loss": "cross_entropy", "noise_std": 1.0}, "one example"),
        Case({"weight_decay": 2e-3, "n": 250, "loss": "mse", "noise_std": 1.0}, "noise_std is one",
             "With s = 1, MSELoss is still twice the negative log-likelihood: α = n·wd/2."),
        Case({"weight_decay": 5e-4, "n": 60, "loss": "mse", "noise_std": 0.1}, "small noise"),
    ),
    misconceptions=(
        Misconception(
            "weight_decay is the precision",
            "your precision does not grow with n: weight_decay is a coefficient of the *mean* loss. Multiply the "
            "whole objective by n to get the summed negative log-likelihood, and the penalty becomes n·wd/2‖θ‖². "
            "Keeping weight_decay fixed while the data set grows makes the prior stronger.",
            lambda x, want, got: x["n"] > 1 and (same(got, _precision(x, n=False)) or same(got, x["weight_decay"])),
        ),
        Misconception(
            "MSELoss taken as the negative log-likelihood",
            "you divided by s² but not by 2s²: MSELoss is the mean of r², while the Gaussian negative "
            "log-likelihood is r²/(2s²), so n·MSELoss is 2s² times the summed negative log-likelihood.",
            lambda x, want, got: x["loss"] == "mse" and same(got, _precision(x, two=False)),
        ),
        Misconception(
            "noise_std not squared",
            "you divided by 2s instead of 2s²: the Gaussian negative log-likelihood is r²/(2s²), with the variance.",
            lambda x, want, got: x["loss"] == "mse" and x["noise_std"] != 1.0 and same(got, _precision(x, square=False)),
        ),
        Misconception(
            "noise variance ignored",
            "your precision is n·wd for MSELoss too: that is the cross-entropy's rule. MSELoss lacks the "
            "1/(2s²) of the Gaussian, so α = n·wd/(2s²).",
            lambda x, want, got: x["loss"] == "mse" and same(got, x["n"] * x["weight_decay"]),
        ),
    ),
    hint="Multiply the mean objective by n; for MSELoss also rewrite n·MSE as 2s² times Σᵢ rᵢ²/(2s²).",
    compare=close(rtol=1e-9, atol=1e-15),
)


# --- laplace_log_evidence(log_lik, theta, precision, prior_precision) -------------------------


def _evidence_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 7))
    alpha = away_from(rng, 0.05, 20.0, [1.0])  # at alpha = 1 the prior's normaliser vanishes
    H = _spd(rng, d) * float(rng.uniform(1.0, 30.0))
    return {"log_lik": float(rng.uniform(-200.0, -5.0)), "theta": rng.normal(0.0, 1.5, size=d),
            "precision": H + alpha * np.eye(d), "prior_precision": alpha}


def _evidence(x: dict, *, penalty: float = 1.0, normaliser: float = 1.0, logdet: float = -0.5) -> float:
    theta, P, alpha = _arr(x, "theta"), _arr(x, "precision"), float(x["prior_precision"])
    _, log_det_P = np.linalg.slogdet(P)
    return (x["log_lik"] - penalty * 0.5 * alpha * theta @ theta + normaliser * 0.5 * len(theta) * math.log(alpha)
            + logdet * log_det_P)


LAPLACE_EVIDENCE = Exercise(
    id="ch07-laplace-evidence",
    chapter=CHAPTER,
    function="laplace_log_evidence",
    params=("log_lik", "theta", "precision", "prior_precision"),
    returns="float",
    checks="log p(D|θ) − ½α‖θ‖² + (d/2)·log α − ½·log|P| for random θ of 2 to 6 entries, correlated positive definite "
    "P and α from 0.05 to 20, plus θ = 0, α = 1 and a diagonal P.",
    random_case=_evidence_case,
    edge_cases=(
        Case({"log_lik": -20.0, "theta": np.zeros(3), "precision": np.diag([5.0, 2.0, 9.0]), "prior_precision": 0.5},
             "theta is zero", "At θ = 0 the penalty vanishes; the Occam factor is the normalisers alone."),
        Case({"log_lik": -7.5, "theta": np.array([0.3, -1.2]), "precision": np.array([[4.0, 1.0], [1.0, 3.0]]),
              "prior_precision": 1.0}, "prior_precision is one"),
        Case({"log_lik": -50.0, "theta": np.array([1.0, 2.0, -1.0, 0.5]), "precision": np.diag([40.0, 3.0, 8.0, 1.5]),
              "prior_precision": 0.7}, "diagonal precision"),
    ),
    misconceptions=(
        Misconception(
            "Occam factor missing",
            "your evidence has no −½·log|P| (and perhaps no (d/2)·log α either): that is the log of the MAP "
            "objective, not of the evidence. The Occam factor, the posterior's volume relative to the prior's, "
            "is what stops the evidence from always preferring the weakest prior.",
            lambda x, want, got: same(got, _evidence(x, normaliser=0.0, logdet=0.0))
            or same(got, _evidence(x, logdet=0.0)),
        ),
        Misconception(
            "prior normaliser missing",
            "your evidence lacks (d/2)·log α: the prior N(0, I/α) has normaliser |A₀|^{1/2} = α^{d/2} (the (2π)^{d/2} "
            "cancels against the Gaussian integral's).",
            lambda x, want, got: same(got, _evidence(x, normaliser=0.0)),
        ),
        Misconception(
            "log-determinant of the covariance",
            "your sign of ½·log|P| is flipped: the Gaussian integral gives (2π)^{d/2}|P|^{−1/2}, so the evidence has "
            "−½·log|P| (equivalently +½·log|Σ| with the covariance Σ = P⁻¹).",
            lambda x, want, got: same(got, _evidence(x, logdet=0.5)),
        ),
        Misconception(
            "penalty missing",
            "your evidence lacks −½α‖θ‖²: the prior density at the mode enters the evidence, not just its normaliser.",
            lambda x, want, got: same(got, _evidence(x, penalty=0.0)),
        ),
    ),
    hint="log p(D) ≈ log p(D|θ̂) + log p(θ̂) + (d/2)·log 2π − ½·log|P|; write log p(θ̂) out and cancel the 2π.",
    compare=close(rtol=1e-9, atol=1e-9),
)


# --- probit_probability(logit_mean, logit_var) = sigmoid(mu / sqrt(1 + pi v / 8)) -------------


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _probit_case(rng: np.random.Generator) -> dict:
    m = int(rng.integers(2, 9))
    return {"logit_mean": rng.normal(0.0, 3.0, size=m), "logit_var": np.exp(rng.uniform(np.log(0.2), np.log(30.0), size=m))}


def _probit(x: dict, *, scale=lambda v: 1.0 / np.sqrt(1.0 + np.pi * v / 8.0)) -> np.ndarray:
    return _sigmoid(scale(_arr(x, "logit_var")) * _arr(x, "logit_mean"))


PROBIT = Exercise(
    id="ch07-probit",
    chapter=CHAPTER,
    function="probit_probability",
    params=("logit_mean", "logit_var"),
    returns="array of logit_mean's shape",
    checks="sigmoid(μ/√(1 + πv/8)) for random μ from N(0, 3²) and v from 0.2 to 30, plus v = 0, μ = 0 and a huge variance.",
    random_case=_probit_case,
    edge_cases=(
        Case({"logit_mean": np.array([-2.0, 0.5, 3.0]), "logit_var": np.zeros(3)}, "logit_var is zero",
             "With no uncertainty the predictive is the plug-in sigmoid(μ)."),
        Case({"logit_mean": np.zeros(3), "logit_var": np.array([0.5, 4.0, 50.0])}, "logit_mean is zero",
             "At μ = 0 the probability is ½ whatever the variance."),
        Case({"logit_mean": np.array([8.0, -6.0]), "logit_var": np.array([1e4, 1e4])}, "huge variance",
             "A very uncertain logit gives a probability near ½, whichever its sign."),
    ),
    misconceptions=(
        Misconception(
            "MAP plug-in",
            "your probability is sigmoid(μ), the prediction at the mode: the predictive averages the sigmoid over the "
            "uncertain logit, and the average of a sigmoid is not the sigmoid of the average. Uncertain logits must "
            "be pulled towards ½ by κ = (1 + πv/8)^(−1/2).",
            lambda x, want, got: same(got, _sigmoid(_arr(x, "logit_mean"))),
        ),
        Misconception(
            "variance for standard deviation",
            "you divided μ by 1 + πv/8 instead of its square root: κ = (1 + πv/8)^(−1/2) comes from the probit "
            "Φ(λa) with λ² = π/8, whose Gaussian average is Φ(λμ/√(1 + λ²v)).",
            lambda x, want, got: same(got, _probit(x, scale=lambda v: 1.0 / (1.0 + np.pi * v / 8.0))),
        ),
        Misconception(
            "more confident, not less",
            "you multiplied μ by √(1 + πv/8): uncertainty must make the prediction less confident, so κ ≤ 1 divides.",
            lambda x, want, got: same(got, _probit(x, scale=lambda v: np.sqrt(1.0 + np.pi * v / 8.0))),
        ),
        Misconception(
            "π/8 left out",
            "your κ is (1 + v)^(−1/2): the factor π/8 matches the slope of the probit to the sigmoid's at 0; without "
            "it the correction is too strong.",
            lambda x, want, got: same(got, _probit(x, scale=lambda v: 1.0 / np.sqrt(1.0 + v))),
        ),
    ),
    hint="κ = 1/√(1 + π·v/8), then sigmoid(κ·μ) elementwise.",
    compare=close(rtol=1e-9, atol=1e-12),
)


# --- linearised_variance(jacobian, precision) = diag(J P^-1 J^T) -----------------------------


def _variance_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 7))
    m = int(rng.integers(1, 6))
    return {"jacobian": rng.normal(0.0, 1.0, size=(m, d)), "precision": _spd(rng, d)}


def _quad(J: np.ndarray, M: np.ndarray) -> np.ndarray:
    return np.einsum("md,de,me->m", J, M, J)


LINEARISED_VARIANCE = Exercise(
    id="ch07-linearised-variance",
    chapter=CHAPTER,
    function="linearised_variance",
    params=("jacobian", "precision"),
    returns="array of length m (one variance per row of jacobian)",
    checks="the diagonal of J P⁻¹ Jᵀ for random J of 1 to 5 rows and 2 to 6 columns and correlated positive "
    "definite P, plus a diagonal P, one row, and a row of zeros.",
    random_case=_variance_case,
    edge_cases=(
        Case({"jacobian": np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]]), "precision": np.diag([2.0, 4.0, 0.5])},
             "diagonal precision", "With a diagonal P the variance is Σⱼ Jⱼ²/Pⱼⱼ."),
        Case({"jacobian": np.array([[0.5, -0.5]]), "precision": np.array([[3.0, 2.5], [2.5, 3.0]])}, "one row",
             "The answer is still a vector, of length 1."),
        Case({"jacobian": np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), "precision": np.array(
            [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])}, "a row of zeros",
             "An output that does not depend on θ has no posterior variance."),
    ),
    misconceptions=(
        Misconception(
            "precision for covariance",
            "your variance uses P itself: P is the posterior *precision*, the inverse covariance; the variance of "
            "Jθ under N(θ̂, P⁻¹) is J P⁻¹ Jᵀ.",
            lambda x, want, got: same(got, _quad(_arr(x, "jacobian"), _arr(x, "precision"))),
        ),
        Misconception(
            "correlations ignored",
            "your variance uses only the diagonal of P⁻¹ (or 1/Pⱼⱼ): under the posterior the parameters are "
            "correlated, and the off-diagonal covariances enter J P⁻¹ Jᵀ with both signs.",
            lambda x, want, got: same(got, _arr(x, "jacobian") ** 2 @ np.diag(np.linalg.inv(_arr(x, "precision"))))
            or same(got, _arr(x, "jacobian") ** 2 @ (1.0 / np.diag(_arr(x, "precision")))),
        ),
        Misconception(
            "standard deviation instead of variance",
            "you returned the square root of J P⁻¹ Jᵀ: the exercise asks for the variance.",
            lambda x, want, got: same(got, np.sqrt(np.maximum(want, 0.0))),
        ),
    ),
    hint="Solve with P rather than inverting it: with P = LLᵀ, Z = L⁻¹Jᵀ and the variances are the column sums of Z².",
    compare=close(rtol=1e-9, atol=1e-12),
)

EXERCISES = (PRIOR_PRECISION, LAPLACE_EVIDENCE, PROBIT, LINEARISED_VARIANCE)
