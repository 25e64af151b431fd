"""What happened in one echoscu run: facts the driver records at its decision points.

The driver fills a ``RunReport`` only when a feature asks for one (``--json``, ``--stats``,
``--nagios``, ``--peers``, the terminal hint). Every renderer reads the same object, and
the failure class of a run is decided here, once, from the phase it failed in and the
DCMTK condition the driver raised.
"""

from __future__ import annotations

from socket import AF_INET6
from time import perf_counter, time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from echoscu.messages import Condition
    from echoscu.options import EchoOptions

#: failure class -> (exit code with ``--exit-codes detailed``, what it means)
FAILURE_CLASSES = {
    "tls-config": (2, "local TLS set-up failed (key, certificate, CA, ciphersuite, profile)"),
    "dns": (3, "the peer's name could not be resolved"),
    "refused": (4, "TCP connection refused"),
    "connect-timeout": (5, "TCP connect timed out (-to)"),
    "network-error": (6, "other TCP failure (unreachable, reset, send error)"),
    "tls-handshake": (7, "TLS handshake failed (protocol, ciphersuites, peer not speaking TLS)"),
    "tls-verify": (8, "TLS certificate verification failed"),
    "associate-timeout": (9, "no answer to the A-ASSOCIATE-RQ within -ta"),
    "rejected": (10, "association rejected (A-ASSOCIATE-RJ: result, source, reason)"),
    "no-context": (11, "no presentation context accepted"),
    "aborted": (12, "peer aborted or closed the association (A-ABORT, TCP close, -ts)"),
    "protocol-error": (13, "unexpected or malformed PDU from the peer"),
    "released": (14, "peer requested release instead of answering the C-ECHO"),
    "dimse-timeout": (15, "no C-ECHO response within -td"),
    "bad-response": (16, "C-ECHO response with a wrong message ID or command, or unreadable"),
    "bad-status": (17, "C-ECHO answered with a non-success status"),
    "release-failed": (18, "release not confirmed (A-ABORT, timeout)"),
    "local-error": (19, "local failure (empty AE title, own abort failed)"),
}

#: phases in the order a run goes through them (keys of ``RunReport.timings``)
PHASES = ("resolve", "connect", "tls_handshake", "associate", "echo", "release", "abort")

_ASSOCIATE_CLASSES = {0x031A: "associate-timeout", 0x0317: "aborted", 0x030C: "local-error",
                      0x0321: "protocol-error", 0x031F: "protocol-error",
                      0x0307: "protocol-error", 0x031D: "network-error"}
_ECHO_CLASSES = {0x0207: "dimse-timeout", 0x0211: "bad-response", 0x020B: "bad-response",
                 0x0317: "aborted", 0x0319: "released", 0x031D: "network-error"}
_TLS_VERIFY_CODE = 0x0886


def classify(phase: str, condition: Condition | None) -> str:
    """The failure class of a DCMTK condition raised in ``phase`` (the one mapping)."""
    code = condition.code if condition is not None else 0
    if phase == "resolve":
        return "dns"
    if phase == "connect":
        if code == 0x0320:
            return "dns"
        text = condition.text if condition is not None else ""
        if "Connection refused" in text:
            return "refused"
        if "(Timeout)" in text or "Connection timed out" in text:  # -to, or the kernel's
            return "connect-timeout"
        return "network-error"
    if phase == "tls_handshake":
        return "tls-verify" if code == _TLS_VERIFY_CODE else "tls-handshake"
    if phase == "associate":
        return _ASSOCIATE_CLASSES.get(code, "protocol-error")
    if phase == "echo":
        return _ECHO_CLASSES.get(code, "protocol-error")
    if phase == "release":
        return "release-failed"
    return "local-error"


def detailed_exit_code(failure_class: str | None) -> int:
    """The ``--exit-codes detailed`` code of a failure class (None = success, 0)."""
    if failure_class is None:
        return 0
    return FAILURE_CLASSES[failure_class][0]


class Failure:
    """Why a run failed: class, phase, the DCMTK condition, the reject details."""

    __slots__ = ("failure_class", "phase", "condition", "reject")

    def __init__(self, failure_class: str, phase: str, condition: Condition | None = None,
                 reject: tuple[int, int, int] | None = None) -> None:
        self.failure_class = failure_class
        self.phase = phase
        self.condition = condition
        #: (result, source, reason) of an A-ASSOCIATE-RJ
        self.reject = reject


