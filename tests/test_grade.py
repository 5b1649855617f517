"""Tests of the batch grader (l2bayes.grade) and its sandbox (l2bayes.grading).

The submissions in tests/submissions/ are the student notebook of the fixture
chapter with solution cells that are correct, wrong, or hostile; see
make_fixtures.py there. They are graded once, as one batch, and each test
checks what one of them got.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from l2bayes.grade import grade_batch, make_plan, record_path, submission_chapter, write_atomic
from l2bayes.grading import worker as wire
from l2bayes.grading.sandbox import Limits, Session

HERE = Path(__file__).parent
SUBMISSIONS = HERE / "submissions"
CHAPTERS = SUBMISSIONS / "book" / "chapters"
LIMITS = Limits(exercise_seconds=2.0, cell_seconds=3.0, submission_seconds=30.0, memory_mb=1024)
# The escape fixture writes to "../l2bayes-escape-test" from its working folder, which the
# sandbox makes in the system temp directory: that file must never appear.
ESCAPE_TARGET = Path(tempfile.gettempdir()) / "l2bayes-escape-test"

PG, NLP, MSE, PRIOR = "ch01-penalty-grad", "ch01-neg-log-prior", "ch01-mse-weight-decay", "ch01-prior-from-weight-decay"
FULL = {PG: (1.0, "passed all"), NLP: (1.0, "passed all"), MSE: (1.0, "passed all"), PRIOR: (1.0, "passed all")}
PARTIAL = "partial"

# submission -> exercise -> (points, or PARTIAL for 0 < points < 1; text the feedback must contain).
# Exercises not listed get full marks: a submission loses only what it breaks.
EXPECTED = {
    "correct": {},
    "stub": {e: (0.0, "not implemented yet") for e in FULL},
    "wrong_misconceptions": {
        PG: (PARTIAL, "Misconception (factor of two)"),
        NLP: (0.0, "Misconception (normalising constant dropped)"),
        MSE: (PARTIAL, "Misconception (batch size for n)"),
    },
    "loop_forever": {PG: (0.0, "timed out: the exercise's 2 s were used up")},
    "loop_at_import": {PG: (0.0, "did not finish within 3 s")},
    "too_slow": {PG: (PARTIAL, "timed out")},
    "sys_exit": {PG: (0.0, "sys.exit(0)")},
    "os_exit_at_import": {PG: (0.0, "exited with code 0")},
    "os_exit_in_call": {PG: (0.0, "exited with code 7")},
    "raise_at_import": {PG: (0.0, "its solution cell failed: RuntimeError: boom at import")},
    "syntax_error": {PG: (0.0, "its solution cell failed: SyntaxError")},
    "memory_bomb": {PG: (0.0, "its solution cell failed: MemoryError")},
    "fork": {PG: (0.0, "may not use os.fork")},
    "spawn": {PG: (0.0, "may not use subprocess.Popen")},
    "flood_stdout": {},
    "wrong_type": {
        PG: (0.0, "expected an array of shape"),
        NLP: (0.0, "expected a single number, got None"),
        MSE: (0.0, "expected a single number, got a list of length 1"),
    },
    "wrong_shape": {PG: (0.0, "expected shape")},
    "returns_nan": {PG: (0.0, "NaN")},
    "huge_answer": {PG: (0.0, "too many")},
    "tamper_numpy": {PG: (0.0, "values differ")},
    "tamper_torch": {PG: (0.0, "values differ")},
    "tamper_checker": {PG: (0.0, "could not steal the reference: import: a submission may not import l2bayes; "
                                 "read: a submission may not read")},
    "forge_reply": {PG: (0.0, "the worker's reply was malformed")},
    "kill_grader": {PG: (0.0, "may not signal other processes")},
    "closes_pipes": {PG: (0.0, "the worker")},
    "escape_sandbox": {},
    "not_a_notebook": {e: (0.0, "not a readable notebook") for e in FULL},
    "no_solution_cells": {e: (0.0, "no code cell is tagged 'solution'") for e in FULL},
}


def test_every_fixture_submission_has_an_expectation():
    assert {p.stem for p in SUBMISSIONS.glob("*.ipynb")} == set(EXPECTED)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture submission in one batch, two at a time."""
    ESCAPE_TARGET.unlink(missing_ok=True)
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    paths = [SUBMISSIONS / f"{name}.ipynb" for name in EXPECTED]
    records = grade_batch(paths, out=out, chapter="01_prior_to_penalty", jobs=2, limits=LIMITS, chapters=CHAPTERS)
    return {Path(r["submission"]).stem: r for r in records}, out


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_submission_loses_only_what_it_breaks(graded, name):
    records, _ = graded
    got = {e["exercise"]: e for e in records[name]["exercises"]}
    assert list(got) == [PG, NLP, MSE, PRIOR]
    for exercise, (points, text) in {**FULL, **EXPECTED[name]}.items():
        entry = got[exercise]
        if points == PARTIAL:
            assert 0 < entry["points"] < entry["max_points"], entry["feedback"]
        else:
            assert entry["points"] == points, entry["feedback"]
        assert text in entry["feedback"]


