"""The old name of :mod:`l2bayes.publishing`, kept so that ``python -m l2bayes.student ...``,
``from l2bayes.student import ...`` and the Sphinx extension name ``l2bayes.student`` still work."""

from __future__ import annotations

import sys

from l2bayes.publishing import *  # noqa: F401,F403 - the old name re-exports the new package
from l2bayes.publishing import __all__, setup  # noqa: F401
from l2bayes.publishing.__main__ import main as _main


def main(argv=None) -> int:
    """``python -m l2bayes.student ...``: the command line of :mod:`l2bayes.publishing`."""
    return _main(argv, prog="python -m l2bayes.student")


__all__ = [*__all__, "main"]

if __name__ == "__main__":
    sys.exit(main())
