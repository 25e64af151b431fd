"""echocerts: a test PKI for DICOM TLS in one command, and a pre-flight check of TLS material.

``init`` writes a CA, server and client certificates, CRLs, DER copies and a hashed CA
directory, then prints the echoscp/echoscu/storescp commands that use them; ``issue``
adds one identity to such a PKI; ``export --p12`` writes PKCS#12 key and trust stores
for Java peers; ``show`` describes certificates, chains, keys and CRLs; ``check`` judges
a key/certificate pair the way DCMTK and TLS peers will. Exit 0 = fine, 1 = a check
failed or a file is unusable, 2 = bad usage. cryptography is imported only inside the
commands.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from certs.files import write_file
from certs.options import PROFILE_NAMES, ROLES
from dicomecho import __version__
from dicomecho.completion import complete_dirs, complete_files

if TYPE_CHECKING:
    from certs.pki import Identity, Pki

#: the key types ``init`` offers (certs.pki knows weaker ones, for tests)
INIT_KEY_TYPES = ("rsa2048", "rsa3072", "ec256", "ec384")
DEFAULT_PORT = 11112
#: the environment variable ``export`` reads the PKCS#12 password from
P12_PASSWORD_ENV = "ECHOCERTS_P12_PASSWORD"
#: Java's keytool refuses shorter store passwords
P12_PASSWORD_MIN = 6
T = TypeVar("T")
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
              key_type: str, days: int, clients: int, password: str | None,
              dual: bool = False) -> Pki:
    """Run make_pki in a staging directory inside ``root``, then move the files in.

    The CRLs are remade to last as long as the certificates (make_pki's last 30 days),
    so the demo does not break after a month. With a password, the CA and client keys
    are encrypted in memory before their one write, and get no DER copy (DCMTK's
    ``-der`` reads only unencrypted keys); the server key stays clear (servers start
    unattended). ``dual``: node certificates (serverAuth and clientAuth).
    """
    from certs import pki

    return _staged(root, force, lambda staging: pki.make_pki(
        staging, hosts=hosts, ips=ips, key_type=key_type, days=days, clients=clients,
        password=password, clear_server_key=True, crl_days=days, protected_der_keys=False,
        dual=dual))


def _staged(root: Path, force: bool, produce: Callable[[Path], T]) -> T:
    """Let ``produce`` write into a staging directory inside ``root``, then move its
    files in.

    Nothing in ``root`` is touched unless every file can be written: existing files
    are refused (listed) unless ``force``.
    """
    staging = Path(tempfile.mkdtemp(prefix=".echocerts-", dir=root))
    try:
        made = produce(staging)
        produced = sorted(path.relative_to(staging) for path in staging.rglob("*")
                          if path.is_file())
        _refuse_clashes(root, [str(path) for path in produced], force)
        for path in produced:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / path, root / path)
    except OSError as error:
        raise click.ClickException(f"cannot write in {root}: {error.strerror or error}") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return made


def _refuse_clashes(root: Path, names: Sequence[str], force: bool) -> None:
    """Refuse (one line, exit 1) to overwrite files of ``root`` unless ``force``."""
    clashes = [name for name in names if os.path.lexists(root / name)]
    if clashes and not force:
        listed = ", ".join(clashes[:4]) + (f" and {len(clashes) - 4} more"
                                           if len(clashes) > 4 else "")
        raise click.ClickException(f"{root} already holds {listed}; "
                                   "use --force to overwrite")


def _commands(directory: str, host: str, port: int, password: str | None,
              dual: bool = False) -> list[str]:
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
        *(["Node certificates also initiate: the server's own certificate as a client",
           f"  echoscu {server} {target}"] if dual else []),
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
             ips: tuple[str, ...], password: str | None, made: Pki,
             dual: bool = False) -> list[str]:
    until = made.server.certificate.not_valid_after_utc
    clients = made.clients
    san = ", ".join([f"DNS:{h}" for h in hosts] + [f"IP:{a}" for a in ips])
    locked = " (key encrypted)" if password else ""
    client_files = (f"{clients[0].name}.pem, {clients[0].name}.key" if len(clients) == 1
                    else f"client1..{len(clients)}.pem/.key")
    server_use = f"{san}; serverAuth, clientAuth (node)" if dual else f"{san}; serverAuth"
    client_use = f"{san}; serverAuth, clientAuth (node)" if dual else "clientAuth"
    return [
        f"Created a test PKI in {directory} ({_KEY_TEXT[key_type]}, valid for {days} days, "
        f"until {until:%Y-%m-%d}):",
        f"  {'ca.pem, ca.key':<28}CA (trust it: +cf ca.pem){locked}",
        f"  {'server.pem, server.key':<28}server: {server_use}",
        f"  {client_files:<28}client{'s' if len(clients) > 1 else ''}: {client_use}{locked}",
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
@click.option("--dual", is_flag=True,
              help="node certificates: server and clients get EKU serverAuth and clientAuth "
                   "and the --host/--ip names, to accept and to initiate TLS (as PACS do)")
@click.option("--force", is_flag=True, help="overwrite files a previous init wrote")
def init(directory: str, hosts: tuple[str, ...], ips: tuple[str, ...], key_type: str,
         days: int, clients: int, password: str | None, port: int, dual: bool,
         force: bool) -> None:
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
                     clients=clients, password=password, dual=dual)
    target = names[0] if names else addresses[0]
    lines = _summary(directory, key_type, days, names, addresses, password, made, dual)
    lines += _commands(directory, target, port, password, dual)
    click.echo("\n".join(lines))


# --- issue -------------------------------------------------------------------------------

#: names of files init writes that are not identities
_RESERVED = ("ca", "crl", "crl-empty", "cadir", "cadir-der", "truststore")
_ROLE_TEXT = {"client": "clientAuth", "server": "serverAuth",
              "dual": "serverAuth, clientAuth (node)"}


def _identity_name(name: str) -> str:
    """A name usable as a file stem and common name, not one of init's other files."""
    if not (0 < len(name) <= 64 and name[0].isalnum()
            and all(ch.isalnum() or ch in "._-" for ch in name)):
        raise click.BadParameter(f"{name!r}: use letters, digits, '.', '_' and '-' "
                                 "(at most 64, starting with a letter or digit)",
                                 param_hint="NAME")
    if name.lower() in _RESERVED:
        raise click.BadParameter(f"{name!r} is a file of the PKI itself", param_hint="NAME")
    return name


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {what} {path}: "
                                   f"{error.strerror or error}") from None


