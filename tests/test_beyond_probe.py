"""--probe-sop and --check-find (issue #16 items 1 and 2) against real peers.

DCMTK's storescp accepts the storage classes and no query model; our echoscp accepts
only Verification (``-xi``: Implicit VR Little Endian only); a pynetdicom AE in this
process is the query SCP (N pending matches, then Success; or a refusal for calling
AE titles it does not know; ``support.queryscp``, the ``query_scp`` fixture). Every run
is bounded by the runner's timeout.
"""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from support.beyond import echoscu, validated

from dul import dimse
from echoscu.report import FAILURE_CLASSES

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
IMPLICIT, EXPLICIT = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"
FIND_REFUSED_CODE = FAILURE_CLASSES["find-refused"][0]
_FIND_OK = re.compile(r"Find: Success \(0x0000\), (\d+) match(es)?, [\d.]+ ms")


# --- the codec against pydicom (the oracle) --------------------------------------------


def test_find_rq_command_set_reads_back_in_pydicom() -> None:
    from pydicom.filereader import read_dataset

    command = read_dataset(BytesIO(dimse.find_rq(7, STUDY_ROOT_FIND)), True, True)
    assert command.AffectedSOPClassUID == STUDY_ROOT_FIND
    assert (command.CommandField, command.MessageID, command.Priority,
            command.CommandDataSetType) == (0x0020, 7, 0, 0)
    assert command.CommandGroupLength == len(dimse.find_rq(7, STUDY_ROOT_FIND)) - 12


@pytest.mark.parametrize("implicit", [True, False])
def test_identifier_round_trip(implicit: bool) -> None:
    from pydicom.filereader import read_dataset

    from echoscu.query import fresh_uid, identifier

    uid = fresh_uid()
    assert uid.startswith("2.25.") and len(uid) <= 64
    query = read_dataset(BytesIO(identifier(uid, implicit)), implicit, True)
    assert (query.QueryRetrieveLevel, query.StudyInstanceUID, query.StudyDate) == \
        ("STUDY", uid, "")


# --- the command line ------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--probe-sop", "NoSuchImageStorage"], "unknown SOP class keyword 'NoSuchImageStorage'"),
    (["--probe-sop", "ExplicitVRLittleEndian"],
     "unknown SOP class keyword 'ExplicitVRLittleEndian'"),
    (["--probe-sop", "CTImageStorage:Bogus"], "unknown transfer syntax keyword 'Bogus'"),
    (["--probe-sop", "CTImageStorage:"], "empty transfer syntax in 'CTImageStorage:'"),
    (["--probe-sop", "storage", "--probe-sop", "qr", "-ppc", "110"],
     "too many presentation contexts (129, at most 128): fewer --propose-pc or --probe-sop"),
])
def test_bad_probe_is_a_dcmtk_error_block(args: list[str], message: str) -> None:
    result = echoscu(*args, HOST, "104")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.endswith(f"\nerror: {message}\n"), result.stderr


def test_contexts_follow_verification_in_the_request(storescp) -> None:
    """-ppc 2: Verification on 1 and 3; probes 5, 7; the FIND context 9 (debug dump)."""
    peer = storescp()
    result = echoscu("-d", "-ppc", "2", "--probe-sop", "CTImageStorage:ExplicitVRLittleEndian",
                     "--probe-sop", "MRImageStorage", "--check-find", "--json", HOST,
                     str(peer.port))
    document = validated(result.stdout)
    proposed = re.findall(r"Context ID:\s+(\d+) \(Proposed\)\nD:\s+Abstract Syntax: =(\S+)",
                          result.stderr)
    assert proposed[:5] == [("1", "VerificationSOPClass"), ("3", "VerificationSOPClass"),
                            ("5", "CTImageStorage"), ("7", "MRImageStorage"),
                            ("9", "StudyRootQueryRetrieveInformationModelFind")], proposed
    assert document["association"]["context_id"] == 1
    assert [probe["context_id"] for probe in document["probes"]] == [5, 7]
    assert document["probes"][0]["proposed_transfer_syntaxes"] == [EXPLICIT]
    assert document["probes"][1]["proposed_transfer_syntaxes"] == [IMPLICIT, EXPLICIT]
    assert document["find"]["context_id"] == 9


# --- probes ----------------------------------------------------------------------------


def test_storescp_takes_ct(storescp) -> None:
    peer = storescp()
    result = echoscu("--probe-sop", "CTImageStorage", "--probe-sop", "1.2.3.4", HOST,
                     str(peer.port))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # DCMTK's own lines unchanged: nothing at the default level
    assert result.stdout.splitlines() == [
        f"Probe: CTImageStorage ({CT}): accepted, Explicit VR Little Endian",
        "Probe: 1.2.3.4 (1.2.3.4): abstract syntax not supported",
    ]


