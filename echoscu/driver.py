"""echoscu's network driver: steps 8-14 of DCMTK's program flow over ``dul`` and a socket.

A blocking driver: connect (and TLS handshake), associate, C-ECHO ``--repeat`` times,
release or abort. Every wait is bounded by the DCMTK timeout that governs it, and
every failure is reported with DCMTK's message and exit code (spec sections 3-5).
"""

from __future__ import annotations

# the C module under socket.py: socket.py's enum conversions cost 7 ms of a 40 ms echo
# (DESIGN D3); a TLS run turns the connection into a socket.socket for ssl
import _socket as socket
import errno
import os
import sys
from time import monotonic, perf_counter, sleep

from dicomecho import IMPLEMENTATION_CLASS_UID, implementation_version_name
from dicomecho.dul import dimse, uids
from dicomecho.dul.association import (
    ABORT_REASON_UNEXPECTED_PDU,
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    ConnectionClosed,
    MessageReceived,
    ProtocolError,
    ReleaseConfirmed,
    ReleaseRequested,
    Requestor,
)
from dicomecho.dul.fragment import MaxPDUTooSmallError
from dicomecho.dul.pdu import (
    A_ASSOCIATE_AC,
    P_DATA_TF,
    PDU_NAMES,
    AssociateRQ,
    PDULengthError,
    PresentationContextRQ,
    UserInformation,
)
from dicomecho.log import (
    APP_LOGGER,
    DATA_LOGGER,
    DEBUG,
    NET_LOGGER,
    TLS_LOGGER,
    TRACE,
    get_logger,
)
from echoscu import messages as msg
from echoscu.dumps import association_dump, command_dump, pdu_hex_dump

#: typing is not imported at run time: it costs 5 ms of a 30 ms echo (DESIGN D3)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from echoscu.options import EchoOptions
    from echoscu.report import RunReport

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID_INPUT_FILE = 22
EXIT_ASSOCIATION_ABORTED = 70
EXIT_INTERRUPTED = 130

#: a C-ECHO-RSP never carries a data set: one announced is read only this far
_MAX_RESPONSE_DATASET = 1 << 20
#: DCMTK caps the peer's max PDU at this when computing Max Send PDV
_MAX_PDU_CAP = 131072
_DEFAULT_SEND_PDV = 4084
#: bytes of "<peer>:<port>" DCMTK keeps (DIC_NODENAME_LEN-sized buffer)
_PRESENTATION_ADDRESS_MAX = 63

app = get_logger(APP_LOGGER)
net = get_logger(NET_LOGGER)
data_log = get_logger(DATA_LOGGER)

_has_quickack = hasattr(socket, "TCP_QUICKACK")
#: kernel socket timeouts (an optional layer: Python's own timeouts are the portable path)
_KERNEL_TIMEOUTS = os.name == "posix" and hasattr(socket, "SO_RCVTIMEO")


#: where a one-PDV P-DATA-TF PDU's data starts: PDU header 6, PDV length 4, context 1,
#: message control header 1
_PDV_DATA_AT = 12


def _receive(sock, timeout: float | None, quickack: bool = True) -> bytes:
    """One read of up to 64 KiB within ``timeout`` seconds; b"" once the peer closed or
    reset the connection, ``_Timeout`` if nothing came.

    The timeout is set only when it changes (each settimeout is a system call), and
    TCP_QUICKACK before the read acknowledges at once, so that a peer with Nagle on
    never waits for our delayed ACK (DESIGN D2, target T2b).
    """
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)
    if quickack and _has_quickack:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass
    try:
        return sock.recv(65536)
    except TimeoutError:
        raise _Timeout() from None
    except OSError:
        return b""


def _kernel_timeouts(sock, receive_timeout: float | None, send_timeout: float | None) -> bool:
    """Bound reads and writes by SO_RCVTIMEO / SO_SNDTIMEO and make the socket blocking.

    DCMTK bounds its socket this way; for us it also spares the poll() Python makes
    before every call on a socket with a timeout: two system calls per C-ECHO. Plain
    sockets on POSIX only (TLS, and Windows, whose SO_RCVTIMEO takes milliseconds and
    leaves a timed-out socket unusable, keep Python's timeouts); False where the
    options are refused. A read that times out then raises BlockingIOError (see
    ``_read_blocking``).
    """
    if type(sock) is not socket.socket or not _KERNEL_TIMEOUTS:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(receive_timeout))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(send_timeout))
    except (OSError, OverflowError):
        return False
    sock.settimeout(None)
    return True


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


