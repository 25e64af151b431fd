"""What echoscp does with a TLS connection once ``certs`` has set it up.

The checks after the handshake (DCMTK's peer-certificate rules), the facts the
JSON log keeps (version, cipher, client subject), the ``-v``/``-d`` lines, and the
one-line text of a failed handshake. Imported only when TLS is on.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from certs import session
from dicomecho import log

if TYPE_CHECKING:
    from certs.options import TLSOptions
    from echoscp.records import AssociationRecord

tls_log = log.get_logger("echoscp.tls")

#: how long closing a TLS connection waits for the peer's close_notify
SHUTDOWN_TIMEOUT = 5.0
#: per-connection TLS read buffer: a TLS record is at most 16 KiB plus overhead
READ_BUFFER = 32 * 1024


def limit_read_buffers() -> None:
    """Shrink asyncio's per-connection TLS read buffer from 256 KiB to ``READ_BUFFER``.

    asyncio's SSLProtocol (Python 3.11+) allocates ``max_size`` bytes for every
    connection; with 1000 idle TLS associations that is 256 MB of the 322 MB we
    measured. The attribute is a class-level setting of this process only.
    """
    from asyncio import sslproto

    if getattr(sslproto.SSLProtocol, "max_size", 0) > READ_BUFFER:
        sslproto.SSLProtocol.max_size = READ_BUFFER


def shutdown_timeout() -> dict[str, float]:
    """``start_tls`` keyword for a bounded TLS shutdown (Python 3.11 and later)."""
    return {"ssl_shutdown_timeout": SHUTDOWN_TIMEOUT} if sys.version_info >= (3, 11) else {}


def timed_out(exc: BaseException) -> bool:
    """Whether ``start_tls`` failed because the handshake outlived its timeout (``-ta``).

    asyncio reports that as a ConnectionAbortedError saying the handshake is "taking
    longer than" the timeout.
    """
    if isinstance(exc, ConnectionAbortedError) and "taking longer" in str(exc):
        return True
    return isinstance(exc, (asyncio.TimeoutError, TimeoutError))


def failure_text(exc: BaseException) -> str:
    """One line for a failed handshake: DCMTK's TLS condition, or that it timed out."""
    if timed_out(exc):
        return "TLS handshake timed out"
    text = session.tls_error_condition(exc)
    reason = getattr(exc, "verify_message", None)  # why verification failed, for the operator
    return f"{text} ({reason})" if reason else text


def describe(transport: asyncio.Transport, record: AssociationRecord,
             tls_opts: TLSOptions | None) -> str | None:
    """Check the peer's certificates, note the session in ``record``, log it.

    Returns None when the connection may go on, else why it is refused.
    """
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return "no TLS session"
    if not session.check_peer_certificates(ssl_object, tls_opts, "acceptor", tls_log):
        return session.CERTIFICATE_REFUSED
    record.tls_version = ssl_object.version()
    cipher = ssl_object.cipher()
    record.cipher = cipher[0] if cipher else None
    subject = session.peer_certificate_subject(ssl_object)
    record.client_subject = subject or None
    tls_log.info(f"TLS connection from {record.peer}: {record.tls_version}, {record.cipher}, "
                 f"client certificate: {subject or '(none)'}")
    if tls_log.enabled(log.DEBUG):
        tls_log.debug("\n".join(session.connection_details(ssl_object)))
    return None
