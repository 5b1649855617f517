"""``python -m l2bayes.exercises --list``: every exercise with its chapter and expected function."""

from __future__ import annotations

import argparse
import sys

from l2bayes.exercises import EXERCISES


def listing() -> str:
    """One line per exercise: id, chapter, signature and what it returns."""
    rows = [(ex.id, ex.chapter, f"{ex.signature} -> {ex.returns}") for ex in EXERCISES.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2bayes.exercises", description=__doc__)
    parser.add_argument("--list", action="store_true", help="list every exercise id, chapter and signature")
    args = parser.parse_args(argv)
    if not args.list:
        parser.print_help()
        return 2
    print(listing())
    return 0


if __name__ == "__main__":
    sys.exit(main())
