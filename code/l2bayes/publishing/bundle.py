"""The student bundle (``make student``): notebooks, a solution-free wheel and offline feedback in one zip.

``l2bayes-student.zip`` holds one folder, ``l2bayes-student/``, with

* ``notebooks/``: the student notebooks (:mod:`.notebooks`);
* ``l2bayes-<version>-py3-none-any.whl``: the helper package the chapters import,
  built by pip from a staging copy of ``code/l2bayes`` that leaves out the
  instructors' tools (grader, publishing, Sphinx extensions) and adds the
  public case bank (:mod:`l2bayes.exercises.bank`), so that ``check`` works
  offline. No reference solution is in it: the references live in the
  chapter notebooks, which the wheel does not carry, and the leak audit
  (:func:`.leaks.find_solution_leaks`) reads every file of the zip and of the
  wheel inside it;
* ``requirements.txt``: exact pins of what the notebooks need (numpy, scipy,
  matplotlib, scikit-learn, torch, pyro-ppl) and everything those need, as
  tested with the book, with JupyterLab's pins (the repository's
  ``requirements-lab.txt``, which the book's own build does not install);
* ``requirements-nodeps.txt``: laplace-torch and its real dependencies, the
  repository's file of that name, installed with ``--no-deps`` (their declared
  torchvision does not work beside the CPU torch);
* ``README.md``: the two commands (set up, open the notebooks).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import l2bayes
from l2bayes.exercises import EXERCISES, bank
from l2bayes.exercises.judge import draw_cases, run_local
from l2bayes.exercises.notebooks import chapters_dir, load_reference
from l2bayes.publishing.notebooks import notebook_text, student_notebooks, write_zip

BUNDLE_NAME = "l2bayes-student.zip"
FOLDER = "l2bayes-student"
#: What the student notebooks import or are opened with; their dependencies are added to the pins.
STUDENT_PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "torch", "pyro-ppl", "myst-nb", "nbformat", "ipykernel")
#: Pin files of the repository copied into the bundle: JupyterLab's (added to requirements.txt) and
#: the ones pip must install without dependencies.
LAB_PINS, NODEPS_PINS = "requirements-lab.txt", "requirements-nodeps.txt"
#: Parts of the package only instructors use: left out of the student wheel.
INSTRUCTOR_ONLY = ("publishing", "grading", "grade.py", "student.py", "site.py")
#: The wheel's own dependencies, pinned like the requirements (an unpinned torch would pull a CUDA build).
WHEEL_DEPENDENCIES = ("numpy", "matplotlib", "torch")
#: The date of every file in the wheel (1980-01-01, zip's first day): the same sources give the same wheel.
SOURCE_DATE_EPOCH = "315532800"


# --- the pins ------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str:
    """The installed version of distribution ``name``, without a local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    return metadata.version(name).split("+", 1)[0]


def pinned_closure(roots) -> list[str]:
    """``name==version`` for ``roots`` and every distribution they need here, sorted by name.

    Dependencies are read from the installed distributions' metadata (the
    environment the book is tested in), for this platform and no extras. A
    dependency that is not installed here (another platform's) is left to pip.
    """
    from packaging.requirements import Requirement  # a dependency of pip and of Jupyter, pinned

    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = _canonical(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in roots:
                raise ValueError(f"roots: {name!r} is not installed, so it cannot be pinned") from None
            continue
        seen[key] = f"{dist.metadata['Name']}=={installed_version(name)}"
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values(), key=str.lower)


def repository_pins(name: str, chapters=None) -> list[str]:
    """The ``name==version`` lines of the pin file ``name`` beside the chapters' folder (none if absent)."""
    path = Path(chapters_dir(chapters)).parent / name
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text().splitlines() if "==" in line and not line.startswith("#")]