def test_partial_credit_is_per_case(graded):
    records, _ = graded
    entry = next(e for e in records["wrong_misconceptions"]["exercises"] if e["exercise"] == PG)
    assert entry["passed"] == sum(r["passed"] for r in entry["results"]) == 2  # theta = centre, lam = 0
    assert entry["points"] == pytest.approx(2 / entry["cases"])
    assert entry["misconception"] == "factor of two"


def test_nothing_escaped_the_sandbox(graded):
    assert not ESCAPE_TARGET.exists()
    records, _ = graded
    assert "ESCAPED" not in json.dumps(records["escape_sandbox"])


def test_the_csv_has_a_row_per_submission_and_exercise(graded):
    records, out = graded
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(FULL) * len(EXPECTED)
    assert set(rows[0]) == {"submission", "exercise", "points", "max_points", "feedback"}
    correct = [r for r in rows if Path(r["submission"]).stem == "correct"]
    assert [float(r["points"]) for r in correct] == [1.0] * len(FULL)
    assert sorted(p.name for p in out.with_name("grades_json").iterdir()) == sorted(
        record_path(out.with_name("grades_json"), SUBMISSIONS / f"{n}.ipynb").name for n in EXPECTED
    )


def test_a_batch_resumes_where_it_stopped(tmp_path):
    subs = []
    for name in ("correct", "stub", "wrong_type"):
        subs.append(tmp_path / f"{name}.ipynb")
        subs[-1].write_bytes((SUBMISSIONS / f"{name}.ipynb").read_bytes())
    out = tmp_path / "grades.csv"
    seen = []

    def interrupt_after_first(record, reused):
        seen.append(Path(record["submission"]).stem)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_batch(subs, out=out, jobs=1, limits=LIMITS, chapters=CHAPTERS, on_record=interrupt_after_first)
    results = tmp_path / "grades_json"
    assert [p.name for p in results.iterdir()] == [record_path(results, tmp_path / f"{seen[0]}.ipynb").name]
    assert not out.exists()

    subs[2].write_text(subs[2].read_text().replace("return None", "return 0.0"))  # a changed submission
    log = []
    records = grade_batch(subs, out=out, jobs=2, limits=LIMITS, chapters=CHAPTERS,
                          on_record=lambda r, reused: log.append((Path(r["submission"]).stem, reused)))
    assert dict(log) == {seen[0]: True, **{s.stem: False for s in subs if s.stem != seen[0]}}
    assert [r["points"] for r in records] == [4.0, 0.0, 1.0]  # wrong_type's prior_std_answer is right
    assert not [p for p in results.iterdir() if p.suffix != ".json"]  # no temporary files left
    log.clear()
    grade_batch(subs, out=out, jobs=2, limits=LIMITS, chapters=CHAPTERS, fresh=True,
                on_record=lambda r, reused: log.append(reused))
    assert log == [False, False, False]


