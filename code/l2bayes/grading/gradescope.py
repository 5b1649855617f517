"""Gradescope: an ``autograder.zip`` that grades one submission with the book's sandboxed grader.

``make gradescope`` (``python -m l2bayes.grading.gradescope build --out _build/gradescope``) writes
``autograder.zip`` in Gradescope's autograder layout:

``setup.sh``
    Run once by Gradescope when it builds the autograder's image (as root, on its Ubuntu base
    image): installs ``bubblewrap`` and Python 3.11, a virtual environment in
    ``/autograder/venv`` with the pinned packages (torch's CPU build) and the ``l2bayes`` wheel, and
    checks that the sandbox works there.
``run_autograder``
    Run for each submission: ``python -m l2bayes.grading.gradescope run``, which grades the
    notebooks in ``/autograder/submission`` with ``python -m l2bayes.grade`` (each in its bubblewrap
    sandbox, on fresh hidden cases, against the references in ``chapters/`` of the zip) and writes
    ``/autograder/results/results.json``.
``chapters/``, ``l2bayes-*.whl``, ``requirements.txt``, ``config.json``
    The reference chapters, the package (with the grader), the grader's pins, and the settings
    (chapter, worker count, sandbox, visibility).

The zip holds the reference solutions: upload it to Gradescope, never hand it to students.

``results.json`` follows Gradescope's format: top-level ``score``, ``execution_time``, ``output``,
and ``tests``, one per notebook and exercise, each with ``name``, ``score``, ``max_score``,
``status``, ``visibility`` and ``output``. A test's output is the exercise's part of the feedback
report (:mod:`.report`), so it reveals of the hidden cases what :data:`.report.POLICY` says and
nothing more. The paths are configurable (``--root``, or ``AUTOGRADER_ROOT`` in
``run_autograder``), so the same script runs locally against a folder laid out like
``/autograder``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from l2bayes.exercises.notebooks import chapters_dir
from l2bayes.grading.report import POLICY, exercise_markdown, read_records

ZIP_NAME = "autograder.zip"
#: What the grader imports when it runs the references and the submissions; pinned with their dependencies.
GRADER_PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "torch", "nbformat")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
SANDBOX_MODES = ("required", "off")
DEFAULTS = {"chapter": None, "jobs": 1, "sandbox": "required", "visibility": "visible"}

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades the notebooks in $AUTOGRADER_ROOT/submission
# with the book's sandboxed grader and writes $AUTOGRADER_ROOT/results/results.json.
set -u
export AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="${AUTOGRADER_SOURCE:-$AUTOGRADER_ROOT/source}"
PYTHON="${L2BAYES_PYTHON:-$AUTOGRADER_ROOT/venv/bin/python}"
exec "$PYTHON" -m l2bayes.grading.gradescope run --root "$AUTOGRADER_ROOT" --source "$SOURCE"
"""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04 base image).
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
# torch's CPU build (the default build on PyPI is the CUDA one, several GB).
TORCH_INDEX="${L2BAYES_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends bubblewrap
command -v python3.11 >/dev/null || apt-get install -y --no-install-recommends python3.11 python3.11-venv
python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet torch==2.13.0 --index-url "$TORCH_INDEX"
"$ROOT/venv/bin/python" -m pip install --quiet -r "$SOURCE/requirements.txt" "$SOURCE"/l2bayes-*.whl
# The grader refuses to run without a working sandbox; find out now rather than at the first submission.
if [ "$("$ROOT/venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sandbox"])' "$SOURCE/config.json")" = required ]; then
    "$ROOT/venv/bin/python" -c 'import sys; from l2bayes.grading.sandbox import bwrap_problem; p = bwrap_problem(); print(p or "bubblewrap works"); sys.exit(1 if p else 0)'
fi
"""


# --- building the zip ----------------------------------------------------------------------


def config_text(*, chapter=None, jobs: int = 1, sandbox: str = "required", visibility: str = "visible") -> str:
    """The autograder's ``config.json``; ``ValueError`` naming a bad setting."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if sandbox not in SANDBOX_MODES:
        raise ValueError(f"sandbox must be one of {SANDBOX_MODES}, got {sandbox!r}")
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
    if chapter is not None and not isinstance(chapter, str):
        raise ValueError(f"chapter must be a chapter notebook stem or None, got {chapter!r}")
    return json.dumps({"chapter": chapter, "jobs": jobs, "sandbox": sandbox, "visibility": visibility}, indent=1) + "\n"


