"""Issue #14 item 4: a failing log destination never changes the outcome.

The real commands run in subprocesses with stderr opened on /dev/full (every write
fails with ENOSPC) or with a ``-lc`` File appender writing to /dev/full, against real
peers; the exit codes must be DCMTK's (its echoscu runs with the same arguments where
it applies), no traceback may appear, and echoscp (like storescp) must keep serving.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from peers import free_port, listens_on
from test_beyond_support import OUR_ENV

from dicomecho import log, logconfig

pytestmark = [pytest.mark.timeout(120)]

HOST = "127.0.0.1"
DCMTK_ECHOSCU = "/usr/bin/echoscu"
DCMTK_STORESCP = "/usr/bin/storescp"
RUN_TIMEOUT = 30.0
#: storescp serves one association at a time; give it a moment between runs
SETTLE = 0.15
FILE_APPENDER_ERROR = "log4cplus:ERROR file is not open: /dev/full\n"


def log_config(tmp_path: Path, appender: str = "file") -> str:
    """A -lc file: root at DEBUG into a File appender on /dev/full (or stderr)."""
    if appender == "file":
        target = ("log4cplus.appender.A = log4cplus::FileAppender\n"
                  "log4cplus.appender.A.File = /dev/full\n")
    else:
        target = ("log4cplus.appender.A = log4cplus::ConsoleAppender\n"
                  "log4cplus.appender.A.logToStdErr = true\n")
    path = tmp_path / f"{appender}.cfg"
    path.write_text("log4cplus.rootLogger = DEBUG, A\n" + target +
                    "log4cplus.appender.A.layout = log4cplus::PatternLayout\n"
                    "log4cplus.appender.A.layout.ConversionPattern = %P: %m%n\n")
    return str(path)


def run(program: list[str], *args: str, stderr_full: bool) -> subprocess.CompletedProcess:
    """Run ``program`` with ``args``; stderr on /dev/full, or captured."""
    with open("/dev/full", "wb") as full:
        return subprocess.run(
            [*program, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=full if stderr_full else subprocess.PIPE, timeout=RUN_TIMEOUT,
            env={"PATH": "/usr/bin:/bin", "TCP_NODELAY": "1", **OUR_ENV}, check=False)


def ours(*args: str, stderr_full: bool = False) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "echoscu"], *args, stderr_full=stderr_full)


def theirs(*args: str, stderr_full: bool = False) -> subprocess.CompletedProcess:
    result = run([DCMTK_ECHOSCU], *args, stderr_full=stderr_full)
    time.sleep(SETTLE)
    return result


# --- echoscu ---------------------------------------------------------------------------


@pytest.mark.dcmtk
def test_lc_file_appender_on_dev_full(storescp, tmp_path) -> None:
    """DCMTK says so once in log4cplus's words and echoes on; so do we, no traceback."""
    peer = storescp()
    args = ("-lc", log_config(tmp_path), HOST, str(peer.port))
    mine = ours(*args)
    time.sleep(SETTLE)
    dcmtk = theirs(*args)
    assert (mine.returncode, dcmtk.returncode) == (0, 0)
    assert dcmtk.stderr.decode() == FILE_APPENDER_ERROR
    assert mine.stderr.decode() == FILE_APPENDER_ERROR
    assert mine.stdout == dcmtk.stdout == b""


@pytest.mark.dcmtk
@pytest.mark.parametrize("extra", [("-v",), ("-d",), ("-v", "--repeat", "3"),
                                   ("-lc", "stderr"), ("-lc", "file")],
                         ids=lambda extra: " ".join(extra))
def test_stderr_on_dev_full_against_storescp(storescp, tmp_path, extra) -> None:
    peer = storescp()
    if extra[0] == "-lc":
        extra = ("-lc", log_config(tmp_path, extra[1]))
    args = (*extra, HOST, str(peer.port))
    mine = ours(*args, stderr_full=True)
    time.sleep(SETTLE)
    dcmtk = theirs(*args, stderr_full=True)
    assert dcmtk.returncode == 0
    assert mine.returncode == dcmtk.returncode
    assert mine.stdout == dcmtk.stdout == b""


@pytest.mark.dcmtk
def test_stderr_on_dev_full_failure_keeps_its_exit_code(closed_port) -> None:
    args = ("-v", HOST, str(closed_port))
    mine, dcmtk = ours(*args, stderr_full=True), theirs(*args, stderr_full=True)
    assert dcmtk.returncode == 1
    assert mine.returncode == dcmtk.returncode


def test_stderr_on_dev_full_against_our_echoscp(scp) -> None:
    port = scp().port
    for extra in (("-v",), ("-d", "--repeat", "2"), ("--json", "-v")):
        result = ours(*extra, HOST, str(port), stderr_full=True)
        assert result.returncode == 0, extra
    assert b'"outcome": "success"' in result.stdout


def test_file_appender_failure_is_reported_once(tmp_path, capsys) -> None:
    """In process: many events into a File appender on /dev/full, one error line, and
    the appender stays quiet afterwards (a later close() reports nothing more)."""
    try:
        logconfig.configure(log_config(tmp_path), "echoscu")
        app = log.get_logger(log.APP_LOGGER)
        for number in range(5):
            app.info(f"message {number}")
        assert capsys.readouterr().err == FILE_APPENDER_ERROR
        for appender in log.root_logger().appenders:
            appender.close()
        assert capsys.readouterr().err == ""
    finally:
        log.reset()


# --- echoscp ---------------------------------------------------------------------------


def start_with_stderr_full(program: list[str], port: int) -> subprocess.Popen:
    with open("/dev/full", "wb") as full:
        process = subprocess.Popen(
            [*program, str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=full, env={"PATH": "/usr/bin:/bin", "TCP_NODELAY": "1", **OUR_ENV},
            start_new_session=True)
    deadline = time.monotonic() + 15.0
    while not listens_on(process.pid, port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            pytest.fail(f"{program} did not start listening (exit {process.returncode})")
        time.sleep(0.01)
    return process


@pytest.mark.parametrize("server", ["echoscp -v", "echoscp -d", "storescp -v"])
def test_scp_keeps_serving_with_stderr_on_dev_full(server) -> None:
    name, level = server.split()
    if name == "storescp":
        if not Path(DCMTK_STORESCP).exists():
            pytest.skip("DCMTK's storescp is not installed")
        program = [DCMTK_STORESCP, level]
    else:
        program = [sys.executable, "-m", "echoscp", level]
    port = free_port()
    process = start_with_stderr_full(program, port)
    try:
        for _ in range(3):  # a second association (and a third) after the first failed log
            result = ours("-v", HOST, str(port))
            assert result.returncode == 0, result.stderr.decode()
            assert "Received Echo Response (Success)" in result.stderr.decode()
            time.sleep(SETTLE)
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(10)
