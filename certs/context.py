"""The SSLContext factory: DCMTK 3.7.0's TLS set-up (dcmtls) for a TLSOptions.

Steps and messages follow DCMTK's order (docs/dcmtk-behaviour.md 6.1-6.9): trusted certificates,
directories, CRLs, private key, certificate and its checks, key/certificate match,
profile, ``+cs``, protocol versions, ALPN, SNI, DH parameters, peer verification.
Failures raise TLSSetupError with DCMTK's lines; warnings go to ``log`` at once.
The own key and certificate are loaded by ``certs.identity``.
"""

from __future__ import annotations

import os
import ssl
import warnings
from collections.abc import Callable

from certs import der, profiles
from certs.errors import ErrorQueue, TLSSetupError
from certs.identity import load_identity
from certs.options import TLSOptions

__all__ = ["TLSSetupError", "client_context", "server_context", "sni_hostname", "write_seed"]

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


TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:  # the interface matters to type checkers only
    from certs import errorqueue
    from certs.errors import Log


def client_context(opts: TLSOptions, log: Log,
                   bare: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """A requestor (TLS client) context as DCMTK's echoscu would set it up.

    ``bare``: a new ``SSLContext(PROTOCOL_TLS_CLIENT)`` to set up, made beforehand (on
    echoscu's head start thread, while the command line was parsed); None makes one.
    """
    return _build(opts, log, server=False, context=bare)


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

    Returns False on failure; DCMTK reports nothing in that case (docs/dcmtk-behaviour.md 6.9).
    """
    target = opts.write_seed_file or (opts.seed_file if opts.write_seed else None)
    if target is None:
        return True
    from certs.files import write_file

    try:
        write_file(target, ssl.RAND_bytes(1024), private=True)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------


def _build(opts: TLSOptions, log: Log, server: bool,
           context: ssl.SSLContext | None = None) -> ssl.SSLContext:
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    profile = profiles.profile(opts.profile)
    # which suites this OpenSSL knows, asked of this context (no second one)
    supported = profiles.probe_suites(context, profiles.suites_to_probe(profile, opts.ciphers))
    # security level 0 from the start, as in DCMTK, so that small keys and weak CA
    # signatures load (and get DCMTK's warnings); the profile's list replaces this later
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if not server:
        context.check_hostname = False  # DCMTK verifies no host name
    if opts.seed_file:
        _seed(opts.seed_file)
    errors = ErrorQueue()
    crl_loaded = _load_trust_store(context, opts, log, errors)
    crl_mode = opts.crl_mode or ("leaf" if crl_loaded else None)
    if crl_mode == "leaf":
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    elif crl_mode == "all":
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    dsa_certificate, own_chain = False, None
    if opts.mode == "enabled":
        dsa_certificate, own_chain = load_identity(context, opts, log, profile, server, errors)
    if not profiles.profile_available(profile, supported):
        raise TLSSetupError(
            [("F", "000b:0018 DICOM TLS Secure Transport Connection Profile not supported")])
    names = profiles.cipher_list(profile, opts.ciphers, log.warn, server, supported)
    level = profiles.security_level(opts.profile, server, own_chain)
    context.set_ciphers(":".join(names) + f":@SECLEVEL={level}")
    tls13 = profiles.tls13_suites(profile, server)
    if tls13:
        _set_tls13_suites(context, tls13, log)
    highest = profile.max_version if profile.tls13 and not dsa_certificate else "TLSv1.2"
    with warnings.catch_warnings():  # TLS 1.0 is deprecated in Python; DCMTK offers it
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = getattr(ssl.TLSVersion, _VERSIONS[profile.min_version])
    context.maximum_version = getattr(ssl.TLSVersion, _VERSIONS[highest])
    context.set_alpn_protocols(["dicom"])
    if not server:
        _offer_dcmtk_groups(context)
    if server:
        # no TLS 1.3 session tickets: OpenSSL 3.0 re-encodes the client's certificate
        # for each of its two default tickets (18 % of a TLS echo's server CPU), and an
        # echo client does not resume sessions
        context.num_tickets = 0
        if opts.expect_sni:
            context.sni_callback = _sni_checker(opts.expect_sni, log)
        _load_dh_parameters(context, opts, profile, log)
    context.verify_mode = {"require": ssl.CERT_REQUIRED, "verify": ssl.CERT_OPTIONAL,
                           "ignore": ssl.CERT_NONE}[opts.peer_cert]
    return context


def _offer_dcmtk_groups(context: ssl.SSLContext) -> None:
    """Offer P-256 as the one key-exchange group, with a P-256 key share.

    DCMTK's requestor offers P-256, secp256k1, P-384, P-521, ... (SSL_CTX_set1_curves),
    so OpenSSL sends a P-256 key share; OpenSSL's default (X25519 first) costs a
    HelloRetryRequest round trip against every DCMTK peer. Python's only public hook,
    ``set_ecdh_curve``, sets exactly one group (SSL_CTX_set1_groups with one NID in
    OpenSSL 3): P-256 alone is the closest public match, and every DCMTK peer takes it.
    """
    try:
        context.set_ecdh_curve("prime256v1")
    except (ValueError, ssl.SSLError):  # an OpenSSL without P-256: keep its defaults
        pass


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


class _TrustedFileFailed(Exception):
    """A +cf/+crl file did not load; ``entries`` are the OpenSSL errors it queued."""

    def __init__(self, entries: errorqueue.Entries) -> None:
        super().__init__(entries)
        self.entries = entries


def _add_trusted_file(context: ssl.SSLContext, path: str, der_format: bool) -> None:
    """Load certificates (and, for PEM, CRLs) from one file, as X509_LOOKUP_load_file."""
    try:
        if not der_format:
            context.load_verify_locations(cafile=path)
            return
        with open(path, "rb") as handle:
            data = handle.read()
    except ssl.SSLError as exc:
        from certs import errorqueue
        from certs.openssl_errors import error_numbers, reason_text

        numbers = error_numbers(exc.library, exc.reason)
        if numbers == (11, 136):  # X509 "no certificate or crl found"
            raise _TrustedFileFailed(errorqueue.trusted_file_unparsable(None)) from None
        if exc.library == "X509" and reason_text(exc) == "PEM lib":  # damaged PEM content
            raise _TrustedFileFailed(errorqueue.trusted_pem_unreadable(_contents(path))) from None
        code = (numbers[0] << 23 | numbers[1]) if numbers else 0
        raise _TrustedFileFailed([(code, reason_text(exc))]) from None
    except IsADirectoryError:
        from certs import errorqueue

        if der_format:
            raise _TrustedFileFailed(errorqueue.trusted_file_missing(21, True)) from None
        # OpenSSL's PEM reader finds nothing in a directory (no read error is queued)
        raise _TrustedFileFailed(errorqueue.trusted_file_unparsable(None)) from None
    except OSError as exc:
        from certs import errorqueue

        raise _TrustedFileFailed(
            errorqueue.trusted_file_missing(exc.errno or 5, der_format)) from None
    try:
        certificate = der.Certificate(data)
    except der.DerError:
        from certs import errorqueue

        raise _TrustedFileFailed(errorqueue.trusted_file_unparsable(data)) from None
    context.load_verify_locations(cadata=certificate.der)


def _contents(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 24)
    except OSError:
        return b""


def _load_trust_store(context: ssl.SSLContext, opts: TLSOptions, log: Log,
                      errors: ErrorQueue) -> bool:
    """+cf files, +cd directories, +crl files; True if at least one CRL file loaded."""
    der_format = opts.file_format == "der"
    for path in opts.ca_files:
        try:
            _add_trusted_file(context, path, der_format)
        except _TrustedFileFailed as failure:
            log.error(errors.fail(failure.entries))
            log.warn(f"unable to load certificate file '{path}', ignoring")
    for path in opts.ca_dirs:  # OpenSSL reads hashed directories lazily: no errors here
        if not path:  # ... but for a name it refuses outright, as DCMTK reports it
            log.error(errors.fail([_invalid_directory()]))
            log.warn(f"unable to load certificates from directory '{path}', ignoring")
        elif der_format:
            _add_der_directory(context, path)
        else:
            context.load_verify_locations(capath=path)
    context.directory_lookup_failure = _directory_lookup_failure(  # type: ignore[attr-defined]
        [path for path in opts.ca_dirs if path], der_format)
    crl_loaded = False
    for path in opts.crl_files:
        try:
            _add_trusted_file(context, path, der_format)
            crl_loaded = True
        except _TrustedFileFailed as failure:
            log.error(errors.fail(failure.entries))
            log.warn(f"unable to load CRL file '{path}', ignoring")
    return crl_loaded


def _invalid_directory() -> tuple[int, str]:
    """OpenSSL's error entry for an empty +cd directory name (X509 INVALID_DIRECTORY)."""
    from certs.openssl_errors import error_numbers

    library, reason = error_numbers("X509", "INVALID_DIRECTORY") or (0, 0)
    return (library << 23) | reason, "invalid directory"


def _hashed_names(path: str) -> list[str]:
    """The ``<8 hex>.<n>`` certificate files of a hashed directory, in lookup order."""
    try:
        names = os.listdir(path)
    except OSError:
        return []
    found = []
    for name in names:
        stem, _, number = name.partition(".")
        if len(stem) == 8 and number.isdigit() and all(c in "0123456789abcdefABCDEF"
                                                       for c in stem):
            found.append((stem.lower(), int(number), name))
    return [name for _, _, name in sorted(found)]


def _directory_lookup_failure(paths: list[str], der_format: bool) -> tuple[int, str] | None:
    """The error OpenSSL queues when its lazy lookup in a +cd directory meets a
    ``<hash>.<n>`` file it cannot load in the selected format (a DER file with ``-pem``, a
    PEM file with ``-der``, a damaged file), or None if every such file loads.

    The lookup only adds that error to the queue and goes on as if the file were absent;
    when the handshake then fails, DCMTK reports the oldest queued error (this one) as
    ``000b:0008`` instead of ``certificate verify failed``. Python cannot tell which
    issuer was looked up, so the first unloadable file whose hash no loadable file
    answers earlier stands for it.
    """
    if not paths:
        return None
    from certs import errorqueue

    answered: set[str] = set()
    for path in paths:
        for name in _hashed_names(path):
            stem = name.partition(".")[0].lower()
            if stem in answered:
                continue
            data = _contents(os.path.join(path, name))
            if _loads(data, der_format):
                answered.add(stem)
            else:
                return errorqueue.directory_lookup_failure(data, der_format)
    return None


def _loads(data: bytes, der_format: bool) -> bool:
    """True if X509_load_cert_file would load a certificate from ``data``."""
    from certs import errorqueue

    try:
        if der_format:
            der.Certificate(data)
            return True
        return bool(der.load_pem_certificates(data)) and not errorqueue.pem_damaged(data)
    except der.DerError:
        return False


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
        except (ValueError, _TrustedFileFailed):
            continue


# --- ciphersuites, SNI, DH -----------------------------------------------------


def _set_tls13_suites(context: ssl.SSLContext, names: list[str], log: Log) -> None:
    """Set an explicit TLS 1.3 suite list, which Python's ssl has no call for.

    Where it can, SSL_CTX_set_ciphersuites is called through ctypes on the context's
    SSL_CTX (the first field after the object header of CPython's _ssl context). That
    relies on interpreter internals, so it is feature-tested first (CPython, ctypes
    importable, both symbols resolvable, the pointer's SSL_CTX_get_options equal to
    ``context.options``). If any test fails the context keeps OpenSSL's default TLS 1.3
    suites and one warning line says so (README, "TLS 1.3 suites of +pm"): the profile
    then offers TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 and
    TLS_AES_128_GCM_SHA256 but not its two CCM suites.

    An SSL_CTX that refuses the list once the route works is DCMTK's fatal error.
    """
    pointer_and_setter = _tls13_setter(context)
    if pointer_and_setter is None:
        defaults = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
        log.warn("cannot set the TLS 1.3 ciphersuites of the selected profile in this "
                 f"Python: OpenSSL's defaults are used ({':'.join(defaults)})")
        return
    pointer, set_suites = pointer_and_setter
    failed = TLSSetupError([("F", "000b:0002 Unable to set selected cipher suites")])
    if set_suites(pointer, ":".join(names).encode()) != 1:
        raise failed
    active = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if active != names:
        raise failed


def _tls13_setter(context: ssl.SSLContext):
    """(SSL_CTX pointer, SSL_CTX_set_ciphersuites) when the ctypes route is usable here,
    else None. Nothing is written before every check has passed."""
    import sys

    if sys.implementation.name != "cpython":  # the object layout below is CPython's
        return None
    try:
        import _ssl
        import ctypes

        library = ctypes.CDLL(_ssl.__file__)  # resolves libssl through _ssl's dependencies
        get_options = library.SSL_CTX_get_options
        set_suites = library.SSL_CTX_set_ciphersuites
    except (ImportError, OSError, AttributeError):
        return None
    get_options.argtypes, get_options.restype = [ctypes.c_void_p], ctypes.c_uint64
    set_suites.argtypes, set_suites.restype = [ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or get_options(pointer) != context.options:
        return None
    return pointer, set_suites


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
    from certs.files import memory_file

    with memory_file(_FFDHE2048) as builtin:
        context.load_dh_params(builtin)
