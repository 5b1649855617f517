"""Tests of the Gradescope autograder: its zip's layout, and run_autograder against a folder laid out like /autograder."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from l2bayes.grading.gradescope import (
    ZIP_NAME,
    config_text,
    main,
    results_of,
    validate_results,
    write_autograder,
)
from l2bayes.grading.report import POLICY

HERE = Path(__file__).parent / "submissions"
CHAPTERS = HERE / "book" / "chapters"


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope")
    return write_autograder(out, chapters=CHAPTERS)


def _unpack(zip_path: Path, root: Path, submissions) -> Path:
    """A folder laid out like Gradescope's /autograder: source/ (the zip), submission/ (the upload)."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops the permission bits; Gradescope keeps them
            os.chmod(root / "source" / info.filename, info.external_attr >> 16)
    (root / "submission").mkdir(parents=True)
    for s in submissions:
        shutil.copy(HERE / s, root / "submission" / s)
    return root


def _run_autograder(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("L2BAYES_")}
    env.update(AUTOGRADER_ROOT=str(root), L2BAYES_PYTHON=sys.executable)
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_the_zip_has_gradescopes_layout(autograder):
    with zipfile.ZipFile(autograder) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        config = json.loads(zf.read("config.json"))
        pins = zf.read("requirements.txt").decode()
        wheel_name = next(n for n in names if n.endswith(".whl"))
        inside = zipfile.ZipFile(zf.open(wheel_name)).namelist()
        setup = zf.read("setup.sh").decode()
    assert autograder.name == ZIP_NAME
    assert {"setup.sh", "run_autograder", "config.json", "requirements.txt", "chapters/01_prior_to_penalty.ipynb"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert config == {"chapter": None, "jobs": 1, "sandbox": "required", "visibility": "visible"}
    assert "torch==2.13.0" in pins.splitlines() and "nbformat" in pins
    assert "l2bayes/grading/sandbox.py" in inside and "l2bayes/grade.py" in inside
    assert "bubblewrap" in setup and "bwrap_problem" in setup
    syntax = subprocess.run(["bash", "-n", "-c", setup], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_run_autograder_grades_a_submission_and_writes_valid_results(autograder, tmp_path):
    root = _unpack(autograder, tmp_path / "autograder", ["correct.ipynb", "wrong_misconceptions.ipynb"])
    results = _run_autograder(root)
    assert validate_results(results) == []
    by_name = {t["name"]: t for t in results["tests"]}
    correct = [t for n, t in by_name.items() if n.startswith("correct.ipynb: ")]
    wrong = [t for n, t in by_name.items() if n.startswith("wrong_misconceptions.ipynb: ")]
    assert len(correct) == len(wrong) == 4
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] == 1.0 for t in correct)
    # the fixture answers chapter 1's conceptual exercise right and gets the other three wrong
    assert all(t["status"] == "failed" and t["score"] < t["max_score"] for t in wrong
               if not t["name"].endswith("ch01-prior-from-weight-decay"))
    penalty = next(t for t in wrong if t["name"].endswith("ch01-penalty-grad"))
    assert "Misconception (factor of two)" in penalty["output"] and "inputs:" not in penalty["output"]
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert POLICY in results["output"]
    assert isinstance(results["execution_time"], int) and results["execution_time"] >= 0
    assert results["extra_data"]["sandbox"] in (["bwrap"], ["none"])


def test_an_upload_without_a_notebook_scores_zero_and_says_why(autograder, tmp_path):
    root = _unpack(autograder, tmp_path / "autograder", [])
    (root / "submission" / "answers.py").write_text("print('hi')\n")
    results = _run_autograder(root)
    assert validate_results(results) == []
    assert results["score"] == 0 and results["tests"] == []
    assert "no .ipynb file" in results["output"]


def test_results_are_validated():
    good = results_of([], seconds=1.2)
    assert validate_results(good) == [] and good["execution_time"] == 1
    bad = dict(good, score="3", tests=[{"name": "x", "score": 2, "max_score": 1, "output": "", "status": "ok",
                                        "visibility": "everyone"}])
    problems = validate_results(bad)
    assert any("'score'" in p for p in problems) and any("status" in p for p in problems)
    assert any("visibility" in p for p in problems) and any("between 0 and max_score" in p for p in problems)
    assert validate_results([]) == ["results.json must hold a JSON object"]


def test_bad_settings_raise_value_errors_naming_them(tmp_path):
    for kwargs, name in (({"jobs": 0}, "jobs"), ({"sandbox": "maybe"}, "sandbox"),
                         ({"visibility": "public"}, "visibility"), ({"chapter": 3}, "chapter")):
        with pytest.raises(ValueError, match=name):
            config_text(**kwargs)
    assert main(["build", "--out", str(tmp_path), "--chapters", str(tmp_path / "missing")]) == 2
