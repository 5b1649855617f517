"""Sphinx extension for the book's website: math that works offline.

The site must load nothing from the internet, so MathJax is served from the
site itself. ``sphinx-mathjax-offline`` ships the whole MathJax 3 distribution
(about 24 MB); this extension copies only what the book needs into
``_static/mathjax``: the combined TeX-input/CommonHTML-output component, its
web fonts, and the TeX extensions that MathJax's autoloader fetches on demand
(about 2 MB in all).

The book does not use live code (thebe), which jupyter-book 1 loads on every
page anyway: an inline script naming an external URL, declared twice after an
incremental build (a console error). :func:`_drop_thebe` removes those assets.

It also trims what readers never download: the theme's source maps (and the
comments that point to them) and its server-side translation catalogues.

Enable it in ``_config.yml`` under ``sphinx.extra_extensions`` and set
``mathjax_path: mathjax/tex-chtml.js``.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

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


def _on_build_finished(app, exc) -> None:
    if exc is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir))
        trim_theme_assets(Path(app.outdir))


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


def setup(app):
    app.connect("build-finished", _on_build_finished)
    app.connect("html-page-context", _add_student_download)
    app.connect("html-page-context", _drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