def grader_wheel(out) -> Path:
    """The wheel of the package with the grader (no publishing tools, no case bank), built by pip into ``out``."""
    from l2bayes.publishing.bundle import build_wheel, stage_package

    with tempfile.TemporaryDirectory(prefix="l2bayes-grader-") as tmp:
        staging = stage_package(Path(tmp) / "l2bayes", leave_out=("publishing", "student.py", "site.py"),
                                with_bank=False, edition="with the grader")
        return build_wheel(staging, out)


def write_autograder(out, *, chapters=None, **settings) -> Path:
    """Write ``autograder.zip`` into the folder ``out``; ``settings`` as :func:`config_text`."""
    from l2bayes.publishing.bundle import requirements_text
    from l2bayes.publishing.notebooks import write_zip

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = chapters_dir(chapters)
    members = {"setup.sh": SETUP_SH.encode(), "run_autograder": RUN_AUTOGRADER.encode(),
               "config.json": config_text(**settings).encode(),
               "requirements.txt": requirements_text(GRADER_PACKAGES, what="the grader", lab=False).encode()}
    for path in sorted(folder.glob("*.ipynb")):
        members[f"chapters/{path.name}"] = path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="l2bayes-gradescope-") as tmp:
        wheel = grader_wheel(tmp)
        members[wheel.name] = wheel.read_bytes()
        return write_zip(out / ZIP_NAME, members)


# --- grading one submission ----------------------------------------------------------------


def read_config(source) -> dict:
    """``config.json`` of an unpacked autograder, with defaults for missing keys."""
    path = Path(source) / "config.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return {**DEFAULTS, **(data if isinstance(data, dict) else {})}


def submissions_in(folder) -> list[Path]:
    """The notebooks of a submission (Gradescope keeps an uploaded folder's layout), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.is_symlink())


def gradescope_tests(records, *, visibility: str = "visible") -> list[dict]:
    """Gradescope tests: one per notebook and exercise, its output the report's part for that exercise."""
    tests = []
    several = len(records) > 1
    for record in records:
        for entry in record.get("exercises") or []:
            points, top = float(entry.get("points", 0.0)), float(entry.get("max_points", 0.0))
            name = str(entry.get("exercise") or "notebook")
            if several:
                name = f"{record.get('name') or Path(str(record.get('submission'))).name}: {name}"
            tests.append({
                "name": name,
                "score": round(points, 4),
                "max_score": round(top, 4),
                "status": "passed" if top > 0 and points >= top else "failed",
                "visibility": visibility,
                "output": exercise_markdown(entry, heading="###"),
                "output_format": "md",
            })
    return tests


def results_of(records, *, seconds: float, visibility: str = "visible", problem: str | None = None) -> dict:
    """The whole ``results.json``."""
    tests = gradescope_tests(records, visibility=visibility)
    score = round(sum(t["score"] for t in tests), 4)
    top = round(sum(t["max_score"] for t in tests), 4)
    lines = []
    if problem:
        lines.append(f"**Your submission could not be graded:** {problem}")
    for record in records:
        title = record.get("name") or Path(str(record.get("submission"))).name
        lines.append(f"- {title}: {record.get('points', 0):g} / {record.get('max_points', 0):g} points"
                     + (f" ({record['problem']})" if record.get("problem") else ""))
    if records:
        lines += ["", f"Total: {score:g} / {top:g} points."]
    lines += ["", f"*{POLICY}*"]
    return {
        "score": score,
        "execution_time": max(0, int(round(seconds))),
        "output": "\n".join(lines),
        "output_format": "md",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"seeds": sorted({r.get("seed") for r in records if r.get("seed") is not None}),
                       "sandbox": sorted({str(r.get("sandbox")) for r in records})},
    }


