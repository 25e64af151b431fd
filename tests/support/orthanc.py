"""Orthanc (``/usr/sbin/Orthanc``, Debian's package) as a peer: a fresh one per test.

``Orthanc(workdir, settings).start()`` writes a JSON configuration (a private database
in ``workdir``, no plugins, DICOM and, with ``http=True``, the REST API on ports picked
here, on the loopback only and without authentication), starts it and returns once the
process itself listens on its ports (read from /proc: no probe connection reaches it).
Every wait is bounded; ``stop()`` ends it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from support.peers import free_port, listens_on

ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_MISSING = "Orthanc not installed: apt-get install orthanc"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 30.0


def orthanc_installed() -> bool:
    """True if ``/usr/sbin/Orthanc`` can be run."""
    return os.access(ORTHANC, os.X_OK)


class Orthanc:
    """One Orthanc process; ``dicom_port`` and ``http_port`` (0 without HTTP) once started."""

    def __init__(self, workdir: Path, settings: dict[str, Any] | None = None,
                 http: bool = False) -> None:
        self.workdir = workdir
        self.settings = settings or {}
        self.http = http
        self.dicom_port = 0
        self.http_port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "orthanc.log"

    def start(self) -> Orthanc:
        """Start it; AssertionError (with its log) if it does not listen within the bound."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dicom_port = free_port()
        self.http_port = free_port() if self.http else 0
        database = self.workdir / "db"
        config = {
            "Name": "echoscu-test", "StorageDirectory": str(database),
            "IndexDirectory": str(database), "DicomAet": "ORTHANC",
            "DicomPort": self.dicom_port, "Plugins": [],
            "HttpServerEnabled": self.http, "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            **({"HttpPort": self.http_port} if self.http else {}),
            **self.settings,
        }
        config_path = self.workdir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=1))
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([ORTHANC, str(config_path)], stdout=log,
                                            stderr=log, stdin=subprocess.DEVNULL)
        ports = [port for port in (self.dicom_port, self.http_port) if port]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Orthanc exited ({self.process.returncode}):\n{self.log}")
            if all(listens_on(self.process.pid, port) for port in ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"Orthanc did not listen within {START_TIMEOUT:g} s:\n{self.log}")

    @property
    def log(self) -> str:
        """Its log so far (the last 4000 characters)."""
        try:
            return self.log_path.read_text(errors="backslashreplace")[-4000:]
        except OSError:
            return ""

    def post(self, path: str, body: object = None) -> tuple[int, Any]:
        """(HTTP status, decoded JSON answer or the text) of POST ``path`` to the REST API."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}",
                                         data=json.dumps(body or {}).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                status, text = error.code, error.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL); idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
