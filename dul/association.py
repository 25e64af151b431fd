"""PS3.8 upper-layer state machines (Sta1..Sta13) for the association requestor and
acceptor, sans-I/O: received bytes in, events out; local calls in, bytes to send out.
Every state change is a lookup in ``_state.TRANSITIONS`` (the rules are stated there).

Neither machine reads a socket, keeps time or logs; the driver does that and runs
the timers (ARTIM, ACSE, DIMSE). A machine made with ``trace=True`` also records
each PS3.8 state-table transition it makes in ``trace`` (see ``Transition``), for a
driver that shows them; without it nothing is recorded. Typical requestor loop::

    machine = Requestor(rq, max_receive_pdu=16384)
    sock.sendall(machine.start())
    while (event := machine.next_event()) is None:
        machine.receive_data(sock.recv(65536))

C-ECHO has its own calls and events: ``send_echo`` / ``send_echo_response`` choose a
precomputed PDU when the peer's max PDU allows, and a received standard C-ECHO-RQ or
-RSP arrives as ``EchoRequested`` / ``EchoAnswered`` (kinds of ``MessageReceived``)
with the message ID and status already read from its bytes.
"""

from __future__ import annotations

from dul import _echo
from dul import _state as fsm
from dul import pdu as wire
from dul._record import Record
from dul.dimse import command_has_dataset, echo_rq, echo_rsp
from dul.fragment import (
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

# A-ABORT reasons (source 2, service provider) used in ProtocolViolation.abort_reason
ABORT_REASON_NOT_SPECIFIED = 0
ABORT_REASON_UNRECOGNIZED_PDU = 1
ABORT_REASON_UNEXPECTED_PDU = 2
ABORT_REASON_INVALID_PARAMETER = 6


# --------------------------------------------------------------------------- trace records

class Transition(Record):
    """One state-table transition, recorded only by a machine made with ``trace=True``.

    ``state`` is the state it was made in ("Sta1" .. "Sta13"), ``event`` the PS3.8 event
    number (1 .. 19, see ``_state.EVENTS``), ``action`` the PS3.8 action ("AE-1", "DT-2",
    ...), ``raw`` the received PDU that caused it (None for local calls, timers and a
    closed connection).
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


class EchoRequested(MessageReceived):
    """A standard C-ECHO-RQ (acceptor): ``message_id`` read from its bytes; answer
    with send_echo_response(). Other C-ECHO-RQs arrive as plain MessageReceived."""

    __slots__ = ("message_id",)

    def __init__(self, context_id: int, command: bytes, message_id: int) -> None:
        self.context_id = context_id
        self.command = command
        self.dataset = None
        self.message_id = message_id


class EchoAnswered(MessageReceived):
    """A standard C-ECHO-RSP (requestor): the message ID it answers and its status,
    read from its bytes. Responses with other elements arrive as MessageReceived."""

    __slots__ = ("message_id_responded", "status")

    def __init__(self, context_id: int, command: bytes, message_id_responded: int,
                 status: int) -> None:
        self.context_id = context_id
        self.command = command
        self.dataset = None
        self.message_id_responded = message_id_responded
        self.status = status


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


class ProtocolViolation(Record):
    """A malformed PDU or one not allowed in the current state (an event, not an
    exception: the peer broke the protocol, our code did nothing wrong).

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
    | ProtocolViolation
)


class StateError(RuntimeError):
    """A local call that the current state does not allow (a bug in the caller)."""


class RequestMemo:
    """A-ASSOCIATE-RQs decoded once per distinct PDU, for the acceptors of one server.

    A server's clients mostly repeat the same request byte for byte (one program
    reconnecting), and decoding it is a good part of an association's cost. The key
    is the whole PDU, so any change in it is decoded afresh; decoding is a pure
    function of those bytes, so a remembered request is exactly what decoding would
    give. Malformed requests are never kept (they raise every time), nor requests
    longer than ``max_length``; past ``size`` requests the oldest is forgotten. The
    decoded requests are shared: treat them as read-only.
    """

    __slots__ = ("size", "max_length", "_decoded")

    def __init__(self, size: int = 32, max_length: int = 8192) -> None:
        self.size = size
        self.max_length = max_length
        self._decoded: dict[bytes, wire.AssociateRQ] = {}

    def __len__(self) -> int:
        return len(self._decoded)

    def decode(self, raw: bytes) -> wire.AssociateRQ:
        """The request ``raw`` (a whole A-ASSOCIATE-RQ PDU) holds; PDUError if malformed."""
        decoded = self._decoded
        rq = decoded.get(raw)
        if rq is None:
            rq = wire.decode(raw)
            if len(raw) <= self.max_length and self.size > 0:
                if len(decoded) >= self.size:
                    del decoded[next(iter(decoded))]
                decoded[raw] = rq
        return rq


