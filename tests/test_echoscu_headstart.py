"""The TLS head start (echoscu.headstart): taken by quiet TLS runs only, invisible in
what they print; every failure it meets is reported as the driver alone reports it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.peers import DCMTK_ECHOSCU, normalise

from certs import pki as pkimod

REPO = str(Path(__file__).resolve().parent.parent)
ENV = {**os.environ,
       "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}

pytestmark = pytest.mark.timeout(90)

#: prepares options as echoscu's command line does, then reports what begin() did
_PROBE = """\
import sys
from echoscu.cli import prepare
from echoscu.headstart import begin
head = begin(prepare(sys.argv[1:]))
if head is None or not head.settled():
    print("none")
else:
    try:
        print("handshaken", head.handshaken().version())
    except OSError as error:
        print("failed", type(error).__name__)
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    return pkimod.make_pki(tmp_path_factory.mktemp("pki"), key_type="ec256")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port whose connections complete and are never answered."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def _tls(pki: pkimod.Pki) -> list[str]:
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


def _probe(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], env=ENV, capture_output=True,
                          text=True, timeout=60)
    assert done.stderr == ""
    return done.stdout.strip()


def _echoscu(*args: str, command: tuple[str, ...] = (sys.executable, "-m", "echoscu")):
    return subprocess.run([*command, *args], env=ENV, capture_output=True, text=True,
                          timeout=60)


def test_a_quiet_tls_run_hands_over_a_finished_handshake(pki, scp) -> None:
    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    assert _probe(*_tls(pki), "127.0.0.1", str(peer.port)) == "handshaken TLSv1.3"


@pytest.mark.parametrize("extra", [["-v"], ["-d"], ["-pdu", "16383"],
                                   ["+vc", "/nonexistent"]])
def test_runs_that_print_before_connecting_go_without(pki, scp, extra: list[str]) -> None:
    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    assert _probe(*extra, *_tls(pki), "127.0.0.1", str(peer.port)) == "none"


def test_a_failed_tls_set_up_is_left_to_the_driver(pki, closed_port: int) -> None:
    """Nothing connects, nothing prints: the driver builds the context and reports."""
    args = ["+tls", pki.client.key, "/nonexistent.pem", "+cf", pki.ca.cert]
    assert _probe(*args, "127.0.0.1", str(closed_port)) == "none"


def test_a_handshake_timeout_reads_as_without_the_head_start(pki, silent_listener) -> None:
    args = ["-ta", "1", *_tls(pki), "127.0.0.1", str(silent_listener)]
    started = time.monotonic()
    quiet = _echoscu(*args)
    assert time.monotonic() - started < 20
    verbose = _echoscu("-v", *args)
    assert quiet.returncode == verbose.returncode == 1
    assert quiet.stderr.splitlines() == [line for line in verbose.stderr.splitlines()
                                         if not line.startswith("I: ")]
    assert "TLS read operation did not complete" in quiet.stderr


@pytest.mark.skipif(not Path(DCMTK_ECHOSCU).exists(), reason="needs DCMTK's echoscu")
def test_a_refused_connection_reads_as_dcmtk_says_it(pki, closed_port: int) -> None:
    args = [*_tls(pki), "127.0.0.1", str(closed_port)]
    mine, theirs = _echoscu(*args), _echoscu(*args, command=(DCMTK_ECHOSCU,))
    assert mine.returncode == theirs.returncode == 1
    assert normalise(mine.stderr) == normalise(theirs.stderr)


def test_an_untrusted_server_is_refused_with_the_driver_s_words(pki, scp,
                                                                 tmp_path: Path) -> None:
    other = pkimod.make_pki(tmp_path / "other", key_type="ec256")
    peer = scp("+tls", other.server.key, other.server.cert, "+cf", other.ca.cert)
    args = [*_tls(pki), "127.0.0.1", str(peer.port)]
    quiet, verbose = _echoscu(*args), _echoscu("-v", *args)
    assert quiet.returncode == verbose.returncode == 1
    assert quiet.stderr.splitlines() == [line for line in verbose.stderr.splitlines()
                                         if not line.startswith("I: ")]
    assert "certificate verify failed" in quiet.stderr


