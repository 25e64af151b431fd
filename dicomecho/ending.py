"""Leaving the process fast: flush, run our own exit handlers, skip interpreter teardown.

A one-shot echo spends about 7 ms tearing the interpreter down (clearing modules,
collecting objects), several times DCMTK's whole exit. Nothing of that work is needed
once our output is flushed and our files are closed, so the console entry points end
with :func:`leave`. Handlers that must run at exit register here rather than with
``atexit`` directly: they then run on both paths, exactly once.
"""

from __future__ import annotations

import atexit
import os
import sys

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable

_handlers: list[Callable[[], object]] = []


def at_exit(handler: Callable[[], object]) -> None:
    """Run ``handler`` when the process ends, whichever way it ends."""
    _handlers.append(handler)
    atexit.register(handler)


def run_handlers() -> None:
    """Run the registered handlers now, newest first, each once (errors are theirs)."""
    while _handlers:
        handler = _handlers.pop()
        atexit.unregister(handler)
        try:
            handler()
        except Exception:  # noqa: BLE001 - one handler's trouble must not skip the others
            pass


def leave(code: int) -> None:
    """End the process with ``code`` after flushing stdout/stderr and running the handlers.

    A stream that cannot be flushed (a full disk, a closed pipe) does not change the
    code: the echo's outcome is what the exit code reports.
    """
    run_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
