r"""Gaussian priors and the L2 penalties they become.

Notation (see the book's notation page): :math:`\theta \in \mathbb{R}^d` are the
parameters, ``prior_std`` is :math:`\sigma` (prior standard deviation),
``noise_std`` is :math:`s` (observation noise standard deviation), ``n`` is the
number of training examples, ``lam`` is :math:`\lambda` in the penalty
:math:`\tfrac{\lambda}{2}\lVert\theta - \mu\rVert^2` and ``weight_decay`` is the
coefficient torch's optimizers add to the gradient, :math:`\mathrm{wd}\,\theta`.

The central facts, derived in chapter 1:

* :math:`-\log \mathcal{N}(\theta; \mu, \sigma^2 I)
  = \tfrac{1}{2\sigma^2}\lVert\theta-\mu\rVert^2 + \tfrac{d}{2}\log(2\pi\sigma^2)`,
  so per unit of negative log-likelihood :math:`\lambda = 1/\sigma^2`.
* With a mean-reduced loss the objective is divided by :math:`n`, and torch's
  ``weight_decay`` is :math:`\lambda / n` in units of the mean negative
  log-likelihood. For ``MSELoss`` (which drops the factor :math:`1/(2s^2)`)
  that gives :math:`\mathrm{wd} = 2 s^2 / (n \sigma^2)`; for the mean
  cross-entropy :math:`\mathrm{wd} = 1 / (n \sigma^2)`.
"""

from __future__ import annotations

import math

import numpy as np

from l2bayes import _validate as v

LOSSES = ("mse", "cross_entropy")


def _theta_and_centre(theta, mean, name_theta: str = "theta"):
    theta = v.finite_array(theta, name_theta)
    if mean is None:
        return theta, np.zeros_like(theta)
    mean = v.finite_array(mean, "mean")
    if mean.shape != theta.shape and mean.size != 1:
        raise ValueError(
            f"mean must be a scalar or have the shape of theta {theta.shape}, got {mean.shape}"
        )
    return theta, np.broadcast_to(mean, theta.shape)


def _std_vector(prior_std, shape) -> np.ndarray:
    """Broadcast a scalar or per-parameter prior std to ``shape``, validated."""
    std = v.positive_array(prior_std, "prior_std")
    if std.size != 1 and std.shape != shape:
        raise ValueError(
            f"prior_std must be a scalar or have the shape of theta {shape}, got {std.shape}"
        )
    return np.broadcast_to(std, shape)


def gaussian_log_prior(theta, prior_std, mean=None) -> float:
    r"""Log density of :math:`\mathcal{N}(\mu, \operatorname{diag}(\sigma^2))` at ``theta``.

    The full density, normalising constant included:
    :math:`\log p(\theta) = -\tfrac12\sum_j (\theta_j-\mu_j)^2/\sigma_j^2
    - \tfrac12\sum_j \log(2\pi\sigma_j^2)`.

    Parameters
    ----------
    theta : array_like
        Parameters, any shape; treated as a flat vector of length ``theta.size``.
    prior_std : float or array_like
        Prior standard deviation :math:`\sigma`, a scalar (isotropic prior) or one
        value per parameter (diagonal covariance). Must be positive.
    mean : float or array_like, optional
        Prior mean :math:`\mu`; zero when omitted.

    Returns
    -------
    float
    """
    theta, centre = _theta_and_centre(theta, mean)
    std = _std_vector(prior_std, theta.shape)
    z = (theta - centre) / std
    return float(-0.5 * np.sum(z * z) - 0.5 * np.sum(np.log(2.0 * math.pi * std * std)))


