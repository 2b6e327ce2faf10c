"""``python -m skbayesmix``: the command line (see :mod:`skbayesmix.cli`)."""

import sys

from skbayesmix.cli import main

sys.exit(main())
