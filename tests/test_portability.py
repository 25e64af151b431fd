"""What must hold on every interpreter and platform: issue "runs wherever its users are".

The nox matrix runs this module on every CPython 3.10-3.13 found, with the lowest
declared dependencies, and in the portable mode (tests/portable/sitecustomize.py, which
takes away memfd, TCP_QUICKACK, kernel socket timeouts, O_NOCTTY, fchmod, asyncio's
signal handlers and ctypes, as on macOS and Windows).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.peers import DCMTK_MISSING, dcmtk, dcmtk_installed, normalise, ours

from certs import files, openssl_errors

REPO = Path(__file__).resolve().parent.parent
PORTABLE = os.environ.get("ECHOSCU_PORTABLE_TEST") == "1"


# --- the portable mode really is on (or really off) -----------------------------------


def _extras_in(python_code: str = "") -> dict[str, bool]:
    code = ("import os, socket, json, asyncio\n"
            "try:\n import ctypes; c = True\nexcept ImportError:\n c = False\n"
            "loop = asyncio.new_event_loop()\n"
            "try:\n loop.add_signal_handler(2, print); s = True\n"
            "except (NotImplementedError, RuntimeError):\n s = False\n"
            "loop.close()\n"
            "print(json.dumps({'memfd': hasattr(os, 'memfd_create'),"
            " 'quickack': hasattr(socket, 'TCP_QUICKACK'),"
            " 'rcvtimeo': hasattr(socket, 'SO_RCVTIMEO'), 'noctty': hasattr(os, 'O_NOCTTY'),"
            " 'fchmod': hasattr(os, 'fchmod'), 'ctypes': c, 'signals': s}))")
    import json

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=30, check=True)
    return json.loads(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux extras")
def test_the_linux_extras_are_gone_exactly_in_portable_mode():
    """A subprocess (as every command the tests run) sees the mode the session asked for."""
    extras = _extras_in()
    assert extras == dict.fromkeys(extras, not PORTABLE), extras


# --- files -------------------------------------------------------------------------------


def test_memory_file_serves_the_bytes_and_leaves_nothing(monkeypatch, tmp_path):
    """Without memfd (macOS, Windows) the data goes through a private temporary file that
    is gone as soon as the loader is done."""
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    data = b"-----BEGIN X-----\nAAAA\n-----END X-----\n"
    with files.memory_file(data) as path:
        assert Path(path).read_bytes() == data
        if os.name == "posix":
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert Path(path).parent == tmp_path
    assert not Path(path).exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"),
                    reason="no memfd here (the portable mode, or not Linux)")
def test_memory_file_uses_memfd_where_it_exists():
    with files.memory_file(b"x") as path:
        assert path.startswith("/proc/self/fd/")
        assert Path(path).read_bytes() == b"x"


@pytest.mark.parametrize("fchmod", [True, False], ids=["fchmod", "chmod"])
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_write_file_is_private_and_binary(monkeypatch, tmp_path, fchmod):
    """A key file replaces a wider-mode file at 0600; newlines stay bytes."""
    if not fchmod:
        monkeypatch.delattr(os, "fchmod", raising=False)
    target = tmp_path / "k.pem"
    target.write_bytes(b"old")
    target.chmod(0o644)
    files.write_file(target, b"a\nb\r\n", private=True)
    assert target.read_bytes() == b"a\nb\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    files.write_file(tmp_path / "c.pem", b"c")
    assert stat.S_IMODE((tmp_path / "c.pem").stat().st_mode) == 0o644


# --- no interpreter internals ----------------------------------------------------------


def test_openssl_error_numbers_come_from_our_table():
    """Python 3.12 dropped _ssl's private tables; the numbers DCMTK prints still follow."""
    assert openssl_errors.error_numbers("SSL", "WRONG_VERSION_NUMBER") == (20, 267)
    assert openssl_errors.error_numbers("SSL", "TLSV13_ALERT_CERTIFICATE_REQUIRED") == (20, 1116)
    assert openssl_errors.error_numbers("PEM", "NO_START_LINE") == (9, 108)
    assert openssl_errors.error_numbers("X509", "KEY_VALUES_MISMATCH") == (11, 116)
    assert openssl_errors.error_numbers("SSL", "NO_SUCH_REASON") is None
    assert openssl_errors.error_numbers(None, "WRONG_VERSION_NUMBER") is None


@pytest.mark.skipif(not Path("/usr/include/openssl/err.h").exists(),
                    reason="OpenSSL's headers are not installed (apt-get install libssl-dev)")
