"""``python -m skbayesmix``: the command line (see :mod:`skbayesmix.cli`)."""

import sys

from skbayesmix.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
