"""dul.pdu: round trips, cross-checks with pynetdicom's PDU classes, and strictness."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dul.pdu import (
    PDU_NAMES,
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    AsyncOpsWindow,
    PDataTF,
    PDUError,
    PDUReader,
    PresentationContextAC,
    PresentationContextRQ,
    ReleaseRP,
    ReleaseRQ,
    RoleSelection,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
    decode,
    decode_text,
    encode,
)

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"

# ------------------------------------------------------------------ strategies (any bytes)


def _text_field(max_size: int, strip: bytes):
    """Text whose wire bytes are arbitrary but do not end in bytes the decoder strips."""
    raw = st.binary(max_size=max_size).filter(lambda b: not b or b[-1:] not in _split(strip))
    return raw.map(decode_text)


def _split(chars: bytes) -> list[bytes]:
    return [bytes((c,)) for c in chars]


any_ae = _text_field(16, b" \x00")
any_uid = _text_field(64, b" \x00")
nonempty_uid = any_uid.filter(bool)
byte = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)

user_info_any = st.builds(
    UserInformation,
    max_pdu=st.none() | st.integers(0, 0xFFFF_FFFF),
    implementation_class_uid=st.none() | any_uid,
    implementation_version_name=st.none() | _text_field(16, b"\x00"),
    async_ops_window=st.none() | st.builds(AsyncOpsWindow, u16, u16),
    role_selections=st.lists(st.builds(RoleSelection, any_uid, byte, byte), max_size=3),
    sop_class_extended=st.lists(
        st.builds(SOPClassExtendedNegotiation, any_uid, st.binary(max_size=20)), max_size=3
    ),
    sop_class_common_extended=st.lists(
        st.builds(
            SOPClassCommonExtendedNegotiation, any_uid, any_uid, st.lists(any_uid, max_size=3)
        ),
        max_size=3,
    ),
    user_identity_rq=st.none()
    | st.builds(UserIdentityRQ, byte, byte, st.binary(max_size=40), st.binary(max_size=40)),
    user_identity_ac=st.none() | st.builds(UserIdentityAC, st.binary(max_size=40)),
    unknown=st.lists(
        st.tuples(byte.filter(lambda t: not 0x51 <= t <= 0x59), st.binary(max_size=30)),
        max_size=3,
    ),
)

contexts_rq_any = st.lists(
    st.builds(PresentationContextRQ, byte, any_uid, st.lists(any_uid, min_size=1, max_size=5)),
    max_size=5,
)
context_ac_any = st.one_of(
    st.builds(PresentationContextAC, byte, st.just(0), nonempty_uid),
    st.builds(PresentationContextAC, byte, st.integers(1, 255), st.none() | any_uid),
)

rq_any = st.builds(AssociateRQ, any_ae, any_ae, contexts_rq_any, user_info_any, any_uid, u16)
ac_any = st.builds(
    AssociateAC, any_ae, any_ae, st.lists(context_ac_any, max_size=5), user_info_any, any_uid, u16
)
pdvs_any = st.lists(
    st.builds(PDV, byte, st.booleans(), st.booleans(), st.binary(max_size=40)),
    min_size=1,
    max_size=5,
)
any_pdu = st.one_of(
    rq_any,
    ac_any,
    st.builds(AssociateRJ, byte, byte, byte),
    st.builds(PDataTF, pdvs_any),
    st.just(ReleaseRQ()),
    st.just(ReleaseRP()),
    st.builds(Abort, byte, byte),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(any_pdu)
def test_round_trip_every_pdu_type(pdu) -> None:
    """encode -> decode gives the same values back, and the header is right."""
    raw = encode(pdu)
    assert raw[0] == pdu.pdu_type
    assert int.from_bytes(raw[2:6], "big") == len(raw) - 6
    assert decode(raw) == pdu


def test_ae_title_rules() -> None:
    """16 bytes blank padded, truncated; trailing blanks/NULs stripped, leading kept."""
    rq = AssociateRQ("ABCDEFGHIJKLMNOPQRSTUV", "  LEAD", [])
    raw = encode(rq)
    assert raw[10:26] == b"ABCDEFGHIJKLMNOP"
    assert raw[26:42] == b"  LEAD          "
    decoded = decode(raw)
    assert decoded.called_ae == "ABCDEFGHIJKLMNOP"
    assert decoded.calling_ae == "  LEAD"
    nul_padded = raw[:26] + b"ECHO\x00\x00\x00  \x00      " + raw[42:]
    assert decode(nul_padded).calling_ae == "ECHO"


def test_uids_have_their_exact_length_and_trailing_nul_is_stripped() -> None:
    rq = AssociateRQ("A", "B", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])])
    raw = encode(rq)
    assert b"\x30\x00\x00\x11" + VERIFICATION.encode() in raw  # 17 bytes, odd, no pad
    padded = raw.replace(
        b"\x30\x00\x00\x11" + VERIFICATION.encode(),
        b"\x30\x00\x00\x12" + VERIFICATION.encode() + b"\0",
    )
    padded = padded[:2] + (len(padded) - 6).to_bytes(4, "big") + padded[6:]
    padded = padded.replace(b"\x20\x00\x00\x2e", b"\x20\x00\x00\x2f")
    assert decode(padded).contexts[0].abstract_syntax == VERIFICATION


def test_fixed_pdus_match_dcmtk_bytes() -> None:
    """The byte strings DCMTK and pynetdicom send (docs/dcmtk-behaviour.md 5.8 and
    docs/pynetdicom-notes.md 4)."""
    assert encode(Abort(0, 0)).hex() == "07000000000400000000"
    assert encode(ReleaseRQ()).hex() == "05000000000400000000"
    assert encode(ReleaseRP()).hex() == "06000000000400000000"
    assert encode(AssociateRJ(2, 3, 2)).hex() == "03000000000400020302"


# ------------------------------------------------------------------ pynetdicom cross-checks

ascii_ae = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=16)
numeric_uid = st.lists(st.integers(0, 99999).map(str), min_size=2, max_size=8).map(".".join)
version_name = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=16)

user_info_pnd = st.builds(
    UserInformation,
    max_pdu=st.integers(0, 0xFFFF_FFFF),
    implementation_class_uid=numeric_uid,
    implementation_version_name=st.none() | version_name,
    async_ops_window=st.none() | st.builds(AsyncOpsWindow, u16, u16),
    role_selections=st.lists(
        st.builds(RoleSelection, numeric_uid, st.integers(0, 1), st.integers(0, 1)), max_size=2
    ),
    sop_class_extended=st.lists(
        st.builds(SOPClassExtendedNegotiation, numeric_uid, st.binary(min_size=1, max_size=8)),
        max_size=2,
    ),
    sop_class_common_extended=st.lists(
        st.builds(
            SOPClassCommonExtendedNegotiation,
            numeric_uid,
            numeric_uid,
            st.lists(numeric_uid, max_size=2),
        ),
        max_size=2,
    ),
)
rq_pnd = st.builds(
    AssociateRQ,
    ascii_ae,
    ascii_ae,
    st.lists(
        st.builds(
            PresentationContextRQ,
            st.integers(0, 127).map(lambda n: 2 * n + 1),
            numeric_uid,
            st.lists(numeric_uid, min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
    st.tuples(
        user_info_pnd,
        st.none()
        | st.builds(
            UserIdentityRQ,
            st.integers(1, 5),
            st.integers(0, 1),
            st.binary(min_size=1, max_size=20),
            st.binary(max_size=20),
        ),
    ).map(lambda pair: _with(pair[0], user_identity_rq=pair[1])),
)
ac_pnd = st.builds(
    AssociateAC,
    ascii_ae,
    ascii_ae,
    st.lists(
        st.builds(
            PresentationContextAC,
            st.integers(0, 127).map(lambda n: 2 * n + 1),
            st.integers(0, 4),
            numeric_uid,
        ),
        min_size=1,
        max_size=4,
    ),
    st.tuples(
        user_info_pnd, st.none() | st.builds(UserIdentityAC, st.binary(min_size=1, max_size=20))
    ).map(lambda pair: _with(pair[0], user_identity_ac=pair[1])),
)


def _with(info: UserInformation, **changes) -> UserInformation:
    for name, value in changes.items():
        setattr(info, name, value)
    return info


def _user_info_from_pynetdicom(item) -> UserInformation:
    from pynetdicom import pdu_items as items

    info = UserInformation()
    for sub in item.user_data:
        if isinstance(sub, items.MaximumLengthSubItem):
            info.max_pdu = sub.maximum_length_received
        elif isinstance(sub, items.ImplementationClassUIDSubItem):
            info.implementation_class_uid = str(sub.implementation_class_uid)
        elif isinstance(sub, items.ImplementationVersionNameSubItem):
            name = sub.implementation_version_name
            info.implementation_version_name = name.decode() if isinstance(name, bytes) else name
        elif isinstance(sub, items.AsynchronousOperationsWindowSubItem):
            info.async_ops_window = AsyncOpsWindow(
                sub.maximum_number_operations_invoked, sub.maximum_number_operations_performed
            )
        elif isinstance(sub, items.SCP_SCU_RoleSelectionSubItem):
            info.role_selections.append(RoleSelection(str(sub.uid), sub.scu_role, sub.scp_role))
        elif isinstance(sub, items.SOPClassExtendedNegotiationSubItem):
            info.sop_class_extended.append(
                SOPClassExtendedNegotiation(str(sub.sop_class_uid), sub.app_info)
            )
        elif isinstance(sub, items.SOPClassCommonExtendedNegotiationSubItem):
            info.sop_class_common_extended.append(
                SOPClassCommonExtendedNegotiation(
                    str(sub.sop_class_uid),
                    str(sub.service_class_uid),
                    [str(uid) for uid in sub.related_general_sop_class_identification],
                )
            )
        elif isinstance(sub, items.UserIdentitySubItemRQ):
            info.user_identity_rq = UserIdentityRQ(
                sub.user_identity_type,
                sub.positive_response_requested,
                sub.primary_field,
                sub.secondary_field or b"",
            )
        elif isinstance(sub, items.UserIdentitySubItemAC):
            info.user_identity_ac = UserIdentityAC(sub.server_response)
        else:
            raise AssertionError(f"unexpected pynetdicom sub-item {sub!r}")
    return info


def _from_pynetdicom(pnd) -> AssociateRQ | AssociateAC:
    """Our model of an A-ASSOCIATE-RQ/AC that pynetdicom decoded."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ

    if isinstance(pnd, A_ASSOCIATE_RQ):
        contexts = [
            PresentationContextRQ(
                item.context_id, str(item.abstract_syntax), [str(t) for t in item.transfer_syntax]
            )
            for item in pnd.presentation_context
        ]
        cls = AssociateRQ
    else:
        contexts = [
            PresentationContextAC(
                item.context_id,
                item.result,
                None if item.transfer_syntax is None else str(item.transfer_syntax),
            )
            for item in pnd.presentation_context
        ]
        cls = AssociateAC
    return cls(
        pnd.called_ae_title,
        pnd.calling_ae_title,
        contexts,
        _user_info_from_pynetdicom(pnd.user_information),
        str(pnd.application_context_name),
        pnd.protocol_version,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(rq_pnd, ac_pnd))
