"""Received bytes through the whole ``dul`` receive path, as echoscp and echoscu use it.

``feed_acceptor`` plays the SCP (answers requests with echoscp's own negotiation,
answers releases, decodes commands and renders every debug dump); ``feed_requestor``
plays the SCU after its A-ASSOCIATE-RQ. Both return the names of the events seen.
Only our own protocol errors may come out of the parsing: anything else propagates,
which is what the fuzzers (hypothesis in tests/, atheris in scripts/fuzz_dul) catch.
"""

from __future__ import annotations

from dul import association, dimse, pdu, uids
from echoscp import dumps as scp_dumps
from echoscp import negotiation
from echoscp.connection import MAX_DATASET_LENGTH
from echoscp.options import ServerOptions
from echoscu import dumps as scu_dumps

_SCP_OPTIONS = ServerOptions(port=0)
_NO_TAGS: frozenset[int] = frozenset()


def _command(raw: bytes) -> None:
    """What both programs do with a received command set: decode it, or dump it raw."""
    try:
        dimse.decode_command(raw)
    except dimse.DIMSEError:
        return
    scu_dumps.command_dump(raw, _NO_TAGS)


def _name(event: object) -> str:
    """An event as a line: its class name, with the error text for a ProtocolViolation."""
    if isinstance(event, association.ProtocolViolation):
        return f"ProtocolViolation: {event.error}"
    return type(event).__name__


def _chunks(stream: bytes, step: int):
    for start in range(0, len(stream), max(step, 1)):
        yield stream[start:start + step]
    yield b""  # the peer closes


def feed_acceptor(stream: bytes, step: int = 65536, max_pdu: int = 16382) -> list[str]:
    """Feed ``stream`` to an acceptor in ``step``-byte reads, answering as echoscp does."""
    machine = association.Acceptor(max_pdu, max_dataset_length=MAX_DATASET_LENGTH)
    seen: list[str] = []
    for chunk in _chunks(stream, step):
        machine.receive_data(chunk)
        while (event := machine.next_event()) is not None:
            seen.append(_name(event))
            if isinstance(event, association.AssociationRequested):
                scp_dumps.associate_rq(event.rq)
                rejection = negotiation.rejection(event.rq, _SCP_OPTIONS, False)
                if rejection is not None:
                    scp_dumps.associate_rj(rejection)
                    machine.reject(rejection)
                else:
                    ac = negotiation.acceptance(event.rq, _SCP_OPTIONS)
                    scp_dumps.associate_ac(ac, event.rq)
                    machine.accept(ac)
            elif isinstance(event, association.MessageReceived):
                _command(event.command)
                machine.send_message(event.context_id, dimse.echo_rsp(1, 0))
            elif isinstance(event, association.ReleaseRequested):
                machine.release_response()
            elif isinstance(event, association.Aborted):
                scp_dumps.abort(event.source, event.reason, incoming=True)
    return seen


def _request() -> pdu.AssociateRQ:
    return pdu.AssociateRQ(
        "ANY-SCP", "ECHOSCU",
        [pdu.PresentationContextRQ(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN])],
        pdu.UserInformation(max_pdu=16384, implementation_class_uid="1.2.3"))


def feed_requestor(stream: bytes, step: int = 65536, max_pdu: int = 16384) -> list[str]:
    """Feed ``stream`` to a requestor that has sent its A-ASSOCIATE-RQ, as echoscu reads."""
    machine = association.Requestor(_request(), max_pdu)
    request = machine.start()
    scu_dumps.association_dump(machine.rq)
    scu_dumps.pdu_hex_dump(request)
    seen: list[str] = []
    for chunk in _chunks(stream, step):
        machine.receive_data(chunk)
        while (event := machine.next_event()) is not None:
            seen.append(_name(event))
            if isinstance(event, association.AssociationAccepted):
                scu_dumps.association_dump(machine.rq, event.ac)
                scu_dumps.pdu_hex_dump(event.raw)
            elif isinstance(event, association.MessageReceived):
                _command(event.command)
            elif isinstance(event, association.ReleaseRequested):
                machine.release_response()
    return seen


def decode_or_error(raw: bytes) -> str:
    """``decode`` of one PDU as a line: the PDU class name, or ``PDUError: message``."""
    try:
        return type(pdu.decode(raw)).__name__
    except pdu.PDUError as exc:
        return f"PDUError: {exc}"


def frame_and_decode(stream: bytes) -> list[str]:
    """Split ``stream`` into PDUs by their headers alone (any length up to 4 GiB) and
    decode each: one ``decode_or_error`` line per PDU, then what is left over."""
    reader = pdu.PDUReader(1 << 32, 1 << 32)
    reader.feed(stream)
    lines = []
    try:
        while (item := reader.next()) is not None:
            lines.append(decode_or_error(item[1]))
    except pdu.PDUError as exc:
        return [*lines, f"PDUError: {exc}"]
    if reader.buffered:
        lines.append(f"incomplete: {reader.buffered} bytes")
    return lines
