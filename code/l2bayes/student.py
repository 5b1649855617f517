"""Student notebooks and solution-free book sources, made from the chapter notebooks.

Three products, one transformation (:func:`transform_notebook`):

``student``
    ``make student``: each chapter with every solution cell replaced by a stub
    (same signature and docstring, body ``raise NotImplementedError``), the
    ``{solution-start}``...``{solution-end}`` blocks and ``{solution}``
    directives removed, outputs and metadata other than tags dropped, and
    ``assert check(...)`` turned into ``check(...);`` so that a stub prints
    "not implemented yet" instead of stopping *Run all*; cells tagged
    ``reference-check`` (the book's independent checks of its own reference)
    are dropped. The stubs keep the
    ``solution`` tag: the grader runs exactly those cells.
``hidden``
    The sources of a site for a graded term (``make book SOLUTIONS=hide``):
    the same stubs and removals, and after each stub a cell tagged
    ``remove-cell`` that loads the reference from the instructors' chapter at
    build time, so the rest of the chapter still runs; check cells get
    ``remove-output``; notebook metadata is cut to what Jupyter Book reads.
leaks
    :func:`find_solution_leaks` searches a built tree (pages, ``_sources``,
    notebooks, zips) for any line of any reference solution.

Run as ``python -m l2bayes.student notebooks|hidden-sources|leaks``; as a Sphinx
extension it puts the student notebooks and their zip into
``_static/student/`` of every HTML build.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import json
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from l2bayes.exercises.notebooks import (
    cell_source,
    cell_tags,
    chapters_dir,
    defined_function,
    is_solution_cell,
    read_notebook,
    solution_sources,
)

ZIP_NAME = "student-notebooks.zip"
MODES = ("student", "hidden")
#: Tag of a code cell that checks a reference solution against an independent
#: computation (autograd, another library): kept in the book, dropped from
#: student notebooks, where it would only call the stub.
REFERENCE_CHECK = "reference-check"
#: Never copied into the hidden sources: not book pages (the package, tests, scripts) or build state.
SKIP = (".git", ".github", ".ci", ".venv", "_build", ".jupyter_cache", "__pycache__", "*.egg-info",
        ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "tests", "code", "benchmarks", "scripts")
_MARKER = ".l2bayes-hidden-sources"
_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\{(?P<name>solution|solution-start|solution-end)\}")
_ASSERT_CHECK = re.compile(r"^(\s*)assert\s+(check\(.*\))\s*$", re.MULTILINE)
_MIN_SECRET = 12
#: Notebook metadata the hidden sources keep: what Jupyter Book and MyST-NB read.
_BUILD_METADATA = ("kernelspec", "language_info", "jupytext", "mystnb", "myst", "kernel_info")


# --- the transformation ---------------------------------------------------------------------


def stub_source(source: str, *, where: str = "solution cell") -> str:
    """The stub of a solution cell: its imports, then its ``def`` with docstring and ``raise NotImplementedError``.

    Raises ``ValueError`` naming ``where`` unless the cell holds imports and exactly one ``def``.
    """
    name = defined_function(source, where=where)
    tree = ast.parse(source)
    imports = [ast.get_source_segment(source, n) for n in tree.body if not isinstance(n, ast.FunctionDef)]
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    stub = copy.copy(fn)
    body = [fn.body[0]] if ast.get_docstring(fn) is not None else []
    body += ast.parse(f'raise NotImplementedError("{name}: write your solution here")').body
    stub.body, stub.decorator_list = body, []
    return "\n".join(imports) + ("\n\n\n" if imports else "") + ast.unparse(stub)


class _Blocks:
    """Drops solution markdown line by line; its state runs across the cells of a notebook."""

    def __init__(self):
        self.fence: str | None = None  # skipping a directive opened with this fence
        self.gated = False  # between {solution-start} and {solution-end}
        self._after = False

    def filter(self, text: str) -> str:
        kept = []
        for line in text.splitlines(keepends=True):
            if self.fence is not None:
                stripped = line.strip()
                if stripped and set(stripped) == {self.fence[0]} and len(stripped) >= len(self.fence):
                    self.fence, self.gated = None, self._after
                continue
            m = _OPEN.match(line)
            if m:
                self.fence = m["fence"]
                self._after = {"solution-start": True, "solution-end": False}.get(m["name"], self.gated)
            elif not self.gated:
                kept.append(line)
        return "".join(kept)


def strip_solution_markdown(text: str, *, where: str = "text") -> str:
    """``text`` without ``{solution}`` directives and ``{solution-start}``...``{solution-end}`` blocks."""
    blocks = _Blocks()
    out = blocks.filter(text)
    if blocks.fence is not None or blocks.gated:
        raise ValueError(f"{where} has a solution block that is never closed")
    return out


def transform_notebook(nb: dict, chapter: str, *, mode: str = "student", chapters=None) -> dict:
    """A copy of chapter notebook ``nb`` without solutions; see the module docstring for ``mode``.

    ``chapter`` (the notebook stem) and ``chapters`` (the folder of the
    original notebooks) are what the hidden mode's loader cells read the
    reference from.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    blocks = _Blocks()
    cells = []
    for index, cell in enumerate(nb["cells"]):
        where = f"cell {index} of {chapter}"
        kind = cell.get("cell_type")
        if kind == "markdown":
            text = blocks.filter(cell_source(cell))
            if text.strip():
                cells.append(_keep(cell, mode, source=text))
        elif is_solution_cell(cell):
            function = defined_function(cell_source(cell), where=where)
            cells.append(_code(cell, stub_source(cell_source(cell), where=where), ["solution"]))
            if mode == "hidden":
                cells.append(_loader(cell, chapter, function, chapters))
        elif blocks.gated or blocks.fence is not None:
            if kind == "code":
                raise ValueError(f"{where} is a code cell inside a solution block but is not tagged 'solution'")
        elif kind == "code" and REFERENCE_CHECK in cell_tags(cell) and mode == "student":
            continue  # verifies the reference against an independent computation; not for students
        elif kind == "code":
            cells.append(_check_cell(cell, mode))
        else:
            cells.append(_keep(cell, mode))
    if blocks.gated or blocks.fence is not None:
        raise ValueError(f"chapter {chapter!r} has a solution block that is never closed")
    meta = nb.get("metadata") or {}
    keep = ("kernelspec", "language_info") if mode == "student" else _BUILD_METADATA
    out = dict(nb, cells=cells, metadata={k: copy.deepcopy(meta[k]) for k in keep if k in meta})
    if mode == "student":
        out["metadata"]["l2bayes"] = {"chapter": chapter}
    return out


