r"""Checking specs for the exercises of chapter 4, *Weight decay in SGD*.

The reference solutions are the cells tagged ``solution`` in
``chapters/04_weight_decay_sgd.ipynb``; here are only the cases, tolerances,
hints and the misconceptions each exercise recognises. Notation as in the
book: :math:`\theta` is ``theta``, :math:`\eta` is ``lr``, :math:`\mu` is
``momentum``, :math:`\mathrm{wd}` is ``weight_decay``, :math:`b` is ``buf``.

The step exercises of chapters 5 and 6 also return tuples; :func:`close_tuple`
and :func:`log_uniform` here serve them too.

``weight_decay_groups`` takes ``list(model.named_parameters())``, a list of
``(name, parameter)`` pairs, rather than the model: pairs of a string and a
tensor travel to the batch grader's sandboxed worker as JSON, a module does
not. torch is imported only when its cases are first drawn or read
(:class:`LazyInputs`), so importing the exercise specs does not import torch.
The answer's tensors are copies by the time the grader sees them, so a
parameter is recognised by its shape and values (every case draws them
afresh, so no two are equal), and a copy by the mark the caller puts on the
answer's tensors that are not its very arguments (:mod:`l2bayes.exercises.inputs`).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections import Counter
from collections.abc import Mapping

import numpy as np

from l2bayes.exercises.inputs import COPY_MARK
from l2bayes.exercises.spec import Case, Exercise, Misconception, as_float_array, close, close_tuple, describe, is_tensor, log_uniform, part, same

CHAPTER = "04_weight_decay_sgd"








def _arr(x: dict, key: str) -> np.ndarray:
    return np.asarray(x[key], dtype=float)


# --- penalized_sgd_step(theta, grad, lr, weight_decay) = (1 - lr wd) theta - lr grad ----------


def _sgd_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 8))
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "lr": log_uniform(rng, 0.01, 0.3),  # below 0.5, where "factor of two" and "no lr" would coincide
        "weight_decay": log_uniform(rng, 0.05, 1.0),
    }


def _sgd(x: dict, *, shrink: float) -> np.ndarray:
    return (1 - shrink) * _arr(x, "theta") - x["lr"] * _arr(x, "grad")


PENALIZED_SGD_STEP = Exercise(
    id="ch04-sgd-decay-step",
    chapter=CHAPTER,
    function="penalized_sgd_step",
    params=("theta", "grad", "lr", "weight_decay"),
    returns="array of theta's shape",
    checks="(1 − η·wd)θ − η∇L for random θ, ∇L of 2 to 7 entries, η from 0.01 to 0.3 and wd from 0.05 "
    "to 1, plus wd = 0, θ = 0, ∇L = 0, η·wd = 0.5 and θ as a 3×2 matrix.",
    random_case=_sgd_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "lr": 0.1, "weight_decay": 0.0},
             "weight_decay is zero", "With wd = 0 the step is plain SGD: θ − η∇L."),
        Case({"theta": np.zeros(3), "grad": np.array([1.0, -1.0, 2.0]), "lr": 0.05, "weight_decay": 0.4},
             "theta is zero", "At θ = 0 the decay has nothing to shrink."),
        Case({"theta": np.array([2.0, -1.0]), "grad": np.zeros(2), "lr": 0.1, "weight_decay": 0.3},
             "grad is zero", "With ∇L = 0 only the decay acts: θ is multiplied by (1 − η·wd)."),
        Case({"theta": np.array([1.5, -0.5, 3.0]), "grad": np.array([0.2, 0.2, -0.1]), "lr": 0.25, "weight_decay": 2.0},
             "lr times weight_decay is 0.5"),
        Case({"theta": np.arange(6.0).reshape(3, 2) - 2.5, "grad": np.ones((3, 2)), "lr": 0.1, "weight_decay": 0.2},
             "theta is a 3x2 matrix", "A weight matrix steps like a vector: the answer has θ's shape."),
    ),
    misconceptions=(
        Misconception(
            "factor of two",
            "your step decays θ twice as much as it should: did you differentiate wd/2‖θ‖² as wd‖θ‖²? "
            "The ½ cancels the 2 of the square, so the penalty's gradient is wd·θ and the step is "
            "(1 − η·wd)θ − η∇L.",
            lambda x, want, got: same(got, _sgd(x, shrink=2 * x["lr"] * x["weight_decay"])),
        ),
        Misconception(
            "decay without the learning rate",
            "your step shrinks θ by (1 − wd): the decay is part of the gradient, and the whole gradient "
            "∇L + wd·θ is multiplied by the learning rate, so the factor is (1 − η·wd).",
            lambda x, want, got: same(got, _sgd(x, shrink=x["weight_decay"])),
        ),
        Misconception(
            "sign flipped",
            "your step multiplies θ by (1 + η·wd), so the weights grow: the penalty's gradient wd·θ is "
            "subtracted with the rest of the gradient, which pulls θ toward zero.",
            lambda x, want, got: same(got, _sgd(x, shrink=-x["lr"] * x["weight_decay"])),
        ),
        Misconception(
            "decay left out",
            "your step is plain SGD, θ − η∇L: the penalty wd/2‖θ‖² adds wd·θ to the gradient.",
            lambda x, want, got: same(got, _sgd(x, shrink=0.0)),
        ),
    ),
    hint="One step on L + wd/2‖θ‖² follows its gradient ∇L + wd·θ: θ − η(∇L + wd·θ) = (1 − η·wd)θ − η∇L.",
)


# --- sgd_momentum_step(theta, grad, buf, lr, momentum, wd) -> (theta - lr b, b), b = mu buf + g --


def _momentum_case(rng: np.random.Generator) -> dict:
    d = int(rng.integers(2, 8))
    return {
        "theta": rng.normal(0.0, 1.5, size=d),
        "grad": rng.normal(0.0, 1.0, size=d),
        "buf": rng.normal(0.0, 1.0, size=d),  # mid-training: a buffer of earlier gradients
        "lr": log_uniform(rng, 0.01, 0.3),
        "momentum": float(rng.uniform(0.5, 0.95)),
        "weight_decay": log_uniform(rng, 0.05, 1.0),
    }


def _momentum(x: dict, *, decay_in_buf: bool = True, decay: bool = True, average: bool = False):
    """(theta, buf) of a momentum step, right or with one of the misconceptions."""
    theta, grad, buf, mu, lr = _arr(x, "theta"), _arr(x, "grad"), _arr(x, "buf"), x["momentum"], x["lr"]
    decay_term = x["weight_decay"] * theta if decay else 0.0
    g = grad + (decay_term if decay_in_buf else 0.0)
    new_buf = mu * buf + ((1 - mu) if average else 1.0) * g
    return theta - lr * new_buf - lr * (0.0 if decay_in_buf else decay_term), new_buf


SGD_MOMENTUM_STEP = Exercise(
    id="ch04-sgd-momentum-step",
    chapter=CHAPTER,
    function="sgd_momentum_step",
    params=("theta", "grad", "buf", "lr", "momentum", "weight_decay"),
    returns="tuple (theta, buf) of arrays of theta's shape",
    checks="g = ∇L + wd·θ, b = μb + g, θ − ηb (both θ and b) for random θ, ∇L and buffers of 2 to 7 "
    "entries, η from 0.01 to 0.3, μ from 0.5 to 0.95 and wd from 0.05 to 1, plus the first step "
    "(b = 0), μ = 0, wd = 0 and θ as a 2×3 matrix.",
    random_case=_momentum_case,
    edge_cases=(
        Case({"theta": np.array([1.0, -2.0, 0.5]), "grad": np.array([0.3, 0.1, -0.4]), "buf": np.zeros(3),
              "lr": 0.1, "momentum": 0.9, "weight_decay": 0.05},
             "first step (buffer of zeros)", "With b = 0 the new buffer is g = ∇L + wd·θ itself."),
        Case({"theta": np.array([0.5, 1.5]), "grad": np.array([-0.2, 0.4]), "buf": np.array([1.0, -1.0]),
              "lr": 0.2, "momentum": 0.0, "weight_decay": 0.3},
             "momentum is zero", "With μ = 0 the buffer is just g and the step is plain SGD with decay."),
        Case({"theta": np.array([0.7, -0.3, 2.0]), "grad": np.array([0.1, 0.5, -0.2]), "buf": np.array([0.4, 0.0, -0.6]),
              "lr": 0.05, "momentum": 0.8, "weight_decay": 0.0},
             "weight_decay is zero"),
        Case({"theta": np.arange(6.0).reshape(2, 3) / 3 - 1, "grad": np.full((2, 3), 0.5),
              "buf": np.arange(6.0).reshape(2, 3) / 6, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.2},
             "theta is a 2x3 matrix"),
    ),
    misconceptions=(
        Misconception(
            "decay outside the buffer",
            "your θ is right for this one step but your buffer holds μb + ∇L, without wd·θ: you applied the "
            "decay outside the momentum buffer (as −η·wd·θ, or as the shrink (1 − η·wd)θ). torch adds wd·θ "
            "to the gradient before the buffer, b = μb + (∇L + wd·θ), and the next steps differ.",
            lambda x, want, got: same(got, (want[0], _momentum(x, decay_in_buf=False)[1])),
        ),
        Misconception(
            "stepping with the old buffer",
            "your step is θ − η·b with the buffer from before the step: update it first, b = μb + g, "
            "then step θ − η·b with the new buffer.",
            lambda x, want, got: same(part(got, 0), _arr(x, "theta") - x["lr"] * _arr(x, "buf")),
        ),
        Misconception(
            "buffer as an average",
            "your buffer is μb + (1 − μ)g, an exponential average as in Adam: torch's momentum adds the whole "
            "gradient, b = μb + g (only the dampening option scales it, by 1 − dampening).",
            lambda x, want, got: same(got, _momentum(x, average=True)),
        ),
        Misconception(
            "decay left out",
            "your step has no weight decay at all: g = ∇L + wd·θ is the gradient of the penalised loss.",
            lambda x, want, got: same(got, _momentum(x, decay=False)),
        ),
        Misconception(
            "old buffer returned",
            "your θ is right, but you returned the buffer from before the step: return the updated "
            "b = μb + g, which the next step needs.",
            lambda x, want, got: same(got, (want[0], _arr(x, "buf"))),
        ),
    ),
    hint="torch's order: g = ∇L + wd·θ, then b = μb + g, then θ − ηb; return both the new θ and the new b.",
    compare=close_tuple("theta", "buf"),
)


# --- weight_decay_groups(named_parameters, weight_decay): weights decay, nothing else does ----

#: Keys torch.optim.SGD reads from a parameter group; it ignores any other without a word.
SGD_GROUP_KEYS = frozenset({
    "params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
    "differentiable", "fused",
})


class LazyInputs(Mapping):
    """A case's inputs, built on first use: keeps torch out of ``import l2bayes.exercises``."""

    def __init__(self, build):
        self._build = build
        self._inputs: dict | None = None

    def _data(self) -> dict:
        if self._inputs is None:
            self._inputs = self._build()
        return self._inputs

    def __getitem__(self, key):
        return self._data()[key]

    def __iter__(self):
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def _fill(model, seed: int):
    """``model`` in float64 with every parameter drawn afresh, so no two parameters are equal."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return model


def _groups_case(rng: np.random.Generator) -> dict:
    import torch

    sizes = [int(s) for s in rng.integers(2, 7, size=int(rng.integers(2, 5)))]
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, bias=bool(k == 0 or rng.random() < 0.7)))
        if rng.random() < 0.4:
            layers.append(torch.nn.LayerNorm(b))  # a weight with one dimension
        layers.append(torch.nn.Tanh())
    model = _fill(torch.nn.Sequential(*layers[:-1]), int(rng.integers(2**31)))
    return {"named_parameters": list(model.named_parameters()), "weight_decay": log_uniform(rng, 1e-4, 0.5)}


def _fixed_model(name: str):
    import torch

    nn = torch.nn
    if name == "linear":
        model = nn.Linear(3, 2)
    elif name == "no biases":
        model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 1, bias=False))
    elif name == "embedding":
        model = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    else:  # nested submodules and a parameter named neither weight nor bias
        model = nn.Module()
        model.encoder = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        model.head = nn.Linear(4, 2)
        model.temperature = nn.Parameter(torch.tensor(1.0))
    return _fill(model, 7)


def _fixed_groups_case(name: str, weight_decay: float) -> LazyInputs:
    return LazyInputs(lambda: {"named_parameters": list(_fixed_model(name).named_parameters()),
                               "weight_decay": weight_decay})


def _fingerprint(p) -> tuple:
    a = as_float_array(p)
    return a.shape, a.tobytes()


def _shape_text(fp: tuple) -> str:
    return f"the parameter of shape {fp[0]}"


def _read_groups(groups) -> tuple[list, list]:
    """``([(fingerprint, weight_decay), ...] per listed parameter, [unknown keys])``.

    Raises ``ValueError`` with the reason when ``groups`` is not a list of
    parameter groups. A group without ``"weight_decay"`` takes SGD's default, 0.
    ``params`` given as a generator is read once and stored back as a list, so
    that the misconception detectors, which look at the same answer later,
    see the parameters too.
    """
    if not isinstance(groups, (list, tuple)):
        raise ValueError(f"expected a list of parameter groups (dicts with 'params' and 'weight_decay'), got {describe(groups)}")
    listed, unknown = [], []
    for k, group in enumerate(groups):
        if not isinstance(group, dict):
            raise ValueError(f"group {k} is {describe(group)}, not a dict with 'params' and 'weight_decay'")
        if "params" not in group:
            raise ValueError(f"group {k} has no 'params' key")
        unknown += [key for key in group if key not in SGD_GROUP_KEYS]
        params = group["params"]
        if is_tensor(params):
            params = [params]
        elif not isinstance(params, (list, tuple)):
            try:
                params = group["params"] = list(params)
            except TypeError:
                raise ValueError(f"group {k}'s 'params' is {describe(params)}, not a list of parameters") from None
        wd = _real_number(group.get("weight_decay", 0.0), k)
        for p in params:
            if not is_tensor(p):
                why = ""
                if isinstance(p, str):
                    why = " ('params' holds the tensors, not their names)"
                elif isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str):
                    why = " ('params' holds the tensors, not (name, tensor) pairs)"
                raise ValueError(f"group {k} lists {describe(p)}, not a parameter of the model{why}")
            if not isinstance(p, sys.modules["torch"].nn.Parameter) or getattr(p, COPY_MARK, False) is True:
                raise ValueError(f"group {k} lists {describe(p)} that is not the model's own parameter but a copy "
                                 "(made by .detach(), .clone(), .data or a new nn.Parameter?): the optimizer "
                                 "would train the copy")
            listed.append((_fingerprint(p), wd))
    return listed, unknown


def _real_number(wd, k: int) -> float:
    """A group's ``weight_decay`` as a float: a real number (Python, numpy or a 0-d tensor), finite."""
    if isinstance(wd, (bool, np.bool_)) or not (
        isinstance(wd, (numbers.Real, np.floating, np.integer)) or (is_tensor(wd) and wd.ndim == 0)
    ):
        raise ValueError(f"group {k}'s 'weight_decay' is {describe(wd)}, not a real number")
    value = float(as_float_array(wd))
    if not math.isfinite(value):
        raise ValueError(f"group {k} has weight_decay {value:g}, not a finite number")
    return value