def l2_penalty(theta, lam, centre=None) -> float:
    r"""The penalty :math:`\tfrac{\lambda}{2}\lVert\theta - \mu\rVert^2`.

    Parameters
    ----------
    theta : array_like
        Parameters.
    lam : float or array_like
        Penalty strength :math:`\lambda \ge 0`, a scalar or one value per
        parameter (then the penalty is :math:`\tfrac12\sum_j\lambda_j(\theta_j-\mu_j)^2`).
    centre : float or array_like, optional
        The point :math:`\mu` the penalty pulls toward; zero when omitted.
    """
    theta, mu = _theta_and_centre(theta, centre)
    lam_arr = v.finite_array(lam, "lam")
    if np.any(lam_arr < 0):
        raise ValueError(f"lam must be non-negative, got {lam!r}")
    if lam_arr.size != 1 and lam_arr.shape != theta.shape:
        raise ValueError(
            f"lam must be a scalar or have the shape of theta {theta.shape}, got {lam_arr.shape}"
        )
    diff = theta - mu
    return float(0.5 * np.sum(lam_arr * diff * diff))


def lam_for_prior(prior_std):
    r"""Penalty strength per unit of summed negative log-likelihood: :math:`\lambda = 1/\sigma^2`.

    Accepts a scalar or an array (one :math:`\lambda` per parameter for a
    diagonal prior) and returns the same kind.
    """
    std = v.positive_array(prior_std, "prior_std")
    lam = 1.0 / (std * std)
    return float(lam) if lam.ndim == 0 else lam


def prior_std_for_lam(lam):
    r"""Inverse of :func:`lam_for_prior`: :math:`\sigma = 1/\sqrt{\lambda}` (``lam`` > 0)."""
    lam_arr = v.positive_array(lam, "lam")
    std = 1.0 / np.sqrt(lam_arr)
    return float(std) if std.ndim == 0 else std


def ridge_lam_for_prior(prior_std, *, noise_std: float = 1.0) -> float:
    r""":math:`\lambda` in :math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2`: :math:`s^2/\sigma^2`."""
    prior_std = v.positive_scalar(prior_std, "prior_std")
    noise_std = v.positive_scalar(noise_std, "noise_std")
    return noise_std**2 / prior_std**2


def _loss_scale(loss: str, noise_std) -> float:
    """Factor ``c`` with weight_decay = c / (n sigma^2) for a mean-reduced ``loss``."""
    v.one_of(loss, "loss", LOSSES)
    noise_std = v.positive_scalar(noise_std, "noise_std")
    if loss == "cross_entropy":
        if noise_std != 1.0:
            raise ValueError(
                "noise_std has no meaning for loss='cross_entropy'; leave it at 1.0, "
                f"got {noise_std!r}"
            )
        return 1.0
    return 2.0 * noise_std**2


def weight_decay_for_prior(prior_std, n, *, loss: str = "mse", noise_std: float = 1.0) -> float:
    r"""torch ``weight_decay`` that makes a mean-reduced loss the MAP objective.

    For a prior :math:`\mathcal{N}(0, \sigma^2 I)` and ``n`` training examples:

    * ``loss="mse"`` (``torch.nn.MSELoss(reduction="mean")``, scalar targets with
      Gaussian noise of standard deviation ``noise_std`` = :math:`s`):
      :math:`\mathrm{wd} = 2s^2 / (n\sigma^2)`;
    * ``loss="cross_entropy"`` (mean cross-entropy):
      :math:`\mathrm{wd} = 1/(n\sigma^2)`.

    ``n`` is the size of the whole training set, not the batch size: a
    minibatch mean is an unbiased estimate of the full mean, so the decay that
    balances it against the prior is the same.

    Parameters
    ----------
    prior_std : float
        Prior standard deviation :math:`\sigma > 0`.
    n : int
        Number of training examples (of scalar targets for ``"mse"``), ``n >= 1``.
    loss : {"mse", "cross_entropy"}
    noise_std : float
        Noise standard deviation :math:`s > 0`; only for ``"mse"``.

    Returns
    -------
    float
        The ``weight_decay`` argument for ``torch.optim.SGD``.

    Examples
    --------
    >>> weight_decay_for_prior(1.0, 100)
    0.02
    """
    prior_std = v.positive_scalar(prior_std, "prior_std")
    n = v.positive_int(n, "n")
    return _loss_scale(loss, noise_std) / (n * prior_std**2)


