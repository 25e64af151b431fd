"""The texts of ``--version``, ``+cc`` and ``+ph`` (stdout, exit 0)."""

from __future__ import annotations

import os

from dicomecho import __date__, __version__

APP_NAME = "echoscp"
DESCRIPTION = "DICOM Verification (C-ECHO) SCP"


def version_line() -> str:
    """What ``--version`` prints and ``-d`` logs first: ``echoscp v0.1.0``
    (pynetdicom's echoscp prints ``echoscp.py v0.7.0`` in the same places)."""
    return f"{APP_NAME} v{__version__}"


def _header() -> str:
    uname = os.uname()
    return (f"${APP_NAME}: {APP_NAME} v{__version__} {__date__} $\n\n"
            f"{APP_NAME}: {DESCRIPTION}\n\nHost type: {uname.machine}-{uname.sysname}\n")


def cipher_list() -> str:
    """``+cc``: the TLS <= 1.2 ciphersuites the linked OpenSSL supports, DCMTK's layout."""
    from certs.profiles import supported_ciphersuites

    names = "".join(f"  {name}\n" for name in supported_ciphersuites())
    return _header() + "\nSupported TLS ciphersuites are:\n" + names


def profile_list() -> str:
    """``+ph``: the TLS security profiles available here, DCMTK's layout."""
    from certs.profiles import available_profiles, openssl_version

    lines = []
    for profile in available_profiles():
        suffix = " (default)" if profile.default else " (retired)" if profile.retired else ""
        lines.append(f"- {profile.name}{suffix}\n")
    return (_header() + f"Cryptographic algorithms implemented by: {openssl_version()}\n"
            + "\nSupported TLS Secure Transport Connection Profiles are:\n" + "".join(lines))
