"""Differential: DCMTK's echoscu and ours against the same scripted peers, same output.

Every scenario of ``support/scenarios.py`` (every row of docs/dcmtk-behaviour.md 4.3
that involves a peer, and the max-PDU examples of 5.7) runs both programs live against
a fresh fake SCP and compares exit code, stdout and stderr (normalised only by
``support.peers.normalise``) and what went over the wire. Where we follow DCMTK 3.7.0,
``peers.as_370`` turns 3.6.7's text into 3.7.0's; where we deliberately do better,
``OWN_BEHAVIOUR`` says why and what we assert instead.
"""

from __future__ import annotations

import pytest
from support.peers import SCENARIOS, as_370, assert_same, dcmtk, normalise, ours, run_scenario

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(90)]


#: scenarios where we deliberately do better than DCMTK: (reason, exit code, key lines)
OWN_BEHAVIOUR = {
    "echo-split-odd": (
        "DCMTK 3.6.7 cannot reassemble a command split into odd-sized PDV fragments "
        "(0006:020b Missing CommandField); PS3.8 allows any fragment size, we reassemble",
        0,
        ["I: Received Echo Response (Success)"],
    ),
    "echo-stream": (
        "DCMTK buffers an endless PDV stream without bound until the peer closes; we cap a "
        "command at 64 KiB and abort (bounded memory, reliability rules)",
        70,
        ["E: Echo Failed: 0006:020d DIMSE Failed to receive message"],
    ),
}


def _wire(association) -> tuple[str, ...]:
    """The fake's record, with a reset and a close counted as the same end."""
    if association is None:
        return ()
    return tuple("peer-closed" if e == "peer-reset" else e for e in association.events)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_same_as_dcmtk(scenario):
    mine, my_wire = run_scenario(ours, scenario)
    if scenario.id in OWN_BEHAVIOUR:
        _reason, code, lines = OWN_BEHAVIOUR[scenario.id]
        assert mine.returncode == code, mine.stderr
        for line in lines:
            assert line in mine.stderr_lines, mine.stderr
        return
    theirs, their_wire = run_scenario(dcmtk, scenario)
    assert_same(mine, as_370(theirs))
    assert _wire(my_wire) == _wire(their_wire)


def test_differences_name_real_scenarios():
    known = {s.id for s in SCENARIOS}
    assert set(OWN_BEHAVIOUR) <= known


def test_normalise_keeps_everything_else():
    text = "I: Association Accepted (Max Send PDV: 16372)\nE: OpenSSL error 1c800064: bad"
    assert normalise(text).splitlines()[0] == "I: Association Accepted (Max Send PDV: 16372)"
    assert "bad" in normalise(text)
