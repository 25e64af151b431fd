"""The standard C-ECHO PDUs: precomputed templates out, byte-compare recognisers in.

"Standard" is what DCMTK, pynetdicom and these templates send: one P-DATA-TF PDU
holding one last command fragment with exactly the elements of ``dimse.echo_rq``
(four) or of a Verification ``dimse.echo_rsp`` (five). Only the context ID, the
message ID and the status vary, so sending patches those bytes into a template and
receiving compares the rest with it. Anything else is decoded in full by the caller.
The association machines are the only users: they choose the template when it fits
the peer's max PDU and recognise received commands before they become events.
"""

from __future__ import annotations

from dul.dimse import MESSAGE_ID_AT, echo_rq, echo_rsp
from dul.pdu import PDV_COMMAND, PDV_LAST, encode_pdv

_RQ_COMMAND = echo_rq(0)
_RSP_COMMAND = echo_rsp(0, 0)
_ID_END = MESSAGE_ID_AT + 2

# the command sets around the message ID (and, in the response, before the status)
_RQ_HEAD = _RQ_COMMAND[:MESSAGE_ID_AT]
_RQ_TAIL = _RQ_COMMAND[_ID_END:]
_RSP_HEAD = _RSP_COMMAND[:MESSAGE_ID_AT]
_RSP_MIDDLE = _RSP_COMMAND[_ID_END:-2]
RQ_COMMAND_LENGTH = len(_RQ_COMMAND)
RSP_COMMAND_LENGTH = len(_RSP_COMMAND)

_LAST_COMMAND = PDV_COMMAND | PDV_LAST
# the whole PDUs: 10 bytes of PDU and PDV header, the context ID, the control byte
_RQ_PDU = encode_pdv(1, _LAST_COMMAND, _RQ_COMMAND)
_RSP_PDU = encode_pdv(1, _LAST_COMMAND, _RSP_COMMAND)
_RQ_PDU_HEAD = _RQ_PDU[:10]
_RSP_PDU_HEAD = _RSP_PDU[:10]
_CONTROL = bytes((_LAST_COMMAND,))
#: the length of the whole P-DATA-TF PDU of a standard C-ECHO-RQ (80) and -RSP (90)
RQ_PDU_LENGTH = len(_RQ_PDU)
RSP_PDU_LENGTH = len(_RSP_PDU)
#: where the command set starts in such a PDU
COMMAND_AT = 12
# after the context ID: the control byte and the command set up to the message ID
_RQ_PDU_MIDDLE = _CONTROL + _RQ_HEAD
_RSP_PDU_MIDDLE = _CONTROL + _RSP_HEAD
_PDU_ID_AT = COMMAND_AT + MESSAGE_ID_AT
_PDU_ID_END = _PDU_ID_AT + 2


def rq_pdu(context_id: int, message_id: int) -> bytes:
    """The whole P-DATA-TF PDU of a standard C-ECHO-RQ."""
    return (
        _RQ_PDU_HEAD + bytes((context_id,)) + _RQ_PDU_MIDDLE
        + message_id.to_bytes(2, "little") + _RQ_TAIL
    )


def rsp_pdu(context_id: int, message_id_responded: int, status: int = 0) -> bytes:
    """The whole P-DATA-TF PDU of a standard (Verification) C-ECHO-RSP."""
    return (
        _RSP_PDU_HEAD + bytes((context_id,)) + _RSP_PDU_MIDDLE
        + message_id_responded.to_bytes(2, "little") + _RSP_MIDDLE
        + status.to_bytes(2, "little")
    )


def read_rq(command: bytes) -> int | None:
    """The message ID of a standard C-ECHO-RQ command set, else None."""
    if (
        len(command) != RQ_COMMAND_LENGTH
        or not command.startswith(_RQ_HEAD)
        or command[_ID_END:] != _RQ_TAIL
    ):
        return None
    return command[MESSAGE_ID_AT] | command[MESSAGE_ID_AT + 1] << 8


def read_rsp(command: bytes) -> tuple[int, int] | None:
    """(message ID responded to, status) of a standard C-ECHO-RSP command set, else None."""
    if (
        len(command) != RSP_COMMAND_LENGTH
        or not command.startswith(_RSP_HEAD)
        or command[_ID_END:-2] != _RSP_MIDDLE
    ):
        return None
    return command[MESSAGE_ID_AT] | command[MESSAGE_ID_AT + 1] << 8, command[-2] | command[-1] << 8


def read_rq_pdu(data: bytes) -> tuple[int, int] | None:
    """(context ID, message ID) if ``data`` is exactly one standard C-ECHO-RQ PDU."""
    if (
        len(data) != RQ_PDU_LENGTH
        or not data.startswith(_RQ_PDU_HEAD)
        or data[11:_PDU_ID_AT] != _RQ_PDU_MIDDLE
        or data[_PDU_ID_END:] != _RQ_TAIL
    ):
        return None
    return data[10], data[_PDU_ID_AT] | data[_PDU_ID_AT + 1] << 8


def read_rsp_pdu(data: bytes) -> tuple[int, int, int] | None:
    """(context ID, message ID responded to, status) if ``data`` is exactly one
    standard C-ECHO-RSP PDU."""
    if (
        len(data) != RSP_PDU_LENGTH
        or not data.startswith(_RSP_PDU_HEAD)
        or data[11:_PDU_ID_AT] != _RSP_PDU_MIDDLE
        or data[_PDU_ID_END:-2] != _RSP_MIDDLE
    ):
        return None
    return data[10], data[_PDU_ID_AT] | data[_PDU_ID_AT + 1] << 8, data[-2] | data[-1] << 8
