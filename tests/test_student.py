"""Tests of l2bayes.publishing: stubs, student notebooks, solution-free sources, the leak finder."""

from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from l2bayes.exercises import evaluate
from l2bayes.exercises.notebooks import cell_source, read_notebook
from l2bayes.publishing import (
    BUNDLE_NAME,
    ZIP_NAME,
    add_student_downloads,
    add_student_needs,
    find_solution_leaks,
    strip_solution_markdown,
    stub_source,
    transform_notebook,
    write_hidden_sources,
    write_student_notebooks,
)
from l2bayes.publishing.__main__ import main

BOOK = Path(__file__).parent / "submissions" / "book"
CHAPTERS = BOOK / "chapters"
REAL_CHAPTERS = Path(__file__).parents[1] / "chapters"
SECRETS = ("SECRET-", "lam * (theta - np.asarray(centre", "0.5 * d * np.log", "2 * noise_std**2 / (n")


def _chapter() -> dict:
    return read_notebook(CHAPTERS / "01_prior_to_penalty.ipynb")


def _run(source: str) -> dict:
    namespace: dict = {}
    exec(source, namespace)
    return namespace


def test_a_stub_keeps_signature_docstring_and_imports_but_not_the_body():
    source = (
        "import numpy as np\nfrom math import pi\n\n\n@decorated\n"
        "def f(theta, lam=0.5, *, centre=None):\n    '''Docstring.\n\n    More.'''\n"
        "    secret = np.sum(theta) * pi\n    return secret\n"
    )
    stub = stub_source(source)
    assert "secret" not in stub and "decorated" not in stub
    assert stub.startswith("import numpy as np\nfrom math import pi\n")
    fn = _run(stub)["f"]
    original = inspect.signature(_run(source.replace("@decorated\n", ""))["f"])
    assert inspect.signature(fn) == original
    assert fn.__doc__ == "Docstring.\n\n    More."
    with pytest.raises(NotImplementedError, match="f: write your solution here"):
        fn(1.0)


def test_a_solution_cell_outside_the_convention_is_refused():
    for bad in ("x = 1\n\ndef f():\n    pass", "def f():\n    pass\n\ndef g():\n    pass", "def f(:"):
        with pytest.raises(ValueError, match="cell 3"):
            stub_source(bad, where="cell 3")


def test_the_student_notebook_has_stubs_and_no_solution_anywhere():
    nb = transform_notebook(_chapter(), "01_prior_to_penalty", mode="student", chapters=CHAPTERS)
    text = json.dumps(nb, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text
    for public in ("PUBLIC-AFTER-END-2", "PUBLIC-AFTER-THINK", "PUBLIC-SUMMARY", "{exercise}"):
        assert public in text
    assert "{solution" not in text
    assert nb["metadata"] == {**{k: _chapter()["metadata"][k] for k in ("kernelspec", "language_info")},
                              "l2bayes": {"chapter": "01_prior_to_penalty"}}
    stubs = [c for c in nb["cells"] if c["metadata"].get("tags") == ["solution"]]
    assert len(stubs) == 4 and all("raise NotImplementedError" in cell_source(c) for c in stubs)
    checks = [cell_source(c) for c in nb["cells"] if "check(" in cell_source(c) and "import" not in cell_source(c)]
    assert checks == ['check("ch01-penalty-grad", penalty_grad);', 'check("ch01-neg-log-prior", neg_log_prior);',
                      'check("ch01-mse-weight-decay", mse_weight_decay);',
                      'check("ch01-prior-from-weight-decay", prior_std_answer);']
    assert all(c.get("outputs", []) == [] for c in nb["cells"])


def test_a_student_runs_a_stub_and_is_told_it_is_not_implemented(capsys):
    nb = transform_notebook(_chapter(), "01_prior_to_penalty", mode="student", chapters=CHAPTERS)
    namespace = {"np": __import__("numpy"), "check": lambda i, f: print(evaluate(i, f, chapters=CHAPTERS).message)}
    for c in nb["cells"]:
        if "solution" in c["metadata"].get("tags", []) or cell_source(c).startswith("check("):
            exec(cell_source(c), namespace)
    out = capsys.readouterr().out
    assert out.count("is not implemented yet") == 4


def test_student_notebooks_and_zip_are_written_without_leaks(tmp_path):
    written = write_student_notebooks(tmp_path / "student", chapters=CHAPTERS)
    assert [p.name for p in written] == ["01_prior_to_penalty.ipynb", ZIP_NAME]
    with zipfile.ZipFile(written[-1]) as zf:
        assert zf.namelist() == ["01_prior_to_penalty.ipynb"]
    assert find_solution_leaks(tmp_path / "student", chapters=CHAPTERS) == []


def test_the_leak_finder_sees_solutions_in_pages_sources_notebooks_and_zips(tmp_path):
    pygments = pytest.importorskip("pygments")
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    solution = cell_source(_chapter()["cells"][5])
    (tmp_path / "page.html").write_text(pygments.highlight(solution, PythonLexer(), HtmlFormatter()))
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "ch.ipynb").write_text(json.dumps(_chapter()))
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        zf.writestr("inner.ipynb", json.dumps(_chapter()))
    (tmp_path / "clean.html").write_text("<p>penalty_grad(theta, lam, centre)</p>")
    leaks = find_solution_leaks(tmp_path, chapters=CHAPTERS)
    assert {leak.path for leak in leaks} == {"page.html", "_sources/ch.ipynb", "all.zip!inner.ipynb"}
    assert {leak.function for leak in leaks} == {"penalty_grad", "neg_log_prior", "mse_weight_decay", "prior_std_answer"}
    assert main(["leaks", str(tmp_path), "--chapters", str(CHAPTERS)]) == 1
    with pytest.raises(ValueError, match="tree"):
        find_solution_leaks(tmp_path / "missing", chapters=CHAPTERS)