def test_pynetdicom_decodes_ours_and_encodes_the_same_bytes(pdu) -> None:
    """Our bytes decode in pynetdicom to the same values; pynetdicom's re-encoding of
    them is byte-identical, so its encoder's output decodes in ours too."""
    from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ

    raw = encode(pdu)
    theirs = (A_ASSOCIATE_RQ if isinstance(pdu, AssociateRQ) else A_ASSOCIATE_AC)()
    theirs.decode(raw)
    assert _from_pynetdicom(theirs) == pdu
    assert theirs.encode() == raw
    assert decode(theirs.encode()) == pdu


def _pynetdicom_associate(primitive_result: int | None):
    """An A_ASSOCIATE primitive as in the verified example of docs/pynetdicom-notes.md 4
    (RQ, or AC if result)."""
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
        SCP_SCU_RoleSelectionNegotiation,
        UserIdentityNegotiation,
    )
    from pynetdicom.presentation import build_context

    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = "CODECSCU"
    primitive.called_ae_title = "ANY-SCP"
    context = build_context(VERIFICATION, [IMPLICIT, "1.2.840.10008.1.2.1"])
    context.context_id = 1
    maximum = MaximumLengthNotification()
    maximum.maximum_length_received = 16382
    uid = ImplementationClassUIDNotification()
    uid.implementation_class_uid = PYNETDICOM_IMPLEMENTATION_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = PYNETDICOM_IMPLEMENTATION_VERSION
    primitive.user_information = [maximum, uid, version]
    if primitive_result is None:
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid = VERIFICATION
        role.scu_role = True
        role.scp_role = False
        identity = UserIdentityNegotiation()
        identity.user_identity_type = 2
        identity.primary_field = b"alice"
        identity.secondary_field = b"secret"
        identity.positive_response_requested = True
        primitive.user_information += [role, identity]
        primitive.presentation_context_definition_list = [context]
    else:
        primitive.result = primitive_result
        context.result = 0
        context.transfer_syntax = [IMPLICIT]
        primitive.presentation_context_definition_results_list = [context]
    return primitive


