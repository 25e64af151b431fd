"""Offline certificate checks ``+vc`` (verify against the CA settings) and ``+rc`` (root CA).

Python's ssl has no call to verify a certificate outside a handshake, and
cryptography's verifier knows no CRLs, so these run OpenSSL's own X509_verify_cert
through ctypes, with the trust store built the way DCMTK builds it
(docs/dcmtk-behaviour.md section 7).
ctypes and those symbols are feature-tested at run time (issue #12, docs/design.md D8);
where they are missing, ``certs.offline_fallback`` does the checks with the
``cryptography`` package and reports the same X509_V_ERR numbers and texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from certs.options import TLSOptions

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    import ctypes

    from certs.errors import Log

_FILE_LOAD, _ADD_DIR = 1, 2  # X509_L_FILE_LOAD, X509_L_ADD_DIR
_FILETYPE = {"pem": 1, "der": 2}  # X509_FILETYPE_PEM, X509_FILETYPE_ASN1
_CRL_CHECK, _CRL_CHECK_ALL = 0x4, 0x8
_LAST_KNOWN_X509_ERROR = 94  # DCMTLS_EC_X509Verify_Max
_UNSPECIFIED = 1


def _signatures(ctypes) -> dict:
    """The prototypes of the libcrypto functions this module calls."""
    pointer = ctypes.c_void_p
    return {
        "BIO_new_file": (pointer, [ctypes.c_char_p, ctypes.c_char_p]),
        "BIO_free": (ctypes.c_int, [pointer]),
        "PEM_read_bio_X509": (pointer, [pointer, pointer, pointer, pointer]),
        "d2i_X509_bio": (pointer, [pointer, pointer]),
        "X509_free": (None, [pointer]),
        "X509_STORE_new": (pointer, []),
        "X509_STORE_free": (None, [pointer]),
        "X509_STORE_add_cert": (ctypes.c_int, [pointer, pointer]),
        "X509_STORE_set_flags": (ctypes.c_int, [pointer, ctypes.c_ulong]),
        "X509_STORE_add_lookup": (pointer, [pointer, pointer]),
        "X509_LOOKUP_file": (pointer, []),
        "X509_LOOKUP_hash_dir": (pointer, []),
        "X509_LOOKUP_ctrl": (ctypes.c_int, [pointer, ctypes.c_int, ctypes.c_char_p,
                                            ctypes.c_long, pointer]),
        "X509_STORE_CTX_new": (pointer, []),
        "X509_STORE_CTX_free": (None, [pointer]),
        "X509_STORE_CTX_init": (ctypes.c_int, [pointer, pointer, pointer, pointer]),
        "X509_STORE_CTX_get_error": (ctypes.c_int, [pointer]),
        "X509_verify_cert": (ctypes.c_int, [pointer]),
        "X509_verify_cert_error_string": (ctypes.c_char_p, [ctypes.c_long]),
        "OPENSSL_sk_new_null": (pointer, []),
        "OPENSSL_sk_push": (ctypes.c_int, [pointer, pointer]),
        "OPENSSL_sk_free": (None, [pointer]),
        "ERR_clear_error": (None, []),
    }


_library: ctypes.CDLL | None | bool = False  # False: not feature-tested yet


def _crypto_or_none() -> ctypes.CDLL | None:
    """libcrypto as linked by Python's _ssl, with the prototypes this module uses; None
    where ctypes, the library or one of the symbols is missing (then the fallback runs)."""
    global _library
    if _library is False:
        try:
            import _ssl
            import ctypes

            library = ctypes.CDLL(_ssl.__file__)  # symbols resolve through _ssl's deps
            for name, (restype, argtypes) in _signatures(ctypes).items():
                function = getattr(library, name)
                function.restype, function.argtypes = restype, argtypes
        except (ImportError, OSError, AttributeError):
            library = None
        _library = library
    return _library


def _crypto() -> ctypes.CDLL:
    library = _crypto_or_none()
    assert library is not None, "the ctypes route was used without its feature test"
    return library


def _path(path: str) -> bytes:
    import os

    return os.fsencode(path)


@contextmanager
def _store() -> Iterator[int]:
    crypto = _crypto()
    store = crypto.X509_STORE_new()
    try:
        yield store
    finally:
        crypto.X509_STORE_free(store)


def _build_trust_store(store: int, opts: TLSOptions) -> None:
    """The store of DCMTK's TLS layer: +cf, +cd, +crl and the CRL mode (messages about
    unreadable files were already printed when the TLS context was made)."""
    crypto = _crypto()
    filetype = _FILETYPE[opts.file_format]
    for path in opts.ca_files:
        lookup = crypto.X509_STORE_add_lookup(store, crypto.X509_LOOKUP_file())
        crypto.X509_LOOKUP_ctrl(lookup, _FILE_LOAD, _path(path), filetype, None)
    for path in opts.ca_dirs:
        lookup = crypto.X509_STORE_add_lookup(store, crypto.X509_LOOKUP_hash_dir())
        crypto.X509_LOOKUP_ctrl(lookup, _ADD_DIR, _path(path), filetype, None)
    crl_loaded = False
    for path in opts.crl_files:
        lookup = crypto.X509_STORE_add_lookup(store, crypto.X509_LOOKUP_file())
        if crypto.X509_LOOKUP_ctrl(lookup, _FILE_LOAD, _path(path), filetype, None) > 0:
            crl_loaded = True
    mode = opts.crl_mode or ("leaf" if crl_loaded else None)
    if mode:
        crypto.X509_STORE_set_flags(store, _CRL_CHECK | (_CRL_CHECK_ALL if mode == "all" else 0))
    crypto.ERR_clear_error()


def _read_certificates(path: str, file_format: str) -> tuple[int | None, list[int]] | None:
    """First certificate and (PEM only) the chain after it; None if the file cannot open."""
    crypto = _crypto()
    bio = crypto.BIO_new_file(_path(path), b"rb")
    if not bio:
        return None
    try:
        if file_format == "der":
            return crypto.d2i_X509_bio(bio, None), []
        first = crypto.PEM_read_bio_X509(bio, None, None, None)
        chain = []
        while True:
            more = crypto.PEM_read_bio_X509(bio, None, None, None)
            if not more:
                return first, chain
            chain.append(more)
    finally:
        crypto.BIO_free(bio)


def _verify(store: int, certificate: int, chain: list[int]) -> int:
    """X509_verify_cert's error code (0 = verified)."""
    crypto = _crypto()
    stack = crypto.OPENSSL_sk_new_null()
    context = crypto.X509_STORE_CTX_new()
    try:
        for item in chain:
            crypto.OPENSSL_sk_push(stack, item)
        if not crypto.X509_STORE_CTX_init(context, store, certificate, stack):
            return _UNSPECIFIED
        if crypto.X509_verify_cert(context) == 1:
            return 0
        return crypto.X509_STORE_CTX_get_error(context) or _UNSPECIFIED
    finally:
        crypto.X509_STORE_CTX_free(context)
        crypto.OPENSSL_sk_free(stack)
        crypto.ERR_clear_error()


