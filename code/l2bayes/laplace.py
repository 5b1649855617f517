r"""The Laplace approximation for small torch models, from scratch with ``torch.func``.

Notation (see the book's notation page): :math:`\theta \in \mathbb{R}^d` are the
parameters flattened in the order of ``model.parameters()``, :math:`f(x;\theta)`
the model's output (one row of ``k`` numbers per example), ``prior_precision``
is :math:`\alpha = 1/\sigma^2` (a scalar, or one value per parameter) and
``noise_std`` is :math:`s`. With the negative log posterior

.. math:: \mathcal{L}(\theta) = -\log p(\mathcal{D}\mid\theta) + \tfrac12\theta^\top A_0\theta + \text{const},
   \qquad A_0 = \operatorname{diag}(\alpha),

the Laplace approximation at :math:`\hat\theta` is
:math:`\mathcal{N}(\hat\theta, P^{-1})` with the posterior precision
:math:`P = H + A_0`, where :math:`H` is the Hessian of the *summed* negative
log-likelihood (:func:`loss_hessian`, ``kind="hessian"``) or its generalised
Gauss-Newton approximation :math:`\sum_i J_i^\top \Lambda_i J_i`
(``kind="ggn"``), :math:`J_i = \partial f(x_i)/\partial\theta` and
:math:`\Lambda_i` the Hessian of the negative log-likelihood in the output:
:math:`I/s^2` for Gaussian regression, :math:`\operatorname{diag}(p_i) - p_ip_i^\top`
for the softmax cross-entropy.

Two likelihoods are supported, as in laplace-torch:

* ``"regression"``: :math:`y_i \sim \mathcal{N}(f(x_i), s^2 I_k)`, ``y`` of the
  model's output shape;
* ``"classification"``: :math:`y_i \sim \operatorname{Categorical}(\operatorname{softmax} f(x_i))`,
  ``y`` a vector of integer labels.

Everything is in units of the summed negative log-likelihood. A model trained
with torch's ``weight_decay`` on a mean loss has
:math:`\alpha` = :func:`l2bayes.priors.prior_precision_for_weight_decay`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.func import functional_call, hessian, jacrev, vmap

from l2bayes import _validate as v

LIKELIHOODS = ("regression", "classification")
HESSIANS = ("ggn", "hessian")
LINKS = ("sigmoid", "softmax")


# ----------------------------------------------------------------------------
# validation and the flat-parameter view of a model
# ----------------------------------------------------------------------------


def _check_model(model) -> list[tuple[str, torch.Tensor]]:
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model must have at least one parameter that requires a gradient")
    return named


def _check_tensor(x, name: str, *, ndim: int | None = None, min_ndim: int = 1) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {tuple(x.shape)}")
    if x.ndim < min_ndim or x.numel() == 0:
        raise ValueError(f"{name} must have at least {max(min_ndim, 1)} dimension(s) and one entry, got shape {tuple(x.shape)}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return x


def _flat(named) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for _, p in named])


def _unflattener(named) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    names = [n for n, _ in named]
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]

    def unflatten(theta: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}

    return unflatten


def _outputs_fn(model, named):
    """``(theta, X) -> f(X; theta)`` of shape (n, k), buffers taken from ``model``."""
    unflatten = _unflattener(named)
    buffers = dict(model.named_buffers())

    def f(theta, X):
        out = functional_call(model, {**unflatten(theta), **buffers}, (X,))
        return out.reshape(out.shape[0], -1)

    return f


def _check_data(model, named, X, y, likelihood):
    v.one_of(likelihood, "likelihood", LIKELIHOODS)
    X = _check_tensor(X, "X")
    y = _check_tensor(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    with torch.no_grad():
        out = _outputs_fn(model, named)(_flat(named), X[:1])
    k = out.shape[1]
    if likelihood == "classification":
        if y.ndim != 1 or y.is_floating_point() or y.is_complex():
            raise ValueError(f"y must be a 1-D tensor of integer class labels for classification, got "
                             f"shape {tuple(y.shape)} and dtype {y.dtype}")
        if k < 2:
            raise ValueError("model must output one logit per class (at least 2) for classification")
        if bool((y < 0).any()) or bool((y >= k).any()):
            raise ValueError(f"y must hold labels in 0..{k - 1} (the model has {k} outputs)")
    elif y.reshape(y.shape[0], -1).shape[1] != k:
        raise ValueError(f"y must have the model's output size {k} per row for regression, got shape {tuple(y.shape)}")
    return X, y


def _nll_fn(likelihood: str, noise_std: float):
    """Summed negative log-likelihood (normaliser included) of outputs ``F`` (n, k) and targets ``y``."""
    if likelihood == "regression":
        def nll(F, y):
            r = y.reshape(F.shape) - F
            return 0.5 * (r * r).sum() / noise_std**2 + F.numel() * math.log(noise_std * math.sqrt(2 * math.pi))
    else:
        def nll(F, y):
            return torch.nn.functional.cross_entropy(F, y, reduction="sum")
    return nll


def _noise(likelihood: str, noise_std) -> float:
    noise_std = v.positive_scalar(noise_std, "noise_std")
    if likelihood == "classification" and noise_std != 1.0:
        raise ValueError(f"noise_std has no meaning for likelihood='classification'; leave it at 1.0, got {noise_std!r}")
    return noise_std


def _prior_vector(prior_precision, d: int, dtype) -> torch.Tensor:
    if isinstance(prior_precision, torch.Tensor):
        prior_precision = prior_precision.detach().cpu().numpy()
    alpha = torch.as_tensor(v.finite_array(prior_precision, "prior_precision"), dtype=dtype)
    if bool((alpha < 0).any()):
        raise ValueError("prior_precision must be non-negative")
    if alpha.numel() == 1:
        return alpha.reshape(()).expand(d).clone()
    if alpha.shape != (d,):
        raise ValueError(f"prior_precision must be a scalar or have one entry per parameter ({d}), "
                         f"got shape {tuple(alpha.shape)}")
    return alpha


# ----------------------------------------------------------------------------
# the pieces: parameters, likelihood, Jacobians, curvature
# ----------------------------------------------------------------------------


def flat_parameters(model) -> torch.Tensor:
    r""":math:`\theta`: the model's trainable parameters as one detached vector, in ``parameters()`` order."""
    return _flat(_check_model(model))


