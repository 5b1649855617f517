r"""Checking specs for the exercises of chapter 2, *Ridge regression*.

The reference solutions are the cells tagged ``solution`` in
``chapters/02_ridge_regression.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: ridge minimises :math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2` (``lam``),
:math:`s` is ``noise_std``, :math:`\sigma` is ``prior_std``, :math:`n \times d` is the shape of ``X``.

The detectors recompute each wrong answer with ``numpy.linalg.solve``; they
only have to recognise an answer, not be the best way to compute it.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, away_from, close, close_tuple, log_uniform, same

CHAPTER = "02_ridge_regression"






def _design(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Gaussian features with column scales from 0.3 to 3: varied, well-conditioned."""
    return rng.standard_normal((n, d)) * np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=d))


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _ridge(X: np.ndarray, y: np.ndarray, lam) -> np.ndarray:
    """argmin ||y - X theta||^2 + theta^T (lam I) theta, for a scalar lam (or a (d, d) matrix)."""
    d = X.shape[1]
    P = lam * np.eye(d) if np.ndim(lam) == 0 else lam
    return np.linalg.solve(X.T @ X + P, X.T @ y)


# --- ridge_closed_form(X, y, lam) = solve(X^T X + lam I, X^T y) -----------------------------


def _ridge_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 7))
    n = int(rng.integers(d + 4, 41))
    X = _design(rng, n, d)
    return {
        "X": X,
        "y": X @ rng.normal(0.0, 1.0, size=d) + 0.5 * rng.standard_normal(n),
        "lam": log_uniform(rng, 0.1, 30.0),
    }


def _ridge_with(x: dict, lam) -> np.ndarray:
    return _ridge(_arr(x, "X"), _arr(x, "y"), lam)


def _n(x: dict) -> int:
    return np.shape(x["X"])[0]


def _least_squares(x: dict, got) -> bool:
    """``got`` is least squares: the minimum-norm solution, or (XᵀX)⁻¹Xᵀy where that can be solved."""
    X, y = _arr(x, "X"), _arr(x, "y")
    if same(got, np.linalg.lstsq(X, y, rcond=None)[0]):
        return True
    try:
        return same(got, _ridge(X, y, 0.0))
    except np.linalg.LinAlgError:
        return False


_rng_edge = np.random.default_rng(20_202)
_X_edge = _rng_edge.standard_normal((25, 3))
_y_edge = _X_edge @ np.array([1.0, -2.0, 0.5]) + 0.3 * _rng_edge.standard_normal(25)
_X_twin = np.column_stack([_X_edge[:, :2], _X_edge[:, 0]])  # third column repeats the first

