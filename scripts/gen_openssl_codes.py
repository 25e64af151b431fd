"""Write certs/openssl_codes.py: OpenSSL's library and reason numbers by name.

Python's ssl tells an error's library and reason only by name; DCMTK prints the
numbers. Python 3.12 dropped the private tables that mapped them back, so we ship our
own, generated from OpenSSL's public headers (the numbers are part of OpenSSL's ABI
and never change within a major version). Run after an OpenSSL major release:

    python scripts/gen_openssl_codes.py [/usr/include/openssl] > certs/openssl_codes.py
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

_DEFINE = re.compile(r"^#\s*define\s+([A-Z0-9_]+)\s+(\d+)\b", re.MULTILINE)


def read_headers(include: Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(library numbers, reasons by library) from err.h and the *err.h headers."""
    libraries = {name[len("ERR_LIB_"):]: int(number)
                 for name, number in _DEFINE.findall((include / "err.h").read_text())
                 if name.startswith("ERR_LIB_")}
    reasons: dict[str, dict[str, int]] = {}
    for header in sorted(include.glob("*err.h")):
        for name, number in _DEFINE.findall(header.read_text()):
            prefix, found, reason = name.partition("_R_")
            if found and prefix in libraries:
                reasons.setdefault(prefix, {})[reason] = int(number)
    return libraries, reasons


def render(libraries: dict[str, int], reasons: dict[str, dict[str, int]]) -> str:
    """The module's text: one packed string of "NAME NUMBER" pairs per library."""
    out = ['"""OpenSSL\'s error library and reason numbers by name (generated, do not edit).',
           "",
           "Made by scripts/gen_openssl_codes.py from OpenSSL's public headers. ``REASONS``",
           "packs each library's reasons as space-separated NAME NUMBER pairs.",
           '"""',
           "",
           "LIBRARIES = {"]
    out += [f"    \"{name}\": {number}," for name, number in sorted(libraries.items(),
                                                               key=lambda item: item[1])]
    out += ["}", "", "REASONS = {"]
    for library in sorted(reasons):
        packed = " ".join(f"{name} {number}" for name, number in sorted(reasons[library].items()))
        chunks = textwrap.wrap(packed, 88, break_long_words=False, break_on_hyphens=False)
        out.append(f"    \"{library}\": (")
        out += [f'        "{chunk} "' if i < len(chunks) - 1 else f'        "{chunk}"'
                for i, chunk in enumerate(chunks)]
        out.append("    ),")
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> None:
    include = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/include/openssl")
    sys.stdout.write(render(*read_headers(include)))


if __name__ == "__main__":
    main()
