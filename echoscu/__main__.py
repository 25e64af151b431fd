"""``python -m echoscu``: the same as the ``echoscu`` console script."""

import sys

from echoscu.cli import main

sys.exit(main())
