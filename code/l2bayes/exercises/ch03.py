r"""Checking specs for the exercises of chapter 3, *Choosing λ: cross-validation and the evidence*.

The reference solutions are the cells tagged ``solution`` in
``chapters/03_choosing_lambda.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: :math:`s` is ``noise_std``, :math:`\sigma` is ``prior_std``, ridge's penalty is
:math:`\lambda = s^2/\sigma^2` (``lam``), the evidence is
:math:`\mathcal{N}(y; 0, C)` with :math:`C = s^2 I + \sigma^2 XX^\top`, and :math:`\delta_j` are the
singular values of ``X``.
"""

from __future__ import annotations

import math

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, close, describe, log_uniform, same

CHAPTER = "03_choosing_lambda"






def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _design(rng: np.random.Generator, n: int, d: int, low: float = 0.3, high: float = 3.0) -> np.ndarray:
    """Gaussian features with column scales log-uniform in [low, high]."""
    return rng.standard_normal((n, d)) * np.exp(rng.uniform(np.log(low), np.log(high), size=d))


# --- log_evidence_fn(X, y, noise_std, prior_std) = log N(y; 0, s^2 I + sd^2 X X^T) ----------------


def _evidence_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(1, 6))
    n = int(rng.integers(3, 31))
    noise_std = away_from(rng, 0.1, 3.0, [1.0])
    prior_std = away_from(rng, 0.2, 5.0, [1.0, noise_std])  # at s = sd or sd = 1 some mistakes are invisible
    X = _design(rng, n, d)
    y = X @ rng.normal(0.0, prior_std, size=d) + noise_std * rng.standard_normal(n)
    return {"X": X, "y": y, "noise_std": noise_std, "prior_std": prior_std}


def _gauss_terms(x: dict, noise_var: float, prior_var: float) -> tuple[float, float, float]:
    """(−½ yᵀC⁻¹y, −½ log|C|, −(n/2) log 2π) for C = noise_var·I + prior_var·XXᵀ."""
    X, y = _arr(x, "X"), _arr(x, "y")
    n = len(y)
    C = noise_var * np.eye(n) + prior_var * X @ X.T
    sign, logdet = np.linalg.slogdet(C)
    if sign <= 0:
        raise ValueError("C is not positive definite")
    return -0.5 * y @ np.linalg.solve(C, y), -0.5 * logdet, -0.5 * n * math.log(2 * math.pi)


def _evidence_with(x: dict, noise_var: float, prior_var: float) -> float:
    return sum(_gauss_terms(x, noise_var, prior_var))


def _vars(x: dict) -> tuple[float, float]:
    return float(x["noise_std"]) ** 2, float(x["prior_std"]) ** 2


def _occam_missing(x: dict, got) -> bool:
    quad, _, const = _gauss_terms(x, *_vars(x))
    return same(got, quad + const) or same(got, quad)


def _half_logdet_A(x: dict) -> float:
    """½ log|A| for the posterior precision A = XᵀX/s² + I/σ² (the weight-space form's Occam factor)."""
    X = _arr(x, "X")
    noise_var, prior_var = _vars(x)
    return 0.5 * np.linalg.slogdet(X.T @ X / noise_var + np.eye(X.shape[1]) / prior_var)[1]


def _weight_space_occam_dropped(x: dict, want, got) -> bool:
    return same(got, want + _half_logdet_A(x))


def _logdet_scaled(x: dict, got) -> bool:
    quad, half_logdet, const = _gauss_terms(x, *_vars(x))
    return same(got, quad + 2 * half_logdet + const) or same(got, quad + 0.5 * half_logdet + const)


_rng_ev = np.random.default_rng(30_301)
_X_ev = _rng_ev.standard_normal((12, 3))
_y_ev = _X_ev @ np.array([0.8, -1.2, 0.4]) + 0.5 * _rng_ev.standard_normal(12)
_X_ev_wide = _rng_ev.standard_normal((4, 9))

