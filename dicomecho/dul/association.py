"""PS3.8 upper-layer state machines (Sta1..Sta13) for the association requestor and
acceptor, sans-I/O: received bytes in, events out; local calls in, bytes to send out.

Neither machine reads a socket, keeps time or logs; the driver does that and runs
the timers (ARTIM, ACSE, DIMSE). A machine made with ``trace=True`` also records
each PS3.8 state-table transition it makes in ``trace`` (see ``Transition``), for a
driver that shows them; without it nothing is recorded. Typical requestor loop::

    machine = Requestor(rq, max_receive_pdu=16384)
    sock.sendall(machine.start())
    while (event := machine.next_event()) is None:
        machine.receive_data(sock.recv(65536))
"""

from __future__ import annotations

from dicomecho.dul import pdu as wire
from dicomecho.dul._record import Record
from dicomecho.dul.dimse import command_has_dataset
from dicomecho.dul.fragment import (
    DEFAULT_MAX_COMMAND_LENGTH,
    DEFAULT_MAX_DATASET_LENGTH,
    MessageAssembler,
    fragment,
)

#: room a received P-DATA-TF may take beyond our max receive PDU before it counts as
#: a lie: implementations disagree on whether that bound includes the headers
PDATA_LENGTH_SLACK = 4096
#: bound on a received P-DATA-TF when we announced "unlimited" (max PDU 0)
UNLIMITED_PDATA_LENGTH = 1 << 24

# A-ABORT reasons (source 2, service provider) used in ProtocolError.abort_reason
ABORT_REASON_NOT_SPECIFIED = 0
ABORT_REASON_UNRECOGNIZED_PDU = 1
ABORT_REASON_UNEXPECTED_PDU = 2
ABORT_REASON_INVALID_PARAMETER = 6


# --------------------------------------------------------------------------- trace records

#: PS3.8 events (Table 9-10) the machines report in trace records
EVT_ASSOCIATE_REQUEST = 1
EVT_CONNECTION_CONFIRMED = 2
EVT_ASSOCIATE_AC = 3
EVT_ASSOCIATE_RJ = 4
EVT_ASSOCIATE_RQ = 6
EVT_P_DATA_REQUEST = 9
EVT_P_DATA_TF = 10
EVT_RELEASE_REQUEST = 11
EVT_RELEASE_RQ = 12
EVT_RELEASE_RP = 13
EVT_RELEASE_RESPONSE = 14
EVT_ABORT_REQUEST = 15
EVT_ABORT = 16
EVT_CONNECTION_CLOSED = 17
EVT_ARTIM_EXPIRED = 18
EVT_INVALID_PDU = 19

#: the PS3.8 event a received PDU of each type is
_PDU_EVENTS = {
    wire.A_ASSOCIATE_RQ: EVT_ASSOCIATE_RQ,
    wire.A_ASSOCIATE_AC: EVT_ASSOCIATE_AC,
    wire.A_ASSOCIATE_RJ: EVT_ASSOCIATE_RJ,
    wire.P_DATA_TF: EVT_P_DATA_TF,
    wire.A_RELEASE_RQ: EVT_RELEASE_RQ,
    wire.A_RELEASE_RP: EVT_RELEASE_RP,
    wire.A_ABORT: EVT_ABORT,
}


class Transition(Record):
    """One state-table transition, recorded only by a machine made with ``trace=True``.

    ``state`` is the state it was made in ("Sta1" .. "Sta13"), ``event`` the PS3.8 event
    number (1 .. 19), ``action`` the PS3.8 action ("AE-1", "DT-2", ...), ``raw`` the
    received PDU that caused it (None for local calls, timers and a closed connection).
    A header that could not be read as a PDU (unknown type, refused length) is recorded
    with ``event`` and ``action`` None: it was read, no transition followed.
    """

    __slots__ = ("state", "event", "action", "raw")

    def __init__(self, state: str, event: int | None, action: str | None,
                 raw: bytes | None = None) -> None:
        self.state = state
        self.event = event
        self.action = action
        self.raw = raw


# --------------------------------------------------------------------------- events


class AssociationRequested(Record):
    """An A-ASSOCIATE-RQ arrived (acceptor); answer with accept() or reject()."""

    __slots__ = ("rq", "raw")

    def __init__(self, rq: wire.AssociateRQ, raw: bytes) -> None:
        self.rq = rq
        self.raw = raw


class AssociationAccepted(Record):
    """The peer accepted our request (requestor); ``raw`` is the A-ASSOCIATE-AC PDU."""

    __slots__ = ("ac", "raw")

    def __init__(self, ac: wire.AssociateAC, raw: bytes) -> None:
        self.ac = ac
        self.raw = raw


