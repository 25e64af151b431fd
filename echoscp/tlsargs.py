"""DCMTK storescp's TLS acceptor options as Click options, and their ``TLSOptions``.

The options are the acceptor rows of ``certs.tlsflags`` (DCMTK 3.7.0's storescp,
plus ``--expect-sni``), in its help order; ``certs.tlsflags.from_flags`` applies
DCMTK's blocks ("rightmost wins") and checks to the options as typed. Errors are
one line, Click-style (exit 2), not DCMTK's error block.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from certs import tlsflags
from certs.completion import complete_ciphersuites
from certs.options import TLSOptions
from dicomecho.completion import complete_dirs, complete_files
from echoscp import listings
from echoscp.argv import Occurrence

#: shell completion of an option's value, by ``Flag.completion``
_COMPLETION = {tlsflags.FILE: complete_files, tlsflags.DIR: complete_dirs,
               tlsflags.CIPHERSUITE: complete_ciphersuites}
#: the exclusive acceptor options: listings printed by an eager flag
_LISTINGS = {"--list-profiles": listings.profile_list, "--list-ciphers": listings.cipher_list}


def _print_and_exit(text: Callable[[], str]) -> Callable:
    """An eager flag's callback: print ``text()`` to stdout and end with exit 0."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            click.echo(text(), nl=False)
            ctx.exit(0)

    return callback


def _click_option(flag: tlsflags.Flag) -> Callable:
    """The Click option of one acceptor row."""
    names = (flag.short, flag.long) if flag.short else (flag.long,)
    if flag.long in _LISTINGS:
        return click.option(*names, is_flag=True, is_eager=True, expose_value=False,
                            callback=_print_and_exit(_LISTINGS[flag.long]),
                            help=flag.click_help)
    if flag.nvalues == 0:
        return click.option(*names, is_flag=True, default=False, help=flag.click_help)
    settings: dict[str, object] = {"metavar": flag.metavar, "help": flag.click_help}
    if flag.nvalues > 1:
        settings.update(nargs=flag.nvalues, type=str)
    if flag.repeatable:
        settings["multiple"] = True
    else:
        settings["default"] = None
    if flag.completion:
        settings["shell_complete"] = _COMPLETION[flag.completion]
    return click.option(*names, **settings)


def tls_options(command: Callable) -> Callable:
    """Decorate a Click command with the TLS acceptor options (help order as storescp)."""
    for flag in reversed(tlsflags.rows(tlsflags.ACCEPTOR)):
        if tlsflags.available(flag):
            command = _click_option(flag)(command)
    return command


def build_tls_options(typed: list[Occurrence]) -> TLSOptions | None:
    """The ``TLSOptions`` the TLS options as typed ask for, or None for plain TCP.

    Raises click.UsageError with DCMTK's message for an option that needs ``+tls``
    (or ``+rs``) without it and for ``+cs`` with the Extended BCP 195 profile.
    """
    try:
        return tlsflags.from_flags(((o.name, o.values) for o in typed), tlsflags.ACCEPTOR)
    except tlsflags.TLSFlagError as error:
        raise click.UsageError(str(error)) from None
