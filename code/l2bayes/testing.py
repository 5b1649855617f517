"""Assertions with a stated tolerance, for the claims the chapters make."""

from __future__ import annotations

import numpy as np


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


def assert_close(actual, desired, *, rtol: float = 1e-12, atol: float = 0.0, what: str = "values") -> None:
    """Assert ``|actual - desired| <= atol + rtol * |desired|`` entrywise.

    Works on numbers, numpy arrays and torch tensors. On failure the message
    names ``what`` was compared, the tolerance and the largest deviation, so a
    broken claim in a chapter says which claim broke.
    """
    a, d = _as_numpy(actual), _as_numpy(desired)
    if a.shape != d.shape:
        raise AssertionError(f"{what}: shapes differ, {a.shape} vs {d.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(d))):
        raise AssertionError(f"{what}: non-finite values")
    err = np.abs(a - d)
    bound = atol + rtol * np.abs(d)
    if np.any(err > bound):
        worst = int(np.argmax(err - bound))
        raise AssertionError(
            f"{what}: not close (rtol={rtol:g}, atol={atol:g}); "
            f"worst entry {a.flat[worst]!r} vs {d.flat[worst]!r}, "
            f"abs diff {err.flat[worst]:.3g}"
        )
