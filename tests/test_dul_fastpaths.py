"""dul's hot-loop shortcuts give exactly what the general code gives, and refuse the rest.

Templates for the C-ECHO command sets and PDUs, the one-PDV fast path of ``fragment``,
the machines' recognition of standard C-ECHO PDUs (``EchoAnswered`` /
``EchoRequested``, whether the PDU arrives whole in one read or in pieces), and
``send_echo`` / ``send_echo_response``, which choose the template when it fits.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dul import dimse, echo_rq_pdu, echo_rsp_pdu
from dul.association import (
    Acceptor,
    EchoAnswered,
    EchoRequested,
    MessageReceived,
    Requestor,
)
from dul.fragment import PDU_OVERHEAD, MaxPDUTooSmallError, fragment
from dul.pdu import (
    AssociateAC,
    AssociateRQ,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
    encode,
)

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"
message_ids = st.integers(0, 0xFFFF)
statuses = st.integers(0, 0xFFFF)
context_ids = st.integers(1, 255)


def _element(tag: int, value: bytes) -> bytes:
    """An Implicit VR Little Endian element, written out by hand as the oracle."""
    return ((tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little")
            + len(value).to_bytes(4, "little") + value)


def _command(*elements: tuple[int, bytes]) -> bytes:
    body = b"".join(_element(tag, value) for tag, value in elements)
    return _element(0, len(body).to_bytes(4, "little")) + body


def _us(value: int) -> bytes:
    return value.to_bytes(2, "little")


@given(message_ids)
def test_echo_rq_template_is_the_element_encoding(message_id: int) -> None:
    expected = _command((0x0002, b"1.2.840.10008.1.1\x00"), (0x0100, _us(0x0030)),
                        (0x0110, _us(message_id)), (0x0800, _us(0x0101)))
    assert dimse.echo_rq(message_id) == expected
    assert dimse.decode_command(expected)[dimse.MESSAGE_ID] == message_id


@given(message_ids, statuses)
def test_echo_rsp_template_is_the_element_encoding(message_id: int, status: int) -> None:
    expected = _command((0x0002, b"1.2.840.10008.1.1\x00"), (0x0100, _us(0x8030)),
                        (0x0120, _us(message_id)), (0x0800, _us(0x0101)),
                        (0x0900, _us(status)))
    assert dimse.echo_rsp(message_id, status) == expected


def test_echo_rsp_for_another_sop_class_is_encoded_in_full() -> None:
    command = dimse.decode_command(dimse.echo_rsp(7, 0, "1.2.3.4"))
    assert command[dimse.AFFECTED_SOP_CLASS_UID] == "1.2.3.4"
    assert command[dimse.MESSAGE_ID_RESPONDED] == 7


def _events(machine, *reads: bytes) -> list:
    found = []
    for data in reads:
        machine.receive_data(data)
        while (event := machine.next_event()) is not None:
            found.append(event)
    return found


def _split(data: bytes) -> tuple[bytes, ...]:
    """The same bytes in three reads: the framed path, not the one-read fast path."""
    return data[:7], data[7:30], data[30:]


@given(context_ids, message_ids, statuses)
def test_standard_response_is_recognised_whole_or_in_pieces(context_id, message_id,
                                                             status) -> None:
    pdu = echo_rsp_pdu(context_id, message_id, status)
    assert pdu == fragment(context_id, dimse.echo_rsp(message_id, status), None, 16384)
    expected = [EchoAnswered(context_id, dimse.echo_rsp(message_id, status), message_id,
                             status)]
    assert _events(_associated(), pdu) == expected
    assert _events(_associated(), *_split(pdu)) == expected
    assert _events(_associated(), fragment(context_id, dimse.echo_rsp(message_id, status),
                                           None, 50)) == expected


@given(context_ids, message_ids)
def test_standard_request_is_recognised_whole_or_in_pieces(context_id, message_id) -> None:
    pdu = echo_rq_pdu(context_id, message_id)
    assert pdu == fragment(context_id, dimse.echo_rq(message_id), None, 16384)
    expected = [EchoRequested(context_id, dimse.echo_rq(message_id), message_id)]
    assert _events(_accepted(), pdu) == expected
    assert _events(_accepted(), *_split(pdu)) == expected


@pytest.mark.parametrize("variant", [
    "other SOP class", "error comment", "data set type", "request",
])
def test_other_responses_are_plain_messages(variant: str) -> None:
    standard = echo_rsp_pdu(1, 5, 0)
    data = {
        "other SOP class": fragment(1, dimse.echo_rsp(5, 0, "1.2.840.10008.1.2"), None, 0),
        "error comment": fragment(1, dimse.echo_rsp(5, 0xC000)[:-10] + _element(
            0x0902, b"no") + dimse.echo_rsp(5, 0xC000)[-10:], None, 0),
        "data set type": standard.replace(b"\x01\x01\x00\x00\x00\x09",
                                          b"\x03\x01\x00\x00\x00\x09"),
        "request": echo_rq_pdu(1, 5),
    }[variant]
    assert data != standard
    for reads in ((data,), _split(data)):
        found = _events(_associated(), *reads)
        if variant == "data set type":  # announces a data set: no message yet
            assert found == []
        else:
            assert [e.__class__ for e in found] == [MessageReceived]
            assert found[0].command == data[12:]


def test_two_responses_in_one_read_are_both_recognised() -> None:
    data = echo_rsp_pdu(1, 1, 0) + echo_rsp_pdu(1, 2, 0x0110)
    found = _events(_associated(), data)
    assert [(e.__class__, e.message_id_responded, e.status) for e in found] == [
        (EchoAnswered, 1, 0), (EchoAnswered, 2, 0x0110)]


def test_the_one_read_path_waits_for_what_is_held() -> None:
    """A response read whole while part of another PDU is buffered is framed after it."""
    machine = _associated()
    first, second = echo_rsp_pdu(1, 1, 0), echo_rsp_pdu(1, 2, 0)
    machine.receive_data(first[:20])
    assert machine.next_event() is None
    machine.receive_data(first[20:] + second[:70])
    assert machine.next_event().message_id_responded == 1
    machine.receive_data(second[70:])
    assert machine.next_event().message_id_responded == 2


def test_no_recognition_outside_sta6_or_after_close() -> None:
    machine = _associated()
    machine.release()  # Sta7: a P-DATA-TF is still read, through the table
    assert [e.__class__ for e in _events(machine, echo_rsp_pdu(1, 1, 0))] == [EchoAnswered]
    assert machine.state == "Sta7"
    machine = _associated()
    machine.receive_data(b"")
    found = _events(machine, echo_rsp_pdu(1, 1, 0))
    assert [e.__class__.__name__ for e in found] == ["ConnectionClosed"]


@given(context_ids, message_ids, st.sampled_from([0, 16384, 90, 89, 80, 79, 13]))
def test_send_echo_is_send_message(context_id, message_id, peer_max) -> None:
    """The template when it fits, the fragmented message otherwise: the same bytes."""
    requestor, acceptor = _associated(), _accepted()
    requestor.max_send_pdu = acceptor.max_send_pdu = peer_max
    for machine, echo, command in (
        (requestor, lambda: requestor.send_echo(context_id, message_id),
         dimse.echo_rq(message_id)),
        (acceptor, lambda: acceptor.send_echo_response(context_id, message_id, 0x0122),
         dimse.echo_rsp(message_id, 0x0122)),
    ):
        assert echo() == machine.send_message(context_id, command)


@pytest.mark.parametrize("peer_max", [1, 12])
def test_send_echo_refuses_a_peer_max_pdu_without_room(peer_max: int) -> None:
    machine = _associated()
    machine.max_send_pdu = peer_max
    with pytest.raises(MaxPDUTooSmallError):
        machine.send_echo(1, 1)


@given(context_ids, st.binary(min_size=1, max_size=300), st.sampled_from([0, 13, 80, 312, 4096]))
def test_fragment_fast_path_matches_the_general_rule(context_id, command, max_pdu) -> None:
    """One PDU when the command fits (or there is no limit), else pieces of max_pdu - 12."""
    data = fragment(context_id, command, None, max_pdu)
    pieces = []
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 2: pos + 6], "big")
        pdu = data[pos: pos + 6 + length]
        assert max_pdu == 0 or len(pdu) <= max_pdu
        assert pdu[10] == context_id
        pieces.append(pdu[12:])
        pos += 6 + length
    assert b"".join(pieces) == command
    fits = max_pdu == 0 or len(command) + PDU_OVERHEAD <= max_pdu
    assert (len(pieces) == 1) == (fits or len(command) <= max_pdu - PDU_OVERHEAD)


def _associated() -> Requestor:
    rq = AssociateRQ("ANY-SCP", "ECHOSCU", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])],
                     UserInformation(16384, "1.2.3", "US"))
    machine = Requestor(rq, 16384)
    machine.start()
    ac = AssociateAC("ANY-SCP", "ECHOSCU", [PresentationContextAC(1, 0, IMPLICIT)],
                     UserInformation(16382, "1.2.4", "THEM"))
    machine.receive_data(encode(ac))
    machine.next_event()
    return machine


def _accepted() -> Acceptor:
    rq = AssociateRQ("ANY-SCP", "ECHOSCU", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])],
                     UserInformation(16384, "1.2.3", "US"))
    machine = Acceptor(16384)
    machine.receive_data(encode(rq))
    machine.next_event()
    machine.accept(AssociateAC("ANY-SCP", "ECHOSCU", [PresentationContextAC(1, 0, IMPLICIT)],
                               UserInformation(16382, "1.2.4", "THEM")))
    return machine


def _general_path(machine: Requestor, raw: bytes):
    """What the general P-DATA path gives for ``raw`` (the fast path bypassed)."""
    from dul.pdu import decode

    events = []
    for pdv in decode(raw).pdvs:
        message = machine._assembler.add(pdv)
        if message is not None:
            context_id, command, dataset = message
            events.append(machine._message(context_id, command) if dataset is None
                          else MessageReceived(*message))
    return events


@given(context_ids, st.binary(min_size=0, max_size=120), st.sampled_from([0x03, 0x01, 0x02, 0x07]))
def test_one_pdv_command_fast_path_matches_the_general_path(context_id, body, control) -> None:
    """Whole commands, commands announcing a data set, empty and partial fragments."""
    for command in (body, dimse.echo_rsp(3, 0)[:-4] + body[:4], dimse.echo_rq(9)):
        pdv_length = len(command) + 2
        raw = (b"\x04\x00" + (pdv_length + 4).to_bytes(4, "big") + pdv_length.to_bytes(4, "big")
               + bytes((context_id, control)) + command)
        fast = _associated()
        fast.receive_data(raw)
        got = []
        while (event := fast.next_event()) is not None:
            got.append(event)
        expected = _general_path(_associated(), raw) if control & 1 else None
        if expected is None:  # a data set fragment before any command: a protocol error
            assert got and got[0].__class__.__name__ == "ProtocolViolation"
        else:
            assert got == expected
            if got:
                assert not fast.buffered and fast._assembler.idle


def test_send_echo_is_a_send_in_the_table() -> None:
    """Allowed where a P-DATA request is (Sta6, Sta8), refused elsewhere."""
    from dul.association import StateError

    rq = AssociateRQ("ANY-SCP", "ECHOSCU", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])],
                     UserInformation(16384, "1.2.3", "US"))
    machine = Requestor(rq, 16384)
    machine.start()
    with pytest.raises(StateError, match="cannot send a message in state Sta5"):
        machine.send_echo(1, 1)
    machine = _associated()
    machine.release()
    with pytest.raises(StateError, match="in state Sta7"):
        machine.send_echo(1, 1)
    acceptor = Acceptor(16384)
    with pytest.raises(StateError, match="in state Sta2"):
        acceptor.send_echo_response(1, 1, 0)