def test_pynetdicom_built_from_primitives_decodes_in_ours() -> None:
    """RQ/AC that pynetdicom builds from its service primitives decode to the right values."""
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION
    from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ

    rq = decode(A_ASSOCIATE_RQ(_pynetdicom_associate(None)).encode())
    assert (rq.called_ae, rq.calling_ae) == ("ANY-SCP", "CODECSCU")
    assert rq.contexts == [
        PresentationContextRQ(1, VERIFICATION, [IMPLICIT, "1.2.840.10008.1.2.1"])
    ]
    assert rq.user_info.max_pdu == 16382
    assert rq.user_info.implementation_class_uid == PYNETDICOM_IMPLEMENTATION_UID
    assert rq.user_info.implementation_version_name == PYNETDICOM_IMPLEMENTATION_VERSION
    assert rq.user_info.role_selections == [RoleSelection(VERIFICATION, 1, 0)]
    assert rq.user_info.user_identity_rq == UserIdentityRQ(2, 1, b"alice", b"secret")

    ac = decode(A_ASSOCIATE_AC(_pynetdicom_associate(0)).encode())
    assert ac.contexts == [PresentationContextAC(1, 0, IMPLICIT)]
    assert ac.user_info.max_pdu == 16382


def test_pynetdicom_fixed_pdus_decode_in_ours_and_back() -> None:
    from pynetdicom.pdu import (
        A_ABORT_RQ,
        A_ASSOCIATE_RJ,
        A_RELEASE_RP,
        A_RELEASE_RQ,
        P_DATA_TF,
    )
    from pynetdicom.pdu_primitives import A_ABORT, P_DATA

    assert decode(A_RELEASE_RQ().encode()) == ReleaseRQ()
    assert decode(A_RELEASE_RP().encode()) == ReleaseRP()
    primitive = A_ABORT()
    primitive.abort_source = 2
    assert decode(A_ABORT_RQ(primitive).encode()) == Abort(2, 0)
    data = P_DATA()
    data.presentation_data_value_list = [[3, b"\x03command"], [3, b"\x00data"]]
    assert decode(P_DATA_TF(data).encode()) == PDataTF(
        [PDV(3, True, True, b"command"), PDV(3, False, False, b"data")]
    )
    theirs = A_ASSOCIATE_RJ()
    theirs.decode(encode(AssociateRJ(1, 2, 7)))
    assert (theirs.result, theirs.source, theirs.reason_diagnostic) == (1, 2, 7)
    theirs = P_DATA_TF()
    theirs.decode(encode(PDataTF([PDV(5, False, True, b"xyz")])))
    assert [list(v) for v in theirs.to_primitive().presentation_data_value_list] == [
        [5, b"\x02xyz"]
    ]


