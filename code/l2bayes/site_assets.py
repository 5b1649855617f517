"""The website's weight: the theme's assets bundled, trimmed and loaded only when seen.

Measured in headless Chromium (``benchmarks/page_load.py``), an almost empty page
of the theme cost about half a second beyond an empty page, and a chapter a
second more. The time went to

* requests: every page asked for ten stylesheets and some twenty scripts, then
  web fonts, then every figure, one connection each from a plain HTTP server;
* FontAwesome's ``fontawesome.js`` (1.5 MB, parsed on every page) that rewrites
  the theme's 20 or so icons as SVG although its stylesheet and web fonts draw
  the same icons; and fonts of some 1,700 icons, of which the book shows 25;
* the theme's colour mode: the page starts with ``data-theme="auto"`` and the
  theme's script then sets ``light`` or ``dark``, which restyles every element
  of a chapter (some 11,000) once more;
* the search index, loaded on every page although only the search page uses it.

:func:`lighten_site` rewrites the built pages (``build-finished``, after the
math is typeset) so that each loads one stylesheet and one script (at the end of the body), in
the same order as before, the icons come from a web font of only the glyphs the
site shows (inside the stylesheet, so no extra request), the colour mode is
settled before the body is styled, and figures load when they are scrolled to.
It then deletes what no page loads any more. It is idempotent: a page rewritten
by an earlier (incremental) build is left alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

#: Names of the files this module writes into ``_static``.
BUNDLE_PREFIX = "l2bayes-bundle-"

_LINK = re.compile(r"[ \t]*<link\b[^>]*>\n?")
_SCRIPT = re.compile(r"[ \t]*<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script>\n?", re.S)
_ATTR = re.compile(r'([a-zA-Z-]+)(?:="([^"]*)")?')
_FONTAWESOME_JS = "scripts/fontawesome.js"
_LICENSE_NOTE = re.compile(r"(For license information please see )(\S+\.LICENSE\.txt)")
_SEARCH_INDEX = "searchindex.js"
_SEARCH_SCRIPTS = ("_static/searchtools.js", "_static/language_data.js", _SEARCH_INDEX)


def _attrs(tag_attrs: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) or "" for m in _ATTR.finditer(tag_attrs)}


def html_pages(outdir: Path) -> list[Path]:
    """The site's pages: every ``.html`` file outside ``_static``."""
    outdir = Path(outdir)
    return sorted(p for p in outdir.rglob("*.html") if "_static" not in p.relative_to(outdir).parts)


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.path) and not parts.scheme and not parts.netloc


def _target(page: Path, url: str) -> Path:
    return (page.parent / urlsplit(url).path).resolve()


def _relative(path: Path, start: Path) -> str:
    """``path`` as a URL relative to the folder ``start``."""
    return os.path.relpath(path, start).replace(os.sep, "/")


# --- the colour mode ---------------------------------------------------------------------------

_MODE_SCRIPT = re.compile(
    r'(<script data-cfasync="false">\s*document\.documentElement\.dataset\.mode = [^\n]*\n'
    r'\s*document\.documentElement\.dataset\.theme = [^\n]*\n)(\s*</script>)'
)
#: The theme's own rule (pydata-sphinx-theme's setTheme): the mode if it is light or dark, else the system's.
MODE_FIX = (
    '    (function (d) { var m = d.dataset.mode; d.dataset.theme = m === "light" || m === "dark" ? m :'
    ' (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"); })(document.documentElement);\n'
)


def settle_colour_mode(text: str) -> str:
    """Resolve ``data-theme`` to light or dark in the head, as the theme's script later does.

    The theme's script sets the same value after the page is parsed; an unchanged
    attribute restyles nothing, where ``auto`` → ``light`` restyled the whole page.
    """
    if "prefers-color-scheme: dark)\").matches" in text:
        return text
    return _MODE_SCRIPT.sub(lambda m: m.group(1) + MODE_FIX + m.group(2), text, count=1)


# --- tab stops of scrollable blocks -----------------------------------------------------------

#: pydata-sphinx-theme's ``load`` handler that gives every listing, output and table a tab stop if it
#: scrolls (``tabIndex`` 0, else -1): it reads the size of every one of them at once.
_THEME_TAB_STOPS = re.compile(
    r'"complete"===document\.readyState\?(?P<f>[A-Za-z_$][\w$]*)\(\):window\.addEventListener\("load",(?P=f)\)'
)
#: The selectors that handler measures (kept in step with the theme: :func:`defer_tab_stops` checks them).
TAB_STOP_SELECTORS = ("pre", ".nboutput > .output_area", ".cell_output > .output", ".jp-RenderedHTMLCommon",
                      ".pst-scrollable-table-container")