class AssociationRejected(Record):
    """The peer rejected our request (requestor); close the connection."""

    __slots__ = ("rj", "raw")

    def __init__(self, rj: wire.AssociateRJ, raw: bytes) -> None:
        self.rj = rj
        self.raw = raw


class MessageReceived(Record):
    """A whole DIMSE message: its command set and data set (None when it has none)."""

    __slots__ = ("context_id", "command", "dataset")

    def __init__(self, context_id: int, command: bytes, dataset: bytes | None) -> None:
        self.context_id = context_id
        self.command = command
        self.dataset = dataset


class ReleaseRequested(Record):
    """The peer sent A-RELEASE-RQ; answer with release_response()."""

    __slots__ = ()


class ReleaseConfirmed(Record):
    """The peer answered our A-RELEASE-RQ with A-RELEASE-RP."""

    __slots__ = ()


class Aborted(Record):
    """The peer sent A-ABORT (source 0 service user, 2 service provider)."""

    __slots__ = ("source", "reason")

    def __init__(self, source: int, reason: int) -> None:
        self.source = source
        self.reason = reason


class ConnectionClosed(Record):
    """The peer closed the TCP connection (reported once, after all whole PDUs)."""

    __slots__ = ()


class ProtocolError(Record):
    """A malformed PDU or one not allowed in the current state.

    The machine has moved to Sta13 and ignores further input; the driver should
    send ``abort(2, abort_reason)`` and close. ``pdu_type`` is the type byte when
    one was read (also for unrecognised types), ``raw`` the offending bytes.
    """

    __slots__ = ("error", "raw", "pdu_type", "abort_reason")

    def __init__(
        self,
        error: wire.PDUError,
        raw: bytes,
        pdu_type: int | None = None,
        abort_reason: int = ABORT_REASON_NOT_SPECIFIED,
    ) -> None:
        self.error = error
        self.raw = raw
        self.pdu_type = pdu_type
        self.abort_reason = abort_reason


Event = (
    AssociationRequested
    | AssociationAccepted
    | AssociationRejected
    | MessageReceived
    | ReleaseRequested
    | ReleaseConfirmed
    | Aborted
    | ConnectionClosed
    | ProtocolError
)


class StateError(RuntimeError):
    """A local call that the current state does not allow (a bug in the caller)."""


# --------------------------------------------------------------------------- machines

#: states in which received bytes are discarded unread (PS3.8 AA-6/AA-7 in Sta13)
_DEAF_STATES = frozenset(("Sta1", "Sta13"))


