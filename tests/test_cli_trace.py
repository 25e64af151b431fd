"""Differential: ``-ll trace`` output of DCMTK 3.6.7's echoscu and ours, line for line.

Both programs run with the same arguments against the same peers (DCMTK's storescp, a
closed port, and every fake-SCP scenario of ``support/scenarios.py`` with ``-ll trace`` in
place of ``-v``/``-d``/``-q``), and their stderr is compared after ``peers.normalise``
and ``peers.as_370`` plus ``_drop_dcmdata`` below, which removes exactly the lines
that come from DCMTK internals we do not have (README, deliberate differences).
"""

from __future__ import annotations

import dataclasses

import pytest
from support.peers import SCENARIOS, Result, as_370, assert_same, dcmtk, ours, run_scenario

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(120)]

#: as the other differential tests: Nagle off on both sides (DCMTK prints a D: line for it)
NODELAY = {"TCP_NODELAY": "1"}

#: DCMTK's dcmdata traces its own object model while it builds and parses a command set
#: ("DcmItem::insert() Element (0000,0100) VR="US" inserted", "DcmItem::readSubItem()
#: returns error = Normal", "DcmItem::searchSubFromHere() ... found", and "DcmDataset::
#: read() returns error = ..." after each fragment); we have no DcmItem/DcmDataset, so
#: these are dropped. Nothing else of the T: output is normalised.
_DCMDATA_INTERNALS = ("T: DcmItem::", "T: DcmDataset::read() returns error = ")


def _drop_dcmdata(result: Result) -> Result:
    lines = [line for line in result.stderr.split("\n") if not line.startswith(_DCMDATA_INTERNALS)]
    return Result(result.returncode, result.stdout, "\n".join(lines), result.elapsed)


def _same(mine: Result, theirs: Result) -> None:
    assert_same(_drop_dcmdata(mine), _drop_dcmdata(as_370(theirs)))


def _traced(args: tuple[str, ...]) -> tuple[str, ...]:
    return (*(arg for arg in args if arg not in ("-v", "-d", "-q")), "-ll", "trace")


#: scenarios where the trace must differ, and why (the -v output is compared elsewhere)
TRACE_DIFFERS = {
    "echo-split-odd": "DCMTK 3.6.7 cannot reassemble odd-sized fragments, we can "
                      "(test_echoscu_scenarios.OWN_BEHAVIOUR)",
    "echo-stream": "we cut an endless command off at 64 KiB, DCMTK reads on "
                   "(test_echoscu_scenarios.OWN_BEHAVIOUR)",
    "abort-hold": "after our A-ABORT we half-close the socket, so this peer closes and we "
                  "see Evt17 (AR-5); DCMTK keeps it open and its ARTIM timer runs out (AA-2)",
    "echo-dimse-timeout-hold": "as abort-hold",
    "echo-garbage": "after the A-ABORT DCMTK reads the peer's remaining garbage as a PDU "
                    "header in Sta13 (AA-7); we discard input in Sta13 and see the close",
    "max-pdu-24": "DCMTK sends the C-ECHO-RQ to a peer with max PDU 24 as six P-DATA "
                  "requests of its own fragment sizes; we record one P-DATA request",
}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_trace_same_as_dcmtk(scenario):
    if scenario.id in TRACE_DIFFERS:
        pytest.skip(TRACE_DIFFERS[scenario.id])
    traced = dataclasses.replace(scenario, args=_traced(scenario.args))
    mine, _ = run_scenario(ours, traced, env=NODELAY)
    theirs, _ = run_scenario(dcmtk, traced, env=NODELAY)
    _same(mine, theirs)
    assert any(line.startswith("T: DUL  FSM Table") for line in mine.stderr_lines)


def test_differences_name_real_scenarios():
    assert set(TRACE_DIFFERS) <= {s.id for s in SCENARIOS}


@pytest.mark.parametrize(
    "args",
    [(), ("--repeat", "3"), ("--abort",), ("--repeat", "2", "--abort"), ("-ta", "5", "-ts", "0"),
     ("-ts", "-1"), ("-ppc", "6"), ("-pts", "3")],
    ids=["plain", "repeat", "abort", "repeat-abort", "timeouts", "no-socket-timeout",
         "six-contexts", "three-syntaxes"],
)
def test_trace_against_storescp(storescp, args):
    peer = storescp()
    mine = ours("-ll", "trace", *args, "localhost", str(peer.port), env=NODELAY)
    theirs = dcmtk("-ll", "trace", *args, "localhost", str(peer.port), env=NODELAY)
    _same(mine, theirs)
    assert sum(line.startswith("T: ") for line in mine.stderr_lines) > 50


@pytest.mark.parametrize(
    "env",
    [{"TCP_NODELAY": None}, {"TCP_NODELAY": "0"}, {"TCP_NODELAY": "x"},
     {"TCP_BUFFER_LENGTH": "65536"}, {"TCP_BUFFER_LENGTH": "big"}],
    ids=["nodelay-unset", "nodelay-0", "nodelay-bad", "buffer-length", "buffer-length-bad"],
)
def test_trace_environment_checks(storescp, env):
    peer = storescp()
    environment = {**NODELAY, **env}
    mine = ours("-ll", "trace", "localhost", str(peer.port), env=environment)
    theirs = dcmtk("-ll", "trace", "localhost", str(peer.port), env=environment)
    _same(mine, theirs)


def test_trace_rejected_by_storescp(storescp):
    peer = storescp("--refuse")
    mine = ours("-ll", "trace", "localhost", str(peer.port), env=NODELAY)
    theirs = dcmtk("-ll", "trace", "localhost", str(peer.port), env=NODELAY)
    _same(mine, theirs)
    assert "T: DUL  Action: AE 4 Associate Confirmation Reject" in mine.stderr_lines


def test_trace_closed_port(closed_port):
    mine = ours("-ll", "trace", "127.0.0.1", str(closed_port), env=NODELAY)
    theirs = dcmtk("-ll", "trace", "127.0.0.1", str(closed_port), env=NODELAY)
    _same(mine, theirs)
    assert "T: DUL  Action: AA 4 Indicate AP Abort" in mine.stderr_lines


def test_trace_unknown_host():
    mine = ours("-ll", "trace", "no-such-host.invalid", "104", env=NODELAY)
    theirs = dcmtk("-ll", "trace", "no-such-host.invalid", "104", env=NODELAY)
    _same(mine, theirs)


def test_debug_level_prints_no_trace(storescp):
    peer = storescp()
    mine = ours("-d", "localhost", str(peer.port), env=NODELAY)
    assert mine.returncode == 0
    assert not any(line.startswith("T:") for line in mine.stderr_lines)
