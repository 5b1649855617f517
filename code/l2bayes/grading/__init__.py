"""Running untrusted submissions: the worker process (:mod:`.worker`) and the grader's side (:mod:`.sandbox`).

The batch grader built on these is :mod:`l2bayes.grade`.
"""
