"""echoscu as a ``click.Command`` built from the option table: shell completion and introspection.

Not on the hot path (``import click`` costs more than DCMTK's whole echo): the real
parsing is ``echoscu.cmdline``. Click only describes the options (names, value
counts, help) so its completion machinery works; running the command hands the
untouched argv to ``echoscu.cli.main``, so DCMTK's rules still apply.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import click

from certs.completion import complete_ciphersuites
from dicomecho.completion import complete_choices, complete_dirs, complete_files
from echoscu.cmdline import Option
from echoscu.helptext import APP_NAME, COMPLETE_VAR, DESCRIPTION, TABLE

#: completion of option values by ``Option.completion`` (string constants: below)
_COMPLETION = {"file": complete_files, "dir": complete_dirs,
               "ciphersuite": complete_ciphersuites}
#: a help text's list of the values of a string constant: "(fatal, error, warn)"
_CONSTANTS = re.compile(r"\(([a-z0-9]+(?:, [a-z0-9]+)+)\)")


class EchoscuCommand(click.Command):
    """A Click command that remembers the raw arguments for ``cli.main``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Keep a copy of the arguments before Click looks at them."""
        ctx.meta["echoscu.argv"] = list(args)
        return super().parse_args(ctx, args)


def _click_option(option: Option) -> click.Option:
    """The Click description of one table option."""
    names = [option.short, option.long] if option.short else [option.long]
    help_text = option.help.replace("\n", " ")
    if option.nvalues == 0:
        return click.Option(names, is_flag=True, help=help_text)
    kwargs: dict[str, object] = {"nargs": option.nvalues, "help": help_text,
                                 "metavar": option.value_help.strip()}
    if option.completion in _COMPLETION:
        kwargs["shell_complete"] = _COMPLETION[option.completion]
    elif choices := string_constants(option):
        kwargs["shell_complete"] = complete_choices(choices)
    if option.repeatable:
        kwargs["multiple"] = True
    return click.Option(names, **kwargs)


def string_constants(option: Option) -> tuple[str, ...]:
    """The values a ``string constant`` option takes, as its help texts list them."""
    if "string constant" not in option.value_help:
        return ()
    found = _CONSTANTS.search(f"{option.value_help}\n{option.help}")
    return tuple(found.group(1).split(", ")) if found else ()


def build_command(run: Callable[..., int]) -> click.Command:
    """A Click command with every option echoscu has here (as DCMTK registers them);
    its callback hands the original arguments to ``run`` (``echoscu.cli.main``)."""

    def run_echoscu(**_: object) -> None:
        ctx = click.get_current_context()
        ctx.exit(run(ctx.meta["echoscu.argv"], prog=APP_NAME))

    params: list[click.Parameter] = [
        click.Argument([param.name], required=False) for param in TABLE.params
    ]
    params += [_click_option(option) for option in TABLE.options if option.is_available()]
    return EchoscuCommand(APP_NAME, params=params, callback=run_echoscu, help=DESCRIPTION,
                          add_help_option=False)


def run_completion(run: Callable[..., int]) -> int:
    """Answer a shell-completion request (``_ECHOSCU_COMPLETE`` is set) and return the code."""
    code: object = 0
    try:
        build_command(run).main(sys.argv[1:], prog_name=APP_NAME, complete_var=COMPLETE_VAR)
    except SystemExit as stop:
        code = stop.code
    return code if isinstance(code, int) else 0