RIDGE_CLOSED_FORM = Exercise(
    id="ch02-ridge-closed-form",
    chapter=CHAPTER,
    function="ridge_closed_form",
    params=("X", "y", "lam"),
    returns="array of shape (d,)",
    checks="(XᵀX + λI)⁻¹Xᵀy for random X of 6 to 40 rows and 2 to 6 columns and λ from 0.1 to 30, "
    "plus λ = 0, a huge λ, one feature, two identical columns and columns on very different scales.",
    random_case=_ridge_case,
    edge_cases=(
        Case({"X": _X_edge, "y": _y_edge, "lam": 0.0}, "lam is zero",
             "With λ = 0 ridge is least squares: the solution of XᵀXθ = Xᵀy (here n > d, so the "
             "dual form Xᵀ(XXᵀ + λI)⁻¹y would need λ > 0)."),
        Case({"X": _X_edge, "y": _y_edge, "lam": 1e6}, "a huge lam",
             "For λ far above the eigenvalues of XᵀX, the estimate is close to Xᵀy/λ: tiny, but not zero."),
        Case({"X": _X_edge[:, :1], "y": _y_edge, "lam": 2.0}, "one feature",
             "With one column, θ is an array of shape (1,)."),
        Case({"X": _X_twin, "y": _y_edge, "lam": 0.5}, "two identical columns",
             "Here XᵀX is singular, but XᵀX + λI is not: solve the penalised system."),
        Case({"X": _X_edge * np.array([100.0, 1.0, 0.01]), "y": _y_edge, "lam": 1.0},
             "columns on very different scales",
             "Use X as given, without rescaling its columns: λ is added to the diagonal of XᵀX itself, "
             "so the weight of the small-scale column is shrunk the most."),
    ),
    misconceptions=(
        Misconception(
            "mean-loss scaling",
            "your estimate matches closed-form ridge with nλ in place of λ: that minimises the mean "
            "squared error (1/n)‖y − Xθ‖² + λ‖θ‖². The exercise penalises the summed squared error, "
            "as Ridge(alpha=λ) does, so the system is XᵀX + λI.",
            lambda x, want, got: same(got, _ridge_with(x, _n(x) * x["lam"])),
        ),
        Misconception(
            "λ divided by n",
            "your estimate matches closed-form ridge with λ/n in place of λ: λ/n is what a mean "
            "squared error would need to give the same minimiser, but this exercise's loss is "
            "already the summed squared error, so use λ itself.",
            lambda x, want, got: same(got, _ridge_with(x, x["lam"] / _n(x))),
        ),
        Misconception(
            "half penalty",
            "your estimate matches closed-form ridge with λ/2: that minimises ‖y − Xθ‖² + (λ/2)‖θ‖², "
            "chapter 1's halved penalty next to an unhalved squared error. Ridge here has no halves, "
            "‖y − Xθ‖² + λ‖θ‖² as in Ridge(alpha=λ), so the system is XᵀX + λI.",
            lambda x, want, got: same(got, _ridge_with(x, x["lam"] / 2)),
        ),
        Misconception(
            "doubled penalty",
            "your estimate matches closed-form ridge with 2λ: differentiating ‖y − Xθ‖² + λ‖θ‖² gives "
            "2Xᵀ(Xθ − y) + 2λθ; the factor 2 appears in both terms, not only in the penalty's, and "
            "cancels, leaving XᵀX + λI.",
            lambda x, want, got: same(got, _ridge_with(x, 2 * x["lam"])),
        ),
        Misconception(
            "no penalty",
            "your estimate is the least-squares solution (XᵀX)⁻¹Xᵀy: the penalty λ‖θ‖² adds λ to the "
            "diagonal of XᵀX.",
            lambda x, want, got: _least_squares(x, got),
        ),
        Misconception(
            "λ added to every entry",
            "your estimate matches (XᵀX + λ·11ᵀ)⁻¹Xᵀy: `X.T @ X + lam` adds λ to every entry of the "
            "matrix; the penalty adds it to the diagonal only, `X.T @ X + lam * np.eye(d)`.",
            lambda x, want, got: same(got, _ridge_with(x, np.full((np.shape(x["X"])[1],) * 2, float(x["lam"])))),
        ),
    ),
    hint="Set the gradient 2Xᵀ(Xθ − y) + 2λθ to zero: (XᵀX + λI)θ = Xᵀy, then solve that system "
    "(np.linalg.solve or a Cholesky solve), without forming an inverse.",
    compare=close(rtol=1e-8, atol=1e-12),
)


# --- posterior_covariance(X, noise_std, prior_std) = (X^T X / s^2 + I / sd^2)^-1 ----------------


def _cov_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 6))
    n = int(rng.integers(d + 2, 41))
    noise_std = away_from(rng, 0.1, 3.0, [1.0])
    prior_std = away_from(rng, 0.2, 5.0, [1.0, noise_std])  # s = sd or sd = 1 hide some mistakes
    return {"X": _design(rng, n, d), "noise_std": noise_std, "prior_std": prior_std}


def _gram(x: dict) -> np.ndarray:
    X = _arr(x, "X")
    return X.T @ X


def _inv(A: np.ndarray) -> np.ndarray:
    return np.linalg.solve(A, np.eye(A.shape[0]))


def _precision(x: dict, s, sd) -> np.ndarray:
    """XᵀX/s + I/sd for whatever s and sd the caller passes (variances or not)."""
    G = _gram(x)
    return G / s + np.eye(G.shape[0]) / sd


def _s2(x: dict) -> float:
    return float(x["noise_std"]) ** 2


