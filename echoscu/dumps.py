"""The ``-d`` dumps of association parameters and received PDUs, in DCMTK's layout.

Built only when debug output is enabled (the callers check the level first).
"""

from __future__ import annotations

from dul.uids import DCMTK_TRANSFER_SYNTAXES, VERIFICATION
from echoscu.messages import CONTEXT_RESULTS, INVALID_CONTEXT_RESULT

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from dul.pdu import AssociateAC, AssociateRQ

_DCMTK_NAMES = dict(DCMTK_TRANSFER_SYNTAXES)
_DCMTK_NAMES[VERIFICATION] = "VerificationSOPClass"
_DCMTK_NAMES["1.2.840.10008.1.2.4.94"] = "JPIPReferenced"
_DCMTK_NAMES["1.2.840.10008.1.2.4.95"] = "JPIPReferencedDeflate"

#: the UID root of the DICOM standard; only such UIDs are looked up in pydicom
_STANDARD_ROOT = "1.2.840.10008."


def dcmtk_name(uid: str) -> str | None:
    """DCMTK's name for a UID as printed after ``=`` in dumps, or None if unknown.

    Verification and the transfer syntaxes come from our table; other standard
    UIDs fall back to pydicom's keyword, imported only when such a UID shows up.
    """
    name = _DCMTK_NAMES.get(uid)
    if name is not None or not uid.startswith(_STANDARD_ROOT):
        return name
    try:
        from pydicom.uid import UID_dictionary
    except ImportError:
        return None
    entry = UID_dictionary.get(uid)
    return entry[4] or None if entry else None


def uid_text(uid: str) -> str:
    """A UID as DCMTK prints it: ``=<name>`` when it knows the name, else the UID."""
    name = dcmtk_name(uid)
    return f"={name}" if name else uid


_ROLE_NAMES = {(0, 0): "Default", (1, 0): "SCU", (0, 1): "SCP", (1, 1): "SCP/SCU"}


def _context_lines(rq: AssociateRQ, ac: AssociateAC | None) -> list[str]:
    results = {ctx.id: ctx for ctx in ac.contexts} if ac is not None else {}
    lines = ["Presentation Contexts:"]
    for ctx in rq.contexts:
        answer = results.get(ctx.id)
        if answer is None:
            state = "Proposed"
        else:
            state = CONTEXT_RESULTS.get(answer.result, INVALID_CONTEXT_RESULT)
        lines.append(f"  Context ID:        {ctx.id} ({state})")
        lines.append(f"    Abstract Syntax: {uid_text(ctx.abstract_syntax)}")
        lines.append("    Proposed SCP/SCU Role: Default")
        if answer is None:
            lines.append("    Proposed Transfer Syntax(es):")
            lines += [f"      {uid_text(ts)}" for ts in ctx.transfer_syntaxes]
        else:
            lines.append(f"    Accepted SCP/SCU Role: {_accepted_role(ac, ctx.abstract_syntax)}")
            if answer.result == 0 and answer.transfer_syntax:
                lines.append(f"    Accepted Transfer Syntax: {uid_text(answer.transfer_syntax)}")
    return lines


def _accepted_role(ac: AssociateAC, abstract_syntax: str) -> str:
    for role in ac.user_info.role_selections:
        if role.uid == abstract_syntax:
            return _ROLE_NAMES.get((role.scu_role, role.scp_role), "None")
    return "Default"