def requirements_text(roots=STUDENT_PACKAGES, *, what: str = "the student notebooks", chapters=None,
                      lab: bool = True) -> str:
    """A requirements file pinning ``roots`` and their dependencies exactly, with JupyterLab's pins if ``lab``."""
    header = (
        f"# Exact pins of what {what} need, as tested with the book (Python 3.11).\n"
        "# torch is the CPU build 2.13.0: a newer or unpinned torch pulls a CUDA build of several GB.\n"
    )
    pins = {_canonical(line.split("==")[0]): line for line in pinned_closure(roots)}
    for line in repository_pins(LAB_PINS, chapters) if lab else ():
        pins.setdefault(_canonical(line.split("==")[0]), line)
    return header + "\n".join(sorted(pins.values(), key=str.lower)) + "\n"


# --- the case bank and the wheel -----------------------------------------------------------


def write_case_bank(dest, chapters=None, *, seed: int = bank.PUBLIC_SEED) -> dict[str, str]:
    """Write the public case bank into the folder ``dest``: per exercise whose chapter is in
    ``chapters``, the cases of ``seed`` and the outputs of its reference solution on them.
    Returns ``{exercise id: file name}``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    folder = chapters_dir(chapters)
    files = {}
    for ex in EXERCISES.values():
        if not (folder / f"{ex.chapter}.ipynb").is_file():
            continue
        ref = load_reference(ex.chapter, ex.function, folder)
        cases = draw_cases(ex, seed)
        outcomes = [run_local(ex, ref, c) for c in cases]
        broken = [o for o in outcomes if o.kind != "returned"]
        if broken:
            raise RuntimeError(f"the reference solution of {ex.id} failed: {broken[0].error_type}: {broken[0].detail}")
        files[ex.id] = f"{ex.id}.pickle"
        bank.dump(dest / files[ex.id], ex.id, seed, cases, [o.value for o in outcomes])
    bank.write_index(dest, seed, files)
    return files


def pyproject_text(edition: str = "student edition: no solutions") -> str:
    """The staged package's ``pyproject.toml``: the repository's package, its dependencies pinned."""
    deps = ", ".join(f'"{d}=={installed_version(d)}"' for d in WHEEL_DEPENDENCIES)
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "l2bayes"
version = "{l2bayes.__version__}"
description = "Helpers for the course book 'L2 Regularization Is Secretly Bayesian' ({edition})"
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
dependencies = [{deps}]

[tool.setuptools]
package-dir = {{ "" = "src" }}

[tool.setuptools.packages.find]
where = ["src"]
include = ["l2bayes*"]

[tool.setuptools.package-data]
"l2bayes.exercises" = ["{bank.FOLDER}/*"]
"""


_PACKAGE_README = """# l2bayes, student edition

The helper package of the course book *L2 Regularization Is Secretly Bayesian*, without the
instructors' tools and without any reference solution. `l2bayes.exercises.check` compares an
answer with the public case bank shipped in `l2bayes/exercises/bank/` (fixed cases with the
expected outputs, and the named misconceptions of each exercise).
"""


