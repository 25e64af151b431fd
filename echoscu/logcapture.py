"""Keep the error and fatal lines DCMTK's echoscu prints, per thread, for a run's report.

The loggers are module-level and shared by every thread of a fleet check, so the
capturing appender writes into a list registered for the current thread only.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from dicomecho import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class CaptureAppender(log.Appender):
    """Appends ``X: message`` lines (ERROR and above) to the current thread's list."""

    def __init__(self) -> None:
        super().__init__(log.PrefixLayout(), threshold=log.ERROR)
        self._local = threading.local()

    def target(self, lines: list[str] | None) -> None:
        """Collect this thread's lines into ``lines`` from now on (None: stop collecting)."""
        self._local.lines = lines

    def write(self, text: str) -> None:
        """Add the formatted lines to this thread's list, if it has one."""
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.extend(text.splitlines())


_appender: CaptureAppender | None = None
_install_lock = threading.Lock()


def _installed() -> CaptureAppender:
    """The one capturing appender, on the root logger (installed on first use)."""
    global _appender
    with _install_lock:
        root = log.root_logger()
        if _appender is None or _appender not in root.appenders:
            _appender = CaptureAppender()
            root.appenders.append(_appender)
        return _appender


@contextmanager
def capture_lines(lines: list[str]) -> Iterator[None]:
    """While the block runs, this thread's error and fatal lines also go into ``lines``."""
    appender = _installed()
    appender.target(lines)
    try:
        yield
    finally:
        appender.target(None)


def silence_console() -> None:
    """Print nothing more (fleet mode): only capturing appenders stay, ERROR and up enabled."""
    for logger in log.all_loggers():
        logger.appenders = [a for a in logger.appenders if isinstance(a, CaptureAppender)]
        logger.level = log.NOT_SET
    log.set_level(log.ERROR)
