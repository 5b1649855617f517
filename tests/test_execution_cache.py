"""scripts/execution_cache.py: the key of the chapters' cached outputs, the parallel fill, the reuse."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("execution_cache", ROOT / "scripts" / "execution_cache.py")
execution_cache = importlib.util.module_from_spec(_spec)
sys.modules["execution_cache"] = execution_cache  # the worker processes unpickle its functions by name
_spec.loader.exec_module(execution_cache)


def _book(tmp_path: Path, cells: dict[str, list[str]]) -> Path:
    """A minimal book: a config, the keyed files, a package module and one notebook per entry."""
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "code" / "l2bayes").mkdir(parents=True)
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: cache\n  timeout: 60\n")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "code" / "l2bayes" / "ridge.py").write_text("X = 1\n")
    for stem, sources in cells.items():
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})
        nb.cells = [nbformat.v4.new_code_cell(src, id=f"c{i}") for i, src in enumerate(sources)]
        nbformat.write(nb, root / "chapters" / f"{stem}.ipynb")
    return root


def test_the_key_changes_with_the_requirements_and_the_package_and_nothing_else(tmp_path):
    root = _book(tmp_path, {"01_a": ["1"]})
    key = execution_cache.cache_key(root)
    assert execution_cache.cache_key(root) == key
    (root / "chapters" / "01_a.ipynb").write_text((root / "chapters" / "01_a.ipynb").read_text() + "\n")
    (root / "index.md").write_text("# new page\n")
    (root / "code" / "l2bayes" / "site.py").write_text("# the Sphinx extension\n")
    assert execution_cache.cache_key(root) == key, "the notebooks themselves are jupyter-cache's to hash"
    for path, text in [("requirements.txt", "numpy==2.4.7\n"), ("code/l2bayes/ridge.py", "X = 2\n"),
                       ("requirements-nodeps.txt", "laplace-torch==0.2\n"), ("pyproject.toml", "")]:
        before = execution_cache.cache_key(root)
        (root / path).write_text(text)
        assert execution_cache.cache_key(root) != before, path


def test_a_new_key_deletes_the_old_outputs_and_the_same_key_keeps_them(tmp_path):
    build = tmp_path / "_build"
    for name in (".jupyter_cache", ".doctrees", "jupyter_execute", "html/_images", "html/chapters"):
        (build / name).mkdir(parents=True)
    assert execution_cache.reset_if_stale(build, "k1") is True
    assert not (build / ".jupyter_cache").exists() and not (build / ".doctrees").exists()
    assert not (build / "html" / "_images").exists(), "the old outputs' figures would stay beside the new ones"
    assert (build / "html" / "chapters").is_dir(), "pages are rewritten by Sphinx once its doctrees are gone"
    (build / ".jupyter_cache").mkdir()
    assert execution_cache.reset_if_stale(build, "k1") is False
    assert (build / ".jupyter_cache").is_dir()
    assert execution_cache.reset_if_stale(build, "k2") is True
    assert not (build / ".jupyter_cache").exists()


def test_prepare_executes_what_is_missing_once_and_in_parallel(tmp_path):
    root = _book(tmp_path, {"01_a": ["x = 6 * 7", "print(x)"], "02_b": ["print('b')"]})
    build = root / "_build"
    done = execution_cache.prepare(root, build, jobs=2)
    assert sorted(p.name for p in done) == ["01_a.ipynb", "02_b.ipynb"]
    assert execution_cache.prepare(root, build, jobs=2) == [], "a second run finds everything cached"
    executed = execution_cache.executed_chapters(root, build)
    assert "".join(executed["01_a"]["cells"][1]["outputs"][0]["text"]) == "42\n"
    records = execution_cache.cache_records(root, build)
    assert {stem: r["executed_by"] for stem, r in records.items()} == {
        "01_a": execution_cache.EXECUTED_BY, "02_b": execution_cache.EXECUTED_BY}
    # What Jupyter Book stores when it executes a chapter itself (myst_nb's cache executor): no mark.
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    path = root / "chapters" / "02_b.ipynb"
    get_cache(str(build / ".jupyter_cache")).cache_notebook_bundle(
        CacheBundleIn(nbformat.read(path, as_version=4), str(path), data={"execution_seconds": 1.0}),
        check_validity=False, overwrite=True)
    assert "executed_by" not in execution_cache.cache_records(root, build)["02_b"]
    (root / "requirements.txt").write_text("numpy==9\n")
    assert len(execution_cache.prepare(root, build, jobs=1)) == 2, "a dependency change re-executes"


def test_prepare_names_a_failing_chapter(tmp_path):
    root = _book(tmp_path, {"01_ok": ["1"], "02_bad": ["raise ValueError('broken claim')"]})
    with pytest.raises(RuntimeError, match=r"02_bad\.ipynb(.|\n)*broken claim"):
        execution_cache.prepare(root, root / "_build", jobs=2)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_prepare_rejects_a_bad_job_count(tmp_path, jobs):
    with pytest.raises(ValueError, match="jobs"):
        execution_cache.prepare(tmp_path, jobs=jobs)


def test_fill_copies_outputs_only_where_the_code_is_unchanged(tmp_path):
    out = [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    executed = {"01_a": {"cells": [
        {"cell_type": "code", "id": "same", "source": "print(42)", "outputs": out, "execution_count": 1},
        {"cell_type": "code", "id": "stub", "source": "def f():\n    return 1", "outputs": out, "execution_count": 2},
    ]}}
    hidden = tmp_path / "hidden" / "chapters"
    hidden.mkdir(parents=True)
    nb = {"cells": [
        {"cell_type": "code", "id": "same", "source": ["print(42)"], "outputs": [], "execution_count": None, "metadata": {}},
        {"cell_type": "code", "id": "stub", "source": "def f():\n    raise NotImplementedError", "outputs": [],
         "execution_count": None, "metadata": {}},
        {"cell_type": "code", "id": "stub-reference", "source": "f = load()", "outputs": [], "metadata": {}},
        {"cell_type": "markdown", "id": "m", "source": "text", "metadata": {}},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (hidden / "01_a.ipynb").write_text(json.dumps(nb))
    assert execution_cache.fill_outputs(hidden.parent, executed) == 1
    cells = json.loads((hidden / "01_a.ipynb").read_text())["cells"]
    assert cells[0]["outputs"] == out and cells[0]["execution_count"] == 1
    assert cells[1]["outputs"] == [] and cells[2]["outputs"] == []


def test_execution_off_keeps_the_rest_of_the_config(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    execution_cache.execution_off(tmp_path)
    import yaml

    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["execute"]["timeout"] == original["execute"]["timeout"]
    assert config["sphinx"] == original["sphinx"]


def _make_test_commands() -> list[str]:
    """The commands ``make test`` runs, in order (a dry run that takes the installed environment as given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # under make test itself
    done = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "test"], cwd=ROOT,
                          capture_output=True, text=True, check=True, env=env)
    return [line.strip() for line in done.stdout.splitlines() if line.strip() and not line.startswith("echo")]


