"""Drop-in fidelity, round three (issues #13 and #14): OpenSSL error texts of damaged
trust material, the ``-d`` PDU dump's edges, the ``+ph``/``+cc``/``--version`` header,
and a connect the kernel gives up. Each case runs DCMTK 3.6.7 side by side."""

from __future__ import annotations

import shutil

import pytest
from peers import assert_same, dcmtk, ours

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(120)]

# --- #13.5: OpenSSL's error queue for damaged trust material ---------------------------

DAMAGED_PEM = {
    "bad-base64-crl": b"-----BEGIN X509 CRL-----\nnot base64 !!!\n-----END X509 CRL-----\n",
    "bad-base64-cert": b"-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n",
    "no-end-line": b"-----BEGIN CERTIFICATE-----\nAAAA\n",
    "wrong-end-line": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n",
    "wrong-tag": b"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
    "too-long": b"-----BEGIN X509 CRL-----\nMAM=\n-----END X509 CRL-----\n",
}


@pytest.mark.parametrize("content", DAMAGED_PEM.values(), ids=DAMAGED_PEM.keys())
@pytest.mark.parametrize("option", ["+cf", "+crl"])
def test_damaged_pem_trust_file(tmp_path, closed_port, option, content):
    """DCMTK names the first error OpenSSL queued (``bad base64 decode``, ``bad end line``,
    ``wrong tag``...), not Python's last one (``PEM lib``); the missing files around it
    show the rest of the queue, up to OpenSSL's 15 entries."""
    damaged = tmp_path / "damaged.pem"
    damaged.write_bytes(content)
    missing = [arg for n in range(5) for arg in ("+cf", str(tmp_path / f"missing{n}"))]
    args = ("+tla", *missing, option, str(damaged), "+crl", str(tmp_path / "missing.crl"),
            "+crl", str(damaged), "127.0.0.1", str(closed_port))
    mine, theirs = ours(*args), dcmtk(*args)
    assert_same(mine, theirs)
    assert f"'{damaged}', ignoring" in mine.stderr


@pytest.mark.parametrize("der", [False, True], ids=["pem", "der"])
def test_directory_as_trust_files(tmp_path, closed_port, der):
    args = (*(["-der"] if der else []), "+tla", "+cf", str(tmp_path), "+crl", str(tmp_path),
            "127.0.0.1", str(closed_port))
    assert_same(ours(*args), dcmtk(*args))


@pytest.mark.parametrize("der", [False, True], ids=["pem", "der"])
def test_directory_as_private_key(tmp_path, closed_port, pki, der):
    """A DER key read from a directory fails with EISDIR (``OpenSSL error``), as in DCMTK."""
    cert = pki.clients[0].cert_der if der else pki.clients[0].cert
    args = (*(["-der"] if der else []), "+tls", str(tmp_path), cert, "127.0.0.1",
            str(closed_port))
    mine, theirs = ours(*args), dcmtk(*args)
    assert_same(mine, theirs)


def test_directory_as_der_certificate(tmp_path, closed_port, pki):
    """The ``E:`` line is DCMTK's; the ``F:`` line is 3.7.0's certificate message
    (README: we follow 3.7.0), where 3.6.7 goes on to ``do not match``."""
    args = ("-der", "+tls", pki.clients[0].key_der, str(tmp_path), "127.0.0.1",
            str(closed_port))
    mine, theirs = ours(*args), dcmtk(*args)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr_lines[0] == theirs.stderr_lines[0] == \
        "E: OpenSSL error 80000015: OpenSSL error"
    assert mine.stderr_lines[1] == f"F: 000b:0005 Unable to load certificate from '{tmp_path}'"


def _hashed_dirs(pki, tmp_path):
    bad = tmp_path / "with-junk"
    shutil.copytree(pki.ca_dir_der, bad)
    (bad / "deadbeef.0").write_bytes(b"junk")
    return {"pem": pki.ca_dir, "der": pki.ca_dir_der, "der+junk": str(bad)}


@pytest.mark.parametrize("der", [False, True], ids=["-pem", "-der"])
@pytest.mark.parametrize("directory", ["pem", "der", "der+junk"])
def test_hashed_directory_in_the_other_format(storescp, pki, tmp_path, der, directory):
    """+cd files OpenSSL cannot load in the selected format: the lookup queues the load
    error, verification fails, and DCMTK reports ``000b:0008`` with that error (``wrong
    tag``, ``no start line``) instead of ``certificate verify failed``."""
    peer = storescp("+tls", pki.server.key, pki.server.cert, "+cf", pki.ca.cert)
    client = pki.clients[0]
    own = ("-der", "+tls", client.key_der, client.cert_der) if der else \
        ("+tls", client.key, client.cert)
    args = (*own, "+cd", _hashed_dirs(pki, tmp_path)[directory], "localhost", str(peer.port))
    mine, theirs = ours(*args), dcmtk(*args)
    assert_same(mine, theirs)
