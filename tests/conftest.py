"""Fixtures shared by the exercise registry and the student-bundle tests: the public case bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2bayes.exercises import EXERCISES, bank

CHAPTERS = Path(__file__).parents[1] / "chapters"


@pytest.fixture(scope="session")
def bank_folder(tmp_path_factory):
    """A case bank written from the real chapters, as the student wheel carries it."""
    from l2bayes.publishing.bundle import write_case_bank

    folder = tmp_path_factory.mktemp("bank")
    files = write_case_bank(folder, CHAPTERS)
    assert set(files) == set(EXERCISES)
    return folder


@pytest.fixture
def with_bank(bank_folder, monkeypatch):
    """Make this process look like the student wheel: a bank installed, no chapters configured."""
    monkeypatch.setattr(bank, "folder", lambda: bank_folder)
    monkeypatch.delenv("L2BAYES_CHAPTERS", raising=False)
    bank.index.cache_clear()
    bank.load.cache_clear()
    yield
    bank.index.cache_clear()
    bank.load.cache_clear()


#: The files that take longest, started first: ``make test`` gives pytest-xdist ``--no-loadscope-reorder``,
#: so files go to the two workers in this order and then in the order collected. xdist's own order (most
#: tests first) left the student bundle's install, a minute in 7 tests, to the end, on one worker.
LONGEST_FIRST = ("test_bundle.py", "test_browser.py", "test_grade.py")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)) if item.path.parent == here else len(rank))
