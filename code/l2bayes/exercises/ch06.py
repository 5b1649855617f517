r"""Checking specs for the exercises of chapter 6, *Adam and AdamW*.

The reference solutions are the cells tagged ``solution`` in
``chapters/06_adam_adamw.ipynb``; here are only the cases, tolerances, hints
and the misconceptions each exercise recognises. Notation as in the book:
:math:`\theta` is ``theta``, :math:`m, v` the moments before the step (zeros
at :math:`t = 1`), :math:`\eta` is ``lr``, :math:`\mathrm{wd}` is ``weight_decay``.
"""

from __future__ import annotations

import numpy as np

from l2bayes.exercises.spec import Case, Exercise, Misconception, close, close_tuple, log_uniform, same

CHAPTER = "06_adam_adamw"


def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


def _adam_case(rng: np.random.Generator) -> dict:
    """A step of Adam: the first (t = 1, zero moments) about a quarter of the time, else t from 2 to 30.

    The ranges keep every misconception clearly apart from the answer: η·wd
    and η²·wd are far above rounding, and 1 − β₂ᵗ is far from 1.
    """
    d = int(rng.integers(2, 8))
    first = rng.random() < 0.25
    m = np.zeros(d) if first else rng.normal(0.0, 0.5, size=d)
    v = np.zeros(d) if first else m**2 + rng.uniform(0.05, 1.0, size=d)
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "m": m,
        "v": v,
        "t": 1 if first else int(rng.integers(2, 31)),
        "lr": log_uniform(rng, 0.02, 0.2),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.95, 0.999)),
        "eps": log_uniform(rng, 1e-8, 1e-3),
        "weight_decay": log_uniform(rng, 0.05, 0.5),
    }


def _adam(x: dict, *, l2: float = 0.0, l2_in_v: bool = True, shrink: float = 0.0, shrink_after: bool = False,
          bias_correction: bool = True, return_hats: bool = False):
    """(theta, m, v) after one Adam step, with the L2 gradient l2·θ and the shrink factor (1 − shrink)."""
    theta, grad, t = _arr(x, "theta"), _arr(x, "grad"), x["t"]
    b1, b2 = x["beta1"], x["beta2"]
    g_m = grad + l2 * theta
    g_v = g_m if l2_in_v else grad
    m = b1 * _arr(x, "m") + (1 - b1) * g_m
    v = b2 * _arr(x, "v") + (1 - b2) * g_v**2
    m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if bias_correction else (m, v)
    step = x["lr"] * m_hat / (np.sqrt(v_hat) + x["eps"])
    theta = (1 - shrink) * (theta - step) if shrink_after else (1 - shrink) * theta - step
    return (theta, m_hat, v_hat) if return_hats else (theta, m, v)


def _adamw(x: dict, **kw):
    return _adam(x, shrink=x["lr"] * x["weight_decay"], **kw)


def _adam_l2(x: dict, **kw):
    return _adam(x, l2=x["weight_decay"], **kw)