class _Association:
    """What requestor and acceptor share: framing, Sta6..Sta13, release and abort."""

    __slots__ = (
        "_state",
        "_reader",
        "_assembler",
        "_pending",
        "_eof",
        "_eof_reported",
        "max_receive_pdu",
        "max_send_pdu",
        "trace",
        "_failed_in",
    )

    #: (state, PDU type) -> handler name; subclasses extend it
    _TRANSITIONS: dict[tuple[str, int], str] = {
        ("Sta6", wire.P_DATA_TF): "_on_p_data",
        ("Sta7", wire.P_DATA_TF): "_on_p_data",
        ("Sta6", wire.A_RELEASE_RQ): "_on_release_rq",
        ("Sta7", wire.A_RELEASE_RP): "_on_release_rp",
    }
    #: (state, PDU type) -> PS3.8 action, for trace records; the same keys
    _ACTIONS: dict[tuple[str, int], str] = {
        ("Sta6", wire.P_DATA_TF): "DT-2",
        ("Sta7", wire.P_DATA_TF): "AR-7",
        ("Sta6", wire.A_RELEASE_RQ): "AR-2",
        ("Sta7", wire.A_RELEASE_RP): "AR-3",
    }

    def __init__(
        self,
        state: str,
        max_receive_pdu: int,
        max_association_pdu: int,
        max_command_length: int,
        max_dataset_length: int,
        trace: bool = False,
    ) -> None:
        #: the transitions made since the driver last emptied it (``trace=True``), else None
        self.trace: list[Transition] | None = [] if trace else None
        #: (trace) the state a PDU header was refused in: no transition was made from it
        self._failed_in: str | None = None
        self._state = state
        pdata_limit = (
            max_receive_pdu + PDATA_LENGTH_SLACK if max_receive_pdu else UNLIMITED_PDATA_LENGTH
        )
        self._reader = wire.PDUReader(pdata_limit, max_association_pdu)
        self._assembler = MessageAssembler(max_command_length, max_dataset_length)
        self._pending: list[Event] = []
        self._eof = False
        self._eof_reported = False
        #: our max receive PDU, as announced
        self.max_receive_pdu = max_receive_pdu
        #: the peer's max receive PDU (0 = unlimited); send_message honours it.
        #: Set on association; a driver may override it (e.g. DCMTK's fallbacks).
        self.max_send_pdu = 0

    @property
    def state(self) -> str:
        """The PS3.8 state name, "Sta1" .. "Sta13"."""
        return self._state

    @property
    def buffered(self) -> int:
        """Received bytes not yet framed into a PDU (a PDU still arriving)."""
        return self._reader.buffered

    @property
    def between_messages(self) -> bool:
        """True in Sta6 with no byte buffered, no event pending and no message half-built.

        Then a whole P-DATA-TF PDU that arrives may be recognised outside the machine
        (``dimse.echo_rsp_status``) without changing its state: a hot-loop shortcut.
        """
        return (
            self._state == "Sta6"
            and not self._pending
            and not self._eof
            and not self._reader.buffered
            and self._assembler.idle
        )

    # ----------------------------------------------------------------- input

    def receive_data(self, data: bytes) -> None:
        """Hand over received bytes; b"" means the peer closed the connection."""
        if self._eof:
            return
        if not data:
            self._eof = True
        elif self._state not in _DEAF_STATES:
            self._reader.feed(data)

    def next_event(self) -> Event | None:
        """The next event, or None when more data is needed (or nothing will come)."""
        if self._pending:
            event = self._pending.pop(0)
            if event.__class__ is ProtocolError:
                self._enter("Sta13")  # only now: the messages before it could be answered
            return event
        while self._state not in _DEAF_STATES:
            try:
                item = self._reader.next()
            except wire.PDUError as exc:
                reason = (
                    ABORT_REASON_INVALID_PARAMETER
                    if exc.pdu_type in wire.PDU_NAMES
                    else ABORT_REASON_UNRECOGNIZED_PDU
                )
                if self.trace is not None:
                    self._failed_in = self._state
                    if self._reader.header():
                        self.trace.append(
                            Transition(self._state, None, None, self._reader.header()))
                return self._fail(exc, self._reader.header(), exc.pdu_type, reason)
            if item is None:
                break
            event = self._on_pdu(*item)
            if event is not None:
                return event
        if self._eof and not self._eof_reported:
            self._eof_reported = True
            if self.trace is not None and self._state != "Sta1":
                action = {"Sta13": "AR-5", "Sta2": "AA-5"}.get(self._state, "AA-4")
                self._note(EVT_CONNECTION_CLOSED, action)
            self._state = "Sta1"
            return ConnectionClosed()
        return None

    def _on_pdu(self, pdu_type: int, raw: bytes) -> Event | None:
        if self.trace is not None:
            action = "AA-3" if pdu_type == wire.A_ABORT else self._ACTIONS.get(
                (self._state, pdu_type), "AA-8")
            self._note(_PDU_EVENTS[pdu_type], action, raw)
        if pdu_type == wire.A_ABORT:
            try:
                abort = wire.decode(raw)
            except wire.PDUError as exc:
                return self._fail(exc, raw, pdu_type, ABORT_REASON_INVALID_PARAMETER)
            self._enter("Sta1")
            return Aborted(abort.source, abort.reason)
        handler = self._TRANSITIONS.get((self._state, pdu_type))
        if handler is None:
            error = wire.PDUError(
                f"unexpected {wire.PDU_NAMES[pdu_type]} in state {self._state}", pdu_type
            )
            return self._fail(error, raw, pdu_type, ABORT_REASON_UNEXPECTED_PDU)
        try:
            return getattr(self, handler)(raw)
        except wire.PDUError as exc:
            return self._fail(exc, raw, pdu_type, ABORT_REASON_INVALID_PARAMETER)

    def _note(self, event: int, action: str, raw: bytes | None = None) -> None:
        self.trace.append(Transition(self._state, event, action, raw))

    def timer_expired(self) -> None:
        """The driver's ARTIM (or read) timer ran out (Evt18): the connection is closed."""
        if self.trace is not None:
            self._note(EVT_ARTIM_EXPIRED, "AA-2")
        self._enter("Sta1")

    def _enter(self, state: str) -> None:
        self._state = state
        if state in _DEAF_STATES:
            self._reader.clear()
            self._pending.clear()

    def _fail(
        self, error: wire.PDUError, raw: bytes, pdu_type: int | None, reason: int
    ) -> ProtocolError:
        self._enter("Sta13")
        return ProtocolError(error, raw, pdu_type, reason)

    def _on_p_data(self, raw: bytes) -> Event | None:
        assembler = self._assembler
        if (
            raw[11:12] == b"\x03"
            and int.from_bytes(raw[6:10], "big") == len(raw) - 10
            and assembler.idle
        ):
            # the common case (every C-ECHO): one PDV holding a whole command; the same
            # checks as the general path below, without PDV objects and list joins
            command = raw[12:]
            if (
                command
                and len(command) <= assembler.max_command_length
                and not command_has_dataset(command)
            ):
                return MessageReceived(raw[10], command, None)
        add = assembler.add
        events: list[Event] = []
        try:
            for pdv in wire.decode(raw).pdvs:
                message = add(pdv)
                if message is not None:
                    events.append(MessageReceived(*message))
        except wire.PDUError as exc:
            if not events:
                return self._fail(exc, raw, wire.P_DATA_TF, ABORT_REASON_INVALID_PARAMETER)
            # messages completed before the bad fragment are still delivered, in order, in
            # a state that lets the driver answer them; Sta13 comes with the error event
            events.append(ProtocolError(exc, raw, wire.P_DATA_TF, ABORT_REASON_INVALID_PARAMETER))
        if not events:
            return None
        self._pending.extend(events[1:])
        return events[0]

    def _on_release_rq(self, raw: bytes) -> Event:
        wire.decode(raw)
        self._state = "Sta8"
        return ReleaseRequested()

    def _on_release_rp(self, raw: bytes) -> Event:
        wire.decode(raw)
        self._enter("Sta1")
        return ReleaseConfirmed()

    # ----------------------------------------------------------------- local calls

    def _require(self, action: str, *states: str) -> None:
        if self._state not in states:
            raise StateError(f"cannot {action} in state {self._state}")

    def send_message(self, context_id: int, command: bytes, dataset: bytes | None = None) -> bytes:
        """P-DATA-TF PDUs carrying a DIMSE message, split for ``max_send_pdu``.

        Raises fragment.MaxPDUTooSmallError if the peer's max PDU is 1..12.
        """
        self._require("send a message", "Sta6", "Sta8")
        if self.trace is not None:
            self._note(EVT_P_DATA_REQUEST, "DT-1" if self._state == "Sta6" else "AR-7")
        return fragment(context_id, command, dataset, self.max_send_pdu)

    def release(self) -> bytes:
        """A-RELEASE-RQ to send; a ReleaseConfirmed event follows."""
        self._require("request release", "Sta6")
        if self.trace is not None:
            self._note(EVT_RELEASE_REQUEST, "AR-1")
        self._state = "Sta7"
        return wire.encode(wire.ReleaseRQ())

    def release_response(self) -> bytes:
        """A-RELEASE-RP answering a ReleaseRequested event."""
        self._require("answer a release", "Sta8", "Sta9", "Sta12")
        if self.trace is not None:
            self._note(EVT_RELEASE_RESPONSE, "AR-9" if self._state == "Sta9" else "AR-4")
        self._enter("Sta11" if self._state == "Sta9" else "Sta13")
        return wire.encode(wire.ReleaseRP())

    def abort(self, source: int = 0, reason: int = 0) -> bytes:
        """A-ABORT to send (source 0 service user, 2 service provider); then close."""
        if self._state in ("Sta1", "Sta4"):
            raise StateError(f"cannot abort in state {self._state}: no connection")
        if self.trace is not None:
            # after a refused header the A-ABORT is recorded from where the refusal came:
            # no PDU was read, so no transition led to Sta13
            self._state = self._failed_in or self._state
            self._note(EVT_ABORT_REQUEST, "AA-1")
        self._enter("Sta13")
        return wire.encode(wire.Abort(source, reason))


