"""The ``-d`` dumps, in the shape pynetdicom's echoscp prints them.

Incoming A-ASSOCIATE-RQ, outgoing A-ASSOCIATE-AC/RJ, A-ABORT both ways and the
DIMSE messages. Built only when debug output is on (callers check the level).
UID names come from pydicom's dictionary, imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dul.pdu import AssociateAC, AssociateRJ, AssociateRQ, UserInformation

_CONTEXT_RESULTS = {
    0: "Accepted",
    1: "User Rejection",
    2: "Provider Rejection",
    3: "Rejected - Abstract Syntax Not Supported",
    4: "Rejected - Transfer Syntax Not Supported",
}
_RJ_RESULTS = {1: "Rejected (Permanent)", 2: "Rejected (Transient)"}
_RJ_SOURCES = {
    1: "DUL service-user",
    2: "DUL service-provider (ACSE related)",
    3: "DUL service-provider (presentation related)",
}
_RJ_REASONS = {
    1: {1: "No reason given", 2: "Application context name not supported",
        3: "Calling AE title not recognised", 7: "Called AE title not recognised"},
    2: {1: "No reason given", 2: "Protocol version not supported"},
    3: {1: "Temporary congestion", 2: "Local limit exceeded"},
}
_ABORT_SOURCES = {0: "DUL service-user", 2: "DUL service-provider"}
_ABORT_REASONS = {0: "No reason given", 1: "Unrecognised PDU", 2: "Unexpected PDU",
                  4: "Unrecognised PDU parameter", 5: "Unexpected PDU parameter",
                  6: "Invalid PDU parameter value"}
_NO_VALUE = "(no value available)"
_USER_IDENTITY_TYPES = {1: "Username", 2: "Username and passcode", 3: "Kerberos",
                        4: "SAML", 5: "JSON Web Token"}

_uid_names: dict | None = None


def uid_name(uid: str) -> str:
    """The UID's name in pydicom's dictionary (the UID itself when unknown)."""
    global _uid_names
    if _uid_names is None:
        try:
            from pydicom._uid_dict import UID_dictionary
        except ImportError:
            UID_dictionary = {}
        _uid_names = UID_dictionary
    entry = _uid_names.get(uid)
    return entry[0] if entry else uid


def banner(title: str) -> str:
    """`` TITLE `` centred in 76 columns of ``=``, as pynetdicom frames its dumps."""
    return f"{' ' + title + ' ':=^76}"


def _roles(info: UserInformation) -> dict[str, str]:
    roles = {}
    for role in info.role_selections:
        names = [name for name, on in (("SCP", role.scp_role), ("SCU", role.scu_role)) if on]
        roles[role.uid] = "/".join(names)
    return roles


def associate_rq(rq: AssociateRQ) -> list[str]:
    """The ``Request Parameters`` block for a received A-ASSOCIATE-RQ."""
    info = rq.user_info
    lines = [
        "Request Parameters:",
        banner("INCOMING A-ASSOCIATE-RQ PDU"),
        f"Their Implementation Class UID:      {info.implementation_class_uid or 'unknown'}",
        f"Their Implementation Version Name:   {info.implementation_version_name or 'unknown'}",
        f"Application Context Name:    {rq.application_context}",
        f"Calling Application Name:    {rq.calling_ae}",
        f"Called Application Name:     {rq.called_ae}",
        f"Their Max PDU Receive Size:  {info.max_pdu}",
        "Presentation Context:" if len(rq.contexts) == 1 else "Presentation Contexts:",
    ]
    roles = _roles(info)
    for ctx in sorted(rq.contexts, key=lambda c: c.id):
        lines.append(f"  Context ID:        {ctx.id} (Proposed)")
        lines.append(f"    Abstract Syntax: ={uid_name(ctx.abstract_syntax)}")
        lines.append(f"    Proposed SCP/SCU Role: {roles.get(ctx.abstract_syntax, 'Default')}")
        plural = "es" if len(ctx.transfer_syntaxes) != 1 else ""
        lines.append(f"    Proposed Transfer Syntax{plural}:")
        lines += [f"      ={uid_name(ts)}" for ts in ctx.transfer_syntaxes]
    lines += _requested_negotiation(info)
    lines.append(banner("END A-ASSOCIATE-RQ PDU"))
    return lines


def _requested_negotiation(info: UserInformation) -> list[str]:
    lines = []
    if info.sop_class_extended:
        lines.append("Requested Extended Negotiation:")
        for item in info.sop_class_extended:
            lines.append(f"  SOP Class: ={uid_name(item.uid)}")
            lines.append(f"    {item.info.hex(' ')}")
    else:
        lines.append("Requested Extended Negotiation: None")
    if info.sop_class_common_extended:
        lines.append("Requested Common Extended Negotiation:")
        for item in info.sop_class_common_extended:
            lines.append(f"  SOP Class: ={uid_name(item.uid)}")
            lines.append(f"    Service Class: ={uid_name(item.service_class_uid)}")
            if item.related_general_uids:
                lines.append("    Related General SOP Class(es):")
                lines += [f"      ={uid_name(uid)}" for uid in item.related_general_uids]
            else:
                lines.append("    Related General SOP Classes: None")
    else:
        lines.append("Requested Common Extended Negotiation: None")
    window = info.async_ops_window
    if window is not None:
        lines.append("Requested Asynchronous Operations Window Negotiation:")
        lines.append(f"  Maximum Invoked Operations:     {window.invoked}")
        lines.append(f"  Maximum Performed Operations:   {window.performed}")
    else:
        lines.append("Requested Asynchronous Operations Window Negotiation: None")
    identity = info.user_identity_rq
    if identity is not None:
        kind = _USER_IDENTITY_TYPES.get(identity.identity_type, "Unknown")
        lines.append("Requested User Identity Negotiation:")
        lines.append(f"  Authentication Mode: {identity.identity_type} - {kind}")
        if identity.identity_type in (1, 2):
            lines.append(f"  Username: [{identity.primary.decode('utf-8', 'replace')}]")
        else:
            lines.append(f"  {kind} (not dumped) length: {len(identity.primary)}")
        response = "Yes" if identity.positive_response_requested else "None"
        lines.append(f"  Positive Response Requested: {response}")
    else:
        lines.append("Requested User Identity Negotiation: None")
    return lines


def associate_ac(ac: AssociateAC, rq: AssociateRQ) -> list[str]:
    """The ``Accept Parameters`` block for the A-ASSOCIATE-AC we send."""
    info = ac.user_info
    proposed = {ctx.id: ctx.abstract_syntax for ctx in rq.contexts}
    lines = [
        "Accept Parameters:",
        banner("OUTGOING A-ASSOCIATE-AC PDU"),
        f"Our Implementation Class UID:      {info.implementation_class_uid}",
        f"Our Implementation Version Name:   {info.implementation_version_name}",
        f"Application Context Name:    {ac.application_context}",
        f"Responding Application Name: {ac.called_ae}",
        f"Our Max PDU Receive Size:    {info.max_pdu}",
        "Presentation Contexts:" if ac.contexts else "Presentation Contexts: None",
    ]
    for ctx in sorted(ac.contexts, key=lambda c: c.id):
        result = _CONTEXT_RESULTS.get(ctx.result, _NO_VALUE)
        lines.append(f"  Context ID:        {ctx.id} ({result})")
        lines.append(f"    Abstract Syntax: ={uid_name(proposed.get(ctx.id, ''))}")
        if ctx.result == 0:
            lines.append("    Accepted SCP/SCU Role: Default")
            lines.append(f"    Accepted Transfer Syntax: ={uid_name(ctx.transfer_syntax)}")
    lines += [
        "Accepted Extended Negotiation: None",
        "Accepted Asynchronous Operations Window Negotiation: None",
        "User Identity Negotiation Response: None",
        banner("END A-ASSOCIATE-AC PDU"),
    ]
    return lines


def associate_rj(rj: AssociateRJ) -> list[str]:
    """The ``Reject Parameters`` block for the A-ASSOCIATE-RJ we send."""
    return [
        "Reject Parameters:",
        banner("OUTGOING A-ASSOCIATE-RJ PDU"),
        f"Result:    {_RJ_RESULTS.get(rj.result, _NO_VALUE)}",
        f"Source:    {_RJ_SOURCES.get(rj.source, _NO_VALUE)}",
        f"Reason:    {_RJ_REASONS.get(rj.source, {}).get(rj.reason, _NO_VALUE)}",
        banner("END A-ASSOCIATE-RJ PDU"),
    ]


def abort(source: int, reason: int, incoming: bool) -> list[str]:
    """The ``Abort Parameters`` block for an A-ABORT received or sent."""
    direction = "INCOMING" if incoming else "OUTGOING"
    reason_text = _ABORT_REASONS.get(reason, _NO_VALUE) if source == 2 else _NO_VALUE
    return [
        "Abort Parameters:",
        banner(f"{direction} A-ABORT PDU"),
        f"Abort Source: {_ABORT_SOURCES.get(source, _NO_VALUE)}",
        f"Abort Reason: {reason_text}",
        banner("END A-ABORT PDU"),
    ]


def echo_rq(context_id: int, message_id: int) -> list[str]:
    """The ``INCOMING DIMSE MESSAGE`` block of a C-ECHO-RQ."""
    return [
        banner("INCOMING DIMSE MESSAGE"),
        "Message Type                  : C-ECHO RQ",
        f"Presentation Context ID       : {context_id}",
        f"Message ID                    : {message_id}",
        "Data Set                      : None",
        banner("END DIMSE MESSAGE"),
    ]


def echo_rsp(context_id: int, message_id: int, status: int) -> list[str]:
    """The ``OUTGOING DIMSE MESSAGE`` block of our C-ECHO-RSP (pynetdicom shows none)."""
    return [
        banner("OUTGOING DIMSE MESSAGE"),
        "Message Type                  : C-ECHO RSP",
        f"Presentation Context ID       : {context_id}",
        f"Message ID Being Responded To : {message_id}",
        f"Status                        : 0x{status:04X}",
        "Data Set                      : None",
        banner("END DIMSE MESSAGE"),
    ]


def other_message(context_id: int, command_name: str, message_id: object) -> list[str]:
    """The ``INCOMING DIMSE MESSAGE`` block of a message echoscp does not serve.

    ``command_name`` is dul's (``C-STORE-RQ``); pynetdicom writes ``C-STORE RQ``.
    """
    head, dash, tail = command_name.rpartition("-")
    shown = f"{head} {tail}" if dash and tail in ("RQ", "RSP") else command_name
    return [
        banner("INCOMING DIMSE MESSAGE"),
        f"Message Type                  : {shown}",
        f"Presentation Context ID       : {context_id}",
        f"Message ID                    : {message_id}",
        banner("END DIMSE MESSAGE"),
    ]
