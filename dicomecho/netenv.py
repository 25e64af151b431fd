"""What the environment decides for sockets, read the same way by both commands:
DCMTK's integer environment variables and the open-files limit."""

from __future__ import annotations

import os


def environment_integer(name: str) -> tuple[str | None, int | None]:
    """``(text, number)`` of an integer environment variable as DCMTK reads it:
    number is None when the variable is unset or not an integer."""
    value = os.environ.get(name)
    if value is None:
        return None, None
    try:
        return value, int(value)
    except ValueError:
        return value, None


def tcp_nodelay(number: int | None) -> bool:
    """TCP_NODELAY as DCMTK applies it: on unless the variable is an integer equal to 0."""
    return number != 0


def raise_fd_limit(wanted: int) -> int | None:
    """Lift the soft open-files limit towards ``wanted`` (never above the hard limit).

    Returns the limit now in force; None where it is unlimited or cannot be read
    (no ``resource`` module, as on Windows).
    """
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    if soft >= wanted:
        return soft
    target = wanted if hard == resource.RLIM_INFINITY else max(soft, min(wanted, hard))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target
