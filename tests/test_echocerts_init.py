"""``echocerts init``: the files it writes, and DCMTK accepting them with the commands it prints."""

from __future__ import annotations

import datetime
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from support.peers import dcmtk

from certs.cli import cli

PASSWORD = "s3cret pw"  # a space, so the printed +pw must be quoted to paste


def init(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m certs.cli init`` as a user would."""
    return subprocess.run([sys.executable, "-m", "certs.cli", "init", str(directory), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("plain") / "pki"
    result = init(directory)
    assert result.returncode == 0, result.stderr
    return directory, result.stdout


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("locked") / "pki"
    result = init(directory, "--password", PASSWORD, "--key", "ec256", "--host", "localhost",
                  "--host", "dicom.test", "--ip", "127.0.0.1", "--ip", "::1", "--clients", "2",
                  "--days", "90")
    assert result.returncode == 0, result.stderr
    return directory, result.stdout


def printed(output: str, program: str, contains: str = "") -> list[str]:
    """The first printed command line of ``program`` containing ``contains``, split."""
    for line in output.splitlines():
        if line.startswith(f"  {program} ") and contains in line:
            return shlex.split(line)
    raise AssertionError(f"no '{program} ...{contains}' line in:\n{output}")


def start_printed_server(storescp, output: str, *extra: str):
    """Start DCMTK's storescp with the TLS options init printed (port: a free one)."""
    words = printed(output, "storescp")
    return storescp(*words[1:-1], *extra)


def echo_printed(output: str, port: int, contains: str = "+cf", **replace: str):
    """Run DCMTK's echoscu with the printed echoscu line, aimed at ``port``."""
    words = printed(output, "echoscu", contains)
    words = [replace.get(word, word) for word in words[1:-1]]
    return dcmtk(*words, str(port), timeout=30)


# --- what DCMTK makes of it --------------------------------------------------------------


@pytest.mark.dcmtk
@pytest.mark.timeout(60)
def test_dcmtk_echo_with_printed_commands(storescp, plain):
    directory, output = plain
    assert f"+cf {directory / 'ca.pem'}" in output
    server = start_printed_server(storescp, output)
    result = echo_printed(output, server.port)
    assert result.returncode == 0, result.stderr
    result = echo_printed(output, server.port, "+cd")
    assert result.returncode == 0, result.stderr


@pytest.mark.dcmtk
@pytest.mark.timeout(60)
def test_dcmtk_echo_with_password(storescp, locked):
    _, output = locked
    assert f"+pw {shlex.quote(PASSWORD)}" in output
    server = start_printed_server(storescp, output)
    result = echo_printed(output, server.port)
    assert result.returncode == 0, result.stderr
    words = printed(output, "echoscu", "+cf")
    without = [word for word in words[1:-1] if word not in ("+pw", PASSWORD)]
    result = dcmtk(*without, str(server.port), input="wrong\n", timeout=30)
    assert result.returncode == 1
    assert "Unable to load private TLS key" in result.stderr


@pytest.mark.dcmtk
@pytest.mark.timeout(60)
def test_dcmtk_accepts_der_copies(storescp, plain):
    directory, _ = plain
    server = storescp("+tls", str(directory / "server.key.der"), str(directory / "server.der"),
                      "-der", "+cf", str(directory / "ca.der"))
    result = dcmtk("+tls", str(directory / "client1.key.der"), str(directory / "client1.der"),
                   "-der", "+cd", str(directory / "cadir-der"), "localhost", str(server.port))
    assert result.returncode == 0, result.stderr


@pytest.mark.dcmtk
def test_dcmtk_root_check(plain):
    directory, output = plain
    ca = str(directory / "ca.pem")
    assert printed(output, "echoscu", "+rc") == ["echoscu", "+rc", ca]
    result = dcmtk("+rc", ca)
    assert (result.returncode, result.stdout) == (
        0, f"Certificate '{ca}' is a valid, self-signed root CA.\n")


@pytest.mark.dcmtk
def test_dcmtk_verifies_client_and_refuses_revoked(plain):
    directory, output = plain
    ca, crl = str(directory / "ca.pem"), str(directory / "crl.pem")
    client, revoked = str(directory / "client1.pem"), str(directory / "revoked.pem")
    result = dcmtk("+tla", "+cf", ca, "+vc", client)
    assert (result.returncode, result.stdout) == (
        0, f"Verification of certificate '{client}' passed.\n")
    result = dcmtk("+tla", "+cf", ca, "+crl", crl, "+vc", client)
    assert result.returncode == 0, result.stderr
    words = printed(output, "echoscu", "+vc")
    assert words == ["echoscu", "+tla", "+cf", ca, "+crl", crl, "+vc", revoked]
    result = dcmtk(*words[1:])
    assert (result.returncode, result.stdout) == (
        22, f"Verification of certificate '{revoked}' failed.\n")
    assert "certificate revoked" in result.stderr
    # the empty CRL revokes nothing, and a +cd directory holds the CA too
    result = dcmtk("+tla", "+cd", str(directory / "cadir"), "+crl",
                   str(directory / "crl-empty.pem"), "+vc", revoked)
    assert result.returncode == 0, result.stderr


@pytest.mark.dcmtk
@pytest.mark.timeout(60)
def test_server_with_crl_refuses_revoked_client(storescp, plain):
    directory, output = plain
    server = start_printed_server(storescp, output, "+crl", str(directory / "crl.pem"))
    result = echo_printed(output, server.port, "revoked.key")
    assert result.returncode == 1
    assert "Association Request Failed" in result.stderr
    result = echo_printed(output, server.port)
    assert result.returncode == 0, result.stderr
    assert "certificate verify failed" in server.stop().stderr


# --- the files ---------------------------------------------------------------------------


def test_files_modes_and_extensions(locked):
    directory, output = locked
    names = sorted(os.listdir(directory))
    for stem in ("ca", "server", "client1", "client2", "revoked"):
        for suffix in (".pem", ".der", ".key"):
            assert f"{stem}{suffix}" in names
        # -der reads only unencrypted keys: the encrypted ones have no DER copy
        assert (f"{stem}.key.der" in names) == (stem == "server"), stem
    assert {"crl.pem", "crl.der", "crl-empty.pem", "crl-empty.der", "cadir",
            "cadir-der"} <= set(names)
    assert not [name for name in names if name.startswith(".echocerts-")]
    for path in directory.rglob("*"):
        if path.is_file():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o600 if ".key" in path.name else 0o644), path
    server = x509.load_pem_x509_certificate((directory / "server.pem").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "dicom.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert "DNS:localhost, DNS:dicom.test, IP:127.0.0.1, IP:::1" in output
    days = (server.not_valid_after_utc - server.not_valid_before_utc).days
    assert days == 91  # from yesterday, --days 90 ahead
    crl = x509.load_pem_x509_crl((directory / "crl.pem").read_bytes())
    assert crl.next_update_utc - crl.last_update_utc == datetime.timedelta(days=91)


def test_password_encrypts_client_and_ca_keys_only(locked):
    directory, _ = locked
    for stem in ("ca", "client1", "client2", "revoked"):
        pem = (directory / f"{stem}.key").read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), stem
        assert not (directory / f"{stem}.key.der").exists()  # no clear copy of it
        key = serialization.load_pem_private_key(pem, PASSWORD.encode())
        cert = x509.load_pem_x509_certificate((directory / f"{stem}.pem").read_bytes())
        assert key.public_key() == cert.public_key()
    assert (directory / "server.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    serialization.load_der_private_key((directory / "server.key.der").read_bytes(), None)


def test_refuses_to_overwrite_unless_forced(tmp_path):
    directory = tmp_path / "pki"
    assert init(directory, "--key", "ec256").returncode == 0
    before = {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}
    result = init(directory, "--key", "ec256")
    assert result.returncode == 1
    assert "already holds" in result.stderr and "--force" in result.stderr
    assert result.stdout == ""
    after = {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}
    assert after == before
    assert not [p for p in directory.iterdir() if p.name.startswith(".echocerts-")]
    # one foreign file is enough to refuse: nothing of a new PKI is half-written
    (directory / "ca.pem").unlink()
    assert init(directory, "--key", "ec256").returncode == 1
    assert not (directory / "ca.pem").exists()
    result = init(directory, "--key", "ec256", "--force")
    assert result.returncode == 0, result.stderr
    for name in ("ca.key", "server.key", "client1.key.der"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
        assert (directory / name).read_bytes() != before[name]
    hashed = os.listdir(directory / "cadir")
    assert len(hashed) == 1 and (directory / "cadir" / hashed[0]).read_bytes() == (
        directory / "ca.pem").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--ip", "not-an-ip"], "not an IPv4 or IPv6 address"),
    (["--host", "bad host"], "is not a DNS name"),
    (["--key", "rsa1024"], "Invalid value for '--key'"),
    (["--days", "0"], "Invalid value for '--days'"),
    (["--password", ""], "an empty password"),
])
def test_bad_input_is_a_usage_error(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "pki"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "pki" / "ca.pem").exists()


def test_ip_given_as_host_goes_to_ip_san(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--host", "10.1.2.3", "--key",
                                      "ec256", "--port", "4242"])
    assert result.exit_code == 0, result.output
    assert "server: IP:10.1.2.3; serverAuth" in result.output
    assert printed(result.output, "echoscu", "+cf")[-2:] == ["10.1.2.3", "4242"]
