"""Tests of l2bayes.laplace: each function against an independent computation, and its bad inputs."""

import math

import numpy as np
import pytest
import torch

from l2bayes import bayes_posterior, log_evidence
from l2bayes import laplace as lp

DT = torch.float64


def _mlp(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1]).to(DT)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=DT))
    return model


def _data(n=12, d_in=3, k=2, seed=1, classification=False):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d_in, generator=gen, dtype=DT)
    y = torch.randint(0, k, (n,), generator=gen) if classification else torch.randn(n, k, generator=gen, dtype=DT)
    return X, y


def _flat_fn(model):
    """theta -> outputs, by loading theta into a copy of the model (no torch.func)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def f(theta, X):
        params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        return torch.func.functional_call(model, params, (X,))

    return f


# --- log_likelihood -------------------------------------------------------------------------------


def test_log_likelihood_matches_torch_distributions():
    model = _mlp([3, 4, 2])
    X, y = _data()
    with torch.no_grad():
        F = model(X)
    s = 0.7
    expected = torch.distributions.Normal(F, s).log_prob(y).sum().item()
    assert lp.log_likelihood(model, X, y, likelihood="regression", noise_std=s) == pytest.approx(expected, rel=1e-13)
    Xc, yc = _data(classification=True, k=2)
    expected = torch.distributions.Categorical(logits=model(Xc).detach()).log_prob(yc).sum().item()
    assert lp.log_likelihood(model, Xc, yc, likelihood="classification") == pytest.approx(expected, rel=1e-13)


# --- jacobians and loss_hessian -----------------------------------------------------------------


def test_jacobians_match_finite_differences():
    model = _mlp([3, 5, 2])
    X, _ = _data(n=4)
    J = lp.jacobians(model, X)
    theta = lp.flat_parameters(model)
    f = _flat_fn(model)
    h = 1e-6
    for j in [0, 7, theta.numel() - 1]:
        e = torch.zeros_like(theta)
        e[j] = h
        fd = (f(theta + e, X) - f(theta - e, X)) / (2 * h)
        assert torch.allclose(J[:, :, j], fd.detach(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_ggn_is_jacobian_sandwich_of_the_output_hessian(likelihood):
    # Independent: Lambda_i by torch.autograd.functional.hessian of the per-example loss in f, one example at a time.
    model = _mlp([3, 4, 3])
    X, y = _data(n=6, k=3, classification=likelihood == "classification")
    s = 0.5 if likelihood == "regression" else 1.0
    G = lp.loss_hessian(model, X, y, likelihood=likelihood, noise_std=s, kind="ggn")
    theta = lp.flat_parameters(model)
    f = _flat_fn(model)
    expected = torch.zeros_like(G)
    for i in range(len(X)):
        Ji = torch.autograd.functional.jacobian(lambda t: f(t, X[i : i + 1])[0], theta)
        fi = f(theta, X[i : i + 1])[0].detach()
        if likelihood == "regression":
            loss = lambda out: 0.5 * ((y[i] - out) ** 2).sum() / s**2
        else:
            loss = lambda out: -torch.log_softmax(out, 0)[y[i]]
        Lam = torch.autograd.functional.hessian(loss, fi)
        expected += Ji.T @ Lam @ Ji
    assert torch.allclose(G, expected, rtol=1e-10, atol=1e-12)
    assert torch.linalg.eigvalsh(G).min() > -1e-10 * torch.linalg.eigvalsh(G).max()


def test_hessian_matches_finite_differences_of_autograd_gradients():
    model = _mlp([2, 4, 1])
    X, y = _data(n=8, d_in=2, k=1)
    s = 0.3
    H = lp.loss_hessian(model, X, y, likelihood="regression", noise_std=s, kind="hessian")
    theta = lp.flat_parameters(model)
    f = _flat_fn(model)

    def grad(t):
        t = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(((y - f(t, X)) ** 2).sum() / (2 * s**2), t)
        return g

    h = 1e-6
    for j in [0, 5, theta.numel() - 1]:
        e = torch.zeros_like(theta)
        e[j] = h
        assert torch.allclose(H[:, j], (grad(theta + e) - grad(theta - e)) / (2 * h), rtol=1e-6, atol=1e-7)


def test_ggn_equals_hessian_for_a_linear_model():
    model = torch.nn.Linear(4, 2).to(DT)
    X, y = _data(n=10, d_in=4, k=2)
    G = lp.loss_hessian(model, X, y, likelihood="regression", noise_std=0.4)
    H = lp.loss_hessian(model, X, y, likelihood="regression", noise_std=0.4, kind="hessian")
    assert torch.allclose(G, H, rtol=1e-12, atol=1e-12)


# --- posterior_precision and log_marginal_likelihood: exact for the linear-Gaussian model ---------


def _linear_gaussian(n=30, d=3, s=0.4, sigma=1.3, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.normal(0, sigma, d) + s * rng.standard_normal(n)
    mean, cov = bayes_posterior(X, y, noise_std=s, prior_std=sigma)
    model = torch.nn.Linear(d, 1, bias=False).to(DT)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(mean).reshape(1, -1))
    return model, torch.tensor(X), torch.tensor(y).unsqueeze(1), s, sigma, mean, cov, log_evidence(
        X, y, noise_std=s, prior_std=sigma)


def test_laplace_is_exact_for_the_linear_gaussian_model():
    model, X, y, s, sigma, mean, cov, evidence = _linear_gaussian()
    alpha = 1 / sigma**2
    P = lp.posterior_precision(lp.loss_hessian(model, X, y, likelihood="regression", noise_std=s), alpha)
    assert np.allclose(torch.linalg.inv(P).numpy(), cov, rtol=1e-10, atol=1e-14)
    ll = lp.log_likelihood(model, X, y, likelihood="regression", noise_std=s)
    lml = lp.log_marginal_likelihood(ll, lp.flat_parameters(model), P, alpha)
    assert lml == pytest.approx(evidence, rel=1e-10)
    # a per-parameter prior vector gives the same number when all entries are equal
    lml_vec = lp.log_marginal_likelihood(ll, lp.flat_parameters(model), P, np.full(3, alpha))
    assert lml_vec == pytest.approx(evidence, rel=1e-10)


def test_posterior_precision_adds_a_diagonal_prior():
    H = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=DT)
    assert torch.equal(lp.posterior_precision(H, 0.3), H + 0.3 * torch.eye(2, dtype=DT))
    assert torch.equal(lp.posterior_precision(H, [0.1, 2.0]), H + torch.diag(torch.tensor([0.1, 2.0], dtype=DT)))


def test_log_marginal_likelihood_matches_quadrature_in_one_dimension():
    # Independent of the Gaussian algebra: a 1-D integral of exp(-(quadratic)) by scipy.
    from scipy.integrate import quad

    h, alpha, theta_hat, ll = 3.0, 0.5, 0.8, -4.0
    # log p(D|theta) = ll - h/2 (theta - t0)^2 with t0 such that theta_hat is the mode of likelihood x prior
    t0 = theta_hat * (h + alpha) / h
    log_lik_at = lambda t: ll - 0.5 * h * (t - t0) ** 2
    integrand = lambda t: math.exp(log_lik_at(t) - 0.5 * alpha * t * t) * math.sqrt(alpha / (2 * math.pi))
    exact = math.log(quad(integrand, -30, 30, epsabs=1e-14, epsrel=1e-13)[0])
    P = torch.tensor([[h + alpha]], dtype=DT)
    value = lp.log_marginal_likelihood(log_lik_at(theta_hat), torch.tensor([theta_hat], dtype=DT), P, alpha)
    assert value == pytest.approx(exact, rel=1e-10)


# --- predictive_variance and probit_predictive ---------------------------------------------------


def test_predictive_variance_is_j_covariance_jt():
    model = _mlp([3, 4, 2])
    X, y = _data(n=9)
    P = lp.posterior_precision(lp.loss_hessian(model, X, y, likelihood="regression"), 0.7)
    Xs = _data(n=5, seed=4)[0]
    J = lp.jacobians(model, Xs)
    cov = np.linalg.inv(P.numpy())
    expected = np.einsum("nkd,de,nke->nk", J.numpy(), cov, J.numpy())
    assert np.allclose(lp.predictive_variance(model, Xs, P).numpy(), expected, rtol=1e-10, atol=1e-14)


def test_predictive_variance_of_a_linear_model_is_the_exact_predictive_variance():
    model, X, y, s, sigma, mean, cov, _ = _linear_gaussian()
    P = lp.posterior_precision(lp.loss_hessian(model, X, y, likelihood="regression", noise_std=s), 1 / sigma**2)
    Xs = np.random.default_rng(5).standard_normal((4, 3))
    var = lp.predictive_variance(model, torch.tensor(Xs), P)[:, 0].numpy()
    assert np.allclose(var, np.einsum("nd,de,ne->n", Xs, cov, Xs), rtol=1e-10)


def test_probit_predictive_approximates_the_gaussian_average_of_the_sigmoid():
    nodes, weights = np.polynomial.hermite_e.hermegauss(100)
    mu = torch.tensor([-4.0, -0.5, 0.0, 1.0, 3.0], dtype=DT)
    var = torch.tensor([0.0, 1.0, 2.0, 8.0, 30.0], dtype=DT)
    exact = [weights @ (1 / (1 + np.exp(-(m + math.sqrt(v) * nodes)))) / math.sqrt(2 * math.pi)
             for m, v in zip(mu.tolist(), var.tolist())]
    got = lp.probit_predictive(mu, var).numpy()
    assert np.allclose(got, exact, atol=0.02)
    assert got[0] == pytest.approx(1 / (1 + math.exp(4.0)), rel=1e-14)  # v = 0: the plain sigmoid
    assert got[2] == 0.5


def test_probit_softmax_matches_laplace_torchs_formula_and_sums_to_one():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen, dtype=DT)
    var = torch.rand(4, 3, generator=gen, dtype=DT) * 5
    got = lp.probit_predictive(mu, var, link="softmax")
    scaled = mu / torch.sqrt(1 + math.pi / 8 * var)
    assert torch.allclose(got, torch.exp(scaled) / torch.exp(scaled).sum(1, keepdim=True), rtol=1e-13)
    assert torch.allclose(got.sum(1), torch.ones(4, dtype=DT), rtol=1e-14)


# --- map_estimate -------------------------------------------------------------------------------


def test_map_estimate_of_the_linear_gaussian_model_is_the_posterior_mean():
    model, X, y, s, sigma, mean, _, _ = _linear_gaussian()
    torch.nn.init.zeros_(model.weight)
    result = lp.map_estimate(model, X, y, likelihood="regression", prior_precision=1 / sigma**2, noise_std=s, gtol=1e-8)
    assert result["converged"]
    assert np.allclose(lp.flat_parameters(model).numpy(), mean, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_map_estimate_fast_path_objective_matches_autograd(likelihood):
    model = _mlp([3, 5, 4, 3])
    X, y = _data(n=10, k=3, classification=likelihood == "classification")
    s = 0.6 if likelihood == "regression" else 1.0
    named = list(model.named_parameters())
    alpha = torch.linspace(0.1, 2.0, sum(p.numel() for _, p in named), dtype=DT)
    layers = lp._tanh_mlp_layers(model, named)
    assert layers is not None
    fast = lp._numpy_objective(layers, named, X, y, likelihood, s, alpha.numpy())
    slow = lp._torch_objective(model, [p for _, p in named], X, y, likelihood, s, alpha)
    t = np.random.default_rng(0).standard_normal(alpha.numel())
    (v1, g1), (v2, g2) = fast(t), slow(t)
    assert v1 == pytest.approx(v2, rel=1e-12)
    assert np.allclose(g1, g2, rtol=1e-10, atol=1e-14)


def test_map_estimate_reaches_a_stationary_point_of_the_torch_objective():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.SiLU(), torch.nn.Linear(3, 2)).to(DT)  # autograd path
    X, y = _data(n=20, d_in=2, k=2, classification=True)
    assert lp._tanh_mlp_layers(model, list(model.named_parameters())) is None
    result = lp.map_estimate(model, X, y, likelihood="classification", prior_precision=1.0, gtol=1e-7)
    loss = torch.nn.functional.cross_entropy(model(X), y, reduction="sum") + 0.5 * sum(
        p.square().sum() for p in model.parameters())
    grads = torch.autograd.grad(loss, list(model.parameters()))
    assert max(g.abs().max().item() for g in grads) / len(X) <= 1e-7
    assert result["converged"] and result["objective"] == pytest.approx(loss.item(), rel=1e-12)


# --- bad inputs ---------------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors_naming_the_argument():
    model = _mlp([3, 4, 2])
    X, y = _data()
    Xc, yc = _data(classification=True)
    H = lp.loss_hessian(model, X, y, likelihood="regression")
    P = lp.posterior_precision(H, 1.0)
    theta = lp.flat_parameters(model)
    cases = [
        (lambda: lp.flat_parameters("not a model"), "model"),
        (lambda: lp.log_likelihood(model, X, y, likelihood="poisson"), "likelihood"),
        (lambda: lp.log_likelihood(model, X.numpy(), y, likelihood="regression"), "X"),
        (lambda: lp.log_likelihood(model, X, y[:-1], likelihood="regression"), "same number of rows"),
        (lambda: lp.log_likelihood(model, X, y[:, :1], likelihood="regression"), "y"),
        (lambda: lp.log_likelihood(model, X, y, likelihood="regression", noise_std=0.0), "noise_std"),
        (lambda: lp.log_likelihood(model, Xc, yc.double(), likelihood="classification"), "y"),
        (lambda: lp.log_likelihood(model, Xc, yc + 5, likelihood="classification"), "y"),
        (lambda: lp.log_likelihood(model, Xc, yc, likelihood="classification", noise_std=2.0), "noise_std"),
        (lambda: lp.loss_hessian(model, X, y, likelihood="regression", kind="fisher"), "kind"),
        (lambda: lp.loss_hessian(model, X * float("nan"), y, likelihood="regression"), "X"),
        (lambda: lp.posterior_precision(H[:, :3], 1.0), "loss_hessian_matrix"),
        (lambda: lp.posterior_precision(H, -1.0), "prior_precision"),
        (lambda: lp.posterior_precision(H, [1.0, 2.0]), "prior_precision"),
        (lambda: lp.log_marginal_likelihood(float("nan"), theta, P, 1.0), "log_lik"),
        (lambda: lp.log_marginal_likelihood(0.0, theta[:3], P, 1.0), "precision"),
        (lambda: lp.log_marginal_likelihood(0.0, theta, P, 0.0), "prior_precision"),
        (lambda: lp.log_marginal_likelihood(0.0, theta, -P, 1.0), "precision"),
        (lambda: lp.predictive_variance(model, X, P[:3, :3]), "precision"),
        (lambda: lp.probit_predictive(torch.zeros(3), -torch.ones(3)), "logit_var"),
        (lambda: lp.probit_predictive(torch.zeros(3), torch.ones(2)), "logit_var"),
        (lambda: lp.probit_predictive(torch.zeros(3), torch.ones(3), link="softmax"), "logit_mean"),
        (lambda: lp.probit_predictive(torch.zeros(3), torch.ones(3), link="tanh"), "link"),
        (lambda: lp.map_estimate(model, X, y, likelihood="regression", prior_precision=1.0, gtol=0.0), "gtol"),
        (lambda: lp.map_estimate(model, X, y, likelihood="regression", prior_precision=1.0, max_iter=0), "max_iter"),
        (lambda: lp.log_likelihood(torch.nn.ReLU(), X, y, likelihood="regression"), "model"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
