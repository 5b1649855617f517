"""Tests of the exercise specs of chapters 4 to 6: references pass, stubs and named mistakes fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from l2bayes.exercises import Opaque, check, evaluate, exercise_ids, get_exercise, reference  # noqa: E402
from l2bayes.exercises.spec import close_tuple  # noqa: E402

CHAPTERS = Path(__file__).parents[1] / "chapters"
IDS = [i for c in ("04_weight_decay_sgd", "05_weight_decay_from_scratch", "06_adam_adamw") for i in exercise_ids(c)]


# --- wrong implementations, one or more per named misconception --------------------------------


def _momentum(theta, grad, buf, lr, mu, wd, *, in_buf=True, decay=True, average=False):
    g = grad + (wd * theta if decay and in_buf else 0)
    new = mu * buf + ((1 - mu) if average else 1) * g
    return theta - lr * new - (lr * wd * theta if decay and not in_buf else 0), new


def _dampened(theta, grad, buf, lr, mu, tau, wd, *, first=1.0, scale=None, in_g=True):
    g = grad + (wd * theta if in_g else 0)
    new = first * g if buf is None else mu * buf + ((1 - tau) if scale is None else scale) * g
    return theta - lr * new - (0 if in_g else lr * wd * theta), new


def _nesterov(theta, grad, buf, lr, mu, wd, *, look=True, old=False, in_g=True, decay_after=False, mu_in_look=True):
    g = grad + (wd * theta if in_g else 0)
    new = g.copy() if buf is None else mu * buf + g
    if not look:
        step = new
    elif old:
        step = g + mu * buf
    else:
        step = g + (mu if mu_in_look else 1) * new
    return theta - lr * (step + (wd * theta if decay_after else 0)), new


def _adam(theta, grad, m, v, t, lr, b1, b2, eps, wd, *, l2=0.0, l2_in_v=True, shrink=None, after=False,
          correct=True, hats=False):
    g = grad + l2 * theta
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g if l2_in_v else grad) ** 2
    mh, vh = (m / (1 - b1**t), v / (1 - b2**t)) if correct else (m, v)
    step = lr * mh / (np.sqrt(vh) + eps)
    s = 0.0 if shrink is None else shrink
    theta = (1 - s) * (theta - step) if after else (1 - s) * theta - step
    return (theta, mh, vh) if hats else (theta, m, v)


def adamw(*a, **kw):
    return _adam(*a, shrink=a[5] * a[9], **kw)


def adam_l2(*a, **kw):
    return _adam(*a, l2=a[9], **kw)


# The group exercises take named_parameters, a list of (name, parameter) pairs.


def _split(named):
    weights = [p for n, p in named if n.endswith("weight")]
    others = [p for n, p in named if not n.endswith("weight")]
    return weights, others


def groups_all(named, wd):
    return [{"params": [p for _, p in named], "weight_decay": wd}]


def groups_all_generator(named, wd):
    return [{"params": (p for _, p in named), "weight_decay": wd}]  # torch accepts a generator


def groups_typo(named, wd):
    weights, others = _split(named)
    return [{"params": weights, "weight_dacay": wd}, {"params": others, "weight_decay": 0.0}]


def groups_swapped(named, wd):
    weights, others = _split(named)
    return [{"params": weights, "weight_decay": 0.0}, {"params": others, "weight_decay": wd}]


def groups_weights_only(named, wd):
    return [{"params": _split(named)[0], "weight_decay": wd}]


def groups_listed_twice(named, wd):
    weights, _ = _split(named)
    return [{"params": weights, "weight_decay": wd}, {"params": [p for _, p in named], "weight_decay": 0.0}]


def groups_by_shape(named, wd):
    ps = [p for _, p in named]
    return [{"params": [p for p in ps if p.ndim > 1], "weight_decay": wd},
            {"params": [p for p in ps if p.ndim <= 1], "weight_decay": 0.0}]


WRONG = {
    "ch04-sgd-decay-step": {
        "factor of two": [lambda th, g, lr, wd: th - lr * (g + 2 * wd * th)],
        "decay without the learning rate": [lambda th, g, lr, wd: (1 - wd) * th - lr * g],
        "sign flipped": [lambda th, g, lr, wd: (1 + lr * wd) * th - lr * g],
        "decay left out": [lambda th, g, lr, wd: th - lr * g],
    },
    "ch04-sgd-momentum-step": {
        "decay outside the buffer": [
            lambda th, g, b, lr, mu, wd: _momentum(th, g, b, lr, mu, wd, in_buf=False),
            lambda th, g, b, lr, mu, wd: ((1 - lr * wd) * th - lr * (mu * b + g), mu * b + g),  # shrink form
        ],
        "stepping with the old buffer": [lambda th, g, b, lr, mu, wd: (th - lr * b, mu * b + g + wd * th)],
        "buffer as an average": [lambda th, g, b, lr, mu, wd: _momentum(th, g, b, lr, mu, wd, average=True)],
        "decay left out": [lambda th, g, b, lr, mu, wd: _momentum(th, g, b, lr, mu, wd, decay=False)],
        "old buffer returned": [lambda th, g, b, lr, mu, wd: (_momentum(th, g, b, lr, mu, wd)[0], b)],
    },
    "ch04-decay-groups": {
        "misspelled key": [groups_typo],
        "biases decayed too": [groups_all, groups_all_generator],
        "decay swapped": [groups_swapped],
        "parameter missing or listed twice": [groups_weights_only, groups_listed_twice],
        "decided by shape": [groups_by_shape],
    },
    "ch05-dampened-step": {
        "dampening at the first step": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, first=1 - tau)],
        "decay added after the buffer": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, in_g=False)],
        "dampening ignored": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, scale=1.0)],
        "τ for 1 − τ": [lambda th, g, b, lr, mu, tau, wd: _dampened(th, g, b, lr, mu, tau, wd, scale=tau)],
    },
    "ch05-nesterov-step": {
        "heavy-ball step": [
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, look=False),
            # the old buffer in the look-ahead gives the same numbers; it raises on buf=None (not a returned value)
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, old=True),
        ],
        "decay left out of g": [
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, in_g=False),
            lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, in_g=False, decay_after=True),
        ],
        "μ missing in the look-ahead": [lambda th, g, b, lr, mu, wd: _nesterov(th, g, b, lr, mu, wd, mu_in_look=False)],
    },
    "ch05-maximize-step": {
        "decay negated too": [lambda th, g, lr, wd: th + lr * (g + wd * th)],
        "maximize ignored": [lambda th, g, lr, wd: th - lr * (g + wd * th)],
        "decay without the learning rate": [lambda th, g, lr, wd: (1 - wd) * th + lr * g],
    },
    "ch06-adamw-step": {
        "L2 added to the gradient": [adam_l2],
        "decay without the learning rate": [lambda *a: _adam(*a, shrink=a[9])],
        "no bias correction": [lambda *a: adamw(*a, correct=False)],
        "decay after the Adam step": [lambda *a: adamw(*a, after=True)],
        "bias-corrected moments returned": [lambda *a: adamw(*a, hats=True)],
        "decay as 1 − η²·wd": [lambda *a: _adam(*a, shrink=a[5] ** 2 * a[9])],
    },
    "ch06-adam-l2-step": {
        "factor of two": [lambda *a: _adam(*a, l2=2 * a[9])],
        "decoupled instead of coupled": [adamw],
        "decay in m only": [lambda *a: adam_l2(*a, l2_in_v=False)],
        "no bias correction": [lambda *a: adam_l2(*a, correct=False)],
    },
    "ch06-paper-to-torch": {
        "multiplied by alpha": [lambda lam, alpha: lam * alpha],
        "omega unchanged": [lambda omega, alpha: omega],
        "upside down": [lambda lam, alpha: alpha / lam],
    },
}

# The conceptual exercises take no arguments: the answer is a number or a letter.
WRONG |= {
    "ch04-momentum-decay": {
        "momentum ignored": [lambda: 0.1 * 5e-4],
        "μ for 1 − μ": [lambda: 0.1 * 5e-4 / 0.9],
        "buffer as an average": [lambda: 0.1 * 5e-4 * 0.1],
        "decay without the learning rate": [lambda: 5e-4 / 0.1, lambda: 5e-3],
    },
    "ch05-maximize-objective": {
        "decay negated too": [lambda: "A"],
        "prior counted twice": [lambda: "C", lambda: " c "],
        "maximize ignored": [lambda: "D"],
    },
    "ch06-box-half-width": {
        "learning rate in the box": [lambda: 1 / (1e-3 * 1e-2)],
        "a Gaussian's σ": [lambda: 10.0],
        "the decay itself": [lambda: 0.01],
        "full width": [lambda: 200.0],
    },
}

CASES = [(i, name, k, fn) for i, table in WRONG.items() for name, fns in table.items() for k, fn in enumerate(fns)]


def test_every_exercise_has_two_misconceptions_and_a_wrong_implementation_for_each():
    assert set(WRONG) == set(IDS) and len(IDS) == 12
    for i in IDS:
        names = [m.name for m in get_exercise(i).misconceptions]
        assert len(names) >= 2 and len(set(names)) == len(names)
        assert set(names) == set(WRONG[i]), f"{i}: every misconception needs a wrong implementation here"


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_passes_and_matches_the_spec(exercise_id):
    ref = reference(exercise_id, CHAPTERS)
    for seed in (0, 1, 2):
        result = evaluate(exercise_id, ref, seed=seed, chapters=CHAPTERS)
        assert result and result.fraction == 1.0, result.message
        assert "passed all" in result.message


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_stub_fails_with_not_implemented(exercise_id, capsys):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = check(exercise_id, stub, seed=0, chapters=CHAPTERS)
    assert not result and result.n_passed == 0
    assert "is not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id, name, k, fn", CASES, ids=[f"{i}:{n}:{k}" for i, n, k, _ in CASES])
def test_each_misconception_fails_and_is_named(exercise_id, name, k, fn):
    ex = get_exercise(exercise_id)
    message = next(m.message for m in ex.misconceptions if m.name == name)
    for seed in (0, 1, 2):
        result = evaluate(exercise_id, fn, seed=seed, chapters=CHAPTERS)
        assert not result
        assert result.misconception is not None and result.misconception.name == name, result.message
        assert f"Misconception ({name}): {message}" in result.message


def test_tuple_answers_of_the_wrong_kind_are_explained():
    cmp = close_tuple("theta", "buf")
    want = (np.ones(2), np.zeros(2))
    assert cmp(want, [np.ones(2), np.zeros(2)]) is None
    assert "expected a tuple (theta, buf), got an array" in cmp(want, np.ones(2))
    assert "expected a tuple (theta, buf), got a tuple of length 3" in cmp(want, (1, 2, 3))
    assert cmp(want, (np.ones(2), np.array([0.0, 0.1]))).startswith("buf: values differ")
    only_theta = evaluate("ch04-sgd-momentum-step", lambda th, g, b, lr, mu, wd: th - lr * (mu * b + g + wd * th),
                          seed=0, chapters=CHAPTERS)
    assert only_theta.n_passed == 0 and "expected a tuple (theta, buf)" in only_theta.message


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
    from l2bayes.exercises.judge import draw_cases
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


def test_show_writes_parameter_groups_and_named_parameters_by_shape():
    from l2bayes.exercises.spec import show

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    named = list(model.named_parameters())
    assert show(named) == "[('0.weight', tensor (4, 3)), ('0.bias', tensor (4,)), ('1.weight', tensor (2, 4)), ('1.bias', tensor (2,))]"
    weights, others = _split(named)
    assert show([{"params": weights, "weight_decay": 0.1}, {"params": others, "weight_dacay": 0.0}]) == (
        "[{'params': [tensor (4, 3), tensor (2, 4)], 'weight_decay': 0.1}, {'params': [tensor (4,), tensor (2,)], 'weight_dacay': 0.0}]"
    )
    assert show([{"params": model.parameters()}, {"params": model[0].bias}]) == "[{'params': <a generator>}, {'params': tensor (4,)}]"
    assert show([{"params": ["0.weight", named[1]]}]) == "[{'params': ['0.weight', ('0.bias', tensor (4,))]}]"
    many = show([{"params": [p for _ in range(5) for _, p in named]}])
    assert many.endswith("tensor (2,), ... (8 more)]}]")
    assert show((np.ones(2), np.zeros(2))).startswith("(array(")  # other lists are written as before


def test_importing_the_specs_does_not_import_torch():
    code = "import sys, l2bayes.exercises as e; assert len(e.exercise_ids()) >= 12; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


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
    only_theta = evaluate("ch04-sgd-momentum-step", lambda th, g, b, lr, mu, wd: _momentum(th, g, b, lr, mu, 2 * wd),
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
    from l2bayes.exercises.judge import draw_cases

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
