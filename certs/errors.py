"""The one exception of the TLS layer: a set-up failure carrying DCMTK's log lines."""

from __future__ import annotations


class TLSSetupError(Exception):
    """TLS set-up failed; ``messages`` are ``(level_letter, text)`` pairs in print order.

    The caller prints each as ``<letter>: <text>`` (DCMTK ends such runs with exit 1).
    """

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        super().__init__("\n".join(f"{level}: {text}" for level, text in messages))
        self.messages = messages
