"""What particular chapters' exercise specs do, beyond what every exercise does.

The common checks (references pass on hidden and public cases, stubs and every named misconception
fail and are named) are in ``test_exercise_registry.py``; the wrong implementations, per chapter,
in ``wrong_answers/``. Here: answers of an unusual kind (tuples, parameter groups, letters), other
correct methods that must pass, and references checked against independent computations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from l2bayes.exercises import Opaque, evaluate, get_exercise, reference
from l2bayes.exercises.judge import draw_cases
from wrong_answers.ch03 import dof
from wrong_answers.ch04 import (
    groups_all,
    groups_listed_twice,
    groups_swapped,
    groups_typo,
    groups_weights_only,
    momentum_step,
)
from wrong_answers.ch06 import adamw
from wrong_answers.ch07 import sigmoid

CHAPTERS = Path(__file__).parents[1] / "chapters"


# --- chapters 2 and 3 ----------------------------------------------------------------------------


def test_the_intercept_pair_is_checked_part_by_part():
    ex_id = "ch02-ridge-intercept"
    right = reference(ex_id, CHAPTERS)
    as_list = evaluate(ex_id, lambda X, y, lam: list(right(X, y, lam)), seed=0, chapters=CHAPTERS)
    assert as_list  # a list [b, theta] is as good as a tuple
    swapped = evaluate(ex_id, lambda X, y, lam: right(X, y, lam)[::-1], seed=0, chapters=CHAPTERS)
    assert not swapped and "intercept: expected a single number" in swapped.message
    theta_only = evaluate(ex_id, lambda X, y, lam: right(X, y, lam)[1], seed=0, chapters=CHAPTERS)
    assert not theta_only and "expected a tuple (intercept, theta)" in theta_only.message
    bad_theta = evaluate(ex_id, lambda X, y, lam: (right(X, y, lam)[0], 1.01 * right(X, y, lam)[1]), seed=0,
                         chapters=CHAPTERS)
    assert not bad_theta and "theta: values differ" in bad_theta.message


def test_other_correct_methods_pass():
    """Sound alternatives to the references (other solvers, other formulas) are not rejected."""
    def ridge_lstsq(X, y, lam):  # least squares on the augmented system [X; sqrt(lam) I]
        d = X.shape[1]
        return np.linalg.lstsq(np.vstack([X, math.sqrt(lam) * np.eye(d)]), np.concatenate([y, np.zeros(d)]), rcond=None)[0]

    def intercept_block(X, y, lam):  # the normal equations with an unpenalised intercept, no centring
        A = np.column_stack([np.ones(len(y)), X])
        P = lam * np.eye(A.shape[1])
        P[0, 0] = 0.0
        w = np.linalg.solve(A.T @ A + P, A.T @ y)
        return w[0], w[1:]

    def evidence_slogdet(X, y, s, sd):
        C = s**2 * np.eye(len(y)) + sd**2 * X @ X.T
        return -0.5 * y @ np.linalg.solve(C, y) - 0.5 * np.linalg.slogdet(C)[1] - len(y) / 2 * math.log(2 * math.pi)

    def dof_trace(X, lam):  # the trace of the hat matrix, in data space
        return float(np.trace(X @ X.T @ np.linalg.inv(X @ X.T + lam * np.eye(len(X))))) if lam > 0 else dof(X, lam)

    for exercise_id, fn in [
        ("ch02-ridge-closed-form", ridge_lstsq),
        ("ch02-posterior-covariance", lambda X, s, sd: s**2 * np.linalg.inv(X.T @ X + s**2 / sd**2 * np.eye(X.shape[1]))),
        ("ch02-ridge-intercept", intercept_block),
        ("ch03-log-evidence", evidence_slogdet),
        ("ch03-ridge-lam-from-stds", lambda s, sd: (s / sd) ** 2),
        ("ch03-effective-dof", dof_trace),
    ]:
        result = evaluate(exercise_id, fn, seed=0, chapters=CHAPTERS)
        assert result, result.message


def test_the_choice_exercise_names_what_it_expects():
    ex_id = "ch03-evidence-statement"
    for answer, text in [(2, "expected one letter as a str"), ("e", "is not one of the statements"), (None, "got None")]:
        result = evaluate(ex_id, lambda: answer, seed=0, chapters=CHAPTERS)
        assert not result and text in result.message, result.message
    assert evaluate(ex_id, lambda: "B", seed=0, chapters=CHAPTERS)


# --- chapters 4 to 6 -----------------------------------------------------------------------------


def test_the_groups_checker_explains_what_is_wrong():
    ex = get_exercise("ch04-decay-groups")
    model = torch.nn.Linear(3, 2).double()
    named = list(model.named_parameters())
    ref = reference(ex.id, CHAPTERS)(named, 0.1)
    assert ex.compare(ref, ref) is None
    assert ex.compare(ref, [{"params": [model.weight], "weight_decay": 0.1}, {"params": model.bias}]) is None  # SGD's default 0
    copies = [{"params": [model.weight.detach().clone()], "weight_decay": 0.1}, {"params": [model.bias.detach().clone()]}]
    assert "not the model's own parameter" in ex.compare(ref, copies)  # SGD would train the detached copies
    assert "list of parameter groups" in ex.compare(ref, {"params": [model.weight]})
    assert "no 'params' key" in ex.compare(ref, [{"weight_decay": 0.1}])
    assert "'weight_dacay'" in ex.compare(ref, groups_typo(named, 0.1))
    assert "in no group" in ex.compare(ref, groups_weights_only(named, 0.1))
    assert "listed 2 times" in ex.compare(ref, groups_listed_twice(named, 0.1))
    assert "shape (2,) has weight_decay 0.1, expected 0" in ex.compare(ref, groups_all(named, 0.1))
    assert "not a parameter of the model" in ex.compare(ref, [{"params": [Opaque("Parameter")]}])
    assert "not their names" in ex.compare(ref, [{"params": [n for n, _ in named], "weight_decay": 0.1}])
    assert "not (name, tensor) pairs" in ex.compare(ref, [{"params": named, "weight_decay": 0.1}])
    other = torch.nn.Linear(3, 2).double()
    assert "not a parameter of the model" in ex.compare(ref, ref + [{"params": [other.weight], "weight_decay": 0.0}])


def test_the_group_cases_are_named_parameters_that_cross_the_wire():
    from l2bayes.grading import worker as wire

    ex = get_exercise("ch04-decay-groups")
    assert ex.params == ("named_parameters", "weight_decay")
    for case in draw_cases(ex, seed=0):
        named = case.inputs["named_parameters"]
        assert isinstance(named, list) and named and all(isinstance(n, str) and isinstance(p, torch.nn.Parameter)
                                                         for n, p in named)
        values = [p.detach().numpy().tobytes() for _, p in named]
        assert len(set(values)) == len(values), "every parameter must be recognisable by its values"
        back = wire.decode(json.loads(json.dumps(wire.encode(named))))
        assert [n for n, _ in back] == [n for n, _ in named]
        for (_, p), (_, q) in zip(named, back):
            assert type(q) is torch.nn.Parameter and q.requires_grad and q.dtype == p.dtype and torch.equal(q, p)


def test_a_group_failure_shows_shapes_per_group():
    result = evaluate("ch04-decay-groups", groups_swapped, seed=0, chapters=CHAPTERS)
    lines = {line.split(":", 1)[0].strip(): line for line in result.message.splitlines()}
    assert "Parameter containing" not in result.message and "tensor([" not in result.message
    assert "named_parameters = [('0.weight', tensor (" in lines["inputs"]
    assert lines["expected"].startswith("  expected: [{'params': [tensor (") and "'weight_decay': 0.0}]" in lines["expected"]
    assert "'weight_decay': 0.0}, {'params': [tensor (" in lines["got"]


def test_conceptual_answers_accept_rounding_and_explain_odd_values():
    assert evaluate("ch04-momentum-decay", lambda: 5e-4, seed=0, chapters=CHAPTERS)
    assert evaluate("ch04-momentum-decay", lambda: 5.04e-4, seed=0, chapters=CHAPTERS)  # 1% allowed
    assert not evaluate("ch04-momentum-decay", lambda: 6e-4, seed=0, chapters=CHAPTERS)
    assert evaluate("ch05-maximize-objective", lambda: " b", seed=0, chapters=CHAPTERS)
    wrong_type = evaluate("ch05-maximize-objective", lambda: 2, seed=0, chapters=CHAPTERS)
    assert not wrong_type and "expected one of the letters A, B, C, D (a str), got the int 2" in wrong_type.message
    assert "you chose E" not in evaluate("ch05-maximize-objective", lambda: "E", seed=0, chapters=CHAPTERS).message


def test_the_choice_exercise_lists_the_statements_the_spec_names():
    from l2bayes.exercises.ch05 import MAXIMIZE_STATEMENTS

    nb = json.loads((CHAPTERS / "05_weight_decay_from_scratch.ipynb").read_text(encoding="utf-8"))
    text = next("".join(c["source"]) for c in nb["cells"] if ":label: ex-maximize-objective" in "".join(c["source"]))
    for letter, statement in MAXIMIZE_STATEMENTS.items():
        assert f"**{letter}.** {statement}" in text


def test_a_tuple_failure_shows_the_entry_that_differs():
    # d = 7 entries per array: the tuple's repr is cut long before its third entry
    def wrong_v(*a):
        theta, m, v = adamw(*a)
        return theta, m, v + 0.5

    result = evaluate("ch06-adamw-step", wrong_v, seed=0, chapters=CHAPTERS)
    lines = result.message.splitlines()
    at = lines.index("  entry 2 of the tuple differs:")
    assert lines[at + 1].startswith("    expected[2]: array(") and lines[at + 2].startswith("    got[2]:      array(")
    assert "problem:  v: values differ" in result.message
    only_theta = evaluate("ch04-sgd-momentum-step", lambda th, g, b, lr, mu, wd: momentum_step(th, g, b, lr, mu, 2 * wd),
                          seed=0, chapters=CHAPTERS)
    assert "entry 0 of the tuple differs:" in only_theta.message  # theta and buf both wrong: the first is shown
    assert "entry" not in evaluate("ch04-sgd-decay-step", lambda th, g, lr, wd: th, seed=0, chapters=CHAPTERS).message


def test_a_function_that_always_raises_is_shown_with_inputs_and_hint():
    def raises(theta, grad, lr, weight_decay):
        raise ValueError("shapes do not match")

    ex = get_exercise("ch04-sgd-decay-step")
    result = evaluate(ex.id, raises, seed=0, chapters=CHAPTERS)
    lines = result.message.splitlines()
    assert lines[0].endswith("failed all 17 cases: your function raised ValueError: shapes do not match")
    assert lines[1].startswith("  inputs of case 1: theta = array(") and "weight_decay = " in lines[1]
    assert lines[2] == f"  Hint: {ex.hint}"
    no_inputs = evaluate("ch06-box-half-width", lambda: 1 / 0, seed=0, chapters=CHAPTERS)
    assert "inputs of case 1: (none)" in no_inputs.message and "Hint: " in no_inputs.message


@pytest.mark.parametrize("exercise_id, cls", [("ch06-adamw-step", "AdamW"), ("ch06-adam-l2-step", "Adam")])
def test_the_adam_references_are_torchs_step(exercise_id, cls):
    # The specs compare answers with the reference, so the reference itself is checked here against torch
    # (one step from the case's moments and step count), independently of the chapter's own check cells.
    ex, ref = get_exercise(exercise_id), reference(exercise_id, CHAPTERS)
    for case in draw_cases(ex, seed=0):
        x = case.inputs
        theta = torch.tensor(np.asarray(x["theta"], dtype=float), requires_grad=True)
        opt = getattr(torch.optim, cls)([theta], lr=x["lr"], betas=(x["beta1"], x["beta2"]), eps=x["eps"],
                                         weight_decay=x["weight_decay"], foreach=False)
        opt.state[theta] = {"step": torch.tensor(float(x["t"] - 1)),
                            "exp_avg": torch.tensor(np.asarray(x["m"], dtype=float)),
                            "exp_avg_sq": torch.tensor(np.asarray(x["v"], dtype=float))}
        theta.grad = torch.tensor(np.asarray(x["grad"], dtype=float))
        opt.step()
        want = (theta.detach().numpy(), opt.state[theta]["exp_avg"].numpy(), opt.state[theta]["exp_avg_sq"].numpy())
        for got, expected in zip(ref(*[x[p] for p in ex.params]), want, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{exercise_id}, {case.label}")


# --- chapter 7 -----------------------------------------------------------------------------------


def test_the_conceptual_misconception_is_the_plug_in_prediction():
    # The plug-in is right only when there is no uncertainty: the case with v = 0 passes, every other fails.
    result = evaluate("ch07-probit", lambda mu, v: sigmoid(mu), seed=0, chapters=CHAPTERS)
    labels = {c.case.label: c.passed for c in result.results}
    assert labels["logit_var is zero"] and labels["logit_mean is zero"] and not labels["huge variance"]


# --- chapter 8 -----------------------------------------------------------------------------------


def test_references_agree_with_independent_computations():
    # The closed forms the references implement, against simulation-free independent routes.
    from scipy.linalg import solve_discrete_lyapunov

    variance = reference("ch08-sgld-stationary-variance", CHAPTERS)
    for a, lr, T in [(2.0, 0.3, 0.5), (0.7, 1.9, 0.01)]:
        lyap = solve_discrete_lyapunov(np.array([[1 - lr * a]]), np.array([[2 * lr * T]]))[0, 0]
        assert math.isclose(variance(a, lr, T), lyap, rel_tol=1e-12)
    ess = reference("ch08-ar1-ess", CHAPTERS)
    for rho in (0.9, -0.4):
        tau = 1 + 2 * sum(rho**k for k in range(1, 2000))  # the integrated autocorrelation time, summed
        assert math.isclose(ess(1000, rho), 1000 / tau, rel_tol=1e-9)
    cold = reference("ch08-cold-posterior", CHAPTERS)
    S = np.array([[2.0, 0.3], [0.3, 0.5]])
    m, S_cold = cold(np.array([1.0, -1.0]), S, 0.25)
    # log density of N(m, S)^(1/tau) minus that of N(m, tau S) is constant in theta
    thetas = np.random.default_rng(0).standard_normal((5, 2))
    diff = [-0.5 * (t - m) @ np.linalg.solve(S, t - m) / 0.25 + 0.5 * (t - m) @ np.linalg.solve(S_cold, t - m) for t in thetas]
    np.testing.assert_allclose(diff, 0.0, atol=1e-12)
