"""echoscu's association flow: steps 8-14 of DCMTK's program flow over ``dul``.

A blocking driver: connect (and TLS handshake), associate, C-ECHO ``--repeat`` times,
release or abort. Every wait is bounded by the DCMTK timeout that governs it, and
every failure is reported with DCMTK's message and exit code (docs/dcmtk-behaviour.md sections 3-5).
The socket and its tactics are ``echoscu.transport``'s; what happened goes, as data,
to an ``echoscu.observer.Observer`` (the null one unless a feature asks for a report).
"""

from __future__ import annotations

from time import monotonic, perf_counter, sleep

from dicomecho import IMPLEMENTATION_CLASS_UID, collector, implementation_version_name
from dicomecho.log import (
    APP_LOGGER,
    DATA_LOGGER,
    DEBUG,
    ERROR,
    FATAL,
    INFO,
    NET_LOGGER,
    TLS_LOGGER,
    TRACE,
    get_logger,
)
from dul import dimse, uids
from dul.association import (
    ABORT_REASON_UNEXPECTED_PDU,
    Aborted,
    AssociationAccepted,
    AssociationRejected,
    ConnectionClosed,
    EchoAnswered,
    MessageReceived,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
    Requestor,
)
from dul.fragment import MaxPDUTooSmallError
from dul.pdu import (
    A_ASSOCIATE_AC,
    P_DATA_TF,
    PDU_NAMES,
    AssociateRQ,
    PDULengthError,
    PresentationContextRQ,
    UserInformation,
)
from echoscu import messages as msg
from echoscu import transport
from echoscu.observer import NULL_OBSERVER

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from dicomecho.log import Logger
    from echoscu.headstart import HeadStart
    from echoscu.observer import Observer
    from echoscu.options import EchoOptions

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID_INPUT_FILE = 22
EXIT_ASSOCIATION_ABORTED = 70
EXIT_INTERRUPTED = msg.EXIT_INTERRUPTED

#: a C-ECHO-RSP never carries a data set: one announced is read only this far
_MAX_RESPONSE_DATASET = 1 << 20
#: DCMTK caps the peer's max PDU at this when computing Max Send PDV
_MAX_PDU_CAP = 131072
_DEFAULT_SEND_PDV = 4084

app = get_logger(APP_LOGGER)
net = get_logger(NET_LOGGER)
data_log = get_logger(DATA_LOGGER)


class Exit(Exception):
    """The run ends here with ``code``: its lines are printed, the observer was told."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _fatal(observer: Observer, logger: Logger, text: str) -> None:
    """Print DCMTK's ``F:`` line(s) and tell the observer, if the level lets it through."""
    logger.fatal(text)
    if logger.enabled(FATAL):
        observer.printed("F", text)


def _error(observer: Observer, logger: Logger, text: str) -> None:
    """Print DCMTK's ``E:`` line(s) and tell the observer, if the level lets it through."""
    logger.error(text)
    if logger.enabled(ERROR):
        observer.printed("E", text)


class _ObservedLog:
    """A logger for certs: its error and fatal lines are the observer's to know too."""

    __slots__ = ("logger", "observer")

    def __init__(self, logger: Logger, observer: Observer) -> None:
        self.logger = logger
        self.observer = observer

    def fatal(self, text: str) -> None:
        _fatal(self.observer, self.logger, text)

    def error(self, text: str) -> None:
        _error(self.observer, self.logger, text)

    def warn(self, text: str) -> None:
        self.logger.warn(text)

    def info(self, text: str) -> None:
        self.logger.info(text)

    def debug(self, text: str) -> None:
        self.logger.debug(text)


def run(opts: EchoOptions, observer: Observer = NULL_OBSERVER, tls_context=None,
        head_start: HeadStart | None = None) -> int:
    """Do what DCMTK's echoscu does after the command line was accepted; return the exit code.

    ``observer`` hears what happens as it happens; ``tls_context`` is a client
    SSLContext built beforehand (the fleet check shares one); ``head_start`` is the
    connection echoscu.headstart began, which the driver takes over.
    """
    try:
        code = _run(opts, observer, tls_context, head_start)
    except Exit as done:
        code = done.code
    except KeyboardInterrupt:
        _fatal(observer, app, msg.INTERRUPTED)
        return EXIT_INTERRUPTED
    observer.finished(code)
    return code


