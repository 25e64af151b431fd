"""Peers and runners every test shares: DCMTK programs, a pynetdicom SCP, subprocess helpers.

Everything here is bounded: programs run under a hard timeout, servers wait a bounded
time to come up, and every peer has a ``stop()`` the fixtures call at teardown.
``SCENARIOS`` (the fake-SCP cases for the differential suite, defined in
``support/scenarios.py``) and ``listens_on`` (the /proc probe of bench/procprobe.py)
are re-exported here.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import tools
from support.scenarios import SCENARIOS as SCENARIOS
from support.scenarios import Scenario as Scenario
from support.scenarios import run_scenario as run_scenario

DCMTK_ECHOSCU = "/usr/bin/echoscu"
DCMTK_STORESCP = "/usr/bin/storescp"
DCMTK_STORESCU = "/usr/bin/storescu"
DCMTK_MISSING = "DCMTK not installed: apt-get install dcmtk"

#: True once process ``pid`` itself holds a LISTEN socket on ``port`` (read from /proc,
#: so no probe connection ever reaches a server that serves one peer at a time)
listens_on = tools.procprobe().listens_on

#: generous default bound for one echoscu run (the scripted stalls take a few seconds)
RUN_TIMEOUT = 30.0


def dcmtk_installed() -> bool:
    """True if the DCMTK programs the tests call by full path are present."""
    return all(os.access(path, os.X_OK) for path in (DCMTK_ECHOSCU, DCMTK_STORESCP))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- running programs ------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What one program run produced."""

    returncode: int
    stdout: str
    stderr: str
    #: wall-clock seconds
    elapsed: float

    @property
    def stderr_lines(self) -> list[str]:
        """stderr split into lines, without line ends."""
        return self.stderr.splitlines()


def _decode(data: bytes | None) -> str:
    """Program output as text; undecodable bytes stay visible and distinct."""
    return (data or b"").decode("utf-8", "backslashreplace")


def _environment(changes: dict[str, str | None] | None) -> dict[str, str] | None:
    """os.environ with ``changes`` applied (a value of None removes the variable)."""
    if changes is None:
        return None
    merged = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def run(
    cmd: list[str],
    *,
    timeout: float,
    input: str | bytes | None = None,  # noqa: A002 - the subprocess name, on purpose
    env: dict[str, str | None] | None = None,
    cwd: str | Path | None = None,
) -> Result:
    """Run ``cmd`` to completion; kill it and fail the test if it outlives ``timeout``.

    ``env`` holds changes to the current environment (None removes a variable).
    """
    data = input.encode() if isinstance(input, str) else input
    start = time.monotonic()
    try:
        completed = subprocess.run(
            cmd,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=_environment(env),
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"{cmd!r} still running after {timeout} s, killed.\n"
            f"stdout so far:\n{_decode(expired.stdout)}\nstderr so far:\n{_decode(expired.stderr)}",
            pytrace=False,
        )
    return Result(
        returncode=completed.returncode,
        stdout=_decode(completed.stdout),
        stderr=_decode(completed.stderr),
        elapsed=time.monotonic() - start,
    )


def ours(*args: str, timeout: float = RUN_TIMEOUT, **options: Any) -> Result:
    """Run our echoscu (``python -m echoscu``) with ``args``; options as for ``run``."""
    return run([sys.executable, "-m", "echoscu", *args], timeout=timeout, **options)


def dcmtk(*args: str, timeout: float = RUN_TIMEOUT, **options: Any) -> Result:
    """Run DCMTK's ``/usr/bin/echoscu`` with ``args``; options as for ``run``."""
    return run([DCMTK_ECHOSCU, *args], timeout=timeout, **options)


# --- comparing outputs -----------------------------------------------------------------

_NORMALISATIONS = [
    # version header, DCMTK's and ours
    (re.compile(r"\$(?:dcmtk|echoscu): echoscu v[^$\n]*\$"), "$VERSION$"),
    # implementation class UIDs: DCMTK's (any version) and ours
    (
        re.compile(
            r"1\.2\.276\.0\.7230010\.3\.0\.\d+\.\d+\.\d+|2\.25\.211717524918349529527401668842660094394"
        ),
        "$IMPLEMENTATION_UID$",
    ),
    # implementation version names
    (re.compile(r"\bOFFIS_DCMTK_\d+|\bECHOSCU_\d+\.\d+\.\d+\S*"), "$IMPLEMENTATION_VERSION$"),
    # OpenSSL packed error numbers
    (re.compile(r"OpenSSL error [0-9A-Fa-f]+:"), "OpenSSL error XXXXXXXX:"),
    # argv[0] in the --arguments line
    (re.compile(r"(calling ')[^'\n]*(' with \d+ arguments)"), r"\1$ARGV0$\2"),
]


