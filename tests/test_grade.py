"""Tests of the batch grader (l2bayes.grading) and its bubblewrap sandbox.

The submissions in tests/submissions/ are the student notebook of the fixture
chapter with solution cells that are correct, wrong, or hostile; see
make_fixtures.py there. They are graded once, as one batch, and each test
checks what one of them got. Attacks that need this machine's paths (the
chapters, the results folder, the grader's pid) are written at test time.

Every limit the tests rely on is CPU time; the wall clock appears only as a
generous backstop, so a loaded machine changes no result.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from l2bayes.grade import (
    ResultsFolder,
    grade_batch,
    make_plan,
    merge,
    read_submission,
    record_path,
    safe_text,
    spreadsheet_safe,
    submission_chapter,
    write_atomic,
)
from l2bayes.grading import wire
from l2bayes.grading.batch import GraderBusy, parse_shard, shard_of
from l2bayes.grading.sandbox import Limits, Runner, SandboxUnavailable, Session, bwrap_problem, process_limit

HERE = Path(__file__).parent
ROOT = HERE.parent
SUBMISSIONS = HERE / "submissions"
CHAPTERS = SUBMISSIONS / "book" / "chapters"
CHAPTER = "01_prior_to_penalty"
LIMITS = Limits(exercise_seconds=2.0, cell_seconds=5.0, submission_seconds=30.0, memory_mb=1024)
# The escape fixture writes to "../l2bayes-escape-test" from its working folder: that file must never appear.
ESCAPE_TARGET = Path(tempfile.gettempdir()) / "l2bayes-escape-test"
OUTLIVE_MARKER = "l2bayes-outlive-marker"

PG, NLP, MSE, PRIOR = "ch01-penalty-grad", "ch01-neg-log-prior", "ch01-mse-weight-decay", "ch01-prior-from-weight-decay"
FULL = {PG: (1.0, "passed all"), NLP: (1.0, "passed all"), MSE: (1.0, "passed all"), PRIOR: (1.0, "passed all")}
PARTIAL = "partial"
UNREADABLE = {e: (0.0, "not a readable notebook") for e in FULL}

# submission -> exercise -> (points, or PARTIAL for 0 < points < 1; text the feedback must contain).
# Exercises not listed get full marks: a submission loses only what it breaks.
EXPECTED = {
    "correct": {},
    "stub": {e: (0.0, "not implemented yet") for e in FULL},
    "wrong_misconceptions": {
        PG: (PARTIAL, "Misconception (factor of two)"),
        NLP: (0.0, "Misconception (normalising constant dropped)"),
        MSE: (PARTIAL, "Misconception (batch size for n)"),
    },
    "loop_forever": {PG: (0.0, "timed out: the exercise's 2 CPU seconds were used up")},
    "loop_at_import": {PG: (0.0, "did not finish within 5 CPU seconds")},
    "too_slow": {PG: (PARTIAL, "timed out")},
    "sleepy_but_correct": {},
    "sys_exit": {PG: (0.0, "sys.exit(0)")},
    "os_exit_at_import": {PG: (0.0, "exited with code 0")},
    "os_exit_in_call": {PG: (0.0, "exited with code 7")},
    "raise_at_import": {PG: (0.0, "its solution cell failed: RuntimeError: boom at import")},
    "syntax_error": {PG: (0.0, "its solution cell failed: SyntaxError")},
    "memory_bomb": {PG: (0.0, "its solution cell failed: MemoryError")},
    "fork": {PG: (0.0, "may not use os.fork")},
    "spawn": {PG: (0.0, "may not use subprocess.Popen")},
    "flood_stdout": {},
    "wrong_type": {
        PG: (0.0, "expected an array of shape"),
        NLP: (0.0, "expected a single number, got None"),
        MSE: (0.0, "expected a single number, got a list of length 1"),
    },
    "wrong_shape": {PG: (0.0, "expected shape")},
    "returns_nan": {PG: (0.0, "NaN")},
    "huge_answer": {PG: (0.0, "too many")},
    "tamper_numpy": {PG: (0.0, "values differ")},
    "tamper_torch": {PG: (0.0, "values differ")},
    "tamper_checker": {PG: (0.0, "could not steal the reference: import: no checkout of the course in sight")},
    "forge_reply": {PG: (0.0, "the worker's reply was malformed")},
    "kill_grader": {PG: (0.0, "may not signal other processes")},
    "closes_pipes": {PG: (0.0, "the worker")},
    "escape_sandbox": {},
    "steal_with_dir_fd": {PG: (0.0, "found no notebook with a reference")},
    "outlive_grader": {PG: (0.0, "started a child")},
    "kill_everyone": {PG: (0.0, "penalty_grad")},
    "stop_everyone": {PG: (0.0, "penalty_grad")},
    "surrogate_message": {PG: (0.0, "lone surrogate \\udcff and a NUL \\x00 here")},
    "ast_bomb": {PG: (0.0, "its solution cell failed: RecursionError")},
    "not_a_notebook": {e: (0.0, "not a readable notebook: the submission is not JSON") for e in FULL},
    "nested_json": {e: (0.0, "nested too deeply") for e in FULL},
    "cell_metadata_string": {e: (0.0, "not a valid nbformat 4 notebook") for e in FULL},
    "source_of_ints": {e: (0.0, "not a valid nbformat 4 notebook") for e in FULL},
    "notebook_metadata_list": {e: (0.0, "not a valid nbformat 4 notebook") for e in FULL},
    "no_solution_cells": {e: (0.0, "no code cell is tagged 'solution'") for e in FULL},
}


def test_bubblewrap_works_here():
    """The rest of this file needs it; .ci/run installs it (Debian's bubblewrap)."""
    assert bwrap_problem() is None, bwrap_problem()


def test_every_fixture_submission_has_an_expectation():
    assert {p.stem for p in SUBMISSIONS.glob("*.ipynb")} == set(EXPECTED)


def outlived(marker: str) -> list[int]:
    """Pids of processes anywhere on this machine whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read() and int(entry) != os.getpid():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def wait_until_gone(marker: str, seconds: float = 60.0) -> list[int]:
    """The processes holding ``marker`` still alive after ``seconds`` (a backstop: they die at once)."""
    end = time.monotonic() + seconds
    while outlived(marker) and time.monotonic() < end:
        time.sleep(0.2)
    return outlived(marker)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture submission in one batch, two at a time."""
    ESCAPE_TARGET.unlink(missing_ok=True)
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    paths = [SUBMISSIONS / f"{name}.ipynb" for name in EXPECTED]
    records = grade_batch(paths, out=out, chapter=CHAPTER, jobs=2, limits=LIMITS, chapters=CHAPTERS, seed=0)
    return {Path(r["submission"]).stem: r for r in records}, out


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_submission_loses_only_what_it_breaks(graded, name):
    records, _ = graded
    got = {e["exercise"]: e for e in records[name]["exercises"]}
    assert list(got) == [PG, NLP, MSE, PRIOR]
    for exercise, (points, text) in {**FULL, **EXPECTED[name]}.items():
        entry = got[exercise]
        if points == PARTIAL:
            assert 0 < entry["points"] < entry["max_points"], entry["feedback"]
        else:
            assert entry["points"] == points, entry["feedback"]
        assert text in entry["feedback"]
    assert records[name]["sandbox"] == "bwrap" and records[name]["seed"] == 0


def test_partial_credit_is_per_case(graded):
    records, _ = graded
    entry = next(e for e in records["wrong_misconceptions"]["exercises"] if e["exercise"] == PG)
    assert entry["passed"] == sum(r["passed"] for r in entry["results"]) == 2  # theta = centre, lam = 0
    assert entry["points"] == pytest.approx(2 / entry["cases"])
    assert entry["misconception"] == "factor of two"


def test_nothing_escaped_the_sandbox(graded):
    assert not ESCAPE_TARGET.exists()
    records, _ = graded
    assert "ESCAPED" not in json.dumps(records["escape_sandbox"])


def test_a_child_in_its_own_session_dies_with_the_sandbox(graded):
    """fork_exec(call_setsid=True) raises no audit event; the pid namespace still ends the child."""
    records, _ = graded
    assert "started a child" in records["outlive_grader"]["exercises"][0]["feedback"]
    assert wait_until_gone(OUTLIVE_MARKER) == []


def test_the_csv_has_a_row_per_submission_and_exercise(graded):
    records, out = graded
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(FULL) * len(EXPECTED)
    assert set(rows[0]) == {"submission", "exercise", "points", "max_points", "feedback", "sandbox"}
    correct = [r for r in rows if Path(r["submission"]).stem == "correct"]
    assert [float(r["points"]) for r in correct] == [1.0] * len(FULL)
    assert {r["sandbox"] for r in rows} == {"bwrap"}
    folder = out.with_name("grades_json")
    assert sorted(p.name for p in folder.glob("*.json") if p.name != "state.json") == sorted(
        record_path(folder, SUBMISSIONS / f"{n}.ipynb").name for n in EXPECTED
    )
    assert all(re.fullmatch(r"[0-9a-f]{40}\.json", p.name) for p in folder.glob("*.json") if p.name != "state.json")


# --- what the sandbox promises, shown with the audit hook switched off ------------------------------

PROBE = '''import _posixsubprocess
import json
import os
import signal
import socket
import sys

report = {}


def attempt(name, action):
    try:
        action()
        report[name] = "yes"
    except BaseException as exc:
        report[name] = type(exc).__name__


def read_chapter():
    with open(CHAPTER_FILE, "rb") as f:
        assert b"def penalty_grad" in f.read()


def read_chapter_by_dir_fd():
    root = os.open("/", os.O_RDONLY)
    fd = os.open(CHAPTER_FILE.lstrip("/"), os.O_RDONLY, dir_fd=root)
    assert b"def penalty_grad" in os.read(fd, 1 << 20)


def list_submissions():
    assert SIBLING in os.listdir(SUBMISSIONS_DIR) or SIBLING in [e.name for e in os.scandir(SUBMISSIONS_DIR)]


def write_sibling():
    with open(os.path.join(SUBMISSIONS_DIR, SIBLING), "a") as f:
        f.write("")


def read_output():
    os.listdir(RESULTS_DIR)
    open(os.path.join(RESULTS_DIR, "grader.key"), "rb").read()


def see_grader():
    with open(f"/proc/{GRADER_PID}/cmdline", "rb") as f:
        assert f.read()


def signal_grader():
    os.kill(GRADER_PID, 0)  # signal 0: only asks whether the process can be signalled


def pidfd_grader():
    os.close(os.pidfd_open(GRADER_PID))


def network():
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(b"hello")


def outlive():
    r, w = os.pipe()
    _posixsubprocess.fork_exec(
        [sys.executable, "-c", "import time; time.sleep(300)  # " + MARKER], [os.fsencode(sys.executable)],
        True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, None, -1, None, False)


for name, action in [("read_chapter", read_chapter), ("read_chapter_by_dir_fd", read_chapter_by_dir_fd),
                     ("list_submissions", list_submissions), ("write_sibling", write_sibling),
                     ("read_output", read_output), ("see_grader", see_grader), ("signal_grader", signal_grader),
                     ("pidfd_grader", pidfd_grader), ("network", network), ("outlive", outlive)]:
    attempt(name, action)


def penalty_grad(theta, lam, centre):
    raise RuntimeError("REPORT " + json.dumps(report, separators=(",", ":")))
'''


def with_solution(name: str, folder: Path, penalty_grad_cell: str) -> Path:
    """A copy of the correct submission whose penalty_grad cell is ``penalty_grad_cell``."""
    nb = json.loads((SUBMISSIONS / "correct.ipynb").read_text())
    for c in nb["cells"]:
        if "solution" in c["metadata"].get("tags", []) and "def penalty_grad" in "".join(c["source"]):
            c["source"] = penalty_grad_cell
    path = folder / name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def probe(tmp_path: Path, runner: Runner) -> tuple[dict, str]:
    """Grade a submission that tries every escape; return what it reported and its marker."""
    subs, results = tmp_path / "class", tmp_path / "results"
    subs.mkdir()
    sibling = with_solution("sibling.ipynb", subs, "x = 1")
    marker = f"l2bayes-probe-{os.getpid()}-{runner.name}-{time.monotonic_ns()}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    constants = {
        "CHAPTER_FILE": str((CHAPTERS / f"{CHAPTER}.ipynb").resolve()), "SUBMISSIONS_DIR": str(subs.resolve()),
        "SIBLING": sibling.name, "RESULTS_DIR": str(results.resolve()), "GRADER_PID": os.getpid(),
        "PORT": listener.getsockname()[1], "MARKER": marker,
    }
    head = "".join(f"{k} = {v!r}\n" for k, v in constants.items())
    before = sibling.read_bytes()
    try:
        path = with_solution("prober.ipynb", subs, head + PROBE)
        ResultsFolder(results).key  # the key exists before the probe looks for it
        (record,) = grade_batch([path], out=tmp_path / "g.csv", results_dir=results, chapter=CHAPTER, seed=0,
                                limits=LIMITS, chapters=CHAPTERS, sandbox=runner)
        try:
            connected = listener.accept()[0].recv(5) == b"hello"
        except OSError:
            connected = False
    finally:
        listener.close()
    feedback = record["exercises"][0]["feedback"]
    report = json.loads(re.search(r"REPORT (\{.*?\})", feedback)[1])
    report["listener_got_hello"] = connected
    report["sibling_unchanged"] = sibling.read_bytes() == before
    return report, marker


