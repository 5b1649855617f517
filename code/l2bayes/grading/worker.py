"""The sandboxed side of the grader: the process that reads and runs one submission.

:mod:`l2bayes.grading.sandbox` copies this file, :mod:`l2bayes.grading.wire`
and the notebook model (:mod:`l2bayes.exercises.notebooks`) into a private
folder and starts ``python -I -S worker.py CONFIG`` inside bubblewrap, where
that folder is the only thing of the course visible. ``-I -S``: no
``PYTHONPATH``, no ``.pth`` files; only the site-packages folders named in
``CONFIG`` are added, so ``l2bayes`` cannot be imported. The modules beside
it are imported as plain ``wire`` and ``notebooks``.

Before any submitted byte is looked at, the worker

* lowers its own limits (address space, CPU seconds, file size, processes,
  open files, no core dumps), soft = hard so they cannot be raised again;
* moves the grader's pipes off descriptors 0-2, which point to ``/dev/null``.

It then reads requests, one JSON line each, and answers each with one JSON
line with the same ``seq``::

    {"op": "load", "notebook": "<base64>"}
        -> {"chapter": str | null, "cells": [[name, [functions it defines]], ...]} | {"error": {...}}
    {"op": "run", "name": "<solution cell 1>"}
        -> {"ok": true} | {"error": {"type", "message", "line"}}
    {"op": "call", "function": "f", "args": [<encoded>, ...]}
        -> {"value": <encoded>} | {"error": {...}}

``load`` parses and validates the notebook with nbformat here, in the
sandbox, so that a malformed or hostile notebook can at worst kill this
process. After it, an audit hook (:func:`install_guard`) refuses process
creation, signals to other processes, sockets and writes outside the working
folder: a third line behind the operating system's namespaces and the
limits, not a boundary of its own.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import resource
import signal
import stat
import sys
import time
import traceback

if __package__:  # imported by the grader or by tests, as part of l2bayes
    from l2bayes.exercises.inputs import mark_copies, tensor_ids

    from .wire import MAX_DEPTH, MAX_ELEMENTS, MAX_TEXT, decode, encode  # noqa: F401 - re-exported
else:  # the worker script, beside wire.py and notebooks.py (-I keeps its folder off sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from inputs import mark_copies, tensor_ids
    from wire import MAX_TEXT, decode, encode

#: How long ``end`` goes on killing what a submission left in the sandbox before it gives up (the
#: grader then throws the sandbox away); the grader waits up to 60 s for its answer.
END_SECONDS = 10.0

#: Audit events refused outright.
FORBIDDEN = frozenset({
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile",
    "subprocess.Popen", "os.killpg", "socket.connect", "socket.bind", "resource.setrlimit",
    "resource.prlimit", "sys.remote_exec",
})
#: Audit events whose path arguments must lie in the working directory.
_PATH_CHANGES = frozenset({
    "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.link",
    "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile",
})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def set_limits(memory_mb: int, cpu_seconds: int, file_mb: int, processes: int, files: int = 256) -> None:
    """Lower this process's limits; soft = hard, so submitted code cannot raise them."""
    mb = 1 << 20
    for which, value in (
        (resource.RLIMIT_AS, memory_mb * mb),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_FSIZE, file_mb * mb),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_NOFILE, files),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing


def install_guard(deny: list[str], allow: list[str], workdir: str) -> None:
    """Refuse, from now on, the audit events a submission has no business raising.

    Reads are refused under the ``deny`` folders unless the most specific
    matching folder is an ``allow`` one. Writes are allowed only in ``workdir``.
    (Inside bubblewrap the denied folders do not exist at all; the lists
    matter for ``--no-sandbox``.)
    """
    roots = sorted(
        [(os.path.realpath(p), False) for p in deny] + [(os.path.realpath(p), True) for p in allow],
        key=lambda r: (len(r[0]), r[1]),
        reverse=True,
    )
    workdir = os.path.realpath(workdir)
    own_pid = os.getpid()

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

    def readable(path: str) -> bool:
        return next((ok for root, ok in roots if inside(path, root)), True)

    def writable(path: str) -> bool:
        return path == os.devnull or inside(path, workdir)

    def real(path) -> str | None:
        if isinstance(path, int):
            return None
        return os.path.realpath(os.fsdecode(path))

    def hook(event: str, args: tuple) -> None:
        if event in FORBIDDEN:
            raise PermissionError(f"a submission may not use {event}")
        if event == "os.kill" and args[0] != own_pid:
            raise PermissionError("a submission may not signal other processes")
        if event == "import" and (args[0] == "l2bayes" or str(args[0]).startswith("l2bayes.")):
            raise PermissionError("a submission may not import l2bayes")
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None))[:3]
            path = real(path)
            if path is None:
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not writable(path):
                raise PermissionError(f"a submission may only write in its working directory, not {path}")
            if not readable(path):
                raise PermissionError(f"a submission may not read {path}")
        elif event in _PATH_CHANGES:
            for arg in args:
                if isinstance(arg, (str, bytes, os.PathLike)) and not writable(real(arg)):
                    raise PermissionError(f"a submission may not change {real(arg)}")

    sys.addaudithook(hook)