def normalise(text: str) -> str:
    """Blank out exactly what may differ between DCMTK and us: version, identity, OpenSSL codes."""
    for pattern, replacement in _NORMALISATIONS:
        text = pattern.sub(replacement, text)
    return text


def _diff(label: str, ours_text: str, theirs_text: str) -> str:
    lines = difflib.unified_diff(
        theirs_text.splitlines(),
        ours_text.splitlines(),
        fromfile=f"dcmtk {label}",
        tofile=f"ours {label}",
        lineterm="",
    )
    return "\n".join(lines)


def assert_same(ours_result: Result, dcmtk_result: Result) -> None:
    """Fail with a readable diff unless exit code, stdout and stderr match after normalising."""
    problems = []
    if ours_result.returncode != dcmtk_result.returncode:
        problems.append(
            f"exit code: ours {ours_result.returncode}, dcmtk {dcmtk_result.returncode}"
        )
    for label in ("stdout", "stderr"):
        ours_text = normalise(getattr(ours_result, label))
        theirs_text = normalise(getattr(dcmtk_result, label))
        if ours_text != theirs_text:
            problems.append(_diff(label, ours_text, theirs_text))
    if problems:
        pytest.fail("ours differs from DCMTK:\n" + "\n".join(problems), pytrace=False)


def as_370(result: Result) -> Result:
    """DCMTK 3.6.7's result as we print it where we follow 3.7.0 (docs/design.md D5), without the
    data dictionary lines of ``-d`` (we load no dictionary, by design: D1).

    3.7.0 leaves ``Responding Application Name`` empty in the A-ASSOCIATE-RQ dump and
    prints an unknown PDU type zero-padded (``09``, 3.6.7: `` 9``).
    """
    lines = []
    in_request = False
    for line in result.stderr.split("\n"):
        if line.startswith("D: DcmDataDictionary: Loading file: "):
            continue
        if "BEGIN A-ASSOCIATE-RQ" in line:
            in_request = True
        elif "END A-ASSOCIATE-RQ" in line:
            in_request = False
        elif in_request and line.startswith("D: Responding Application Name: "):
            line = "D: Responding Application Name: "
        lines.append(line.replace("Unrecognized PDU type:  9", "Unrecognized PDU type: 09"))
    return Result(result.returncode, result.stdout, "\n".join(lines), result.elapsed)


# --- DCMTK storescp --------------------------------------------------------------------


@dataclass
class Peer:
    """A peer program the tests started; ``stop()`` ends it and collects its output."""

    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    stdout: str = ""
    stderr: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def output_dir(self) -> Path:
        """Where storescp writes what it receives (``-od``)."""
        return self.workdir / "received"

    def stop(self, timeout: float = 5.0) -> Peer:
        """Terminate (then kill if needed), wait, and read the captured stdout/stderr."""
        if not self._stopped:
            self._stopped = True
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
            self.stdout = _decode((self.workdir / "stdout.log").read_bytes())
            self.stderr = _decode((self.workdir / "stderr.log").read_bytes())
        return self


