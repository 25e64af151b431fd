"""echocerts: a test PKI for DICOM TLS in one command, and a pre-flight check of TLS material.

``init`` writes a CA, server and client certificates, CRLs, DER copies and a hashed CA
directory, then prints the echoscp/echoscu/storescp commands that use them; ``show``
describes certificates, chains, keys and CRLs; ``check`` judges a key/certificate pair
the way DCMTK and TLS peers will. Exit 0 = fine, 1 = a check failed or a file is
unusable, 2 = bad usage. cryptography is imported only inside the commands.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from certs.options import PROFILE_NAMES
from echoscu import __version__
from echoscu.completion import complete_files

if TYPE_CHECKING:
    from certs.pki import Pki

#: the key types ``init`` offers (certs.pki knows weaker ones, for tests)
INIT_KEY_TYPES = ("rsa2048", "rsa3072", "ec256", "ec384")
DEFAULT_PORT = 11112
_KEY_TEXT = {"rsa2048": "RSA 2048", "rsa3072": "RSA 3072", "ec256": "EC P-256",
             "ec384": "EC P-384"}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="echocerts",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Test PKI and pre-flight checks for DICOM TLS (echoscu, echoscp, DCMTK)."""


# --- init --------------------------------------------------------------------------------


def _split_hosts(hosts: Sequence[str], ips: Sequence[str]) -> tuple[tuple[str, ...],
                                                                     tuple[str, ...]]:
    """Validated SAN entries; an address given with --host joins the IP addresses."""
    names: list[str] = []
    addresses: list[str] = []
    for ip in ips:
        try:
            addresses.append(str(ipaddress.ip_address(ip.strip().strip("[]"))))
        except ValueError:
            raise click.BadParameter(f"{ip!r} is not an IPv4 or IPv6 address",
                                     param_hint="--ip") from None
    for host in hosts:
        host = host.strip().rstrip(".")
        try:
            addresses.append(str(ipaddress.ip_address(host.strip("[]"))))
            continue
        except ValueError:
            pass
        if not _valid_dns_name(host):
            raise click.BadParameter(f"{host!r} is not a DNS name", param_hint="--host")
        names.append(host.lower())
    if not names and not addresses:
        return ("localhost",), ("127.0.0.1",)
    return tuple(dict.fromkeys(names)), tuple(dict.fromkeys(addresses))


def _valid_dns_name(host: str) -> bool:
    """Letters, digits, hyphens and underscores per label; ``*`` only as the first label."""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = host.split(".")
    if not host or len(host) > 253:
        return False
    for position, label in enumerate(labels):
        if label == "*" and position == 0 and len(labels) > 2:
            continue
        if not 0 < len(label) <= 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(ch.isalnum() or ch in "-_" for ch in label):
            return False
    return True


def _generate(root: Path, force: bool, *, hosts: tuple[str, ...], ips: tuple[str, ...],
              key_type: str, days: int, clients: int, password: str | None) -> Pki:
    """Run make_pki in a staging directory inside ``root``, then move the files in.

    Nothing in ``root`` is touched unless every file can be written: existing files
    are refused (listed) unless ``force``. The CRLs are remade to last as long as the
    certificates (make_pki's last 30 days), so the demo does not break after a month.
    With a password, the CA and client keys are encrypted in memory before their one
    write, and get no DER copy (DCMTK's ``-der`` reads only unencrypted keys); the
    server key stays clear (servers start unattended).
    """
    from certs import pki

    staging = Path(tempfile.mkdtemp(prefix=".echocerts-", dir=root))
    try:
        made = pki.make_pki(staging, hosts=hosts, ips=ips, key_type=key_type, days=days,
                            clients=clients, password=password, clear_server_key=True,
                            crl_days=days, protected_der_keys=False)
        produced = sorted(path.relative_to(staging) for path in staging.rglob("*")
                          if path.is_file())
        clashes = [str(path) for path in produced if os.path.lexists(root / path)]
        if clashes and not force:
            listed = ", ".join(clashes[:4]) + (f" and {len(clashes) - 4} more"
                                               if len(clashes) > 4 else "")
            raise click.ClickException(f"{root} already holds {listed}; "
                                       "use --force to overwrite")
        for path in produced:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, root / path)
    except OSError as error:
        raise click.ClickException(f"cannot write in {root}: {error.strerror or error}") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return made


