"""The one exception of the TLS layer (a set-up failure carrying DCMTK's log lines), and
the logger interface the caller injects."""

from __future__ import annotations

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:  # the interface matters to type checkers only
    from typing import Protocol

    class Log(Protocol):
        """The logger the TLS layer writes to (DCMTK's dcmtk.dcmtls logger)."""

        def fatal(self, msg: str) -> None: ...
        def error(self, msg: str) -> None: ...
        def warn(self, msg: str) -> None: ...
        def info(self, msg: str) -> None: ...
        def debug(self, msg: str) -> None: ...


class TLSSetupError(Exception):
    """TLS set-up failed; ``messages`` are ``(level_letter, text)`` pairs in print order.

    The caller prints each as ``<letter>: <text>`` (DCMTK ends such runs with exit 1).
    """

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        super().__init__("\n".join(f"{level}: {text}" for level, text in messages))
        self.messages = messages
