"""Strip outputs and stray metadata from chapter notebooks, or check that they are clean.

Chapters are committed without outputs, execution counts or editor metadata,
so that diffs show only what an author changed. Usage::

    python scripts/clean_notebooks.py chapters/*.ipynb          # rewrite in place
    python scripts/clean_notebooks.py --check chapters/*.ipynb  # exit 1 if any is dirty

Kept: notebook metadata ``kernelspec`` and ``language_info.name``; cell
metadata ``tags`` (e.g. ``remove-cell``, ``solution``) and ``mystnb`` (figure
captions and alt text for the website).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import nbformat

KEEP_CELL_METADATA = ("tags", "mystnb")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def clean(nb: dict) -> dict:
    """Return a cleaned deep copy of the notebook ``nb`` (a JSON dict)."""
    nb = copy.deepcopy(nb)
    nb["metadata"] = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for cell in nb.get("cells", []):
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def problems(path: Path) -> list[str]:
    """What is not clean about the notebook at ``path`` (empty when clean)."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            found.append(f"cell {i}: has outputs or an execution count")
        extra = set(cell.get("metadata", {})) - set(KEEP_CELL_METADATA)
        if extra:
            found.append(f"cell {i}: metadata keys {sorted(extra)}")
    if nb.get("metadata") != clean(nb)["metadata"]:
        found.append(f"notebook metadata {sorted(nb.get('metadata', {}))} is not the clean form")
    if not found and text != _dumps(clean(nb)):
        found.append("formatting differs from nbformat's (run this script without --check)")
    return found


def _dumps(nb: dict) -> str:
    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report dirty notebooks, change nothing")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    dirty = 0
    for path in args.notebooks:
        if args.check:
            for problem in problems(path):
                print(f"{path}: {problem}")
                dirty = 1
        else:
            path.write_text(_dumps(clean(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
    if dirty:
        print("Run `make clean-notebooks` to clean them.")
    return dirty


if __name__ == "__main__":
    sys.exit(main())
