"""``echoscp [options] port``: pynetdicom echoscp's command line, TLS and operator options.

Click parses; this module checks what Click cannot (exclusive groups as argparse
reports them, rightmost-wins TLS blocks), sets up logging and hands a
``ServerOptions`` to the server. Every command-line error is one line on stderr
and exit 2; nothing here ever prints a traceback.
"""

from __future__ import annotations

import sys

import click

from dicomecho import log
from dicomecho.completion import complete_files
from echoscp import listings
from echoscp.argv import first_two, rightmost, scan
from echoscp.options import (
    DEFAULT_AE_TITLE,
    DEFAULT_MAX_ASSOCIATIONS,
    DEFAULT_MAX_PDU,
    DEFAULT_TIMEOUT,
    ServerOptions,
    check_ae_title,
    check_rejection,
    nodelay_from_environment,
    parse_status,
    preferred_transfer_syntaxes,
)
from echoscp.tlsargs import build_tls_options, tls_options

#: -ll names (pynetdicom's, plus the "warning" its documentation shows)
LOG_LEVELS = {"critical": log.FATAL, "error": log.ERROR, "warn": log.WARN,
              "warning": log.WARN, "info": log.INFO, "debug": log.DEBUG}

#: pynetdicom's exclusive groups, typed name -> the name argparse shows
_LOG_GROUP = {"-q": "-q/--quiet", "--quiet": "-q/--quiet",
              "-v": "-v/--verbose", "--verbose": "-v/--verbose",
              "-d": "-d/--debug", "--debug": "-d/--debug"}
_SYNTAX_GROUP = {"-x=": "-x=/--prefer-uncompr", "--prefer-uncompr": "-x=/--prefer-uncompr",
                 "-xe": "-xe/--prefer-little", "--prefer-little": "-xe/--prefer-little",
                 "-xb": "-xb/--prefer-big", "--prefer-big": "-xb/--prefer-big",
                 "-xi": "-xi/--implicit", "--implicit": "-xi/--implicit"}
_SYNTAX_PREFERENCE = {"-x=/--prefer-uncompr": "uncompr", "-xe/--prefer-little": "little",
                      "-xb/--prefer-big": "big", "-xi/--implicit": "implicit"}

#: a P-DATA-TF PDU needs 12 bytes besides its data
_MIN_MAX_PDU = 13


