"""The package on its own: ``pip install .`` gives an ``l2bayes`` that imports, and runs the chapters.

A fresh virtual environment (no system site-packages) gets the package's wheel
from pip without dependencies, and then exactly the distributions that the
wheel's metadata asks for, transitively, taken from the tested environment
(linked, not downloaded, so the test is offline and takes seconds). Every
module of the package and every module a chapter imports must then import with
``python -I``. A module the package or a chapter needs but ``pyproject.toml``
does not declare is missing there, and the test names it.

Packages that the book installs without their dependencies
(``requirements-nodeps.txt``, if present) are added the same way, alone.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
NODEPS = ROOT / "requirements-nodeps.txt"


def chapter_imports(chapters: Path) -> list[str]:
    """Every module a chapter's code cells import (``from a.b import c`` gives ``a.b``)."""
    modules = set()
    for path in sorted(chapters.glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module)
    return sorted(modules)


def _requires(dist: metadata.Distribution, extras=()) -> list[Requirement]:
    out = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras)):
            out.append(req)
    return out


def dependency_closure(requirements: list[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively, extras included."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
    seen: dict[str, metadata.Distribution] = {}
    todo = [(canonicalize_name(r.name), tuple(r.extras)) for r in requirements]
    while todo:
        name, extras = todo.pop()
        if name not in installed:
            raise LookupError(f"{name} is required but not installed in the tested environment")
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen[key] = installed[name]
        todo += [(canonicalize_name(r.name), tuple(r.extras)) for r in _requires(installed[name], extras)]
    return list({d.metadata["Name"]: d for d in seen.values()}.values())


def _link(src: Path, dest: Path) -> None:
    """Symlink ``src`` at ``dest``; where two distributions share a folder, link its children."""
    if not dest.exists() and not dest.is_symlink():
        dest.symlink_to(src)
    elif src.is_dir() and dest.is_symlink():
        first = dest.resolve()
        dest.unlink()
        dest.mkdir()
        for child in first.iterdir():
            _link(child, dest / child.name)
        for child in src.iterdir():
            _link(child, dest / child.name)
    elif src.is_dir() and dest.is_dir():
        for child in src.iterdir():
            _link(child, dest / child.name)


def add_distribution(dist: metadata.Distribution, site_packages: Path) -> None:
    """Make ``dist`` importable in ``site_packages`` by linking its top-level files."""
    base = Path(dist.locate_file(""))
    tops = {Path(f).parts[0] for f in dist.files or [] if not Path(f).parts[0] == ".."}
    for top in sorted(tops):
        if (base / top).exists():
            _link(base / top, site_packages / top)


def nodeps_requirements() -> list[Requirement]:
    if not NODEPS.is_file():
        return []
    lines = [line.split("#")[0].strip() for line in NODEPS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def package_modules() -> list[str]:
    code = ROOT / "code"
    names = []
    for path in sorted((code / "l2bayes").rglob("*.py")):
        parts = list(path.relative_to(code).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts[-1] != "__main__":
            names.append(".".join(parts))
    return names


#: Installed in the tested environment but not declared by l2bayes: must stay out (a positive control).
UNDECLARED = ["jupyter_book", "pytest"]

_IMPORT_ALL = """
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """Install the package alone in a fresh environment; return its metadata and what failed to import there."""
    tmp = tmp_path_factory.mktemp("alone")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp / "source"
    shutil.copytree(ROOT / "code", source / "code", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(source)], check=True)
    wheel = next(tmp.glob("l2bayes-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True)
    site_packages = Path(
        subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       check=True, capture_output=True, text=True).stdout.strip()
    )
    meta = metadata.PathDistribution(next(site_packages.glob("l2bayes-*.dist-info")))
    for dist in dependency_closure(_requires(meta)):
        add_distribution(dist, site_packages)
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
    for req in nodeps_requirements():
        add_distribution(installed[canonicalize_name(req.name)], site_packages)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MPLBACKEND"] = "Agg"
    env["MPLCONFIGDIR"] = str(tmp / "matplotlib")  # its font cache is shared by every environment of the user
    modules = package_modules() + chapter_imports(ROOT / "chapters") + UNDECLARED
    out = subprocess.run([str(python), "-I", "-c", _IMPORT_ALL, *modules], check=True, capture_output=True,
                         text=True, env=env, cwd=tmp)
    return meta, json.loads(out.stdout.strip().splitlines()[-1])


def test_the_declared_dependencies_are_what_the_package_needs(alone):
    meta, failed = alone
    declared = {canonicalize_name(r.name) for r in _requires(meta)}
    assert {"numpy", "scipy", "torch"} <= declared, declared
    missing = {m: e for m, e in failed.items() if m in package_modules()}
    assert missing == {}, f"modules of l2bayes that do not import from `pip install .` alone: {missing}"


def test_every_chapter_import_works_from_the_package_alone(alone):
    _, failed = alone
    modules = chapter_imports(ROOT / "chapters")
    assert "l2bayes" in modules and "numpy" in modules
    missing = {m: e for m, e in failed.items() if m in modules}
    assert missing == {}, f"chapter imports missing from pyproject.toml's dependencies: {missing}"


def test_the_fresh_environment_does_not_see_the_tested_one(alone):
    _, failed = alone
    assert sorted(m for m in failed if m in UNDECLARED) == UNDECLARED, failed


def test_pyproject_pins_the_tested_torch():
    # An unpinned torch makes `pip install .` pull the newest CUDA build (several GB).
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f'"torch=={pinned}"' in (ROOT / "pyproject.toml").read_text()


def test_the_closure_follows_requirements_transitively():
    names = {canonicalize_name(d.metadata["Name"]) for d in dependency_closure([Requirement("matplotlib")])}
    assert {"matplotlib", "numpy", "pillow", "cycler"} <= names
    assert "torch" not in names


def test_chapter_imports_reads_every_form(tmp_path):
    cell = {"cell_type": "code", "source": ["import numpy as np, math\n", "from sklearn.linear_model import Ridge\n",
                                            "%matplotlib inline\n", "from . import x\n"]}
    (tmp_path / "01_x.ipynb").write_text(json.dumps({"cells": [cell, {"cell_type": "markdown", "source": "import no"}]}))
    assert chapter_imports(tmp_path) == ["math", "numpy", "sklearn.linear_model"]
