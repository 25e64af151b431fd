"""Our own private key and certificate (+tls key cert), loaded the way DCMTK 3.7.0 does.

Order and messages of DCMTK's set-up: pass phrase (+ps/+pw/-pw), private key,
certificate and its RFC 9325 checks, key/certificate match. PEM material goes
straight to ``ssl``; only DER material, or explaining a failed load in DCMTK's words,
needs ``cryptography`` (90 ms of import). A decrypted key never touches the disk: it
reaches OpenSSL re-encrypted with a one-time pass phrase (certs.files.memory_file).
"""

from __future__ import annotations

import os
import ssl
import sys

from certs import der, profiles
from certs.errors import ErrorQueue, TLSSetupError
from certs.options import TLSOptions

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from certs import errorqueue
    from certs.errors import Log

PASS_PHRASE_PROMPT = "Enter PEM pass phrase:"


class _PromptFailed(Exception):
    """The +ps prompt met end of input (OpenSSL: "processing error")."""


class _PassPhrase:
    """The private key password of +ps/+pw/-pw; the +ps prompt is shown at most once."""

    def __init__(self, opts: TLSOptions) -> None:
        self.value: str | None = {"prompt": None, "null": ""}.get(
            opts.password_mode, opts.password or "")
        self.failed = False

    def __call__(self) -> str:
        if self.failed:
            raise _PromptFailed
        if self.value is None:
            self.value = _prompt_pass_phrase()
            if self.value is None:
                self.failed = True
                raise _PromptFailed
        return self.value


def _read_line_from_terminal() -> bytes | None:
    """Prompt on the controlling terminal with echo off; None if there is no terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    import termios

    with os.fdopen(fd, "r+b", buffering=0) as tty:
        saved = termios.tcgetattr(fd)
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, quiet)  # echo off before the prompt shows
        try:
            tty.write(PASS_PHRASE_PROMPT.encode())
            return tty.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSANOW, saved)
            tty.write(b"\n")


def _read_line_from_stdin() -> bytes:
    sys.stderr.write(PASS_PHRASE_PROMPT)
    sys.stderr.flush()
    line = sys.stdin.buffer.readline()
    sys.stderr.write("\n")
    sys.stderr.flush()
    return line


def _prompt_pass_phrase() -> str | None:
    """OpenSSL's pass phrase prompt: terminal if any, else stderr/stdin; None at EOF.

    Like OpenSSL, a read that hits end of input is tried once more before giving up.
    """
    for _attempt in range(2):
        line = _read_line_from_terminal()
        if line is None:
            line = _read_line_from_stdin()
        if line.endswith(b"\n"):
            return line[:-1].decode("utf-8", errors="surrogateescape")
    return None


def _key_failure(opts: TLSOptions) -> tuple[str, str]:
    return ("F", f"000b:0004 Unable to load private TLS key from '{opts.key_file}'")


def _certificate_failure(opts: TLSOptions) -> tuple[str, str]:
    return ("F", f"000b:0005 Unable to load certificate from '{opts.cert_file}'")


def load_identity(context: ssl.SSLContext, opts: TLSOptions, log: Log,
                  profile: profiles.Profile, server: bool, errors: ErrorQueue,
                  ) -> tuple[bool, list[der.Certificate]]:
    """Key, certificate (checks) and match into ``context``.

    Returns whether the certificate is a DSA one, and the certificates of the
    certificate file as read here (for the security-level choice; [] if one of them is
    beyond our reader), so that nobody reads the file again. Raises TLSSetupError with
    DCMTK's lines; warnings go to ``log``.
    """
    pass_phrase = _PassPhrase(opts)
    if opts.file_format == "pem":
        try:
            context.load_cert_chain(opts.cert_file, opts.key_file, password=pass_phrase)
        except (OSError, ssl.SSLError, _PromptFailed):
            pass  # explained, in DCMTK's order and words, by the careful path below
        else:
            try:
                with open(opts.cert_file, "rb") as handle:
                    chain = der.load_pem_certificates(handle.read())
            except OSError:  # gone since OpenSSL read it: no checks, as for an unreadable one
                chain = []
            parsed = _parsed(chain)
            return _check_own_certificate(parsed[:1], opts, profile, server, log), \
                _own_chain(parsed)
    return _load_identity_carefully(context, opts, log, profile, server, pass_phrase, errors)


def _parsed(chain: list[bytes]) -> list[der.Certificate | None]:
    """Each DER certificate parsed once (None for one our reader cannot follow)."""
    parsed: list[der.Certificate | None] = []
    for item in chain:
        try:
            parsed.append(der.Certificate(item))
        except der.DerError:
            parsed.append(None)
    return parsed


def _own_chain(parsed: list[der.Certificate | None]) -> list[der.Certificate]:
    """The own chain for certs.profiles.security_level: [] if any certificate is unreadable."""
    return [] if None in parsed else parsed  # type: ignore[return-value]


def _read(path: str) -> tuple[bytes | None, int]:
    """File contents and 0; (b"", EISDIR) for a directory, which OpenSSL opens but cannot
    read; (None, errno) for a file that cannot be opened."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), 0
    except IsADirectoryError as exc:
        return b"", exc.errno
    except OSError as exc:
        return None, exc.errno or 5


