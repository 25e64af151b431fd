"""dul's hot-loop shortcuts give exactly what the general code gives, and refuse the rest.

Templates for the C-ECHO command sets, the one-PDV fast path of ``fragment``, the
byte recogniser ``dimse.echo_rsp_status`` and ``between_messages``, which tells the
driver when a PDU may be recognised outside the state machine.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dicomecho.dul import dimse
from dicomecho.dul.association import MessageReceived, Requestor
from dicomecho.dul.fragment import PDU_OVERHEAD, fragment
from dicomecho.dul.pdu import (
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


@given(context_ids, message_ids, statuses)
def test_echo_rsp_status_reads_the_standard_response(context_id, message_id, status) -> None:
    pdu = dimse.echo_rsp_pdu(context_id, message_id, status)
    assert pdu == fragment(context_id, dimse.echo_rsp(message_id, status), None, 16384)
    assert dimse.echo_rsp_status(pdu, context_id, message_id) == status


@pytest.mark.parametrize("variant", [
    "other context", "other message ID", "other SOP class", "error comment", "truncated",
    "two PDUs", "fragmented", "request", "data set type",
])
def test_echo_rsp_status_refuses_everything_else(variant: str) -> None:
    standard = dimse.echo_rsp_pdu(1, 5, 0)
    data = {
        "other context": dimse.echo_rsp_pdu(3, 5, 0),
        "other message ID": dimse.echo_rsp_pdu(1, 6, 0),
        "other SOP class": fragment(1, dimse.echo_rsp(5, 0, "1.2.840.10008.1.2"), None, 0),
        "error comment": fragment(1, dimse.echo_rsp(5, 0xC000)[:-10] + _element(
            0x0902, b"no") + dimse.echo_rsp(5, 0xC000)[-10:], None, 0),
        "truncated": standard[:-1],
        "two PDUs": standard + standard,
        "fragmented": fragment(1, dimse.echo_rsp(5, 0), None, 50),
        "request": dimse.echo_rq_pdu(1, 5),
        "data set type": standard.replace(b"\x01\x01\x00\x00\x00\x09", b"\x02\x01\x00\x00\x00\x09"),
    }[variant]
    assert data != standard
    assert dimse.echo_rsp_status(data, 1, 5) is None


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
    assert not machine.between_messages  # Sta5: waiting for the answer
    ac = AssociateAC("ANY-SCP", "ECHOSCU", [PresentationContextAC(1, 0, IMPLICIT)],
                     UserInformation(16382, "1.2.4", "THEM"))
    machine.receive_data(encode(ac))
    machine.next_event()
    return machine


def test_between_messages_only_with_nothing_held() -> None:
    machine = _associated()
    assert machine.between_messages
    response = dimse.echo_rsp_pdu(1, 1, 0)
    machine.receive_data(response[:20])  # half a PDU buffered
    assert not machine.between_messages
    machine.receive_data(response[20:] + response)  # two whole messages: one stays pending
    assert isinstance(machine.next_event(), MessageReceived)
    assert not machine.between_messages
    assert isinstance(machine.next_event(), MessageReceived)
    assert machine.between_messages
    first_fragment = fragment(1, dimse.echo_rsp(2, 0), None, 50)[:50]
    machine.receive_data(first_fragment)  # a message half assembled
    assert machine.next_event() is None
    assert not machine.between_messages


def test_between_messages_false_after_release_or_close() -> None:
    machine = _associated()
    machine.release()
    assert not machine.between_messages
    machine = _associated()
    machine.receive_data(b"")
    assert not machine.between_messages


def _general_path(machine: Requestor, raw: bytes):
    """What the general P-DATA path gives for ``raw`` (the fast path bypassed)."""
    from dicomecho.dul.pdu import decode

    events = []
    for pdv in decode(raw).pdvs:
        message = machine._assembler.add(pdv)
        if message is not None:
            events.append(MessageReceived(*message))
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
            assert got and got[0].__class__.__name__ == "ProtocolError"
        else:
            assert got == expected
            if got:
                assert fast.between_messages