def log_likelihood(model, X, y, *, likelihood: str, noise_std: float = 1.0) -> float:
    r"""The summed log-likelihood :math:`\log p(\mathcal{D}\mid\theta)` at the model's parameters.

    With its normalising constant: for ``"regression"``
    :math:`-\tfrac{1}{2s^2}\sum_i\lVert y_i - f(x_i)\rVert^2 - nk\log(s\sqrt{2\pi})`,
    for ``"classification"`` minus the summed cross-entropy.

    Parameters
    ----------
    model : torch.nn.Module
    X : torch.Tensor, shape (n, ...)
    y : torch.Tensor
        Shape (n, k) (or (n,) when k = 1) for regression; integer labels of
        shape (n,) for classification.
    likelihood : {"regression", "classification"}
    noise_std : float
        :math:`s > 0`; only for regression.
    """
    named = _check_model(model)
    X, y = _check_data(model, named, X, y, likelihood)
    noise_std = _noise(likelihood, noise_std)
    with torch.no_grad():
        F = _outputs_fn(model, named)(_flat(named), X)
        return -float(_nll_fn(likelihood, noise_std)(F, y))


def jacobians(model, X) -> torch.Tensor:
    r"""Per-example Jacobians :math:`J_i = \partial f(x_i;\theta)/\partial\theta`, shape (n, k, d).

    One reverse-mode Jacobian per example, vectorised with ``vmap``, so the
    memory is :math:`n k d` numbers and never :math:`(nk)^2`.
    """
    named = _check_model(model)
    X = _check_tensor(X, "X")
    f = _outputs_fn(model, named)

    def one(theta, x):
        return f(theta, x.unsqueeze(0))[0]

    return vmap(jacrev(one), in_dims=(None, 0))(_flat(named), X)


