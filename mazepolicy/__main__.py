"""``python -m mazepolicy``: the ``mazepolicy`` command line."""

import sys

from mazepolicy.cli import main

if __name__ == "__main__":  # not when imported (doctest collection imports every module)
    sys.exit(main())
