"""The grader's side of the sandbox: start a worker, talk to it under deadlines, end it.

A :class:`Worker` is one child process (:mod:`l2bayes.grading.worker`) in its
own session and temporary working directory, with a cleaned environment and
one thread. A :class:`Session` holds one submission's code in a worker: it
runs the code cell by cell, and when a cell kills the worker or runs past its
time it starts a fresh worker without that cell, so one broken cell costs
only the exercises that need it. Calls are timed per exercise; a call that
overruns or crashes the worker loses the rest of that exercise's cases, and
the next exercise gets a fresh worker.

Deadlines are wall-clock and enforced here, in the grader, by killing the
worker's whole process group; the worker's own limits (memory, CPU seconds,
file size) are a second line.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from l2bayes.exercises import Opaque, Outcome
from l2bayes.grading import worker as wire

WORKER = Path(wire.__file__).resolve()
#: Seconds a fresh worker may take to report ready (interpreter start, no submitted code yet).
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class Limits:
    """Resources for one submission.

    Parameters
    ----------
    exercise_seconds : float or None
        Wall-clock seconds for all cases of one exercise; ``None`` uses each
        exercise's own ``time_limit``.
    cell_seconds : float
        Wall-clock seconds for running one cell (or import) of the submission.
    submission_seconds : float
        Wall-clock seconds for the whole submission, restarts included.
    memory_mb : int
        Address-space limit of a worker (RLIMIT_AS).
    file_mb : int
        Largest file a worker may write (RLIMIT_FSIZE).
    reply_mb : int
        Largest reply the grader reads from a worker.
    """

    exercise_seconds: float | None = None
    cell_seconds: float = 10.0
    submission_seconds: float = 60.0
    memory_mb: int = 2048
    file_mb: int = 16
    reply_mb: int = 64

    def __post_init__(self):
        for name in ("cell_seconds", "submission_seconds", "memory_mb", "file_mb", "reply_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.exercise_seconds is not None and not self.exercise_seconds > 0:
            raise ValueError(f"exercise_seconds must be positive or None, got {self.exercise_seconds!r}")


class WorkerLost(Exception):
    """The worker did not answer: it died, overran a deadline or broke the protocol."""

    def __init__(self, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class Cancelled(Exception):
    """Grading was interrupted (the batch's cancel event was set)."""


def site_dirs() -> list[str]:
    """The site-packages folders a worker adds to ``sys.path`` (no ``.pth`` files are run)."""
    return [d for d in site.getsitepackages() if os.path.isdir(d)]


def clean_env(workdir: str) -> dict:
    """The whole environment of a worker: no inherited variables, one thread everywhere."""
    one = "1"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": one,
        "MKL_NUM_THREADS": one,
        "OPENBLAS_NUM_THREADS": one,
        "NUMEXPR_NUM_THREADS": one,
        "VECLIB_MAXIMUM_THREADS": one,
        "PYTHONHASHSEED": "0",
    }