def association_dump(rq: AssociateRQ, ac: AssociateAC | None = None) -> str:
    """The BEGIN/END A-ASSOCIATE-RQ (``ac`` is None) or A-ASSOCIATE-AC block."""
    kind = "AC" if ac is not None else "RQ"
    theirs = ac.user_info if ac is not None else None
    lines = [
        f"====================== BEGIN A-ASSOCIATE-{kind} =====================",
        f"Our Implementation Class UID:      {rq.user_info.implementation_class_uid or ''}",
        f"Our Implementation Version Name:   {rq.user_info.implementation_version_name or ''}",
        f"Their Implementation Class UID:    {(theirs and theirs.implementation_class_uid) or ''}",
        "Their Implementation Version Name: "
        f"{(theirs and theirs.implementation_version_name) or ''}",
        f"Application Context Name:    {rq.application_context}",
        # DCMTK's AC block shows the calling title as the peer echoed it, trailing
        # spaces trimmed; the called title stays as we sent it
        f"Calling Application Name:    {ac.calling_ae if ac is not None else rq.calling_ae}",
        f"Called Application Name:     {rq.called_ae}",
        f"Responding Application Name: {ac.called_ae if ac is not None else ''}",
        f"Our Max PDU Receive Size:    {rq.user_info.max_pdu or 0}",
        f"Their Max PDU Receive Size:  {(theirs and theirs.max_pdu) or 0}",
    ]
    lines += _context_lines(rq, ac)
    lines += [
        "Requested Extended Negotiation: none",
        "Accepted Extended Negotiation:  none",
        "Requested User Identity Negotiation: none",
        "User Identity Negotiation Response:  none",
        f"======================= END A-ASSOCIATE-{kind} ======================",
    ]
    return "\n".join(lines)


_PDU_NAMES = {
    0x01: "Associate Request",
    0x02: "Associate Accept",
    0x03: "Associate Reject",
    0x04: "Data",
    0x05: "Release Request",
    0x06: "Release Reply",
    0x07: "Abort",
}


#: DCMTK dumps at most this many bytes of a PDU (header included), at any debug level
DUMP_LIMIT = 512


def pdu_hex_dump(raw: bytes) -> str:
    """``PDU Type: …, PDU Length: n + 6 bytes PDU header`` and the bytes, 16 a line.

    As DCMTK 3.6.7 (measured): a PDU of more than 512 bytes gets ``Only dumping 512
    bytes.`` and its first 512 bytes; when the bytes dumped fill their last line (a
    multiple of 16), one empty line follows.
    """
    name = _PDU_NAMES.get(raw[0], f"Unknown {raw[0]:02x}")
    lines = [f"PDU Type: {name}, PDU Length: {len(raw) - 6} + 6 bytes PDU header"]
    if len(raw) > DUMP_LIMIT:
        lines.append(f"Only dumping {DUMP_LIMIT} bytes.")
        raw = raw[:DUMP_LIMIT]
    for start in range(0, len(raw), 16):
        lines.append("".join(f"  {byte:02x}" for byte in raw[start:start + 16]))
    if len(raw) % 16 == 0:
        lines.append("")  # DCMTK ends a full last row with a line break of its own
    return "\n".join(lines)


def _element_value(vr: str | None, raw: bytes) -> str:
    """An element's value as DCMTK's dump shows it."""
    if not raw:
        return "(no value available)"
    if vr in ("US", "UL") and len(raw) in (2, 4):
        return str(int.from_bytes(raw, "little"))
    text = raw.rstrip(b"\0 ").decode("latin-1")
    if vr == "UI":
        name = dcmtk_name(text)
        return f"={name}" if name else f"[{text}]"
    return f"[{text}]"


def _keyword(tag: int) -> str:
    """The data dictionary keyword of a command element (pydicom's dictionary, lazily)."""
    try:
        from pydicom.datadict import keyword_for_tag
    except ImportError:
        return "Unknown Tag & Data"
    return keyword_for_tag(tag) or "Unknown Tag & Data"


def command_dump(command: bytes, skip: frozenset[int]) -> list[str]:
    """DCMTK's dump lines for the elements of a command set whose tags are not in ``skip``."""
    from dul.dimse import command_vr

    lines = []
    pos = 0
    while pos + 8 <= len(command):
        tag = (int.from_bytes(command[pos:pos + 2], "little") << 16) | int.from_bytes(
            command[pos + 2:pos + 4], "little")
        length = int.from_bytes(command[pos + 4:pos + 8], "little")
        raw = command[pos + 8:pos + 8 + length]
        pos += 8 + length
        if tag in skip:
            continue
        vr = command_vr(tag)
        head = f"({tag >> 16:04x},{tag & 0xFFFF:04x}) {vr or 'UN'} {_element_value(vr, raw)}"
        lines.append(f"{head:<56}# {length:3}, 1 {_keyword(tag)}")
    return lines
