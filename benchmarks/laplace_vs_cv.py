"""Cost of choosing weight_decay by the Laplace evidence against K-fold cross-validation.

A benchmark, not a test. The setting of chapter 7: scikit-learn's digits, 300
training images, a tanh network with one hidden layer of five units (385
parameters), the mean cross-entropy and a grid of seven ``weight_decay`` values
from 1e-1 down to 1e-4, every fit warm-started from the previous grid point's.

* evidence: per grid point one fit on the 300 images (``l2bayes.laplace.map_estimate``),
  one GGN and the Laplace log evidence;
* K-fold CV, K = 5 and 10: per grid point K fits on (K-1)/K of the images, each
  scored on the rest.

The three are interleaved grid point by grid point (:func:`paired.sliced`):
in each round the evidence does its first grid point, 5-fold CV its first,
10-fold CV its first, then each its second, and so on, the order rotated from
round to round; so all three spread over the whole round and see the same load.
(Run one after the other, 1, 3 and 7 s each, two runs a minute apart at load
2-5 read ratios up to 37% apart by the wall clock and 14% by the CPU time.)
Printed: each one's median CPU time of this process and wall time, and the
ratio CV / evidence taken round by round, its median with the interquartile
range, of the CPU time (the figure to read) and of the wall time; and which
``weight_decay`` each picks with its error on the 1497 held-out images. Usage::

    python benchmarks/laplace_vs_cv.py [ROUNDS]

Takes one to two minutes on a 2-core machine (5 rounds).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold

from l2bayes import laplace as lp
from l2bayes import prior_precision_for_weight_decay

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import Rounds, sliced  # noqa: E402

N_TRAIN = 300
WEIGHT_DECAYS = np.logspace(-1, -4, 7)
GTOL = 1e-5


def digits_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 5), torch.nn.Tanh(), torch.nn.Linear(5, 10))


def fit(model, X, y, wd):
    alpha = prior_precision_for_weight_decay(wd, len(y), loss="cross_entropy")
    lp.map_estimate(model, X, y, likelihood="classification", prior_precision=alpha, gtol=GTOL)
    return alpha


def error_rate(model, X, y):
    with torch.no_grad():
        return (model(X).argmax(1) != y).double().mean().item()


def by_evidence(X, y, picks):
    """The evidence's pick, one grid point a step (one fit, one GGN, one log evidence)."""
    model, values = digits_net(), []
    for wd in WEIGHT_DECAYS:
        alpha = fit(model, X, y, wd)
        P = lp.posterior_precision(lp.loss_hessian(model, X, y, likelihood="classification"), alpha)
        log_lik = lp.log_likelihood(model, X, y, likelihood="classification")
        values.append(lp.log_marginal_likelihood(log_lik, lp.flat_parameters(model), P, alpha))
        yield
    picks["evidence"] = int(np.argmax(values))


def by_cv(X, y, n_folds, picks):
    """K-fold CV's pick, one grid point a step (K fits, each warm-started from its fold's previous one)."""
    folds = list(KFold(n_folds, shuffle=True, random_state=0).split(X))
    models = [digits_net() for _ in folds]
    errors = np.zeros((n_folds, len(WEIGHT_DECAYS)))
    for j, wd in enumerate(WEIGHT_DECAYS):
        for k, (fit_idx, val_idx) in enumerate(folds):
            fit(models[k], X[fit_idx], y[fit_idx], wd)
            errors[k, j] = error_rate(models[k], X[val_idx], y[val_idx])
        yield
    picks[f"{n_folds}-fold CV"] = int(np.argmin(errors.mean(0)))


def main(repeats: int = 5) -> None:
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    digits = load_digits()
    perm = np.random.default_rng(1).permutation(len(digits.target))
    X, y = torch.tensor(digits.data / 16.0), torch.tensor(digits.target)
    train, held = perm[:N_TRAIN], perm[N_TRAIN:]
    lp.jacobians(digits_net(), X[:2])  # torch.func's one-time set-up, outside the timings

    def held_error(i):
        model = digits_net()
        for wd in WEIGHT_DECAYS[: i + 1]:  # the same warm-started path the pick came from
            fit(model, X[train], y[train], wd)
        return error_rate(model, X[held], y[held])

    picks, cpu = {}, {}

    def cpu_timed(name, steps):
        """``steps``'s generator, each step's CPU time of this process added up per round in ``cpu[name]``."""
        def run():
            it, total = steps(), 0.0
            while True:
                start = time.process_time()
                try:
                    next(it)
                except StopIteration:
                    break
                finally:
                    total += time.process_time() - start
                yield
            cpu.setdefault(name, []).append(total)
        return run

    runs = {"evidence": cpu_timed("evidence", lambda: by_evidence(X[train], y[train], picks))}
    for k in (5, 10):
        runs[f"{k}-fold CV"] = cpu_timed(f"{k}-fold CV", lambda k=k: by_cv(X[train], y[train], k, picks))
    r = sliced(runs, n=repeats)
    cpu_rounds = Rounds(cpu)
    print(f"{repeats} rounds, the three interleaved grid point by grid point; ratio: CV / evidence, median of "
          f"the per-round ratios [interquartile range], CPU time (the figure to read) and wall time")
    for name in r.times:
        i = picks[name]
        line = (f"{name:12s}: {cpu_rounds.median(name):6.2f} s CPU, {r.median(name):6.2f} s wall (medians); "
                f"picks wd = {WEIGHT_DECAYS[i]:.1e} (held-out error {held_error(i):.3f})")
        if name != "evidence":
            wall, proc = r.ratio(name, "evidence"), cpu_rounds.ratio(name, "evidence")
            line += f"; ratio {proc.ratio:.2f} {proc.spread()} CPU, {wall.ratio:.2f} {wall.spread()} wall"
        print(line)

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
