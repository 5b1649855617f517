"""Batch grading: ``python -m l2bayes.grade SUB.ipynb ... --out grades.csv``.

The grader lives in :mod:`l2bayes.grading` (``batch``: plans, records, CSV,
shards; ``sandbox``: bubblewrap and the limits; ``wire``: values between the
grader and a worker; ``worker``: the sandboxed process; ``__main__``: the
command line). This module keeps the old name working.
"""

from __future__ import annotations

import sys

from l2bayes.grading.__main__ import main
from l2bayes.grading.batch import (  # noqa: F401 - the public names, under their old module
    CSV_FIELDS,
    GRADER_VERSION,
    GraderBusy,
    Plan,
    ResultsFolder,
    csv_text,
    grade_batch,
    grade_submission,
    make_plan,
    merge,
    parse_shard,
    read_submission,
    record_path,
    safe_text,
    shard_of,
    spreadsheet_safe,
    submission_chapter,
    write_atomic,
)
from l2bayes.grading.sandbox import Limits, Runner, SandboxUnavailable, bwrap_problem  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
