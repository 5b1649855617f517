"""How fast the batch grader is, sandboxed and not: honest submissions of the chapters with exercises.

    .venv/bin/python benchmarks/grading_speed.py [--n 48] [--rounds 6] [--seconds 20] [--jobs 2]
        [--chapters 04_weight_decay_sgd[,...]] [--keep DIR]

Each submission is a minimal notebook of one chapter holding that chapter's
reference solution cells (with a comment that makes every file distinct) and
the import cells they need, so every one should get full marks. The ``--n``
submissions are spread evenly over the chapters (all that have exercises, or
those of ``--chapters``: ``--chapters 04_weight_decay_sgd --n 200`` measures a
class-sized batch of one chapter). Each chapter's submissions are graded as one
batch, ``--jobs`` at a time, three ways: sandboxed as ``make grade`` does (one
bubblewrap sandbox per grading thread, whose worker imports numpy/torch once and
forks a child per submission), sandboxed with a fresh sandbox and interpreter
per submission (``Runner(pool=False)``), and with ``--no-sandbox`` (a fresh
interpreter per submission).

Interleaved: each round grades every chapter's batch in the three ways one
right after the other, the order of the three rotated from round to round
(:func:`paired.rounds`), so a change in the machine's load lands in all three
alike; the ratios are taken batch by batch within a round (time sandboxed /
time without a sandbox: 1.10 means the sandbox costs 10%) and reported as the
median with its interquartile range, per chapter and over every batch (the
first ``--rounds`` rounds of each chapter, so that every chapter weighs alike).

A chapter gets ``--rounds`` rounds, and more, up to 15, until its rounds have
taken ``--seconds`` in all: the batch of five submissions of a quick chapter
is graded in about a second. Beside the wall time, each batch's CPU time is
read from a cgroup holding this process and everything it starts
(:func:`paired.tree_cpu_clock`, which takes root; sandboxes included), and
the same ratios are printed for it. Two runs a minute apart (load 2-5), three
rounds a chapter, by the wall clock only: 9 of the 20 per-chapter ratios more
than 10% apart (up to 62%); with the extra rounds, 3 of 20 by the wall clock
(11-19%) and 2 of 20 by the CPU time (12% and 21%, both of the ratio of the
pooled sandbox in chapters whose batches got only three or six rounds); the
ratios over every batch, within 4% either way. On a quiet machine (load below
1), with three rounds at least: 39 of the 40 per-chapter ratios within 10%
(most within 5%), and chapter 4's pooled ratio by the CPU time 12% apart, on
the three rounds its slow batches got (0.42 and 0.47). Six rounds at least, the
default: chapter 4's four ratios within 3% in two runs. Not a test: the
targets are a sandbox that costs at most 15% and at least 5 submissions per
second for every chapter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from l2bayes.exercises import EXERCISES
from l2bayes.exercises.notebooks import chapters_dir, program, read_notebook, solution_sources
from l2bayes.grade import grade_batch
from l2bayes.grading.sandbox import Runner
from paired import Rounds, rounds, tree_cpu_clock

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


def _costs(cost: dict) -> str:
    return (f"{cost['pooled'].ratio:7.3f} {cost['pooled'].spread():16s}  "
            f"{cost['per-submission'].ratio:7.3f} {cost['per-submission'].spread():16s}")


def _cost_table(by_stem: dict[str, Rounds], n: dict[str, int], first_rounds: int, first) -> None:
    """One row a chapter (``first(stem, rounds)`` gives its three figures), then one over every batch."""
    every = {"pooled": ([], []), "per-submission": ([], [])}
    for stem, r in by_stem.items():
        for mode in every:
            every[mode][0].extend(r.times["none"][:first_rounds])
            every[mode][1].extend(r.times[mode][:first_rounds])
        cost = {mode: r.ratio(mode, "none") for mode in every}
        print(f"{stem:28s} {n[stem]:4d} {len(r.times['none']):6d} {first(stem, r)}  {_costs(cost)}")
    if len(by_stem) > 1:
        overall = {mode: Rounds({"none": a, mode: b}).ratio(mode, "none") for mode, (a, b) in every.items()}
        print(f"{'every batch':28s} {sum(n[s] for s in by_stem):4d} {first_rounds:6d} {'':7s} {'':7s} {'':7s}  {_costs(overall)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48, help="submissions in all, spread over the chapters")
    parser.add_argument("--rounds", type=int, default=6, help="rounds: every batch graded each way once per round")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="more rounds (at most 15) until a chapter's rounds have taken this long")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chapters", help="comma-separated chapter stems (default: every chapter with exercises)")
    parser.add_argument("--keep", help="write the batch and the grades here instead of a temporary folder")
    args = parser.parse_args()
    cpu_clock = tree_cpu_clock()  # before any thread or child is started
    chapters = chapters_dir()
    known = sorted({ex.chapter for ex in EXERCISES.values()})
    stems = known if not args.chapters else [s.strip() for s in args.chapters.split(",") if s.strip()]
    unknown = [s for s in stems if s not in known]
    if unknown:
        parser.error(f"--chapters: no exercises in {unknown}; chapters with exercises: {', '.join(known)}")
    if args.n < len(stems):
        parser.error(f"--n must be at least the number of chapters ({len(stems)}), got {args.n}")
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
        medians: dict[tuple[str, str], list[float]] = {}
        cpu: dict[str, dict[str, list[float]]] = {stem: {mode: [] for mode in MODES} for stem in stems}

        def grade(stem, mode):
            paths = batches[stem]

            def run():
                cpu_start = cpu_clock() if cpu_clock else 0.0
                start = time.perf_counter()
                records = grade_batch(paths, out=folder / f"{stem}-{mode}.csv", chapter=stem, jobs=args.jobs,
                                      chapters=chapters, fresh=True, seed=0, sandbox=MODES[mode])
                seconds = time.perf_counter() - start
                if cpu_clock:
                    cpu[stem][mode].append(cpu_clock() - cpu_start)
                wrong = [r for r in records if r["points"] != r["max_points"]]
                assert not wrong, f"an honest submission lost points ({mode}): {wrong[0]['exercises']}"
                medians.setdefault((stem, mode), []).append(sorted(r["seconds"] for r in records)[len(records) // 2])
                return seconds

            return run

        print(f"{args.n} honest submissions over {len(stems)} chapter(s), {args.jobs} jobs, at least "
              f"{args.rounds} rounds (more until {args.seconds:g} s a chapter); the three ways interleaved batch "
              f"by batch", flush=True)
        results = {}
        for stem in stems:
            results[stem] = rounds({mode: grade(stem, mode) for mode in MODES}, n=args.rounds,
                                   seconds=args.seconds, most=max(15, args.rounds))
            r = results[stem]
            rates = "  ".join(f"{mode} {len(batches[stem]) / r.median(mode):5.2f}/s" for mode in MODES)
            print(f"  {stem:28s} {rates}  ({len(r.times['none'])} rounds)", flush=True)
    n = {s: len(batches[s]) for s in stems}
    print("all full marks. Submissions per second (median over the rounds), and the cost of the sandbox:")
    print("time sandboxed / time without, median of the per-batch ratios [interquartile range]")
    print(f"{'chapter':28s} {'n':>4s} {'rounds':>6s} {'pooled':>7s} {'per-sub':>7s} {'none':>7s}  {'pooled/none':>24s}  "
          f"{'per-sub/none':>24s}")
    _cost_table({stem: results[stem] for stem in stems}, n, args.rounds, lambda stem, r: "{:7.2f} {:7.2f} {:7.2f}".format(
        *(n[stem] / r.median(mode) for mode in ("pooled", "per-submission", "none"))))
    if cpu_clock:
        print("CPU time of the batch (this process and every process it started, sandboxes included), "
              "sandboxed / without, median of the per-batch ratios [interquartile range]")
        print(f"{'chapter':28s} {'n':>4s} {'rounds':>6s} {'pooled':>7s} {'per-sub':>7s} {'none':>7s}  "
              f"{'pooled/none':>24s}  {'per-sub/none':>24s}   (CPU seconds a batch, medians)")
        _cost_table({stem: Rounds(cpu[stem]) for stem in stems}, n, args.rounds, lambda stem, r: "{:7.2f} {:7.2f} {:7.2f}".format(
            *(r.median(mode) for mode in ("pooled", "per-submission", "none"))))
    else:
        print("CPU time: not measured (it needs a cgroup of this process's own, which takes root)")
    print("steady state (jobs / median seconds per submission, without the batch's set-up):")
    for stem in stems:
        rate = {mode: args.jobs / statistics.median(medians[(stem, mode)]) for mode in MODES}
        print(f"{stem:28s} {n[stem]:4d} {rate['pooled']:7.2f} {rate['per-submission']:7.2f} {rate['none']:7.2f}")


if __name__ == "__main__":
    main()