def _keep(cell: dict, mode: str, source: str | None = None) -> dict:
    out = copy.deepcopy(cell)
    if source is not None:
        out["source"] = source
    if mode == "student":
        out["metadata"] = {"tags": cell_tags(cell)} if cell_tags(cell) else {}
    if out.get("cell_type") == "code":
        out["outputs"], out["execution_count"] = [], None
    return out


def _code(cell: dict, source: str, tags: list) -> dict:
    out = {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags}, "outputs": [], "source": source}
    if "id" in cell:
        out["id"] = cell["id"]
    return out


def _loader(cell: dict, chapter: str, function: str, chapters) -> dict:
    folder = str(chapters_dir(chapters).resolve())
    source = (
        "# Hidden on the site: the reference solution, loaded from the instructors' chapter\n"
        "# at build time, so that the cells below run as in the full book.\n"
        "from l2bayes.exercises import load_reference\n\n"
        f"{function} = load_reference({chapter!r}, {function!r}, chapters={folder!r})\n"
    )
    out = _code(cell, source, ["remove-cell"])
    if "id" in cell:
        out["id"] = f"{cell['id']}-reference"[:64]
    return out


def _check_cell(cell: dict, mode: str) -> dict:
    out = _keep(cell, mode)
    source = cell_source(cell)
    if _ASSERT_CHECK.search(source):
        if mode == "student":
            out["source"] = _ASSERT_CHECK.sub(r"\1\2;", source)
        else:
            tags = cell_tags(out)
            out.setdefault("metadata", {})["tags"] = tags + ["remove-output"] * ("remove-output" not in tags)
    return out


# --- writing the products -------------------------------------------------------------------


def write_student_notebooks(out, chapters=None) -> list[Path]:
    """Write the student version of every chapter notebook, and their zip, into ``out``."""
    folder = chapters_dir(chapters)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = transform_notebook(read_notebook(path), path.stem, mode="student", chapters=folder)
        target = out / path.name
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
    archive = out / ZIP_NAME
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in written:
            info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return written + [archive]