def loss_hessian(model, X, y, *, likelihood: str, noise_std: float = 1.0, kind: str = "ggn") -> torch.Tensor:
    r"""Curvature :math:`H` of the summed negative log-likelihood at the model's parameters, (d, d).

    ``kind="hessian"`` is the exact Hessian :math:`\nabla^2_\theta\,[-\log p(\mathcal{D}\mid\theta)]`
    (``torch.func.hessian``). ``kind="ggn"`` is the generalised Gauss-Newton matrix

    .. math:: G = \sum_i J_i^\top \Lambda_i J_i, \qquad
       \Lambda_i = \nabla^2_f\,[-\log p(y_i\mid f)]\big|_{f = f(x_i)},

    which drops the term :math:`\sum_i \sum_c (\partial_{f_c}[-\log p])\,\nabla^2_\theta f_c(x_i)`
    of the Hessian and is positive semi-definite because each :math:`\Lambda_i` is:
    :math:`I/s^2` for regression, :math:`\operatorname{diag}(p_i) - p_ip_i^\top` for the
    softmax cross-entropy. For a model linear in :math:`\theta` the two coincide.

    Parameters
    ----------
    model, X, y, likelihood, noise_std
        As in :func:`log_likelihood`.
    kind : {"ggn", "hessian"}

    Returns
    -------
    torch.Tensor, shape (d, d), symmetric
    """
    named = _check_model(model)
    X, y = _check_data(model, named, X, y, likelihood)
    noise_std = _noise(likelihood, noise_std)
    v.one_of(kind, "kind", HESSIANS)
    theta = _flat(named)
    f = _outputs_fn(model, named)
    if kind == "hessian":
        nll = _nll_fn(likelihood, noise_std)
        H = hessian(lambda t: nll(f(t, X), y))(theta)
    else:
        J = jacobians(model, X)  # (n, k, d)
        n, k, d = J.shape
        if likelihood == "regression":
            B = J.reshape(n * k, d)
            H = B.T @ B / noise_std**2
        else:
            with torch.no_grad():
                p = torch.softmax(f(theta, X), dim=1)
            # J^T (diag p - p p^T) J as two products of tall matrices, one matmul each
            B = (p.sqrt().unsqueeze(2) * J).reshape(n * k, d)
            Jp = torch.einsum("nk,nkd->nd", p, J)
            H = B.T @ B - Jp.T @ Jp
    return 0.5 * (H + H.T)


def posterior_precision(loss_hessian_matrix, prior_precision) -> torch.Tensor:
    r"""The Laplace posterior precision :math:`P = H + \operatorname{diag}(\alpha)`.

    Parameters
    ----------
    loss_hessian_matrix : torch.Tensor, shape (d, d)
        :math:`H` from :func:`loss_hessian`.
    prior_precision : float or array_like
        :math:`\alpha \ge 0`, a scalar or one value per parameter.
    """
    H = _check_tensor(loss_hessian_matrix, "loss_hessian_matrix", ndim=2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"loss_hessian_matrix must be square, got shape {tuple(H.shape)}")
    alpha = _prior_vector(prior_precision, H.shape[0], H.dtype)
    return H + torch.diag(alpha)


def _cholesky(precision: torch.Tensor, name: str) -> torch.Tensor:
    L, info = torch.linalg.cholesky_ex(precision)
    if int(info) != 0:
        raise ValueError(f"{name} must be symmetric positive definite (Cholesky failed at column {int(info)}); "
                         "a larger prior_precision or kind='ggn' makes it so")
    return L


def _set_params(params, sizes, t, dtype):
    with torch.no_grad():
        for p, chunk in zip(params, torch.split(torch.from_numpy(t).to(dtype), sizes)):
            p.copy_(chunk.view(p.shape))


def _torch_objective(model, params, X, y, likelihood, noise_std, alpha):
    """The mean negative log posterior and its gradient at a numpy vector, by autograd."""
    import numpy as np

    sizes = [p.numel() for p in params]
    dtype = params[0].dtype
    nll = _nll_fn(likelihood, noise_std)
    n = X.shape[0]

    def value_and_grad(t):
        _set_params(params, sizes, t, dtype)
        theta = torch.cat([p.reshape(-1) for p in params])
        out = model(X)
        loss = (nll(out.reshape(out.shape[0], -1), y) + 0.5 * (alpha * theta * theta).sum()) / n
        grads = torch.autograd.grad(loss, params)
        return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads]).cpu().numpy().astype(np.float64)

    return value_and_grad