def _commands(directory: str, host: str, port: int, password: str | None) -> list[str]:
    """The ready-to-paste lines that put the new files to use."""

    def path(name: str) -> str:
        return shlex.quote(os.path.join(directory, name))

    ca, cadir = path("ca.pem"), path("cadir")
    server = f"+tls {path('server.key')} {path('server.pem')} +cf {ca}"
    pw = f" +pw {shlex.quote(password)}" if password else ""
    client = f"+tls {path('client1.key')} {path('client1.pem')}{pw}"
    revoked = f"+tls {path('revoked.key')} {path('revoked.pem')}{pw} +cf {ca}"
    target = f"{shlex.quote(host)} {port}"
    return [
        "Start a server (our echoscp, or DCMTK's storescp: same TLS options):",
        f"  echoscp {server} {port}",
        f"  storescp {server} {port}",
        "",
        "Echo it (our echoscu and DCMTK's echoscu take the same options):",
        f"  echoscu {client} +cf {ca} {target}",
        f"  echoscu {client} +cd {cadir} {target}",
        "",
        f"Revocation: start the server with +crl {path('crl.pem')} added; it then refuses",
        f"  echoscu {revoked} {target}",
        "",
        "Offline checks:",
        f"  echoscu +rc {ca}",
        f"  echoscu +tla +cf {ca} +crl {path('crl.pem')} +vc {path('revoked.pem')}",
        f"  echocerts check --key {path('server.key')} --cert {path('server.pem')} --ca {ca} "
        f"--role server --host {shlex.quote(host)}",
    ]


def _summary(directory: str, key_type: str, days: int, hosts: tuple[str, ...],
             ips: tuple[str, ...], password: str | None, made: Pki) -> list[str]:
    until = made.server.certificate.not_valid_after_utc
    clients = made.clients
    san = ", ".join([f"DNS:{h}" for h in hosts] + [f"IP:{a}" for a in ips])
    locked = " (key encrypted)" if password else ""
    client_files = (f"{clients[0].name}.pem, {clients[0].name}.key" if len(clients) == 1
                    else f"client1..{len(clients)}.pem/.key")
    return [
        f"Created a test PKI in {directory} ({_KEY_TEXT[key_type]}, valid for {days} days, "
        f"until {until:%Y-%m-%d}):",
        f"  {'ca.pem, ca.key':<28}CA (trust it: +cf ca.pem){locked}",
        f"  {'server.pem, server.key':<28}server: {san}; serverAuth",
        f"  {client_files:<28}client{'s' if len(clients) > 1 else ''}: clientAuth{locked}",
        f"  {'revoked.pem, revoked.key':<28}spare client, revoked by crl.pem{locked}",
        f"  {'crl.pem, crl-empty.pem':<28}CRL revoking revoked.pem, and an empty CRL "
        f"(both valid {days} days)",
        *_der_lines(directory, password),
        f"  {'cadir/, cadir-der/':<28}OpenSSL hashed CA directories (+cd cadir)",
        "Private keys have mode 0600.",
        "",
    ]


def _der_lines(directory: str, password: str | None) -> list[str]:
    """What the DER copies are; with a password, why the protected keys have none.

    DCMTK's ``-der`` (like ours) reads only unencrypted DER keys, so a DER copy of an
    encrypted key is either useless (encrypted) or the key in the clear.
    """
    if not password:
        return [f"  {'*.der, *.key.der':<28}DER copies of every PEM file, keys unencrypted "
                "(use with -der)"]
    client = shlex.quote(os.path.join(directory, "client1"))
    return [
        f"  {'*.der, server.key.der':<28}DER copies of the certificates, CRLs and server key "
        "(use with -der)",
        f"  {'':<28}no DER copies of the encrypted keys: -der reads only unencrypted keys",
        f"  {'':<28}(DCMTK too); to make one, unencrypted, mode 0600 (asks for the password):",
        f"  {'':<28}openssl pkcs8 -in {client}.key -outform DER -out {client}.key.der",
    ]


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="DNS name for the server certificate (repeatable; an IP address given "
                   "here counts as --ip). Default: localhost and 127.0.0.1.")
@click.option("--ip", "ips", multiple=True, metavar="ADDR",
              help="IP address for the server certificate (repeatable).")
@click.option("--key", "key_type", type=click.Choice(INIT_KEY_TYPES), default="rsa2048",
              show_default=True, help="key type of every certificate")
@click.option("--days", type=click.IntRange(1, 36500), default=365, show_default=True,
              help="validity in days, from yesterday")
@click.option("--clients", type=click.IntRange(1, 99), default=1, show_default=True,
              help="number of client certificates (client1, client2, ...)")
@click.option("--password", metavar="PASS", default=None,
              help="encrypt the client keys and the CA key with PASS (DCMTK: +pw PASS); "
                   "the server key stays unencrypted")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="port in the printed commands")
