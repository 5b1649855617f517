r"""Checking specs for the exercises of chapter 1, *From prior to penalty*.

The reference solutions are the cells tagged ``solution`` in
``chapters/01_prior_to_penalty.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: :math:`\theta` is ``theta``, :math:`\mu` is ``centre``, :math:`\sigma`
is ``prior_std``, :math:`s` is ``noise_std``.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, close, log_uniform, same

CHAPTER = "01_prior_to_penalty"




# --- penalty_grad(theta, lam, centre) = lam * (theta - centre) -----------------------------


def _penalty_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 7))
    return {
        "theta": rng.normal(0.0, 2.0, size=d),
        "lam": log_uniform(rng, 0.01, 10.0),
        "centre": rng.normal(0.0, 2.0, size=d),
    }


def _diff(x: dict) -> np.ndarray:
    return np.asarray(x["theta"], float) - np.asarray(x["centre"], float)


PENALTY_GRAD = Exercise(
    id="ch01-penalty-grad",
    chapter=CHAPTER,
    function="penalty_grad",
    params=("theta", "lam", "centre"),
    returns="array of theta's shape",
    checks="λ(θ − μ) for random θ, μ of 2 to 6 entries and λ from 0.01 to 10, "
    "plus θ = μ, λ = 0, one entry, and θ as a 3×2 matrix.",
    random_case=_penalty_case,
    edge_cases=(
        Case({"theta": np.array([0.5, -1.5, 2.0]), "lam": 3.0, "centre": np.array([0.5, -1.5, 2.0])},
             "theta equals centre", "At θ = μ the penalty is at its minimum, so its gradient is zero."),
        Case({"theta": np.array([1.0, -2.0]), "lam": 0.0, "centre": np.array([0.3, 0.4])},
             "lam is zero", "With λ = 0 there is no penalty, so the gradient is zero."),
        Case({"theta": np.array([4.0]), "lam": 0.5, "centre": np.array([-1.0])}, "a single entry"),
        Case({"theta": np.arange(6.0).reshape(3, 2), "lam": 0.1, "centre": np.ones((3, 2))},
             "theta is a 3x2 matrix", "A weight matrix works like a vector: the gradient has θ's shape."),
    ),
    misconceptions=(
        Misconception(
            "factor of two",
            "your gradient is exactly twice the expected one: did you differentiate λ/2‖θ − μ‖² as λ‖θ − μ‖²?",
            lambda x, want, got: same(got, 2 * want),
        ),
        Misconception(
            "half kept",
            "your gradient is half the expected one: the derivative of ½‖θ − μ‖² is θ − μ; "
            "the ½ cancels the 2 that differentiating the square brings down.",
            lambda x, want, got: same(got, want / 2),
        ),
        Misconception(
            "centre ignored",
            "your gradient is λθ: the penalty pulls θ toward the centre μ, so the gradient is λ(θ − μ).",
            lambda x, want, got: same(got, x["lam"] * np.asarray(x["theta"], float)),
        ),
        Misconception(
            "sign flipped",
            "your gradient has the wrong sign: it should point away from μ (uphill), λ(θ − μ); "
            "the optimiser's step subtracts it.",
            lambda x, want, got: same(got, -want),
        ),
        Misconception(
            "penalty, not its gradient",
            "you returned the penalty λ/2‖θ − μ‖² itself; the exercise asks for its gradient, "
            "an array of θ's shape.",
            lambda x, want, got: same(got, 0.5 * x["lam"] * np.sum(_diff(x) ** 2)),
        ),
    ),
    hint="The gradient of λ/2‖θ − μ‖² with respect to θ is λ(θ − μ), an array of θ's shape.",
)


# --- neg_log_prior(theta, prior_std) = |theta|^2 / (2 sd^2) + d/2 log(2 pi sd^2) ----------------


def _neg_log_prior_case(rng: np.random.Generator) -> dict:
    sd = log_uniform(rng, 0.1, 10.0)
    while abs(sd - 1.0) < 0.05:  # at sigma = 1, sigma and sigma^2 cannot be told apart
        sd = log_uniform(rng, 0.1, 10.0)
    return {"theta": rng.normal(0.0, sd, size=int(rng.integers(2, 9))), "prior_std": sd}


def _quad(x: dict) -> float:
    theta = np.asarray(x["theta"], float)
    return float(theta @ theta)


def _dim(x: dict) -> int:
    return int(np.asarray(x["theta"]).size)


NEG_LOG_PRIOR = Exercise(
    id="ch01-neg-log-prior",
    chapter=CHAPTER,
    function="neg_log_prior",
    params=("theta", "prior_std"),
    returns="float",
    checks="θᵀθ/(2σ²) + (d/2)·log(2πσ²) for random θ of 2 to 8 entries and σ from 0.1 to 10, "
    "plus θ = 0, one entry, σ = 1, a tiny σ and 1000 entries.",
    random_case=_neg_log_prior_case,
    edge_cases=(
        Case({"theta": np.zeros(3), "prior_std": 2.0}, "theta is zero",
             "At θ = 0 only the normalising constant (d/2)·log(2πσ²) is left."),
        Case({"theta": np.array([0.7]), "prior_std": 0.5}, "a single entry"),
        Case({"theta": np.array([1.0, -2.0, 0.5]), "prior_std": 1.0}, "prior_std is one"),
        Case({"theta": np.array([1e-3, -2e-3]), "prior_std": 1e-3}, "a tiny prior_std",
             "A small σ makes log(2πσ²) negative: keep its sign."),
        Case({"theta": np.linspace(-1.0, 1.0, 1000), "prior_std": 3.0}, "1000 entries",
             "d is the number of entries of θ."),
    ),
    misconceptions=(
        Misconception(
            "normalising constant dropped",
            "your value is missing the normalising constant (d/2)·log(2πσ²): the exercise asks for the "
            "complete −log density, constant included.",
            lambda x, want, got: same(got, _quad(x) / (2 * x["prior_std"] ** 2)),
        ),
        Misconception(
            "σ in place of σ²",
            "your quadratic term divides by 2σ; the Gaussian's exponent is θᵀθ/(2σ²), with the variance σ².",
            lambda x, want, got: same(
                got, _quad(x) / (2 * x["prior_std"]) + 0.5 * _dim(x) * np.log(2 * np.pi * x["prior_std"] ** 2)
            ),
        ),
        Misconception(
            "log(2πσ) for log(2πσ²)",
            "your constant is (d/2)·log(2πσ); the normaliser of N(0, σ²) is (2πσ²)^(−1/2) per entry, "
            "so the constant is (d/2)·log(2πσ²) = d·log σ + (d/2)·log 2π.",
            lambda x, want, got: same(
                got, _quad(x) / (2 * x["prior_std"] ** 2) + 0.5 * _dim(x) * np.log(2 * np.pi * x["prior_std"])
            ),
        ),
        Misconception(
            "σ everywhere",
            "you used σ where the density has the variance σ², in both terms.",
            lambda x, want, got: same(
                got, _quad(x) / (2 * x["prior_std"]) + 0.5 * _dim(x) * np.log(2 * np.pi * x["prior_std"])
            ),
        ),
        Misconception(
            "constant for one entry",
            "your constant is ½·log(2πσ²), the constant of one entry: θ has d entries, each contributing one.",
            lambda x, want, got: same(got, _quad(x) / (2 * x["prior_std"] ** 2) + 0.5 * np.log(2 * np.pi * x["prior_std"] ** 2)),
        ),
        Misconception(
            "log prior, not its negative",
            "your value is the log density; the exercise asks for the negative log density.",
            lambda x, want, got: same(got, -want),
        ),
        Misconception(
            "½ missing in the exponent",
            "your quadratic term is θᵀθ/σ²; the Gaussian's exponent is −θᵀθ/(2σ²).",
            lambda x, want, got: same(got, _quad(x) / x["prior_std"] ** 2 + 0.5 * _dim(x) * np.log(2 * np.pi * x["prior_std"] ** 2)),
        ),
    ),
    hint="−log N(θ; 0, σ²I) = θᵀθ/(2σ²) + (d/2)·log(2πσ²), where d is the number of entries of θ.",
)


# --- mse_weight_decay(prior_std, noise_std, n, batch_size) = 2 s^2 / (n sd^2) ---------------


def _mse_case(rng: np.random.Generator) -> dict:
    n = int(np.exp(rng.uniform(np.log(10), np.log(100_000))))
    return {
        "prior_std": log_uniform(rng, 0.1, 10.0),
        "noise_std": log_uniform(rng, 0.05, 5.0),
        "n": n,
        "batch_size": int(rng.integers(1, n)),
    }


def _wd(x: dict, *, s_pow: int = 2, sd_pow: int = 2, scale: float = 2.0, count: str = "n") -> float:
    return scale * x["noise_std"] ** s_pow / (x[count] * x["prior_std"] ** sd_pow)


MSE_WEIGHT_DECAY = Exercise(
    id="ch01-mse-weight-decay",
    chapter=CHAPTER,
    function="mse_weight_decay",
    params=("prior_std", "noise_std", "n", "batch_size"),
    returns="float",
    checks="2s²/(nσ²) for random σ from 0.1 to 10, s from 0.05 to 5, n from 10 to 100000 and "
    "batch sizes below n, plus a full batch, batches of one, n = 1 and s = σ.",
    random_case=_mse_case,
    edge_cases=(
        Case({"prior_std": 0.8, "noise_std": 0.5, "n": 40, "batch_size": 40}, "full batch"),
        Case({"prior_std": 2.0, "noise_std": 0.3, "n": 500, "batch_size": 1}, "batches of one",
             "The batch size does not enter: a minibatch mean estimates the full mean."),
        Case({"prior_std": 0.5, "noise_std": 2.0, "n": 1, "batch_size": 1}, "one example"),
        Case({"prior_std": 1.5, "noise_std": 1.5, "n": 64, "batch_size": 8}, "noise_std equals prior_std"),
    ),
    misconceptions=(
        Misconception(
            "batch size for n",
            "your weight decay uses batch_size where the data-set size n belongs: a minibatch's mean loss "
            "estimates the mean over all n examples, so the decay is the same as for full-batch training.",
            lambda x, want, got: same(got, _wd(x, count="batch_size")),
        ),
        Misconception(
            "σ in place of σ²",
            "you used a standard deviation where a variance belongs: the prior enters as 1/σ² and the "
            "noise as s².",
            lambda x, want, got: any(
                same(got, _wd(x, s_pow=a, sd_pow=b)) for a, b in ((1, 1), (2, 1), (1, 2))
            ),
        ),
        Misconception(
            "factor 2 missing",
            "your weight decay is half the expected one: MSELoss is the plain mean of squared errors "
            "(no ½), so it equals (2s²/n) × the negative log-likelihood, and the penalty scales by 2s²/n too.",
            lambda x, want, got: same(got, _wd(x, scale=1.0)),
        ),
        Misconception(
            "noise variance missing",
            "your weight decay does not depend on noise_std: MSELoss is the negative log-likelihood "
            "times 2s²/n, so s² must appear.",
            lambda x, want, got: same(got, _wd(x, s_pow=0)),
        ),
        Misconception(
            "cross-entropy formula",
            "1/(nσ²) is the weight decay for the mean cross-entropy; MSELoss needs 2s²/(nσ²).",
            lambda x, want, got: same(got, _wd(x, s_pow=0, scale=1.0)),
        ),
        Misconception(
            "n missing",
            "your weight decay is n times too large: the mean-reduced loss divides the whole negative "
            "log-likelihood by n, and the penalty must be divided by n with it.",
            lambda x, want, got: same(got, _wd(x, count="n") * x["n"]),
        ),
        Misconception(
            "upside down",
            "your weight decay is the reciprocal of the expected one: it grows with the prior's width "
            "instead of shrinking.",
            lambda x, want, got: same(got, 1.0 / want),
        ),
    ),
    hint="Write MSELoss as a multiple of the negative log-likelihood, then scale the penalty "
    "θᵀθ/(2σ²) by the same factor; torch's weight_decay is the coefficient of θ in its gradient.",
    compare=close(rtol=1e-9, atol=0.0),
)

# --- prior_std_answer(): the prior that weight_decay = 5e-4 means (mean cross-entropy, n = 50,000) -----

_N_ANSWER, _WD_ANSWER = 50_000, 5e-4  # the numbers of the exercise's statement in the chapter

PRIOR_FROM_WEIGHT_DECAY = Exercise(
    id="ch01-prior-from-weight-decay",
    chapter=CHAPTER,
    function="prior_std_answer",
    params=(),
    returns="float",
    checks="the one number σ = 1/√(n·wd) = 0.2 for the mean cross-entropy, n = 50,000 and weight_decay = 5e-4.",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the answer", "The mean cross-entropy is the negative log-likelihood divided by n."),),
    misconceptions=(
        Misconception(
            "wd = 1/σ² (n forgotten)",
            "your σ is 1/√wd ≈ 44.7: you read weight_decay as the prior precision 1/σ². The mean loss divides "
            "the negative log-likelihood by n, and the penalty with it, so wd = 1/(nσ²) and σ = 1/√(n·wd).",
            lambda x, want, got: same(got, _WD_ANSWER**-0.5),
        ),
        Misconception(
            "variance for standard deviation",
            "your answer is σ² = 1/(n·wd) = 0.04, the prior's variance; the exercise asks for its standard "
            "deviation σ.",
            lambda x, want, got: same(got, 1 / (_N_ANSWER * _WD_ANSWER)),
        ),
        Misconception(
            "precision for standard deviation",
            "your answer is n·wd = 25, the prior precision 1/σ²; σ is one over its square root.",
            lambda x, want, got: same(got, _N_ANSWER * _WD_ANSWER),
        ),
        Misconception(
            "MSELoss's factor 2",
            "your σ is √(2/(n·wd)) ≈ 0.283, as for MSELoss's wd = 2s²/(nσ²) with s = 1; the cross-entropy has no "
            "noise variance and no factor 2: wd = 1/(nσ²).",
            lambda x, want, got: same(got, (2 / (_N_ANSWER * _WD_ANSWER)) ** 0.5),
        ),
        Misconception(
            "penalty without the half",
            "your σ is 1/√(2n·wd) ≈ 0.141, as if weight_decay were the coefficient λ' of λ'‖θ‖²; torch adds "
            "wd·θ to the gradient, the gradient of (wd/2)‖θ‖².",
            lambda x, want, got: same(got, (2 * _N_ANSWER * _WD_ANSWER) ** -0.5),
        ),
    ),
    hint="Write the mean cross-entropy plus the penalty as 1/n times the negative log posterior.",
    compare=close(rtol=1e-3, atol=0.0),
)

EXERCISES = (PENALTY_GRAD, NEG_LOG_PRIOR, MSE_WEIGHT_DECAY, PRIOR_FROM_WEIGHT_DECAY)