def test_an_encrypted_key_is_left_to_the_driver_s_prompt(tmp_path: Path, scp) -> None:
    secret = pkimod.make_pki(tmp_path / "secret", key_type="ec256", password="s3cret pass")
    peer = scp("+tls", secret.server.key, secret.server.cert, "+cf", secret.ca.cert,
               "+pw", "s3cret pass")
    assert _probe(*_tls(secret), "127.0.0.1", str(peer.port)) == "none"
    with_password = _probe(*_tls(secret), "+pw", "s3cret pass", "127.0.0.1", str(peer.port))
    assert with_password == "handshaken TLSv1.3"


def test_a_warning_while_the_context_is_built_is_printed_once(pki, scp,
                                                               tmp_path: Path) -> None:
    """The head start steps aside before connecting; the driver warns, once."""
    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    missing = str(tmp_path / "missing.pem")
    args = [*_tls(pki), "+cf", missing, "127.0.0.1", str(peer.port)]
    assert _probe(*args) == "none"
    quiet, verbose = _echoscu(*args), _echoscu("-v", *args)
    assert quiet.returncode == verbose.returncode == 0
    lines = quiet.stderr.splitlines()
    assert lines.count(f"W: unable to load certificate file '{missing}', ignoring") == 1
    assert lines == [line for line in verbose.stderr.splitlines()
                     if not line.startswith("I: ")]


def test_a_der_key_takes_the_head_start(pki, scp) -> None:
    """DCMTK reads a DER key without a pass phrase, so no prompt can come."""
    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    args = ["-der", "+tls", pki.client.key_der, pki.client.cert_der, "+cf", pki.ca.cert_der,
            "127.0.0.1", str(peer.port)]
    assert _probe(*args) == "handshaken TLSv1.3"
    assert _echoscu(*args).returncode == 0


#: runs echoscu's main() in one process for each argument list given as JSON, then
#: prints how many threads the process has once the head starts had time to end
_THREADS = """\
import json, os, sys, time
from echoscu.cli import main
for argv in json.loads(sys.argv[1]):
    print(main(argv))
deadline = time.monotonic() + 10
while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < deadline:
    time.sleep(0.01)
print("threads", len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_every_head_start_thread_ends(pki, scp) -> None:
    """Launched for the TLS options it sees before parsing: it ends whether the run
    takes it (a quiet echo), leaves it (-v), or never gets that far (a usage error)."""
    import json

    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    target = ["127.0.0.1", str(peer.port)]
    runs = [[*_tls(pki), *target], ["-v", *_tls(pki), *target], ["+tls"],
            [*_tls(pki), "-pdu", "16383", *target]]
    done = subprocess.run([sys.executable, "-c", _THREADS, json.dumps(runs)], env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["0", "0", "1", "0", "threads", "1"], done.stderr


def test_tls_options_from_a_command_file_take_the_head_start(pki, scp,
                                                             tmp_path: Path) -> None:
    """Not seen before parsing (they are in the file), so begin() starts the thread."""
    peer = scp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    arguments = tmp_path / "tls.args"
    arguments.write_text(" ".join(_tls(pki)) + "\n")
    done = _echoscu(f"@{arguments}", "127.0.0.1", str(peer.port))
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(not Path(DCMTK_ECHOSCU).exists(), reason="needs DCMTK's echoscu")
@pytest.mark.parametrize("args", [["+tls"], ["+tls", "a.key", "a.pem"], ["--enable-tls", "-h"]])
def test_tls_usage_errors_read_as_dcmtk_s(args: list[str]) -> None:
    mine, theirs = _echoscu(*args), _echoscu(*args, command=(DCMTK_ECHOSCU,))
    assert mine.returncode == theirs.returncode
    assert normalise(mine.stdout) == normalise(theirs.stdout)
    assert normalise(mine.stderr) == normalise(theirs.stderr)


def test_the_early_scan_names_every_option_that_turns_tls_on() -> None:
    """cli's literal list (a plain run does not import certs to find out) stays the
    twin of certs.tlsflags' rows that set a TLS mode."""
    from certs import tlsflags
    from echoscu.cli import _TLS_OPTIONS

    turning_on = {name for flag in tlsflags.rows(tlsflags.REQUESTOR)
                  if (flag.sets or {}).get("mode") is not None
                  for name in (flag.long, flag.short)}
    assert _TLS_OPTIONS == turning_on