# ------------------------------------------------------------------ strictness


def _valid_samples() -> list[bytes]:
    user_info = UserInformation(
        16384,
        "1.2.3",
        "NAME",
        AsyncOpsWindow(1, 1),
        [RoleSelection(VERIFICATION, 1, 1)],
        [SOPClassExtendedNegotiation(VERIFICATION, b"\x01")],
        [SOPClassCommonExtendedNegotiation(VERIFICATION, "1.2", ["1.3"])],
        UserIdentityRQ(1, 0, b"u", b""),
        UserIdentityAC(b"r"),
        [(0x77, b"?")],
    )
    return [
        encode(
            AssociateRQ("A", "B", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])], user_info)
        ),
        encode(AssociateAC("A", "B", [PresentationContextAC(1, 0, IMPLICIT)], user_info)),
        encode(AssociateRJ(1, 1, 1)),
        encode(PDataTF([PDV(1, True, True, b"abc"), PDV(1, False, True, b"")])),
        encode(ReleaseRQ()),
        encode(ReleaseRP()),
        encode(Abort(2, 6)),
    ]


@pytest.mark.parametrize("raw", _valid_samples(), ids=lambda raw: PDU_NAMES[raw[0]])
def test_every_truncation_is_a_pdu_error(raw: bytes) -> None:
    """Each proper prefix of a valid PDU, with its header fixed up or not, is refused."""
    for size in range(len(raw)):
        with pytest.raises(PDUError):
            decode(raw[:size])
        if size >= 6:
            fixed = raw[:2] + (size - 6).to_bytes(4, "big") + raw[6:size]
            try:
                decode(fixed)
            except PDUError:
                pass


