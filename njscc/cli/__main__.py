"""``python -m njscc.cli`` (used under ``torchrun``)."""

import sys

from njscc.cli import main

sys.exit(main())
