r"""What weight decay does in deep networks: early stopping, AdamW's timescale, scale invariance, groups.

* :func:`gd_filter_factors` and :func:`ridge_filter_factors`: in the SVD basis of :math:`X`, gradient descent
  stopped after :math:`t` steps and ridge regression both scale the least-squares coefficient along
  :math:`v_j` by a factor in :math:`[0, 1]`; with :math:`\lambda_{\text{ridge}} = 1/(\eta t)`
  (:func:`early_stopping_lam`) the two factors are close for every singular value.
* :func:`adamw_timescale`: AdamW's iterate is an exponential moving average of its updates with timescale
  :math:`\tau = 1/(\eta\,\mathrm{wd})` steps, :math:`\tau_{\text{epoch}} = B/(\eta\,\mathrm{wd}\,n)` epochs
  (Wang & Aitchison); :func:`weight_decay_for_timescale` inverts it.
* :func:`equilibrium_norm`: the norm a scale-invariant weight (one followed by a normalisation layer)
  settles at under SGD with weight decay (van Laarhoven, 2017).
* :func:`decay_param_groups`: parameter groups that decay the weight matrices of linear and convolutional
  layers and nothing else (biases, normalisation gains and shifts, embeddings).

Notation (see the book's notation page): ``lr`` is :math:`\eta`, ``weight_decay`` is :math:`\mathrm{wd}`,
``n`` the training-set size, ``batch_size`` :math:`B`, ``delta`` the singular values :math:`\delta_j` of
:math:`X`, ``lam`` ridge's :math:`\lambda_{\text{ridge}}` in :math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2`.
"""

from __future__ import annotations

import math

import numpy as np

from l2bayes import _validate as v

__all__ = [
    "adamw_timescale",
    "decay_param_groups",
    "early_stopping_lam",
    "equilibrium_norm",
    "gd_filter_factors",
    "ridge_filter_factors",
    "weight_decay_for_timescale",
]


def _delta(delta):
    delta = v.finite_array(delta, "delta")
    if np.any(delta < 0):
        raise ValueError("delta must contain only non-negative values (singular values)")
    return delta


def gd_filter_factors(delta, lr, num_steps):
    r"""Filter factors :math:`1 - (1 - \eta\delta_j^2)^t` of gradient descent stopped after ``num_steps``.

    Gradient descent on :math:`\tfrac12\lVert y - X\theta\rVert^2` (summed, with the half) from
    :math:`\theta_0 = 0` with step :math:`\eta` gives, with the thin SVD :math:`X = U\operatorname{diag}(\delta)V^\top`,

    .. math:: \theta_t = \sum_j \bigl(1 - (1 - \eta\delta_j^2)^t\bigr)\,\frac{u_j^\top y}{\delta_j}\, v_j .

    For another scaling of the loss, rescale the step: ``MSELoss(reduction="mean")``,
    :math:`\tfrac1n\lVert y - X\theta\rVert^2`, with learning rate ``lr`` is this with :math:`\eta = 2\,\mathrm{lr}/n`.

    Parameters
    ----------
    delta : array_like
        Singular values :math:`\delta_j \ge 0`.
    lr : float
        :math:`\eta > 0`; the factors lie in :math:`[0, 1]` when :math:`\eta\delta_j^2 \le 1`.
    num_steps : int
        :math:`t \ge 0`.
    """
    delta = _delta(delta)
    lr = v.positive_scalar(lr, "lr")
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}")
    # -expm1(t log1p(-x)) keeps the small factors accurate where 1 - (1 - x)^t would cancel
    x = lr * delta**2
    if np.any(x >= 2):
        raise ValueError(f"lr times the largest delta**2 must be below 2 for gradient descent to converge, got {x.max():.3g}")
    with np.errstate(divide="ignore"):
        return -np.expm1(int(num_steps) * np.log1p(-x)) if np.all(x < 1) else 1.0 - (1.0 - x) ** int(num_steps)


def ridge_filter_factors(delta, lam):
    r"""Filter factors :math:`\delta_j^2/(\delta_j^2 + \lambda)` of ridge regression (``lam`` in ridge's convention)."""
    delta = _delta(delta)
    lam = v.nonnegative_scalar(lam, "lam")
    d2 = delta**2
    return np.divide(d2, d2 + lam, out=np.zeros_like(d2), where=(d2 + lam) > 0)


def early_stopping_lam(lr, num_steps):
    r"""The ridge penalty :math:`\lambda_{\text{ridge}} = 1/(\eta t)` that early stopping resembles.

    For :math:`\eta\delta^2 \ll 1` gradient descent's factor is :math:`\approx 1 - e^{-\eta t\delta^2}`, ridge's is
    :math:`\delta^2/(\delta^2+\lambda)`; both are :math:`\approx \delta^2/\lambda` for small :math:`\delta`
    and tend to 1 for large :math:`\delta` when :math:`\lambda = 1/(\eta t)`. ``lr`` refers to
    :math:`\tfrac12\lVert y - X\theta\rVert^2` as in :func:`gd_filter_factors`.
    """
    lr = v.positive_scalar(lr, "lr")
    num_steps = v.positive_int(num_steps, "num_steps")
    return 1.0 / (lr * num_steps)


