"""The SSLContext factory: DCMTK 3.7.0's TLS set-up (dcmtls) for a TLSOptions.

Steps and messages follow DCMTK's order (spec 6.1-6.9): trusted certificates,
directories, CRLs, private key, certificate and its checks, key/certificate match,
profile, ``+cs``, protocol versions, ALPN, SNI, DH parameters, peer verification.
Failures raise TLSSetupError with DCMTK's lines; warnings go to ``log`` at once.
PEM material loads straight through ``ssl``; ``cryptography`` is imported only for
DER material and to explain a failed load in DCMTK's words.
"""

from __future__ import annotations

import os
import ssl
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from certs import der, profiles
from certs.errors import TLSSetupError
from certs.openssl_errors import openssl_error_line
from certs.options import TLSOptions

__all__ = ["TLSSetupError", "client_context", "server_context", "sni_hostname", "write_seed"]

PASS_PHRASE_PROMPT = "Enter PEM pass phrase:"

# RFC 7919 ffdhe2048, DCMTK's built-in DHE group (text as OpenSSL writes it)
_FFDHE2048 = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

_VERSIONS = {"TLSv1": "TLSv1", "TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3"}
_UNSUPPORTED = "OpenSSL error 1e08010c: unsupported"
_BAD_DECRYPT = "OpenSSL error 1c800064: bad decrypt"
_PROCESSING_ERROR = "OpenSSL error 1400006b: processing error"
_NO_START_LINE = "OpenSSL error 0480006c: no start line"
_WRONG_TAG = "OpenSSL error 068000a8: wrong tag"


TYPE_CHECKING = False  # typing itself costs 6 ms of import
if TYPE_CHECKING:  # the interface matters to type checkers only
    from typing import Protocol

    class Log(Protocol):
        """The logger the TLS layer writes to (DCMTK's dcmtk.dcmtls logger)."""

        def fatal(self, msg: str) -> None: ...
        def error(self, msg: str) -> None: ...
        def warn(self, msg: str) -> None: ...
        def info(self, msg: str) -> None: ...
        def debug(self, msg: str) -> None: ...


def client_context(opts: TLSOptions, log: Log) -> ssl.SSLContext:
    """A requestor (TLS client) context as DCMTK's echoscu would set it up."""
    return _build(opts, log, server=False)


def server_context(opts: TLSOptions, log: Log) -> ssl.SSLContext:
    """An acceptor (TLS server) context as DCMTK's storescp would set it up."""
    return _build(opts, log, server=True)


def sni_hostname(opts: TLSOptions, log: Log) -> str | None:
    """The ``server_hostname`` to pass to ``wrap_socket`` (None = send no SNI).

    A name OpenSSL or Python would refuse gives DCMTK's warning and no SNI.
    """
    name = opts.sni
    if name is None:
        return None
    try:
        usable = 0 < len(name.encode("idna")) <= 255 and not name.startswith(".")
    except UnicodeError:
        usable = False
    if not usable:
        log.warn("Unable to set the server name for the TLS SNI extension, ignoring.")
        return None
    return name


def write_seed(opts: TLSOptions) -> bool:
    """Write 1024 fresh random bytes (mode 0600) to the ``+ws``/``+wf`` seed file, if any.

    Returns False on failure; DCMTK reports nothing in that case (spec 6.9).
    """
    target = opts.write_seed_file or (opts.seed_file if opts.write_seed else None)
    if target is None:
        return True
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(ssl.RAND_bytes(1024))
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------


