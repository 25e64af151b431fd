"""Strict codec for the seven DICOM upper-layer PDUs (PS3.8 section 9.3) and a framer.

``decode`` never trusts a length field: every length is checked against the bytes
that remain, and any malformed input raises ``PDUError`` and nothing else.
Text fields (AE titles, UIDs, names) are bytes on the wire; they are decoded as
UTF-8 with ``surrogateescape`` so that any byte sequence survives a round trip
(``s.encode("utf-8", "surrogateescape")`` gives the peer's exact bytes back).
"""

from __future__ import annotations

from dul._record import Record

A_ASSOCIATE_RQ = 0x01
A_ASSOCIATE_AC = 0x02
A_ASSOCIATE_RJ = 0x03
P_DATA_TF = 0x04
A_RELEASE_RQ = 0x05
A_RELEASE_RP = 0x06
A_ABORT = 0x07

#: PDU type byte -> PS3.8 name, for messages
PDU_NAMES = {
    A_ASSOCIATE_RQ: "A-ASSOCIATE-RQ",
    A_ASSOCIATE_AC: "A-ASSOCIATE-AC",
    A_ASSOCIATE_RJ: "A-ASSOCIATE-RJ",
    P_DATA_TF: "P-DATA-TF",
    A_RELEASE_RQ: "A-RELEASE-RQ",
    A_RELEASE_RP: "A-RELEASE-RP",
    A_ABORT: "A-ABORT",
}

# item types (PS3.8 9.3) and user information sub-item types (0x51..0x59)
APPLICATION_CONTEXT_ITEM = 0x10
PRESENTATION_CONTEXT_RQ_ITEM = 0x20
PRESENTATION_CONTEXT_AC_ITEM = 0x21
ABSTRACT_SYNTAX_ITEM = 0x30
TRANSFER_SYNTAX_ITEM = 0x40
USER_INFORMATION_ITEM = 0x50
MAX_LENGTH_ITEM = 0x51
IMPLEMENTATION_CLASS_UID_ITEM = 0x52
ASYNC_OPS_WINDOW_ITEM = 0x53
ROLE_SELECTION_ITEM = 0x54
IMPLEMENTATION_VERSION_NAME_ITEM = 0x55
SOP_CLASS_EXTENDED_ITEM = 0x56
SOP_CLASS_COMMON_EXTENDED_ITEM = 0x57
USER_IDENTITY_RQ_ITEM = 0x58
USER_IDENTITY_AC_ITEM = 0x59

DEFAULT_APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
#: bound for non-P-DATA PDUs in ``PDUReader`` unless the caller chooses another
DEFAULT_MAX_ASSOCIATION_PDU = 1 << 20

_ITEM_NAMES = {
    APPLICATION_CONTEXT_ITEM: "application context item",
    PRESENTATION_CONTEXT_RQ_ITEM: "presentation context item",
    PRESENTATION_CONTEXT_AC_ITEM: "presentation context item",
    ABSTRACT_SYNTAX_ITEM: "abstract syntax sub-item",
    TRANSFER_SYNTAX_ITEM: "transfer syntax sub-item",
    USER_INFORMATION_ITEM: "user information item",
    MAX_LENGTH_ITEM: "maximum length sub-item",
    IMPLEMENTATION_CLASS_UID_ITEM: "implementation class UID sub-item",
    ASYNC_OPS_WINDOW_ITEM: "asynchronous operations window sub-item",
    ROLE_SELECTION_ITEM: "SCP/SCU role selection sub-item",
    IMPLEMENTATION_VERSION_NAME_ITEM: "implementation version name sub-item",
    SOP_CLASS_EXTENDED_ITEM: "SOP class extended negotiation sub-item",
    SOP_CLASS_COMMON_EXTENDED_ITEM: "SOP class common extended negotiation sub-item",
    USER_IDENTITY_RQ_ITEM: "user identity sub-item",
    USER_IDENTITY_AC_ITEM: "user identity sub-item",
}


class PDUError(Exception):
    """Malformed or unexpected PDU; the message says what is wrong and where.

    ``pdu_type`` is the PDU type byte when it is known (for an unrecognised type
    it lets callers print DCMTK's ``Unrecognized PDU type: 09``), else None.
    """

    def __init__(self, message: str, pdu_type: int | None = None) -> None:
        super().__init__(message)
        self.pdu_type = pdu_type


