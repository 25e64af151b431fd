"""``python -m echoscu``: the same as the ``echoscu`` console script (named ``echoscu``)."""

from echoscu.cli import console_main

console_main(prog="echoscu")
