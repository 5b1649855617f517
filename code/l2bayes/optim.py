r"""SGD, Adam, AdamW and SGLD written for reading, and a guard for parameter groups.

The shape follows torch's own ``torch/optim/sgd.py``: a small
:class:`torch.optim.Optimizer` subclass gathers the state (momentum buffers,
moment estimates, step counts) and hands plain lists of tensors to a functional
core (:func:`sgd`, :func:`adam`) that does the arithmetic. Each core has a
single-tensor path (one loop over the parameters, the update rule visible in a
dozen lines) and a multi-tensor path (``torch._foreach_*``, the same arithmetic
on whole lists at once), side by side.

Notation (see the book's notation page): ``theta`` is :math:`\theta`, ``lr`` is
:math:`\eta`, ``weight_decay`` is torch's :math:`\mathrm{wd}`. The updates are,
with :math:`g = \nabla L(\theta)` (negated when ``maximize``):

* SGD: :math:`g \leftarrow g + \mathrm{wd}\,\theta`;
  :math:`b \leftarrow \mu b + (1-\tau) g` (:math:`b = g` at the first step);
  :math:`g \leftarrow g + \mu b` (Nesterov) or :math:`g \leftarrow b`;
  :math:`\theta \leftarrow \theta - \eta g`.
* Adam (coupled L2): :math:`g \leftarrow g + \mathrm{wd}\,\theta`, then the Adam
  step :math:`\theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)`.
* AdamW (decoupled): :math:`\theta \leftarrow (1 - \eta\,\mathrm{wd})\theta`, then
  the Adam step on the unpenalised gradient.
* SGLD (a sampler, not an optimizer): :math:`g \leftarrow g + \mathrm{wd}\,\theta`;
  :math:`\theta \leftarrow \theta - \eta g + \sqrt{2\eta T}\,\xi` with
  :math:`\xi \sim \mathcal{N}(0, I)` and :math:`T` the temperature
  (:func:`l2bayes.sgld_temperature`).

The first three reproduce ``torch.optim.SGD``, ``torch.optim.Adam`` and
``torch.optim.AdamW`` bit for bit on the CPU (``tests/test_optim.py``): the
same floating-point operations in the same order.

Unlike torch, the constructors reject parameter groups with keys they do not
know (torch silently ignores ``{"params": ..., "weight_dacay": 0.1}``);
:func:`check_param_groups` applies the same guard to any optimizer, torch's
included.
"""

from __future__ import annotations

import difflib

import torch

from l2bayes import _validate as v

__all__ = ["SGD", "SGLD", "Adam", "AdamW", "sgd", "sgld", "adam", "check_param_groups"]

#: Keys a parameter group may carry besides the optimizer's defaults: the
#: tensors, the names torch records for named parameters, and the learning rate
#: that ``torch.optim.lr_scheduler`` stores on first use.
EXTRA_GROUP_KEYS = frozenset({"params", "param_names", "initial_lr"})


# ----------------------------------------------------------------------------
# parameter groups
# ----------------------------------------------------------------------------


def _unknown_keys(group: dict, known) -> list[str]:
    return sorted(k for k in group if k not in known and k not in EXTRA_GROUP_KEYS)


def _unknown_key_message(index: int, keys: list[str], known) -> str:
    hints = []
    for key in keys:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"param_groups[{index}] has unknown keys {', '.join(hints)}; "
        f"known keys are {sorted(set(known) | EXTRA_GROUP_KEYS)}"
    )


