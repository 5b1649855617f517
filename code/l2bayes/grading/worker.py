"""The sandboxed side of the grader: a process that runs one submission's code.

:mod:`l2bayes.grading.sandbox` starts it as ``python -I -S worker.py CONFIG``:
isolated mode and no ``site``, so neither ``PYTHONPATH`` nor the editable
install's ``.pth`` file puts ``l2bayes`` on ``sys.path``; only the
site-packages folders named in ``CONFIG`` are added. The file therefore uses
the standard library alone (numpy and torch are imported only when a value
needs them), and the grader imports it just for :func:`encode` and
:func:`decode`.

Before any submitted code runs, the worker

* lowers its own limits (address space, CPU seconds, file size, no core
  dumps), with soft = hard so they cannot be raised again;
* installs an audit hook (:func:`install_guard`) that refuses to start
  processes, send signals to others, open sockets, change limits, import
  ``l2bayes``, read the course repository (where the reference solutions
  are) or write outside its temporary working directory;
* moves the protocol off file descriptors 0 and 1, which then point at
  ``/dev/null`` (as does 2, once the worker is ready): a submission's
  ``print`` and ``input`` cannot reach the grader, and flooding them costs
  only the submission's own time.

Protocol: one JSON object per line. The first line the worker writes is
``{"ready": true}``; then, for each request, one reply with the same ``seq``::

    {"seq": k, "op": "run", "name": "<solution cell 1>", "code": "..."}
        -> {"seq": k, "ok": true} | {"seq": k, "error": {"type", "message", "line"}}
    {"seq": k, "op": "call", "function": "f", "args": [<encoded>, ...]}
        -> {"seq": k, "value": <encoded>} | {"seq": k, "error": {...}}

Values travel as JSON (:func:`encode`), never pickled, so a reply cannot run
code in the grader; the grader compares them in its own process.

This is a deterrent, not a container: code that uses ``ctypes`` can get
around an audit hook (see the grading notes in :mod:`l2bayes.grade`).
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import resource
import signal
import sys
import traceback
from collections.abc import Iterator
from itertools import islice

MAX_ELEMENTS = 2_000_000
MAX_TEXT = 2_000
MAX_DEPTH = 32

_TORCH_DTYPES = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "bool",
)


# --- values on the wire --------------------------------------------------------------------


def encode(value, _depth: int = 0, *, iterators: bool = False):
    """A JSON-able form of ``value``: numbers, strings, lists, tuples, dicts, arrays, tensors.

    A tensor keeps its dtype, whether it requires gradients and whether it is
    an ``nn.Parameter``, so that ``list(model.named_parameters())`` arrives as
    it left. With ``iterators=True`` (the worker, for answers) an iterator (a
    generator, ``map``, ``filter``...) is read and sent as a list, as torch
    reads the ``params`` of a parameter group; the grader never reads its own.
    Anything else becomes ``{"__object__": {"type": name}}``; nothing of it is
    run or ``repr``-ed.
    """
    if _depth > MAX_DEPTH:
        return _opaque(value, "nested too deeply")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, complex):
        return {"__complex__": [value.real, value.imag]}
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ELEMENTS:
            return _opaque(value, f"length {len(value)}, too long")
        items = [encode(v, _depth + 1, iterators=iterators) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        pairs = [[encode(k, _depth + 1, iterators=iterators), encode(v, _depth + 1, iterators=iterators)]
                 for k, v in value.items()]
        return {"__dict__": pairs}
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach().cpu().resolve_conj().resolve_neg()
        if t.dtype == torch.bfloat16:
            t = t.float()
        body = _array(t.numpy())
        if not body:
            return _opaque(value, _why(t))
        tensor = {"array": body, "dtype": str(value.dtype)}
        if isinstance(value, torch.nn.Parameter):
            tensor["parameter"] = True  # list(model.named_parameters()) holds Parameters
        if value.requires_grad:
            tensor["requires_grad"] = True
        return {"__tensor__": tensor}
    if np is not None and isinstance(value, np.ndarray):
        body = _array(value)
        return {"__ndarray__": body} if body else _opaque(value, _why(value))
    if np is not None and isinstance(value, np.generic):
        body = _array(np.asarray(value))
        return {"__npscalar__": body} if body else _opaque(value)
    if iterators and isinstance(value, Iterator):  # torch reads a parameter list with list(); so does the wire
        items = list(islice(value, MAX_ELEMENTS + 1))
        if len(items) > MAX_ELEMENTS:
            return _opaque(value, f"more than {MAX_ELEMENTS} items, too long")
        return [encode(v, _depth + 1, iterators=iterators) for v in items]
    return _opaque(value)


def _array(a):
    if a.dtype.kind not in "biufc" or a.size > MAX_ELEMENTS:
        return None
    data = base64.b64encode(a.copy(order="C").tobytes()).decode("ascii")
    return {"dtype": a.dtype.str, "shape": list(a.shape), "data": data}


def _why(a) -> str:
    return f"{a.size} entries, too many" if a.size > MAX_ELEMENTS else f"dtype {a.dtype}"


def _opaque(value, text: str = "") -> dict:
    return {"__object__": {"type": str(type(value).__name__)[:100], "text": text}}


def decode(data, opaque=None, _depth: int = 0):
    """Inverse of :func:`encode`; ``ValueError`` on anything malformed.

    ``opaque(type_name, text)`` builds the value for an ``__object__``.
    Safe on untrusted input: only JSON types, whitelisted dtypes and sizes
    checked against the data are accepted.
    """
    if _depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, opaque, _depth + 1) for v in data]
    if not (isinstance(data, dict) and len(data) == 1):
        raise ValueError("malformed value")
    ((tag, body),) = data.items()
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(decode(v, opaque, _depth + 1) for v in body)
    if tag == "__dict__" and isinstance(body, list):
        return {decode(k, opaque, _depth + 1): decode(v, opaque, _depth + 1) for k, v in body}
    if tag == "__complex__" and isinstance(body, list) and len(body) == 2:
        return complex(float(body[0]), float(body[1]))
    if tag == "__ndarray__":
        return _to_array(body)
    if tag == "__npscalar__":
        return _to_array(body)[()]
    if tag == "__tensor__" and isinstance(body, dict):
        return _to_tensor(body)
    if tag == "__object__" and isinstance(body, dict):
        type_name, text = str(body.get("type", "object"))[:100], str(body.get("text", ""))[:200]
        return opaque(type_name, text) if opaque else {"__object__": type_name, "text": text}
    raise ValueError(f"malformed value with tag {str(tag)[:40]!r}")


def _to_array(body):
    import numpy as np

    if not isinstance(body, dict):
        raise ValueError("malformed array")
    dtype = np.dtype(str(body["dtype"]))
    shape = body["shape"]
    if dtype.kind not in "biufc" or not isinstance(shape, list) or len(shape) > 32:
        raise ValueError("malformed array")
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_ELEMENTS for s in shape):
        raise ValueError("malformed array shape")
    count = 1
    for s in shape:
        count *= s
    raw = base64.b64decode(str(body["data"]), validate=True)
    if count > MAX_ELEMENTS or len(raw) != count * dtype.itemsize:
        raise ValueError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _to_tensor(body):
    import torch

    name = str(body.get("dtype", "")).removeprefix("torch.")
    if name not in _TORCH_DTYPES:
        raise ValueError("malformed tensor dtype")
    flags = {key: body.get(key, False) for key in ("parameter", "requires_grad")}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise ValueError("malformed tensor flags")
    tensor = torch.from_numpy(_to_array(body["array"])).to(getattr(torch, name))
    if flags["requires_grad"] and not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError("malformed tensor: only floating-point tensors can require gradients")
    if flags["parameter"]:
        return torch.nn.Parameter(tensor, requires_grad=flags["requires_grad"])
    return tensor.requires_grad_(flags["requires_grad"])


# --- the sandbox, from inside ---------------------------------------------------------------

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


def set_limits(memory_mb: int, cpu_seconds: int, file_mb: int) -> None:
    """Lower this process's limits; soft = hard, so submitted code cannot raise them."""
    mb = 1 << 20
    for which, value in (
        (resource.RLIMIT_AS, memory_mb * mb),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_FSIZE, file_mb * mb),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing


