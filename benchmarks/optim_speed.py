"""Time of ``optimizer.step()``: l2bayes.optim against torch.optim on a 1.33M-parameter MLP.

The goal for the from-scratch optimizers is to stay within 1.3x of torch's own
step time. Gradients are set once (random, float32) and only ``step()`` is
timed, one thread. The two optimizers step in turn, torch, ours, torch, ours...
(:mod:`paired`), ``--batch`` steps at a time, ``--steps`` pairs per
configuration, in each of ``--processes`` fresh processes run one after the
other; each ratio (l2bayes / torch) is the median of the paired ratios of all
the processes, printed with their interquartile range and with the lowest and
highest of the processes' own medians, for this process's CPU time (the figure
to read: a half of a pair lasts 3-70 ms, and one preemption by another program
would double its wall time) and for the wall time.

Why several processes: the ratio is a property of the process, not only of the
code. Four blocks of 60 pairs of SGD with Nesterov momentum (foreach) agreed
within 8% inside each of three processes started one after another, while the
processes read 1.87-1.97, 1.13-1.16 and 1.19-1.21 (where the tensors happen to
lie in memory, presumably). One process a run, with 40 or 200 pairs, left rows
of two runs a minute apart up to 10% and 14% apart; five processes of 40 pairs,
within 6% (CPU) and 7% (wall), at load 2-7. About two minutes. Usage::

    python benchmarks/optim_speed.py [--steps 40] [--batch 5] [--processes 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
from paired import paired, quartiles

from l2bayes import optim

GOAL = 1.3
CONFIGS = {
    "SGD wd": ("SGD", dict(lr=0.01, weight_decay=1e-4)),
    "SGD wd+momentum": ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=1e-4)),
    "SGD nesterov": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    "Adam wd": ("Adam", dict(lr=1e-3, weight_decay=1e-4)),
    "AdamW": ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
}
WARMUP = 2


def make_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512),
                              torch.nn.ReLU(), torch.nn.Linear(512, 10))
    for p in net.parameters():
        p.grad = 1e-3 * torch.randn_like(p)
    return net


def measure(steps: int, batch: int) -> dict:
    """In this process: for every configuration and path, the per-pair CPU and wall times of both optimizers."""
    torch.set_num_threads(1)
    out = {}
    for label, (name, kw) in CONFIGS.items():
        for foreach in (False, True):
            ref = getattr(torch.optim, name)(make_net().parameters(), foreach=foreach, **kw)
            ours = getattr(optim, name)(make_net().parameters(), foreach=foreach, **kw)
            times = {"torch": {"cpu": [], "wall": []}, "l2bayes": {"cpu": [], "wall": []}}

            def run(opt, which):
                def fn():
                    start, start_wall = time.process_time(), time.perf_counter()
                    for _ in range(batch):
                        opt.step()
                    times[which]["wall"].append(time.perf_counter() - start_wall)
                    times[which]["cpu"].append(time.process_time() - start)
                    return times[which]["cpu"][-1]
                return fn

            paired(run(ref, "torch"), run(ours, "l2bayes"), pairs=steps, warmup=WARMUP)
            # entry i of each list is pair i (paired calls both halves of a pair before the next)
            out[f"{label}|{'foreach' if foreach else 'for-loop'}"] = {
                which: {clock: values[WARMUP:] for clock, values in t.items()} for which, t in times.items()}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="pairs per configuration in each process")
    parser.add_argument("--batch", type=int, default=5, help="steps timed together in each half of a pair")
    parser.add_argument("--processes", type=int, default=5, help="fresh processes, one after another")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("steps", "batch", "processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.child:
        print(json.dumps(measure(args.steps, args.batch)))
        return 0
    runs = []
    for _ in range(args.processes):
        out = subprocess.run([sys.executable, __file__, "--child", "--steps", str(args.steps), "--batch",
                              str(args.batch)], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    print(f"optimizer.step() on the 784-1024-512-10 MLP (1,333,770 parameters), float32, 1 thread, "
          f"{args.processes} processes x {args.steps} interleaved pairs of {args.batch} steps")
    print("ratio l2bayes / torch: median of all the paired ratios [IQR] {lowest, highest median of a process}")
    print(f"{'config':18s} {'path':8s} {'torch ms':>9s} {'l2bayes ms':>11s} {'CPU ratio':>9s} {'IQR':16s} "
          f"{'processes':16s} {'wall ratio':>10s} {'IQR':16s} processes   (ms: CPU per step)")
    worst = 0.0
    for key in runs[0]:
        label, path = key.split("|")
        row = {}
        for clock in ("cpu", "wall"):
            per_process = [[b / a for a, b in zip(r[key]["torch"][clock], r[key]["l2bayes"][clock])] for r in runs]
            low, ratio, high = quartiles([x for ratios in per_process for x in ratios])
            medians = [statistics.median(ratios) for ratios in per_process]
            row[clock] = (ratio, f"[{low:.3f}, {high:.3f}]", f"{{{min(medians):.3f}, {max(medians):.3f}}}")
        worst = max(worst, row["cpu"][0])
        ms = {which: 1e3 * statistics.median([t for r in runs for t in r[key][which]["cpu"]]) / args.batch
              for which in ("torch", "l2bayes")}
        print(f"{label:18s} {path:8s} {ms['torch']:9.3f} {ms['l2bayes']:11.3f} {row['cpu'][0]:9.3f} {row['cpu'][1]:16s} "
              f"{row['cpu'][2]:16s} {row['wall'][0]:10.3f} {row['wall'][1]:16s} {row['wall'][2]}")
    print(f"worst median CPU ratio {worst:.3f} (goal: at most {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
