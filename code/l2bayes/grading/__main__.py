"""The grader's command line: ``python -m l2bayes.grading`` (or ``python -m l2bayes.grade``).

    python -m l2bayes.grade SUB.ipynb ... --out grades.csv [--shard I/N --seed S]
    python -m l2bayes.grade merge --out grades.csv SHARD_RESULTS ...
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from l2bayes.grading.batch import GraderBusy, grade_batch, merge
from l2bayes.grading.sandbox import Limits, Runner, SandboxUnavailable, process_limit

PROG = "python -m l2bayes.grade"


def _grade_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Grade submitted notebooks, each in its own bubblewrap sandbox. "
                    f"`{PROG} merge --help` joins the results of shards.",
    )
    parser.add_argument("submissions", nargs="+", help="submitted .ipynb files")
    parser.add_argument("--out", required=True, help="CSV to write (submission, exercise, points, max_points, feedback, sandbox)")
    parser.add_argument("--results", help="folder for the per-submission JSON records (default: <out stem>_json)")
    parser.add_argument("--chapter", help="chapter notebook stem (default: from each notebook's metadata or name)")
    parser.add_argument("--exercise", action="append", dest="ids", help="grade only this exercise id (repeatable)")
    parser.add_argument("--seed", type=int, help="seed of the hidden random cases (default: the results folder's, "
                                                 "else a fresh one; printed and stored in every record)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--shard", help="grade only slice I of N (I/N, 0 <= I < N) of the submissions sorted by path; "
                                        "needs --seed; join the shards with `merge`")
    parser.add_argument("--timeout", type=float, help="CPU seconds per exercise (default: each exercise's own)")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, help="CPU seconds per solution cell")
    parser.add_argument("--submission-timeout", type=float, default=Limits.submission_seconds,
                        help="CPU seconds per submission")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="address-space limit per worker")
    parser.add_argument("--max-notebook-mb", type=int, default=Limits.notebook_mb, help="largest submission accepted")
    parser.add_argument("--chapters", help="folder of chapter notebooks with the reference solutions")
    parser.add_argument("--fresh", action="store_true", help="grade again even where a record exists (new seed)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap: only for trusted submissions (the CSV says sandbox=none)")
    parser.add_argument("--no-pool", action="store_true",
                        help="a fresh sandbox and interpreter for every submission, instead of one sandbox per job "
                             "whose pre-imported worker forks a child per submission (slower, for the torch chapters "
                             "much slower)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _merge(argv) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} merge", description="Join shards' results folders into one CSV.")
    parser.add_argument("results", nargs="+", help="the shards' results folders (their --results)")
    parser.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    try:
        records = merge(args.results, out=args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {len(records)} submissions from {len(args.results)} shards into {args.out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return _merge(argv[1:])
    args = _grade_parser().parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # for torch, if a plan's values need it
    if args.no_sandbox:
        print("warning: --no-sandbox: submissions run without bubblewrap and can read the reference solutions and "
              "other students' files; every row of the CSV says sandbox=none", file=sys.stderr)
    elif process_limit() == "none":
        print("warning: the grader runs as root and this host has no pids cgroup it can use, so no limit on the "
              "number of processes binds (the kernel exempts root from RLIMIT_NPROC); a fork bomb is still "
              "confined to its sandbox's pid namespace and CPU time, but can slow the machine. Run the grader "
              "as an ordinary user to have the limit.", file=sys.stderr)
    count = [0]

    def progress(record: dict, reused: bool) -> None:
        count[0] += 1
        if not args.quiet:
            note = "already graded" if reused else f"{record['seconds']:.1f} s"
            print(f"[{count[0]}] {record['submission']}: {record['points']:g}/{record['max_points']:g} ({note})",
                  file=sys.stderr)

    start = time.monotonic()
    try:
        limits = Limits(
            exercise_seconds=args.timeout,
            cell_seconds=args.cell_timeout,
            submission_seconds=args.submission_timeout,
            memory_mb=args.memory_mb,
            notebook_mb=args.max_notebook_mb,
        )
        records = grade_batch(
            args.submissions, out=args.out, chapter=args.chapter, ids=args.ids, results_dir=args.results,
            seed=args.seed, jobs=args.jobs, limits=limits, chapters=args.chapters, fresh=args.fresh,
            sandbox=Runner(sandbox=not args.no_sandbox, pool=not args.no_pool), shard=args.shard, on_record=progress,
        )
    except GraderBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: graded submissions are kept; run the same command again to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        seeds = sorted({r["seed"] for r in records if r.get("seed") is not None})
        print(f"graded {len(records)} submissions in {time.monotonic() - start:.1f} s with seed "
              f"{', '.join(map(str, seeds)) or '-'} (replay: --seed); wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
