"""Is a process listening on a port? Read from /proc, so no probe connection is made.

The one copy of this probe: the benchmarks (bench/harness.py) and the tests
(tests/support, through ``support.tools.procprobe``) both wait on it. A probe
connection would use up the one association slot of a peer that serves one at a time
(DCMTK storescp), so readiness is read from the kernel's tables instead: the LISTEN
sockets on the port in the process's own network namespace, kept only if the process
itself holds them. A listener somebody else opened on the same port does not count.
Standard library only; Linux (elsewhere the answer is always False).
"""

from __future__ import annotations

import os
from pathlib import Path

#: the TCP state of a listening socket in /proc/net/tcp{,6}
_LISTEN = "0A"


def _listening_inodes(pid: int, port: int) -> set[str]:
    """Socket inodes in LISTEN state on ``port`` (IPv4 and IPv6), from the /proc/net
    tables of process ``pid``'s network namespace (a test's own network namespaces too)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return inodes
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listens_on(pid: int, port: int) -> bool:
    """True once process ``pid`` itself holds a LISTEN socket on ``port``, in whatever
    network namespace it runs."""
    return bool(_listening_inodes(pid, port) & _socket_inodes(pid))
