"""What an exercise is: its cases, how answers are compared, and the misconceptions it names.

An exercise is written once, in its chapter notebook (statement, reference
solution, check cell). What the package adds is the *spec*: how to draw test
inputs, which fixed edge cases to add, how to compare an answer with the
reference's, and which wrong answers to recognise by name. Specs live in one
module per chapter (``ch01.py``) and are plain data:

* a :class:`Case` is a dict of inputs (by parameter name) and a label;
* a comparison is a function ``(expected, got) -> str | None`` that returns
  ``None`` when ``got`` is acceptable and otherwise the reason it is not
  (:func:`close` makes one for numbers, numpy arrays and torch tensors);
* a :class:`Misconception` is a name, a message for the student and a detector
  ``(inputs, expected, got) -> bool``, usually built with :func:`same`.

Nothing here imports torch: tensors are recognised only when torch has already
been imported by whoever made them.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: ``(expected, got) -> None`` when acceptable, else the reason it is not.
Comparison = Callable[[Any, Any], "str | None"]
#: ``(inputs, expected, got) -> bool``: does this wrong answer look like the misconception?
Detector = Callable[[dict, Any, Any], bool]


@dataclass(frozen=True, eq=False)
class Case:
    """One set of inputs for the function under test.

    Parameters
    ----------
    inputs : dict
        Argument values by parameter name; the function is called positionally
        in the order of :attr:`Exercise.params`.
    label : str
        What is special about the case ("random", "theta equals centre", ...).
    hint : str
        Shown when this case fails and no misconception explains the failure.
    """

    inputs: dict
    label: str = "random"
    hint: str = ""


@dataclass(frozen=True)
class Misconception:
    """A named wrong answer, recognised by ``detect(inputs, expected, got)``."""

    name: str
    message: str
    detect: Detector


@dataclass(frozen=True)
class Opaque:
    """A returned value that is none of the types an answer can have (made by the grader)."""

    type_name: str
    text: str = ""

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.text}>" if self.text else f"<{self.type_name}>"


def close(*, rtol: float = 1e-9, atol: float = 1e-12, dtype: bool = False) -> Comparison:
    """Compare with ``|got - expected| <= atol + rtol * |expected|`` entrywise.

    The kind of answer is taken from the expected value: a number wants a
    number (a Python or numpy scalar, or a 0-d array or tensor), a numpy array
    wants an array-like of the same shape, a torch tensor wants a tensor of the
    same shape (and, with ``dtype=True``, the same dtype). NaN or infinite
    values in ``got`` never pass.
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be non-negative, got rtol={rtol!r}, atol={atol!r}")

    def compare(expected, got) -> str | None:
        kind = _kind(expected)
        want = as_float_array(expected)
        if kind == "tensor" and not is_tensor(got):
            return f"expected a torch tensor of shape {tuple(want.shape)}, got {describe(got)}"
        if kind == "number" and not _is_number(got):
            return f"expected a single number, got {describe(got)}"
        if kind == "array" and not isinstance(got, (np.ndarray, list, tuple)) and not is_tensor(got):
            return f"expected an array of shape {want.shape}, got {describe(got)}"
        if kind == "tensor" and dtype and got.dtype != expected.dtype:
            return f"expected a tensor of dtype {expected.dtype}, got dtype {got.dtype}"
        try:
            have = as_float_array(got)
        except (TypeError, ValueError):
            return f"expected real numbers, got {describe(got)}"
        if have.shape != want.shape:
            return f"expected shape {want.shape}, got shape {have.shape}"
        if not np.all(np.isfinite(have)):
            return "the answer contains NaN or infinite values"
        if not np.all(np.isfinite(want)):  # NaN equals nothing, not even NaN: no answer matches it
            return "the expected value contains NaN or infinite values, so no answer can match it; please report it"
        err = np.abs(have - want)
        excess = err - (atol + rtol * np.abs(want))
        if not np.all(excess <= 0):  # written so that a NaN counts as a failure
            worst = int(np.argmax(excess))
            index = tuple(int(i) for i in np.unravel_index(worst, want.shape))
            where = "" if want.ndim == 0 else f" at index {index[0] if want.ndim == 1 else index}"
            single = bool(np.all(err <= 1e-5 * np.abs(want) + atol))
            return (
                f"values differ by {err.flat[worst]:.3g}{where} "
                f"(allowed: atol={atol:g} + rtol={rtol:g} * |expected|)"
                + ("; that is float32 rounding: compute in float64 (torch's default dtype is float32)" if single else "")
            )
        return None

    return compare


