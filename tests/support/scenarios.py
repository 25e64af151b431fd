"""Fake-SCP scenarios for differential tests, each with what DCMTK 3.6.7 did.

Every row of docs/dcmtk-behaviour.md section 4.3 that involves a peer, plus the max-PDU
examples of section 5.7. ``stderr`` and ``wire`` are DCMTK 3.6.7's observed reaction (Debian
3.6.7-9~deb12u4, 2026-11-25), verified by test_harness.py; the differential suite
runs each scenario against DCMTK and ours and compares the two.
"""

# ruff: noqa: E501 - the transcripts are DCMTK's output verbatim; their lines stay whole

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from support.fakescp import TAG_ERROR_COMMENT, Association, FakeSCP, Script, text_value, unknown_pdu

R = TypeVar("R")


@dataclass(frozen=True)
class Scenario:
    """A scripted peer, echoscu's extra arguments, and DCMTK 3.6.7's observed reaction."""

    id: str
    script: Script
    #: echoscu arguments before ``host port``
    args: tuple[str, ...]
    exit_code: int
    #: DCMTK's stderr lines: all of them if ``exact``, else key lines in order
    stderr: tuple[str, ...]
    #: the fake's ``Association.events`` with DCMTK as the client
    wire: tuple[str, ...]
    exact: bool = True
    #: why the scenario is there or what is surprising about it
    note: str = ""


def _scenario(
    scenario_id: str,
    script: Script,
    args: str | tuple[str, ...],
    exit_code: int,
    stderr: str,
    wire: str,
    *,
    exact: bool = True,
    note: str = "",
) -> Scenario:
    """Build a Scenario from compact text: args and wire split on blanks, stderr dedented."""
    return Scenario(
        id=scenario_id,
        script=script,
        args=tuple(args.split()) if isinstance(args, str) else args,
        exit_code=exit_code,
        stderr=tuple(textwrap.dedent(stderr).strip("\n").splitlines()),
        wire=tuple(wire.split()),
        exact=exact,
        note=note,
    )


def run_scenario(
    runner: Callable[..., R], scenario: Scenario, *, timeout: float = 30.0, **options: Any
) -> tuple[R, Association | None]:
    """Run ``runner(*args, "127.0.0.1", port)`` against a fake playing the scenario.

    ``runner`` is ``peers.dcmtk`` or ``peers.ours``. Returns its result and what the
    fake recorded (None if the client never connected).
    """
    with FakeSCP(scenario.script) as fake:
        result = runner(*scenario.args, "127.0.0.1", str(fake.port), timeout=timeout, **options)
        associations = fake.wait_idle()
    return result, (associations[0] if associations else None)


def lines_in_order(expected: tuple[str, ...], actual: list[str]) -> bool:
    """True if every expected line occurs in ``actual``, in this order."""
    remaining = iter(actual)
    return all(any(line == seen for seen in remaining) for line in expected)


_SUCCESS = """
    I: Requesting Association
    I: Association Accepted (Max Send PDV: 16372)
    I: Sending Echo Request (MsgID 1)
    I: Received Echo Response (Success)
    I: Releasing Association
"""
_WIRE_OK = "associate-rq accepted echo-rq echo-rsp release-rq release-rp"