def install_guard(deny: list[str], allow: list[str], workdir: str) -> None:
    """Refuse, from now on, the audit events a submission has no business raising.

    Reads are refused under the ``deny`` folders unless the most specific
    matching folder is an ``allow`` one (the virtual environment may live
    inside the denied repository). Writes are allowed only in ``workdir``.
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


def handle(request: dict, namespace: dict) -> dict:
    """Carry out one request in ``namespace`` (the submission's globals)."""
    if request["op"] == "run":
        try:
            exec(compile(request["code"], request["name"], "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: the worker carries on
            return {"error": _error(exc, name=request["name"])}
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
        return {"value": encode(value, iterators=True)}
    except BaseException as exc:  # noqa: BLE001 - e.g. a hostile __int__
        return {"error": {"type": "OutputError", "message": f"the answer could not be sent: {type(exc).__name__}", "line": None}}


def _write(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def main(argv: list[str]) -> None:
    config = json.loads(argv[0])
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.dont_write_bytecode = True
    sys.path.extend(config["site"])
    set_limits(config["memory_mb"], config["cpu_seconds"], config["file_mb"])
    install_guard(config["deny"], config["allow"], config["workdir"])
    namespace = {"__name__": "__submission__", "__builtins__": builtins}
    _write(replies, {"ready": True})
    os.dup2(null, 2)  # start-up errors went to the grader's log; a submission's go nowhere
    for line in requests:
        request = json.loads(line)
        reply = handle(request, namespace)
        reply["seq"] = request["seq"]
        try:
            _write(replies, reply)
        except (TypeError, ValueError) as exc:  # a value json cannot write
            _write(replies, {"seq": request["seq"], "error": {"type": "OutputError", "message": str(exc)[:200], "line": None}})


if __name__ == "__main__":
    main(sys.argv[1:])
