"""Offline +vc/+rc checks against DCMTK 3.6.7's (identical in 3.7.0,
docs/dcmtk-behaviour.md section 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.peers import dcmtk, normalise
from support.tls import RecordingLog
from test_tls_context import options_from_args

from certs import pki as pkimod
from certs.context import TLSSetupError, client_context
from certs.offline import is_root_cert, verify_cert

pytestmark = [pytest.mark.dcmtk, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> pkimod.Pki:
    made = pkimod.make_pki(tmp_path_factory.mktemp("pki"))
    root = made.directory
    pkimod.make_ca(root, "other", common_name="Other CA")
    pkimod.issue(root, "expired", made.ca, expired=True)
    with open(os.path.join(root, "chain.pem"), "w") as chain:
        chain.write(Path(made.server.cert).read_text() + Path(made.ca.cert).read_text())
    with open(os.path.join(root, "garbage.txt"), "w") as handle:
        handle.write("garbage\n")
    return made


def run_ours(args: list[str]) -> tuple[int, str, list[str]]:
    """What echoscu must do with +vc/+rc: TLS layer first (if any), then the check.

    Returns (exit code, stdout, stderr lines) as the caller prints them.
    """
    log = RecordingLog()
    words = list(args)
    target = words.pop()
    option = words.pop()
    options = options_from_args(words) if {"+tls", "+tla"} & set(words) else None
    if options is not None:
        try:
            client_context(options, log)
        except TLSSetupError as failure:
            log.lines.extend(failure.messages)
            return 1, "", log.text()
    if option == "+vc":
        ok = verify_cert(options, target, log)
        line = f"Verification of certificate '{target}' {'passed' if ok else 'failed'}."
    else:
        ok = is_root_cert(options, target, log)
        line = (f"Certificate '{target}' is {'a' if ok else 'not a'} valid, self-signed "
                "root CA.")
    return (0 if ok else 22), line + "\n", log.text()


CASES = {
    "pass": "+tla +cf {d}/ca.pem +vc {d}/server.pem",
    "no-ca": "+tla +vc {d}/server.pem",
    "no-tls": "+vc {d}/server.pem",
    "other-ca": "+tla +cf {d}/other.pem +vc {d}/server.pem",
    "revoked": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +vc {d}/revoked.pem",
    "revoked-chain-check": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +cra +vc {d}/revoked.pem",
    "no-crl": "+tla +cf {d}/ca.pem +cra +vc {d}/server.pem",
    "crl-all-ok": "+tla +cf {d}/ca.pem +crl {d}/crl.pem +cra +vc {d}/server.pem",
    "crl-leaf-ok": "+tla +cf {d}/ca.pem +crl {d}/crl-empty.pem +crv +vc {d}/revoked.pem",
    "expired": "+tla +cf {d}/ca.pem +vc {d}/expired.pem",
    "hashed-dir": "+tla +cd {d}/cadir +vc {d}/server.pem",
    "hashed-dir-der": "+tla -der +cd {d}/cadir-der +vc {d}/server.der",
    "der": "+tla -der +cf {d}/ca.der +vc {d}/server.der",
    "chain-untrusted-root": "+tla +vc {d}/chain.pem",
    "missing": "+tla +cf {d}/ca.pem +vc {d}/missing.pem",
    "garbage": "+tla +cf {d}/ca.pem +vc {d}/garbage.txt",
    "pem-as-der": "+tla -der +cf {d}/ca.pem +vc {d}/server.pem",
    "with-key": "+tls {d}/client1.key {d}/client1.pem +cf {d}/ca.pem +vc {d}/client1.pem",
    "root": "+rc {d}/ca.pem",
    "not-root": "+rc {d}/server.pem",
    "root-missing": "+rc {d}/missing.pem",
    "root-garbage": "+rc {d}/garbage.txt",
    "root-der": "+tla -der +rc {d}/ca.der",
    "root-der-of-pem": "+tla -der +rc {d}/ca.pem",
}


@pytest.mark.parametrize("case", list(CASES))
def test_offline_check_like_dcmtk(pki, case):
    args = CASES[case].format(d=pki.directory).split()
    theirs = dcmtk(*args)
    code, stdout, stderr = run_ours(args)
    assert (code, stdout) == (theirs.returncode, theirs.stdout)
    assert [normalise(line) for line in stderr] == [normalise(line)
                                                    for line in theirs.stderr_lines]