def _pem_is_encrypted(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def may_prompt(opts: TLSOptions) -> bool:
    """Whether loading the own key would show the ``+ps`` pass phrase prompt: an
    encrypted PEM key under ``+ps`` (a DER key is read without a pass phrase)."""
    if opts.mode != "enabled" or opts.password_mode != "prompt" or opts.file_format != "pem":
        return False
    data, _errno = _read(opts.key_file)
    return data is not None and _pem_is_encrypted(data)


def _read_private_key(opts: TLSOptions, pass_phrase: _PassPhrase, errors: ErrorQueue) -> object:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    from certs import errorqueue

    def failure(entries: errorqueue.Entries) -> TLSSetupError:
        return TLSSetupError([("E", errors.fail(entries)), _key_failure(opts)])

    data, errno = _read(opts.key_file)
    if data is None:
        raise failure(errorqueue.key_missing(errno))
    der_format = opts.file_format == "der"
    if der_format and errno:  # a directory: the DER reader's read fails (PEM's does not)
        raise failure(errorqueue.key_unreadable(errno))
    unsupported = errorqueue.key_unsupported(data, der_format)
    if der_format:
        try:
            return serialization.load_der_private_key(data, None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise failure(unsupported) from None
    encrypted = _pem_is_encrypted(data)
    try:
        secret = pass_phrase().encode("utf-8", errors="surrogateescape") if encrypted else None
    except _PromptFailed:
        raise failure(errorqueue.key_prompt_failed()) from None
    try:
        return serialization.load_pem_private_key(data, secret or None)
    except (ValueError, TypeError) as exc:
        if not encrypted:
            raise failure(unsupported) from exc
        from certs.pemcrypt import decrypts_to_valid_padding

        # a wrong pass phrase that happens to give valid padding: OpenSSL reports the
        # content it decrypted, not "bad decrypt"
        garbled = secret is not None and decrypts_to_valid_padding(data, secret)
        raise failure(unsupported if garbled else errorqueue.key_bad_decrypt()) from exc
    except UnsupportedAlgorithm:
        raise failure(unsupported) from None


def _read_certificates(opts: TLSOptions, errors: ErrorQueue) -> list[bytes]:
    """The certificate file as DER certificates (PEM: the whole chain; DER: one)."""
    from certs import errorqueue

    def failure(entries: errorqueue.Entries) -> TLSSetupError:
        return TLSSetupError([("E", errors.fail(entries)), _certificate_failure(opts)])

    data, errno = _read(opts.cert_file)
    if data is None:
        raise failure(errorqueue.certificate_missing(errno))
    der_format = opts.file_format == "der"
    if der_format and errno:  # a directory, as for the key
        raise failure(errorqueue.certificate_unreadable(errno))
    if der_format:
        try:
            return [der.Certificate(data).der]
        except der.DerError:
            raise failure(errorqueue.certificate_unparsable(data, True)) from None
    chain = der.load_pem_certificates(data)
    if not chain:
        raise failure(errorqueue.certificate_unparsable(data, False))
    return chain


def _load_identity_carefully(context: ssl.SSLContext, opts: TLSOptions, log: Log,
                             profile: profiles.Profile, server: bool,
                             pass_phrase: _PassPhrase, errors: ErrorQueue,
                             ) -> tuple[bool, list[der.Certificate]]:
    """Load key and certificate step by step, failing with DCMTK's message for each step."""
    from cryptography import x509

    from certs import errorqueue

    key = _read_private_key(opts, pass_phrase, errors)
    chain = _read_certificates(opts, errors)
    parsed = _parsed(chain)
    dsa_certificate = _check_own_certificate(parsed[:1], opts, profile, server, log)
    try:
        matches = x509.load_der_x509_certificate(chain[0]).public_key() == key.public_key()
    except ValueError:
        entries = errorqueue.certificate_unparsable(chain[0], True)
        raise TLSSetupError([("E", errors.fail(entries)), _certificate_failure(opts)]) from None
    if not matches:
        raise TLSSetupError([("F", f"000b:0006 Private key '{opts.key_file}' and certificate "
                                   f"'{opts.cert_file}' do not match")])
    _load_into_context(context, key, chain)
    return dsa_certificate, _own_chain(parsed)


def _load_into_context(context: ssl.SSLContext, key: object, chain: list[bytes]) -> None:
    """Hand key and chain to OpenSSL through memory files; the key stays encrypted there."""
    import secrets

    from cryptography.hazmat.primitives import serialization

    from certs.files import memory_file

    one_time = secrets.token_hex(32)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode()))
    chain_pem = "".join(ssl.DER_cert_to_PEM_cert(cert) for cert in chain).encode()
    with memory_file(chain_pem) as chain_path, memory_file(key_pem) as key_path:
        context.load_cert_chain(chain_path, key_path, password=one_time)


