"""Execute each chapter notebook and print its time, interleaved with a baseline that holds on a shared machine.

A benchmark, not a test: the budget on the course's 2-core machines is
20 s per notebook, alone. Usage::

    python benchmarks/notebook_timings.py [--pairs 2] [NOTEBOOK ...]

With no notebooks named, every notebook in chapters/ is run. Each chapter runs
``--pairs`` times, each time beside a run of its baseline, a notebook of the
chapter's hidden first cell only (a kernel started, ``l2bayes.setup_notebook``
and its imports), the two in turn and the order alternating
(:func:`paired.paired`). Printed per chapter:

* wall: the median wall time of the chapter's runs (what a reader waits, at
  this moment's load);
* CPU: the kernel's own CPU time (``resource.getrusage`` read by a cell
  appended to the run), which a busy machine inflates much less than the wall
  time; the chapters run on one thread, so alone their wall time is about this;
* ratio: chapter / baseline, the median of the paired ratios with their
  interquartile range, of the wall times and of the kernels' CPU times. Pairs of
  runs a few minutes apart at loads 2-9 differed by 2-13% on the CPU times, by up
  to 11% on their ratio, and by up to 49% on the wall-time ratio: the baseline
  (imports: files) and a chapter (arithmetic) do not slow down alike on a busy
  machine. Read the CPU columns there.

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
    parser.add_argument("--pairs", type=int, default=2, help="runs of each chapter, each beside a baseline run")
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    print(f"{args.pairs} interleaved pairs (chapter, baseline) each; budget {BUDGET_S:.0f} s alone")
    print(f"{'notebook':36s} {'wall s':>7s} {'base s':>7s} {'ratio':>6s} {'IQR':16s} {'CPU s':>6s} {'base':>5s} "
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
        print(f"{path.name:36s} {r.b:7.2f} {r.a:7.2f} {r.ratio:6.2f} {r.spread():16s} {c.b:6.2f} {c.a:5.2f} "
              f"{c.ratio:6.2f}  {c.spread()}{flag}", flush=True)
    print(f"largest kernel CPU time: {worst_cpu:.2f} s (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