def _build(opts: TLSOptions, log: Log, server: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    # security level 0 from the start, as in DCMTK, so that small keys and weak CA
    # signatures load (and get DCMTK's warnings); the profile's list replaces this later
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if not server:
        context.check_hostname = False  # DCMTK verifies no host name
    if opts.seed_file:
        _seed(opts.seed_file)
    crl_loaded = _load_trust_store(context, opts, log)
    crl_mode = opts.crl_mode or ("leaf" if crl_loaded else None)
    if crl_mode == "leaf":
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    elif crl_mode == "all":
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    profile = profiles.profile(opts.profile)
    dsa_certificate = False
    if opts.mode == "enabled":
        dsa_certificate = _load_identity(context, opts, log, profile, server)
    if profile not in profiles.available_profiles():
        raise TLSSetupError(
            [("F", "000b:0018 DICOM TLS Secure Transport Connection Profile not supported")])
    names = profiles.cipher_list(profile, opts.ciphers, log.warn, server)
    context.set_ciphers(":".join(names) + ":@SECLEVEL=0")
    tls13 = profiles.tls13_suites(profile, server)
    if tls13:
        _set_tls13_suites(context, tls13)
    highest = profile.max_version if profile.tls13 and not dsa_certificate else "TLSv1.2"
    with warnings.catch_warnings():  # TLS 1.0 is deprecated in Python; DCMTK offers it
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = getattr(ssl.TLSVersion, _VERSIONS[profile.min_version])
    context.maximum_version = getattr(ssl.TLSVersion, _VERSIONS[highest])
    context.set_alpn_protocols(["dicom"])
    if server:
        if opts.expect_sni:
            context.sni_callback = _sni_checker(opts.expect_sni, log)
        _load_dh_parameters(context, opts, profile, log)
    context.verify_mode = {"require": ssl.CERT_REQUIRED, "verify": ssl.CERT_OPTIONAL,
                           "ignore": ssl.CERT_NONE}[opts.peer_cert]
    return context


def _seed(path: str) -> None:
    """Mix a seed file into OpenSSL's PRNG (a missing file is silently ignored)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20)
    except OSError:
        return
    if data:
        ssl.RAND_add(data, len(data))


# --- trust store -------------------------------------------------------------


def _add_trusted_file(context: ssl.SSLContext, path: str, der_format: bool) -> None:
    """Load certificates (and, for PEM, CRLs) from one file, as X509_LOOKUP_load_file."""
    if not der_format:
        context.load_verify_locations(cafile=path)
        return
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        certificate = der.Certificate(data)
    except der.DerError:
        raise _OpenSSLFailure(_WRONG_TAG) from None
    context.load_verify_locations(cadata=certificate.der)


class _OpenSSLFailure(Exception):
    """A load failure whose DCMTK ``E: OpenSSL error`` line is known directly."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, _OpenSSLFailure):
        return exc.line
    if isinstance(exc, IsADirectoryError):
        return _UNSUPPORTED
    return openssl_error_line(exc)


def _load_trust_store(context: ssl.SSLContext, opts: TLSOptions, log: Log) -> bool:
    """+cf files, +cd directories, +crl files; True if at least one CRL file loaded."""
    der_format = opts.file_format == "der"
    for path in opts.ca_files:
        try:
            _add_trusted_file(context, path, der_format)
        except (OSError, ssl.SSLError, _OpenSSLFailure) as exc:
            log.error(_error_line(exc))
            log.warn(f"unable to load certificate file '{path}', ignoring")
    for path in opts.ca_dirs:
        try:
            if der_format:
                _add_der_directory(context, path)
            else:
                context.load_verify_locations(capath=path)
        except (OSError, ssl.SSLError) as exc:
            log.error(_error_line(exc))
            log.warn(f"unable to load certificates from directory '{path}', ignoring")
    crl_loaded = False
    for path in opts.crl_files:
        try:
            _add_trusted_file(context, path, der_format)
            crl_loaded = True
        except (OSError, ssl.SSLError, _OpenSSLFailure) as exc:
            log.error(_error_line(exc))
            log.warn(f"unable to load CRL file '{path}', ignoring")
    return crl_loaded


def _add_der_directory(context: ssl.SSLContext, path: str) -> None:
    """A hashed directory of DER certificates (``<8 hex>.<n>``), loaded up front.

    Python's ``capath`` only reads PEM; OpenSSL would look DER files up lazily.
    A missing directory is no error (OpenSSL does not check either).
    """
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return
    for name in names:
        stem, _, number = name.partition(".")
        if len(stem) != 8 or not number.isdigit():
            continue
        try:
            int(stem, 16)
            _add_trusted_file(context, os.path.join(path, name), True)
        except (ValueError, OSError, ssl.SSLError, _OpenSSLFailure):
            continue


# --- private key and certificate ---------------------------------------------


class _PassPhrase:
    """The private key password of +ps/+pw/-pw; the +ps prompt is shown at most once."""

    def __init__(self, opts: TLSOptions) -> None:
        self.opts = opts
        self.value: str | None = {"prompt": None, "null": ""}.get(
            opts.password_mode, opts.password or "")

    def __call__(self) -> str:
        if self.value is None:
            self.value = _prompt_pass_phrase()
            if self.value is None:
                raise TLSSetupError([("E", _PROCESSING_ERROR), _key_failure(self.opts)])
        return self.value


def _read_line_from_terminal() -> bytes | None:
    """Prompt on the controlling terminal with echo off; None if there is no terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
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


def _load_identity(context: ssl.SSLContext, opts: TLSOptions, log: Log,
                   profile: profiles.Profile, server: bool) -> bool:
    """Key, certificate (checks) and match; True if the certificate is a DSA certificate."""
    pass_phrase = _PassPhrase(opts)
    if opts.file_format == "pem":
        try:
            context.load_cert_chain(opts.cert_file, opts.key_file, password=pass_phrase)
        except (OSError, ssl.SSLError):
            pass  # explained, in DCMTK's order and words, by the careful path below
        else:
            with open(opts.cert_file, "rb") as handle:
                first = der.load_pem_certificates(handle.read())[:1]
            return _check_own_certificate(first, opts, profile, server, log)
    return _load_identity_carefully(context, opts, log, profile, server, pass_phrase)


def _read(path: str, failure: tuple[str, str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IsADirectoryError:
        return b""
    except OSError as exc:
        raise TLSSetupError([("E", openssl_error_line(exc)), failure]) from None


def _pem_is_encrypted(data: bytes) -> bool:
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def _read_private_key(opts: TLSOptions, pass_phrase: _PassPhrase) -> object:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    failure = _key_failure(opts)
    data = _read(opts.key_file, failure)
    unsupported = TLSSetupError([("E", _UNSUPPORTED), failure])
    if opts.file_format == "der":
        try:
            return serialization.load_der_private_key(data, None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise unsupported from None
    encrypted = _pem_is_encrypted(data)
    secret = pass_phrase().encode("utf-8", errors="surrogateescape") if encrypted else None
    try:
        return serialization.load_pem_private_key(data, secret or None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise TLSSetupError([("E", _BAD_DECRYPT), failure]) from exc
        raise unsupported from exc
    except UnsupportedAlgorithm:
        raise unsupported from None


def _read_certificates(opts: TLSOptions) -> list[bytes]:
    """The certificate file as DER certificates (PEM: the whole chain; DER: one)."""
    failure = _certificate_failure(opts)
    data = _read(opts.cert_file, failure)
    if opts.file_format == "der":
        try:
            return [der.Certificate(data).der]
        except der.DerError:
            raise TLSSetupError([("E", _WRONG_TAG), failure]) from None
    chain = der.load_pem_certificates(data)
    if not chain:
        raise TLSSetupError([("E", _NO_START_LINE), failure])
    return chain


def _load_identity_carefully(context: ssl.SSLContext, opts: TLSOptions, log: Log,
                             profile: profiles.Profile, server: bool,
                             pass_phrase: _PassPhrase) -> bool:
    """Load key and certificate step by step, failing with DCMTK's message for each step."""
    from cryptography import x509

    key = _read_private_key(opts, pass_phrase)
    chain = _read_certificates(opts)
    dsa_certificate = _check_own_certificate(chain[:1], opts, profile, server, log)
    try:
        matches = x509.load_der_x509_certificate(chain[0]).public_key() == key.public_key()
    except ValueError:
        raise TLSSetupError([("E", _WRONG_TAG), _certificate_failure(opts)]) from None
    if not matches:
        raise TLSSetupError([("F", f"000b:0006 Private key '{opts.key_file}' and certificate "
                                   f"'{opts.cert_file}' do not match")])
    _load_into_context(context, key, chain)
    return dsa_certificate


def _load_into_context(context: ssl.SSLContext, key: object, chain: list[bytes]) -> None:
    """Hand key and chain to OpenSSL through memory files; the key stays encrypted there."""
    import secrets

    from cryptography.hazmat.primitives import serialization

    one_time = secrets.token_hex(32)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode()))
    chain_pem = "".join(ssl.DER_cert_to_PEM_cert(cert) for cert in chain).encode()
    with _memory_file(chain_pem) as chain_path, _memory_file(key_pem) as key_path:
        context.load_cert_chain(chain_path, key_path, password=one_time)


@contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path to ``data`` that lives only in memory (Linux memfd), closed afterwards."""
    fd = os.memfd_create("echoscu-tls", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _check_own_certificate(first: list[bytes], opts: TLSOptions, profile: profiles.Profile,
                           server: bool, log: Log) -> bool:
    """DCMTK 3.7.0's checks of the own certificate (spec 6.6); True for a DSA certificate."""
    try:
        certificate = der.Certificate(first[0]) if first else None
    except der.DerError:
        certificate = None
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


# --- ciphersuites, SNI, DH -----------------------------------------------------


def _set_tls13_suites(context: ssl.SSLContext, names: list[str]) -> None:
    """Set an explicit TLS 1.3 suite list, which Python's ssl has no call for.

    SSL_CTX_set_ciphersuites is called through ctypes on the context's SSL_CTX (the
    first field after the object header of CPython's _ssl context); the pointer is
    checked against SSL_CTX_get_options first and the result via get_ciphers().
    """
    import _ssl
    import ctypes

    library = ctypes.CDLL(_ssl.__file__)  # resolves libssl through _ssl's dependencies
    get_options = library.SSL_CTX_get_options
    get_options.argtypes, get_options.restype = [ctypes.c_void_p], ctypes.c_uint64
    set_suites = library.SSL_CTX_set_ciphersuites
    set_suites.argtypes, set_suites.restype = [ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    failed = TLSSetupError([("F", "000b:0002 Unable to set selected cipher suites")])
    if not pointer or get_options(pointer) != context.options:
        raise failed
    if set_suites(pointer, ":".join(names).encode()) != 1:
        raise failed
    active = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if active != names:
        raise failed


def _sni_checker(expected: str, log: Log) -> Callable[[ssl.SSLObject, str | None,
                                                        ssl.SSLContext], int | None]:
    """The acceptor's SNI check of --expect-sni: a different requested name is fatal."""

    def check(_connection: ssl.SSLObject, name: str | None,
              _context: ssl.SSLContext) -> int | None:
        if name is not None and name != expected:
            log.error(f"SNI failure: client requested server '{name}', my name is "
                      f"'{expected}'.")
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    return check


def _dh_bits(pem: bytes) -> int | None:
    """Bit length of the prime of a PEM (X9.42) DH parameter block (None if there is none)."""
    import binascii

    for label in (b"DH PARAMETERS", b"X9.42 DH PARAMETERS"):
        begin, end = b"-----BEGIN " + label + b"-----", b"-----END " + label + b"-----"
        start, stop = pem.find(begin), pem.find(end)
        if 0 <= start < stop:
            break
    else:
        return None
    try:
        data = binascii.a2b_base64(pem[start + len(begin):stop])
        _, cstart, cend = der.read_tlv(data, 0)
        prime = der.children(data, cstart, cend)[0]
    except (binascii.Error, der.DerError, IndexError):
        return None
    return int.from_bytes(data[prime[1]:prime[2]], "big").bit_length()


def _load_dh_parameters(context: ssl.SSLContext, opts: TLSOptions,
                        profile: profiles.Profile, log: Log) -> None:
    """+dp file if given and acceptable, else DCMTK's built-in ffdhe2048 group."""
    path = opts.dhparam_file
    if path:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            data = b""
        bits = _dh_bits(data)
        usable = bits is not None
        if usable and bits < 2048:
            log.warn("Key length of Diffie-Hellman parameter file too short: RFC 9325 "
                     f"recommends at least 2048 bits, but the key in file '{path}' is only "
                     f"{bits} bits.")
            usable = profile.key != "bcp195-ex"
        if usable:
            try:
                context.load_dh_params(path)
                return
            except (OSError, ssl.SSLError):
                pass
        log.warn(f"unable to load temporary DH parameter file '{path}', ignoring")
    with _memory_file(_FFDHE2048) as builtin:
        context.load_dh_params(builtin)