def _tanh_mlp_layers(model, named):
    """The ``Linear`` layers of a ``Sequential(Linear, Tanh, ..., Linear)`` with biases, else None."""
    if not isinstance(model, torch.nn.Sequential) or len(model) % 2 != 1:
        return None
    layers = list(model)
    linears = layers[0::2]
    if not all(type(m) is torch.nn.Linear and m.bias is not None for m in linears):
        return None
    if not all(type(m) is torch.nn.Tanh for m in layers[1::2]):
        return None
    expected = [p for m in linears for p in (m.weight, m.bias)]
    if len(expected) != len(named) or any(a is not b for a, (_, b) in zip(expected, named)):
        return None
    return linears


def _numpy_objective(linears, named, X, y, likelihood, noise_std, alpha):
    """The same objective as :func:`_torch_objective` for a tanh MLP, by hand in numpy.

    For networks of a few hundred parameters torch's fixed cost per operation
    is most of the time of an evaluation; numpy's is far smaller, and L-BFGS
    needs hundreds of evaluations.
    """
    import numpy as np

    shapes = [(m.weight.shape, m.bias.shape) for m in linears]
    sizes = [p.numel() for _, p in named]
    Xn = X.detach().cpu().numpy().reshape(X.shape[0], -1).astype(np.float64)
    n = Xn.shape[0]
    if likelihood == "classification":
        labels = y.cpu().numpy()
    else:
        target = y.detach().cpu().numpy().reshape(n, -1).astype(np.float64)
    const = 0.0 if likelihood == "classification" else target.size * math.log(noise_std * math.sqrt(2 * math.pi))

    def value_and_grad(t):
        chunks = np.split(t, np.cumsum(sizes)[:-1])
        Ws = [c.reshape(s) for c, (s, _) in zip(chunks[0::2], shapes)]
        bs = chunks[1::2]
        Z = [Xn]
        for W, b in zip(Ws[:-1], bs[:-1]):
            Z.append(np.tanh(Z[-1] @ W.T + b))
        F = Z[-1] @ Ws[-1].T + bs[-1]
        if likelihood == "classification":
            F = F - F.max(axis=1, keepdims=True)
            logsum = np.log(np.exp(F).sum(axis=1))
            nll = float(np.sum(logsum - F[np.arange(n), labels]))
            dF = np.exp(F - logsum[:, None])
            dF[np.arange(n), labels] -= 1.0
        else:
            r = F - target
            nll = 0.5 * float(np.sum(r * r)) / noise_std**2 + const
            dF = r / noise_std**2
        grads = []
        delta = dF
        for layer in range(len(Ws) - 1, -1, -1):
            grads.append(delta.sum(axis=0))
            grads.append((delta.T @ Z[layer]).ravel())
            if layer:
                delta = (delta @ Ws[layer]) * (1.0 - Z[layer] ** 2)
        grad = np.concatenate(grads[::-1]) + alpha * t
        return (nll + 0.5 * float(alpha @ (t * t))) / n, grad / n

    return value_and_grad


