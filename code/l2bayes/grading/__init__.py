"""The batch grader: every untrusted step in a bubblewrap sandbox.

``batch``
    plans (cases and expected values), one authenticated record per submission, the CSV, shards, merge.
``sandbox``
    the grader's side of a worker: bubblewrap, CPU-time limits, sessions.
``wire``
    values between the grader and a worker, as JSON.
``worker``
    the process inside the sandbox that reads and runs one submission.
``__main__``
    the command line, also reachable as ``python -m l2bayes.grade``.
"""
