"""What happened in one echoscu run: the observer that keeps the driver's facts.

The driver tells a ``RunReport`` (an ``echoscu.observer.Observer``) what happens when a
feature asks for one (``--json``, ``--stats``, ``--nagios``, ``--peers``, the terminal
hint). Every renderer reads the same object. A run's failure class is decided where
the failure is recognised and arrives on the DCMTK condition (``Condition.failure_class``)
or with the event; the report keeps it with the phase it happened in.
"""

from __future__ import annotations

from socket import AF_INET6
from time import perf_counter, time

from echoscu.observer import Observer

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from certs.session import SessionFacts
    from echoscu.messages import Condition
    from echoscu.options import EchoOptions
    from echoscu.query import FindResult

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
    "find-refused": (20, "--check-find: the C-FIND was refused (context not accepted, failure "
                     "status, A-ABORT)"),
}

#: phases in the order a run goes through them (keys of ``RunReport.timings``)
PHASES = ("resolve", "connect", "tls_handshake", "associate", "echo", "find", "release",
          "abort")

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


class RunReport(Observer):
    """Facts about one run of the driver, recorded as they happen (times from perf_counter)."""

    wants_tls_answer = True

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
        self.tls: SessionFacts | None = None
        #: OpenSSL's verify message and reason of a failed handshake
        self.tls_error: dict[str, object] | None = None
        #: the first bytes the peer answered our ClientHello with (kept unread by the
        #: handshake), for the mismatch hint; None if the handshake never got that far
        self.tls_answer: bytes | None = None
        #: after a failed verification: the chain the peer sends, from an unverified handshake
        self.unverified_chain: list[bytes] = []
        #: the A-ASSOCIATE-RQ was answered by the connection closing, without any PDU
        self.closed_unanswered = False
        #: the type of the unexpected or unknown PDU that answered the A-ASSOCIATE-RQ
        self.answer_pdu_type: int | None = None
        self.failure: Failure | None = None
        #: the error and fatal lines DCMTK's echoscu printed ("F: ..."), as the driver
        #: printed them
        self.log: list[str] = []
        self.hint: str | None = None
        self.exit_code: int | None = None
        #: --probe-sop: (context ID, SOP class UID, proposed transfer syntaxes) per probe
        self.probe_plan: list[tuple[int, str, tuple[str, ...]]] = []
        if opts.probes:
            from echoscu.probe import extra_contexts

            self.probe_plan = extra_contexts(opts)[: len(opts.probes)]
        self.check_find: bool = opts.check_find
        #: --check-find's result (None: not asked for, or the run ended before it)
        self.find: FindResult | None = None

    # -- what the driver reports (the Observer interface) --------------------------------

    def begin(self, phase: str) -> None:
        """A phase starts (and the one before it, if any, ends now)."""
        now = perf_counter()
        self._close(now)
        self._phase = phase
        self._phase_start = now

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
        from certs.session import SessionFacts

        self.tls = SessionFacts(tls_sock, sni)

    def hostname_checked(self, problem: str | None) -> None:
        """--verify-hostname judged the peer certificate: None = it names the host."""
        if self.tls is not None:
            self.tls.hostname_verified = problem is None
            self.tls.hostname_problem = problem

    def tls_failed(self, error: BaseException, answer: bytes | None) -> None:
        """The TLS handshake raised ``error``: keep what OpenSSL said about it, and what
        the peer answered our ClientHello with."""
        self.tls_answer = answer
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

    def unexpected_answer(self, pdu_type: int | None, closed: bool) -> None:
        """Something other than AC/RJ answered the A-ASSOCIATE-RQ."""
        self.answer_pdu_type = pdu_type
        self.closed_unanswered = closed

    def rejected(self, result: int, source: int, reason: int) -> None:
        """The peer sent A-ASSOCIATE-RJ."""
        self._fail(Failure("rejected", "associate", reject=(result, source, reason)))

    def failed(self, condition: Condition | None, failure_class: str | None = None) -> None:
        """The run failed with DCMTK's ``condition`` in the current phase (first failure wins)."""
        if failure_class is None:
            failure_class = condition.failure_class if condition is not None else None
        self._fail(Failure(failure_class or "local-error", self._phase or "setup", condition))

    def found(self, result: FindResult) -> None:
        """``--check-find``'s C-FIND is over."""
        self.find = result

    def printed(self, letter: str, text: str) -> None:
        """An error or fatal line the driver printed: kept as printed, one entry a line."""
        self.log.extend(f"{letter}: {line}" for line in text.split("\n"))

    def _fail(self, failure: Failure) -> None:
        self._close(perf_counter())
        self._phase = None
        if self.failure is None:
            self.failure = failure

    def echo(self, message_id: int, sent_at: float, status: int) -> None:
        """A C-ECHO sent at ``sent_at`` (perf_counter) was answered with ``status``."""
        self.echoes.append((message_id, perf_counter() - sent_at, status))

    def finished(self, exit_code: int) -> None:
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
    def probes(self) -> list[tuple[int, str, tuple[str, ...], int | None, str | None]]:
        """Per ``--probe-sop`` context: (ID, SOP class UID, proposed transfer syntaxes,
        result, accepted transfer syntax); result None if the A-ASSOCIATE-AC did not
        answer it (or none arrived: ``negotiated`` is then False)."""
        answers = {context_id: (result, syntax) for context_id, result, syntax in self.contexts}
        return [(context_id, abstract, syntaxes, *answers.get(context_id, (None, None)))
                for context_id, abstract, syntaxes in self.probe_plan]

    @property
    def negotiated(self) -> bool:
        """True once an A-ASSOCIATE-AC arrived."""
        return self.max_send_pdv is not None

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