# --------------------------------------------------------------------------- machines


class _Association:
    """What requestor and acceptor share: framing, events, the local calls, trace."""

    __slots__ = (
        "_state",
        "_table",
        "_actions",
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

    #: fsm.REQUESTOR or fsm.ACCEPTOR: which half of the transition table applies
    _ROLE = ""
    #: the length of the one standard C-ECHO PDU this role receives (fast path)
    _ECHO_PDU_LENGTH = 0

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
        self._table = fsm.TRANSITIONS[self._ROLE]
        self._actions = fsm.ACTIONS[self._ROLE]
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
        """The PS3.8 state name, "Sta1" .. "Sta13" (``_state.STA1`` ..), for inspection."""
        return self._state

    @property
    def buffered(self) -> int:
        """Received bytes not yet framed into a PDU (a PDU still arriving)."""
        return self._reader.buffered

    # ----------------------------------------------------------------- the one move

    def _fire(self, event: object, raw: bytes | None = None) -> None:
        """Make the transition for ``event`` (a local input or a received PDU type):
        record it when tracing, enter the next state. StateError if there is none:
        only local inputs come here without a row (PDUs are checked in ``_on_pdu``)."""
        next_state = self._table[self._state].get(event)
        if next_state is None:
            detail = ": no connection" if event == fsm.ABORT else ""
            raise StateError(f"cannot {fsm.DOING[event]} in state {self._state}{detail}")
        if self.trace is not None:
            self._note(event, raw)
        if next_state is not self._state:
            self._enter(next_state)

    def _note(self, event: object, raw: bytes | None = None) -> None:
        self.trace.append(Transition(
            self._state, fsm.EVENTS[event], self._actions[self._state][event], raw))

    def _enter(self, state: str) -> None:
        self._state = state
        if state in fsm.DEAF_STATES:
            self._reader.clear()
            self._pending.clear()

    # ----------------------------------------------------------------- input

    def receive_data(self, data: bytes) -> None:
        """Hand over received bytes; b"" means the peer closed the connection."""
        if (
            len(data) == self._ECHO_PDU_LENGTH
            and self._state is fsm.STA6
            and self.trace is None
            and not self._pending
            and not self._reader.buffered
            and self._assembler.idle
            and not self._eof
        ):
            # the hot loop: exactly one standard C-ECHO PDU between messages in Sta6
            # (the transition is Sta6 -> Sta6): recognised by its bytes, not framed
            event = self._echo_pdu(data)
            if event is not None:
                self._pending.append(event)
                return
        if self._eof:
            return
        if not data:
            self._eof = True
        elif self._state not in fsm.DEAF_STATES:
            self._reader.feed(data)

    def _echo_pdu(self, data: bytes) -> Event | None:
        """The event for ``data`` if it is one whole standard C-ECHO PDU, else None."""
        raise NotImplementedError

    def next_event(self) -> Event | None:
        """The next event, or None when more data is needed (or nothing will come)."""
        if self._pending:
            event = self._pending.pop(0)
            if event.__class__ is ProtocolViolation:
                self._enter(fsm.STA13)  # only now: the messages before it could be answered
            return event
        if not self._eof and not self._reader.buffered:
            return None  # the usual answer between reads: nothing to frame
        while self._state not in fsm.DEAF_STATES:
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
            if self._state is not fsm.STA1:
                self._fire(fsm.CLOSED)
            return ConnectionClosed()
        return None

    def _on_pdu(self, pdu_type: int, raw: bytes) -> Event | None:
        state = self._state
        next_state = self._table[state].get(pdu_type)
        if self.trace is not None:
            if next_state is None:  # AA-8: the violation itself is the transition
                self.trace.append(Transition(state, fsm.EVENTS[pdu_type], "AA-8", raw))
            else:
                self._note(pdu_type, raw)
        if next_state is None:
            error = wire.PDUError(
                f"unexpected {wire.PDU_NAMES[pdu_type]} in state {state}", pdu_type
            )
            return self._fail(error, raw, pdu_type, ABORT_REASON_UNEXPECTED_PDU)
        try:
            event = self._HANDLERS[pdu_type](self, raw)
        except wire.PDUError as exc:
            return self._fail(exc, raw, pdu_type, ABORT_REASON_INVALID_PARAMETER)
        if next_state is not state:
            self._enter(next_state)
        return event

    def timer_expired(self) -> None:
        """The driver's ARTIM (or read) timer ran out (Evt18): the connection is closed."""
        self._fire(fsm.TIMER)

    def _fail(
        self, error: wire.PDUError, raw: bytes, pdu_type: int | None, reason: int
    ) -> ProtocolViolation:
        self._enter(fsm.STA13)
        return ProtocolViolation(error, raw, pdu_type, reason)

    # ----------------------------------------------------------------- PDU handlers
    # They decode and build the event; ``_on_pdu`` moves the state afterwards.

    def _message(self, context_id: int, command: bytes) -> MessageReceived:
        """The event for a whole command without a data set (roles recognise C-ECHO)."""
        return MessageReceived(context_id, command, None)

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
                return self._message(raw[10], command)
        add = assembler.add
        events: list[Event] = []
        try:
            for pdv in wire.decode(raw).pdvs:
                message = add(pdv)
                if message is not None:
                    context_id, command, dataset = message
                    events.append(
                        self._message(context_id, command) if dataset is None
                        else MessageReceived(context_id, command, dataset))
        except wire.PDUError as exc:
            if not events:
                raise
            # messages completed before the bad fragment are still delivered, in order, in
            # a state that lets the driver answer them; Sta13 comes with the error event
            events.append(
                ProtocolViolation(exc, raw, wire.P_DATA_TF, ABORT_REASON_INVALID_PARAMETER))
        if not events:
            return None
        self._pending.extend(events[1:])
        return events[0]

    def _on_release_rq(self, raw: bytes) -> Event:
        wire.decode(raw)
        return ReleaseRequested()

    def _on_release_rp(self, raw: bytes) -> Event:
        wire.decode(raw)
        return ReleaseConfirmed()

    def _on_abort(self, raw: bytes) -> Event:
        abort = wire.decode(raw)
        return Aborted(abort.source, abort.reason)

    #: PDU type -> handler; roles add the association PDUs they receive
    _HANDLERS = {
        wire.P_DATA_TF: _on_p_data,
        wire.A_RELEASE_RQ: _on_release_rq,
        wire.A_RELEASE_RP: _on_release_rp,
        wire.A_ABORT: _on_abort,
    }

    # ----------------------------------------------------------------- local calls

    def send_message(self, context_id: int, command: bytes, dataset: bytes | None = None) -> bytes:
        """P-DATA-TF PDUs carrying a DIMSE message, split for ``max_send_pdu``.

        Raises fragment.MaxPDUTooSmallError if the peer's max PDU is 1..12.
        """
        self._fire(fsm.SEND)
        return fragment(context_id, command, dataset, self.max_send_pdu)

    def release(self) -> bytes:
        """A-RELEASE-RQ to send; a ReleaseConfirmed event follows."""
        self._fire(fsm.RELEASE)
        return wire.encode(wire.ReleaseRQ())

    def release_response(self) -> bytes:
        """A-RELEASE-RP answering a ReleaseRequested event."""
        self._fire(fsm.RELEASE_RESPONSE)
        return wire.encode(wire.ReleaseRP())

    def abort(self, source: int = 0, reason: int = 0) -> bytes:
        """A-ABORT to send (source 0 service user, 2 service provider); then close."""
        if self.trace is not None and self._failed_in is not None:
            # after a refused header the A-ABORT is recorded from where the refusal came:
            # no PDU was read, so no transition led to Sta13
            self._state = self._failed_in
        self._fire(fsm.ABORT)
        return wire.encode(wire.Abort(source, reason))


class Requestor(_Association):
    """The association requestor (SCU side): starts in Sta4, connection being opened."""

    __slots__ = ("rq", "ac")

    _ROLE = fsm.REQUESTOR
    _ECHO_PDU_LENGTH = _echo.RSP_PDU_LENGTH

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
            fsm.STA1, max_receive_pdu, max_association_pdu, max_command_length,
            max_dataset_length, trace,
        )
        # the local A-ASSOCIATE request that made this machine: the driver connects next
        self._fire(fsm.ASSOCIATE)
        #: the request we send
        self.rq = rq
        #: the peer's A-ASSOCIATE-AC, once accepted
        self.ac: wire.AssociateAC | None = None

    def start(self) -> bytes:
        """The A-ASSOCIATE-RQ PDU to send once the connection is open."""
        self._fire(fsm.START)
        return wire.encode(self.rq)

    def send_echo(self, context_id: int, message_id: int) -> bytes:
        """The P-DATA-TF PDU(s) of a C-ECHO-RQ: the precomputed one when it fits the
        peer's max PDU, else fragmented (MaxPDUTooSmallError if it is 1..12)."""
        self._fire(fsm.SEND)
        peer_max = self.max_send_pdu
        if not peer_max or peer_max >= _echo.RQ_PDU_LENGTH:
            return _echo.rq_pdu(context_id, message_id)
        return fragment(context_id, echo_rq(message_id), None, peer_max)

    def _message(self, context_id: int, command: bytes) -> MessageReceived:
        answer = _echo.read_rsp(command)
        if answer is None:
            return MessageReceived(context_id, command, None)
        return EchoAnswered(context_id, command, *answer)

    def _echo_pdu(self, data: bytes) -> Event | None:
        answer = _echo.read_rsp_pdu(data)
        if answer is None:
            return None
        context_id, message_id, status = answer
        return EchoAnswered(context_id, data[_echo.COMMAND_AT:], message_id, status)

    def _on_associate_ac(self, raw: bytes) -> Event:
        ac = wire.decode(raw)
        self.ac = ac
        self.max_send_pdu = ac.user_info.max_pdu or 0
        return AssociationAccepted(ac, raw)

    def _on_associate_rj(self, raw: bytes) -> Event:
        return AssociationRejected(wire.decode(raw), raw)

    _HANDLERS = {
        **_Association._HANDLERS,
        wire.A_ASSOCIATE_AC: _on_associate_ac,
        wire.A_ASSOCIATE_RJ: _on_associate_rj,
    }


