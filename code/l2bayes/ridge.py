r"""Ridge regression and its Bayesian reading: the posterior and the evidence.

Notation (see the book's notation page): :math:`X \in \mathbb{R}^{n \times d}` is
the design matrix, :math:`y \in \mathbb{R}^n` the targets, :math:`\theta` the
weights, ``noise_std`` is :math:`s`, ``prior_std`` is :math:`\sigma` and ``lam``
is ridge's :math:`\lambda` in

.. math:: \lVert y - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2,

scikit-learn's ``Ridge(alpha=lam)``. With the likelihood
:math:`y \mid \theta \sim \mathcal{N}(X\theta, s^2 I)` and the prior
:math:`\theta \sim \mathcal{N}(0, \sigma^2 I)`, the minimiser is the posterior
mean when :math:`\lambda = s^2/\sigma^2` (chapters 1 and 2).

None of these functions fits an intercept: the prior is on the weights, so an
intercept is not penalised. Centre the data with :func:`center_data`, fit on the
centred data, and recover the intercept as
:math:`\bar y - \bar x^\top\theta`.

How the linear algebra is done, never with an explicit inverse:

* :func:`ridge_fit` solves the normal equations
  :math:`(X^\top X + \lambda I)\theta = X^\top y` by Cholesky when
  :math:`n \ge d` (a :math:`d \times d` system) and the dual system
  :math:`\theta = X^\top(XX^\top + \lambda I)^{-1}y` when :math:`d > n`
  (an :math:`n \times n` system). Forming :math:`X^\top X` squares the condition
  number of :math:`X`; when LAPACK's estimate of the reciprocal condition
  number of the system is below :data:`RCOND_MIN` the function falls back to
  the singular value decomposition of :math:`X`, which is backward stable.
* :func:`ridge_path`, :func:`bayes_posterior`, :func:`log_evidence` and
  :func:`fit_evidence` work from one thin SVD
  :math:`X = U \operatorname{diag}(\delta) V^\top`, in which ridge shrinks the
  component along :math:`v_j` by :math:`\delta_j^2/(\delta_j^2 + \lambda)`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from l2bayes import _validate as v

#: Below this reciprocal condition number (LAPACK's 1-norm estimate) the
#: Cholesky solve of the normal or dual equations would lose more than about six
#: of float64's sixteen digits, and :func:`ridge_fit` uses the SVD instead.
RCOND_MIN = 1e-6


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------


def _check_xy(X, y):
    X = v.finite_array(X, "X", ndim=2)
    y = v.finite_array(y, "y", ndim=1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows (examples), got X with {X.shape[0]} "
            f"and y with {y.shape[0]}"
        )
    return X, y


def _check_lams(lams):
    lams = v.finite_array(lams, "lams", ndim=1)
    if np.any(lams < 0):
        raise ValueError("lams must contain only non-negative values")
    return lams


# ----------------------------------------------------------------------------
# centring
# ----------------------------------------------------------------------------


def center_data(X, y):
    r"""Centre the columns of ``X`` and the targets ``y``.

    The intercept :math:`b` of :math:`y \approx b + X\theta` is not penalised:
    the prior is on :math:`\theta`. Minimising
    :math:`\lVert y - b\mathbf{1} - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2`
    over :math:`b` gives :math:`b = \bar y - \bar x^\top\theta`, and substituting
    it back leaves ridge on the centred data :math:`X - \mathbf{1}\bar x^\top`,
    :math:`y - \bar y\mathbf{1}`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)

    Returns
    -------
    Xc : ndarray, shape (n, d)
        ``X`` minus its column means.
    yc : ndarray, shape (n,)
        ``y`` minus its mean.
    X_mean : ndarray, shape (d,)
        The column means :math:`\bar x`.
    y_mean : float
        The mean :math:`\bar y`.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0]])
    >>> y = np.array([1.0, 2.0, 6.0])
    >>> Xc, yc, X_mean, y_mean = center_data(X, y)
    >>> theta = ridge_fit(Xc, yc, lam=0.5)
    >>> intercept = y_mean - X_mean @ theta
    """
    X, y = _check_xy(X, y)
    X_mean = X.mean(axis=0)
    y_mean = float(y.mean())
    return X - X_mean, y - y_mean, X_mean, y_mean


# ----------------------------------------------------------------------------
# the point estimate
# ----------------------------------------------------------------------------


def _svd(X):
    """Thin SVD ``X = U diag(delta) Vt``, by LAPACK's divide and conquer, with a fallback."""
    try:
        return linalg.svd(X, full_matrices=False, check_finite=False, lapack_driver="gesdd")
    except linalg.LinAlgError:  # pragma: no cover - gesdd rarely fails to converge
        return linalg.svd(X, full_matrices=False, check_finite=False, lapack_driver="gesvd")