def _check_own_certificate(first: list[der.Certificate | None], opts: TLSOptions,
                           profile: profiles.Profile, server: bool, log: Log) -> bool:
    """DCMTK 3.7.0's checks of the own certificate (docs/dcmtk-behaviour.md 6.6); True for a
    DSA certificate."""
    certificate = first[0] if first else None
    if certificate is None:  # OpenSSL accepted what our reader cannot follow: no checks
        return False
    path = opts.cert_file
    failure = _certificate_failure(opts)
    rfc8996 = profile.key in ("8996", "8996-mod")
    modified = profile.key == "8996-mod"
    rsa_bits = certificate.key_bits if certificate.key_type == "RSA" else 0
    ec_bits = certificate.key_bits if certificate.key_type == "EC" else 0
    if 0 < rsa_bits < 2048:
        if rfc8996 and server:
            raise TLSSetupError([("F", "Key length of RSA public key too short: RFC 9325 "
                                       "requires at least 2048 bits for server RSA keys, but the "
                                       f"key in certificate file '{path}' is only {rsa_bits} "
                                       "bits."), failure])
        if modified:
            raise TLSSetupError([("F", "Key length of RSA public key too short: TLS profile "
                                       "requires at least 2048 bits for RSA keys, but the key in "
                                       f"certificate file '{path}' is only {rsa_bits} bits."),
                                 failure])
        log.warn("Key length of RSA public key too short: RFC 9325 recommends at least 2048 "
                 f"bits for RSA keys, but the key in certificate file '{path}' is only "
                 f"{rsa_bits} bits.")
    if 0 < ec_bits < 256:
        if modified:
            raise TLSSetupError([("F", "Key length of ECDSA public key too short: TLS profile "
                                       "requires at least 256 bits for ECDSA keys, but the key "
                                       f"in certificate file '{path}' is only {ec_bits} bits."),
                                 failure])
        if ec_bits < 224:
            log.warn("Key length of ECDSA public key too short: RFC 9325 recommends at least "
                     f"224 bits for ECDSA keys, but the key in certificate file '{path}' is "
                     f"only {ec_bits} bits.")
    dsa_certificate = certificate.key_type == "DSA"
    if dsa_certificate:
        if rfc8996:
            raise TLSSetupError([("F", f"DSA certificate '{path}' not permitted in the selected "
                                       "TLS profile because it prevents the use of TLS 1.3."),
                                 failure])
        log.warn("Use of DSA certificate not recommended because it prevents the use of TLS "
                 "1.3, which does not support this certificate type.")
    hash_name = certificate.signature_name
    if certificate.signature_class == "weak":
        raise TLSSetupError([("E", f"Weak certificate hash key: certificate file '{path}' uses "
                                   f"'{hash_name}'."), failure])
    if certificate.signature_class == "other":
        if modified:
            raise TLSSetupError([("F", "Weak certificate hash key: TLS profile requires SHA-256 "
                                       "(or better) for certificates, but certificate file "
                                       f"'{path}' uses '{hash_name}'."), failure])
        log.warn("Possibly weak certificate hash key: RFC 9325 recommends the use of SHA-256 "
                 f"(or better) for certificates, but certificate file '{path}' uses "
                 f"'{hash_name}'.")
    return dsa_certificate
