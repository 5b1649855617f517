"""The chapter notebooks: names, clean committed form, setup cell, table of contents."""

import ast
import copy
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "scripts" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def test_there_are_chapters():
    assert CHAPTERS, "no notebooks in chapters/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_name_is_numbered_snake_case(path):
    assert re.fullmatch(r"\d{2}_[a-z0-9]+(_[a-z0-9]+)*\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_clean_metadata(path):
    assert clean_notebooks.problems(path) == []


def test_the_clean_check_catches_a_dirty_notebook(tmp_path):
    nb = copy.deepcopy(_load(CHAPTERS[0]))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    code["execution_count"] = 3
    code["metadata"]["scrolled"] = True
    nb["metadata"]["widgets"] = {}
    dirty = tmp_path / "dirty.ipynb"
    dirty.write_text(json.dumps(nb))
    found = "\n".join(clean_notebooks.problems(dirty))
    assert "outputs" in found and "scrolled" in found and "notebook metadata" in found
    clean_notebooks.main([str(dirty)])
    assert clean_notebooks.problems(dirty) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_starts_with_one_hidden_setup_cell(path):
    cells = _load(path)["cells"]
    first = cells[0]
    assert first["cell_type"] == "code"
    assert "remove-cell" in first["metadata"].get("tags", [])
    assert "setup_notebook(" in "".join(first["source"])
    others = [c for c in cells[1:] if "setup_notebook(" in "".join(c["source"])]
    assert not others, "setup_notebook is called only in the first cell"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_is_in_the_table_of_contents(path):
    assert f"chapters/{path.stem}" in _toc_files()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_solution_cells_define_exactly_one_function(path):
    for cell in _load(path)["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
            assert len(defs) == 1, "".join(cell["source"])[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_figures_have_captions_and_alt_text(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code" and "plt.show()" in "".join(cell["source"]):
            meta = cell["metadata"].get("mystnb", {})
            assert meta.get("figure", {}).get("caption"), "figure without caption"
            assert meta.get("figure", {}).get("name"), "figure without a label"
            assert meta.get("image", {}).get("alt"), "figure without alt text"
