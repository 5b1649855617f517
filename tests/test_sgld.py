"""l2bayes.sgld_temperature and l2bayes.optim.SGLD: the temperature, the step, the stationary law."""

import math

import numpy as np
import pytest
import torch

import l2bayes
from l2bayes import optim, sgld_temperature, weight_decay_for_prior

torch.set_num_threads(1)


# --- sgld_temperature --------------------------------------------------------------------------


@pytest.mark.parametrize("n, noise_std", [(1, 1.0), (37, 0.3), (500, 2.5)])
def test_temperature_turns_the_mean_mse_objective_into_the_negative_log_posterior(n, noise_std):
    # The negative log posterior, written out from the Gaussian densities (normalising constants
    # cancel in differences), against the mean objective divided by T.
    rng = np.random.default_rng(n)
    d, prior_std = 3, 0.7
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    wd = weight_decay_for_prior(prior_std, n, noise_std=noise_std)
    T = sgld_temperature(n, noise_std=noise_std)

    def neg_log_post(theta):
        return -np.sum(-0.5 * ((y - X @ theta) / noise_std) ** 2) - np.sum(-0.5 * (theta / prior_std) ** 2)

    def mean_objective(theta):
        return np.mean((y - X @ theta) ** 2) + wd / 2 * theta @ theta

    a, b = rng.standard_normal(d), rng.standard_normal(d)
    assert math.isclose(neg_log_post(a) - neg_log_post(b), (mean_objective(a) - mean_objective(b)) / T, rel_tol=1e-10)


def test_temperature_turns_the_mean_cross_entropy_into_the_negative_log_posterior():
    g = torch.Generator().manual_seed(3)
    n, d, k, prior_std = 40, 4, 3, 1.3
    X, y = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, k, (n,), generator=g)
    wd = weight_decay_for_prior(prior_std, n, loss="cross_entropy")
    T = sgld_temperature(n, loss="cross_entropy")

    def neg_log_post(W):  # categorical likelihood and Gaussian prior, from torch's distributions
        like = torch.distributions.Categorical(logits=X @ W).log_prob(y).sum()
        prior = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), prior_std).log_prob(W).sum()
        return -(like + prior)

    def mean_objective(W):
        return torch.nn.functional.cross_entropy(X @ W, y) + wd / 2 * (W**2).sum()

    A, B = torch.randn(d, k, generator=g, dtype=torch.float64), torch.randn(d, k, generator=g, dtype=torch.float64)
    lhs = (neg_log_post(A) - neg_log_post(B)).item()
    rhs = ((mean_objective(A) - mean_objective(B)) / T).item()
    assert math.isclose(lhs, rhs, rel_tol=1e-10)


def test_temperature_values():
    assert sgld_temperature(100) == 0.02
    assert sgld_temperature(50, noise_std=0.5) == 2 * 0.25 / 50
    assert sgld_temperature(8, loss="cross_entropy") == 0.125
    assert l2bayes.sgld_temperature is sgld_temperature


@pytest.mark.parametrize("call, name", [
    (lambda: sgld_temperature(0), "n"),
    (lambda: sgld_temperature(2.5), "n"),
    (lambda: sgld_temperature(True), "n"),
    (lambda: sgld_temperature(10, loss="nll"), "loss"),
    (lambda: sgld_temperature(10, noise_std=0.0), "noise_std"),
    (lambda: sgld_temperature(10, noise_std=float("nan")), "noise_std"),
    (lambda: sgld_temperature(10, loss="cross_entropy", noise_std=2.0), "noise_std"),
])
def test_temperature_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --- SGLD: one step, determinism, the two paths -------------------------------------------------


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=g, dtype=torch.float64)) for shape in [(3, 2), (4,), ()]]


def _grads(params, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params]


