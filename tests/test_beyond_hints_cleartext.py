"""Issue #14 item 1: with +tls/+tla nothing is ever sent in clear, hint or no hint.

The "speaks plain DICOM" hint after a failed TLS handshake rests on what the peer
answered our ClientHello with. A raw peer on loopback answers the first bytes of each
connection with an A-ASSOCIATE-RJ, an A-ABORT or nothing (it closes, as storescp does)
and records every byte it receives; in each mode that carries the hint (terminal,
--json, --nagios, --peers) the hint must follow the peer's DICOM answer, and every
byte we sent must be TLS records: no A-ASSOCIATE-RQ, no AE title of the user's.
"""

from __future__ import annotations

import json
import struct

import pytest
from support.beyond import echoscu, run_on_terminal, validated
from support.fakescp import RawPeer, abort_pdu, reject_pdu

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"
CALLING, CALLED = "SECRETCALLING", "SECRETCALLED"
TLS_ARGS = ("+tla", "-ic", "-aet", CALLING, "-aec", CALLED)
ANSWERS = {
    "associate-rj": reject_pdu(1, 2, 2),
    "a-abort": abort_pdu(2, 1),
    "silent-close": None,
}
MODES = ("terminal", "json", "nagios", "peers")


def hint_text(port: int) -> str:
    return f"{HOST}:{port} speaks plain DICOM, not TLS: leave out +tls/+tla (or give -tls)"


def tls_records_length(data: bytes) -> int:
    """How many leading bytes of ``data`` are whole TLS records (type 20-23, version 3.x)."""
    offset = 0
    while offset + 5 <= len(data):
        content_type, major, _minor, length = struct.unpack_from(">BBBH", data, offset)
        if content_type not in (20, 21, 22, 23) or major != 3 or offset + 5 + length > len(data):
            break
        offset += 5 + length
    return offset


def assert_nothing_in_clear(received: list[bytes]) -> None:
    """Every connection began with our ClientHello and carried TLS records only."""
    assert received, "the peer saw no connection at all"
    for data in received:
        assert data[:1] == b"\x16" and data[5:6] == b"\x01", data[:16].hex()  # ClientHello
        after = data[tls_records_length(data):]
        assert after == b"", f"bytes after the TLS records: {after[:32].hex()}"
        assert not after.startswith(b"\x01")  # A-ASSOCIATE-RQ
        for title in (CALLING, CALLED):
            assert title.encode() not in data


def run_mode(mode: str, port: int, tmp_path) -> str | None:
    """Our echoscu +tla in ``mode`` against ``port``: the hint it gave (None: none)."""
    if mode == "terminal":
        code, _, terminal = run_on_terminal([*TLS_ARGS, HOST, str(port)])
        assert code == 1
        hints = [line for line in terminal.splitlines() if line.startswith("W: hint: ")]
        assert len(hints) <= 1
        return hints[0][len("W: hint: "):] if hints else None
    if mode == "json":
        result = echoscu("--json", *TLS_ARGS, HOST, str(port))
        assert result.returncode == 1
        return validated(result.stdout)["hint"]
    if mode == "nagios":
        result = echoscu("--nagios", *TLS_ARGS, HOST, str(port))
        assert result.returncode == 2
        text = result.stdout.split("|")[0]
        return text.split("; hint: ", 1)[1].rstrip() if "; hint: " in text else None
    peers = tmp_path / "peers.txt"
    peers.write_text(f"{CALLED}@{HOST}:{port} aet={CALLING} tls=on\n")
    result = echoscu("--peers", str(peers), "--format", "json", "+tla", "-ic")
    assert result.returncode == 1
    (entry,) = json.loads(result.stdout)["results"]
    return entry["hint"]


@pytest.mark.parametrize("answer", ANSWERS, ids=str)
@pytest.mark.parametrize("mode", MODES)
def test_hint_from_the_answer_and_nothing_in_clear(mode: str, answer: str, tmp_path) -> None:
    with RawPeer(ANSWERS[answer]) as peer:
        hint = run_mode(mode, peer.port, tmp_path)
        received = peer.wait_idle()
    assert_nothing_in_clear(received)
    assert len(received) == 1  # no second connection: no probe of any kind
    if answer == "silent-close":
        assert hint is None  # nothing the peer said shows DICOM: no guess
    else:
        assert hint == hint_text(peer.port)


def test_scripts_see_dcmtk_lines_only(tmp_path) -> None:
    """Without a terminal or an extension there is no report and no hint."""
    with RawPeer(ANSWERS["a-abort"]) as peer:
        result = echoscu(*TLS_ARGS, HOST, str(peer.port))
        received = peer.wait_idle()
    assert (result.returncode, result.stderr) == (
        1, "F: Association Request Failed: 000b:090b TLS error: wrong version number\n")
    assert_nothing_in_clear(received)


@pytest.mark.dcmtk
def test_storescp_sees_no_association(storescp, tmp_path) -> None:
    """storescp (plain) closes on a ClientHello without a word: no hint, and its debug log
    shows TLS bytes refused as an unknown PDU, never an association request."""
    peer = storescp("-d")
    for mode in MODES:
        assert run_mode(mode, peer.port, tmp_path) is None
    peer.stop()
    log = peer.stderr
    assert log.count("Association Received") == len(MODES)
    assert log.count("Receiving Association failed: 0006:0321 Unrecognized PDU type: 16") \
        == len(MODES)
    for needle in ("A-ASSOCIATE-RQ", "Association Acknowledged", "Association Aborted",
                   CALLING, CALLED):
        assert needle not in log
