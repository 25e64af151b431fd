"""--probe-sop and --check-find against Orthanc (skipped where it is not installed).

Orthanc 1.10 takes the storage and query/retrieve classes; it answers a C-FIND from
an AE title missing in its ``DicomModalities`` with an A-ABORT unless
``DicomAlwaysAllowFind`` is on: find-refused, as the issue asks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.beyond import echoscu, validated
from support.peers import free_port

ORTHANC = "/usr/sbin/Orthanc"
HOST = "127.0.0.1"

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not os.access(ORTHANC, os.X_OK),
                       reason="Orthanc not installed: apt-get install orthanc"),
]


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Factory: ``orthanc(always_allow_find) -> DICOM port`` of a fresh Orthanc (no HTTP)."""
    started: list[subprocess.Popen] = []

    def start(always_allow_find: bool) -> int:
        port = free_port()
        workdir = tmp_path / f"orthanc{len(started)}"
        workdir.mkdir()
        config = workdir / "orthanc.json"
        config.write_text(json.dumps({
            "Name": "echoscu-probe-test", "StorageDirectory": str(workdir / "db"),
            "IndexDirectory": str(workdir / "db"), "HttpServerEnabled": False,
            "DicomPort": port, "DicomAet": "ORTHANC", "Plugins": [],
            "DicomAlwaysAllowFind": always_allow_find,
        }))
        log = (workdir / "log.txt").open("wb")
        process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL)
        log.close()
        started.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"Orthanc exited: {(workdir / 'log.txt').read_text()[-2000:]}")
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    return port
            except OSError:
                time.sleep(0.1)
        pytest.fail("Orthanc did not listen within 20 s")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_orthanc_takes_storage_and_answers_find(orthanc) -> None:
    port = orthanc(always_allow_find=True)
    result = echoscu("--json", "-aec", "ORTHANC", "--probe-sop", "storage", "--probe-sop", "qr",
                     "--check-find", HOST, str(port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    assert all(probe["accepted"] for probe in document["probes"]), document["probes"]
    find = document["find"]
    assert (find["outcome"], find["status"], find["matches"]) == ("answered", 0, 0)


def test_orthanc_refuses_find_from_unknown_aet(orthanc) -> None:
    port = orthanc(always_allow_find=False)
    result = echoscu("--exit-codes", "detailed", "-aec", "ORTHANC", "--check-find", HOST,
                     str(port))
    assert result.returncode == 20, (result.stdout, result.stderr)
    assert result.stdout == "Find: refused: peer aborted the association during the C-FIND\n"
