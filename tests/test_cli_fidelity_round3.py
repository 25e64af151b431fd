"""Drop-in fidelity, round three (issues #13 and #14): OpenSSL error texts of damaged
trust material, the ``-d`` PDU dump's edges, the ``+ph``/``+cc``/``--version`` header,
and a connect the kernel gives up. Each case runs DCMTK 3.6.7 side by side."""

from __future__ import annotations

import os
import shutil
import struct
import sys

import pytest
from support.fakescp import (
    A_ASSOCIATE_AC,
    APPLICATION_CONTEXT,
    IMPLICIT_VR_LITTLE_ENDIAN,
    Script,
    item,
    pdu,
)
from support.peers import DCMTK_ECHOSCU, as_370, assert_same, dcmtk, ours, run

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


# --- #13.7: the -d dump of a received PDU ----------------------------------------------


def _accept_of_size(size: int) -> bytes:
    """An A-ASSOCIATE-AC of exactly ``size`` bytes (the implementation UID pads it)."""
    def build(uid: bytes) -> bytes:
        user = (item(0x51, struct.pack(">I", 16384)) + item(0x52, uid) + item(0x55, b"X"))
        body = (struct.pack(">HH", 1, 0) + b"ANY-SCP".ljust(16) + b"ECHOSCU".ljust(16)
                + bytes(32) + item(0x10, APPLICATION_CONTEXT.encode())
                + item(0x21, bytes([1, 0, 0, 0]) + item(0x40, IMPLICIT_VR_LITTLE_ENDIAN.encode()))
                + item(0x50, user))
        return pdu(A_ASSOCIATE_AC, body)

    base = len(build(b"1.2"))
    assert size >= base
    return build(b"1.2" + b"3" * (size - base))


def _dump(result) -> list[str]:
    """The lines from ``PDU Type:`` up to ``Parsing an A-ASSOCIATE PDU``."""
    lines = result.stderr_lines
    start = next(i for i, line in enumerate(lines) if line.startswith("D: PDU Type:"))
    end = lines.index("D: Parsing an A-ASSOCIATE PDU", start)
    return lines[start:end + 1]


@pytest.mark.parametrize("size", [191, 192, 200, 512, 513, 600])
@pytest.mark.parametrize("level", [("-d",), ("-ll", "trace")], ids=["debug", "trace"])
def test_pdu_dump_edges(fake_scp, size, level):
    """A dump that fills its last line ends with an empty ``D:`` line; a PDU of more than
    512 bytes gets ``Only dumping 512 bytes.`` and its first 512 bytes (any debug level)."""
    fake = fake_scp(*[Script(on_associate="send", raw=_accept_of_size(size))] * 2)
    args = (*level, "-to", "5", "-ta", "3", "127.0.0.1", str(fake.port))
    mine, theirs = _dump(ours(*args)), _dump(dcmtk(*args))
    assert mine == theirs
    assert (mine[1] == "D: Only dumping 512 bytes.") == (size > 512)
    assert (mine[-2] == "D: ") == (min(size, 512) % 16 == 0)


def test_debug_against_storescp_with_many_transfer_syntaxes(storescp):
    """-pts 10: storescp's A-ASSOCIATE-AC is 192 bytes; the whole -d output is DCMTK's
    (after the normal 3.7.0 adjustments and our transfer syntax list)."""
    peer = storescp()
    args = ("-d", "-pts", "3", "127.0.0.1", str(peer.port))
    mine, theirs = ours(*args), as_370(dcmtk(*args))
    assert_same(mine, theirs)
    args = ("-d", "-pts", "10", "127.0.0.1", str(peer.port))
    mine = _dump(ours(*args))
    assert mine == _dump(dcmtk(*args))
    assert mine[-2] == "D: "


# --- #13.11: the host facts of --version, +cc and +ph ----------------------------------


def _shape(text: str) -> list[str]:
    """Each line up to its first colon (the facts after it are ours or DCMTK's)."""
    return [line.split(":", 1)[0] if ":" in line else line for line in text.splitlines()]


