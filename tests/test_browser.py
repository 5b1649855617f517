"""The website as a reader sees it: every page in headless Chromium, offline.

``make test`` builds the site first; these tests serve ``_build/html`` on
127.0.0.1 and visit every page with Playwright driving Debian's ``chromium``
(never a browser downloaded by the test tool). A screenshot of every page's first
screen is saved under ``_build/screenshots/``; ``L2BAYES_SCREENSHOTS=full`` saves
each page whole instead (one to three seconds a chapter, measured quiet).

Without a ``chromium`` binary the tests are skipped on a reader's machine and
fail under CI (``CI`` set), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from l2bayes.site import OFF_SCREEN_SKIPPED
from l2bayes.site_assets import TAB_STOP_SELECTORS, TAB_STOPS_DONE

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = sorted(
    str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts
) if SITE.is_dir() else []
CONTENT_PAGES = [p for p in PAGES if p not in ("genindex.html", "search.html", "prf-prf.html")]
#: The site skips paragraphs and blocks off screen until they are scrolled to (content-visibility), and a
#: full-page screenshot does not scroll: this style draws them all, for what a test measures or shows.
DRAW_ALL = ", ".join(OFF_SCREEN_SKIPPED) + " { content-visibility: visible !important; }"
TAB_STOPS_MEASURED = f"() => document.documentElement.hasAttribute('{TAB_STOPS_DONE}')"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail("the site is not built: run `make book` (make test builds it first)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI installs Debian's chromium in .ci/run)")
        pytest.skip("browser tests need Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


#: Playwright's waits (30 s by default) are only a backstop against a page that never loads: on a loaded
#: 2-core machine a full-page screenshot alone took longer than that, so the backstop is ten minutes.
BACKSTOP_MS = 600_000


def new_context(browser, **options):
    """A fresh browser context whose every wait has the generous backstop."""
    context = browser.new_context(**options)
    context.set_default_timeout(BACKSTOP_MS)
    context.set_default_navigation_timeout(BACKSTOP_MS)
    return context


class Visit:
    """Load one page, recording every request, console error and page error.

    ``wait=False`` only starts the navigation: pages started one after another then load side by side,
    and ``wait()`` waits for each (the network falls idle on one page while the next is still loading).
    """

    def __init__(self, browser, url, *, color_scheme="light", wait=True):
        self.context = new_context(browser, color_scheme=color_scheme, viewport={"width": 1200, "height": 900})
        self.external, self.errors, self.failed = [], [], []

        def route(r):
            host = urlsplit(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                r.continue_()
            else:
                self.external.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on(
            "requestfinished",
            lambda r: self.failed.append(f"{r.url} ({r.response().status})")
            if r.response() and r.response().status >= 400
            else None,
        )
        self.page.goto(url, wait_until="commit")
        if wait:
            self.wait()

    def wait(self):
        self.page.wait_for_load_state("load")
        # MathJax typesets asynchronously; wait until it says it is done.
        self.page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        self.page.wait_for_load_state("networkidle")
        # the tab stops of blocks off screen are given while the browser is idle
        self.page.wait_for_function(TAB_STOPS_MEASURED)

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visits(server, browser):
    """Every page, loaded side by side, then drawn whole, and its screenshot saved."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    full = os.environ.get("L2BAYES_SCREENSHOTS") == "full"
    out = {rel: Visit(browser, server + rel, wait=False) for rel in PAGES}
    for rel, v in out.items():
        v.wait()
        v.page.add_style_tag(content=DRAW_ALL)  # for the measurements, axe-core and a whole-page screenshot
        v.page.screenshot(path=str(SCREENSHOTS / (rel.replace("/", "__").removesuffix(".html") + ".png")), full_page=full)
    yield out
    for v in out.values():
        v.close()


def test_site_has_pages():
    assert "index.html" in PAGES and any(p.startswith("chapters/") for p in PAGES)


@pytest.mark.parametrize("rel", PAGES)
def test_nothing_leaves_localhost_and_nothing_fails(visits, rel):
    v = visits[rel]
    assert v.external == [], f"requests to the internet: {v.external}"
    assert v.failed == [], f"failed requests: {v.failed}"
    assert v.errors == [], f"console errors: {v.errors}"


MATH_STATE = """() => {
  const math = [...document.querySelectorAll('.math')];
  const untypeset = math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60));
  const article = document.querySelector('article') || document.body;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return {count: math.length, untypeset, errors: document.querySelectorAll('mjx-merror').length,
          text: clone.textContent};
}"""


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_every_formula_is_typeset(visits, rel):
    state = visits[rel].page.evaluate(MATH_STATE)
    assert state["untypeset"] == [], f"formulas left as TeX: {state['untypeset'][:3]}"
    assert state["errors"] == 0, "MathJax error nodes"
    for raw in ("$$", "\\begin{", "\\(", "\\["):
        assert raw not in state["text"], f"raw TeX {raw!r} visible on the page"
    if rel.startswith("chapters/"):
        assert state["count"] > 0, "a chapter without any formula"