def _ae_title(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    problem = check_ae_title(value)
    if problem:
        raise click.BadParameter(problem)
    return value


def _calling_aets(_ctx: click.Context, _param: click.Parameter, values: tuple) -> list[str]:
    for value in values:
        _ae_title(_ctx, _param, value)
    return [value.strip(" ") for value in values]


def _max_pdu(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value != 0 and not _MIN_MAX_PDU <= value <= 0xFFFFFFFF:
        raise click.BadParameter(
            f"{value} is neither 0 (unlimited) nor in {_MIN_MAX_PDU}..4294967295")
    return value


def _status(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    if value is None:
        return 0
    try:
        return parse_status(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _rejection(_ctx: click.Context, _param: click.Parameter, value: tuple | None):
    if value:
        problem = check_rejection(*value)
        if problem:
            raise click.BadParameter(problem)
    return tuple(value) if value else None


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(listings.version_line())
        ctx.exit(0)


_SECONDS = click.FloatRange(min=0, min_open=True)


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="The echoscp application implements a Service Class Provider (SCP) for the "
         "Verification SOP Class. It listens for incoming association requests on the "
         "specified port and answers every C-ECHO request.",
)
@click.argument("port", type=click.IntRange(0, 65535))
@click.option("--version", is_flag=True, is_eager=True, expose_value=False, callback=_version,
              help="print version information and exit")
@click.option("-q", "--quiet", is_flag=True, help="quiet mode, prints no warnings or errors")
@click.option("-v", "--verbose", is_flag=True, help="verbose mode, prints processing details")
@click.option("-d", "--debug", is_flag=True, help="debug mode, prints debugging information")
@click.option("-ll", "--log-level", type=click.Choice(list(LOG_LEVELS), case_sensitive=False),
              default=None, help="prints logging messages with corresponding level or lower")
@click.option("-aet", "--ae-title", default=DEFAULT_AE_TITLE, callback=_ae_title,
              show_default=True, help="set the local AE title")
@click.option("-ta", "--acse-timeout", type=_SECONDS, default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="timeout for ACSE messages (and the TLS handshake)")
@click.option("-td", "--dimse-timeout", type=_SECONDS, default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="timeout for the rest of a DIMSE message once it has begun")
@click.option("-tn", "--network-timeout", type=_SECONDS, default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="abort an association idle for this long")
@click.option("-pdu", "--max-pdu", type=int, default=DEFAULT_MAX_PDU, callback=_max_pdu,
              show_default=True, metavar="BYTES",
              help="set maximum receive PDU bytes (0 = unlimited)")
@click.option("-ba", "--bind-address", default="", metavar="ADDRESS",
              help="listen on ADDRESS only (default: every IPv4 and IPv6 address; "
                   "'::' is dual-stack, '0.0.0.0' IPv4 only)")
@click.option("-x=", "--prefer-uncompr", is_flag=True,
              help="prefer explicit VR local byte order")
@click.option("-xe", "--prefer-little", is_flag=True,
              help="prefer explicit VR little endian transfer syntax")
@click.option("-xb", "--prefer-big", is_flag=True,
              help="prefer explicit VR big endian transfer syntax")
@click.option("-xi", "--implicit", is_flag=True,
              help="accept implicit VR little endian transfer syntax only")
@click.option("--max-associations", type=click.IntRange(min=1),
              default=DEFAULT_MAX_ASSOCIATIONS, show_default=True, metavar="N",
              help="reject associations beyond N at once (transient, local limit exceeded)")
@click.option("--max-pending", type=click.IntRange(min=1), default=None, metavar="N",
              help="close connections beyond N that have not yet associated (TLS "
                   "handshake or A-ASSOCIATE-RQ pending), the longest waiting first "
                   "(default: from the open-files limit, at most 2048)")
@click.option("--max-pending-per-address", type=click.IntRange(min=1), default=None,
              metavar="N",
              help="close new connections from an address that already has N not yet "
                   "associated (default: half of --max-pending)")
@click.option("--status", metavar="HEX", default=None, callback=_status,
              help="answer every C-ECHO with this status (default 0000, Success)")
@click.option("--delay", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="wait this long before each C-ECHO response")
@click.option("--reject", nargs=3, type=int, default=None, callback=_rejection,
              metavar="RESULT SOURCE REASON",
              help="reject every association with this A-ASSOCIATE-RJ")
@click.option("--require-called-aet", is_flag=True,
              help="reject associations whose called AE title is not -aet")
@click.option("--require-calling-aet", multiple=True, metavar="AET", callback=_calling_aets,
              help="reject associations from other calling AE titles (repeatable)")
@click.option("--log-json", metavar="FILE", default=None, shell_complete=complete_files,
              help="append one JSON line per association to FILE ('-' = stdout)")
@tls_options
@click.pass_context
def command(ctx: click.Context, **params) -> int:
    """Check what Click cannot, set up logging, then serve until SIGINT/SIGTERM."""
    typed = ctx.obj
    for group in (_LOG_GROUP, _SYNTAX_GROUP):
        pair = first_two(typed, group)
        if pair:
            raise click.UsageError(f"argument {pair[1]}: not allowed with argument {pair[0]}")
    tls = build_tls_options(typed)
    _configure_logging(params)
    syntax_flag = rightmost(typed, _SYNTAX_GROUP)
    preference = _SYNTAX_PREFERENCE[syntax_flag] if syntax_flag else None
    options = ServerOptions(
        port=params["port"],
        bind_address=params["bind_address"],
        ae_title=params["ae_title"],
        acse_timeout=params["acse_timeout"],
        dimse_timeout=params["dimse_timeout"],
        network_timeout=params["network_timeout"],
        max_pdu=params["max_pdu"],
        transfer_syntaxes=preferred_transfer_syntaxes(preference),
        max_associations=params["max_associations"],
        max_pending=params["max_pending"],
        max_pending_per_address=params["max_pending_per_address"],
        status=params["status"],
        delay=params["delay"],
        reject=params["reject"],
        require_called_aet=params["require_called_aet"],
        require_calling_aets=params["require_calling_aet"],
        log_json=params["log_json"],
        tls=tls,
        nodelay=nodelay_from_environment(),
    )
    from echoscp.server import serve

    return serve(options)


def _configure_logging(params: dict) -> None:
    """pynetdicom's scheme: ERROR by default, -q nothing, -v INFO, -d DEBUG, then -ll."""
    level = log.ERROR
    if params["quiet"]:
        level = log.OFF
    elif params["verbose"]:
        level = log.INFO
    elif params["debug"]:
        level = log.DEBUG
    if params["log_level"]:
        level = LOG_LEVELS[params["log_level"].lower()]
    log.set_level(level)


def _arities() -> dict[str, int]:
    arity = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in param.opts + param.secondary_opts:
                arity[name] = 0 if param.is_flag else param.nargs
    arity["-x="] = 0
    return arity


def _usage_text(exc: click.UsageError) -> str:
    """Click's message for a bad command line, worded alike under every click we support
    (click 8.4 reworded an unknown option: "No such option: --x" became "... '--x'.")."""
    if not isinstance(exc, click.NoSuchOption):
        return exc.format_message()
    text = f"No such option {exc.option_name!r}."
    possibilities = sorted(exc.possibilities or ())
    if len(possibilities) == 1:
        return f"{text} Did you mean {possibilities[0]!r}?"
    if possibilities:
        return f"{text} (Did you mean one of: {', '.join(map(repr, possibilities))}?)"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run echoscp; returns the exit code (0 after SIGINT/SIGTERM, 2 for bad options)."""
    args = sys.argv[1:] if argv is None else list(argv)
    args, typed = scan(args, _arities())
    try:
        return command.main(args, prog_name="echoscp", standalone_mode=False, obj=typed)
    except click.UsageError as exc:
        sys.stderr.write(f"echoscp: error: {_usage_text(exc)}\n")
        return 2
    except click.Abort:
        sys.stderr.write("echoscp: aborted\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the server's own handler is in place
        return 0
    except BrokenPipeError:  # `echoscp +cc | head`: the reader left, nothing to report
        from dicomecho.output import discard

        discard(sys.stdout)
        return 0