def test_the_sandbox_keeps_its_promises_without_the_audit_hook(tmp_path):
    """Cannot read the chapters (even by dir_fd), see other submissions, the output or the key, see or
    signal the grader, reach the network, or leave a process behind; the audit hook is off."""
    report, marker = probe(tmp_path, Runner(sandbox=True, guard=False))
    try:
        assert report["read_chapter"] == report["read_chapter_by_dir_fd"] == "FileNotFoundError", report
        assert report["list_submissions"] == report["read_output"] == "FileNotFoundError", report
        assert report["write_sibling"] in ("FileNotFoundError", "OSError"), report
        assert report["see_grader"] == "FileNotFoundError", report
        assert report["signal_grader"] == report["pidfd_grader"] == "ProcessLookupError", report
        assert report["network"] in ("ConnectionRefusedError", "OSError", "TimeoutError"), report
        assert report["listener_got_hello"] is False and report["sibling_unchanged"] is True, report
        assert report["outlive"] == "yes", report  # the child was started...
        assert wait_until_gone(marker) == []  # ...and died with its sandbox
    finally:
        for pid in outlived(marker):
            os.kill(pid, 9)


def test_the_probe_can_tell_without_a_sandbox(tmp_path):
    """The same probe, run with neither sandbox nor hook, does all of it: its checks are not vacuous."""
    report, marker = probe(tmp_path, Runner(sandbox=False, guard=False))
    try:
        assert {k: v for k, v in report.items() if k != "write_sibling"} == {
            "read_chapter": "yes", "read_chapter_by_dir_fd": "yes", "list_submissions": "yes", "read_output": "yes",
            "see_grader": "yes", "signal_grader": "yes", "pidfd_grader": "yes", "network": "yes", "outlive": "yes",
            "listener_got_hello": True, "sibling_unchanged": True,
        }
        assert outlived(marker), "without a sandbox the child outlives the grader"
    finally:
        for pid in outlived(marker):
            os.kill(pid, 9)


