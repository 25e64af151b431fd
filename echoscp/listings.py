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
    from certs import listings

    return listings.cipher_list(_header())


def profile_list() -> str:
    """``+ph``: the TLS security profiles available here, DCMTK's layout."""
    from certs import listings

    return listings.profile_list(_header())