def _run(opts: EchoOptions, observer: Observer, tls_context,
         head_start: HeadStart | None) -> int:
    if app.enabled(DEBUG):
        from dicomecho import __date__, __version__

        app.debug(f"$echoscu: echoscu v{__version__} {__date__} $\n")

    our_max_pdu = opts.max_pdu
    if our_max_pdu % 2:
        net.warn(f"ASSOC: PDV receive length {our_max_pdu} is odd (using {our_max_pdu - 1})")
        our_max_pdu -= 1

    if head_start is not None:
        tls_context = head_start.context
    elif opts.tls is not None and tls_context is None:
        tls_context = _tls_context(opts, observer)
    if opts.verify_cert is not None or opts.is_root_cert is not None:
        return _offline_check(opts)

    rq = _association_request(opts, our_max_pdu)
    if app.enabled(DEBUG):
        from echoscu.dumps import association_dump  # debug only (1.3M instructions)

        app.debug("Request Parameters:\n" + association_dump(rq))
    app.info("Requesting Association")

    session = _Session(opts, rq, our_max_pdu, observer)
    session.open(tls_context, head_start)
    code = session.echo_and_finish()
    if code != EXIT_FAILURE and opts.tls is not None and (
        opts.tls.write_seed or opts.tls.write_seed_file
    ):
        from certs.context import write_seed

        write_seed(opts.tls)
    return code


def _tls_context(opts: EchoOptions, observer: Observer):
    """Build the client SSLContext; on failure print DCMTK's lines and end the run."""
    from certs.context import TLSSetupError, client_context

    tls_log = get_logger(TLS_LOGGER)
    try:
        return client_context(opts.tls, _ObservedLog(tls_log, observer))
    except TLSSetupError as error:
        for level, text in error.messages:
            # a condition ("000b:0004 ...") is echoscu's report; the rest (OpenSSL errors,
            # profile checks) is what dcmtls logs on its way there
            _log_letter(observer, app if _is_condition(text) else tls_log, level, text)
    observer.failed(None, "tls-config")
    raise Exit(EXIT_FAILURE)


def _is_condition(text: str) -> bool:
    """True for DCMTK's condition format ``mmmm:cccc text`` (lower-case hex)."""
    hexdigits = "0123456789abcdef"
    return (len(text) > 10 and text[4] == ":" and text[9] == " "
            and all(char in hexdigits for char in text[:4] + text[5:9]))


def _log_letter(observer: Observer, logger: Logger, letter: str, text: str) -> None:
    if letter == "F":
        _fatal(observer, logger, text)
    elif letter == "E":
        _error(observer, logger, text)
    else:
        {"W": logger.warn, "I": logger.info, "D": logger.debug}[letter](text)


def _offline_check(opts: EchoOptions) -> int:
    """``+vc`` / ``+rc``: the result line on stdout, exit 0 or 22 (docs/dcmtk-behaviour.md
    section 7)."""
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
    if opts.probes or opts.check_find:
        # --probe-sop / --check-find: their own contexts after Verification's
        from echoscu.probe import extra_contexts

        contexts += [PresentationContextRQ(context_id, abstract, list(syntaxes))
                     for context_id, abstract, syntaxes in extra_contexts(opts)]
    user_info = UserInformation(
        max_pdu=our_max_pdu,
        implementation_class_uid=IMPLEMENTATION_CLASS_UID,
        implementation_version_name=implementation_version_name("echoscu"),
    )
    return AssociateRQ(
        called_ae=opts.called_aet, calling_ae=opts.calling_aet, contexts=contexts,
        user_info=user_info,
    )


def max_send_pdv(peer_max_pdu: int | None) -> int:
    """DCMTK's Max Send PDV for the peer's max PDU, with its warnings
    (docs/dcmtk-behaviour.md 5.7)."""
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


