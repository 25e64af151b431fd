"""``python -m echoscp``: the same as the ``echoscp`` console script."""

import sys

from echoscp.cli import main

sys.exit(main())