def grade_for_gradescope(root, source, *, python: str = sys.executable) -> dict:
    """Grade ``root/submission`` with the grader's command line and write ``root/results/results.json``."""
    start = time.monotonic()
    root, source = Path(root), Path(source)
    config = read_config(source)
    visibility = config["visibility"] if config["visibility"] in VISIBILITIES else "visible"
    notebooks = submissions_in(root / "submission")
    records, problem = [], None
    if not notebooks:
        problem = "no .ipynb file in your submission: upload the notebook itself (the student notebook, filled in)"
    else:
        with tempfile.TemporaryDirectory(prefix="l2bayes-gradescope-") as tmp:
            results = Path(tmp) / "results"
            cmd = [python, "-m", "l2bayes.grade", *map(str, notebooks), "--out", str(Path(tmp) / "grades.csv"),
                   "--results", str(results), "--chapters", str(source / "chapters"),
                   "--jobs", str(int(config["jobs"])), "--quiet"]
            if config["chapter"]:
                cmd += ["--chapter", str(config["chapter"])]
            if config["sandbox"] == "off":
                cmd.append("--no-sandbox")
            env = {k: v for k, v in os.environ.items() if not k.startswith("L2BAYES_")}
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
            if done.returncode == 0:
                records = read_records(results)
            # The grader's own messages are for the instructor (stdout is hidden from students).
            print(done.stdout, done.stderr, sep="\n")
            if done.returncode != 0 or not records:
                problem = "the autograder failed; your instructor has been shown why. This is not your fault."
    result = results_of(records, seconds=time.monotonic() - start, visibility=visibility, problem=problem)
    out = root / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def validate_results(data) -> list[str]:
    """What is wrong with ``data`` as a Gradescope ``results.json`` (an empty list: nothing)."""
    problems = []
    if not isinstance(data, dict):
        return ["results.json must hold a JSON object"]
    for key, kinds in (("score", (int, float)), ("execution_time", (int,)), ("output", (str,)), ("tests", (list,))):
        if not isinstance(data.get(key), kinds) or isinstance(data.get(key), bool):
            problems.append(f"top-level {key!r} must be {' or '.join(k.__name__ for k in kinds)}")
    for k, test in enumerate(data.get("tests") or []):
        if not isinstance(test, dict):
            problems.append(f"test {k} must be an object")
            continue
        for key, kinds in (("name", (str,)), ("score", (int, float)), ("max_score", (int, float)), ("output", (str,))):
            if not isinstance(test.get(key), kinds) or isinstance(test.get(key), bool):
                problems.append(f"test {k}: {key!r} must be {' or '.join(c.__name__ for c in kinds)}")
        if test.get("status") not in ("passed", "failed"):
            problems.append(f"test {k}: 'status' must be 'passed' or 'failed'")
        if test.get("visibility") not in VISIBILITIES:
            problems.append(f"test {k}: 'visibility' must be one of {VISIBILITIES}")
        if isinstance(test.get("score"), (int, float)) and isinstance(test.get("max_score"), (int, float)):
            if not 0 <= test["score"] <= test["max_score"]:
                problems.append(f"test {k}: score must be between 0 and max_score")
    if isinstance(data.get("score"), (int, float)) and isinstance(data.get("tests"), list):
        total = sum(t.get("score", 0) for t in data["tests"] if isinstance(t, dict))
        if abs(total - data["score"]) > 1e-6:
            problems.append(f"top-level score {data['score']} is not the sum of the tests' scores {total}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2bayes.grading.gradescope", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="write autograder.zip")
    p.add_argument("--out", default="_build/gradescope")
    p.add_argument("--chapters", help="folder of chapter notebooks with the references (default: the repository's)")
    p.add_argument("--chapter", help="grade every submission as this chapter (default: from each notebook)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once when a submission has several")
    p.add_argument("--sandbox", choices=SANDBOX_MODES, default="required",
                   help="'off' grades without bubblewrap (only if Gradescope's container cannot run it)")
    p.add_argument("--visibility", choices=VISIBILITIES, default="visible")
    p = sub.add_parser("run", help="grade ROOT/submission and write ROOT/results/results.json (run_autograder)")
    p.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    p.add_argument("--source", help="the unpacked autograder (default: ROOT/source)")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(write_autograder(args.out, chapters=args.chapters, chapter=args.chapter, jobs=args.jobs,
                                   sandbox=args.sandbox, visibility=args.visibility))
        else:
            result = grade_for_gradescope(args.root, args.source or Path(args.root) / "source")
            print(f"score {result['score']:g}; wrote {Path(args.root) / 'results' / 'results.json'}", file=sys.stderr)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
