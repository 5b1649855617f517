"""The leak audit: is any line of any reference solution in a built tree?

:func:`find_solution_leaks` reads every file under a folder, and every member
of every zip or wheel in it (zips inside zips too, so the wheel inside the
student bundle is read), and looks for each line of each reference solution
body, with whitespace removed, in the raw text, in HTML with its tags
stripped, and in the strings of JSON files (notebooks).
"""

from __future__ import annotations

import ast
import html
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from l2bayes.exercises.notebooks import cell_source, chapters_dir, is_solution_cell, read_notebook, solution_sources

_MIN_SECRET = 12
#: Archives opened by the audit, by file name ending.
ARCHIVES = (".zip", ".whl")
#: How deep archives inside archives are opened (the bundle's wheel is at depth 2).
_MAX_NESTING = 4



@dataclass(frozen=True)
class Leak:
    """A line of a reference solution found in a built file."""

    path: str
    chapter: str
    function: str
    line: str


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def library_text() -> str:
    """The squashed lines of the helper library: every module of the package outside ``exercises/``."""
    root = Path(__file__).resolve().parents[1]
    modules = sorted(p for p in root.rglob("*.py") if "exercises" not in p.relative_to(root).parts)
    return "\n".join(_squash(line) for p in modules for line in p.read_text(encoding="utf-8").splitlines())


def solution_secrets(chapters=None) -> list[tuple[str, str, str]]:
    """``(chapter, function, line)`` for each line of a reference solution's body.

    The body is what follows the docstring (the stubs show the signature and
    docstring). Lines are compared with all whitespace removed. Not secret:
    lines shorter than 12 characters, lines that also appear outside the
    solution cells of some chapter, and lines of the helper library that the
    chapters import and the book publishes (:func:`library_text`; for example
    ``l2bayes.ridge_lam_for_prior``, used in chapters 1 and 2, is one line that
    an exercise of chapter 3 asks for). The exercise specs are not part of that
    library: a reference line pasted into a spec is found.
    """
    notebooks = [(p.stem, read_notebook(p)) for p in sorted(chapters_dir(chapters).glob("*.ipynb"))]
    public = "\n".join(
        [_squash(cell_source(c)) for _, nb in notebooks for c in nb["cells"] if not is_solution_cell(c)]
        + [library_text()]
    )
    secrets = []
    for stem, nb in notebooks:
        for source in solution_sources(nb):
            tree = ast.parse(source)
            for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
                body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
                for stmt in body:
                    for line in ast.get_source_segment(source, stmt).splitlines():
                        key = _squash(line)
                        if len(key) >= _MIN_SECRET and key not in public:
                            secrets.append((stem, fn.name, key))
    return secrets


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)


def _readings(name: str, data: bytes) -> list[str]:
    """The squashed texts a file can show a reader: raw, without HTML tags, JSON strings joined."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    out = [_squash(text)]
    if name.endswith((".html", ".htm")):
        out.append(_squash(html.unescape(re.sub(r"<[^>]*>", "", text))))
    if text.lstrip().startswith(("{", "[")):
        try:
            out.append(_squash("\n".join(_strings(json.loads(text)))))
        except ValueError:
            pass
    return out


def _members(name: str, data: bytes, depth: int = 0):
    """``(name, bytes)`` of a file and, for an archive, of everything inside it (``outer!inner`` names)."""
    if not name.lower().endswith(ARCHIVES):
        yield name, data
        return
    if depth >= _MAX_NESTING:
        raise ValueError(f"archive {name!r} is nested more than {_MAX_NESTING} deep")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        yield name, data
        return
    with zf:
        for member in zf.namelist():
            yield from _members(f"{name}!{member}", zf.read(member), depth + 1)


def find_solution_leaks(tree, chapters=None) -> list[Leak]:
    """Every place in the files under ``tree`` (archives opened) where a line of a reference solution appears.

    An empty list means no solution code is in the tree. Meant for a site
    built with ``SOLUTIONS=hide`` and for the student bundle:
    ``assert find_solution_leaks("_build/html") == []``.
    """
    tree = Path(tree)
    if not tree.is_dir():
        raise ValueError(f"tree must be a folder, got {str(tree)!r}")
    secrets = solution_secrets(chapters)
    leaks = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        for name, data in _members(str(path.relative_to(tree)), path.read_bytes()):
            readings = _readings(name, data)
            for chapter, function, line in secrets:
                if any(line in r for r in readings):
                    leaks.append(Leak(name, chapter, function, line))
    return leaks
