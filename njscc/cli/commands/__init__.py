"""Sub-commands of the ``njscc`` CLI (see :mod:`njscc.cli`)."""