def _compare_groups(expected, got) -> str | None:
    want = dict(_read_groups(expected)[0])
    try:
        listed, unknown = _read_groups(got)
    except ValueError as exc:
        return str(exc)
    if unknown:
        return f"a group has the key {unknown[0]!r}, which torch.optim.SGD does not know and ignores without a word"
    counts = Counter(fp for fp, _ in listed)
    missing = [fp for fp in want if counts[fp] == 0]
    if missing:
        return f"{len(missing)} of the model's {len(want)} parameters are in no group ({_shape_text(missing[0])}, for one)"
    twice = [fp for fp in want if counts[fp] > 1]
    if twice:
        return f"{_shape_text(twice[0])} is listed {counts[twice[0]]} times (torch refuses a parameter in two groups)"
    if any(fp not in want for fp in counts):
        return "a group lists a tensor that is not a parameter of the model"
    for fp, wd in listed:
        if not abs(wd - want[fp]) <= 1e-12 * abs(want[fp]):  # a NaN fails too
            return f"{_shape_text(fp)} has weight_decay {wd:g}, expected {want[fp]:g}"
    return None


def _decays(x: dict, rule) -> dict:
    """``{fingerprint: weight_decay}`` when ``rule(name, p)`` says which parameters decay."""
    return {_fingerprint(p): (x["weight_decay"] if rule(name, p) else 0.0) for name, p in x["named_parameters"]}