def _sd2(x: dict) -> float:
    return float(x["prior_std"]) ** 2


_X_wide = np.random.default_rng(20_203).standard_normal((3, 5))

POSTERIOR_COVARIANCE = Exercise(
    id="ch02-posterior-covariance",
    chapter=CHAPTER,
    function="posterior_covariance",
    params=("X", "noise_std", "prior_std"),
    returns="array of shape (d, d)",
    checks="(XᵀX/s² + I/σ²)⁻¹ for random X of 4 to 40 rows and 2 to 5 columns, s from 0.1 to 3 and "
    "σ from 0.2 to 5, plus s = σ, one feature, more features than rows, no rows at all and a very wide prior.",
    random_case=_cov_case,
    edge_cases=(
        Case({"X": _X_edge, "noise_std": 0.7, "prior_std": 0.7}, "noise_std equals prior_std"),
        Case({"X": _X_edge[:, :1], "noise_std": 0.5, "prior_std": 2.0}, "one feature",
             "With one column the covariance is a 1×1 matrix, shape (1, 1)."),
        Case({"X": _X_wide, "noise_std": 0.4, "prior_std": 1.5}, "more features than rows",
             "XᵀX is singular when d > n; the prior's precision I/σ² makes the posterior precision invertible."),
        Case({"X": np.zeros((0, 3)), "noise_std": 0.5, "prior_std": 2.0}, "no rows at all",
             "Without data the posterior is the prior: S = σ²I."),
        Case({"X": _X_edge, "noise_std": 0.3, "prior_std": 1e4}, "a very wide prior",
             "As σ → ∞ the covariance tends to s²(XᵀX)⁻¹, the covariance of least squares."),
    ),
    misconceptions=(
        Misconception(
            "precision, not covariance",
            "you returned the posterior precision XᵀX/s² + I/σ²; the covariance is its inverse "
            "(solve against the identity, or use a Cholesky factor).",
            lambda x, want, got: same(got, _precision(x, _s2(x), _sd2(x))),
        ),
        Misconception(
            "standard deviations for variances",
            "your covariance matches (XᵀX/s + I/σ)⁻¹: the precisions divide by the variances s² and σ², "
            "not by the standard deviations.",
            lambda x, want, got: any(
                same(got, _inv(_precision(x, a, b)))
                for a, b in ((x["noise_std"], x["prior_std"]), (x["noise_std"], _sd2(x)), (_s2(x), x["prior_std"]))
            ),
        ),
        Misconception(
            "s² factor missing",
            "your covariance matches (XᵀX + (s²/σ²)I)⁻¹, the ridge matrix inverted: the posterior "
            "covariance is s²(XᵀX + (s²/σ²)I)⁻¹, so multiply by the noise variance s².",
            lambda x, want, got: same(got, want / _s2(x)),
        ),
        Misconception(
            "ratio inverted",
            "your covariance matches s²(XᵀX + (σ²/s²)I)⁻¹: the ridge penalty is λ = s²/σ² (noise variance "
            "over prior variance), not σ²/s².",
            lambda x, want, got: same(got, _s2(x) * _inv(_gram(x) + _sd2(x) / _s2(x) * np.eye(_gram(x).shape[0]))),
        ),
        Misconception(
            "prior left out",
            "your covariance matches s²(XᵀX)⁻¹, the covariance of least squares: the prior adds its "
            "precision I/σ² to the data's XᵀX/s².",
            lambda x, want, got: same(got, _s2(x) * _inv(_gram(x))),
        ),
    ),
    hint="Add the precisions, XᵀX/s² from the data and I/σ² from the prior, then invert the sum "
    "(a solve against the identity). The answer is a d×d matrix that does not involve y.",
    compare=close(rtol=1e-8, atol=1e-12),
)


# --- ridge_with_intercept(X, y, lam) = (y_mean - X_mean @ theta, theta), theta from centred data ------




def _is_pair(got, b, theta) -> bool:
    return isinstance(got, (tuple, list)) and len(got) == 2 and same(got[0], b) and same(got[1], theta)


