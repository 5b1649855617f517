"""l2bayes.site_assets and l2bayes.site.slim_svg on small hand-made pages (no build needed)."""

from __future__ import annotations

import re

import pytest

from l2bayes import site, site_assets

SVG = ('<mjx-container class="MathJax" jax="SVG"><svg style="vertical-align: -0.666ex;" xmlns="http://www.w3.org/2000/svg" '
       'width="1.944ex" height="1.668ex" role="img" focusable="false" viewBox="0 -443 859.3 737.2" '
       'xmlns:xlink="http://www.w3.org/1999/xlink" aria-hidden="true"><g stroke="currentColor" fill="currentColor" '
       'stroke-width="0" transform="scale(1,-1)"><g data-mml-node="math"><g data-mml-node="msub"><g data-mml-node="mi">'
       '<use data-c="1D463" xlink:href="#MJX-TEX-I-1D463"></use></g><g transform="translate(518,-150) scale(0.707)" '
       'data-mml-node="mi"><use data-c="1D457" xlink:href="#MJX-TEX-I-1D457"></use></g></g>'
       '<g data-mml-node="mtable"><g><g data-mml-node="mtd"><use data-c="31" xlink:href="#MJX-TEX-N-31"></use></g></g>'
       '</g></g></g></svg><mjx-assistive-mml display="inline"><math><msub><mi>v</mi><mi>j</mi></msub></math>'
       "</mjx-assistive-mml></mjx-container>")


def _structure(svg: str) -> list[str]:
    return re.findall(r'href="([^"]*)"|transform="([^"]*)"', svg)


def test_slim_svg_keeps_every_glyph_transform_and_styled_level():
    out = site.slim_svg(SVG)
    assert len(out) < len(SVG)
    # the same glyphs in the same places: every reference and every transform, in order
    assert [h or t for h, t in _structure(out)] == [h or t for h, t in _structure(SVG)]
    assert "data-c=" not in out and "xlink" not in out and 'data-mml-node="mi"' not in out
    # MathJax's stylesheet styles tables by `g[data-mml-node="mtable"] > g > ...`: that level stays
    assert re.search(r'<g data-mml-node="mtable"><g>', out)
    assert out.count("<g") == out.count("</g>")
    assert "<mjx-assistive-mml" in out and "<mi>v</mi>" in out, "the MathML for screen readers stays"


PYGMENTS = """
html[data-theme="light"] .highlight { background: #fefefe; color: #080808 }
html[data-theme="light"] .highlight .n { color: #080808 }
html[data-theme="light"] .highlight .o { color: #00622F }
html[data-theme="light"] .highlight .k { color: #080808; font-weight: bold }
html[data-theme="dark"] .highlight { background: #2b2b2b; color: #F8F8F2 }
html[data-theme="dark"] .highlight .n { color: #F8F8F2 }
html[data-theme="dark"] .highlight .o { color: #ABE338 }
html[data-theme="dark"] .highlight .k { color: #F8F8F2; font-weight: bold }
"""


def test_only_tokens_in_the_base_colour_of_both_themes_are_unwrapped():
    tokens = site_assets.plain_tokens(PYGMENTS)
    assert tokens == {"n"}, "a bold keyword or a coloured operator keeps its span"
    html = ('<p><span class="n">prose</span></p><pre><span class="n">x</span><span class="o">=</span>'
            '<span class="k">def</span></pre>')
    out = site_assets.unwrap_plain_tokens(html, tokens)
    assert out == '<p><span class="n">prose</span></p><pre>x<span class="o">=</span><span class="k">def</span></pre>'