def test_lying_item_length_names_the_item() -> None:
    raw = encode(AssociateAC("A", "B", [PresentationContextAC(1, 0, IMPLICIT)]))
    start = raw.index(b"\x21\x00")
    lying = raw[: start + 2] + (0x0100).to_bytes(2, "big") + raw[start + 4 :]
    with pytest.raises(
        PDUError, match="A-ASSOCIATE-AC: presentation context item length 256 exceeds remaining"
    ):
        decode(lying)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00", "unrecognized PDU type 0x09"),
        (b"\x04\x00\x00\x00\x00\x00", "P-DATA-TF: no PDV item"),
        (b"\x04\x00\x00\x00\x00\x05\x00\x00\x00\x01\x01", "PDV item length 1 is below 2"),
        (b"\x04\x00\x00\x00\x00\x04\x00\x00\x00\x00", "PDV item length 0 is below 2"),
        (b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x09\x01\x03", "PDV item length 9 exceeds"),
        (b"\x05\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00", "A-RELEASE-RQ: PDU length 5"),
        (b"\x07\x00\x00\x00\x00\x04\x00\x00\x00", "PDU length 4 does not match the 3 bytes"),
        (b"\x01\x00\x00\x00\x00\x02\x00\x01", "A-ASSOCIATE-RQ: fixed fields need 68 bytes"),
    ],
)
def test_malformed_pdus_are_refused_with_a_clear_message(raw: bytes, message: str) -> None:
    with pytest.raises(PDUError, match=message) as caught:
        decode(raw)
    assert caught.value.pdu_type == raw[0]


def test_structural_rules_of_associate_pdus() -> None:
    base = AssociateRQ("A", "B", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])])
    raw = encode(base)
    no_ts = raw.replace(
        b"\x40\x00\x00\x11" + IMPLICIT.encode(), b"\x41\x00\x00\x11" + IMPLICIT.encode()
    )
    with pytest.raises(PDUError, match="presentation context 1: no transfer syntax"):
        decode(no_ts)
    no_app = raw.replace(b"\x10\x00\x00\x15", b"\x11\x00\x00\x15")  # unknown item: skipped
    with pytest.raises(PDUError, match="no application context item"):
        decode(no_app)
    twice = encode(AssociateRQ("A", "B", [])) + encode(base)[74:]
    twice = twice[:2] + (len(twice) - 6).to_bytes(4, "big") + twice[6:]
    with pytest.raises(PDUError, match="more than one"):
        decode(twice)
    accepted_without_ts = encode(AssociateAC("A", "B", [PresentationContextAC(1, 0, None)]))
    with pytest.raises(PDUError, match="accepted without a transfer syntax"):
        decode(accepted_without_ts)
    bad_max = encode(AssociateRQ("A", "B", [], UserInformation(unknown=[(0x51, b"\x00\x00")])))
    with pytest.raises(PDUError, match="maximum length sub-item length 2, expected 4"):
        decode(bad_max)


def test_unknown_well_formed_items_are_skipped() -> None:
    """Tolerance: an unknown item type between the A-ASSOCIATE items is ignored."""
    base = AssociateRQ("A", "B", [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])])
    raw = encode(base)
    extra = b"\x66\x00\x00\x03xyz"
    body = raw[6:] + extra
    assert decode(raw[:2] + len(body).to_bytes(4, "big") + body) == base


# ------------------------------------------------------------------ PDUReader


