"""DIMSE command sets (group 0000, Implicit VR Little Endian) for C-ECHO and a strict
command decoder. Whole PDUs are not built here: see ``_echo`` and ``fragment``."""

from __future__ import annotations

from struct import Struct

from dul.uids import VERIFICATION

# command element tags (group 0000, so the tag value equals the element number)
COMMAND_GROUP_LENGTH = 0x0000_0000
AFFECTED_SOP_CLASS_UID = 0x0000_0002
REQUESTED_SOP_CLASS_UID = 0x0000_0003
COMMAND_FIELD = 0x0000_0100
MESSAGE_ID = 0x0000_0110
MESSAGE_ID_RESPONDED = 0x0000_0120
MOVE_DESTINATION = 0x0000_0600
PRIORITY = 0x0000_0700
COMMAND_DATA_SET_TYPE = 0x0000_0800
STATUS = 0x0000_0900
OFFENDING_ELEMENT = 0x0000_0901
ERROR_COMMENT = 0x0000_0902
ERROR_ID = 0x0000_0903
AFFECTED_SOP_INSTANCE_UID = 0x0000_1000
REQUESTED_SOP_INSTANCE_UID = 0x0000_1001
EVENT_TYPE_ID = 0x0000_1002
ATTRIBUTE_IDENTIFIER_LIST = 0x0000_1005
ACTION_TYPE_ID = 0x0000_1008
REMAINING_SUBOPERATIONS = 0x0000_1020
COMPLETED_SUBOPERATIONS = 0x0000_1021
FAILED_SUBOPERATIONS = 0x0000_1022
WARNING_SUBOPERATIONS = 0x0000_1023
MOVE_ORIGINATOR_AE_TITLE = 0x0000_1030
MOVE_ORIGINATOR_MESSAGE_ID = 0x0000_1031

#: CommandDataSetType value meaning "no data set follows"
NO_DATA_SET = 0x0101

C_ECHO_RQ = 0x0030
C_ECHO_RSP = 0x8030

#: command field -> DIMSE message name, for logs
COMMAND_NAMES = {
    0x0001: "C-STORE-RQ",
    0x8001: "C-STORE-RSP",
    0x0010: "C-GET-RQ",
    0x8010: "C-GET-RSP",
    0x0020: "C-FIND-RQ",
    0x8020: "C-FIND-RSP",
    0x0021: "C-MOVE-RQ",
    0x8021: "C-MOVE-RSP",
    0x0030: "C-ECHO-RQ",
    0x8030: "C-ECHO-RSP",
    0x0FFF: "C-CANCEL-RQ",
    0x0100: "N-EVENT-REPORT-RQ",
    0x8100: "N-EVENT-REPORT-RSP",
    0x0110: "N-GET-RQ",
    0x8110: "N-GET-RSP",
    0x0120: "N-SET-RQ",
    0x8120: "N-SET-RSP",
    0x0130: "N-ACTION-RQ",
    0x8130: "N-ACTION-RSP",
    0x0140: "N-CREATE-RQ",
    0x8140: "N-CREATE-RSP",
    0x0150: "N-DELETE-RQ",
    0x8150: "N-DELETE-RSP",
}

#: value representation of every command element PS3.7 E.1 defines (retired ones as raw)
_VR = {
    COMMAND_GROUP_LENGTH: "UL",
    AFFECTED_SOP_CLASS_UID: "UI",
    REQUESTED_SOP_CLASS_UID: "UI",
    COMMAND_FIELD: "US",
    MESSAGE_ID: "US",
    MESSAGE_ID_RESPONDED: "US",
    MOVE_DESTINATION: "AE",
    PRIORITY: "US",
    COMMAND_DATA_SET_TYPE: "US",
    STATUS: "US",
    OFFENDING_ELEMENT: "AT",
    ERROR_COMMENT: "LO",
    ERROR_ID: "US",
    AFFECTED_SOP_INSTANCE_UID: "UI",
    REQUESTED_SOP_INSTANCE_UID: "UI",
    EVENT_TYPE_ID: "US",
    ATTRIBUTE_IDENTIFIER_LIST: "AT",
    ACTION_TYPE_ID: "US",
    REMAINING_SUBOPERATIONS: "US",
    COMPLETED_SUBOPERATIONS: "US",
    FAILED_SUBOPERATIONS: "US",
    WARNING_SUBOPERATIONS: "US",
    MOVE_ORIGINATOR_AE_TITLE: "AE",
    MOVE_ORIGINATOR_MESSAGE_ID: "US",
}


