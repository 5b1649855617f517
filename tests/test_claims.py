"""The ledger of claims: every check of every chapter, as the built site lists it.

The build (make test builds first) writes ``_build/html/claims.json`` and the page
"Claims and checks". A claim fails here when it names no independent method or no
sentence of the chapter, when its error exceeds its tolerance, or when a tolerance
looser than 1e-6 comes without a reason. The unit tests at the end need no build.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from l2bayes import assert_below, assert_close
from l2bayes.site import ClaimOutputs, claim_anchor, claims_of_doctree, claims_summary
from l2bayes.testing import CLAIM_MIME, CLAIM_OUTPUT_ENV, LEDGER, claim_problems

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
KEYS = {"chapter", "label", "statement", "method", "error", "tolerance", "reason", "url"}


@pytest.fixture(scope="module")
def claims():
    path = SITE / "claims.json"
    if not path.is_file():
        pytest.fail("claims.json is missing: run `make book` (make test builds it first)")
    return json.loads(path.read_text(encoding="utf-8"))


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def parse(path: Path) -> Ids:
    page = Ids()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_claims_have_the_documented_keys(claims):
    assert claims, "no claims at all"
    for claim in claims:
        assert KEYS <= set(claim), sorted(KEYS - set(claim))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_claim_of_the_chapter_is_sound(claims, chapter):
    these = [c for c in claims if c["chapter"] == chapter]
    assert these, (f"{chapter} records no claim: a chapter without checks, or an execution cache "
                   "from before the ledger (delete _build/.jupyter_cache)")
    problems = [f"{c['label']!r} ({c['url']}): {p}" for c in these for p in claim_problems(c)]
    assert not problems, f"{len(problems)} unsound claims in {chapter}:\n" + "\n".join(problems)


def test_every_claim_links_to_an_anchor_in_its_cell(claims):
    pages = {}
    for claim in claims:
        page, _, anchor = claim["url"].partition("#")
        if page not in pages:
            pages[page] = parse(SITE / page).ids
        assert anchor in pages[page], f"{claim['url']} has no anchor"


def test_the_claims_page_lists_every_claim_with_its_link(claims):
    page = SITE / "claims.html"
    assert page.is_file()
    links = {href for href in parse(page).hrefs}
    for claim in claims:
        assert claim["url"] in links, f"the claims page does not link {claim['url']}"
    text = page.read_text(encoding="utf-8")
    assert f"{len(claims)} claims in" in text
    assert f"{len(claims)} claims in" in (SITE / "index.html").read_text(encoding="utf-8")


def test_claim_outputs_are_not_shown_on_the_chapter_pages():
    text = (SITE / "chapters" / f"{CHAPTERS[0]}.html").read_text(encoding="utf-8")
    assert "vnd.l2bayes" not in text and '"statement"' not in text


# --- without a build ------------------------------------------------------------------------


GOOD = {"label": "x", "statement": "x is one", "method": "exact rationals", "error": 1e-13,
        "tolerance": 1e-12, "reason": None}


@pytest.mark.parametrize("change, problem", [
    ({"method": None}, "no method"),
    ({"method": "  "}, "no method"),
    ({"method": "same"}, "does not say how"),
    ({"statement": ""}, "no statement"),
    ({"error": 2e-12}, "exceeds the tolerance"),
    ({"tolerance": 1e-3, "error": 1e-4}, "has no reason"),
    ({"error": float("nan")}, "not a finite number"),
])
def test_claim_problems_names_each_defect(change, problem):
    assert claim_problems(GOOD) == []
    assert claim_problems({**GOOD, "tolerance": 1e-3, "error": 1e-4, "reason": "Monte Carlo"}) == []
    assert claim_problems({**GOOD, "tolerance": 30.0, "error": 2.0, "kind": "below"}) == []  # a bound is the claim
    found = claim_problems({**GOOD, **change})
    assert any(problem in p for p in found), found


def test_recorded_claims_pass_or_fail_the_rules():
    before = len(LEDGER)
    assert_close(1.0, 1.0 + 1e-4, rtol=1e-3, what="loose", method="a second solver", statement="s")
    assert_below(0.5, 1.0, what="bound", method="direct count", statement="s")
    assert_close(2.0, 2.0, what="bare")
    loose, bound, bare = LEDGER[before:]
    assert any("has no reason" in p for p in claim_problems(loose))
    assert claim_problems(bound) == []
    assert {"no method", "no statement"} <= set(claim_problems(bare))


def test_claims_are_displayed_only_in_the_builds_kernels(monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    monkeypatch.delenv(CLAIM_OUTPUT_ENV, raising=False)
    assert_close(1.0, 1.0, what="quiet", method="exact arithmetic", statement="s")
    assert shown == []
    monkeypatch.setenv(CLAIM_OUTPUT_ENV, "1")
    assert_close(1.0, 1.0, what="shown", method="exact arithmetic", statement="s")
    (bundle, raw), = shown
    assert raw and list(bundle) == [CLAIM_MIME] and bundle[CLAIM_MIME]["label"] == "shown"
    json.dumps(bundle)  # the notebook stores it as JSON
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # a plain Python process
    assert_close(1.0, 1.0, what="no kernel", method="exact arithmetic", statement="s")
    assert len(shown) == 1
    assert os.environ.get(CLAIM_OUTPUT_ENV) == "1"


def test_claim_outputs_become_anchors_that_carry_the_claim():
    from docutils import nodes
    from docutils.utils import new_document

    data = SimpleNamespace(mime_type=CLAIM_MIME, content=dict(GOOD), cell_index=7, output_index=2)
    (node,) = ClaimOutputs.handle_mime(None, data, False)
    assert node["ids"] == [claim_anchor(7, 2)] and node.astext() == ""
    assert ClaimOutputs.handle_mime(None, SimpleNamespace(mime_type="text/plain"), False) is None
    doc = new_document("page")
    doc += nodes.container("", node)
    (claim,) = claims_of_doctree(doc)
    assert claim["label"] == "x" and claim["cell"] == 7 and claim["anchor"] == "claim-7-2"
    assert (CLAIM_MIME, 1) in {(m, p) for b, m, p in ClaimOutputs.mime_priority_overrides if b == "*"}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_claim_in_a_figure_cell(chapter):
    # myst-nb wraps every output of a figure cell in the figure: a claim's output there
    # would make a second figure of the same name.
    import nbformat

    nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.metadata.get("mystnb") or {}).get("figure"):
            for call in ("assert_close(", "assert_below("):
                assert call not in cell.source, f"cell {index} of {chapter} is a figure cell and checks a claim"


def test_the_summary_states_the_range_of_tolerances():
    claims = [{**GOOD, "chapter": "01_x", "kind": "close"}, {**GOOD, "chapter": "02_y", "kind": "close", "tolerance": 0.05},
              {**GOOD, "chapter": "02_y", "kind": "below", "tolerance": 3.0}]
    text = claims_summary(claims)
    assert text.startswith("3 claims in 2 chapters") and "from 1e-12 to 0.05" in text and "1 as bounds" in text
    assert "1 at 1e-06 or tighter; 0 of the 1 looser ones say why" in text
    claims[1]["reason"] = "a grid"
    assert "every looser one says why" in claims_summary(claims)
