"""The Sphinx side of publishing: every HTML build offers the student notebooks and the bundle.

At the end of an HTML build, ``_static/student/`` receives the student
notebooks, their zip and the student bundle (:mod:`.bundle`). Each chapter's
"Download the student notebook" line (written by :mod:`l2bayes.site`) gets a
sentence saying what else a student needs to run the checks: Python 3.11 and
the bundle.

Enable it as ``l2bayes.publishing`` (or its old name ``l2bayes.student``) in
``_config.yml`` under ``sphinx.extra_extensions``, after ``l2bayes.site``.
"""

from __future__ import annotations

from pathlib import Path

from l2bayes.publishing.bundle import BUNDLE_NAME, write_bundle
from l2bayes.publishing.notebooks import write_student_notebooks

#: Runs after the handlers of priority 500 (Sphinx's default), among them the one that writes the link.
_AFTER_SITE = 600
_DOWNLOAD = '<p class="student-download">'


def student_needs_html(prefix: str = "../") -> str:
    """The sentence appended to the download line: what else a student needs, with the bundle's link."""
    return (
        " To run its checks on your own machine you also need Python 3.11 and "
        f'<a class="reference download" href="{prefix}_static/student/{BUNDLE_NAME}" download>the student bundle</a>: '
        "the book's helper package without solutions, the public cases its <code>check</code> compares with, "
        "the pinned requirements and a README with the two commands that set it up."
    )


def add_student_needs(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` hook: complete the download line under a chapter's title."""
    body = context.get("body") if isinstance(context, dict) else None
    if not body or _DOWNLOAD not in body:
        return
    start = body.index(_DOWNLOAD)
    end = body.find("</p>", start)
    if end != -1 and BUNDLE_NAME not in body[start:end]:
        stop = "" if body[:end].rstrip().endswith(".") else "."
        context["body"] = body[:end] + stop + student_needs_html() + body[end:]


def add_student_downloads(app, exc) -> None:
    """Sphinx ``build-finished`` hook: student notebooks, their zip and the bundle into ``_static/student/``."""
    if exc is None and app.builder.format == "html":
        chapters = app.config.l2bayes_chapters or None
        folder = Path(app.outdir) / "_static" / "student"
        write_student_notebooks(folder, chapters=chapters)
        write_bundle(folder, chapters=chapters)


def setup(app):
    app.add_config_value("l2bayes_chapters", "", "env")
    app.connect("html-page-context", add_student_needs, priority=_AFTER_SITE)
    app.connect("build-finished", add_student_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "2"}