def _error(exc: BaseException, *, name: str = "") -> dict:
    """Type, message and (for submitted code) line of an exception."""
    try:
        message = str(exc)[:MAX_TEXT]
    except Exception:  # noqa: BLE001 - a hostile __str__
        message = ""
    if isinstance(exc, SystemExit):
        message = f"the code called sys.exit({exc.code!r})"[:MAX_TEXT]
    line = None
    if isinstance(exc, SyntaxError):
        message, line = str(exc.msg)[:MAX_TEXT], exc.lineno
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<solution") or frame.filename == name:
            line = frame.lineno
    return {"type": type(exc).__name__[:100], "message": message, "line": line}


class State:
    """What the worker holds: the submission's cells and the namespace they run in."""

    def __init__(self, config: dict):
        self.config = config
        self.cells: dict[str, str] = {}
        self.namespace = {"__name__": "__submission__", "__builtins__": builtins}
        self.guarded = False


def load(request: dict, state: State) -> dict:
    """Parse and validate the notebook; keep its code; say which chapter and which cells."""
    import notebooks

    try:
        data = base64.b64decode(request["notebook"], validate=True)
        nb = notebooks.parse_notebook(data, where="the submission")
        code = notebooks.submission_code(nb)
        chapter = notebooks.notebook_chapter(nb)
    except (ValueError, RecursionError, MemoryError) as exc:
        return {"error": {"type": type(exc).__name__, "message": str(exc)[:MAX_TEXT], "line": None}}
    state.cells = dict(code)
    return {"chapter": chapter, "cells": [[name, notebooks.defined_names(c)[:50]] for name, c in code]}