class PDULengthError(PDUError):
    """A PDU header whose length field is above the bound for its type (refused from
    the header alone); ``length`` is the claim, ``limit`` the bound it broke."""

    def __init__(self, message: str, pdu_type: int, length: int, limit: int) -> None:
        super().__init__(message, pdu_type)
        self.length = length
        self.limit = limit


# --------------------------------------------------------------------------- values


class PresentationContextRQ(Record):
    """A proposed presentation context: odd ID, abstract syntax, transfer syntaxes."""

    __slots__ = ("id", "abstract_syntax", "transfer_syntaxes")

    def __init__(self, id: int, abstract_syntax: str, transfer_syntaxes: list[str]) -> None:
        self.id = id
        self.abstract_syntax = abstract_syntax
        self.transfer_syntaxes = transfer_syntaxes


class PresentationContextAC(Record):
    """A presentation context result (0 acceptance, 1 user-rejection, 2 no-reason,
    3 abstract syntax not supported, 4 transfer syntaxes not supported)."""

    __slots__ = ("id", "result", "transfer_syntax")

    def __init__(self, id: int, result: int, transfer_syntax: str | None) -> None:
        self.id = id
        self.result = result
        self.transfer_syntax = transfer_syntax


class AsyncOpsWindow(Record):
    """Asynchronous operations window sub-item (0x53)."""

    __slots__ = ("invoked", "performed")

    def __init__(self, invoked: int, performed: int) -> None:
        self.invoked = invoked
        self.performed = performed


class RoleSelection(Record):
    """SCP/SCU role selection sub-item (0x54); roles are the raw bytes (0 or 1)."""

    __slots__ = ("uid", "scu_role", "scp_role")

    def __init__(self, uid: str, scu_role: int, scp_role: int) -> None:
        self.uid = uid
        self.scu_role = scu_role
        self.scp_role = scp_role


class SOPClassExtendedNegotiation(Record):
    """SOP class extended negotiation sub-item (0x56): opaque service-class info."""

    __slots__ = ("uid", "info")

    def __init__(self, uid: str, info: bytes) -> None:
        self.uid = uid
        self.info = info


class SOPClassCommonExtendedNegotiation(Record):
    """SOP class common extended negotiation sub-item (0x57)."""

    __slots__ = ("uid", "service_class_uid", "related_general_uids")

    def __init__(self, uid: str, service_class_uid: str, related_general_uids: list[str]) -> None:
        self.uid = uid
        self.service_class_uid = service_class_uid
        self.related_general_uids = related_general_uids


class UserIdentityRQ(Record):
    """User identity negotiation request sub-item (0x58); fields kept as sent."""

    __slots__ = ("identity_type", "positive_response_requested", "primary", "secondary")

    def __init__(
        self,
        identity_type: int,
        positive_response_requested: int,
        primary: bytes,
        secondary: bytes = b"",
    ) -> None:
        self.identity_type = identity_type
        self.positive_response_requested = positive_response_requested
        self.primary = primary
        self.secondary = secondary


class UserIdentityAC(Record):
    """User identity negotiation response sub-item (0x59)."""

    __slots__ = ("server_response",)

    def __init__(self, server_response: bytes) -> None:
        self.server_response = server_response


class UserInformation(Record):
    """The user information item (0x50): every sub-item, decoded and kept.

    ``unknown`` holds (sub-item type, payload) for sub-item types not listed here.
    """

    __slots__ = (
        "max_pdu",
        "implementation_class_uid",
        "implementation_version_name",
        "async_ops_window",
        "role_selections",
        "sop_class_extended",
        "sop_class_common_extended",
        "user_identity_rq",
        "user_identity_ac",
        "unknown",
    )

    def __init__(
        self,
        max_pdu: int | None = None,
        implementation_class_uid: str | None = None,
        implementation_version_name: str | None = None,
        async_ops_window: AsyncOpsWindow | None = None,
        role_selections: list[RoleSelection] | None = None,
        sop_class_extended: list[SOPClassExtendedNegotiation] | None = None,
        sop_class_common_extended: list[SOPClassCommonExtendedNegotiation] | None = None,
        user_identity_rq: UserIdentityRQ | None = None,
        user_identity_ac: UserIdentityAC | None = None,
        unknown: list[tuple[int, bytes]] | None = None,
    ) -> None:
        self.max_pdu = max_pdu
        self.implementation_class_uid = implementation_class_uid
        self.implementation_version_name = implementation_version_name
        self.async_ops_window = async_ops_window
        self.role_selections = [] if role_selections is None else role_selections
        self.sop_class_extended = [] if sop_class_extended is None else sop_class_extended
        self.sop_class_common_extended = (
            [] if sop_class_common_extended is None else sop_class_common_extended
        )
        self.user_identity_rq = user_identity_rq
        self.user_identity_ac = user_identity_ac
        self.unknown = [] if unknown is None else unknown


