"""Time of ``optimizer.step()``: l2bayes.optim against torch.optim on a 1.33M-parameter MLP.

The goal for the from-scratch optimizers is to stay within 1.3x of torch's own
step time. Gradients are set once (random, float32) and only ``step()`` is
timed, one thread. The two optimizers step in turn, torch, ours, torch, ours...
(:mod:`paired`), and the ratio is the median of the ``--steps`` paired ratios,
printed with their interquartile range. Usage::

    python benchmarks/optim_speed.py [--steps 40] [--batch 5]
"""

from __future__ import annotations

import argparse
import sys

import torch
from paired import paired

from l2bayes import optim

GOAL = 1.3


def make_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512),
                              torch.nn.ReLU(), torch.nn.Linear(512, 10))
    for p in net.parameters():
        p.grad = 1e-3 * torch.randn_like(p)
    return net


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="pairs")
    parser.add_argument("--batch", type=int, default=5, help="steps timed together in each half of a pair")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    configs = {
        "SGD wd": ("SGD", dict(lr=0.01, weight_decay=1e-4)),
        "SGD wd+momentum": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4)),
        "SGD nesterov": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
        "Adam wd": ("Adam", dict(lr=1e-3, weight_decay=1e-4)),
        "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    }
    print(f"optimizer.step() on the 784-1024-512-10 MLP (1,333,770 parameters), float32, 1 thread, "
          f"{args.steps} interleaved pairs of {args.batch} steps")
    print(f"{'config':18s} {'path':8s} {'torch ms':>9s} {'l2bayes ms':>11s} {'ratio':>7s}  IQR of the ratios")
    worst = 0.0
    for label, (name, kw) in configs.items():
        for foreach in (False, True):
            ref = getattr(torch.optim, name)(make_net().parameters(), foreach=foreach, **kw)
            ours = getattr(optim, name)(make_net().parameters(), foreach=foreach, **kw)
            r = paired(lambda: [ref.step() for _ in range(args.batch)], lambda: [ours.step() for _ in range(args.batch)],
                       pairs=args.steps, warmup=2)
            worst = max(worst, r.ratio)
            print(f"{label:18s} {'foreach' if foreach else 'for-loop':8s} {1e3 * r.a / args.batch:9.3f} "
                  f"{1e3 * r.b / args.batch:11.3f} {r.ratio:7.3f}  {r.spread()}")
    print(f"worst median ratio {worst:.3f} (goal: at most {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
