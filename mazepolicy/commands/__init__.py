"""Subcommands of the ``mazepolicy`` CLI, one module each (see ``mazepolicy.cli``)."""