def _intercept_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(1, 6))
    n = int(rng.integers(d + 4, 41))
    offsets = rng.uniform(1.0, 6.0, size=d) * rng.choice([-1.0, 1.0], size=d)  # feature means well away from 0
    X = _design(rng, n, d) + offsets
    y = rng.uniform(-10.0, 10.0) + X @ rng.normal(0.0, 1.0, size=d) + 0.5 * rng.standard_normal(n)
    return {"X": X, "y": y, "lam": log_uniform(rng, 0.1, 30.0)}


def _means(x: dict):
    X, y = _arr(x, "X"), _arr(x, "y")
    return X, y, X.mean(axis=0), y.mean()


def _penalised_intercept(x: dict):
    X, y, _, _ = _means(x)
    w = _ridge(np.column_stack([np.ones(len(y)), X]), y, x["lam"])
    return w[0], w[1:]


def _centred_theta(x: dict) -> np.ndarray:
    X, y, X_mean, y_mean = _means(x)
    return _ridge(X - X_mean, y - y_mean, x["lam"])


def _only_y_centred(x: dict):
    X, y, _, y_mean = _means(x)
    return y_mean, _ridge(X, y - y_mean, x["lam"])


_rng_icpt = np.random.default_rng(20_204)
_X_icpt = _rng_icpt.standard_normal((30, 3)) + np.array([3.0, -2.0, 1.0])
_y_icpt = 4.0 + _X_icpt @ np.array([0.5, 1.0, -1.5]) + 0.2 * _rng_icpt.standard_normal(30)

RIDGE_WITH_INTERCEPT = Exercise(
    id="ch02-ridge-intercept",
    chapter=CHAPTER,
    function="ridge_with_intercept",
    params=("X", "y", "lam"),
    returns="pair (intercept: float, theta: array of shape (d,))",
    checks="b = ȳ − x̄ᵀθ and θ = (X_cᵀX_c + λI)⁻¹X_cᵀy_c for random X of 5 to 40 rows and 1 to 5 columns "
    "with feature means from ±1 to ±6, y with an intercept up to ±10, and λ from 0.1 to 30, plus "
    "centred features, λ = 0, one feature, a constant y and feature means in the hundreds.",
    random_case=_intercept_case,
    edge_cases=(
        Case({"X": _X_icpt - _X_icpt.mean(axis=0), "y": _y_icpt, "lam": 2.0}, "features already centred",
             "With x̄ = 0 the intercept is ȳ."),
        Case({"X": _X_icpt, "y": _y_icpt, "lam": 0.0}, "lam is zero",
             "With λ = 0 this is least squares with an intercept."),
        Case({"X": _X_icpt[:, :1], "y": _y_icpt, "lam": 1.0}, "one feature",
             "With one column, θ is an array of shape (1,) and the intercept a single number."),
        Case({"X": _X_icpt, "y": np.full(30, 5.0), "lam": 1.0}, "a constant y",
             "A constant y is all intercept: θ = 0 and b is that constant."),
        Case({"X": _X_icpt + np.array([200.0, -100.0, 50.0]), "y": _y_icpt, "lam": 3.0},
             "feature means in the hundreds",
             "Shifting the features shifts the intercept, b = ȳ − x̄ᵀθ, but leaves θ unchanged."),
    ),
    misconceptions=(
        Misconception(
            "penalised intercept",
            "your answer is ridge on [1, X] with the intercept penalised like every weight: a column of "
            "ones in X makes λ shrink b toward 0 too. Centre X and y instead, fit θ on the centred data, "
            "and set b = ȳ − x̄ᵀθ.",
            lambda x, want, got: _is_pair(got, *_penalised_intercept(x)),
        ),
        Misconception(
            "only y centred",
            "your answer centres y but not X (θ = (XᵀX + λI)⁻¹Xᵀ(y − ȳ), b = ȳ): when the features "
            "have non-zero means, X must be centred too, and then b = ȳ − x̄ᵀθ.",
            lambda x, want, got: _is_pair(got, *_only_y_centred(x)),
        ),
        Misconception(
            "intercept of the centred model",
            "your θ is right but your intercept is ȳ, the intercept for centred features: for the "
            "original features subtract x̄ᵀθ, b = ȳ − x̄ᵀθ.",
            lambda x, want, got: _is_pair(got, _means(x)[3], _centred_theta(x)),
        ),
        Misconception(
            "intercept sign error",
            "your θ is right but your intercept is ȳ + x̄ᵀθ: from ȳ = b + x̄ᵀθ, the intercept is "
            "b = ȳ − x̄ᵀθ.",
            lambda x, want, got: _is_pair(got, _means(x)[3] + _means(x)[2] @ _centred_theta(x), _centred_theta(x)),
        ),
        Misconception(
            "no intercept",
            "your answer is plain ridge on X with the intercept 0: the model y ≈ b + Xθ needs b; fit θ "
            "on centred data and set b = ȳ − x̄ᵀθ.",
            lambda x, want, got: _is_pair(got, 0.0, _ridge_with(x, x["lam"])),
        ),
    ),
    hint="Centre: X_c = X − x̄ (column means), y_c = y − ȳ; θ = (X_cᵀX_c + λI)⁻¹X_cᵀy_c; b = ȳ − x̄ᵀθ. "
    "Return the pair (b, θ).",
    compare=close_tuple("intercept", "theta", rtol=1e-8, atol=1e-10),
)