def _timeval(seconds: float | None) -> bytes:
    """A POSIX struct timeval for SO_RCVTIMEO / SO_SNDTIMEO (None: no timeout)."""
    from struct import pack

    whole = int(seconds or 0)
    return pack("@ll", whole, int(((seconds or 0) - whole) * 1_000_000))


def _read_blocking(sock) -> bytes:
    """One read on a socket bounded by ``_kernel_timeouts``; b"" once the peer closed or
    reset the connection, ``_Timeout`` when SO_RCVTIMEO ran out."""
    if sock.gettimeout() is not None:  # a slow path set a Python timeout since
        sock.settimeout(None)
    try:
        return sock.recv(65536)
    except BlockingIOError:
        raise _Timeout() from None
    except OSError:
        return b""


class _Timeout(Exception):
    """A bounded wait ran out (the caller knows which DCMTK condition that is)."""


def run(opts: EchoOptions, report: RunReport | None = None, tls_context=None) -> int:
    """Do what DCMTK's echoscu does after the command line was accepted; return the exit code.

    ``report`` (only when a feature asks for one) records what happened as it happens;
    ``tls_context`` is a client SSLContext built beforehand (the fleet check shares one).
    """
    try:
        code = _run(opts, report, tls_context)
    except KeyboardInterrupt:
        app.fatal("Interrupted by signal SIGINT")
        return EXIT_INTERRUPTED
    if report is not None:
        report.finish(code)
    return code


def _run(opts: EchoOptions, report: RunReport | None, tls_context) -> int:
    if app.enabled(DEBUG):
        from dicomecho import __date__, __version__

        app.debug(f"$echoscu: echoscu v{__version__} {__date__} $\n")

    our_max_pdu = opts.max_pdu
    if our_max_pdu % 2:
        net.warn(f"ASSOC: PDV receive length {our_max_pdu} is odd (using {our_max_pdu - 1})")
        our_max_pdu -= 1

    if opts.tls is not None and tls_context is None:
        tls_context = _tls_context(opts)
        if tls_context is None:
            if report is not None:
                report.failed(None, "tls-config")
            return EXIT_FAILURE
    if opts.verify_cert is not None or opts.is_root_cert is not None:
        return _offline_check(opts)

    rq = _association_request(opts, our_max_pdu)
    if app.enabled(DEBUG):
        app.debug("Request Parameters:\n" + association_dump(rq))
    app.info("Requesting Association")

    session = _Session(opts, rq, our_max_pdu, report)
    try:
        session.connect(tls_context)
        accepted = session.associate()
    except msg.Condition as cond:
        session.note_failure(cond)
        app.fatal(f"Association Request Failed: {cond}")
        session.close()
        return EXIT_FAILURE
    except _Rejected as rejected:
        if report is not None:
            report.rejected(*rejected.args)
        errors, fatal = msg.describe_rejection(*rejected.args)
        for line in errors:  # dcmnet's complaints while it decodes the A-ASSOCIATE-RJ
            net.error(line)
        app.fatal("\n".join(fatal))
        session.close()
        return EXIT_FAILURE
    if not accepted:
        session.note_failure(None, "no-context")
        app.fatal("No Acceptable Presentation Contexts")
        session.close()
        return EXIT_FAILURE

    code = session.echo_and_finish()
    if code != EXIT_FAILURE and opts.tls is not None and (
        opts.tls.write_seed or opts.tls.write_seed_file
    ):
        from certs.context import write_seed

        write_seed(opts.tls)
    return code


def _tls_context(opts: EchoOptions):
    """Build the client SSLContext, printing DCMTK's lines on failure (then None)."""
    from certs.context import TLSSetupError, client_context

    tls_log = get_logger(TLS_LOGGER)
    try:
        return client_context(opts.tls, tls_log)
    except TLSSetupError as error:
        for level, text in error.messages:
            # a condition ("000b:0004 ...") is echoscu's report; the rest (OpenSSL errors,
            # profile checks) is what dcmtls logs on its way there
            _log_letter(app if _is_condition(text) else tls_log, level, text)
        return None


def _is_condition(text: str) -> bool:
    """True for DCMTK's condition format ``mmmm:cccc text`` (lower-case hex)."""
    hexdigits = "0123456789abcdef"
    return (len(text) > 10 and text[4] == ":" and text[9] == " "
            and all(char in hexdigits for char in text[:4] + text[5:9]))


def _log_letter(logger, letter: str, text: str) -> None:
    {"F": logger.fatal, "E": logger.error, "W": logger.warn, "I": logger.info,
     "D": logger.debug}[letter](text)