def map_estimate(model, X, y, *, likelihood: str, prior_precision, noise_std: float = 1.0,
                 gtol: float = 1e-8, max_iter: int = 5000) -> dict:
    r"""Train ``model`` to the MAP estimate, in place, and return how it went.

    Minimises the negative log posterior
    :math:`-\log p(\mathcal{D}\mid\theta) + \tfrac12\sum_j\alpha_j\theta_j^2` from the
    model's current parameters with SciPy's L-BFGS-B (full batch, torch's
    autograd for the gradient). Divided by :math:`n` this is the mean loss plus
    :math:`\tfrac{\mathrm{wd}}{2}\lVert\theta\rVert^2` that ``SGD(weight_decay=wd)``
    minimises, with :math:`\alpha` = :func:`l2bayes.priors.prior_precision_for_weight_decay`;
    the quasi-Newton method only reaches its minimum in far fewer steps. The
    Laplace approximation is an expansion about a minimum, so the gradient must
    be small there: ``gtol`` bounds its largest entry, relative to :math:`n`.

    Parameters
    ----------
    model, X, y, likelihood, noise_std
        As in :func:`log_likelihood`.
    prior_precision : float or array_like
        :math:`\alpha \ge 0`.
    gtol : float
        Stop when every entry of the gradient of the *mean* objective is below this.
    max_iter : int

    Returns
    -------
    dict
        ``objective`` (the negative log posterior without the prior's constant),
        ``grad_max`` (largest gradient entry of the mean objective),
        ``n_evaluations``, ``converged``.
    """
    import numpy as np
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    named = _check_model(model)
    X, y = _check_data(model, named, X, y, likelihood)
    noise_std = _noise(likelihood, noise_std)
    gtol = v.positive_scalar(gtol, "gtol")
    max_iter = v.positive_int(max_iter, "max_iter")
    params = [p for _, p in named]
    sizes = [p.numel() for p in params]
    dtype = params[0].dtype
    alpha = _prior_vector(prior_precision, sum(sizes), dtype)
    n = X.shape[0]
    fast = _tanh_mlp_layers(model, named)
    if fast is not None:
        value_and_grad = _numpy_objective(fast, named, X, y, likelihood, noise_std, alpha.numpy())
    else:
        value_and_grad = _torch_objective(model, params, X, y, likelihood, noise_std, alpha)
    count = [0]

    def counted(t):
        count[0] += 1
        return value_and_grad(t)

    start = _flat(named).cpu().numpy().astype(np.float64)
    # SciPy's BLAS threads on vectors of a few hundred entries only fight over the cores.
    with threadpool_limits(limits=1):
        result = minimize(counted, start, jac=True, method="L-BFGS-B",
                          options=dict(maxiter=max_iter, maxfun=2 * max_iter, gtol=gtol, ftol=1e-16, maxcor=20))
    objective, grad = counted(result.x)
    _set_params(params, sizes, result.x, dtype)
    grad_max = float(np.abs(grad).max())
    return {"objective": objective * n, "grad_max": grad_max, "n_evaluations": count[0],
            "converged": grad_max <= gtol}


# ----------------------------------------------------------------------------
# the evidence and the predictive
# ----------------------------------------------------------------------------


def log_marginal_likelihood(log_lik, theta, precision, prior_precision) -> float:
    r"""Laplace's log evidence: the log-likelihood plus the log Occam factor.

    .. math::
        \log p(\mathcal{D}) \approx \log p(\mathcal{D}\mid\hat\theta)
        - \tfrac12\hat\theta^\top A_0\hat\theta
        + \tfrac12\log\lvert A_0\rvert - \tfrac12\log\lvert P\rvert ,

    the integral of the Gaussian that matches the log posterior to second order
    at :math:`\hat\theta` (the :math:`(2\pi)^{d/2}` of the prior and of the
    Gaussian integral cancel). Exact when the log posterior is quadratic.

    Parameters
    ----------
    log_lik : float
        :math:`\log p(\mathcal{D}\mid\hat\theta)` (:func:`log_likelihood`).
    theta : torch.Tensor, shape (d,)
        :math:`\hat\theta`, the MAP estimate (:func:`flat_parameters`).
    precision : torch.Tensor, shape (d, d)
        :math:`P` (:func:`posterior_precision`), symmetric positive definite.
    prior_precision : float or array_like
        :math:`\alpha > 0`, a scalar or one value per parameter (a flat prior
        has no normalisable evidence).

    Returns
    -------
    float
    """
    if isinstance(log_lik, torch.Tensor):
        log_lik = log_lik.item() if log_lik.numel() == 1 else log_lik
    log_lik = v.finite_array(log_lik, "log_lik")
    if log_lik.ndim != 0:
        raise ValueError(f"log_lik must be a single number, got shape {log_lik.shape}")
    theta = _check_tensor(theta, "theta", ndim=1)
    P = _check_tensor(precision, "precision", ndim=2)
    d = theta.shape[0]
    if P.shape != (d, d):
        raise ValueError(f"precision must have shape ({d}, {d}) to match theta, got {tuple(P.shape)}")
    alpha = _prior_vector(prior_precision, d, P.dtype)
    if bool((alpha <= 0).any()):
        raise ValueError("prior_precision must be positive for the evidence (a flat prior cannot be normalised)")
    L = _cholesky(P, "precision")
    theta = theta.to(P.dtype)
    log_det_P = 2.0 * torch.log(torch.diagonal(L)).sum()
    value = float(log_lik) - 0.5 * (alpha * theta * theta).sum() + 0.5 * torch.log(alpha).sum() - 0.5 * log_det_P
    return float(value)