class _Session:
    """One association: its transport, the ``dul`` requestor, DCMTK's timeouts, the observer."""

    def __init__(self, opts: EchoOptions, rq: AssociateRQ, our_max_pdu: int,
                 observer: Observer) -> None:
        self.opts = opts
        self.observer = observer
        self.rq = rq
        self.transport: transport.Transport | None = None
        #: -ll trace: dul records its transitions and the driver prints them (checked once)
        self.tracing = net.enabled(TRACE)
        self.requestor = Requestor(rq, our_max_pdu, max_dataset_length=_MAX_RESPONSE_DATASET,
                             trace=self.tracing)
        #: while a command is being read (trace only): PDVs so far, None before the first
        self._command_pdvs: int | None = None
        self.context_id = 0
        #: the peer's max PDU from the A-ASSOCIATE-AC (0: unlimited)
        self.peer_max_pdu = 0
        self.max_send_pdv = _DEFAULT_SEND_PDV
        #: the last C-ECHO-RSP command set, for the status detail dump
        self.last_command = b""
        self.socket_timeout = transport.option_seconds(opts.socket_timeout)
        self.acse_timeout = transport.option_seconds(opts.acse_timeout)
        #: -td, or else the socket timeout (a silent peer then reads as an abort)
        self.dimse_timeout = transport.option_seconds(opts.dimse_timeout) or self.socket_timeout

    # -- trace --------------------------------------------------------------------------

    def _trace(self) -> None:
        """Print (and forget) the transitions ``dul`` recorded since the last call."""
        records = self.requestor.trace
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

    def _timer_expired(self) -> None:
        """A bounded wait for the peer ran out: the state machine's timer event (trace)."""
        if self.tracing:
            self.requestor.timer_expired()
            self._trace()

    def _transport_closed(self) -> None:
        """The transport connection is gone: the state machine's Evt17 (trace)."""
        if self.tracing:
            self.requestor.receive_data(b"")
            self.requestor.next_event()
            self._trace()

    # -- connection and association -------------------------------------------------------

    def open(self, tls_context, head_start: HeadStart | None = None) -> None:
        """Connect (or take over ``head_start``'s connection) and associate; on any
        failure print DCMTK's lines and end the run."""
        try:
            self.connect(tls_context, head_start)
            self.associate()
        except msg.Condition as cond:
            self.observer.failed(cond)
            _fatal(self.observer, app, f"Association Request Failed: {cond}")
            self.close()
            raise Exit(EXIT_FAILURE) from None
        collector.resume()  # start-up is over: the message loop may run long (--repeat)

    def connect(self, tls_context, head_start: HeadStart | None = None) -> None:
        """TCP connect (``-to``), socket options (``-ts``, environment), TLS handshake."""
        opts = self.opts
        observer = self.observer
        observer.begin("resolve")
        self._trace()
        try:
            if head_start is not None:
                self.transport = head_start.connected()  # configured there
            else:
                family, address = transport.resolve(opts.peer, opts.port, opts.ip_family)
                observer.resolved(family, address)
                self.transport = transport.connect(
                    family, address, transport.option_seconds(opts.connect_timeout))
        except msg.Condition:
            self._transport_closed()  # no transport connection: Evt17 in Sta4
            raise
        if head_start is None:
            # DCMTK sets (and reports) the socket options once the connection exists
            self.transport.configure(opts.socket_timeout, self.socket_timeout, self.tracing)
        if tls_context is not None:
            observer.begin("tls_handshake")
            self._tls_handshake(tls_context, head_start)

    def _tls_handshake(self, tls_context, head_start: HeadStart | None = None) -> None:
        """The TLS handshake, bounded by ``-ts`` and ``-ta``; DCMTK's condition on failure."""
        from certs.context import sni_hostname
        from certs.session import (
            CERTIFICATE_REFUSED_CODE,
            check_peer_certificates,
            connection_details,
            explain_refusal,
            tls_failure,
        )

        observer = self.observer
        tls_log = _ObservedLog(get_logger(TLS_LOGGER), observer)
        tls_sock = answer = None
        try:
            if head_start is not None:
                server_name = head_start.server_name
                tls_sock = head_start.handshaken()
            else:
                server_name = sni_hostname(self.opts.tls, tls_log)
                tls_sock = self.transport.start_tls(
                    tls_context, server_name,
                    transport.handshake_timeout(self.socket_timeout, self.acse_timeout))
                if observer.wants_tls_answer:
                    answer = self.transport.first_answer()
                tls_sock.do_handshake()
        except OSError as error:
            if head_start is not None:
                tls_sock = head_start.tls_sock
            # the profile's security level refused the peer's chain: say which certificate
            explain_refusal(error, tls_sock, self.opts.tls, "client", tls_log)
            observer.tls_failed(error, answer)
            code, text = tls_failure(error, tls_context)
            raise msg.Condition(msg.DCMTLS, code, text, failure_class=(
                "tls-verify" if code == CERTIFICATE_REFUSED_CODE else "tls-handshake")) from None
        observer.tls_established(tls_sock, server_name)
        if not check_peer_certificates(tls_sock, self.opts.tls, "client", tls_log):
            raise msg.Condition(msg.DCMTLS, CERTIFICATE_REFUSED_CODE,
                                "TLS error: certificate verify failed", failure_class="tls-verify")
        tls_sock.settimeout(self.socket_timeout)
        if app.enabled(DEBUG):
            net.debug("\n".join(connection_details(tls_sock)))
        expected = self.opts.expected_hostname()
        if expected is not None:  # --verify-hostname: before anything of the association
            from certs.hostname import check_peer_hostname

            problem = check_peer_hostname(tls_sock, expected, tls_log)
            observer.hostname_checked(problem)
            if problem is not None:
                raise msg.Condition(msg.DCMTLS, CERTIFICATE_REFUSED_CODE,
                                    "TLS error: certificate verify failed",
                                    failure_class="tls-verify")

    def close(self) -> None:
        """Drop the connection without any further PDU."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def _next_event(self, timeout: float | None):
        """The next ``dul`` event, reading for at most ``timeout`` seconds; None if nothing
        complete arrived in time.

        A closed or reset connection arrives as ``ConnectionClosed`` from ``dul``. The
        timeout bounds the whole wait, not each read: a peer trickling bytes cannot hold
        us past it.
        """
        machine = self.requestor
        event = machine.next_event()
        read = self.transport.read
        wait = timeout
        deadline = None if timeout is None else monotonic() + timeout
        while event is None:
            data = read(wait)
            if data is None:
                return None
            machine.receive_data(data)
            event = machine.next_event()
            if event is None and deadline is not None:
                wait = deadline - monotonic()
                if wait <= 0:
                    self._trace()
                    return None
        if self.tracing:
            self._trace()
        return event

    def associate(self) -> None:
        """Send the A-ASSOCIATE-RQ and wait ``-ta`` for the answer; a rejection or no
        accepted context ends the run, any other failure raises DCMTK's condition."""
        observer = self.observer
        observer.begin("associate")
        request = self.requestor.start()
        self._trace()
        titles = ((self.rq.calling_ae, "Calling AP Title"), (self.rq.called_ae, "Called AP Title"))
        for value, what in titles:
            if not value:
                # DCMTK finds this after the TCP connection was opened, before it says it
                # constructs the A-ASSOCIATE-RQ
                cond = msg.illegal_service_parameter(what, "local-error")
                _error(observer, net, cond.text)
                raise cond
        net.debug("Constructing Associate RQ PDU")
        self.transport.send(request, "sendAssociationRQTCP")
        if self.tracing:
            net.trace("setting timeout for first PDU to be read to "
                      f"{self.opts.acse_timeout} seconds")
        event = self._next_event(self.acse_timeout)
        if event is None:
            self._timer_expired()
            raise msg.read_timeout("associate-timeout")
        if isinstance(event, AssociationAccepted):
            self._accepted(event)
            return
        if isinstance(event, AssociationRejected):
            rj = event.rj
            self._rejected(rj.result, rj.source, rj.reason)
        if isinstance(event, ProtocolViolation):
            observer.unexpected_answer(event.pdu_type, False)
            error = event.error
            if isinstance(error, PDULengthError) and error.pdu_type == A_ASSOCIATE_AC:
                _error(observer, net, f"A-ASSOCIATE PDU too large: {error.length} bytes, refusing.")
            raise _protocol_condition(event) from None
        # A-ABORT, release request or a closed connection before any answer
        observer.unexpected_answer(None, isinstance(event, ConnectionClosed))
        raise msg.peer_aborted()

    def _accepted(self, event: AssociationAccepted) -> None:
        """The A-ASSOCIATE-AC: the negotiated values; no accepted context ends the run."""
        if net.enabled(DEBUG):
            from echoscu.dumps import pdu_hex_dump

            net.debug(pdu_hex_dump(event.raw))
            net.debug("Parsing an A-ASSOCIATE PDU")
            if self.tracing:
                from echoscu.trace import associate_ac_lines

                for line in associate_ac_lines(event.raw):
                    net.trace(line)
        ac = event.ac
        self.max_send_pdv = max_send_pdv(ac.user_info.max_pdu)
        if app.enabled(DEBUG):
            from echoscu.dumps import association_dump

            app.debug("Association Parameters Negotiated:\n" + association_dump(self.rq, ac))
        # the echo uses one of the -ppc Verification contexts (--probe-sop and --check-find
        # add others after them)
        echo_ids = [ctx.id for ctx in self.rq.contexts[: self.opts.propose_pc]]
        accepted = [ctx.id for ctx in ac.contexts if ctx.result == 0 and ctx.id in echo_ids]
        if accepted:
            self.context_id = min(accepted, key=echo_ids.index)
        self.observer.accepted(ac, self.max_send_pdv, self.context_id or None)
        if not accepted:
            self.observer.failed(None, "no-context")
            _fatal(self.observer, app, "No Acceptable Presentation Contexts")
            self.close()
            raise Exit(EXIT_FAILURE)
        self.peer_max_pdu = ac.user_info.max_pdu or 0
        app.info(f"Association Accepted (Max Send PDV: {self.max_send_pdv})")

    def _rejected(self, result: int, source: int, reason: int) -> None:
        """The A-ASSOCIATE-RJ: DCMTK's lines about it, and the end of the run."""
        self.observer.rejected(result, source, reason)
        errors, fatal = msg.describe_rejection(result, source, reason)
        for line in errors:  # dcmnet's complaints while it decodes the A-ASSOCIATE-RJ
            _error(self.observer, net, line)
        _fatal(self.observer, app, "\n".join(fatal))
        self.close()
        raise Exit(EXIT_FAILURE)

    # -- echo, release, abort -----------------------------------------------------------

    def echo_and_finish(self) -> int:
        """``--repeat`` C-ECHOs, then release (or ``--abort``); the exit code of the run."""
        opts = self.opts
        observer = self.observer
        interval = opts.interval
        verbose = app.enabled(INFO)
        context_id = self.context_id
        tracing = self.tracing
        send = self.transport.send
        kernel_timeouts = self.transport.bound_by_kernel(self.dimse_timeout, self.socket_timeout)
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
                sent_at = perf_counter()
                if tracing:
                    request = self._traced_request(context_id, message_id)
                else:
                    request = self.requestor.send_echo(context_id, message_id)
                send(request, "sendPDataTCP")
                if tracing:
                    net.trace("DIMSE receiveCommand")
                    self._command_pdvs = 0
                status = self._await_response(message_id, self.dimse_timeout, kernel_timeouts)
            except msg.Condition as failure:
                return self._echo_failed(failure)
            observer.echo(message_id, sent_at, status)
            if verbose:
                app.info(f"Received Echo Response ({msg.status_text(status)})")
            _dump_status_detail(self.last_command)
        if opts.check_find:
            ended = self._check_find((message_id + 1) & 0xFFFF or 1)
            if ended is not None:
                return ended
        if opts.abort:
            return self._abort(EXIT_OK)
        return self._release()

    def _check_find(self, message_id: int) -> int | None:
        """``--check-find``: one C-FIND after the echoes (``echoscu.query``). None if it was
        answered; else its failure is reported, the association ended, the exit code."""
        from echoscu import query
        from echoscu.probe import find_context_id

        observer = self.observer
        observer.begin("find")
        result = query.check(self.requestor.ac, find_context_id(self.opts), message_id,
                             self._send_message, self._next_event, self.dimse_timeout,
                             app.info if app.enabled(INFO) else None)
        observer.found(result)
        if result.failure_class is None:
            app.info(f"Received Final Find Response ({query.status_text(result.status)}, "
                     f"{result.matches} matches)")
            return None
        observer.failed(result.condition, result.failure_class)
        _error(observer, app, f"Find Failed: {result.problem}")
        if result.association == "closed":
            self.close()
            return EXIT_FAILURE
        if result.association == "broken" or self.opts.abort:
            return self._abort(EXIT_FAILURE)
        self._release()
        return EXIT_FAILURE

    def _send_message(self, context_id: int, command: bytes, dataset: bytes) -> None:
        """Send one DIMSE message with a data set (a Condition if it cannot be sent)."""
        try:
            request = self.requestor.send_message(context_id, command, dataset)
        except MaxPDUTooSmallError:
            raise msg.dimse_send_failed(msg.illegal_peer_max_pdu(self.peer_max_pdu)) from None
        self._trace()
        self.transport.send(request, "sendPDataTCP")

    def _traced_request(self, context_id: int, message_id: int) -> bytes:
        """The C-ECHO-RQ PDUs, with DCMTK's trace of the command and the P-DATA request."""
        from echoscu.trace import command_to_send

        command = dimse.echo_rq(message_id)
        for line in command_to_send(context_id, command):
            net.trace(line)
        request = self.requestor.send_echo(context_id, message_id)
        self._trace()
        return request

    def _echo_failed(self, failure: msg.Condition) -> int:
        """A C-ECHO failed: DCMTK's lines for how, then abort (or, if the peer already
        aborted, just close); the exit code."""
        observer = self.observer
        observer.failed(failure)
        _error(observer, app, f"Echo Failed: {failure}")
        if failure.failure_class == "aborted":  # exit 0, as DCMTK's echoscu
            app.info("Peer Aborted Association")
            self.close()
            return EXIT_OK
        if failure.failure_class == "released":
            _fatal(observer, app, "Protocol Error: Peer requested release (Aborting)")
        else:
            _error(observer, app, f"Echo SCU Failed: {failure}")
        return self._abort(EXIT_ASSOCIATION_ABORTED)

    def _await_response(self, message_id: int, timeout: float | None,
                        kernel_timeouts: bool = False) -> int:
        """Wait for the C-ECHO-RSP; return its status or raise the DCMTK failure.

        The common answer, one standard C-ECHO-RSP PDU, comes from ``dul`` as
        ``EchoAnswered`` (recognised by its bytes); anything else is decoded in full.
        The first read sets no TCP_QUICKACK: an answer that comes in pieces (a peer
        with Nagle on waits for our ACK) continues in ``_next_event``, which sets it.
        ``kernel_timeouts``: the socket is ``bound_by_kernel`` (``timeout`` is then the
        SO_RCVTIMEO already set).
        """
        machine = self.requestor
        event = None
        data = b""
        if not self.tracing and not machine.buffered:
            event = machine.next_event()
            if event is None:
                if kernel_timeouts:
                    data = self.transport.read_bounded()
                else:
                    data = self.transport.read(timeout, quickack=False)
                if data is not None:
                    machine.receive_data(data)
                    event = machine.next_event()
        if event is None and data is not None:
            event = self._next_event(timeout)
        if event is None:  # the wait ran out
            if transport.option_seconds(self.opts.dimse_timeout):
                raise msg.dimse_timeout()
            # the socket timed out: DCMTK closes the transport (Evt17), as if aborted
            self._transport_closed()
            raise msg.peer_aborted()
        if isinstance(event, MessageReceived):
            if self.tracing:
                from echoscu.trace import command_received

                for line in command_received(self._command_pdvs or 0, event.context_id,
                                             event.command):
                    net.trace(line)
                self._command_pdvs = None
            else:
                data_log.debug('DcmDataset::read() TransferSyntax="Little Endian Implicit"')
            if event.__class__ is EchoAnswered and event.message_id_responded == message_id:
                self.last_command = event.command
                return event.status
            try:
                command = dimse.decode_command(event.command)
            except dimse.DIMSEError:
                raise msg.net(0x020B, "DIMSE Failed to parse received message",
                              failure_class="bad-response") from None
            command_field = command.get(dimse.COMMAND_FIELD)
            if command_field is None:
                raise msg.net(0x020B, "DIMSE_parseCmdObject: Missing CommandField",
                              failure_class="bad-response")
            if command_field != dimse.C_ECHO_RSP:
                raise msg.unexpected_command_field(command_field or 0)
            responded = command.get(dimse.MESSAGE_ID_RESPONDED)
            if responded != message_id:
                raise msg.unexpected_message_id(responded, message_id)
            self.last_command = event.command
            return command.get(dimse.STATUS, 0)
        if isinstance(event, (Aborted, ConnectionClosed)):
            raise msg.peer_aborted()
        if isinstance(event, ReleaseRequested):
            raise msg.peer_requested_release()
        if isinstance(event, ProtocolViolation):
            raise msg.dimse_receive_failed(
                msg.dimse_read_pdv_failed(), _protocol_condition(event, machine.max_receive_pdu))
        raise msg.dimse_receive_failed(msg.dimse_read_pdv_failed())

    def _release(self) -> int:
        """A-RELEASE-RQ, then wait ``-ta`` for the A-RELEASE-RP; the exit code."""
        app.info("Releasing Association")
        self.observer.begin("release")
        try:
            request = self.requestor.release()
            self._trace()
            self.transport.send(request, "sendReleaseRQTCP")
            event = self._next_event(self.acse_timeout)
            if event is None:
                self._timer_expired()
                raise msg.read_timeout("release-failed")
        except msg.Condition as cond:
            return self._release_failed(cond)
        if isinstance(event, ReleaseConfirmed):
            self.close()
            return EXIT_OK
        if isinstance(event, ProtocolViolation):
            return self._release_failed(_protocol_condition(event, self.requestor.max_receive_pdu))
        return self._release_failed(msg.peer_aborted())

    def _release_failed(self, cond: msg.Condition) -> int:
        self.observer.failed(cond, "release-failed")
        _fatal(self.observer, app, f"Association Release Failed: {cond}")
        self.close()
        return EXIT_FAILURE

    def _abort(self, code: int) -> int:
        """Send A-ABORT, then wait up to ``-ta`` for the peer to close, as DCMTK does."""
        app.info("Aborting Association")
        self.observer.begin("abort")
        try:
            request = self.requestor.abort()
            self._trace()
            self.transport.send(request, "sendAbortTCP")
        except msg.Condition as cond:
            self.observer.failed(cond, "local-error")
            _fatal(self.observer, app, f"Association Abort Failed: {cond}")
            self.close()
            return EXIT_FAILURE
        if self.transport.drain(self.acse_timeout):
            self._transport_closed()  # Evt17 in Sta13
        else:
            self._timer_expired()
        self.close()
        return code


