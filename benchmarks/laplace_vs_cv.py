"""Cost of choosing weight_decay by the Laplace evidence against K-fold cross-validation.

A benchmark, not a test. The setting of chapter 7: scikit-learn's digits, 300
training images, a tanh network with one hidden layer of five units (385
parameters), the mean cross-entropy and a grid of seven ``weight_decay`` values
from 1e-1 down to 1e-4, every fit warm-started from the previous grid point's.

* evidence: per grid point one fit on the 300 images (``l2bayes.laplace.map_estimate``),
  one GGN and the Laplace log evidence;
* K-fold CV, K = 5 and 10: per grid point K fits on (K-1)/K of the images, each
  scored on the rest.

Prints the wall time and the CPU time of this process for each (best of a few
repeats: the machine may be shared), the ratio CV / evidence, and which
``weight_decay`` each picks with its error on the 1497 held-out images. Usage::

    python benchmarks/laplace_vs_cv.py [REPEATS]

Takes about a minute on a 2-core machine.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold

from l2bayes import laplace as lp
from l2bayes import prior_precision_for_weight_decay

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


def by_evidence(X, y):
    model, values = digits_net(), []
    for wd in WEIGHT_DECAYS:
        alpha = fit(model, X, y, wd)
        P = lp.posterior_precision(lp.loss_hessian(model, X, y, likelihood="classification"), alpha)
        log_lik = lp.log_likelihood(model, X, y, likelihood="classification")
        values.append(lp.log_marginal_likelihood(log_lik, lp.flat_parameters(model), P, alpha))
    return int(np.argmax(values))


def by_cv(X, y, n_folds):
    errors = np.zeros((n_folds, len(WEIGHT_DECAYS)))
    for k, (fit_idx, val_idx) in enumerate(KFold(n_folds, shuffle=True, random_state=0).split(X)):
        model = digits_net()
        for j, wd in enumerate(WEIGHT_DECAYS):
            fit(model, X[fit_idx], y[fit_idx], wd)
            errors[k, j] = error_rate(model, X[val_idx], y[val_idx])
    return int(np.argmin(errors.mean(0)))


def timed(fn, repeats):
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, out


def main(repeats: int = 3) -> None:
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

    ev_wall, ev_cpu, i_ev = timed(lambda: by_evidence(X[train], y[train]), repeats)
    print(f"evidence      : {ev_wall:6.2f} s wall, {ev_cpu:6.2f} s CPU; picks wd = {WEIGHT_DECAYS[i_ev]:.1e} "
          f"(held-out error {held_error(i_ev):.3f})")
    for n_folds in (5, 10):
        cv_wall, cv_cpu, i_cv = timed(lambda: by_cv(X[train], y[train], n_folds), repeats)
        print(f"{n_folds:2d}-fold CV    : {cv_wall:6.2f} s wall, {cv_cpu:6.2f} s CPU; picks wd = {WEIGHT_DECAYS[i_cv]:.1e} "
              f"(held-out error {held_error(i_cv):.3f}); ratio CV / evidence: {cv_wall / ev_wall:.1f} wall, "
              f"{cv_cpu / ev_cpu:.1f} CPU")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
