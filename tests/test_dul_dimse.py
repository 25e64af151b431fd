"""dul.dimse: C-ECHO command sets checked against pydicom and pynetdicom, and strictness."""

from __future__ import annotations

from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dul import dimse, echo_rq_pdu, echo_rsp_pdu
from dul.dimse import DIMSEError, command_has_dataset, decode_command

VERIFICATION = "1.2.840.10008.1.1"


def _pydicom_read(data: bytes):
    from pydicom.filereader import read_dataset

    return read_dataset(BytesIO(data), is_implicit_VR=True, is_little_endian=True)


def _pynetdicom_echo_pdus(context_id: int, max_pdu: int = 16382, **fields) -> list[bytes]:
    """P-DATA-TF PDUs pynetdicom encodes for a C-ECHO-RQ (MessageID given) or -RSP."""
    from pynetdicom.dimse_messages import C_ECHO_RQ, C_ECHO_RSP
    from pynetdicom.dimse_primitives import C_ECHO
    from pynetdicom.pdu import P_DATA_TF

    primitive = C_ECHO()
    primitive.AffectedSOPClassUID = VERIFICATION
    for name, value in fields.items():
        setattr(primitive, name, value)
    message = C_ECHO_RQ() if "MessageID" in fields else C_ECHO_RSP()
    message.primitive_to_message(primitive)
    return [P_DATA_TF(p).encode() for p in message.encode_msg(context_id, max_pdu)]


def test_echo_rq_is_dcmtks_command_set() -> None:
    """Spec 5.6: group length 56, UID + NUL, command 0x0030, message ID, 0x0101; 68 bytes."""
    command = dimse.echo_rq(1)
    assert len(command) == 68
    ds = _pydicom_read(command)
    assert [int(element.tag) for element in ds] == [0x0, 0x2, 0x100, 0x110, 0x800]
    assert ds.CommandGroupLength == 56
    assert ds.AffectedSOPClassUID == VERIFICATION
    assert ds.CommandField == 0x0030
    assert ds.MessageID == 1
    assert ds.CommandDataSetType == 0x0101
    assert b"1.2.840.10008.1.1\x00" in command


def test_echo_rsp_decodes_in_pydicom() -> None:
    ds = _pydicom_read(dimse.echo_rsp(65535, 0xC001))
    assert ds.CommandGroupLength == 66
    assert ds.AffectedSOPClassUID == VERIFICATION
    assert ds.CommandField == 0x8030
    assert ds.MessageIDBeingRespondedTo == 65535
    assert ds.CommandDataSetType == 0x0101
    assert ds.Status == 0xC001
    assert "MessageID" not in ds


@pytest.mark.parametrize("context_id, message_id", [(1, 1), (3, 2), (255, 65535), (7, 0)])
def test_fast_paths_equal_pynetdicoms_pdus(context_id: int, message_id: int) -> None:
    """The precomputed PDUs are byte-identical to what pynetdicom encodes."""
    assert echo_rq_pdu(context_id, message_id) == b"".join(
        _pynetdicom_echo_pdus(context_id, MessageID=message_id)
    )
    for status in (0x0000, 0x0110, 0xFFFF):
        assert echo_rsp_pdu(context_id, message_id, status) == b"".join(
            _pynetdicom_echo_pdus(context_id, MessageIDBeingRespondedTo=message_id, Status=status)
        )


def test_pynetdicom_response_with_status_details_decodes() -> None:
    """A C-ECHO-RSP pynetdicom encodes with error comment/ID and offending elements."""
    from pydicom.dataset import Dataset
    from pynetdicom.dsutils import encode

    ds = Dataset()
    ds.AffectedSOPClassUID = VERIFICATION
    ds.CommandField = 0x8030
    ds.MessageIDBeingRespondedTo = 9
    ds.CommandDataSetType = 0x0101
    ds.Status = 0x0122
    ds.OffendingElement = [0x00080016, 0x00100010]
    ds.ErrorComment = "not here"
    ds.ErrorID = 5
    ds.MoveOriginatorApplicationEntityTitle = "MOVER"
    raw = encode(ds, True, True)
    assert decode_command(raw) == {
        dimse.AFFECTED_SOP_CLASS_UID: VERIFICATION,
        dimse.COMMAND_FIELD: 0x8030,
        dimse.MESSAGE_ID_RESPONDED: 9,
        dimse.COMMAND_DATA_SET_TYPE: 0x0101,
        dimse.STATUS: 0x0122,
        dimse.OFFENDING_ELEMENT: (0x00080016, 0x00100010),
        dimse.ERROR_COMMENT: "not here",
        dimse.ERROR_ID: 5,
        dimse.MOVE_ORIGINATOR_AE_TITLE: "MOVER",
    }


