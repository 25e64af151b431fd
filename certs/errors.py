"""The one exception of the TLS layer (a set-up failure carrying DCMTK's log lines), the
logger interface the caller injects, and the OpenSSL error queue of one set-up (here
rather than in certs.errorqueue, which only failures need)."""

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


class ErrorQueue:
    """The queue during one TLS set-up: failures push, each DCMTK E: line pops one."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str]] = []

    #: OpenSSL's per-thread queue is a ring of ERR_NUM_ERRORS (16) slots, one kept free:
    #: when a 16th entry arrives the oldest is lost (measured: +crl after many failures)
    CAPACITY = 15

    def fail(self, entries: list[tuple[int, str]]) -> str:
        """Queue a failure's errors; the ``OpenSSL error ...`` line DCMTK prints for it."""
        self.entries.extend(entries)
        del self.entries[:-self.CAPACITY]
        code, text = self.entries.pop(0)
        return f"OpenSSL error {code:08x}: {text}"
