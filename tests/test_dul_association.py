"""dul.association: requestor and acceptor state machines, fed in memory."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dul import dimse, echo_rq_pdu
from dul.association import (
    Aborted,
    Acceptor,
    AssociationAccepted,
    AssociationRejected,
    AssociationRequested,
    ConnectionClosed,
    EchoAnswered,
    EchoRequested,
    MessageReceived,
    ProtocolViolation,
    ReleaseConfirmed,
    ReleaseRequested,
    Requestor,
    StateError,
)
from dul.fragment import MaxPDUTooSmallError
from dul.pdu import (
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    PresentationContextAC,
    PresentationContextRQ,
    ReleaseRP,
    ReleaseRQ,
    UserInformation,
    decode,
    encode,
)

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"
RQ = AssociateRQ(
    "ANY-SCP",
    "ECHOSCU",
    [PresentationContextRQ(1, VERIFICATION, [IMPLICIT])],
    UserInformation(16384, "1.2.3", "US"),
)
AC = AssociateAC(
    "ANY-SCP",
    "ECHOSCU",
    [PresentationContextAC(1, 0, IMPLICIT)],
    UserInformation(16382, "1.2.4", "THEM"),
)
SAMPLES = {
    0x01: encode(RQ),
    0x02: encode(AC),
    0x03: encode(AssociateRJ(1, 1, 1)),
    0x04: echo_rq_pdu(1, 1),
    0x05: encode(ReleaseRQ()),
    0x06: encode(ReleaseRP()),
    0x07: encode(Abort(2, 6)),
}


def events(machine, data: bytes = b"") -> list:
    """Feed ``data`` (if any) and drain every event now available."""
    if data:
        machine.receive_data(data)
    found = []
    while (event := machine.next_event()) is not None:
        found.append(event)
    return found


def requestor_in(state: str) -> Requestor:
    """A requestor brought to ``state`` by the normal calls and PDUs."""
    machine = Requestor(RQ, 16384)
    if state == "Sta4":
        return machine
    machine.start()
    if state == "Sta5":
        return machine
    assert [type(e) for e in events(machine, SAMPLES[0x02])] == [AssociationAccepted]
    if state == "Sta6":
        return machine
    if state == "Sta8":
        assert events(machine, SAMPLES[0x05]) == [ReleaseRequested()]
        return machine
    if state == "Sta13":
        machine.abort()
        return machine
    machine.release()
    if state == "Sta7":
        return machine
    assert events(machine, SAMPLES[0x05]) == [ReleaseRequested()]
    if state == "Sta9":
        return machine
    machine.release_response()
    assert state == "Sta11"
    return machine


def acceptor_in(state: str) -> Acceptor:
    """An acceptor brought to ``state`` by the normal calls and PDUs."""
    machine = Acceptor(16384)
    if state == "Sta2":
        return machine
    assert [type(e) for e in events(machine, SAMPLES[0x01])] == [AssociationRequested]
    if state == "Sta3":
        return machine
    if state == "Sta13":
        machine.reject(AssociateRJ(1, 1, 1))
        return machine
    machine.accept(AC)
    if state == "Sta6":
        return machine
    if state == "Sta8":
        assert events(machine, SAMPLES[0x05]) == [ReleaseRequested()]
        return machine
    machine.release()
    if state == "Sta7":
        return machine
    assert events(machine, SAMPLES[0x05]) == [ReleaseRequested()]
    if state == "Sta10":
        return machine
    assert events(machine, SAMPLES[0x06]) == [ReleaseConfirmed()]
    assert state == "Sta12"
    return machine


REQUESTOR_STATES = ["Sta4", "Sta5", "Sta6", "Sta7", "Sta8", "Sta9", "Sta11", "Sta13"]
ACCEPTOR_STATES = ["Sta2", "Sta3", "Sta6", "Sta7", "Sta8", "Sta10", "Sta12", "Sta13"]

#: (role, state, PDU type) -> (event type, next state) for every PDU a state accepts
#: (written from PS3.8 table 9-10, independently of the implementation's table)
ALLOWED = {
    ("requestor", "Sta5", 0x02): (AssociationAccepted, "Sta6"),
    ("requestor", "Sta5", 0x03): (AssociationRejected, "Sta1"),
    ("requestor", "Sta6", 0x04): (MessageReceived, "Sta6"),
    ("requestor", "Sta6", 0x05): (ReleaseRequested, "Sta8"),
    ("requestor", "Sta7", 0x04): (MessageReceived, "Sta7"),
    ("requestor", "Sta7", 0x05): (ReleaseRequested, "Sta9"),
    ("requestor", "Sta7", 0x06): (ReleaseConfirmed, "Sta1"),
    ("requestor", "Sta11", 0x06): (ReleaseConfirmed, "Sta1"),
    ("acceptor", "Sta2", 0x01): (AssociationRequested, "Sta3"),
    ("acceptor", "Sta6", 0x04): (EchoRequested, "Sta6"),
    ("acceptor", "Sta6", 0x05): (ReleaseRequested, "Sta8"),
    ("acceptor", "Sta7", 0x04): (EchoRequested, "Sta7"),
    ("acceptor", "Sta7", 0x05): (ReleaseRequested, "Sta10"),
    ("acceptor", "Sta7", 0x06): (ReleaseConfirmed, "Sta1"),
    ("acceptor", "Sta10", 0x06): (ReleaseConfirmed, "Sta12"),
}

CASES = [("requestor", s, t) for s in REQUESTOR_STATES for t in SAMPLES] + [
    ("acceptor", s, t) for s in ACCEPTOR_STATES for t in SAMPLES
]


def _machine(role: str, state: str):
    machine = requestor_in(state) if role == "requestor" else acceptor_in(state)
    assert machine.state == state
    return machine


@pytest.mark.parametrize("role, state, pdu_type", CASES)
def test_every_pdu_in_every_state(role: str, state: str, pdu_type: int) -> None:
    """Allowed PDUs give their event; A-ABORT gives Aborted; in Sta13 input is ignored;
    anything else is a ProtocolViolation (unexpected PDU) and leaves the machine in Sta13."""
    machine = _machine(role, state)
    found = events(machine, SAMPLES[pdu_type])
    if state == "Sta13":
        assert found == [] and machine.state == "Sta13"
    elif (role, state, pdu_type) in ALLOWED:
        kind, next_state = ALLOWED[(role, state, pdu_type)]
        assert [type(e) for e in found] == [kind]
        assert machine.state == next_state
    elif pdu_type == 0x07:
        assert found == [Aborted(2, 6)] and machine.state == "Sta1"
    else:
        assert len(found) == 1 and isinstance(found[0], ProtocolViolation)
        error = found[0]
        assert error.pdu_type == pdu_type and error.abort_reason == 2
        assert error.raw == SAMPLES[pdu_type]
        assert f"in state {state}" in str(error.error)
        assert machine.state == "Sta13"
        assert events(machine, SAMPLES[0x04]) == []  # deaf from now on
        assert machine.abort(2, 2) == bytes.fromhex("07000000000400000202")


def test_the_production_table_is_this_oracle() -> None:
    """dul's transition table gives, for every received PDU, the next state above:
    the allowed rows, A-ABORT to Sta1, nothing in Sta13 (deaf), no row otherwise."""
    from dul._state import TRANSITIONS

    for role, states in (("requestor", REQUESTOR_STATES), ("acceptor", ACCEPTOR_STATES)):
        for state in states:
            for pdu_type in SAMPLES:
                if state == "Sta13":
                    expected = None
                elif (role, state, pdu_type) in ALLOWED:
                    expected = ALLOWED[(role, state, pdu_type)][1]
                else:
                    expected = "Sta1" if pdu_type == 0x07 else None
                assert TRANSITIONS[role][state].get(pdu_type) == expected, (role, state, pdu_type)


@pytest.mark.parametrize(
    "role, state",
    [("requestor", s) for s in REQUESTOR_STATES] + [("acceptor", s) for s in ACCEPTOR_STATES],
)
def test_connection_closed_in_every_state(role: str, state: str) -> None:
    machine = _machine(role, state)
    machine.receive_data(SAMPLES[0x04][:20])  # a partial PDU is dropped with the connection
    machine.receive_data(b"")
    assert events(machine) == [ConnectionClosed()]
    assert machine.state == "Sta1"
    machine.receive_data(SAMPLES[0x04])
    assert events(machine) == []


def test_whole_pdus_come_before_the_close() -> None:
    machine = requestor_in("Sta7")
    machine.receive_data(SAMPLES[0x06])
    machine.receive_data(b"")
    assert events(machine) == [ReleaseConfirmed(), ConnectionClosed()]


def _converse(chunk: int) -> tuple[list, list]:
    """A whole echo association between the two machines, bytes cut into ``chunk``s."""
    requestor, acceptor = Requestor(RQ, 16384), Acceptor(16384)
    seen_r, seen_a = [], []

    def deliver(machine, data: bytes, seen: list) -> None:
        for start in range(0, len(data), chunk):
            seen.extend(events(machine, data[start : start + chunk]))

    deliver(acceptor, requestor.start(), seen_a)
    deliver(requestor, acceptor.accept(AC), seen_r)
    for message_id in (1, 2):
        deliver(acceptor, requestor.send_message(1, dimse.echo_rq(message_id)), seen_a)
        deliver(requestor, acceptor.send_message(1, dimse.echo_rsp(message_id, 0)), seen_r)
    deliver(acceptor, requestor.release(), seen_a)
    deliver(requestor, acceptor.release_response(), seen_r)
    requestor.receive_data(b"")
    acceptor.receive_data(b"")
    seen_r.extend(events(requestor))
    seen_a.extend(events(acceptor))
    assert requestor.state == acceptor.state == "Sta1"
    return seen_r, seen_a


@pytest.mark.parametrize("chunk", [1, 3, 80, 1 << 20])
def test_normal_flow_any_chunking(chunk: int) -> None:
    seen_r, seen_a = _converse(chunk)
    assert seen_a == [
        AssociationRequested(RQ, SAMPLES[0x01]),
        EchoRequested(1, dimse.echo_rq(1), 1),
        EchoRequested(1, dimse.echo_rq(2), 2),
        ReleaseRequested(),
        ConnectionClosed(),
    ]
    assert seen_r == [
        AssociationAccepted(AC, SAMPLES[0x02]),
        EchoAnswered(1, dimse.echo_rsp(1, 0), 1, 0),
        EchoAnswered(1, dimse.echo_rsp(2, 0), 2, 0),
        ReleaseConfirmed(),
        ConnectionClosed(),
    ]


def test_negotiated_sizes() -> None:
    requestor = requestor_in("Sta6")
    assert requestor.max_send_pdu == 16382 and requestor.max_receive_pdu == 16384
    assert requestor.ac == AC and requestor.rq == RQ
    acceptor = acceptor_in("Sta6")
    assert acceptor.max_send_pdu == 16384
    assert acceptor.rq == RQ and acceptor.ac == AC


def test_data_then_release_in_one_chunk_keeps_order() -> None:
    machine = acceptor_in("Sta6")
    found = events(machine, echo_rq_pdu(1, 5) + SAMPLES[0x05])
    assert found == [EchoRequested(1, dimse.echo_rq(5), 5), ReleaseRequested()]
    assert machine.state == "Sta8"
    machine.send_message(1, dimse.echo_rsp(5, 0))  # still allowed in Sta8 (PS3.8 AR-7)


def test_two_messages_in_one_pdu_and_a_bad_fragment_after_them() -> None:
    machine = acceptor_in("Sta6")
    pdu = encode(
        PDataTF(
            [
                PDV(1, True, True, dimse.echo_rq(1)),
                PDV(1, True, True, dimse.echo_rq(2)),
                PDV(1, False, True, b"data with no command"),
            ]
        )
    )
    found = events(machine, pdu)
    assert found[:2] == [
        EchoRequested(1, dimse.echo_rq(1), 1),
        EchoRequested(1, dimse.echo_rq(2), 2),
    ]
    assert isinstance(found[2], ProtocolViolation) and found[2].abort_reason == 6
    assert "before any command" in str(found[2].error)
    assert machine.state == "Sta13"


def test_message_with_data_set() -> None:
    requestor, acceptor = requestor_in("Sta6"), acceptor_in("Sta6")
    requestor.max_send_pdu = 40
    command = dimse.echo_rq(1)[:-2] + b"\x02\x00"
    data = requestor.send_message(3, command, b"x" * 100)
    assert events(acceptor, data) == [MessageReceived(3, command, b"x" * 100)]


def test_peer_max_pdu_too_small() -> None:
    small = AssociateAC("ANY-SCP", "ECHOSCU", AC.contexts, UserInformation(12))
    machine = Requestor(RQ, 16384)
    machine.start()
    events(machine, encode(small))
    assert machine.max_send_pdu == 12
    with pytest.raises(MaxPDUTooSmallError):
        machine.send_message(1, dimse.echo_rq(1))
    machine.max_send_pdu = 4096  # the driver may apply DCMTK's fallback instead
    assert decode(machine.send_message(1, dimse.echo_rq(1))).pdvs[0].data == dimse.echo_rq(1)


def test_missing_max_length_means_unlimited() -> None:
    machine = Requestor(RQ, 16384)
    machine.start()
    events(machine, encode(AssociateAC("A", "B", AC.contexts)))
    assert machine.max_send_pdu == 0
    assert len(machine.send_message(1, b"c" * 100_000)) == 100_012


def test_unrecognized_pdu_type() -> None:
    machine = requestor_in("Sta5")
    found = events(machine, b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00")
    assert len(found) == 1 and isinstance(found[0], ProtocolViolation)
    assert found[0].pdu_type == 0x09 and found[0].abort_reason == 1
    assert found[0].raw == b"\x09\x00\x00\x00\x00\x04"
    assert machine.state == "Sta13"


def test_lying_length_is_refused_before_the_body() -> None:
    machine = acceptor_in("Sta6")
    found = events(machine, b"\x04\x00\xff\xff\xff\xff")
    assert len(found) == 1 and isinstance(found[0], ProtocolViolation)
    assert "exceeds the limit" in str(found[0].error) and found[0].abort_reason == 6
    machine = acceptor_in("Sta2")
    assert isinstance(events(machine, b"\x01\x00\x00\x20\x00\x00")[0], ProtocolViolation)


def test_malformed_accept_is_a_protocol_error() -> None:
    machine = requestor_in("Sta5")
    raw = bytearray(SAMPLES[0x02])
    raw[raw.index(b"\x52\x00\x00\x05") + 3] = 0xFF  # implementation class UID length lies
    found = events(machine, bytes(raw))
    assert len(found) == 1 and isinstance(found[0], ProtocolViolation)
    assert found[0].abort_reason == 6 and found[0].raw == bytes(raw)
    assert "A-ASSOCIATE-AC" in str(found[0].error)


def test_rejection() -> None:
    requestor, acceptor = requestor_in("Sta5"), acceptor_in("Sta3")
    data = acceptor.reject(AssociateRJ(1, 1, 3))
    assert acceptor.state == "Sta13"
    assert events(requestor, data) == [AssociationRejected(AssociateRJ(1, 1, 3), data)]
    assert requestor.state == "Sta1"


def test_release_collision_on_both_sides() -> None:
    requestor, acceptor = requestor_in("Sta6"), acceptor_in("Sta6")
    to_acceptor, to_requestor = requestor.release(), acceptor.release()
    assert events(requestor, to_requestor) == [ReleaseRequested()]
    assert events(acceptor, to_acceptor) == [ReleaseRequested()]
    assert (requestor.state, acceptor.state) == ("Sta9", "Sta10")
    with pytest.raises(StateError):
        acceptor.release_response()  # the acceptor answers only after the requestor's RP
    assert events(acceptor, requestor.release_response()) == [ReleaseConfirmed()]
    assert (requestor.state, acceptor.state) == ("Sta11", "Sta12")
    assert events(requestor, acceptor.release_response()) == [ReleaseConfirmed()]
    assert (requestor.state, acceptor.state) == ("Sta1", "Sta13")


@pytest.mark.parametrize(
    "call, states",
    [
        (lambda m: m.start(), {"Sta4"}),
        (lambda m: m.send_message(1, dimse.echo_rq(1)), {"Sta6", "Sta8"}),
        (lambda m: m.release(), {"Sta6"}),
        (lambda m: m.release_response(), {"Sta8", "Sta9"}),
        (lambda m: m.abort(), set(REQUESTOR_STATES) - {"Sta4"}),
    ],
)
def test_requestor_local_calls_checked(call, states) -> None:
    for state in REQUESTOR_STATES:
        machine = requestor_in(state)
        if state in states:
            assert isinstance(call(machine), bytes)
        else:
            with pytest.raises(StateError, match=f"in state {state}"):
                call(machine)


@pytest.mark.parametrize(
    "call, states",
    [
        (lambda m: m.accept(AC), {"Sta3"}),
        (lambda m: m.reject(AssociateRJ(1, 1, 1)), {"Sta3"}),
        (lambda m: m.send_message(1, dimse.echo_rsp(1, 0)), {"Sta6", "Sta8"}),
        (lambda m: m.release(), {"Sta6"}),
        (lambda m: m.release_response(), {"Sta8", "Sta12"}),
        (lambda m: m.abort(), set(ACCEPTOR_STATES)),
    ],
)
def test_acceptor_local_calls_checked(call, states) -> None:
    for state in ACCEPTOR_STATES:
        machine = acceptor_in(state)
        if state in states:
            assert isinstance(call(machine), bytes)
        else:
            with pytest.raises(StateError, match=f"in state {state}"):
                call(machine)


def test_abort_after_close_is_a_state_error() -> None:
    machine = requestor_in("Sta6")
    machine.receive_data(b"")
    events(machine)
    with pytest.raises(StateError, match="no connection"):
        machine.abort()


fuzz_stream = st.lists(
    st.one_of(
        st.sampled_from(list(SAMPLES.values())),
        st.binary(max_size=40),
        st.sampled_from(list(SAMPLES.values())).flatmap(
            lambda raw: st.integers(0, len(raw) - 1).flatmap(
                lambda at: st.integers(0, 255).map(
                    lambda value: raw[:at] + bytes((value,)) + raw[at + 1 :]
                )
            )
        ),
    ),
    max_size=6,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["requestor", "acceptor"]), fuzz_stream, st.integers(1, 64))
def test_fuzz_machines_never_raise(role: str, chunks: list[bytes], step: int) -> None:
    """Whatever a peer sends, the machines produce events, never exceptions."""
    machine = _machine(role, "Sta5" if role == "requestor" else "Sta2")
    stream = b"".join(chunks)
    for start in range(0, len(stream), step):
        events(machine, stream[start : start + step])
    machine.receive_data(b"")
    assert events(machine)[-1:] == [ConnectionClosed()]
    assert machine.state == "Sta1"


# --- trace records (-ll trace) ----------------------------------------------------------


def _steps(machine) -> list[tuple]:
    steps = [(t.state, t.event, t.action, None if t.raw is None else t.raw[0])
             for t in machine.trace]
    machine.trace.clear()
    return steps


def test_no_trace_records_unless_asked() -> None:
    machine = Requestor(RQ, 16384)
    machine.start()
    events(machine, SAMPLES[0x02])
    assert machine.trace is None


def test_trace_records_a_whole_association() -> None:
    machine = Requestor(RQ, 16384, trace=True)
    assert _steps(machine) == [("Sta1", 1, "AE-1", None)]
    machine.start()
    assert _steps(machine) == [("Sta4", 2, "AE-2", None)]
    events(machine, SAMPLES[0x02])
    assert _steps(machine) == [("Sta5", 3, "AE-3", 0x02)]
    machine.send_message(1, dimse.echo_rq(1))
    assert _steps(machine) == [("Sta6", 9, "DT-1", None)]
    events(machine, SAMPLES[0x04])
    assert _steps(machine) == [("Sta6", 10, "DT-2", 0x04)]
    machine.release()
    assert _steps(machine) == [("Sta6", 11, "AR-1", None)]
    events(machine, SAMPLES[0x06])
    assert _steps(machine) == [("Sta7", 13, "AR-3", 0x06)]


def test_trace_records_closes_timers_and_refused_headers() -> None:
    traced = Requestor(RQ, 16384, trace=True)
    traced.trace.clear()
    traced.receive_data(b"")  # the connection could not be opened
    assert events(traced) == [ConnectionClosed()]
    assert _steps(traced) == [("Sta4", 17, "AA-4", None)]

    traced = Requestor(RQ, 16384, trace=True)
    traced.start()
    traced.trace.clear()
    traced.timer_expired()
    assert _steps(traced) == [("Sta5", 18, "AA-2", None)] and traced.state == "Sta1"

    traced = Requestor(RQ, 16384, trace=True)
    traced.start()
    events(traced, SAMPLES[0x02])
    traced.trace.clear()
    assert [type(e) for e in events(traced, b"\x09\x00\x00\x00\x00\x04" + bytes(4))] == [
        ProtocolViolation]
    assert _steps(traced) == [("Sta6", None, None, 0x09)]
    traced.abort()  # recorded from Sta6: the refused header made no transition
    traced.receive_data(b"")
    events(traced)
    assert _steps(traced) == [("Sta6", 15, "AA-1", None), ("Sta13", 17, "AR-5", None)]


# --- the package's public face ------------------------------------------------------------


def test_every_public_name_resolves_and_the_package_costs_nothing() -> None:
    import subprocess
    import sys

    import dul as dul

    for name in dul.__all__:
        assert getattr(dul, name) is not None, name
    assert dul.ProtocolViolation is ProtocolViolation and dul.Requestor is Requestor
    code = ("import sys, dul.uids; "
            "print('dul.association' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- RequestMemo


def test_request_memo_decodes_a_repeated_request_once():
    from dul.association import RequestMemo

    memo = RequestMemo(size=2)
    first = events(Acceptor(16384, requests=memo), SAMPLES[0x01])[0]
    again = events(Acceptor(16384, requests=memo), bytes(SAMPLES[0x01]))[0]
    assert first.rq == RQ and again.rq is first.rq  # byte-identical: decoded once
    other = encode(AssociateRQ("ANY-SCP", "OTHER", RQ.contexts, RQ.user_info))
    changed = events(Acceptor(16384, requests=memo), other)[0]
    assert changed.rq.calling_ae == "OTHER" and len(memo) == 2


def test_request_memo_is_bounded_and_keeps_no_malformed_request():
    from dul.association import RequestMemo

    memo = RequestMemo(size=3, max_length=200)
    for n in range(10):
        memo.decode(encode(AssociateRQ("ANY-SCP", f"SCU{n}", RQ.contexts, RQ.user_info)))
    assert len(memo) == 3
    long = encode(AssociateRQ("ANY-SCP", "LONG", RQ.contexts * 4, RQ.user_info))
    assert len(long) > 200
    assert memo.decode(long).calling_ae == "LONG" and len(memo) == 3
    # an item of unknown type with a length running past the PDU's end
    body = SAMPLES[0x01][6:] + b"\xff\x00\x00\x09"
    broken = b"\x01\x00" + len(body).to_bytes(4, "big") + body
    fresh = RequestMemo()
    for _ in range(2):
        machine = Acceptor(16384, requests=fresh)
        [violation] = events(machine, broken)
        assert isinstance(violation, ProtocolViolation) and machine.state == "Sta13"
    assert len(fresh) == 0


def test_accept_with_an_encoded_answer_makes_the_same_transition():
    machine = acceptor_in("Sta3")
    assert machine.accept(AC, encode(AC)) == encode(AC)
    assert machine.state == "Sta6" and machine.ac == AC and machine.max_send_pdu == 16384