def test_pynetdicom_decodes_our_request_to_a_c_echo() -> None:
    from pynetdicom.dimse_messages import C_ECHO_RQ, DIMSEMessage
    from pynetdicom.pdu import P_DATA_TF

    message = DIMSEMessage()
    pdu = P_DATA_TF()
    pdu.decode(echo_rq_pdu(5, 4242))
    assert message.decode_msg(pdu.to_primitive())
    assert isinstance(message, C_ECHO_RQ)
    primitive = message.message_to_primitive()
    assert primitive.MessageID == 4242
    assert primitive.AffectedSOPClassUID == VERIFICATION
    assert message.context_id == 5


def test_decode_command_values_and_names() -> None:
    assert decode_command(dimse.echo_rq(513)) == {
        dimse.COMMAND_GROUP_LENGTH: 56,
        dimse.AFFECTED_SOP_CLASS_UID: VERIFICATION,
        dimse.COMMAND_FIELD: 0x0030,
        dimse.MESSAGE_ID: 513,
        dimse.COMMAND_DATA_SET_TYPE: 0x0101,
    }
    assert dimse.COMMAND_NAMES[dimse.C_ECHO_RQ] == "C-ECHO-RQ"
    assert dimse.COMMAND_NAMES[dimse.C_ECHO_RSP] == "C-ECHO-RSP"
    assert dimse.command_vr(dimse.STATUS) == "US"
    assert dimse.command_vr(dimse.AFFECTED_SOP_CLASS_UID) == "UI"
    assert dimse.command_vr(0x0008_0016) is None and dimse.command_vr(0x1234) is None
    unknown = dimse.echo_rq(1)[:12] + b"\x00\x00\x34\x12\x03\x00\x00\x00abc"
    assert decode_command(unknown)[0x1234] == b"abc"


def _element(group: int, element: int, value: bytes, length: int | None = None) -> bytes:
    size = len(value) if length is None else length
    return (
        group.to_bytes(2, "little")
        + element.to_bytes(2, "little")
        + size.to_bytes(4, "little")
        + value
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (dimse.echo_rq(1)[:-1], "length 2 exceeds remaining 1"),
        (dimse.echo_rq(1)[:-7], "needs 8 bytes, 3 remain"),
        (_element(0x0008, 0x0016, b"1.2\x00"), r"\(0008,0016\) is outside the command group"),
        (_element(0, 0x0110, b"\x01\x00") + _element(0, 0x0100, b"\x30\x00"), "ascending"),
        (_element(0, 0x0110, b"\x01\x00\x00\x00"), r"\(US\) has length 4, expected 2"),
        (_element(0, 0x0000, b"\x01\x00"), r"\(UL\) has length 2, expected 4"),
        (_element(0, 0x0901, b"\x01\x00"), "not a multiple of 4"),
        (_element(0, 0x0002, b"", 0xFFFFFFFF), "length 4294967295 exceeds"),
    ],
)
def test_decode_command_is_strict(data: bytes, message: str) -> None:
    with pytest.raises(DIMSEError, match=message):
        decode_command(data)


@settings(max_examples=400)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.tuples(st.integers(0, 67), st.binary(max_size=4)).map(
            lambda cut: dimse.echo_rq(7)[: cut[0]] + cut[1] + dimse.echo_rq(7)[cut[0] + 1 :]
        ),
    )
)
def test_fuzz_decode_command_raises_only_dimse_error(data: bytes) -> None:
    try:
        values = decode_command(data)
    except DIMSEError:
        return
    assert all(isinstance(tag, int) and 0 <= tag <= 0xFFFF for tag in values)


def test_command_has_dataset() -> None:
    assert not command_has_dataset(dimse.echo_rq(1))
    with_data = dimse.echo_rq(1)[:-2] + b"\x02\x00"
    assert command_has_dataset(with_data)
    assert not command_has_dataset(b"garbage")
    assert not command_has_dataset(dimse.echo_rq(1)[:40])
