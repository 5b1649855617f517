r"""Informative priors for transfer learning: penalties centred at pretrained weights.

A Gaussian prior :math:`\mathcal{N}(w_0, \operatorname{diag}(\sigma_j^2))` centred at weights
:math:`w_0` learned on a source task is the penalty :math:`\tfrac12\sum_j(\theta_j - w_{0,j})^2/\sigma_j^2`:
with one variance for every weight it is L2-SP (Li et al., 2018), with the variances read off the
source task's posterior it is a learned diagonal covariance (Harvey et al., 2024). The penalty itself
is :func:`l2bayes.priors.l2_penalty` with ``centre=w0``; this module solves linear models with it.

* :func:`ridge_toward`: ridge regression pulled toward a centre, with one :math:`\lambda` or one per
  weight, for one target or several (a least-squares classifier regresses one-hot targets);
* :func:`diagonal_laplace_precision`: the diagonal of the posterior precision of Bayesian linear
  regression, the diagonal Laplace (equivalently, Fisher plus prior) approximation of a source
  posterior, from which a target task's prior is built.

Notation (see the book's notation page): ``X`` is :math:`X \in \mathbb{R}^{n\times d}`, ``centre`` is
:math:`w_0`, ``lam`` is ridge's :math:`\lambda` in
:math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta - w_0\rVert^2` (no halves, :math:`\lambda = s^2/\sigma^2`).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from l2bayes import _validate as v

__all__ = ["ridge_toward", "diagonal_laplace_precision"]


def _check_targets(X, y):
    X = v.finite_array(X, "X", ndim=2)
    y = v.finite_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-d or 2-d with one row per row of X ({X.shape[0]}), got shape {y.shape}")
    return X, y


def ridge_toward(X, y, lam, centre):
    r"""Minimiser of :math:`\lVert y - X\theta\rVert^2 + \sum_j \lambda_j (\theta_j - w_{0,j})^2`.

    Setting the gradient to zero gives :math:`(X^\top X + \Lambda)\theta = X^\top y + \Lambda w_0`
    with :math:`\Lambda = \operatorname{diag}(\lambda)`. With :math:`\theta = w_0 + \Delta` this is ridge
    for the residual targets :math:`y - Xw_0`, which is how it is solved (Cholesky):

    .. math:: \theta = w_0 + (X^\top X + \Lambda)^{-1} X^\top (y - X w_0).

    It is the posterior mean under the prior :math:`\mathcal{N}(w_0, \operatorname{diag}(s^2/\lambda_j))`.
    As :math:`\lambda \to \infty` it tends to :math:`w_0`, as :math:`\lambda \to 0` to a least-squares
    solution. A weight with :math:`\lambda_j = 0` is not penalised (an intercept column of ones).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,) or (n, K)
        One target, or ``K`` targets fitted independently (one column of ``centre`` each).
    lam : float or array_like, shape (d,)
        :math:`\lambda \ge 0`, one for all weights or one per row of :math:`\theta`.
    centre : array_like, shape (d,) or (d, K)
        The prior mean :math:`w_0`, shaped like :math:`\theta`.

    Returns
    -------
    ndarray, shape (d,) or (d, K)
    """
    X, y = _check_targets(X, y)
    d = X.shape[1]
    centre = v.finite_array(centre, "centre")
    want = (d,) if y.ndim == 1 else (d, y.shape[1])
    if centre.shape != want:
        raise ValueError(f"centre must have shape {want} (one row per column of X, one column per target), got {centre.shape}")
    lam = v.finite_array(lam, "lam")
    if lam.size != 1 and lam.shape != (d,):
        raise ValueError(f"lam must be a scalar or have one entry per column of X ({d}), got shape {lam.shape}")
    if np.any(lam < 0):
        raise ValueError("lam must contain only non-negative values")
    A = X.T @ X + np.diag(np.broadcast_to(lam, (d,)))
    b = X.T @ (y - X @ centre)
    try:
        delta = linalg.solve(A, b, assume_a="pos", check_finite=False)
    except linalg.LinAlgError:
        # not positive definite (some lam_j = 0 and X rank deficient): the minimum-norm solution
        delta = linalg.lstsq(A, b, check_finite=False)[0]
    return centre + delta


def diagonal_laplace_precision(X, *, noise_std, prior_std):
    r"""Diagonal of the posterior precision of Bayesian linear regression.

    With :math:`y \mid \theta \sim \mathcal{N}(X\theta, s^2 I)` and :math:`\theta \sim \mathcal{N}(0, \sigma^2 I)`
    the negative log posterior has Hessian :math:`X^\top X/s^2 + I/\sigma^2` everywhere; its diagonal

    .. math:: h_j = \frac{1}{s^2}\sum_{i=1}^n x_{ij}^2 + \frac{1}{\sigma^2}

    is what a diagonal Laplace approximation (or the diagonal Fisher plus the prior precision) keeps.
    Its inverse :math:`1/h_j` is smaller than the exact marginal variance :math:`[(X^\top X/s^2 + I/\sigma^2)^{-1}]_{jj}`
    whenever weights are correlated in the posterior. A weight whose input is zero in every example keeps
    its prior precision :math:`1/\sigma^2`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    noise_std : float
        :math:`s > 0`.
    prior_std : float
        :math:`\sigma > 0`, of the source task's prior.

    Returns
    -------
    ndarray, shape (d,)
    """
    X = v.finite_array(X, "X", ndim=2)
    noise_std = v.positive_scalar(noise_std, "noise_std")
    prior_std = v.positive_scalar(prior_std, "prior_std")
    return np.sum(X * X, axis=0) / noise_std**2 + 1.0 / prior_std**2
