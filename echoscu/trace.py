"""DCMTK's ``-ll trace`` lines: the DUL state machine, PDU headers, A-ASSOCIATE-AC parsing
and DIMSE command sets, in the words DCMTK 3.6.7 prints them.

Imported only when TRACE is enabled, so a plain echo never pays for it. The driver
hands over what ``dul`` recorded (``dul.association.Transition``) and what it sends
and receives; everything here only formats text for the ``dcmtk.dcmnet`` logger.
What comes from DCMTK's dcmdata internals (``DcmItem::insert()``, ``readSubItem()``,
``searchSubFromHere()``, ``DcmDataset::read() returns``) and its data dictionary has
no counterpart here and is not printed (README, deliberate differences).
"""

from __future__ import annotations

from dul.association import Transition
from echoscu.dumps import command_dump

#: DCMTK's names of the PS3.8 events, printed with its 0-based event index
_EVENT_TEXTS = {
    1: "A-ASSOCIATE request (local user)",
    2: "Transport conn confirmation (local)",
    3: "A-ASSOCIATE-AC PDU (on transport)",
    4: "A-ASSOCIATE-RJ PDU (on transport)",
    9: "P-DATA request primitive",
    10: "P-DATA-TF PDU (on transport)",
    11: "A-RELEASE request primitive",
    12: "A-RELEASE-RQ PDU (on transport)",
    13: "A-RELEASE-RP PDU (on transport)",
    15: "A-ABORT request primitive",
    16: "A-ABORT PDU (on transport)",
    17: "Transport connection closed",
    18: "ARTIM timer expired (rej/rel)",
    19: "Unrecognized/invalid PDU",
}

#: DCMTK's names of the PS3.8 actions
_ACTION_TEXTS = {
    "AE-1": "AE 1 Transport Connect",
    "AE-2": "AE 2 Send Associate RQ PDU",
    "AE-3": "AE 3 Associate Confirmation Accept",
    "AE-4": "AE 4 Associate Confirmation Reject",
    "DT-1": "DT 1 Send P DATA PDU",
    "DT-2": "DT 2 Indicate P DATA PDU Received",
    "AR-1": "AR 1 Send Release RQ",
    "AR-2": "AR 2 Indicate Release",
    "AR-3": "AR 3 Confirm Release",
    "AR-5": "AR 5 Stop ARTIM timer",
    "AA-1": "AA 1 Send A ABORT PDU",
    "AA-2": "AA 2 Close Transport",
    "AA-3": "AA 3 Indicate Peer Aborted",
    "AA-4": "AA 4 Indicate AP Abort",
    "AA-6": "AA 6 Ignore PDU",
    "AA-7": "AA 7 State 13 Send Abort",
}


def transition_lines(record: Transition) -> list[str]:
    """The lines DCMTK prints for one recorded transition (and the PDU header read first).

    A transition whose event or action DCMTK was never seen to print (release
    collisions, acceptor events) gives only its header lines.
    """
    lines = []
    raw = record.raw
    if raw is not None:
        head = raw[:6]
        lines.append("Read PDU HEAD TCP: " + " ".join(f"{byte:02x}" for byte in head))
        if record.event is not None and len(head) == 6:
            length = int.from_bytes(head[2:6], "big")
            lines.append(f"Read PDU HEAD TCP: type: {head[0]:02x}, length: {length} ({length:02x})")
    if record.event is None:
        return lines
    event = _EVENT_TEXTS.get(record.event)
    action = _ACTION_TEXTS.get(record.action)
    if event is None or action is None:
        return lines
    if record.action == "AA-2" and record.state != "Sta13":
        action += " (Read Timeout)"  # a read that timed out, not the ARTIM timer itself
    lines.append(f"DUL  FSM Table: State: {record.state[3:]} Event: {record.event - 1}")
    lines.append(f"DUL  Event:  {event}")
    lines.append(f"DUL  Action: {action}")
    return lines


def environment_lines(name: str, value: str | None, default: str) -> list[str]:
    """DCMTK's check of an environment variable; the set value's own line is the caller's."""
    lines = [f"checking whether environment variable {name} is set"]
    if value is None:
        lines.append(f"  environment variable {name} not set, {default}")
    return lines


# --------------------------------------------------------------------------- A-ASSOCIATE-AC


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")


def _subitem(kind: int, value: bytes) -> str:
    return f"Subitem parse: Type {kind:02x}, Length {len(value):04d}, Content: {_text(value)}"