def test_the_command_line(tmp_path):
    out = tmp_path / "g.csv"
    cmd = [sys.executable, "-m", "l2bayes.grade", str(SUBMISSIONS / "correct.ipynb"), str(SUBMISSIONS / "stub.ipynb"),
           "--out", str(out), "--chapters", str(CHAPTERS), "--timeout", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "correct.ipynb: 4/4" in done.stderr and "stub.ipynb: 0/4" in done.stderr
    assert len(list(csv.DictReader(out.open()))) == 2 * len(FULL)
    assert len(list((tmp_path / "g_json").glob("*.json"))) == 2
    bad = subprocess.run([*cmd[:5], "--out", str(out), "--exercise", "ch99-nope", "--chapters", str(CHAPTERS)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "known ids" in bad.stderr


def test_write_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "r.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_the_chapter_comes_from_metadata_or_file_name():
    nb = json.loads((SUBMISSIONS / "stub.ipynb").read_text())
    assert submission_chapter(nb, Path("anything.ipynb")) == "01_prior_to_penalty"
    assert submission_chapter({"cells": []}, Path("bob_01_prior_to_penalty.ipynb")) == "01_prior_to_penalty"
    assert submission_chapter({"cells": []}, Path("bob.ipynb")) is None


def test_the_plan_is_the_same_for_the_same_seed():
    a, b = make_plan("01_prior_to_penalty", chapters=CHAPTERS), make_plan("01_prior_to_penalty", chapters=CHAPTERS)
    c = make_plan("01_prior_to_penalty", seed=1, chapters=CHAPTERS)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_values_survive_the_wire_and_malformed_ones_are_refused():
    torch = pytest.importorskip("torch")
    values = [1.5, 3, None, True, "s", float("nan"), (1, [2.0]), {"a": 1}, np.float32(2.5),
              np.arange(6.0).reshape(2, 3), np.array([1, 2], dtype=np.int8), torch.tensor([1.0, 2.0], dtype=torch.float32)]
    for v in values:
        back = wire.decode(json.loads(json.dumps(wire.encode(v))))
        assert type(back) is type(v)
        if isinstance(v, (np.ndarray, np.generic)):
            assert back.dtype == v.dtype and np.array_equal(back, v)
        elif isinstance(v, torch.Tensor):
            assert back.dtype == v.dtype and torch.equal(back, v)
        elif v == v:
            assert back == v
    assert wire.encode(object()) == {"__object__": {"type": "object", "text": ""}}
    assert wire.encode(np.array([object()]))["__object__"]["text"] == "dtype object"
    good = wire.encode(np.arange(3.0))
    for bad in (
        {"__ndarray__": {**good["__ndarray__"], "shape": [4]}},
        {"__ndarray__": {**good["__ndarray__"], "dtype": "|O"}},
        {"__ndarray__": {**good["__ndarray__"], "shape": [-3]}},
        {"__pickle__": "gASV"},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.os.system"}},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.float64", "requires_grad": "yes"}},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.float64", "parameter": 1}},
        {"__tensor__": {"array": wire.encode(np.arange(3))["__ndarray__"], "dtype": "torch.int64", "requires_grad": True}},
    ):
        with pytest.raises((ValueError, TypeError)):
            wire.decode(bad)


def test_named_parameters_survive_the_wire():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2)).double()
    model[1].bias.requires_grad_(False)
    named = list(model.named_parameters()) + [("buffer", torch.ones(2, requires_grad=True))]
    back = wire.decode(json.loads(json.dumps(wire.encode(named))))
    assert isinstance(back, list) and all(isinstance(pair, tuple) for pair in back)
    for (name, p), (name_back, q) in zip(named, back):
        assert name_back == name and type(q) is type(p) and q.requires_grad == p.requires_grad
        assert q.dtype == p.dtype and torch.equal(q.detach(), p.detach()) and q.is_leaf
    assert set(wire.encode(torch.ones(2))["__tensor__"]) == {"array", "dtype"}  # plain tensors as before