def stage_package(staging, chapters=None, *, leave_out=INSTRUCTOR_ONLY, with_bank: bool = True,
                  edition: str = "student edition: no solutions") -> Path:
    """A copy of the package in ``staging/src/l2bayes``, ready for pip, with its own ``pyproject.toml``.

    ``leave_out`` names the modules and folders not copied (the instructors' tools, by default);
    ``with_bank`` adds the public case bank computed from ``chapters``. Returns ``staging``.
    """
    staging = Path(staging)
    source = Path(l2bayes.__file__).resolve().parent
    shutil.copytree(source, staging / "src" / "l2bayes",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", bank.FOLDER, *leave_out))
    if with_bank:
        write_case_bank(staging / "src" / "l2bayes" / "exercises" / bank.FOLDER, chapters)
    (staging / "pyproject.toml").write_text(pyproject_text(edition), encoding="utf-8")
    (staging / "README.md").write_text(_PACKAGE_README if with_bank else f"# l2bayes ({edition})\n", encoding="utf-8")
    return staging


def build_wheel(staging, out) -> Path:
    """Build the wheel of the staged package into the folder ``out`` with pip; return its path.

    ``--no-build-isolation`` uses this environment's pinned setuptools, so
    nothing is downloaded; ``SOURCE_DATE_EPOCH`` fixes the files' dates.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, PIP_NO_INPUT="1")
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
           "--wheel-dir", str(out), str(staging)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=staging)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not build the wheel:\n{done.stdout}\n{done.stderr}")
    wheels = sorted(out.glob("l2bayes-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one l2bayes wheel from pip, found {[w.name for w in wheels]}")
    return wheels[0]


def student_wheel(out, chapters=None) -> Path:
    """Stage the package with its case bank and build the student wheel into ``out``."""
    with tempfile.TemporaryDirectory(prefix="l2bayes-stage-") as tmp:
        return build_wheel(stage_package(Path(tmp) / "l2bayes", chapters), out)


# --- the bundle ----------------------------------------------------------------------------


def readme_text(wheel: str, notebooks) -> str:
    """The bundle's README: what is in it, then the two commands."""
    listing = "\n".join(f"- `notebooks/{name}`" for name in notebooks)
    return f"""# Exercises of *L2 Regularization Is Secretly Bayesian*: the student bundle

This folder holds everything you need to do the book's exercises on your own machine, offline:

{listing}
- `{wheel}`: the book's helper package `l2bayes`, with `check`, which gives instant feedback on
  your answers. It has no solutions: it compares your answer with a public bank of cases (inputs and
  expected outputs) and names the common mistakes it recognises.
- `requirements.txt`: the exact versions of the packages the notebooks use.
- `requirements-nodeps.txt`: laplace-torch and what it really needs, installed without the
  dependencies it declares (its torchvision does not work beside the CPU build of torch).

You need Python 3.11 and about 1.5 GB of disk space (mostly PyTorch, CPU build). On Windows write
`.venv\\Scripts\\python` where the commands say `.venv/bin/python`.

## Two commands

In this folder, set up a virtual environment with the pinned packages and the helper package (once):

```bash
python3.11 -m venv .venv && .venv/bin/python -m pip install --no-compile -r requirements.txt {wheel} && .venv/bin/python -m pip install --no-compile --no-deps -r requirements-nodeps.txt
```

(`--no-compile` leaves out compiling every module of every package up front, much of the
install's time; Python compiles a module the first time it is imported, and keeps the result.)

then open the notebooks:

```bash
.venv/bin/python -m jupyterlab notebooks
```

## Feedback and grading

Each exercise asks you to replace a stub (`raise NotImplementedError`) with your function; the cell
after it runs `check("<exercise id>", your_function)`, which prints what it checked, or the first
case that failed (inputs, expected value, your value), the mistake it recognises, and a hint.

`check` here uses the bank's fixed cases. Your instructor grades the cells tagged `solution`, on
fresh cases that you have not seen: an answer that is only right on the bank's cases does not pass.
Keep the `solution` tag on those cells and submit the notebook itself (`.ipynb`).
"""


def bundle_members(chapters=None, *, workdir) -> dict[str, bytes]:
    """The files of the bundle, by path inside the zip."""
    notebooks = student_notebooks(chapters)
    wheel = student_wheel(Path(workdir) / "wheel", chapters)
    members = {f"{FOLDER}/README.md": readme_text(wheel.name, notebooks).encode()}
    members[f"{FOLDER}/requirements.txt"] = requirements_text(chapters=chapters).encode()
    nodeps = Path(chapters_dir(chapters)).parent / NODEPS_PINS
    if nodeps.is_file():
        members[f"{FOLDER}/{NODEPS_PINS}"] = nodeps.read_bytes()
    members[f"{FOLDER}/{wheel.name}"] = wheel.read_bytes()
    for name, nb in notebooks.items():
        members[f"{FOLDER}/notebooks/{name}"] = notebook_text(nb).encode()
    return members


def write_bundle(out, chapters=None) -> Path:
    """Write ``l2bayes-student.zip`` into the folder ``out``; return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="l2bayes-bundle-") as tmp:
        return write_zip(out / BUNDLE_NAME, bundle_members(chapters, workdir=tmp))