def _shrink(delta, lams, shape):
    r"""The filter factors :math:`\delta/(\delta^2+\lambda)` of ridge on a matrix of ``shape``.

    Singular values below ``max(n, d) * eps * max(delta)`` are rounding noise
    and are treated as zero, as numpy's ``lstsq`` does: the result is then the
    exact ridge solution for a matrix within that relative distance of ``X``,
    and with :math:`\lambda = 0` it is the least-squares solution of minimum norm.
    """
    delta = np.asarray(delta)
    lams = np.asarray(lams, dtype=np.float64)
    cutoff = max(shape) * np.finfo(np.float64).eps * (delta.max() if delta.size else 0.0)
    kept = np.where(delta > cutoff, delta, 0.0)
    denom = kept**2 + lams[..., None]
    out = np.zeros(np.broadcast(kept, denom).shape)
    np.divide(np.broadcast_to(kept, out.shape), denom, out=out, where=denom > 0)
    return out


def _ridge_svd(X, y, lam):
    U, delta, Vt = _svd(X)
    return Vt.T @ (_shrink(delta, lam, X.shape) * (U.T @ y))


def _cholesky_solve(A, b):
    """Solve ``A x = b`` for symmetric positive definite ``A`` (overwritten), or None if ill-conditioned."""
    anorm = float(np.abs(A).sum(axis=0).max())
    c, info = lapack.dpotrf(A, lower=0, clean=0, overwrite_a=1)
    if info != 0:
        return None  # not numerically positive definite
    rcond, info = lapack.dpocon(c, anorm)
    if info != 0 or not rcond >= RCOND_MIN:
        return None
    x, info = lapack.dpotrs(c, b, lower=0)
    return x if info == 0 else None


def ridge_fit(X, y, lam):
    r"""Ridge regression without an intercept.

    Returns the minimiser of :math:`\lVert y - X\theta\rVert^2 + \lambda\lVert\theta\rVert^2`,

    .. math:: \theta = (X^\top X + \lambda I)^{-1} X^\top y = X^\top (X X^\top + \lambda I)^{-1} y,

    the MAP estimate and posterior mean under the prior
    :math:`\mathcal{N}(0, \sigma^2 I)` and noise :math:`\mathcal{N}(0, s^2)` with
    :math:`\lambda = s^2/\sigma^2`. The first (primal) form solves a
    :math:`d \times d` system and is used when :math:`n \ge d`; the second (dual)
    form solves an :math:`n \times n` system and is used when :math:`d > n`.
    Both are solved by Cholesky; if the system is ill-conditioned (reciprocal
    condition number below :data:`RCOND_MIN`) or singular, the SVD of :math:`X`
    is used instead. With ``lam=0`` the result is the least-squares solution of
    minimum norm.

    For an unpenalised intercept, fit on centred data (:func:`center_data`).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Design matrix, one example per row.
    y : array_like, shape (n,)
        Targets.
    lam : float
        Penalty strength :math:`\lambda \ge 0` (scikit-learn's ``alpha``).

    Returns
    -------
    theta : ndarray, shape (d,)

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, ``y`` not 1-D, their numbers of rows differ, either
        is empty or not finite, or ``lam`` is negative or not finite.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> theta = ridge_fit(X, y, lam=1.0)
    >>> bool(np.allclose((X.T @ X + np.eye(2)) @ theta, X.T @ y))
    True
    """
    X, y = _check_xy(X, y)
    lam = v.nonnegative_scalar(lam, "lam")
    n, d = X.shape
    if n >= d:
        A = X.T @ X
        A.flat[:: d + 1] += lam
        theta = _cholesky_solve(A, X.T @ y)
    else:
        K = X @ X.T
        K.flat[:: n + 1] += lam
        alpha = _cholesky_solve(K, y)
        theta = None if alpha is None else X.T @ alpha
    if theta is None:
        theta = _ridge_svd(X, y, lam)
    return theta