# Figures load lazily (loading="lazy"): each is scrolled to, as a reader would, before it is checked.
IMAGES = """async () => {
  const out = [];
  for (const i of document.querySelectorAll('article img')) {
    i.scrollIntoView();
    await new Promise(done => {
      if (i.complete && i.naturalWidth > 0) return done();
      i.addEventListener('load', done, {once: true});
      i.addEventListener('error', done, {once: true});
      setTimeout(done, 10000);
    });
    out.push({src: i.getAttribute('src'), alt: (i.getAttribute('alt') || '').trim(), loaded: i.complete && i.naturalWidth > 0});
  }
  return out;
}"""


@pytest.mark.parametrize("rel", PAGES)
def test_images_load_and_have_alt_text(visits, rel):
    for img in visits[rel].page.evaluate(IMAGES):
        assert img["loaded"], f"image did not load: {img['src']}"
        assert img["alt"], f"image without alt text: {img['src']}"


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


@functools.lru_cache(maxsize=None)
def _anchors(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("rel", PAGES)
def test_internal_links_and_anchors_resolve(rel):
    base = "http://site/" + rel
    for href in _anchors(SITE / rel).links:
        url = urlsplit(urljoin(base, href))
        if url.scheme != "http" or url.netloc != "site":
            continue  # a link to the outside world (repository, Binder, Colab) is not loaded
        target = SITE / unquote(url.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        assert target.is_file(), f"{rel}: broken link {href}"
        if url.fragment and target.suffix == ".html":
            assert unquote(url.fragment) in _anchors(target).ids, f"{rel}: missing anchor {href}"


HEADINGS = """() => [...document.querySelectorAll('article h1, article h2, article h3, article h4, article h5, article h6')]
  .filter(h => !h.closest('.admonition, .proof, .exercise, .solution, aside'))
  .map(h => Number(h.tagName[1]))"""


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_headings_in_order(visits, rel):
    levels = visits[rel].page.evaluate(HEADINGS)
    assert levels and levels[0] == 1, f"the page should start with one h1: {levels}"
    assert levels.count(1) == 1, f"exactly one h1: {levels}"
    for before, after in zip(levels, levels[1:]):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"


CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                     return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const p = document.querySelector('article p');
  let el = p, bg = 'rgba(0, 0, 0, 0)';
  while (el && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) { bg = getComputedStyle(el).backgroundColor; el = el.parentElement; }
  const [l1, l2] = [lum(rgb(getComputedStyle(p).color)), lum(rgb(bg))];
  return {theme: document.documentElement.dataset.theme, ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05)};
}"""


@pytest.mark.parametrize("rel", [p for p in PAGES if p.startswith("chapters/")])
def test_student_notebook_downloads_from_the_chapter_page(visits, rel):
    import json

    from l2bayes.student import find_solution_leaks

    page = visits[rel].page
    link = page.locator("p.student-download a").first
    assert link.is_visible(), "no student-notebook link under the chapter title"
    with page.expect_download() as info:
        link.click()
    download = info.value
    target = SCREENSHOTS.parent / "downloads" / download.suggested_filename
    download.save_as(str(target))
    nb = json.loads(target.read_text(encoding="utf-8"))
    assert nb["cells"] and target.name == Path(rel).stem + ".ipynb"
    assert find_solution_leaks(target.parent) == [], "the student notebook contains solution text"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_and_figures_in_both_themes(server, browser, scheme):
    rel = next(p for p in PAGES if p.startswith("chapters/"))
    v = Visit(browser, server + rel, color_scheme=scheme)
    try:
        state = v.page.evaluate(CONTRAST)
        assert state["theme"] == scheme
        assert state["ratio"] >= 4.5, f"body text contrast {state['ratio']:.2f} < 4.5 (WCAG AA) in {scheme} mode"
        v.page.screenshot(path=str(SCREENSHOTS / f"theme-{scheme}.png"), full_page=False)
    finally:
        v.close()


# --- accessibility: axe-core, a phone-sized viewport, offline search -------------------------

#: axe-core, installed by `npm ci` (package.json pins it): 0.65 MB minified, so it is read from
#: node_modules when the tests run rather than committed.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Started on every page at once, awaited by each page's test: each page has its own renderer process, and
#: axe.run starts after the call returns (much of its work is synchronous), so the pages are checked side by side.
AXE_START = """() => { window.l2bayesAxe = new Promise(go => setTimeout(go, 0)).then(() =>
  axe.run(document, {resultTypes: ['violations']})).then(result =>
  result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                               targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))); }"""
AXE_RESULT = "() => window.l2bayesAxe"


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed: `make install` runs npm ci")
        pytest.skip("the accessibility checks need axe-core: npm ci")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def axe_started(visits, axe_source):
    """The pages of ``visits`` with axe-core injected and running."""
    for v in visits.values():
        v.page.add_script_tag(content=axe_source)
        v.page.evaluate(AXE_START)
    return visits


@pytest.mark.parametrize("rel", PAGES)
def test_axe_finds_no_serious_or_critical_violation(axe_started, rel):
    violations = axe_started[rel].page.evaluate(AXE_RESULT)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe-core: {bad}"


@pytest.fixture(scope="module")
def narrow(server, browser):
    """Every content page at a phone's width (390 x 844 px), loaded side by side, all of it drawn.

    Each waits until the site has given the tab stops of blocks off screen (while the browser is idle).
    """
    contexts = {rel: new_context(browser, viewport={"width": 390, "height": 844}) for rel in CONTENT_PAGES}
    pages = {rel: context.new_page() for rel, context in contexts.items()}
    for rel, page in pages.items():
        page.goto(server + rel, wait_until="commit")
    for page in pages.values():
        page.wait_for_load_state("load")
        page.wait_for_function(TAB_STOPS_MEASURED)
        page.add_style_tag(content=DRAW_ALL)
    yield pages
    for context in contexts.values():
        context.close()


WIDE = """() => {
  const width = document.documentElement.clientWidth;
  // inside a region that scrolls by itself (a code block, a wide table or formula), not the page
  const scrolls = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX) && a.getBoundingClientRect().right <= width + 1) return true; }
    return false; };
  const wide = [...document.querySelectorAll('article *')]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e))
    .filter(e => getComputedStyle(e).visibility !== 'hidden' && e.getClientRects().length);
  return {width, scrollWidth: document.documentElement.scrollWidth,
          wide: wide.slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'))};
}"""


@pytest.mark.parametrize("rel", CONTENT_PAGES)
def test_pages_read_at_390_pixels_without_sideways_scrolling(narrow, rel):
    state = narrow[rel].evaluate(WIDE)
    assert state["scrollWidth"] <= state["width"], f"the page scrolls sideways at 390 px: {state}"
    assert state["wide"] == [], f"wider than the screen outside a region that scrolls: {state['wide']}"


TAB_STOPS = """(selector) => [...document.querySelectorAll(selector)].map(e => ({
  tab: e.tabIndex, scrolls: e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight,
  below: e.getBoundingClientRect().top > 2 * window.innerHeight,
  name: e.tagName.toLowerCase() + '.' + [...e.classList].join('.')}))"""


@pytest.mark.parametrize("rel", [p for p in CONTENT_PAGES if p.startswith("chapters/")])
def test_a_block_that_scrolls_has_a_tab_stop_and_no_other_block_has(narrow, rel):
    """The theme's rule (scrollable-region-focusable), applied by the site as blocks come near the view.

    At 390 px most listings scroll sideways, so each chapter has blocks of both kinds, far below the
    first screen too (measured while the browser was idle, not when scrolled to).
    """
    blocks = narrow[rel].evaluate(TAB_STOPS, ", ".join(TAB_STOP_SELECTORS))
    wrong = [b for b in blocks if b["tab"] != (0 if b["scrolls"] else -1)]
    assert wrong == [], f"tab stops that do not follow the rule: {wrong[:5]}"
    far = [b for b in blocks if b["below"]]
    assert any(b["scrolls"] for b in far) and not all(b["scrolls"] for b in far), (
        f"expected blocks that scroll and blocks that do not, far down the page: {far[:5]}")


@pytest.mark.parametrize("how", ["hover", "focus"])
def test_a_header_button_shows_its_tooltip(server, browser, how):
    """The theme's tooltips are made on first use (not as the page loads): the first hover or focus shows one."""
    context = new_context(browser, viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + "index.html", wait_until="load")
        button = page.locator("button.theme-switch-button")
        assert page.locator(".tooltip").count() == 0
        button.hover() if how == "hover" else button.focus()
        page.wait_for_selector(".tooltip.show")
        assert page.locator(".tooltip.show").inner_text() == button.get_attribute("data-bs-title") == "Color mode"
    finally:
        context.close()


def test_search_finds_a_chapter_offline(server, browser):
    context = new_context(browser)
    external = []

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    try:
        page = context.new_page()
        page.goto(server + "search.html?q=posterior", wait_until="load")
        page.wait_for_selector("#search-results ul.search li")
        hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))")
        assert any(h.startswith("chapters/") for h in hits), hits
        assert external == []
    finally:
        context.close()