IPC_KEY = 0x12B4E5

LEAVE_BEHIND = '''import _posixsubprocess
import ctypes
import os
import sys

with open("left-behind.txt", "w") as f:
    f.write("for the next submission")
with open("/dev/shm/left-behind", "w") as f:
    f.write("for the next submission")
# System V shared memory and a message queue, and a POSIX message queue: kernel objects, not files.
libc = ctypes.CDLL(None, use_errno=True)
libc.mq_open.restype = ctypes.c_int
for made in (libc.shmget(IPC_KEY, 4096, 0o1666), libc.msgget(IPC_KEY, 0o1666),
             libc.mq_open(b"/l2bayes-left-behind", os.O_CREAT | os.O_RDWR, 0o666, None)):
    assert made >= 0, os.strerror(ctypes.get_errno())
# The probe below can see them here, in the submission that made them.
assert f"{IPC_KEY:10d}" in open("/proc/sysvipc/shm").read() and f"{IPC_KEY:10d}" in open("/proc/sysvipc/msg").read()
r, w = os.pipe()
_posixsubprocess.fork_exec(
    [sys.executable, "-c", "import time; time.sleep(300)  # " + MARKER], [os.fsencode(sys.executable)],
    True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w, True, True, -1, None, None, None, -1, None, False)


def penalty_grad(theta, lam, centre):
    return lam * (np.asarray(theta) - np.asarray(centre))
'''

LOOK_AROUND = '''import json
import os

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
seen = {"files": sorted(os.listdir(".")), "processes": [], "shm": sorted(os.listdir("/dev/shm")),
        "sysv": [line.split()[0] for name in ("shm", "msg", "sem") for line in open(f"/proc/sysvipc/{name}").readlines()[1:]],
        "shmget": libc.shmget(IPC_KEY, 0, 0), "mq_open": libc.mq_open(b"/l2bayes-left-behind", os.O_RDONLY),
        "writable": []}
for folder in SITE_DIRS:  # bound read-only, and again inside each child's own /tmp when they live there
    try:
        open(os.path.join(folder, "l2bayes-written"), "w").close()
        seen["writable"].append(folder)
    except OSError:
        pass
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) not in (1, os.getpid(), os.getppid()):
        seen["processes"].append(open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace")[:80])
for what in ("mem", "environ", "fd/0"):
    try:
        open(f"/proc/{os.getppid()}/{what}", "rb").read(1)
        seen[what] = "yes"
    except OSError as exc:
        seen[what] = type(exc).__name__


def penalty_grad(theta, lam, centre):
    raise RuntimeError("REPORT " + json.dumps(seen, separators=(",", ":")))
'''


