"""DCMTK storescp's TLS acceptor options as Click options, and their ``TLSOptions``.

Names, values and meaning follow DCMTK (3.7.0's storescp, plus ``--expect-sni``);
option blocks are "rightmost wins" and options that need ``+tls`` say so. Errors
are one line, Click-style (exit 2), not DCMTK's error block.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from certs.completion import complete_ciphersuites
from certs.options import TLSOptions
from certs.profiles import available_profiles
from dicomecho.completion import complete_dirs, complete_files
from echoscp import listings
from echoscp.argv import Occurrence, rightmost

#: the profile options this OpenSSL supports, (short, long, key, help), default first
PROFILE_OPTIONS = [(p.short, p.long, p.key, p.help.replace("\n", " "))
                   for p in available_profiles()]

#: option blocks: typed name -> canonical long name
_TRANSPORT = {"-tls": "--disable-tls", "--disable-tls": "--disable-tls",
              "+tls": "--enable-tls", "--enable-tls": "--enable-tls"}
_PASSWORD = {"+ps": "--std-passwd", "--std-passwd": "--std-passwd",
             "+pw": "--use-passwd", "--use-passwd": "--use-passwd",
             "-pw": "--null-passwd", "--null-passwd": "--null-passwd"}
_FORMAT = {"-pem": "--pem-keys", "--pem-keys": "--pem-keys",
           "-der": "--der-keys", "--der-keys": "--der-keys"}
_CRL = {"+crv": "--enable-crl-vfy", "--enable-crl-vfy": "--enable-crl-vfy",
        "+cra": "--enable-crl-all", "--enable-crl-all": "--enable-crl-all"}
_SEED = {"+ws": "--write-seed", "--write-seed": "--write-seed",
         "+wf": "--write-seed-file", "--write-seed-file": "--write-seed-file"}
_PEER = {"-rc": "--require-peer-cert", "--require-peer-cert": "--require-peer-cert",
         "-vc": "--verify-peer-cert", "--verify-peer-cert": "--verify-peer-cert",
         "-ic": "--ignore-peer-cert", "--ignore-peer-cert": "--ignore-peer-cert"}
_PROFILES = {name: long for short, long, _, _ in PROFILE_OPTIONS for name in (short, long)}
_PROFILE_KEYS = {long: key for _, long, key, _ in PROFILE_OPTIONS}

#: options that mean nothing without +tls (DCMTK: "<option> only allowed with --enable-tls")
_NEEDS_TLS = {**_PASSWORD, **_FORMAT, **_CRL, **_PEER, **_PROFILES,
              "+cf": "--add-cert-file", "--add-cert-file": "--add-cert-file",
              "+cd": "--add-cert-dir", "--add-cert-dir": "--add-cert-dir",
              "+crl": "--add-crl-file", "--add-crl-file": "--add-crl-file",
              "+cs": "--cipher", "--cipher": "--cipher",
              "+dp": "--dhparam", "--dhparam": "--dhparam",
              "+rs": "--seed", "--seed": "--seed",
              "--expect-sni": "--expect-sni", **_SEED}


def _print_and_exit(text: Callable[[], str]) -> Callable:
    """An eager flag's callback: print ``text()`` to stdout and end with exit 0."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            click.echo(text(), nl=False)
            ctx.exit(0)

    return callback


