"""Tests of the feedback reports: same verdicts and misconceptions as check(), nothing of a hidden random case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l2bayes.exercises import get_exercise
from l2bayes.grading.report import (
    POLICY,
    exercise_markdown,
    main,
    read_records,
    report_html,
    report_markdown,
    report_name,
    write_reports,
)

HERE = Path(__file__).parent / "submissions"
CHAPTERS = HERE / "book" / "chapters"
NAMES = ("correct", "wrong_misconceptions", "stub", "not_a_notebook")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The grader's records for four fixture submissions, graded once for the module."""
    from l2bayes.grade import grade_batch
    from l2bayes.grading.sandbox import bwrap_problem

    tmp = tmp_path_factory.mktemp("graded")
    results = tmp / "results"
    records = grade_batch([HERE / f"{n}.ipynb" for n in NAMES], out=tmp / "grades.csv", results_dir=results,
                          chapter="01_prior_to_penalty", chapters=CHAPTERS, jobs=2,
                          sandbox=bwrap_problem() is None)
    return {Path(r["submission"]).stem: r for r in records}, results


def _shown_values(feedback: str) -> list[str]:
    """The values check()'s message writes out for the first failing case (inputs, expected, got)."""
    values = []
    for key in ("inputs", "expected", "got"):
        m = re.search(rf"^\s*{key}:\s+(.*)$", feedback, re.M)
        if m:
            values += [v for v in re.findall(r"-?\d+\.\d{3,}", m.group(1))]
    return values


def test_a_wrong_answer_is_named_as_check_names_it_without_showing_the_hidden_case(graded):
    records, _ = graded
    record = records["wrong_misconceptions"]
    report = report_markdown(record)
    named = [e for e in record["exercises"] if e["misconception"]]
    assert named, "the fixture's wrong answers should be recognised"
    for entry in named:
        message = next(m.message for m in get_exercise(entry["exercise"]).misconceptions if m.name == entry["misconception"])
        assert f"**Misconception ({entry['misconception']}):** {message}" in report
        assert f"Misconception ({entry['misconception']})" in entry["feedback"]  # check()'s words, same name
        # The grader's feedback shows the first failing random case in full; the report does not.
        hidden = _shown_values(entry["feedback"])
        assert hidden, entry["feedback"]
        assert not [v for v in hidden if v in report]
    assert "seed" not in report and str(record["seed"]) not in report
    assert f"{record['points']:g} / {record['max_points']:g}" in report
    assert POLICY in report


def test_a_correct_notebook_passes_every_exercise_and_a_stub_is_not_implemented(graded):
    records, _ = graded
    good = report_markdown(records["correct"])
    assert good.count("✓") == len(records["correct"]["exercises"]) and "✗" not in good
    assert "Passed: 12 of 12 random cases, 4 of 4 edge cases." in good
    stub = report_markdown(records["stub"])
    assert stub.count("is not implemented yet") == len(records["stub"]["exercises"])


def test_an_unreadable_notebook_gets_a_report_that_says_why(graded):
    records, _ = graded
    record = records["not_a_notebook"]
    report = report_markdown(record)
    assert record["problem"] and "not a readable notebook" in record["problem"]
    assert "Points: 0 / 4" in report
    assert f"**This notebook could not be graded:** {record['problem']}" in report
    assert report.count(f"✗ ch01-") == 4


def test_a_failed_edge_case_without_misconception_gives_its_hint():
    ex = get_exercise("ch01-penalty-grad")
    edge = ex.edge_cases[0]
    results = [{"label": "random", "passed": True, "problem": None}] * ex.n_random
    results += [{"label": edge.label, "passed": False, "problem": "values differ by 1 at index 0"}]
    results += [{"label": c.label, "passed": True, "problem": None} for c in ex.edge_cases[1:]]
    entry = {"exercise": ex.id, "points": 0.9, "max_points": 1.0, "passed": len(results) - 1, "cases": len(results),
             "misconception": None, "feedback": "(not shown)", "results": results}
    text = exercise_markdown(entry)
    assert f"**Hint:** {edge.hint}" in text
    assert f"| {ex.n_random + 1} | {edge.label} | values differ by 1 at index 0 |" in text
    assert "Passed: 12 of 12 random cases, 3 of 4 edge cases." in text and "(not shown)" not in text


def test_html_reports_escape_everything_and_load_nothing(graded):
    records, _ = graded
    record = dict(records["wrong_misconceptions"], name="<b>evil</b>.ipynb")
    page = report_html(record)
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "<script" not in page and "http" not in page
    for entry in record["exercises"]:
        if entry["misconception"]:
            assert f"Misconception ({entry['misconception']})" in page


def test_reports_are_written_per_submission_from_the_results_folder(graded, tmp_path, capsys):
    records, results = graded
    assert sorted(Path(r["submission"]).stem for r in read_records(results)) == sorted(NAMES)
    assert main([str(results), "--out", str(tmp_path / "md")]) == 0
    assert main([str(results), "--out", str(tmp_path / "html"), "--format", "html"]) == 0
    assert len(list((tmp_path / "md").glob("*.md"))) == len(NAMES)
    assert len(list((tmp_path / "html").glob("*.html"))) == len(NAMES)
    odd = {"submission": "a/../wéird name \udcff.ipynb", "name": "wéird name \udcff.ipynb", "exercises": []}
    assert re.fullmatch(r"[A-Za-z0-9_.-]+-[0-9a-f]{8}\.md", report_name(odd))
    assert write_reports([odd], tmp_path / "odd")[0].is_file()
    with pytest.raises(ValueError, match="fmt"):
        write_reports([], tmp_path, fmt="pdf")
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