class TLSFacts:
    """The negotiated TLS session: version, suite, ALPN, SNI sent, the peer's chain (DER)."""

    __slots__ = ("version", "cipher", "cipher_bits", "alpn", "sni", "chain", "verified",
                 "hostname_verified", "hostname_problem")

    def __init__(self, tls_sock, sni: str | None) -> None:
        import ssl  # loaded already: this is a TLS run

        name, _protocol, bits = tls_sock.cipher()
        self.version: str = tls_sock.version()
        self.cipher: str = name
        self.cipher_bits: int = bits
        self.alpn: str | None = tls_sock.selected_alpn_protocol()
        self.sni = sni
        #: the certificates the peer sent, leaf first, as DER
        self.chain: list[bytes] = peer_chain(tls_sock)
        #: True if the peer's chain was verified against our CA settings (not -ic)
        self.verified: bool = tls_sock.context.verify_mode != ssl.CERT_NONE
        #: --verify-hostname's verdict (None: not checked) and, if False, its fatal line
        self.hostname_verified: bool | None = None
        self.hostname_problem: str | None = None


def peer_chain(tls_sock) -> list[bytes]:
    """Every certificate the peer sent (leaf first, DER); the leaf alone where Python hides them.

    ``get_unverified_chain`` is public from Python 3.13; before, only the private
    ``_sslobj`` has it, so that route is feature-tested and the leaf is the fallback.
    """
    try:
        chain_of = getattr(tls_sock, "get_unverified_chain", None)
        if chain_of is None:
            chain_of = tls_sock._sslobj.get_unverified_chain
            from _ssl import ENCODING_DER
        return [cert if isinstance(cert, bytes) else cert.public_bytes(ENCODING_DER)
                for cert in chain_of() or []]
    except (AttributeError, ImportError):
        leaf = tls_sock.getpeercert(binary_form=True)
        return [leaf] if leaf else []


