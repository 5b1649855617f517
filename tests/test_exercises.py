"""Tests of the checking machinery of l2bayes.exercises: check(), evaluate(), comparisons, feedback,
notebook reading, the command line.

What every exercise must do (its reference passes, its stub and its named mistakes fail) is tested
once for all of them in ``test_exercise_registry.py``; what only one chapter's exercises do, in
``test_exercise_specs.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import EXERCISES, Opaque, check, close, evaluate, get_exercise, reference, same
from l2bayes.exercises.__main__ import main as list_main
from l2bayes.exercises.judge import draw_cases
from l2bayes.exercises.notebooks import defined_function, load_reference, needed_imports, strip_magics
from l2bayes.exercises.spec import close_tuple, describe, show
from wrong_answers.ch01 import WRONG
from wrong_answers.ch04 import split

FIXTURE_CHAPTERS = Path(__file__).parent / "submissions" / "book" / "chapters"
REAL_CHAPTERS = Path(__file__).parents[1] / "chapters"


def test_check_prints_the_misconception_and_the_failing_case(capsys):
    result = check("ch01-penalty-grad", WRONG["ch01-penalty-grad"]["factor of two"][0], seed=7, chapters=FIXTURE_CHAPTERS)
    out = capsys.readouterr().out
    assert not result
    assert "did you differentiate λ/2‖θ − μ‖² as λ‖θ − μ‖²?" in out
    for part in ("inputs:", "theta = array(", "expected:", "got:", "seed=7"):
        assert part in out


def test_a_raising_function_gets_a_message_not_a_traceback(capsys):
    def broken(prior_std, noise_std, n, batch_size):
        return 1 / 0

    def exits(prior_std, noise_std, n, batch_size):
        raise SystemExit(3)

    assert not check("ch01-mse-weight-decay", broken, chapters=FIXTURE_CHAPTERS)
    assert "your function raised ZeroDivisionError: division by zero" in capsys.readouterr().out
    assert not check("ch01-mse-weight-decay", exits, chapters=FIXTURE_CHAPTERS)
    assert "sys.exit(3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, problem",
    [
        (lambda theta, lam, centre: "a string", "expected an array of shape"),
        (lambda theta, lam, centre: None, "got None"),
        (lambda theta, lam, centre: np.append(lam * (theta - centre), 0.0), "expected shape"),
        (lambda theta, lam, centre: lam * (theta - centre) * np.nan, "NaN"),
        (lambda theta, lam, centre: (lam * (theta - centre)).astype(object), "expected real numbers"),
    ],
)
def test_wrong_type_shape_and_nan_are_explained(answer, problem):
    result = evaluate("ch01-penalty-grad", answer, seed=0, chapters=FIXTURE_CHAPTERS)
    assert not result and result.n_passed == 0
    assert problem in result.message


def test_a_partly_wrong_answer_gets_partial_credit():
    def full_batch_only(prior_std, noise_std, n, batch_size):
        return 2 * noise_std**2 / (batch_size * prior_std**2)

    result = evaluate("ch01-mse-weight-decay", full_batch_only, seed=0, chapters=FIXTURE_CHAPTERS)
    assert 0 < result.fraction < 1  # the full-batch edge case passes
    assert [r.case.label for r in result.results if r.passed] == ["full batch", "one example"]


def test_the_seed_fixes_the_cases_and_a_fresh_check_draws_new_ones():
    ex = get_exercise("ch01-penalty-grad")
    a, b, c = draw_cases(ex, 5), draw_cases(ex, 5), draw_cases(ex, 6)
    assert all(np.array_equal(x.inputs["theta"], y.inputs["theta"]) for x, y in zip(a, b))
    assert not np.array_equal(a[0].inputs["theta"], c[0].inputs["theta"])
    seeds = {evaluate(ex.id, reference(ex.id, FIXTURE_CHAPTERS), chapters=FIXTURE_CHAPTERS).seed for _ in range(3)}
    assert len(seeds) == 3


def test_the_function_cannot_change_the_cases():
    def mutating(theta, lam, centre):
        theta *= 0
        return lam * (theta - centre)

    result = evaluate("ch01-penalty-grad", mutating, seed=0, chapters=FIXTURE_CHAPTERS)
    assert all(np.any(r.case.inputs["theta"] != 0) for r in result.results if r.case.label == "random")


def test_bad_arguments_raise_value_error_naming_them():
    with pytest.raises(ValueError, match=r"exercise_id 'ch99-nope'.*known ids: ch01-penalty-grad"):
        evaluate("ch99-nope", print)
    with pytest.raises(ValueError, match="fn must be"):
        evaluate("ch01-penalty-grad", 3)
    with pytest.raises(ValueError, match="seed"):
        evaluate("ch01-penalty-grad", print, seed=-1)
    with pytest.raises(ValueError, match="chapters"):
        evaluate("ch01-penalty-grad", print, chapters="/nonexistent/folder")
    with pytest.raises(ValueError, match="rtol"):
        close(rtol=-1)
    with pytest.raises(ValueError, match="function 'nope'"):
        load_reference("01_prior_to_penalty", "nope", FIXTURE_CHAPTERS)
    with pytest.raises(ValueError, match="chapter '99_missing'"):
        load_reference("99_missing", "f", FIXTURE_CHAPTERS)


def test_close_compares_numbers_arrays_and_tensors():
    torch = pytest.importorskip("torch")
    cmp = close(rtol=1e-9, atol=0.0, dtype=True)
    assert cmp(1.5, np.float64(1.5)) is None and cmp(1.5, np.array(1.5)) is None
    assert "single number" in cmp(1.5, np.array([1.5])) and "single number" in cmp(1.5, True)
    assert cmp(np.ones(3), [1.0, 1.0, 1.0]) is None
    assert "differ" in cmp(np.ones(3), np.array([1.0, 1.0, 1.1]))
    assert "index 2" in cmp(np.ones(3), np.array([1.0, 1.0, 1.1]))
    t = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert cmp(t, t.clone()) is None
    assert "torch tensor" in cmp(t, np.array([1.0, 2.0]))
    assert "dtype" in cmp(t, t.float())
    assert "shape" in cmp(t, torch.ones(3, dtype=torch.float64))
    assert "NaN" in cmp(t, t * float("nan"))
    assert "float32 rounding" in cmp(np.array([0.1, 0.7]), np.array([0.1, 0.7], dtype=np.float32))
    assert "float32" not in cmp(np.array([0.1, 0.7]), np.array([0.1, 0.8]))


def test_same_never_raises_and_describe_names_odd_values():
    assert same(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-9])
    assert not same("x", 1.0) and not same(None, 1.0) and not same(Opaque("Liar"), 1.0)
    assert not same(np.array([1.0, np.nan]), [1.0, np.nan])
    assert describe(Opaque("ndarray", "5000000 entries, too many")) == "a ndarray (5000000 entries, too many)"
    assert describe(None) == "None" and "shape (2,)" in describe(np.zeros(2))


def test_list_prints_every_id_chapter_and_signature(capsys):
    assert list_main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(EXERCISES)
    for line, ex in zip(out, EXERCISES.values()):
        assert line.startswith(ex.id) and ex.chapter in line and ex.signature in line


def test_solution_cells_need_only_the_imports_they_use():
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "source": "import numpy as np\nimport torch, math as m\n%matplotlib inline"},
        {"cell_type": "code", "metadata": {}, "source": "from scipy import optimize, integrate\nfrom os import *"},
        {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "def f(x):\n    return np.exp(x) + m.pi"},
    ]}
    assert needed_imports(nb, ["def f(x):\n    return np.exp(x) + m.pi"]) == ["import numpy as np", "import math as m"]
    assert strip_magics("%timeit f()\n  !ls\nx = 1") == "# %timeit f()\n  # !ls\nx = 1"
    assert defined_function("import numpy as np\n\ndef f(x):\n    return x") == "f"
    for bad in ("x = 1\ndef f(): pass", "def f(): pass\ndef g(): pass", "def f(:"):
        with pytest.raises(ValueError, match="solution cell"):
            defined_function(bad)


def test_tuple_answers_of_the_wrong_kind_are_explained():
    cmp = close_tuple("theta", "buf")
    want = (np.ones(2), np.zeros(2))
    assert cmp(want, [np.ones(2), np.zeros(2)]) is None
    assert "expected a tuple (theta, buf), got an array" in cmp(want, np.ones(2))
    assert "expected a tuple (theta, buf), got a tuple of length 3" in cmp(want, (1, 2, 3))
    assert cmp(want, (np.ones(2), np.array([0.0, 0.1]))).startswith("buf: values differ")
    only_theta = evaluate("ch04-sgd-momentum-step", lambda th, g, b, lr, mu, wd: th - lr * (mu * b + g + wd * th),
                          seed=0, chapters=REAL_CHAPTERS)
    assert only_theta.n_passed == 0 and "expected a tuple (theta, buf)" in only_theta.message


def test_show_writes_parameter_groups_and_named_parameters_by_shape():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    named = list(model.named_parameters())
    assert show(named) == "[('0.weight', tensor (4, 3)), ('0.bias', tensor (4,)), ('1.weight', tensor (2, 4)), ('1.bias', tensor (2,))]"
    weights, others = split(named)
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
