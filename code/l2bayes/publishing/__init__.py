"""Publishing the book without its solutions: student notebooks, the graded-term site, the bundle, the audit.

=====================  ===================================================================
:mod:`.notebooks`      the transformation: solution cells to stubs (``student`` mode), or to
                       stubs plus hidden reference loaders (``hidden`` mode); the student
                       notebooks and their zip
:mod:`.hidden`         the sources of the site without solutions (``make book SOLUTIONS=hide``)
:mod:`.bundle`         the student bundle (``make student``): notebooks, a wheel without
                       references whose ``check`` uses the public case bank, pins, README
:mod:`.leaks`          the leak audit: any line of any reference solution in a built tree,
                       zips and wheels opened
:mod:`.sphinx`         the Sphinx extension: the notebooks and the bundle in every HTML build
=====================  ===================================================================

Command line: ``python -m l2bayes.publishing notebooks|bundle|hidden-sources|leaks``
(``python -m l2bayes.student`` is the same). As a Sphinx extension, this package
is ``l2bayes.publishing``.
"""

from l2bayes.publishing.bundle import BUNDLE_NAME, write_bundle
from l2bayes.publishing.hidden import SKIP, write_hidden_sources
from l2bayes.publishing.leaks import Leak, find_solution_leaks, solution_secrets
from l2bayes.publishing.notebooks import (
    MODES,
    REFERENCE_CHECK,
    ZIP_NAME,
    stub_source,
    strip_solution_markdown,
    student_notebooks,
    transform_notebook,
    write_student_notebooks,
)
from l2bayes.publishing.sphinx import add_student_downloads, add_student_needs, setup

__all__ = [
    "BUNDLE_NAME",
    "Leak",
    "MODES",
    "REFERENCE_CHECK",
    "SKIP",
    "ZIP_NAME",
    "add_student_downloads",
    "add_student_needs",
    "find_solution_leaks",
    "setup",
    "solution_secrets",
    "strip_solution_markdown",
    "stub_source",
    "student_notebooks",
    "transform_notebook",
    "write_bundle",
    "write_hidden_sources",
    "write_student_notebooks",
]
