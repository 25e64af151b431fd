"""Files we write or hand to OpenSSL, the same way on every platform.

Key files are private (mode 0600, set before any byte is written, also when the file
existed with a wider mode); every file is written in binary (Windows' ``os.open``
would otherwise turn newlines of PEM and DER data into CRLF).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


def write_file(path: str | os.PathLike[str], data: bytes, private: bool = False) -> str:
    """Replace ``path``'s content with ``data``; mode 0600 if ``private``, else 0644."""
    mode = 0o600 if private else 0o644
    fd = os.open(path, _WRITE_FLAGS, mode)
    with os.fdopen(fd, "wb") as handle:
        if hasattr(os, "fchmod"):  # POSIX (and Windows from 3.13, where it sets read-only)
            os.fchmod(fd, mode)
        else:
            os.chmod(path, mode)
        handle.write(data)
    return os.fspath(path)


@contextmanager
def memory_file(data: bytes) -> Iterator[str]:
    """A path holding ``data`` for OpenSSL's loaders, which read only named files.

    In memory where the platform offers it (Linux memfd through /proc); elsewhere a
    private temporary file, removed as soon as the loader is done. Callers hand over
    public data or keys encrypted with a one-time pass phrase, never a plain key.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("echoscu-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    import tempfile

    fd, path = tempfile.mkstemp(prefix="echoscu-tls-")  # 0600, binary, owner only
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
