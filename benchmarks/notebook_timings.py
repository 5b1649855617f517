"""Execute each chapter notebook and print its time, interleaved with a baseline that holds on a shared machine.

A benchmark, not a test: the budget on the course's 2-core machines is
20 s per notebook, alone. Usage::

    python benchmarks/notebook_timings.py [--pairs 3] [NOTEBOOK ...]

With no notebooks named, every notebook in chapters/ is run. Each chapter runs
``--pairs`` times, each time beside a run of its baseline, a notebook of the
chapter's hidden first cell only (a kernel started, ``l2bayes.setup_notebook``
and its imports), the two in turn and the order alternating
(:func:`paired.paired`). Printed per chapter, the CPU columns first:

* CPU: the kernel's own CPU time (``resource.getrusage`` read by a cell
  appended to the run), which a busy machine inflates much less than the wall
  time; the chapters run on one thread, so alone their wall time is about this;
* wall: the median wall time of the chapter's runs (what a reader waits, at
  this moment's load);
* ratio: chapter / baseline, the median of the paired ratios with their
  interquartile range, of the kernels' CPU times and of the wall times.

Two runs of every chapter about a minute apart, at load 4-6, put the CPU
ratios of six chapters within 7% of each other, and four 10-21% apart; the wall
ratios, up to 76% apart. Not even the CPU time holds there: what runs on the
other core slows this one's arithmetic (a chapter's kernel CPU time moved by
up to 28%), and a chapter and its baseline, run one after the other, are not
slowed alike. Read the CPU columns, and on a quiet machine: there (load below
1), two runs of two pairs a minute apart put all ten CPU ratios within 6% of
each other and eight of the ten wall ratios within 5%; in the other two, one
baseline run took 3.7 s instead of 2.4 s, which with two pairs is half the
median. Three pairs, the default, leave the median to the other two.

Exits non-zero if a notebook fails to execute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import Rounds, paired  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 20.0
CPU_CELL = ("import resource as _r\n_u = _r.getrusage(_r.RUSAGE_SELF)\n"
            "print('kernel-cpu-seconds', _u.ru_utime + _u.ru_stime)")


def run(nb, folder: Path) -> tuple[float, float]:
    """Execute a copy of ``nb`` in ``folder``; return its wall time and its kernel's CPU time, in seconds."""
    nb = nbformat.from_dict(nb)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    return wall, float(text.split("kernel-cpu-seconds")[1])


def baseline(nb):
    """The chapter reduced to its first code cell: the set-up every chapter starts with."""
    out = nbformat.from_dict(nb)
    out.cells = [next(c for c in nb.cells if c.cell_type == "code")]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="runs of each chapter, each beside a baseline run")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    print(f"{args.pairs} interleaved pairs (chapter, baseline) each; budget {BUDGET_S:.0f} s alone")
    print(f"{'notebook':36s} {'CPU s':>6s} {'base':>5s} {'ratio':>6s} {'IQR':16s} {'wall s':>7s} {'base s':>7s} "
          f"{'ratio':>6s}  IQR")
    worst_cpu = 0.0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cpu = {"chapter": [], "baseline": []}

        def timed(which, notebook):
            def fn():
                wall, seconds = run(notebook, path.parent)
                cpu[which].append(seconds)
                return wall
            return fn

        r = paired(timed("baseline", baseline(nb)), timed("chapter", nb), pairs=args.pairs, warmup=0)
        c = Rounds(cpu).ratio("chapter", "baseline")
        worst_cpu = max(worst_cpu, c.b)
        flag = "" if c.b <= BUDGET_S else "  OVER BUDGET"
        print(f"{path.name:36s} {c.b:6.2f} {c.a:5.2f} {c.ratio:6.2f} {c.spread():16s} {r.b:7.2f} {r.a:7.2f} "
              f"{r.ratio:6.2f}  {r.spread()}{flag}", flush=True)
    print(f"largest kernel CPU time: {worst_cpu:.2f} s (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
