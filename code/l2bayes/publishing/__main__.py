"""``python -m l2bayes.publishing notebooks|bundle|hidden-sources|leaks`` (also ``python -m l2bayes.student``)."""

from __future__ import annotations

import argparse
import sys

from l2bayes.publishing.bundle import write_bundle
from l2bayes.publishing.hidden import write_hidden_sources
from l2bayes.publishing.leaks import find_solution_leaks
from l2bayes.publishing.notebooks import write_student_notebooks


def main(argv=None, prog: str = "python -m l2bayes.publishing") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Student notebooks, the student bundle, "
                                     "solution-free book sources, and the leak audit.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("notebooks", help="write the student notebooks and their zip")
    p.add_argument("--out", default="_build/student")
    p.add_argument("--chapters", help="folder of chapter notebooks (default: the package's repository)")
    p = sub.add_parser("bundle", help="write the student notebooks, their zip and l2bayes-student.zip")
    p.add_argument("--out", default="_build/student")
    p.add_argument("--chapters", help="folder of chapter notebooks (default: the package's repository)")
    p = sub.add_parser("hidden-sources", help="copy the book sources with every solution removed")
    p.add_argument("root")
    p.add_argument("dest")
    p = sub.add_parser("leaks", help="search a built tree (zips and wheels opened) for reference solution code; "
                       "exit 1 if found")
    p.add_argument("tree")
    p.add_argument("--chapters")
    args = parser.parse_args(argv)
    try:
        if args.command in ("notebooks", "bundle"):
            written = write_student_notebooks(args.out, args.chapters)
            if args.command == "bundle":
                written.append(write_bundle(args.out, args.chapters))
            for path in written:
                print(path)
        elif args.command == "hidden-sources":
            changed = write_hidden_sources(args.root, args.dest)
            print(f"wrote {args.dest}: {len(changed)} files without their solutions")
        else:
            leaks = find_solution_leaks(args.tree, args.chapters)
            for leak in leaks:
                print(f"{leak.path}: {leak.chapter} {leak.function}: {leak.line}")
            print(f"{len(leaks)} solution lines found under {args.tree}")
            return 1 if leaks else 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
