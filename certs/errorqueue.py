"""OpenSSL's error queue as DCMTK leaves it during TLS set-up, for its ``E:`` lines.

A failed OpenSSL call queues several errors (e.g. system error, BIO, X509), but
DCMTK prints only the oldest queued one and leaves the rest: so after one failed
``+cf`` file, the next failure's ``E: OpenSSL error`` line shows a leftover of the
first (observed with DCMTK 3.6.7 and OpenSSL 3.0, e.g. ``10000080: no such file``).
The lists below are what OpenSSL 3.0 queues for each failure (measured).
"""

from __future__ import annotations

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


def key_bad_decrypt() -> Entries:
    """An encrypted PEM key and the wrong pass phrase."""
    return [_BAD_DECRYPT, _CIPHERFINAL, _BAD_DECRYPT, _CIPHERFINAL, _SSL_PEM_LIB]


def key_prompt_failed() -> Entries:
    """The pass phrase prompt hit end of input."""
    return [(0x1400006B, "processing error"), _SSL_PEM_LIB]


def certificate_missing(errno: int) -> Entries:
    """DCMTK 3.7.0's certificate loader (BIO_new_file) on a file that cannot be opened."""
    return [_system(errno), _BIO_NO_SUCH_FILE if errno == 2 else _BIO_SYSTEM_LIB]


def certificate_unparsable(data: bytes, der: bool) -> Entries:
    """PEM_read_bio_X509 / d2i_X509_bio finding no certificate."""
    if not der:
        return [(0x0480006C, "no start line")]
    if der_parse_failure(data) == "short":
        return [_NOT_ENOUGH_DATA]
    return [_WRONG_TAG, _NESTED]


class ErrorQueue:
    """The queue during one TLS set-up: failures push, each DCMTK E: line pops one."""

    def __init__(self) -> None:
        self.entries: Entries = []

    def fail(self, entries: Entries) -> str:
        """Queue a failure's errors; the ``OpenSSL error ...`` line DCMTK prints for it."""
        self.entries.extend(entries)
        code, text = self.entries.pop(0)
        return f"OpenSSL error {code:08x}: {text}"