class _Association(Record):
    """What an A-ASSOCIATE-RQ and its AC share: titles, contexts, user information."""

    __slots__ = (
        "called_ae",
        "calling_ae",
        "contexts",
        "user_info",
        "application_context",
        "protocol_version",
    )

    def __init__(
        self,
        called_ae: str,
        calling_ae: str,
        contexts: list,
        user_info: UserInformation | None = None,
        application_context: str = DEFAULT_APPLICATION_CONTEXT,
        protocol_version: int = 1,
    ) -> None:
        self.called_ae = called_ae
        self.calling_ae = calling_ae
        self.contexts = contexts
        self.user_info = UserInformation() if user_info is None else user_info
        self.application_context = application_context
        self.protocol_version = protocol_version


class AssociateRQ(_Association):
    """A-ASSOCIATE-RQ PDU (type 0x01); ``contexts`` are PresentationContextRQ."""

    pdu_type = A_ASSOCIATE_RQ
    __slots__ = ()
    contexts: list[PresentationContextRQ]


class AssociateAC(_Association):
    """A-ASSOCIATE-AC PDU (type 0x02); the AE titles echo the request's, ``contexts``
    are PresentationContextAC."""

    pdu_type = A_ASSOCIATE_AC
    __slots__ = ()
    contexts: list[PresentationContextAC]


class AssociateRJ(Record):
    """A-ASSOCIATE-RJ PDU (type 0x03): result, source and reason/diagnostic bytes."""

    pdu_type = A_ASSOCIATE_RJ
    __slots__ = ("result", "source", "reason")

    def __init__(self, result: int, source: int, reason: int) -> None:
        self.result = result
        self.source = source
        self.reason = reason


class PDV(Record):
    """One presentation data value: a command or data set fragment for one context."""

    __slots__ = ("context_id", "is_command", "is_last", "data")

    def __init__(self, context_id: int, is_command: bool, is_last: bool, data: bytes) -> None:
        self.context_id = context_id
        self.is_command = is_command
        self.is_last = is_last
        self.data = data


class PDataTF(Record):
    """P-DATA-TF PDU (type 0x04): one or more PDVs."""

    pdu_type = P_DATA_TF
    __slots__ = ("pdvs",)

    def __init__(self, pdvs: list[PDV]) -> None:
        self.pdvs = pdvs


class ReleaseRQ(Record):
    """A-RELEASE-RQ PDU (type 0x05)."""

    pdu_type = A_RELEASE_RQ
    __slots__ = ()


class ReleaseRP(Record):
    """A-RELEASE-RP PDU (type 0x06)."""

    pdu_type = A_RELEASE_RP
    __slots__ = ()


class Abort(Record):
    """A-ABORT PDU (type 0x07): source (0 user, 2 provider) and reason bytes."""

    pdu_type = A_ABORT
    __slots__ = ("source", "reason")

    def __init__(self, source: int = 0, reason: int = 0) -> None:
        self.source = source
        self.reason = reason


PDU = AssociateRQ | AssociateAC | AssociateRJ | PDataTF | ReleaseRQ | ReleaseRP | Abort


# --------------------------------------------------------------------------- text


