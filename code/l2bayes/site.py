"""Sphinx extension for the book's website: math that works offline.

The math is typeset when the book is built, not in the reader's browser:
:func:`typeset_math` hands every formula of the built pages to MathJax 3 under
node (``tex2svg.cjs`` beside this module, ``mathjax-full`` from the book's
``package.json``) and writes the SVG it returns, with MathML for screen
readers, in place of the TeX; the pages then load no MathJax at all (it was
about half of a chapter's load time). Equation numbers, their links and the
theorem blocks are Sphinx's HTML around the formulas and are left as they are.
A TeX error fails the build.

Without node or ``mathjax-full`` (``npm ci`` not run), the pages keep the TeX
and MathJax is served from the site itself: ``sphinx-mathjax-offline`` ships the
whole MathJax 3 distribution (about 24 MB); this extension copies only what the
book needs into ``_static/mathjax``: the combined TeX-input/CommonHTML-output
component, its web fonts, and the TeX extensions that MathJax's autoloader
fetches on demand (about 2 MB in all).

The book does not use live code (thebe), which jupyter-book 1 loads on every
page anyway: an inline script naming an external URL, declared twice after an
incremental build (a console error). :func:`_drop_thebe` removes those assets.

It also trims what readers never download: the theme's source maps (and the
comments that point to them) and its server-side translation catalogues.

Last of all, :func:`l2bayes.site_assets.lighten_site` bundles each page's
stylesheets and scripts, replaces FontAwesome's script and fonts by a font of
the icons shown, and deletes what no page loads (see that module).

It also gathers the ledger of claims (see the section "The ledger of claims"
below): the page "Claims and checks" and ``claims.json``.

Enable it in ``_config.yml`` under ``sphinx.extra_extensions`` and set
``mathjax_path: mathjax/tex-chtml.js``.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

from l2bayes.site_assets import lighten_site
from l2bayes.testing import CLAIM_KEYS, CLAIM_MIME, CLAIM_OUTPUT_ENV, STRICT_TOLERANCE

#: Paths inside MathJax's distribution that the site serves.
MATHJAX_PARTS = (
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
)


def mathjax_source() -> Path:
    """The MathJax distribution installed by the ``sphinx-mathjax-offline`` package."""
    dist = metadata.distribution("sphinx-mathjax-offline")
    root = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (root / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax not found in the sphinx-mathjax-offline package at {root}")
    return root


def copy_mathjax(outdir: Path) -> None:
    """Copy :data:`MATHJAX_PARTS` into ``outdir/_static/mathjax``."""
    src = mathjax_source()
    dest = Path(outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s, d = src / part, dest / part
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)


_SOURCE_MAP_COMMENT = re.compile(rb"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$")


def trim_theme_assets(outdir: Path) -> None:
    """Delete source maps and translation catalogues from ``outdir/_static``.

    Browsers fetch a ``.map`` file only when developer tools are open, and the
    ``locales`` folder holds ``.mo`` catalogues used at build time; together
    they were about 4 MB of the site. The ``sourceMappingURL`` comments are
    removed too, so that developer tools do not ask for the missing maps.
    """
    static = Path(outdir) / "_static"
    for path in static.rglob("*.map"):
        path.unlink()
    shutil.rmtree(static / "locales", ignore_errors=True)
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        data = path.read_bytes()
        trimmed = _SOURCE_MAP_COMMENT.sub(b"\n", data)
        if trimmed != data:
            path.write_bytes(trimmed)


#: A formula in Sphinx's HTML: inline ``\\(...\\)``, or a display block (after its number, if any).
_MATH = re.compile(
    r'(?P<open><span class="math notranslate nohighlight">)(?P<inline>.*?)(?P<iclose></span>)'
    r'|(?P<dopen><div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">.*?</span>)?)'
    r"(?P<display>.*?)(?P<dclose></div>)",
    re.S,
)
_MATHJAX_SCRIPTS = re.compile(r'\s*<script>window\.MathJax = .*?</script>|\s*<script [^>]*src="[^"]*mathjax/tex-chtml\.js[^"]*"></script>')
TEX2SVG = Path(__file__).with_name("tex2svg.cjs")
#: A display formula wider than a phone's screen scrolls by itself, not the page.
_WIDE_MATH_CSS = ('mjx-container[jax="SVG"][display="true"]{overflow-x:auto;overflow-y:hidden;max-width:100%}'
                  "span.l2bayes-wide{display:inline-block;max-width:100%;overflow-x:auto;overflow-y:hidden;"
                  "vertical-align:middle}")


#: MathJax's rules that read attributes :func:`slim_svg` removes, restated without them: the top group's
#: colours (were attributes of every formula) and the glyphs' stroke (was ``use[data-c]``).
_SLIM_SVG_CSS = ('mjx-container[jax="SVG"]>svg>g{stroke:currentColor;fill:currentColor;stroke-width:0}'
                 'mjx-container[jax="SVG"] use{stroke-width:3}')
#: The elements MathJax's stylesheet styles by their ``data-mml-node`` (errors, tables, actions).
_STYLED_NODES = ("merror", "mtable", "maction")
_G_TAG = re.compile(r"<g\b([^>]*)>|</g>")


def slim_svg(html_: str) -> str:
    """MathJax's SVG of a formula without what only MathJax's own tools read.

    The ``data-mml-node``/``data-c``/``data-mjx-texclass`` labels (kept where
    MathJax's stylesheet styles by them), the XML namespaces an HTML page does
    not need, ``xlink:href`` (plain ``href`` in SVG 2), ``focusable`` (for old
    Internet Explorer), and every ``<g>`` left without attributes, which groups
    nothing (kept inside a labelled group, where the stylesheet counts levels).
    About a third of a chapter's math, and fewer elements to style. The colour
    attributes of the top group move to :data:`_SLIM_SVG_CSS`.
    """
    kept = "|".join(_STYLED_NODES)
    out = re.sub(rf' data-mml-node="(?!(?:{kept})")[^"]*"', "", html_)
    out = re.sub(r' data-(?:c|mjx-texclass)="[^"]*"', "", out)
    for attr in (' xmlns="http://www.w3.org/2000/svg"', ' xmlns:xlink="http://www.w3.org/1999/xlink"',
                 ' focusable="false"', ' stroke="currentColor" fill="currentColor" stroke-width="0"'):
        out = out.replace(attr, "")
    out = re.sub(r"(<use [^>]*)></use>", r"\1/>", out.replace("xlink:href=", "href="))
    parts, last, stack = [], 0, []  # stack: for each open <g>, "drop", "labelled" or "kept"
    for m in _G_TAG.finditer(out):
        if m.group(0) == "</g>":
            drop = stack.pop() == "drop"
        else:
            attrs = m.group(1).strip()
            drop = not attrs and not (stack and stack[-1] == "labelled")
            stack.append("drop" if drop else "labelled" if "data-mml-node" in attrs else "kept")
        if drop:
            parts.append(out[last:m.start()])
            last = m.end()
    parts.append(out[last:])
    return "".join(parts)


#: Inline formulas wider than this (in ex, about 8 px) get their own scroll bar on a 390-px screen.
WIDE_INLINE_EX = 36.0


def _ex_width(svg: str) -> float:
    m = re.search(r'<svg [^>]*width="([0-9.]+)ex"', svg)
    return float(m.group(1)) if m else 0.0


class MathError(Exception):
    """TeX that MathJax cannot typeset."""


def node_modules(start: Path) -> Path | None:
    """The nearest ``node_modules`` holding ``mathjax-full``, from ``start`` up, if node is installed."""
    if shutil.which("node") is None:
        return None
    for folder in [Path(start).resolve(), *Path(start).resolve().parents]:
        if (folder / "node_modules" / "mathjax-full" / "js" / "mathjax.js").is_file():
            return folder / "node_modules"
    return None


def _tex(match: re.Match) -> tuple[str, bool]:
    if match["open"]:
        tex = html.unescape(match["inline"]).strip()
        return (tex[2:-2] if tex.startswith("\\(") and tex.endswith("\\)") else tex), False
    tex = html.unescape(match["display"]).strip()
    return (tex[2:-2] if tex.startswith("\\[") and tex.endswith("\\]") else tex), True


def tex_to_svg(pages: list[list[tuple[str, bool]]], modules: Path) -> tuple[str, list[tuple[list[str], str]]]:
    """Typeset each page's ``(tex, display)`` pairs with MathJax under node.

    Returns the stylesheet and, for each page, the HTML of each formula and the
    hidden SVG of the page's glyphs that they reference. Raises
    :class:`MathError` listing every formula MathJax reports an error for.
    """
    out = subprocess.run(["node", str(TEX2SVG), str(modules)], input=json.dumps(pages), capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise MathError(f"node {TEX2SVG.name} failed: {out.stderr.strip()[-2000:]}")
    result = json.loads(out.stdout)
    if result["errors"]:
        raise MathError("; ".join(f"{msg} in {pages[p][i][0]!r}" for p, i, msg in result["errors"]))
    return result["css"], [(page["html"], page["defs"]) for page in result["pages"]]


def _slim_css(css: str) -> str:
    """MathJax's stylesheet without the ``data-c`` rule (:data:`_SLIM_SVG_CSS` restates it) and blank space."""
    css = re.sub(r'mjx-container\[jax="SVG"\] path\[data-c\], mjx-container\[jax="SVG"\] use\[data-c\] \{[^}]*\}', "", css)
    css = re.sub(r"\s*([{};,>])\s*", r"\1", css)
    return re.sub(r"\s+", " ", css).strip()


def typeset_math(outdir: Path, modules: Path) -> int:
    """Replace the TeX of every page under ``outdir`` by MathJax's SVG; drop the MathJax scripts.

    Pages typeset by an earlier build are left alone. Returns the number of formulas typeset.
    """
    pages = {}
    for path in sorted(Path(outdir).rglob("*.html")):
        if "_static" in path.relative_to(outdir).parts:
            continue
        text = path.read_text(encoding="utf-8")
        found = [m for m in _MATH.finditer(text) if "<mjx-container" not in m.group(0)]
        if found:
            pages[path] = (text, found)
        elif _MATHJAX_SCRIPTS.search(text):
            path.write_text(_MATHJAX_SCRIPTS.sub("", text), encoding="utf-8")
    if not pages:
        return 0
    css, typeset = tex_to_svg([[_tex(m) for m in found] for _, found in pages.values()], modules)
    for (path, (text, found)), (rendered, defs) in zip(pages.items(), typeset):
        parts, last = [], 0
        for m, svg in zip(found, rendered):
            svg = slim_svg(svg)
            opening, closing = (m["open"], m["iclose"]) if m["open"] else (m["dopen"], m["dclose"])
            if not m["open"]:
                # a display formula may scroll sideways on a phone: keyboard users must reach it
                svg = svg.replace("<mjx-container ", '<mjx-container tabindex="0" ', 1)
            elif _ex_width(svg) > WIDE_INLINE_EX:
                # an inline formula wider than a phone's line cannot wrap: it scrolls by itself
                opening = opening.replace('class="math ', 'tabindex="0" class="l2bayes-wide math ', 1)
            parts += [text[last:m.start()], opening, svg, closing]
            last = m.end()
        text = _MATHJAX_SCRIPTS.sub("", "".join(parts) + text[last:])
        text = text.replace("</head>", f'<style id="l2bayes-mathjax-svg">{_slim_css(css)}{_SLIM_SVG_CSS}{_WIDE_MATH_CSS}</style>\n</head>', 1)
        text = re.sub(r"(<body[^>]*>)", lambda b: b.group(1) + defs, text, count=1)
        path.write_text(text, encoding="utf-8")
    return sum(len(found) for _, found in pages.values())


#: Fixes of the theme's and docutils' HTML that axe-core reports as serious or critical.
_A11Y_FIXES = (
    # Decorative icon fonts inside labelled buttons: their glyphs are not the button's text.
    (re.compile(r'<i class="([^"]*\bfa-[^"]*)"(?![^>]*aria-hidden)'), r'<i aria-hidden="true" class="\1"'),
    # The search field-button is named by its visible text ("Search", Ctrl+K), not by a shorter label.
    (re.compile(r'(<button class="btn search-button-field[^"]*" title="Search") aria-label="Search"'), r"\1"),
    # The colour-mode icons' titles are not visible text of the labelled button.
    (re.compile(r'(<i aria-hidden="true" class="theme-switch [^"]*" data-mode="[a-z]+")\s+title="[^"]*"'), r"\1"),
    # A role="list" must hold list items; doc-biblioentry is deprecated in DPUB-ARIA.
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'), r'\1 role="listitem"'),
)


#: What the browser skips while it is off screen (``content-visibility: auto``): paragraphs, and every
#: other block of a section but its headings. The browser tests draw them all before they check.
OFF_SCREEN_SKIPPED = ("article.bd-article p",
                      "article.bd-article section > :not(section, h1, h2, h3, h4, h5, h6)")

#: Styles for a phone-sized screen and for contrast (``_static/l2bayes.css``, linked from every page).
SITE_CSS = """\
/* At 390 px, a wide table scrolls inside itself and long inline code wraps: the page never scrolls sideways. */
article table.table { display: block; max-width: 100%; overflow-x: auto; }
article code.literal, article code.literal span.pre { white-space: pre-wrap; overflow-wrap: anywhere; }
/* Links to equations and theorems keep a 4.5:1 contrast on the tinted backgrounds of exercises and proofs. */
article .exercise a.reference.internal, article .proof a.reference.internal, article .admonition a.reference.internal,
article a.reference.internal[href*="#equation-"],
.student-download a, .student-download a:is(:visited, :hover, :focus),
.pdf-download a, .pdf-download a:is(:visited, :hover, :focus) {
  color: var(--pst-color-text-base); text-decoration: underline; }
/* A paragraph or block off screen is neither styled nor laid out until it comes near: a chapter is
   some 7,000 elements (formulas, code), and laying out all of them as the page arrived took most of
   its load. Headings stay, for the contents' highlighting and for links to them. The clip margin keeps
   a focused link's outline at a line's end. */
""" + OFF_SCREEN_SKIPPED[0] + """ { content-visibility: auto; contain-intrinsic-size: auto 4.5em; overflow-clip-margin: 4px; }
""" + OFF_SCREEN_SKIPPED[1] + """ { content-visibility: auto; contain-intrinsic-size: auto 12em; overflow-clip-margin: 4px; }
"""


def fix_accessibility(outdir: Path) -> None:
    """Apply :data:`_A11Y_FIXES` to every page under ``outdir`` (idempotent) and write :data:`SITE_CSS`."""
    (Path(outdir) / "_static").mkdir(parents=True, exist_ok=True)
    (Path(outdir) / "_static" / "l2bayes.css").write_text(SITE_CSS, encoding="utf-8")
    for path in Path(outdir).rglob("*.html"):
        if "_static" in path.relative_to(outdir).parts:
            continue
        text = path.read_text(encoding="utf-8")
        fixed = text
        for pattern, repl in _A11Y_FIXES:
            fixed = pattern.sub(repl, fixed)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")


#: The whole book as one PDF, written by ``make pdf`` (Jupyter Book's LaTeX builder).
PDF_BUILD = Path("_build") / "latex" / "book.pdf"
PDF_NAME = "l2-regularization-is-secretly-bayesian.pdf"
_PDF_LINK = '<p class="pdf-download">'


def link_pdf(outdir: Path, pdf: Path) -> bool:
    """Copy ``pdf`` into ``outdir/_static`` and link it under the title of the landing page; True if linked.

    Without a built PDF the page is left as it is (no link to a missing file).
    """
    index = Path(outdir) / "index.html"
    if not Path(pdf).is_file() or not index.is_file():
        return False
    shutil.copy2(pdf, Path(outdir) / "_static" / PDF_NAME)
    text = index.read_text(encoding="utf-8")
    size = Path(pdf).stat().st_size / 1e6
    link = (f'{_PDF_LINK}<a class="reference download" href="_static/{PDF_NAME}" download>'
            f"The whole book as one PDF</a> ({size:.1f} MB)</p>")
    text = re.sub(re.escape(_PDF_LINK) + r".*?</p>", "", text, flags=re.S)
    end = text.find("</h1>", max(text.find("<article"), 0))
    if end == -1:
        return False
    index.write_text(text[: end + 5] + link + text[end + 5:], encoding="utf-8")
    return True


def _on_build_finished(app, exc) -> None:
    if exc is None and app.builder.format == "html":
        modules = node_modules(Path(app.srcdir))
        if modules is None:
            copy_mathjax(Path(app.outdir))
        else:
            typeset_math(Path(app.outdir), modules)
        trim_theme_assets(Path(app.outdir))
        fix_accessibility(Path(app.outdir))
        link_pdf(Path(app.outdir), Path(app.srcdir) / PDF_BUILD)


def _on_build_finished_last(app, exc) -> None:
    # after every other extension's build-finished (the theme rewrites pygments.css, myst-nb,
    # sphinx-proof and sphinx-exercise write their stylesheets there): the bundles take what they wrote
    if exc is None and app.builder.format == "html":
        lighten_site(Path(app.outdir))


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's scripts and stylesheet from a page (live code is off)."""

    def is_thebe(asset) -> bool:
        name = str(getattr(asset, "filename", asset) or "")
        body = str(getattr(asset, "attributes", {}).get("body", ""))
        return "thebe" in name or "THEBE_JS_URL" in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def student_download_html(pagename: str) -> str:
    """The link to a chapter's student notebook, shown under the chapter's title.

    The notebooks themselves are written into ``_static/student/`` by
    :mod:`l2bayes.student` at the end of every HTML build.
    """
    stem = pagename.split("/", 1)[1]
    return (
        '<p class="student-download">'
        f'<a class="reference download" href="../_static/student/{stem}.ipynb" download="{stem}.ipynb">'
        "Download the student notebook</a> (the exercises with their solutions replaced by stubs; "
        '<a class="reference download" href="../_static/student/student-notebooks.zip" download>all chapters as a zip</a>)'
        "</p>"
    )


def _add_student_download(app, pagename, templatename, context, doctree) -> None:
    if pagename.startswith("chapters/") and "body" in context:
        body = context["body"]
        end = body.find("</h1>")
        if end != -1:
            end += len("</h1>")
            context["body"] = body[:end] + student_download_html(pagename) + body[end:]


# --- The ledger of claims: "Claims and checks" and claims.json ---------------------------------
#
# Every assert_close / assert_below of a chapter displays its claim as an output of
# MIME type CLAIM_MIME when the build executes the notebook (see l2bayes.testing).
# ClaimOutputs, registered with myst-nb as a MIME renderer (the entry point
# "myst_nb.mime_renderers" in pyproject.toml), turns each such output into an
# empty anchor that carries the claim; _collect_claims stores the claims of each
# page in the environment, so a page read from the execution cache, or not read at
# all, keeps its claims; the directive `claims-ledger` becomes the table of all
# claims; build-finished writes claims.json.

#: Where the build writes every claim, relative to the HTML output folder.
CLAIMS_JSON = "claims.json"


def claim_anchor(cell_index, output_index) -> str:
    """The HTML id of the anchor a claim's output leaves in its cell."""
    return f"claim-{cell_index}-{output_index}"


class ClaimOutputs:
    """myst-nb MIME renderer for claim outputs: an invisible anchor that carries the claim."""

    mime_priority_overrides = [("*", CLAIM_MIME, 1)]

    @staticmethod
    def handle_mime(renderer, data, inline):
        if data.mime_type != CLAIM_MIME:
            return None
        content = data.content
        claim = json.loads(content) if isinstance(content, (str, bytes)) else dict(content)
        anchor = claim_anchor(data.cell_index, data.output_index)
        claim.update(cell=data.cell_index, anchor=anchor)
        node = nodes.inline("", "", ids=[anchor], classes=["claim-anchor"])
        node["l2bayes_claim"] = claim
        return [node]


def claims_of_doctree(doctree) -> list[dict]:
    """The claims carried by the anchors of one page, in page order."""
    return [dict(node["l2bayes_claim"]) for node in doctree.findall(nodes.inline) if node.get("l2bayes_claim")]


def _claims_store(env) -> dict:
    if not hasattr(env, "l2bayes_claims"):
        env.l2bayes_claims = {}
    return env.l2bayes_claims


def _collect_claims(app, doctree) -> None:
    claims = claims_of_doctree(doctree)
    store = _claims_store(app.env)
    store.pop(app.env.docname, None)
    if claims:
        store[app.env.docname] = claims


def _purge_claims(app, env, docname) -> None:
    _claims_store(env).pop(docname, None)


def _merge_claims(app, env, docnames, other) -> None:
    store = _claims_store(env)
    for docname, claims in _claims_store(other).items():
        if docname in docnames:
            store[docname] = claims


def all_claims(env, builder) -> list[dict]:
    """Every claim of the book, chapter by chapter (in file order), with its page and URL."""
    out = []
    for docname in sorted(_claims_store(env)):
        title = env.titles[docname].astext() if docname in env.titles else docname
        for claim in _claims_store(env)[docname]:
            entry = {"chapter": docname.rsplit("/", 1)[-1], "title": title, "page": docname}
            entry.update({key: claim.get(key) for key in CLAIM_KEYS})
            entry.update({key: claim[key] for key in ("rtol", "atol") if key in claim})
            entry["cell"] = claim.get("cell")
            entry["url"] = f"{builder.get_target_uri(docname)}#{claim['anchor']}"
            out.append(entry)
    return out


class claims_ledger(nodes.General, nodes.Element):
    """Placeholder for the table of all claims, filled in once every page is read."""


class ClaimsLedger(Directive):
    """``{claims-ledger}``: the table of every claim of the book, by chapter.

    With the flag ``:summary:`` only one sentence: how many claims, and the range of their tolerances.
    """

    option_spec = {"summary": directives.flag}

    def run(self):
        env = self.state.document.settings.env
        pages = getattr(env, "l2bayes_ledger_pages", set())
        pages.add(env.docname)
        env.l2bayes_ledger_pages = pages
        return [claims_ledger("", summary="summary" in self.options)]


def claims_summary(claims) -> str:
    """One sentence on the ledger: the number of claims and the range of their tolerances."""
    if not claims:
        return "No claim has been recorded."
    agreements = [c for c in claims if c["kind"] == "close"]
    tolerances = [c["tolerance"] for c in agreements]
    strict = sum(t <= STRICT_TOLERANCE for t in tolerances)
    loose = [c for c in agreements if c["tolerance"] > STRICT_TOLERANCE]
    explained = sum(bool((c.get("reason") or "").strip()) for c in loose)
    why = "every looser one says why" if explained == len(loose) else f"{explained} of the {len(loose)} looser ones say why"
    chapters = len({c["chapter"] for c in claims})
    text = f"{len(claims)} claims in {chapters} chapters are checked, {len(tolerances)} of them as agreements"
    if tolerances:
        text += (f" with tolerances from {_format_number(min(tolerances))} to {_format_number(max(tolerances))}"
                 f" ({strict} at {STRICT_TOLERANCE:g} or tighter; {why})")
    return text + f" and {len(claims) - len(tolerances)} as bounds."


def _format_number(x) -> str:
    return "0" if x == 0 else f"{x:.2g}"


def _claims_table(claims, relative_uri) -> nodes.table:
    table = nodes.table(classes=["claims-table", "colwidths-given"])
    widths = (38, 37, 25)
    group = nodes.tgroup(cols=len(widths))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    header = nodes.row()
    for text in ("Claim", "Checked against", "Error ≤ tolerance, and why"):
        header += nodes.entry("", nodes.paragraph(text=text))
    head += header
    body = nodes.tbody()
    group += body
    for claim in claims:
        row = nodes.row()
        link = nodes.reference("", claim["label"] or "(no label)", refuri=relative_uri(claim), internal=True)
        first = nodes.entry("", nodes.paragraph("", "", nodes.strong("", "", link)))
        if claim["statement"]:
            first += nodes.paragraph(text=claim["statement"])
        row += first
        row += nodes.entry("", nodes.paragraph(text=claim["method"] or "(no method)"))
        relation = "≤" if claim["error"] <= claim["tolerance"] else ">"
        last = nodes.entry("", nodes.paragraph(
            text=f"{_format_number(claim['error'])} {relation} {_format_number(claim['tolerance'])}"))
        if claim["reason"]:
            last += nodes.paragraph(text=claim["reason"])
        row += last
        body += row
    return table


def _fill_claims_ledger(app, doctree, fromdocname) -> None:
    placeholders = list(doctree.findall(claims_ledger))
    if not placeholders:
        return
    claims = all_claims(app.env, app.builder)
    chapters = sorted({c["chapter"] for c in claims})
    for placeholder in [p for p in placeholders if p.get("summary")]:
        placeholder.replace_self(nodes.paragraph(text=claims_summary(claims)))
    placeholders = [p for p in placeholders if not p.get("summary")]
    content = [nodes.paragraph(text=claims_summary(claims) + f" They are also in the file {CLAIMS_JSON} at the root of the site.")]

    def relative_uri(claim: dict) -> str:
        return app.builder.get_relative_uri(fromdocname, claim["page"]) + "#" + claim["url"].partition("#")[2]

    for chapter in chapters:
        these = [c for c in claims if c["chapter"] == chapter]
        section = nodes.section(ids=[f"claims-{chapter.replace('_', '-')}"])
        section += nodes.title(text=these[0]["title"])
        section += nodes.paragraph(text=f"{len(these)} claims.")
        section += _claims_table(these, relative_uri)
        content.append(section)
    for placeholder in placeholders:
        placeholder.replace_self(content)


def _ledger_pages_outdated(app, env, added, changed, removed):
    # the ledger page shows other pages' claims: rebuild it whenever any page changes
    if added or changed or removed:
        return sorted(getattr(env, "l2bayes_ledger_pages", set()) - set(removed))
    return []


def write_claims_json(app, exc) -> None:
    """``build-finished``: every claim into ``claims.json`` at the root of the HTML site."""
    if exc is None and app.builder.format == "html":
        path = Path(app.outdir) / CLAIMS_JSON
        path.write_text(json.dumps(all_claims(app.env, app.builder), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")


def setup_claims(app) -> None:
    """Register the ledger of claims (called from :func:`setup`)."""
    # The build's kernels inherit this process's environment: they display each claim.
    os.environ[CLAIM_OUTPUT_ENV] = "1"
    app.add_node(claims_ledger)
    app.add_directive("claims-ledger", ClaimsLedger)
    app.connect("doctree-read", _collect_claims)
    app.connect("env-purge-doc", _purge_claims)
    app.connect("env-merge-info", _merge_claims)
    app.connect("env-get-outdated", _ledger_pages_outdated)
    app.connect("doctree-resolved", _fill_claims_ledger)
    app.connect("build-finished", write_claims_json)


def setup(app):
    setup_claims(app)
    app.add_css_file("l2bayes.css")
    app.connect("build-finished", _on_build_finished)
    app.connect("build-finished", _on_build_finished_last, priority=900)
    app.connect("html-page-context", _add_student_download)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
