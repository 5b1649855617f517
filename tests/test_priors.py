"""Tests of l2bayes.priors: the densities, the penalties and the conversions."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from l2bayes import (
    gaussian_log_prior,
    l2_penalty,
    lam_for_prior,
    prior_std_for_lam,
    prior_std_for_weight_decay,
    ridge_lam_for_prior,
    weight_decay_for_prior,
)

stds = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
sizes = st.integers(min_value=1, max_value=10**7)


def test_gaussian_log_prior_matches_torch_isotropic_and_diagonal():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(7)
    for prior_std in (0.3, rng.uniform(0.1, 3.0, size=7)):
        for mean in (None, rng.standard_normal(7)):
            loc = torch.zeros(7, dtype=torch.float64) if mean is None else torch.tensor(mean)
            expected = torch.distributions.Normal(loc, torch.as_tensor(prior_std, dtype=torch.float64)).log_prob(torch.tensor(theta)).sum()
            assert gaussian_log_prior(theta, prior_std, mean) == pytest.approx(expected.item(), rel=1e-13)


def test_gaussian_log_prior_keeps_the_normalising_constant():
    # At theta = mean only the constant -d/2 log(2 pi sigma^2) is left.
    assert gaussian_log_prior(np.zeros(4), 2.0) == pytest.approx(-2 * math.log(2 * math.pi * 4.0), rel=1e-14)


def test_l2_penalty_is_the_prior_up_to_a_constant():
    rng = np.random.default_rng(1)
    prior_std, mu = 0.7, rng.standard_normal(5)
    lam = lam_for_prior(prior_std)
    gaps = [
        -gaussian_log_prior(t, prior_std, mu) - l2_penalty(t, lam, mu) for t in rng.standard_normal((20, 5))
    ]
    assert np.ptp(gaps) < 1e-12
    assert gaps[0] == pytest.approx(2.5 * math.log(2 * math.pi * prior_std**2), rel=1e-13)


def test_l2_penalty_values():
    assert l2_penalty([3.0, 4.0], 2.0) == pytest.approx(25.0)
    assert l2_penalty([3.0, 4.0], 2.0, centre=[3.0, 4.0]) == 0.0
    assert l2_penalty([1.0, 1.0], [2.0, 4.0]) == pytest.approx(3.0)  # one lambda per parameter


def test_lam_for_prior_per_parameter():
    np.testing.assert_allclose(lam_for_prior([0.5, 2.0]), [4.0, 0.25], rtol=1e-15)
    assert lam_for_prior(0.5) == 4.0


def test_ridge_lam():
    assert ridge_lam_for_prior(2.0, noise_std=0.5) == pytest.approx(0.0625)


def test_weight_decay_values():
    assert weight_decay_for_prior(0.5, 10, noise_std=2.0) == pytest.approx(2 * 4.0 / (10 * 0.25))
    assert weight_decay_for_prior(0.5, 10, loss="cross_entropy") == pytest.approx(1 / (10 * 0.25))


@given(prior_std=stds, n=sizes, noise_std=stds, loss=st.sampled_from(["mse", "cross_entropy"]))
def test_weight_decay_conversions_are_inverses(prior_std, n, noise_std, loss):
    kw = {"loss": loss, "noise_std": noise_std if loss == "mse" else 1.0}
    wd = weight_decay_for_prior(prior_std, n, **kw)
    assert prior_std_for_weight_decay(wd, n, **kw) == pytest.approx(prior_std, rel=1e-12)
    assert weight_decay_for_prior(prior_std_for_weight_decay(wd, n, **kw), n, **kw) == pytest.approx(wd, rel=1e-12)


@given(prior_std=stds)
def test_lam_conversions_are_inverses(prior_std):
    assert prior_std_for_lam(lam_for_prior(prior_std)) == pytest.approx(prior_std, rel=1e-13)


def _posterior_mean(X, y, prior_std, noise_std):
    """Bayesian posterior mean by conditioning in data space: sigma^2 X^T (s^2 I + sigma^2 X X^T)^-1 y."""
    n = X.shape[0]
    K = noise_std**2 * np.eye(n) + prior_std**2 * X @ X.T
    return prior_std**2 * X.T @ np.linalg.solve(K, y)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(5, 40),
    d=st.integers(1, 4),
    prior_std=st.floats(0.2, 5.0),
    noise_std=st.floats(0.1, 2.0),
)
def test_full_batch_sgd_with_weight_decay_reaches_the_posterior_mean(seed, n, d, prior_std, noise_std):
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + noise_std * rng.standard_normal(n)
    wd = weight_decay_for_prior(prior_std, n, noise_std=noise_std)
    # gradient of MSELoss + wd/2 ||theta||^2 has Hessian 2 X^T X / n + wd I
    eig = np.linalg.eigvalsh(2 * X.T @ X / n)
    lr = 2.0 / (eig.max() + eig.min() + 2 * wd)  # optimal step for a quadratic
    rate = (eig.max() - eig.min()) / (eig.max() + eig.min() + 2 * wd)
    steps = int(min(20000, math.ceil(math.log(1e-14) / math.log(max(rate, 1e-300))) + 10))
    theta = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=lr, weight_decay=wd)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(Xt @ theta, yt).backward()
        opt.step()
    expected = _posterior_mean(X, y, prior_std, noise_std)
    np.testing.assert_allclose(theta.detach().numpy(), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: weight_decay_for_prior(0.0, 10), "prior_std"),
        (lambda: weight_decay_for_prior(-1.0, 10), "prior_std"),
        (lambda: weight_decay_for_prior(float("nan"), 10), "prior_std"),
        (lambda: weight_decay_for_prior(float("inf"), 10), "prior_std"),
        (lambda: weight_decay_for_prior("1", 10), "prior_std"),
        (lambda: weight_decay_for_prior(1.0, 0), "n"),
        (lambda: weight_decay_for_prior(1.0, 2.5), "n"),
        (lambda: weight_decay_for_prior(1.0, True), "n"),
        (lambda: weight_decay_for_prior(1.0, 10, loss="mae"), "loss"),
        (lambda: weight_decay_for_prior(1.0, 10, noise_std=0.0), "noise_std"),
        (lambda: weight_decay_for_prior(1.0, 10, loss="cross_entropy", noise_std=2.0), "noise_std"),
        (lambda: prior_std_for_weight_decay(0.0, 10), "weight_decay"),
        (lambda: prior_std_for_weight_decay(float("nan"), 10), "weight_decay"),
        (lambda: prior_std_for_weight_decay(0.1, -3), "n"),
        (lambda: prior_std_for_weight_decay(0.1, 10, loss="xent"), "loss"),
        (lambda: gaussian_log_prior([1.0, np.nan], 1.0), "theta"),
        (lambda: gaussian_log_prior([], 1.0), "theta"),
        (lambda: gaussian_log_prior([1.0, 2.0], [1.0, 2.0, 3.0]), "prior_std"),
        (lambda: gaussian_log_prior([1.0, 2.0], [1.0, -2.0]), "prior_std"),
        (lambda: gaussian_log_prior([1.0, 2.0], 1.0, mean=[0.0, 0.0, 0.0]), "mean"),
        (lambda: l2_penalty([1.0, 2.0], -1.0), "lam"),
        (lambda: l2_penalty([1.0, 2.0], [1.0, 1.0, 1.0]), "lam"),
        (lambda: l2_penalty([1.0, 2.0], 1.0, centre=[1.0]*3), "mean"),
        (lambda: lam_for_prior(0.0), "prior_std"),
        (lambda: prior_std_for_lam(0.0), "lam"),
        (lambda: ridge_lam_for_prior(1.0, noise_std=-1.0), "noise_std"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_prior_precision_for_weight_decay_is_n_wd_over_the_loss_scale():
    from l2bayes.priors import prior_precision_for_weight_decay

    # The mapping, written out: n wd for the mean cross-entropy, n wd / (2 s^2) for the mean MSE.
    assert prior_precision_for_weight_decay(3e-3, 400, loss="cross_entropy") == pytest.approx(400 * 3e-3, rel=1e-15)
    assert prior_precision_for_weight_decay(3e-3, 400, noise_std=0.2) == pytest.approx(400 * 3e-3 / (2 * 0.04), rel=1e-14)
    assert prior_precision_for_weight_decay(0.0, 10) == 0.0


@settings(max_examples=50, deadline=None)
@given(prior_std=stds, n=sizes, noise_std=stds)
def test_prior_precision_for_weight_decay_inverts_weight_decay_for_prior(prior_std, n, noise_std):
    from l2bayes.priors import prior_precision_for_weight_decay

    for loss, s in (("mse", noise_std), ("cross_entropy", 1.0)):
        wd = weight_decay_for_prior(prior_std, n, loss=loss, noise_std=s)
        assert prior_precision_for_weight_decay(wd, n, loss=loss, noise_std=s) == pytest.approx(1 / prior_std**2, rel=1e-12)


def test_prior_precision_for_weight_decay_matches_the_mean_loss_gradient():
    # Independently: the gradient of n * (mean NLL + wd/2 ||theta||^2) is grad(summed NLL) + n wd theta,
    # so n * wd is the prior precision per unit of summed NLL; for MSE the summed NLL is sum r^2 / (2 s^2)
    # and MSELoss's n * mean is sum r^2, a factor 2 s^2 larger.
    from l2bayes.priors import prior_precision_for_weight_decay

    gen = torch.Generator().manual_seed(3)
    X, y = torch.randn(30, 4, generator=gen, dtype=torch.float64), torch.randn(30, generator=gen, dtype=torch.float64)
    theta = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    wd, s = 0.07, 0.4
    mean_objective = torch.nn.functional.mse_loss(X @ theta, y) + wd / 2 * theta.square().sum()
    (g_mean,) = torch.autograd.grad(mean_objective, theta)
    alpha = prior_precision_for_weight_decay(wd, 30, noise_std=s)
    summed_objective = (y - X @ theta).square().sum() / (2 * s**2) + alpha / 2 * theta.square().sum()
    (g_sum,) = torch.autograd.grad(summed_objective, theta)
    # The two objectives are proportional (factor n / (2 s^2)), so their gradients are too.
    assert torch.allclose(g_sum, 30 / (2 * s**2) * g_mean, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(weight_decay=-1e-3, n=10), "weight_decay"),
        (dict(weight_decay=float("nan"), n=10), "weight_decay"),
        (dict(weight_decay=1e-3, n=0), "n"),
        (dict(weight_decay=1e-3, n=10, loss="hinge"), "loss"),
        (dict(weight_decay=1e-3, n=10, noise_std=0.0), "noise_std"),
        (dict(weight_decay=1e-3, n=10, loss="cross_entropy", noise_std=2.0), "noise_std"),
    ],
)
def test_prior_precision_for_weight_decay_rejects_bad_input(kwargs, name):
    from l2bayes.priors import prior_precision_for_weight_decay

    with pytest.raises(ValueError, match=name):
        prior_precision_for_weight_decay(**kwargs)
