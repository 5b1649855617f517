"""Chapter notebooks without their solutions: stubs for the student, loaders for the hidden site.

One transformation (:func:`transform_notebook`), two modes:

``student``
    Each solution cell replaced by a stub (same imports, signature and
    docstring, body ``raise NotImplementedError``), the
    ``{solution-start}``...``{solution-end}`` blocks and ``{solution}``
    directives removed, outputs and metadata other than tags dropped, and
    ``assert check(...)`` turned into ``check(...);`` so that a stub prints
    "not implemented yet" instead of stopping *Run all*; cells tagged
    ``reference-check`` (the book's independent checks of its own reference)
    are dropped. The stubs keep the ``solution`` tag: the grader runs exactly
    those cells.
``hidden``
    For the sources of a site for a graded term (:mod:`.hidden`): the same
    stubs and removals, and after each stub a cell tagged ``remove-cell`` that
    loads the reference from the instructors' chapter at build time, so the
    rest of the chapter still runs; check cells get ``remove-output``;
    notebook metadata is cut to what Jupyter Book reads.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import zipfile
from pathlib import Path

from l2bayes.exercises.notebooks import (
    cell_source,
    cell_tags,
    chapters_dir,
    defined_function,
    is_solution_cell,
    read_notebook,
)

ZIP_NAME = "student-notebooks.zip"
MODES = ("student", "hidden")
#: Tag of a code cell that checks a reference solution against an independent
#: computation (autograd, another library): kept in the book, dropped from
#: student notebooks, where it would only call the stub.
REFERENCE_CHECK = "reference-check"
_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\{(?P<name>solution|solution-start|solution-end)\}")
_ASSERT_CHECK = re.compile(r"^(\s*)assert\s+(check\(.*\))\s*$", re.MULTILINE)
#: Notebook metadata the hidden sources keep: what Jupyter Book and MyST-NB read.
_BUILD_METADATA = ("kernelspec", "language_info", "jupytext", "mystnb", "myst", "kernel_info")
#: Zip members get this date, so that the same notebooks give the same zip.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)



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


# --- writing the student notebooks ----------------------------------------------------------


def student_notebooks(chapters=None) -> dict[str, dict]:
    """The student version of every chapter notebook, by file name, in book order."""
    folder = chapters_dir(chapters)
    return {
        path.name: transform_notebook(read_notebook(path), path.stem, mode="student", chapters=folder)
        for path in sorted(folder.glob("*.ipynb"))
    }


def notebook_text(nb: dict) -> str:
    """A notebook as the JSON text it is written with."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write_zip(archive, members: dict[str, bytes]) -> Path:
    """Write ``members`` (name -> bytes) into the zip ``archive`` with fixed dates: same input, same bytes."""
    archive = Path(archive)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name.endswith(("run_autograder", ".sh")) else 0o644) << 16
            zf.writestr(info, data)
    return archive


def write_student_notebooks(out, chapters=None) -> list[Path]:
    """Write the student version of every chapter notebook, and their zip, into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in student_notebooks(chapters).items():
        target = out / name
        target.write_text(notebook_text(nb), encoding="utf-8")
        written.append(target)
    archive = write_zip(out / ZIP_NAME, {p.name: p.read_bytes() for p in written})
    return written + [archive]