def test_make_test_executes_the_chapters_once_for_the_builds_and_once_under_nbval():
    """The order of ``make test``: one ``prepare``, builds that only read its cache, one pytest run with nbval."""
    commands = _make_test_commands()
    prepares = [i for i, c in enumerate(commands) if "execution_cache.py prepare" in c]
    builds = [i for i, c in enumerate(commands) if "jupyter-book build" in c]
    fills = [i for i, c in enumerate(commands) if "execution_cache.py fill" in c]
    pytests = [i for i, c in enumerate(commands) if " -m pytest" in c]
    assert len(prepares) == 1 and len(builds) == 2 and len(fills) == 1 and len(pytests) == 1, commands
    assert prepares[0] < min(builds), "every build must find the chapters executed"
    hidden = next(i for i in builds if "hidden" in commands[i])
    assert fills[0] < hidden, "the solution-free sources get the executed outputs (execution off) before their build"
    assert max(builds) < pytests[0], "the site checks read both builds"
    flags = shlex.split(commands[pytests[0]])
    assert "--nbval-lax" in flags and not [f for f in flags if f.endswith(".ipynb") or f in ("tests", "code")], (
        "one pytest run, over the configured testpaths, nbval on")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "chapters" in config["testpaths"], "nbval collects every chapter once"


def test_the_builds_used_the_prepared_cache_for_every_chapter():
    """After the builds of ``make test``: each chapter's cached record is the one ``prepare`` executed.

    Jupyter Book executes a chapter only on a cache miss, and then overwrites the
    record with its own, which has no ``executed_by``: so this shows that the
    site's build (and the PDF's, which reads the same cache) executed nothing,
    and with nbval each chapter ran at most twice.
    """
    build = ROOT / "_build"
    key = build / execution_cache.KEY_FILE
    if not (build / "html" / "index.html").is_file() or not key.is_file() \
            or key.read_text().strip() != execution_cache.cache_key(ROOT):
        if os.environ.get("CI"):
            pytest.fail("the book is not built from these sources: make test builds it first")
        pytest.skip("the book is not built from these sources (make test builds it first)")
    records = execution_cache.cache_records(ROOT, build)
    missing = [stem for stem, r in records.items() if r is None]
    foreign = [stem for stem, r in records.items() if r is not None and r.get("executed_by") != execution_cache.EXECUTED_BY]
    assert not missing, f"chapters without cached outputs, executed at build time or not at all: {missing}"
    assert not foreign, f"chapters that Jupyter Book executed itself (a third execution): {foreign}"
