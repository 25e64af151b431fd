"""--stats, --repeat and --interval: a ping-like summary of real round trips.

Lower bounds only (a delay or interval is a guaranteed minimum); no upper time limits.
"""

from __future__ import annotations

import re

import pytest
from support.beyond import echoscu  # noqa: F401 - fixture

from echoscu.report import rtt_stats

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"
_SUMMARY = re.compile(r"(\d+) requested, (\d+) answered \((\d+) Success(?:, (\d+) other status)?\),"
                      r" (\d+)% unanswered, time ([\d.]+) ms")
_RTT = re.compile(r"rtt min/avg/max/stddev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
_PERCENTILES = re.compile(r"rtt p50/p95/p99 = ([\d.]+)/([\d.]+)/([\d.]+) ms")


def parse(stdout: str) -> dict:
    lines = stdout.splitlines()
    summary = _SUMMARY.fullmatch(lines[1])
    assert summary, stdout
    facts = {"title": lines[0], "requested": int(summary[1]), "answered": int(summary[2]),
             "success": int(summary[3]), "other": int(summary[4] or 0),
             "unanswered": int(summary[5]), "time": float(summary[6])}
    if len(lines) > 2 and lines[2].startswith("rtt "):
        facts["min"], facts["avg"], facts["max"], facts["stddev"] = map(
            float, _RTT.fullmatch(lines[2]).groups())
        facts["p50"], facts["p95"], facts["p99"] = map(
            float, _PERCENTILES.fullmatch(lines[3]).groups())
    facts["tail"] = lines[4:] if "min" in facts else lines[2:]
    return facts


def test_repeat_with_interval(scp) -> None:  # noqa: F811
    port = scp().port
    result = echoscu("--stats", "--repeat", "20", "--interval", "0.01", HOST, str(port))
    assert result.returncode == 0 and result.stderr == ""
    stats = parse(result.stdout)
    assert stats["title"] == f"--- ANY-SCP@{HOST}:{port} echo statistics ---"
    assert (stats["requested"], stats["answered"], stats["success"], stats["unanswered"]) == \
        (20, 20, 20, 0)
    assert stats["min"] <= stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]
    assert stats["min"] <= stats["avg"] <= stats["max"]
    # 19 pauses of 10 ms between the 20 echoes
    assert stats["time"] >= 190.0
    assert stats["tail"] == []


def test_delayed_responses_set_the_floor(scp) -> None:  # noqa: F811
    port = scp("--delay", "0.05").port
    stats = parse(echoscu("--stats", "--repeat", "3", HOST, str(port)).stdout)
    assert stats["answered"] == 3 and stats["min"] >= 50.0


def test_against_dcmtk_storescp(storescp) -> None:
    peer = storescp()
    result = echoscu("--stats", "--repeat", "5", HOST, str(peer.port))
    assert result.returncode == 0, result.stderr
    assert parse(result.stdout)["answered"] == 5


def test_other_status_and_failure_line(scp) -> None:  # noqa: F811
    port = scp("--status", "C000").port
    result = echoscu("--stats", "--repeat", "2", HOST, str(port))
    assert result.returncode == 0  # DCMTK's exit code is unchanged
    stats = parse(result.stdout)
    assert (stats["success"], stats["other"]) == (0, 2)
    assert stats["tail"] == ["failed: bad-status"]


def test_nothing_answered(closed_port) -> None:
    result = echoscu("--stats", "--repeat", "4", HOST, str(closed_port))
    assert result.returncode == 1
    stats = parse(result.stdout)
    assert (stats["answered"], stats["unanswered"]) == (0, 100)
    assert "min" not in stats and stats["tail"] == ["failed: refused"]


def test_stats_arithmetic() -> None:
    """Population standard deviation and nearest-rank percentiles, in milliseconds."""
    stats = rtt_stats([n / 1000.0 for n in range(1, 101)])
    assert stats["count"] == 100
    assert stats["min"] == pytest.approx(1.0) and stats["max"] == pytest.approx(100.0)
    assert stats["avg"] == pytest.approx(50.5)
    assert stats["stddev"] == pytest.approx(28.86607, abs=1e-4)
    assert (stats["p50"], stats["p95"], stats["p99"]) == pytest.approx((50.0, 95.0, 99.0))
    assert rtt_stats([0.002])["p99"] == pytest.approx(2.0)
    assert rtt_stats([]) is None
