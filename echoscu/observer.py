"""What the driver tells about a run as it happens: the ``Observer`` interface.

The driver prints DCMTK's lines and, at each decision point, calls one method of its
observer with the facts (an address, the A-ASSOCIATE-AC, a ``Condition`` carrying its
failure class, each error or fatal line it printed). ``Observer`` itself ignores them
all: it is the default, so a plain DCMTK run pays one no-op call per event and the
driver never asks whether anyone listens. ``echoscu.report.RunReport`` is the observer
that keeps the facts for ``--json``, ``--stats``, ``--nagios``, ``--peers`` and the hint.
"""

from __future__ import annotations

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from dul.pdu import AssociateAC
    from echoscu.messages import Condition
    from echoscu.query import FindResult


class Observer:
    """The null observer: every event is ignored (subclasses keep what they need)."""

    __slots__ = ()

    #: True if the observer wants ``tls_failed``'s ``answer``: the driver then peeks at the
    #: first bytes the peer answers the ClientHello with (it costs a few system calls)
    wants_tls_answer = False

    def begin(self, phase: str) -> None:
        """A phase of ``echoscu.report.PHASES`` starts (the one before it ends)."""

    def resolved(self, family: int, address: tuple) -> None:
        """The peer's name resolved to ``address`` (a socket address of ``family``)."""

    def tls_established(self, tls_sock, sni: str | None) -> None:
        """The TLS handshake succeeded on ``tls_sock``, having sent ``sni`` (or no name)."""

    def hostname_checked(self, problem: str | None) -> None:
        """``--verify-hostname`` judged the peer certificate after the handshake: None if
        it names the host, else the fatal line printed about it."""

    def tls_failed(self, error: BaseException, answer: bytes | None) -> None:
        """The TLS handshake raised ``error``; ``answer``: the first bytes the peer sent
        back to our ClientHello (only if ``wants_tls_answer``; None if not looked at)."""

    def accepted(self, ac: AssociateAC, max_send_pdv: int, context_id: int | None) -> None:
        """The A-ASSOCIATE-AC arrived; ``context_id`` is the context used (None: none accepted)."""

    def rejected(self, result: int, source: int, reason: int) -> None:
        """The peer answered the A-ASSOCIATE-RQ with A-ASSOCIATE-RJ."""

    def unexpected_answer(self, pdu_type: int | None, closed: bool) -> None:
        """Something other than AC/RJ answered the A-ASSOCIATE-RQ: a PDU of ``pdu_type``
        (None if none was read), or ``closed``: the connection ended without a word."""

    def echo(self, message_id: int, sent_at: float, status: int) -> None:
        """A C-ECHO sent at ``sent_at`` (perf_counter) was answered with ``status``."""

    def found(self, result: FindResult) -> None:
        """``--check-find``'s C-FIND is over: what it found (``echoscu.query.FindResult``)."""

    def failed(self, condition: Condition | None, failure_class: str | None = None) -> None:
        """The run failed: DCMTK's ``condition`` (None where DCMTK has none), classed by
        ``failure_class`` or else by the condition's own ``failure_class``."""

    def printed(self, letter: str, text: str) -> None:
        """The driver printed an error or fatal line (``letter`` "E" or "F"; ``text`` may
        hold several lines), as DCMTK's echoscu prints it."""

    def finished(self, exit_code: int) -> None:
        """The driver returns ``exit_code``."""


#: the observer of runs nobody observes
NULL_OBSERVER = Observer()