_ADAM_PARAMS = ("theta", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay")
_ADAM_RANGES = (
    "for random θ, ∇L of 2 to 7 entries, t = 1 with zero moments about a quarter of the time and t from 2 to 30 "
    "otherwise, η from 0.02 to 0.2, β₁ from 0.8 to 0.95, β₂ from 0.95 to 0.999, ε from 1e-8 to 1e-3 and wd from "
    "0.05 to 0.5, plus wd = 0, t = 10000, a large ε and θ as a 2×3 matrix."
)


def _adam_edge_cases(first_hint: str) -> tuple[Case, ...]:
    base = {"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]),
            "lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}
    later = {"m": np.array([0.1, -0.2, 0.05]), "v": np.array([0.04, 0.09, 0.01])}
    return (
        Case({**base, "m": np.zeros(3), "v": np.zeros(3), "t": 1}, "first step (t = 1, zero moments)", first_hint),
        Case({**base, **later, "t": 5, "weight_decay": 0.0}, "weight_decay is zero",
             "With wd = 0 both AdamW and Adam + L2 are plain Adam."),
        Case({**base, **later, "t": 10_000}, "t = 10000 (bias correction near 1)"),
        Case({**base, **later, "t": 3, "eps": 0.5}, "a large eps", "ε is added to √v̂, after the square root."),
        Case({**base, "theta": np.arange(6.0).reshape(2, 3) / 3 - 1, "grad": np.full((2, 3), 0.5),
              "m": np.full((2, 3), 0.1), "v": np.full((2, 3), 0.2), "t": 4}, "theta is a 2x3 matrix"),
    )


# --- adamw_step: decoupled decay, (1 - lr wd) theta - lr m_hat / (sqrt(v_hat) + eps) -----------

ADAMW_STEP = Exercise(
    id="ch06-adamw-step",
    chapter=CHAPTER,
    function="adamw_step",
    params=_ADAM_PARAMS,
    returns="tuple (theta, m, v) of arrays of theta's shape",
    checks="(1 − η·wd)θ − η·m̂/(√v̂ + ε) with m, v built from ∇L alone (θ, m and v) " + _ADAM_RANGES,
    random_case=_adam_case,
    edge_cases=_adam_edge_cases("At t = 1, m̂ = g and v̂ = g², so the Adam part of the step is about η·sign(g)."),
    misconceptions=(
        Misconception(
            "L2 added to the gradient",
            "you added wd·θ to the gradient before the moments: that is Adam with L2 (torch.optim.Adam's "
            "weight_decay), not AdamW. AdamW's decay bypasses m and v: θ ← (1 − η·wd)θ, then the Adam step on ∇L.",
            lambda x, want, got: same(got, _adam_l2(x)),
        ),
        Misconception(
            "decay without the learning rate",
            "your θ shrinks by (1 − wd): torch's AdamW multiplies its decay by the learning rate, θ ← (1 − η·wd)θ "
            "(the paper's decay ω is η·wd when α = η).",
            lambda x, want, got: same(got, _adam(x, shrink=x["weight_decay"])),
        ),
        Misconception(
            "decay as 1 − η²·wd",
            "your θ shrinks by (1 − η²·wd): the learning rate multiplies the decay once. torch's AdamW shrinks by "
            "(1 − η·wd); multiplying by η again treats weight_decay as if it were already the paper's per-step "
            "decay η·wd.",
            lambda x, want, got: same(got, _adam(x, shrink=x["lr"] ** 2 * x["weight_decay"])),
        ),
        Misconception(
            "no bias correction",
            "your step uses m and v without the bias correction: divide by 1 − β₁ᵗ and 1 − β₂ᵗ, m̂ = m/(1 − β₁ᵗ), "
            "v̂ = v/(1 − β₂ᵗ), or the first steps are far too small.",
            lambda x, want, got: same(got, _adamw(x, bias_correction=False)),
        ),
        Misconception(
            "decay after the Adam step",
            "you shrank θ after the Adam step, (1 − η·wd)(θ − η·m̂/(√v̂ + ε)): torch shrinks the old θ first and "
            "then subtracts the Adam step, so the step itself is not decayed.",
            lambda x, want, got: same(got, _adamw(x, shrink_after=True)),
        ),
        Misconception(
            "bias-corrected moments returned",
            "your θ is right, but you returned m̂ and v̂: return the raw moments m and v, which the next step "
            "updates (the correction is recomputed from t each step).",
            lambda x, want, got: same(got, _adamw(x, return_hats=True)),
        ),
    ),
    hint="Shrink first, θ ← (1 − η·wd)θ; then m = β₁m + (1 − β₁)∇L, v = β₂v + (1 − β₂)∇L², "
    "m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), θ − η·m̂/(√v̂ + ε); return (θ, m, v).",
    compare=close_tuple("theta", "m", "v"),
)


# --- adam_l2_step: coupled L2, g = grad + wd theta into both moments --------------------------

ADAM_L2_STEP = Exercise(
    id="ch06-adam-l2-step",
    chapter=CHAPTER,
    function="adam_l2_step",
    params=_ADAM_PARAMS,
    returns="tuple (theta, m, v) of arrays of theta's shape",
    checks="g = ∇L + wd·θ into both moments, θ − η·m̂/(√v̂ + ε) (θ, m and v) " + _ADAM_RANGES,
    random_case=_adam_case,
    edge_cases=_adam_edge_cases("At t = 1 the moments start from zero: m = (1 − β₁)g, v = (1 − β₂)g², with g = ∇L + wd·θ."),
    misconceptions=(
        Misconception(
            "factor of two",
            "your gradient has 2·wd·θ: did you differentiate wd/2‖θ‖² as wd‖θ‖²? The ½ cancels the 2 of the "
            "square, so g = ∇L + wd·θ.",
            lambda x, want, got: same(got, _adam(x, l2=2 * x["weight_decay"])),
        ),
        Misconception(
            "decoupled instead of coupled",
            "you shrank θ by (1 − η·wd) outside the moments: that is AdamW. torch.optim.Adam's weight_decay is "
            "coupled L2: wd·θ joins the gradient before m and v, g = ∇L + wd·θ.",
            lambda x, want, got: same(got, _adamw(x)),
        ),
        Misconception(
            "decay in m only",
            "your v is built from ∇L without the decay: the L2 gradient g = ∇L + wd·θ goes into both moments, "
            "m from g and v from g².",
            lambda x, want, got: same(got, _adam_l2(x, l2_in_v=False)),
        ),
        Misconception(
            "no bias correction",
            "your step uses m and v without the bias correction: divide by 1 − β₁ᵗ and 1 − β₂ᵗ, m̂ = m/(1 − β₁ᵗ), "
            "v̂ = v/(1 − β₂ᵗ), or the first steps are far too small.",
            lambda x, want, got: same(got, _adam_l2(x, bias_correction=False)),
        ),
    ),
    hint="g = ∇L + wd·θ; m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g², m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), "
    "θ − η·m̂/(√v̂ + ε); return (θ, m, v).",
    compare=close_tuple("theta", "m", "v"),
)


# --- torch_weight_decay(omega, alpha) = omega / alpha ------------------------------------------


def _paper_case(rng: np.random.Generator) -> dict:
    return {"omega": log_uniform(rng, 1e-5, 0.1), "alpha": log_uniform(rng, 1e-4, 0.1)}


TORCH_WEIGHT_DECAY = Exercise(
    id="ch06-paper-to-torch",
    chapter=CHAPTER,
    function="torch_weight_decay",
    params=("omega", "alpha"),
    returns="float",
    checks="ω/α for random ω (the paper's decay) from 1e-5 to 0.1 and α from 1e-4 to 0.1, plus ω = 0, α = 1 and α = 0.5.",
    random_case=_paper_case,
    edge_cases=(
        Case({"omega": 0.0, "alpha": 0.01}, "omega is zero", "No decay in the paper is no decay in torch."),
        Case({"omega": 1e-3, "alpha": 1.0}, "alpha is one", "With α = 1 the two conventions coincide."),
        Case({"omega": 0.02, "alpha": 0.5}, "alpha is 0.5"),
    ),
    misconceptions=(
        Misconception(
            "multiplied by alpha",
            "your weight_decay is ω·α: torch shrinks by η_t·wd = s_t·α·wd and the paper by s_t·ω, so "
            "α·wd = ω and wd = ω/α; you multiplied where you should divide.",
            lambda x, want, got: same(got, x["omega"] * x["alpha"]),
        ),
        Misconception(
            "omega unchanged",
            "you passed the paper's ω through unchanged: torch multiplies its weight_decay by the learning rate "
            "α (times the schedule) and the paper does not, so torch's weight_decay is ω/α.",
            lambda x, want, got: same(got, x["omega"]),
        ),
        Misconception(
            "upside down",
            "your weight_decay is α/ω, the reciprocal of the answer: per step torch shrinks by s_t·α·wd, which "
            "must equal the paper's s_t·ω.",
            lambda x, want, got: same(got, x["alpha"] / x["omega"]),
        ),
    ),
    hint="Write both per-step shrinks: torch's s_t·α·wd and the paper's s_t·ω; set them equal and solve for wd.",
    compare=close(rtol=1e-9, atol=0.0),
)



# --- box_half_width_answer(): a numeric answer, no code to write ------------------------------
#
# Full-batch AdamW(lr=1e-3, weight_decay=1e-2) on least squares: the fixed point lies in the box
# |theta_j| <= 1/wd = 100, whatever the learning rate.

_BOX_QUESTION = {"lr": 1e-3, "weight_decay": 1e-2}

BOX_HALF_WIDTH = Exercise(
    id="ch06-box-half-width",
    chapter=CHAPTER,
    function="box_half_width_answer",
    params=(),
    returns="float: the half-width of the box",
    checks="1/wd = 100 for torch.optim.AdamW(lr=1e-3, weight_decay=1e-2) in full batch (to 1%).",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the numbers of the question"),),
    misconceptions=(
        Misconception(
            "learning rate in the box",
            "your half-width is 1/(η·wd): the learning rate multiplies both the decay η·wd·θ and the Adam step "
            "η·m̂/(√v̂ + ε), so it cancels at the fixed point, wd·θ_j = −g_j/(|g_j| + ε): the box is 1/wd.",
            lambda x, want, got: same(got, 1 / (_BOX_QUESTION["lr"] * _BOX_QUESTION["weight_decay"]), rtol=1e-2),
        ),
        Misconception(
            "a Gaussian's σ",
            "your half-width is 1/√wd, the standard deviation a Gaussian prior of precision wd would have: full-batch "
            "AdamW's fixed point is not ridge. The Adam step is at most η per coordinate, so the decay η·wd·|θ_j| "
            "can balance it only while |θ_j| ≤ 1/wd.",
            lambda x, want, got: same(got, _BOX_QUESTION["weight_decay"] ** -0.5, rtol=1e-2),
        ),
        Misconception(
            "the decay itself",
            "your answer is wd: the box is where the decay wd·|θ_j| reaches the largest normalised step, 1, so its "
            "half-width is 1/wd, not wd.",
            lambda x, want, got: same(got, _BOX_QUESTION["weight_decay"], rtol=1e-2),
        ),
        Misconception(
            "full width",
            "your answer is 2/wd, the box's full width from −1/wd to 1/wd: the question asks for the half-width.",
            lambda x, want, got: same(got, 2 / _BOX_QUESTION["weight_decay"], rtol=1e-2),
        ),
    ),
    hint="Set AdamW's full-batch step to zero with m̂ = g and √v̂ = |g|: wd·θ_j = −g_j/(|g_j| + ε). How large can "
    "the right side be?",
    compare=close(rtol=1e-2, atol=0.0),
)

EXERCISES = (ADAMW_STEP, ADAM_L2_STEP, TORCH_WEIGHT_DECAY, BOX_HALF_WIDTH)
