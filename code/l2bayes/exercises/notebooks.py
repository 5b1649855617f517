"""Reading exercises out of notebooks: solution cells, the imports they need, references.

The convention (see the book's authoring notes): the reference solution of an
exercise is one code cell tagged ``solution`` that holds exactly one top-level
``def`` (and optionally imports). Names the cell uses but does not define come
from imports elsewhere in the notebook (``import numpy as np`` in the chapter's
import cell); :func:`program` gathers just those imports, so a solution can be
run without running the rest of its notebook.

Notebooks are read and validated with ``nbformat`` (version 4) and held as its
``NotebookNode`` (a ``dict``). The module needs nothing else beyond the
standard library, and imports nothing of ``l2bayes``: the batch grader places
this file beside its worker inside the sandbox, where a submission is parsed.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import re
from functools import lru_cache
from pathlib import Path

import nbformat

#: Environment variable that points :func:`chapters_dir` at another folder (tests, graders).
CHAPTERS_ENV = "L2BAYES_CHAPTERS"
#: The cell tag that marks a solution cell.
SOLUTION_TAG = "solution"

_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.MULTILINE)


def chapters_dir(chapters=None) -> Path:
    """The folder of chapter notebooks.

    ``chapters`` if given, else ``$L2BAYES_CHAPTERS``, else ``chapters/`` of the
    repository the package is installed from (``code/l2bayes/../../chapters``).
    """
    if chapters is None:
        chapters = os.environ.get(CHAPTERS_ENV) or Path(__file__).resolve().parents[3] / "chapters"
    path = Path(chapters)
    if not path.is_dir():
        raise ValueError(
            f"chapters must be a folder of chapter notebooks, got {str(path)!r} "
            f"(set {CHAPTERS_ENV} or pass chapters=...)"
        )
    return path


def chapter_path(chapter: str, chapters=None) -> Path:
    """Path of the notebook ``<chapter>.ipynb`` in :func:`chapters_dir`."""
    path = chapters_dir(chapters) / f"{chapter}.ipynb"
    if not path.is_file():
        raise ValueError(f"chapter {chapter!r} has no notebook at {path}")
    return path


def parse_notebook(data, *, where: str = "the notebook"):
    """An nbformat-4 notebook from ``data`` (bytes or str), validated against nbformat's schema.

    Raises ``ValueError`` saying what is wrong (not UTF-8, not JSON, nested too
    deeply, not version 4, or invalid: a cell's metadata that is not a dict, a
    source list holding numbers, ...). The schema is checked on the raw JSON,
    before nbformat builds anything from it, since nbformat's own reader fails
    with ``TypeError`` on some malformed notebooks.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)
        raw = json.loads(text)
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not UTF-8 text") from None
    except RecursionError:
        raise ValueError(f"{where} is JSON nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"{where} is not JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise ValueError(f"{where} is not a notebook: no list of cells")
    if raw.get("nbformat") != 4:
        raise ValueError(f"{where} is not an nbformat 4 notebook (nbformat = {str(raw.get('nbformat'))[:20]})")
    try:
        nbformat.validate(raw, version=4)
        return nbformat.from_dict(raw)
    except RecursionError:
        raise ValueError(f"{where} is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - ValidationError and whatever a malformed notebook raises
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{where} is not a valid nbformat 4 notebook: {first[:300]}") from None


def read_notebook(path):
    """Load and validate the notebook file ``path`` (see :func:`parse_notebook`).

    For trusted files (the chapters); the batch grader reads submissions with
    its own size and file-type checks and parses them only inside its sandbox.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"path {str(path)!r} is not a readable notebook: {exc}") from None
    return parse_notebook(data, where=f"path {str(path)!r}")


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def cell_tags(cell: dict) -> list:
    """A cell's tags (an empty list when it has none, or they are malformed)."""
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return tags if isinstance(tags, list) else []


def is_solution_cell(cell: dict) -> bool:
    """Whether ``cell`` is a code cell tagged ``solution``."""
    return isinstance(cell, dict) and cell.get("cell_type") == "code" and SOLUTION_TAG in cell_tags(cell)


def solution_sources(nb: dict) -> list[str]:
    """Sources of the solution cells, in notebook order."""
    return [cell_source(c) for c in nb["cells"] if is_solution_cell(c)]


def strip_magics(source: str) -> str:
    """Comment out IPython magics and shell escapes (``%...``, ``!...``) so the code is plain Python."""
    return _MAGIC.sub(r"\1# \2", source)


def defined_function(source: str, *, where: str = "solution cell") -> str:
    """Name of the single top-level ``def`` of a solution cell that holds only imports and that def.

    Raises ``ValueError`` naming ``where`` when the cell does not follow the convention.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"{where} is not valid Python: {exc}") from None
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    others = [node for node in tree.body if not isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    if len(defs) != 1 or others:
        found = ", ".join(type(n).__name__ for n in tree.body) or "nothing"
        raise ValueError(f"{where} must hold imports and exactly one top-level def; found {found}")
    return defs[0].name


def defines(source: str, name: str) -> bool:
    """Whether ``source`` appears to define ``name`` at top level (works on invalid code too)."""
    return re.search(rf"^(async\s+)?def\s+{re.escape(name)}\s*\(", source, re.MULTILINE) is not None


def needed_imports(nb: dict, sources: list[str]) -> list[str]:
    """Import statements from ``nb``'s other code cells that bind a name used in ``sources``.

    Each returned statement imports one name, so an import that fails (say of
    a package a grader blocks) costs only that name. ``from m import *`` is
    never included.
    """
    used = set()
    for src in sources:
        try:
            used |= {n.id for n in ast.walk(ast.parse(strip_magics(src))) if isinstance(n, ast.Name)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # e.g. 1+1+...+1, nested too deep
            continue
    used -= set(dir(builtins))
    statements: list[str] = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_solution_cell(cell):
            continue
        try:
            tree = ast.parse(strip_magics(cell_source(cell)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            for stmt in _single_imports(node):
                bound = stmt.names[0].asname or stmt.names[0].name.split(".")[0]
                if bound in used:
                    text = ast.unparse(stmt)
                    if text not in statements:
                        statements.append(text)
    return statements


def _single_imports(node) -> list:
    if isinstance(node, ast.Import):
        return [ast.Import(names=[alias]) for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.names[0].name != "*":
        return [ast.ImportFrom(module=node.module, names=[alias], level=0) for alias in node.names]
    return []


def program(nb: dict, sources: list[str]) -> list[str]:
    """The code to run for ``sources``: the imports they need, one per entry, then the sources."""
    return needed_imports(nb, sources) + [strip_magics(s) for s in sources]


def submission_code(nb: dict) -> list[tuple[str, str]]:
    """``(name, code)`` pairs a grader runs of a submission: the needed imports, then the solution cells."""
    sources = solution_sources(nb)
    code = program(nb, sources)
    n_imports = len(code) - len(sources)
    names = [f"<import {c.strip()}>" for c in code[:n_imports]]
    names += [f"<solution cell {k + 1}>" for k in range(len(sources))]
    return list(zip(names, code))


def defined_names(source: str) -> list[str]:
    """Names of the top-level functions ``source`` appears to define (works on invalid code too)."""
    return re.findall(r"^(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", source, re.MULTILINE)


def notebook_chapter(nb) -> str | None:
    """The chapter a notebook says it belongs to (``metadata.l2bayes.chapter``), if it says so."""
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    meta = meta.get("l2bayes") if isinstance(meta, dict) else None
    chapter = meta.get("chapter") if isinstance(meta, dict) else None
    return chapter if isinstance(chapter, str) and len(chapter) <= 200 else None


def load_reference(chapter: str, function: str, chapters=None):
    """The reference solution ``function`` from the solution cells of ``chapter``.

    The solution cell is run, with the imports it needs from its notebook, in
    a fresh namespace; the rest of the chapter is not run.

    Raises ``ValueError`` naming the argument when the chapter does not exist
    or no solution cell defines ``function``.
    """
    path = chapter_path(chapter, chapters)
    return _load_reference(str(path), path.stat().st_mtime_ns, function)


@lru_cache(maxsize=64)
def _load_reference(path: str, mtime_ns: int, function: str):
    nb = read_notebook(path)
    cells = [s for s in solution_sources(nb) if defines(s, function)]
    if len(cells) != 1:
        raise ValueError(
            f"function {function!r}: expected one solution cell defining it in {path}, found {len(cells)}"
        )
    namespace: dict = {"__name__": f"l2bayes_reference_{Path(path).stem}"}
    for code in program(nb, cells):
        exec(compile(code, f"<reference {Path(path).name}: {function}>", "exec"), namespace)
    return namespace[function]