def close_tuple(*names: str, rtol: float = 1e-9, atol: float = 1e-12) -> Comparison:
    """Compare a tuple answer entry by entry with :func:`close`; ``names`` name the entries.

    A list of the right length is accepted as well as a tuple, and a failure
    names the entry that is wrong (``"theta: ..."``).
    """
    each = close(rtol=rtol, atol=atol)
    what = f"a tuple ({', '.join(names)})"

    def compare(expected, got) -> str | None:
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            return f"expected {what}, got {describe(got)}"
        for name, want, have in zip(names, expected, got):
            reason = each(want, have)
            if reason is not None:
                return f"{name}: {reason}"
        return None

    return compare


def part(got, index: int):
    """Entry ``index`` of a tuple answer (for detectors; raises on anything else)."""
    if not isinstance(got, (tuple, list)):
        raise TypeError("not a tuple")
    return got[index]


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    """A number between ``low`` and ``high``, uniform on a log scale (for drawing cases)."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def away_from(rng: np.random.Generator, low: float, high: float, avoid) -> float:
    """A :func:`log_uniform` draw at least 10% (relative) away from every value in ``avoid``.

    Keeps distinct wrong formulas (``s/sigma`` and ``s**2/sigma**2``, say) from
    giving the same number by accident.
    """
    while True:
        value = log_uniform(rng, low, high)
        if all(abs(value / a - 1) > 0.1 for a in avoid):
            return value


def same(got, target, *, rtol: float = 1e-6, atol: float = 1e-12) -> bool:
    """``True`` when ``got`` is finite and equals ``target`` to ``rtol`` (for detectors).

    Never raises: a ``got`` of the wrong type or shape is simply not the same.
    """
    try:
        have, want = as_float_array(got), as_float_array(target)
    except (TypeError, ValueError):
        return False
    return bool(
        have.shape == want.shape
        and np.all(np.isfinite(have))
        and np.all(np.abs(have - want) <= atol + rtol * np.abs(want))
    )


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_float_array(x) -> np.ndarray:
    """``x`` (number, array-like or tensor) as a float64 array; ``TypeError``/``ValueError`` if not real."""
    if isinstance(x, (str, bytes, dict, set, frozenset, Opaque)) or x is None:
        raise TypeError(f"not a number or array: {type(x).__name__}")
    if isinstance(x, Iterator):  # a generator or map is not an array, whatever numpy makes of it
        raise TypeError(f"not a number or array: {type(x).__name__}")
    if is_tensor(x):
        if x.is_complex():
            raise TypeError(f"not real numbers: dtype {x.dtype}")
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"not real numbers: dtype {arr.dtype}")
    return arr.astype(np.float64)


def describe(x) -> str:
    """A short phrase for the type of a value, for feedback ("an array of shape (3,)")."""
    if x is None:
        return "None"
    if isinstance(x, Opaque):
        return f"a {x.type_name}" + (f" ({x.text})" if x.text else "")
    if is_tensor(x):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, bool):
        return f"the bool {x}"
    if isinstance(x, (numbers.Number, np.generic)):
        return f"the {type(x).__name__} {x!r}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    if isinstance(x, str):
        return f"the str {x[:40]!r}" + ("..." if len(x) > 40 else "")
    return f"a {type(x).__name__}"


def show(x, *, precision: int = 6) -> str:
    """A value written out for feedback: arrays and tensors summarised, numbers in full.

    Two kinds of list are written by structure, a tensor as its shape
    (``tensor (4, 3)``): parameter groups (dicts with ``"params"``), each with
    its keys and the shapes of its parameters, and ``(name, tensor)`` pairs as
    ``model.named_parameters()`` gives them.
    """
    if _is_param_groups(x):
        return "[" + ", ".join(_group_text(g, precision) for g in x) + "]"
    if _is_named_tensors(x):
        return _listing([_entry_text(e, precision) for e in x])
    if is_tensor(x):
        return f"tensor({_array_text(x.detach().cpu().numpy(), precision)})"
    if isinstance(x, np.ndarray):
        return f"array({_array_text(x, precision)})" if x.ndim else repr(x.item())
    if isinstance(x, np.generic):
        return repr(x.item())
    text = repr(x)
    return text if len(text) <= 200 else text[:197] + "..."


#: Entries of a parameter list written out before "... (k more)".
_MAX_LISTED = 12


def _is_param_groups(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(g, dict) and "params" in g for g in x)


def _is_named_tensors(x) -> bool:
    return (
        isinstance(x, (list, tuple))
        and len(x) > 0
        and all(isinstance(e, (tuple, list)) and len(e) == 2 and isinstance(e[0], str) and is_tensor(e[1]) for e in x)
    )


def _tensor_brief(t) -> str:
    return f"tensor {tuple(t.shape)}"


def _entry_text(e, precision: int) -> str:
    """One entry of a parameter list: a tensor's shape, a (name, tensor) pair, else a short repr."""
    if is_tensor(e):
        return _tensor_brief(e)
    if _is_named_tensors([e]):
        return f"({e[0][:60]!r}, {_tensor_brief(e[1])})"
    return " ".join(show(e, precision=precision).split())[:40]


