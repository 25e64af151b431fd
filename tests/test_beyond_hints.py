"""The plain/TLS mismatch hint: after DCMTK's failure line, one ``W: hint:`` line naming
the cause and the option that fixes it, on a terminal only (a pty here); scripts see
DCMTK's bytes unchanged; --json and --nagios always carry the hint.

Both directions, against our echoscp and DCMTK's storescp. With +tls/+tla the hint
comes only from what the peer answered the ClientHello with: our echoscp's A-ABORT
shows plain DICOM, storescp's silent close does not.
"""

from __future__ import annotations

import pytest
from support.beyond import (  # noqa: F401 - fixtures
    client_args,
    echoscu,
    run_on_terminal,
    tls_server_args,
    validated,
)
from support.peers import assert_same, dcmtk

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"
PLAIN_TO_TLS = ("F: Association Request Failed: 0006:0317 Peer aborted Association "
                "(or never connected)")


def expects_tls(port: int) -> str:
    return (f"W: hint: {HOST}:{port} expects TLS: add +tls KEY CERT (--enable-tls) "
            "or +tla (--anonymous-tls)")


def speaks_plain(port: int) -> str:
    return (f"W: hint: {HOST}:{port} speaks plain DICOM, not TLS: leave out +tls/+tla "
            "(or give -tls)")


def test_plain_to_echoscp_tls_port(scp, pki) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    code, stdout, terminal = run_on_terminal([HOST, str(port)])
    assert (code, stdout) == (1, "")
    assert terminal == f"{PLAIN_TO_TLS}\n{expects_tls(port)}\n"
    piped = echoscu(HOST, str(port))
    assert (piped.returncode, piped.stderr) == (1, PLAIN_TO_TLS + "\n")
    document = validated(echoscu("--json", HOST, str(port)).stdout)
    assert document["hint"] == expects_tls(port)[len("W: hint: "):]


def test_tls_to_echoscp_plain_port(scp) -> None:  # noqa: F811
    port = scp().port
    code, _, terminal = run_on_terminal(["+tla", "-ic", HOST, str(port)])
    failure = "F: Association Request Failed: 000b:090b TLS error: wrong version number"
    assert code == 1
    assert terminal == f"{failure}\n{speaks_plain(port)}\n"
    assert echoscu("+tla", "-ic", HOST, str(port)).stderr == failure + "\n"
    nagios = echoscu("--nagios", "+tla", "-ic", HOST, str(port))
    assert nagios.returncode == 2
    assert f"; hint: {HOST}:{port} speaks plain DICOM, not TLS" in nagios.stdout


@pytest.mark.dcmtk
def test_plain_to_storescp_tls_port(storescp, pki) -> None:  # noqa: F811
    peer = storescp("+tls", pki.server.key, pki.server.cert, "-ic")
    code, _, terminal = run_on_terminal([HOST, str(peer.port)])
    assert code == 1
    assert terminal == f"{PLAIN_TO_TLS}\n{expects_tls(peer.port)}\n"
    # without a terminal: DCMTK's bytes
    assert_same(echoscu(HOST, str(peer.port)), dcmtk(HOST, str(peer.port)))


@pytest.mark.dcmtk
def test_tls_to_storescp_plain_port(storescp) -> None:
    """storescp closes on our ClientHello without a word: nothing shows DICOM, and
    nothing is sent in clear to find out (test_beyond_hints_cleartext.py), so no hint."""
    peer = storescp()
    code, _, terminal = run_on_terminal(["+tla", "-ic", HOST, str(peer.port)])
    assert code == 1
    lines = terminal.splitlines()
    assert lines == ["F: Association Request Failed: 000b:0017 OpenSSL I/O error "
                     "(SSL_ERROR_SYSCALL)"]
    args = ("+tla", "-ic", HOST, str(peer.port))
    assert_same(echoscu(*args), dcmtk(*args))


def test_no_hint_when_the_cause_is_not_a_mismatch(scp, closed_port) -> None:  # noqa: F811
    """A refused port, or a plain peer that simply closes on us: no guess."""
    code, _, terminal = run_on_terminal([HOST, str(closed_port)])
    assert code == 1
    assert terminal == ("F: Association Request Failed: 0006:031c TCP Initialization Error: "
                        "Connection refused\n")


def test_quiet_has_no_hint(scp, pki) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    code, _, terminal = run_on_terminal(["-q", HOST, str(port)])
    assert (code, terminal) == (1, f"{PLAIN_TO_TLS}\n")


def test_success_on_a_terminal_prints_nothing(scp, pki) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    assert run_on_terminal([*client_args(pki), HOST, str(port)]) == (0, "", "")