def ridge_path(X, y, lams):
    r"""Ridge solutions for many penalties from a single SVD.

    With the thin SVD :math:`X = U\operatorname{diag}(\delta)V^\top`,

    .. math:: \theta(\lambda) = \sum_j \frac{\delta_j}{\delta_j^2 + \lambda}\,(u_j^\top y)\, v_j ,

    so after one decomposition every further :math:`\lambda` costs
    :math:`O(d\min(n, d))`. A zero singular value with :math:`\lambda = 0`
    contributes nothing (the minimum-norm least-squares solution); singular
    values below ``max(n, d) * eps`` times the largest count as zero.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    lams : array_like, shape (m,)
        Penalty strengths :math:`\lambda \ge 0`.

    Returns
    -------
    thetas : ndarray, shape (m, d)
        Row ``i`` is ``ridge_fit(X, y, lams[i])``.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> ridge_path(X, y, [0.1, 1.0, 10.0]).shape
    (3, 2)
    """
    X, y = _check_xy(X, y)
    lams = _check_lams(lams)
    U, delta, Vt = _svd(X)
    return (_shrink(delta, lams, X.shape) * (U.T @ y)) @ Vt


# ----------------------------------------------------------------------------
# the posterior and the evidence
# ----------------------------------------------------------------------------


def _stds(noise_std, prior_std):
    return v.positive_scalar(noise_std, "noise_std"), v.positive_scalar(prior_std, "prior_std")


def bayes_posterior(X, y, *, noise_std, prior_std):
    r"""Posterior of :math:`\theta` for the Gaussian linear model.

    With :math:`y \mid \theta \sim \mathcal{N}(X\theta, s^2 I)` and
    :math:`\theta \sim \mathcal{N}(0, \sigma^2 I)` the posterior is
    :math:`\mathcal{N}(m, S)` with precision and mean

    .. math::
        S^{-1} = \frac{1}{s^2}X^\top X + \frac{1}{\sigma^2} I, \qquad
        m = \frac{1}{s^2} S X^\top y ,

    so :math:`m` is ridge with :math:`\lambda = s^2/\sigma^2` and
    :math:`S = s^2 (X^\top X + \lambda I)^{-1}`. Both are computed from the SVD
    of :math:`X`: :math:`S = \sigma^2\bigl(I - V\operatorname{diag}\bigl(\delta^2/(\delta^2+\lambda)\bigr)V^\top\bigr)`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    noise_std : float
        Noise standard deviation :math:`s > 0`.
    prior_std : float
        Prior standard deviation :math:`\sigma > 0`.

    Returns
    -------
    mean : ndarray, shape (d,)
        The posterior mean :math:`m`.
    covariance : ndarray, shape (d, d)
        The posterior covariance :math:`S`, symmetric.
    """
    X, y = _check_xy(X, y)
    noise_std, prior_std = _stds(noise_std, prior_std)
    lam = noise_std**2 / prior_std**2
    d = X.shape[1]
    U, delta, Vt = _svd(X)
    mean = Vt.T @ ((delta / (delta**2 + lam)) * (U.T @ y))
    if Vt.shape[0] == d:  # V is square: S = V diag(s^2/(delta^2 + lam)) V^T, no cancellation
        cov = (Vt.T * (noise_std**2 / (delta**2 + lam))) @ Vt
    else:  # d > n: directions outside the row space keep the prior variance
        cov = prior_std**2 * (np.eye(d) - (Vt.T * (delta**2 / (delta**2 + lam))) @ Vt)
    cov = 0.5 * (cov + cov.T)
    return mean, cov


def _log_evidence_svd(n, delta, Uty, yy, noise_var, prior_var):
    r"""Log evidence from the SVD: ``Uty`` is :math:`U^\top y`, ``yy`` is :math:`\lVert y\rVert^2`."""
    ratio = prior_var * delta**2 / noise_var  # eigenvalues of (sigma^2/s^2) X^T X
    # y^T C^{-1} y = ||y - X m||^2 / s^2 + ||m||^2 / sigma^2 with m the posterior mean;
    # along u_j the residual is Uty_j / (1 + ratio_j), the rest of y is residual outright.
    resid_in = Uty / (1.0 + ratio)
    resid2 = max(yy - Uty @ Uty, 0.0) + resid_in @ resid_in
    m_coef = prior_var * delta * Uty / (noise_var + prior_var * delta**2)  # m in the basis v_j
    quad = resid2 / noise_var + m_coef @ m_coef / prior_var
    logdet = n * math.log(noise_var) + float(np.sum(np.log1p(ratio)))
    return -0.5 * (n * math.log(2.0 * math.pi) + logdet + quad), resid2, m_coef @ m_coef


