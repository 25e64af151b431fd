"""The cycle collector, paused while a one-shot command starts up.

Start-up builds tens of thousands of long-lived objects (modules, classes, functions)
and no cyclic garbage, yet the collector walks them twenty-odd times on the way: about
5 % of a TLS echo's instructions. A console entry pauses it; whatever may then run long
(an association's message loop, a fleet check, the exporter) resumes it, with what
start-up built frozen out of every later collection.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop automatic collection until :func:`resume` (no-op if it was off already)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collect automatically again if :func:`pause` stopped it, sparing what exists now."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