def _listing(items: list[str]) -> str:
    extra = len(items) - _MAX_LISTED
    if extra > 0:
        items = items[:_MAX_LISTED] + [f"... ({extra} more)"]
    return "[" + ", ".join(items) + "]"


def _group_text(group: dict, precision: int) -> str:
    parts = []
    for key, value in group.items():
        if key != "params":
            text = show(value, precision=precision)
        elif is_tensor(value):
            text = _tensor_brief(value)
        elif isinstance(value, (list, tuple)):
            text = _listing([_entry_text(p, precision) for p in value])
        else:
            text = f"<{describe(value)}>"
        parts.append(f"{show(key)[:40]}: {text}")
    return "{" + ", ".join(parts) + "}"


def _array_text(a: np.ndarray, precision: int) -> str:
    return np.array2string(a, precision=precision, separator=", ", threshold=24, edgeitems=3)


def _kind(expected) -> str:
    if is_tensor(expected):
        return "tensor"
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        return "array"
    return "number"


def _is_number(x) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, numbers.Real):
        return True
    if isinstance(x, np.ndarray) or is_tensor(x):
        return x.ndim == 0
    return False


@dataclass(frozen=True)
class Exercise:
    """The checking spec of one exercise; the reference itself is in the chapter notebook.

    Parameters
    ----------
    id : str
        ``"chNN-name"``, as used in ``check("chNN-name", fn)``.
    chapter : str
        Stem of the chapter notebook, e.g. ``"01_prior_to_penalty"``.
    function : str
        Name of the function the solution cell defines.
    params : tuple of str
        Its parameters, in call order (the keys of every case's inputs).
    returns : str
        What it returns, for ``--list``.
    checks : str
        What a pass means, for the pass message.
    random_case : callable
        ``rng -> dict`` of inputs; called ``n_random`` times per check.
    edge_cases : tuple of Case
        Fixed cases added after the random ones.
    misconceptions : tuple of Misconception
        Wrong answers recognised by name; at least two per exercise.
    hint : str
        Shown on a failure that no misconception and no case hint explains.
    compare : callable
        ``(expected, got) -> str | None``; :func:`close` by default.
    n_random : int
        Random cases per check.
    points : float
        Points for a full pass when grading (partial credit per case).
    time_limit : float
        Seconds of wall-clock time the grader allows for all cases together.
    """

    id: str
    chapter: str
    function: str
    params: tuple[str, ...]
    returns: str
    checks: str
    random_case: Callable[[np.random.Generator], dict]
    edge_cases: tuple[Case, ...] = ()
    misconceptions: tuple[Misconception, ...] = ()
    hint: str = ""
    compare: Comparison = field(default_factory=close)
    n_random: int = 12
    points: float = 1.0
    time_limit: float = 5.0

    @property
    def signature(self) -> str:
        """``"name(p1, p2)"``, the call the exercise expects."""
        return f"{self.function}({', '.join(self.params)})"
