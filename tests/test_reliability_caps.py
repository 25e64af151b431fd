"""echoscp under descriptor and memory pressure (issue #14): connections that never
associate must not lock others out, spin the CPU, flood the log or pile up memory.

Each test starts its own echoscp (some under a lowered RLIMIT_NOFILE), holds many
idle or half-sent connections on loopback, and meanwhile checks that a real echo
(DCMTK's echoscu where installed, else ours) is served, how much CPU the server
burns (/proc/PID/stat), how many lines it logs and its VmRSS. The hostile sockets
come from other loopback addresses (127.0.0.2 and up) than the echo (127.0.0.1),
as different clients would.
"""

from __future__ import annotations

import errno
import socket
import time
from pathlib import Path

import pytest
from support.peers import dcmtk, dcmtk_installed, ours
from support.reliability import healthy, loadgen, no_internal_errors, scaled
from support.scp import EchoSCP

from dul import pdu

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc"),
]

HOST = "127.0.0.1"
#: the lowered open-files limit of the server under test
LIMIT = 256
#: idle connections the hostile client holds: more than LIMIT
HELD = 300
#: CPU the server may use while they are held (issue #14 measured 70-90 %)
CPU_LIMIT = 0.15


def _echo(port: int):
    """One C-ECHO from a separate process, with every timeout at 5 s."""
    args = ("-to", "5", "-ta", "5", "-td", "5", HOST, str(port))
    return dcmtk(*args, timeout=20) if dcmtk_installed() else ours(*args, timeout=20)


def _hold(port: int, count: int, sources: int, first: bytes = b"") -> list[socket.socket]:
    """``count`` connections from 127.0.0.2 .. 127.0.0.(1 + sources), each sending
    ``first`` (if any) and then nothing; connects are not awaited (a full listen
    queue must not stall the test)."""
    sockets = []
    try:
        for number in range(count):
            sock = socket.socket()
            sockets.append(sock)
            try:
                sock.bind((f"127.0.0.{2 + number % sources}", 0))
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    pytest.skip("no loopback addresses besides 127.0.0.1")
                raise
            sock.setblocking(False)
            try:
                sock.connect((HOST, port))
            except BlockingIOError:
                pass
            if first:
                sock.setblocking(True)
                sock.settimeout(10)
                try:
                    sock.sendall(first)
                except OSError:
                    pass  # closed over a cap already
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _cpu_share(server: EchoSCP, seconds: float = 2.0) -> float:
    """The share of one core the server used over ``seconds``."""
    before, started = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (server.cpu_seconds() - before) / (time.monotonic() - started)


def _lines(server: EchoSCP) -> list[str]:
    return server.output_so_far().splitlines()


@pytest.fixture
def limited(tmp_path):
    """``limited(*args)``: an echoscp with RLIMIT_NOFILE = LIMIT and ARTIM 30 s (no
    held connection times out during a test); stopped and checked afterwards."""
    servers = []

    def start(*args: str) -> EchoSCP:
        server = EchoSCP(tmp_path, "-ta", "30", *args, descriptor_limit=LIMIT).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        no_internal_errors(server.stderr)


@pytest.mark.parametrize(("sources", "cap"), [
    pytest.param(1, "--max-pending-per-address", id="one address"),
    pytest.param(20, "--max-pending ", id="twenty addresses"),
])
def test_idle_connections_do_not_lock_out_an_echo(limited, sources, cap):
    """300 idle connections against a 256-descriptor limit: the per-address cap closes
    the newest from one address, the total cap the longest-waiting ones; either way a
    normal echo is served at once, the server stays cool and logs one line."""
    server = limited()
    held = _hold(server.port, HELD, sources)
    try:
        time.sleep(0.5)  # let the server accept (and close) what it will
        share = _cpu_share(server)
        result = _echo(server.port)
        assert result.returncode == 0, result.stderr
        assert result.elapsed < 5, result.elapsed
        assert share < CPU_LIMIT, share
        lines = _lines(server)
        assert len(lines) <= 3, lines
        assert any(cap in line for line in lines), lines
    finally:
        for sock in held:
            sock.close()


def test_out_of_descriptors_pauses_accepting(limited):
    """Caps set above what the limit holds: accept() fails with EMFILE. The server
    pauses accepting instead of spinning (issue #14: 70-90 % of a core, ~50 000 lines
    a second), and serves again once descriptors are free."""
    server = limited("--max-pending", "1000", "--max-pending-per-address", "1000")
    held = _hold(server.port, HELD, 20)
    try:
        time.sleep(0.5)
        share = _cpu_share(server)
        assert share < CPU_LIMIT, share
        lines = _lines(server)
        assert 1 <= len(lines) <= 3, lines
        assert all("Cannot accept connections: Too many open files" in line
                   for line in lines), lines
    finally:
        for sock in held:
            sock.close()
    result = _echo(server.port)
    assert result.returncode == 0, result.stderr


def test_unfinished_requests_are_bounded_in_total(tmp_path):
    """scaled(500) connections each send 200 KiB of an A-ASSOCIATE-RQ announcing
    256 KiB and stall: 100 MB offered, at most 32 MiB held (before: all of it, up to
    1 MiB per connection); an association is served meanwhile. RSS grew by 46 MiB
    here (the rest is reading and copying), by 78 MiB for 300 without the budget."""
    server = EchoSCP(tmp_path, "-ta", "30").start()
    count = scaled(500)
    body = 200 << 10
    header = bytes((pdu.A_ASSOCIATE_RQ, 0)) + ((256 << 10) - 6).to_bytes(4, "big")
    held: list[socket.socket] = []
    try:
        before = healthy(server)
        held = _hold(server.port, count, 4, header + bytes(body))
        time.sleep(1.0)
        after = healthy(server)
        growth = after - before
        assert growth < 64 * 1024, (before, after)
        assert "hold more than 32 MiB" in server.output_so_far()
        print(f"{count} x {body >> 10} KiB offered: RSS {before} -> {after} KiB")
    finally:
        for sock in held:
            sock.close()
        server.stop()
    no_internal_errors(server.stderr)


@pytest.mark.stress
def test_failed_tls_handshakes_leave_nothing_behind(tmp_path):
    """Rounds of scaled(300) half-open TLS handshakes dropped by -ta 1: memory after
    the last round is that after the first (before: each round's SSL objects stayed
    in reference cycles, 27 -> 317 MiB over seven rounds of 1000)."""
    from certs.pki import make_pki

    pki = make_pki(tmp_path / "pki", key_type="ec256")
    server = EchoSCP(tmp_path, "-ta", "1", "+tls", str(pki.server.key), str(pki.server.cert),
                     "+cf", str(pki.ca.cert)).start()
    hello = loadgen.client_hello()
    after_round = []
    try:
        for _ in range(4):
            held = _hold(server.port, scaled(300), 8, hello)
            try:
                assert all(loadgen.closed_by_peer(sock) for sock in held)
            finally:
                for sock in held:
                    sock.close()
            time.sleep(0.3)
            after_round.append(loadgen.rss_kib(server.process.pid))
        assert after_round[-1] - after_round[0] < 8 * 1024, after_round
        print(f"RSS after each round: {after_round} KiB")
    finally:
        server.stop()
    no_internal_errors(server.stderr)
