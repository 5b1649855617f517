"""The grader's side of the sandbox: start a worker in bubblewrap, talk to it under limits, end it.

The boundary
    Each :class:`Worker` is one ``bwrap`` process (Debian's ``bubblewrap``)
    with new user, pid, network, IPC, UTS and mount namespaces, all
    capabilities dropped, ``--die-with-parent`` and ``--new-session``. Its
    file system is an empty read-only root with read-only binds of ``/usr``,
    the Python installation, the site-packages folders and a private folder
    holding copies of four files (the worker, the wire codec, the notebook
    model, the input marks), its own ``/proc`` and ``/dev``, and a size-capped ``/tmp`` as the
    only writable place. The repository (the reference solutions), the other
    submissions, the output folder, the records and their key are not in it.
    There is no network but a loopback of its own. Every process a
    submission starts lives in the sandbox's pid namespace and is killed
    with it. The submitted notebook travels in as bytes on the worker's pipe.

Second and third lines
    Inside, the worker lowers its rlimits (address space, CPU seconds, file
    size, processes, open files) and installs an audit hook
    (:mod:`l2bayes.grading.worker`). The kernel does not apply RLIMIT_NPROC to
    uid 0, so a grader running as root puts each sandbox in a cgroup of its own
    whose ``pids.max`` is the process limit, where the host has a ``pids``
    cgroup hierarchy (:func:`process_limit`).

Time
    Limits are CPU seconds, measured by the grader from ``/proc`` over the
    worker's whole process tree, so a loaded or paused machine costs nobody
    points; a generous wall clock (:meth:`Limits.wall`) is only a backstop
    against a submission that sleeps. A :class:`Session` holds one
    submission in a worker: it loads the notebook, runs the code cell by
    cell, and when a cell kills the worker or runs out of time it starts a
    fresh worker without that cell, so one broken cell costs only the
    exercises that need it.

Without bubblewrap (``Runner(sandbox=False)``, ``--no-sandbox``) the worker is
a plain child process with the same limits and hook: not a boundary.
"""

from __future__ import annotations

import atexit
import base64
import functools
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
from dataclasses import dataclass, field
from pathlib import Path

from l2bayes.exercises import Opaque, Outcome
from l2bayes.exercises import inputs as input_marks
from l2bayes.exercises import notebooks as notebook_model
from l2bayes.grading import wire

HERE = Path(__file__).resolve().parent
#: The files a worker needs, by the name it imports them under.
WORKER_FILES = {"worker.py": HERE / "worker.py", "wire.py": HERE / "wire.py",
                "notebooks.py": Path(notebook_model.__file__).resolve(), "inputs.py": Path(input_marks.__file__).resolve()}
