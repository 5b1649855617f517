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
