"""Tests of l2bayes.exercises: specs, check(), misconception detectors, notebook reading."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

from l2bayes.exercises import (
    EXERCISES,
    Opaque,
    check,
    close,
    evaluate,
    exercise_ids,
    get_exercise,
    reference,
    same,
)
from l2bayes.exercises.__main__ import main as list_main
from l2bayes.exercises.judge import draw_cases
from l2bayes.exercises.notebooks import defined_function, load_reference, needed_imports, strip_magics
from l2bayes.exercises.spec import describe

FIXTURE_CHAPTERS = Path(__file__).parent / "submissions" / "book" / "chapters"
REAL_CHAPTERS = Path(__file__).parents[1] / "chapters"


def _q(theta):
    theta = np.asarray(theta, float)
    return theta @ theta, theta.size


# One wrong implementation per named misconception: each must fail and be named.
WRONG = {
    "ch01-penalty-grad": {
        "factor of two": lambda theta, lam, centre: 2 * lam * (theta - centre),
        "half kept": lambda theta, lam, centre: lam / 2 * (theta - centre),
        "centre ignored": lambda theta, lam, centre: lam * theta,
        "sign flipped": lambda theta, lam, centre: lam * (centre - theta),
        "penalty, not its gradient": lambda theta, lam, centre: 0.5 * lam * np.sum((theta - centre) ** 2),
    },
    "ch01-neg-log-prior": {
        "normalising constant dropped": lambda theta, s: _q(theta)[0] / (2 * s**2),
        "σ in place of σ²": lambda theta, s: _q(theta)[0] / (2 * s) + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2),
        "log(2πσ) for log(2πσ²)": lambda theta, s: _q(theta)[0] / (2 * s**2) + _q(theta)[1] / 2 * np.log(2 * np.pi * s),
        "σ everywhere": lambda theta, s: _q(theta)[0] / (2 * s) + _q(theta)[1] / 2 * np.log(2 * np.pi * s),
        "constant for one entry": lambda theta, s: _q(theta)[0] / (2 * s**2) + 0.5 * np.log(2 * np.pi * s**2),
        "log prior, not its negative": lambda theta, s: -(_q(theta)[0] / (2 * s**2) + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2)),
        "½ missing in the exponent": lambda theta, s: _q(theta)[0] / s**2 + _q(theta)[1] / 2 * np.log(2 * np.pi * s**2),
    },
    "ch01-mse-weight-decay": {
        "batch size for n": lambda sd, s, n, b: 2 * s**2 / (b * sd**2),
        "σ in place of σ²": lambda sd, s, n, b: 2 * s / (n * sd),
        "factor 2 missing": lambda sd, s, n, b: s**2 / (n * sd**2),
        "noise variance missing": lambda sd, s, n, b: 2 / (n * sd**2),
        "cross-entropy formula": lambda sd, s, n, b: 1 / (n * sd**2),
        "n missing": lambda sd, s, n, b: 2 * s**2 / sd**2,
        "upside down": lambda sd, s, n, b: n * sd**2 / (2 * s**2),
    },
    "ch01-prior-from-weight-decay": {
        "wd = 1/σ² (n forgotten)": lambda: 5e-4**-0.5,
        "variance for standard deviation": lambda: 1 / (50_000 * 5e-4),
        "precision for standard deviation": lambda: 50_000 * 5e-4,
        "MSELoss's factor 2": lambda: (2 / (50_000 * 5e-4)) ** 0.5,
        "penalty without the half": lambda: (2 * 50_000 * 5e-4) ** -0.5,
    },
}

CASES = [(i, name, fn) for i, table in WRONG.items() for name, fn in table.items()]
#: The exercises of the fixture book (chapter 1); later chapters have their own test files.
CH01 = exercise_ids("01_prior_to_penalty")


def test_every_exercise_has_at_least_two_distinct_misconceptions():
    assert len(EXERCISES) >= len(CH01) > 0
    for ex in EXERCISES.values():
        names = [m.name for m in ex.misconceptions]
        assert len(names) >= 2 and len(set(names)) == len(names), ex.id


def test_every_chapter_1_misconception_has_a_wrong_implementation_here():
    assert set(WRONG) == set(CH01)
    for exercise_id in CH01:
        names = {m.name for m in EXERCISES[exercise_id].misconceptions}
        assert names == set(WRONG[exercise_id]), f"{exercise_id}: every misconception needs a wrong implementation here"


@pytest.mark.parametrize("exercise_id", CH01)
def test_reference_passes_its_own_check(exercise_id):
    for seed in (0, 1, 2):
        result = evaluate(exercise_id, reference(exercise_id, FIXTURE_CHAPTERS), seed=seed, chapters=FIXTURE_CHAPTERS)
        assert result and result.passed and result.fraction == 1.0
        assert "passed all" in result.message and "Checked:" in result.message


@pytest.mark.parametrize("exercise_id, name, fn", CASES, ids=[f"{i}:{n}" for i, n, _ in CASES])
def test_each_misconception_fails_and_is_named(exercise_id, name, fn):
    ex = get_exercise(exercise_id)
    message = next(m.message for m in ex.misconceptions if m.name == name)
    for seed in (0, 1, 2, 3):
        result = evaluate(exercise_id, fn, seed=seed, chapters=FIXTURE_CHAPTERS)
        assert not result
        assert result.misconception is not None and result.misconception.name == name
        assert f"Misconception ({name}): {message}" in result.message


def test_check_prints_the_misconception_and_the_failing_case(capsys):
    result = check("ch01-penalty-grad", WRONG["ch01-penalty-grad"]["factor of two"], seed=7, chapters=FIXTURE_CHAPTERS)
    out = capsys.readouterr().out
    assert not result
    assert "did you differentiate λ/2‖θ − μ‖² as λ‖θ − μ‖²?" in out
    for part in ("inputs:", "theta = array(", "expected:", "got:", "seed=7"):
        assert part in out


@pytest.mark.parametrize("exercise_id", CH01)
def test_stub_fails_with_not_implemented(exercise_id, capsys):
    def stub(*args):
        raise NotImplementedError("write your solution here")

    result = check(exercise_id, stub, chapters=FIXTURE_CHAPTERS)
    assert not result and result.n_passed == 0
    assert "not implemented yet" in capsys.readouterr().out


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


def test_signatures_in_the_specs_match_the_references():
    for chapters, ids in ((FIXTURE_CHAPTERS, CH01), (REAL_CHAPTERS, tuple(EXERCISES))):
        for exercise_id in ids:
            ex = EXERCISES[exercise_id]
            assert tuple(inspect.signature(reference(ex.id, chapters)).parameters) == ex.params, ex.id


@pytest.mark.parametrize("exercise_id", list(EXERCISES))
def test_the_real_chapter_references_pass(exercise_id):
    assert evaluate(exercise_id, reference(exercise_id, REAL_CHAPTERS), seed=0, chapters=REAL_CHAPTERS)


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