class Acceptor(_Association):
    """The association acceptor (SCP side): starts in Sta2, connection open.

    ``requests``, when given, decodes received A-ASSOCIATE-RQs (a server shares one
    between its acceptors so that a repeated request is decoded once).
    """

    __slots__ = ("rq", "ac", "_requests")

    _ROLE = fsm.ACCEPTOR
    _ECHO_PDU_LENGTH = _echo.RQ_PDU_LENGTH

    def __init__(
        self,
        max_receive_pdu: int,
        max_association_pdu: int = wire.DEFAULT_MAX_ASSOCIATION_PDU,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        max_dataset_length: int = DEFAULT_MAX_DATASET_LENGTH,
        trace: bool = False,
        requests: RequestMemo | None = None,
    ) -> None:
        super().__init__(
            fsm.STA2, max_receive_pdu, max_association_pdu, max_command_length,
            max_dataset_length, trace,
        )
        self._requests = requests
        #: the peer's A-ASSOCIATE-RQ, once received
        self.rq: wire.AssociateRQ | None = None
        #: our answer, once accepted
        self.ac: wire.AssociateAC | None = None

    def accept(self, ac: wire.AssociateAC, encoded: bytes | None = None) -> bytes:
        """The A-ASSOCIATE-AC PDU answering an AssociationRequested event.

        ``encoded`` is ``ac``'s PDU when the driver has it already (an answer it kept
        for a byte-identical request): it is sent as it is, the transition is the same.
        """
        data = wire.encode(ac) if encoded is None else encoded
        self._fire(fsm.ACCEPT)
        self.ac = ac
        self.max_send_pdu = self.rq.user_info.max_pdu or 0
        return data

    def reject(self, rj: wire.AssociateRJ) -> bytes:
        """The A-ASSOCIATE-RJ PDU answering an AssociationRequested event; then close."""
        data = wire.encode(rj)
        self._fire(fsm.REJECT)
        return data

    def send_echo_response(self, context_id: int, message_id: int, status: int = 0) -> bytes:
        """The P-DATA-TF PDU(s) of a Verification C-ECHO-RSP: the precomputed one when
        it fits the peer's max PDU, else fragmented (MaxPDUTooSmallError if 1..12)."""
        self._fire(fsm.SEND)
        peer_max = self.max_send_pdu
        if not peer_max or peer_max >= _echo.RSP_PDU_LENGTH:
            return _echo.rsp_pdu(context_id, message_id, status)
        return fragment(context_id, echo_rsp(message_id, status), None, peer_max)

    def _message(self, context_id: int, command: bytes) -> MessageReceived:
        message_id = _echo.read_rq(command)
        if message_id is None:
            return MessageReceived(context_id, command, None)
        return EchoRequested(context_id, command, message_id)

    def _echo_pdu(self, data: bytes) -> Event | None:
        request = _echo.read_rq_pdu(data)
        if request is None:
            return None
        return EchoRequested(request[0], data[_echo.COMMAND_AT:], request[1])

    def _on_associate_rq(self, raw: bytes) -> Event:
        requests = self._requests
        rq = wire.decode(raw) if requests is None else requests.decode(raw)
        self.rq = rq
        return AssociationRequested(rq, raw)

    _HANDLERS = {**_Association._HANDLERS, wire.A_ASSOCIATE_RQ: _on_associate_rq}