def handle(request: dict, state: State) -> dict:
    """Carry out one request."""
    op = request.get("op")
    if op == "load":
        return load(request, state)
    if not state.guarded and state.config.get("guard", True):
        c = state.config
        install_guard(c.get("deny", []), c.get("allow", []), c["workdir"])
        state.guarded = True
    namespace = state.namespace
    if op == "run":
        name = request["name"]
        try:
            exec(compile(state.cells[name], name, "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: the worker carries on
            return {"error": _error(exc, name=name)}
        finally:
            if "torch" in sys.modules:
                sys.modules["torch"].set_num_threads(1)
        return {"ok": True}
    fn = namespace.get(request["function"])
    if not callable(fn):
        return {"error": {"type": "NameError", "message": f"{request['function']} is not defined", "line": None}}
    try:
        args = [decode(a) for a in request["args"]]
    except BaseException as exc:  # noqa: BLE001 - e.g. the submission broke numpy
        return {"error": {"type": "InputError", "message": f"the inputs could not be rebuilt: {exc}"[:MAX_TEXT], "line": None}}
    try:
        value = fn(*args)
    except BaseException as exc:  # noqa: BLE001
        return {"error": _error(exc)}
    try:
        return {"value": encode(mark_copies(value, tensor_ids(args)), iterators=True)}
    except BaseException as exc:  # noqa: BLE001 - e.g. a hostile __int__
        return {"error": {"type": "OutputError", "message": f"the answer could not be sent: {type(exc).__name__}", "line": None}}


#: Flags of unshare(2) and mount(2) (linux/sched.h, linux/mount.h).
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000


def _mount_points_below(folder: str) -> list[str]:
    """Mount points strictly inside ``folder`` (from ``/proc/self/mountinfo``), outermost first."""
    prefix = folder.rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            # The fifth field, with spaces and the like written as octal escapes (\040).
            point = line.split()[4].decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")
            if point.startswith(prefix):
                points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"))


def isolate(workdir: str, tmp_mb: int) -> None:
    """Give this process (a pool's child, just forked) its own IPC namespace and empty writable folders.

    A new user namespace (the only way to new namespaces without privileges:
    bubblewrap dropped every capability) owns a new IPC namespace, so no System V
    or POSIX IPC object of an earlier submission is visible and none of this one
    outlives it, and a new mount namespace, where fresh size-capped tmpfs cover
    ``workdir`` and ``/dev/shm``. Read-only binds of the host that lie inside
    ``workdir`` (a virtual environment under the host's temporary folder) are
    bound again on top. Then every capability is dropped, so the mounts cannot
    be undone. Raises ``OSError`` if the kernel refuses any step.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWIPC), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    # Held open in the new mount namespace (a bind's source must be a mount of the caller's own
    # namespace), before the new tmpfs hides them.
    below = _mount_points_below(workdir)
    held = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in below]
    options = f"size={int(tmp_mb) << 20},mode=1777".encode()
    for target in (workdir, "/dev/shm"):
        if os.path.isdir(target):
            check(libc.mount(b"tmpfs", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options), f"mount {target}")
    for point, fd in zip(below, held):
        os.makedirs(point, exist_ok=True)
        # A bind keeps the read-only flag, locked: it came from a more privileged namespace.
        check(libc.mount(f"/proc/self/fd/{fd}".encode(), point.encode(), None, _MS_BIND | _MS_REC, None),
              f"bind {point}")
        os.close(fd)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    # _LINUX_CAPABILITY_VERSION_3: two 32-bit words of each set, all zero.
    check(libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")


def _write(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def address_space() -> int:
    """Bytes of address space this process maps now (``VmSize``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) << 10
    return 0


def serve(config: dict, requests, replies: int) -> None:
    """Answer the grader's requests until the pipe closes: the life of one submission's worker."""
    os.chdir(config["workdir"])
    # memory_mb is what the submission may add to what the worker (and any pre-imported module) maps.
    set_limits(config["memory_mb"] + (address_space() >> 20), config["cpu_seconds"], config["file_mb"],
               config["processes"])
    state = State(config)
    for line in requests:
        request = json.loads(line)
        reply = handle(request, state)
        reply["seq"] = request["seq"]
        try:
            _write(replies, reply)
        except (TypeError, ValueError) as exc:  # a value json cannot write
            _write(replies, {"seq": request["seq"], "error": {"type": "OutputError", "message": str(exc)[:200], "line": None}})


def _read_line(fd: int, limit: int) -> bytes | None:
    """One line from ``fd`` (without its newline), at most ``limit`` bytes; ``None`` at EOF or beyond it."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        data += chunk
        if len(data) > limit:
            return None
    if data.count(b"\n") != 1:  # more than one line: the code wrote to the reply pipe
        return b"{}"
    return data[:-1]


class Zygote:
    """A worker that imports once and forks a fresh child per submission (see :mod:`.sandbox`'s Pool).

    The child of each submission is killed, with every other process of the
    sandbox, and the writable folders emptied, before the next one is forked, so
    nothing of one submission reaches the next. The zygote is not dumpable, so a
    child cannot read or write its memory or descriptors through ``/proc`` or ptrace.
    """

    def __init__(self, config: dict, requests, replies: int):
        self.config, self.requests, self.replies = config, requests, replies
        self.child: tuple[int, int, int] | None = None  # pid, its request pipe, its reply pipe

    def run(self) -> None:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4: off
        for name in self.config.get("preload", []):
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - a package that is not installed is simply not preloaded
                pass
        import notebooks

        # nbformat compiles its schema validator on first use (half a second): once, here, for every child.
        notebooks.parse_notebook(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        _write(self.replies, {"ready": True, "pid": os.getpid(), "isolated": self.probe()})
        for line in self.requests:
            request = json.loads(line)
            op, seq = request.get("op"), request.get("seq")
            if op == "spawn":
                self.end()
                self.spawn()
                _write(self.replies, {"seq": seq, "pid": self.child[0]})
            elif op == "end":
                _write(self.replies, {"seq": seq, "clean": self.end()})
            elif self.child is None:
                _write(self.replies, {"seq": seq, "died": {"reason": "no worker"}})
            else:
                self.forward(line, seq)

    def probe(self) -> bool:
        """Whether a child can be isolated here (:func:`isolate`); the grader uses the pool only if so."""
        pid = os.fork()
        if pid == 0:
            try:
                isolate(self.config["workdir"], 1)
                code = 0
            except BaseException:  # noqa: BLE001 - any failure means no
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) == 0

    def spawn(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                for fd in (to_child_w, from_child_r, self.requests.fileno(), self.replies):
                    os.close(fd)
                isolate(self.config["workdir"], self.config["tmp_mb"])
                serve(self.config, os.fdopen(to_child_r, "rb"), from_child_w)
            finally:
                os._exit(0)
        os.close(to_child_r)
        os.close(from_child_w)
        self.child = (pid, to_child_w, from_child_r)

    def forward(self, line: bytes, seq) -> None:
        pid, to_child, from_child = self.child
        try:
            data = line if line.endswith(b"\n") else line + b"\n"
            while data:
                data = data[os.write(to_child, data):]
            reply = _read_line(from_child, self.config["reply_mb"] << 20)
        except OSError:
            reply = None
        if reply is None:
            _write(self.replies, {"seq": seq, "died": self.reap()})
            return
        data = reply + b"\n"
        while data:
            data = data[os.write(self.replies, data):]

    def reap(self) -> dict:
        """Wait a little for the child to end by itself, then kill it; how it ended."""
        pid, to_child, from_child = self.child
        import time

        status = None
        for _ in range(50):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        for fd in (to_child, from_child):
            os.close(fd)
        self.child = None
        if os.WIFSIGNALED(status):
            return {"signal": os.WTERMSIG(status)}
        return {"code": os.waitstatus_to_exitcode(status)}

    def end(self) -> bool:
        """Kill the child and everything else in the sandbox but pid 1 and the zygote; empty /tmp."""
        if self.child is not None:
            pid, to_child, from_child = self.child
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os.close(to_child)
            os.close(from_child)
            self.child = None
        keep = {1, os.getpid()}
        clean = False
        if not _own_pid_namespace():  # never sweep a machine's processes: only a sandbox's
            return False
        # A killed process is gone only once the kernel has run its exit, which on a loaded machine
        # can take longer than 500 quick rounds of this loop took (about 15 ms in a sandbox): then the pool was thrown
        # away for nothing. Rounds go on, a millisecond apart, for up to END_SECONDS.
        deadline = time.monotonic() + END_SECONDS
        while True:
            alive = [p for p in _processes() if p not in keep]
            if not alive:
                clean = True
                break
            if time.monotonic() > deadline:
                break
            for p in alive:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.001)
        for folder in (self.config["workdir"], "/dev/shm"):
            try:
                dev, entries = os.stat(folder).st_dev, os.listdir(folder)
            except OSError:
                continue
            for name in entries:
                clean = _clear(os.path.join(folder, name), dev) and clean
        return clean


def _clear(path: str, dev: int) -> bool:
    """Remove ``path`` and what it holds on the file system ``dev``; False if some of it stays.

    Read-only binds of the host (a virtual environment that lives under the host's
    temporary folder is bound inside the sandbox's) are on other file systems: they
    and the folders leading to them stay.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return True
    if st.st_dev != dev:
        return True
    try:
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return True
        ok = True
        for name in os.listdir(path):
            ok = _clear(os.path.join(path, name), dev) and ok
        if ok:
            try:
                os.rmdir(path)
            except OSError:
                ok = bool(os.listdir(path))  # what is left leads to a bind of the host
        return ok
    except OSError:
        return False


def _own_pid_namespace() -> bool:
    """Whether pid 1 here is bubblewrap's (this is a sandbox's own pid namespace)."""
    try:
        with open("/proc/1/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0]) == b"bwrap"
    except OSError:
        return False


def _processes() -> list[int]:
    """Pids of this namespace's living processes (zombies left out)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                if stat[stat.rindex(b")") + 2:][:1] != b"Z":
                    pids.append(int(entry))
            except (OSError, ValueError):
                continue
    return pids


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    # The grader's pipes move to high descriptors; 0-2 become /dev/null, so print() goes nowhere.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.dont_write_bytecode = True
    sys.path.extend(config["site"])
    # jsonschema (under nbformat) imports this optional IRI checker, which builds a grammar for 2 s;
    # nbformat's schema has no IRI field, so the worker goes without it.
    sys.modules.setdefault("rfc3987_syntax", None)
    import notebooks  # noqa: F401 - and nbformat with it, before the limits and the hook

    if config.get("zygote"):
        os.dup2(null, 2)
        Zygote(config, requests, replies).run()
        return
    _write(replies, {"ready": True})
    os.dup2(null, 2)  # start-up errors went to the grader's log; a submission's go nowhere
    serve(config, requests, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