def tls_options(command: Callable) -> Callable:
    """Decorate a Click command with the TLS acceptor options (help order as storescp)."""
    flag = {"is_flag": True, "default": False}
    a_file = {"shell_complete": complete_files}
    decorators = [
        click.option("-tls", "--disable-tls", **flag,
                     help="use normal TCP/IP connection (default)"),
        click.option("+tls", "--enable-tls", nargs=2, type=str, default=None,
                     metavar="KEY CERT", **a_file,
                     help="use authenticated secure TLS connection with private key file "
                          "KEY and certificate file CERT"),
        click.option("+ps", "--std-passwd", **flag,
                     help="prompt user to type password on stdin (default)"),
        click.option("+pw", "--use-passwd", metavar="PASSWORD", default=None,
                     help="use specified password"),
        click.option("-pw", "--null-passwd", **flag, help="use empty string as password"),
        click.option("-pem", "--pem-keys", **flag,
                     help="read keys and certificates as PEM file (default)"),
        click.option("-der", "--der-keys", **flag,
                     help="read keys and certificates as DER file"),
        click.option("+cf", "--add-cert-file", multiple=True, metavar="FILE", **a_file,
                     help="add certificate file to list of certificates"),
        click.option("+cd", "--add-cert-dir", multiple=True, metavar="DIR",
                     shell_complete=complete_dirs,
                     help="add certificates in DIR to list of certificates"),
        click.option("+crl", "--add-crl-file", multiple=True, metavar="FILE", **a_file,
                     help="add certificate revocation list file (implies --enable-crl-vfy)"),
        click.option("+crv", "--enable-crl-vfy", **flag, help="enable leaf CRL verification"),
        click.option("+cra", "--enable-crl-all", **flag,
                     help="enable full chain CRL verification"),
        click.option("+ph", "--list-profiles", is_flag=True, is_eager=True,
                     expose_value=False, callback=_print_and_exit(listings.profile_list),
                     help="list supported TLS profiles and exit"),
        *(click.option(short, long, **flag, help=text)
          for short, long, _, text in PROFILE_OPTIONS),
        click.option("+cc", "--list-ciphers", is_flag=True, is_eager=True,
                     expose_value=False, callback=_print_and_exit(listings.cipher_list),
                     help="list supported TLS ciphersuites and exit"),
        click.option("+cs", "--cipher", multiple=True, metavar="NAME",
                     shell_complete=complete_ciphersuites,
                     help="add ciphersuite to list of negotiated suites "
                          "(not with --profile-bcp195-ex)"),
        click.option("+dp", "--dhparam", metavar="FILE", default=None, **a_file,
                     help="read DH parameters for DH/DSS ciphersuites"),
        click.option("--expect-sni", metavar="NAME", default=None,
                     help="expect requests for server name NAME (TLS SNI)"),
        click.option("+rs", "--seed", metavar="FILE", default=None, **a_file,
                     help="seed random generator with contents of FILE"),
        click.option("+ws", "--write-seed", **flag,
                     help="write back modified seed (only with --seed)"),
        click.option("+wf", "--write-seed-file", metavar="FILE", default=None, **a_file,
                     help="write modified seed to file FILE (only with --seed)"),
        click.option("-rc", "--require-peer-cert", **flag,
                     help="verify peer certificate, fail if absent (default)"),
        click.option("-vc", "--verify-peer-cert", **flag,
                     help="verify peer certificate if present"),
        click.option("-ic", "--ignore-peer-cert", **flag,
                     help="don't verify peer certificate"),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def build_tls_options(params: dict, typed: list[Occurrence]) -> TLSOptions | None:
    """The ``TLSOptions`` the TLS options ask for, or None for plain TCP.

    Raises click.UsageError for an option that needs ``+tls`` when TLS is off and
    for ``+cs`` with the Extended BCP 195 profile, and when ``+ws``/``+wf`` lack ``+rs``.
    """
    transport = rightmost(typed, _TRANSPORT)
    if transport != "--enable-tls":
        for occurrence in typed:
            needs = _NEEDS_TLS.get(occurrence.name)
            if needs is not None:
                raise click.UsageError(f"{needs} only allowed with --enable-tls")
        return None
    key_file, cert_file = params["enable_tls"]
    opts = TLSOptions(mode="enabled", key_file=key_file, cert_file=cert_file)
    password = rightmost(typed, _PASSWORD)
    if password == "--use-passwd":
        opts.password_mode, opts.password = "given", params["use_passwd"]
    elif password == "--null-passwd":
        opts.password_mode, opts.password = "null", ""
    if rightmost(typed, _FORMAT) == "--der-keys":
        opts.file_format = "der"
    # DCMTK processes the repeatable options right to left
    opts.ca_files = list(reversed(params["add_cert_file"]))
    opts.ca_dirs = list(reversed(params["add_cert_dir"]))
    opts.crl_files = list(reversed(params["add_crl_file"]))
    crl = rightmost(typed, _CRL)
    opts.crl_mode = {"--enable-crl-vfy": "leaf", "--enable-crl-all": "all"}.get(crl)
    profile = rightmost(typed, _PROFILES)
    if profile is not None:
        opts.profile = _PROFILE_KEYS[profile]
    opts.ciphers = list(reversed(params["cipher"]))
    if opts.ciphers and opts.profile == "bcp195-ex":
        raise click.UsageError("--cipher not allowed with --profile-bcp195-ex")
    opts.dhparam_file = params["dhparam"]
    opts.expect_sni = params["expect_sni"]
    opts.seed_file = params["seed"]
    seed = rightmost(typed, _SEED)
    if seed is not None and opts.seed_file is None:
        raise click.UsageError(f"{seed} only allowed with --seed")
    opts.write_seed = seed == "--write-seed"
    opts.write_seed_file = params["write_seed_file"] if seed == "--write-seed-file" else None
    peer = rightmost(typed, _PEER)
    opts.peer_cert = {"--verify-peer-cert": "verify",
                      "--ignore-peer-cert": "ignore"}.get(peer, "require")
    return opts
