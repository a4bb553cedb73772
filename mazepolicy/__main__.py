"""``python -m mazepolicy``: the ``mazepolicy`` command line."""

import sys

from mazepolicy.cli import main

sys.exit(main())
