"""Tests of l2bayes.deep: filter factors, AdamW's timescale, the equilibrium norm and the decay groups."""

import math

import numpy as np
import pytest
import torch

from l2bayes import weight_decay_for_prior
from l2bayes.deep import (adamw_timescale, decay_param_groups, early_stopping_lam, equilibrium_norm, gd_filter_factors,
                          ridge_filter_factors, weight_decay_for_timescale)
from l2bayes.optim import check_param_groups


def test_gd_filter_factors_match_the_gradient_descent_loop():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5)) * np.array([3.0, 1.0, 0.5, 0.1, 0.01])
    y = rng.standard_normal(30)
    U, delta, Vt = np.linalg.svd(X, full_matrices=False)
    lr, theta = 0.9 / delta.max() ** 2, np.zeros(5)
    for t in range(1, 51):
        theta = theta + lr * X.T @ (y - X @ theta)
    expected = Vt.T @ (gd_filter_factors(delta, lr, 50) * (U.T @ y) / delta)
    np.testing.assert_allclose(theta, expected, rtol=1e-9, atol=1e-12)


def test_gd_filter_factors_small_values_do_not_cancel_and_edge_values():
    # 1 - (1 - x)^t loses digits for tiny x; the factor is then t x to first order
    f = gd_filter_factors(np.array([1e-9]), 1.0, 10)
    assert f[0] == pytest.approx(10 * 1e-18, rel=1e-8)
    assert np.all(gd_filter_factors([1.0, 2.0], 0.1, 0) == 0.0)
    np.testing.assert_allclose(gd_filter_factors([1.0], 1.5, 3), [1 - (-0.5) ** 3], rtol=1e-14)  # 1 <= x < 2 path


def test_ridge_filter_factors_and_the_early_stopping_lam():
    delta = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(ridge_filter_factors(delta, 0.25), [0.0, 0.5, 4 / 4.25], rtol=1e-14)
    assert ridge_filter_factors(np.array([0.0]), 0.0)[0] == 0.0
    assert early_stopping_lam(0.01, 200) == pytest.approx(0.5)
    # for eta delta^2 -> 0 the factors are 1 - exp(-u) and u / (1 + u): equal to first order in u
    u = 1e-4
    gd = gd_filter_factors(np.array([math.sqrt(u / (1e-6 * 1000))]), 1e-6, 1000)[0]
    rf = ridge_filter_factors(np.array([math.sqrt(u / (1e-6 * 1000))]), early_stopping_lam(1e-6, 1000))[0]
    assert abs(gd - rf) < u**2


def test_adamw_timescale_and_its_inverse():
    assert adamw_timescale(1e-3, 0.1) == pytest.approx(1e4)
    assert adamw_timescale(1e-3, 0.1, n=50_000, batch_size=100) == pytest.approx(20.0)
    for n in (500, 5000, 50_000):
        wd = weight_decay_for_timescale(5.0, 1e-3, n, 50)
        assert adamw_timescale(1e-3, wd, n=n, batch_size=50) == pytest.approx(5.0, rel=1e-12)
        # the same wd as the Bayesian conversion with sigma^2 = lr tau / B
        assert wd == pytest.approx(weight_decay_for_prior(math.sqrt(1e-3 * 5.0 / 50), n, loss="cross_entropy"), rel=1e-12)


def test_adamw_shrink_matches_torch_for_a_weight_without_gradient():
    w = torch.nn.Parameter(torch.tensor([2.0, -1.0], dtype=torch.float64))
    opt = torch.optim.AdamW([w], lr=0.01, weight_decay=0.5)
    for _ in range(100):
        w.grad = torch.zeros_like(w)
        opt.step()
    tau = adamw_timescale(0.01, 0.5)
    np.testing.assert_allclose(w.detach().numpy(), np.array([2.0, -1.0]) * (1 - 1 / tau) ** 100, rtol=1e-12)


def test_equilibrium_norm_is_the_fixed_point_of_the_norm_recursion():
    lr, wd, G = 0.3, 0.05, 2.0
    r = 1.0
    for _ in range(20_000):
        r = math.sqrt((1 - lr * wd) ** 2 * r**2 + lr**2 * G**2 / r**2)
    assert equilibrium_norm(lr, wd, G) == pytest.approx(r, rel=1e-10)


def test_decay_param_groups_by_module_type():
    model = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.BatchNorm1d(3), torch.nn.Flatten(),
                                torch.nn.Linear(6, 4), torch.nn.LayerNorm(4), torch.nn.Embedding(5, 4))
    model.tied = model[3]  # a module registered twice: its parameters are listed once
    groups = decay_param_groups(model, 0.1)
    opt = check_param_groups(torch.optim.AdamW(groups, lr=1e-3))
    decayed = {id(p) for p in groups[0]["params"]}
    assert decayed == {id(model[0].weight), id(model[3].weight)}
    listed = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in model.parameters()) and len(set(listed)) == len(listed)
    assert groups[1]["weight_decay"] == 0.0 and groups[0]["weight_decay"] == 0.1


@pytest.mark.parametrize("call, name", [
    (lambda: gd_filter_factors([-1.0], 0.1, 3), "delta"),
    (lambda: gd_filter_factors([1.0], 0.0, 3), "lr"),
    (lambda: gd_filter_factors([1.0], 0.1, -1), "num_steps"),
    (lambda: gd_filter_factors([1.0], 0.1, 2.5), "num_steps"),
    (lambda: gd_filter_factors([10.0], 0.1, 3), "lr"),
    (lambda: ridge_filter_factors([1.0], -1.0), "lam"),
    (lambda: early_stopping_lam(0.1, 0), "num_steps"),
    (lambda: adamw_timescale(0.0, 0.1), "lr"),
    (lambda: adamw_timescale(0.1, -0.1), "weight_decay"),
    (lambda: adamw_timescale(0.1, 0.1, n=100), "batch_size"),
    (lambda: adamw_timescale(0.1, 0.1, n=10, batch_size=20), "batch_size"),
    (lambda: weight_decay_for_timescale(0.0, 0.1, 10, 2), "tau_epochs"),
    (lambda: weight_decay_for_timescale(1.0, 0.1, 10, 20), "batch_size"),
    (lambda: equilibrium_norm(0.1, 0.1, -1.0), "unit_grad_norm"),
    (lambda: equilibrium_norm(10.0, 0.5, 1.0), "lr \\* weight_decay"),
    (lambda: decay_param_groups("model", 0.1), "model"),
    (lambda: decay_param_groups(torch.nn.Linear(2, 2), -0.1), "weight_decay"),
])
def test_bad_inputs_raise_value_errors_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