LOG_EVIDENCE = Exercise(
    id="ch03-log-evidence",
    chapter=CHAPTER,
    function="log_evidence_fn",
    params=("X", "y", "noise_std", "prior_std"),
    returns="float",
    checks="log N(y; 0, s²I + σ²XXᵀ) for random X of 3 to 30 rows and 1 to 5 columns, y drawn from the "
    "model, s from 0.1 to 3 and σ from 0.2 to 5, plus one example, more features than examples, y = 0, "
    "X = 0, s = σ and a tiny noise.",
    random_case=_evidence_case,
    edge_cases=(
        Case({"X": _X_ev[:1], "y": _y_ev[:1], "noise_std": 0.5, "prior_std": 2.0}, "one example",
             "With one example, C is 1×1: s² + σ²‖x‖²."),
        Case({"X": _X_ev_wide, "y": _y_ev[:4], "noise_std": 0.4, "prior_std": 1.5}, "more features than examples",
             "C = s²I + σ²XXᵀ is n×n whatever d is."),
        Case({"X": _X_ev, "y": np.zeros(12), "noise_std": 0.5, "prior_std": 2.0}, "y is zero",
             "At y = 0 only the normalising terms are left: −½log|C| − (n/2)·log 2π."),
        Case({"X": np.zeros((12, 3)), "y": _y_ev, "noise_std": 0.8, "prior_std": 2.0}, "X is zero",
             "With X = 0 the weights have no effect: the evidence is log N(y; 0, s²I), whatever σ is."),
        Case({"X": _X_ev, "y": _y_ev, "noise_std": 0.6, "prior_std": 0.6}, "noise_std equals prior_std"),
        Case({"X": _X_ev, "y": _X_ev @ np.array([0.8, -1.2, 0.4]) + 1e-3 * _rng_ev.standard_normal(12),
              "noise_std": 1e-3, "prior_std": 1.0}, "a tiny noise",
             "A small s makes |C| tiny: work with log|C| (a Cholesky factor, or slogdet), not with det(C)."),
    ),
    misconceptions=(
        Misconception(
            "Occam term missing",
            "your value has no −½·log|C|: that term, the Occam factor in disguise, penalises wide priors; "
            "without it the 'best' prior is the widest one. log N(y; 0, C) = −½yᵀC⁻¹y − ½log|C| − (n/2)·log 2π.",
            lambda x, want, got: _occam_missing(x, got),
        ),
        Misconception(
            "Occam factor dropped (weight-space form)",
            "your value is log p(y | m) + log p(m) + (d/2)·log 2π without −½·log|A|, A = XᵀX/s² + I/σ² the "
            "posterior precision: in the weight-space form that log-determinant is the Occam factor, and "
            "dropping it makes the widest prior look best.",
            _weight_space_occam_dropped,
        ),
        Misconception(
            "log-determinant scaled wrongly",
            "your value has −log|C| or −¼·log|C| where the density has −½·log|C|; with a Cholesky factor "
            "C = LLᵀ, ½·log|C| = Σᵢ log Lᵢᵢ (not 2Σ, not ½Σ).",
            lambda x, want, got: _logdet_scaled(x, got),
        ),
        Misconception(
            "normalising constant missing",
            "your value is missing −(n/2)·log 2π: the exercise asks for the log density, constants included.",
            lambda x, want, got: same(got, want + 0.5 * len(_arr(x, "y")) * math.log(2 * math.pi)),
        ),
        Misconception(
            "standard deviations for variances",
            "your value matches C = sI + σXXᵀ: the covariance of y adds variances, the noise's s² and "
            "the prior's σ², so C = s²I + σ²XXᵀ.",
            lambda x, want, got: any(
                same(got, _evidence_with(x, a, b))
                for a, b in ((x["noise_std"], x["prior_std"]), (x["noise_std"], _vars(x)[1]), (_vars(x)[0], x["prior_std"]))
            ),
        ),
        Misconception(
            "noise and prior swapped",
            "your value matches C = σ²I + s²XXᵀ: the noise variance s² goes on the identity (every "
            "example has its own noise) and the prior variance σ² on XXᵀ (the weights are shared).",
            lambda x, want, got: same(got, _evidence_with(x, _vars(x)[1], _vars(x)[0])),
        ),
        Misconception(
            "precisions for variances",
            "your value matches C = I/s² + XXᵀ/σ², built from the precisions β = 1/s² and α = 1/σ²: "
            "the covariance adds variances, C = s²I + σ²XXᵀ = I/β + XXᵀ/α.",
            lambda x, want, got: same(got, _evidence_with(x, 1 / _vars(x)[0], 1 / _vars(x)[1])),
        ),
        Misconception(
            "negative log evidence",
            "your value is −log p(y); the exercise asks for log p(y) itself.",
            lambda x, want, got: same(got, -want),
        ),
    ),
    hint="y = Xθ + ε is a sum of independent Gaussians, so y ~ N(0, C) with C = s²I + σ²XXᵀ. With C = LLᵀ "
    "(np.linalg.cholesky) and z = L⁻¹y: log p(y) = −½zᵀz − Σᵢ log Lᵢᵢ − (n/2)·log 2π.",
    compare=close(rtol=1e-9, atol=1e-9),
)


