"""The sources of a site for a graded term (``make book SOLUTIONS=hide``): the book without solutions.

:func:`write_hidden_sources` copies the book, turns every chapter into its
``hidden`` form (:func:`.notebooks.transform_notebook`: stubs, and hidden
cells that load the reference at build time so the chapter still runs) and
removes the solution directives from the Markdown pages.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from l2bayes.exercises.notebooks import chapters_dir, read_notebook
from l2bayes.publishing.notebooks import strip_solution_markdown, transform_notebook

#: Never copied into the hidden sources: not book pages (the package, tests, scripts) or build state.
SKIP = (".git", ".github", ".ci", ".venv", "_build", ".jupyter_cache", "__pycache__", "*.egg-info",
        ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "tests", "code", "benchmarks", "scripts")
_MARKER = ".l2bayes-hidden-sources"


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
    (dest / _MARKER).write_text(f"Written from {root} by l2bayes.publishing.write_hidden_sources.\n")
    return changed


