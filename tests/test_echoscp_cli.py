"""echoscp's command line: pynetdicom's options and errors, DCMTK's TLS blocks, listings.

Parsing runs in-process through ``echoscp.cli.main`` with the server replaced by a
recorder of the ``ServerOptions`` it would have been given; one test runs the real
program to check the whole path (exit code 2, one line, no traceback).
"""

from __future__ import annotations

import sys

import pytest
from support.peers import run

from dicomecho import log
from dul import uids
from echoscp import cli, server
from echoscp.options import (
    ECHOSCP_TRANSFER_SYNTAXES,
    ServerOptions,
    nodelay_from_environment,
    parse_status,
    preferred_transfer_syntaxes,
)


@pytest.fixture
def parsed(monkeypatch):
    """``parsed(*argv) -> ServerOptions`` without starting a server (exit code must be 0)."""
    seen: list[ServerOptions] = []

    def record(opts: ServerOptions) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(server, "serve", record)

    def parse(*argv: str) -> ServerOptions:
        assert cli.main(list(argv)) == 0
        return seen[-1]

    yield parse
    log.reset()


def error_of(capsys, *argv: str) -> str:
    """The one stderr line of a command-line error (exit code 2 asserted)."""
    assert cli.main(list(argv)) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("echoscp: error: ")
    return lines[0][len("echoscp: error: "):]


def test_defaults(parsed):
    opts = parsed("11112")
    assert (opts.port, opts.ae_title, opts.bind_address) == (11112, "ECHOSCP", "")
    assert (opts.acse_timeout, opts.dimse_timeout, opts.network_timeout) == (30, 30, 30)
    assert (opts.max_pdu, opts.max_associations, opts.status, opts.delay) == (16382, 1000, 0, 0)
    assert opts.transfer_syntaxes == ECHOSCP_TRANSFER_SYNTAXES
    assert opts.tls is None and opts.reject is None and opts.log_json is None
    assert log.root_logger().threshold == log.ERROR


def test_network_and_operator_options(parsed):
    opts = parsed("-aet", "MINE", "-ta", "1.5", "-td", "2", "-tn", "3", "-pdu", "0",
                  "-ba", "::1", "--max-associations", "7", "--status", "C001",
                  "--delay", "0.25", "--reject", "2", "3", "1", "--require-called-aet",
                  "--require-calling-aet", "A", "--require-calling-aet", "B ",
                  "--log-json", "x.jsonl", "104")
    assert (opts.ae_title, opts.acse_timeout, opts.dimse_timeout, opts.network_timeout) == \
        ("MINE", 1.5, 2, 3)
    assert (opts.max_pdu, opts.bind_address, opts.max_associations) == (0, "::1", 7)
    assert (opts.status, opts.delay, opts.reject) == (0xC001, 0.25, (2, 3, 1))
    assert opts.require_called_aet and opts.require_calling_aets == ["A", "B"]
    assert opts.log_json == "x.jsonl" and opts.port == 104


@pytest.mark.parametrize(("argv", "level"), [
    (["-q"], log.OFF), (["-v"], log.INFO), (["-d"], log.DEBUG),
    (["-ll", "warn"], log.WARN), (["-v", "-ll", "critical"], log.FATAL),
    (["-ll", "WARNING"], log.WARN),
])
def test_log_levels(parsed, argv, level):
    parsed(*argv, "1")
    assert log.root_logger().threshold == level


@pytest.mark.parametrize(("flag", "first"), [
    (None, uids.IMPLICIT_VR_LITTLE_ENDIAN), ("-x=", uids.EXPLICIT_VR_LITTLE_ENDIAN),
    ("--prefer-uncompr", uids.EXPLICIT_VR_LITTLE_ENDIAN),
    ("-xe", uids.EXPLICIT_VR_LITTLE_ENDIAN), ("-xb", uids.EXPLICIT_VR_BIG_ENDIAN),
    ("-xi", uids.IMPLICIT_VR_LITTLE_ENDIAN),
])
def test_transfer_syntax_flags(parsed, flag, first):
    opts = parsed(*([flag] if flag else []), "1")
    assert opts.transfer_syntaxes[0] == first
    assert len(opts.transfer_syntaxes) == (1 if flag == "-xi" else 45)


def test_preference_lists_follow_pynetdicom():
    full = list(ECHOSCP_TRANSFER_SYNTAXES)
    implicit, explicit, deflated, big = full[:4]
    assert list(preferred_transfer_syntaxes("uncompr")) == full[1:] + [implicit]
    assert list(preferred_transfer_syntaxes("little")) == [explicit, implicit] + full[2:]
    assert list(preferred_transfer_syntaxes("big"))[:4] == [big, implicit, explicit, deflated]
    assert preferred_transfer_syntaxes("implicit") == (implicit,)