def test_reader_frames_pdus_split_anywhere() -> None:
    stream = b"".join(_valid_samples())
    for step in (1, 2, 7, 64, len(stream)):
        reader = PDUReader(1 << 16)
        framed = []
        for start in range(0, len(stream), step):
            reader.feed(stream[start : start + step])
            while (item := reader.next()) is not None:
                framed.append(item)
        assert [raw for _, raw in framed] == _valid_samples()
        assert [kind for kind, _ in framed] == [raw[0] for raw in _valid_samples()]
        assert reader.buffered == 0


def test_reader_refuses_a_4_gib_claim_from_the_header_alone() -> None:
    for pdu_type in PDU_NAMES:
        reader = PDUReader(16384)
        reader.feed(bytes((pdu_type, 0)) + b"\xff\xff\xff\xff")
        with pytest.raises(PDUError, match="exceeds the limit") as caught:
            reader.next()
        assert caught.value.pdu_type == pdu_type


def test_reader_bounds() -> None:
    reader = PDUReader(100, max_association_length=200)
    reader.feed(b"\x04\x00\x00\x00\x00\x64")  # exactly 100: waits for the body
    assert reader.next() is None
    reader = PDUReader(100, max_association_length=200)
    reader.feed(b"\x04\x00\x00\x00\x00\x65")
    with pytest.raises(PDUError, match="P-DATA-TF: PDU length 101 exceeds the limit of 100"):
        reader.next()
    reader = PDUReader(100, max_association_length=200)
    reader.feed(b"\x02\x00\x00\x00\x00\xc9")
    with pytest.raises(PDUError, match="exceeds the limit of 200"):
        reader.next()


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x09, 0x10, 0xFF])
def test_reader_unknown_type_from_the_first_byte(pdu_type: int) -> None:
    reader = PDUReader(16384)
    reader.feed(bytes((pdu_type,)))
    with pytest.raises(PDUError) as caught:
        reader.next()
    assert caught.value.pdu_type == pdu_type
    assert f"{caught.value.pdu_type:02x}" == f"{pdu_type:02x}"


# ------------------------------------------------------------------ fuzz


def _mutations(raw: bytes):
    """Byte flips, insertions, deletions and truncations of a valid PDU."""
    position = st.integers(0, max(len(raw) - 1, 0))
    flip = st.tuples(position, byte).map(
        lambda pb: raw[: pb[0]] + bytes((pb[1],)) + raw[pb[0] + 1 :]
    )
    insert = st.tuples(position, st.binary(min_size=1, max_size=8)).map(
        lambda pb: raw[: pb[0]] + pb[1] + raw[pb[0] :]
    )
    delete = st.tuples(position, st.integers(1, 8)).map(
        lambda pn: raw[: pn[0]] + raw[pn[0] + pn[1] :]
    )
    return st.one_of(flip, insert, delete, position.map(lambda p: raw[:p]))


fuzz_input = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(_valid_samples()).flatmap(_mutations),
    any_pdu.map(encode).flatmap(_mutations),
    # mutations with a consistent header, so that the body parser is reached
    any_pdu.map(encode)
    .flatmap(_mutations)
    .filter(lambda raw: len(raw) >= 6)
    .map(lambda raw: raw[:2] + (len(raw) - 6).to_bytes(4, "big") + raw[6:]),
)


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz_input)
@example(b"\x01\x00\x00\x00\x00\x48" + bytes(68) + b"\x50\x00\x00\x04\x57\x00\x00\x00")
def test_fuzz_decode_raises_only_pdu_error_and_is_stable(raw: bytes) -> None:
    """Random and mutated input: decode returns a PDU or raises PDUError, nothing else;
    what it returns re-encodes to bytes that decode to the same values."""
    try:
        pdu = decode(raw)
    except PDUError:
        return
    assert decode(encode(pdu)) == pdu


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fuzz_input, max_size=4), st.integers(1, 50))
def test_fuzz_reader_raises_only_pdu_error(chunks: list[bytes], step: int) -> None:
    reader = PDUReader(512, max_association_length=1024)
    stream = b"".join(chunks)
    try:
        for start in range(0, len(stream), step):
            reader.feed(stream[start : start + step])
            while (item := reader.next()) is not None:
                pdu_type, raw = item
                assert raw[0] == pdu_type and len(raw) == int.from_bytes(raw[2:6], "big") + 6
    except PDUError:
        pass