def log_evidence(X, y, *, noise_std, prior_std):
    r"""Log marginal likelihood :math:`\log p(y \mid X, s, \sigma)`.

    Integrating :math:`\theta` out, :math:`y \sim \mathcal{N}(0, C)` with
    :math:`C = s^2 I + \sigma^2 X X^\top`. Written with the posterior mean
    :math:`m` and :math:`A = S^{-1} = X^\top X/s^2 + I/\sigma^2`
    (Bishop 2006, eq. 3.86),

    .. math::
        \log p(y) = -\frac{1}{2s^2}\lVert y - Xm\rVert^2 - \frac{1}{2\sigma^2}\lVert m\rVert^2
        - \frac12\log\lvert A\rvert - \frac{d}{2}\log\sigma^2 - \frac{n}{2}\log(2\pi s^2),

    the data fit, the penalty at :math:`m`, and the Occam factor. It is computed
    from the SVD of :math:`X`, with
    :math:`\log\lvert C\rvert = n\log s^2 + \sum_j \log(1 + \sigma^2\delta_j^2/s^2)`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    noise_std : float
        Noise standard deviation :math:`s > 0`.
    prior_std : float
        Prior standard deviation :math:`\sigma > 0`.

    Returns
    -------
    float
    """
    X, y = _check_xy(X, y)
    noise_std, prior_std = _stds(noise_std, prior_std)
    U, delta, _ = _svd(X)
    value, _, _ = _log_evidence_svd(X.shape[0], delta, U.T @ y, float(y @ y), noise_std**2, prior_std**2)
    return float(value)


def fit_evidence(X, y, *, tol=1e-12, max_iter=10_000):
    r"""The noise and prior standard deviations that maximise the evidence.

    MacKay's fixed-point updates (Bishop 2006, §3.5.2) in the book's notation:
    with the prior precision :math:`\alpha = 1/\sigma^2`, the noise precision
    :math:`\beta = 1/s^2`, the eigenvalues :math:`\beta\delta_j^2` of
    :math:`\beta X^\top X` and the posterior mean :math:`m`,

    .. math::
        \gamma = \sum_j \frac{\beta\delta_j^2}{\alpha + \beta\delta_j^2}, \qquad
        \alpha \leftarrow \frac{\gamma}{m^\top m}, \qquad
        \beta \leftarrow \frac{n - \gamma}{\lVert y - Xm\rVert^2}.

    A fixed point is a stationary point of :func:`log_evidence`. The iteration
    starts where scikit-learn's ``BayesianRidge`` does
    (:math:`\beta = 1/\operatorname{var}(y)`, :math:`\alpha = 1`) and stops when
    both precisions change by a relative amount below ``tol``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    tol : float, optional
        Relative change of :math:`\alpha` and :math:`\beta` at which to stop.
    max_iter : int, optional

    Returns
    -------
    noise_std : float
        :math:`s = \beta^{-1/2}`.
    prior_std : float
        :math:`\sigma = \alpha^{-1/2}`.

    Raises
    ------
    ValueError
        On bad inputs, or if ``y`` is zero (no evidence maximum exists).
    RuntimeError
        If the iteration does not converge in ``max_iter`` steps or a precision
        runs off to zero or infinity (for example when :math:`X` fits ``y``
        exactly, so the best noise level is zero).
    """
    X, y = _check_xy(X, y)
    tol = v.positive_scalar(tol, "tol")
    max_iter = v.positive_int(max_iter, "max_iter")
    n = X.shape[0]
    yy = float(y @ y)
    if yy == 0.0:
        raise ValueError("y must not be all zeros: the evidence then has no maximum")
    U, delta, _ = _svd(X)
    Uty = U.T @ y
    delta2 = delta**2
    var_y = float(np.var(y))
    beta = 1.0 / (var_y if var_y > 0 else yy / n)
    alpha = 1.0
    for _ in range(max_iter):
        eig = beta * delta2
        gamma = float(np.sum(eig / (alpha + eig)))
        m_coef = beta * delta * Uty / (alpha + eig)  # posterior mean in the basis v_j
        mm = float(m_coef @ m_coef)
        resid_in = Uty - delta * m_coef
        resid2 = max(yy - Uty @ Uty, 0.0) + float(resid_in @ resid_in)
        if mm == 0.0 or resid2 == 0.0 or n - gamma <= 0.0:
            break
        alpha_new, beta_new = gamma / mm, (n - gamma) / resid2
        if not (math.isfinite(alpha_new) and math.isfinite(beta_new) and alpha_new > 0 and beta_new > 0):
            break
        done = abs(alpha_new - alpha) <= tol * alpha_new and abs(beta_new - beta) <= tol * beta_new
        alpha, beta = alpha_new, beta_new
        if done:
            return 1.0 / math.sqrt(beta), 1.0 / math.sqrt(alpha)
    raise RuntimeError(
        "fit_evidence did not converge: the evidence has no finite maximum here "
        f"(alpha={alpha:.3g}, beta={beta:.3g}) or max_iter={max_iter} is too small"
    )