@pytest.mark.parametrize("option", ["--version", "+cc"])
def test_host_facts_have_dcmtk_lines(option):
    """``Character encoding:`` and ``Build options:`` follow ``Host type:`` as in 3.6.7;
    ``--version``'s libraries and ``+cc``'s suites are compared elsewhere."""
    mine, theirs = ours(option), dcmtk(option)
    assert mine.returncode == theirs.returncode == 0
    assert _shape(mine.stdout)[1:4] == _shape(theirs.stdout)[1:4]
    assert _shape(mine.stdout)[4:8] == _shape(theirs.stdout)[4:8] == \
        ["Host type", "Character encoding", "Build options", ""]
    assert _shape(mine.stdout)[8] == _shape(theirs.stdout)[8]


def test_profile_list_has_the_host_facts_too():
    """+ph is 3.6.9+ (3.6.7: unknown option): its header is DCMTK's host facts (the same
    lines as --version, measured above) followed directly by the OpenSSL line
    (docs/dcmtk-behaviour.md 6.5)."""
    lines = _shape(ours("+ph").stdout)
    assert lines[4:9] == ["Host type", "Character encoding", "Build options",
                          "Cryptographic algorithms implemented by", ""]
    version = ours("--version").stdout.splitlines()
    assert ours("+ph").stdout.splitlines()[4:7] == version[4:7]


# --- #14.8: a connect the kernel gives up; a silent peer after the TLS handshake --------

#: run "$@" in a new network namespace where SYNs to 192.0.2.0/24 (TEST-NET-1) go out on
#: lo and are never answered, and the kernel gives up after one retry (about 3 s)
_UNANSWERED_SYN = ("ip link set lo up && ip route add 192.0.2.0/24 dev lo && "
                   "echo 1 > /proc/sys/net/ipv4/tcp_syn_retries && exec \"$@\"")


def _in_silent_namespace(*command: str):
    return run(["unshare", "--net", "--", "sh", "-c", _UNANSWERED_SYN, "sh", *command],
               timeout=60)


@pytest.fixture(scope="module")
def silent_namespace():
    """Skip visibly unless we may make a network namespace (root, unshare, ip)."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace (unshare --net)")
    if not (shutil.which("unshare") and shutil.which("ip")):
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    probe = _in_silent_namespace("true")
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.strip()}")
    return _in_silent_namespace


def test_kernel_connect_timeout(silent_namespace):
    """No -to: the kernel's ETIMEDOUT is ``Connection timed out`` (strerror), as DCMTK."""
    args = ("-v", "192.0.2.1", "104")
    mine = silent_namespace(sys.executable, "-m", "echoscu", *args)
    theirs = silent_namespace(DCMTK_ECHOSCU, *args)
    assert_same(mine, theirs)
    assert mine.stderr_lines[-1].endswith("TCP Initialization Error: Connection timed out")


def test_our_connect_timeout_is_still_dcmtks_poll_timeout(silent_namespace):
    """-to shorter than the kernel's patience keeps DCMTK's ``(Timeout)`` text."""
    args = ("-to", "1", "192.0.2.1", "104")
    mine = silent_namespace(sys.executable, "-m", "echoscu", *args)
    theirs = silent_namespace(DCMTK_ECHOSCU, *args)
    assert_same(mine, theirs)
    assert mine.stderr_lines[-1].endswith("Operation now in progress (Timeout)")


def test_silent_peer_after_the_tls_handshake(fake_scp, pki):
    """Deliberate difference (README): after the handshake DCMTK's TLS read ignores -ta,
    waits -ts and says ``Peer aborted``; we keep -ta for the A-ASSOCIATE-AC as over plain
    TCP, where DCMTK and we both say ``DUL network read timeout``."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert, pki.server.key)
    fake = fake_scp(Script(on_associate="stall"), ssl_context=context)
    args = ("+tla", "-ic", "-ts", "4", "-ta", "1", "127.0.0.1", str(fake.port))
    mine, theirs = ours(*args), dcmtk(*args)
    assert mine.returncode == theirs.returncode == 1
    assert theirs.stderr_lines[-1] == \
        "F: Association Request Failed: 0006:0317 Peer aborted Association (or never connected)"
    assert mine.stderr_lines[-1] == \
        "F: Association Request Failed: 0006:031a DUL network read timeout"
    assert mine.elapsed < 3.5 <= theirs.elapsed + 0.5
    plain = fake_scp(Script(on_associate="stall"))
    args = ("-ts", "4", "-ta", "1", "127.0.0.1", str(plain.port))
    assert_same(ours(*args), dcmtk(*args))
