"""Writing to the user's terminal or pipe: raw command-line bytes kept, a closed pipe
not an error. Both commands and echocerts print through here."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from typing import TextIO


def write_text(stream: TextIO, text: str, flush: bool = True) -> None:
    """Write ``text``, turning undecodable command-line bytes back into the raw bytes.

    Python would print them as ``\\udcff`` on stderr (or fail on a strict stdout);
    DCMTK writes the bytes it was given, so do we.
    """
    buffer = getattr(stream, "buffer", None)
    if buffer is None or text.isascii():
        stream.write(text)
    else:
        stream.flush()
        encoding = stream.encoding or "utf-8"
        try:
            buffer.write(text.encode(encoding, "surrogateescape"))
        except UnicodeEncodeError:
            buffer.write(text.encode(encoding, "backslashreplace"))
    if flush:
        stream.flush()



def print_text(text: str, stream: TextIO | None = None) -> None:
    """Write ``text`` to ``stream`` (stdout by default) and flush it.

    A reader that went away (``| head``) or a full disk is not an error, as in DCMTK:
    the rest of the output, and Python's final flush, go to /dev/null instead.
    """
    out = sys.stdout if stream is None else stream
    try:
        write_text(out, text)
    except (OSError, ValueError):
        discard(out)


def discard(stream: TextIO) -> None:
    """Send whatever is still written to ``stream`` nowhere (its reader or disk is gone)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError):
        pass


def stderr_is_terminal() -> bool:
    """True if stderr is a terminal (where a hint line may follow DCMTK's failure line)."""
    try:
        return os.isatty(2)
    except OSError:
        return False
