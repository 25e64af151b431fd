"""Differential tests of the command line: DCMTK's /usr/bin/echoscu and ours, same arguments.

Every case either stops before the network or reaches only a closed port on
127.0.0.1 (connection refused). Exit code, stdout and stderr must be equal after
replacing DCMTK's version line with ours. Cases where we deliberately follow DCMTK
3.7.0 instead of the installed 3.6.7 are in ``test_cli_370.py`` with their reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DCMTK = "/usr/bin/echoscu"
DCMTK_VERSION_LINE = "$dcmtk: echoscu v3.6.7 2022-04-22 $"
OUR_VERSION_LINE = "$echoscu: echoscu v0.1.0 2026-11-25 $"

#: run the working tree's code even when a copy of the package is installed in site-packages
REPO = str(Path(__file__).resolve().parent.parent)
OUR_ENV = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}

pytestmark = pytest.mark.skipif(not os.path.exists(DCMTK), reason="DCMTK echoscu not installed")

#: files the cases refer to (created in the working directory of both programs)
FILES = {
    "quoted.args": "--arguments -aet \"MY AE\" -aec 'THE SCP' x\"b c\"47112 '' \"it's\" -pdu 1 h p",
    "empty_tokens.args": "--arguments '' \"\" -aet '' -pdu 1 h p",
    "unterminated.args": "--arguments -pdu 1 h \"p q\n r",
    "nested.args": "--arguments -pdu 1 h @quoted.args",
    "literal.args": "--arguments # \\x\t-pdu\r\n1 a b",
    "value.args": "-pdu 1",
    "two.args": "h p",
    "empty.args": "",
    "blank.args": " \t\r\n ",
    "no_log.cfg": "foo = bar\n",
    "no_root.cfg": "log4cplus.appender.x = log4cplus::NullAppender\n",
    "comments.cfg": "# nothing\n   \nno equals sign here\n",
    "fatal.cfg": (
        "log4cplus.rootLogger = FATAL, console\n"
        "log4cplus.appender.console = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.console.logToStdErr = true\n"
        "log4cplus.appender.console.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.console.layout.ConversionPattern = %P: %m%n\n"
    ),
    "stdout.cfg": (
        "log4cplus.rootLogger = INFO, console\n"
        "log4cplus.appender.console = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.console.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.console.layout.ConversionPattern = [%-5p] %c{1}: %m%n\n"
    ),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory holding the command files and log configurations."""
    path = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (path / name).write_bytes(text.encode())
    (path / "a_directory").mkdir()
    return str(path)


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound to port 0, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_both(args: list[str], cwd: str) -> tuple[tuple, tuple]:
    """Run DCMTK (named ``echoscu`` in argv[0]) and ours; return (code, out, err) of each."""
    dcmtk = subprocess.run(["echoscu", *args], executable=DCMTK, cwd=cwd, capture_output=True,
                           timeout=60)
    ours = subprocess.run([sys.executable, "-m", "echoscu", *args], cwd=cwd, env=OUR_ENV,
                          capture_output=True, timeout=60)

    def normalised(result: subprocess.CompletedProcess) -> tuple:
        out, err = (stream.decode("utf-8", "replace").replace(DCMTK_VERSION_LINE,
                                                              OUR_VERSION_LINE)
                    for stream in (result.stdout, result.stderr))
        return result.returncode, out, err

    return normalised(dcmtk), normalised(ours)


def expand(args: list[str], port: int) -> list[str]:
    """Fill in ``{port}`` (the closed port)."""
    return [arg.replace("{port}", str(port)) for arg in args]


HOST = "127.0.0.1"
P = "{port}"

