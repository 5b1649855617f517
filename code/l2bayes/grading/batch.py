"""Batch grading of submitted notebooks: plans, records, the CSV, shards and their merge.

What runs
    Only the submission's code cells tagged ``solution`` (the stubs of the
    student notebook, filled in), preceded by the import statements from its
    other cells that bind a name those cells use (``import numpy as np``).
    Nothing else of the notebook runs. Reading the notebook (JSON, nbformat's
    schema, the cells' syntax) happens in the sandbox too
    (:mod:`l2bayes.grading.sandbox`); the grader itself only opens the file
    (a regular file, not a link, FIFO or device, at most ``notebook_mb``) and
    passes its bytes on.

How it is judged
    The grader draws the cases (random ones from the batch's seed, the same for
    every submission, then the fixed edge cases) and computes the expected
    values with the reference solutions, in its own process. The worker only
    receives inputs and sends back outputs as JSON; comparing them, and naming
    misconceptions, happens here. Partial credit: an exercise's points times
    the share of its cases passed.

The seed
    Unless ``seed`` is given, it is drawn fresh for a new results folder and
    stored there (``state.json``), so a resumed batch keeps its cases and any
    grade can be replayed with ``--seed``. Every record states its seed.

Results
    One JSON record per submission in the results folder, named by a hash of
    the submission's path, written atomically and authenticated with an
    HMAC-SHA256 whose key (``grader.key``, mode 600) lives in that folder and
    never enters a sandbox. A record is reused only when its HMAC is valid and
    the submission's bytes and the grading plan are unchanged; anything else
    is graded again. The same file named twice (or by two paths) is graded
    once. A lock on the folder keeps a second grader out while one runs. The
    CSV (``--out``) is rebuilt from the records; every string in it and in the
    records is valid UTF-8 and a cell a spreadsheet would read as a formula
    starts with ``'``.

Shards
    ``shard=(i, n)`` grades the ``i``-th (from 0) of ``n`` slices of the
    submissions sorted by path; :func:`merge` joins the shards' results
    folders into one CSV after checking every record's HMAC and that all
    shards graded on the same seed.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import fcntl
import hashlib
import hmac
import io
import json
import math
import os
import re
import secrets
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import l2bayes
from l2bayes.exercises import EXERCISES, Exercise, Outcome, exercise_ids, get_exercise, reference
from l2bayes.exercises.judge import draw_cases, judge, run_local
from l2bayes.exercises.notebooks import chapters_dir
from l2bayes.grading import wire
from l2bayes.grading.sandbox import Cancelled, Limits, NotebookRejected, Pools, Runner, Session

#: Bumped when records written by an older grader must not be reused.
GRADER_VERSION = 3  # 3: copies of parameters marked across the wire (ch04-decay-groups)
RECORD_FORMAT = "l2bayes-grade-record/2"
CSV_FIELDS = ("submission", "exercise", "points", "max_points", "feedback", "sandbox")
KEY_FILE, STATE_FILE, LOCK_FILE = "grader.key", "state.json", "lock"


class GraderBusy(ValueError):
    """Another grader holds the lock on the results folder."""


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


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def make_plan(chapter: str, *, ids=None, seed: int = 0, chapters=None) -> Plan:
    """Draw the cases of ``chapter``'s exercises (or of ``ids``) and compute the expected values."""
    _check_seed(seed)
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