def _protocol_condition(event: ProtocolViolation, our_max_pdu: int = 0) -> msg.Condition:
    """DCMTK's condition for a PDU that is unknown, out of place, ill-formed, or whose
    length claim was refused from its header (``our_max_pdu``: what we announced)."""
    error = event.error
    if isinstance(error, PDULengthError):
        if error.pdu_type == A_ASSOCIATE_AC:
            return msg.net(0x0437, "A-ASSOCIATE PDU too large", failure_class="protocol-error")
        if error.pdu_type == P_DATA_TF:
            return msg.net(
                0x0308, f"DUL Illegal PDU Length {error.length}.  Max expected {our_max_pdu}",
                failure_class="protocol-error")
    if event.pdu_type is not None and event.pdu_type not in PDU_NAMES:
        return msg.unrecognized_pdu(event.pdu_type)
    if event.abort_reason == ABORT_REASON_UNEXPECTED_PDU:
        return msg.net(0x031F, "Received unexpected PDU", failure_class="protocol-error")
    return msg.net(0x0307, "DUL Illegal or ill-formed PDU", failure_class="protocol-error")


_STANDARD_RSP_TAGS = frozenset((
    dimse.COMMAND_GROUP_LENGTH, dimse.AFFECTED_SOP_CLASS_UID, dimse.COMMAND_FIELD,
    dimse.MESSAGE_ID_RESPONDED, dimse.COMMAND_DATA_SET_TYPE, dimse.STATUS,
))


def _dump_status_detail(command: bytes) -> None:
    """Extra elements in a C-ECHO-RSP are printed at debug level, as DCMTK does."""
    if not app.enabled(DEBUG):
        return
    from echoscu.dumps import command_dump

    extra = command_dump(command, _STANDARD_RSP_TAGS)
    if extra:
        app.debug("\n".join(["Status Detail (should never be any):", "", "# Dicom-Data-Set",
                              "# Used TransferSyntax: Little Endian Implicit", *extra, ""]))