def _offline_check(opts: EchoOptions) -> int:
    """``+vc`` / ``+rc``: the result line on stdout, exit 0 or 22 (spec section 7)."""
    from certs.offline import is_root_cert, verify_cert

    tls_log = get_logger(TLS_LOGGER)
    if opts.verify_cert is not None:
        path = opts.verify_cert
        if verify_cert(opts.tls, path, tls_log):
            print(f"Verification of certificate '{path}' passed.", flush=True)
            return EXIT_OK
        print(f"Verification of certificate '{path}' failed.", flush=True)
        return EXIT_INVALID_INPUT_FILE
    path = opts.is_root_cert
    if is_root_cert(opts.tls, path, tls_log):
        print(f"Certificate '{path}' is a valid, self-signed root CA.", flush=True)
        return EXIT_OK
    print(f"Certificate '{path}' is not a valid, self-signed root CA.", flush=True)
    return EXIT_INVALID_INPUT_FILE


def _association_request(opts: EchoOptions, our_max_pdu: int) -> AssociateRQ:
    """The A-ASSOCIATE-RQ DCMTK's echoscu sends: ``-ppc`` contexts of ``-pts`` syntaxes."""
    syntaxes = [uid for uid, _ in uids.DCMTK_TRANSFER_SYNTAXES[: opts.propose_ts]]
    contexts = [
        PresentationContextRQ(2 * index + 1, uids.VERIFICATION, list(syntaxes))
        for index in range(opts.propose_pc)
    ]
    user_info = UserInformation(
        max_pdu=our_max_pdu,
        implementation_class_uid=IMPLEMENTATION_CLASS_UID,
        implementation_version_name=implementation_version_name("echoscu"),
    )
    return AssociateRQ(
        called_ae=opts.called_aet, calling_ae=opts.calling_aet, contexts=contexts,
        user_info=user_info,
    )


class _Rejected(Exception):
    """The peer answered with A-ASSOCIATE-RJ (args: result, source, reason)."""


def max_send_pdv(peer_max_pdu: int | None) -> int:
    """DCMTK's Max Send PDV for the peer's max PDU, with its warnings (spec 5.7)."""
    size = peer_max_pdu or 0
    if size == 0 or size > _MAX_PDU_CAP:
        size = _MAX_PDU_CAP
    if size % 2:
        net.warn(f"ASSOC: PDV send length {size} is odd (using {size - 1})")
        size -= 1
    pdv = size - 12
    if pdv < 1:
        net.warn(f"ASSOC: PDV send length {pdv} (using default)")
        return _DEFAULT_SEND_PDV
    if pdv < 12:
        net.warn("ASSOC: PDV send length too small, using DUL to split larger PDVs.")
        return _DEFAULT_SEND_PDV
    return pdv


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
        raise msg.illegal_service_parameter(kept)
    return host, int(port_text)