# --- strings that always write ------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def safe_text(text) -> str:
    """``text`` as valid UTF-8 text: lone surrogates (and so undecodable bytes of file names) and
    control characters other than tab and newlines become backslash escapes."""
    text = str(text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def clean(value):
    """A JSON-able ``value`` with every string made safe (:func:`safe_text`) and no NaN."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {safe_text(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def spreadsheet_safe(text: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula (OWASP's advice: prefix ``'``)."""
    text = safe_text(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%") else text


# --- files ------------------------------------------------------------------------------------


def read_submission(path, max_bytes: int) -> tuple[bytes | None, os.stat_result | None, str | None]:
    """``(data, stat, None)``, or ``(None, stat, reason)`` when the file is not a plain, small file.

    Opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat``: a
    symbolic link (say to the reference chapter, or ``/dev/zero``), a FIFO (which
    would block) or a device is refused, and so is a file larger than
    ``max_bytes``; nothing more than ``max_bytes + 1`` bytes is ever read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, None, "the submission is a symbolic link, not a notebook file: submit the file itself"
        return None, None, f"the submission could not be opened ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, info, "the submission is not a regular file (a folder, FIFO, socket or device)"
        if info.st_size > max_bytes:
            return None, info, f"the submission is larger than {max_bytes >> 20} MB"
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            return None, info, f"the submission is larger than {max_bytes >> 20} MB"
        return b"".join(chunks), info, None
    except OSError as exc:
        return None, None, f"the submission could not be read ({exc.strerror or exc})"
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: never half a file."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def submission_key(submission) -> str:
    """A hash of the submission's absolute path (the name of its record, for any file name)."""
    absolute = os.path.abspath(os.fsencode(submission))
    folder, name = os.path.split(absolute)
    return hashlib.sha256(os.path.realpath(folder) + b"/" + name).hexdigest()[:40]


def record_path(results_dir: Path, submission) -> Path:
    """Where the record of ``submission`` is kept: ``<hash of its path>.json``."""
    return Path(results_dir) / f"{submission_key(submission)}.json"


class ResultsFolder:
    """The results folder: records, the HMAC key, the batch's seed and the lock."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        self._key: bytes | None = None

    def lock(self) -> None:
        """Take the folder's lock; :class:`GraderBusy` when another grader has it."""
        fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise GraderBusy(f"another grader is writing to {self.path} (it holds {self.path / LOCK_FILE}); "
                             "wait for it to finish, or give --results another folder") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def key(self) -> bytes:
        """The HMAC key, created (mode 600) on first use."""
        if self._key is None:
            path = self.path / KEY_FILE
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                self._key = bytes.fromhex(path.read_text().strip())
            else:
                key = secrets.token_bytes(32)
                with os.fdopen(fd, "w") as f:
                    f.write(key.hex())
                self._key = key
        return self._key

    def sign(self, record: dict) -> dict:
        body = {k: v for k, v in record.items() if k != "hmac"}
        return {**body, "hmac": hmac.new(self.key, _canonical(body), "sha256").hexdigest()}

    def verified(self, record) -> bool:
        if not isinstance(record, dict) or not isinstance(record.get("hmac"), str):
            return False
        body = {k: v for k, v in record.items() if k != "hmac"}
        return hmac.compare_digest(hmac.new(self.key, _canonical(body), "sha256").hexdigest(), record["hmac"])

    def read(self, path: Path) -> dict | None:
        """The record at ``path`` if it is one this folder's key signed, else ``None``."""
        data, _, problem = read_submission(path, 64 << 20)
        if problem is not None:
            return None
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):
            return None
        return record if self.verified(record) else None

    def write(self, record: dict) -> dict:
        signed = self.sign(record)
        write_atomic(self.path / f"{record['key']}.json", json.dumps(signed, indent=1, ensure_ascii=True))
        return signed

    def records(self) -> list[dict]:
        """Every valid record in the folder (invalid or forged files are skipped)."""
        found = []
        for path in sorted(self.path.glob("*.json")):
            record = self.read(path)
            if record is not None and path.stem == record.get("key"):
                found.append(record)
        return found

    def seed(self, seed: int | None, fresh: bool) -> int:
        """The batch's seed: ``seed`` if given, else the one stored here (unless ``fresh``), else a new one."""
        path = self.path / STATE_FILE
        stored = None if fresh else self.read(path)
        if seed is None:
            seed = stored["seed"] if stored and isinstance(stored.get("seed"), int) else secrets.randbelow(2**31)
        _check_seed(seed)
        if not stored or stored.get("seed") != seed:
            write_atomic(path, json.dumps(self.sign({"seed": seed}), indent=1))
        return seed


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


# --- one submission ---------------------------------------------------------------------------


def base_record(path, data: bytes | None, runner: Runner) -> dict:
    return {
        "format": RECORD_FORMAT,
        "grader": GRADER_VERSION,
        "key": submission_key(path),
        "submission": safe_text(os.fsdecode(path)),
        "name": safe_text(os.path.basename(os.fsdecode(path))),
        "sha256": hashlib.sha256(data).hexdigest() if data is not None else None,
        "chapter": None,
        "seed": None,
        "plan": None,
        "sandbox": runner.name,
        "problem": None,
    }


def finish(record: dict, entries: list[dict], start: float) -> dict:
    record["exercises"] = entries
    record["points"] = round(sum(e["points"] for e in entries), 4)
    record["max_points"] = round(sum(e["max_points"] for e in entries), 4)
    record["seconds"] = round(time.monotonic() - start, 3)
    return clean(record)


def failed(record: dict, problem: str, plan: "Plan | None", start: float) -> dict:
    """The record of a submission that scores 0 as a whole, saying why."""
    record["problem"] = problem
    if plan is None:
        entries = [{"exercise": "", "points": 0.0, "max_points": 0.0, "passed": 0, "cases": 0,
                    "misconception": None, "results": [], "feedback": f"✗ {problem}"}]
    else:
        record.update(chapter=plan.chapter, seed=plan.seed, plan=plan.fingerprint)
        entries = [_entry(ex, None, problem) for ex in plan.exercises]
    return finish(record, entries, start)


def grade_submission(path, data: bytes, plan_for, *, chapter: str | None = None, limits: Limits = Limits(),
                     runner: Runner = Runner(), cancel=None, pools: Pools | None = None) -> dict:
    """Grade one notebook's bytes; always returns a record (a broken submission scores 0, it does not raise).

    ``plan_for(chapter)`` gives the :class:`Plan` of a chapter, or ``None`` for an
    unknown one; the chapter is ``chapter`` if given, else the notebook's metadata
    (read in the sandbox), else the file name. ``pools`` forks the workers from
    pre-imported zygotes (:class:`~l2bayes.grading.sandbox.Pool`).
    """
    start = time.monotonic()
    record = base_record(path, data, runner)
    with Session(data, limits, runner, cancel, pools) as session:
        try:
            cells = session.load()
        except NotebookRejected as exc:
            stem = chapter or chapter_from_name(path)
            return failed(record, f"the submission is not a readable notebook: {exc}", plan_for(stem) if stem else None, start)
        stem = chapter or (session.chapter if session.chapter in known_chapters() else None) or chapter_from_name(path)
        plan = plan_for(stem) if stem else None
        if plan is None:
            return failed(record, "cannot tell which chapter this notebook is: pass --chapter", None, start)
        if not any(name.startswith("<solution") for name, _ in cells):
            return failed(record, "no code cell is tagged 'solution': write your answers in the solution cells of "
                                  "the student notebook and keep their tag", plan, start)
        record.update(chapter=plan.chapter, seed=plan.seed, plan=plan.fingerprint)
        entries = []
        for ex in plan.exercises:
            seconds = limits.exercise_seconds or ex.time_limit
            outcomes = session.call(ex.function, plan.args[ex.id], seconds)
            outcomes = [_explain(o, ex, cells, session.cell_errors) for o in outcomes]
            try:
                result = judge(ex, plan.cases[ex.id], plan.expected[ex.id], outcomes, seed=plan.seed)
            except Exception as exc:  # noqa: BLE001 - one odd answer must not stop the batch
                entries.append(_entry(ex, None, f"the grader could not judge this answer ({type(exc).__name__}: "
                                                f"{str(exc)[:300]}); please report it"))
            else:
                entries.append(_entry(ex, result))
    return finish(record, entries, start)


def known_chapters() -> list[str]:
    return sorted({ex.chapter for ex in EXERCISES.values()}, key=len, reverse=True)


def chapter_from_name(path) -> str | None:
    """The chapter named in a submission's file name (``bob_01_prior_to_penalty.ipynb``), if any."""
    name = os.path.basename(os.fsdecode(path))
    return next((c for c in known_chapters() if c in name), None)


def submission_chapter(nb, path) -> str | None:
    """The chapter a submission belongs to: its (already parsed) notebook metadata, else its file name."""
    from l2bayes.exercises.notebooks import notebook_chapter

    meta = notebook_chapter(nb) if isinstance(nb, dict) else None
    return meta if meta in known_chapters() else chapter_from_name(path)


def _explain(outcome: Outcome, ex: Exercise, cells, cell_errors: dict) -> Outcome:
    """Say why a function is missing: which solution cell failed, or that none defines it."""
    if not (outcome.kind == "raised" and outcome.error_type == "NameError" and outcome.detail == f"{ex.function} is not defined"):
        return outcome
    for name, functions in cells:
        if name in cell_errors and ex.function in functions:
            return Outcome.lost(f"{ex.function} is not defined: its solution cell failed: {cell_errors[name]}")
    failures = "; ".join(f"{n} failed: {e}" for n, e in cell_errors.items() if n.startswith("<solution"))
    return Outcome.lost(f"{ex.function} is not defined: no solution cell defines it" + (f" ({failures})" if failures else ""))


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


# --- the batch ---------------------------------------------------------------------------------


def parse_shard(text) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)`` with ``0 <= I < N``; ``ValueError`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise ValueError(f"shard must be I/N with 0 <= I < N (I counts from 0), got {text!r}")
    return int(match[1]), int(match[2])


def shard_of(submissions, shard) -> list:
    """The ``i``-th of ``n`` slices of ``submissions``: every ``n``-th, from ``i``, in order of path."""
    i, n = shard
    ordered = sorted(submissions, key=lambda s: os.fsencode(os.path.abspath(s)))
    return ordered[i::n]


def _book_hashes(book: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(book).glob("*.ipynb")}


def grade_batch(
    submissions,
    *,
    out,
    chapter: str | None = None,
    ids=None,
    results_dir=None,
    seed: int | None = None,
    jobs: int = 2,
    limits: Limits = Limits(),
    chapters=None,
    fresh: bool = False,
    sandbox: bool | Runner = True,
    shard=None,
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
    seed : int, optional
        Seed of the random cases, the same for every submission; by default the
        one stored in ``results_dir``, or a fresh one (stored there).
    jobs : int
        Submissions graded at once, each in its own sandbox.
    limits : Limits
        CPU time, memory and size limits per submission.
    chapters : path, optional
        Folder of chapter notebooks holding the references.
    fresh : bool
        Grade again even when a matching record exists (and draw a new seed).
    sandbox : bool or Runner
        ``False`` grades without bubblewrap (records and CSV say ``sandbox: none``);
        ``True`` raises :class:`~l2bayes.grading.sandbox.SandboxUnavailable` when
        bubblewrap cannot run.
    shard : (int, int) or str, optional
        Grade only the ``i``-th of ``n`` slices (:func:`shard_of`).
    on_record : callable, optional
        Called as ``on_record(record, reused)`` as each submission is done.

    Returns
    -------
    list of dict
        The records, one per distinct file, in the order of ``submissions``.
    """
    submissions = [os.fspath(s) for s in submissions]
    if not submissions:
        raise ValueError("submissions must name at least one notebook")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if ids and chapter is None:
        chapter = get_exercise(ids[0]).chapter
    if chapter is not None and chapter not in known_chapters():
        raise ValueError(f"chapter {chapter!r} has no exercises; chapters with exercises: {sorted(known_chapters())}")
    for i in ids or ():
        get_exercise(i)
    if shard is not None:
        shard = parse_shard(shard) if isinstance(shard, str) else parse_shard(f"{shard[0]}/{shard[1]}")
        if seed is None:
            raise ValueError("seed must be given with shard, so that every shard grades on the same cases")
        submissions = shard_of(submissions, shard)
    runner = sandbox if isinstance(sandbox, Runner) else Runner(sandbox=bool(sandbox))
    book = chapters_dir(chapters)
    out = Path(out)
    folder = ResultsFolder(results_dir or out.with_name(out.stem + "_json"))
    if not runner.sandbox and not runner.deny:
        runner = Runner(sandbox=False, guard=runner.guard, deny=tuple(deny_roots(book, submissions, folder.path)))
    runner.check()
    folder.lock()
    try:
        seed = folder.seed(seed, fresh)
        ordered = _grade_locked(submissions, out, folder, book, chapter, ids, seed, jobs, limits, fresh, runner, on_record)
    finally:
        folder.unlock()
    return ordered


def _grade_locked(submissions, out, folder, book, chapter, ids, seed, jobs, limits, fresh, runner, on_record):
    plans: dict[str, Plan | None] = {}
    plan_lock = threading.Lock()

    def plan_for(stem: str | None) -> Plan | None:
        if stem is None or stem not in known_chapters():
            return None
        with plan_lock:
            if stem not in plans:
                plans[stem] = make_plan(stem, ids=ids, seed=seed, chapters=book)
            return plans[stem]

    references = _book_hashes(book)
    max_bytes = limits.notebook_mb << 20
    records: dict[str, dict] = {}
    order: list[str] = []
    seen_files: set[tuple[int, int]] = set()
    seen_keys: set[str] = set()
    todo: list[tuple[str, bytes]] = []

    def done(record: dict, reused: bool) -> None:
        if not reused:
            record = folder.write(record)
        records[record["key"]] = record
        if on_record:
            on_record(record, reused)

    for s in submissions:
        key = submission_key(s)
        if key in seen_keys:  # the same path twice
            continue
        start = time.monotonic()
        data, info, problem = read_submission(s, max_bytes)
        if info is not None and stat.S_ISREG(info.st_mode):
            ident = (info.st_dev, info.st_ino)
            if ident in seen_files:  # the same file by another path (a hard link, a second name)
                continue
            seen_files.add(ident)
        seen_keys.add(key)
        order.append(key)
        stem = chapter or chapter_from_name(s)
        if problem is None and hashlib.sha256(data).hexdigest() in references:
            problem = "the submission is a chapter notebook with its reference solutions, not the student's work"
        if problem is not None:
            done(failed(base_record(s, data, runner), problem, plan_for(stem), start), False)
            continue
        if not fresh:
            old = folder.read(record_path(folder.path, s))
            if old is not None and _reusable(old, data, runner, plan_for(old.get("chapter")), chapter):
                done(old, True)
                continue
        todo.append((s, data))

    cancel = threading.Event()
    pools = None
    if runner.sandbox and runner.pool and todo:
        preload = runner.preload
        if chapter:  # the modules its references import, and torch when its cases hold tensors
            preload = _preload(book, chapter)
            if "__tensor__" in json.dumps(plan_for(chapter).args) and "torch" not in preload:
                preload += ("torch",)
        pools = Pools(limits, dataclasses.replace(runner, preload=preload), cancel)
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {
            pool.submit(_grade_safely, s, data, plan_for, chapter, limits, runner, cancel, pools): s
            for s, data in todo
        }
        for future in as_completed(futures):
            done(future.result(), False)
    except BaseException:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if pools is not None:
            pools.close()
    ordered = [records[k] for k in order]
    write_atomic(out, csv_text(ordered))
    return ordered


def _reusable(record: dict, data: bytes, runner: Runner, plan: Plan | None, chapter: str | None) -> bool:
    return (
        record.get("grader") == GRADER_VERSION
        and record.get("sha256") == hashlib.sha256(data).hexdigest()
        and record.get("sandbox") == runner.name
        and record.get("problem") is None
        and plan is not None
        and record.get("plan") == plan.fingerprint
        and (chapter is None or record.get("chapter") == chapter)
    )


def _preload(book: Path, chapter: str) -> tuple[str, ...]:
    """The top-level modules the reference solutions of ``chapter`` import: what a pool's zygote preloads."""
    import ast

    from l2bayes.exercises.notebooks import program, read_notebook, solution_sources

    nb = read_notebook(Path(book) / f"{chapter}.ipynb")
    modules = []
    for statement in program(nb, solution_sources(nb)):
        try:
            tree = ast.parse(statement)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            modules += [n.split(".")[0] for n in names if n.split(".")[0] not in modules]
    return tuple(modules)


def _grade_safely(path, data, plan_for, chapter, limits, runner, cancel, pools=None) -> dict:
    """:func:`grade_submission`, with any failure of the grader itself costing this submission alone."""
    start = time.monotonic()
    try:
        return grade_submission(path, data, plan_for, chapter=chapter, limits=limits, runner=runner, cancel=cancel,
                                pools=pools)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - the batch goes on
        stem = chapter or chapter_from_name(path)
        try:
            plan = plan_for(stem) if stem else None
        except Exception:  # noqa: BLE001
            plan = None
        return failed(base_record(path, data, runner), f"the grader failed on this submission "
                      f"({type(exc).__name__}: {str(exc)[:300]}); it scores 0 until it is graded again", plan, start)


def deny_roots(chapters, submissions, results_dir) -> list[str]:
    """Folders the audit hook refuses to a worker without a sandbox: the package and its repository,
    the chapters and their book, the submissions' folders and the results."""
    import sys
    import tempfile

    package = Path(l2bayes.__file__).resolve().parent
    book = Path(chapters).resolve()
    roots = {book, book.parent, Path(results_dir).resolve(), *(Path(s).resolve().parent for s in submissions)}
    checkout = package.parents[1]
    if (checkout / "pyproject.toml").is_file():
        roots |= {checkout, checkout / "chapters"}
    prefixes = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    tmp = Path(tempfile.gettempdir()).resolve()
    keep = {
        r for r in roots
        if r != Path(r.anchor) and not tmp.is_relative_to(r) and not any(r.is_relative_to(p) for p in prefixes)
    }
    return sorted(str(r) for r in keep | {package})


def csv_text(records) -> str:
    """The grades table: one row per submission and exercise."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for record in records:
        for e in record["exercises"]:
            writer.writerow([spreadsheet_safe(record["submission"]), spreadsheet_safe(e["exercise"]),
                             f"{e['points']:g}", f"{e['max_points']:g}", spreadsheet_safe(e["feedback"]),
                             record.get("sandbox", "")])
    return buffer.getvalue()


def merge(results_dirs, *, out) -> list[dict]:
    """Join the records of shards' results folders into one CSV ``out``; return the records.

    Every record must carry a valid HMAC of its own folder's key (others are
    reported and left out), and all must share one seed. Records are ordered
    by submission path, like :func:`shard_of`.
    """
    if not results_dirs:
        raise ValueError("results_dirs must name at least one shard's results folder")
    records: dict[str, dict] = {}
    seeds = set()
    for d in results_dirs:
        path = Path(d)
        if not (path / KEY_FILE).is_file():
            raise ValueError(f"results_dirs: {str(d)!r} is not a grader's results folder (no {KEY_FILE})")
        for record in ResultsFolder(path).records():
            if record.get("format") != RECORD_FORMAT:
                continue
            records.setdefault(record["key"], record)
            if record.get("seed") is not None:
                seeds.add(record["seed"])
    if len(seeds) > 1:
        raise ValueError(f"results_dirs: the shards were graded with different seeds {sorted(seeds)}; "
                         "grade every shard with the same --seed")
    ordered = sorted(records.values(), key=lambda r: os.fsencode(r["submission"]))
    write_atomic(Path(out), csv_text(ordered))
    return ordered