def encode_text(text: str) -> bytes:
    """Bytes of a text field: UTF-8, with surrogate escapes turned back into raw bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError(f"cannot encode {text!r} for the wire: {exc.reason}") from None


def decode_text(raw: bytes) -> str:
    """Text of a wire field; never fails (undecodable bytes become surrogate escapes)."""
    return raw.decode("utf-8", "surrogateescape")


def encode_ae(title: str) -> bytes:
    """A 16-byte AE title field: truncated to 16 bytes, padded with blanks."""
    return encode_text(title)[:16].ljust(16, b" ")


def decode_ae(raw: bytes) -> str:
    """AE title from its field: trailing blanks and NULs removed, leading blanks kept."""
    return decode_text(raw.rstrip(b" \x00"))


def _decode_uid(raw: bytes) -> str:
    return decode_text(raw.rstrip(b"\x00 "))


# --------------------------------------------------------------------------- encoding


def _item(item_type: int, payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        name = _ITEM_NAMES.get(item_type, f"item type 0x{item_type:02x}")
        raise ValueError(f"{name} of {len(payload)} bytes exceeds the 65535-byte item limit")
    return bytes((item_type, 0)) + len(payload).to_bytes(2, "big") + payload


def _field16(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError(f"field of {len(value)} bytes exceeds the 65535-byte limit")
    return len(value).to_bytes(2, "big") + value


def _encode_user_info(info: UserInformation) -> bytes:
    items = []
    if info.max_pdu is not None:
        items.append(_item(MAX_LENGTH_ITEM, info.max_pdu.to_bytes(4, "big")))
    if info.implementation_class_uid is not None:
        uid = encode_text(info.implementation_class_uid)
        items.append(_item(IMPLEMENTATION_CLASS_UID_ITEM, uid))
    if info.async_ops_window is not None:
        window = info.async_ops_window
        items.append(
            _item(ASYNC_OPS_WINDOW_ITEM,
                  window.invoked.to_bytes(2, "big") + window.performed.to_bytes(2, "big"))
        )
    for role in info.role_selections:
        payload = _field16(encode_text(role.uid)) + bytes((role.scu_role, role.scp_role))
        items.append(_item(ROLE_SELECTION_ITEM, payload))
    if info.implementation_version_name is not None:
        name = encode_text(info.implementation_version_name)
        items.append(_item(IMPLEMENTATION_VERSION_NAME_ITEM, name))
    for ext in info.sop_class_extended:
        items.append(_item(SOP_CLASS_EXTENDED_ITEM, _field16(encode_text(ext.uid)) + ext.info))
    for common in info.sop_class_common_extended:
        related = b"".join(_field16(encode_text(uid)) for uid in common.related_general_uids)
        payload = (
            _field16(encode_text(common.uid))
            + _field16(encode_text(common.service_class_uid))
            + _field16(related)
        )
        items.append(_item(SOP_CLASS_COMMON_EXTENDED_ITEM, payload))
    if info.user_identity_rq is not None:
        ident = info.user_identity_rq
        payload = (
            bytes((ident.identity_type, ident.positive_response_requested))
            + _field16(ident.primary)
            + _field16(ident.secondary)
        )
        items.append(_item(USER_IDENTITY_RQ_ITEM, payload))
    if info.user_identity_ac is not None:
        items.append(_item(USER_IDENTITY_AC_ITEM, _field16(info.user_identity_ac.server_response)))
    for sub_type, payload in info.unknown:
        items.append(_item(sub_type, payload))
    return _item(USER_INFORMATION_ITEM, b"".join(items))


def _encode_context_rq(ctx: PresentationContextRQ) -> bytes:
    abstract = _item(ABSTRACT_SYNTAX_ITEM, encode_text(ctx.abstract_syntax))
    parts = [bytes((ctx.id, 0, 0, 0)), abstract]
    parts.extend(_item(TRANSFER_SYNTAX_ITEM, encode_text(uid)) for uid in ctx.transfer_syntaxes)
    return _item(PRESENTATION_CONTEXT_RQ_ITEM, b"".join(parts))


def _encode_context_ac(ctx: PresentationContextAC) -> bytes:
    payload = bytes((ctx.id, 0, ctx.result, 0))
    if ctx.transfer_syntax is not None:
        payload += _item(TRANSFER_SYNTAX_ITEM, encode_text(ctx.transfer_syntax))
    return _item(PRESENTATION_CONTEXT_AC_ITEM, payload)


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return bytes((pdu_type, 0)) + len(body).to_bytes(4, "big") + body


def _encode_associate(pdu: AssociateRQ | AssociateAC, encode_context) -> bytes:
    parts = [
        pdu.protocol_version.to_bytes(2, "big"),
        b"\x00\x00",
        encode_ae(pdu.called_ae),
        encode_ae(pdu.calling_ae),
        bytes(32),
        _item(APPLICATION_CONTEXT_ITEM, encode_text(pdu.application_context)),
    ]
    parts.extend(encode_context(ctx) for ctx in pdu.contexts)
    parts.append(_encode_user_info(pdu.user_info))
    return _pdu(pdu.pdu_type, b"".join(parts))


#: message control header bits of a PDV (PS3.8 E.2)
PDV_COMMAND = 0x01
PDV_LAST = 0x02


def encode_pdv(context_id: int, control: int, data: bytes) -> bytes:
    """A whole P-DATA-TF PDU carrying one PDV: ``control`` is PDV_COMMAND and/or
    PDV_LAST (0 for a data set fragment that is not the last)."""
    pdv_length = len(data) + 2
    return (
        b"\x04\x00"
        + (pdv_length + 4).to_bytes(4, "big")
        + pdv_length.to_bytes(4, "big")
        + bytes((context_id, control))
        + data
    )


def encode_pdvs(pdvs: list[PDV]) -> bytes:
    """A whole P-DATA-TF PDU carrying ``pdvs`` (the hot path: no per-call objects)."""
    parts = []
    total = 0
    for pdv in pdvs:
        data = pdv.data
        control = (1 if pdv.is_command else 0) | (2 if pdv.is_last else 0)
        header = (len(data) + 2).to_bytes(4, "big") + bytes((pdv.context_id, control))
        parts.append(header)
        parts.append(data)
        total += 6 + len(data)
    return b"\x04\x00" + total.to_bytes(4, "big") + b"".join(parts)


def encode(pdu: PDU) -> bytes:
    """The wire bytes of one PDU, header included.

    Raises ValueError (or OverflowError for out-of-range integers) for values that
    cannot be represented, such as a UID longer than 65535 bytes.
    """
    kind = pdu.__class__
    if kind is PDataTF:
        return encode_pdvs(pdu.pdvs)
    if kind is AssociateRQ:
        return _encode_associate(pdu, _encode_context_rq)
    if kind is AssociateAC:
        return _encode_associate(pdu, _encode_context_ac)
    if kind is AssociateRJ:
        return _pdu(A_ASSOCIATE_RJ, bytes((0, pdu.result, pdu.source, pdu.reason)))
    if kind is ReleaseRQ:
        return b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
    if kind is ReleaseRP:
        return b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
    if kind is Abort:
        return _pdu(A_ABORT, bytes((0, 0, pdu.source, pdu.reason)))
    raise TypeError(f"not a PDU: {pdu!r}")


# --------------------------------------------------------------------------- decoding


def _item_name(item_type: int) -> str:
    name = _ITEM_NAMES.get(item_type)
    return name if name is not None else f"item type 0x{item_type:02x}"


#: user information sub-items that may appear at most once
_UNIQUE_SUB_ITEMS = frozenset((
    MAX_LENGTH_ITEM, IMPLEMENTATION_CLASS_UID_ITEM, ASYNC_OPS_WINDOW_ITEM,
    IMPLEMENTATION_VERSION_NAME_ITEM, USER_IDENTITY_RQ_ITEM, USER_IDENTITY_AC_ITEM,
))


def _items(buf: bytes, pos: int, end: int, where: str, context_id: int | None = None):
    """Yield (item type, payload start, payload end) for the items in buf[pos:end].

    ``where`` (and the presentation context ID, if given) locate errors in messages.
    """
    while pos < end:
        if end - pos < 4:
            raise PDUError(
                f"{_where(where, context_id)}: item header at offset {pos} needs 4 bytes, "
                f"{end - pos} remain"
            )
        item_type = buf[pos]
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        pos += 4
        if length > end - pos:
            raise PDUError(
                f"{_where(where, context_id)}: {_item_name(item_type)} length {length} "
                f"exceeds remaining {end - pos} bytes"
            )
        yield item_type, pos, pos + length
        pos += length


def _where(where: str, context_id: int | None) -> str:
    return where if context_id is None else f"{where}: presentation context {context_id}"


def _take16(buf: bytes, pos: int, end: int, where: str, what: str) -> tuple[bytes, int]:
    """Read a 2-byte length and that many bytes from buf[pos:end]."""
    if end - pos < 2:
        raise PDUError(f"{where}: {what} length needs 2 bytes, {end - pos} remain")
    length = (buf[pos] << 8) | buf[pos + 1]
    pos += 2
    if length > end - pos:
        raise PDUError(f"{where}: {what} length {length} exceeds remaining {end - pos} bytes")
    return buf[pos : pos + length], pos + length


def _decode_user_info(buf: bytes, pos: int, end: int, where: str) -> UserInformation:
    info = UserInformation()
    where += ": user information"
    seen = set()
    for sub_type, start, stop in _items(buf, pos, end, where):
        size = stop - start
        if sub_type in _UNIQUE_SUB_ITEMS:
            if sub_type in seen:
                raise PDUError(f"{where}: more than one {_item_name(sub_type)}")
            seen.add(sub_type)
        if sub_type == MAX_LENGTH_ITEM:
            if size != 4:
                raise PDUError(f"{where}: {_item_name(sub_type)} length {size}, expected 4")
            info.max_pdu = int.from_bytes(buf[start:stop], "big")
        elif sub_type == IMPLEMENTATION_CLASS_UID_ITEM:
            info.implementation_class_uid = _decode_uid(buf[start:stop])
        elif sub_type == ASYNC_OPS_WINDOW_ITEM:
            if size != 4:
                raise PDUError(f"{where}: {_item_name(sub_type)} length {size}, expected 4")
            info.async_ops_window = AsyncOpsWindow(
                int.from_bytes(buf[start : start + 2], "big"),
                int.from_bytes(buf[start + 2 : stop], "big"),
            )
        elif sub_type == ROLE_SELECTION_ITEM:
            name = _item_name(sub_type)
            uid, at = _take16(buf, start, stop, where, f"{name} UID")
            if stop - at != 2:
                raise PDUError(f"{where}: {name} has {stop - at} bytes after the UID, expected 2")
            info.role_selections.append(RoleSelection(_decode_uid(uid), buf[at], buf[at + 1]))
        elif sub_type == IMPLEMENTATION_VERSION_NAME_ITEM:
            info.implementation_version_name = decode_text(buf[start:stop].rstrip(b"\x00"))
        elif sub_type == SOP_CLASS_EXTENDED_ITEM:
            name = _item_name(sub_type)
            uid, at = _take16(buf, start, stop, where, f"{name} UID")
            info.sop_class_extended.append(
                SOPClassExtendedNegotiation(_decode_uid(uid), buf[at:stop])
            )
        elif sub_type == SOP_CLASS_COMMON_EXTENDED_ITEM:
            info.sop_class_common_extended.append(_decode_common_extended(buf, start, stop, where))
        elif sub_type == USER_IDENTITY_RQ_ITEM:
            name = _item_name(sub_type)
            if size < 2:
                raise PDUError(f"{where}: {name} length {size} is too short")
            primary, at = _take16(buf, start + 2, stop, where, "user identity primary field")
            secondary, at = _take16(buf, at, stop, where, "user identity secondary field")
            if at != stop:
                raise PDUError(f"{where}: {name} has {stop - at} bytes after its fields")
            info.user_identity_rq = UserIdentityRQ(buf[start], buf[start + 1], primary, secondary)
        elif sub_type == USER_IDENTITY_AC_ITEM:
            response, at = _take16(buf, start, stop, where, "user identity server response")
            if at != stop:
                raise PDUError(
                    f"{where}: {_item_name(sub_type)} has {stop - at} bytes after its fields"
                )
            info.user_identity_ac = UserIdentityAC(response)
        else:
            info.unknown.append((sub_type, buf[start:stop]))
    return info


def _decode_common_extended(
    buf: bytes, start: int, stop: int, where: str
) -> SOPClassCommonExtendedNegotiation:
    what = "SOP class common extended negotiation"
    uid, at = _take16(buf, start, stop, where, f"{what} SOP class UID")
    service, at = _take16(buf, at, stop, where, f"{what} service class UID")
    related, at = _take16(buf, at, stop, where, f"{what} related general SOP class list")
    # whatever follows the related list is reserved (PS3.7 D.3.3.6) and ignored
    uids = []
    pos, end = 0, len(related)
    while pos < end:
        one, pos = _take16(related, pos, end, where, f"{what} related general SOP class UID")
        uids.append(_decode_uid(one))
    return SOPClassCommonExtendedNegotiation(_decode_uid(uid), _decode_uid(service), uids)


def _decode_context_rq(buf: bytes, start: int, stop: int, where: str) -> PresentationContextRQ:
    if stop - start < 4:
        raise PDUError(f"{where}: presentation context item length {stop - start} is below 4")
    ctx_id = buf[start]
    abstract = None
    transfer = []
    for sub_type, sub_start, sub_stop in _items(buf, start + 4, stop, where, ctx_id):
        if sub_type == ABSTRACT_SYNTAX_ITEM:
            if abstract is not None:
                raise PDUError(f"{where}: presentation context {ctx_id}: "
                               "more than one abstract syntax sub-item")
            abstract = _decode_uid(buf[sub_start:sub_stop])
        elif sub_type == TRANSFER_SYNTAX_ITEM:
            transfer.append(_decode_uid(buf[sub_start:sub_stop]))
        # other sub-item types are not defined here; skipped like unknown items
    if abstract is None:
        raise PDUError(f"{where}: presentation context {ctx_id}: no abstract syntax sub-item")
    if not transfer:
        raise PDUError(f"{where}: presentation context {ctx_id}: no transfer syntax sub-item")
    return PresentationContextRQ(ctx_id, abstract, transfer)


def _decode_context_ac(buf: bytes, start: int, stop: int, where: str) -> PresentationContextAC:
    if stop - start < 4:
        raise PDUError(f"{where}: presentation context item length {stop - start} is below 4")
    ctx_id = buf[start]
    result = buf[start + 2]
    transfer = None
    for sub_type, sub_start, sub_stop in _items(buf, start + 4, stop, where, ctx_id):
        if sub_type == TRANSFER_SYNTAX_ITEM:
            if transfer is not None:
                raise PDUError(f"{where}: presentation context {ctx_id}: "
                               "more than one transfer syntax sub-item")
            transfer = _decode_uid(buf[sub_start:sub_stop])
    if result == 0 and not transfer:
        raise PDUError(f"{where}: presentation context {ctx_id}: "
                       "accepted without a transfer syntax")
    return PresentationContextAC(ctx_id, result, transfer)


def _decode_associate(body: bytes, pdu_type: int) -> AssociateRQ | AssociateAC:
    where = PDU_NAMES[pdu_type]
    end = len(body)
    if end < 68:
        raise PDUError(f"{where}: fixed fields need 68 bytes, only {end} present")
    protocol_version = (body[0] << 8) | body[1]
    called = decode_ae(body[4:20])
    calling = decode_ae(body[20:36])
    context_item, decode_context = (
        (PRESENTATION_CONTEXT_RQ_ITEM, _decode_context_rq) if pdu_type == A_ASSOCIATE_RQ
        else (PRESENTATION_CONTEXT_AC_ITEM, _decode_context_ac)
    )
    app_context = None
    user_info = None
    contexts = []
    for item_type, start, stop in _items(body, 68, end, where):
        if item_type == APPLICATION_CONTEXT_ITEM:
            if app_context is not None:
                raise PDUError(f"{where}: more than one application context item")
            app_context = _decode_uid(body[start:stop])
        elif item_type == context_item:
            contexts.append(decode_context(body, start, stop, where))
        elif item_type == USER_INFORMATION_ITEM:
            if user_info is not None:
                raise PDUError(f"{where}: more than one user information item")
            user_info = _decode_user_info(body, start, stop, where)
        # any other well-formed item is skipped, as PS3.8 9.3.1 asks
    if app_context is None:
        raise PDUError(f"{where}: no application context item")
    cls = AssociateRQ if pdu_type == A_ASSOCIATE_RQ else AssociateAC
    return cls(called, calling, contexts, user_info, app_context, protocol_version)


def _decode_p_data(body: bytes) -> PDataTF:
    end = len(body)
    if end == 0:
        raise PDUError("P-DATA-TF: no PDV item", P_DATA_TF)
    pdvs = []
    pos = 0
    while pos < end:
        if end - pos < 4:
            raise PDUError(
                f"P-DATA-TF: PDV item header at offset {pos + 6} needs 4 bytes, {end - pos} remain",
                P_DATA_TF,
            )
        length = int.from_bytes(body[pos : pos + 4], "big")
        pos += 4
        if length < 2:
            raise PDUError(
                f"P-DATA-TF: PDV item length {length} is below 2 "
                "(presentation context ID and message control header)",
                P_DATA_TF,
            )
        if length > end - pos:
            raise PDUError(
                f"P-DATA-TF: PDV item length {length} exceeds remaining {end - pos} bytes",
                P_DATA_TF,
            )
        control = body[pos + 1]
        pdvs.append(
            PDV(body[pos], bool(control & 1), bool(control & 2), body[pos + 2 : pos + length])
        )
        pos += length
    return PDataTF(pdvs)


def _decode_fixed(body: bytes, pdu_type: int) -> AssociateRJ | ReleaseRQ | ReleaseRP | Abort:
    if len(body) != 4:
        raise PDUError(f"{PDU_NAMES[pdu_type]}: PDU length {len(body)}, expected 4", pdu_type)
    if pdu_type == A_ASSOCIATE_RJ:
        return AssociateRJ(body[1], body[2], body[3])
    if pdu_type == A_ABORT:
        return Abort(body[2], body[3])
    return ReleaseRQ() if pdu_type == A_RELEASE_RQ else ReleaseRP()


def decode(data: bytes) -> PDU:
    """Decode exactly one whole PDU (6-byte header included); raises only PDUError."""
    size = len(data)
    if size < 6:
        raise PDUError(f"PDU of {size} bytes is shorter than the 6-byte PDU header")
    pdu_type = data[0]
    if pdu_type not in PDU_NAMES:
        raise _unknown_type(pdu_type)
    length = int.from_bytes(data[2:6], "big")
    if length != size - 6:
        raise PDUError(
            f"{PDU_NAMES[pdu_type]}: PDU length {length} does not match the "
            f"{size - 6} bytes after the header",
            pdu_type,
        )
    body = bytes(data[6:])
    if pdu_type == P_DATA_TF:
        return _decode_p_data(body)
    if pdu_type in (A_ASSOCIATE_RQ, A_ASSOCIATE_AC):
        try:
            return _decode_associate(body, pdu_type)
        except PDUError as exc:
            exc.pdu_type = pdu_type
            raise
    return _decode_fixed(body, pdu_type)


# --------------------------------------------------------------------------- framing


class PDUReader:
    """Incremental framer: feed received bytes, take whole raw PDUs out.

    A length field is checked against its bound before any byte of the body is
    awaited, so a lying peer cannot make us allocate: P-DATA-TF PDUs are bounded by
    ``max_pdu_length``, association PDUs by ``max_association_length``, and the
    fixed-size PDUs by 4 (bounds apply to the PDU length field, header excluded).
    """

    __slots__ = ("max_pdu_length", "max_association_length", "_buffer")

    def __init__(
        self, max_pdu_length: int, max_association_length: int = DEFAULT_MAX_ASSOCIATION_PDU
    ) -> None:
        self.max_pdu_length = max_pdu_length
        self.max_association_length = max_association_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Number of received bytes not yet returned as a PDU."""
        return len(self._buffer)

    def header(self) -> bytes:
        """The first (up to 6) buffered bytes: the header of the PDU being framed."""
        return bytes(self._buffer[:6])

    def clear(self) -> None:
        """Drop every buffered byte (the connection's input is ignored from now on)."""
        self._buffer.clear()

    def next(self) -> tuple[int, bytes] | None:
        """The next whole PDU as (type, raw bytes incl. header), or None if incomplete.

        Raises PDUError for an unrecognised type byte or a length above its bound.
        """
        buffer = self._buffer
        if len(buffer) < 6:
            if buffer and buffer[0] not in PDU_NAMES:
                raise _unknown_type(buffer[0])
            return None
        pdu_type = buffer[0]
        length = int.from_bytes(buffer[2:6], "big")
        if pdu_type == P_DATA_TF:
            limit = self.max_pdu_length
        elif pdu_type in (A_ASSOCIATE_RQ, A_ASSOCIATE_AC):
            limit = self.max_association_length
        elif pdu_type in PDU_NAMES:
            limit = 4
        else:
            raise _unknown_type(pdu_type)
        if length > limit:
            raise PDULengthError(
                f"{PDU_NAMES[pdu_type]}: PDU length {length} exceeds the limit of {limit} bytes",
                pdu_type,
                length,
                limit,
            )
        total = length + 6
        if len(buffer) < total:
            return None
        raw = bytes(buffer[:total])
        del buffer[:total]
        return pdu_type, raw


def _unknown_type(pdu_type: int) -> PDUError:
    return PDUError(f"unrecognized PDU type 0x{pdu_type:02x}", pdu_type)
