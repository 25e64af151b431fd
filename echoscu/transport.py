"""echoscu's transport: resolve, connect, read and write the socket, and wrap it in TLS.

Every socket tactic of the driver lives here, each with the reason it was measured
for; ``echoscu.driver`` keeps the association flow over ``dul``, this transport and an
observer. Failures become DCMTK conditions carrying their failure class, decided from
the exception the system raised (never from its text).
"""

from __future__ import annotations

# the C module under socket.py: socket.py's enum conversions cost 7 ms of a 40 ms echo
# (docs/design.md D3); a TLS run turns the connection into a socket.socket for ssl
import _socket
import errno
import os
import sys
from time import monotonic

from dicomecho.log import NET_LOGGER, get_logger
from echoscu import messages as msg

net = get_logger(NET_LOGGER)

#: TCP_QUICKACK exists on Linux only
_HAS_QUICKACK = hasattr(_socket, "TCP_QUICKACK")
#: kernel socket timeouts (an optional layer: Python's own timeouts are the portable path)
_KERNEL_TIMEOUTS = os.name == "posix" and hasattr(_socket, "SO_RCVTIMEO")
#: bytes of "<peer>:<port>" DCMTK keeps (DIC_NODENAME_LEN-sized buffer)
_PRESENTATION_ADDRESS_MAX = 63
#: one read takes up to this much
_READ_SIZE = 65536


# -- resolve and connect ----------------------------------------------------------------


def option_seconds(value: int | None) -> float | None:
    """A DCMTK timeout option as a socket timeout: None (blocking) unless positive.

    The parser keeps DCMTK's 32-bit wrap-around, so huge values arrive negative and,
    as in DCMTK, mean no timeout.
    """
    return float(value) if value is not None and value > 0 else None


def handshake_timeout(socket_timeout: float | None,
                      acse_timeout: float | None) -> float | None:
    """The bound of a TLS handshake: the shorter of ``-ts`` and ``-ta`` that is set."""
    limits = [limit for limit in (socket_timeout, acse_timeout) if limit]
    return min(limits) if limits else None