def test_the_worker_sends_an_answers_iterators_as_lists():
    groups = [{"params": (x for x in [1.0, 2.0])}, {"params": map(float, [3])}]
    assert wire.decode(wire.encode(groups, iterators=True)) == [{"params": [1.0, 2.0]}, {"params": [3.0]}]
    kept = iter([1.0])
    assert wire.encode([kept])[0]["__object__"]["type"] == "list_iterator"  # the grader never reads its own
    assert next(kept) == 1.0
    endless = wire.encode(iter(int, 1), iterators=True)  # iter(int, 1) never stops
    assert endless["__object__"]["text"] == f"more than {wire.MAX_ELEMENTS} items, too long"


def test_bad_arguments_raise_value_error_naming_them(tmp_path):
    sub = [SUBMISSIONS / "correct.ipynb"]
    with pytest.raises(ValueError, match="jobs"):
        grade_batch(sub, out=tmp_path / "g.csv", jobs=0, chapters=CHAPTERS)
    with pytest.raises(ValueError, match="submissions"):
        grade_batch([], out=tmp_path / "g.csv", chapters=CHAPTERS)
    with pytest.raises(ValueError, match="known ids"):
        grade_batch(sub, out=tmp_path / "g.csv", ids=["nope"], chapters=CHAPTERS)
    with pytest.raises(ValueError, match="chapter '02_nothing' has no exercises"):
        make_plan("02_nothing", chapters=CHAPTERS)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="exercise_seconds"):
        Limits(exercise_seconds=-1.0)


def test_the_worker_runs_without_the_package_on_its_path():
    tree = ast.parse(Path(wire.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and m.split(".")[0] == "l2bayes"}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", "import l2bayes"], capture_output=True, env=env)
    assert done.returncode != 0 and b"No module named 'l2bayes'" in done.stderr


def test_parameter_groups_are_graded_through_the_sandbox():
    """ch04-decay-groups: named parameters go in, groups come back, and the grader recognises them."""
    pytest.importorskip("torch")
    from l2bayes.exercises.judge import judge

    plan = make_plan("04_weight_decay_sgd", ids=["ch04-decay-groups"], chapters=HERE.parent / "chapters")
    (ex,) = plan.exercises
    solutions = {
        "correct": "def weight_decay_groups(named_parameters, weight_decay):\n"
                   "    named = [(n, p) for n, p in named_parameters if p.requires_grad]  # as in a training script\n"
                   "    assert all(isinstance(p, torch.nn.Parameter) for _, p in named)\n"
                   "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': weight_decay},\n"
                   "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': 0.0}]",
        "biases decayed too": "def weight_decay_groups(named_parameters, weight_decay):\n"
                              "    return [{'params': (p for _, p in named_parameters), 'weight_decay': weight_decay}]",
    }
    for name, code in solutions.items():
        with Session([("<import>", "import torch"), ("<solution cell 1>", code)], LIMITS, deny=[]) as session:
            outcomes = session.call(ex.function, plan.args[ex.id], seconds=30.0)
        result = judge(ex, plan.cases[ex.id], plan.expected[ex.id], outcomes, seed=plan.seed)
        if name == "correct":
            assert result.passed, result.message
        else:
            assert not result and result.misconception.name == name, result.message


def test_tensors_cross_the_sandbox_both_ways():
    torch = pytest.importorskip("torch")
    cells = [("<import>", "import torch"), ("<solution cell 1>", "def step(theta, lr):\n    return theta - lr * theta.sign()")]
    theta = torch.tensor([0.5, -2.0], dtype=torch.float64)
    with Session(cells, LIMITS, deny=[]) as session:
        (outcome,) = session.call("step", [[wire.encode(theta), wire.encode(0.1)]], seconds=30.0)
    assert outcome.kind == "returned" and outcome.value.dtype == torch.float64
    assert torch.equal(outcome.value, torch.tensor([0.4, -1.9], dtype=torch.float64))
