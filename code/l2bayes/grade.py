"""Batch grading of submitted notebooks: ``python -m l2bayes.grade SUB.ipynb ... --out grades.csv``.

What runs
    Only the submission's code cells tagged ``solution`` (the stubs of the
    student notebook, filled in), preceded by the import statements from its
    other cells that bind a name those cells use (``import numpy as np``).
    Nothing else of the notebook runs: no plotting, no training loops, no
    ``assert check(...)``. A solution cell may therefore use names imported
    anywhere in the notebook, but not variables or helpers defined in
    ordinary cells.

How it is judged
    The grader draws the cases (random ones from ``--seed``, the same for
    every submission, then the fixed edge cases) and computes the expected
    values with the reference solutions, in its own process. The worker only
    receives inputs and sends back outputs as JSON; comparing them, and naming
    misconceptions, happens here. Whatever a submission does to numpy, torch
    or anything else inside its worker cannot change the comparison. Partial
    credit: an exercise's points times the share of its cases passed.

What is isolated (no containers; see :mod:`l2bayes.grading.worker`)
    Each submission runs in its own process (``python -I -S``: no
    ``PYTHONPATH``, no ``.pth`` files, so ``l2bayes`` is not importable), in a
    fresh temporary working directory, with a cleaned environment, one
    thread, an address-space limit, a CPU-time limit, a file-size limit, and
    wall-clock limits per cell, per exercise and per submission enforced by
    the grader killing the worker's process group. An audit hook refuses
    process creation (fork, exec, subprocess, system), signals to other
    processes, sockets, raising the limits, importing ``l2bayes``, reading
    the course repository, the submissions' folders or the results, and
    writing outside the working directory.

What is not isolated
    The worker runs as the same user as the grader, on the same file system
    and network. Audit hooks are not a security boundary: code that uses
    ``ctypes`` (or a C extension) can call the C library directly and so
    read any file the grading user can read, fork, or, if the grader runs
    as root, raise its own limits. For a graded term with stakes, run the
    grader as an unprivileged user that cannot read the reference solutions
    except through this process, or inside a container or VM without network.

Results
    One JSON record per submission (written atomically: temporary file, then
    ``os.replace``) in the results folder, and the CSV ``--out`` (submission,
    exercise, points, max_points, feedback) rebuilt from the records. A
    record is reused when the submission's bytes and the grading plan (chapter,
    seed, exercises, expected values) are unchanged, so an interrupted batch
    resumes where it stopped; ``--fresh`` grades everything again.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import l2bayes
from l2bayes.exercises import EXERCISES, Exercise, Outcome, exercise_ids, get_exercise, reference
from l2bayes.exercises.judge import draw_cases, judge, run_local
from l2bayes.exercises.notebooks import chapters_dir, defines, program, read_notebook, solution_sources
from l2bayes.grading import worker as wire
from l2bayes.grading.sandbox import Limits, Session

#: Bumped when records written by an older grader must not be reused.
GRADER_VERSION = 1
CSV_FIELDS = ("submission", "exercise", "points", "max_points", "feedback")


@dataclass(frozen=True)
class Plan:
    """What every submission of one chapter is graded on: the same cases and expected values."""

    chapter: str
    seed: int
    exercises: tuple[Exercise, ...]
    cases: dict
    expected: dict
    args: dict
    fingerprint: str


def make_plan(chapter: str, *, ids=None, seed: int = 0, chapters=None) -> Plan:
    """Draw the cases of ``chapter``'s exercises (or of ``ids``) and compute the expected values."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    chosen = [get_exercise(i) for i in (ids or exercise_ids(chapter))]
    if not chosen:
        known = sorted({ex.chapter for ex in EXERCISES.values()})
        raise ValueError(f"chapter {chapter!r} has no exercises; chapters with exercises: {known}")
    wrong = [ex.id for ex in chosen if ex.chapter != chapter]
    if wrong:
        raise ValueError(f"ids {wrong} are not exercises of chapter {chapter!r}")
    cases, expected, args = {}, {}, {}
    for ex in chosen:
        ref = reference(ex.id, chapters)
        cases[ex.id] = draw_cases(ex, seed)
        outcomes = [run_local(ex, ref, c) for c in cases[ex.id]]
        if any(o.kind != "returned" for o in outcomes):
            raise RuntimeError(f"the reference solution of {ex.id} fails on its own cases")
        expected[ex.id] = [o.value for o in outcomes]
        args[ex.id] = [[wire.encode(c.inputs[p]) for p in ex.params] for c in cases[ex.id]]
    summary = {
        "version": GRADER_VERSION,
        "chapter": chapter,
        "seed": seed,
        "exercises": [[ex.id, ex.points] for ex in chosen],
        "args": args,
        "expected": {i: [wire.encode(v) for v in vs] for i, vs in expected.items()},
    }
    fingerprint = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
    return Plan(chapter, seed, tuple(chosen), cases, expected, args, fingerprint)


