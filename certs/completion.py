"""Shell completion of ``+cs``: the ciphersuite names the linked OpenSSL supports."""

from __future__ import annotations

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    import click


def complete_ciphersuites(_ctx: click.Context, _param: click.Parameter,
                          incomplete: str) -> list[str]:
    """The ``+cs`` names (IANA, as ``+cc`` lists them) that start with what was typed.

    The names are case-sensitive on the command line; the match here is not, so
    ``+cs tls_ecdhe<TAB>`` finds them too.
    """
    from certs.profiles import supported_ciphersuites

    typed = incomplete.upper()
    return [name for name in supported_ciphersuites() if name.startswith(typed)]