# (id, arguments): each run through both programs
CASES = [
    # --- parse errors: unknown options, missing values, parameter count
    #     (docs/dcmtk-behaviour.md 2.1, 2.2)
    ("unknown-long", ["--foo"]),
    ("unknown-double-dash", ["--"]),
    ("unknown-bundled", ["-vd", HOST, P]),
    ("unknown-equals-form", ["--aetitle=X", HOST, P]),
    ("unknown-case", ["-V", HOST, P]),
    ("unknown-after-good", ["-v", "--bogus", HOST]),
    ("unknown-before-missing-value", ["--bogus", "-aet"]),
    ("unknown-wins-over-help", ["--help", "--bogus"]),
    ("missing-value-aet", ["-aet"]),
    ("missing-value-call-end", [HOST, P, "-aec"]),
    ("missing-value-tls-one", ["+tls", "key.pem"]),
    ("missing-value-tls-none", ["+tls"]),
    ("missing-value-ll", ["-ll"]),
    ("missing-value-lc", ["-lc"]),
    ("missing-value-vc", ["+vc"]),
    ("missing-value-repeat", [HOST, P, "--repeat"]),
    ("missing-value-long-name", ["--max-pdu"]),
    ("missing-param-peer", ["-v"]),
    ("missing-param-port", [HOST]),
    ("missing-param-port-dash", ["-"]),
    ("missing-param-at-sign", ["@"]),
    ("too-many", ["a", "b", "c"]),
    ("too-many-interleaved", ["a", "-v", "b", "-d", "c"]),
    ("value-swallows-option", ["-aet", "--bogus"]),
    ("dash-digit-is-param", ["-5", HOST, P]),
    ("plus-digit-is-param", ["+47112"]),
    ("empty-string-param", ["", HOST, P]),
    # --- interleaving and values that look like options
    ("interleaved", [HOST, "-v", P]),
    ("aet-takes-dash-v", ["--arguments", "-aet", "-v", HOST, P]),
    ("arguments-example", ["--arguments", "-v", "-aet", "MY AE", "-aec", "THE SCP", HOST, P]),
    ("arguments-empty-values", ["--arguments", "-aet", "", "-aec", "", HOST, P, "-pdu", "1"]),
    ("arguments-quiet", ["-q", "--arguments", HOST, P]),
    ("arguments-off", ["-ll", "off", "--arguments", HOST, P]),
    ("arguments-then-error", ["--arguments", "-ts", "-2", HOST, P]),
    ("arguments-raw-bytes", ["--arguments", "-aet", "\udcff\u00c4", "-pdu", "1", HOST, P]),
    ("unknown-option-raw-bytes", ["--\udcff"]),
    # --- the port parameter (unsigned scanner, no minus check)
    ("port-trailing-garbage", [HOST, P + "abc"]),
    ("port-leading-blank", [HOST, " " + P]),
    ("port-plus", [HOST, "+" + P]),
    ("port-minus", [HOST, "-5"]),
    ("port-zero", [HOST, "0"]),
    ("port-65536", [HOST, "65536"]),
    ("port-huge", [HOST, "99999999999999999999"]),
    ("port-empty", [HOST, ""]),
    ("port-text", [HOST, "abc"]),
    ("port-hex", [HOST, "0x10"]),
    ("port-blank", [HOST, " "]),
    ("port-error-before-value-error", [HOST, "0", "-pdu", "1"]),
    ("port-error-not-quiet", ["-q", HOST, "0"]),
    # --- unsigned option values (-pdu, --repeat, -pts, -ppc)
    ("pdu-garbage", ["-pdu", "8192abc", HOST, P]),
    ("pdu-hex", ["-pdu", "0x10", HOST, P]),
    ("pdu-blank", ["-pdu", " 4096", HOST, P]),
    ("pdu-plus", ["-pdu", "+4096", HOST, P]),
    ("pdu-minus", ["-pdu", "-5", HOST, P]),
    ("pdu-minus-after-blank", ["-pdu", "  -4096", HOST, P]),
    ("pdu-minus-after-tab", ["-pdu", "\t-5", HOST, P]),
    ("pdu-overflow", ["-pdu", "131073", HOST, P]),
    ("pdu-huge", ["-pdu", "99999999999999999999", HOST, P]),
    ("pdu-underflow", ["-pdu", "4095", HOST, P]),
    ("pdu-empty", ["-pdu", "", HOST, P]),
    ("pdu-blank-only", ["-pdu", " ", HOST, P]),
    ("pdu-text", ["-pdu", "abc", HOST, P]),
    ("pdu-odd-accepted", ["-pdu", "4097", HOST, P]),
    ("repeat-zero", ["--repeat", "0", HOST, P]),
    ("repeat-minus", ["--repeat", "-1", HOST, P]),
    ("repeat-huge", ["--repeat", "18446744073709551615", HOST, P]),
    ("pts-zero", ["-pts", "0", HOST, P]),
    ("pts-over-370-max", ["-pts", "54", HOST, P]),
    ("ppc-overflow", ["-ppc", "129", HOST, P]),
    ("ppc-underflow", ["-ppc", "0", HOST, P]),
    ("ppc-max", ["-ppc", "128", HOST, P]),
    # --- signed option values (-to, -ts, -ta, -td)
    ("to-hex", ["-to", "0x10", HOST, P]),
    ("to-octal", ["-to", "010", HOST, P]),
    ("to-zero", ["-to", "0", HOST, P]),
    ("to-minus", ["-to", "-1", HOST, P]),
    ("to-text", ["-to", "abc", HOST, P]),
    ("to-empty", ["-to", "", HOST, P]),
    ("to-bare-0x", ["-to", "0x", HOST, P]),
    ("ts-minus-one", ["-ts", "-1", HOST, P]),
    ("ts-minus-two", ["-ts", "-2", HOST, P]),
    ("ts-octal-nine", ["-ts", "09", HOST, P]),
    ("ts-huge-saturates", ["-ts", "99999999999999999999", HOST, P]),
    ("ta-zero", ["-ta", "0", HOST, P]),
    ("ta-garbage", ["-ta", "5s", HOST, P]),
    ("td-minus-hex", ["-td", "-0x10", HOST, P]),
    # --- rightmost wins and the fixed order of the value checks
    #     (docs/dcmtk-behaviour.md 2.5, section 0 step 7)
    ("rightmost-valid", ["-pdu", "1", "-pdu", "8192", HOST, P]),
    ("rightmost-invalid", ["-pdu", "8192", "-pdu", "1", HOST, P]),
    ("order-timeout-before-pdu", ["-pdu", "1", "-to", "0", HOST, P]),
    ("order-repeat-before-pts", ["-pts", "0", "--repeat", "0", HOST, P]),
    ("order-acse-before-dimse", ["-td", "0", "-ta", "0", HOST, P]),
    ("order-socket-before-acse", ["-ta", "0", "-ts", "-5", HOST, P]),
    ("order-values-before-tls", ["+pw", "x", "-ppc", "0", HOST, P]),
    # --- logging options (docs/dcmtk-behaviour.md 2.6, 4.1)
    ("ll-off", ["-ll", "off", HOST, P]),
    ("ll-fatal", ["-ll", "fatal", HOST, P]),
    ("ll-error", ["-ll", "error", HOST, P]),
    ("ll-info", ["-ll", "info", HOST, P]),
    ("ll-upper", ["-ll", "WARN", HOST, P]),
    ("ll-mixed-case", ["-ll", "Info", HOST, P]),
    ("ll-trace-value-error", ["-ll", "trace", "-pdu", "1", HOST, P]),
    ("ll-all-value-error", ["-ll", "all", "-pdu", "1", HOST, P]),
    ("ll-bad", ["-ll", "bad", HOST, P]),
    ("ll-warning", ["-ll", "warning", HOST, P]),
    ("ll-notset", ["-ll", "notset", HOST, P]),
    ("ll-empty", ["-ll", "", HOST, P]),
    ("ll-with-verbose", ["-v", "-ll", "info", HOST, P]),
    ("ll-with-quiet-after", ["-ll", "info", "-q", HOST, P]),
    ("ll-conflict-before-bad-level", ["-d", "-ll", "bad", HOST, P]),
    ("verbose", ["-v", HOST, P]),
    ("quiet-verbose-rightmost", ["-q", "-v", HOST, P]),
    ("verbose-quiet-rightmost", ["-v", "-q", HOST, P]),
    ("debug-quiet-value-error", ["-d", "-q", HOST, P, "-pdu", "1"]),
    ("quiet-debug-value-error", ["-q", "-d", HOST, P, "-pdu", "1"]),
    # --- -q and friends silence the late errors only (docs/dcmtk-behaviour.md 2.3)
    ("quiet-silences-value-error", ["-q", HOST, P, "-pdu", "3"]),
    ("quiet-silences-tls-error", ["-q", "+pw", "x", HOST, P]),
    ("fatal-silences-value-error", ["-ll", "fatal", "-to", "0", HOST, P]),
    ("off-silences-tls-error", ["-ll", "off", "-der", HOST, P]),
    ("error-level-shows-error", ["-ll", "error", "-pdu", "1", HOST, P]),
    ("quiet-shows-parse-error", ["-q", "--bogus"]),
    ("quiet-shows-missing-param", ["-q", HOST]),
    ("quiet-shows-log-conflict", ["-q", "-ll", "info", HOST, P]),
    ("lc-fatal-silences-value-error", ["-lc", "fatal.cfg", "-pdu", "1", HOST, P]),
    # --- -lc (docs/dcmtk-behaviour.md 2.6, 4.2)
    ("lc-missing", ["-lc", "nosuch.cfg", HOST, P]),
    ("lc-directory", ["-lc", "a_directory", HOST, P]),
    ("lc-empty", ["-lc", "empty.args", HOST, P]),
    ("lc-no-settings", ["-lc", "comments.cfg", HOST, P]),
    ("lc-no-log4cplus-key", ["-lc", "no_log.cfg", HOST, P]),
    ("lc-no-root", ["-lc", "no_root.cfg", HOST, P]),
    ("lc-with-verbose", ["-v", "-lc", "fatal.cfg", HOST, P]),
    ("lc-with-ll", ["-lc", "fatal.cfg", "-ll", "info", HOST, P]),
    ("lc-ll-conflict-first", ["-v", "-ll", "info", "-lc", "fatal.cfg", HOST, P]),
    ("lc-bad-ll-first", ["-ll", "bad", "-lc", "nosuch.cfg", HOST, P]),
    ("lc-stdout-layout", ["-lc", "stdout.cfg", "--arguments", HOST, P]),
    ("lc-fatal-refused", ["-lc", "fatal.cfg", HOST, P]),
    # --- TLS dependency and conflict messages (docs/dcmtk-behaviour.md 2.6), one error each
    ("std-passwd-no-tls", ["+ps", HOST, P]),
    ("use-passwd-no-tls", ["+pw", "x", HOST, P]),
    ("null-passwd-no-tls", ["-pw", HOST, P]),
    ("std-passwd-anonymous", ["+tla", "+ps", HOST, P]),
    ("pem-no-tls", ["-pem", HOST, P]),
    ("der-no-tls", ["-der", HOST, P]),
    ("seed-no-tls", ["+rs", "seed", HOST, P]),
    ("write-seed-no-tls", ["+ws", HOST, P]),
    ("write-seed-no-seed", ["+tla", "+ws", HOST, P]),
    ("write-seed-file-no-tls", ["+wf", "f", HOST, P]),
    ("write-seed-file-no-seed", ["+tla", "+wf", "f", HOST, P]),
    ("require-peer-no-tls", ["-rc", HOST, P]),
    ("ignore-peer-no-tls", ["-ic", HOST, P]),
    ("profile-nd-no-tls", ["+py", HOST, P]),
    ("profile-bcp195-no-tls", ["+px", HOST, P]),
    ("profile-ex-no-tls", ["+pz", HOST, P]),
    ("profile-aes-names-basic", ["+pa", HOST, P]),
    ("profile-null-no-tls", ["+pn", HOST, P]),
    ("profile-basic-unknown", ["+pb", HOST, P]),
    ("cert-file-no-tls", ["+cf", "ca.pem", HOST, P]),
    ("cert-dir-no-tls", ["+cd", "certs", HOST, P]),
    ("crl-file-no-tls", ["+crl", "crl.pem", HOST, P]),
    ("crl-vfy-no-tls", ["+crv", HOST, P]),
    ("crl-all-no-tls", ["+cra", HOST, P]),
    ("cipher-no-tls", ["+cs", "TLS_RSA_WITH_AES_128_CBC_SHA", HOST, P]),
    ("cipher-with-extended", ["+tla", "+pz", "+cs", "X", HOST, P]),
    ("cipher-with-extended-rightmost", ["+tla", "+pz", "+py", "+cs", "X", "+pz", HOST, P]),
    ("dhparam-unknown", ["+dp", "dh.pem", HOST, P]),
    ("verify-peer-unknown", ["-vc", HOST, P]),
    ("expect-sni-unknown", ["--expect-sni", "x", HOST, P]),
    # --- option blocks: examination order decides the error (docs/dcmtk-behaviour.md 2.5)
    ("block-use-passwd-then-null", ["+pw", "x", "-pw", HOST, P]),
    ("block-null-then-use-passwd", ["-pw", "+pw", "x", HOST, P]),
    ("block-der-then-pem", ["-der", "-pem", HOST, P]),
    ("block-pem-then-der", ["-pem", "-der", HOST, P]),
    ("block-aes-then-bcp195", ["+pa", "+px", HOST, P]),
    ("block-bcp195-then-aes", ["+px", "+pa", HOST, P]),
    ("block-tls-then-disable", ["+tls", "k", "c", "-tls", "+pw", "x", HOST, P]),
    ("block-disable-then-anonymous", ["-tls", "+tla", "+pw", "x", HOST, P]),
    ("block-ignore-then-require", ["-ic", "-rc", HOST, P]),
    ("block-write-seed-file-then-seed", ["+tla", "+wf", "f", "+ws", HOST, P]),
    ("tls-order-format-before-seed", ["+rs", "s", "-der", HOST, P]),
    ("tls-order-peer-before-profile", ["+py", "-ic", HOST, P]),
    ("tls-order-profile-before-cert-file", ["+cf", "ca", "+pz", HOST, P]),
    ("tls-order-cert-file-before-cipher", ["+cs", "X", "+cd", "d", "+cf", "f", HOST, P]),
    # --- @file expansion (docs/dcmtk-behaviour.md 2.7)
    ("atfile-quotes", ["@quoted.args"]),
    ("atfile-empty-tokens", ["@empty_tokens.args"]),
    ("atfile-unterminated-quote", ["@unterminated.args"]),
    ("atfile-no-nesting", ["@nested.args"]),
    ("atfile-literal-hash-backslash", ["@literal.args"]),
    ("atfile-as-value", ["--arguments", "-aet", "@value.args", HOST, P]),
    ("atfile-params", ["--arguments", "-pdu", "1", "@two.args"]),
    ("atfile-missing", ["@nosuch.args"]),
    ("atfile-missing-after-error", ["--bogus", "@nosuch.args"]),
    ("atfile-blank-only", ["@blank.args", HOST]),
    ("atfile-directory", ["@a_directory", HOST, P]),
    # --- exclusive options skip the parameter count; +vc/+rc without parameters
    ("verify-cert-still-checks-values", ["+vc", "cert.pem", "-pdu", "1"]),
    ("verify-cert-still-checks-logging", ["+vc", "cert.pem", "-v", "-ll", "info"]),
    ("is-root-cert-still-checks-tls", ["+rc", "cert.pem", "-der"]),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("args"), [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_same_as_dcmtk(args: list[str], workdir: str, closed_port: int) -> None:
    dcmtk, ours = run_both(expand(args, closed_port), workdir)
    assert ours == dcmtk


#: cases that reach DCMTK's TLS layer or offline checks: need the TLS engineer's modules
TLS_CASES = [
    ("anonymous-tls-refused", ["-v", "+tla", HOST, P]),
    ("crl-vfy-anonymous-refused", ["+tla", "+crv", HOST, P]),
    ("verify-cert-without-tls", ["+vc", "nosuch.pem"]),
    ("verify-cert-port-not-checked", ["+vc", "nosuch.pem", HOST, "0"]),
    ("is-root-cert-unreadable", ["+rc", "nosuch.pem", "a", "b", "c"]),
    ("verify-wins-over-is-root", ["+rc", "nosuch.pem", "+vc", "nosuch.pem"]),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("args"), [case[1] for case in TLS_CASES],
                         ids=[case[0] for case in TLS_CASES])
def test_tls_paths_same_as_dcmtk(args: list[str], workdir: str, closed_port: int) -> None:
    pytest.importorskip("certs.context")
    pytest.importorskip("certs.offline")
    dcmtk, ours = run_both(expand(args, closed_port), workdir)
    assert ours == dcmtk


def test_arguments_shows_program_name_as_invoked(workdir: str, closed_port: int) -> None:
    """``python -m echoscu`` reports itself as ``echoscu``, like DCMTK started through PATH."""
    _, ours = run_both(["--arguments", "-pdu", "1", HOST, str(closed_port)], workdir)
    assert ours[2].startswith("I: calling 'echoscu' with 5 arguments: ")


def test_command_file_cannot_be_read(tmp_path, closed_port: int) -> None:
    """An unreadable command file gives DCMTK's message (needs a non-root user for DCMTK)."""
    secret = tmp_path / "secret.args"
    secret.write_text("-v")
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as root: every file is readable")
    dcmtk, ours = run_both(["@secret.args", HOST, str(closed_port)], str(tmp_path))
    assert ours == dcmtk


def test_log_config_cannot_be_read(tmp_path, closed_port: int) -> None:
    secret = tmp_path / "secret.cfg"
    secret.write_text(FILES["fatal.cfg"])
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        pytest.skip("running as root: every file is readable")
    dcmtk, ours = run_both(["-lc", "secret.cfg", HOST, str(closed_port)], str(tmp_path))
    assert ours == dcmtk
    assert "cannot be read" in ours[2]


def test_dcmtk_is_the_real_one() -> None:
    """The differential oracle must be DCMTK, not pynetdicom's script of the same name."""
    version = subprocess.run([DCMTK, "--version"], capture_output=True, text=True, timeout=30)
    assert version.stdout.startswith("$dcmtk: echoscu v3.6.7")


# ---------------------------------------------------------------------------
# Where we follow DCMTK 3.7.0 (docs/design.md D5, docs/dcmtk-behaviour.md section 8) or
# print our own facts: checked against docs/dcmtk-behaviour.md's 3.7.0 text, not against
# the installed 3.6.7.

#: docs/dcmtk-behaviour.md 1.5: the 3.7.0 --help text after its version line
SPEC_HELP_BODY = (
    '\n'
    'echoscu: DICOM verification (C-ECHO) SCU\n'
    'usage: echoscu [options] peer port\n'
    '\n'
    'parameters:\n'
    '  peer                         hostname of DICOM peer\n'
    '  port                         tcp/ip port number of peer\n'
    '\n'
    'general options:\n'
    '  -h      --help               print this help text and exit\n'
    '          --version            print version information and exit\n'
    '          --arguments          print expanded command line arguments\n'
    '  -q      --quiet              quiet mode, print no warnings and errors\n'
    '  -v      --verbose            verbose mode, print processing details\n'
    '  -d      --debug              debug mode, print debug information\n'
    '  -ll     --log-level          [l]evel: string constant\n'
    '                               (fatal, error, warn, info, debug, trace)\n'
    '                               use level l for the logger\n'
    '  -lc     --log-config         [f]ilename: string\n'
    '                               use config file f for the logger\n'
    'network options:\n'
    '  IP protocol version:\n'
    '    -i4   --ipv4               use IPv4 only (default)\n'
    '    -i6   --ipv6               use IPv6 only\n'
    '    -i0   --ip-auto            use DNS lookup to determine IP protocol\n'
    '  application entity titles:\n'
    '    -aet  --aetitle            [a]etitle: string\n'
    '                               set my calling AE title (default: ECHOSCU)\n'
    '    -aec  --call               [a]etitle: string\n'
    '                               set called AE title of peer (default: ANY-SCP)\n'
    '  association negotiation debugging:\n'
    '    -pts  --propose-ts         [n]umber: integer (1..53)\n'
    '                               propose n transfer syntaxes\n'
    '    -ppc  --propose-pc         [n]umber: integer (1..128)\n'
    '                               propose n presentation contexts\n'
    '  other network options:\n'
    '    -to   --timeout            [s]econds: integer (default: unlimited)\n'
    '                               timeout for connection requests\n'
    '    -ts   --socket-timeout     [s]econds: integer (default: 60)\n'
    '                               timeout for network socket (0 for none)\n'
    '    -ta   --acse-timeout       [s]econds: integer (default: 30)\n'
    '                               timeout for ACSE messages\n'
    '    -td   --dimse-timeout      [s]econds: integer (default: unlimited)\n'
    '                               timeout for DIMSE messages\n'
    '    -pdu  --max-pdu            [n]umber of bytes: integer (4096..131072)\n'
    '                               set max receive pdu to n bytes (default: 16384)\n'
    '          --repeat             [n]umber: integer\n'
    '                               repeat n times\n'
    '          --abort              abort association instead of releasing it\n'
    'transport layer security (TLS) options:\n'
    '  transport protocol stack:\n'
    '    -tls  --disable-tls        use normal TCP/IP connection (default)\n'
    '    +tls  --enable-tls         [p]rivate key file, [c]ertificate file: string\n'
    '                               use authenticated secure TLS connection\n'
    '    +tla  --anonymous-tls      use secure TLS connection without certificate\n'
    '  private key password (only with --enable-tls):\n'
    '    +ps   --std-passwd         prompt user to type password on stdin (default)\n'
    '    +pw   --use-passwd         [p]assword: string \n'
    '                               use specified password\n'
    '    -pw   --null-passwd        use empty string as password\n'
    '  key and certificate file format:\n'
    '    -pem  --pem-keys           read keys and certs as PEM file (default)\n'
    '    -der  --der-keys           read keys and certificates as DER file\n'
    '  certification authority:\n'
    '    +cf   --add-cert-file      [f]ilename: string\n'
    '                               add certificate file to list of certificates\n'
    '    +cd   --add-cert-dir       [d]irectory: string\n'
    '                               add certificates in d to list of certificates\n'
    '    +crl  --add-crl-file       [f]ilename: string\n'
    '                               add certificate revocation list file\n'
    '                               (implies --enable-crl-vfy)\n'
    '    +crv  --enable-crl-vfy     enable leaf CRL verification\n'
    '    +cra  --enable-crl-all     enable full chain CRL verification\n'
    '  security profile:\n'
    '    +ph   --list-profiles      list supported TLS profiles and exit\n'
    '    +pg   --profile-8996       BCP 195 RFC 8996 TLS Profile (default)\n'
    '    +pm   --profile-8996-mod   Modified BCP 195 RFC 8996 TLS Profile\n'
    '    +py   --profile-bcp195-nd  Non-downgrading BCP 195 TLS Profile (retired)\n'
    '    +px   --profile-bcp195     BCP 195 TLS Profile (retired)\n'
    '    +pz   --profile-bcp195-ex  Extended BCP 195 TLS Profile (retired)\n'
    '    +pa   --profile-aes        AES TLS Secure Transport Connection Profile\n'
    '                               (retired)\n'
    '    +pn   --profile-null       Authenticated unencrypted communication\n'
    '                               (retired, was used in IHE ATNA)\n'
    '  ciphersuite:\n'
    '    +cc   --list-ciphers       list supported TLS ciphersuites and exit\n'
    '    +cs   --cipher             [c]iphersuite name: string\n'
    '                               add ciphersuite to list of negotiated suites\n'
    '                               (not with --profile-bcp195-ex)\n'
    '  server name indication:\n'
    '          --no-sni             do not use SNI (default)\n'
    '          --request-sni        [s]erver name: string\n'
    '                               request server name s\n'
    '  pseudo random generator:\n'
    '    +rs   --seed               [f]ilename: string\n'
    '                               seed random generator with contents of f\n'
    '    +ws   --write-seed         write back modified seed (only with --seed)\n'
    '    +wf   --write-seed-file    [f]ilename: string (only with --seed)\n'
    '                               write modified seed to file f\n'
    '  peer authentication:\n'
    '    -rc   --require-peer-cert  verify peer cert, fail if absent (default)\n'
    "    -ic   --ignore-peer-cert   don't verify peer certificate\n"
    '  offline certificate verification:\n'
    '    +vc   --verify-cert        [f]ilename: string\n'
    '                               verify certificate against CA settings\n'
    '    +rc   --is-root-cert       [f]ilename: string\n'
    '                               check if certificate is self-signed root CA\n'
    '\n'
)

def our_extensions_help() -> str:
    """Our own options: one group after DCMTK's, so the DCMTK part stays byte-identical.
    Its rows come from the option table (every opt-in option, nothing else)."""
    from echoscu.helptext import EXTENSION_OPTIONS, usage

    text = usage()
    marker = "extensions (not in DCMTK):\n"
    assert text.count(marker) == 1
    group = text[text.index(marker):-1]
    listed = {line.split()[0] for line in group.splitlines() if line.startswith("          --")}
    assert listed == set(EXTENSION_OPTIONS)
    return group


#: docs/dcmtk-behaviour.md 6.4: 3.7.0's +cc list with OpenSSL 3.0
SPEC_370_CIPHERS = (
    "TLS_RSA_WITH_NULL_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
)

REFUSED = "F: Association Request Failed: 0006:031c TCP Initialization Error: Connection refused\n"


def our_usage() -> str:
    """Spec 1.5 with our version line, minus the profile lines the linked OpenSSL lacks,
    then our extensions group."""
    from certs.profiles import available_profiles

    shorts = {profile.short for profile in available_profiles()}
    lines = SPEC_HELP_BODY
    optional = {"+pm": 1, "+pn": 2}
    text = ""
    skip = 0
    for line in lines:
        if skip:
            skip -= 1
            continue
        short = line[4:8].strip()
        if short in optional and short not in shorts:
            skip = optional[short] - 1
            continue
        text += line
    if "+pb" in shorts:
        basic = ("    +pb   --profile-basic      Basic TLS Secure Transport Connection Profile\n"
                 "                               (retired)\n")
        text = text.replace("    +pa   --profile-aes", basic + "    +pa   --profile-aes")
    # DCMTK's text ends with a blank line; our group goes before it
    assert text.endswith("\n\n")
    return OUR_VERSION_LINE + "\n" + text[:-1] + our_extensions_help() + "\n"


#: DCMTK's "Character encoding:" and "Build options:" lines, with our facts
OUR_BUILD_FACTS = (
    f"Character encoding: Python codecs (file system encoding: {sys.getfilesystemencoding()})\n"
    f"Build options: {'debug ' if hasattr(sys, 'gettotalrefcount') else ''}"
    f"{sys.implementation.name} no-dict char-conv\n")


def our_version() -> str:
    """Spec 2.9's shape with our facts: host type, Python and OpenSSL under the libraries."""
    import _ssl

    uname = os.uname()
    return (f"{OUR_VERSION_LINE}\n\nechoscu: DICOM verification (C-ECHO) SCU\n\n"
            f"Host type: {uname.machine}-{uname.sysname}\n{OUR_BUILD_FACTS}\n"
            "External libraries used:\n"
            f"- Python, Version {sys.version.split()[0]}\n- {_ssl.OPENSSL_VERSION}\n")


def our_cipher_list() -> str:
    """Spec 6.4 with 3.7.0's table order (with OpenSSL 3.0: the 44 HEAD lines)."""
    uname = os.uname()
    return (f"{OUR_VERSION_LINE}\n\nechoscu: DICOM verification (C-ECHO) SCU\n\n"
            f"Host type: {uname.machine}-{uname.sysname}\n{OUR_BUILD_FACTS}\n"
            "Supported TLS ciphersuites are:\n"
            + "".join(f"  {name}\n" for name in SPEC_370_CIPHERS))


def our_profile_list() -> str:
    """Spec 6.5 (3.6.9+ only): the profiles the linked OpenSSL supports."""
    import _ssl

    uname = os.uname()
    return (f"{OUR_VERSION_LINE}\n\nechoscu: DICOM verification (C-ECHO) SCU\n\n"
            f"Host type: {uname.machine}-{uname.sysname}\n{OUR_BUILD_FACTS}"
            f"Cryptographic algorithms implemented by: {_ssl.OPENSSL_VERSION}\n\n"
            "Supported TLS Secure Transport Connection Profiles are:\n"
            "- BCP 195 RFC 8996 TLS Profile (default)\n"
            "- Modified BCP 195 RFC 8996 TLS Profile\n"
            "- Non-downgrading BCP 195 TLS Profile (retired)\n"
            "- BCP 195 TLS Profile (retired)\n"
            "- Extended BCP 195 TLS Profile (retired)\n"
            "- AES TLS Secure Transport Connection Profile (retired)\n"
            "- Authenticated unencrypted communication (retired)\n")


def error(message: str) -> str:
    return f"{OUR_VERSION_LINE}\n\nechoscu: DICOM verification (C-ECHO) SCU\nerror: {message}\n"


TLS_ONLY = "--enable-tls or --anonymous-tls"

# (id, arguments, reason, expected (exit code, stdout, stderr) as a function of nothing)
DIFFERENT_FROM_367 = [
    ("no-arguments", [], "3.7.0 help text (docs/dcmtk-behaviour.md 1.5, 8 #5)",
     lambda: (0, our_usage(), "")),
    ("help", ["--help"], "3.7.0 help text", lambda: (0, our_usage(), "")),
    ("help-wins-over-version", ["--version", "--help"], "3.7.0 help text",
     lambda: (0, our_usage(), "")),
    ("help-anywhere", ["a", "b", "c", "d", "--help"], "3.7.0 help text",
     lambda: (0, our_usage(), "")),
    ("help-short-before-value-error", ["-h", "-pdu", "1"], "3.7.0 help text",
     lambda: (0, our_usage(), "")),
    ("atfile-empty-is-no-arguments", ["@empty.args"], "3.7.0 help text",
     lambda: (0, our_usage(), "")),
    ("version", ["--version"], "our facts in DCMTK's shape (docs/dcmtk-behaviour.md 2.9)",
     lambda: (0, our_version(), "")),
    ("version-extra-params", ["--version", "a", "b", "c"], "our facts",
     lambda: (0, our_version(), "")),
    ("version-ignores-value-errors", ["-pdu", "1", "--version"], "our facts",
     lambda: (0, our_version(), "")),
    ("version-wins-over-list-ciphers", ["+cc", "--version"],
     "our facts (docs/dcmtk-behaviour.md 2.2 example)",
     lambda: (0, our_version(), "")),
    ("list-ciphers", ["+cc"],
     "3.7.0 cipher table order and CCM suites (docs/dcmtk-behaviour.md 8 #6)",
     lambda: (0, our_cipher_list(), "")),
    ("list-ciphers-wins-over-list-profiles", ["+ph", "+cc"], "+ph is 3.6.9+",
     lambda: (0, our_cipher_list(), "")),
    ("list-profiles", ["+ph", "x"], "+ph is 3.6.9+ (3.6.7: Unknown option)",
     lambda: (0, our_profile_list(), "")),
    ("propose-ts-39", ["-pts", "39", HOST, P], "-pts max is 53 in 3.7.0 (3.6.7: 38)",
     lambda: (1, "", REFUSED)),
    ("propose-ts-53", ["-pts", "53", HOST, P], "-pts max is 53 in 3.7.0",
     lambda: (1, "", REFUSED)),
    ("ip-options", ["-i6", "-i0", "-i4", HOST, P], "-i4/-i6/-i0 are 3.6.9+",
     lambda: (1, "", REFUSED)),
    ("ipv6-with-ipv4-literal", ["-i6", HOST, P],
     "inet_addr() literals stay IPv4 (docs/dcmtk-behaviour.md 5.2)",
     lambda: (1, "", REFUSED)),
    ("profile-8996-no-tls", ["+pg", HOST, P], "+pg is 3.6.8+",
     lambda: (1, "", error(f"--profile-8996 only allowed with {TLS_ONLY}"))),
    ("profile-8996-mod-no-tls", ["+pm", HOST, P], "+pm is 3.6.8+",
     lambda: (1, "", error(f"--profile-8996-mod only allowed with {TLS_ONLY}"))),
    ("block-8996-examined-first", ["+pa", "+pg", HOST, P], "+pg is 3.6.8+",
     lambda: (1, "", error(f"--profile-8996 only allowed with {TLS_ONLY}"))),
    ("no-sni-after-request-sni", ["--request-sni", "x", "--no-sni", HOST, P],
     "SNI options are 3.6.8+", lambda: (1, "", error("--no-sni not allowed with --request-sni"))),
    ("no-sni-before-request-sni", ["--no-sni", "--request-sni", "", HOST, P],
     "SNI options are 3.6.8+ (an empty name still conflicts)",
     lambda: (1, "", error("--no-sni not allowed with --request-sni"))),
    ("request-sni-without-tls", ["--request-sni", "x", HOST, P],
     "SNI options are 3.6.8+; not checked against TLS (docs/dcmtk-behaviour.md 2.6)",
     lambda: (1, "", REFUSED)),
    ("no-sni-without-tls", ["--no-sni", HOST, P], "SNI options are 3.6.8+",
     lambda: (1, "", REFUSED)),
    ("crl-checked-before-seed", ["+rs", "s", "+crv", HOST, P],
     "3.6.8+ check the CRL block before --seed (docs/dcmtk-behaviour.md 6.11; "
     "3.6.7 reports --seed)",
     lambda: (1, "", error(f"--enable-crl-vfy only allowed with {TLS_ONLY}"))),
    ("crl-block-examination-order", ["+cra", "+crv", HOST, P],
     "3.6.8+ CRL options form a block examined +crv first (3.6.7: +cra not allowed)",
     lambda: (1, "", error(f"--enable-crl-vfy only allowed with {TLS_ONLY}"))),
    ("quiet-silences-sni-conflict", ["-q", "--no-sni", "--request-sni", "x", HOST, P],
     "SNI options are 3.6.8+", lambda: (1, "", "")),
]


def run_ours(args: list[str], cwd: str) -> tuple:
    result = subprocess.run([sys.executable, "-m", "echoscu", *args], cwd=cwd, env=OUR_ENV,
                            capture_output=True, timeout=60)
    return (result.returncode, result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("args", "reason", "expected"),
                         [case[1:] for case in DIFFERENT_FROM_367],
                         ids=[case[0] for case in DIFFERENT_FROM_367])
def test_follows_dcmtk_370(args: list[str], reason: str, expected, workdir: str,
                           closed_port: int) -> None:
    assert reason
    assert run_ours(expand(args, closed_port), workdir) == expected()


@pytest.mark.timeout(120)
def test_crl_options_rightmost_wins(workdir: str, closed_port: int) -> None:
    """3.6.8+: +crv and +cra form a block (3.6.7: 'not allowed with'); TLS set-up then runs."""
    pytest.importorskip("certs.context")
    args = ["+tla", "+cra", "+crv", HOST, str(closed_port)]
    assert run_ours(args, workdir) == (1, "", REFUSED)