_ELEMENT_HEADER = Struct("<HHI")
_AT_PAIRS = Struct("<HH")


class DIMSEError(Exception):
    """Malformed command set.

    Not a PDUError: the PDUs and the PDV sequence that carried the command were fine
    (PS3.8); its content (PS3.7) is not, and the machines never decode it. Each
    driver answers it its own way (echoscp aborts, echoscu reports DCMTK's error).
    Compare ``fragment.FragmentError``, which is a PDUError.
    """


def _element(tag: int, value: bytes) -> bytes:
    group_element = (tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little")
    return group_element + len(value).to_bytes(4, "little") + value


def _us(tag: int, value: int) -> bytes:
    return _element(tag, value.to_bytes(2, "little"))


def _uid(tag: int, uid: str) -> bytes:
    raw = uid.encode("ascii")
    if len(raw) % 2:
        raw += b"\x00"
    return _element(tag, raw)


def _command_set(*elements: bytes) -> bytes:
    body = b"".join(elements)
    return _element(COMMAND_GROUP_LENGTH, len(body).to_bytes(4, "little")) + body


def _echo_rq_command(message_id: int) -> bytes:
    return _command_set(
        _uid(AFFECTED_SOP_CLASS_UID, VERIFICATION),
        _us(COMMAND_FIELD, C_ECHO_RQ),
        _us(MESSAGE_ID, message_id),
        _us(COMMAND_DATA_SET_TYPE, NO_DATA_SET),
    )


def _echo_rsp_command(message_id_responded: int, status: int, affected_sop_class: str) -> bytes:
    return _command_set(
        _uid(AFFECTED_SOP_CLASS_UID, affected_sop_class),
        _us(COMMAND_FIELD, C_ECHO_RSP),
        _us(MESSAGE_ID_RESPONDED, message_id_responded),
        _us(COMMAND_DATA_SET_TYPE, NO_DATA_SET),
        _us(STATUS, status),
    )


# The commands differ only in the message ID (and the response in its status): the
# hot loops patch those two bytes into a template instead of encoding every element.
# Offsets: group length (12 bytes), SOP class UID (8 + 18), command field (10), then
# the message ID element (8 + 2): its value sits at 56..58; the status is the last 2 bytes.
#: where the message ID (responded to) sits in the C-ECHO command sets
MESSAGE_ID_AT = 56
_ECHO_RQ_COMMAND = _echo_rq_command(0)
_ECHO_RSP_COMMAND = _echo_rsp_command(0, 0, VERIFICATION)


def echo_rq(message_id: int) -> bytes:
    """The 68-byte C-ECHO-RQ command set, exactly as DCMTK sends it (no Priority)."""
    return (
        _ECHO_RQ_COMMAND[:MESSAGE_ID_AT]
        + message_id.to_bytes(2, "little")
        + _ECHO_RQ_COMMAND[MESSAGE_ID_AT + 2 :]
    )


def echo_rsp(
    message_id_responded: int, status: int, affected_sop_class: str = VERIFICATION
) -> bytes:
    """A C-ECHO-RSP command set (78 bytes with the Verification SOP class)."""
    if affected_sop_class != VERIFICATION:
        return _echo_rsp_command(message_id_responded, status, affected_sop_class)
    return (
        _ECHO_RSP_COMMAND[:MESSAGE_ID_AT]
        + message_id_responded.to_bytes(2, "little")
        + _ECHO_RSP_COMMAND[MESSAGE_ID_AT + 2 : -2]
        + status.to_bytes(2, "little")
    )


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00 ").decode("utf-8", "surrogateescape")


def decode_command(data: bytes) -> dict[int, object]:
    """Tag -> value for a command set: int for US/UL, a tuple of tags for AT, str
    (trailing NULs and blanks stripped) for UI/AE/LO, raw bytes for unknown tags.

    Strict: raises DIMSEError for truncation, undefined lengths, elements outside
    group 0000, tags out of ascending order, and US/UL values of the wrong size.
    """
    values: dict[int, object] = {}
    unpack = _ELEMENT_HEADER.unpack_from
    end = len(data)
    pos = 0
    previous = -1
    while pos < end:
        if end - pos < 8:
            raise DIMSEError(
                f"command set: element header at offset {pos} needs 8 bytes, {end - pos} remain"
            )
        group, element, length = unpack(data, pos)
        pos += 8
        if group or element <= previous or length > end - pos:
            raise _element_error(group, element, previous, length, end - pos)
        previous = element
        stop = pos + length
        vr = _VR.get(element)
        if vr == "US" or vr == "UL":
            if length != (2 if vr == "US" else 4):
                raise DIMSEError(
                    f"command set: element (0000,{element:04x}) ({vr}) has length {length}, "
                    f"expected {2 if vr == 'US' else 4}"
                )
            values[element] = int.from_bytes(data[pos:stop], "little")
        elif vr is None:
            values[element] = bytes(data[pos:stop])
        elif vr == "AT":
            if length % 4:
                raise DIMSEError(
                    f"command set: element (0000,{element:04x}) (AT) length {length} "
                    "is not a multiple of 4"
                )
            values[element] = tuple(
                (group << 16) | element_number
                for group, element_number in _AT_PAIRS.iter_unpack(data[pos:stop])
            )
        else:
            values[element] = _text(data[pos:stop])
        pos = stop
    return values


def _element_error(
    group: int, element: int, previous: int, length: int, remaining: int
) -> DIMSEError:
    where = f"command set: element ({group:04x},{element:04x})"
    if group:
        return DIMSEError(f"{where} is outside the command group 0000")
    if element <= previous:
        return DIMSEError(f"{where} is out of ascending order")
    return DIMSEError(f"{where} length {length} exceeds remaining {remaining} bytes")


def command_has_dataset(command: bytes) -> bool:
    """Whether a command set announces a data set (CommandDataSetType != 0x0101).

    Tolerant by design (the reassembler asks before anyone validates the command):
    an unreadable command or a missing element counts as "no data set".
    """
    unpack = _ELEMENT_HEADER.unpack_from
    end = len(command)
    pos = 0
    while end - pos >= 8:
        group, element, length = unpack(command, pos)
        pos += 8
        if group or length > end - pos or element > COMMAND_DATA_SET_TYPE:
            return False
        if element == COMMAND_DATA_SET_TYPE:
            return length == 2 and int.from_bytes(command[pos : pos + 2], "little") != NO_DATA_SET
        pos += length
    return False


def command_vr(tag: int) -> str | None:
    """The VR of a command-group element (for dumps), or None for an unknown tag."""
    return _VR.get(tag)


# --------------------------------------------------------------------------- C-FIND

C_FIND_RQ = 0x0020
C_FIND_RSP = 0x8020
#: CommandDataSetType of a message that carries a data set (any value but NO_DATA_SET)
DATA_SET_PRESENT = 0x0000


def find_rq(message_id: int, affected_sop_class: str, priority: int = 0) -> bytes:
    """A C-FIND-RQ command set (priority 0 = medium); the identifier data set follows it."""
    return _command_set(
        _uid(AFFECTED_SOP_CLASS_UID, affected_sop_class),
        _us(COMMAND_FIELD, C_FIND_RQ),
        _us(MESSAGE_ID, message_id),
        _us(PRIORITY, priority),
        _us(COMMAND_DATA_SET_TYPE, DATA_SET_PRESENT),
    )
