"""scripts/execution_cache.py: the key of the chapters' cached outputs, the parallel fill, the reuse."""

from __future__ import annotations

import importlib.util
import json
import shutil
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
    for name in (".jupyter_cache", ".doctrees", "jupyter_execute", "html"):
        (build / name).mkdir(parents=True)
    assert execution_cache.reset_if_stale(build, "k1") is True
    assert not (build / ".jupyter_cache").exists() and not (build / ".doctrees").exists()
    assert (build / "html").is_dir(), "pages are rewritten by Sphinx once its doctrees are gone"
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