def _load_pair(root: Path, name: str, password: str | None, option: str):
    """``<name>.pem`` and ``<name>.key`` of ``root`` (PEM; the key decrypted with
    ``password``), checked to belong together. One-line errors name ``option``."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    cert_path, key_path = root / f"{name}.pem", root / f"{name}.key"
    try:
        certificate = x509.load_pem_x509_certificate(_read(cert_path, "certificate"))
    except ValueError:
        raise click.ClickException(f"{cert_path} holds no PEM certificate") from None
    data = _read(key_path, "key")
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0] or b"Proc-Type: 4,ENCRYPTED" in data
    if encrypted and not password:
        raise click.ClickException(f"{key_path} is encrypted: give its password with {option}")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if encrypted else None)
    except ValueError:
        if encrypted:
            raise click.ClickException(f"cannot decrypt {key_path}: wrong {option}") from None
        raise click.ClickException(f"{key_path} holds no PEM private key") from None
    except (TypeError, UnsupportedAlgorithm):
        raise click.ClickException(f"{key_path} holds no usable private key") from None
    if key.public_key() != certificate.public_key():
        raise click.ClickException(f"{key_path} is not the key of {cert_path}")
    return certificate, key


def _load_ca(root: Path, password: str | None) -> Identity:
    """The CA ``init`` wrote in ``root`` (``ca.pem``, ``ca.key``), ready to sign."""
    from cryptography import x509

    from certs.pki import Identity

    if not (root / "ca.pem").is_file() or not (root / "ca.key").is_file():
        raise click.ClickException(f"{root} holds no ca.pem and ca.key: make the PKI first "
                                   f"with 'echocerts init {root}'")
    certificate, key = _load_pair(root, "ca", password, "--ca-password")
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise click.ClickException(f"{root / 'ca.pem'} is not a CA certificate")
    return Identity(name="ca", cert=str(root / "ca.pem"), key=str(root / "ca.key"),
                    cert_der=str(root / "ca.der"), key_der=None, certificate=certificate,
                    private_key=key)


@cli.command("issue")
@click.argument("directory", type=click.Path(file_okay=False), shell_complete=complete_dirs)
@click.argument("name")
@click.option("--client", "role", flag_value="client",
              help="a client certificate: EKU clientAuth (the default)")
@click.option("--server", "role", flag_value="server",
              help="a server certificate: EKU serverAuth, SAN from --host/--ip")
@click.option("--dual", "role", flag_value="dual",
              help="a node certificate: EKU serverAuth and clientAuth, SAN from --host/--ip")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="DNS name for the SAN (repeatable; an IP address counts as --ip). "
                   "Server and node default: localhost and 127.0.0.1; a client gets no SAN "
                   "unless given.")
@click.option("--ip", "ips", multiple=True, metavar="ADDR",
              help="IP address for the SAN (repeatable).")
@click.option("--key", "key_type", type=click.Choice(INIT_KEY_TYPES), default="rsa2048",
              show_default=True, help="key type")
@click.option("--days", type=click.IntRange(1, 36500), default=365, show_default=True,
              help="validity in days, from yesterday")
@click.option("--password", metavar="PASS", default=None,
              help="encrypt the new key with PASS (DCMTK: +pw PASS); it then gets no DER copy")
@click.option("--ca-password", metavar="PASS", default=None,
              help="password of DIRECTORY/ca.key, if init encrypted it")
@click.option("--force", is_flag=True, help="overwrite the files of an identity called NAME")
def issue_command(directory: str, name: str, role: str | None, hosts: tuple[str, ...],
                  ips: tuple[str, ...], key_type: str, days: int, password: str | None,
                  ca_password: str | None, force: bool) -> None:
    """Add one client, server or node certificate NAME to the PKI in DIRECTORY.

    Signed by DIRECTORY's CA (ca.pem, ca.key, as init wrote them); written as
    NAME.pem, NAME.key, NAME.der and, for an unencrypted key, NAME.key.der.
    """
    from certs import pki

    name = _identity_name(name)
    role = role or "client"
    if password == "":
        raise click.BadParameter("an empty password encrypts nothing", param_hint="--password")
    if role == "client" and not hosts and not ips:
        names, addresses = (), ()
    else:
        names, addresses = _split_hosts(hosts, ips)
    root = Path(directory)
    ca = _load_ca(root, ca_password)
    _refuse_clashes(root, [f"{name}{suffix}" for suffix in (".pem", ".key", ".der",
                                                            ".key.der")], force)
    made = _staged(root, force, lambda staging: pki.issue(
        staging, name, ca, key_type=key_type, days=days, server=role != "client",
        client=role != "server", hosts=names, ips=addresses, password=password,
        der_key=not password))
    until = made.certificate.not_valid_after_utc
    san = ", ".join([f"DNS:{h}" for h in names] + [f"IP:{a}" for a in addresses])
    lines = [f"Issued {name} in {directory} ({_KEY_TEXT[key_type]}, valid for {days} days, "
             f"until {until:%Y-%m-%d}), signed by {root / 'ca.pem'}:",
             f"  {f'{name}.pem, {name}.key':<28}{role}: {_ROLE_TEXT[role]}"
             f"{f'; {san}' if san else ''}{' (key encrypted)' if password else ''}",
             f"  {f'{name}.der' + ('' if password else f', {name}.key.der'):<28}"
             "DER copies (use with -der)"]
    if until.date() > ca.certificate.not_valid_after_utc.date():
        lines.append(f"Note: it outlives the CA, which expires "
                     f"{ca.certificate.not_valid_after_utc:%Y-%m-%d}.")
    ca_file = shlex.quote(str(root / "ca.pem"))
    tls = (f"+tls {shlex.quote(str(root / f'{name}.key'))} "
           f"{shlex.quote(str(root / f'{name}.pem'))}")
    pw = f" +pw {shlex.quote(password)}" if password else ""
    lines.append("")
    if role != "server":
        target = (names or addresses or ("localhost",))[0]
        lines += ["Echo a server that trusts the CA:",
                  f"  echoscu {tls}{pw} +cf {ca_file} {shlex.quote(target)} {DEFAULT_PORT}"]
    if role != "client":
        lines += ["Serve (the key must be unencrypted, or given with +pw):",
                  f"  echoscp {tls}{pw} +cf {ca_file} {DEFAULT_PORT}"]
    click.echo("\n".join(lines))


# --- export ------------------------------------------------------------------------------


def _complete_identities(ctx: click.Context, _param: click.Parameter,
                         incomplete: str) -> list[str]:
    """The identities (``<name>.key`` with a ``<name>.pem``) of the DIRECTORY typed."""
    directory = Path(ctx.params.get("directory") or ".")
    try:
        stems = sorted(path.stem for path in directory.glob("*.key")
                       if path.with_suffix(".pem").is_file())
    except OSError:
        return []
    return [stem for stem in stems if stem != "ca" and stem.startswith(incomplete)]


@cli.command("export")
@click.argument("directory", type=click.Path(file_okay=False), shell_complete=complete_dirs)
@click.argument("name", shell_complete=_complete_identities)
@click.option("--p12", is_flag=True,
              help="write PKCS#12 files (the one format so far; required)")
@click.option("--password", metavar="PASS", envvar=P12_PASSWORD_ENV, show_envvar=True,
              help=f"password of both PKCS#12 files and of the key inside (required; at "
                   f"least {P12_PASSWORD_MIN} characters, as keytool wants)")
@click.option("--key-password", metavar="PASS", default=None,
              help="password of DIRECTORY/NAME.key, if it is encrypted")
@click.option("--force", is_flag=True, help="overwrite NAME.p12 and truststore.p12")
def export_command(directory: str, name: str, p12: bool, password: str | None,
                   key_password: str | None, force: bool) -> None:
    """Write NAME's key and chain, and the CA, as PKCS#12 files for Java peers.

    DIRECTORY/NAME.p12: a key store holding NAME's key (encrypted with the password),
    certificate and CA certificate (Java: one PrivateKeyEntry, alias NAME).
    DIRECTORY/truststore.p12: a trust store holding only the CA certificate (Java: one
    trustedCertEntry, alias ca; no private key). For dcm4che, PixelMed and other JSSE
    peers (store type PKCS12).
    """
    from certs import pki

    if not p12:
        raise click.UsageError("say which format to write: --p12 (the only one so far)")
    if not password:
        raise click.BadParameter(f"give the PKCS#12 password with --password or "
                                 f"{P12_PASSWORD_ENV}", param_hint="--password")
    if len(password) < P12_PASSWORD_MIN:
        raise click.BadParameter(f"at least {P12_PASSWORD_MIN} characters: Java's keytool "
                                 "refuses shorter store passwords", param_hint="--password")
    name = _identity_name(name)
    root = Path(directory)
    ca_certificate = _load_ca_certificate(root)
    certificate, key = _load_pair(root, name, key_password, "--key-password")
    if certificate.issuer != ca_certificate.subject:
        raise click.ClickException(f"{root / f'{name}.pem'} was not issued by "
                                   f"{root / 'ca.pem'}")
    _refuse_clashes(root, [f"{name}.p12", "truststore.p12"], force)
    if not pki.JAVA_TRUSTSTORE_SUPPORTED:
        import cryptography

        raise click.ClickException(
            f"cryptography {cryptography.__version__} cannot write a Java trust store "
            "(cryptography 45 or newer can); upgrade it, or make one with 'keytool "
            f"-importcert -storetype PKCS12 -keystore truststore.p12 -alias ca -file "
            f"{root / 'ca.pem'}'")
    keystore = pki.keystore_p12(name, key, certificate, [ca_certificate], password)
    truststore = pki.truststore_p12([("ca", ca_certificate)], password)
    try:
        write_file(root / f"{name}.p12", keystore, True)
        write_file(root / "truststore.p12", truststore)
    except OSError as error:
        raise click.ClickException(f"cannot write in {root}: {error.strerror or error}") \
            from None
    keystore_path = shlex.quote(str(root / f"{name}.p12"))
    truststore_path = shlex.quote(str(root / "truststore.p12"))
    click.echo("\n".join([
        f"Wrote PKCS#12 files for Java peers in {directory}:",
        f"  {f'{name}.p12':<28}key store: {name}'s key (encrypted), certificate and CA; "
        f"alias {name}",
        f"  {'truststore.p12':<28}trust store: the CA certificate only (alias ca), no key",
        "Both are protected by the password you gave. List them:",
        f"  keytool -list -storetype PKCS12 -keystore {keystore_path} -storepass PASSWORD",
        "Java (JSSE) properties:",
        f"  -Djavax.net.ssl.keyStore={keystore_path} -Djavax.net.ssl.keyStoreType=PKCS12 "
        "-Djavax.net.ssl.keyStorePassword=PASSWORD",
        f"  -Djavax.net.ssl.trustStore={truststore_path} -Djavax.net.ssl.trustStoreType=PKCS12 "
        "-Djavax.net.ssl.trustStorePassword=PASSWORD",
    ]))


def _load_ca_certificate(root: Path):
    """``root/ca.pem``, without its key (export needs none)."""
    from cryptography import x509

    path = root / "ca.pem"
    try:
        return x509.load_pem_x509_certificate(_read(path, "CA certificate"))
    except ValueError:
        raise click.ClickException(f"{path} holds no PEM certificate") from None


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
@click.option("--role", type=click.Choice(ROLES), default=None,
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
