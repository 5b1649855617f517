"""Tests of the student bundle: the case bank's seed and format, the zip, and the bundle installed as its README says.

That every exercise's reference passes on the public bank, and every named mistake is named by it as by
the references, is checked with the other per-exercise checks in ``test_exercise_registry.py`` (the
bank itself is the fixture ``bank_folder`` of ``conftest.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

import l2bayes.exercises as exercises
from l2bayes.exercises import EXERCISES, bank, evaluate, reference
from l2bayes.publishing import find_solution_leaks
from l2bayes.publishing.bundle import FOLDER, STUDENT_PACKAGES, write_bundle

ROOT = Path(__file__).parents[1]
CHAPTERS = ROOT / "chapters"


def test_the_repository_has_no_bank_and_uses_the_references():
    assert not bank.available()
    assert not exercises.uses_bank()


def test_with_the_bank_only_the_public_seed_is_accepted(with_bank):
    fn = reference("ch01-penalty-grad", CHAPTERS)
    assert evaluate("ch01-penalty-grad", fn, seed=bank.PUBLIC_SEED)
    with pytest.raises(ValueError, match=f"seed must be {bank.PUBLIC_SEED}"):
        evaluate("ch01-penalty-grad", fn, seed=1)
    with pytest.raises(ValueError, match="exercise_id"):
        evaluate("ch99-none", fn)


def test_a_bank_of_another_format_is_refused(tmp_path, monkeypatch):
    (tmp_path / bank.INDEX).write_text(json.dumps({"format": "something-else", "seed": 0, "exercises": {}}))
    monkeypatch.setattr(bank, "folder", lambda: tmp_path)
    bank.index.cache_clear()
    try:
        with pytest.raises(ValueError, match="format"):
            bank.index()
    finally:
        bank.index.cache_clear()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return write_bundle(out, CHAPTERS)


def test_the_bundle_holds_notebooks_wheel_pins_and_readme_and_no_solution(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        wheel_name = next(n for n in names if n.endswith(".whl"))
        readme = zf.read(f"{FOLDER}/README.md").decode()
        pins = zf.read(f"{FOLDER}/requirements.txt").decode()
        wheel = zipfile.ZipFile(zf.open(wheel_name))
        inside = wheel.namelist()
    chapters = sorted(p.name for p in CHAPTERS.glob("*.ipynb"))
    assert sorted(n.split("/")[-1] for n in names if n.startswith(f"{FOLDER}/notebooks/")) == chapters
    assert "l2bayes/exercises/bank/index.json" in inside
    assert {f"l2bayes/exercises/bank/{i}.pickle" for i in EXERCISES} <= set(inside)
    assert not [n for n in inside if n.startswith(("l2bayes/grading/", "l2bayes/publishing/"))]
    assert not [n for n in inside if n.endswith(".ipynb")]
    # The pins are those of the book's tested set, torch's CPU build among them.
    tested = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    pinned = dict(line.split("==") for line in pins.splitlines() if line and not line.startswith("#"))
    assert pinned["torch"] == "2.13.0"
    assert {k.lower() for k in pinned} >= {p.lower() for p in STUDENT_PACKAGES}
    for name, version in pinned.items():
        assert tested.get(name, version) == version, name
    assert wheel_name.split("/")[-1] in readme and "python3.11 -m venv" in readme
    assert find_solution_leaks(bundle.parent, CHAPTERS) == []


def test_the_audit_opens_a_wheel_inside_a_zip(tmp_path):
    chapter = next(CHAPTERS.glob("*.ipynb"))
    inner = tmp_path / "inner.whl"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("l2bayes/notes.txt", chapter.read_text())
    tree = tmp_path / "tree"
    tree.mkdir()
    with zipfile.ZipFile(tree / "bundle.zip", "w") as zf:
        zf.write(inner, "folder/inner.whl")
    leaks = find_solution_leaks(tree, CHAPTERS)
    assert leaks and {leak.path for leak in leaks} == {"bundle.zip!folder/inner.whl!l2bayes/notes.txt"}


def _readme_command(readme: str, starts: str) -> str:
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    return next(line for block in blocks for line in block.splitlines() if line.startswith(starts))


def test_the_books_readme_quotes_the_bundles_set_up_command(bundle):
    with zipfile.ZipFile(bundle) as zf:
        readme = zf.read(f"{FOLDER}/README.md").decode()
    setup = _readme_command(readme, "python3.11 -m venv")
    assert _readme_command((ROOT / "README.md").read_text(encoding="utf-8"), "python3.11 -m venv") == setup


PROBE = r'''
import importlib.util
import numpy as np
from l2bayes.exercises import check, uses_bank

assert uses_bank(), "check should use the case bank"
assert importlib.util.find_spec("l2bayes.grading") is None and importlib.util.find_spec("l2bayes.publishing") is None

def penalty_grad(theta, lam, centre):
    return lam * (np.asarray(theta, float) - np.asarray(centre, float))

def twice(theta, lam, centre):
    return 2 * lam * (np.asarray(theta, float) - np.asarray(centre, float))

def weight_decay_groups(named_parameters, weight_decay):
    decay = [p for name, p in named_parameters if name.endswith("weight")]
    other = [p for name, p in named_parameters if not name.endswith("weight")]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]

def all_decayed(named_parameters, weight_decay):
    return [{"params": [p for _, p in named_parameters], "weight_decay": weight_decay}]

assert check("ch01-penalty-grad", penalty_grad)
wrong = check("ch01-penalty-grad", twice)
assert not wrong and wrong.misconception.name == "factor of two"
assert check("ch04-decay-groups", weight_decay_groups)
wrong = check("ch04-decay-groups", all_decayed)
assert not wrong and wrong.misconception.name == "biases decayed too"
print("PROBE OK")
'''


@pytest.mark.slow
def test_the_bundle_installs_as_its_readme_says_and_check_works_offline(bundle, tmp_path):
    """Unzip, run the README's set-up command in a fresh folder, then check a right and a wrong answer.

    The command is the README's, verbatim; pip's cache serves the packages as on
    any machine that installed the book before. It installs about 100 packages
    (torch among them): minutes, not seconds, so the test is marked ``slow``
    (``-m "not slow"`` leaves it out of a quick local run; ``make test`` runs it).
    """
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / FOLDER
    setup = _readme_command((folder / "README.md").read_text(), "python3.11 -m venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "L2BAYES"))}
    done = subprocess.run(["bash", "-c", setup], cwd=folder, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    python = folder / ".venv" / "bin" / "python"
    # Run from a folder with no l2bayes in it: what is imported is the installed wheel.
    probe = subprocess.run([str(python), "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600)
    assert probe.returncode == 0, probe.stdout[-3000:] + probe.stderr[-3000:]
    assert "PROBE OK" in probe.stdout
    assert "Misconception (factor of two)" in probe.stdout
    opened = _readme_command((folder / "README.md").read_text(), ".venv/bin/python -m jupyterlab")
    version = subprocess.run([str(python), "-m", "jupyterlab", "--version"], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=300)
    assert opened.endswith("notebooks") and version.returncode == 0, version.stderr[-2000:]
    # A student notebook runs from top to bottom in the new environment: its stubs are reported, not raised.
    notebook = sorted((folder / "notebooks").glob("01_*.ipynb"))[0]
    # Generous start-up limit: a kernel's first start in a new environment compiles its imports.
    run = subprocess.run([str(python), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.startup_timeout=600", "--ExecutePreprocessor.timeout=600",
                          "--output", str(tmp_path / "ran.ipynb"), str(notebook)],
                         cwd=folder / "notebooks", env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    ran = json.loads((tmp_path / "ran.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in ran["cells"] for o in c.get("outputs", []))
    stubs = sum("solution" in c.get("metadata", {}).get("tags", []) for c in ran["cells"])
    assert stubs >= 2 and printed.count("is not implemented yet") == stubs


def test_the_same_sources_give_the_same_bundle(tmp_path):
    fixture = Path(__file__).parent / "submissions" / "book" / "chapters"
    first = write_bundle(tmp_path / "a", fixture).read_bytes()
    second = write_bundle(tmp_path / "b", fixture).read_bytes()
    assert first == second
