"""Feedback a student can read: one report per graded submission, made from the grader's record.

``python -m l2bayes.grading.report RESULTS_DIR --out REPORTS_DIR [--format md|html]`` writes one
report per record of a batch (``python -m l2bayes.grade ... --results RESULTS_DIR``); Gradescope's
``run_autograder`` shows the same text per exercise (:mod:`.gradescope`).

A report gives, per exercise, the points, the verdict, the misconception the grader named (with the
same message ``check`` prints), or else the hint, how many random and edge cases passed, and a line
per failed case. What it reveals of the hidden
cases follows one policy, :data:`POLICY`, printed at the end of every report:

* **shown** for every case: its number, its label ("random", or the name of an edge case), whether
  it passed, and the problem as ``check`` words it (a wrong shape or type, how far off the answer
  was and at which entry, the exception the student's own code raised, a time limit);
* **never shown** for a random case: its inputs, the expected value, the answer given on it, or the
  seed the cases were drawn from. The random cases are drawn afresh for every grading run, so a
  report cannot be turned into a table of answers, and the grader's judgement cannot be replayed
  without the reference solutions;
* **edge cases** are public: they are the ones the student's own ``check`` runs (the student
  bundle's case bank holds them with their expected values), so a report names them and the student
  reproduces a failure there with ``check``.

The record's ``feedback`` text (what ``check`` would print) is not copied into a report, because it
shows the first failing case in full; a report is rebuilt from the verdicts, the misconception's
name and the exercise's spec.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import sys
from pathlib import Path

from l2bayes.exercises import EXERCISES

POLICY = (
    "What this report shows of the hidden cases: for each case, its label, whether it passed and what "
    "was wrong; never the inputs, the expected value or your answer on a random case (those cases are "
    "drawn afresh for each grading). Edge cases are the ones your own check() runs: reproduce a failure "
    "there with check() in your notebook."
)
#: Longest problem text shown per case (an exception message is the student's code's own, and can be long).
MAX_PROBLEM = 300
FORMATS = ("md", "html")


def _clip(text: str, limit: int = MAX_PROBLEM) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _misconception_message(exercise_id: str, name: str) -> str:
    ex = EXERCISES.get(exercise_id)
    found = next((m for m in (ex.misconceptions if ex else ()) if m.name == name), None)
    return found.message if found else ""


def _hint(exercise_id: str, results: list) -> str:
    """The hint ``check`` would give: the first failing edge case's own hint, else the exercise's."""
    ex = EXERCISES.get(exercise_id)
    if ex is None:
        return ""
    hints = {c.label: c.hint for c in ex.edge_cases}
    first = next((r for r in results if not r.get("passed")), None)
    return (hints.get(first.get("label"), "") if first else "") or ex.hint


def exercise_summary(entry: dict) -> dict:
    """The parts of one exercise's feedback, as the report shows them (see :data:`POLICY`)."""
    exercise_id = str(entry.get("exercise", ""))
    results = [r for r in entry.get("results") or [] if isinstance(r, dict)]
    ex = EXERCISES.get(exercise_id)
    n, passed = len(results), sum(bool(r.get("passed")) for r in results)
    function = ex.function if ex else "your function"
    if not results:  # the whole submission could not be graded: the feedback is the reason, with no case in it
        verdict = _clip(str(entry.get("feedback", "")).lstrip("✗ ").strip() or "not graded", 600)
        verdict = f"✗ {verdict}"
    elif passed == n:
        verdict = f"✓ {function} passed all {n} cases."
    elif all(r.get("problem") == "not implemented yet" for r in results):
        verdict = f"✗ {function} is not implemented yet: replace the `raise NotImplementedError` in its solution cell."
    else:
        verdict = f"✗ {function} failed {n - passed} of {n} cases."
    name = entry.get("misconception")
    failed = passed < n
    return {
        "exercise": exercise_id,
        "points": entry.get("points", 0.0),
        "max_points": entry.get("max_points", 0.0),
        "verdict": verdict,
        "misconception": name,
        "message": _misconception_message(exercise_id, name) if name else "",
        "hint": _hint(exercise_id, results) if failed and not name and results else "",
        "checks": ex.checks if ex else "",
        "cases": [
            {"number": k + 1, "label": str(r.get("label", "")), "passed": bool(r.get("passed")),
             "problem": "" if r.get("passed") else _clip(r.get("problem") or "")}
            for k, r in enumerate(results)
        ],
    }


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _passed_line(cases: list) -> str:
    """``Passed: 10 of 12 random cases, 3 of 4 edge cases.``"""
    random = [c for c in cases if c["label"] == "random"]
    edge = [c for c in cases if c["label"] != "random"]
    parts = [f"{sum(c['passed'] for c in group)} of {len(group)} {what}"
             for group, what in ((random, "random cases"), (edge, "edge cases")) if group]
    return "Passed: " + ", ".join(parts) + "."


