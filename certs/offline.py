"""Offline certificate checks ``+vc`` (verify against the CA settings) and ``+rc`` (root CA).

Python's ssl has no call to verify a certificate outside a handshake, and
cryptography's verifier knows no CRLs, so these run OpenSSL's own X509_verify_cert
through ctypes, with the trust store built the way DCMTK builds it (spec section 7).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

from certs.options import TLSOptions

TYPE_CHECKING = False  # typing itself costs 6 ms of import
if TYPE_CHECKING:
    from certs.context import Log

_FILE_LOAD, _ADD_DIR = 1, 2  # X509_L_FILE_LOAD, X509_L_ADD_DIR
_FILETYPE = {"pem": 1, "der": 2}  # X509_FILETYPE_PEM, X509_FILETYPE_ASN1
_CRL_CHECK, _CRL_CHECK_ALL = 0x4, 0x8
_LAST_KNOWN_X509_ERROR = 94  # DCMTLS_EC_X509Verify_Max
_UNSPECIFIED = 1

_P = ctypes.c_void_p
_SIGNATURES = {
    "BIO_new_file": (_P, [ctypes.c_char_p, ctypes.c_char_p]),
    "BIO_free": (ctypes.c_int, [_P]),
    "PEM_read_bio_X509": (_P, [_P, _P, _P, _P]),
    "d2i_X509_bio": (_P, [_P, _P]),
    "X509_free": (None, [_P]),
    "X509_STORE_new": (_P, []),
    "X509_STORE_free": (None, [_P]),
    "X509_STORE_add_cert": (ctypes.c_int, [_P, _P]),
    "X509_STORE_set_flags": (ctypes.c_int, [_P, ctypes.c_ulong]),
    "X509_STORE_add_lookup": (_P, [_P, _P]),
    "X509_LOOKUP_file": (_P, []),
    "X509_LOOKUP_hash_dir": (_P, []),
    "X509_LOOKUP_ctrl": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_char_p, ctypes.c_long, _P]),
    "X509_STORE_CTX_new": (_P, []),
    "X509_STORE_CTX_free": (None, [_P]),
    "X509_STORE_CTX_init": (ctypes.c_int, [_P, _P, _P, _P]),
    "X509_STORE_CTX_get_error": (ctypes.c_int, [_P]),
    "X509_verify_cert": (ctypes.c_int, [_P]),
    "X509_verify_cert_error_string": (ctypes.c_char_p, [ctypes.c_long]),
    "OPENSSL_sk_new_null": (_P, []),
    "OPENSSL_sk_push": (ctypes.c_int, [_P, _P]),
    "OPENSSL_sk_free": (None, [_P]),
    "ERR_clear_error": (None, []),
}

_library: ctypes.CDLL | None = None


def _crypto() -> ctypes.CDLL:
    """libcrypto as linked by Python's _ssl, with the prototypes this module uses."""
    global _library
    if _library is None:
        import _ssl

        library = ctypes.CDLL(_ssl.__file__)  # symbols resolve through _ssl's dependencies
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(library, name)
            function.restype, function.argtypes = restype, argtypes
        _library = library
    return _library


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


def verify_cert(opts: TLSOptions | None, path: str, log: Log) -> bool:
    """``+vc``: does the certificate in ``path`` verify against the +cf/+cd/+crl settings?

    ``opts`` None (neither +tls nor +tla) fails silently, as in DCMTK. Failure reasons
    are logged as DCMTK's E: lines.
    """
    if opts is None:
        return False
    loaded = _read_certificates(path, opts.file_format)
    if loaded is None:
        log.error(f"Cannot open certificate file '{path}'")
        return False
    certificate, chain = loaded
    try:
        if not certificate:
            kind = "DER" if opts.file_format == "der" else "PEM"
            log.error(f"Not a {kind} certificate file: '{path}'")
            return False
        with _store() as store:
            _build_trust_store(store, opts)
            error = _verify(store, certificate, chain)
        if error:
            if error > _LAST_KNOWN_X509_ERROR:
                log.warn(f"Unsupported OpenSSL X.509 verification error code {error}; mapped "
                         "to DCMTLS_EC_X509VerifyUnspecified.")
                error = _UNSPECIFIED
            text = _crypto().X509_verify_cert_error_string(error).decode()
            log.error(f"certificate verification failed: {text}")
            return False
        return True
    finally:
        _free(certificate, *chain)


def is_root_cert(opts: TLSOptions | None, path: str, log: Log) -> bool:
    """``+rc``: is the certificate in ``path`` a self-signed certificate verifying against
    itself (CA:TRUE is not required, as in DCMTK)?"""
    file_format = opts.file_format if opts is not None else "pem"
    loaded = _read_certificates(path, file_format)
    certificate = loaded[0] if loaded else None
    if loaded:
        _free(*loaded[1])
    if not certificate:
        log.error(f"Cannot read certificate file '{path}'")
        return False
    try:
        with _store() as store:
            if not _crypto().X509_STORE_add_cert(store, certificate):
                return False
            return _verify(store, certificate, []) == 0
    finally:
        _free(certificate)
