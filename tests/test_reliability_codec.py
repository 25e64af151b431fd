"""Codec fuzzing: random and mutated bytes through dul's whole receive path (framer,
decoder, state machines, reassembly, command decoder, debug dumps) as echoscp and
echoscu run it. Only our own protocol errors may come out; no length field makes us
allocate before its bytes arrive; the nasty cases found are kept in tests/corpus/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.reliability import CORPUS, SCRIPTS, dulfeed, loadgen, scaled

from dul import association, dimse, pdu
from dul.fragment import FragmentError, MessageAssembler

SAMPLES = loadgen.sample_pdus()
REQUEST = SAMPLES[0]
ACCEPT = SAMPLES[2]

mutated = st.tuples(st.sampled_from(SAMPLES), st.randoms(use_true_random=False),
                    st.integers(1, 4))


def _mutate(case: tuple) -> bytes:
    raw, rng, rounds = case
    for _ in range(rounds):
        raw = loadgen.mutate(rng, raw)
    return raw


piece = st.one_of(st.binary(max_size=200), st.sampled_from(SAMPLES), mutated.map(_mutate))
stream = st.lists(piece, min_size=1, max_size=6).map(b"".join)
fuzz = settings(max_examples=scaled(400), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _events_are_ours(events: list[str]) -> None:
    known = {"AssociationRequested", "AssociationAccepted", "AssociationRejected",
             "MessageReceived", "EchoRequested", "EchoAnswered", "ReleaseRequested",
             "ReleaseConfirmed", "Aborted",
             "ConnectionClosed"}
    for name in events:
        assert name in known or name.startswith("ProtocolViolation: "), name
    assert events and events[-1] == "ConnectionClosed" and events.count("ConnectionClosed") == 1


# --------------------------------------------------------------------------- hypothesis


@pytest.mark.stress
@fuzz
@given(stream, st.booleans(), st.integers(1, 300))
def test_acceptor_path_survives_any_bytes(data: bytes, associate_first: bool, step: int):
    """What echoscp does with received bytes ends in events, never in an exception,
    and does not depend on how the bytes were split into reads."""
    data = REQUEST + data if associate_first else data
    events = dulfeed.feed_acceptor(data, step)
    _events_are_ours(events)
    assert dulfeed.feed_acceptor(data) == events


@pytest.mark.stress
@fuzz
@given(stream, st.booleans(), st.integers(1, 300))
def test_requestor_path_survives_any_bytes(data: bytes, accepted_first: bool, step: int):
    """The same for what echoscu reads after its A-ASSOCIATE-RQ."""
    data = ACCEPT + data if accepted_first else data
    events = dulfeed.feed_requestor(data, step)
    _events_are_ours(events)
    assert dulfeed.feed_requestor(data) == events


commands = st.one_of(
    st.binary(max_size=120),
    st.tuples(st.sampled_from([dimse.echo_rq(5), dimse.echo_rsp(5, 0xC000)]),
              st.randoms(use_true_random=False), st.integers(1, 3)).map(_mutate),
)


@pytest.mark.stress
@fuzz
@given(commands)
def test_command_decoder_raises_only_dimse_error(raw: bytes):
    try:
        values = dimse.decode_command(raw)
    except dimse.DIMSEError:
        values = None
    assert isinstance(dimse.command_has_dataset(raw), bool)
    if values is not None:
        assert all(isinstance(tag, int) and 0 <= tag <= 0xFFFF for tag in values)


fragments = st.lists(
    st.tuples(st.sampled_from([1, 3]), st.booleans(), st.booleans(),
              st.one_of(st.just(b""), st.binary(max_size=40),
                        st.sampled_from([dimse.echo_rq(1), dimse.echo_rq(1)[:-2] + b"\2\0"]))),
    max_size=40)


@pytest.mark.stress
@fuzz
@given(fragments)
def test_reassembly_raises_only_fragment_error(pieces):
    assembler = MessageAssembler(max_command_length=256, max_dataset_length=256)
    for context_id, is_command, is_last, data in pieces:
        try:
            message = assembler.add(pdu.PDV(context_id, is_command, is_last, data))
        except FragmentError:
            assembler = MessageAssembler(max_command_length=256, max_dataset_length=256)
            continue
        if message is not None:
            assert len(message[1]) <= 256 and (message[2] is None or len(message[2]) <= 256)


# --------------------------------------------------------------------------- allocation


def _peak_while(action) -> int:
    """Bytes allocated at the peak while ``action()`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("pdu_type", sorted(pdu.PDU_NAMES))
@pytest.mark.parametrize("claim", [0xFFFFFFFF, 0x7FFFFFFF, 1 << 20])
def test_a_length_claim_allocates_nothing(pdu_type: int, claim: int):
    """A header alone, however large its claim, costs no more than a few bytes, both
    when it is refused at once and when its (bounded) body is being waited for."""
    header = bytes((pdu_type, 0)) + claim.to_bytes(4, "big")
    machine = association.Acceptor(16382)

    def feed() -> None:
        machine.receive_data(header)
        event = machine.next_event()
        assert event is None or isinstance(event, association.ProtocolViolation)

    assert _peak_while(feed) < 4096


def test_inner_length_claims_allocate_nothing():
    """PDV, item and element lengths claiming up to 4 GiB are refused without allocating."""
    pdv = pdu.encode(pdu.PDataTF([pdu.PDV(1, True, True, b"abc")]))
    lying_pdv = pdv[:6] + b"\xff\xff\xff\xff" + pdv[10:]
    lying_item = REQUEST[:74] + b"\xff\xff" + REQUEST[76:]
    lying_element = b"\x00\x00\x02\x09\xff\xff\xff\xff" + b"x" * 8

    def refuse_all() -> None:
        for raw in (lying_pdv, lying_item):
            with pytest.raises(pdu.PDUError):
                pdu.decode(raw)
        with pytest.raises(dimse.DIMSEError):
            dimse.decode_command(lying_element)

    assert _peak_while(refuse_all) < 16384


def test_empty_fragments_hold_no_memory():
    """Regression: empty command fragments that never end a message used to be kept,
    8 bytes each, so a peer could grow our memory without limit until -td fired."""
    machine = association.Acceptor(16382)
    machine.receive_data(REQUEST)
    assert isinstance(machine.next_event(), association.AssociationRequested)
    machine.accept(pdu.AssociateAC("ANY-SCP", "LOADGEN", [pdu.PresentationContextAC(
        1, 0, "1.2.840.10008.1.2")], pdu.UserInformation(max_pdu=16382)))
    empty = (2).to_bytes(4, "big") + b"\x01\x01"
    flood = b"\x04\x00" + (6 * 2700).to_bytes(4, "big") + empty * 2700

    def feed() -> None:
        for _ in range(10):  # 27 000 fragments: 216 KB before the fix
            machine.receive_data(flood)
            assert machine.next_event() is None

    tracemalloc.start()
    try:
        feed()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 64 * 1024
    assert machine.state == "Sta6"


def test_messages_before_a_bad_fragment_can_still_be_answered():
    """Regression: the machine entered Sta13 before delivering the messages that came
    before a bad fragment in the same PDU, so echoscp's answer hit a StateError."""
    machine = association.Acceptor(16382)
    machine.receive_data(REQUEST)
    machine.next_event()
    machine.accept(pdu.AssociateAC("ANY-SCP", "LOADGEN", [pdu.PresentationContextAC(
        1, 0, "1.2.840.10008.1.2")], pdu.UserInformation(max_pdu=16382)))
    machine.max_send_pdu = 40  # small peer max PDU: answers go through send_message
    machine.receive_data(pdu.encode(pdu.PDataTF([
        pdu.PDV(1, True, True, dimse.echo_rq(1)),
        pdu.PDV(1, True, True, dimse.echo_rq(2)),
        pdu.PDV(1, False, True, b"stray data"),
    ])))
    for message_id in (1, 2):
        event = machine.next_event()
        assert isinstance(event, association.MessageReceived)
        assert machine.state == "Sta6"
        assert machine.send_message(1, dimse.echo_rsp(message_id, 0))
    event = machine.next_event()
    assert isinstance(event, association.ProtocolViolation)
    assert machine.state == "Sta13"


# --------------------------------------------------------------------------- corpus


CASES = json.loads((CORPUS / "cases.json").read_text())


def test_corpus_files_and_cases_agree():
    assert sorted(CASES) == sorted(path.stem for path in CORPUS.glob("*.bin"))
    assert all(case["what"] for case in CASES.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name: str):
    """Each kept case still gives exactly the outcome it gave when it was found fixed,
    whichever way its bytes are split into reads."""
    case = CASES[name]
    data = (CORPUS / f"{name}.bin").read_bytes()
    assert dulfeed.frame_and_decode(data) == case["pdus"]
    for step in (1, 7, 4096, len(data)):
        assert dulfeed.feed_acceptor(data, step) == case["acceptor"]
        assert dulfeed.feed_requestor(data, step) == case["requestor"]


# --------------------------------------------------------------------------- atheris


@pytest.mark.stress
@pytest.mark.timeout(180)
def test_atheris_bounded_run(tmp_path):
    """Coverage-guided fuzzing (libFuzzer through atheris) seeded with the corpus."""
    pytest.importorskip("atheris", reason="atheris is not installed")
    work = tmp_path / "corpus"
    shutil.copytree(CORPUS, work, ignore=shutil.ignore_patterns("*.json", "*.md"))
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "fuzz_dul"), f"-max_total_time={scaled(8)}",
         f"-artifact_prefix={tmp_path}/", "-max_len=8192", str(work)],
        capture_output=True, text=True, timeout=170, check=False)
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    assert result.returncode == 0 and not crashes, (crashes, result.stderr[-4000:])
    assert "Done" in result.stderr