# --- ridge_lam_from_stds(noise_std, prior_std) = s^2 / sd^2 --------------------------------------


def _lam_case(rng: np.random.Generator) -> dict:
    noise_std = away_from(rng, 0.05, 5.0, [1.0])
    prior_std = away_from(rng, 0.05, 5.0, [1.0, noise_std])  # at s = sd or s = 1 some mistakes are invisible
    return {"noise_std": noise_std, "prior_std": prior_std}


def _ratio(x: dict, s_pow: int, sd_pow: int) -> float:
    return float(x["noise_std"]) ** s_pow / float(x["prior_std"]) ** sd_pow


RIDGE_LAM_FROM_STDS = Exercise(
    id="ch03-ridge-lam-from-stds",
    chapter=CHAPTER,
    function="ridge_lam_from_stds",
    params=("noise_std", "prior_std"),
    returns="float",
    checks="s²/σ² for random s and σ from 0.05 to 5, plus s = σ, s = 1, integer inputs and "
    "standard deviations six decades apart.",
    random_case=_lam_case,
    edge_cases=(
        Case({"noise_std": 0.7, "prior_std": 0.7}, "noise_std equals prior_std",
             "Equal standard deviations give λ = 1."),
        Case({"noise_std": 1.0, "prior_std": 0.25}, "noise_std is one"),
        Case({"noise_std": 3, "prior_std": 2}, "integer inputs",
             "Integer standard deviations still give a fractional λ: 9/4."),
        Case({"noise_std": 1e-3, "prior_std": 1e3}, "stds six decades apart",
             "A very wide prior and very little noise give a tiny penalty: λ = 1e-12."),
    ),
    misconceptions=(
        Misconception(
            "standard deviations for variances",
            "your λ is s/σ: multiplying the negative log posterior ‖y − Xθ‖²/(2s²) + ‖θ‖²/(2σ²) by 2s² "
            "gives λ = s²/σ², a ratio of variances.",
            lambda x, want, got: same(got, _ratio(x, 1, 1)),
        ),
        Misconception(
            "ratio inverted",
            "your λ is σ²/s², upside down: λ = s²/σ² grows with the noise and shrinks as the prior widens. "
            "In precisions λ = α/β with α = 1/σ² and β = 1/s²; careful with scikit-learn's BayesianRidge, "
            "whose alpha_ is the noise precision β and lambda_ the weight precision α, so λ = lambda_/alpha_.",
            lambda x, want, got: same(got, _ratio(x, -2, -2)),
        ),
        Misconception(
            "inverted and not squared",
            "your λ is σ/s: it is both upside down and a ratio of standard deviations; λ = s²/σ².",
            lambda x, want, got: same(got, _ratio(x, -1, -1)),
        ),
        Misconception(
            "swapped precision s²σ²",
            "your λ is s²σ², as if σ² were the prior's precision: the precisions are α = 1/σ² and β = 1/s², and "
            "λ = α/β = s²/σ².",
            lambda x, want, got: same(got, _ratio(x, 2, -2)),
        ),
        Misconception(
            "noise ignored",
            "your λ is 1/σ², chapter 1's penalty for the negative log-likelihood itself; ridge penalises "
            "the plain squared error ‖y − Xθ‖², which is the negative log-likelihood times 2s², so "
            "λ = s²/σ².",
            lambda x, want, got: same(got, _ratio(x, 0, 2)),
        ),
    ),
    hint="Multiply the negative log posterior ‖y − Xθ‖²/(2s²) + ‖θ‖²/(2σ²) by 2s² and read off the "
    "coefficient of ‖θ‖².",
    compare=close(rtol=1e-12, atol=0.0),
)