def test_hidden_sources_have_no_solutions_but_load_the_reference(tmp_path, capsys):
    dest = tmp_path / "hidden"
    changed = write_hidden_sources(BOOK, dest, chapters=CHAPTERS)
    assert {p.name for p in changed} == {"01_prior_to_penalty.ipynb", "index.md"}
    assert (dest / "_config.yml").read_text() == (BOOK / "_config.yml").read_text()
    index = (dest / "index.md").read_text()
    assert "SECRET-INDEX-ANSWER" not in index and "PUBLIC-INDEX-END" in index and "{exercise}" in index
    assert find_solution_leaks(dest, chapters=CHAPTERS) == []
    nb = read_notebook(dest / "chapters" / "01_prior_to_penalty.ipynb")
    assert "SECRET-" not in json.dumps(nb)
    loaders = [c for c in nb["cells"] if c["metadata"].get("tags") == ["remove-cell"] and "load_reference" in cell_source(c)]
    assert len(loaders) == 4
    namespace = _run(cell_source(loaders[0]))
    assert evaluate("ch01-penalty-grad", namespace["penalty_grad"], seed=0, chapters=CHAPTERS)
    checks = [c for c in nb["cells"] if cell_source(c).startswith("assert check(")]
    assert len(checks) == 4 and all("remove-output" in c["metadata"]["tags"] for c in checks)
    write_hidden_sources(BOOK, dest, chapters=CHAPTERS)  # an earlier output is replaced
    (tmp_path / "mine").mkdir()
    with pytest.raises(ValueError, match="dest"):
        write_hidden_sources(BOOK, tmp_path / "mine", chapters=CHAPTERS)
    with pytest.raises(ValueError, match="root"):
        write_hidden_sources(tmp_path, tmp_path / "other", chapters=CHAPTERS)


def test_solution_markdown_is_removed_and_unclosed_blocks_refused():
    text = (
        "keep 1\n````{solution} ex\n```python\nsecret()\n```\n````\nkeep 2\n"
        ":::{solution-start} ex\n:::\nsecret 2\n:::{solution-end}\n:::\nkeep 3\n"
    )
    assert strip_solution_markdown(text) == "keep 1\nkeep 2\nkeep 3\n"
    with pytest.raises(ValueError, match="never closed"):
        strip_solution_markdown(":::{solution-start} ex\n:::\nsecret\n", where="notes.md")
    with pytest.raises(ValueError, match="mode"):
        transform_notebook(_chapter(), "x", mode="teacher")


def test_an_unmarked_code_cell_inside_a_solution_block_is_refused():
    nb = _chapter()
    nb["cells"][5]["metadata"]["tags"] = []
    with pytest.raises(ValueError, match="not tagged 'solution'"):
        transform_notebook(nb, "01_prior_to_penalty", mode="student")