#: Where the worker's files and its writable folder are, inside the sandbox.
INSIDE_CODE, INSIDE_WORK = "/grader", "/tmp"
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`, Fedora: `sudo dnf install bubblewrap`), "
    "or pass --no-sandbox to grade without it (only for submissions you trust: nothing then stops a "
    "submission from reading the reference solutions or other students' files)"
)
_TICK = os.sysconf("SC_CLK_TCK")
_POLL = 0.1


class SandboxUnavailable(ValueError):
    """``bwrap`` is missing or cannot create its namespaces here."""


@dataclass(frozen=True)
class Limits:
    """Resources for one submission. Times are CPU seconds of the worker's whole process tree.

    Parameters
    ----------
    exercise_seconds : float or None
        CPU seconds for all cases of one exercise; ``None`` uses each
        exercise's own ``time_limit``.
    cell_seconds : float
        CPU seconds for running one cell (or import) of the submission.
    submission_seconds : float
        CPU seconds for the whole submission, restarts included.
    memory_mb : int
        Address-space limit of a worker (RLIMIT_AS).
    file_mb : int
        Largest file a worker may write (RLIMIT_FSIZE).
    reply_mb : int
        Largest reply the grader reads from a worker.
    notebook_mb : int
        Largest submission the grader accepts.
    tmp_mb : int
        Size of the sandbox's writable ``/tmp``.
    processes : int
        Tasks (processes and threads) a worker may have: RLIMIT_NPROC when the grader
        does not run as root; as root, where the kernel exempts uid 0 from it, a pids
        cgroup per sandbox when the host has one (:func:`process_limit` says which).
    wall_factor, wall_extra : float
        The wall-clock backstop of a step with a CPU budget of ``t`` is
        ``wall_extra + wall_factor * t`` seconds.
    """

    exercise_seconds: float | None = None
    cell_seconds: float = 10.0
    submission_seconds: float = 60.0
    memory_mb: int = 2048
    file_mb: int = 16
    reply_mb: int = 64
    notebook_mb: int = 8
    tmp_mb: int = 256
    processes: int = 64
    wall_factor: float = 10.0
    wall_extra: float = 120.0

    def __post_init__(self):
        for name in ("cell_seconds", "submission_seconds", "memory_mb", "file_mb", "reply_mb", "notebook_mb",
                     "tmp_mb", "processes", "wall_factor", "wall_extra"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.exercise_seconds is not None and not self.exercise_seconds > 0:
            raise ValueError(f"exercise_seconds must be positive or None, got {self.exercise_seconds!r}")

    def wall(self, cpu_seconds: float) -> float:
        """Wall-clock seconds allowed for a step with ``cpu_seconds`` of CPU."""
        return self.wall_extra + self.wall_factor * cpu_seconds


class WorkerLost(Exception):
    """The worker did not answer: it died, ran out of time or broke the protocol."""

    def __init__(self, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class Cancelled(Exception):
    """Grading was interrupted (the batch's cancel event was set)."""


def site_dirs() -> list[str]:
    """The site-packages folders a worker adds to ``sys.path`` (no ``.pth`` files are run)."""
    return [os.path.realpath(d) for d in site.getsitepackages() if os.path.isdir(d)]


def python_executable() -> str:
    """The real interpreter behind the virtual environment's ``python``."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def clean_env(home: str) -> dict:
    """The whole environment of a worker: no inherited variables, one thread everywhere."""
    one = "1"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": one,
        "MKL_NUM_THREADS": one,
        "OPENBLAS_NUM_THREADS": one,
        "NUMEXPR_NUM_THREADS": one,
        "VECLIB_MAXIMUM_THREADS": one,
        "PYTHONHASHSEED": "0",
    }


@functools.lru_cache(maxsize=1)
def _stage() -> str:
    """A private folder (mode 700) with copies of the worker's files; the sandbox binds only it."""
    folder = tempfile.mkdtemp(prefix="l2bayes-worker-")
    for name, source in WORKER_FILES.items():
        shutil.copyfile(source, os.path.join(folder, name))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _root_binds() -> list[str]:
    """``/usr`` and the top-level links into it (``/lib`` -> ``usr/lib`` on merged-usr systems)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(inner: list[str], *, code_dir: str, tmp_mb: int, env: dict) -> list[str]:
    """The ``bwrap`` command line that runs ``inner`` in a fresh sandbox (see the module's notes)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap was not found on PATH: {INSTALL_HINT}")
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    args += _root_binds()
    # The private tmpfs comes before the binds: a Python installation or virtual environment that
    # lives under the host's temporary folder must stay visible above it, not be hidden by it.
    args += ["--size", str(tmp_mb << 20), "--tmpfs", INSIDE_WORK]
    binds = {os.path.realpath(sys.base_prefix), *site_dirs()}
    for path in sorted(binds):
        args += ["--ro-bind", path, path]
    args += ["--ro-bind", code_dir, INSIDE_CODE, "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/",
             "--chdir", INSIDE_WORK, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", *inner]


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """``None`` when bubblewrap can run a sandboxed Python here, else what is wrong and how to fix it."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    cmd = bwrap_command([python_executable(), "-I", "-S", "-c", "import os; print(os.getpid())"],
                        code_dir=_stage(), tmp_mb=16, env=clean_env(INSIDE_WORK))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap (bwrap) could not be started ({exc}): {INSTALL_HINT}"
    if done.returncode != 0 or done.stdout.strip() != "2":
        why = (done.stderr.strip().splitlines() or ["no error message"])[-1][:300]
        return (f"bubblewrap (bwrap) is installed but cannot create a sandbox here ({why}); it needs user "
                f"namespaces (sysctl kernel.unprivileged_userns_clone=1, or run the grader as root, or in a "
                f"container started with --privileged), or pass --no-sandbox")
    return None


def _unescape(field: bytes) -> str:
    """A path from ``/proc/self/mountinfo`` (spaces and the like written as octal ``\\040``)."""
    return field.decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=1)
def pids_hierarchy() -> str | None:
    """A cgroup folder where the grader may make cgroups that limit their number of tasks, or ``None``.

    Only for a grader running as root, where RLIMIT_NPROC does not bind (the
    kernel exempts uid 0, and every sandbox runs as uid 0 seen from outside).
    A cgroup v1 ``pids`` hierarchy, or cgroup v2 with the ``pids`` controller
    already enabled for the children of its root; the host's configuration is
    never changed.
    """
    if os.geteuid() != 0:
        return None
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(b" - ")
        fields, (fstype, _source, options) = left.split(), (right.split() + [b"", b"", b""])[:3]
        point = _unescape(fields[4]) if len(fields) > 4 else ""
        if fstype == b"cgroup" and b"pids" in options.split(b","):
            candidate = point
        elif fstype == b"cgroup2":
            try:
                with open(os.path.join(point, "cgroup.subtree_control")) as f:
                    if "pids" not in f.read().split():
                        continue
            except OSError:
                continue
            candidate = point
        else:
            continue
        if os.access(candidate, os.W_OK) and os.path.exists(os.path.join(candidate, "cgroup.procs")):
            return candidate
    return None


def process_limit() -> str:
    """How the number of processes of a sandbox is limited here: ``"rlimit"``, ``"cgroup"`` or ``"none"``."""
    if os.geteuid() != 0:
        return "rlimit"
    return "cgroup" if pids_hierarchy() else "none"


def _new_pids_cgroup(limit: int) -> str | None:
    """A new cgroup allowing ``limit`` tasks (processes and threads), or ``None`` where there is none."""
    root = pids_hierarchy()
    if root is None:
        return None
    try:
        path = tempfile.mkdtemp(prefix="l2bayes-grade-", dir=root)
        with open(os.path.join(path, "pids.max"), "w") as f:
            f.write(str(int(limit)))
    except OSError:
        return None
    return path


def _remove_cgroup(path: str) -> None:
    """Remove an empty cgroup: its last task may take a moment to leave once killed."""
    for _ in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


@dataclass(frozen=True)
class Runner:
    """How workers are started: in bubblewrap (the default) or, with ``sandbox=False``, as plain processes.

    ``guard=False`` leaves out the audit hook (tests use it to show that the
    operating system's boundary holds on its own); ``deny`` lists folders the
    hook refuses to read without a sandbox. With ``pool=True`` (sandboxed only)
    a batch keeps one sandbox per grading thread whose worker has imported
    ``preload`` once and forks a fresh child per submission (:class:`Pool`).
    """

    sandbox: bool = True
    guard: bool = True
    deny: tuple[str, ...] = field(default_factory=tuple)
    pool: bool = True
    preload: tuple[str, ...] = ("numpy", "torch")

    @property
    def name(self) -> str:
        return "bwrap" if self.sandbox else "none"

    def check(self) -> None:
        """Raise :class:`SandboxUnavailable` when a sandbox is asked for and bubblewrap cannot give one."""
        if self.sandbox:
            problem = bwrap_problem()
            if problem:
                raise SandboxUnavailable(problem)

    def start(self, limits: Limits, stderr, *, zygote: bool = False) -> tuple[subprocess.Popen, str | None, str | None]:
        """Start a worker (or a pool's zygote); also return the folder to remove when it ends (without a
        sandbox) and the cgroup that limits its processes (a sandbox started as root), to remove then too."""
        if zygote and not self.sandbox:
            raise ValueError("a pool of workers needs the sandbox: its zygote ends every process it can see")
        code_dir = _stage()
        config = {
            "site": site_dirs(),
            "memory_mb": limits.memory_mb,
            "cpu_seconds": int(limits.submission_seconds) + 5,
            "file_mb": limits.file_mb,
            "processes": int(limits.processes),
            "reply_mb": limits.reply_mb,
            "tmp_mb": limits.tmp_mb,
            "guard": self.guard,
            "zygote": zygote,
            "preload": list(self.preload) if zygote else [],
        }
        python = python_executable()
        if self.sandbox:
            config.update(workdir=INSIDE_WORK, deny=[], allow=[])
            inner = [python, "-I", "-S", f"{INSIDE_CODE}/worker.py", json.dumps(config)]
            cmd = bwrap_command(inner, code_dir=code_dir, tmp_mb=limits.tmp_mb, env=clean_env(INSIDE_WORK))
            env, cwd, workdir = {"PATH": "/usr/bin:/bin"}, "/", None
            cgroup = _new_pids_cgroup(limits.processes)
            if cgroup:  # the shell joins the cgroup before bwrap starts, so all the sandbox is in it
                cmd = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', os.path.join(cgroup, "cgroup.procs"), *cmd]
        else:
            workdir = tempfile.mkdtemp(prefix="l2bayes-grade-")
            allow = sorted({sys.prefix, sys.base_prefix, workdir, code_dir, *site_dirs()})
            config.update(workdir=workdir, deny=list(self.deny), allow=allow)
            cmd = [python, "-I", "-S", os.path.join(code_dir, "worker.py"), json.dumps(config)]
            env, cwd, cgroup = clean_env(workdir), workdir, None
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd,
                                    env=env, start_new_session=True, close_fds=True)
        except BaseException:
            if cgroup:
                _remove_cgroup(cgroup)
            raise
        return proc, workdir, cgroup


def tree_cpu(root: int) -> float:
    """CPU seconds used by process ``root`` and all its descendants, reaped ones included (from ``/proc``)."""
    ticks, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                    stack += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return ticks / _TICK


@dataclass
class Budget:
    """CPU seconds and a wall-clock deadline for one request."""

    cpu: float
    wall_deadline: float


class Worker:
    """One sandboxed child process; see :mod:`l2bayes.grading.worker` for its side."""

    #: A pool's zygote survives a request that runs out of time: only its child is killed.
    _keep_alive = False

    def __init__(self, limits: Limits, runner: Runner, cancel: threading.Event | None = None, *, zygote: bool = False):
        self.limits = limits
        self.cancel = cancel or threading.Event()
        self._log = tempfile.TemporaryFile()
        self.proc, self.workdir, self.cgroup = runner.start(limits, self._log, zygote=zygote)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._buffer = b""
        self._seq = 0
        self.stderr = ""
        startup = 120.0 if zygote else 60.0  # a zygote imports torch once, for every submission after it
        try:
            ready = self._receive(Budget(startup, time.monotonic() + limits.wall(startup)), 0.0)
        except WorkerLost as lost:
            self.close()
            raise RuntimeError(f"a grading worker failed to start: {lost.reason}\n{self.stderr}") from None
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            self.close()
            raise RuntimeError(f"a grading worker sent {str(ready)[:200]} instead of its ready line")
        self.ready = ready

    def cpu(self) -> float:
        """CPU seconds used so far by the worker and everything it started."""
        return tree_cpu(self.proc.pid)

    def request(self, message: dict, budget: Budget, start: float | None = None) -> dict:
        """Send ``message``, return the reply; ``WorkerLost`` (worker killed) if it runs out of ``budget``.

        ``start`` is the CPU seconds used before the request (read now if not given).
        """
        self._seq += 1
        start = self.cpu() if start is None else start
        line = (json.dumps({**message, "seq": self._seq}) + "\n").encode()
        self._send(line, budget, start)
        reply = self._receive(budget, start)
        if not isinstance(reply, dict) or reply.get("seq") != self._seq:
            self.close()
            raise WorkerLost("the worker's reply was malformed (did the code write to the grader's pipe?)")
        return reply

    def _send(self, data: bytes, budget: Budget, start: float) -> None:
        fd = self.proc.stdin.fileno()
        while data:
            self._wait(fd, budget, start, write=True)
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
            except OSError:
                raise WorkerLost(self._death()) from None

    def _receive(self, budget: Budget, start: float):
        fd = self.proc.stdout.fileno()
        limit = self.limits.reply_mb << 20
        while b"\n" not in self._buffer:
            self._wait(fd, budget, start, write=False)
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                chunk = b""
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

    def _wait(self, fd: int, budget: Budget, start: float, *, write: bool) -> None:
        # Most replies come within one poll: the limits are read from /proc only while waiting longer.
        while True:
            ready = select.select([], [fd], [], _POLL) if write else select.select([fd], [], [], _POLL)
            if any(ready):
                return
            if self.cancel.is_set():
                self.close()
                raise Cancelled()
            self._check()
            if time.monotonic() >= budget.wall_deadline:
                if self._keep_alive:
                    raise _OverBudget("timed out (wall clock)")
                self.close()
                raise WorkerLost("timed out (wall clock)", timed_out=True)
            if self.cpu() - start > budget.cpu:
                if self._keep_alive:
                    raise _OverBudget("timed out")
                self.close()
                raise WorkerLost("timed out", timed_out=True)

    def _check(self) -> None:
        """Raise :class:`WorkerLost` if the worker can no longer answer (a pool's zygote was stopped)."""

    def _death(self) -> str:
        """Why the worker stopped, from its exit status."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if code is None:
            return "the worker stopped answering (did the code close the grader's pipes?)"
        if code < 0 or code > 128:
            return death_reason(signal_number=-code if code < 0 else code - 128)  # bwrap: 128 + signal
        return death_reason(code=code)

    def close(self) -> None:
        """Kill the worker (the whole sandbox with it) and remove its working folder (idempotent)."""
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
        if not self.stderr:
            try:
                self._log.seek(0)
                self.stderr = self._log.read()[-2000:].decode("utf-8", "replace")
            except (OSError, ValueError):
                pass
        self._log.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self.cgroup:
            _remove_cgroup(self.cgroup)
            self.cgroup = None


class _OverBudget(Exception):
    """A pool's request ran out of time (the zygote lives on; its child is to be killed)."""


def death_reason(*, code: int | None = None, signal_number: int | None = None) -> str:
    """Why a worker ended, for the student, from its exit code or the signal that killed it."""
    if signal_number is not None:
        try:
            sig = signal.Signals(signal_number).name
        except ValueError:
            sig = f"signal {signal_number}"
        if sig == "SIGXCPU":
            return "the worker used up its CPU time"
        if sig == "SIGKILL":
            return "the worker was killed (SIGKILL): out of memory or CPU time?"
        return f"the worker crashed ({sig})"
    return f"the worker exited with code {code}: did the code call os._exit() or close the grader's pipes?"


def _descendants(root: int) -> list[int]:
    """Pids (as the grader sees them) of every process below ``root``."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                    children = [int(c) for c in f.read().split()]
                found += children
                stack += children
        except (OSError, ValueError):
            continue
    return found


def _inner_pid(pid: int) -> int | None:
    """The pid of process ``pid`` inside its own (innermost) pid namespace."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


class PoolUnavailable(RuntimeError):
    """A zygote cannot give its children namespaces of their own here: use a sandbox per submission."""


class Pool(Worker):
    """One sandbox whose worker (the zygote) has imported numpy, torch and nbformat once and forks a
    fresh child per submission (:class:`PooledWorker`).

    Each child gets namespaces of its own inside the sandbox (a user namespace
    owning a new IPC and mount namespace, with fresh tmpfs on ``/tmp`` and
    ``/dev/shm``; :func:`l2bayes.grading.worker.isolate`), so no file or IPC
    object of one submission is visible to the next. The zygote checks at start
    that the kernel allows this; where it does not, :class:`Pools` gives every
    submission a sandbox of its own instead. Before the next child is forked, the zygote kills the previous child and every
    other process of the sandbox and empties its writable folders; the grader
    checks that it says so and otherwise throws the whole sandbox away. A child
    that runs out of time is killed by the grader (its pid seen from outside); the
    zygote reports its death and lives on. Anything odd ends the pool: the next
    submission gets a new one.
    """

    _keep_alive = True

    def __init__(self, limits: Limits, runner: Runner, cancel: threading.Event | None = None):
        super().__init__(limits, runner, cancel, zygote=True)
        if self.ready.get("isolated") is not True:
            self.close()
            raise PoolUnavailable("this kernel refuses a pool's child its own namespaces")
        self.zygote_pid = self.ready.get("pid")
        self._zygote_stat = next((f"/proc/{p}/stat" for p in _descendants(self.proc.pid)
                                  if _inner_pid(p) == self.zygote_pid), None)

    def _check(self) -> None:
        """A child can stop the zygote (SIGSTOP by pidfd): then the sandbox is of no more use."""
        try:
            with open(getattr(self, "_zygote_stat", None), "rb") as f:
                stat = f.read()
            state = stat[stat.rindex(b")") + 2:][:1]
        except (OSError, TypeError, ValueError):
            return  # it ended: the pipe says so
        if state in (b"T", b"t"):
            self.close()
            raise WorkerLost("the worker's sandbox was stopped (did the code send SIGSTOP to its parent?)")

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and self.proc.poll() is None

    def request(self, message: dict, budget: Budget, start: float | None = None) -> dict:
        try:
            return super().request(message, budget, start)
        except _OverBudget as over:
            self._kill_children()
            try:  # the zygote's report of the death, which must come at once
                reply = self._receive(Budget(60.0, time.monotonic() + 60.0), self.cpu())
            except (WorkerLost, _OverBudget):
                reply = None
            if not (isinstance(reply, dict) and "died" in reply):
                self.close()
            raise WorkerLost(str(over), timed_out=True) from None
        except WorkerLost:
            self.close()
            raise

    def _kill_children(self) -> None:
        """Kill every process of the sandbox but its init and the zygote, from outside."""
        for _ in range(100):
            victims = [p for p in _descendants(self.proc.pid) if _inner_pid(p) not in (1, self.zygote_pid, None)]
            if not victims:
                return
            for p in victims:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
        self.close()

    def spawn(self) -> "PooledWorker":
        return PooledWorker(self)


class PooledWorker:
    """A pool's child for one submission: the same requests as a :class:`Worker`."""

    def __init__(self, pool: Pool):
        self.pool = pool
        self.ended = False
        try:
            reply = pool.request({"op": "spawn"}, Budget(30.0, time.monotonic() + pool.limits.wall(30.0)))
        except WorkerLost as lost:
            raise RuntimeError(f"a grading worker could not be forked: {lost.reason}") from None
        if not isinstance(reply.get("pid"), int):
            pool.close()
            raise RuntimeError(f"a grading worker could not be forked: {str(reply)[:200]}")

    def cpu(self) -> float:
        return self.pool.cpu()

    def request(self, message: dict, budget: Budget, start: float | None = None) -> dict:
        if self.ended or not self.pool.alive:
            raise WorkerLost("the worker is gone")
        reply = self.pool.request(message, budget, start)
        died = reply.get("died")
        if isinstance(died, dict):
            self.ended = True
            if isinstance(died.get("signal"), int):
                raise WorkerLost(death_reason(signal_number=died["signal"]))
            if isinstance(died.get("code"), int):
                raise WorkerLost(death_reason(code=died["code"]))
            raise WorkerLost("the worker stopped answering (did the code close the grader's pipes?)")
        return reply

    def close(self) -> None:
        """End the child and have the zygote clean the sandbox (or throw the sandbox away)."""
        if not self.pool.alive:
            return
        try:
            reply = self.pool.request({"op": "end"}, Budget(60.0, time.monotonic() + self.pool.limits.wall(60.0)))
        except WorkerLost:
            reply = {}
        if reply.get("clean") is not True:
            self.pool.close()
        self.ended = True


class Pools:
    """One :class:`Pool` per grading thread, made when first needed and again after one breaks."""

    def __init__(self, limits: Limits, runner: Runner, cancel: threading.Event | None = None):
        self.limits, self.runner, self.cancel = limits, runner, cancel
        self._local = threading.local()
        self._all: list[Pool] = []
        self._lock = threading.Lock()
        self.unavailable = False

    def worker(self) -> "PooledWorker | Worker":
        """A pool's child, or a sandbox of its own where a pool cannot isolate its children."""
        if self.unavailable:
            return Worker(self.limits, self.runner, self.cancel)
        pool = getattr(self._local, "pool", None)
        if pool is None or not pool.alive:
            try:
                pool = Pool(self.limits, self.runner, self.cancel)
            except PoolUnavailable:
                self.unavailable = True
                return Worker(self.limits, self.runner, self.cancel)
            self._local.pool = pool
            with self._lock:
                self._all.append(pool)
        return pool.spawn()

    def close(self) -> None:
        with self._lock:
            for pool in self._all:
                pool.close()
            self._all.clear()


class NotebookRejected(Exception):
    """The submission is not a notebook the grader can use (the reason is for the student)."""


class Session:
    """One submission, read and run in a worker and called per exercise.

    Parameters
    ----------
    notebook : bytes
        The submitted file.
    limits : Limits
    runner : Runner
    cancel : threading.Event, optional
        Set it to stop at the next poll (``Cancelled`` is raised).
    pools : Pools, optional
        Fork workers from a pool's zygote instead of starting a sandbox for each.
    """

    def __init__(self, notebook: bytes, limits: Limits, runner: Runner = Runner(), cancel: threading.Event | None = None,
                 pools: Pools | None = None):
        self.notebook = base64.b64encode(notebook).decode("ascii")
        self.limits = limits
        self.runner = runner
        self.cancel = cancel
        self.pools = pools
        self.used = 0.0  # CPU seconds, over every worker of this submission
        self.wall_deadline = time.monotonic() + limits.wall(limits.submission_seconds)
        self.cells: list[tuple[str, list[str]]] | None = None
        self.chapter: str | None = None
        self.cell_errors: dict[str, str] = {}
        self._skip: set[str] = set()
        self._worker: Worker | None = None
        self._fresh: Worker | None = None  # the worker that loaded the notebook, not yet running cells

    def _budget(self, cpu: float) -> Budget:
        cpu = max(0.0, min(cpu, self.limits.submission_seconds - self.used))
        return Budget(cpu, min(time.monotonic() + self.limits.wall(cpu), self.wall_deadline))

    def _request(self, worker: Worker, message: dict, cpu: float) -> dict:
        budget = self._budget(cpu)
        # The CPU reading after one request is the start of the next (the worker idles in between).
        start = getattr(worker, "cpu_mark", None)
        start = worker.cpu() if start is None else start
        try:
            reply = worker.request(message, budget, start)
        except WorkerLost as lost:
            self.used += budget.cpu if lost.timed_out else 0.0
            raise
        worker.cpu_mark = worker.cpu()
        self.used += max(0.0, worker.cpu_mark - start)
        return reply

    def _spawn(self):
        if self.pools is not None:
            return self.pools.worker()
        return Worker(self.limits, self.runner, self.cancel)

    def _out_of_time(self) -> bool:
        return self.used >= self.limits.submission_seconds or time.monotonic() >= self.wall_deadline

    def _load(self):
        """``(worker, reply)``: a new worker asked to read the notebook; ``NotebookRejected`` if that killed it."""
        worker = self._spawn()
        try:
            return worker, self._request(worker, {"op": "load", "notebook": self.notebook}, self.limits.cell_seconds)
        except WorkerLost as lost:
            raise NotebookRejected(f"reading it stopped the grader's worker ({lost.reason})") from None

    def load(self) -> list[tuple[str, list[str]]]:
        """Read the notebook in a worker: ``[(cell name, functions it defines)]``; ``NotebookRejected`` if unusable."""
        worker, reply = self._load()
        if "error" in reply:
            worker.close()
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            raise NotebookRejected(str(error.get("message", "it could not be read"))[:500])
        cells = reply.get("cells")
        if not isinstance(cells, list) or not all(
            isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], list) for c in cells
        ):
            worker.close()
            raise NotebookRejected("the grader's worker sent a malformed description of it")
        chapter = reply.get("chapter")
        self.chapter = chapter if isinstance(chapter, str) else None
        self.cells = [(name[:300], [str(f)[:100] for f in fns]) for name, fns in cells]
        self._worker = None
        self._fresh = worker
        return self.cells

    def _new_worker(self) -> Worker:
        worker, self._fresh = self._fresh, None
        if worker is not None:
            return worker
        worker, reply = self._load()
        if "error" in reply:
            worker.close()
            raise NotebookRejected("it could not be read a second time")
        return worker

    def _start(self) -> Worker | None:
        """A worker with every cell run that does not kill it; ``None`` if time ran out."""
        if self.cells is None:
            self.load()
        while self._worker is None:
            if self._out_of_time():
                return None
            try:
                worker = self._new_worker()
            except NotebookRejected:
                return None
            for name, _ in self.cells:
                if name in self._skip:
                    continue
                try:
                    reply = self._request(worker, {"op": "run", "name": name}, self.limits.cell_seconds)
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
        """Call ``function`` once per entry of ``args`` (encoded arguments) within ``seconds`` of CPU in all."""
        outcomes: list[Outcome] = []
        worker = self._start()
        left = seconds
        for case_args in args:
            if worker is None:
                break
            start = self.used
            try:
                reply = self._request(worker, {"op": "call", "function": function, "args": case_args}, left)
            except WorkerLost as lost:
                self._worker = None
                outcomes.append(Outcome.lost(self._lost_reason(lost, seconds, "the exercise")))
                break
            left -= self.used - start
            outcomes.append(outcome_of(reply))
        rest = "not run: the submission's time limit was used up" if worker is None else "not run after the failure above"
        return outcomes + [Outcome.lost(rest)] * (len(args) - len(outcomes))

    def _lost_reason(self, lost: WorkerLost, seconds: float, what: str) -> str:
        if not lost.timed_out:
            return lost.reason
        if self._out_of_time():
            return f"timed out: the submission's time limit of {self.limits.submission_seconds:g} CPU seconds was reached"
        if lost.reason.endswith("(wall clock)"):
            return f"timed out: {what} waited too long without using the CPU (sleeping, or waiting for input?)"
        if what == "it":
            return f"it did not finish within {seconds:g} CPU seconds (an infinite loop at top level?)"
        return f"timed out: {what}'s {seconds:g} CPU seconds were used up (an infinite loop, or far too slow?)"

    def close(self) -> None:
        for worker in (self._worker, self._fresh):
            if worker is not None:
                worker.close()
        self._worker = self._fresh = None

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
    return f"{text} (line {line})" if isinstance(line, int) and not isinstance(line, bool) else text


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
        return Outcome.lost(f"the answer could not be read ({str(exc)[:200]})")
