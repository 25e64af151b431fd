"""--peers: a thousand peers in one run, mixed outcomes, every output format.

A handful of echoscp processes serve many lines each (one per called AE title);
closed ports, rejecting peers, a TLS port, a plain/TLS mismatch, a bad status and a
per-peer DIMSE timeout make the failures. Each peer's reported failure must be its
own (the log lines are captured per thread).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from support.beyond import OUR_ENV, echoscu, validated  # noqa: F401 - fixtures

from echoscu.report import FAILURE_CLASSES

pytestmark = [pytest.mark.timeout(120)]

HOST = "127.0.0.1"


@pytest.fixture
def fleet(scp, pki, closed_port, tmp_path: Path) -> tuple[Path, dict[int, str | None]]:  # noqa: F811
    """A 1000-line peers file and the failure class expected per line (None: success)."""
    plain = scp().port
    picky = scp("--require-calling-aet", "FLEET").port
    rejecting = scp("--reject", "1", "1", "7").port
    failing = scp("--status", "C000").port
    slow = scp("--delay", "3").port
    tls = scp("+tls", pki.server.key, pki.server.cert, "-ic").port
    identity = f"key={pki.client.key} cert={pki.client.cert} ca={pki.ca.cert}"
    groups = [
        (700, lambda i: f"OK{i}@{HOST}:{plain}", None),
        (60, lambda i: f"AET{i}@{HOST}:{picky}  aet=FLEET", None),
        (40, lambda i: f"NOAET{i}@{HOST}:{picky}", "rejected"),
        (60, lambda i: f"RJ{i}@{HOST}:{rejecting}", "rejected"),
        (80, lambda i: f"CLOSED{i}@{HOST}:{closed_port}", "refused"),
        (20, lambda i: f"TLS{i}@localhost:{tls}  {identity}  sni=localhost", None),
        (10, lambda i: f"MIX{i}@{HOST}:{tls}", "aborted"),
        (25, lambda i: f"ST{i}@{HOST}:{failing}", "bad-status"),
        (5, lambda i: f"SLOW{i}@{HOST}:{slow}  td=1", "dimse-timeout"),
    ]
    lines = ["# a fleet of 1000, comments and blank lines are skipped", ""]
    expected: dict[int, str | None] = {}
    for count, line_of, failure_class in groups:
        for index in range(count):
            lines.append(line_of(index) + ("   # trailing comment" if index == 3 else ""))
            expected[len(lines)] = failure_class
    path = tmp_path / "peers.txt"
    path.write_text("\n".join(lines) + "\n")
    assert len(expected) == 1000
    return path, expected


def test_thousand_peers_json(fleet) -> None:
    path, expected = fleet
    result = echoscu("--peers", str(path), "--format", "json", "--jobs", "32")
    assert result.returncode == 1
    assert result.stderr == ""  # the DCMTK lines of each peer are silenced
    document = validated(result.stdout)
    results = document["results"]
    assert [entry["peers_file_line"] for entry in results] == sorted(expected)
    for entry in results:
        want = expected[entry["peers_file_line"]]
        got = entry["failure"]["class"] if entry["failure"] else None
        assert got == want, entry
    failures = [entry for entry in results if entry["failure"]]
    counts = {name: sum(1 for c in expected.values() if c == name)
              for name in set(expected.values()) - {None}}
    assert document["summary"] == {"peers": 1000, "succeeded": 1000 - len(failures),
                                   "failed": len(failures),
                                   "by_class": dict(sorted(counts.items(),
                                                           key=lambda kv: (-kv[1], kv[0])))}
    # every peer's captured lines are its own failure's lines
    first_lines = {"rejected": "F: Association Rejected:",
                   "refused": "F: Association Request Failed: 0006:031c TCP Initialization "
                              "Error: Connection refused",
                   "aborted": "F: Association Request Failed: 0006:0317 Peer aborted "
                              "Association (or never connected)",
                   "dimse-timeout": "E: Echo Failed: 0006:0207 DIMSE No data available "
                                    "(timeout in non-blocking mode)"}
    for entry in failures:
        name = entry["failure"]["class"]
        if name in first_lines:
            assert entry["failure"]["log"][0] == first_lines[name]
        assert entry["exit_code_detailed"] == FAILURE_CLASSES[name][0]
    by_aet = {entry["called_aet"]: entry for entry in results}
    assert by_aet["AET0"]["calling_aet"] == "FLEET" and by_aet["AET0"]["outcome"] == "success"
    tls = by_aet["TLS7"]["tls"]
    assert tls["established"] and tls["sni"] == "localhost"
    assert "expects TLS" in by_aet["MIX0"]["hint"]


def test_table_and_exit_code(scp, closed_port, tmp_path) -> None:  # noqa: F811
    port = scp().port
    peers = tmp_path / "peers.txt"
    peers.write_text("".join(f"A{i}@{HOST}:{port}\n" for i in range(30)))
    result = echoscu("--peers", str(peers))
    assert (result.returncode, result.stderr) == (0, "")
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["PEER", "CALLING", "TLS", "RESULT", "TIME", "ms", "RTT", "ms",
                               "CERT", "DETAIL"]
    assert len(rows) == 32
    assert all(re.match(rf"A\d+@{HOST}:{port} +ECHOSCU +- +ok +[\d.]+ +[\d.]+ +-$", row)
               for row in rows[1:31])
    assert re.fullmatch(r"30 peers: 30 ok, 0 failed; [\d.]+ s with 30 jobs", rows[31])

    peers.write_text(f"A@{HOST}:{port}\nB@{HOST}:{closed_port}\n")
    result = echoscu("--peers", str(peers), "--jobs", "1")
    assert result.returncode == 1
    rows = result.stdout.splitlines()
    assert rows[2].split()[3] == "refused"
    assert rows[2].endswith("0006:031c TCP Initialization Error: Connection refused")
    assert re.fullmatch(r"2 peers: 1 ok, 1 failed \(refused 1\); [\d.]+ s with 1 jobs", rows[3])


@pytest.fixture
def small_fleet(scp, closed_port, tmp_path) -> Path:  # noqa: F811
    ok = scp().port
    rejecting = scp("--reject", "2", "3", "1").port
    peers = tmp_path / "peers.txt"
    peers.write_text(f"ONE@{HOST}:{ok}\nTWO@{HOST}:{ok}  aet=OTHER\n"
                     f'QUOTE"@{HOST}:{rejecting}\n[::1]:{closed_port}\n')
    return peers


def test_csv(small_fleet) -> None:
    result = echoscu("--peers", str(small_fleet), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["line"] for row in rows] == ["1", "2", "3", "4"]
    assert [row["outcome"] for row in rows] == ["success", "success", "failure", "failure"]
    assert rows[1]["calling_aet"] == "OTHER"
    assert rows[2]["called_aet"] == 'QUOTE"' and rows[2]["failure_class"] == "rejected"
    assert rows[2]["exit_code_detailed"] == str(FAILURE_CLASSES["rejected"][0])
    assert rows[3]["host"] == "::1" and rows[3]["peer"].startswith("ANY-SCP@[::1]:")
    assert rows[3]["failure_class"] in ("refused", "network-error")
    assert float(rows[0]["rtt_ms"]) > 0 and rows[0]["statuses"] == "0x0000"


def test_junit(small_fleet) -> None:
    result = echoscu("--peers", str(small_fleet), "--format", "junit")
    root = ElementTree.fromstring(result.stdout)
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    cases = suite.findall("testcase")
    assert [case.find("failure") is None for case in cases] == [True, True, False, False]
    failure = cases[2].find("failure")
    assert failure.get("type") == "rejected"
    assert failure.text.splitlines()[0] == "F: Association Rejected:"
    assert cases[2].get("name").startswith('QUOTE"@')


_SAMPLE = re.compile(r'([a-z_]+)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)+)\} (-?[\d.]+(?:e-?\d+)?)')


def test_openmetrics(small_fleet) -> None:
    """Every line is a TYPE/UNIT/HELP comment or a sample; families declared before their
    samples; one series per label set; ``# EOF`` last."""
    result = echoscu("--peers", str(small_fleet), "--format", "openmetrics")
    lines = result.stdout.splitlines()
    assert lines[-1] == "# EOF"
    declared: dict[str, str] = {}
    series: set[tuple[str, str]] = set()
    values: dict[tuple[str, str], float] = {}
    for line in lines[:-1]:
        if line.startswith("#"):
            kind, name, rest = line[2:].split(" ", 2)
            assert kind in ("TYPE", "UNIT", "HELP")
            if kind == "TYPE":
                assert rest == "gauge"
                declared[name] = rest
            if kind == "UNIT":
                assert name.endswith("_" + rest)
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, line
        assert match[1] in declared
        key = (match[1], match[2])
        assert key not in series
        series.add(key)
        values[key] = float(match[3])
    up = {labels: value for (name, labels), value in values.items() if name == "dicom_echo_up"}
    assert sorted(up.values()) == [0, 0, 1, 1]
    assert any('called_aet="QUOTE\\""' in labels for labels in up)
    failures = [labels for name, labels in values if name == "dicom_echo_failure"]
    assert any('class="rejected"' in labels for labels in failures)


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read peers file '{path}': No such file or directory"),
    ("# nothing\n\n", "peers file '{path}' lists no peer"),
    ("host:1\nhost:99999\n", "peers file '{path}' line 2: port '99999' is not a number from "
                             "1 to 65535"),
    ("host\n", "peers file '{path}' line 1: 'host' has no :port"),
    ("host:1 colour=red\n", "peers file '{path}' line 1: 'colour=red' is not one of aet=, "
                            "tls=, key=, cert=, ca=, sni=, verify-hostname=, hostname=, "
                            "to=, ts=, ta=, td=, probe=, find="),
    ("host:1 key=k.pem\n", "peers file '{path}' line 1: key= and cert= go together"),
    ("ABCDEFGHIJKLMNOPQ@host:1\n", "peers file '{path}' line 1: AE title "
                                   "'ABCDEFGHIJKLMNOPQ' is longer than 16 characters"),
    ("host:1 td=soon\n", "peers file '{path}' line 1: td=soon: seconds as a whole number"),
])
def test_bad_peers_files(tmp_path, content, message) -> None:
    path = tmp_path / "peers.txt"
    if content is not None:
        path.write_text(content)
    result = echoscu("--peers", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.endswith(f"error: {message.format(path=path)}\n")


def test_peers_excludes_peer_options(tmp_path) -> None:
    result = echoscu("--peers", "p.txt", "--stats")
    assert result.returncode == 1
    assert result.stderr.endswith("error: --stats not allowed with --peers\n")
    result = echoscu("--peers", "p.txt", "--format", "yaml")
    assert result.stderr.endswith("error: Invalid value for option --format (yaml: use table, "
                                  "json, csv, junit or openmetrics)\n")


def test_ctrl_c_does_not_wait_for_the_checks(scp, tmp_path) -> None:  # noqa: F811
    """SIGINT ends a fleet check at once, as it ends DCMTK's echoscu (killed by SIGINT),
    although every worker is still waiting for a 30-second answer."""
    port = scp("--delay", "30").port
    peers = tmp_path / "peers.txt"
    peers.write_text("".join(f"SLOW{i}@{HOST}:{port}\n" for i in range(5)))
    process = subprocess.Popen([sys.executable, "-m", "echoscu", "--peers", str(peers)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, **OUR_ENV})
    try:
        deadline = time.monotonic() + 20
        # wait until the five associations are under way
        while scp_connections(port) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGINT
    assert stdout == b""


def scp_connections(port: int) -> int:
    """Established TCP connections to ``port`` on 127.0.0.1 (from /proc/net/tcp)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows
               if row.split()[3] == "01" and int(row.split()[2].rsplit(":", 1)[1], 16) == port)
