r"""Checking specs for the exercises of chapter 8, *Sampling the posterior: SGLD, HMC and the temperature*.

The reference solutions are the cells tagged ``solution`` in
``chapters/08_sampling.ipynb``; here are only the cases, tolerances, hints
and the misconceptions each exercise recognises. Notation as in the book:
:math:`\eta` is ``lr``, :math:`\mathrm{wd}` is ``weight_decay``, :math:`T` is
``temperature``, :math:`s` is ``noise_std``, :math:`a` is ``curvature``,
:math:`\rho` is ``rho`` and :math:`\xi` is ``noise``, the standard normal draw of
one step :math:`\theta - \eta(\nabla L + \mathrm{wd}\,\theta) + \sqrt{2\eta T}\,\xi`.
"""

from __future__ import annotations

import math

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, close, close_tuple, log_uniform, part, same

CHAPTER = "08_sampling"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


# --- sgld_noise_std(lr, n, noise_std) = sqrt(2 lr T), T = 2 s^2 / n ----------------------------


def _noise_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(5, 5000))
    # s away from 1 and from 2 / sqrt(...) coincidences: at s = 1, s and s^2 give the same noise
    return {"lr": log_uniform(rng, 1e-4, 0.5), "n": n, "noise_std": away_from(rng, 0.05, 5.0, [1.0, 0.5, 2.0])}


def _noise(x: dict, temperature: float, *, sqrt: bool = True, two: float = 2.0) -> float:
    var = two * x["lr"] * temperature
    return math.sqrt(var) if sqrt else var


def _mse_temperature(x: dict) -> float:
    return 2 * x["noise_std"] ** 2 / x["n"]


SGLD_NOISE_STD = Exercise(
    id="ch08-sgld-noise-std",
    chapter=CHAPTER,
    function="sgld_noise_std",
    params=("lr", "n", "noise_std"),
    returns="float",
    checks="√(2η·2s²/n) for random η from 1e-4 to 0.5, n from 5 to 5000 and s from 0.05 to 5, plus n = 1, "
    "s = 1 and a large data set.",
    random_case=_noise_case,
    edge_cases=(
        Case({"lr": 0.1, "n": 1, "noise_std": 0.3}, "one example", "With n = 1, T = 2s²."),
        Case({"lr": 0.01, "n": 100, "noise_std": 1.0}, "noise_std is one", "With s = 1, T = 2/n."),
        Case({"lr": 1e-3, "n": 1_000_000, "noise_std": 0.2}, "a large data set",
             "The noise shrinks like 1/√n: the posterior narrows as data accumulate."),
    ),
    misconceptions=(
        Misconception(
            "summed-loss temperature",
            "your noise is √(2η), the noise for the *summed* negative log-likelihood (T = 1): with a mean loss the "
            "objective is the summed one times T = 2s²/n, so the noise must be √(2ηT); yours samples a posterior "
            "far too wide.",
            lambda x, want, got: same(got, _noise(x, 1.0)),
        ),
        Misconception(
            "factor of two missing",
            "your noise is √(ηT) (or, the same number, √(2η·s²/n)): the Euler step of dθ = −∇Φ dt + √(2T) dW adds "
            "√(2T)·√η·ξ, so the variance per step is 2ηT, and T = 2s²/n because MSELoss has no ½ where the "
            "Gaussian negative log-likelihood has one.",
            lambda x, want, got: same(got, _noise(x, _mse_temperature(x), two=1.0)),
        ),
        Misconception(
            "variance for standard deviation",
            "you returned the variance 2ηT; the exercise asks for the standard deviation √(2ηT).",
            lambda x, want, got: same(got, _noise(x, _mse_temperature(x), sqrt=False)),
        ),
        Misconception(
            "s for s squared",
            "your temperature uses s where it needs s²: the Gaussian negative log-likelihood is (y − f)²/(2s²), "
            "so the mean squared error is it times T = 2s²/n.",
            lambda x, want, got: same(got, _noise(x, 2 * x["noise_std"] / x["n"])),
        ),
    ),
    hint="The mean squared error is the summed negative log-likelihood times T = 2s²/n; one step adds noise √(2ηT).",
    compare=close(rtol=1e-9, atol=0.0),
)


# --- sgld_step(theta, grad, noise, lr, weight_decay, temperature) ------------------------------


