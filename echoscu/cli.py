"""echoscu's entry point: DCMTK's command-line flow (docs/dcmtk-behaviour.md section 0,
steps 1-7), then the driver.

The order of the checks is DCMTK's, because it decides which error a user sees
when several are present: parse errors, usage, exclusive options, parameter count,
port, logging set-up (after which ``-q`` silences command-line errors), value
options in a fixed order, then the TLS option checks (3.7.0 order, docs/dcmtk-behaviour.md 6.11).
"""

from __future__ import annotations

import os
import sys

from dicomecho import log
from dicomecho.output import print_text, stderr_is_terminal
from echoscu.cmdline import (
    CommandLineError,
    ParsedLine,
    check_conflict,
    check_param_count,
    expand_command_files,
    parse_arguments,
    signed_value,
    to_int32,
    unsigned_param,
    unsigned_value,
)
from echoscu.helptext import (
    COMPLETE_VAR,
    EXTENSION_OPTIONS,
    IP_BLOCK,
    LOG_BLOCK,
    MAX_PDU,
    MAX_PROPOSED_TS,
    MIN_PDU,
    TABLE,
    error_block,
)

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from certs.options import TLSOptions
    from echoscu.headstart import HeadStart
    from echoscu.options import EchoOptions

EXIT_OK = 0
EXIT_COMMAND_LINE = 1

#: environment variable that makes us hand over to Click's shell completion
#: exit status of a program stopped by Ctrl-C on Windows (STATUS_CONTROL_C_EXIT)
_WINDOWS_CONTROL_C_EXIT = 0xC000013A

_LOG_BLOCK_LEVELS = {"--debug": log.DEBUG, "--verbose": log.INFO, "--quiet": log.FATAL}
_IP_FAMILIES = {"--ipv4": "ipv4", "--ipv6": "ipv6", "--ip-auto": "auto"}
_AE_TITLE_MAX = 16
#: options that ask for TLS: seen among the arguments, they start the TLS head start
#: before the command line is parsed (a guess: parsing decides). The twin of the
#: certs.tlsflags rows that set a mode, kept literal so that a plain run imports no
#: certs module; a test holds the two together.
_TLS_OPTIONS = frozenset(("+tls", "--enable-tls", "+tla", "--anonymous-tls"))


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run echoscu with ``argv`` (without the program name; default ``sys.argv[1:]``).

    ``prog`` is the name ``--arguments`` and ``${appname}`` show (default: as invoked).
    Returns the exit code; bad input gives DCMTK's error text and 1, never a traceback.
    """
    if os.environ.get(COMPLETE_VAR):
        from echoscu.clickcmd import run_completion

        return run_completion(main)
    if argv is None:
        argv = sys.argv[1:]
        if prog is None:
            prog = invoked_name(sys.argv[0])
    try:
        return _run(list(argv), prog or "echoscu")
    except KeyboardInterrupt:
        return _interrupted()


def console_main(prog: str | None = None) -> None:
    """The ``echoscu`` command (console script and ``python -m echoscu``): run, then leave
    without interpreter teardown (dicomecho.ending)."""
    from dicomecho import collector
    from dicomecho.ending import leave

    collector.pause()
    leave(main(prog=prog))


def invoked_name(argv0: str) -> str:
    """argv[0] as the user typed it, as far as we can tell.

    A console script sees its full path even when started through PATH; if its
    directory is on PATH we show the bare name, as DCMTK's argv[0] would be.
    """
    directory, name = os.path.split(argv0)
    if directory and directory in os.environ.get("PATH", "").split(os.pathsep):
        return name
    return argv0


def _interrupted() -> int:
    """End as an interrupted program ends on this platform, without a traceback.

    POSIX: killed by SIGINT, so the shell sees 130 and stops a script as it would for
    DCMTK. Windows: STATUS_CONTROL_C_EXIT, what Python and C programs exit with there.
    """
    if os.name == "nt":
        return _WINDOWS_CONTROL_C_EXIT
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    return 130


def _run(args: list[str], prog: str) -> int:
    """Steps 1-7 of DCMTK's flow; then the driver does the rest."""
    head_start = None
    if _TLS_OPTIONS.intersection(args):
        from echoscu.headstart import launch

        head_start = launch()  # makes the bare TLS context while we parse
    try:
        return _prepare_and_run(args, prog, head_start)
    finally:
        if head_start is not None:
            head_start.cancel()  # unused: its thread ends (nothing once handed over)