class Worker:
    """One sandboxed child process; see :mod:`l2bayes.grading.worker` for what it refuses."""

    def __init__(self, limits: Limits, deny: list[str], cancel: threading.Event | None = None):
        self.limits = limits
        self.cancel = cancel or threading.Event()
        self.workdir = tempfile.mkdtemp(prefix="l2bayes-grade-")
        config = {
            "site": site_dirs(),
            "deny": deny,
            "allow": sorted({sys.prefix, sys.base_prefix, self.workdir, *site_dirs()}),
            "workdir": self.workdir,
            "memory_mb": limits.memory_mb,
            "cpu_seconds": int(limits.submission_seconds) + 5,
            "file_mb": limits.file_mb,
        }
        with open(os.path.join(self.workdir, "stderr.txt"), "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WORKER), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=self.workdir,
                env=clean_env(self.workdir),
                start_new_session=True,
                close_fds=True,
            )
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._buffer = b""
        self._seq = 0
        self._stderr = ""
        try:
            ready = self._receive(time.monotonic() + STARTUP_SECONDS)
        except WorkerLost as lost:
            self.close()
            raise RuntimeError(f"a grading worker failed to start: {lost.reason}\n{self._stderr}") from None
        if ready != {"ready": True}:
            self.close()
            raise RuntimeError(f"a grading worker sent {ready!r} instead of its ready line")

    def request(self, message: dict, deadline: float) -> dict:
        """Send ``message``, return the reply; ``WorkerLost`` (worker killed) if none by ``deadline``."""
        self._seq += 1
        line = (json.dumps({**message, "seq": self._seq}) + "\n").encode()
        self._send(line, deadline)
        reply = self._receive(deadline)
        if not isinstance(reply, dict) or reply.get("seq") != self._seq:
            self.close()
            raise WorkerLost("the worker's reply was malformed (did the code write to the grader's pipe?)")
        return reply

    def _send(self, data: bytes, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        while data:
            self._wait(fd, deadline, write=True)
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise WorkerLost(self._death()) from None

    def _receive(self, deadline: float):
        fd = self.proc.stdout.fileno()
        limit = self.limits.reply_mb << 20
        while b"\n" not in self._buffer:
            self._wait(fd, deadline, write=False)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerLost(self._death())
            self._buffer += chunk
            if len(self._buffer) > limit:
                self.close()
                raise WorkerLost(f"the answer was larger than {self.limits.reply_mb} MB")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except (ValueError, RecursionError):  # e.g. "[[[[..." written by the code to the reply pipe
            self.close()
            raise WorkerLost("the worker's reply was malformed (did the code write to the grader's pipe?)") from None

    def _wait(self, fd: int, deadline: float, *, write: bool) -> None:
        while True:
            if self.cancel.is_set():
                self.close()
                raise Cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise WorkerLost("timed out", timed_out=True)
            ready = select.select([], [fd], [], min(left, 0.25)) if write else select.select([fd], [], [], min(left, 0.25))
            if any(ready):
                return

    def _death(self) -> str:
        """Why the worker stopped, from its exit status."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        self._stderr = self._stderr_tail()
        self.close()
        if code is None:
            return "the worker stopped answering (did the code close the grader's pipes?)"
        if code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            if sig == "SIGXCPU":
                return "the worker used up its CPU time"
            if sig == "SIGKILL":
                return "the worker was killed (SIGKILL): out of memory or CPU time?"
            return f"the worker crashed ({sig})"
        return f"the worker exited with code {code}: did the code call os._exit() or close the grader's pipes?"

    def _stderr_tail(self) -> str:
        try:
            return Path(self.workdir, "stderr.txt").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        """Kill the worker's process group and remove its working directory (idempotent)."""
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


class Session:
    """One submission's code, run in a worker and called per exercise.

    Parameters
    ----------
    cells : list of (name, code)
        The submission's code in run order (imports first, then solution cells).
    limits : Limits
    deny : list of str
        Folders the worker may not read.
    cancel : threading.Event, optional
        Set it to stop at the next poll (``Cancelled`` is raised).
    """

    def __init__(self, cells, limits: Limits, deny: list[str], cancel: threading.Event | None = None):
        self.cells = list(cells)
        self.limits = limits
        self.deny = deny
        self.cancel = cancel
        self.deadline = time.monotonic() + limits.submission_seconds
        self.cell_errors: dict[str, str] = {}
        self._skip: set[str] = set()
        self._worker: Worker | None = None

    def _start(self) -> Worker | None:
        """A worker with every cell run that does not kill it; ``None`` if time ran out."""
        while self._worker is None:
            if time.monotonic() >= self.deadline:
                return None
            worker = Worker(self.limits, self.deny, self.cancel)
            for name, code in self.cells:
                if name in self._skip:
                    continue
                deadline = min(time.monotonic() + self.limits.cell_seconds, self.deadline)
                try:
                    reply = worker.request({"op": "run", "name": name, "code": code}, deadline)
                except WorkerLost as lost:
                    self._skip.add(name)
                    self.cell_errors[name] = self._lost_reason(lost, self.limits.cell_seconds, "it")
                    break
                if "error" in reply:
                    self.cell_errors[name] = describe_error(reply["error"])
            else:
                self._worker = worker
        return self._worker

    def call(self, function: str, args: list[list], seconds: float) -> list[Outcome]:
        """Call ``function`` once per entry of ``args`` (encoded arguments); one outcome per call."""
        outcomes: list[Outcome] = []
        worker = self._start()
        deadline = min(time.monotonic() + seconds, self.deadline)
        for case_args in args:
            if worker is None:
                break
            try:
                reply = worker.request({"op": "call", "function": function, "args": case_args}, deadline)
            except WorkerLost as lost:
                self._worker = None
                outcomes.append(Outcome.lost(self._lost_reason(lost, seconds, "the exercise")))
                break
            outcomes.append(outcome_of(reply))
        rest = "not run: the submission's time limit was used up" if worker is None else "not run after the failure above"
        return outcomes + [Outcome.lost(rest)] * (len(args) - len(outcomes))

    def _lost_reason(self, lost: WorkerLost, seconds: float, what: str) -> str:
        if not lost.timed_out:
            return lost.reason
        if time.monotonic() >= self.deadline - 0.01:
            return f"timed out: the submission's time limit of {self.limits.submission_seconds:g} s was reached"
        if what == "it":
            return f"it did not finish within {seconds:g} s (an infinite loop at top level?)"
        return f"timed out: {what}'s {seconds:g} s were used up (an infinite loop, or far too slow?)"

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe_error(error) -> str:
    """``"ValueError: message (line 3)"`` from a worker's error reply."""
    if not isinstance(error, dict):
        return "an unknown error"
    text = f"{str(error.get('type', 'Error'))[:100]}: {str(error.get('message', ''))[:500]}".rstrip(": ")
    line = error.get("line")
    return f"{text} (line {line})" if isinstance(line, int) else text


def outcome_of(reply: dict) -> Outcome:
    """The :class:`Outcome` a worker's reply to a call stands for."""
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], dict) else {}
        kind = str(error.get("type", "Error"))[:100]
        detail = describe_error(error).removeprefix(kind).removeprefix(": ")
        return Outcome.raised(kind, detail)
    try:
        return Outcome.returned(wire.decode(reply["value"], opaque=Opaque))
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        return Outcome.lost(f"the answer could not be read ({exc})")
