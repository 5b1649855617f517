"""The built website (make test builds it first): offline, complete, readable.

These tests read ``_build/html``; run ``make book`` (or ``make test``, which
builds first) before running them on their own.
"""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
CHAPTER = "chapters/01_prior_to_penalty.html"

# attributes that make a browser fetch something when the page loads
FETCHING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"), ("video", "src"),
            ("audio", "src"), ("embed", "src"), ("object", "data")}
FETCHING_LINK_RELS = {"stylesheet", "preload", "icon", "shortcut icon", "modulepreload", "prefetch", "manifest"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fetches, self.images, self.classes = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.classes += (a.get("class") or "").split()
        for t, attr in FETCHING:
            if tag == t and a.get(attr):
                self.fetches.append(a[attr])
        if tag == "link" and a.get("href") and (a.get("rel") or "").lower() in FETCHING_LINK_RELS:
            self.fetches.append(a["href"])
        if tag == "img":
            self.images.append(a)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def pages():
    if not (SITE / "index.html").is_file():
        pytest.fail("the site is not built: run `make book` (make test builds it first)")
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts)


def test_expected_pages_exist(pages):
    for name in ["index.html", CHAPTER, "notation.html", "bibliography.html"]:
        assert (SITE / name).is_file(), name


def test_nothing_is_fetched_from_the_internet(pages):
    for path in pages:
        for url in parse(path).fetches:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{path.relative_to(SITE)} loads {url}"
            target = (path.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{path.relative_to(SITE)} loads a missing file {url}"


def test_stylesheets_fetch_nothing_external(pages):
    for css in SITE.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="ignore")
        for bad in ("url(http", "url('http", 'url("http', "url(//", "@import url(http"):
            assert bad not in text, f"{css.relative_to(SITE)} fetches from the internet ({bad})"


def test_math_is_typeset_at_build_time_and_no_mathjax_loads(pages):
    for path in pages:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(SITE)
        assert "tex-chtml.js" not in text and "window.MathJax" not in text, f"{rel} loads MathJax"
        formulas = re.findall(r'<(span|div) class="math notranslate nohighlight"[^>]*>(.*?)</\1>', text, re.S)
        for _, inner in formulas:
            assert "<mjx-container" in inner and "<svg" in inner, f"{rel}: formula left as TeX: {inner[:80]}"
            assert "<mjx-assistive-mml" in inner, f"{rel}: formula without MathML for screen readers"
        if formulas:
            assert 'id="MJX-SVG-global-cache"' in text, f"{rel}: the glyphs the formulas use are missing"
    assert not (SITE / "_static" / "mathjax").exists(), "MathJax is shipped although nothing loads it"


def test_chapter_has_numbered_equations_theorem_exercises_and_figures(pages):
    html = (SITE / CHAPTER).read_text(encoding="utf-8")
    page = parse(SITE / CHAPTER)
    assert html.count('class="eqno"') >= 8, "numbered equations"
    assert "theorem" in page.classes and "proof" in page.classes
    assert page.classes.count("exercise") >= 2
    assert "dropdown" in page.classes, "solutions in dropdowns"
    assert len(page.images) >= 2
    assert "???" not in html, "an unresolved cross-reference"


def test_images_have_alt_text(pages):
    for path in pages:
        for img in parse(path).images:
            if "logo" in (img.get("class") or ""):
                continue
            assert (img.get("alt") or "").strip(), f"{path.relative_to(SITE)}: image {img.get('src')} has no alt text"


def test_no_errors_or_warnings_in_rendered_outputs(pages):
    for path in pages:
        page = parse(path)
        assert "stderr" not in page.classes, f"{path.relative_to(SITE)} shows stderr output"
        assert "Traceback (most recent call last)" not in path.read_text(encoding="utf-8")


def test_bibliography_lists_the_required_works(pages):
    text = (SITE / "bibliography.html").read_text(encoding="utf-8")
    for author in ["Bishop", "Neal", "Krogh", "Loshchilov", "Harvey"]:
        assert author in text, author


def test_figures_keep_an_opaque_white_background_for_dark_mode(pages):
    svgs = sorted((SITE / "_images").glob("*.svg"))
    assert svgs, "no figures in the site"
    for svg in svgs:
        head = svg.read_text(encoding="utf-8")[:4000]
        assert re.search(r'<g id="patch_1">.{0,600}?fill: ?#ffffff', head, re.S), f"{svg.name}: transparent background"


