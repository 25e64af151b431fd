"""The ``+cc`` and ``+ph`` texts (DCMTK's layout) under any program's header."""

from __future__ import annotations


def cipher_list(header: str) -> str:
    """``+cc``: ``header``, then the TLS <= 1.2 ciphersuites the linked OpenSSL supports."""
    from certs.profiles import supported_ciphersuites

    names = "".join(f"  {name}\n" for name in supported_ciphersuites())
    return header + "\nSupported TLS ciphersuites are:\n" + names


def profile_list(header: str) -> str:
    """``+ph``: ``header``, the OpenSSL version, then the profiles available here."""
    from certs.profiles import available_profiles, openssl_version

    lines = []
    for profile in available_profiles():
        suffix = " (default)" if profile.default else " (retired)" if profile.retired else ""
        lines.append(f"- {profile.name}{suffix}\n")
    return (header + f"Cryptographic algorithms implemented by: {openssl_version()}\n"
            + "\nSupported TLS Secure Transport Connection Profiles are:\n" + "".join(lines))