def submission_code(nb: dict) -> list[tuple[str, str]]:
    """``(name, code)`` pairs to run: the needed imports, then the solution cells."""
    sources = solution_sources(nb)
    code = program(nb, sources)
    n_imports = len(code) - len(sources)
    names = [f"<import {c.strip()}>" for c in code[:n_imports]]
    names += [f"<solution cell {k + 1}>" for k in range(len(sources))]
    return list(zip(names, code))


def submission_chapter(nb: dict | None, path: Path) -> str | None:
    """The chapter a submission belongs to: its notebook metadata, else its file name."""
    known = sorted({ex.chapter for ex in EXERCISES.values()}, key=len, reverse=True)
    meta = ((nb or {}).get("metadata") or {}).get("l2bayes") if isinstance(nb, dict) else None
    if isinstance(meta, dict) and meta.get("chapter") in known:
        return meta["chapter"]
    return next((c for c in known if c in Path(path).name), None)


def grade_submission(path, plan: Plan, *, limits: Limits = Limits(), deny=(), cancel=None) -> dict:
    """Grade one notebook; always returns a record (a broken submission scores 0, it does not raise)."""
    start = time.monotonic()
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        data, problem = b"", f"the submission could not be read: {exc.strerror or exc}"
    else:
        problem = None
    record = {
        "submission": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "chapter": plan.chapter,
        "seed": plan.seed,
        "plan": plan.fingerprint,
        "grader": GRADER_VERSION,
    }
    nb = None
    if problem is None:
        try:
            nb = read_notebook(path)
        except ValueError as exc:
            problem = f"the submission is not a readable notebook ({str(exc).split(': ', 1)[-1]})"
    cells = submission_code(nb) if nb is not None else []
    if problem is None and not any(name.startswith("<solution") for name, _ in cells):
        problem = (
            "no code cell is tagged 'solution': write your answers in the solution cells of the "
            "student notebook and keep their tag"
        )
    if problem is not None:
        entries = [_entry(ex, None, problem) for ex in plan.exercises]
    else:
        entries = []
        with Session(cells, limits, list(deny), cancel) as session:
            for ex in plan.exercises:
                seconds = limits.exercise_seconds or ex.time_limit
                outcomes = session.call(ex.function, plan.args[ex.id], seconds)
                outcomes = [_explain(o, ex, cells, session.cell_errors) for o in outcomes]
                try:
                    result = judge(ex, plan.cases[ex.id], plan.expected[ex.id], outcomes, seed=plan.seed)
                except Exception as exc:  # noqa: BLE001 - one odd answer must not stop the batch
                    entries.append(_entry(ex, None, f"the grader could not judge this answer ({type(exc).__name__}: {exc}); "
                                                    "please report it"))
                else:
                    entries.append(_entry(ex, result))
    record["exercises"] = entries
    record["points"] = round(sum(e["points"] for e in entries), 4)
    record["max_points"] = round(sum(e["max_points"] for e in entries), 4)
    record["seconds"] = round(time.monotonic() - start, 3)
    return record


def _explain(outcome: Outcome, ex: Exercise, cells, cell_errors: dict) -> Outcome:
    """Say why a function is missing: which solution cell failed, or that none defines it."""
    if not (outcome.kind == "raised" and outcome.error_type == "NameError" and outcome.detail == f"{ex.function} is not defined"):
        return outcome
    for name, code in cells:
        if name in cell_errors and defines(code, ex.function):
            return Outcome.lost(f"{ex.function} is not defined: its solution cell failed: {cell_errors[name]}")
    failed = "; ".join(f"{n} failed: {e}" for n, e in cell_errors.items() if n.startswith("<solution"))
    return Outcome.lost(f"{ex.function} is not defined: no solution cell defines it" + (f" ({failed})" if failed else ""))