def test_in_a_pool_one_submission_leaves_nothing_to_the_next(tmp_path, monkeypatch):
    """The two share one sandbox and its zygote (jobs=1): the second finds no file, no process and no IPC
    object of the first, and cannot read the zygote's memory, environment or descriptors."""
    from l2bayes.grading import sandbox

    started = []
    original = sandbox.Pool.__init__
    # Counted once started: a zygote that cannot isolate its children raises (and its batch falls back).
    monkeypatch.setattr(sandbox.Pool, "__init__", lambda self, *a, **k: original(self, *a, **k) or started.append(1))
    marker = f"l2bayes-pool-{os.getpid()}-{time.monotonic_ns()}"
    first = with_solution("a_first.ipynb", tmp_path, f"MARKER = {marker!r}\nIPC_KEY = {IPC_KEY}\n" + LEAVE_BEHIND)
    site_dirs = [os.path.realpath(sys.base_prefix), *sandbox.site_dirs()]
    second = with_solution("b_second.ipynb", tmp_path, f"IPC_KEY = {IPC_KEY}\nSITE_DIRS = {site_dirs!r}\n" + LOOK_AROUND)
    try:
        records = grade_batch([first, second], out=tmp_path / "g.csv", chapter=CHAPTER, seed=0, jobs=1,
                              limits=LIMITS, chapters=CHAPTERS, sandbox=Runner(guard=False))
        assert records[0]["points"] == len(FULL), records[0]["exercises"][0]["feedback"]
        assert started == [1]  # one sandbox for both
        report = json.loads(re.search(r"REPORT (\{.*?\})", records[1]["exercises"][0]["feedback"])[1])
        # Only the folders leading to the read-only binds of the host's Python may be there (when the
        # virtual environment lives under the host's temporary folder, as in a CI checkout there).
        inside = sandbox.INSIDE_WORK
        scaffold = {Path(p).relative_to(inside).parts[0] for p in (os.path.realpath(sys.base_prefix), *sandbox.site_dirs())
                    if Path(p).is_relative_to(inside)}
        assert set(report["files"]) <= scaffold and report["processes"] == [], report
        # No System V object, no POSIX message queue, nothing in /dev/shm: each child has its own IPC namespace.
        assert report["shm"] == [] and report["sysv"] == [], report
        assert report["shmget"] == report["mq_open"] == -1, report
        assert report["writable"] == [], report
        assert report["mem"] == report["environ"] == report["fd/0"] == "PermissionError", report
        assert wait_until_gone(marker) == []
    finally:
        for pid in outlived(marker):
            os.kill(pid, 9)


MANY_THREADS = '''import threading

threading.stack_size(1 << 18)  # small stacks: the address-space limit is not what this is about
stop = threading.Event()
started, error = 0, "none"
try:
    for _ in range(300):
        threading.Thread(target=stop.wait, daemon=True).start()
        started += 1
except RuntimeError as exc:
    error = str(exc)
stop.set()


def penalty_grad(theta, lam, centre):
    raise RuntimeError(f"STARTED {started} {error}")
'''


@pytest.mark.parametrize("pool", [True, False], ids=["pooled", "sandbox-per-submission"])
@pytest.mark.parametrize("processes", [16, 400])
def test_a_submission_gets_no_more_tasks_than_its_limit(tmp_path, monkeypatch, pool, processes):
    """Threads count as tasks, for RLIMIT_NPROC and for a pids cgroup alike; 400 is the control: all 300 start.
    Every cgroup made for a sandbox is gone when the batch ends."""
    from l2bayes.grading import sandbox

    if process_limit() == "none":
        pytest.skip("the grader runs as root and the host has no pids cgroup: no process limit binds here")
    made = []
    original = sandbox._new_pids_cgroup
    monkeypatch.setattr(sandbox, "_new_pids_cgroup", lambda limit: made.append(original(limit)) or made[-1])
    sub = with_solution("threads.ipynb", tmp_path, MANY_THREADS)
    limits = dataclasses.replace(LIMITS, processes=processes, memory_mb=4096)
    record = grade_batch([sub], out=tmp_path / "g.csv", chapter=CHAPTER, seed=0, jobs=1, limits=limits,
                         chapters=CHAPTERS, sandbox=Runner(guard=False, pool=pool))[0]
    feedback = next(e["feedback"] for e in record["exercises"] if e["exercise"] == PG)
    started, error = re.search(r"STARTED (\d+) (.*)", feedback).groups()
    if processes == 16:
        assert int(started) < processes and "can't start new thread" in error, feedback
    else:
        assert int(started) == 300 and error.startswith("none"), feedback
    assert (process_limit() == "cgroup") == bool(made) and not any(os.path.exists(c) for c in made), made


def test_where_a_pool_cannot_isolate_its_children_each_submission_gets_a_sandbox(tmp_path, monkeypatch):
    from l2bayes.grading import sandbox

    def refuse(self, *args, **kwargs):
        raise sandbox.PoolUnavailable("refused for the test")

    monkeypatch.setattr(sandbox.Pool, "__init__", refuse)
    started = []
    original = sandbox.Worker.__init__
    monkeypatch.setattr(sandbox.Worker, "__init__", lambda self, *a, **k: started.append(1) or original(self, *a, **k))
    correct = "def penalty_grad(theta, lam, centre):\n    return lam * (np.asarray(theta) - np.asarray(centre))  # {}\n"
    subs = [with_solution(f"s{i}.ipynb", tmp_path, correct.format(i)) for i in range(2)]
    records = grade_batch(subs, out=tmp_path / "g.csv", chapter=CHAPTER, seed=0, jobs=1, limits=LIMITS,
                          chapters=CHAPTERS)
    assert [r["points"] for r in records] == [len(FULL)] * 2
    assert len(started) >= 2  # a sandbox of its own for each


# --- the grader always finishes ------------------------------------------------------------------


