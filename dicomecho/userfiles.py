"""Reading the files a user names on the command line (@file, -lc, --peers), bounded."""

from __future__ import annotations


def read_at_most(path: str, limit: int) -> bytes | None:
    """The bytes of ``path``, or None if it holds more than ``limit`` (a file the user
    names may be a device that never ends, like /dev/zero); OSError as ``open`` raises it."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None