def resolve(peer: str, port: int, family: str) -> tuple[int, tuple]:
    """The address family and socket address to connect to, as DCMTK picks them (legacy
    IPv4 forms always win); a "dns" condition if there is none."""
    host, port = _presentation_address(peer, port)
    try:
        packed = _socket.inet_aton(host)
    except (OSError, ValueError):
        pass
    else:
        if host:
            return _socket.AF_INET, (_socket.inet_ntoa(packed), port)
    wanted = {"ipv4": _socket.AF_INET, "ipv6": _socket.AF_INET6,
              "auto": _socket.AF_UNSPEC}[family]
    try:
        infos = _socket.getaddrinfo(_host_argument(host), port, wanted, _socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise msg.unknown_host(host) from None
    if not infos or not host:
        raise msg.unknown_host(host)
    info = infos[0]
    return info[0], info[4]


def _host_argument(host: str) -> str | bytes:
    """``host`` as getaddrinfo should get it: an ASCII name as bytes, anything else as is.

    Given a ``str``, getaddrinfo encodes it with the "idna" codec, whose first use imports
    encodings.idna, stringprep, unicodedata and re (1.1 ms of a one-shot echo, issue #17).
    For an ASCII name that codec only checks the label lengths, so the same check here,
    raising the UnicodeError it would, keeps the outcome and spares the imports. A
    non-ASCII (IDN) name still goes through the codec.
    """
    if not host.isascii():
        return host
    encoded = host.encode("ascii")
    labels = encoded.split(b".")
    for label in labels[:-1]:
        if not 0 < len(label) < 64:
            raise UnicodeError("label empty or too long")
    if len(labels[-1]) >= 64:
        raise UnicodeError("label too long")
    return encoded


def _presentation_address(peer: str, port: int) -> tuple[str, int]:
    """Host and port as DCMTK connects to them.

    DCMTK keeps "<peer>:<port>" in a 64-byte buffer: a longer address is cut to 63
    bytes and then split at its last colon again, so the port may come out shortened,
    and an address left without a port is an illegal service parameter.
    """
    address = f"{peer}:{port}".encode("utf-8", "surrogateescape")
    if len(address) <= _PRESENTATION_ADDRESS_MAX:
        return peer, port
    kept = address[:_PRESENTATION_ADDRESS_MAX].decode("utf-8", "surrogateescape")
    host, colon, port_text = kept.rpartition(":")
    if not colon or not port_text.isdigit():
        raise msg.illegal_service_parameter(kept, "dns")
    return host, int(port_text)


def connect(family: int, address: tuple, timeout: float | None) -> Transport:
    """A TCP connection to ``address`` within ``timeout`` (``-to``; None: the kernel's)."""
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError as error:
        sock.close()
        raise connect_failure(error) from None
    return Transport(sock)


def connect_failure(error: OSError) -> msg.Condition:
    """DCMTK's condition for a failed connect, classed by what the system raised."""
    if isinstance(error, TimeoutError):
        if not error.errno:  # our own -to expired (DCMTK: its poll() timed out)
            return msg.tcp_init_error("Operation now in progress (Timeout)", "connect-timeout")
        # the kernel gave up (ETIMEDOUT): DCMTK prints strerror, "Connection timed out"
        return msg.tcp_init_error(os.strerror(error.errno), "connect-timeout")
    reason = os.strerror(error.errno) if error.errno else str(error)
    if isinstance(error, ConnectionRefusedError):
        return msg.tcp_init_error(reason, "refused")
    return msg.tcp_init_error(reason, "network-error")


# -- socket options DCMTK sets once connected ---------------------------------------------

def _environment_number(name: str, default_text: str, tracing: bool) -> int | None:
    """An integer DCMTK reads from the environment at connect time: None if unset, or
    unparsable (with DCMTK's warning); at trace level, DCMTK's lines about the check."""
    from dicomecho.netenv import environment_integer

    value, number = environment_integer(name)
    if tracing:
        from echoscu.trace import environment_lines

        for line in environment_lines(name, value, default_text):
            net.trace(line)
    if value is not None and number is None:
        net.warn(f"DULFSM: cannot parse environment variable {name}={value}")
    return number


def _buffer_length_setting(tracing: bool) -> int | None:
    """TCP_BUFFER_LENGTH from the environment: the socket buffer size DCMTK sets, if any."""
    number = _environment_number("TCP_BUFFER_LENGTH", "using the system defaults", tracing)
    if number is not None:
        net.debug(f"DULFSM: setting TCP buffer length to {number} bytes")
    return number


def _nodelay_setting(tracing: bool) -> bool:
    """TCP_NODELAY from the environment: on unless ``TCP_NODELAY=0`` (docs/design.md D2)."""
    from dicomecho.netenv import tcp_nodelay

    number = _environment_number("TCP_NODELAY", "using the default value (0)", tracing)
    if number:
        net.debug("DULFSM: disabling Nagle algorithm as requested at runtime "
                  f"(TCP_NODELAY={os.environ['TCP_NODELAY']})")
    return tcp_nodelay(number)


def _timeval(seconds: float | None) -> bytes:
    """A POSIX struct timeval for SO_RCVTIMEO / SO_SNDTIMEO (None: no timeout)."""
    from struct import pack

    whole = int(seconds or 0)
    return pack("@ll", whole, int(((seconds or 0) - whole) * 1_000_000))


def _send_failure_text(error: OSError) -> str:
    """The system's text for a failed send, as DCMTK prints it.

    A TLS write fails with an SSLError, whose errno is an SSL_ERROR_* code rather
    than an errno (8 would read "Exec format error"); it means the peer ended the
    connection (e.g. a server refusing a missing client certificate), which DCMTK
    reports as the reset its socket saw.
    """
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(error, ssl.SSLError):
        return os.strerror(errno.ECONNRESET)
    return os.strerror(error.errno or 0)


class Transport:
    """One connection: its socket (plain, or TLS once ``start_tls`` ran) and its tactics.

    Reads return the bytes that came, b"" once the peer closed or reset the
    connection, and None when the wait ran out (the caller knows which DCMTK condition
    that is).
    """

    __slots__ = ("sock",)

    def __init__(self, sock) -> None:
        self.sock = sock

    def configure(self, socket_timeout_option: int, socket_timeout: float | None,
                  tracing: bool) -> None:
        """The options DCMTK sets (and reports) once the connection exists: ``-ts``,
        TCP_BUFFER_LENGTH and TCP_NODELAY from the environment."""
        sock = self.sock
        if socket_timeout_option == 0:
            net.debug("setting network send timeout to 0 (infinite)")
            net.debug("setting network receive timeout to 0 (infinite)")
        elif socket_timeout_option > 0:
            net.debug(f"setting network send timeout to {socket_timeout_option} seconds")
            net.debug(f"setting network receive timeout to {socket_timeout_option} seconds")
        buffer_length = _buffer_length_setting(tracing)
        if buffer_length is not None:
            for option in (_socket.SO_SNDBUF, _socket.SO_RCVBUF):
                try:
                    sock.setsockopt(_socket.SOL_SOCKET, option, buffer_length)
                except (OSError, OverflowError):
                    pass
        if _nodelay_setting(tracing):
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.settimeout(socket_timeout)

    # -- TLS ------------------------------------------------------------------------------

    def start_tls(self, context, server_name: str | None, timeout: float | None):
        """Wrap the connection in ``context`` (no handshake yet); the TLS socket.

        ssl needs a ``socket.socket``, so the ``_socket.socket`` is re-made as one.
        """
        import socket

        sock = socket.socket(self.sock.family, self.sock.type, fileno=self.sock.detach())
        self.sock = sock
        sock.settimeout(timeout)
        self.sock = context.wrap_socket(sock, server_hostname=server_name,
                                        do_handshake_on_connect=False)
        return self.sock

    def first_answer(self) -> bytes:
        """Send the ClientHello and return the first bytes the peer answers with, left
        unread for the handshake that follows (at most 16; empty if it closed without a
        word).

        For the mismatch hint: a plain DICOM SCP answers a ClientHello with an
        A-ASSOCIATE-RJ or A-ABORT, which OpenSSL reads and drops as a bad record; what it
        said is kept so that nothing ever needs to be sent in clear to find out. Runs only
        for an observer that wants it. On success it costs one SSL_do_handshake call that
        stops at the first read, two setsockopt (TCP_CORK), a poll and a recv(MSG_PEEK);
        timeouts and resets raise what the handshake would.
        """
        import socket
        import ssl

        tls_sock = self.sock
        timeout = tls_sock.gettimeout()
        started = monotonic()
        # corked, the ClientHello stays in our send queue until OpenSSL has found nothing
        # to read; else a quick peer's answer could be read (and dropped) within that call
        cork = getattr(socket, "TCP_CORK", None)
        if cork is not None:
            tls_sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
        tls_sock.settimeout(0.0)
        try:
            tls_sock.do_handshake()
            return b""  # finished without waiting: nothing left to look at
        except ssl.SSLWantReadError:
            pass
        finally:
            tls_sock.settimeout(timeout)
            if cork is not None:
                tls_sock.setsockopt(socket.IPPROTO_TCP, cork, 0)
        peek = socket.socket(tls_sock.family, tls_sock.type, fileno=tls_sock.fileno())
        try:
            peek.settimeout(timeout)
            head = peek.recv(16, socket.MSG_PEEK)
        finally:
            peek.detach()
        if timeout:
            # the handshake keeps one time limit in all: what the wait for the answer left
            tls_sock.settimeout(max(timeout - (monotonic() - started), 0.001))
        return head

    # -- reading and writing ------------------------------------------------------------

    def send(self, data: bytes, routine: str) -> None:
        """Write all of ``data``; DCMTK's TCP I/O error (naming ``routine``) if that fails."""
        try:
            self.sock.sendall(data)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_SNDTIMEO ran out
            raise msg.tcp_io_error("Connection timed out", routine) from None
        except OSError as error:
            raise msg.tcp_io_error(_send_failure_text(error), routine) from None

    def read(self, timeout: float | None, quickack: bool = True) -> bytes | None:
        """One read of up to 64 KiB within ``timeout`` seconds.

        The timeout is set only when it changes (each settimeout is a system call), and
        TCP_QUICKACK before the read acknowledges at once, so that a peer with Nagle on
        never waits for our delayed ACK (docs/design.md D2, target T2b).
        """
        sock = self.sock
        if sock.gettimeout() != timeout:
            sock.settimeout(timeout)
        if quickack and _HAS_QUICKACK:
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_QUICKACK, 1)
            except OSError:
                pass
        try:
            return sock.recv(_READ_SIZE)
        except TimeoutError:
            return None
        except OSError:
            return b""

    def bound_by_kernel(self, receive_timeout: float | None,
                        send_timeout: float | None) -> bool:
        """Bound reads and writes by SO_RCVTIMEO / SO_SNDTIMEO and make the socket blocking.

        DCMTK bounds its socket this way; for us it also spares the poll() Python makes
        before every call on a socket with a timeout: two system calls per C-ECHO (target
        T2). Plain sockets on POSIX only (TLS, and Windows, whose SO_RCVTIMEO takes
        milliseconds and leaves a timed-out socket unusable, keep Python's timeouts);
        False where the options are refused. Then ``read_bounded`` reads.
        """
        sock = self.sock
        if type(sock) is not _socket.socket or not _KERNEL_TIMEOUTS:
            return False
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, _timeval(receive_timeout))
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, _timeval(send_timeout))
        except (OSError, OverflowError):
            return False
        sock.settimeout(None)
        return True

    def read_bounded(self) -> bytes | None:
        """One read on a socket ``bound_by_kernel``: None when SO_RCVTIMEO ran out (the
        blocking socket then raises BlockingIOError)."""
        sock = self.sock
        if sock.gettimeout() is not None:  # a slow path set a Python timeout since
            sock.settimeout(None)
        try:
            return sock.recv(_READ_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def drain(self, timeout: float | None) -> bool:
        """After our A-ABORT: stop writing and wait up to ``timeout`` for the peer to close,
        as DCMTK does; True if it closed (a peer that keeps sending is cut off)."""
        sock = self.sock
        try:
            sock.shutdown(_socket.SHUT_WR)
            sock.settimeout(timeout)
            end = None if timeout is None else monotonic() + timeout
            while sock.recv(_READ_SIZE):
                if end is not None:
                    if monotonic() >= end:
                        return False
                    sock.settimeout(end - monotonic())
        except TimeoutError:
            return False
        except OSError:
            pass
        return True

    def close(self) -> None:
        """Drop the connection without any further PDU."""
        try:
            self.sock.close()
        except OSError:
            pass