def test_links_fifos_devices_and_huge_files_cost_only_their_own_points(tmp_path):
    subs = tmp_path / "class"
    subs.mkdir()
    honest = subs / "honest.ipynb"
    honest.write_bytes((SUBMISSIONS / "correct.ipynb").read_bytes())
    (subs / "link_to_reference.ipynb").symlink_to((CHAPTERS / f"{CHAPTER}.ipynb").resolve())
    (subs / "link_to_zero.ipynb").symlink_to("/dev/zero")
    os.mkfifo(subs / "fifo.ipynb")
    (subs / "copy_of_reference.ipynb").write_bytes((CHAPTERS / f"{CHAPTER}.ipynb").read_bytes())
    big = json.loads((SUBMISSIONS / "correct.ipynb").read_text())
    big["cells"].append({"cell_type": "code", "id": "big", "metadata": {}, "outputs": [], "execution_count": None,
                         "source": "x = 1\n" * 4_000_000})  # 24 MB of code
    (subs / "huge_cell.ipynb").write_text(json.dumps(big))
    missing = subs / "missing.ipynb"
    paths = [honest, *(subs / n for n in ("link_to_reference.ipynb", "link_to_zero.ipynb", "fifo.ipynb",
                                          "copy_of_reference.ipynb", "huge_cell.ipynb")), missing]
    records = grade_batch(paths, out=tmp_path / "g.csv", chapter=CHAPTER, seed=0, limits=LIMITS, chapters=CHAPTERS)
    got = {Path(r["submission"]).name: r for r in records}
    assert got["honest.ipynb"]["points"] == len(FULL)
    problems = {
        "link_to_reference.ipynb": "symbolic link", "link_to_zero.ipynb": "symbolic link",
        "fifo.ipynb": "not a regular file", "copy_of_reference.ipynb": "a chapter notebook with its reference",
        "huge_cell.ipynb": "larger than 8 MB", "missing.ipynb": "could not be opened",
    }
    for name, text in problems.items():
        assert got[name]["points"] == 0.0 and text in got[name]["problem"], got[name]
        assert all(text in e["feedback"] for e in got[name]["exercises"])
    assert len(list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))) == len(FULL) * len(paths)


