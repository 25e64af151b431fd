"""The DCMTK-style parser in isolation: tokenizer, C number scanners, blocks, option mapping."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomecho import log
from echoscu import cli
from echoscu.cmdline import (
    CommandLineError,
    expand_command_files,
    is_option,
    parse_arguments,
    scan_signed,
    scan_unsigned,
    to_int32,
    tokenize_command_file,
)
from echoscu.helptext import TABLE

_libc = ctypes.CDLL(ctypes.util.find_library("c"))


def c_sscanf(fmt: bytes, text: str) -> int | None:
    """The real sscanf of the C library: the oracle for our scanners."""
    value = ctypes.c_ulong() if fmt == b"%lu" else ctypes.c_long()
    matched = _libc.sscanf(text.encode(), fmt, ctypes.byref(value))
    return value.value if matched == 1 else None


@pytest.fixture(autouse=True)
def _default_logging():
    yield
    log.reset()


# --- what is an option (docs/dcmtk-behaviour.md 2.1)


@pytest.mark.parametrize("arg", ["-v", "+tls", "--", "-x", "+-", "-aet", "--abc"])
def test_options(arg: str) -> None:
    assert is_option(arg)


@pytest.mark.parametrize("arg", ["-", "+", "", "-5", "+47112", "-0x", "@", "x-v", "5"])
def test_parameters(arg: str) -> None:
    assert not is_option(arg)


# --- @file tokenizer (docs/dcmtk-behaviour.md 2.7)


@pytest.mark.parametrize(("text", "tokens"), [
    ("a b\tc\r\nd", ["a", "b", "c", "d"]),
    ('x"b c"', ["xb c"]),
    ('x"b c"47112', ["xb c", "47112"]),
    ("''", [""]),
    ("'' \"\"", ["", ""]),
    ("\"it's\"", ["it's"]),
    ("'say \"hi\"'", ['say "hi"']),
    ('"abc def', ["abc def"]),
    ('"', []),
    ("# not a comment \\n", ["#", "not", "a", "comment", "\\n"]),
    ("@nested", ["@nested"]),
    ("", []),
    ("  \n\t ", []),
    ("a'b'c", ["ab", "c"]),
])
def test_tokenizer(text: str, tokens: list[str]) -> None:
    assert tokenize_command_file(text) == tokens


def test_expansion_is_one_level(tmp_path, monkeypatch) -> None:
    (tmp_path / "outer").write_text("-v @inner")
    (tmp_path / "inner").write_text("-d")
    monkeypatch.chdir(tmp_path)
    assert expand_command_files(["@outer", "@", "x"]) == ["-v", "@inner", "@", "x"]


def test_missing_command_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandLineError, match="^Cannot open command file 'nope'$"):
        expand_command_files(["-v", "@nope"])


# --- numbers: exactly C's sscanf on this platform (docs/dcmtk-behaviour.md 2.4)

NUMBER_TEXT = st.text(alphabet=" \t\n+-0123456789xXabcdefgABCDEF8", max_size=24)


@settings(max_examples=3000, deadline=None)
@given(NUMBER_TEXT)
def test_unsigned_scanner_is_sscanf_lu(text: str) -> None:
    assert scan_unsigned(text) == c_sscanf(b"%lu", text)


@settings(max_examples=3000, deadline=None)
@given(NUMBER_TEXT)
def test_signed_scanner_is_sscanf_li(text: str) -> None:
    assert scan_signed(text) == c_sscanf(b"%li", text)


@pytest.mark.parametrize("text", [
    "47112abc", "0x10", " 4096", "+4096", "-5", "99999999999999999999", "", "-0x10", "010",
    "09", "0x", "-18446744073709551615", "18446744073709551616", "-9223372036854775809",
])
def test_spec_examples_match_sscanf(text: str) -> None:
    assert scan_unsigned(text) == c_sscanf(b"%lu", text)
    assert scan_signed(text) == c_sscanf(b"%li", text)


@pytest.mark.parametrize(("value", "wrapped"), [
    (1, 1), (2**31 - 1, 2**31 - 1), (2**31, -(2**31)), (2**32 + 5, 5), (-1, -1),
    (2**63 - 1, -1),
])
def test_to_int32(value: int, wrapped: int) -> None:
    assert to_int32(value) == wrapped


# --- scanning and blocks (docs/dcmtk-behaviour.md 2.1, 2.5)


def test_normalised_arguments_and_params() -> None:
    line = parse_arguments(TABLE, ["h", "-v", "-aet", "-d", "104", "+tls", "k", "c"], "echoscu")
    assert line.arguments == ["h", "--verbose", "--aetitle", "-d", "104", "--enable-tls", "k",
                              "c"]
    assert [text for _, text in line.params] == ["h", "104"]
    assert line.find("--aetitle").value == "-d"
    assert line.find("--debug") is None
    assert line.find("--enable-tls").values == ["k", "c"]


def test_find_all_is_right_to_left() -> None:
    line = parse_arguments(TABLE, ["+cf", "a", "-v", "+cf", "b", "+cf", "c"], "echoscu")
    assert [occ.value for occ in line.find_all("--add-cert-file")] == ["c", "b", "a"]


@pytest.mark.parametrize(("args", "accepted"), [
    (["+pw", "x", "-pw"], ["--use-passwd", "--null-passwd"]),
    (["-pw", "+pw", "x"], ["--use-passwd"]),
    (["-pw", "+ps", "-pw"], ["--std-passwd", "--null-passwd"]),
    (["+ps"], ["--std-passwd"]),
    ([], []),
])
def test_block_examination(args: list[str], accepted: list[str]) -> None:
    line = parse_arguments(TABLE, args, "echoscu")
    members = ("--std-passwd", "--use-passwd", "--null-passwd")
    assert [occ.option.long for occ in line.examine_block(members)] == accepted


@pytest.mark.parametrize(("args", "message"), [
    (["--nope"], "Unknown option --nope"),
    (["-aet"], "Missing value for option --aetitle"),
    (["+tls", "k"], "Missing value for option --enable-tls"),
    (["+pb"], "Unknown option +pb"),
])
def test_parse_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandLineError) as caught:
        parse_arguments(TABLE, args, "echoscu")
    assert str(caught.value) == message


# --- what main hands the driver


def test_defaults() -> None:
    options = cli.prepare(["peer.example", "104"])
    assert (options.peer, options.port, options.calling_aet, options.called_aet) == (
        "peer.example", 104, "ECHOSCU", "ANY-SCP")
    assert (options.ip_family, options.propose_ts, options.propose_pc) == ("ipv4", 1, 1)
    assert (options.connect_timeout, options.socket_timeout, options.acse_timeout,
            options.dimse_timeout) == (None, 60, 30, None)
    assert (options.max_pdu, options.repeat, options.abort, options.tls) == (16384, 1, False,
                                                                              None)
    assert (options.verify_cert, options.is_root_cert) == (None, None)


def test_network_values() -> None:
    options = cli.prepare([
        "-aet", "ABCDEFGHIJKLMNOPQRSTUV", "-aec", "", "-to", "0x10", "-ts", "4294967297",
        "-ta", "010", "-td", "7", "-pdu", "4097", "--repeat", "3", "--abort", "-pts", "53",
        "-ppc", "128", "-i6", "-i0", "h", "+42",
    ])
    assert (options.calling_aet, options.called_aet) == ("ABCDEFGHIJKLMNOP", "")
    assert (options.connect_timeout, options.socket_timeout, options.acse_timeout,
            options.dimse_timeout) == (16, 1, 8, 7)
    assert (options.max_pdu, options.repeat, options.abort) == (4097, 3, True)
    assert (options.propose_ts, options.propose_pc, options.ip_family) == (53, 128, "auto")
    assert (options.peer, options.port) == ("h", 42)


def test_ae_title_keeps_16_bytes() -> None:
    options = cli.prepare(["-aet", "ÄÖÜÄÖÜÄÖÜ", "h", "1"])
    assert options.calling_aet.encode("utf-8", "surrogateescape") == "ÄÖÜÄÖÜÄÖ".encode()


def test_tls_options() -> None:
    pytest.importorskip("certs.options")
    options = cli.prepare([
        "+tls", "key.pem", "cert.pem", "+pw", "secret", "-der", "+cf", "a", "+cf", "b",
        "+cd", "d", "+crl", "r1", "+crl", "r2", "+cra", "+cs", "A", "+cs", "B",
        "--request-sni", "server", "+rs", "seed", "+wf", "out", "-ic", "+py", "h", "1",
    ])
    tls = options.tls
    assert (tls.mode, tls.key_file, tls.cert_file) == ("enabled", "key.pem", "cert.pem")
    assert (tls.password_mode, tls.password, tls.file_format) == ("given", "secret", "der")
    assert (tls.ca_files, tls.ca_dirs, tls.crl_files) == (["b", "a"], ["d"], ["r2", "r1"])
    assert (tls.crl_mode, tls.ciphers, tls.sni) == ("all", ["B", "A"], "server")
    assert (tls.seed_file, tls.write_seed, tls.write_seed_file) == ("seed", False, "out")
    assert (tls.peer_cert, tls.profile) == ("ignore", "bcp195-nd")


def test_anonymous_tls_defaults() -> None:
    pytest.importorskip("certs.options")
    tls = cli.prepare(["+tla", "+rs", "s", "+ws", "+tls", "k", "c", "+tla", "h", "1"]).tls
    assert (tls.mode, tls.profile, tls.password_mode, tls.peer_cert) == (
        "anonymous", "8996", "prompt", "require")
    assert (tls.write_seed, tls.write_seed_file, tls.sni, tls.crl_mode) == (True, None, None,
                                                                           None)


def test_password_needs_the_rightmost_transport_to_be_enable_tls(capsys) -> None:
    assert cli.prepare(["+tls", "k", "c", "-pw", "+tla", "h", "1"]) == 1
    assert capsys.readouterr().err.endswith(
        "error: --null-passwd only allowed with --enable-tls\n")


def test_disable_tls_rightmost() -> None:
    assert cli.prepare(["+tla", "-tls", "h", "1"]).tls is None


def test_offline_checks_skip_the_port() -> None:
    options = cli.prepare(["+rc", "root.pem", "+vc", "leaf.pem", "not-a-port"])
    assert (options.verify_cert, options.is_root_cert) == ("leaf.pem", "root.pem")
    assert (options.peer, options.port) == ("", 104)


def test_logging_levels_configured() -> None:
    cli.prepare(["-d", "h", "1"])
    assert log.get_logger(log.APP_LOGGER).enabled(log.DEBUG)
    cli.prepare(["-ll", "off", "h", "1"])
    assert not log.get_logger(log.APP_LOGGER).enabled(log.FATAL)
    cli.prepare(["h", "1"])
    assert log.get_logger(log.NET_LOGGER).enabled(log.WARN)
    assert not log.get_logger(log.NET_LOGGER).enabled(log.INFO)


def test_errors_are_printed_not_raised(capsys) -> None:
    assert cli.main(["-pdu", "x", "h", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("error: Invalid value for option --max-pdu (x)\n")


def test_invoked_name(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/opt/bin:/usr/bin")
    assert cli.invoked_name("/opt/bin/echoscu") == "echoscu"
    assert cli.invoked_name("./echoscu") == "./echoscu"
    assert cli.invoked_name("/elsewhere/echoscu") == "/elsewhere/echoscu"
    assert cli.invoked_name("echoscu") == "echoscu"


@pytest.mark.timeout(60)
def test_ctrl_c_outside_the_driver_ends_like_sigint_without_traceback(tmp_path) -> None:
    """Interrupted before the network (here: while reading a command file): killed by SIGINT."""
    repo = str(Path(__file__).resolve().parent.parent)
    code = (
        "from echoscu import cli\n"
        "def interrupted(args):\n"
        "    raise KeyboardInterrupt\n"
        "cli.expand_command_files = interrupted\n"
        "cli.main(['@whatever', 'h', '1'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": repo})
    assert result.returncode == -signal.SIGINT
    assert "Traceback" not in result.stderr
