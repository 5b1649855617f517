"""The one place that sets global state: the hidden setup cell of every chapter.

Each chapter notebook starts with a cell tagged ``remove-cell`` that calls
:func:`setup_notebook`. It is hidden on the website, so the visible chapter
starts with the idea rather than with boilerplate.
"""

from __future__ import annotations

import random

import numpy as np

from l2bayes.plotting import use_book_style


def setup_notebook(seed: int = 0, *, float64: bool = True) -> None:
    """Seed, pin threads, pick the dtype and apply the plot style.

    Sets, globally and on purpose:

    * Python's, numpy's legacy and torch's random seeds to ``seed``;
    * ``torch.set_num_threads(1)`` and one BLAS thread for numpy and scipy
      (``threadpoolctl``): on two-core machines more threads made small tensor
      operations about 30 times slower, and many small linear solves about 4 times;
    * torch's default dtype to float64 when ``float64`` is true, because the
      chapters assert equivalences to 1e-12 and float32 cannot resolve that;
    * matplotlib's rcParams to the book's style (:func:`l2bayes.plotting.use_book_style`)
      and, inside IPython, vector (SVG) inline figures.

    Chapters still draw their data from explicit generators
    (``np.random.default_rng(seed)``); the global seeds guard anything that
    does not take one.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(float64, bool):
        raise ValueError(f"float64 must be True or False, got {float64!r}")
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    torch.set_default_dtype(torch.float64 if float64 else torch.float32)
    use_book_style()
    _inline_svg()


def _inline_svg() -> None:
    """Ask IPython's inline backend for SVG figures, when running under IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("svg")


