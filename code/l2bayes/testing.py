"""Assertions with a stated tolerance, for the claims the chapters make.

Every check a chapter makes goes through :func:`assert_close` (two values agree)
or :func:`assert_below` (a value stays under a bound). Besides asserting, each
call records a *claim* in :data:`LEDGER`: the chapter's short label (``what``),
the sentence it backs (``statement``), the independent method that produced the
reference value (``method``), the error and the tolerance, and why a tolerance
looser than :data:`STRICT_TOLERANCE` is acceptable (``reason``). The book's build
gathers these into the page "Claims and checks" and ``claims.json``.

How the claims reach the website: the build's notebook kernels run with the
environment variable :data:`CLAIM_OUTPUT_ENV` set (by :mod:`l2bayes.site`), and
there each recorded claim is also displayed as a one-line output of the MIME
type :data:`CLAIM_MIME`, holding the claim as JSON. Outputs are what
jupyter-book's execution cache stores, so the claims of a notebook that is not
re-executed come back with its cached outputs. Outside the build (a student's
Jupyter, nbval, the grader) nothing is displayed.
"""

from __future__ import annotations

import os

import numpy as np

#: Tolerances looser than this must say why (``reason=``).
STRICT_TOLERANCE = 1e-6

#: The claims checked so far in this process, in order (dicts; see :func:`record_claim`).
LEDGER: list[dict] = []

#: The MIME type of the output that carries one claim from a notebook to the build.
CLAIM_MIME = "application/vnd.l2bayes.claim+json"

#: Set (to "1") in the environment of the build's kernels: display each claim.
CLAIM_OUTPUT_ENV = "L2BAYES_CLAIM_OUTPUTS"

#: The keys of a claim, in the order of ``claims.json``.
CLAIM_KEYS = ("label", "statement", "method", "error", "tolerance", "reason", "kind")


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def max_rel_diff(actual, desired) -> float:
    """Largest ``|actual - desired| / max(|desired|, tiny)`` over all entries."""
    a, d = _as_numpy(actual), _as_numpy(desired)
    if a.shape != d.shape:
        raise ValueError(f"actual has shape {a.shape} but desired has shape {d.shape}")
    scale = np.maximum(np.abs(d), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - d) / scale)) if a.size else 0.0


def record_claim(*, what: str, method: str | None, statement: str | None, error: float,
                 tolerance: float, reason: str | None, kind: str, **extra) -> dict:
    """Append one claim to :data:`LEDGER` and return it (``extra``: more JSON-able fields)."""
    entry = {
        "label": what,
        "statement": statement,
        "method": method,
        "error": float(error),
        "tolerance": float(tolerance),
        "reason": reason,
        "kind": kind,
        **extra,
    }
    LEDGER.append(entry)
    _display_claim(entry)
    return entry


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display_claim(entry: dict) -> None:
    """Inside the build's kernels only, display ``entry`` as a :data:`CLAIM_MIME` output."""
    if os.environ.get(CLAIM_OUTPUT_ENV) != "1" or not _in_kernel():
        return
    from IPython.display import display

    display({CLAIM_MIME: dict(entry)}, raw=True)


def claim_problems(claim: dict) -> list[str]:
    """What is wrong with one recorded claim, as sentences (empty when nothing is).

    A claim must say which sentence it backs (``statement``) and how the reference
    value was computed independently (``method``, a phrase rather than a word),
    its error must not exceed its tolerance, and an agreement (:func:`assert_close`)
    with a tolerance looser than :data:`STRICT_TOLERANCE` must come with a
    ``reason``. A bound (:func:`assert_below`) is the claim itself, in the units
    of the quantity bounded, so its size needs no reason.
    """
    problems = []
    for key in ("label", "statement", "method"):
        if not isinstance(claim.get(key), str) or not claim[key].strip():
            problems.append(f"no {key}")
    method = claim.get("method")
    if isinstance(method, str) and method.strip() and len(method.split()) < 2:
        problems.append(f"method {method!r} does not say how the reference was computed")
    error, tolerance = claim.get("error"), claim.get("tolerance")
    numbers = all(isinstance(v, (int, float)) and np.isfinite(v) for v in (error, tolerance))
    if not numbers:
        problems.append(f"error {error!r} or tolerance {tolerance!r} is not a finite number")
    else:
        if error > tolerance:
            problems.append(f"error {error:.3g} exceeds the tolerance {tolerance:.3g}")
        reason = claim.get("reason")
        loose = tolerance > STRICT_TOLERANCE and claim.get("kind", "close") == "close"
        if loose and not (isinstance(reason, str) and reason.strip()):
            problems.append(f"tolerance {tolerance:.3g} is looser than {STRICT_TOLERANCE:g} and has no reason")
    return problems