@pytest.mark.parametrize(("argv", "message"), [
    (["-q", "-v", "1"], "argument -v/--verbose: not allowed with argument -q/--quiet"),
    (["-x=", "-xe", "1"], "argument -xe/--prefer-little: not allowed with argument "
                          "-x=/--prefer-uncompr"),
    (["-xi", "--prefer-big", "1"], "argument -xb/--prefer-big: not allowed with argument "
                                   "-xi/--implicit"),
    ([], "Missing argument 'PORT'."),
    (["70000"], "Invalid value for 'PORT': 70000 is not in the range 0<=x<=65535."),
    (["-pdu", "5", "1"], "Invalid value for '-pdu' / '--max-pdu': 5 is neither 0 (unlimited) "
                         "nor in 13..4294967295"),
    (["-ta", "0", "1"], "Invalid value for '-ta' / '--acse-timeout': 0.0 is not in the "
                        "range x>0."),
    (["-aet", "A\\B", "1"], "Invalid value for '-aet' / '--ae-title': AE title 'A\\B' "
                            "contains a backslash, control or non-ASCII character"),
    (["-aet", "X" * 17, "1"], "Invalid value for '-aet' / '--ae-title': AE title "
                              f"'{'X' * 17}' is longer than 16 characters"),
    (["--status", "12345", "1"], "Invalid value for '--status': '12345' is not a "
                                 "hexadecimal status 0000..FFFF"),
    (["--reject", "3", "1", "1", "1"], "Invalid value for '--reject': result 3 is neither "
                                       "1 (permanent) nor 2 (transient)"),
    (["-ll", "trace", "1"], "Invalid value for '-ll' / '--log-level': 'trace' is not one of "
                            "'critical', 'error', 'warn', 'warning', 'info', 'debug'."),
    (["--max-associations", "0", "1"], "Invalid value for '--max-associations': 0 is not in "
                                       "the range x>=1."),
    (["--bogus", "1"], "No such option '--bogus'. Did you mean '--verbose'?"),
    (["+pw", "x", "1"], "--use-passwd only allowed with --enable-tls"),
    (["+cf", "ca.pem", "1"], "--add-cert-file only allowed with --enable-tls"),
    (["+tls", "k", "c", "-tls", "-ic", "1"], "--ignore-peer-cert only allowed with "
                                             "--enable-tls"),
    (["+tls", "k", "c", "+pz", "+cs", "TLS_X", "1"], "--cipher not allowed with "
                                                     "--profile-bcp195-ex"),
    (["+tls", "k", "c", "+ws", "1"], "--write-seed only allowed with --seed"),
    # DCMTK's check order and names, as storescp reports them (certs.tlsflags)
    (["+cs", "X", "-der", "1"], "--der-keys only allowed with --enable-tls"),
    (["+tls", "k", "c", "+pz", "+cs", "X", "+ws", "1"], "--write-seed only allowed with --seed"),
    (["+pa", "1"], "--profile-basic only allowed with --enable-tls"),
])
def test_errors_are_one_line(capsys, argv, message):
    assert error_of(capsys, *argv) == message


def test_tls_blocks_rightmost_wins(parsed):
    opts = parsed("-tls", "+tls", "key.pem", "cert.pem", "+pw", "x", "-pw", "-der", "-pem",
                  "+py", "+pg", "-ic", "-vc", "+crv", "+cra", "+cf", "a", "+cf", "b",
                  "+cs", "C1", "+cs", "C2", "+dp", "dh.pem", "--expect-sni", "scp.example",
                  "+rs", "seed", "+wf", "out", "+ws", "1")
    tls = opts.tls
    assert (tls.mode, tls.key_file, tls.cert_file) == ("enabled", "key.pem", "cert.pem")
    assert (tls.password_mode, tls.password) == ("null", "")
    assert (tls.file_format, tls.profile, tls.peer_cert, tls.crl_mode) == \
        ("pem", "8996", "verify", "all")
    assert tls.ca_files == ["b", "a"] and tls.ciphers == ["C2", "C1"]
    assert (tls.dhparam_file, tls.expect_sni, tls.seed_file) == ("dh.pem", "scp.example", "seed")
    assert (tls.write_seed, tls.write_seed_file) == (True, None)
    again = parsed("+tls", "k", "c", "-pw", "+pw", "secret", "-ic", "-rc", "+px", "1")
    assert (again.tls.password_mode, again.tls.password) == ("given", "secret")
    assert (again.tls.peer_cert, again.tls.profile) == ("require", "bcp195")


def test_option_values_are_not_options(parsed):
    opts = parsed("-aet", "-x=", "1")  # a value that looks like an option stays a value
    assert opts.ae_title == "-x=" and opts.transfer_syntaxes == ECHOSCP_TRANSFER_SYNTAXES


def test_version_help_and_listings(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == "echoscp v0.1.0\n"
    assert cli.main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for fragment in ("-x=, --prefer-uncompr", "-aet, --ae-title", "+tls, --enable-tls KEY CERT",
                     "-vc, --verify-peer-cert", "--max-associations N", "--expect-sni NAME"):
        assert fragment in help_text
    assert cli.main(["+cc"]) == 0
    ciphers = capsys.readouterr().out.splitlines()
    assert ciphers[0] == "$echoscp: echoscp v0.1.0 2026-11-25 $"
    assert "Supported TLS ciphersuites are:" in ciphers
    assert "  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in ciphers
    assert cli.main(["+ph"]) == 0
    profiles = capsys.readouterr().out.splitlines()
    assert "- BCP 195 RFC 8996 TLS Profile (default)" in profiles


def test_status_and_nodelay_parsers(monkeypatch):
    assert [parse_status(t) for t in ("0", "0x0122", "C000", "ffff")] == \
        [0, 0x122, 0xC000, 0xFFFF]
    for bad in ("", "0x", "g", "10000", "-1"):
        with pytest.raises(ValueError):
            parse_status(bad)
    for value, expected in ((None, True), ("1", True), ("0", False), ("junk", True)):
        if value is None:
            monkeypatch.delenv("TCP_NODELAY", raising=False)
        else:
            monkeypatch.setenv("TCP_NODELAY", value)
        assert nodelay_from_environment() is expected


def test_real_program_bad_option():
    result = run([sys.executable, "-m", "echoscp", "-xb", "-xi", "104"], timeout=30)
    assert result.returncode == 2
    assert result.stderr == ("echoscp: error: argument -xi/--implicit: not allowed with "
                             "argument -xb/--prefer-big\n")
    assert result.stdout == ""
