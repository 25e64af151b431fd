"""echoscu against hostile peers: it never waits past its timeouts, its memory stays
bounded when a peer streams data, each case ends with its documented exit code and
DCMTK's message, and SIGINT ends a run promptly with a message.

Peers: the scriptable fake SCP (tests/support/fakescp.py), a peer that trickles its answer
one byte at a time (here), a listener that never answers, and a listener whose
backlog is full (connects hang: a local black hole).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakescp import (
    Script,
    accept_pdu,
    echo_response,
    p_data_pdu,
    parse_associate_rq,
    pdu,
)
from support.peers import RUN_TIMEOUT, Result, dcmtk, ours, run

pytestmark = [pytest.mark.timeout(120)]

HOST = "127.0.0.1"
#: the bound on any run here: far above every timeout the tests pass, far below a hang
BOUND = 20.0


# --------------------------------------------------------------------------- peers


def _read_pdu(sock: socket.socket) -> bytes:
    header = b""
    while len(header) < 6:
        chunk = sock.recv(6 - len(header))
        if not chunk:
            raise ConnectionError("peer closed")
        header += chunk
    body = b""
    length = int.from_bytes(header[2:6], "big")
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("peer closed")
        body += chunk
    return header + body


class TricklePeer:
    """Answers one association, sending its A-ASSOCIATE-AC (``stage`` "associate") or
    its C-ECHO-RSP ("echo") one byte every ``pause`` seconds; stops when the client
    leaves. A thread, joined by ``stop()``."""

    def __init__(self, stage: str, pause: float = 0.25) -> None:
        self.stage = stage
        self.pause = pause
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _trickle(self, sock: socket.socket, data: bytes) -> None:
        for byte in data:
            if self._stop.wait(self.pause):
                return
            sock.sendall(bytes((byte,)))
            self.sent += 1

    def _serve(self) -> None:
        self.listener.settimeout(BOUND)
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(BOUND)
            try:
                request = parse_associate_rq(_read_pdu(sock))
                accept = accept_pdu(request, Script())
                if self.stage == "associate":
                    self._trickle(sock, accept)
                    return
                sock.sendall(accept)
                echo = _read_pdu(sock)
                context_id = echo[10]
                message_id = int.from_bytes(echo[12 + 56:12 + 58], "little")
                self._trickle(sock, echo_response(Script(), context_id, message_id))
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(BOUND)
        assert not self._thread.is_alive()


@pytest.fixture
def trickle() -> Iterator:
    started: list[TricklePeer] = []

    def start(stage: str) -> TricklePeer:
        peer = TricklePeer(stage)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A listening socket nobody serves: connections complete, nothing is ever answered."""
    with socket.create_server((HOST, 0)) as listener:
        yield listener


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose connects hang: a listener with a full backlog that never accepts."""
    listener = socket.create_server((HOST, 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex((HOST, port))
        fillers.append(filler)
    time.sleep(0.2)  # let the kernel finish the fillers' handshakes
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


def echoscu(*args: str, port: int, **options) -> Result:
    """Our echoscu against HOST:port; the test fails if it outlives BOUND seconds."""
    return ours(*args, HOST, str(port), timeout=BOUND, **options)


# --------------------------------------------------------------------------- timeouts


@pytest.mark.parametrize(("script", "args", "code", "line"), [
    (Script(on_associate="stall"), ["-ta", "2"], 1,
     "F: Association Request Failed: 0006:031a DUL network read timeout"),
    (Script(on_echo="stall"), ["-td", "2"], 70,
     "E: Echo Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)"),
    (Script(on_echo="stall"), ["-ts", "2"], 0,
     "E: Echo Failed: 0006:0317 Peer aborted Association (or never connected)"),
    (Script(on_release="stall"), ["-ta", "2"], 1,
     "F: Association Release Failed: 0006:031a DUL network read timeout"),
], ids=["associate stall", "echo stall -td", "echo stall -ts", "release stall"])
def test_a_silent_peer_is_left_at_the_timeout(fake_scp, script, args, code, line):
    fake = fake_scp(script)
    result = echoscu(*args, port=fake.port)
    assert result.returncode == code, result.stderr
    assert line in result.stderr_lines


@pytest.mark.parametrize(("stage", "args", "code", "line"), [
    ("associate", ["-ta", "2"], 1,
     "F: Association Request Failed: 0006:031a DUL network read timeout"),
    ("echo", ["-td", "2", "-ta", "2"], 70,
     "E: Echo Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)"),
])
def test_a_trickling_peer_is_left_at_the_timeout(trickle, stage, args, code, line):
    """Regression: -ta and -td bounded each read, so a peer sending one byte every
    0.25 s held echoscu until its whole answer had dripped in (a deliberate
    difference from DCMTK, which also times each read)."""
    peer = trickle(stage)
    result = echoscu(*args, port=peer.port)
    assert result.returncode == code, result.stderr
    assert line in result.stderr_lines
    assert peer.sent < 20  # the answer was far from complete when echoscu left


def test_a_peer_streaming_after_our_abort_is_cut_off_at_the_acse_timeout(fake_scp):
    """Regression: after its own A-ABORT echoscu read until the peer closed, however
    long the peer kept sending; -ta now bounds that wait as a whole."""
    fake = fake_scp(Script(on_echo="stream", stream_seconds=60))
    result = echoscu("-ta", "2", port=fake.port)
    assert result.returncode == 70, result.stderr
    assert "I: Aborting Association" not in result.stderr  # default level: no I: lines
    assert "E: Echo SCU Failed: 0006:020d DIMSE Failed to receive message" in result.stderr_lines


def test_no_answer_at_all(silent_listener):
    port = silent_listener.getsockname()[1]
    result = echoscu("-ta", "2", port=port)
    assert result.returncode == 1
    assert result.stderr_lines == [
        "F: Association Request Failed: 0006:031a DUL network read timeout"]


def test_connect_timeout_into_a_black_hole(black_hole):
    result = echoscu("-to", "2", port=black_hole)
    assert result.returncode == 1
    assert result.stderr_lines == ["F: Association Request Failed: 0006:031c TCP "
                                   "Initialization Error: Operation now in progress (Timeout)"]


def test_tls_connect_timeout_into_a_black_hole(black_hole, tmp_path):
    """The same condition when the head start thread connects (a quiet TLS run)."""
    from certs.pki import make_pki

    pki = make_pki(tmp_path / "pki", key_type="ec256")
    result = echoscu("-to", "2", "+tls", pki.client.key, pki.client.cert, "+cf",
                     pki.ca.cert, port=black_hole)
    assert result.returncode == 1
    assert result.stderr_lines == ["F: Association Request Failed: 0006:031c TCP "
                                   "Initialization Error: Operation now in progress (Timeout)"]


# --------------------------------------------------------------------------- memory

_PEAK = """
import resource, sys
from echoscu.cli import main
try:
    code = main(sys.argv[2:], prog="echoscu")