#: Set on ``<html>`` once every block has its tab stop (the browser tests wait for it).
TAB_STOPS_DONE = "data-l2bayes-tab-stops"

#: The same rule, applied to each block when it comes within a screen's height of the view, then to
#: the rest while the browser is idle: a block off screen is not laid out (``content-visibility``), and
#: reading the sizes of all of them during ``load`` laid out the whole page.
TAB_STOPS_JS = """\
/* l2bayes: tab stops for the blocks that scroll, measured when each is near the view */
(function () {
  var selector = %(selector)s, pending = new Set(), seen = new Set(), timer = null;
  function measure(el) {
    el.tabIndex = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight ? 0 : -1;
    pending.delete(el);
  }
  function finished() {
    if (!pending.size) document.documentElement.setAttribute(%(done)s, "");
  }
  var near = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) measure(e.target); });
    finished();
  }, { rootMargin: "100%% 0px" }) : null;
  function idle(deadline) {
    var it = pending.values(), el;
    while (!(el = it.next()).done) {
      measure(el.value);
      if (deadline && deadline.timeRemaining() < 2) break;
    }
    finished();
    if (pending.size) later();
  }
  function later() { (window.requestIdleCallback || function (f) { setTimeout(f, 50); })(idle); }
  function watch() {
    document.querySelectorAll(selector).forEach(function (el) {
      if (!seen.has(el)) { seen.add(el); pending.add(el); if (near) near.observe(el); }
    });
    if (!near) idle(null); else later();
  }
  function again() {  // the width changed: every block is measured again
    clearTimeout(timer);
    timer = setTimeout(function () {
      document.documentElement.removeAttribute(%(done)s);
      seen.forEach(function (el) { pending.add(el); if (near) { near.unobserve(el); near.observe(el); } });
      later();
    }, 300);
  }
  function start() {
    watch();
    window.addEventListener("resize", again);
    var main = document.getElementById("main-content");
    if (main) new MutationObserver(watch).observe(main, { subtree: true, childList: true });
  }
  // at load, as the theme did: the page's own scripts have added what they add
  if (document.readyState === "complete") start(); else window.addEventListener("load", start);
})();
"""


def defer_tab_stops(code: str) -> tuple[str, bool]:
    """The theme's script without its ``load``-time measuring of every block, and whether it was there.

    Only the call is removed, and only where the function it calls measures
    :data:`TAB_STOP_SELECTORS` (a theme that changed is left as it is); the
    page then gets :data:`TAB_STOPS_JS`, which applies the same rule lazily.
    """
    m = _THEME_TAB_STOPS.search(code)
    if m is None:
        return code, False
    body = re.search(r"function %s\(\)\{(.{0,400}?)\}" % re.escape(m.group("f")), code, re.S)
    listed = body is not None and all(f'"{s}"' in body.group(1) for s in TAB_STOP_SELECTORS)
    if not listed or "tabIndex=" not in body.group(1):
        return code, False
    return code[: m.start()] + "void 0" + code[m.end():], True


def tab_stops_script() -> str:
    """:data:`TAB_STOPS_JS` with its selectors and the name of its attribute."""
    return TAB_STOPS_JS % {"selector": json.dumps(", ".join(TAB_STOP_SELECTORS)), "done": json.dumps(TAB_STOPS_DONE)}


# --- tooltips --------------------------------------------------------------------------------

#: pydata-sphinx-theme makes a Bootstrap tooltip for each of the page's dozen header buttons as the
#: page loads (some 30 ms of script on every page): ``new Tooltip(el, {delay: …})`` for each.
_THEME_TOOLTIPS = re.compile(
    r"""\[\]\.slice\.call\(document\.querySelectorAll\('\[data-bs-toggle="tooltip"\]'\)\)"""
    r"""\.map\(function\((?P<v>[A-Za-z_$][\w$]*)\)\{return new (?P<cls>[A-Za-z_$][\w$]*)\((?P=v),(?P<opts>\{delay:\{show:\d+,hide:\d+\}\})\)\}\)"""
)
#: The same tooltip, made when the pointer or the focus first comes to its button: the capturing
#: listener runs before the events that show a tooltip reach the button, so the first one shows too.
LAZY_TOOLTIPS_JS = (
    "(function(T,o){function f(e){var b=e.target instanceof Element&&e.target.closest('[data-bs-toggle=\"tooltip\"]');"
    "b&&T.getOrCreateInstance(b,o)}document.addEventListener(\"pointerover\",f,!0);"
    "document.addEventListener(\"focusin\",f,!0)})(%(cls)s,%(opts)s)"
)


