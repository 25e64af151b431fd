"""OpenSSL's error queue as DCMTK leaves it during TLS set-up, for its ``E:`` lines.

A failed OpenSSL call queues several errors (e.g. system error, BIO, X509), but
DCMTK prints only the oldest queued one and leaves the rest: so after one failed
``+cf`` file, the next failure's ``E: OpenSSL error`` line shows a leftover of the
first (observed with DCMTK 3.6.7 and OpenSSL 3.0, e.g. ``10000080: no such file``).
The lists below are what OpenSSL 3.0 queues for each failure (measured).
"""

from __future__ import annotations

from certs.errors import ErrorQueue  # noqa: F401 - its home was here

Entries = list[tuple[int, str]]

_SYSTEM_FLAG = 0x80000000
_BIO_NO_SUCH_FILE = (0x10000080, "no such file")
_BIO_SYSTEM_LIB = (0x10080002, "system lib")
_X509_SYSTEM_LIB = (0x05880002, "system lib")
_X509_ASN1_LIB = (0x0588000D, "ASN1 lib")
_SSL_SYSTEM_LIB = (0x0A080002, "system lib")
_SSL_PEM_LIB = (0x0A080009, "PEM lib")
_SSL_ASN1_LIB = (0x0A08000D, "ASN1 lib")
_WRONG_TAG = (0x068000A8, "wrong tag")
_NESTED = (0x0688010A, "nested asn1 error")
_NOT_ENOUGH_DATA = (0x0680008E, "not enough data")
_UNSUPPORTED = (0x1E08010C, "unsupported")
_BAD_DECRYPT = (0x1C800064, "bad decrypt")
_CIPHERFINAL = (0x11800074, "pkcs12 cipherfinal error")
_BAD_BASE64 = (0x04800064, "bad base64 decode")
_BAD_END_LINE = (0x04800066, "bad end line")
_NO_START_LINE = (0x0480006C, "no start line")
_PEM_ASN1_LIB = (0x0488000D, "ASN1 lib")
_X509_PEM_LIB = (0x05880009, "PEM lib")
_TOO_LONG = (0x0680009B, "too long")
_BAD_OBJECT_HEADER = (0x06800066, "bad object header")

#: PEM labels X509_load_cert_crl_file decodes as a certificate or CRL
_PEM_OBJECTS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CRL")
_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

#: ERR_lib_error_string of the libraries above, by library number (packed code >> 23)
LIBRARY_TEXT = {2: "system library", 9: "PEM routines", 11: "x509 certificate routines",
                13: "asn1 encoding routines", 32: "BIO routines"}


def _system(errno: int) -> tuple[int, str]:
    # OpenSSL 3.0 has no reason text for system errors; DCMTK then says "OpenSSL error"
    return (_SYSTEM_FLAG | errno, "OpenSSL error")


def der_parse_failure(data: bytes) -> str:
    """How OpenSSL's DER decoder fails on ``data``: "short" (not enough data) or "tag"."""
    if len(data) < 2:
        return "short"
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if len(data) < 2 + count:
            return "short"
        length = int.from_bytes(data[2:2 + count], "big")
        offset += count
    return "short" if offset + length > len(data) else "tag"


def _pem_block_failure(data: bytes) -> Entries | None:
    """The errors PEM_X509_INFO_read_bio queues for the first bad block of ``data``, before
    X509_load_cert_crl_file adds its "PEM lib" (None: every block decodes)."""
    import binascii

    lines = data.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        index += 1
        if not (line.startswith(b"-----BEGIN ") and line.endswith(b"-----")):
            continue
        label = line[11:-5]
        body = b""
        while index < len(lines) and not lines[index].startswith(b"-----END "):
            if b":" not in lines[index]:  # header lines such as Proc-Type are skipped
                body += b"".join(lines[index].split())
            index += 1
        if index >= len(lines) or lines[index].rstrip() != b"-----END " + label + b"-----":
            return [_BAD_END_LINE]
        index += 1
        stripped = body.rstrip(b"=")
        if not set(body) <= _BASE64 or b"=" in stripped or len(body) - len(stripped) > 2:
            return [_BAD_BASE64]
        if label not in _PEM_OBJECTS:
            continue
        try:
            decoded = binascii.a2b_base64(body)
        except binascii.Error:
            return [_BAD_BASE64]
        # d2i on a memory buffer: a length beyond the data is "too long", not "not enough data"
        if der_parse_failure(decoded) == "short":
            return [_TOO_LONG, _BAD_OBJECT_HEADER, _NESTED, _PEM_ASN1_LIB]
        if decoded[:1] != b"\x30":
            return [_WRONG_TAG, _NESTED, _PEM_ASN1_LIB]
    return None