def _groups_are(x: dict, got, rule) -> bool:
    """Whether ``got`` lists every parameter once, with valid keys, and decays as ``rule`` says."""
    listed, unknown = _read_groups(got)
    target = _decays(x, rule)
    return (
        not unknown
        and len(listed) == len(target)
        and {fp for fp, _ in listed} == set(target)
        and all(abs(wd - target[fp]) <= 1e-12 * abs(target[fp]) for fp, wd in listed)
    )


def _has_unknown_key(got) -> bool:
    return bool(_read_groups(got)[1])


def _coverage_wrong(x: dict, got) -> bool:
    listed, _ = _read_groups(got)
    counts = Counter(fp for fp, _ in listed)
    return any(counts[_fingerprint(p)] != 1 for _, p in x["named_parameters"])


WEIGHT_DECAY_GROUPS = Exercise(
    id="ch04-decay-groups",
    chapter=CHAPTER,
    function="weight_decay_groups",
    params=("named_parameters", "weight_decay"),
    returns="list of parameter groups (dicts) for torch.optim.SGD",
    checks="every parameter in exactly one group, with weight_decay = wd when its name ends in 'weight' and 0 "
    "otherwise, no key SGD ignores, for the named parameters of random stacks of Linear and LayerNorm layers, "
    "plus a single Linear, a model without biases, an Embedding with a LayerNorm, and nested modules with a "
    "parameter named neither weight nor bias.",
    random_case=_groups_case,
    edge_cases=(
        Case(_fixed_groups_case("linear", 0.1), "a single Linear layer"),
        Case(_fixed_groups_case("no biases", 0.01), "a model without biases",
             "Without biases every parameter is a weight; a group with no parameters is allowed."),
        Case(_fixed_groups_case("embedding", 0.05), "Embedding, LayerNorm and Linear",
             "The rule is the name: LayerNorm's weight has one dimension but its name ends in 'weight'."),
        Case(_fixed_groups_case("nested", 0.2), "nested modules and a 'temperature' parameter",
             "Names of nested parameters look like 'encoder.0.weight'; 'temperature' is not a weight."),
    ),
    misconceptions=(
        Misconception(
            "misspelled key",
            "one of your groups spells the decay key differently from 'weight_decay' (say 'weight_dacay'): "
            "torch.optim.SGD ignores keys it does not know, without a word, so that group is not decayed at "
            "all. Spell it exactly 'weight_decay' (l2bayes.optim.check_param_groups catches this).",
            lambda x, want, got: _has_unknown_key(got),
        ),
        Misconception(
            "biases decayed too",
            "your groups decay every parameter, biases included: the prior is a belief about the weights, and "
            "an intercept is not believed to be near zero, so parameters whose name does not end in 'weight' "
            "get weight_decay 0.",
            lambda x, want, got: _groups_are(x, got, lambda name, p: True),
        ),
        Misconception(
            "decay swapped",
            "your groups decay the biases and spare the weights, the other way round: weights (names ending in "
            "'weight') get weight_decay, everything else 0.",
            lambda x, want, got: _groups_are(x, got, lambda name, p: not name.endswith("weight")),
        ),
        Misconception(
            "parameter missing or listed twice",
            "not every parameter is in exactly one group: a parameter in no group is never trained, and torch "
            "refuses one listed in two groups. Go through the (name, parameter) pairs once and put each "
            "parameter in one of the two groups.",
            lambda x, want, got: _coverage_wrong(x, got),
        ),
        Misconception(
            "decided by shape",
            "your groups decay the parameters with two or more dimensions: a common rule, but not this "
            "exercise's. The rule is the name: a LayerNorm's or BatchNorm's weight has one dimension and "
            "its name ends in 'weight', so it decays.",
            lambda x, want, got: _groups_are(x, got, lambda name, p: p.ndim > 1),
        ),
    ),
    hint="Loop over the (name, parameter) pairs: parameters whose name ends in 'weight' go into a group with "
    "'weight_decay': wd, all others into a group with 'weight_decay': 0.0.",
    compare=_compare_groups,
)