def prior_std_for_weight_decay(weight_decay, n, *, loss: str = "mse", noise_std: float = 1.0) -> float:
    r"""Inverse of :func:`weight_decay_for_prior`: the prior std a ``weight_decay`` encodes.

    :math:`\sigma = \sqrt{c / (n\,\mathrm{wd})}` with :math:`c = 2s^2` for
    ``"mse"`` and :math:`c = 1` for ``"cross_entropy"``. ``weight_decay`` must
    be positive (zero decay is an infinitely wide prior).

    Examples
    --------
    >>> prior_std_for_weight_decay(0.02, 100)
    1.0
    """
    weight_decay = v.positive_scalar(weight_decay, "weight_decay")
    n = v.positive_int(n, "n")
    return math.sqrt(_loss_scale(loss, noise_std) / (n * weight_decay))


def prior_precision_for_weight_decay(weight_decay, n, *, loss: str = "mse", noise_std: float = 1.0) -> float:
    r"""The prior precision :math:`1/\sigma^2` that torch's ``weight_decay`` on a mean loss encodes.

    In units of the *summed* negative log-likelihood, which is what the Laplace
    approximation and laplace-torch's ``prior_precision`` use:

    * ``loss="cross_entropy"`` (mean cross-entropy): :math:`n\,\mathrm{wd}`;
    * ``loss="mse"`` (``MSELoss(reduction="mean")`` with Gaussian noise of
      standard deviation ``noise_std`` = :math:`s`): :math:`n\,\mathrm{wd}/(2s^2)`.

    It is :math:`1/\sigma^2` for the :math:`\sigma` of
    :func:`prior_std_for_weight_decay`, and zero decay is a flat prior (precision 0).

    Parameters
    ----------
    weight_decay : float
        torch's ``weight_decay``, :math:`\mathrm{wd} \ge 0`.
    n : int
        Number of training examples (the whole set, not the batch).
    loss : {"mse", "cross_entropy"}
    noise_std : float
        :math:`s > 0`; only for ``"mse"``.

    Returns
    -------
    float

    Examples
    --------
    >>> prior_precision_for_weight_decay(1e-3, 500, loss="cross_entropy")
    0.5
    >>> prior_precision_for_weight_decay(0.02, 100, noise_std=0.5)
    4.0
    """
    weight_decay = v.nonnegative_scalar(weight_decay, "weight_decay")
    n = v.positive_int(n, "n")
    return n * weight_decay / _loss_scale(loss, noise_std)


def sgld_temperature(n, *, loss: str = "mse", noise_std: float = 1.0) -> float:
    r"""Temperature that turns a mean-reduced loss into the posterior for Langevin sampling.

    With ``weight_decay`` from :func:`weight_decay_for_prior`, the negative log
    posterior is the mean objective divided by :math:`T`:

    .. math::
        -\log p(\theta \mid \mathcal{D}) = \frac{1}{T}\Bigl(L(\theta)
        + \tfrac{\mathrm{wd}}{2}\lVert\theta\rVert^2\Bigr) + \text{const},

    with :math:`T = 2s^2/n` for ``MSELoss(reduction="mean")`` (scalar targets,
    Gaussian noise of standard deviation ``noise_std`` = :math:`s`) and
    :math:`T = 1/n` for the mean cross-entropy. Langevin dynamics with step
    :math:`\eta` on the mean objective then needs Gaussian noise of standard
    deviation :math:`\sqrt{2\eta T}` per step (:class:`l2bayes.optim.SGLD`).

    Multiply the result by a factor below one for a *cold* posterior
    :math:`p(\theta \mid \mathcal{D})^{1/T_{\text{post}}}`.

    Parameters
    ----------
    n : int
        Number of training examples (the whole set, not the batch), ``n >= 1``.
    loss : {"mse", "cross_entropy"}
    noise_std : float
        Noise standard deviation :math:`s > 0`; only for ``"mse"``.

    Returns
    -------
    float

    Examples
    --------
    >>> sgld_temperature(100)
    0.02
    >>> sgld_temperature(200, loss="cross_entropy")
    0.005
    """
    n = v.positive_int(n, "n")
    return _loss_scale(loss, noise_std) / n
