"""The book as one PDF (``make pdf``): every chapter, its figures, and typeset equations.

Read with poppler's ``pdfinfo`` and ``pdftotext``. Skipped when no PDF is built,
except under ``make pdf`` and CI (``.ci/run`` builds it first), where a missing
PDF fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LATEX = ROOT / "_build" / "latex"
PDF = LATEX / "book.pdf"
SITE = ROOT / "_build" / "html"
#: TeX that shows in the text only if a formula was not typeset.
RAW_TEX = re.compile(r"\\(frac|theta|lambda|top|mathcal|begin|end|sum|lVert|hat|mathbb|sigma)\b|\$\$")


def _squash(text: str) -> str:
    # ligatures and line breaks in extracted text: compare letters only
    text = text.replace("\ufb01", "fi").replace("\ufb02", "fl").replace("\ufb00", "ff")
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def chapter_titles() -> list[str]:
    titles = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        titles.append(re.search(r"^# (.+)$", first, re.M).group(1).strip())
    return titles


@pytest.fixture(scope="module")
def pdf():
    if not PDF.is_file():
        if os.environ.get("L2BAYES_REQUIRE_PDF") or os.environ.get("CI"):
            pytest.fail("the PDF is not built: make pdf")
        pytest.skip("no PDF built (make pdf)")
    info = subprocess.run(["pdfinfo", str(PDF)], check=True, capture_output=True, text=True).stdout
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], check=True, capture_output=True,
                          text=True).stdout
    return info, text


def test_the_pdf_is_a_book_of_many_pages(pdf):
    info, _ = pdf
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert pages >= 10 * len(chapter_titles()) // 2, info
    assert "L2 Regularization Is Secretly Bayesian" in info


def test_every_chapter_title_is_in_the_pdf(pdf):
    _, text = pdf
    titles = chapter_titles()
    assert len(titles) == len(list((ROOT / "chapters").glob("*.ipynb")))
    missing = [t for t in titles if _squash(t) not in _squash(text)]
    assert missing == [], f"chapters missing from the PDF: {missing}"


def test_every_figure_of_the_site_is_in_the_pdf(pdf):
    tex = (LATEX / "book.tex").read_text(encoding="utf-8")
    included = re.findall(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{?([^}]+?)\}?\}", tex)
    site_figures = sum(len(re.findall(r'<img [^>]*src="\.\./_images/', p.read_text(encoding="utf-8")))
                       for p in (SITE / "chapters").glob("*.html")) if SITE.is_dir() else None
    assert included, "no figure in the LaTeX source"
    if site_figures is not None:
        assert len(included) == site_figures, (len(included), site_figures)
    for name in included:
        candidates = [LATEX / name, *[(LATEX / name).with_suffix(s) for s in (".pdf", ".png")]]
        assert any(c.is_file() for c in candidates), f"figure file missing: {name}"
    assert not re.search(r"\.svg\}", tex), "an SVG figure was not converted for LaTeX"


def test_equations_are_typeset_not_printed_as_tex(pdf):
    _, text = pdf
    body = text.split("Bibliography")[0]
    leftovers = sorted(set(m.group(0) for m in RAW_TEX.finditer(body)))
    assert leftovers == [], f"TeX printed as text in the PDF: {leftovers}"
    for symbol in ("θ", "λ", "σ"):
        assert symbol in text, f"no {symbol} in the PDF: the formulas are missing"
    assert re.search(r"\(\d+\.\d+\)", text), "no equation numbers like (2.3)"


def test_the_site_links_the_pdf(pdf):
    index = (SITE / "index.html").read_text(encoding="utf-8")
    match = re.search(r'<p class="pdf-download"><a [^>]*href="([^"]+)"', index)
    assert match, "the landing page does not link the PDF"
    assert (SITE / match.group(1)).read_bytes() == PDF.read_bytes()