def _site(tmp_path):
    static = tmp_path / "_static"
    (static / "styles").mkdir(parents=True)
    (tmp_path / "chapters").mkdir()
    (static / "basic.css").write_text("div.x { background: url(file.png) }\n")
    (static / "styles" / "theme.css").write_text('@import "../basic.css";\n.y { background: url("../img/a.svg") }\n')
    (static / "second.css").write_text(".z { color: red }\n")
    (static / "a.js").write_text("var order = ['a'];\n")
    (static / "b.js").write_text("order.push(setting)")  # no trailing semicolon or newline
    (static / "late.js").write_text("order.push('late');\n")
    (static / "searchtools.js").write_text("var Search = {};\n")
    (tmp_path / "searchindex.js").write_text("Search.setIndex({});\n")
    page = tmp_path / "chapters" / "c.html"
    page.write_text(
        "<html><head>\n"
        '<script data-cfasync="false">\n    document.documentElement.dataset.mode = localStorage.getItem("mode") || "auto";\n'
        '    document.documentElement.dataset.theme = localStorage.getItem("theme") || "auto";\n  </script>\n'
        '<link href="../_static/styles/theme.css?digest=1" rel="stylesheet" />\n'
        '<link rel="stylesheet" type="text/css" href="../_static/second.css?v=2" />\n'
        '<link rel="preload" as="script" href="../_static/late.js" />\n'
        '<script src="../_static/a.js?v=1"></script>\n<script>var setting = "s";</script>\n'
        '<script src="../_static/b.js"></script>\n<script src="../_static/searchtools.js"></script>\n'
        '<script src="../searchindex.js"></script>\n</head><body><img src="../_images/f.svg" alt="f">\n'
        '<script>kernelName = "python3"</script>\n<script defer src="../_static/late.js"></script>\n</body></html>\n')
    return page


def test_a_page_loads_one_stylesheet_and_one_script_in_the_original_order(tmp_path):
    page = _site(tmp_path)
    counts = site_assets.lighten_site(tmp_path)
    out = page.read_text()
    links = re.findall(r'<link [^>]*rel="stylesheet"[^>]*>', out)
    scripts = re.findall(r"<script [^>]*src=\"([^\"]*)\"", out)
    assert len(links) == 1 and len(scripts) == 1, (links, scripts)
    assert "late.js" not in out and "searchindex" not in out, "the search index is for the search page only"
    # fetched from the start, run at the end of the body, after the body's own inline scripts
    assert re.search(r'<head>.*<link rel="preload" as="script" href="../_static/l2bayes-bundle-[0-9a-f]+\.js" />.*</head>', out, re.S)
    assert out.index('kernelName') < out.index('<script src="../_static/l2bayes-bundle-') < out.index("</body>")
    js = (page.parent / scripts[0]).resolve().read_text()
    # the head's scripts, its inline settings between them and the deferred one, in that order
    assert js.index("['a']") < js.index('var setting = "s"') < js.index("order.push(setting)") < js.index("'late'")
    assert "order.push(setting)\n;\n" in js, "a file without a final semicolon does not run into the next"
    css = (page.parent / re.search(r'href="([^"]*)"', links[0]).group(1)).resolve().read_text()
    # @import inlined where it stood; URLs rebased on _static, where the bundle is
    assert css.index("div.x") < css.index(".y") < css.index(".z")
    assert "url(file.png)" in css and 'url("img/a.svg")' in css and "@import" not in css
    assert 'kernelName = "python3"' in out, "inline scripts of the body stay"
    assert '<img loading="lazy" decoding="async" src="../_images/f.svg"' in out
    assert 'matchMedia("(prefers-color-scheme: dark)")' in out, "the colour mode is settled in the head"
    for gone in ("basic.css", "second.css", "a.js", "b.js", "late.js", "searchtools.js", "styles/theme.css"):
        assert not (tmp_path / "_static" / gone).exists(), gone
    assert (tmp_path / "searchindex.js").is_file()
    assert counts["pages"] == 1
    # idempotent: an incremental build leaves a rewritten page alone
    site_assets.lighten_site(tmp_path)
    assert page.read_text() == out