# --- decay_per_step_answer(): a numeric answer, no code to write -----------------------------
#
# SGD(lr=0.1, momentum=0.9, weight_decay=5e-4): with slowly changing weights the buffer holds
# 1/(1 - mu) copies of wd theta, so the decay shrinks theta by lr wd / (1 - mu) = 5e-4 per step.

_LR, _MU, _WD = 0.1, 0.9, 5e-4

MOMENTUM_DECAY = Exercise(
    id="ch04-momentum-decay",
    chapter=CHAPTER,
    function="decay_per_step_answer",
    params=(),
    returns="float: the fraction of θ the decay removes per step",
    checks="η·wd/(1 − μ) = 5e-4 for SGD(lr=0.1, momentum=0.9, weight_decay=5e-4) (to 1%).",
    random_case=lambda rng: {},
    n_random=0,
    edge_cases=(Case({}, "the numbers of the question"),),
    misconceptions=(
        Misconception(
            "momentum ignored",
            "your answer is η·wd, plain SGD's shrink: with momentum, wd·θ enters the buffer with the rest of the "
            "gradient, and a slowly changing buffer holds 1/(1 − μ) copies of it, so the decay acts 1/(1 − μ) "
            "times faster: η·wd/(1 − μ).",
            lambda x, want, got: same(got, _LR * _WD, rtol=1e-2),
        ),
        Misconception(
            "μ for 1 − μ",
            "your answer divides by μ: the buffer's geometric sum 1 + μ + μ² + … is 1/(1 − μ), not 1/μ.",
            lambda x, want, got: same(got, _LR * _WD / _MU, rtol=1e-2),
        ),
        Misconception(
            "buffer as an average",
            "your answer multiplies by (1 − μ), as if the buffer were an average μb + (1 − μ)g as in Adam: torch's "
            "momentum adds the whole gradient, b = μb + g, so it sums, 1/(1 − μ) copies.",
            lambda x, want, got: same(got, _LR * _WD * (1 - _MU), rtol=1e-2),
        ),
        Misconception(
            "decay without the learning rate",
            "your answer is wd/(1 − μ): the step is η times the buffer, so the learning rate multiplies the decay "
            "too: η·wd/(1 − μ).",
            lambda x, want, got: same(got, _WD / (1 - _MU), rtol=1e-2),
        ),
    ),
    hint="With a slowly changing g, b = μb + g settles at g/(1 − μ); the step is η·b. Keep only the decay part of g.",
    compare=close(rtol=1e-2, atol=0.0),
)

EXERCISES = (PENALIZED_SGD_STEP, SGD_MOMENTUM_STEP, WEIGHT_DECAY_GROUPS, MOMENTUM_DECAY)