def lazy_tooltips(code: str) -> tuple[str, bool]:
    """The theme's script with its tooltips made on first use instead of at load, and whether it changed."""
    m = _THEME_TOOLTIPS.search(code)
    if m is None or "getOrCreateInstance" not in code:
        return code, False
    return code[: m.start()] + LAZY_TOOLTIPS_JS % m.groupdict() + code[m.end():], True


# --- bundles -----------------------------------------------------------------------------------

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]([^'"]+)['"]\s*\)?\s*;""")


def _css_of(path: Path, static: Path, files: list[Path]) -> str:
    """The stylesheet at ``path`` with its local ``@import`` inlined and its URLs relative to ``static``.

    Appends to ``files`` every stylesheet read (``path`` and those it imports).
    """
    if path in files:
        return ""
    files.append(path)
    text = path.read_text(encoding="utf-8")

    def rebase(m: re.Match) -> str:
        quote, url = m.group(1), m.group(2)
        if url.startswith(("data:", "#")) or not _local(url):
            return m.group(0)
        rel = _relative((path.parent / urlsplit(url).path).resolve(), static)
        return f"url({quote}{rel}{quote})"

    imported: list[str] = []

    def inline(m: re.Match) -> str:
        url = m.group(1)
        if not _local(url):
            return m.group(0)
        imported.append(_css_of((path.parent / urlsplit(url).path).resolve(), static, files))
        return f"\0{len(imported) - 1}\0"

    # the imported sheets are rebased on their own folder, so they go in after this sheet's URLs are
    text = _CSS_URL.sub(rebase, _CSS_IMPORT.sub(inline, text))
    return re.sub(r"\0(\d+)\0", lambda m: imported[int(m.group(1))], text)


def _write_bundle(static: Path, suffix: str, text: str) -> str:
    name = f"{BUNDLE_PREFIX}{hashlib.sha256(text.encode()).hexdigest()[:12]}{suffix}"
    path = static / name
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return name


def _is_bundled_script(attrs: dict[str, str]) -> bool:
    kind = attrs.get("type", "text/javascript").lower()
    return kind in ("text/javascript", "application/javascript") and "async" not in attrs and "nomodule" not in attrs


def bundle_page(text: str, page: Path, outdir: Path, icons: IconFont | None = None) -> tuple[str, list[Path]]:
    """One stylesheet and one script for ``page`` instead of each of its own, in order.

    The head's stylesheets become one file, and every local script of the page
    (the head's, and the deferred ones at the end of the body) together with
    the head's inline scripts between them, becomes one file, run in the
    original order at the end of the body, fetched from the start (``preload``
    in the head). The head's scripts ran before the body was parsed, and now
    parsing and drawing the page need not wait for them; they still run while
    the document is loading, so what they leave for ``DOMContentLoaded`` waits
    for it as before (with ``defer``, Sphinx's highlighter asked ``typeof
    Search`` before the same file had defined it, and the search page broke).
    Scripts read on the search page only (the search index and its code) are
    dropped from every other page, and ``fontawesome.js`` from all (the
    stylesheet's web font draws the same icons).

    Returns the new text and the files the page no longer loads.
    """
    outdir = Path(outdir).resolve()
    static = outdir / "_static"
    head_end = text.find("</head>")
    if head_end == -1 or BUNDLE_PREFIX in text:
        return text, []
    search_page = page.resolve() == outdir / "search.html"
    dropped: list[Path] = []
    css_parts, first_css = [], None
    js_parts, first_js = [], None
    cuts: list[tuple[int, int]] = []
    after_bundle: list[str] = []

    for m in _LINK.finditer(text, 0, head_end):
        a = _attrs(m.group(0)[5:])
        href = a.get("href", "")
        rel = a.get("rel", "").lower()
        if rel == "stylesheet" and _local(href):
            target = _target(page, href)
            read: list[Path] = []
            css_parts.append(f"/* {_relative(target, static)} */\n" + _css_of(target, static, read))
            dropped.extend(read)
            first_css = m.start() if first_css is None else first_css
            cuts.append(m.span())
        elif rel == "preload" and a.get("as") == "script" and _local(href):
            cuts.append(m.span())

    for m in _SCRIPT.finditer(text):
        a = _attrs(m.group("attrs"))
        in_head = m.start() < head_end
        src = a.get("src")
        if src is not None:
            if not _local(src) or not _is_bundled_script(a):
                continue
            target = _target(page, src)
            rel = _relative(target, outdir)
            if rel == f"_static/{_FONTAWESOME_JS}" or (rel in _SEARCH_SCRIPTS and not search_page):
                dropped.append(target)
                cuts.append(m.span())
                continue
            if rel == _SEARCH_INDEX:
                # data, rewritten by every build: its own file, run after the bundle, which defines
                # Search.setIndex
                after_bundle.append(m.group(0).strip() + "\n")
                cuts.append(m.span())
                continue
            code = target.read_text(encoding="utf-8")
            # the minified files name their licence file beside them: name it from the bundle's folder
            code = _LICENSE_NOTE.sub(lambda n: n.group(1) + _relative(target.parent / n.group(2), static), code)
            code, _ = lazy_tooltips(code)
            code, deferred = defer_tab_stops(code)
            js_parts.append(f"/* {rel} */\n" + code)
            if deferred:
                js_parts.append(tab_stops_script())
            dropped.append(target)
        elif in_head and _is_bundled_script(a) and "data-cfasync" not in a and js_parts:
            # an inline script of the head between bundled ones (settings the next ones read)
            js_parts.append(m.group("body"))
        else:
            continue
        if in_head and first_js is None:
            first_js = m.start()
        cuts.append(m.span())

    if not css_parts and not js_parts:
        return text, []
    inserts = {}
    if css_parts:
        css = "\n".join(css_parts) + "\n" + PLAIN_TOKEN_CSS + "\n"
        if icons is not None:
            css = icons.apply(css)
        name = _write_bundle(static, ".css", css)
        inserts[first_css] = f'<link rel="stylesheet" href="{_relative(static / name, page.parent.resolve())}" />\n'
    tail = ""
    if js_parts:
        # `;` between files: a file that ends without one must not run into the next
        js = "\n;\n".join(js_parts) + "\n"
        url = _relative(static / _write_bundle(static, ".js", js), page.parent.resolve())
        at = first_js if first_js is not None else head_end
        inserts[at] = inserts.get(at, "") + f'<link rel="preload" as="script" href="{url}" />\n'
        tail = f'<script src="{url}"></script>\n'
    tail += "".join(after_bundle)
    out, last = [], 0
    for start, end in sorted(set(cuts)):
        out.append(text[last:start])
        if start in inserts:
            out.append(inserts.pop(start))
        last = end
    out.append(text[last:])
    text = "".join(out)
    for at_text in inserts.values():  # a bundle whose first member was not cut (not expected)
        text = text.replace("</head>", at_text + "</head>", 1)
    if tail:
        end = text.rfind("</body>")
        text = text[:end] + tail + text[end:] if end != -1 else text + tail
    return text, dropped


# --- the icons ---------------------------------------------------------------------------------

#: A stylesheet rule that only names an icon's glyph: ``.fa-github:before{content:"\\f09b"}``.
_ICON_RULE = re.compile(r'(?P<sel>(?:\.fa-[a-z0-9-]+::?(?:before|after),?)+)\{content:"(?P<glyph>\\[0-9a-f]{4})"\}')
_FONT_FACE = re.compile(r"@font-face\{(?P<body>[^}]*)\}")
_GLYPH_ESCAPE = re.compile(r"\\([0-9a-fA-F]{4,6})")
_ICON_CLASS = re.compile(r"\bfa-[a-z0-9-]+\b")


class IconFont:
    """FontAwesome's web fonts cut down to the icons the site shows, embedded in the stylesheet.

    ``names`` are the icon classes (``fa-github``) found in the pages and scripts;
    ``fonts`` is the folder of the theme's ``.ttf`` files. :meth:`apply` drops the
    stylesheet's rules for every other icon, and replaces each FontAwesome
    ``@font-face`` by one whose only source is a WOFF subset, as a ``data:`` URL,
    of the glyphs the remaining stylesheet names (the theme's admonition and
    link icons included).
    """

    def __init__(self, names: set[str], fonts: Path):
        self.names = set(names)
        self.fonts = Path(fonts)
        self._done: dict[str, str] = {}

    def _keep_rule(self, m: re.Match) -> str:
        names = {s.split(":")[0][1:] for s in m.group("sel").split(",") if s}
        return m.group(0) if names & self.names else ""

    def apply(self, css: str) -> str:
        if css not in self._done:
            self._done[css] = self._apply(css)
        return self._done[css]

    def _apply(self, css: str) -> str:
        css = _ICON_RULE.sub(self._keep_rule, css)
        glyphs = {int(g, 16) for g in _GLYPH_ESCAPE.findall(css)}
        glyphs |= {ord(c) for c in css if 0xE000 <= ord(c) <= 0xF8FF}

        def face(m: re.Match) -> str:
            body = m.group("body")
            src = re.search(r"src:url\(([^)]*fontawesome/webfonts/([a-z0-9-]+)\.[a-z0-9]+)\)", body)
            if src is None:
                return m.group(0)
            ttf = self.fonts / f"{src.group(2)}.ttf"
            if not ttf.is_file():
                return m.group(0)
            data = subset_font(ttf, glyphs)
            url = "data:font/woff;base64," + base64.b64encode(data).decode("ascii")
            return "@font-face{" + re.sub(r"src:[^;}]*", f'src:url({url}) format("woff")', body) + "}"

        return _FONT_FACE.sub(face, css)


def subset_font(ttf: Path, codepoints: set[int]) -> bytes:
    """The font ``ttf`` with only the glyphs of ``codepoints`` (those it has), as WOFF bytes."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(ttf))
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]  # the copyright and licence records stay
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints & set(font.getBestCmap())))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def icon_names(pages: list[Path], scripts: list[Path]) -> set[str]:
    """Every ``fa-…`` class named in the pages' ``class`` attributes and in the scripts' strings."""
    names = set()
    for page in pages:
        for classes in re.findall(r'class="([^"]*)"', page.read_text(encoding="utf-8")):
            names |= set(_ICON_CLASS.findall(classes))
    for script in scripts:
        for literal in re.findall(r"""["'`]([^"'`\n]*fa-[^"'`\n]*)["'`]""", script.read_text(encoding="utf-8")):
            names |= set(_ICON_CLASS.findall(literal))
    return names


def theme_fonts() -> Path:
    """The folder of FontAwesome's ``.ttf`` files inside pydata-sphinx-theme (missing without the theme)."""
    try:
        import pydata_sphinx_theme
    except ImportError:
        return Path("pydata-sphinx-theme-is-not-installed")
    return Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "vendor" / "fontawesome" / "webfonts"


# --- highlighted code --------------------------------------------------------------------------

_HIGHLIGHT_BASE = re.compile(r'html\[data-theme="(light|dark)"\] \.highlight \{[^}]*?\bcolor: (#[0-9A-Fa-f]{3,8}) *\}')
_HIGHLIGHT_TOKEN = re.compile(r'html\[data-theme="(light|dark)"\] \.highlight \.([a-z0-9]+) \{ *([^}]*?) *\}')
#: With this, the code's own text takes the colour of ``.highlight``, as the unwrapped tokens did.
PLAIN_TOKEN_CSS = ".highlight pre{color:inherit}"


def plain_tokens(css: str) -> set[str]:
    """Pygments classes that only repeat the code's base colour, in the light and the dark theme alike."""
    base = dict(_HIGHLIGHT_BASE.findall(css))
    if set(base) != {"light", "dark"}:
        return set()
    styles: dict[str, dict[str, set[str]]] = {}
    for theme, token, rule in _HIGHLIGHT_TOKEN.findall(css):
        styles.setdefault(token, {}).setdefault(theme, set()).add(rule.strip().rstrip(";").strip())
    return {token for token, by in styles.items()
            if all(by.get(theme) == {f"color: {base[theme]}"} for theme in ("light", "dark"))}


_PRE = re.compile(r"<pre\b[^>]*>.*?</pre>", re.S)


def unwrap_plain_tokens(text: str, tokens: set[str]) -> str:
    """Drop the ``<span class="n">`` of every token in ``tokens`` inside ``<pre>``: its text stays, one element less.

    Names, punctuation and blanks are most of a listing's tokens (half of the
    elements of a chapter with much code) and are drawn in the listing's own
    colour anyway (with :data:`PLAIN_TOKEN_CSS`).
    """
    if not tokens:
        return text
    span = re.compile(r'<span class="(?:%s)">([^<]*)</span>' % "|".join(sorted(map(re.escape, tokens))))
    return _PRE.sub(lambda m: span.sub(r"\1", m.group(0)), text)


# --- images ------------------------------------------------------------------------------------

_IMG = re.compile(r"<img\b(?![^>]*\bloading=)")


def lazy_images(text: str) -> str:
    """``loading="lazy"`` and ``decoding="async"`` on every image: a figure loads when scrolled to."""
    return _IMG.sub('<img loading="lazy" decoding="async"', text)


# --- the whole site ----------------------------------------------------------------------------


def lighten_site(outdir: Path) -> dict[str, int]:
    """Rewrite every page of ``outdir`` as described in the module's docstring; delete what none loads.

    Returns counts: pages rewritten, files deleted.
    """
    outdir = Path(outdir).resolve()
    static = outdir / "_static"
    pages = html_pages(outdir)
    scripts = [p for p in static.rglob("*.js") if not p.name.startswith(BUNDLE_PREFIX) and p.name != "fontawesome.js"]
    fonts = theme_fonts()
    icons = IconFont(icon_names(pages, scripts), fonts) if fonts.is_dir() else None
    dropped: set[Path] = set()
    rewritten = 0
    tokens: set[str] | None = None
    for page in pages:
        text = page.read_text(encoding="utf-8")
        new, gone = bundle_page(settle_colour_mode(text), page, outdir, icons)
        css = re.search(rf'href="([^"]*{BUNDLE_PREFIX}[0-9a-f]+\.css)"', new)
        if css and BUNDLE_PREFIX not in text:
            if tokens is None:
                tokens = plain_tokens(_target(page, css.group(1)).read_text(encoding="utf-8"))
            new = unwrap_plain_tokens(new, tokens)
        new = lazy_images(new)
        dropped.update(gone)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    deleted = _delete_unloaded(outdir, pages, dropped)
    return {"pages": rewritten, "deleted": deleted}


_REFERENCE = re.compile(r'(?:src|href)="([^"#?]+)')


#: Files in ``_static`` that no page loads: the theme's template sources, and live code (thebe), which is off.
UNUSED_STATIC = ("webpack-macros.html", "sbt-webpack-macros.html", "sphinx-thebe.js", "sphinx-thebe.css")


def _delete_unloaded(outdir: Path, pages: list[Path], candidates: set[Path]) -> int:
    """Delete what no page or bundle refers to among the ``candidates`` and the files below.

    FontAwesome's script and fonts, :data:`UNUSED_STATIC`, old bundles, and the
    figures of ``_images`` that no page shows (Sphinx never removes a figure that
    an earlier build wrote, after a chapter's figure changed).
    """
    static, images = outdir / "_static", outdir / "_images"
    referenced = set()
    for page in pages:
        for url in _REFERENCE.findall(page.read_text(encoding="utf-8")):
            if _local(url):
                referenced.add(_target(page, url))
    bundles = sorted(static.glob(BUNDLE_PREFIX + "*"))
    for bundle in bundles:
        if bundle.resolve() in referenced and bundle.suffix == ".css":
            for _, url in _CSS_URL.findall(bundle.read_text(encoding="utf-8")):
                if _local(url) and not url.startswith("data:"):
                    referenced.add((static / urlsplit(url).path).resolve())
    fontawesome = static / "vendor" / "fontawesome"
    candidates = set(candidates) | set(bundles) | {static / name for name in UNUSED_STATIC}
    candidates |= {static / _FONTAWESOME_JS, static / (_FONTAWESOME_JS + ".LICENSE.txt")}
    candidates |= set(fontawesome.rglob("*")) | set(images.glob("*"))
    deleted = 0
    for path in sorted(candidates, key=lambda p: -len(p.parts)):
        path = path.resolve()
        if path in referenced or not (static.resolve() in path.parents or images.resolve() in path.parents):
            continue
        if path.is_file():
            path.unlink()
            deleted += 1
    for folder in sorted((p for p in static.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    return deleted