@pytest.mark.parametrize("foreach", [False, True])
def test_one_step_is_sgd_plus_gaussian_noise_of_std_sqrt_2_lr_t(foreach):
    lr, wd, T = 0.05, 0.3, 0.7
    params = _params()
    before = [p.detach().clone() for p in params]
    grads = _grads(params)
    opt = optim.SGLD(params, lr=lr, weight_decay=wd, temperature=T, generator=torch.Generator().manual_seed(9),
                     foreach=foreach)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    # The same noise from a fresh generator with the same seed, in the order of the parameters.
    twin = torch.Generator().manual_seed(9)
    for p, theta, g in zip(params, before, grads):
        xi = torch.randn(theta.shape, generator=twin, dtype=torch.float64)
        expected = theta.numpy() - lr * (g.numpy() + wd * theta.numpy()) + math.sqrt(2 * lr * T) * xi.numpy()
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("foreach", [False, True])
def test_zero_temperature_is_torch_sgd_bit_for_bit(foreach):
    ours, theirs = _params(), _params()
    opt_ours = optim.SGLD(ours, lr=0.1, weight_decay=0.05, temperature=0.0, foreach=foreach)
    opt_theirs = torch.optim.SGD(theirs, lr=0.1, weight_decay=0.05, foreach=foreach)
    for step in range(4):
        for a, b, g in zip(ours, theirs, _grads(ours, seed=step)):
            a.grad, b.grad = g.clone(), g.clone()
        opt_ours.step(), opt_theirs.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def _chain(seed, foreach=False, steps=5):
    params = _params()
    opt = optim.SGLD(params, lr=0.02, weight_decay=0.1, temperature=0.3,
                     generator=None if seed is None else torch.Generator().manual_seed(seed), foreach=foreach)
    for step in range(steps):
        for p, g in zip(params, _grads(params, seed=step)):
            p.grad = g
        opt.step()
    return [p.detach().clone() for p in params]


def test_a_seeded_generator_makes_the_chain_reproducible_and_the_paths_agree():
    a, b, other = _chain(4), _chain(4), _chain(5)
    fast = _chain(4, foreach=True)
    for x, y, z, w in zip(a, b, other, fast):
        assert torch.equal(x, y)
        assert not torch.equal(x, z)
        torch.testing.assert_close(x, w, rtol=1e-14, atol=1e-15)


def test_the_global_generator_is_used_without_one():
    torch.manual_seed(11)
    a = _chain(None)
    torch.manual_seed(11)
    b = _chain(None)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_parameters_without_gradients_do_not_move():
    params = _params()
    frozen = params[1].detach().clone()
    opt = optim.SGLD(params, lr=0.1, temperature=1.0)
    params[0].grad = torch.zeros_like(params[0])
    opt.step()
    assert torch.equal(params[1].detach(), frozen)


# --- SGLD: the stationary law on a quadratic -----------------------------------------------------


def test_the_chain_samples_the_discretised_gaussian_on_a_quadratic():
    # Phi(theta) = a theta^2 / 2 per coordinate: the chain is an AR(1) with rho = 1 - lr a whose
    # stationary variance is T / (a (1 - lr a / 2)) exactly. 4000 independent coordinates, 300
    # steps after the chain forgot its start (rho^300 < 1e-13); the variance of the sample
    # variance of 4000 Gaussian draws is 2 v^2 / 4000, so 5 standard errors is 11%.
    a, lr, T, dim = 2.0, 0.1, 0.5, 4000
    theta = torch.nn.Parameter(torch.full((dim,), 3.0, dtype=torch.float64))
    opt = optim.SGLD([theta], lr=lr, temperature=T, generator=torch.Generator().manual_seed(0))
    for _ in range(300):
        theta.grad = a * theta.detach()
        opt.step()
    exact = T / (a * (1 - lr * a / 2))
    sample = theta.detach().numpy()
    se = exact * math.sqrt(2 / dim)
    assert abs(sample.var() - exact) < 5 * se
    assert abs(sample.mean()) < 5 * math.sqrt(exact / dim)
    assert abs(sample.var() - T / a) > 2 * se  # the step's bias, 5.6%, is visible at this size


# --- SGLD: bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=0.0, temperature=1.0), "lr"),
    (dict(lr=-0.1, temperature=1.0), "lr"),
    (dict(lr=float("inf"), temperature=1.0), "lr"),
    (dict(lr=0.1, temperature=-1.0), "temperature"),
    (dict(lr=0.1, temperature=None), "temperature"),
    (dict(lr=0.1, temperature="cold"), "temperature"),
    (dict(lr=0.1, weight_decay=-0.01, temperature=1.0), "weight_decay"),
    (dict(lr=0.1, temperature=1.0, generator=0), "generator"),
    (dict(lr=0.1, temperature=1.0, foreach=1), "foreach"),
])
def test_sgld_bad_inputs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        optim.SGLD(_params(), **kwargs)


def test_sgld_needs_a_temperature_and_refuses_unknown_group_keys():
    with pytest.raises(TypeError, match="temperature"):
        optim.SGLD(_params(), lr=0.1)
    with pytest.raises(ValueError, match="temprature"):
        optim.SGLD([{"params": _params(), "temprature": 0.1}], lr=0.1, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        optim.SGLD([{"params": _params(), "temperature": -2.0}], lr=0.1, temperature=1.0)