def test_read_submission_never_follows_or_blocks(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    assert read_submission(tmp_path / "fifo", 100)[2].startswith("the submission is not a regular file")
    (tmp_path / "small").write_bytes(b"x" * 100)
    assert read_submission(tmp_path / "small", 100)[0] == b"x" * 100
    assert "larger than" in read_submission(tmp_path / "small", 99)[2]
    (tmp_path / "link").symlink_to(tmp_path / "small")
    assert "symbolic link" in read_submission(tmp_path / "link", 100)[2]
    assert "not a regular file" in read_submission(Path("/dev/null"), 100)[2]


def test_the_same_file_is_graded_once(tmp_path):
    sub = tmp_path / "a.ipynb"
    sub.write_bytes((SUBMISSIONS / "stub.ipynb").read_bytes())
    os.link(sub, tmp_path / "hard_link.ipynb")
    (tmp_path / "sub").mkdir()
    again = tmp_path / "sub" / ".." / "a.ipynb"
    log = []
    records = grade_batch([sub, again, tmp_path / "hard_link.ipynb", sub], out=tmp_path / "g.csv", chapter=CHAPTER,
                          seed=0, limits=LIMITS, chapters=CHAPTERS, on_record=lambda r, reused: log.append(r["name"]))
    assert [r["name"] for r in records] == ["a.ipynb"] and log == ["a.ipynb"]


def test_any_name_and_any_message_make_a_valid_csv(tmp_path):
    names = [os.fsdecode(b"bad\xff-byte.ipynb"), "n" * 231 + ".ipynb", "=HYPERLINK(evil).ipynb", "-2+3.ipynb"]
    paths = []
    for name in names:
        path = tmp_path / name
        path.write_bytes((SUBMISSIONS / "surrogate_message.ipynb").read_bytes())
        paths.append(path)
    out = tmp_path / "g.csv"
    records = grade_batch(paths, out=out, chapter=CHAPTER, seed=0, limits=LIMITS, chapters=CHAPTERS)
    assert [r["points"] for r in records] == [len(FULL) - 1.0] * 4
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    submissions = {r["submission"] for r in rows}
    assert any("bad\\udcff-byte.ipynb" in s for s in submissions)
    assert any(s.endswith("n" * 231 + ".ipynb") for s in submissions)
    assert not any(s[:1] in "=+-@" for r in rows for s in r.values())
    assert "lone surrogate \\udcff and a NUL \\x00 here" in rows[0]["feedback"]
    for p in out.with_name("g_json").glob("*.json"):
        json.loads(p.read_text(encoding="utf-8"))
    assert spreadsheet_safe("=1+1") == "'=1+1" and spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("a\udcffb\x00") == "a\\udcffb\\x00" and safe_text("θ ✓\n\t") == "θ ✓\n\t"


# --- records no submission can forge ---------------------------------------------------------------


def test_forged_or_changed_records_are_graded_again(tmp_path):
    subs = []
    for name in ("stub", "wrong_type"):
        subs.append(tmp_path / f"{name}.ipynb")
        subs[-1].write_bytes((SUBMISSIONS / f"{name}.ipynb").read_bytes())
    out, folder = tmp_path / "g.csv", tmp_path / "g_json"
    grade_batch(subs, out=out, chapter=CHAPTER, seed=0, limits=LIMITS, chapters=CHAPTERS)
    first = record_path(folder, subs[0])
    record = json.loads(first.read_text())
    record["points"] = 3.0
    for e in record["exercises"]:
        e["points"] = 1.0
    first.write_text(json.dumps(record))  # full marks, with the old HMAC
    second = record_path(folder, subs[1])
    record = json.loads(second.read_text())
    record.pop("hmac")
    second.write_text(json.dumps({**record, "points": 3.0}))  # no HMAC at all
    log = []
    records = grade_batch(subs, out=out, chapter=CHAPTER, limits=LIMITS, chapters=CHAPTERS,
                          on_record=lambda r, reused: log.append(reused))
    assert log == [False, False] and [r["points"] for r in records] == [0.0, 1.0]  # wrong_type: 1 honest point
    assert all(ResultsFolder(folder).verified(json.loads(p.read_text())) for p in (first, second))


def test_a_batch_resumes_where_it_stopped_with_its_seed(tmp_path):
    subs = []
    for name in ("correct", "stub", "wrong_type"):
        subs.append(tmp_path / f"{name}.ipynb")
        subs[-1].write_bytes((SUBMISSIONS / f"{name}.ipynb").read_bytes())
    out = tmp_path / "grades.csv"
    seen = []

    def interrupt_after_first(record, reused):
        seen.append(Path(record["submission"]).stem)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_batch(subs, out=out, jobs=1, limits=LIMITS, chapters=CHAPTERS, on_record=interrupt_after_first)
    results = tmp_path / "grades_json"
    assert [p.name for p in results.glob("*.json") if p.name != "state.json"] == [
        record_path(results, tmp_path / f"{seen[0]}.ipynb").name]
    assert not out.exists()
    seed = json.loads((results / "state.json").read_text())["seed"]

    subs[2].write_text(subs[2].read_text().replace("return None", "return 0.0"))  # a changed submission
    log = []
    records = grade_batch(subs, out=out, jobs=2, limits=LIMITS, chapters=CHAPTERS,
                          on_record=lambda r, reused: log.append((Path(r["submission"]).stem, reused)))
    assert dict(log) == {seen[0]: True, **{s.stem: False for s in subs if s.stem != seen[0]}}
    assert [r["points"] for r in records] == [4.0, 0.0, 1.0]  # wrong_type's prior_std_answer is right
    assert {r["seed"] for r in records} == {seed}
    assert not [p for p in results.iterdir() if p.name.startswith(".tmp")]  # no temporary files left
    log.clear()
    records = grade_batch(subs, out=out, jobs=2, limits=LIMITS, chapters=CHAPTERS, fresh=True,
                          on_record=lambda r, reused: log.append(reused))
    assert log == [False, False, False]
    assert {r["seed"] for r in records} != {seed}  # a fresh batch draws a fresh seed (2^-31 to fail)


def test_a_second_grader_on_the_same_results_refuses(tmp_path):
    sub = [SUBMISSIONS / "correct.ipynb"]
    folder = ResultsFolder(tmp_path / "g_json")
    folder.lock()
    try:
        with pytest.raises(GraderBusy, match="another grader"):
            grade_batch(sub, out=tmp_path / "g.csv", seed=0, limits=LIMITS, chapters=CHAPTERS)
        done = subprocess.run([sys.executable, "-m", "l2bayes.grade", *map(str, sub), "--out", str(tmp_path / "g.csv"),
                               "--chapters", str(CHAPTERS)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 3 and "another grader" in done.stderr
    finally:
        folder.unlock()


# --- command line, sandbox refusal, shards -------------------------------------------------------


def test_the_command_line(tmp_path):
    out = tmp_path / "g.csv"
    cmd = [sys.executable, "-m", "l2bayes.grade", str(SUBMISSIONS / "correct.ipynb"), str(SUBMISSIONS / "stub.ipynb"),
           "--out", str(out), "--chapters", str(CHAPTERS), "--timeout", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "correct.ipynb: 4/4" in done.stderr and "stub.ipynb: 0/4" in done.stderr
    seed = int(re.search(r"with seed (\d+)", done.stderr)[1])
    assert {json.loads(p.read_text())["seed"] for p in (tmp_path / "g_json").glob("*.json")} == {seed}
    assert len(list(csv.DictReader(out.open()))) == 2 * len(FULL)
    bad = subprocess.run([*cmd[:5], "--out", str(out), "--exercise", "ch99-nope", "--chapters", str(CHAPTERS)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "known ids" in bad.stderr


def test_without_bubblewrap_the_grader_refuses_unless_told(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    cmd = [sys.executable, "-m", "l2bayes.grade", str(SUBMISSIONS / "correct.ipynb"), "--out", str(tmp_path / "g.csv"),
           "--chapters", str(CHAPTERS), "--seed", "0"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert refused.returncode == 2 and "apt-get install bubblewrap" in refused.stderr and "--no-sandbox" in refused.stderr
    assert not (tmp_path / "g.csv").exists()
    allowed = subprocess.run([*cmd, "--no-sandbox"], capture_output=True, text=True, timeout=600, env=env)
    assert allowed.returncode == 0 and "warning: --no-sandbox" in allowed.stderr
    rows = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert {r["sandbox"] for r in rows} == {"none"} and [r["points"] for r in rows] == ["1"] * len(FULL)


def test_three_shards_merged_give_the_grades_of_one_run(tmp_path):
    names = ["correct", "stub", "wrong_misconceptions", "wrong_type", "returns_nan", "sys_exit", "wrong_shape"]
    subs = [SUBMISSIONS / f"{n}.ipynb" for n in names]
    whole = grade_batch(subs, out=tmp_path / "all.csv", chapter=CHAPTER, seed=7, limits=LIMITS, chapters=CHAPTERS)
    shards = []
    for i in range(3):
        grade_batch(subs, out=tmp_path / f"s{i}.csv", chapter=CHAPTER, seed=7, shard=f"{i}/3", limits=LIMITS,
                    chapters=CHAPTERS)
        shards.append(tmp_path / f"s{i}_json")
    sizes = [len(list(d.glob("*.json"))) - 1 for d in shards]  # less state.json
    assert sorted(sizes) == [2, 2, 3]
    done = subprocess.run([sys.executable, "-m", "l2bayes.grade", "merge", *map(str, shards), "--out",
                           str(tmp_path / "merged.csv")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    def grades(path):
        return sorted((r["submission"], r["exercise"], r["points"], r["feedback"]) for r in csv.DictReader(path.open()))

    assert grades(tmp_path / "merged.csv") == grades(tmp_path / "all.csv")
    assert len(grades(tmp_path / "all.csv")) == len(FULL) * len(whole)
    grade_batch(subs[:1], out=tmp_path / "other.csv", chapter=CHAPTER, seed=8, limits=LIMITS, chapters=CHAPTERS)
    with pytest.raises(ValueError, match="different seeds"):
        merge([*shards, tmp_path / "other_json"], out=tmp_path / "bad.csv")


def test_shards_are_deterministic_slices():
    subs = [f"s{i:02d}.ipynb" for i in range(10)]
    parts = [shard_of(list(reversed(subs)), (i, 3)) for i in range(3)]
    assert sorted(sum(parts, [])) == subs and parts[0] == shard_of(subs, (0, 3))
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/3", "1", "a/b"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="seed must be given with shard"):
        grade_batch(subs, out="x.csv", shard="0/2", chapters=CHAPTERS)


# --- pieces ----------------------------------------------------------------------------------------


def test_write_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "r.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_the_chapter_comes_from_metadata_or_file_name():
    nb = json.loads((SUBMISSIONS / "stub.ipynb").read_text())
    assert submission_chapter(nb, Path("anything.ipynb")) == CHAPTER
    assert submission_chapter({"cells": []}, Path("bob_01_prior_to_penalty.ipynb")) == CHAPTER
    assert submission_chapter({"cells": []}, Path("bob.ipynb")) is None
    assert submission_chapter({"metadata": ["l2bayes"]}, Path("bob.ipynb")) is None


def test_the_plan_is_the_same_for_the_same_seed():
    a, b = make_plan(CHAPTER, chapters=CHAPTERS), make_plan(CHAPTER, chapters=CHAPTERS)
    c = make_plan(CHAPTER, seed=1, chapters=CHAPTERS)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_values_survive_the_wire_and_malformed_ones_are_refused():
    torch = pytest.importorskip("torch")
    values = [1.5, 3, None, True, "s", float("nan"), (1, [2.0]), {"a": 1}, np.float32(2.5),
              np.arange(6.0).reshape(2, 3), np.array([1, 2], dtype=np.int8), torch.tensor([1.0, 2.0], dtype=torch.float32)]
    for v in values:
        back = wire.decode(json.loads(json.dumps(wire.encode(v))))
        assert type(back) is type(v)
        if isinstance(v, (np.ndarray, np.generic)):
            assert back.dtype == v.dtype and np.array_equal(back, v)
        elif isinstance(v, torch.Tensor):
            assert back.dtype == v.dtype and torch.equal(back, v)
        elif v == v:
            assert back == v
    assert wire.encode(object()) == {"__object__": {"type": "object", "text": ""}}
    assert wire.encode(np.array([object()]))["__object__"]["text"] == "dtype object"
    good = wire.encode(np.arange(3.0))
    for bad in (
        {"__ndarray__": {**good["__ndarray__"], "shape": [4]}},
        {"__ndarray__": {**good["__ndarray__"], "dtype": "|O"}},
        {"__ndarray__": {**good["__ndarray__"], "shape": [-3]}},
        {"__pickle__": "gASV"},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.os.system"}},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.float64", "requires_grad": "yes"}},
        {"__tensor__": {"array": good["__ndarray__"], "dtype": "torch.float64", "parameter": 1}},
        {"__tensor__": {"array": wire.encode(np.arange(3))["__ndarray__"], "dtype": "torch.int64", "requires_grad": True}},
    ):
        with pytest.raises((ValueError, TypeError)):
            wire.decode(bad)
    deep = [[]]
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        wire.decode(deep)


def test_named_parameters_survive_the_wire():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2)).double()
    model[1].bias.requires_grad_(False)
    named = list(model.named_parameters()) + [("buffer", torch.ones(2, requires_grad=True))]
    back = wire.decode(json.loads(json.dumps(wire.encode(named))))
    assert isinstance(back, list) and all(isinstance(pair, tuple) for pair in back)
    for (name, p), (name_back, q) in zip(named, back):
        assert name_back == name and type(q) is type(p) and q.requires_grad == p.requires_grad
        assert q.dtype == p.dtype and torch.equal(q.detach(), p.detach()) and q.is_leaf
    assert set(wire.encode(torch.ones(2))["__tensor__"]) == {"array", "dtype"}  # plain tensors as before


def test_the_worker_sends_an_answers_iterators_as_lists():
    groups = [{"params": (x for x in [1.0, 2.0])}, {"params": map(float, [3])}]
    assert wire.decode(wire.encode(groups, iterators=True)) == [{"params": [1.0, 2.0]}, {"params": [3.0]}]
    kept = iter([1.0])
    assert wire.encode([kept])[0]["__object__"]["type"] == "list_iterator"  # the grader never reads its own
    assert next(kept) == 1.0
    endless = wire.encode(iter(int, 1), iterators=True)  # iter(int, 1) never stops
    assert endless["__object__"]["text"] == f"more than {wire.MAX_ELEMENTS} items, too long"


def test_bad_arguments_raise_value_error_naming_them(tmp_path):
    sub = [SUBMISSIONS / "correct.ipynb"]
    with pytest.raises(ValueError, match="jobs"):
        grade_batch(sub, out=tmp_path / "g.csv", jobs=0, chapters=CHAPTERS)
    with pytest.raises(ValueError, match="submissions"):
        grade_batch([], out=tmp_path / "g.csv", chapters=CHAPTERS)
    with pytest.raises(ValueError, match="known ids"):
        grade_batch(sub, out=tmp_path / "g.csv", ids=["nope"], chapters=CHAPTERS)
    with pytest.raises(ValueError, match="seed"):
        grade_batch(sub, out=tmp_path / "g.csv", seed=-1, chapters=CHAPTERS)
    with pytest.raises(ValueError, match="chapter '02_nothing' has no exercises"):
        make_plan("02_nothing", chapters=CHAPTERS)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="exercise_seconds"):
        Limits(exercise_seconds=-1.0)
    with pytest.raises(ValueError, match="results_dirs"):
        merge([tmp_path], out=tmp_path / "m.csv")
    assert issubclass(SandboxUnavailable, ValueError)


def _script_nodes_inner(node: ast.AST):
    yield node
    if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "__package__":
        for child in node.orelse:
            yield from _script_nodes_inner(child)
        return
    for child in ast.iter_child_nodes(node):
        yield from _script_nodes_inner(child)


def test_the_worker_imports_nothing_of_the_package():
    """As staged in the sandbox (plain scripts: ``__package__`` is empty), the worker's files import no l2bayes."""
    for module in ("grading/worker", "grading/wire", "exercises/inputs", "exercises/notebooks"):
        tree = ast.parse((ROOT / "code" / "l2bayes" / f"{module}.py").read_text())
        nodes = list(_script_nodes_inner(tree))
        imported = {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in nodes if isinstance(n, ast.ImportFrom) and n.level == 0}
        assert not {m for m in imported if m and m.split(".")[0] == "l2bayes"}, module
        whole = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
        if module == "grading/wire":  # the control: the package's branch does import it
            assert "l2bayes.exercises.inputs" in whole
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", "import l2bayes"], capture_output=True, env=env)
    assert done.returncode != 0 and b"No module named 'l2bayes'" in done.stderr


# --- through the sandbox, chapter 4's parameter groups ------------------------------------------------

GROUPS = {
    "correct": "def weight_decay_groups(named_parameters, weight_decay):\n"
               "    named = [(n, p) for n, p in named_parameters if p.requires_grad]  # as in a training script\n"
               "    assert all(isinstance(p, torch.nn.Parameter) for _, p in named)\n"
               "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': weight_decay},\n"
               "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': 0.0}]",
    "biases decayed too": "def weight_decay_groups(named_parameters, weight_decay):\n"
                          "    return [{'params': (p for _, p in named_parameters), 'weight_decay': weight_decay}]",
    "nan": "def weight_decay_groups(named_parameters, weight_decay):\n"
           "    named = list(named_parameters)\n"
           "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': float('nan')},\n"
           "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': float('nan')}]",
    "list": "def weight_decay_groups(named_parameters, weight_decay):\n"
            "    named = list(named_parameters)\n"
            "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': [weight_decay]},\n"
            "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': [0.0]}]",
    "detached": "def weight_decay_groups(named_parameters, weight_decay):\n"
                "    named = [(n, p.detach().clone()) for n, p in named_parameters]\n"
                "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': weight_decay},\n"
                "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': 0.0}]",
    "new parameters": "def weight_decay_groups(named_parameters, weight_decay):\n"
                      "    named = [(n, torch.nn.Parameter(p.detach().clone())) for n, p in named_parameters]\n"
                      "    return [{'params': [p for n, p in named if n.endswith('weight')], 'weight_decay': weight_decay},\n"
                      "            {'params': [p for n, p in named if not n.endswith('weight')], 'weight_decay': 0.0}]",
}


def test_parameter_groups_are_graded_through_the_sandbox():
    """ch04-decay-groups: named parameters go in, groups come back; NaN, lists and copies do not pass."""
    pytest.importorskip("torch")
    from l2bayes.exercises.judge import judge

    plan = make_plan("04_weight_decay_sgd", ids=["ch04-decay-groups"], chapters=ROOT / "chapters")
    (ex,) = plan.exercises
    nb = json.loads((SUBMISSIONS / "correct.ipynb").read_text())
    for name, code in GROUPS.items():
        nb["cells"] = [{"cell_type": "code", "id": "imp", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": "import torch"},
                       {"cell_type": "code", "id": "sol", "metadata": {"tags": ["solution"]}, "outputs": [],
                        "execution_count": None, "source": code}]
        with Session(json.dumps(nb).encode(), LIMITS) as session:
            session.load()
            outcomes = session.call(ex.function, plan.args[ex.id], seconds=30.0)
        result = judge(ex, plan.cases[ex.id], plan.expected[ex.id], outcomes, seed=plan.seed)
        if name == "correct":
            assert result.passed, result.message
        elif name == "biases decayed too":
            assert not result and result.misconception.name == name, result.message
        else:
            assert result.n_passed == 0, (name, result.message)
            reason = {"nan": "weight_decay nan", "list": "not a real number", "detached": "not the model's own",
                      "new parameters": "not the model's own"}[name]
            assert reason in result.results[0].reason, (name, result.results[0].reason)


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_parameter_groups_are_judged_alike_in_the_students_own_process(name):
    """The notebook's check() calls the function in process: a copy is told from the model's own there too."""
    torch = pytest.importorskip("torch")
    from l2bayes.exercises import evaluate

    namespace = {"torch": torch}
    exec(GROUPS[name], namespace)
    result = evaluate("ch04-decay-groups", namespace["weight_decay_groups"], seed=0, chapters=ROOT / "chapters")
    if name == "correct":
        assert result.passed, result.message
    elif name == "biases decayed too":
        assert result.misconception.name == name, result.message
    else:
        assert result.n_passed == 0 and ("not the model's own" in result.message) == (name in ("detached", "new parameters"))


def test_tensors_cross_the_sandbox_both_ways():
    torch = pytest.importorskip("torch")
    nb = json.loads((SUBMISSIONS / "correct.ipynb").read_text())
    nb["cells"] = [{"cell_type": "code", "id": "imp", "metadata": {}, "outputs": [], "execution_count": None,
                    "source": "import torch"},
                   {"cell_type": "code", "id": "sol", "metadata": {"tags": ["solution"]}, "outputs": [],
                    "execution_count": None, "source": "def step(theta, lr):\n    return theta - lr * theta.sign()"}]
    theta = torch.tensor([0.5, -2.0], dtype=torch.float64)
    with Session(json.dumps(nb).encode(), LIMITS) as session:
        session.load()
        (outcome,) = session.call("step", [[wire.encode(theta), wire.encode(0.1)]], seconds=30.0)
    assert outcome.kind == "returned" and outcome.value.dtype == torch.float64
    assert torch.equal(outcome.value, torch.tensor([0.4, -1.9], dtype=torch.float64))
