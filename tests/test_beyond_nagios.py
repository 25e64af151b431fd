"""--nagios: one status line with perfdata and the plugin codes 0/1/2/3.

Thresholds are chosen so that the verdict does not depend on the machine's speed:
0 ms is always exceeded, an echoscp ``--delay`` is a floor, a one-year certificate has
between 363 and 365 days left.
"""

from __future__ import annotations

import re

import pytest
from support.beyond import (  # noqa: F401 - fixtures
    client_args,
    echoscu,
    tls_server_args,
    validated,
)

from certs.pki import issue

pytestmark = [pytest.mark.timeout(90)]

HOST = "127.0.0.1"
#: Nagios plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
_PERFDATA_ITEM = re.compile(r"[a-z_]+=-?[\d.]+(ms)?;[\d.:]*;[\d.:]*;[\d.]*;[\d.]*")
_LINE = re.compile(r"DICOM (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+) \| (.+)")


def check(*args: str) -> tuple[int, str, str, dict[str, str]]:
    """(exit code, state, text, perfdata items by label) of one --nagios run."""
    result = echoscu("--nagios", *args)
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    match = _LINE.fullmatch(result.stdout.rstrip("\n"))
    assert match, result.stdout
    items = match[3].split(" ")
    assert all(_PERFDATA_ITEM.fullmatch(item) for item in items), items
    perfdata = {item.split("=", 1)[0]: item.split("=", 1)[1] for item in items}
    return result.returncode, match[1], match[2], perfdata


def test_ok_without_thresholds(scp) -> None:  # noqa: F811
    port = scp().port
    code, state, text, perfdata = check(HOST, str(port))
    assert (code, state) == (0, "OK")
    assert text.startswith(f"ANY-SCP@{HOST}:{port}: echo ")
    assert set(perfdata) == {"rtt", "time"}
    assert perfdata["rtt"].endswith("ms;;;0;")


@pytest.mark.parametrize(("thresholds", "code", "state"), [
    (("--warning", "0"), 1, "WARNING"),
    (("--critical", "0"), 2, "CRITICAL"),
    (("--warning", "0", "--critical", "0"), 2, "CRITICAL"),
    (("--warning", "100000", "--critical", "200000"), 0, "OK"),
])
def test_round_trip_thresholds(scp, thresholds, code, state) -> None:  # noqa: F811
    port = scp().port
    got_code, got_state, _, perfdata = check(*thresholds, HOST, str(port))
    assert (got_code, got_state) == (code, state)
    warning = thresholds[1] if thresholds[0] == "--warning" else ""
    assert perfdata["rtt"].split(";")[1] == warning


def test_slow_peer_is_warning_then_critical(scp) -> None:  # noqa: F811
    port = scp("--delay", "0.2").port
    assert check("--warning", "100", HOST, str(port))[:2] == (1, "WARNING")
    code, state, _, perfdata = check("--warning", "50", "--critical", "150", HOST, str(port))
    assert (code, state) == (2, "CRITICAL")
    assert float(perfdata["rtt"].split("ms")[0]) >= 200.0
    assert perfdata["rtt"].split(";")[1:3] == ["50", "150"]


@pytest.mark.parametrize(("thresholds", "code", "state"), [
    ((), 0, "OK"),
    (("--cert-warning", "30", "--cert-critical", "7"), 0, "OK"),
    (("--cert-warning", "400"), 1, "WARNING"),
    (("--cert-warning", "500", "--cert-critical", "400"), 2, "CRITICAL"),
])
def test_certificate_thresholds(scp, pki, thresholds, code, state) -> None:  # noqa: F811
    port = scp(*tls_server_args(pki)).port
    got_code, got_state, text, perfdata = check(*thresholds, *client_args(pki), HOST, str(port))
    assert (got_code, got_state) == (code, state), text
    assert "TLSv1.3" in text and "certificate expires in" in text
    days = int(perfdata["cert_days"].split(";")[0])
    assert 363 <= days <= 365
    assert perfdata["tls_handshake"].endswith("ms;;;0;")
    if thresholds:
        warn, crit = perfdata["cert_days"].split(";")[1:3]
        assert warn == f"{thresholds[1]}:"


def test_failure_is_critical_with_dcmtk_words(closed_port) -> None:
    code, state, text, perfdata = check(HOST, str(closed_port))
    assert (code, state) == (2, "CRITICAL")
    assert text == (f"ANY-SCP@{HOST}:{closed_port}: refused: 0006:031c TCP Initialization "
                    "Error: Connection refused")
    assert set(perfdata) == {"time"}


def test_rejection_is_critical(scp) -> None:  # noqa: F811
    port = scp("--reject", "1", "1", "3").port
    code, state, text, _ = check(HOST, str(port))
    assert (code, state) == (2, "CRITICAL")
    assert text.startswith(f"ANY-SCP@{HOST}:{port}: rejected: Result: Rejected Permanent, "
                           "Source: Service User, Reason: Calling AE Title Not Recognized; ")
    assert "hint: the peer does not accept the calling AE title 'ECHOSCU'" in text


def test_bad_status_is_critical(scp) -> None:  # noqa: F811
    port = scp("--status", "C001").port
    code, state, text, _ = check(HOST, str(port))
    assert (code, state) == (2, "CRITICAL")
    assert text.endswith("bad-status: C-ECHO answered with status 0xc001")


def test_local_problems_are_unknown(tmp_path) -> None:
    code, state, text, _ = check("+tls", "missing.key", "missing.pem", HOST, "104")
    assert (code, state) == (3, "UNKNOWN")
    assert text.endswith("tls-config: 000b:0004 Unable to load private TLS key from "
                         "'missing.key'")
    result = echoscu("--nagios", "--json", HOST, "104")
    assert result.returncode == 3
    assert result.stdout == "DICOM UNKNOWN - invalid command line (see the error on stderr)\n"
    assert result.stderr.endswith("error: --nagios not allowed with --json\n")


def test_dcmtk_lines_are_silenced_unless_asked_for(closed_port) -> None:
    assert echoscu("--nagios", HOST, str(closed_port)).stderr == ""
    verbose = echoscu("--nagios", "-v", HOST, str(closed_port))
    assert "I: Requesting Association" in verbose.stderr
    assert verbose.stdout.startswith("DICOM CRITICAL - ")


def test_thresholds_need_nagios() -> None:
    result = echoscu("--cert-warning", "10", HOST, "104")
    assert result.returncode == 1
    assert result.stderr.endswith("error: --cert-warning only allowed with --nagios\n")


def test_expired_peer_certificate(scp, pki, tmp_path) -> None:  # noqa: F811
    """The handshake refuses the expired certificate; a second, unverified handshake
    fetches it, so that the status line and perfdata say how long ago it expired."""
    expired = issue(tmp_path, "expired", pki.ca, expired=True)
    port = scp("+tls", expired.key, expired.cert, "-ic").port
    code, state, text, perfdata = check(*client_args(pki), HOST, str(port))
    assert (code, state) == (2, "CRITICAL")
    assert "tls-verify: " in text and "hint: the peer's certificate did not verify " \
                                      "(certificate has expired)" in text
    assert int(perfdata["cert_days"].split(";")[0]) in (-1, -2)
    document = validated(echoscu("--json", *client_args(pki), HOST, str(port)).stdout)
    tls = document["tls"]
    assert tls["established"] is False
    assert tls["peer_chain"][0]["subject"] == "CN=expired"
    assert tls["peer_chain"][0]["days_left"] in (-1, -2)
