"""OpenSSL error codes and texts as DCMTK prints them, recovered from Python's exceptions.

Python's SSLError carries OpenSSL's library and reason *names*; the interpreter's
``_ssl`` module has the table back to the numbers, from which the packed error
code (``(lib << 23) | reason``) and DCMTK's ``000b:<0x800 + reason>`` follow.
"""

from __future__ import annotations

#: packed code of OpenSSL 3 system errors: flag bit plus errno
_SYSTEM_FLAG = 0x80000000

_codes: dict[tuple[str, str], tuple[int, int]] | None = None


def error_numbers(library: str | None, reason: str | None) -> tuple[int, int] | None:
    """OpenSSL's (library, reason) numbers for Python's SSLError names, or None."""
    global _codes
    if _codes is None:
        import _ssl

        libraries = _ssl.lib_codes_to_names
        _codes = {(libraries.get(lib, ""), name): (lib, number)
                  for (lib, number), name in _ssl.err_codes_to_names.items()}
    if library is None or reason is None:
        return None
    return _codes.get((library, reason))


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