def _free(*certificates: int | None) -> None:
    crypto = _crypto()
    for certificate in certificates:
        if certificate:
            crypto.X509_free(certificate)


def _verify_with_openssl(opts: TLSOptions, path: str) -> int | str:
    """+vc through X509_verify_cert: the error number, or "open"/"format" for the file."""
    loaded = _read_certificates(path, opts.file_format)
    if loaded is None:
        return "open"
    certificate, chain = loaded
    try:
        if not certificate:
            return "format"
        with _store() as store:
            _build_trust_store(store, opts)
            return _verify(store, certificate, chain)
    finally:
        _free(certificate, *chain)


def _verify_with_fallback(opts: TLSOptions, path: str) -> int | str:
    from certs import offline_fallback

    loaded = offline_fallback.read_certificates(path, opts.file_format)
    if loaded is None:
        return "open"
    certificate, chain = loaded
    if certificate is None:
        return "format"
    return offline_fallback.verify_file(opts, certificate, chain)


def _error_text(error: int) -> str:
    library = _crypto_or_none()
    if library is not None:
        return library.X509_verify_cert_error_string(error).decode()
    from certs import offline_fallback

    return offline_fallback.error_text(error)


def verify_cert(opts: TLSOptions | None, path: str, log: Log) -> bool:
    """``+vc``: does the certificate in ``path`` verify against the +cf/+cd/+crl settings?

    ``opts`` None (neither +tls nor +tla) fails silently, as in DCMTK. Failure reasons
    are logged as DCMTK's E: lines.
    """
    if opts is None:
        return False
    if _crypto_or_none() is not None:
        error = _verify_with_openssl(opts, path)
    else:
        error = _verify_with_fallback(opts, path)
    if error == "open":
        log.error(f"Cannot open certificate file '{path}'")
        return False
    if error == "format":
        kind = "DER" if opts.file_format == "der" else "PEM"
        log.error(f"Not a {kind} certificate file: '{path}'")
        return False
    if error:
        if error > _LAST_KNOWN_X509_ERROR:
            log.warn(f"Unsupported OpenSSL X.509 verification error code {error}; mapped "
                     "to DCMTLS_EC_X509VerifyUnspecified.")
            error = _UNSPECIFIED
        log.error(f"certificate verification failed: {_error_text(error)}")
        return False
    return True


def _is_root_with_openssl(path: str, file_format: str) -> bool | None:
    """+rc through X509_verify_cert; None if the file holds no readable certificate."""
    loaded = _read_certificates(path, file_format)
    certificate = loaded[0] if loaded else None
    if loaded:
        _free(*loaded[1])
    if not certificate:
        return None
    try:
        with _store() as store:
            if not _crypto().X509_STORE_add_cert(store, certificate):
                return False
            return _verify(store, certificate, []) == 0
    finally:
        _free(certificate)


def _is_root_with_fallback(path: str, file_format: str) -> bool | None:
    from certs import offline_fallback

    loaded = offline_fallback.read_certificates(path, file_format)
    if not loaded or loaded[0] is None:
        return None
    return offline_fallback.verify_self(loaded[0]) == 0


def is_root_cert(opts: TLSOptions | None, path: str, log: Log) -> bool:
    """``+rc``: is the certificate in ``path`` a self-signed certificate verifying against
    itself (CA:TRUE is not required, as in DCMTK)?"""
    file_format = opts.file_format if opts is not None else "pem"
    if _crypto_or_none() is not None:
        result = _is_root_with_openssl(path, file_format)
    else:
        result = _is_root_with_fallback(path, file_format)
    if result is None:
        log.error(f"Cannot read certificate file '{path}'")
        return False
    return result