def test_the_search_page_keeps_its_index_after_the_bundle(tmp_path):
    _site(tmp_path)
    search = tmp_path / "search.html"
    search.write_text('<html><head>\n<script src="_static/searchtools.js"></script>\n'
                      '<script src="searchindex.js"></script>\n</head><body></body></html>\n')
    site_assets.lighten_site(tmp_path)
    out = search.read_text()
    assert out.index('<script src="_static/l2bayes-bundle-') < out.index('<script src="searchindex.js">') < out.index("</body>")
    js = (tmp_path / re.search(r'src="(_static/l2bayes-bundle-[^"]*)"', out).group(1)).read_text()
    assert "var Search" in js and "setIndex" not in js


def _theme_script(name: str) -> str:
    fonts = site_assets.theme_fonts()  # .../static/vendor/fontawesome/webfonts
    path = fonts.parents[2] / "scripts" / name
    if not path.is_file():
        pytest.skip("pydata-sphinx-theme is not installed")
    return path.read_text(encoding="utf-8")


def test_the_theme_measures_its_blocks_lazily_and_nothing_else_changes():
    code = _theme_script("pydata-sphinx-theme.js")
    new, changed = site_assets.defer_tab_stops(code)
    assert changed, "the pinned theme's load-time tab-stop call was not found: check TAB_STOP_SELECTORS"
    # what is gone is exactly the one call; the function and its selectors stay
    assert len(code) - len(new) == len(site_assets._THEME_TAB_STOPS.search(code).group(0)) - len("void 0")
    assert all(f'"{s}"' in new for s in site_assets.TAB_STOP_SELECTORS)
    script = site_assets.tab_stops_script()
    assert all(s in script for s in site_assets.TAB_STOP_SELECTORS) and site_assets.TAB_STOPS_DONE in script
    # a theme whose function measures other blocks is left alone
    other = code.replace('".pst-scrollable-table-container"', '".something-else"')
    assert site_assets.defer_tab_stops(other) == (other, False)
    assert site_assets.defer_tab_stops("function f(){}") == ("function f(){}", False)


def test_tooltips_are_made_on_first_use_with_the_theme_s_options():
    code = _theme_script("bootstrap.js")
    new, changed = site_assets.lazy_tooltips(code)
    assert changed, "the pinned theme's tooltip set-up was not found"
    m = site_assets._THEME_TOOLTIPS.search(code)
    assert 'querySelectorAll(\'[data-bs-toggle="tooltip"]\')' not in new
    assert f"({m.group('cls')},{m.group('opts')})" in new and "getOrCreateInstance" in new
    assert new.count("pointerover") == code.count("pointerover") + 1
    assert site_assets.lazy_tooltips("var x=1;") == ("var x=1;", False)


def test_a_bundle_carries_the_lazy_tab_stops_only_where_the_theme_call_was_removed(tmp_path):
    static = tmp_path / "_static"
    (static / "scripts").mkdir(parents=True)
    theme = 'function I(){const e=()=>{document.querySelectorAll(["pre",".nboutput > .output_area",".cell_output > .output",".jp-RenderedHTMLCommon",".pst-scrollable-table-container"].join(", ")).forEach(e=>{e.tabIndex=0})}}"complete"===document.readyState?I():window.addEventListener("load",I);'
    (static / "scripts" / "theme.js").write_text(theme, encoding="utf-8")
    (static / "other.js").write_text("var other = 1;", encoding="utf-8")
    for name, src in (("a.html", "_static/scripts/theme.js"), ("b.html", "_static/other.js")):
        (tmp_path / name).write_text(f'<html><head><script src="{src}"></script></head><body></body></html>', encoding="utf-8")
    bundles = {}
    for name in ("a.html", "b.html"):
        page = tmp_path / name
        text, _ = site_assets.bundle_page(page.read_text(encoding="utf-8"), page, tmp_path)
        src = re.search(r'<script src="([^"]*)"', text).group(1)
        bundles[name] = (tmp_path / src).read_text(encoding="utf-8")
    assert site_assets.TAB_STOPS_DONE in bundles["a.html"] and 'addEventListener("load",I)' not in bundles["a.html"]
    assert site_assets.TAB_STOPS_DONE not in bundles["b.html"]
