"""Is SGD's ``weight_decay`` cheaper than autograd on the penalty in the loss?

Compares, on a float32 MLP with more than a million parameters on the CPU, one
training step (forward, backward, optimizer step) of

* ``penalty``: ``loss + wd/2 * sum(||p||^2)`` differentiated by autograd, ``SGD(weight_decay=0)``;
* ``weight_decay``: ``SGD(weight_decay=wd)``, single-tensor (for-loop) path;
* ``weight_decay_foreach``: the same with ``foreach=True`` (multi-tensor path).

Method. Time: the fastest and the median of ``--steps`` timed steps after
three warm-up steps, ``time.perf_counter``, one thread, each variant in its own
process (for the memory; these are not compared with each other); then the
ratios that matter, measured in one process with the variants interleaved step
by step (:mod:`paired`): the median of the paired ratios and
their interquartile range, which hold on a shared machine. Memory: tracemalloc
does not see torch's allocations, and psutil is not installed, so each variant
runs in a fresh subprocess and reports the growth of the process's peak
resident set size (``resource.getrusage(...).ru_maxrss``) from just before the
first step to the end: the gradients plus the largest set of temporaries any
step needed. Usage::

    python benchmarks/weight_decay_speed.py [--steps 30] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

VARIANTS = ("penalty", "weight_decay", "weight_decay_foreach")


def make_step(variant: str, batch: int):
    """One training step of ``variant`` as a closure, on its own copy of the seeded MLP; and the MLP's size."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512),
                              torch.nn.ReLU(), torch.nn.Linear(512, 10))
    xb, yb = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
    wd = 1e-4
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, weight_decay=0.0 if variant == "penalty" else wd,
                          foreach=variant == "weight_decay_foreach")

    def step():
        loss = torch.nn.functional.cross_entropy(net(xb), yb)
        if variant == "penalty":
            loss = loss + wd / 2 * sum((p**2).sum() for p in net.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, sum(p.numel() for p in net.parameters())


def run_variant(variant: str, steps: int, batch: int) -> dict:
    import torch

    torch.set_num_threads(1)
    step, n_params = make_step(variant, batch)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(steps + 3):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"variant": variant, "params": n_params,
            "min_ms": 1e3 * min(times[3:]), "median_ms": 1e3 * statistics.median(times[3:]),
            "peak_rss_growth_mib": (rss1 - rss0) / 1024}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:  # child process
        print(json.dumps(run_variant(args.variant, args.steps, args.batch)))
        return 0
    rows = []
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps),
                              "--batch", str(args.batch)], check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout))
    print(f"MLP 784-1024-512-10, {rows[0]['params']:,} parameters, float32, batch {args.batch}, 1 thread")
    # Each variant ran in its own process, one after another: their times are not compared here (a change
    # of load between the processes would land in the ratio); the paired ratios below are.
    print(f"{'variant':22s} {'fastest ms':>10s} {'median ms':>10s} {'peak RSS growth MiB':>20s}")
    for r in rows:
        print(f"{r['variant']:22s} {r['min_ms']:10.2f} {r['median_ms']:10.2f} {r['peak_rss_growth_mib']:20.1f}")
    # The ratios that matter, measured interleaved in one process: weight_decay, other, weight_decay, ...
    import torch

    from paired import paired

    torch.set_num_threads(1)
    print(f"paired against weight_decay, {args.steps} interleaved pairs (median ratio, IQR):")
    reference, _ = make_step("weight_decay", args.batch)
    for variant in ("penalty", "weight_decay_foreach"):
        r = paired(reference, make_step(variant, args.batch)[0], pairs=args.steps, warmup=3)
        print(f"  {variant:22s} {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