def test_generated_openssl_table_is_current():
    """certs/openssl_codes.py is exactly what the generator makes of this OpenSSL."""
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_openssl_codes.py")],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert made == (REPO / "certs" / "openssl_codes.py").read_text()


def test_every_module_imports_with_warnings_as_errors():
    """No deprecated name is touched at import time (cryptography 51's DSA, for one)."""
    code = ("import importlib, pkgutil\n"
            "for top in ('dicomecho', 'dul', 'echoscu', 'echoscp', 'certs'):\n"
            "    package = importlib.import_module(top)\n"
            "    for module in pkgutil.walk_packages(package.__path__, top + '.'):\n"
            "        if not module.name.endswith('__main__'):\n"
            "            importlib.import_module(module.name)\n")
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                            text=True, timeout=60, cwd=REPO)
    assert (result.returncode, result.stderr) == (0, "")


# --- what a user sees --------------------------------------------------------------------


def test_echocerts_init_prints_nothing_on_stderr(tmp_path):
    result = subprocess.run([sys.executable, "-W", "error", "-m", "certs.cli", "init",
                             str(tmp_path / "pki"), "--password", "pw"],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "pki" / "client1.key").read_bytes().startswith(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


@pytest.mark.skipif(not dcmtk_installed(), reason=DCMTK_MISSING)
def test_a_tls_failure_is_dcmtks_fatal_line(storescp, pki):
    """+tls against a plain SCP: DCMTK's lines and exit 1, no traceback, no warning."""
    peer = storescp()
    args = ("+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert,
            "127.0.0.1", str(peer.port))
    theirs, mine = dcmtk(*args), ours(*args, env={"PYTHONWARNINGS": "error"})
    assert mine.returncode == theirs.returncode == 1
    assert "Traceback" not in mine.stderr and "Warning" not in mine.stderr
    assert normalise(mine.stderr) == normalise(theirs.stderr)


def test_der_material_serves_a_tls_echo(scp, pki):
    """-der: DER key and certificates reach OpenSSL (memfd, or a private temporary file)."""
    server = scp(*("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert))
    result = ours("-der", "+tls", pki.client.key_der, pki.client.cert_der,
                  "+cf", pki.ca.cert_der, "localhost", str(server.port))
    assert (result.returncode, result.stderr) == (0, "")


def test_a_silent_peer_is_bounded_by_the_association_timeout():
    """-ta bounds the wait for the A-ASSOCIATE-AC with kernel timeouts (POSIX) or
    Python's (elsewhere, and in the portable mode): the same message either way."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        held: list[socket.socket] = []
        accepting = threading.Thread(target=lambda: held.append(listener.accept()[0]),
                                     daemon=True)
        accepting.start()
        try:
            result = ours("-ta", "1", "127.0.0.1", str(listener.getsockname()[1]), timeout=20)
        finally:
            accepting.join(5)
            for sock in held:
                sock.close()
    assert result.returncode == 1
    assert result.stderr == "F: Association Request Failed: 0006:031a DUL network read timeout\n"
    assert 0.9 < result.elapsed < 10


def test_interrupt_exit_status_per_platform(monkeypatch):
    """Windows: STATUS_CONTROL_C_EXIT, not the status 2 os.kill(SIGINT) would give."""
    from echoscu import cli

    monkeypatch.setattr(cli.os, "name", "nt")
    assert cli._interrupted() == 0xC000013A


def test_openssl_facts_without_ssls_private_module(monkeypatch):
    """certs.profiles reads OpenSSL's version and suites through ssl where _ssl lacks a
    private name (the portable mode removes _ssl._SSLContext for every subprocess)."""
    import _ssl

    from certs import profiles

    monkeypatch.delattr(_ssl, "_SSLContext", raising=False)
    monkeypatch.setattr(profiles, "_openssl_suites_cache", None)
    import ssl

    assert profiles._linked_openssl() is ssl
    assert profiles.openssl_version() == ssl.OPENSSL_VERSION
    assert "ECDHE-RSA-AES128-GCM-SHA256" in profiles.openssl_suites()


def test_peer_chain_falls_back_to_the_leaf():
    """Before 3.13 the peer's chain comes from ssl's private _sslobj; where neither that
    nor 3.13's public get_unverified_chain exists, the leaf alone is reported."""
    from certs.session import peer_chain

    class WithoutChainAccess:
        def getpeercert(self, binary_form: bool = False) -> bytes:
            assert binary_form
            return b"leaf"

    assert peer_chain(WithoutChainAccess()) == [b"leaf"]
