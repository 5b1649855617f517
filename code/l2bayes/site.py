"""Sphinx extension for the book's website: math that works offline.

The site must load nothing from the internet, so MathJax is served from the
site itself. ``sphinx-mathjax-offline`` ships the whole MathJax 3 distribution
(about 24 MB); this extension copies only what the book needs into
``_static/mathjax``: the combined TeX-input/CommonHTML-output component, its
web fonts, and the TeX extensions that MathJax's autoloader fetches on demand
(about 2 MB in all).

Enable it in ``_config.yml`` under ``sphinx.extra_extensions`` and set
``mathjax_path: mathjax/tex-chtml.js``.
"""

from __future__ import annotations

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


def _on_build_finished(app, exc) -> None:
    if exc is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir))


def setup(app):
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
