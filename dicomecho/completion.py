"""Shell-completion callbacks for the Click options of echoscu, echoscp and echocerts.

Click answers a shell's completion request (``_ECHOSCU_COMPLETE``, ``_ECHOSCP_COMPLETE``,
``_ECHOCERTS_COMPLETE``) by asking each option what may follow it. Options whose
value is a file or a directory hand the work back to the shell (its own path
completion); ``+cs`` completion lives with the ciphersuites, in ``certs.completion``.
Only a completion request or a Click command definition imports this module.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from click.shell_completion import CompletionItem


def complete_files(_ctx: click.Context, _param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    """Let the shell complete a file name (directories too, on the way to the file)."""
    return [CompletionItem(incomplete, type="file")]


def complete_dirs(_ctx: click.Context, _param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    """Let the shell complete a directory name."""
    return [CompletionItem(incomplete, type="dir")]


def complete_choices(choices: tuple[str, ...]) -> Callable[..., list[str]]:
    """A callback offering ``choices`` (case-insensitively) for a plain string option."""

    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        typed = incomplete.lower()
        return [choice for choice in choices if choice.lower().startswith(typed)]

    return complete