finally:
    with open(sys.argv[1], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
sys.exit(code)
"""


def peak_rss(tmp_path: Path, port: int, *args: str) -> tuple[Result, int]:
    """Run echoscu in a wrapper that reports its peak RSS (KiB)."""
    out = tmp_path / f"peak-{port}"
    result = run([sys.executable, "-c", _PEAK, str(out), *args, HOST, str(port)],
                 timeout=BOUND)
    return result, int(out.read_text())


_DATASET_COMMAND = (  # a C-ECHO-RSP that announces a data set (CommandDataSetType 0x0000)
    Script(extra_elements=((0x00000800, b"\x00\x00"),)))


@pytest.mark.parametrize(("script", "line"), [
    (Script(on_echo="stream", stream_seconds=3),
     "E: 0006:0307 DUL Illegal or ill-formed PDU"),
    (Script(on_echo="send", raw=pdu(4, ((2).to_bytes(4, "big") + b"\x01\x01") * 2700) * 1500),
     "E: Echo Failed: 0006:0207 DIMSE No data available (timeout in non-blocking mode)"),
    (Script(on_echo="send", raw=echo_response(_DATASET_COMMAND, 1, 1)
            + p_data_pdu((1, 0, b"\x55" * 16000)) * 1000),
     "E: 0006:0307 DUL Illegal or ill-formed PDU"),
], ids=["endless command", "empty fragments", "endless data set"])
def test_memory_stays_bounded_when_the_peer_streams(fake_scp, tmp_path, script, line):
    """A command that never ends (64 KiB limit), 4 million empty fragments (nothing
    kept, -td ends it), a data set of 16 MB (1 MiB limit): exit 70, peak RSS close
    to a plain echo's."""
    normal, baseline = peak_rss(tmp_path, fake_scp().port)
    assert normal.returncode == 0
    fake = fake_scp(script)
    result, peak = peak_rss(tmp_path, fake.port, "-td", "3", "-ta", "3")
    assert result.returncode == 70, result.stderr
    assert line in result.stderr_lines
    assert peak <= baseline + 16 * 1024, (baseline, peak)


# --------------------------------------------------------------------------- hostile answers


@pytest.mark.dcmtk
@pytest.mark.parametrize(("script", "code"), [
    (Script(on_associate="send", raw=b"\x02\x00\xff\xff\xff\xff"), 1),
    (Script(on_associate="send", raw=b"\x02\x00\x00\x10\x00\x01"), 1),
    (Script(on_echo="send", raw=b"\x04\x00\xff\xff\xff\xff"), 70),
    (Script(on_echo="send", raw=b"\x04\x00\x00\x00\x50\x01"), 70),
], ids=["AC claiming 4 GiB", "AC claiming 1 MiB + 1", "P-DATA claiming 4 GiB",
        "P-DATA claiming 20481 bytes"])
def test_lying_lengths_like_dcmtk(script, code):
    """Regression: a refused length claim printed '0006:0307 DUL Illegal or ill-formed
    PDU'; DCMTK's texts are 'A-ASSOCIATE PDU too large' (with its E: line) and 'DUL
    Illegal PDU Length N.  Max expected M'. (Between our max PDU and 4 KiB more we
    accept a P-DATA-TF that DCMTK refuses: implementations disagree on the headers.)"""
    from support.peers import assert_same, run_scenario
    from support.scenarios import Scenario

    scenario = Scenario("lying-length", script, ("-ta", "5", "-td", "5"), code, (), ())
    ours_result, _ = run_scenario(ours, scenario, timeout=BOUND)
    dcmtk_result, _ = run_scenario(dcmtk, scenario, timeout=BOUND)
    assert ours_result.returncode == code
    assert_same(ours_result, dcmtk_result)


@pytest.mark.parametrize(("script", "code", "line"), [
    (Script(on_associate="send", raw=bytes(range(256))), 1,
     "F: Association Request Failed: 0006:0321 Unrecognized PDU type: 00"),
    (Script(on_echo="send", raw=b"\x16\x03\x01\x00\x05hello"), 70,
     "E: 0006:0321 Unrecognized PDU type: 16"),
], ids=["binary instead of AC", "TLS record after the echo"])
def test_garbage_answers(fake_scp, script, code, line):
    fake = fake_scp(script)
    result = echoscu("-ta", "5", "-td", "5", port=fake.port)
    assert result.returncode == code, result.stderr
    assert line in result.stderr_lines
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- SIGINT


def _interrupt(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("echoscu ignored SIGINT")
    return process.returncode, err.decode("utf-8", "replace")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "echoscu", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.02)


def _interrupted_as_expected(code: int, err: str) -> None:
    assert code in (130, -signal.SIGINT), (code, err)
    assert "Traceback" not in err
    assert err.splitlines()[-1:] == ["F: Interrupted by signal SIGINT"], err


def test_sigint_while_waiting_for_the_association(fake_scp):
    fake = fake_scp(Script(on_associate="stall"))
    process = _start(HOST, str(fake.port))
    _wait_for(lambda: fake.associations and "stalled" in fake.associations[0].events,
              "sent its A-ASSOCIATE-RQ")
    _interrupted_as_expected(*_interrupt(process))


def test_sigint_while_waiting_for_the_echo(fake_scp):
    fake = fake_scp(Script(on_echo="stall"))
    process = _start("-ts", "0", HOST, str(fake.port))
    _wait_for(lambda: fake.associations and "stalled" in fake.associations[0].events,
              "sent its C-ECHO-RQ")
    _interrupted_as_expected(*_interrupt(process))


def test_sigint_during_the_tls_handshake(silent_listener, tmp_path):
    from certs.pki import make_pki

    pki = make_pki(tmp_path / "pki", key_type="ec256")
    port = silent_listener.getsockname()[1]
    process = _start("+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert,
                     HOST, str(port))
    connection, _ = silent_listener.accept()
    with connection:
        connection.settimeout(BOUND)
        assert connection.recv(1) == b"\x16"  # its ClientHello is on the way
        _interrupted_as_expected(*_interrupt(process))


def test_sigint_during_a_hanging_connect(black_hole):
    process = _start(HOST, str(black_hole))
    _wait_for(lambda: _has_syn_sent(process.pid), "started to connect")
    _interrupted_as_expected(*_interrupt(process))


def test_sigint_during_a_hanging_tls_connect(black_hole, tmp_path):
    """A quiet TLS run connects on its head start thread; the main thread waits."""
    from certs.pki import make_pki

    pki = make_pki(tmp_path / "pki", key_type="ec256")
    process = _start("+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert,
                     HOST, str(black_hole))
    _wait_for(lambda: _has_syn_sent(process.pid), "started to connect")
    _interrupted_as_expected(*_interrupt(process))


def _has_syn_sent(pid: int) -> bool:
    """Whether process ``pid`` holds a socket in SYN-SENT state (from /proc)."""
    import os

    inodes = set()
    try:
        for entry in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return False
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(row.split()[3] == "02" and row.split()[9] in inodes for row in rows)


# --------------------------------------------------------------------------- TLS mix-ups


@pytest.mark.dcmtk
def test_plain_echoscu_against_a_tls_port_like_dcmtk(tmp_path):
    """Both sides of a TLS / plain mix-up, against our echoscp, compared with DCMTK."""
    from support.peers import assert_same
    from support.scp import EchoSCP

    from certs.pki import make_pki

    pki = make_pki(tmp_path / "pki", key_type="ec256")
    tls = EchoSCP(tmp_path, "+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert,
                  "-ta", "5").start()
    plain = EchoSCP(tmp_path).start()
    try:
        cases = [([], tls.port),
                 (["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert], plain.port)]
        for args, port in cases:
            ours_result = ours(*args, "-ta", "5", HOST, str(port), timeout=RUN_TIMEOUT)
            dcmtk_result = dcmtk(*args, "-ta", "5", HOST, str(port), timeout=RUN_TIMEOUT)
            assert ours_result.returncode == 1
            assert_same(ours_result, dcmtk_result)
    finally:
        tls.stop()
        plain.stop()

