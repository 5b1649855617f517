"""Nothing in this folder is a test: the notebooks are graded (some loop forever or kill their
process) and must never be run by nbval or imported by --doctest-modules."""

collect_ignore_glob = ["*"]
