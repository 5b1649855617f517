"""Values on the wire between the grader and a sandboxed worker: JSON only, never pickles.

The same file is imported by the grader (as ``l2bayes.grading.wire``) and, as a
plain module beside the worker script, inside the sandbox, where ``l2bayes``
is not importable; it therefore uses the standard library alone (numpy and
torch are imported only when a value needs them).

:func:`encode` turns numbers, strings, lists, tuples, dicts, numpy arrays and
torch tensors into JSON-able data; anything else becomes an opaque marker
whose code is never run. :func:`decode` is its inverse and is safe on
untrusted input: only JSON types, whitelisted dtypes, bounded depth and sizes
checked against the data are accepted.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from itertools import islice

if __package__:  # the grader's l2bayes.grading.wire
    from l2bayes.exercises.inputs import COPY_MARK
else:  # a plain module beside the worker script, in the sandbox
    from inputs import COPY_MARK

MAX_ELEMENTS = 2_000_000
MAX_TEXT = 2_000
MAX_DEPTH = 32

_TORCH_DTYPES = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "bool",
)


def encode(value, _depth: int = 0, *, iterators: bool = False):
    """A JSON-able form of ``value``: numbers, strings, lists, tuples, dicts, arrays, tensors.

    A tensor keeps its dtype, whether it requires gradients, whether it is
    an ``nn.Parameter`` and whether it is marked as not one of the call's
    own arguments (:mod:`l2bayes.exercises.inputs`), so that ``list(model.named_parameters())``
    arrives as it left. With ``iterators=True`` (the worker, for answers) an iterator (a
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
        if getattr(value, COPY_MARK, False) is True:
            tensor["copy"] = True  # not one of the call's own arguments (l2bayes.exercises.inputs)
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
    flags = {key: body.get(key, False) for key in ("parameter", "requires_grad", "copy")}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise ValueError("malformed tensor flags")
    tensor = torch.from_numpy(_to_array(body["array"])).to(getattr(torch, name))
    if flags["requires_grad"] and not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError("malformed tensor: only floating-point tensors can require gradients")
    if flags["parameter"]:
        tensor = torch.nn.Parameter(tensor, requires_grad=flags["requires_grad"])
    else:
        tensor = tensor.requires_grad_(flags["requires_grad"])
    if flags["copy"]:
        setattr(tensor, COPY_MARK, True)
    return tensor