def _prepare_and_run(args: list[str], prog: str, early: HeadStart | None) -> int:
    options = prepare(args, prog)
    if isinstance(options, int):
        if options == EXIT_COMMAND_LINE and "--nagios" in args:
            from echoscu.extensions import nagios_usage_error

            return nagios_usage_error()
        return options
    if options.extensions is not None or stderr_is_terminal():
        # our options, or the hint line a terminal gets after a plain/TLS mismatch
        from echoscu import extensions

        if early is not None:
            early.cancel()
        return extensions.run(options)
    head_start = None
    try:
        if options.tls is not None:
            from echoscu.headstart import begin

            head_start = begin(options, early)
            # wait while its thread builds the context and connects: imports here would
            # hold the interpreter lock it needs between its calls into OpenSSL
            if head_start is not None and not head_start.settled():
                head_start = None  # it stepped aside: the driver does everything itself
        from echoscu import driver  # imported while a head start's handshake runs
    except KeyboardInterrupt:
        if options.tls is None:
            raise
        # stopped in the TLS set-up or handshake the driver does: what it says then
        from echoscu import messages

        log.get_logger(log.APP_LOGGER).fatal(messages.INTERRUPTED)
        return messages.EXIT_INTERRUPTED
    return driver.run(options, head_start=head_start)


def prepare(args: list[str], prog: str = "echoscu") -> EchoOptions | int:
    """Steps 1-7: the validated options, or the exit code once everything is printed.

    Prints what DCMTK prints up to that point (usage, version, lists, error blocks,
    ``--arguments``) and configures logging; the network is not touched.
    """
    try:
        line = parse_arguments(TABLE, expand_command_files(args), prog)
        early = _exclusive_or_count(line)
        if early is not None:
            return early
        options = _parameters(line)
        _configure_logging(line)
    except CommandLineError as error:
        print_text(error_block(str(error)), sys.stderr)
        return EXIT_COMMAND_LINE
    quiet = not log.root_logger().enabled(log.ERROR)
    if line.find("--arguments"):
        _print_arguments(line)
    try:
        _network_options(line, options)
        options.tls = _tls_options(line)
        _offline_checks(line, options)
        if any(occurrence.option.long in EXTENSION_OPTIONS for occurrence in line.occurrences):
            from echoscu import extensions

            options.extensions = extensions.parse(line, options)
    except CommandLineError as error:
        if not quiet:
            print_text(error_block(str(error)), sys.stderr)
        return EXIT_COMMAND_LINE
    return options


def _exclusive_or_count(line: ParsedLine) -> int | None:
    """Steps 2-4: usage without arguments, the exclusive options, the parameter count."""
    from echoscu import helptext

    if not line.arguments:
        print_text(helptext.usage())
        return EXIT_OK
    if not line.has_exclusive:
        check_param_count(TABLE, line)
        return None
    if line.find("--help"):
        print_text(helptext.usage())
    elif line.find("--version"):
        print_text(helptext.version())
    elif line.find("--list-ciphers"):
        print_text(helptext.cipher_list())
    elif line.find("--list-profiles"):
        print_text(helptext.profile_list())
    else:
        # --verify-cert / --is-root-cert / --peers: handled after all other options
        return None
    return EXIT_OK


def _parameters(line: ParsedLine) -> EchoOptions:
    """Step 5: peer verbatim, port 1..65535 (skipped for the offline certificate checks)."""
    from echoscu.options import EchoOptions

    options = EchoOptions()
    if not (line.find("--verify-cert") or line.find("--is-root-cert") or line.find("--peers")):
        options.peer = line.params[0][1]
        options.port = unsigned_param(line.params[1][1], 1, 65535)
    return options