class RunReport:
    """Facts about one run of the driver, recorded as they happen (times from perf_counter)."""

    def __init__(self, opts: EchoOptions) -> None:
        self.host: str = opts.peer
        self.port: int = opts.port
        self.calling_aet: str = opts.calling_aet
        self.called_aet: str = opts.called_aet
        self.tls_requested: bool = opts.tls is not None
        #: --request-sni as given (the name actually sent is in ``tls.sni``)
        self.sni_requested: str | None = opts.tls.sni if opts.tls is not None else None
        #: the name --verify-hostname checks the peer certificate against (None: no check)
        self.hostname_expected: str | None = opts.expected_hostname()
        self.repeat: int = opts.repeat
        #: wall-clock start (seconds since the epoch)
        self.started: float = time()
        self._origin = perf_counter()
        #: (address family name, address) the driver connected to
        self.address: tuple[str, str] | None = None
        #: phase name -> seconds
        self.timings: dict[str, float] = {}
        self.total: float = 0.0
        self._phase: str | None = None
        self._phase_start = 0.0
        #: (message ID, round trip seconds, status) per answered C-ECHO
        self.echoes: list[tuple[int, float, int]] = []
        self.max_pdu = opts.max_pdu
        self.peer_max_pdu: int | None = None
        self.max_send_pdv: int | None = None
        #: (context ID, result, transfer syntax) per context in the A-ASSOCIATE-AC
        self.contexts: list[tuple[int, int, str | None]] = []
        self.context_id: int | None = None
        self.peer_implementation: tuple[str | None, str | None] = (None, None)
        self.tls: TLSFacts | None = None
        #: OpenSSL's verify message and reason of a failed handshake
        self.tls_error: dict[str, object] | None = None
        #: the first bytes the peer answered our ClientHello with (kept unread by the
        #: handshake), for the mismatch hint; None if the handshake never got that far
        self.tls_answer: bytes | None = None
        #: after a failed verification: the chain the peer sends, from an unverified handshake
        self.unverified_chain: list[bytes] = []
        #: what answered the A-ASSOCIATE-RQ if not AC/RJ ("Aborted", "ConnectionClosed", ...)
        self.negotiation_answer: str | None = None
        self.failure: Failure | None = None
        #: the error and fatal lines DCMTK's echoscu printed ("F: ..."), when captured
        self.log: list[str] = []
        self.hint: str | None = None
        self.exit_code: int | None = None

    # -- hooks the driver calls ---------------------------------------------------------

    def begin(self, phase: str) -> None:
        """A phase starts (and the one before it, if any, ends now)."""
        now = perf_counter()
        self._close(now)
        self._phase = phase
        self._phase_start = now

    def end(self) -> None:
        """The current phase ended successfully."""
        self._close(perf_counter())
        self._phase = None

    def _close(self, now: float) -> None:
        if self._phase is not None:
            self.timings[self._phase] = self.timings.get(self._phase, 0.0) + now - \
                self._phase_start

    def resolved(self, family: int, address: tuple) -> None:
        """The address the name resolved to (the connect phase starts)."""
        self.address = ("ipv6" if family == AF_INET6 else "ipv4", str(address[0]))
        self.begin("connect")

    def tls_established(self, tls_sock, sni: str | None) -> None:
        """The TLS handshake succeeded: keep the session facts."""
        self.tls = TLSFacts(tls_sock, sni)

    def hostname_checked(self, problem: str | None) -> None:
        """--verify-hostname judged the peer certificate: None = it names the host."""
        if self.tls is not None:
            self.tls.hostname_verified = problem is None
            self.tls.hostname_problem = problem

    def tls_failed(self, error: BaseException) -> None:
        """The TLS handshake raised ``error``: keep what OpenSSL said about it."""
        self.tls_error = {
            "reason": getattr(error, "reason", None),
            "library": getattr(error, "library", None),
            "verify_code": getattr(error, "verify_code", None),
            "verify_message": getattr(error, "verify_message", None),
        }

    def accepted(self, ac, max_send_pdv: int, context_id: int | None) -> None:
        """The A-ASSOCIATE-AC arrived: negotiated values; the echo phase starts if a
        context was accepted (without one, the association phase fails)."""
        self.peer_max_pdu = ac.user_info.max_pdu
        self.max_send_pdv = max_send_pdv
        self.contexts = [(ctx.id, ctx.result, ctx.transfer_syntax) for ctx in ac.contexts]
        self.context_id = context_id
        self.peer_implementation = (ac.user_info.implementation_class_uid,
                                    ac.user_info.implementation_version_name)
        if context_id is not None:
            self.begin("echo")

    def answered_by(self, event: object) -> None:
        """Something other than AC/RJ answered the A-ASSOCIATE-RQ."""
        self.negotiation_answer = type(event).__name__

    def rejected(self, result: int, source: int, reason: int) -> None:
        """The peer sent A-ASSOCIATE-RJ."""
        self._fail(Failure("rejected", "associate", reject=(result, source, reason)))

    def failed(self, condition: Condition | None, failure_class: str | None = None) -> None:
        """The run failed with DCMTK's ``condition`` in the current phase (first failure wins)."""
        phase = self._phase or "setup"
        if failure_class is None:
            failure_class = classify(phase, condition)
        self._fail(Failure(failure_class, phase, condition))

    def _fail(self, failure: Failure) -> None:
        self._close(perf_counter())
        self._phase = None
        if self.failure is None:
            self.failure = failure

    def echo(self, message_id: int, sent_at: float, status: int) -> None:
        """A C-ECHO sent at ``sent_at`` (perf_counter) was answered with ``status``."""
        self.echoes.append((message_id, perf_counter() - sent_at, status))

    def finish(self, exit_code: int) -> None:
        """The driver returned ``exit_code``: close the books (bad status is a failure too)."""
        self._close(perf_counter())
        self._phase = None
        self.total = perf_counter() - self._origin
        self.exit_code = exit_code
        if self.failure is None and any(status for _, _, status in self.echoes):
            self.failure = Failure("bad-status", "echo")
        elif self.failure is None and exit_code != 0:
            # a failure exit the driver did not describe: still a failure, never "success"
            self.failure = Failure("local-error", "setup")

    # -- derived facts ------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """True if every echo was answered with Success and the association ended cleanly."""
        return self.failure is None and self.exit_code == 0

    @property
    def failure_class(self) -> str | None:
        """The failure class, None on success."""
        return self.failure.failure_class if self.failure is not None else None

    @property
    def detailed_code(self) -> int:
        """The exit code with ``--exit-codes detailed``: the failure class's code; a run
        without a failure (success, offline check) or an interrupted one keeps its code."""
        if self.failure is None or self.exit_code == 130:
            return self.exit_code
        return detailed_exit_code(self.failure_class)

    @property
    def rtts(self) -> list[float]:
        """Round-trip seconds of the answered echoes, in order."""
        return [rtt for _, rtt, _ in self.echoes]

    @property
    def label(self) -> str:
        """``CALLED@host:port`` (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.called_aet}@{host}:{self.port}"


def rtt_stats(rtts: list[float]) -> dict[str, float | int] | None:
    """count, min, avg, max, stddev (population), p50/p95/p99 (nearest rank), in ms."""
    if not rtts:
        return None
    ms = sorted(value * 1000.0 for value in rtts)
    count = len(ms)
    mean = sum(ms) / count
    variance = sum((value - mean) ** 2 for value in ms) / count

    def rank(percent: int) -> float:
        index = -(-percent * count // 100)  # ceil
        return ms[max(index, 1) - 1]

    return {"count": count, "min": ms[0], "avg": mean, "max": ms[-1],
            "stddev": variance ** 0.5, "p50": rank(50), "p95": rank(95), "p99": rank(99)}
