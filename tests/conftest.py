"""Shared fixtures: DCMTK and pynetdicom peers, the fake SCP, a closed port, the dcmtk marker."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fakescp import FakeSCP, Script
from support.orthanc import ORTHANC_MISSING, Orthanc, orthanc_installed
from support.peers import (
    DCMTK_MISSING,
    Peer,
    PynetdicomSCP,
    dcmtk_installed,
    start_pynetdicom_scp,
    start_storescp,
)
from support.queryscp import QuerySCP


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``dcmtk`` marker."""
    config.addinivalue_line(
        "markers", "dcmtk: needs DCMTK's programs in /usr/bin; skipped with a reason if missing"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip ``@pytest.mark.dcmtk`` tests visibly when DCMTK is not installed."""
    if item.get_closest_marker("dcmtk") is not None and not dcmtk_installed():
        pytest.skip(DCMTK_MISSING)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port where nothing listens: bound (so nobody else takes it), never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Callable[..., Peer]]:
    """Factory: ``storescp(*extra_args, env=None) -> Peer`` running DCMTK's storescp.

    TCP_NODELAY=1 is set; ``-od`` is a temporary directory; each Peer is stopped at
    teardown, after which its ``stdout``/``stderr`` are available.
    """
    if not dcmtk_installed():
        pytest.skip(DCMTK_MISSING)
    started: list[Peer] = []

    def start(*extra_args: str, env: dict[str, str | None] | None = None) -> Peer:
        peer = start_storescp(*extra_args, workdir=tmp_path / f"peer{len(started)}", env=env)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def pynetdicom_scp() -> Iterator[Callable[..., PynetdicomSCP]]:
    """Factory: ``pynetdicom_scp(ae_title=..., max_pdu=..., ...) -> PynetdicomSCP`` (``.port``)."""
    started: list[PynetdicomSCP] = []

    def start(**settings: Any) -> PynetdicomSCP:
        scp = start_pynetdicom_scp(**settings)
        started.append(scp)
        return scp

    yield start
    for scp in started:
        scp.stop()


@pytest.fixture
def query_scp() -> Iterator[Callable[..., QuerySCP]]:
    """Factory: ``query_scp(matches=0, allowed_calling=None, find=True) -> QuerySCP``."""
    started: list[QuerySCP] = []

    def start(**settings: Any) -> QuerySCP:
        scp = QuerySCP(**settings)
        started.append(scp)
        return scp

    yield start
    for scp in started:
        scp.stop()


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Callable[..., Orthanc]]:
    """Factory: ``orthanc(settings=None, http=False) -> Orthanc`` (started: ``.dicom_port``,
    ``.http_port``); skips the test where Orthanc is not installed; all stopped at teardown."""
    if not orthanc_installed():
        pytest.skip(ORTHANC_MISSING)
    started: list[Orthanc] = []

    def start(settings: dict[str, Any] | None = None, http: bool = False) -> Orthanc:
        server = Orthanc(tmp_path / f"orthanc{len(started)}", settings, http)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_scp() -> Iterator[Callable[..., FakeSCP]]:
    """Factory: ``fake_scp(*scripts, ssl_context=None) -> FakeSCP``, serving until teardown.

    Teardown stops every fake and then fails the test if one of them hung or broke.
    """
    started: list[FakeSCP] = []

    def start(*scripts: Script, **options: Any) -> FakeSCP:
        fake = FakeSCP(*scripts, **options).start()
        started.append(fake)
        return fake

    yield start
    failures = []
    for fake in started:
        try:
            fake.stop()
        except RuntimeError as failure:
            failures.append(failure)
    if failures:
        raise failures[0]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):
    """A test PKI (certs.pki.make_pki: CA, server for localhost/127.0.0.1, client1, a revoked
    spare and CRLs), valid from yesterday for a year; shared read-only by the session."""
    from certs.pki import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory):
    """A second, unrelated PKI: neither CA vouches for the other's certificates."""
    from certs.pki import make_pki

    return make_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: ``scp(*args, env=None, stdin=None)`` starts our echoscp (a subprocess on a
    free port, ready once it listens) with ``args``; every one is stopped at teardown."""
    from support.scp import EchoSCP

    started: list[EchoSCP] = []

    def start(*args: str, env: dict[str, str | None] | None = None,
              stdin: bytes | None = None) -> EchoSCP:
        server = EchoSCP(tmp_path, *args, env=env, stdin=stdin).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