def test_the_sphinx_hook_puts_student_notebooks_and_the_bundle_in_static(tmp_path):
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path),
                          config=SimpleNamespace(l2bayes_chapters=str(CHAPTERS)))
    add_student_downloads(app, None)
    static = tmp_path / "_static" / "student"
    assert sorted(p.name for p in static.iterdir()) == sorted(["01_prior_to_penalty.ipynb", ZIP_NAME, BUNDLE_NAME])
    assert find_solution_leaks(static, chapters=CHAPTERS) == []
    add_student_downloads(SimpleNamespace(**{**vars(app), "outdir": str(tmp_path / "failed")}), RuntimeError())
    assert not (tmp_path / "failed").exists()


@pytest.mark.skipif(not list(REAL_CHAPTERS.glob("*.ipynb")), reason="no chapters written yet")
def test_the_real_chapters_become_student_notebooks_without_leaks(tmp_path):
    written = write_student_notebooks(tmp_path, chapters=REAL_CHAPTERS)
    assert len(written) == len(list(REAL_CHAPTERS.glob("*.ipynb"))) + 1
    assert find_solution_leaks(tmp_path, chapters=REAL_CHAPTERS) == []


def test_reference_checks_stay_in_the_book_but_leave_the_student_notebook():
    nb = _chapter()
    solution = next(i for i, c in enumerate(nb["cells"]) if "solution" in c.get("metadata", {}).get("tags", []))
    end = next(i for i, c in enumerate(nb["cells"]) if i > solution and "solution-end" in cell_source(c))
    marker = "independent check of the reference 12345"
    nb["cells"].insert(end + 1, {"cell_type": "code", "execution_count": None, "id": "refchk",
                                      "metadata": {"tags": ["reference-check"]}, "outputs": [],
                                      "source": f"# {marker}\n"})
    student = json.dumps(transform_notebook(nb, "01_fixture", mode="student"))
    hidden = json.dumps(transform_notebook(nb, "01_fixture", mode="hidden"))
    assert marker not in student
    assert marker in hidden


def test_the_download_line_says_what_else_a_student_needs():
    from l2bayes.site import student_download_html

    line = student_download_html("chapters/01_prior_to_penalty")
    context = {"body": f"<h1>Title</h1>{line}<p>text</p>"}
    add_student_needs(None, "chapters/01_prior_to_penalty", "page.html", context, None)
    body = context["body"]
    assert "Download the student notebook" in body
    paragraph = body[body.index('<p class="student-download">'):body.index("</p>") + 4]
    assert "Python 3.11" in paragraph and f'href="../_static/student/{BUNDLE_NAME}"' in paragraph
    assert "). To run its checks" in paragraph and ".." not in paragraph.replace("../", "")
    add_student_needs(None, "chapters/01_prior_to_penalty", "page.html", context, None)
    assert context["body"] == body  # once only
    other = {"body": "<h1>Index</h1><p>no download line</p>"}
    add_student_needs(None, "index", "page.html", other, None)
    assert other["body"] == "<h1>Index</h1><p>no download line</p>"


def test_the_old_module_name_still_works(tmp_path, capsys):
    import l2bayes.publishing as publishing
    import l2bayes.student as old

    assert old.transform_notebook is publishing.transform_notebook and old.setup is publishing.setup
    assert old.main(["notebooks", "--out", str(tmp_path), "--chapters", str(CHAPTERS)]) == 0
    assert (tmp_path / ZIP_NAME).is_file()
    assert old.main(["leaks", str(tmp_path), "--chapters", str(CHAPTERS)]) == 0
    assert "0 solution lines found" in capsys.readouterr().out


def test_library_lines_are_public_but_a_reference_pasted_into_a_spec_is_found(tmp_path):
    from l2bayes.publishing.leaks import library_text, solution_secrets

    secrets = {line for _, _, line in solution_secrets(REAL_CHAPTERS)}
    assert "returnnoise_std**2/prior_std**2" in library_text()  # l2bayes.ridge_lam_for_prior
    assert "returnnoise_std**2/prior_std**2" not in secrets
    chapter, function, line = solution_secrets(CHAPTERS)[0]
    (tmp_path / "ch01.py").write_text(f"def detector(x):\n    {line}\n")
    assert {leak.path for leak in find_solution_leaks(tmp_path, chapters=CHAPTERS)} == {"ch01.py"}
