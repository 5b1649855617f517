"""How fast the batch grader is, sandboxed and not: honest submissions spread over every chapter.

    .venv/bin/python benchmarks/grading_speed.py [--n 100] [--jobs 2] [--keep DIR]

Each submission is a minimal notebook of one chapter holding that chapter's
reference solution cells (with a comment that makes every file distinct) and
the import cells they need, so every one should get full marks. The ``--n``
submissions are spread evenly over the chapters that have exercises. Each
chapter's submissions are graded as one batch, ``--jobs`` at a time, three
ways: sandboxed as ``make grade`` does (one bubblewrap sandbox per grading
thread, whose worker imports numpy/torch once and forks a child per
submission), sandboxed with a fresh sandbox and interpreter per submission
(``Runner(pool=False)``), and with ``--no-sandbox`` (a fresh interpreter per
submission). It prints submissions per second per chapter for each, and the
ratios against ``--no-sandbox``. Not a test: the targets are a sandbox that
costs at most 15% and at least 5 submissions per second for every chapter.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from l2bayes.exercises import EXERCISES
from l2bayes.exercises.notebooks import chapters_dir, program, read_notebook, solution_sources
from l2bayes.grade import grade_batch
from l2bayes.grading.sandbox import Runner

MODES = {"pooled": Runner(), "per-submission": Runner(pool=False), "none": Runner(sandbox=False)}


def honest_notebook(chapter_nb, chapter: str, k: int) -> dict:
    """A submission of ``chapter``: its solution cells (the reference) and the imports they need."""
    sources = solution_sources(chapter_nb)
    imports = program(chapter_nb, sources)[: -len(sources)]

    def cell(i, source, tags=()):
        return {"cell_type": "code", "id": f"c{i:02d}", "metadata": {"tags": list(tags)} if tags else {},
                "outputs": [], "execution_count": None, "source": source}

    cells = [cell(0, "\n".join(imports))] if imports else []
    cells += [cell(i + 1, f"# submission {k}\n" + src, ["solution"]) for i, src in enumerate(sources)]
    return {"cells": cells, "metadata": {"l2bayes": {"chapter": chapter}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", help="write the batch and the grades here instead of a temporary folder")
    args = parser.parse_args()
    chapters = chapters_dir()
    stems = sorted({ex.chapter for ex in EXERCISES.values()})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        batches = {}
        for j, stem in enumerate(stems):
            nb = read_notebook(chapters / f"{stem}.ipynb")
            count = args.n // len(stems) + (j < args.n % len(stems))
            sub = folder / "submissions" / stem
            sub.mkdir(parents=True, exist_ok=True)
            batches[stem] = []
            for k in range(count):
                path = sub / f"student_{k:03d}.ipynb"
                path.write_text(json.dumps(honest_notebook(nb, stem, k), indent=1))
                batches[stem].append(path)
        rates: dict[str, dict[str, float]] = {}
        steady: dict[str, dict[str, float]] = {}
        for mode, runner in MODES.items():
            for stem, paths in batches.items():
                start = time.perf_counter()
                records = grade_batch(paths, out=folder / f"{stem}-{mode}.csv", chapter=stem, jobs=args.jobs,
                                      chapters=chapters, fresh=True, seed=0, sandbox=runner)
                seconds = time.perf_counter() - start
                wrong = [r for r in records if r["points"] != r["max_points"]]
                assert not wrong, f"an honest submission lost points ({mode}): {wrong[0]['exercises']}"
                rates.setdefault(stem, {})[mode] = len(paths) / seconds
                # Steady state: jobs submissions at a time, each taking its median time; no batch set-up
                # (the plan's reference runs, a pool's first imports).
                median = sorted(r["seconds"] for r in records)[len(records) // 2]
                steady.setdefault(stem, {})[mode] = args.jobs / median
                print(f"  {mode:15s} {stem:28s} {len(paths) / seconds:6.2f}/s in all, "
                      f"{args.jobs / median:6.2f}/s steady (median {median:.2f} s each)", flush=True)
    n = {s: len(batches[s]) for s in stems}
    total = {m: sum(n.values()) / sum(n[s] / rates[s][m] for s in stems) for m in MODES}
    print(f"{sum(n.values())} honest submissions, {args.jobs} jobs, all full marks; submissions per second:")
    print(f"{'chapter':28s} {'n':>4s} {'pooled':>8s} {'per-sub':>8s} {'none':>8s} {'pooled/none':>12s} {'per-sub/none':>13s}")
    for stem, r in [*((s, rates[s]) for s in stems), ("all", total)]:
        count = sum(n.values()) if stem == "all" else n[stem]
        print(f"{stem:28s} {count:4d} {r['pooled']:8.2f} {r['per-submission']:8.2f} {r['none']:8.2f} "
              f"{r['pooled'] / r['none']:12.2f} {r['per-submission'] / r['none']:13.2f}")
    print("steady state (jobs / median seconds per submission, without the batch's set-up):")
    for stem in stems:
        r = steady[stem]
        print(f"{stem:28s} {n[stem]:4d} {r['pooled']:8.2f} {r['per-submission']:8.2f} {r['none']:8.2f} "
              f"{r['pooled'] / r['none']:12.2f} {r['per-submission'] / r['none']:13.2f}")


if __name__ == "__main__":
    main()