def test_site_weighs_at_most_10_mb(pages):
    # With the PDF (1.6 MB, linked from the landing page) the site weighs 9.1 MB: ten chapters with
    # their math as inline SVG, the figures, the student notebooks, and the theme's assets bundled
    # into one stylesheet (with a web font of only the icons shown) and one script per page.
    total = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    assert total <= 10_000_000, f"the site is {total / 1e6:.1f} MB"


def test_each_page_loads_one_stylesheet_and_one_script(pages):
    for path in pages:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(SITE)
        sheets = re.findall(r'<link [^>]*rel="stylesheet"[^>]*>', text)
        scripts = re.findall(r'<script [^>]*src="([^"]*)"', text)
        assert len(sheets) == 1, f"{rel}: {sheets}"
        expected = 2 if rel.name == "search.html" else 1  # the search page also loads the search index
        assert len(scripts) == expected, f"{rel}: {scripts}"
        assert "fontawesome" not in text and "searchindex" not in text.replace('src="searchindex.js"', ""), rel
    assert not (SITE / "_static" / "scripts" / "fontawesome.js").exists()
    assert not (SITE / "_static" / "vendor").exists(), "the icon fonts are embedded, subset, in the stylesheet"


def test_every_icon_shown_is_in_the_embedded_icon_font(pages):
    import base64
    import io

    from fontTools.ttLib import TTFont

    css = next((SITE / "_static").glob("l2bayes-bundle-*.css")).read_text(encoding="utf-8")
    glyphs = set()
    for data in re.findall(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", css):
        glyphs |= set(TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap())
    assert glyphs, "no icon font in the stylesheet"
    rules = {}
    for selectors, code in re.findall(r'([^{}]+)\{content:"\\([0-9a-f]{4})"\}', css):
        for name in re.findall(r"\.(fa-[a-z0-9-]+)::?before", selectors):
            rules[name] = int(code, 16)
    shown = set()
    for path in pages:
        for classes in re.findall(r'<i [^>]*class="([^"]*)"', path.read_text(encoding="utf-8")):
            shown |= {c for c in classes.split() if c in rules}
    assert {"fa-github", "fa-magnifying-glass", "fa-moon", "fa-sun"} <= shown, shown
    missing = {name for name in shown if rules[name] not in glyphs}
    assert not missing, f"icons without a glyph in the embedded font: {missing}"


HIDDEN_SITE = ROOT / "_build" / "hidden" / "_build" / "html"


@pytest.fixture(scope="module")
def hidden_site():
    if not (HIDDEN_SITE / "index.html").is_file():
        pytest.fail("the site without solutions is not built: run `make book SOLUTIONS=hide` (make test builds it)")
    return HIDDEN_SITE


def test_site_without_solutions_contains_no_solution_line(hidden_site, pages):
    from l2bayes.student import find_solution_leaks

    # Positive control: the full site shows the solutions, and the search finds them.
    assert find_solution_leaks(SITE), "the leak search found nothing in the full site: it is broken"
    leaks = find_solution_leaks(hidden_site)
    assert leaks == [], f"solution text in the graded-term site: {leaks[:3]}"


def test_site_without_solutions_still_has_every_chapter_and_exercise(hidden_site, pages):
    for chapter in sorted((SITE / "chapters").glob("*.html")):
        hidden = hidden_site / "chapters" / chapter.name
        assert hidden.is_file(), chapter.name
        full, cut = parse(chapter), parse(hidden)
        assert cut.classes.count("exercise") == full.classes.count("exercise"), chapter.name
        assert cut.classes.count("solution") == 0, f"{chapter.name} still shows a solution"
    assert (hidden_site / "_static" / "student" / "student-notebooks.zip").is_file()


def test_equations_are_cross_referenced_across_chapters(pages):
    cross = set()
    for chapter in sorted((SITE / "chapters").glob("*.html")):
        for match in re.finditer(r'href="(\d\d_[a-z0-9_]+)\.html#equation-([a-z0-9-]+)"', chapter.read_text(encoding="utf-8")):
            if match.group(1) != chapter.stem:
                cross.add((chapter.stem, match.group(1), match.group(2)))
    assert len({(src, dst) for src, dst, _ in cross}) >= 2, f"too few cross-chapter equation references: {cross}"
    for src, dst, label in cross:
        assert f'id="equation-{label}"' in (SITE / "chapters" / f"{dst}.html").read_text(encoding="utf-8"), (src, label)