# --- effective_dof(X, lam) = sum_j delta_j^2 / (delta_j^2 + lam) ------------------------------------


def _dof_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(1, 9))
    n = int(rng.integers(2, 31))
    return {"X": _design(rng, n, d, 0.1, 10.0), "lam": log_uniform(rng, 0.01, 100.0)}


def _singular_values(x: dict) -> np.ndarray:
    return np.linalg.svd(_arr(x, "X"), compute_uv=False)


def _dof_with(x: dict, lam: float, *, power: int = 2) -> float:
    delta = _singular_values(x) ** power
    return float(np.sum(delta / (delta + lam)))


def _prior_share(x: dict, got) -> bool:
    delta2 = _singular_values(x) ** 2
    d = np.shape(x["X"])[1]
    return same(got, np.sum(x["lam"] / (delta2 + x["lam"]))) or same(got, d - _dof_with(x, x["lam"]))


def _counted(x: dict, got) -> bool:
    n, d = np.shape(x["X"])
    return any(same(got, k) for k in {d, min(n, d), int(np.linalg.matrix_rank(_arr(x, "X")))})


_rng_dof = np.random.default_rng(30_302)
_X_dof = _rng_dof.standard_normal((20, 4)) * np.array([5.0, 1.0, 0.3, 0.05])

EFFECTIVE_DOF = Exercise(
    id="ch03-effective-dof",
    chapter=CHAPTER,
    function="effective_dof",
    params=("X", "lam"),
    returns="float",
    checks="Σⱼ δⱼ²/(δⱼ² + λ) for random X of 2 to 30 rows and 1 to 8 columns (column scales from 0.1 to 10) "
    "and λ from 0.01 to 100, plus λ = 0, a huge λ, more columns than rows, a repeated column and X = 0.",
    random_case=_dof_case,
    edge_cases=(
        Case({"X": _X_dof, "lam": 0.0}, "lam is zero",
             "At λ = 0 (least squares) every factor is 1, so df is the number of non-zero singular values, here d."),
        Case({"X": _X_dof, "lam": 1e8}, "a huge lam",
             "For λ far above every δⱼ², df ≈ Σδⱼ²/λ: small, but not zero."),
        Case({"X": _X_dof.T[:, :10], "lam": 0.5}, "more columns than rows",
             "X has only min(n, d) singular values; df is at most min(n, d), not d."),
        Case({"X": np.column_stack([_X_dof, _X_dof[:, 0]]), "lam": 2.0}, "a repeated column",
             "A repeated column adds a zero singular value, whose factor 0/(0 + λ) is 0."),
        Case({"X": np.zeros((6, 3)), "lam": 1.0}, "X is zero",
             "With X = 0 the data determine nothing: df = 0."),
    ),
    misconceptions=(
        Misconception(
            "singular values not squared",
            "your df is Σ δⱼ/(δⱼ + λ): the shrinkage factors use the squared singular values δⱼ², the "
            "eigenvalues of XᵀX, so df = Σ δⱼ²/(δⱼ² + λ).",
            lambda x, want, got: same(got, _dof_with(x, x["lam"], power=1)),
        ),
        Misconception(
            "the prior's share",
            "your df is Σ λ/(δⱼ² + λ) (or d − df), the prior's share of the posterior precision along each "
            "direction; the degrees of freedom count the data's share, δⱼ²/(δⱼ² + λ).",
            lambda x, want, got: _prior_share(x, got),
        ),
        Misconception(
            "mean-loss scaling",
            "your df matches Σ δⱼ²/(δⱼ² + nλ) (or λ/n): the penalty λ here is ridge's on the summed squared "
            "error, ‖y − Xθ‖² + λ‖θ‖², so it enters unscaled.",
            lambda x, want, got: any(
                same(got, _dof_with(x, x["lam"] * k)) for k in (np.shape(x["X"])[0], 1 / np.shape(x["X"])[0])
            ),
        ),
        Misconception(
            "parameter count",
            "your df is a count of parameters (d, min(n, d) or the rank of X) whatever λ is: the effective "
            "degrees of freedom fall from that count at λ = 0 toward 0 as λ grows, Σ δⱼ²/(δⱼ² + λ).",
            lambda x, want, got: _counted(x, got),
        ),
    ),
    hint="Take the singular values δⱼ of X (np.linalg.svd(X, compute_uv=False)) and sum the shrinkage "
    "factors δⱼ²/(δⱼ² + λ); that is the trace of the hat matrix X(XᵀX + λI)⁻¹Xᵀ.",
    compare=close(rtol=1e-9, atol=1e-12),
)