class Requestor(_Association):
    """The association requestor (SCU side): starts in Sta4, connection being opened."""

    __slots__ = ("rq", "ac")

    _TRANSITIONS = {
        **_Association._TRANSITIONS,
        ("Sta5", wire.A_ASSOCIATE_AC): "_on_associate_ac",
        ("Sta5", wire.A_ASSOCIATE_RJ): "_on_associate_rj",
        ("Sta7", wire.A_RELEASE_RQ): "_on_release_collision",
        ("Sta11", wire.A_RELEASE_RP): "_on_release_rp",
    }
    _ACTIONS = {
        **_Association._ACTIONS,
        ("Sta5", wire.A_ASSOCIATE_AC): "AE-3",
        ("Sta5", wire.A_ASSOCIATE_RJ): "AE-4",
        ("Sta7", wire.A_RELEASE_RQ): "AR-8",
        ("Sta11", wire.A_RELEASE_RP): "AR-3",
    }

    def __init__(
        self,
        rq: wire.AssociateRQ,
        max_receive_pdu: int,
        max_association_pdu: int = wire.DEFAULT_MAX_ASSOCIATION_PDU,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        max_dataset_length: int = DEFAULT_MAX_DATASET_LENGTH,
        trace: bool = False,
    ) -> None:
        super().__init__(
            "Sta1", max_receive_pdu, max_association_pdu, max_command_length,
            max_dataset_length, trace,
        )
        # the local A-ASSOCIATE request that made this machine: the driver connects next
        if trace:
            self._note(EVT_ASSOCIATE_REQUEST, "AE-1")
        self._state = "Sta4"
        #: the request we send
        self.rq = rq
        #: the peer's A-ASSOCIATE-AC, once accepted
        self.ac: wire.AssociateAC | None = None

    def start(self) -> bytes:
        """The A-ASSOCIATE-RQ PDU to send once the connection is open."""
        self._require("start", "Sta4")
        if self.trace is not None:
            self._note(EVT_CONNECTION_CONFIRMED, "AE-2")
        self._state = "Sta5"
        return wire.encode(self.rq)

    def _on_associate_ac(self, raw: bytes) -> Event:
        ac = wire.decode(raw)
        self.ac = ac
        self.max_send_pdu = ac.user_info.max_pdu or 0
        self._state = "Sta6"
        return AssociationAccepted(ac, raw)

    def _on_associate_rj(self, raw: bytes) -> Event:
        rj = wire.decode(raw)
        self._enter("Sta1")
        return AssociationRejected(rj, raw)

    def _on_release_collision(self, raw: bytes) -> Event:
        wire.decode(raw)
        self._state = "Sta9"
        return ReleaseRequested()