def _entry(ex: Exercise, result, problem: str | None = None) -> dict:
    if result is None:
        return {"exercise": ex.id, "points": 0.0, "max_points": ex.points, "passed": 0, "cases": 0,
                "misconception": None, "feedback": f"✗ {ex.id}: {problem}", "results": []}
    return {
        "exercise": ex.id,
        "points": round(ex.points * result.fraction, 4),
        "max_points": ex.points,
        "passed": result.n_passed,
        "cases": len(result.results),
        "misconception": result.misconception.name if result.misconception else None,
        "feedback": result.message,
        "results": [{"label": r.case.label, "passed": r.passed, "problem": r.reason} for r in result.results],
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: never half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def record_path(results_dir: Path, submission) -> Path:
    """Where the record of ``submission`` is kept: its stem plus a hash of its absolute path."""
    resolved = str(Path(submission).resolve())
    return Path(results_dir) / f"{Path(submission).stem}-{hashlib.sha1(resolved.encode()).hexdigest()[:10]}.json"


def _reusable(path: Path, submission: Path, plan: Plan | None) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        sha = hashlib.sha256(submission.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return None
    if plan and record.get("plan") == plan.fingerprint and record.get("sha256") == sha:
        return record
    return None


def deny_roots(chapters, submissions, results_dir) -> list[str]:
    """Folders a worker must not read: the package and its repository, the chapters and their book,
    the submissions' folders and the results. (Folders inside the Python installation are allowed,
    except the package itself; so is the temporary folder the workers run in.)"""
    package = Path(l2bayes.__file__).resolve().parent
    book = Path(chapters).resolve()
    roots = {book, book.parent, Path(results_dir).resolve(), *(Path(s).resolve().parent for s in submissions)}
    checkout = package.parents[1]  # the repository of an editable install, with its own chapters
    if (checkout / "pyproject.toml").is_file():
        roots |= {checkout, checkout / "chapters"}
    prefixes = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    tmp = Path(tempfile.gettempdir()).resolve()
    keep = {
        r for r in roots
        if r != Path(r.anchor) and not tmp.is_relative_to(r) and not any(r.is_relative_to(p) for p in prefixes)
    }
    return sorted(str(r) for r in keep | {package})


def grade_batch(
    submissions,
    *,
    out,
    chapter: str | None = None,
    ids=None,
    results_dir=None,
    seed: int = 0,
    jobs: int = 2,
    limits: Limits = Limits(),
    chapters=None,
    fresh: bool = False,
    on_record=None,
) -> list[dict]:
    """Grade ``submissions`` ``jobs`` at a time; write a record each and the CSV ``out``.

    Parameters
    ----------
    submissions : list of path
        Notebooks to grade.
    out : path
        The CSV to write.
    chapter : str, optional
        Chapter stem; by default each submission's notebook metadata or file name says.
    ids : list of str, optional
        Grade only these exercises (of ``chapter``).
    results_dir : path, optional
        Folder of per-submission JSON records; ``<out stem>_json`` beside ``out`` by default.
    seed : int
        Seed of the random cases, the same for every submission.
    jobs : int
        Submissions graded at once, each in its own worker process.
    limits : Limits
        Time, memory and file limits per submission.
    chapters : path, optional
        Folder of chapter notebooks holding the references.
    fresh : bool
        Grade again even when a matching record exists.
    on_record : callable, optional
        Called as ``on_record(record, reused)`` as each submission is done.

    Returns
    -------
    list of dict
        The records, in the order of ``submissions``.
    """
    submissions = [Path(s) for s in submissions]
    if not submissions:
        raise ValueError("submissions must name at least one notebook")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if ids and chapter is None:
        chapter = get_exercise(ids[0]).chapter
    out = Path(out)
    results_dir = Path(results_dir) if results_dir else out.with_name(out.stem + "_json")
    results_dir.mkdir(parents=True, exist_ok=True)
    book = chapters_dir(chapters)
    deny = deny_roots(book, submissions, results_dir)

    plans: dict[str, Plan] = {}
    which: dict[Path, str | None] = {}
    for s in submissions:
        stem = chapter
        if stem is None:
            try:
                stem = submission_chapter(read_notebook(s), s)
            except ValueError:
                stem = submission_chapter(None, s)
        which[s] = stem
        if stem is not None and stem not in plans:
            plans[stem] = make_plan(stem, ids=ids, seed=seed, chapters=book)

    records: dict[Path, dict] = {}
    todo = []
    for s in submissions:
        plan = plans.get(which[s])
        reused = None if fresh else _reusable(record_path(results_dir, s), s, plan)
        if reused is not None:
            records[s] = reused
            if on_record:
                on_record(reused, True)
        elif plan is None:
            records[s] = _unknown_chapter(s)
            write_atomic(record_path(results_dir, s), json.dumps(records[s], indent=1))
            if on_record:
                on_record(records[s], False)
        else:
            todo.append(s)

    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {
            pool.submit(grade_submission, s, plans[which[s]], limits=limits, deny=deny, cancel=cancel): s
            for s in todo
        }
        for future in as_completed(futures):
            s = futures[future]
            records[s] = future.result()
            write_atomic(record_path(results_dir, s), json.dumps(records[s], indent=1))
            if on_record:
                on_record(records[s], False)
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = [records[s] for s in submissions]
    write_atomic(out, csv_text(ordered))
    return ordered


def _unknown_chapter(path: Path) -> dict:
    return {
        "submission": str(path), "sha256": None, "chapter": None, "seed": None, "plan": None,
        "grader": GRADER_VERSION, "points": 0.0, "max_points": 0.0, "seconds": 0.0,
        "exercises": [{"exercise": "", "points": 0.0, "max_points": 0.0, "passed": 0, "cases": 0,
                       "misconception": None, "results": [],
                       "feedback": "cannot tell which chapter this notebook is: pass --chapter"}],
    }


def csv_text(records) -> str:
    """The grades table: one row per submission and exercise."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for record in records:
        for e in record["exercises"]:
            writer.writerow([record["submission"], e["exercise"], f"{e['points']:g}", f"{e['max_points']:g}", e["feedback"]])
    return buffer.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m l2bayes.grade",
        description="Grade submitted notebooks, each in its own sandboxed process.",
    )
    parser.add_argument("submissions", nargs="+", help="submitted .ipynb files")
    parser.add_argument("--out", required=True, help="CSV to write (submission, exercise, points, max_points, feedback)")
    parser.add_argument("--results", help="folder for the per-submission JSON records (default: <out stem>_json)")
    parser.add_argument("--chapter", help="chapter notebook stem (default: from each notebook's metadata or name)")
    parser.add_argument("--exercise", action="append", dest="ids", help="grade only this exercise id (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random cases (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--timeout", type=float, help="seconds per exercise (default: each exercise's own)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, help="seconds per solution cell")
    parser.add_argument("--submission-timeout", type=float, default=Limits.submission_seconds, help="seconds per submission")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="address-space limit per worker")
    parser.add_argument("--chapters", help="folder of chapter notebooks with the reference solutions")
    parser.add_argument("--fresh", action="store_true", help="grade again even where a record exists")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # for torch, if a plan's values need it

    count = [0]

    def progress(record: dict, reused: bool) -> None:
        count[0] += 1
        if not args.quiet:
            note = "already graded" if reused else f"{record['seconds']:.1f} s"
            print(f"[{count[0]}/{len(args.submissions)}] {record['submission']}: "
                  f"{record['points']:g}/{record['max_points']:g} ({note})", file=sys.stderr)

    start = time.monotonic()
    try:
        limits = Limits(
            exercise_seconds=args.timeout,
            cell_seconds=args.cell_timeout,
            submission_seconds=args.submission_timeout,
            memory_mb=args.memory_mb,
        )
        grade_batch(
            args.submissions, out=args.out, chapter=args.chapter, ids=args.ids, results_dir=args.results,
            seed=args.seed, jobs=args.jobs, limits=limits, chapters=args.chapters, fresh=args.fresh,
            on_record=progress,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: graded submissions are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"graded {len(args.submissions)} submissions in {time.monotonic() - start:.1f} s; wrote {args.out}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