SCENARIOS: list[Scenario] = [
    _scenario(
        "success",
        Script(),
        "-v",
        0,
        _SUCCESS,
        _WIRE_OK,
    ),
    _scenario(
        "success-quiet",
        Script(),
        "",
        0,
        "",
        _WIRE_OK,
        note="without -v a successful run prints nothing",
    ),
    _scenario(
        "status-c000",
        Script(status=0xC000),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Unknown Status: 0xc000)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "status-0110",
        Script(status=0x0110),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Unknown Status: 0x110)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "status-0001",
        Script(status=0x0001),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Unknown Status: 0x1)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "status-ffff",
        Script(status=0xFFFF),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Unknown Status: 0xffff)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "status-detail",
        Script(status=0xC000, extra_elements=((TAG_ERROR_COMMENT, text_value("no echo today")),)),
        "-d",
        0,
        """
        I: Received Echo Response (Unknown Status: 0xc000)
        D: Status Detail (should never be any):
        D: # Dicom-Data-Set
        D: # Used TransferSyntax: Little Endian Implicit
        D: (0000,0902) LO [no echo today]                          #  14, 1 ErrorComment
        I: Releasing Association
        """,
        _WIRE_OK,
        exact=False,
        note="extra elements in the C-ECHO-RSP are dumped at DEBUG, exit code unaffected",
    ),
    _scenario(
        "repeat-3",
        Script(),
        "-v --repeat 3",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Sending Echo Request (MsgID 2)
        I: Received Echo Response (Success)
        I: Sending Echo Request (MsgID 3)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        "associate-rq accepted echo-rq echo-rsp echo-rq echo-rsp echo-rq echo-rsp release-rq release-rp",
    ),
    _scenario(
        "abort-option",
        Script(),
        "-v --abort",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp peer-abort",
    ),
    _scenario(
        "own-pdu-odd",
        Script(),
        "-v -pdu 4097",
        0,
        """
        W: ASSOC: PDV receive length 4097 is odd (using 4096)
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "empty-calling-ae",
        Script(),
        ("-v", "-aet", ""),
        1,
        """
        I: Requesting Association
        E: Illegal service parameter: Calling AP Title
        F: Association Request Failed: 0006:030c Illegal service parameter: Calling AP Title
        """,
        "peer-closed",
        note="DCMTK opens the TCP connection, then fails locally and closes it without sending a PDU",
    ),
    _scenario(
        "empty-called-ae",
        Script(),
        ("-v", "-aec", ""),
        1,
        """
        I: Requesting Association
        E: Illegal service parameter: Called AP Title
        F: Association Request Failed: 0006:030c Illegal service parameter: Called AP Title
        """,
        "peer-closed",
        note="DCMTK opens the TCP connection, then fails locally and closes it without sending a PDU",
    ),
    _scenario(
        "reject-1-1-1",
        Script(on_associate="reject"),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-2-1-2",
        Script(on_associate="reject", reject=(2, 1, 2)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Transient, Source: Service User
        F: Reason: App Context Name Not Supported
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-1-3",
        Script(on_associate="reject", reject=(1, 1, 3)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: Calling AE Title Not Recognized
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-1-7",
        Script(on_associate="reject", reject=(1, 1, 7)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: Called AE Title Not Recognized
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-2-1",
        Script(on_associate="reject", reject=(1, 2, 1)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service Provider (ACSE Related)
        F: Reason: No Reason
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-2-2",
        Script(on_associate="reject", reject=(1, 2, 2)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service Provider (ACSE Related)
        F: Reason: Protocol Version Not Supported
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-2-3-1",
        Script(on_associate="reject", reject=(2, 3, 1)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Transient, Source: Service Provider (Presentation Related)
        F: Reason: Temporary Congestion
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-2-3-2",
        Script(on_associate="reject", reject=(2, 3, 2)),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Rejected:
        F: Result: Rejected Transient, Source: Service Provider (Presentation Related)
        F: Reason: Local Limit Exceeded
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-1-9",
        Script(on_associate="reject", reject=(1, 1, 9)),
        "-v",
        1,
        """
        I: Requesting Association
        E: Received invalid A-ASSOCIATE-RJ reject reason 0x0109, using default.
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-1-4-1",
        Script(on_associate="reject", reject=(1, 4, 1)),
        "-v",
        1,
        """
        I: Requesting Association
        E: Received invalid A-ASSOCIATE-RJ reject source 0x0004, using default.
        E: Received invalid A-ASSOCIATE-RJ reject reason 0x0401, using default.
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
        note="the invalid-reason code uses the raw source byte (0x0401)",
    ),
    _scenario(
        "reject-3-1-1",
        Script(on_associate="reject", reject=(3, 1, 1)),
        "-v",
        1,
        """
        I: Requesting Association
        E: Received invalid A-ASSOCIATE-RJ reject result 0x0003, using default.
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "reject-0-0-0",
        Script(on_associate="reject", reject=(0, 0, 0)),
        "-v",
        1,
        """
        I: Requesting Association
        E: Received invalid A-ASSOCIATE-RJ reject result 0x0000, using default.
        E: Received invalid A-ASSOCIATE-RJ reject source 0x0000, using default.
        E: Received invalid A-ASSOCIATE-RJ reject reason 0x0000, using default.
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
        note="result 0 and source 0 are invalid too",
    ),
    _scenario(
        "reject-3-4-9",
        Script(on_associate="reject", reject=(3, 4, 9)),
        "-v",
        1,
        """
        I: Requesting Association
        E: Received invalid A-ASSOCIATE-RJ reject result 0x0003, using default.
        E: Received invalid A-ASSOCIATE-RJ reject source 0x0004, using default.
        E: Received invalid A-ASSOCIATE-RJ reject reason 0x0409, using default.
        F: Association Rejected:
        F: Result: Rejected Permanent, Source: Service User
        F: Reason: No Reason
        """,
        "associate-rq rejected",
    ),
    _scenario(
        "associate-abort",
        Script(on_associate="abort"),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Request Failed: 0006:0317 Peer aborted Association (or never connected)
        """,
        "associate-rq sent-abort",
    ),
    _scenario(
        "associate-close",
        Script(on_associate="close"),
        "-v",
        1,
        """
        I: Requesting Association
        F: Association Request Failed: 0006:0317 Peer aborted Association (or never connected)
        """,
        "associate-rq closed",
    ),
    _scenario(
        "associate-stall",
        Script(on_associate="stall"),
        "-v -ta 1",
        1,
        """
        I: Requesting Association
        F: Association Request Failed: 0006:031a DUL network read timeout
        """,
        "associate-rq stalled peer-closed",
        note="-ta bounds the wait for the A-ASSOCIATE response; nothing is sent before closing",
    ),
    _scenario(
        "associate-delay",
        Script(associate_delay=0.3),
        "-v -ta 5",
        0,
        _SUCCESS,
        _WIRE_OK,
    ),
    _scenario(
        "associate-pdu-09",
        Script(on_associate="send", raw=unknown_pdu(0x09)),
        "-v -ta 2",
        1,
        """
        I: Requesting Association
        F: Association Request Failed: 0006:0321 Unrecognized PDU type:  9
        """,
        "associate-rq sent-raw peer-reset",
        note="3.6.7 formats the type with %2x (' 9'); 3.7.0+ prints '09' (docs/dcmtk-behaviour.md section 8, #15)",
    ),
    _scenario(
        "associate-pdu-48",
        Script(on_associate="send", raw=unknown_pdu(0x48)),
        "-v -ta 2",
        1,
        """
        I: Requesting Association
        F: Association Request Failed: 0006:0321 Unrecognized PDU type: 48
        """,
        "associate-rq sent-raw peer-reset",
        note="3.6.7 closes with the rest of the PDU unread, so the fake sees a TCP reset",
    ),
    _scenario(
        "no-context-1",
        Script(context_results=(1,)),
        "-v",
        1,
        """
        I: Requesting Association
        F: No Acceptable Presentation Contexts
        """,
        "associate-rq accepted peer-closed",
        note="DCMTK closes the TCP connection with neither A-RELEASE-RQ nor A-ABORT",
    ),
    _scenario(
        "no-context-2",
        Script(context_results=(2,)),
        "-v",
        1,
        """
        I: Requesting Association
        F: No Acceptable Presentation Contexts
        """,
        "associate-rq accepted peer-closed",
    ),
    _scenario(
        "no-context-3",
        Script(context_results=(3,)),
        "-v",
        1,
        """
        I: Requesting Association
        F: No Acceptable Presentation Contexts
        """,
        "associate-rq accepted peer-closed",
    ),
    _scenario(
        "no-context-4",
        Script(context_results=(4,)),
        "-v",
        1,
        """
        I: Requesting Association
        F: No Acceptable Presentation Contexts
        """,
        "associate-rq accepted peer-closed",
    ),
    _scenario(
        "second-context",
        Script(context_results=(3, 0, 3)),
        "-v -ppc 3",
        0,
        _SUCCESS,
        _WIRE_OK,
        note="-ppc 3 proposes IDs 1, 3, 5; the echo goes on context 3, the only one accepted",
    ),
    _scenario(
        "explicit-ts",
        Script(transfer_syntax="1.2.840.10008.1.2.1"),
        "-d -pts 2",
        0,
        """
        D:     Accepted Transfer Syntax: =LittleEndianExplicit
        I: Received Echo Response (Success)
        """,
        _WIRE_OK,
        exact=False,
    ),
    _scenario(
        "echo-abort",
        Script(on_echo="abort"),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)
        I: Peer Aborted Association
        """,
        "associate-rq accepted echo-rq sent-abort",
    ),
    _scenario(
        "echo-close",
        Script(on_echo="close"),
        "-v",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)
        I: Peer Aborted Association
        """,
        "associate-rq accepted echo-rq closed",
    ),
    _scenario(
        "echo-socket-timeout",
        Script(on_echo="stall"),
        "-v -ts 1 -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)
        I: Peer Aborted Association
        """,
        "associate-rq accepted echo-rq stalled peer-closed",
        note="a -ts receive timeout looks like a peer abort: exit 0",
    ),
    _scenario(
        "echo-release-rq",
        Script(on_echo="release"),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0319 DUL Peer Requested Release
        F: Protocol Error: Peer requested release (Aborting)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq sent-release-rq peer-abort",
    ),
    _scenario(
        "echo-dimse-timeout",
        Script(on_echo="stall"),
        "-v -td 1 -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)
        E: Echo SCU Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq stalled peer-abort",
    ),
    _scenario(
        "echo-dimse-timeout-hold",
        Script(on_echo="stall", on_peer_abort="hold"),
        "-v -td 1 -ta 1",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)
        E: Echo SCU Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq stalled peer-abort holding peer-closed",
        note="about 2 s: 1 s -td, then up to -ta waiting for the peer to close after DCMTK's A-ABORT",
    ),
    _scenario(
        "echo-delay",
        Script(response_delay=0.3),
        "-v -td 5",
        0,
        _SUCCESS,
        _WIRE_OK,
    ),
    _scenario(
        "echo-wrong-message-id",
        Script(message_id=7),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0211 DIMSE: Unexpected Response MsgId: 7 (expected: 1)
        E: Echo SCU Failed: 0006:0211 DIMSE: Unexpected Response MsgId: 7 (expected: 1)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp peer-abort",
    ),
    _scenario(
        "echo-store-rsp",
        Script(command_field=0x8001),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0211 DIMSE: Unexpected Response Command Field: 0x8001
        E: Echo SCU Failed: 0006:0211 DIMSE: Unexpected Response Command Field: 0x8001
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp peer-abort",
    ),
    _scenario(
        "echo-pdu-09",
        Script(on_echo="send", raw=unknown_pdu(0x09)),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type:  9
        E: Echo SCU Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type:  9
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq sent-raw peer-abort",
    ),
    _scenario(
        "echo-pdu-48",
        Script(on_echo="send", raw=unknown_pdu(0x48)),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 48
        E: Echo SCU Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 48
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq sent-raw peer-abort",
    ),
    _scenario(
        "echo-garbage",
        Script(on_echo="send", raw=b"DICOM? no, just garbage"),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 44
        E: Echo SCU Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 44
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq sent-raw peer-abort",
    ),
    _scenario(
        "echo-split-pdvs",
        Script(fragment_size=2, pdvs_per_pdu=8),
        "-v",
        0,
        _SUCCESS,
        _WIRE_OK,
    ),
    _scenario(
        "echo-split-pdus",
        Script(fragment_size=4),
        "-v",
        0,
        _SUCCESS,
        _WIRE_OK,
    ),
    _scenario(
        "echo-split-odd",
        Script(fragment_size=3),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020b DIMSE_parseCmdObject: Missing CommandField
        E: Echo SCU Failed: 0006:020b DIMSE_parseCmdObject: Missing CommandField
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp peer-abort",
        note="surprise, not in docs/dcmtk-behaviour.md: DCMTK 3.6.7 cannot parse a command split into odd-sized PDV fragments (even sizes work)",
    ),
    _scenario(
        "echo-stream",
        Script(on_echo="stream", stream_seconds=1.0),
        "-v -td 1 -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)
        I: Peer Aborted Association
        """,
        "associate-rq accepted echo-rq streaming closed",
        note="-td does not bound a peer that keeps sending; DCMTK waits until the fake closes after stream_seconds",
    ),
    _scenario(
        "release-abort",
        Script(on_release="abort"),
        "-v",
        1,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        F: Association Release Failed: 0006:0317 Peer aborted Association (or never connected)
        """,
        "associate-rq accepted echo-rq echo-rsp release-rq sent-abort",
    ),
    _scenario(
        "release-stall",
        Script(on_release="stall"),
        "-v -ta 1",
        1,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        F: Association Release Failed: 0006:031a DUL network read timeout
        """,
        "associate-rq accepted echo-rq echo-rsp release-rq stalled peer-closed",
        note="after the release timeout DCMTK closes TCP without sending A-ABORT",
    ),
    _scenario(
        "release-close",
        Script(on_release="close"),
        "-v",
        1,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        F: Association Release Failed: 0006:0317 Peer aborted Association (or never connected)
        """,
        "associate-rq accepted echo-rq echo-rsp release-rq closed",
    ),
    _scenario(
        "abort-hold",
        Script(on_peer_abort="hold"),
        "-v --abort -ta 1",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp peer-abort holding peer-closed",
        note="about 1 s: after --abort DCMTK waits up to -ta for the peer to close",
    ),
    _scenario(
        "repeat-third-aborts",
        Script(answer_first=2, on_echo="abort"),
        "-v --repeat 3",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Sending Echo Request (MsgID 2)
        I: Received Echo Response (Success)
        I: Sending Echo Request (MsgID 3)
        E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)
        I: Peer Aborted Association
        """,
        "associate-rq accepted echo-rq echo-rsp echo-rq echo-rsp echo-rq sent-abort",
    ),
    _scenario(
        "repeat-second-garbage",
        Script(answer_first=1, on_echo="send", raw=unknown_pdu(0x48)),
        "-v --repeat 3 -ta 2",
        70,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Sending Echo Request (MsgID 2)
        E: Echo Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 48
        E: Echo SCU Failed: 0006:020d DIMSE Failed to receive message
        E: 0006:020c DIMSE Read PDV failed
        E: 0006:0321 Unrecognized PDU type: 48
        I: Aborting Association
        """,
        "associate-rq accepted echo-rq echo-rsp echo-rq sent-raw peer-abort",
    ),
    _scenario(
        "max-pdu-0",
        Script(max_pdu=0),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 131060)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-5",
        Script(max_pdu=5),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 5 is odd (using 4)
        W: ASSOC: PDV send length -8 (using default)
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 5 is illegal (must be > 12)
        E: Echo SCU Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 5 is illegal (must be > 12)
        I: Aborting Association
        """,
        "associate-rq accepted peer-abort",
    ),
    _scenario(
        "max-pdu-12",
        Script(max_pdu=12),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 0 (using default)
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 12 is illegal (must be > 12)
        E: Echo SCU Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 12 is illegal (must be > 12)
        I: Aborting Association
        """,
        "associate-rq accepted peer-abort",
    ),
    _scenario(
        "max-pdu-13",
        Script(max_pdu=13),
        "-v -ta 2",
        70,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 13 is odd (using 12)
        W: ASSOC: PDV send length 0 (using default)
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        E: Echo Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 13 is illegal (must be > 12)
        E: Echo SCU Failed: 0006:020e DIMSE Failed to send message
        E: 0006:0308 DUL Cannot send P-DATA PDU because receiver's max PDU size of 13 is illegal (must be > 12)
        I: Aborting Association
        """,
        "associate-rq accepted peer-abort",
        note="13 is odd, so 12 is used: also illegal; the 0308 text shows the peer's raw value",
    ),
    _scenario(
        "max-pdu-23",
        Script(max_pdu=23),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 23 is odd (using 22)
        W: ASSOC: PDV send length too small, using DUL to split larger PDVs.
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
        note="DCMTK splits its 68-byte command into six 11-byte fragments and one of 2 bytes (23-byte PDUs)",
    ),
    _scenario(
        "max-pdu-24",
        Script(max_pdu=24),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 12)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
        note="DCMTK sends the command in six PDUs of at most 24 bytes (fragments 12,12,12,12,10,10)",
    ),
    _scenario(
        "max-pdu-101",
        Script(max_pdu=101),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 101 is odd (using 100)
        I: Association Accepted (Max Send PDV: 88)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-4096",
        Script(max_pdu=4096),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-4097",
        Script(max_pdu=4097),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 4097 is odd (using 4096)
        I: Association Accepted (Max Send PDV: 4084)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-16385",
        Script(max_pdu=16385),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        W: ASSOC: PDV send length 16385 is odd (using 16384)
        I: Association Accepted (Max Send PDV: 16372)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-131072",
        Script(max_pdu=131072),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 131060)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-131074",
        Script(max_pdu=131074),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 131060)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-1000000",
        Script(max_pdu=1000000),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 131060)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
    ),
    _scenario(
        "max-pdu-none",
        Script(max_pdu=None),
        "-v -ta 2",
        0,
        """
        I: Requesting Association
        I: Association Accepted (Max Send PDV: 131060)
        I: Sending Echo Request (MsgID 1)
        I: Received Echo Response (Success)
        I: Releasing Association
        """,
        _WIRE_OK,
        note="no maximum-length sub-item in the A-ASSOCIATE-AC is treated like 0 (unlimited)",
    ),
]