@click.option("--force", is_flag=True, help="overwrite files a previous init wrote")
def init(directory: str, hosts: tuple[str, ...], ips: tuple[str, ...], key_type: str,
         days: int, clients: int, password: str | None, port: int, force: bool) -> None:
    """Create a test PKI in DIRECTORY and print the commands that use it.

    A CA, a server certificate, client certificates, a revoked spare client, CRLs,
    DER copies and hashed CA directories; then the echoscp/echoscu (and DCMTK
    storescp/echoscu) command lines. Existing files are kept unless --force.
    """
    names, addresses = _split_hosts(hosts, ips)
    if password == "":
        raise click.BadParameter("an empty password encrypts nothing", param_hint="--password")
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(f"cannot create {directory}: {error.strerror or error}") \
            from None
    made = _generate(root, force, hosts=names, ips=addresses, key_type=key_type, days=days,
                     clients=clients, password=password)
    target = names[0] if names else addresses[0]
    lines = _summary(directory, key_type, days, names, addresses, password, made)
    lines += _commands(directory, target, port, password)
    click.echo("\n".join(lines))


# --- show --------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                shell_complete=complete_files)
@click.option("--password", metavar="PASS", default=None,
              help="decrypt encrypted keys to show their type and size (never needed to "
                   "tell whether a key is encrypted)")
@click.pass_context
def show(ctx: click.Context, files: tuple[str, ...], password: str | None) -> None:
    """Describe certificates, chains, private keys and CRLs (PEM or DER).

    Certificates: subject, issuer, serial, validity and days left, key, signature, SAN,
    EKU, CA flag, SHA-256 fingerprint. Keys: type, size, encrypted or not.
    """
    from certs.inspect import MaterialError, describe, now_utc, read_material

    now = now_utc()
    failed = False
    for path in files:
        try:
            material = read_material(path)
        except MaterialError as error:
            click.echo(f"echocerts: {error}", err=True)
            failed = True
            continue
        click.echo("\n".join(describe(material, now, password)))
    ctx.exit(1 if failed else 0)


# --- check -------------------------------------------------------------------------------


@cli.command()
@click.option("--key", "key_path", metavar="FILE", shell_complete=complete_files,
              help="private key (PEM or DER); without it the match is not checked")
@click.option("--cert", "cert_path", required=True, metavar="FILE",
              shell_complete=complete_files,
              help="certificate, optionally followed by its intermediates (PEM or DER)")
@click.option("--ca", "ca_paths", multiple=True, metavar="FILE|DIR",
              shell_complete=complete_files,
              help="trusted CA certificates: a file or a hashed directory (repeatable)")
@click.option("--crl", "crl_paths", multiple=True, metavar="FILE",
              shell_complete=complete_files,
              help="CRL to check revocation against (repeatable)")
@click.option("--host", metavar="NAME",
              help="host name or IP address the certificate must cover (implies --role server)")
@click.option("--role", type=click.Choice(["client", "server"]), default=None,
              help="what the certificate is for: EKU clientAuth or serverAuth")
@click.option("--profile", type=click.Choice(PROFILE_NAMES), default="8996", show_default=True,
              help="DCMTK TLS profile whose rules apply (8996 = +pg, 8996-mod = +pm, ...)")
@click.option("--password", metavar="PASS", default=None, help="password of an encrypted key")
@click.pass_context
def check(ctx: click.Context, key_path: str | None, cert_path: str, ca_paths: tuple[str, ...],
          crl_paths: tuple[str, ...], host: str | None, role: str | None, profile: str,
          password: str | None) -> None:
    """Pre-flight check of a key and certificate before connecting.

    One line per finding, "ok:", "warn:" or "FAIL:". Exit 0 if nothing FAILs
    (warnings allowed), 1 otherwise.
    """
    from certs.preflight import FAIL, WARN, preflight

    findings = preflight(cert_path, key_path=key_path, ca_paths=ca_paths, crl_paths=crl_paths,
                         host=host, role=role, profile=profile, password=password)
    for finding in findings:
        click.echo(finding.line)
    failures = sum(finding.level == FAIL for finding in findings)
    warnings = sum(finding.level == WARN for finding in findings)
    verdict = "FAILED" if failures else "passed"
    click.echo(f"check {verdict}: {failures} failure(s), {warnings} warning(s)")
    ctx.exit(1 if failures else 0)


def main(argv: list[str] | None = None) -> int:
    """Run echocerts with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        result = cli.main(args=argv, prog_name="echocerts", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("echocerts: aborted", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
