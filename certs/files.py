"""Files we write or hand to OpenSSL, the same way on every platform.

Key files are private (mode 0600, set before any byte is written, also when the file
existed with a wider mode); every file is written in binary (Windows' ``os.open``
would otherwise turn newlines of PEM and DER data into CRLF).
"""

from __future__ import annotations

import os

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


class memory_file:  # noqa: N801 - used as a function: ``with memory_file(data) as path``
    """A path holding ``data`` for OpenSSL's loaders, which read only named files.

    In memory where the platform offers it (Linux memfd through /proc); elsewhere a
    private temporary file, removed as soon as the loader is done. Callers hand over
    public data or keys encrypted with a one-time pass phrase, never a plain key.
    (A class rather than a ``contextlib`` generator: importing contextlib cost 0.5 ms
    of every TLS run, issue #17.)
    """

    __slots__ = ("_data", "_fd", "_path")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._fd: int | None = None
        self._path: str | None = None

    def __enter__(self) -> str:
        try:
            if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
                self._fd = os.memfd_create("echoscu-tls", os.MFD_CLOEXEC)
                os.write(self._fd, self._data)
                return f"/proc/self/fd/{self._fd}"
            import tempfile

            fd, self._path = tempfile.mkstemp(prefix="echoscu-tls-")  # 0600, owner only
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._data)
            return self._path
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *_exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None
