"""``echocerts init``: DER keys that DCMTK and we can load, and no clear key bytes on disk.

DCMTK 3.6.7's ``-der`` reads only unencrypted DER keys (an encrypted one fails with
``unsupported`` even with ``+pw``), and so do we. So without ``--password`` every key
has an unencrypted ``.key.der`` copy (mode 0600); with ``--password`` only the server
key (which stays unencrypted) has one, and the summary says how to make the others.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support.peers import assert_same, dcmtk, ours

PASSWORD = "pw for der"

#: runs ``echocerts init`` and records every file opened for writing (audit hook) and
#: every ``write_file`` call with its bytes; PYTHONDONTWRITEBYTECODE keeps .pyc out
_SPY = r"""
import json, os, sys
out = sys.argv.pop(1)
opened = []
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) and args[2] & WRITING:
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(hook)
import certs.files, certs.pki, certs.cli
written = []
original = certs.files.write_file
def spy(path, data, private=False):
    written.append([os.fspath(path), data.hex(), private])
    return original(path, data, private)
certs.files.write_file = certs.pki.write_file = spy
code = certs.cli.main(sys.argv[1:])
record = {"code": code, "opened": list(opened), "written": written}
with open(out, "w") as handle:
    json.dump(record, handle)
"""


def init(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "certs.cli", "init", str(directory), *args],
                          capture_output=True, text=True, timeout=60)


def clear_forms(key) -> dict[str, bytes]:
    """Byte strings that only an unencrypted copy of ``key`` would contain."""
    forms = {}
    formats = {"PKCS#8": serialization.PrivateFormat.PKCS8,
               "traditional": serialization.PrivateFormat.TraditionalOpenSSL}
    encodings = {"DER": serialization.Encoding.DER, "PEM": serialization.Encoding.PEM}
    for fmt_name, fmt in formats.items():
        for encoding_name, encoding in encodings.items():
            forms[f"{fmt_name} {encoding_name}"] = key.private_bytes(
                encoding, fmt, serialization.NoEncryption())
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        for name in ("d", "p", "q"):
            value = getattr(numbers, name)
            forms[f"rsa {name}"] = value.to_bytes((value.bit_length() + 7) // 8, "big")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.private_numbers().private_value
        forms["ec scalar"] = value.to_bytes((key.curve.key_size + 7) // 8, "big")
    return forms


@pytest.mark.parametrize("key_type", ["rsa2048", "ec256"])
def test_password_never_writes_a_clear_protected_key(tmp_path, key_type):
    record = tmp_path / "record.json"
    directory = tmp_path / "pki"
    result = subprocess.run(
        [sys.executable, "-c", _SPY, str(record), "init", str(directory), "--password",
         PASSWORD, "--key", key_type, "--clients", "2"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    seen = json.loads(record.read_text())
    assert seen["code"] == 0
    written = [(path, bytes.fromhex(data), private) for path, data, private in seen["written"]]
    paths = [path for path, _, _ in written]
    # write_file is the only way a file is written, and each file is written once
    assert sorted(seen["opened"]) == sorted(paths)
    assert len(set(paths)) == len(paths)
    assert all(private == (".key" in Path(path).name) for path, _, private in written)
    protected = ("ca", "client1", "client2", "revoked")
    for stem in protected:
        key = serialization.load_pem_private_key((directory / f"{stem}.key").read_bytes(),
                                                 PASSWORD.encode())
        for form, clear in clear_forms(key).items():
            for path, data, _ in written:
                assert clear not in data, f"{stem} key ({form}) in the clear in {path}"
    for path, data, _ in written:
        name = Path(path).name
        if name.startswith("server.key"):
            continue
        assert b"BEGIN PRIVATE KEY" not in data, path
        assert b"BEGIN RSA PRIVATE KEY" not in data and b"BEGIN EC PRIVATE KEY" not in data
        if name.endswith(".key"):
            assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), path
    assert [Path(path).name for path in paths if path.endswith(".key.der")] == \
        ["server.key.der"]
    # the server key, clear on purpose, in both forms
    serialization.load_der_private_key((directory / "server.key.der").read_bytes(), None)
    serialization.load_pem_private_key((directory / "server.key").read_bytes(), None)


# --- -der with the generated files, DCMTK's echoscu and ours, storescp and our echoscp --


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("der-plain") / "pki"
    result = init(directory, "--key", "ec256")
    assert result.returncode == 0, result.stderr
    assert "DER copies of every PEM file, keys unencrypted (use with -der)" in result.stdout
    return directory


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("der-locked") / "pki"
    result = init(directory, "--key", "ec256", "--password", PASSWORD)
    assert result.returncode == 0, result.stderr
    return directory, result.stdout


def der_server(kind: str, storescp, scp, directory: Path):
    args = ("-der", "+tls", str(directory / "server.key.der"), str(directory / "server.der"),
            "+cf", str(directory / "ca.der"))
    return storescp(*args) if kind == "storescp" else scp(*args)


def echo_both(key: Path, directory: Path, port: int) -> None:
    """DCMTK's echoscu and ours, -der with ``key``: both succeed, saying the same."""
    args = ("-v", "-der", "+tls", str(key), str(directory / "client1.der"),
            "+cf", str(directory / "ca.der"), "localhost", str(port))
    theirs = dcmtk(*args, timeout=30)
    assert theirs.returncode == 0, theirs.stderr
    assert_same(ours(*args, timeout=30), theirs)


@pytest.mark.dcmtk
@pytest.mark.timeout(90)
@pytest.mark.parametrize("server", ["storescp", "echoscp"])
def test_der_keys_without_password(storescp, scp, plain, server):
    key = plain / "client1.key.der"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    peer = der_server(server, storescp, scp, plain)
    echo_both(key, plain, peer.port)


@pytest.mark.dcmtk
@pytest.mark.timeout(90)
@pytest.mark.parametrize("server", ["storescp", "echoscp"])
def test_der_keys_with_password(storescp, scp, locked, server, tmp_path):
    directory, output = locked
    assert not (directory / "client1.key.der").exists()
    peer = der_server(server, storescp, scp, directory)
    # the recipe the summary prints gives a key both programs load with -der
    recipe = next(line.strip() for line in output.splitlines()
                  if line.strip().startswith("openssl pkcs8 "))
    words = shlex.split(recipe)
    made = tmp_path / "client1.key.der"
    words[words.index("-out") + 1] = str(made)
    converted = subprocess.run([*words, "-passin", f"pass:{PASSWORD}"], capture_output=True,
                               text=True, timeout=30)
    assert converted.returncode == 0, converted.stderr
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    echo_both(made, directory, peer.port)


@pytest.mark.dcmtk
def test_encrypted_der_key_is_unusable_for_both(tmp_path, locked):
    """Why init writes no encrypted DER key: neither DCMTK nor we read one, +pw or not."""
    directory, _ = locked
    key = serialization.load_pem_private_key((directory / "client1.key").read_bytes(),
                                             PASSWORD.encode())
    encrypted = tmp_path / "client1.key.der"
    encrypted.write_bytes(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode())))
    args = ("-der", "+tls", str(encrypted), str(directory / "client1.der"), "+pw", PASSWORD,
            "+cf", str(directory / "ca.der"), "localhost", "1")
    theirs = dcmtk(*args, timeout=30)
    assert theirs.returncode == 1
    assert "Unable to load private TLS key" in theirs.stderr
    mine = ours(*args, timeout=30)
    assert mine.returncode == 1
    assert "Unable to load private TLS key" in mine.stderr