def pem_damaged(data: bytes) -> bool:
    """True if OpenSSL's PEM reader fails on a block of ``data``."""
    return _pem_block_failure(data) is not None


def trusted_pem_unreadable(data: bytes) -> Entries:
    """X509_load_cert_crl_file on a PEM file whose PEM or DER content is damaged (Python
    only reports the final "PEM lib"): bad base64, a missing end line, DER that does not
    decode (measured with DCMTK 3.6.7 and OpenSSL 3.0)."""
    return (_pem_block_failure(data) or []) + [_X509_PEM_LIB]


def directory_lookup_failure(data: bytes, der: bool) -> tuple[int, str]:
    """The first error OpenSSL's hashed-directory lookup queues when a ``<hash>.<n>`` file
    does not load in the selected format (X509_load_cert_file)."""
    if der:
        return certificate_unparsable(data, True)[0]
    if b"-----BEGIN " not in data:
        return _NO_START_LINE
    return (_pem_block_failure(data) or [_NO_START_LINE])[0]


def trusted_file_missing(errno: int, der: bool) -> Entries:
    """X509_LOOKUP_load_file (+cf/+crl) on a file that cannot be opened."""
    opened = _BIO_NO_SUCH_FILE if errno == 2 and not der else _BIO_SYSTEM_LIB
    return [_system(errno), opened, _X509_SYSTEM_LIB]


def trusted_file_unparsable(data: bytes | None) -> Entries:
    """X509_LOOKUP_load_file without certificates: PEM (``data`` None) or DER."""
    if data is None:
        return [(0x05800088, "no certificate or crl found")]
    if der_parse_failure(data) == "short":
        return [_NOT_ENOUGH_DATA, _X509_ASN1_LIB]
    return [_WRONG_TAG, _NESTED, _X509_ASN1_LIB]


def key_missing(errno: int) -> Entries:
    """SSL_CTX_use_PrivateKey_file on a file that cannot be opened."""
    return [_system(errno), _BIO_SYSTEM_LIB, _SSL_SYSTEM_LIB]


def key_unsupported(data: bytes, der: bool) -> Entries:
    """SSL_CTX_use_PrivateKey_file on something that is no (readable) key."""
    if not der:
        return [_UNSUPPORTED, _SSL_PEM_LIB]
    if der_parse_failure(data) == "short":
        return [_NOT_ENOUGH_DATA, _SSL_ASN1_LIB]
    return [_UNSUPPORTED] * 3 + [_WRONG_TAG, _NESTED] * 3 + [_SSL_ASN1_LIB]


def key_unreadable(errno: int) -> Entries:
    """SSL_CTX_use_PrivateKey_file (DER) on a file that opens but cannot be read, such as a
    directory (EISDIR). The failure is fatal, so only this first entry is ever printed."""
    return [_system(errno)]


def key_bad_decrypt() -> Entries:
    """An encrypted PEM key and the wrong pass phrase."""
    return [_BAD_DECRYPT, _CIPHERFINAL, _BAD_DECRYPT, _CIPHERFINAL, _SSL_PEM_LIB]


def key_prompt_failed() -> Entries:
    """The pass phrase prompt hit end of input."""
    return [(0x1400006B, "processing error"), _SSL_PEM_LIB]


def certificate_missing(errno: int) -> Entries:
    """DCMTK 3.7.0's certificate loader (BIO_new_file) on a file that cannot be opened."""
    return [_system(errno), _BIO_NO_SUCH_FILE if errno == 2 else _BIO_SYSTEM_LIB]


def certificate_unreadable(errno: int) -> Entries:
    """d2i_X509_bio on a file that opens but cannot be read (a directory: EISDIR); fatal,
    so only this first entry is ever printed."""
    return [_system(errno)]


def certificate_unparsable(data: bytes, der: bool) -> Entries:
    """PEM_read_bio_X509 / d2i_X509_bio finding no certificate."""
    if not der:
        return [_NO_START_LINE]
    if der_parse_failure(data) == "short":
        return [_NOT_ENOUGH_DATA]
    return [_WRONG_TAG, _NESTED]