# --- ridge_alpha_answer() = s^2 / sigma^2 for s = 0.6, sigma = 1.5: a number worked out by hand -------------

_S_ANSWER, _SD_ANSWER = 0.6, 1.5  # the numbers of the exercise's statement in the chapter

RIDGE_ALPHA_ANSWER = Exercise(
    id="ch02-ridge-alpha-answer",
    chapter=CHAPTER,
    function="ridge_alpha_answer",
    params=(),
    returns="float",
    checks="the one number s²/σ² = 0.16 for s = 0.6 and σ = 1.5.",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the answer", "Multiply the negative log posterior by 2s² and read off the coefficient of ‖θ‖²."),),
    misconceptions=(
        Misconception(
            "swapped precision s²σ²",
            "your alpha is s²σ² = 0.81, as if σ² were the prior's precision. The prior's precision is 1/σ² and "
            "the noise's is 1/s²; ridge's alpha is their ratio, (1/σ²)/(1/s²) = s²/σ².",
            lambda x, want, got: same(got, _S_ANSWER**2 * _SD_ANSWER**2),
        ),
        Misconception(
            "ratio inverted",
            "your alpha is σ²/s² = 6.25, upside down: more noise must mean a stronger penalty, and a wider "
            "prior a weaker one, so alpha = s²/σ².",
            lambda x, want, got: same(got, _SD_ANSWER**2 / _S_ANSWER**2),
        ),
        Misconception(
            "standard deviations for variances",
            "your alpha is s/σ = 0.4, a ratio of standard deviations; the Gaussians' exponents divide by the "
            "variances, so alpha = s²/σ².",
            lambda x, want, got: same(got, _S_ANSWER / _SD_ANSWER),
        ),
        Misconception(
            "noise ignored",
            "your alpha is 1/σ² ≈ 0.444, chapter 1's λ for the negative log-likelihood itself; Ridge penalises "
            "the plain squared error, which is the negative log-likelihood times 2s², so alpha = s²/σ².",
            lambda x, want, got: same(got, 1 / _SD_ANSWER**2),
        ),
        Misconception(
            "half of the answer",
            "your alpha is s²/(2σ²) = 0.08: you multiplied ‖y − Xθ‖²/(2s²) + ‖θ‖²/(2σ²) by s², which leaves a ½ "
            "on the squared error; Ridge's squared error has none, so multiply by 2s².",
            lambda x, want, got: same(got, _S_ANSWER**2 / (2 * _SD_ANSWER**2)),
        ),
    ),
    hint="Write the negative log posterior ‖y − Xθ‖²/(2s²) + ‖θ‖²/(2σ²) and scale it so that the squared error "
    "has coefficient one, as in Ridge.",
    compare=close(rtol=1e-3, atol=0.0),
)

EXERCISES = (RIDGE_CLOSED_FORM, POSTERIOR_COVARIANCE, RIDGE_WITH_INTERCEPT, RIDGE_ALPHA_ANSWER)
