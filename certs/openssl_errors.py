"""OpenSSL error codes and texts as DCMTK prints them, recovered from Python's exceptions.

Python's SSLError carries OpenSSL's library and reason *names*; our generated table
(certs/openssl_codes.py, from OpenSSL's headers) maps them back to the numbers, from
which the packed error code (``(lib << 23) | reason``) and DCMTK's
``000b:<0x800 + reason>`` follow. No interpreter internals are needed.
"""

from __future__ import annotations

#: packed code of OpenSSL 3 system errors: flag bit plus errno
_SYSTEM_FLAG = 0x80000000

_reasons: dict[str, dict[str, int]] | None = None


def _reason_table() -> dict[str, dict[str, int]]:
    """Reason numbers by library and name, unpacked from the generated table once."""
    global _reasons
    if _reasons is None:
        from certs.openssl_codes import REASONS

        _reasons = {}
        for library, packed in REASONS.items():
            words = packed.split()
            _reasons[library] = dict(zip(words[::2], map(int, words[1::2]), strict=True))
    return _reasons


def error_numbers(library: str | None, reason: str | None) -> tuple[int, int] | None:
    """OpenSSL's (library, reason) numbers for Python's SSLError names, or None."""
    if library is None or reason is None:
        return None
    from certs.openssl_codes import LIBRARIES

    number = LIBRARIES.get(library)
    if number is None:
        return None
    found = _reason_table().get(library, {}).get(reason)
    return None if found is None else (number, found)


def reason_text(exc: BaseException) -> str:
    """OpenSSL's reason string of an SSLError (without Python's decorations)."""
    text = str(exc)
    verify_message = getattr(exc, "verify_message", None)
    if text.startswith("[") and "] " in text:
        text = text[text.index("] ") + 2:]
    if text.endswith(")") and " (_ssl.c:" in text:
        text = text[:text.rindex(" (_ssl.c:")]
    if verify_message and text.endswith(f": {verify_message}"):
        text = text[: -len(verify_message) - 2]
    reason = getattr(exc, "reason", None)
    if text == "EOF occurred in violation of protocol" and reason:
        text = reason.lower().replace("_", " ")  # Python's own text replaced OpenSSL's
    return text


def packed_code(exc: BaseException) -> int | None:
    """The packed OpenSSL error code of an SSLError or OSError (None if unknown)."""
    if isinstance(exc, OSError) and exc.errno and not hasattr(exc, "library"):
        return _SYSTEM_FLAG | exc.errno
    numbers = error_numbers(getattr(exc, "library", None), getattr(exc, "reason", None))
    if numbers is None:
        return None
    return (numbers[0] << 23) | numbers[1]