def _step_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 8))
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "noise": rng.standard_normal(d),
        "lr": log_uniform(rng, 0.01, 0.3),  # away from 0.5 and 2, where sqrt(2 lr) and lr, 2 lr T would meet
        "weight_decay": log_uniform(rng, 0.05, 1.0),
        "temperature": log_uniform(rng, 0.01, 0.5),
    }


def _step(x: dict, *, decay: bool = True, noise_scale=None) -> np.ndarray:
    theta, lr, T = _arr(x, "theta"), x["lr"], x["temperature"]
    g = _arr(x, "grad") + (x["weight_decay"] * theta if decay else 0.0)
    scale = math.sqrt(2 * lr * T) if noise_scale is None else noise_scale
    return theta - lr * g + scale * _arr(x, "noise")


SGLD_STEP = Exercise(
    id="ch08-sgld-step",
    chapter=CHAPTER,
    function="sgld_step",
    params=("theta", "grad", "noise", "lr", "weight_decay", "temperature"),
    returns="array of theta's shape",
    checks="θ − η(∇L + wd·θ) + √(2ηT)·ξ for random θ, ∇L, ξ of 2 to 7 entries, η from 0.01 to 0.3, wd from "
    "0.05 to 1 and T from 0.01 to 0.5, plus T = 0, ξ = 0, wd = 0 and θ as a 2×2 matrix.",
    random_case=_step_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0]), "grad": np.array([0.5, 0.1]), "noise": np.array([0.3, -1.2]),
              "lr": 0.1, "weight_decay": 0.2, "temperature": 0.0},
             "temperature is zero", "At T = 0 the step is SGD with weight decay: the noise vanishes."),
        Case({"theta": np.array([0.4, 0.9, -0.3]), "grad": np.array([0.2, -0.6, 0.1]), "noise": np.zeros(3),
              "lr": 0.05, "weight_decay": 0.3, "temperature": 0.2}, "noise is zero"),
        Case({"theta": np.array([1.5, -0.5]), "grad": np.array([-0.3, 0.4]), "noise": np.array([0.7, 0.1]),
              "lr": 0.2, "weight_decay": 0.0, "temperature": 0.1}, "weight_decay is zero"),
        Case({"theta": np.array([[0.5, -1.0], [2.0, 0.1]]), "grad": np.ones((2, 2)), "noise": np.array([[1.0, -0.5], [0.2, 0.0]]),
              "lr": 0.1, "weight_decay": 0.1, "temperature": 0.05}, "theta is a 2x2 matrix"),
    ),
    misconceptions=(
        Misconception(
            "noise scaled by the learning rate",
            "your noise is η·√(2T)·ξ: the Brownian increment over a step of length η has standard deviation √η, "
            "so the noise is √(2ηT)·ξ. Noise proportional to η vanishes faster than the drift, and the chain "
            "collapses onto the mode as η shrinks.",
            lambda x, want, got: same(got, _step(x, noise_scale=x["lr"] * math.sqrt(2 * x["temperature"])))
            or same(got, _step(x, noise_scale=x["lr"] * x["temperature"])),
        ),
        Misconception(
            "noise without the square root",
            "your noise is 2ηT·ξ, the variance where the standard deviation belongs: scale ξ by √(2ηT).",
            lambda x, want, got: same(got, _step(x, noise_scale=2 * x["lr"] * x["temperature"])),
        ),
        Misconception(
            "temperature ignored",
            "your noise is √(2η)·ξ, as for the summed objective: the gradient here is of a mean loss, so the "
            "noise carries the temperature, √(2ηT)·ξ.",
            lambda x, want, got: same(got, _step(x, noise_scale=math.sqrt(2 * x["lr"]))),
        ),
        Misconception(
            "decay left out",
            "your step has no weight decay: the drift is the gradient of L + wd/2‖θ‖², ∇L + wd·θ (the prior).",
            lambda x, want, got: same(got, _step(x, decay=False)),
        ),
    ),
    hint="The SGD step with decay, θ − η(∇L + wd·θ), then add √(2ηT)·ξ.",
)


# --- sgld_stationary_variance(curvature, lr, temperature) = T / (a (1 - lr a / 2)) -------------


def _variance_case(rng: np.random.Generator) -> dict:
    a = log_uniform(rng, 0.1, 10.0)
    return {"curvature": a, "lr": float(rng.uniform(0.05, 1.8)) / a, "temperature": log_uniform(rng, 1e-3, 2.0)}


