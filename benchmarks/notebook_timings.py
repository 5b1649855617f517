"""Execute each chapter notebook and print its wall time.

A benchmark, not a test: the budget on the course's 2-core machines is
20 s per notebook. Usage::

    python benchmarks/notebook_timings.py [NOTEBOOK ...]

With no arguments, every notebook in chapters/ is run. Exits non-zero if a
notebook fails to execute.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 20.0


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((ROOT / "chapters").glob("*.ipynb"))
    print(f"{'notebook':40s} {'wall time':>10s}  budget {BUDGET_S:.0f} s")
    total = 0.0
    for path in paths:
        seconds = run(path)
        total += seconds
        flag = "" if seconds <= BUDGET_S else "  OVER BUDGET"
        print(f"{path.name:40s} {seconds:9.2f}s{flag}", flush=True)
    print(f"{'total':40s} {total:9.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