def assert_close(actual, desired, *, rtol: float = 1e-12, atol: float = 0.0, what: str = "values",
                 method: str | None = None, statement: str | None = None, reason: str | None = None) -> None:
    """Assert ``|actual - desired| <= atol + rtol * |desired|`` entrywise, and record the claim.

    Works on numbers, numpy arrays and torch tensors. On failure the message
    names ``what`` was compared, the tolerance and the largest deviation, so a
    broken claim in a chapter says which claim broke.

    Parameters
    ----------
    actual, desired
        The value under test and the reference value.
    rtol, atol : float
        The tolerance.
    what : str
        A short label of the claim ("MAP vs ridge").
    method : str, optional
        How ``desired`` was computed, independently of ``actual`` ("BFGS on the
        negative log posterior", "scikit-learn's Ridge", "exact rationals").
    statement : str, optional
        The sentence of the chapter that this check backs.
    reason : str, optional
        Why a tolerance looser than :data:`STRICT_TOLERANCE` is the right one.
    """
    a, d = _as_numpy(actual), _as_numpy(desired)
    if a.shape != d.shape:
        raise AssertionError(f"{what}: shapes differ, {a.shape} vs {d.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(d))):
        raise AssertionError(f"{what}: non-finite values")
    err = np.abs(a - d)
    bound = atol + rtol * np.abs(d)
    # The recorded error is in the units of the tolerance: the largest
    # err / (atol + rtol |d|) scaled back to the larger of rtol and atol, so a
    # check that relies on atol (a zero target, a grid's spacing) is recorded
    # with the tolerance it actually has, not with the default rtol.
    tolerance = max(rtol, atol)
    if a.size:
        ratio = float(np.max(err / np.maximum(bound, np.finfo(np.float64).tiny)))
        error = ratio * tolerance
    else:
        error = 0.0
    record_claim(what=what, method=method, statement=statement, error=error, tolerance=tolerance,
                 reason=reason, kind="close", rtol=float(rtol), atol=float(atol))
    if np.any(err > bound):
        worst = int(np.argmax(err - bound))
        raise AssertionError(
            f"{what}: not close (rtol={rtol:g}, atol={atol:g}); "
            f"worst entry {a.flat[worst]!r} vs {d.flat[worst]!r}, "
            f"abs diff {err.flat[worst]:.3g}"
        )


def assert_below(value, bound, *, what: str, method: str | None = None, statement: str | None = None,
                 reason: str | None = None) -> None:
    """Assert ``value <= bound`` (every entry), and record the claim.

    For claims that are inequalities: "the evidence's pick is within 2% of the
    best held-out error", "the gap shrinks below 1e-3". ``value`` is recorded as
    the error and ``bound`` as the tolerance; NaN never passes.
    """
    v, b = _as_numpy(value), _as_numpy(bound)
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(b))):
        raise AssertionError(f"{what}: non-finite values")
    v, b = np.broadcast_arrays(v, b)
    # The entry nearest its own bound is the one the claim rests on: record that pair, so that
    # entrywise bounds of different sizes are not mixed up.
    i = int(np.argmax(v - b)) if v.size else None
    error, tolerance = (float(v.flat[i]), float(b.flat[i])) if i is not None else (0.0, 0.0)
    record_claim(what=what, method=method, statement=statement, error=error, tolerance=tolerance, reason=reason,
                 kind="below")
    if not np.all(v <= b):
        raise AssertionError(f"{what}: {error!r} exceeds the bound {tolerance!r} (by {error - tolerance:.3g})")