def write_hidden_sources(root, dest, *, chapters=None) -> list[Path]:
    """Copy the book sources at ``root`` to ``dest`` with every solution removed.

    Notebooks are transformed in the hidden mode (stubs plus hidden reference
    loaders), Markdown files lose their solution directives; ``tests`` and
    build or environment folders are not copied. ``dest`` must not exist yet,
    or be an earlier output of this function (it is then replaced).

    Returns the notebooks and Markdown files that were changed.
    """
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if not (root / "_config.yml").is_file():
        raise ValueError(f"root must be a book folder with a _config.yml, got {str(root)!r}")
    if dest == root or root.is_relative_to(dest):
        raise ValueError(f"dest must be outside the book sources, got {str(dest)!r}")
    if dest.exists():
        if not (dest / _MARKER).is_file():
            raise ValueError(f"dest {str(dest)!r} exists and was not written by write_hidden_sources")
        shutil.rmtree(dest)
    skip = set(SKIP)
    if dest.is_relative_to(root):
        skip.add(dest.relative_to(root).parts[0])
    folder = chapters_dir(chapters if chapters is not None else root / "chapters")
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(*skip))
    changed = []
    for path in sorted(dest.rglob("*.ipynb")):
        nb = read_notebook(path)
        new = transform_notebook(nb, path.stem, mode="hidden", chapters=folder)
        if new != nb:
            path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    for path in sorted(dest.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = strip_solution_markdown(text, where=str(path))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    (dest / _MARKER).write_text(f"Written from {root} by l2bayes.student.write_hidden_sources.\n")
    return changed


# --- finding leaks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    """A line of a reference solution found in a built file."""

    path: str
    chapter: str
    function: str
    line: str


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def solution_secrets(chapters=None) -> list[tuple[str, str, str]]:
    """``(chapter, function, line)`` for each line of a reference solution's body.

    The body is what follows the docstring (the stubs show the signature and
    docstring). Lines are compared with all whitespace removed; lines shorter
    than 12 characters, or that also appear outside the solution cells of some
    chapter, are not secret.
    """
    notebooks = [(p.stem, read_notebook(p)) for p in sorted(chapters_dir(chapters).glob("*.ipynb"))]
    public = "\n".join(
        _squash(cell_source(c)) for _, nb in notebooks for c in nb["cells"] if not is_solution_cell(c)
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


def find_solution_leaks(tree, chapters=None) -> list[Leak]:
    """Every place in the files under ``tree`` (zips opened) where a line of a reference solution appears.

    An empty list means no solution code is in the tree. Meant for a site
    built with ``SOLUTIONS=hide``: ``assert find_solution_leaks("_build/html") == []``.
    """
    tree = Path(tree)
    if not tree.is_dir():
        raise ValueError(f"tree must be a folder, got {str(tree)!r}")
    secrets = solution_secrets(chapters)
    leaks = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        rel = str(path.relative_to(tree))
        members = [(rel, path.read_bytes())]
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [(f"{rel}!{m}", zf.read(m)) for m in zf.namelist()]
        for name, data in members:
            readings = _readings(name, data)
            for chapter, function, line in secrets:
                if any(line in r for r in readings):
                    leaks.append(Leak(name, chapter, function, line))
    return leaks


# --- Sphinx and the command line ------------------------------------------------------------


def add_student_downloads(app, exc) -> None:
    """Sphinx ``build-finished`` hook: student notebooks and their zip into ``_static/student/``."""
    if exc is None and app.builder.format == "html":
        write_student_notebooks(Path(app.outdir) / "_static" / "student", chapters=app.config.l2bayes_chapters or None)


def setup(app):
    app.add_config_value("l2bayes_chapters", "", "env")
    app.connect("build-finished", add_student_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2bayes.student", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("notebooks", help="write the student notebooks and their zip")
    p.add_argument("--out", default="_build/student")
    p.add_argument("--chapters", help="folder of chapter notebooks (default: the package's repository)")
    p = sub.add_parser("hidden-sources", help="copy the book sources with every solution removed")
    p.add_argument("root")
    p.add_argument("dest")
    p = sub.add_parser("leaks", help="search a built tree for reference solution code; exit 1 if found")
    p.add_argument("tree")
    p.add_argument("--chapters")
    args = parser.parse_args(argv)
    try:
        if args.command == "notebooks":
            for path in write_student_notebooks(args.out, args.chapters):
                print(path)
        elif args.command == "hidden-sources":
            changed = write_hidden_sources(args.root, args.dest)
            print(f"wrote {args.dest}: {len(changed)} files without their solutions")
        else:
            leaks = find_solution_leaks(args.tree, args.chapters)
            for leak in leaks:
                print(f"{leak.path}: {leak.chapter} {leak.function}: {leak.line}")
            print(f"{len(leaks)} solution lines found under {args.tree}")
            return 1 if leaks else 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