# --- evidence_statement(): which statement describes maximising the evidence ---------------------------

#: The statements of the exercise in the chapter, by letter; "b" is right.
EVIDENCE_STATEMENTS = {
    "a": "full Bayesian inference: s and σ are given priors and integrated out, like θ",
    "b": "type-II maximum likelihood (empirical Bayes): θ is integrated out, s and σ are fitted",
    "c": "maximum likelihood in all unknowns: θ, s and σ maximise p(y | θ, s, σ) together",
    "d": "a choice of σ by how well the model predicts data it was not fitted on",
}


def _letter(got) -> str | None:
    return got.strip().lower() if isinstance(got, str) else None


def _choice(expected, got) -> str | None:
    letter = _letter(got)
    if letter is None:
        return f"expected one letter as a str (one of {', '.join(map(repr, EVIDENCE_STATEMENTS))}), got {describe(got)}"
    if letter not in EVIDENCE_STATEMENTS:
        return f"{got!r} is not one of the statements {', '.join(map(repr, EVIDENCE_STATEMENTS))}"
    if letter != expected:
        return f"statement {letter!r} ({EVIDENCE_STATEMENTS[letter]}) is not what the evidence does"
    return None


EVIDENCE_STATEMENT = Exercise(
    id="ch03-evidence-statement",
    chapter=CHAPTER,
    function="evidence_statement",
    params=(),
    returns="str",
    checks="the letter of the one statement that describes maximising the evidence over s and σ.",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the answer", "Ask what is integrated over and what is maximised."),),
    misconceptions=(
        Misconception(
            "integrated, not fitted",
            "statement a describes a fully Bayesian treatment; maximising the evidence fits s and σ to the data "
            "and integrates only θ out: type-II maximum likelihood.",
            lambda x, want, got: _letter(got) == "a",
        ),
        Misconception(
            "θ fitted, not integrated",
            "statement c maximises the likelihood p(y | θ, s), which does not involve σ at all, so it cannot "
            "choose the prior's width; the evidence integrates θ out, and that integral is what makes σ matter "
            "(the Occam term).",
            lambda x, want, got: _letter(got) == "c",
        ),
        Misconception(
            "held-out data",
            "statement d is cross-validation; the evidence uses no held-out data, only the probability of the "
            "training data under the model with θ integrated out.",
            lambda x, want, got: _letter(got) == "d",
        ),
    ),
    hint="The evidence is p(y | s, σ) = ∫ p(y | θ, s) p(θ | σ) dθ.",
    compare=_choice,
)

EXERCISES = (LOG_EVIDENCE, RIDGE_LAM_FROM_STDS, EFFECTIVE_DOF, EVIDENCE_STATEMENT)
