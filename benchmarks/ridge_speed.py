"""Speed of l2bayes.ridge_fit and ridge_path against their peers, measured side by side.

A benchmark, not a test. In one run, on the same data:

* ``ridge_fit`` against scikit-learn's ``Ridge(alpha=lam, fit_intercept=False)``
  (its default solver, Cholesky on the normal equations) and numpy's ``lstsq``
  on the augmented system ``[X; sqrt(lam) I] theta = [y; 0]``, at n = 100,000
  with d = 500 and d = 2,000 (primal form), and at n = 500, d = 5,000 (dual form);
  goal: within 1.2x of the fastest peer, same answer to 1e-10 relative;
* ``ridge_path`` over 100 penalties against 100 separate ``ridge_fit`` calls;
  goal: at least 10x faster.

The variants run interleaved, A, B, A, B, ... (``benchmarks/paired.py``), and
each ratio is the median of the paired ratios with their interquartile range
(the machine may be shared). BLAS runs on one thread by
default (``--blas-threads N`` for more), for every variant alike: on a 2-core
machine, with two BLAS threads, the paired ratios of the short fits (d = 500 and
the dual form) spread from 0.43 to 0.97 within one run and their medians moved by
10-30% from run to run; on one thread the spread is 0.76-0.79 and four medians in a
row agree within 3%. On one thread each unit is timed by this process's CPU time:
two runs a few minutes apart then agreed within 9% on every row (within 1% against
scikit-learn). Two BLAS threads also slowed 100 short ``ridge_fit`` calls (d = 300)
2.4-fold, so that ``ridge_path``'s speed-up read 18x with them and reads 6-7x on one
thread, short of the 10x goal. torch is not involved. Usage::

    python benchmarks/ridge_speed.py [--blas-threads 1]

Takes several minutes and a few GB of memory (X at n = 100,000, d = 2,000 is 1.6 GB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from paired import paired

from l2bayes import ridge_fit, ridge_path

GOAL_FIT = 1.2
GOAL_PATH = 10.0


def rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    return X, y


def augmented_lstsq(X, y, lam):
    d = X.shape[1]
    A = np.vstack([X, np.sqrt(lam) * np.eye(d)])
    return np.linalg.lstsq(A, np.concatenate([y, np.zeros(d)]), rcond=None)[0]


#: What a unit's time is read from: this process's CPU time while BLAS has one thread (a unit preempted
#: by another program is not charged for the wait), the wall time with more (``main`` sets it).
CLOCK = time.process_time


def median_of_calls(fn, calls):
    """A unit for :func:`paired` that calls ``fn`` ``calls`` times and reports the median call's time."""
    def unit():
        times = []
        for _ in range(calls):
            start = CLOCK()
            fn()
            times.append(CLOCK() - start)
        return statistics.median(times)
    return unit


def ratio_text(r):
    # three significant digits: ridge_fit against lstsq in the dual form is about 0.001
    return f"{r.ratio:.3g} (IQR [{r.low:.3g}, {r.high:.3g}], {r.pairs} pairs)"


def compare_fit(n, d, lam, repeats, lstsq_repeats):
    X, y = data(n, d)
    fit_ours = lambda: ridge_fit(X, y, lam)  # noqa: E731
    fit_sklearn = lambda: Ridge(alpha=lam, fit_intercept=False).fit(X, y).coef_  # noqa: E731
    fit_lstsq = lambda: augmented_lstsq(X, y, lam)  # noqa: E731
    start = CLOCK()
    theta = fit_ours()
    # Against lstsq (one or two pairs, each a second to half a minute of it), ridge_fit's half of a
    # pair is the median of up to 9 calls, about 3 s of them: one call of 20-80 ms alone set the
    # dual form's ratio, which two runs a minute apart read as 0.001 and 0.003 (on two BLAS threads).
    # Against sklearn a half is one call.
    calls = max(1, min(9, int(3.0 / (CLOCK() - start))))
    form = "primal" if n >= d else "dual"
    print(f"\nn = {n:,}, d = {d:,}, lam = {lam:g} ({form} form); ridge_fit / peer, interleaved pairs")
    worst = 0.0
    for name, peer, ours, pairs in (("sklearn Ridge", fit_sklearn, fit_ours, repeats),
                                    ("numpy lstsq, augmented", fit_lstsq, median_of_calls(fit_ours, calls), lstsq_repeats)):
        r = paired(peer, ours, pairs=pairs, warmup=0, clock=CLOCK)
        worst = max(worst, r.ratio)
        print(f"  {name:26s} {r.a:8.3f} s   ridge_fit {r.b:8.3f} s   ratio {ratio_text(r)}   "
              f"max rel diff {rel_diff(theta, peer()):.1e}")
    verdict = "meets" if worst <= GOAL_FIT else "MISSES"
    print(f"  ridge_fit / fastest peer = {worst:.2f}x ({verdict} the {GOAL_FIT}x goal)")


def compare_path(n, d, n_lams, repeats):
    X, y = data(n, d, seed=1)
    lams = np.logspace(-3, 3, n_lams) * n
    run_path = lambda: ridge_path(X, y, lams)  # noqa: E731
    run_loop = lambda: np.array([ridge_fit(X, y, lam) for lam in lams])  # noqa: E731
    r = paired(run_path, run_loop, pairs=repeats, warmup=1, clock=CLOCK)
    verdict = "meets" if r.ratio >= GOAL_PATH else "MISSES"
    print(f"\nridge_path over {n_lams} penalties, n = {n:,}, d = {d:,}, interleaved pairs")
    print(f"  ridge_path (one SVD)      {r.a:8.3f} s")
    print(f"  {n_lams} x ridge_fit           {r.b:8.3f} s   speed-up {r} ({verdict} the {GOAL_PATH:.0f}x goal)"
          f"   max rel diff {rel_diff(run_path(), run_loop()):.1e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads for every variant (default 1)")
    args = parser.parse_args(argv)
    if args.blas_threads < 1:
        parser.error(f"--blas-threads must be at least 1, got {args.blas_threads}")
    global CLOCK
    CLOCK = time.process_time if args.blas_threads == 1 else time.perf_counter
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        print(f"BLAS threads: {args.blas_threads}; numpy {np.__version__}; "
              f"times: {'CPU time of this process' if args.blas_threads == 1 else 'wall time'}")
        start = time.perf_counter()
        # Pairs: as many as a few seconds buy where a fit is short; one where it takes half a minute.
        compare_fit(100_000, 500, lam=10.0, repeats=15, lstsq_repeats=2)
        compare_fit(100_000, 2_000, lam=10.0, repeats=2, lstsq_repeats=1)
        compare_fit(500, 5_000, lam=10.0, repeats=41, lstsq_repeats=1)
        compare_path(20_000, 300, n_lams=100, repeats=3)
        print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