def test_storage_set_json(storescp) -> None:
    peer = storescp()
    result = echoscu("--json", "--probe-sop", "storage:ImplicitVRLittleEndian", HOST,
                     str(peer.port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    probes = document["probes"]
    keywords = [probe["sop_class_keyword"] for probe in probes]
    assert keywords[:3] == ["CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage"]
    assert "UltrasoundImageStorage" in keywords and len(probes) == 13
    assert all(probe["accepted"] and probe["result"] == 0 and probe["result_text"] == "accepted"
               and probe["transfer_syntax"] == IMPLICIT
               and probe["transfer_syntax_name"] == "Implicit VR Little Endian"
               for probe in probes), probes
    assert document["outcome"] == "success" and document["find"] is None


def test_echoscp_supports_only_verification(scp) -> None:
    """Our echoscp with -xi: CT is not supported; Verification itself only in Implicit LE."""
    server = scp("-xi")
    result = echoscu("--exit-codes", "detailed", "--probe-sop", "CTImageStorage",
                     "--probe-sop", "Verification:ExplicitVRLittleEndian",
                     "--probe-sop", "Verification", HOST, str(server.port))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Probe: CTImageStorage ({CT}): abstract syntax not supported",
        "Probe: Verification (1.2.840.10008.1.1): transfer syntaxes not supported",
        "Probe: Verification (1.2.840.10008.1.1): accepted, Implicit VR Little Endian",
    ]


# --- the C-FIND ------------------------------------------------------------------------


@pytest.mark.parametrize("matches", [0, 2])
def test_find_answered(query_scp, matches: int) -> None:
    scp = query_scp(matches=matches)
    result = echoscu("-v", "--check-find", HOST, str(scp.port))
    assert result.returncode == 0, result.stderr
    found = _FIND_OK.fullmatch(result.stdout.rstrip("\n"))
    assert found and int(found[1]) == matches, result.stdout
    assert "I: Sending Find Request (MsgID 2)" in result.stderr
    assert f"I: Received Final Find Response (Success, {matches} matches)" in result.stderr
    (query,) = scp.queries
    assert query.QueryRetrieveLevel == "STUDY"
    assert query.StudyInstanceUID.startswith("2.25.")
    assert "StudyDate" in query


def test_find_json(query_scp) -> None:
    scp = query_scp(matches=2)
    result = echoscu("--json", "--repeat", "3", "--check-find", HOST, str(scp.port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    find = document["find"]
    assert find["outcome"] == "answered"
    assert (find["status"], find["status_text"], find["matches"]) == (0, "Success", 2)
    assert find["message_id"] == 4 and find["context_id"] == 3
    assert find["transfer_syntax"] in (IMPLICIT, EXPLICIT)
    assert find["rtt_ms"] > 0 and "find" in document["timings_ms"]
    assert document["failure"] is None


def test_find_refused_by_calling_aet(query_scp) -> None:
    scp = query_scp(allowed_calling="VIEWER")
    allowed = echoscu("-aet", "VIEWER", "--check-find", HOST, str(scp.port))
    assert allowed.returncode == 0 and allowed.stdout.startswith("Find: Success"), allowed
    refused = echoscu("--check-find", HOST, str(scp.port))
    assert refused.returncode == 1
    assert refused.stdout == ("Find: refused: C-FIND answered with status 0xc000 "
                              "(Failed: Unable to process)\n")
    assert refused.stderr == ("E: Find Failed: C-FIND answered with status 0xc000 "
                              "(Failed: Unable to process)\n")
    detailed = echoscu("--exit-codes", "detailed", "--check-find", HOST, str(scp.port))
    assert detailed.returncode == FIND_REFUSED_CODE == 20
    document = validated(echoscu("--json", "--exit-codes", "detailed", "--check-find", HOST,
                                 str(scp.port)).stdout)
    assert document["outcome"] == "failure"
    assert document["failure"]["class"] == "find-refused"
    assert document["failure"]["phase"] == "find"
    assert document["exit_code"] == 1 and document["exit_code_detailed"] == 20
    assert document["find"]["outcome"] == "refused" and document["find"]["status"] == 0xC000
    assert document["echoes"][0]["status"] == 0  # the echo itself went well
    assert document["hint"] == (f"{HOST}:{scp.port} may not let calling AE title 'ECHOSCU' "
                                "query: register it there or use -aet")


def test_find_context_not_supported(scp) -> None:
    server = scp()
    result = echoscu("--exit-codes", "detailed", "--check-find", HOST, str(server.port))
    assert result.returncode == FIND_REFUSED_CODE
    assert result.stdout == ("Find: refused: Study Root FIND presentation context: "
                             "abstract syntax not supported\n")
    document = validated(echoscu("--json", "--check-find", HOST, str(server.port)).stdout)
    assert document["hint"] == f"{HOST}:{server.port} offers no Study Root C-FIND " \
        "(is it a query SCP?)"


def test_nagios_find(query_scp) -> None:
    scp = query_scp(matches=2, allowed_calling="VIEWER")
    ok = echoscu("--nagios", "-aet", "VIEWER", "--check-find", "--probe-sop", "CTImageStorage",
                 HOST, str(scp.port))
    assert ok.returncode == 0, ok.stdout
    assert re.match(r"DICOM OK - ANY-SCP@127\.0\.0\.1:\d+: echo [\d.]+ ms, probes accepted "
                    r"0/1, find 2 matches in [\d.]+ ms \| rtt=", ok.stdout), ok.stdout
    assert re.search(r" find=[\d.]+ms;;;0; find_matches=2;;;0; probes_accepted=0;;;0;1 ",
                     ok.stdout), ok.stdout
    refused = echoscu("--nagios", "--check-find", HOST, str(scp.port))
    assert refused.returncode == 2
    assert refused.stdout.startswith(
        f"DICOM CRITICAL - ANY-SCP@{HOST}:{scp.port}: find-refused: C-FIND answered with "
        "status 0xc000 (Failed: Unable to process); hint: 127.0.0.1:"
        f"{scp.port} may not let calling AE title 'ECHOSCU' query: register it there or "
        "use -aet | rtt="), refused.stdout


def test_find_after_failed_association_is_not_run(closed_port) -> None:
    result = echoscu("--json", "--check-find", "--probe-sop", "CTImageStorage", HOST,
                     str(closed_port))
    document = validated(result.stdout)
    assert document["failure"]["class"] == "refused"
    assert document["find"]["outcome"] == "not-run"
    assert document["probes"][0]["result"] is None and document["probes"][0]["result_text"] is None


# --- the fleet check -------------------------------------------------------------------


def test_peer_file_probe_and_find(tmp_path, storescp, query_scp) -> None:
    import csv
    import io

    store = storescp()
    query = query_scp(matches=2)
    peers = tmp_path / "peers.txt"
    peers.write_text(f"{HOST}:{store.port} probe=CTImageStorage;1.2.3.4:ExplicitVRLittleEndian\n"
                     f"{HOST}:{query.port} find=on\n"
                     f"{HOST}:{store.port} find=on\n")
    table = echoscu("--peers", str(peers))
    lines = table.stdout.splitlines()
    assert lines[1].endswith("  probes 1/2 accepted"), lines
    assert lines[2].endswith("  find 2 matches"), lines
    assert "find-refused" in lines[3] and lines[3].endswith(
        "Study Root FIND presentation context: abstract syntax not supported (hint: "
        f"{HOST}:{store.port} offers no Study Root C-FIND (is it a query SCP?))"), lines
    assert table.returncode == 1
    rows = list(csv.DictReader(io.StringIO(
        echoscu("--peers", str(peers), "--format", "csv").stdout)))
    assert rows[0]["probes"] == ("CTImageStorage=accepted:1.2.840.10008.1.2.1;"
                                 "1.2.3.4=abstract syntax not supported")
    assert rows[1]["find"] == "0x0000 2 matches" and rows[2]["find"] == "refused"
    document = validated(echoscu("--peers", str(peers), "--format", "json").stdout)
    assert [len(result["probes"]) for result in document["results"]] == [2, 0, 0]
    assert document["summary"]["by_class"] == {"find-refused": 1}


@pytest.mark.parametrize(("setting", "message"), [
    ("probe=Nope", "unknown SOP class keyword 'Nope'"),
    ("probe=CTImageStorage;", "probe=CTImageStorage;: empty SOP class"),
    ("find=yes", "find=yes: use find=on or find=off"),
])
def test_bad_peer_probe_settings(tmp_path, setting: str, message: str) -> None:
    peers = tmp_path / "peers.txt"
    peers.write_text(f"host:104 {setting}\n")
    result = echoscu("--peers", str(peers))
    assert result.returncode == 1
    assert result.stderr.endswith(f"error: peers file '{peers}' line 1: {message}\n"), \
        result.stderr


def test_find_unanswered_is_a_dimse_timeout(fake_scp) -> None:
    """A peer that accepts the FIND context but never answers: -td bounds the wait, then
    the association is aborted (the fake ignores every command but C-ECHO)."""
    from support.fakescp import Script

    fake = fake_scp(Script(context_results=(0,)))
    result = echoscu("--json", "--exit-codes", "detailed", "-td", "1", "--check-find", HOST,
                     str(fake.port))
    document = validated(result.stdout)
    assert result.returncode == FAILURE_CLASSES["dimse-timeout"][0]
    assert document["exit_code"] == 1
    assert (document["failure"]["class"], document["failure"]["phase"]) == \
        ("dimse-timeout", "find")
    assert document["find"]["outcome"] == "failed"
    assert document["find"]["problem"] == "no C-FIND response within the timeout"
    assert "abort" in document["timings_ms"]