def _resolve(host: str, port: int, family: str) -> tuple:
    """The address to connect to, as DCMTK picks it (legacy IPv4 forms always win)."""
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        pass
    else:
        if host:
            return socket.AF_INET, (socket.inet_ntoa(socket.inet_aton(host)), port)
    wanted = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6, "auto": socket.AF_UNSPEC}[family]
    try:
        infos = socket.getaddrinfo(host, port, wanted, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise msg.unknown_host(host) from None
    if not infos or not host:
        raise msg.unknown_host(host)
    info = infos[0]
    return info[0], info[4]


def _seconds(value: int | None) -> float | None:
    """A DCMTK timeout option as a socket timeout: None (blocking) unless positive.

    The parser keeps DCMTK's 32-bit wrap-around, so huge values arrive negative and,
    as in DCMTK, mean no timeout.
    """
    return float(value) if value is not None and value > 0 else None


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


def _buffer_length_setting(tracing: bool = False) -> int | None:
    """TCP_BUFFER_LENGTH from the environment: the socket buffer size DCMTK sets, if any."""
    number = _environment_number("TCP_BUFFER_LENGTH", "using the system defaults", tracing)
    if number is not None:
        net.debug(f"DULFSM: setting TCP buffer length to {number} bytes")
    return number


def _nodelay_setting(tracing: bool = False) -> bool:
    """TCP_NODELAY from the environment: on unless ``TCP_NODELAY=0`` (DESIGN D2)."""
    from dicomecho.netenv import tcp_nodelay

    number = _environment_number("TCP_NODELAY", "using the default value (0)", tracing)
    if number:
        net.debug("DULFSM: disabling Nagle algorithm as requested at runtime "
                  f"(TCP_NODELAY={os.environ['TCP_NODELAY']})")
    return tcp_nodelay(number)


def _first_answer(tls_sock) -> bytes:
    """Send the ClientHello and return the first bytes the peer answers with, left unread
    for the handshake that follows (at most 16; empty if it closed without a word).

    For the mismatch hint: a plain DICOM SCP answers a ClientHello with an A-ASSOCIATE-RJ
    or A-ABORT, which OpenSSL reads and drops as a bad record; what it said is kept here so
    that nothing ever needs to be sent in clear to find out. Runs only when a report is
    kept. On success it costs one SSL_do_handshake call that stops at the first read, two
    setsockopt (TCP_CORK), a poll and a recv(MSG_PEEK); timeouts and resets raise what
    the handshake would.
    """
    import socket as socket_module
    import ssl
    from time import monotonic

    timeout = tls_sock.gettimeout()
    started = monotonic()
    # corked, the ClientHello stays in our send queue until OpenSSL has found nothing to
    # read; else a quick peer's answer could be read (and dropped) within that one call
    cork = getattr(socket_module, "TCP_CORK", None)
    if cork is not None:
        tls_sock.setsockopt(socket_module.IPPROTO_TCP, cork, 1)
    tls_sock.settimeout(0.0)
    try:
        tls_sock.do_handshake()
        return b""  # finished without waiting: nothing left to look at
    except ssl.SSLWantReadError:
        pass
    finally:
        tls_sock.settimeout(timeout)
        if cork is not None:
            tls_sock.setsockopt(socket_module.IPPROTO_TCP, cork, 0)
    peek = socket_module.socket(tls_sock.family, tls_sock.type, fileno=tls_sock.fileno())
    try:
        peek.settimeout(timeout)
        head = peek.recv(16, socket_module.MSG_PEEK)
    finally:
        peek.detach()
    if timeout:
        # the handshake keeps one time limit in all: what the wait for the answer left
        tls_sock.settimeout(max(timeout - (monotonic() - started), 0.001))
    return head


class _Session:
    """One association's I/O: the socket, the ``dul`` requestor, and DCMTK's timeouts."""

    def __init__(self, opts: EchoOptions, rq: AssociateRQ, our_max_pdu: int,
                 report: RunReport | None = None) -> None:
        self.opts = opts
        #: facts for --json/--stats/--nagios/--peers; None when no feature asks
        self.report = report
        self.rq = rq
        self.sock: socket.socket | None = None
        #: -ll trace: dul records its transitions and the driver prints them (checked once)
        self.tracing = net.enabled(TRACE)
        self.dul = Requestor(rq, our_max_pdu, max_dataset_length=_MAX_RESPONSE_DATASET,
                             trace=self.tracing)
        #: while a command is being read (trace only): PDVs so far, None before the first
        self._command_pdvs: int | None = None
        self.context_id = 0
        #: the last C-ECHO-RSP command set, for the status detail dump
        self.last_command = b""
        self.socket_timeout = _seconds(opts.socket_timeout)
        self.acse_timeout = _seconds(opts.acse_timeout)
        #: -td, or else the socket timeout (a silent peer then reads as an abort)
        self.dimse_timeout = _seconds(opts.dimse_timeout) or self.socket_timeout

    # -- trace --------------------------------------------------------------------------

    def _trace(self) -> None:
        """Print (and forget) the transitions ``dul`` recorded since the last call."""
        records = self.dul.trace
        if not records:
            return
        from echoscu.trace import count_pdvs, transition_lines

        for record in records:
            for line in transition_lines(record):
                net.trace(line)
            if record.action == "DT-2" and self._command_pdvs is not None:
                if not self._command_pdvs:
                    # dcmdata starts reading the command with the first fragment
                    data_log.debug('DcmDataset::read() TransferSyntax="Little Endian Implicit"')
                self._command_pdvs += count_pdvs(record.raw)
        records.clear()

    # -- connection ---------------------------------------------------------------------

    def connect(self, tls_context) -> None:
        """TCP connect (``-to``), socket timeouts (``-ts``), TCP_NODELAY, TLS handshake."""
        opts = self.opts
        report = self.report
        if report is not None:
            report.begin("resolve")
        self._trace()
        try:
            family, address = _resolve(
                *_presentation_address(opts.peer, opts.port), opts.ip_family)
            if report is not None:
                report.resolved(family, address)
            sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock = sock
            sock.settimeout(_seconds(opts.connect_timeout))
            try:
                sock.connect(address)
            except TimeoutError as error:
                if not error.errno:  # our own -to expired (DCMTK: its poll() timed out)
                    raise msg.tcp_init_error("Operation now in progress (Timeout)") from None
                # the kernel gave up (ETIMEDOUT): DCMTK prints strerror, "Connection timed out"
                raise msg.tcp_init_error(os.strerror(error.errno)) from None
            except OSError as error:
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise msg.tcp_init_error(reason) from None
        except msg.Condition:
            if self.tracing:  # no transport connection: Evt17 in Sta4
                self.dul.receive_data(b"")
                self.dul.next_event()
                self._trace()
            raise
        # DCMTK sets (and reports) the socket options once the connection exists
        if opts.socket_timeout == 0:
            net.debug("setting network send timeout to 0 (infinite)")
            net.debug("setting network receive timeout to 0 (infinite)")
        elif opts.socket_timeout > 0:
            net.debug(f"setting network send timeout to {opts.socket_timeout} seconds")
            net.debug(f"setting network receive timeout to {opts.socket_timeout} seconds")
        buffer_length = _buffer_length_setting(self.tracing)
        if buffer_length is not None:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, buffer_length)
                except (OSError, OverflowError):
                    pass
        if _nodelay_setting(self.tracing):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.socket_timeout)
        if tls_context is not None:
            if report is not None:
                report.begin("tls_handshake")
            self.sock = self._tls_handshake(tls_context, sock)

    def _tls_handshake(self, tls_context, sock):
        """The TLS handshake, bounded by ``-ts`` and ``-ta``; DCMTK's condition on failure."""
        from certs.context import sni_hostname
        from certs.session import (
            check_peer_certificates,
            connection_details,
            explain_refusal,
            tls_error_condition,
        )

        tls_log = get_logger(TLS_LOGGER)
        server_name = sni_hostname(self.opts.tls, tls_log)
        import socket as socket_module

        limits = [t for t in (self.socket_timeout, self.acse_timeout) if t]
        sock = socket_module.socket(sock.family, sock.type, fileno=sock.detach())
        self.sock = sock
        sock.settimeout(min(limits) if limits else None)
        tls_sock = None
        try:
            tls_sock = tls_context.wrap_socket(sock, server_hostname=server_name,
                                               do_handshake_on_connect=False)
            self.sock = tls_sock
            if self.report is not None:
                self.report.tls_answer = _first_answer(tls_sock)
            tls_sock.do_handshake()
        except OSError as error:
            # the profile's security level refused the peer's chain: say which certificate
            explain_refusal(error, tls_sock, self.opts.tls, "client", tls_log)
            if self.report is not None:
                self.report.tls_failed(error)
            raise msg.parse_condition(tls_error_condition(error, tls_context)) from None
        if self.report is not None:
            self.report.tls_established(tls_sock, server_name)
        if not check_peer_certificates(tls_sock, self.opts.tls, "client", tls_log):
            raise msg.Condition(msg.DCMTLS, 0x0886, "TLS error: certificate verify failed")
        tls_sock.settimeout(self.socket_timeout)
        if app.enabled(DEBUG):
            net.debug("\n".join(connection_details(tls_sock)))
        expected = self.opts.expected_hostname()
        if expected is not None:  # --verify-hostname: before anything of the association
            from certs.hostname import check_peer_hostname

            problem = check_peer_hostname(tls_sock, expected, tls_log)
            if self.report is not None:
                self.report.hostname_checked(problem)
            if problem is not None:
                raise msg.Condition(msg.DCMTLS, 0x0886, "TLS error: certificate verify failed")
        return tls_sock

    def note_failure(self, condition: msg.Condition | None, failure_class: str | None = None
                     ) -> None:
        """Tell the report (if any) that the run failed here with ``condition``."""
        if self.report is not None:
            self.report.failed(condition, failure_class)

    def close(self) -> None:
        """Drop the connection without any further PDU."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    # -- raw I/O ------------------------------------------------------------------------

    def _send(self, data: bytes, routine: str) -> None:
        try:
            self.sock.sendall(data)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_SNDTIMEO ran out
            raise msg.tcp_io_error("Connection timed out", routine) from None
        except OSError as error:
            raise msg.tcp_io_error(_send_failure_text(error), routine) from None

    def _next_event(self, timeout: float | None):
        """The next ``dul`` event, reading from the socket for at most ``timeout`` seconds.

        ``_Timeout`` when nothing complete arrived in time; a closed or reset
        connection arrives as ``ConnectionClosed`` from ``dul``. The timeout bounds the
        whole wait, not each read: a peer trickling bytes cannot hold us past it.
        """
        machine = self.dul
        event = machine.next_event()
        sock = self.sock
        wait = timeout
        deadline = None if timeout is None else monotonic() + timeout
        while event is None:
            machine.receive_data(_receive(sock, wait))
            event = machine.next_event()
            if event is None and deadline is not None:
                wait = deadline - monotonic()
                if wait <= 0:
                    self._trace()
                    raise _Timeout()
        if self.tracing:
            self._trace()
        return event

    def _timer_expired(self) -> None:
        """A bounded wait for the peer ran out: the state machine's timer event (trace)."""
        if self.tracing:
            self.dul.timer_expired()
            self._trace()

    # -- association ----------------------------------------------------------------------

    def associate(self) -> bool:
        """Send the A-ASSOCIATE-RQ, wait ``-ta`` for the answer; True if a context was accepted."""
        report = self.report
        if report is not None:
            report.begin("associate")
        request = self.dul.start()
        self._trace()
        titles = ((self.rq.calling_ae, "Calling AP Title"), (self.rq.called_ae, "Called AP Title"))
        for value, what in titles:
            if not value:
                # DCMTK finds this after the TCP connection was opened, before it says it
                # constructs the A-ASSOCIATE-RQ
                cond = msg.illegal_service_parameter(what)
                net.error(cond.text)
                raise cond
        net.debug("Constructing Associate RQ PDU")
        self._send(request, "sendAssociationRQTCP")
        if self.tracing:
            net.trace("setting timeout for first PDU to be read to "
                      f"{self.opts.acse_timeout} seconds")
        try:
            event = self._next_event(self.acse_timeout)
        except _Timeout:
            self._timer_expired()
            raise msg.read_timeout() from None
        if isinstance(event, AssociationAccepted):
            if net.enabled(DEBUG):
                net.debug(pdu_hex_dump(event.raw))
                net.debug("Parsing an A-ASSOCIATE PDU")
                if self.tracing:
                    from echoscu.trace import associate_ac_lines

                    for line in associate_ac_lines(event.raw):
                        net.trace(line)
            ac = event.ac
            self.max_send_pdv = max_send_pdv(ac.user_info.max_pdu)
            if app.enabled(DEBUG):
                app.debug("Association Parameters Negotiated:\n" + association_dump(self.rq, ac))
            proposed = {ctx.id for ctx in self.rq.contexts}
            accepted = [ctx.id for ctx in ac.contexts if ctx.result == 0 and ctx.id in proposed]
            if accepted:
                self.context_id = min(accepted, key=[c.id for c in self.rq.contexts].index)
            if report is not None:
                report.accepted(ac, self.max_send_pdv, self.context_id or None)
            if not accepted:
                return False
            self.peer_max_pdu = ac.user_info.max_pdu or 0
            app.info(f"Association Accepted (Max Send PDV: {self.max_send_pdv})")
            return True
        if isinstance(event, AssociationRejected):
            rj = event.rj
            raise _Rejected(rj.result, rj.source, rj.reason)
        if report is not None:
            report.answered_by(event)
        if isinstance(event, ProtocolError):
            error = event.error
            if isinstance(error, PDULengthError) and error.pdu_type == A_ASSOCIATE_AC:
                net.error(f"A-ASSOCIATE PDU too large: {error.length} bytes, refusing.")
            raise _protocol_condition(event) from None
        # A-ABORT, release request or a closed connection before any answer
        raise msg.peer_aborted()

    # -- echo, release, abort -----------------------------------------------------------

    def echo_and_finish(self) -> int:
        """``--repeat`` C-ECHOs, then release (or ``--abort``); the exit code of the run."""
        from dicomecho.log import INFO

        opts = self.opts
        report = self.report
        interval = opts.interval
        verbose = app.enabled(INFO)
        context_id = self.context_id
        # the request fits one PDU (all but absurdly small peer max PDUs): patch its
        # message ID into a template instead of encoding and fragmenting it each time
        peer_max = self.dul.max_send_pdu
        tracing = self.tracing
        # (with -ll trace every PDU goes through dul, which records the transitions)
        whole_pdu = (not peer_max or peer_max >= dimse.ECHO_RQ_PDU_LENGTH) and not tracing
        kernel_timeouts = _kernel_timeouts(self.sock, self.dimse_timeout, self.socket_timeout)
        message_id = 0
        for _ in range(opts.repeat):
            if interval and message_id:
                sleep(interval)
            message_id = (message_id + 1) & 0xFFFF
            if verbose:
                app.info(f"Sending Echo Request (MsgID {message_id})")
            if self.peer_max_pdu and self.peer_max_pdu & ~1 <= 12:
                if tracing:  # DCMTK finds out only once the P-DATA request is under way
                    try:
                        self._traced_request(context_id, message_id)
                    except MaxPDUTooSmallError:
                        self._trace()
                # DCMTK checks the even-rounded size but names the peer's own value
                failure = msg.dimse_send_failed(msg.illegal_peer_max_pdu(self.peer_max_pdu))
                return self._echo_failed(failure)
            try:
                sent_at = perf_counter() if report is not None else 0.0
                if whole_pdu:
                    request = dimse.echo_rq_pdu(context_id, message_id)
                elif tracing:
                    request = self._traced_request(context_id, message_id)
                else:
                    request = self.dul.send_message(context_id, dimse.echo_rq(message_id))
                self._send(request, "sendPDataTCP")
                if tracing:
                    net.trace("DIMSE receiveCommand")
                    self._command_pdvs = 0
                status = self._await_response(message_id, self.dimse_timeout, kernel_timeouts)
            except _PeerAborted as aborted:
                self.note_failure(aborted.condition, "aborted")
                app.error(f"Echo Failed: {aborted.condition}")
                app.info("Peer Aborted Association")
                self.close()
                return EXIT_OK
            except _PeerReleased:
                self.note_failure(msg.peer_requested_release(), "released")
                app.error(f"Echo Failed: {msg.peer_requested_release()}")
                app.fatal("Protocol Error: Peer requested release (Aborting)")
                return self._abort(EXIT_ASSOCIATION_ABORTED)
            except msg.Condition as failure:
                return self._echo_failed(failure)
            if report is not None:
                report.echo(message_id, sent_at, status)
            if verbose:
                app.info(f"Received Echo Response ({msg.status_text(status)})")
            _dump_status_detail(self.last_command)
        if opts.abort:
            return self._abort(EXIT_OK)
        return self._release()

    def _traced_request(self, context_id: int, message_id: int) -> bytes:
        """The C-ECHO-RQ PDUs, with DCMTK's trace of the command and the P-DATA request."""
        from echoscu.trace import command_to_send

        command = dimse.echo_rq(message_id)
        for line in command_to_send(context_id, command):
            net.trace(line)
        request = self.dul.send_message(context_id, command)
        self._trace()
        return request

    def _echo_failed(self, failure: msg.Condition) -> int:
        self.note_failure(failure)
        app.error(f"Echo Failed: {failure}")
        app.error(f"Echo SCU Failed: {failure}")
        return self._abort(EXIT_ASSOCIATION_ABORTED)

    def _await_response(self, message_id: int, timeout: float | None,
                        kernel_timeouts: bool = False) -> int:
        """Wait for the C-ECHO-RSP; return its status or raise the DCMTK failure.

        The common answer, one standard C-ECHO-RSP PDU read whole between messages, is
        recognised by its bytes; anything else goes through ``dul`` and a full decode.
        That first read sets no TCP_QUICKACK: an answer that comes in pieces (a peer
        with Nagle on waits for our ACK) continues in ``_next_event``, which sets it.
        ``kernel_timeouts``: the socket is bounded by ``_kernel_timeouts`` (``timeout``
        is then the SO_RCVTIMEO already set).
        """
        machine = self.dul
        try:
            if machine.between_messages and not self.tracing:
                if kernel_timeouts:
                    data = _read_blocking(self.sock)
                else:
                    data = _receive(self.sock, timeout, quickack=False)
                status = dimse.echo_rsp_status(data, self.context_id, message_id)
                if status is not None:
                    data_log.debug('DcmDataset::read() TransferSyntax="Little Endian Implicit"')
                    self.last_command = data[_PDV_DATA_AT:]
                    return status
                machine.receive_data(data)
            event = self._next_event(timeout)
        except _Timeout:
            if _seconds(self.opts.dimse_timeout):
                raise msg.dimse_timeout() from None
            if self.tracing:  # the socket timed out: DCMTK closes the transport (Evt17)
                machine.receive_data(b"")
                machine.next_event()
                self._trace()
            raise _PeerAborted(msg.peer_aborted()) from None
        if isinstance(event, MessageReceived):
            if self.tracing:
                from echoscu.trace import command_received

                for line in command_received(self._command_pdvs or 0, event.context_id,
                                             event.command):
                    net.trace(line)
                self._command_pdvs = None
            else:
                data_log.debug('DcmDataset::read() TransferSyntax="Little Endian Implicit"')
            try:
                command = dimse.decode_command(event.command)
            except dimse.DIMSEError:
                raise msg.net(0x020B, "DIMSE Failed to parse received message") from None
            command_field = command.get(dimse.COMMAND_FIELD)
            if command_field is None:
                raise msg.net(0x020B, "DIMSE_parseCmdObject: Missing CommandField")
            if command_field != dimse.C_ECHO_RSP:
                raise msg.unexpected_command_field(command_field or 0)
            responded = command.get(dimse.MESSAGE_ID_RESPONDED)
            if responded != message_id:
                raise msg.unexpected_message_id(responded, message_id)
            self.last_command = event.command
            return command.get(dimse.STATUS, 0)
        if isinstance(event, (Aborted, ConnectionClosed)):
            raise _PeerAborted(msg.peer_aborted())
        if isinstance(event, ReleaseRequested):
            raise _PeerReleased()
        if isinstance(event, ProtocolError):
            raise msg.dimse_receive_failed(
                msg.dimse_read_pdv_failed(), _protocol_condition(event, machine.max_receive_pdu))
        raise msg.dimse_receive_failed(msg.dimse_read_pdv_failed())

    def _release(self) -> int:
        app.info("Releasing Association")
        if self.report is not None:
            self.report.begin("release")
        try:
            request = self.dul.release()
            self._trace()
            self._send(request, "sendReleaseRQTCP")
            event = self._next_event(self.acse_timeout)
        except _Timeout:
            self._timer_expired()
            self.note_failure(msg.read_timeout())
            app.fatal(f"Association Release Failed: {msg.read_timeout()}")
            self.close()
            return EXIT_FAILURE
        except msg.Condition as cond:
            self.note_failure(cond)
            app.fatal(f"Association Release Failed: {cond}")
            self.close()
            return EXIT_FAILURE
        self.close()
        if isinstance(event, ReleaseConfirmed):
            return EXIT_OK
        if isinstance(event, ProtocolError):
            cond = _protocol_condition(event, self.dul.max_receive_pdu)
        else:
            cond = msg.peer_aborted()
        self.note_failure(cond)
        app.fatal(f"Association Release Failed: {cond}")
        return EXIT_FAILURE

    def _abort(self, code: int) -> int:
        """Send A-ABORT, then wait up to ``-ta`` for the peer to close, as DCMTK does."""
        app.info("Aborting Association")
        if self.report is not None:
            self.report.begin("abort")
        try:
            request = self.dul.abort()
            self._trace()
            self._send(request, "sendAbortTCP")
        except msg.Condition as cond:
            self.note_failure(cond)
            app.fatal(f"Association Abort Failed: {cond}")
            self.close()
            return EXIT_FAILURE
        closed = False
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(self.acse_timeout)
            end = None if self.acse_timeout is None else monotonic() + self.acse_timeout
            while self.sock.recv(65536):  # a peer that keeps sending is cut off at -ta
                if end is not None:
                    if monotonic() >= end:
                        break
                    self.sock.settimeout(end - monotonic())
            else:
                closed = True
        except TimeoutError:
            pass
        except OSError:
            closed = True
        if self.tracing:
            if closed:  # Evt17 in Sta13
                self.dul.receive_data(b"")
                self.dul.next_event()
                self._trace()
            else:
                self._timer_expired()
        self.close()
        return code


