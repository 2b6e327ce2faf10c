"""``python -m skbayesmix.cli``: the same command as ``python -m skbayesmix``."""

import sys

from skbayesmix.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