def predictive_variance(model, X, precision) -> torch.Tensor:
    r"""Variance of the linearised model's outputs under :math:`\mathcal{N}(\hat\theta, P^{-1})`, shape (n, k).

    Linearising :math:`f(x;\theta) \approx f(x;\hat\theta) + J(x)(\theta - \hat\theta)`
    makes the output Gaussian with covariance :math:`J(x)P^{-1}J(x)^\top`; this
    returns its diagonal, one variance per output. It is the variance of
    :math:`f`, the "epistemic" part: for regression the predictive variance
    of a new :math:`y` adds :math:`s^2`.

    Computed with one Cholesky factor :math:`P = LL^\top`:
    :math:`J P^{-1} J^\top = (L^{-1}J^\top)^\top (L^{-1}J^\top)`, no inverse.
    """
    named = _check_model(model)
    X = _check_tensor(X, "X")
    P = _check_tensor(precision, "precision", ndim=2)
    d = sum(p.numel() for _, p in named)
    if P.shape != (d, d):
        raise ValueError(f"precision must have shape ({d}, {d}) for this model, got {tuple(P.shape)}")
    L = _cholesky(P, "precision")
    J = jacobians(model, X)  # (n, k, d)
    n, k, _ = J.shape
    Z = torch.linalg.solve_triangular(L, J.reshape(n * k, d).T.to(P.dtype), upper=False)  # (d, n k)
    return (Z * Z).sum(0).reshape(n, k)


def probit_predictive(logit_mean, logit_var, *, link: str = "sigmoid") -> torch.Tensor:
    r"""Class probabilities of a Gaussian logit by the probit approximation (MacKay 1992).

    For one logit :math:`a \sim \mathcal{N}(\mu, v)`,
    :math:`\mathbb{E}[\operatorname{sigmoid}(a)] \approx \operatorname{sigmoid}(\kappa\mu)`
    with :math:`\kappa = (1 + \pi v/8)^{-1/2}`, from replacing the sigmoid by the
    probit :math:`\Phi(\sqrt{\pi/8}\,a)`, whose Gaussian expectation is exact.
    With ``link="softmax"`` each of the ``k`` logits is scaled by its own
    :math:`\kappa_c` and the softmax taken, the multi-class form laplace-torch uses.

    Parameters
    ----------
    logit_mean : torch.Tensor
        :math:`\mu`: any shape for ``"sigmoid"``; shape (n, k) for ``"softmax"``.
    logit_var : torch.Tensor
        :math:`v \ge 0`, the same shape.
    link : {"sigmoid", "softmax"}

    Returns
    -------
    torch.Tensor
        :math:`p(y = 1)` for ``"sigmoid"`` (the shape of ``logit_mean``); rows of
        class probabilities for ``"softmax"``.
    """
    v.one_of(link, "link", LINKS)
    mu = _check_tensor(logit_mean, "logit_mean", min_ndim=0 if link == "sigmoid" else 2)
    var = _check_tensor(logit_var, "logit_var", min_ndim=0 if link == "sigmoid" else 2)
    if var.shape != mu.shape:
        raise ValueError(f"logit_var must have the shape of logit_mean {tuple(mu.shape)}, got {tuple(var.shape)}")
    if bool((var < 0).any()):
        raise ValueError("logit_var must be non-negative")
    if link == "softmax" and mu.ndim != 2:
        raise ValueError(f"logit_mean must have shape (n, k) for link='softmax', got {tuple(mu.shape)}")
    kappa = 1.0 / torch.sqrt(1.0 + math.pi / 8.0 * var)
    return torch.sigmoid(kappa * mu) if link == "sigmoid" else torch.softmax(kappa * mu, dim=-1)
