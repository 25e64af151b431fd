"""dul.fragment: P-DATA fragmentation under small peer max PDUs and reassembly rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dul import dimse
from dul.fragment import FragmentError, MaxPDUTooSmallError, MessageAssembler, fragment
from dul.pdu import PDV, PDUError, PDUReader, decode

WITH_DATASET = dimse.echo_rq(1)[:-2] + b"\x02\x00"  # CommandDataSetType 0x0002: data follows


def _split(stream: bytes) -> list[bytes]:
    reader = PDUReader(1 << 30)
    reader.feed(stream)
    pdus = []
    while (item := reader.next()) is not None:
        pdus.append(item[1])
    assert reader.buffered == 0
    return pdus


def _reassemble(pdus: list[bytes]) -> list[tuple[int, bytes, bytes | None]]:
    assembler = MessageAssembler()
    messages = []
    for raw in pdus:
        for pdv in decode(raw).pdvs:
            message = assembler.add(pdv)
            if message is not None:
                messages.append(message)
    assert assembler.idle
    return messages


@pytest.mark.parametrize("max_pdu", [13, 14, 100, 4096, 0])
@pytest.mark.parametrize("dataset", [None, b"D", b"0123456789" * 50])
def test_fragments_fit_and_reassemble(max_pdu: int, dataset: bytes | None) -> None:
    command = WITH_DATASET if dataset else dimse.echo_rq(1)
    pdus = _split(fragment(3, command, dataset, max_pdu))
    for raw in pdus:
        if max_pdu:
            assert len(raw) <= max_pdu
        pdvs = decode(raw).pdvs
        assert len(pdvs) == 1 and pdvs[0].data and pdvs[0].context_id == 3
    data_pdus = sum(1 for raw in pdus if not decode(raw).pdvs[0].is_command)
    if max_pdu:
        chunk = max_pdu - 12
        assert len(pdus) - data_pdus == -(-len(command) // chunk)
        assert data_pdus == (-(-len(dataset) // chunk) if dataset else 0)
    else:
        assert len(pdus) == (2 if dataset else 1)
    assert _reassemble(pdus) == [(3, command, dataset)]


def test_max_pdu_13_carries_one_byte_per_pdu() -> None:
    pdus = _split(fragment(1, dimse.echo_rq(1), None, 13))
    assert len(pdus) == 68
    assert all(len(raw) == 13 for raw in pdus)
    flags = [(decode(raw).pdvs[0].is_command, decode(raw).pdvs[0].is_last) for raw in pdus]
    assert flags == [(True, False)] * 67 + [(True, True)]


@pytest.mark.parametrize("max_pdu", range(1, 13))
def test_max_pdu_up_to_12_cannot_carry_data(max_pdu: int) -> None:
    with pytest.raises(MaxPDUTooSmallError, match=f"maximum PDU length {max_pdu} cannot"):
        fragment(1, dimse.echo_rq(1), None, max_pdu)


def test_fragment_refuses_empty_parts_and_negative_max() -> None:
    with pytest.raises(ValueError, match="empty command"):
        fragment(1, b"", None, 0)
    with pytest.raises(ValueError, match="empty data set"):
        fragment(1, WITH_DATASET, b"", 0)
    with pytest.raises(ValueError, match="negative"):
        fragment(1, dimse.echo_rq(1), None, -1)


def test_pynetdicom_reassembles_our_fragments() -> None:
    """Our 14-byte PDUs (2 data bytes each) make a whole C-ECHO-RQ for pynetdicom."""
    from pynetdicom.dimse_messages import C_ECHO_RQ, DIMSEMessage
    from pynetdicom.pdu import P_DATA_TF

    message = DIMSEMessage()
    done = []
    for raw in _split(fragment(1, dimse.echo_rq(77), None, 14)):
        pdu = P_DATA_TF()
        pdu.decode(raw)
        done.append(message.decode_msg(pdu.to_primitive()))
    assert done == [False] * 33 + [True]
    assert isinstance(message, C_ECHO_RQ)
    assert message.message_to_primitive().MessageID == 77


@settings(max_examples=200)
@given(
    st.integers(1, 255),
    st.binary(min_size=1, max_size=300),
    st.none() | st.binary(min_size=1, max_size=600),
    st.integers(13, 400) | st.just(0),
)
def test_round_trip_any_message(
    context_id: int, command: bytes, dataset: bytes | None, max_pdu: int
) -> None:
    # the random bytes ride in an unknown element (0000,FFFF) after the real ones
    extra = b"\x00\x00\xff\xff" + len(command).to_bytes(4, "little") + command
    command = (WITH_DATASET if dataset is not None else dimse.echo_rq(1)) + extra
    pdus = _split(fragment(context_id, command, dataset, max_pdu))
    assert all(len(raw) <= max_pdu for raw in pdus) or not max_pdu
    assert _reassemble(pdus) == [(context_id, command, dataset)]


# ------------------------------------------------------------------ reassembly rules


def test_data_before_command_is_refused() -> None:
    with pytest.raises(FragmentError, match="data set fragment on presentation context 1 before"):
        MessageAssembler().add(PDV(1, False, True, b"x"))


def test_context_change_mid_message_is_refused() -> None:
    assembler = MessageAssembler()
    assert assembler.add(PDV(1, True, False, dimse.echo_rq(1)[:10])) is None
    with pytest.raises(FragmentError, match="changed from 1 to 3"):
        assembler.add(PDV(3, True, True, dimse.echo_rq(1)[10:]))


def test_command_while_data_set_expected_is_refused() -> None:
    assembler = MessageAssembler()
    assert assembler.add(PDV(1, True, True, WITH_DATASET)) is None
    assert not assembler.idle
    with pytest.raises(FragmentError, match="command fragment .* while the data set"):
        assembler.add(PDV(1, True, True, WITH_DATASET))


def test_size_bounds() -> None:
    assembler = MessageAssembler(max_command_length=100, max_dataset_length=10)
    assembler.add(PDV(1, True, False, b"x" * 60))
    with pytest.raises(FragmentError, match="command set longer than 100 bytes"):
        assembler.add(PDV(1, True, False, b"x" * 41))
    assembler = MessageAssembler(max_command_length=100, max_dataset_length=10)
    assert assembler.add(PDV(1, True, True, WITH_DATASET)) is None
    assert assembler.add(PDV(1, False, False, b"y" * 10)) is None
    with pytest.raises(FragmentError, match="data set longer than 10 bytes"):
        assembler.add(PDV(1, False, True, b"y"))


def test_fragment_error_is_a_pdu_error() -> None:
    assert issubclass(FragmentError, PDUError)


def test_messages_follow_each_other() -> None:
    assembler = MessageAssembler()
    assert assembler.add(PDV(1, True, True, dimse.echo_rq(1))) == (1, dimse.echo_rq(1), None)
    assert assembler.idle
    assert assembler.add(PDV(3, True, True, WITH_DATASET)) is None
    assert assembler.add(PDV(3, False, True, b"data")) == (3, WITH_DATASET, b"data")
    assert assembler.add(PDV(5, True, True, dimse.echo_rq(2))) == (5, dimse.echo_rq(2), None)