def _launch_storescp(
    args: tuple[str, ...], port: int, workdir: Path, env: dict[str, str | None]
) -> Peer:
    (workdir / "received").mkdir(parents=True, exist_ok=True)
    with open(workdir / "stdout.log", "wb") as out, open(workdir / "stderr.log", "wb") as err:
        process = subprocess.Popen(
            [DCMTK_STORESCP, "-od", str(workdir / "received"), *args, str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=_environment(env),
        )
    return Peer(process=process, port=port, workdir=workdir)


def _wait_listening(peer: Peer, deadline: float) -> bool:
    """Wait until ``peer`` itself listens on its port; False if it exited first."""
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            return False
        if listens_on(peer.process.pid, peer.port):
            return True
        time.sleep(0.01)
    return False


def start_storescp(
    *extra_args: str,
    workdir: Path,
    env: dict[str, str | None] | None = None,
    ready_timeout: float = 10.0,
    attempts: int = 5,
) -> Peer:
    """Start ``/usr/bin/storescp`` on a free port with TCP_NODELAY=1; return once it listens.

    Readiness is read from /proc (its own LISTEN socket), so no probe connection
    ever reaches storescp, which serves one association at a time. A port taken
    in the meantime is retried on another port. ``extra_args`` go before the port
    (TLS: ``+tls key cert ...``); ``env`` changes the environment further.
    """
    environment = {"TCP_NODELAY": "1", **(env or {})}
    deadline = time.monotonic() + ready_timeout
    for attempt in range(attempts):
        attempt_dir = workdir / f"storescp{attempt}"
        peer = _launch_storescp(extra_args, free_port(), attempt_dir, environment)
        if _wait_listening(peer, deadline):
            return peer
        peer.stop()
        if "Address already in use" not in peer.stderr or time.monotonic() >= deadline:
            raise RuntimeError(
                f"storescp did not start listening on port {peer.port} "
                f"(exit {peer.process.returncode}):\n{peer.stderr}{peer.stdout}"
            )
    raise RuntimeError(f"storescp found no free port in {attempts} attempts")


# --- pynetdicom ------------------------------------------------------------------------


@dataclass
class PynetdicomSCP:
    """A pynetdicom Verification SCP running in this process."""

    port: int
    server: Any
    #: (calling AE title, message ID) of every C-ECHO it answered
    echoes: list[tuple[str, int]]

    def stop(self) -> None:
        """Shut the server down (closes its listening socket and associations)."""
        self.server.shutdown()


def pynetdicom_echo(assoc: Any, attempts: int = 3, **kwargs: Any) -> int:
    """The status of a C-ECHO sent by a pynetdicom requestor, tried up to ``attempts`` times.

    pynetdicom 3.0.4's requestor drops a C-ECHO-RSP about once in 60 associations, against
    its own SCP too (its reactor thread races the DIMSE queue); the echo then comes back
    as an empty status after ``dimse_timeout``. That is its bug, not the peer's: try again
    while the association lasts (pynetdicom may abort it itself after the timeout; see
    ``pynetdicom_echoes`` for a retry that starts a new association).
    """
    for _ in range(attempts):
        if not assoc.is_established:
            raise PynetdicomDropped("pynetdicom aborted its association after a lost C-ECHO-RSP")
        status = assoc.send_c_echo(**kwargs)
        if "Status" in status:
            return status.Status
    raise AssertionError(f"pynetdicom got no C-ECHO-RSP in {attempts} attempts")


class PynetdicomDropped(AssertionError):
    """pynetdicom lost a C-ECHO-RSP and aborted its own association (its race, above)."""


def pynetdicom_echoes(associate: Any, count: int, attempts: int = 3) -> list[int]:
    """``count`` C-ECHO statuses over one association from ``associate()`` (a pynetdicom
    Association), then a release; started again on a new association, up to
    ``attempts`` times, where pynetdicom lost a response and aborted on its own."""
    attempt = 1
    while True:
        assoc = associate()
        assert assoc.is_established
        try:
            statuses = [pynetdicom_echo(assoc) for _ in range(count)]
        except PynetdicomDropped:
            if attempt >= attempts:
                raise
            attempt += 1
            continue
        assoc.release()
        assert assoc.is_released
        return statuses


def start_pynetdicom_scp(
    *,
    ae_title: str = "ANY-SCP",
    max_pdu: int = 16382,
    require_called_aet: bool = False,
    transfer_syntaxes: list[str] | None = None,
    ssl_context: Any = None,
    status: int = 0x0000,
) -> PynetdicomSCP:
    """Start a pynetdicom AE serving Verification on 127.0.0.1, port chosen by the OS."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    echoes: list[tuple[str, int]] = []

    def on_echo(event: Any) -> int:
        echoes.append((event.assoc.requestor.ae_title, event.message_id))
        return status

    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = max_pdu
    ae.require_called_aet = require_called_aet
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    if transfer_syntaxes is None:
        ae.add_supported_context(Verification)
    else:
        ae.add_supported_context(Verification, transfer_syntaxes)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        ssl_context=ssl_context,
        evt_handlers=[(evt.EVT_C_ECHO, on_echo)],
    )
    return PynetdicomSCP(port=server.server_address[1], server=server, echoes=echoes)
