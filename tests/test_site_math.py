"""l2bayes.site's build-time math: TeX in Sphinx's HTML becomes MathJax's SVG, numbers and links kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from l2bayes import site

ROOT = Path(__file__).resolve().parents[1]

PAGE = """<html><head><script>window.MathJax = {"options": {}}</script>
<script defer="defer" src="../_static/mathjax/tex-chtml.js?v=1"></script></head><body>
<p>Inline <span class="math notranslate nohighlight">\\(a &lt; b\\)</span> and a number.</p>
<div class="math notranslate nohighlight" id="equation-eq-x">
<span class="eqno">(3)<a class="headerlink" href="#equation-eq-x" title="Link to this equation">#</a></span>\\[\\hat\\theta = (X^\\top X)^{-1}\\]</div>
<div class="math notranslate nohighlight">
\\begin{align}a &amp;= 1\\end{align}</div>
<p>See <a href="#equation-eq-x">(3)</a>.</p></body></html>
"""


@pytest.fixture(scope="module")
def modules():
    found = site.node_modules(ROOT)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("node and mathjax-full are needed (make install runs npm ci)")
        pytest.skip("build-time math needs node and `npm ci`")
    return found


def test_formulas_become_svg_and_numbers_links_and_text_stay(tmp_path, modules):
    page = tmp_path / "chapters" / "x.html"
    page.parent.mkdir()
    page.write_text(PAGE, encoding="utf-8")
    assert site.typeset_math(tmp_path, modules) == 3
    out = page.read_text(encoding="utf-8")
    assert out.count("<mjx-container") == 3 and "\\\\(" not in out and "\\\\[" not in out
    assert 'display="true"' in out, "display formulas are typeset as display math"
    assert '<span class="eqno">(3)<a class="headerlink" href="#equation-eq-x"' in out
    assert 'id="equation-eq-x"' in out and '<a href="#equation-eq-x">(3)</a>' in out
    assert "<mo>&lt;</mo>" in out, "the escaped TeX was unescaped before typesetting"
    assert "tex-chtml.js" not in out and "window.MathJax" not in out
    assert 'id="MJX-SVG-global-cache"' in out
    # a second pass (an incremental build) leaves a typeset page alone
    assert site.typeset_math(tmp_path, modules) == 0
    assert page.read_text(encoding="utf-8") == out


def test_a_tex_error_names_the_formula(modules):
    with pytest.raises(site.MathError, match=r"Undefined control sequence \\nosuchmacro"):
        site.tex_to_svg([[("x + \\nosuchmacro", False)]], modules)


def test_an_inline_formula_wider_than_a_phone_line_scrolls_by_itself(tmp_path, modules):
    long = " + ".join(f"x_{{{i}}}" for i in range(40))
    page = tmp_path / "p.html"
    page.write_text(f'<html><head></head><body><p><span class="math notranslate nohighlight">\\({long}\\)</span> and '
                    f'<span class="math notranslate nohighlight">\\(x\\)</span></p></body></html>', encoding="utf-8")
    site.typeset_math(tmp_path, modules)
    out = page.read_text(encoding="utf-8")
    assert out.count('class="l2bayes-wide math') == 1, "only the long formula gets its own scroll bar"
    assert 'span.l2bayes-wide{display:inline-block' in out