def check_param_groups(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Raise ``ValueError`` if a parameter group has a key the optimizer ignores.

    torch merges each group with the optimizer's defaults and never looks at
    other keys, so a misspelling such as ``"weight_dacay"`` silently trains
    without weight decay. Call this once after building any optimizer.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer

    Returns
    -------
    torch.optim.Optimizer
        The same optimizer, so the call can wrap the constructor.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    for i, group in enumerate(optimizer.param_groups):
        unknown = _unknown_keys(group, optimizer.defaults)
        if unknown:
            raise ValueError(_unknown_key_message(i, unknown, optimizer.defaults))
    return optimizer


class _CheckedOptimizer(torch.optim.Optimizer):
    """Bookkeeping shared by the book's optimizers: validated hyperparameters.

    Every group (the defaults and each dict passed in ``params``) is checked
    when it is added, so a misspelled key or a negative learning rate fails at
    construction with a ``ValueError`` naming it.
    """

    def _check_hyperparameters(self, group: dict) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _update(self, group: dict, params: list) -> None:  # pragma: no cover - overridden
        """Update ``params``, the tensors of ``group`` that have a gradient."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update(group, [p for p in group["params"] if p.grad is not None])
        return loss

    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise ValueError(f"param_group must be a dict, got {type(param_group).__name__}")
        unknown = _unknown_keys(param_group, self.defaults)
        if unknown:
            raise ValueError(_unknown_key_message(len(self.param_groups), unknown, self.defaults))
        merged = {**self.defaults, **param_group}
        self._check_hyperparameters(merged)
        super().add_param_group(param_group)


def _check_common(group: dict) -> None:
    v.nonnegative_scalar(group["lr"], "lr")
    v.nonnegative_scalar(group["weight_decay"], "weight_decay")
    for flag in ("maximize", "foreach"):
        if not isinstance(group[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {group[flag]!r}")


# ----------------------------------------------------------------------------
# SGD
# ----------------------------------------------------------------------------


class SGD(_CheckedOptimizer):
    r"""Stochastic gradient descent with weight decay, momentum and Nesterov.

    Same arguments and same arithmetic as ``torch.optim.SGD`` (without the
    ``fused`` and ``differentiable`` variants).

    Parameters
    ----------
    params : iterable of tensors or of dicts (parameter groups)
    lr : float
        Learning rate :math:`\eta \ge 0`.
    momentum : float
        Momentum :math:`\mu`, in :math:`[0, 1)`.
    dampening : float
        Dampening :math:`\tau`, in :math:`[0, 1]`.
    weight_decay : float
        :math:`\mathrm{wd} \ge 0`, added as :math:`\mathrm{wd}\,\theta` to the
        gradient before the momentum buffer.
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Ascend instead of descend.
    foreach : bool
        Use the multi-tensor path.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach)
        self._check_hyperparameters(defaults)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _check_common(group)
        momentum = v.nonnegative_scalar(group["momentum"], "momentum")
        if momentum >= 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        dampening = v.nonnegative_scalar(group["dampening"], "dampening")
        if dampening > 1.0:
            raise ValueError(f"dampening must be in [0, 1], got {dampening!r}")
        if not isinstance(group["nesterov"], bool):
            raise ValueError(f"nesterov must be True or False, got {group['nesterov']!r}")
        if group["nesterov"] and (momentum == 0.0 or dampening != 0.0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening == 0")

    def _update(self, group: dict, params: list) -> None:
        bufs = [self.state[p].get("momentum_buffer") for p in params]
        sgd(params, [p.grad for p in params], bufs, lr=group["lr"], weight_decay=group["weight_decay"],
            momentum=group["momentum"], dampening=group["dampening"],
            nesterov=group["nesterov"], maximize=group["maximize"], foreach=group["foreach"])
        if group["momentum"] != 0:
            for p, buf in zip(params, bufs):
                self.state[p]["momentum_buffer"] = buf


def sgd(params, grads, momentum_buffers, *, lr, weight_decay, momentum, dampening, nesterov,
        maximize, foreach=False) -> None:
    """Functional SGD: update ``params`` in place; fill ``momentum_buffers`` (a list, ``None`` = new)."""
    step = _multi_tensor_sgd if foreach else _single_tensor_sgd
    step(params, grads, momentum_buffers, lr=lr, weight_decay=weight_decay, momentum=momentum,
         dampening=dampening, nesterov=nesterov, maximize=maximize)


def _single_tensor_sgd(params, grads, bufs, *, lr, weight_decay, momentum, dampening, nesterov, maximize):
    for i, theta in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            g = g.add(theta, alpha=weight_decay)  # the prior's gradient, before the buffer
        if momentum != 0:
            if bufs[i] is None:
                bufs[i] = g.detach().clone()  # b_1 = g_1
            else:
                bufs[i].mul_(momentum).add_(g, alpha=1 - dampening)
            g = g.add(bufs[i], alpha=momentum) if nesterov else bufs[i]
        theta.add_(g, alpha=-lr)


def _multi_tensor_sgd(params, grads, bufs, *, lr, weight_decay, momentum, dampening, nesterov, maximize):
    if not params:
        return
    g = torch._foreach_neg(grads) if maximize else list(grads)
    if weight_decay != 0:
        g = torch._foreach_add(g, params, alpha=weight_decay)
    if momentum != 0:
        old = [i for i, b in enumerate(bufs) if b is not None]
        for i, b in enumerate(bufs):
            if b is None:
                bufs[i] = g[i].detach().clone()
        if old:
            torch._foreach_mul_([bufs[i] for i in old], momentum)
            torch._foreach_add_([bufs[i] for i in old], [g[i] for i in old], alpha=1 - dampening)
        g = torch._foreach_add(g, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_add_(params, g, alpha=-lr)


# ----------------------------------------------------------------------------
# Adam and AdamW
# ----------------------------------------------------------------------------


class Adam(_CheckedOptimizer):
    r"""Adam with coupled L2 regularisation: ``weight_decay`` is added to the gradient.

    Same arguments and arithmetic as ``torch.optim.Adam`` (without ``fused``,
    ``capturable`` and ``differentiable``). The L2 term :math:`\mathrm{wd}\,\theta`
    passes through the moment estimates and the preconditioner
    :math:`1/(\sqrt{\hat v} + \epsilon)`.

    Parameters
    ----------
    params : iterable of tensors or of dicts (parameter groups)
    lr : float
        Learning rate :math:`\eta \ge 0`.
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in :math:`[0, 1)`.
    eps : float
        :math:`\epsilon \ge 0`, added to :math:`\sqrt{\hat v}`.
    weight_decay : float
        :math:`\mathrm{wd} \ge 0`.
    amsgrad : bool
        Normalise by the running maximum of :math:`v`.
    maximize, foreach : bool
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, foreach=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach)
        self._check_hyperparameters(defaults)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        _check_common(group)
        v.nonnegative_scalar(group["eps"], "eps")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for j, beta in enumerate(betas):
            beta = v.nonnegative_scalar(beta, f"betas[{j}]")
            if beta >= 1.0:
                raise ValueError(f"betas[{j}] must be in [0, 1), got {beta!r}")
        if not isinstance(group["amsgrad"], bool):
            raise ValueError(f"amsgrad must be True or False, got {group['amsgrad']!r}")

    def _update(self, group: dict, params: list) -> None:
        for p in params:
            if not self.state[p]:  # lazy initialisation, as torch does
                self.state[p]["step"] = torch.tensor(0.0, dtype=torch.get_default_dtype())
                self.state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                self.state[p]["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["amsgrad"]:
                    self.state[p]["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        states = [self.state[p] for p in params]
        adam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
             [s["exp_avg_sq"] for s in states],
             [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
             [s["step"] for s in states],
             lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1], eps=group["eps"],
             weight_decay=group["weight_decay"], decoupled=self._decoupled,
             amsgrad=group["amsgrad"], maximize=group["maximize"], foreach=group["foreach"])


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Before the Adam step on the *unpenalised* gradient, the weights shrink:
    :math:`\theta \leftarrow (1 - \eta\,\mathrm{wd})\,\theta`. The decay is
    multiplied by the learning rate, as in torch (the paper multiplies it by
    the schedule factor only). Default ``weight_decay`` is 0.01, as in torch.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
         weight_decay, decoupled, amsgrad, maximize, foreach=False) -> None:
    """Functional Adam/AdamW: update ``params`` and the moment estimates in place.

    ``steps`` are 0-d tensors counting the updates; ``decoupled`` selects AdamW.
    """
    step = _multi_tensor_adam if foreach else _single_tensor_adam
    step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=lr, beta1=beta1,
         beta2=beta2, eps=eps, weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad,
         maximize=maximize)


def _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                        beta2, eps, weight_decay, decoupled, amsgrad, maximize):
    for i, theta in enumerate(params):
        g, m, v_ = (-grads[i] if maximize else grads[i]), exp_avgs[i], exp_avg_sqs[i]
        steps[i] += 1
        t = steps[i].item()
        if weight_decay != 0:
            if decoupled:
                theta.mul_(1 - lr * weight_decay)  # AdamW: shrink, outside the preconditioner
            else:
                g = g.add(theta, alpha=weight_decay)  # Adam + L2: the prior's gradient enters m, v
        m.lerp_(g, 1 - beta1)  # m = beta1 m + (1 - beta1) g
        v_.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 v + (1 - beta2) g^2
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], v_, out=max_exp_avg_sqs[i])
            v_ = max_exp_avg_sqs[i]
        denom = (v_.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)  # sqrt(v_hat) + eps
        theta.addcdiv_(m, denom, value=-(lr / (1 - beta1**t)))  # theta -= lr m_hat / denom


def _multi_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                       beta2, eps, weight_decay, decoupled, amsgrad, maximize):
    if not params:
        return
    g = torch._foreach_neg(grads) if maximize else list(grads)
    torch._foreach_add_(steps, 1.0)
    if weight_decay != 0:
        if decoupled:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
        else:
            g = torch._foreach_add(g, params, alpha=weight_decay)
    torch._foreach_lerp_(exp_avgs, g, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, g, g, 1 - beta2)
    ts = [s.item() for s in steps]
    if amsgrad:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        denom = torch._foreach_sqrt(max_exp_avg_sqs)
    else:
        denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, [(1 - beta2**t) ** 0.5 for t in ts])
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, [-(lr / (1 - beta1**t)) for t in ts])


# ----------------------------------------------------------------------------
# SGLD
# ----------------------------------------------------------------------------


class SGLD(_CheckedOptimizer):
    r"""Stochastic gradient Langevin dynamics (Welling & Teh, 2011) for mean losses.

    Each step is SGD plus Gaussian noise whose size is set by the temperature
    :math:`T`:

    .. math::
        \theta \leftarrow \theta - \eta\,\bigl(\nabla L(\theta) + \mathrm{wd}\,\theta\bigr)
        + \sqrt{2\eta T}\,\xi, \qquad \xi \sim \mathcal{N}(0, I).

    With ``weight_decay=weight_decay_for_prior(prior_std, n, ...)`` and
    ``temperature=sgld_temperature(n, ...)`` the iterates sample (up to the
    bias of a finite step :math:`\eta`, and the extra noise of minibatch
    gradients) the posterior of the prior :math:`\mathcal{N}(0,\sigma^2 I)`;
    a smaller ``temperature`` samples the tempered posterior, ``temperature=0``
    is plain SGD.

    Parameters
    ----------
    params : iterable of tensors or of dicts (parameter groups)
    lr : float
        Step size :math:`\eta > 0`.
    weight_decay : float
        :math:`\mathrm{wd} \ge 0`, added as :math:`\mathrm{wd}\,\theta` to the gradient.
    temperature : float
        :math:`T \ge 0`, required: there is no default temperature, because the
        right one depends on the loss and on :math:`n`.
    generator : torch.Generator, optional
        Source of the noise; a seeded generator makes the chain reproducible.
        ``None`` uses torch's global generator.
    foreach : bool
        Use the multi-tensor path (same noise, same arithmetic).
    """

    def __init__(self, params, lr, weight_decay=0.0, *, temperature, generator=None, foreach=False):
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.generator = generator
        defaults = dict(lr=lr, weight_decay=weight_decay, temperature=temperature, foreach=foreach)
        self._check_hyperparameters(defaults)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict) -> None:
        v.positive_scalar(group["lr"], "lr")
        v.nonnegative_scalar(group["weight_decay"], "weight_decay")
        v.nonnegative_scalar(group["temperature"], "temperature")
        if not isinstance(group["foreach"], bool):
            raise ValueError(f"foreach must be True or False, got {group['foreach']!r}")

    def _update(self, group: dict, params: list) -> None:
        sgld(params, [p.grad for p in params], lr=group["lr"], weight_decay=group["weight_decay"],
             temperature=group["temperature"], generator=self.generator, foreach=group["foreach"])


def sgld(params, grads, *, lr, weight_decay, temperature, generator=None, foreach=False) -> None:
    """Functional SGLD: update ``params`` in place, drawing the noise from ``generator``.

    The drift is the SGD step itself (:func:`sgd` without momentum), so a change
    to SGD's arithmetic is a change to SGLD's; the Langevin noise is added after
    it. Both paths draw one standard normal tensor per parameter, in the order
    of ``params``, so they consume the generator identically.
    """
    sgd(params, grads, [None] * len(params), lr=lr, weight_decay=weight_decay, momentum=0.0, dampening=0.0,
        nesterov=False, maximize=False, foreach=foreach)
    if temperature == 0 or not params:
        return
    noise_std = (2.0 * lr * temperature) ** 0.5
    if foreach:
        torch._foreach_add_(params, [_noise(theta, generator) for theta in params], alpha=noise_std)
    else:
        for theta in params:
            theta.add_(_noise(theta, generator), alpha=noise_std)


def _noise(theta, generator):
    return torch.randn(theta.shape, generator=generator, dtype=theta.dtype, device=theta.device)