def adamw_timescale(lr, weight_decay, *, n=None, batch_size=None):
    r"""AdamW's averaging timescale: :math:`\tau = 1/(\eta\,\mathrm{wd})` steps, or epochs when ``n`` is given.

    AdamW's step :math:`\theta_t = (1 - \eta\,\mathrm{wd})\theta_{t-1} - \eta u_t` is an exponential moving average
    of :math:`-u_t/\mathrm{wd}` with weight :math:`\eta\,\mathrm{wd}` per step, so an update is forgotten by a factor
    :math:`e` after about :math:`1/(\eta\,\mathrm{wd})` steps. There are :math:`n/B` steps per epoch, hence
    :math:`\tau_{\text{epoch}} = B/(\eta\,\mathrm{wd}\,n)` (Wang & Aitchison).

    Parameters
    ----------
    lr, weight_decay : float
        Both > 0.
    n, batch_size : int, optional
        Training-set size and minibatch size; give both for the timescale in epochs.

    Returns
    -------
    float
    """
    lr = v.positive_scalar(lr, "lr")
    weight_decay = v.positive_scalar(weight_decay, "weight_decay")
    if (n is None) != (batch_size is None):
        raise ValueError("n and batch_size must be given together (for epochs) or not at all (for steps)")
    tau = 1.0 / (lr * weight_decay)
    if n is None:
        return tau
    n = v.positive_int(n, "n")
    batch_size = v.positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(f"batch_size must not exceed n ({n}), got {batch_size}")
    return tau * batch_size / n


def weight_decay_for_timescale(tau_epochs, lr, n, batch_size):
    r"""The ``weight_decay`` that gives AdamW a timescale of ``tau_epochs`` epochs: :math:`B/(\eta\,\tau_{\text{epoch}}\,n)`.

    With :math:`\tau_{\text{epoch}}`, :math:`\eta` and :math:`B` fixed this is proportional to :math:`1/n`, as the
    Bayesian :math:`\mathrm{wd} = 1/(n\sigma^2)` is: it is that value for :math:`\sigma^2 = \eta\,\tau_{\text{epoch}}/B`.
    """
    tau_epochs = v.positive_scalar(tau_epochs, "tau_epochs")
    lr = v.positive_scalar(lr, "lr")
    n = v.positive_int(n, "n")
    batch_size = v.positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(f"batch_size must not exceed n ({n}), got {batch_size}")
    return batch_size / (lr * tau_epochs * n)


def equilibrium_norm(lr, weight_decay, unit_grad_norm):
    r"""The norm at which SGD with weight decay holds a scale-invariant weight.

    If the loss does not depend on the norm of :math:`w`, its gradient is orthogonal to :math:`w` and scales as
    :math:`\lVert g\rVert = G/\lVert w\rVert`, with :math:`G` the gradient norm at unit norm. One SGD step with
    decay gives :math:`\lVert w_{t+1}\rVert^2 = (1-\eta\,\mathrm{wd})^2\lVert w_t\rVert^2 + \eta^2 G^2/\lVert w_t\rVert^2`,
    whose fixed point is

    .. math:: \lVert w\rVert^4 = \frac{\eta\, G^2}{\mathrm{wd}\,(2 - \eta\,\mathrm{wd})}.

    With :math:`G^2` fluctuating from step to step, pass the root of its average,
    :math:`\sqrt{\mathbb{E}[\lVert g\rVert^2\lVert w\rVert^2]}`.
    """
    lr = v.positive_scalar(lr, "lr")
    weight_decay = v.positive_scalar(weight_decay, "weight_decay")
    unit_grad_norm = v.nonnegative_scalar(unit_grad_norm, "unit_grad_norm")
    if lr * weight_decay >= 2:
        raise ValueError(f"lr * weight_decay must be below 2, got {lr * weight_decay!r}")
    return (lr * unit_grad_norm**2 / (weight_decay * (2.0 - lr * weight_decay))) ** 0.25


def decay_param_groups(model, weight_decay):
    r"""Two parameter groups: the weights of linear and convolutional layers decay, nothing else does.

    Biases shift the output, normalisation layers' gains and shifts sit at 1 and 0 for reasons no Gaussian prior
    at zero defends, and embeddings are looked up rather than multiplied; none of them is decayed. Every
    parameter of ``model`` is in exactly one group; parameters shared between modules are listed once.

    Parameters
    ----------
    model : torch.nn.Module
    weight_decay : float
        :math:`\mathrm{wd} \ge 0` for the decayed group.

    Returns
    -------
    list of dict
        ``[{"params": [...], "weight_decay": wd}, {"params": [...], "weight_decay": 0.0}]``, for any torch
        optimizer (check it with :func:`l2bayes.optim.check_param_groups`).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    weight_decay = v.nonnegative_scalar(weight_decay, "weight_decay")
    decayed_types = (torch.nn.Linear, torch.nn.Bilinear, torch.nn.modules.conv._ConvNd)
    decay, keep, seen = [], [], set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            (decay if isinstance(module, decayed_types) and name == "weight" else keep).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]