def associate_ac_lines(raw: bytes) -> list[str]:
    """DCMTK's walk through a received A-ASSOCIATE-AC PDU, item by item.

    Only the items an A-ASSOCIATE-AC carries and that echoscu's peers send are spelt
    out (application context, presentation contexts, maximum length, implementation
    class UID and version name); any other item shows its ``Next item type`` line.
    """
    length = int.from_bytes(raw[2:6], "big")
    lines = [
        f"PDU type: 2 (A-ASSOCIATE AC), PDU Length: {length}",
        f"DICOM Protocol: {int.from_bytes(raw[6:8], 'big')}",
        f"Called AP Title:  {_text(raw[10:26]).strip()}",
        f"Calling AP Title: {_text(raw[26:42]).strip()}",
    ]
    pos = 74
    end = 6 + length
    while pos + 4 <= end:
        kind = raw[pos]
        item_length = int.from_bytes(raw[pos + 2:pos + 4], "big")
        value = raw[pos + 4:pos + 4 + item_length]
        lines.append(f"Parsing remaining {end - pos} bytes of A-ASSOCIATE PDU")
        lines.append(f"Next item type: {kind:02x}")
        if kind == 0x10:
            lines.append(_subitem(kind, value))
            lines.append("Successfully parsed Application Context")
        elif kind == 0x21:
            lines.extend(_context_lines(value))
        elif kind == 0x50:
            lines.extend(_user_info_lines(value))
        pos += 4 + item_length
    return lines


def _context_lines(value: bytes) -> list[str]:
    lines = [f"Parsing Presentation Context: (21), Length: {len(value)}",
             f"Presentation Context ID: {value[0]:02x}"]
    if len(value) >= 4 and value[2] == 0:  # DCMTK reads the sub-items of accepted ones only
        pos = 4
        while pos + 4 <= len(value):
            kind = value[pos]
            item_length = int.from_bytes(value[pos + 2:pos + 4], "big")
            lines.append(f"Parsing remaining {len(value) - pos} bytes of Presentation Context")
            lines.append(f"Next item type: {kind:02x}")
            if kind == 0x40:
                lines.append(_subitem(kind, value[pos + 4:pos + 4 + item_length]))
                lines.append("Successfully parsed Transfer Syntax")
            pos += 4 + item_length
    lines.append("Successfully parsed Presentation Context")
    return lines


def _user_info_lines(value: bytes) -> list[str]:
    lines = [f"Parsing user info field (50), Length: {len(value)}"]
    pos = 0
    while pos + 4 <= len(value):
        kind = value[pos]
        item_length = int.from_bytes(value[pos + 2:pos + 4], "big")
        content = value[pos + 4:pos + 4 + item_length]
        lines.append(f"Parsing remaining {len(value) - pos} bytes of User Information")
        lines.append(f"Next item type: {kind:02x}")
        if kind == 0x51 and len(content) == 4:
            lines.append(f"Maximum PDU Length: {int.from_bytes(content, 'big')}")
            lines.append("Successfully parsed Maximum PDU Length")
        elif kind in (0x52, 0x55):
            lines.append(_subitem(kind, content))
        pos += 4 + item_length
    lines.append("Successfully parsed User Information")
    return lines


# --------------------------------------------------------------------------- DIMSE


def command_to_send(context_id: int, command: bytes) -> list[str]:
    """The lines before DCMTK sends a command set: the set as built, group length still 0."""
    dump = command_dump(command, frozenset())
    if dump and dump[0].startswith("(0000,0000) UL "):
        head = "(0000,0000) UL 0"
        dump[0] = f"{head:<56}#   4, 1 CommandGroupLength"
    return [
        f"DIMSE Command to be sent on Presentation Context ID: {context_id}",
        "\n".join(["DIMSE Command to send:", "", "# Dicom-Data-Set",
                   "# Used TransferSyntax: Little Endian Explicit", *dump, ""]),
        f"DIMSE sendDcmDataset: sending {len(command)} bytes",
    ]


def command_received(pdvs: int, context_id: int, command: bytes) -> list[str]:
    """The lines after DCMTK read a whole command set (without its group length)."""
    dump = command_dump(command, frozenset((0x0000_0000,)))
    return [
        f"DIMSE receiveCommand: {pdvs} PDVs ({len(command)} bytes), PresID={context_id}",
        "\n".join(["DIMSE Command Received:", "", "# Dicom-Data-Set",
                   "# Used TransferSyntax: Little Endian Implicit", *dump, ""]),
    ]


def count_pdvs(raw: bytes) -> int:
    """The number of PDVs in a P-DATA-TF PDU."""
    count = 0
    pos = 6
    while pos + 4 <= len(raw):
        count += 1
        pos += 4 + int.from_bytes(raw[pos:pos + 4], "big")
    return count
