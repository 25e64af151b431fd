"""Differential, whole process: our echoscu and DCMTK's over TLS against DCMTK's storescp.

Both programs run with the same TLS options against the same ``storescp +tls`` and
their exit codes and output are compared (with ``-d``, the negotiated protocol and
cipher of the TLS CONNECTION DETAILS block are compared too). Certificates come from
``certs.pki.make_pki`` in a temporary directory, valid from yesterday for a year.
Where we follow DCMTK 3.7.0 (default profile +pg, ALPN, 3.7.0 message texts), the test
says so and checks our side on its own.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from support.peers import DCMTK_ECHOSCU, as_370, assert_same, dcmtk, normalise, ours

from certs import pki as pkimod

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(120)]

SETTLE = 0.15


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"))
    made.secret = pkimod.make_pki(tmp_path_factory.mktemp("secret"), password="s3cret pass")
    made.other = pkimod.make_pki(tmp_path_factory.mktemp("other"))
    return made


def server(pki, *extra: str, name: str = "server") -> tuple[str, ...]:
    return ("+tls", f"{pki.directory}/{name}.key", f"{pki.directory}/{name}.pem",
            "+cf", pki.ca.cert, *extra)


def client(pki, *extra: str) -> tuple[str, ...]:
    return ("+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert, *extra)


def both(*args: str, **options):
    mine = ours(*args, **options)
    time.sleep(SETTLE)
    theirs = dcmtk(*args, **options)
    time.sleep(SETTLE)
    return mine, as_370(theirs)


def tls_facts(stderr: str) -> tuple[str, str]:
    """(protocol, ciphersuite) from the -d TLS CONNECTION DETAILS block."""
    protocol = next(line for line in stderr.splitlines() if "Protocol    :" in line)
    suite = next(line for line in stderr.splitlines() if "Ciphersuite :" in line)
    return (protocol.split("Protocol    :", 1)[1].strip(),
            suite.split("Ciphersuite :", 1)[1].split(",")[0].strip())


#: (profile option known to 3.6.7, storescp profile options, protocol, ciphersuite)
PROFILES = [
    ("+py", (), "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("+px", ("+px",), "TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("+pz", ("+pz",), "TLSv1.2", "DHE-RSA-AES256-GCM-SHA384"),
    ("+pa", ("+pa",), "TLSv1.2", "AES128-SHA"),
    ("+pn", ("+pn",), "TLSv1.2", "NULL-SHA"),
]


@pytest.mark.parametrize(("profile", "server_profile", "protocol", "suite"), PROFILES,
                         ids=[case[0] for case in PROFILES])
def test_profile_against_storescp(storescp, pki, profile, server_profile, protocol, suite):
    peer = storescp(*server(pki, *server_profile))
    mine, theirs = both("-d", *client(pki, profile), "127.0.0.1", str(peer.port))
    assert mine.returncode == 0, mine.stderr
    assert tls_facts(mine.stderr) == (protocol, suite)
    assert_same(mine, theirs)


@pytest.mark.parametrize("profile", ["+pg", "+pm"])
def test_profiles_of_370(storescp, pki, profile):
    """+pg (our default, as in 3.6.8+) and +pm do not exist in 3.6.7: ours alone."""
    peer = storescp(*server(pki))
    mine = ours("-d", *client(pki, profile), "127.0.0.1", str(peer.port))
    assert mine.returncode == 0, mine.stderr
    assert tls_facts(mine.stderr) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    default = ours("-v", *client(pki), "127.0.0.1", str(peer.port))
    assert default.returncode == 0 and "I: Received Echo Response (Success)" in default.stderr


@pytest.mark.parametrize(
    "variant",
    ["anonymous-ignore", "hashed-dir", "der", "use-passwd", "std-passwd-stdin", "repeat-abort"],
)
def test_client_variants(storescp, pki, variant):
    secret = pki.secret
    if variant == "anonymous-ignore":
        peer = storescp(*server(pki, "-ic"))
        args = ("+tla", "-ic", "+py")
    elif variant == "hashed-dir":
        peer = storescp(*server(pki))
        args = ("+tls", pki.client.key, pki.client.cert, "+cd", pki.ca_dir, "+py")
    elif variant == "der":
        peer = storescp(*server(pki))
        d = pki.directory
        args = ("-der", "+tls", f"{d}/client1.key.der", f"{d}/client1.der", "+cf",
                f"{d}/ca.der", "+py")
    elif variant == "use-passwd":
        peer = storescp(*server(secret, "+pw", "s3cret pass"))
        args = ("+tls", secret.client.key, secret.client.cert, "+pw", "s3cret pass", "+cf",
                secret.ca.cert, "+py")
    elif variant == "std-passwd-stdin":
        peer = storescp(*server(secret, "+pw", "s3cret pass"))
        args = ("+tls", secret.client.key, secret.client.cert, "+cf", secret.ca.cert, "+py")
    else:
        peer = storescp(*server(pki))
        args = (*client(pki, "+py"), "--repeat", "3", "--abort")
    options = {"input": "s3cret pass\n"} if variant == "std-passwd-stdin" else {}
    mine, theirs = both("-v", *args, "127.0.0.1", str(peer.port), **options)
    assert mine.returncode == 0, mine.stderr
    assert_same(mine, theirs)


@pytest.mark.parametrize(
    "case",
    ["unknown-ca", "no-trust-store", "revoked-server", "crl-check-without-crl", "no-common-suite",
     "wrong-password", "plain-client", "tls-client-plain-server"],
)
def test_failures_like_dcmtk(storescp, pki, case):
    args: tuple[str, ...]
    if case == "unknown-ca":
        peer = storescp(*server(pki))
        args = ("+tls", pki.client.key, pki.client.cert, "+cf", pki.other.ca.cert, "+py")
    elif case == "no-trust-store":
        peer = storescp(*server(pki))
        args = ("+tls", pki.client.key, pki.client.cert, "+py")
    elif case == "revoked-server":
        peer = storescp(*server(pki, name="revoked"))
        args = (*client(pki, "+py"), "+crl", pki.crl)
    elif case == "crl-check-without-crl":
        peer = storescp(*server(pki))
        args = (*client(pki, "+py"), "+crv")
    elif case == "no-common-suite":
        peer = storescp(*server(pki))
        args = client(pki, "+pa")
    elif case == "wrong-password":
        peer = storescp(*server(pki))
        args = ("+tls", pki.secret.client.key, pki.secret.client.cert, "+pw", "nope", "+py")
    elif case == "plain-client":
        peer = storescp(*server(pki))
        args = ()
    else:
        peer = storescp()
        args = client(pki, "+py")
    mine, theirs = both("-v", "-ta", "5", *args, "127.0.0.1", str(peer.port))
    assert mine.returncode == 1
    assert mine.elapsed < 10
    assert_same(mine, theirs)


def test_debug_block_matches_dcmtk(storescp, pki):
    peer = storescp(*server(pki))
    mine, theirs = both("-d", *client(pki, "+py"), "127.0.0.1", str(peer.port))
    assert "D: ================== BEGIN TLS CONNECTION DETAILS =================" in mine.stderr
    assert_same(mine, theirs)


@pytest.mark.parametrize(
    "case", ["rc-root", "rc-leaf", "vc-client", "vc-revoked", "vc-no-tls", "vc-other-ca",
             "vc-der", "rc-missing"],
)
def test_offline_checks_like_dcmtk(pki, case):
    d = pki.directory
    args = {
        "rc-root": ("+rc", pki.ca.cert),
        "rc-leaf": ("+rc", pki.client.cert),
        "vc-client": ("+tla", "+cf", pki.ca.cert, "+vc", pki.client.cert),
        "vc-revoked": ("+tla", "+cf", pki.ca.cert, "+crl", pki.crl, "+vc", pki.revoked.cert),
        "vc-no-tls": ("+vc", pki.client.cert),
        "vc-other-ca": ("+tla", "+cf", pki.other.ca.cert, "+vc", pki.client.cert),
        "vc-der": ("+tla", "-der", "+cf", f"{d}/ca.der", "+vc", f"{d}/client1.der"),
        "rc-missing": ("+rc", f"{d}/missing.pem"),
    }[case]
    mine, theirs = both(*args)
    assert mine.returncode in (0, 22)
    assert mine.stdout.startswith(("Verification of certificate", "Certificate '"))
    assert_same(mine, theirs)


def test_password_prompt_without_terminal_reads_stdin(pki, storescp):
    """+ps with no controlling terminal reads the pass phrase from stdin, as DCMTK does."""
    secret = pki.secret
    peer = storescp(*server(secret, "+pw", "s3cret pass"))
    args = ["+tls", secret.client.key, secret.client.cert, "+cf", secret.ca.cert, "+py",
            "127.0.0.1", str(peer.port)]
    results = []
    for command in ([sys.executable, "-m", "echoscu"], [DCMTK_ECHOSCU]):
        results.append(subprocess.run(["setsid", *command, *args], input=b"s3cret pass\n",
                                      capture_output=True, timeout=60, check=False))
        time.sleep(SETTLE)
    mine, theirs = results
    assert mine.returncode == theirs.returncode == 0
    assert normalise(mine.stderr.decode()) == normalise(theirs.stderr.decode())