class Acceptor(_Association):
    """The association acceptor (SCP side): starts in Sta2, connection open."""

    __slots__ = ("rq", "ac")

    _TRANSITIONS = {
        **_Association._TRANSITIONS,
        ("Sta2", wire.A_ASSOCIATE_RQ): "_on_associate_rq",
        ("Sta7", wire.A_RELEASE_RQ): "_on_release_collision",
        ("Sta10", wire.A_RELEASE_RP): "_on_collision_release_rp",
    }
    _ACTIONS = {
        **_Association._ACTIONS,
        ("Sta2", wire.A_ASSOCIATE_RQ): "AE-6",
        ("Sta7", wire.A_RELEASE_RQ): "AR-8",
        ("Sta10", wire.A_RELEASE_RP): "AR-10",
    }

    def __init__(
        self,
        max_receive_pdu: int,
        max_association_pdu: int = wire.DEFAULT_MAX_ASSOCIATION_PDU,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        max_dataset_length: int = DEFAULT_MAX_DATASET_LENGTH,
        trace: bool = False,
    ) -> None:
        super().__init__(
            "Sta2", max_receive_pdu, max_association_pdu, max_command_length,
            max_dataset_length, trace,
        )
        #: the peer's A-ASSOCIATE-RQ, once received
        self.rq: wire.AssociateRQ | None = None
        #: our answer, once accepted
        self.ac: wire.AssociateAC | None = None

    def _on_associate_rq(self, raw: bytes) -> Event:
        rq = wire.decode(raw)
        self.rq = rq
        self._state = "Sta3"
        return AssociationRequested(rq, raw)

    def accept(self, ac: wire.AssociateAC) -> bytes:
        """The A-ASSOCIATE-AC PDU answering an AssociationRequested event."""
        self._require("accept", "Sta3")
        data = wire.encode(ac)
        self.ac = ac
        self.max_send_pdu = self.rq.user_info.max_pdu or 0
        self._state = "Sta6"
        return data

    def reject(self, rj: wire.AssociateRJ) -> bytes:
        """The A-ASSOCIATE-RJ PDU answering an AssociationRequested event; then close."""
        self._require("reject", "Sta3")
        data = wire.encode(rj)
        self._enter("Sta13")
        return data

    def _on_release_collision(self, raw: bytes) -> Event:
        wire.decode(raw)
        self._state = "Sta10"
        return ReleaseRequested()

    def _on_collision_release_rp(self, raw: bytes) -> Event:
        wire.decode(raw)
        self._state = "Sta12"
        return ReleaseConfirmed()
