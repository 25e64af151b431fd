"""Shared pieces of the "beyond DCMTK" tests: echoscp peers, a test PKI, the JSON schema,
and running our echoscu with stderr on a pseudo-terminal.

The fixtures are imported by the test modules that use them.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certs.pki import Pki
from support.peers import Result, ours

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "docs" / "echoscu-result.schema.json"
#: run the working tree's code even when a copy of the package is installed
OUR_ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                       os.environ.get("PYTHONPATH")]))}


def tls_server_args(pki: Pki, *extra: str) -> list[str]:
    """echoscp options for a TLS port with ``pki``'s server identity (client certs ignored)."""
    return ["+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert, "-ic", *extra]


def client_args(pki: Pki) -> list[str]:
    """echoscu options for TLS with ``pki``'s client identity, trusting its CA."""
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


def echoscu(*args: str, timeout: float = 60.0, cwd: str | Path | None = None) -> Result:
    """Our echoscu (``python -m echoscu``) on the working tree's code."""
    return ours(*args, timeout=timeout, env=OUR_ENV, cwd=cwd)


def schema() -> dict:
    """docs/echoscu-result.schema.json."""
    return json.loads(SCHEMA_PATH.read_text())


def validated(text: str) -> dict:
    """``text`` parsed as JSON and validated against the schema (fails the test if not)."""
    import jsonschema

    document = json.loads(text)
    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)
    return document


def run_on_terminal(args: list[str], timeout: float = 60.0) -> tuple[int, str, str]:
    """Our echoscu with stderr on a pseudo-terminal: (exit code, stdout, terminal output)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "echoscu", *args], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=terminal, env={**os.environ, **OUR_ENV})
    os.close(terminal)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: the child closed the terminal's last descriptor
                    break
                if not chunk:
                    break
                seen += chunk
            elif process.poll() is not None:
                break
        else:
            process.kill()
            pytest.fail(f"{args!r} still running after {timeout} s", pytrace=False)
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        os.close(controller)
    # a terminal turns "\n" into "\r\n"
    return process.returncode, stdout.decode(), seen.decode().replace("\r\n", "\n")