def _variance(x: dict, factor: float) -> float:
    return x["temperature"] / (x["curvature"] * factor)


SGLD_STATIONARY_VARIANCE = Exercise(
    id="ch08-sgld-stationary-variance",
    chapter=CHAPTER,
    function="sgld_stationary_variance",
    params=("curvature", "lr", "temperature"),
    returns="float",
    checks="T/(a(1 − ηa/2)) for random a from 0.1 to 10, ηa from 0.05 to 1.8 and T from 1e-3 to 2, plus a tiny "
    "step, ηa = 1 and ηa close to 2.",
    random_case=_variance_case,
    edge_cases=(
        Case({"curvature": 2.0, "lr": 1e-6, "temperature": 0.5}, "a tiny step",
             "As η → 0 the chain's variance tends to the target's, T/a."),
        Case({"curvature": 4.0, "lr": 0.25, "temperature": 0.1}, "lr times curvature is one",
             "At ηa = 1 each step forgets the last completely: the variance is the noise's, 2ηT."),
        Case({"curvature": 1.0, "lr": 1.99, "temperature": 0.01}, "lr times curvature close to two",
             "Near ηa = 2 the chain barely contracts and its variance blows up."),
    ),
    misconceptions=(
        Misconception(
            "the continuous-time answer",
            "your variance is T/a, the variance of the target exp(−aθ²/(2T)): the Euler chain with a finite step "
            "samples a wider law. Solve c = (1 − ηa)²c + 2ηT for c.",
            lambda x, want, got: same(got, _variance(x, 1.0)),
        ),
        Misconception(
            "bias with the wrong sign",
            "your variance is T/(a(1 + ηa/2)), smaller than the target's: the finite step inflates the variance, "
            "by the factor 1/(1 − ηa/2).",
            lambda x, want, got: same(got, _variance(x, 1 + x["lr"] * x["curvature"] / 2)),
        ),
        Misconception(
            "first order only",
            "your variance is T/a + ηT/2, the first-order expansion: the exact stationary variance of the chain is "
            "T/(a(1 − ηa/2)), which differs at larger steps.",
            lambda x, want, got: same(got, x["temperature"] / x["curvature"] + x["lr"] * x["temperature"] / 2),
        ),
        Misconception(
            "the noise alone",
            "your variance is 2ηT, the variance of one step's noise: the pull toward the mode, (1 − ηa) per step, "
            "keeps a memory of earlier noise; solve c = (1 − ηa)²c + 2ηT.",
            lambda x, want, got: not math.isclose(x["lr"] * x["curvature"], 1.0, rel_tol=1e-6)
            and same(got, 2 * x["lr"] * x["temperature"]),
        ),
    ),
    hint="The step is θ ← (1 − ηa)θ + √(2ηT)ξ; in the stationary law the variance c satisfies c = (1 − ηa)²c + 2ηT.",
    compare=close(rtol=1e-9, atol=0.0),
)


# --- ar1_ess(num_draws, rho) = N (1 - rho) / (1 + rho) -----------------------------------------


def _ess_case(rng: np.random.Generator) -> dict:
    rho = float(rng.uniform(0.05, 0.99)) if rng.random() < 0.8 else float(rng.uniform(-0.9, -0.05))
    return {"num_draws": int(rng.integers(10, 100_000)), "rho": rho}


