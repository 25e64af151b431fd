"""``python -m echoscu``: the same as the ``echoscu`` console script (named ``echoscu``)."""

import sys

from echoscu.cli import main

sys.exit(main(sys.argv[1:], prog="echoscu"))