class _PeerAborted(Exception):
    """During the echo the peer aborted, closed, or the socket timed out (exit 0)."""

    def __init__(self, condition: msg.Condition) -> None:
        super().__init__(str(condition))
        self.condition = condition


class _PeerReleased(Exception):
    """During the echo the peer sent A-RELEASE-RQ (exit 70)."""


def _protocol_condition(event: ProtocolError, our_max_pdu: int = 0) -> msg.Condition:
    """DCMTK's condition for a PDU that is unknown, out of place, ill-formed, or whose
    length claim was refused from its header (``our_max_pdu``: what we announced)."""
    error = event.error
    if isinstance(error, PDULengthError):
        if error.pdu_type == A_ASSOCIATE_AC:
            return msg.net(0x0437, "A-ASSOCIATE PDU too large")
        if error.pdu_type == P_DATA_TF:
            return msg.net(
                0x0308, f"DUL Illegal PDU Length {error.length}.  Max expected {our_max_pdu}")
    if event.pdu_type is not None and event.pdu_type not in PDU_NAMES:
        return msg.unrecognized_pdu(event.pdu_type)
    if event.abort_reason == ABORT_REASON_UNEXPECTED_PDU:
        return msg.net(0x031F, "Received unexpected PDU")
    return msg.net(0x0307, "DUL Illegal or ill-formed PDU")


_STANDARD_RSP_TAGS = frozenset((
    dimse.COMMAND_GROUP_LENGTH, dimse.AFFECTED_SOP_CLASS_UID, dimse.COMMAND_FIELD,
    dimse.MESSAGE_ID_RESPONDED, dimse.COMMAND_DATA_SET_TYPE, dimse.STATUS,
))


def _dump_status_detail(command: bytes) -> None:
    """Extra elements in a C-ECHO-RSP are printed at debug level, as DCMTK does."""
    if not app.enabled(DEBUG):
        return
    extra = command_dump(command, _STANDARD_RSP_TAGS)
    if extra:
        app.debug("\n".join(["Status Detail (should never be any):", "", "# Dicom-Data-Set",
                              "# Used TransferSyntax: Little Endian Implicit", *extra, ""]))