AR1_ESS = Exercise(
    id="ch08-ar1-ess",
    chapter=CHAPTER,
    function="ar1_ess",
    params=("num_draws", "rho"),
    returns="float",
    checks="N(1 − ρ)/(1 + ρ) for random N from 10 to 100,000 and ρ from 0.05 to 0.99 or from −0.9 to −0.05, "
    "plus ρ = 0 and ρ close to 1.",
    random_case=_ess_case,
    edge_cases=(
        Case({"num_draws": 1000, "rho": 0.0}, "rho is zero", "Independent draws: N_eff = N."),
        Case({"num_draws": 10_000, "rho": 0.999}, "rho close to one", "A chain that barely moves is worth few draws."),
        Case({"num_draws": 500, "rho": -0.5}, "rho is negative", "Alternating draws are worth more than independent ones."),
    ),
    misconceptions=(
        Misconception(
            "one-sided sum",
            "your answer is N(1 − ρ): that is N/(1 + ρ + ρ² + ...), the lags on one side only. The variance of a "
            "mean counts every pair of draws, both lags ±k: τ = 1 + 2Σρᵏ = (1 + ρ)/(1 − ρ).",
            lambda x, want, got: same(got, x["num_draws"] * (1 - x["rho"])),
        ),
        Misconception(
            "upside down",
            "your answer is N(1 + ρ)/(1 − ρ), more draws than you have for ρ > 0: that is N·τ, and the effective "
            "size is N/τ.",
            lambda x, want, got: same(got, x["num_draws"] * (1 + x["rho"]) / (1 - x["rho"])),
        ),
        Misconception(
            "the autocorrelation time itself",
            "you returned τ = (1 + ρ)/(1 − ρ), the number of steps per independent draw; the effective sample "
            "size is N/τ.",
            lambda x, want, got: same(got, (1 + x["rho"]) / (1 - x["rho"])),
        ),
    ),
    hint="τ = Σ over all lags k of ρ^|k| = (1 + ρ)/(1 − ρ), and N_eff = N/τ.",
    compare=close(rtol=1e-9, atol=0.0),
)


# --- cold_posterior(mean, cov, temperature) = (mean, temperature * cov) ------------------------


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    B = rng.standard_normal((d, d))
    return B @ B.T + 0.5 * np.eye(d)


def _cold_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(1, 5))
    return {"mean": rng.normal(0.0, 2.0, size=d), "cov": _spd(rng, d),
            "temperature": away_from(rng, 0.01, 0.9, [1.0])}


def _cold(x: dict, mean_factor: float, cov_factor: float):
    return mean_factor * _arr(x, "mean"), cov_factor * _arr(x, "cov")


COLD_POSTERIOR = Exercise(
    id="ch08-cold-posterior",
    chapter=CHAPTER,
    function="cold_posterior",
    params=("mean", "cov", "temperature"),
    returns="tuple (mean, cov): array of shape (d,) and array of shape (d, d)",
    checks="(m, τS) for random m and positive-definite S of 1 to 4 dimensions and τ from 0.01 to 0.9, plus "
    "τ = 1, a mean of zero and a diagonal S.",
    random_case=_cold_case,
    edge_cases=(
        Case({"mean": np.array([1.0, -2.0]), "cov": np.array([[2.0, 0.5], [0.5, 1.0]]), "temperature": 1.0},
             "temperature is one", "At τ = 1 the posterior is unchanged."),
        Case({"mean": np.zeros(2), "cov": np.diag([4.0, 0.25]), "temperature": 0.1}, "mean is zero"),
        Case({"mean": np.array([3.0]), "cov": np.array([[0.5]]), "temperature": 0.25}, "one dimension"),
    ),
    misconceptions=(
        Misconception(
            "mean moved too",
            "your mean moved: p^(1/τ) has its maximum where p does, and a Gaussian's mean is its maximum; "
            "tempering changes how sure the posterior is, not where it is centred.",
            lambda x, want, got: not same(part(got, 0), _arr(x, "mean")),
        ),
        Misconception(
            "covariance divided by the temperature",
            "your covariance is S/τ, a wider posterior for τ < 1: raising the density to 1/τ multiplies the "
            "*precision* by 1/τ, so the covariance by τ.",
            lambda x, want, got: same(part(got, 1), _arr(x, "cov") / x["temperature"]),
        ),
        Misconception(
            "standard deviations scaled by the temperature",
            "your covariance is τ²S: the standard deviations scale by √τ, the variances by τ.",
            lambda x, want, got: same(part(got, 1), x["temperature"] ** 2 * _arr(x, "cov")),
        ),
        Misconception(
            "covariance scaled by the square root",
            "your covariance is √τ·S: √τ is the factor for the standard deviations; the covariance, a variance, "
            "scales by τ.",
            lambda x, want, got: same(part(got, 1), math.sqrt(x["temperature"]) * _arr(x, "cov")),
        ),
    ),
    hint="(exp(−½(θ−m)ᵀS⁻¹(θ−m)))^(1/τ) = exp(−½(θ−m)ᵀ(τS)⁻¹(θ−m)).",
    compare=close_tuple("mean", "cov"),
)

EXERCISES = (SGLD_NOISE_STD, SGLD_STEP, SGLD_STATIONARY_VARIANCE, AR1_ESS, COLD_POSTERIOR)