def exercise_markdown(entry: dict, *, heading: str = "##") -> str:
    """One exercise's feedback in Markdown: verdict, misconception or hint, then one row per case."""
    s = exercise_summary(entry)
    lines = [f"{heading} {s['exercise']}: {s['points']:g} / {s['max_points']:g} points", "", s["verdict"], ""]
    if s["misconception"]:
        lines += [f"**Misconception ({s['misconception']}):** {s['message']}", ""]
    elif s["hint"]:
        lines += [f"**Hint:** {s['hint']}", ""]
    if s["checks"] and s["cases"]:
        lines += [f"Checked: {s['checks']}", ""]
    failed = [c for c in s["cases"] if not c["passed"]]
    if s["cases"]:
        lines += [_passed_line(s["cases"]), ""]
    if failed:
        lines += ["| case | kind | problem |", "|---:|---|---|"]
        lines += [f"| {c['number']} | {_md_cell(c['label'])} | {_md_cell(c['problem'])} |" for c in failed]
        lines.append("")
    return "\n".join(lines)


def _title(record: dict) -> str:
    return str(record.get("name") or Path(str(record.get("submission", "submission"))).name)


def report_markdown(record: dict) -> str:
    """The report of one graded submission (a record of :mod:`l2bayes.grade`) in Markdown."""
    lines = [f"# Feedback on {_title(record)}", ""]
    if record.get("chapter"):
        lines.append(f"Chapter: {record['chapter']}  ")
    lines += [f"Points: {record.get('points', 0):g} / {record.get('max_points', 0):g}", ""]
    if record.get("problem"):
        lines += [f"**This notebook could not be graded:** {_clip(record['problem'], 600)}", ""]
    lines += [exercise_markdown(e) for e in record.get("exercises") or [] if isinstance(e, dict)]
    lines += ["---", "", f"*{POLICY}*", ""]
    return "\n".join(lines)


def report_html(record: dict) -> str:
    """The same report as a standalone HTML page (no scripts, no outside resources)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback on {esc(_title(record))}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}"
        ".pass{color:#176b1a}.fail{color:#9b1c1c}</style></head><body>",
        f"<h1>Feedback on {esc(_title(record))}</h1>",
        f"<p>{'Chapter: ' + esc(str(record['chapter'])) + '<br>' if record.get('chapter') else ''}"
        f"Points: {record.get('points', 0):g} / {record.get('max_points', 0):g}</p>",
    ]
    if record.get("problem"):
        parts.append(f"<p><strong>This notebook could not be graded:</strong> {esc(_clip(record['problem'], 600))}</p>")
    for entry in record.get("exercises") or []:
        if not isinstance(entry, dict):
            continue
        s = exercise_summary(entry)
        parts.append(f"<h2>{esc(s['exercise'])}: {s['points']:g} / {s['max_points']:g} points</h2>")
        parts.append(f"<p class=\"{'pass' if s['verdict'].startswith('✓') else 'fail'}\">{esc(s['verdict'])}</p>")
        if s["misconception"]:
            parts.append(f"<p><strong>Misconception ({esc(s['misconception'])}):</strong> {esc(s['message'])}</p>")
        elif s["hint"]:
            parts.append(f"<p><strong>Hint:</strong> {esc(s['hint'])}</p>")
        failed = [c for c in s["cases"] if not c["passed"]]
        if s["cases"]:
            parts.append(f"<p>{esc(_passed_line(s['cases']))}</p>")
        if failed:
            parts.append("<table><tr><th>case</th><th>kind</th><th>problem</th></tr>")
            parts += [f"<tr><td>{c['number']}</td><td>{esc(c['label'])}</td><td>{esc(c['problem'])}</td></tr>"
                      for c in failed]
            parts.append("</table>")
    parts += [f"<hr><p><em>{esc(POLICY)}</em></p>", "</body></html>", ""]
    return "\n".join(parts)


def report_name(record: dict, fmt: str = "md") -> str:
    """A file name for the report of ``record``: the notebook's stem (safe characters only) and a hash."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(_title(record)).stem)[:80].strip("._") or "submission"
    digest = hashlib.sha256(str(record.get("submission", "")).encode("utf-8", "backslashreplace")).hexdigest()[:8]
    return f"{stem}-{digest}.{fmt}"


def read_records(results_dir) -> list[dict]:
    """The per-submission records in ``results_dir`` (the grader's JSON files), sorted by submission."""
    folder = Path(results_dir)
    if not folder.is_dir():
        raise ValueError(f"results_dir must be the grader's folder of records, got {str(folder)!r}")
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("exercises"), list) and "submission" in data:
            records.append(data)
    return sorted(records, key=lambda r: str(r.get("submission")))


def write_reports(records, out, *, fmt: str = "md") -> list[Path]:
    """Write one report per record into the folder ``out``; return their paths."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    render = report_markdown if fmt == "md" else report_html
    written = []
    for record in records:
        path = out / report_name(record, fmt)
        path.write_text(render(record), encoding="utf-8", errors="backslashreplace")  # never fail on a name
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2bayes.grading.report",
                                     description="Write one feedback report per graded submission.")
    parser.add_argument("results", help="the grader's folder of per-submission records (--results of the grader)")
    parser.add_argument("--out", required=True, help="folder for the reports")
    parser.add_argument("--format", choices=FORMATS, default="md", help="Markdown (default) or HTML")
    args = parser.parse_args(argv)
    try:
        written = write_reports(read_records(args.results), args.out, fmt=args.format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} reports into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
