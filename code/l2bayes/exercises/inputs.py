"""Which tensors of an answer are the call's own arguments: a copy told from the original.

An exercise such as ``ch04-decay-groups`` must know whether a parameter group
holds the model's own parameters or copies of them (the optimizer would train
the copies). Identity is lost once an answer crosses the batch grader's wire,
so the caller marks, right after the call, the tensors of the answer that are
not (the very objects) among its arguments; the wire carries the mark. A
tensor without a mark (an answer built by hand in a test) is taken as given.

Standard library only: the sandboxed worker imports this file as a plain
module beside ``wire.py`` (torch is looked up in ``sys.modules``, never imported).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import islice

_MAX_DEPTH = 32
_MAX_ITEMS = 2_000_000

#: The attribute that marks a tensor of an answer as not one of the call's own arguments.
COPY_MARK = "_l2bayes_copy"


def tensor_ids(value, _depth: int = 0) -> set[int]:
    """``id`` of every torch tensor inside ``value`` (lists, tuples and dict values)."""
    torch = sys.modules.get("torch")
    if torch is None or _depth > _MAX_DEPTH:
        return set()
    if isinstance(value, torch.Tensor):
        return {id(value)}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return set().union(*(tensor_ids(v, _depth + 1) for v in items))


def mark_copies(answer, inputs: set[int], _depth: int = 0):
    """Mark the tensors of ``answer`` that are not (the very objects) in ``inputs``; return ``answer``.

    Iterators inside lists and dicts are read into lists first, as torch reads
    a parameter group's ``params``. A copy of an argument (``.detach()``,
    ``.clone()``, a new ``nn.Parameter``) is another object and is marked, so an
    exercise can tell copies from the model's own parameters after the answer
    has crossed the wire (the wire's ``encode`` keeps the mark).
    """
    torch = sys.modules.get("torch")
    if torch is None or _depth > _MAX_DEPTH:
        return answer
    if isinstance(answer, torch.Tensor):
        if id(answer) not in inputs:
            setattr(answer, COPY_MARK, True)
        return answer
    if isinstance(answer, dict):
        for key, v in list(answer.items()):
            if isinstance(v, Iterator):
                answer[key] = v = list(islice(v, _MAX_ITEMS + 1))
            mark_copies(v, inputs, _depth + 1)
    elif isinstance(answer, (list, tuple)):
        if isinstance(answer, list):
            answer[:] = [list(islice(v, _MAX_ITEMS + 1)) if isinstance(v, Iterator) else v for v in answer]
        for v in answer:
            mark_copies(v, inputs, _depth + 1)
    return answer
