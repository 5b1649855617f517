"""Time of ``optimizer.step()``: l2bayes.optim against torch.optim on a 1.33M-parameter MLP.

The goal for the from-scratch optimizers is to stay within 1.3x of torch's own
step time. Gradients are set once (random, float32) and only ``step()`` is
timed: the fastest of ``--steps`` calls after three warm-up calls, one thread
(fastest, because the machine is shared). Usage::

    python benchmarks/optim_speed.py [--steps 50]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from l2bayes import optim

GOAL = 1.3


def step_time(make_opt, steps: int) -> float:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512),
                              torch.nn.ReLU(), torch.nn.Linear(512, 10))
    for p in net.parameters():
        p.grad = 1e-3 * torch.randn_like(p)
    opt = make_opt(net.parameters())
    times = []
    for _ in range(steps + 3):
        start = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - start)
    return min(times[3:])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    configs = {
        "SGD wd": ("SGD", dict(lr=0.01, weight_decay=1e-4)),
        "SGD wd+momentum": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4)),
        "SGD nesterov": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
        "Adam wd": ("Adam", dict(lr=1e-3, weight_decay=1e-4)),
        "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    }
    print(f"optimizer.step() on the 784-1024-512-10 MLP (1,333,770 parameters), float32, 1 thread, fastest of {args.steps}")
    print(f"{'config':18s} {'path':8s} {'torch ms':>9s} {'l2bayes ms':>11s} {'ratio':>7s}")
    worst = 0.0
    for label, (name, kw) in configs.items():
        for foreach in (False, True):
            t_torch = step_time(lambda p: getattr(torch.optim, name)(p, foreach=foreach, **kw), args.steps)
            t_ours = step_time(lambda p: getattr(optim, name)(p, foreach=foreach, **kw), args.steps)
            worst = max(worst, t_ours / t_torch)
            print(f"{label:18s} {'foreach' if foreach else 'for-loop':8s} {1e3 * t_torch:9.3f} "
                  f"{1e3 * t_ours:11.3f} {t_ours / t_torch:7.3f}")
    print(f"worst ratio {worst:.3f} (goal: at most {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