def _configure_logging(line: ParsedLine) -> None:
    """Step 6: -q/-v/-d, -ll, -lc with DCMTK's checks and their order."""
    level: int | None = None
    for occurrence in line.examine_block(LOG_BLOCK):
        level = _LOG_BLOCK_LEVELS[occurrence.option.long]
    log_level = line.find("--log-level")
    if log_level:
        check_conflict("--log-level", "--verbose, --debug or --quiet", level is not None)
        level = log.parse_level(log_level.value)
        if level is None:
            raise CommandLineError("Invalid log level for --log-level option")
    log_config = line.find("--log-config")
    if log_config:
        check_conflict("--log-config", "--log-level", log_level is not None)
        check_conflict("--log-config", "--verbose, --debug or --quiet", level is not None)
        from dicomecho.logconfig import LogConfigError, configure

        try:
            configure(log_config.value, os.path.basename(line.prog))
        except LogConfigError as error:
            raise CommandLineError(str(error)) from None
    else:
        log.reset()
        log.set_level(log.WARN if level is None else level)


def _print_arguments(line: ParsedLine) -> None:
    """``--arguments``: the expanded, normalised command line, always logged at INFO."""
    shown = "".join(f"'{arg}' " for arg in line.arguments if arg)
    log.root_logger().force_log(
        log.INFO, f"calling '{line.prog}' with {len(line.arguments)} arguments: {shown}\n")


def _ae_title(text: str) -> str:
    """DCMTK keeps the first 16 bytes of an AE title (no other check at this point)."""
    raw = os.fsencode(text)
    return os.fsdecode(raw[:_AE_TITLE_MAX]) if len(raw) > _AE_TITLE_MAX else text


def _network_options(line: ParsedLine, options: EchoOptions) -> None:
    """Step 7: value options at their rightmost occurrence, in DCMTK's order."""
    found = line.find("--aetitle")
    if found:
        options.calling_aet = _ae_title(found.value)
    found = line.find("--call")
    if found:
        options.called_aet = _ae_title(found.value)
    found = line.find("--timeout")
    if found:
        options.connect_timeout = to_int32(signed_value(found, 1))
    found = line.find("--socket-timeout")
    if found:
        options.socket_timeout = to_int32(signed_value(found, -1))
    found = line.find("--acse-timeout")
    if found:
        options.acse_timeout = to_int32(signed_value(found, 1))
    found = line.find("--dimse-timeout")
    if found:
        options.dimse_timeout = to_int32(signed_value(found, 1))
    found = line.find("--max-pdu")
    if found:
        options.max_pdu = unsigned_value(found, MIN_PDU, MAX_PDU)
    found = line.find("--repeat")
    if found:
        options.repeat = unsigned_value(found, 1)
    options.abort = line.find("--abort") is not None
    found = line.find("--propose-ts")
    if found:
        options.propose_ts = unsigned_value(found, 1, MAX_PROPOSED_TS)
    found = line.find("--propose-pc")
    if found:
        options.propose_pc = unsigned_value(found, 1, 128)
    for occurrence in line.examine_block(IP_BLOCK):
        options.ip_family = _IP_FAMILIES[occurrence.option.long]


def _tls_options(line: ParsedLine) -> TLSOptions | None:
    """The TLS options' checks in DCMTK 3.7.0's order (docs/dcmtk-behaviour.md 2.6, 6.11;
    certs.tlsflags); None = plain TCP. A line without TLS options does not import certs."""
    typed = [(occurrence.option.long, occurrence.values) for occurrence in line.occurrences
             if occurrence.option.row is not None]
    if not typed:
        return None
    from certs.tlsflags import REQUESTOR, TLSFlagError, from_flags

    try:
        return from_flags(typed, REQUESTOR)
    except TLSFlagError as error:
        raise CommandLineError(str(error)) from None


def _offline_checks(line: ParsedLine, options: EchoOptions) -> None:
    """+vc / +rc: the files to check once the TLS settings are known (driver step 9)."""
    found = line.find("--verify-cert")
    if found:
        options.verify_cert = found.value
    found = line.find("--is-root-cert")
    if found:
        options.is_root_cert = found.value
