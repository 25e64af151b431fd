"""DCMTK's ciphersuite tables and TLS security profiles (3.7.0 behaviour).

Pure data plus the ``+cs`` rules; ``ssl`` itself is never imported here because
``--help`` lists the profiles. Only ``supported_ciphersuites`` asks the linked
OpenSSL, through ``_ssl`` (the C module behind ``ssl``) to save ssl's 12 ms of
enum building.
"""

from __future__ import annotations

from collections.abc import Callable

from certs.errors import TLSSetupError
from certs.profiletable import CS_BCP195, CS_FORBIDDEN, CS_RFC8996, PROFILES, Profile

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from certs import der


class Ciphersuite:
    """One row of DCMTK's TLS <= 1.2 table (docs/dcmtk-behaviour.md Appendix A).

    ``openssl`` is None for rows compiled out of DCMTK with OpenSSL <= 3.3;
    ``min_protocol`` "SSLv3" or "TLSv1.2"; ``key_exchange`` "RSA" (key transport),
    "ECDH" (static), "DHE" or "ECDHE"; ``mac`` "SHA1", "SHA256", "SHA384", "AEAD", "CCM".
    (A plain class: ``typing`` costs 6 ms of import on the TLS path, building a
    namedtuple class 0.1 ms.)
    """

    __slots__ = ("iana", "openssl", "min_protocol", "key_exchange", "mac", "bits",
                 "effective_bits")

    def __init__(self, iana: str, openssl: str | None, min_protocol: str, key_exchange: str,
                 mac: str, bits: int, effective_bits: int) -> None:
        self.iana, self.openssl, self.min_protocol = iana, openssl, min_protocol
        self.key_exchange, self.mac, self.bits = key_exchange, mac, bits
        self.effective_bits = effective_bits

    def __repr__(self) -> str:
        return f"Ciphersuite({self.iana!r})"

    @property
    def mode(self) -> str:
        """Mode of operation: "CBC", "GCM", "CCM" or "n/a" (NULL, ChaCha20)."""
        if "_CBC_" in self.iana:
            return "CBC"
        if "_GCM_" in self.iana:
            return "GCM"
        if "_CCM" in self.iana:
            return "CCM"
        return "n/a"


_TLS12 = "TLSv1.2"
_SSL3 = "SSLv3"

#: DCMTK 3.6.8+ table order (3.7.0); drives +cc order and the names +cs accepts
CIPHERSUITES: tuple[Ciphersuite, ...] = tuple(Ciphersuite(*row) for row in (
    ("TLS_RSA_WITH_NULL_SHA", "NULL-SHA", _SSL3, "RSA", "SHA1", 0, 0),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", _SSL3, "RSA", "SHA1", 168, 112),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", _SSL3, "RSA", "SHA1", 128, 128),
    ("TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", "CAMELLIA128-SHA", _SSL3, "RSA", "SHA1", 128, 128),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256", _TLS12, "RSA", "SHA256", 128, 128),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256", _TLS12, "RSA", "AEAD", 128, 128),
    ("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "ECDH-ECDSA-AES128-SHA", _SSL3, "ECDH", "SHA1",
     128, 128),
    ("TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "ECDH-RSA-AES128-SHA", _SSL3, "ECDH", "SHA1", 128, 128),
    ("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "ECDH-ECDSA-AES128-SHA256", _TLS12, "ECDH",
     "SHA256", 128, 128),
    ("TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "ECDH-RSA-AES128-SHA256", _TLS12, "ECDH", "SHA256",
     128, 128),
    ("TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "ECDH-ECDSA-AES128-GCM-SHA256", _TLS12, "ECDH",
     "AEAD", 128, 128),
    ("TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "ECDH-RSA-AES128-GCM-SHA256", _TLS12, "ECDH",
     "AEAD", 128, 128),
    ("TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", "CAMELLIA256-SHA", _SSL3, "RSA", "SHA1", 256, 256),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", _SSL3, "RSA", "SHA1", 256, 256),
    ("TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256", _TLS12, "RSA", "SHA256", 256, 256),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384", _TLS12, "RSA", "AEAD", 256, 256),
    ("TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "ECDH-ECDSA-AES256-SHA", _SSL3, "ECDH", "SHA1",
     256, 256),
    ("TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "ECDH-RSA-AES256-SHA", _SSL3, "ECDH", "SHA1", 256, 256),
    ("TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "ECDH-ECDSA-AES256-SHA384", _TLS12, "ECDH",
     "SHA384", 256, 256),
    ("TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", "ECDH-RSA-AES256-SHA384", _TLS12, "ECDH", "SHA384",
     256, 256),
    ("TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", "ECDH-ECDSA-AES256-GCM-SHA384", _TLS12, "ECDH",
     "AEAD", 256, 256),
    ("TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "ECDH-RSA-AES256-GCM-SHA384", _TLS12, "ECDH",
     "AEAD", 256, 256),
    ("TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "DHE-DSS-AES128-SHA", _SSL3, "DHE", "SHA1", 128, 128),
    ("TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA", "DHE-DSS-CAMELLIA128-SHA", _SSL3, "DHE", "SHA1",
     128, 128),
    ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA", _SSL3, "DHE", "SHA1", 128, 128),
    ("TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", "DHE-RSA-CAMELLIA128-SHA", _SSL3, "DHE", "SHA1",
     128, 128),
    ("TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", "DHE-DSS-AES128-SHA256", _TLS12, "DHE", "SHA256",
     128, 128),
    ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256", _TLS12, "DHE", "SHA256",
     128, 128),
    ("TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "DHE-DSS-AES128-GCM-SHA256", _TLS12, "DHE", "AEAD",
     128, 128),
    ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256", _TLS12, "DHE", "AEAD",
     128, 128),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA", _SSL3, "ECDHE", "SHA1",
     128, 128),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA", _SSL3, "ECDHE", "SHA1",
     128, 128),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256", _TLS12, "ECDHE",
     "SHA256", 128, 128),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256", _TLS12, "ECDHE",
     "SHA256", 128, 128),
    ("TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256", None, _TLS12, "ECDHE", "SHA256", 128, 128),
    ("TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", None, _TLS12, "ECDHE", "SHA256", 128, 128),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM", _TLS12, "ECDHE", "CCM",
     128, 128),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE-ECDSA-AES128-CCM8", _TLS12, "ECDHE", "CCM",
     128, 128),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", _TLS12, "ECDHE",
     "AEAD", 128, 128),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", _TLS12, "ECDHE",
     "AEAD", 128, 128),
    ("TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "DHE-DSS-AES256-SHA", _SSL3, "DHE", "SHA1", 256, 256),
    ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA", _SSL3, "DHE", "SHA1", 256, 256),
    ("TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA", "DHE-DSS-CAMELLIA256-SHA", _SSL3, "DHE", "SHA1",
     256, 256),
    ("TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", "DHE-RSA-CAMELLIA256-SHA", _SSL3, "DHE", "SHA1",
     256, 256),
    ("TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305", _TLS12, "DHE",
     "AEAD", 256, 256),
    ("TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", "DHE-DSS-AES256-SHA256", _TLS12, "DHE", "SHA256",
     256, 256),
    ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256", _TLS12, "DHE", "SHA256",
     256, 256),
    ("TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "DHE-DSS-AES256-GCM-SHA384", _TLS12, "DHE", "AEAD",
     256, 256),
    ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384", _TLS12, "DHE", "AEAD",
     256, 256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA", _SSL3, "ECDHE", "SHA1",
     256, 256),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA", _SSL3, "ECDHE", "SHA1",
     256, 256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384", _TLS12, "ECDHE",
     "SHA384", 256, 256),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384", _TLS12, "ECDHE",
     "SHA384", 256, 256),
    ("TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384", None, _TLS12, "ECDHE", "SHA384", 256, 256),
    ("TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384", None, _TLS12, "ECDHE", "SHA384", 256, 256),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", _TLS12,
     "ECDHE", "AEAD", 256, 256),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", _TLS12,
     "ECDHE", "AEAD", 256, 256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM", _TLS12, "ECDHE", "CCM",
     256, 256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", "ECDHE-ECDSA-AES256-CCM8", _TLS12, "ECDHE", "CCM",
     256, 256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", _TLS12, "ECDHE",
     "AEAD", 256, 256),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", _TLS12, "ECDHE",
     "AEAD", 256, 256),
))

_BY_IANA = {suite.iana: suite for suite in CIPHERSUITES}

#: TLS 1.3 suites (IANA name = OpenSSL name, key bits), DCMTK's table order
TLS13_CIPHERSUITES: tuple[tuple[str, int], ...] = (
    ("TLS_AES_128_CCM_SHA256", 128),
    ("TLS_AES_128_CCM_8_SHA256", 128),
    ("TLS_AES_128_GCM_SHA256", 128),
    ("TLS_CHACHA20_POLY1305_SHA256", 256),
    ("TLS_AES_256_GCM_SHA384", 256),
)


# ---------------------------------------------------------------------------
# Profiles (the data, PROFILES, is in certs.profiletable)

_PROFILE_BY_KEY = {profile.key: profile for profile in PROFILES}

_openssl_suites_cache: frozenset[str] | None = None


def _linked_openssl() -> object:
    """The module that exposes the linked OpenSSL: ``_ssl``, the C module behind ``ssl``
    (importing ``ssl`` costs 12 ms more), or ``ssl`` itself where ``_ssl`` lacks a name
    we use (it is not a public interface)."""
    try:
        import _ssl

        if all(hasattr(_ssl, name) for name in ("_SSLContext", "PROTOCOL_TLS_CLIENT",
                                                  "OPENSSL_VERSION")):
            return _ssl
    except ImportError:
        pass
    import ssl

    return ssl


def openssl_version() -> str | None:
    """The linked OpenSSL's version text (None where Python has no ssl at all)."""
    try:
        return _linked_openssl().OPENSSL_VERSION
    except ImportError:
        return None


def openssl_suites() -> frozenset[str]:
    """OpenSSL names the linked OpenSSL offers for "ALL:eNULL" at security level 0."""
    global _openssl_suites_cache
    if _openssl_suites_cache is None:
        module = _linked_openssl()
        make = getattr(module, "_SSLContext", None) or module.SSLContext
        context = make(module.PROTOCOL_TLS_CLIENT)
        context.set_ciphers("ALL:eNULL:@SECLEVEL=0")
        _openssl_suites_cache = frozenset(cipher["name"] for cipher in context.get_ciphers())
    return _openssl_suites_cache


def suites_to_probe(prof: Profile, added: list[str]) -> list[str]:
    """The OpenSSL names whose support a context for ``prof`` plus the ``+cs`` names
    ``added`` depends on: the profile's suites, the suite it requires, the additions."""
    wanted = [_BY_IANA[name].openssl for name in prof.suites]
    wanted += [_BY_IANA[name].openssl for name in added if name in _BY_IANA]
    if prof.requires is not None:
        wanted.append(prof.requires)
    return [name for name in wanted if name is not None]


def probe_suites(context, names: list[str]) -> frozenset[str]:
    """Which of ``names`` (OpenSSL suite names) the linked OpenSSL knows, asked of the
    context being built: a cipher string of just these names at security level 0, read
    back with ``get_ciphers`` (OpenSSL drops names it does not know). The same answer
    ``openssl_suites`` gives for them, without building a second context and listing
    every suite (about 1 ms of a TLS echo, issue #17). Leaves ``context`` at security
    level 0 with those suites (or unchanged if it knows none); the caller sets its own
    list afterwards.
    """
    if not names:
        return frozenset()
    try:
        context.set_ciphers(":".join(names) + ":@SECLEVEL=0")
    except OSError:  # ssl.SSLError "No cipher can be selected": it knows none of them
        return frozenset()
    return frozenset(cipher["name"] for cipher in context.get_ciphers()) & frozenset(names)


def is_supported(suite: Ciphersuite, supported: frozenset[str] | None = None) -> bool:
    """True if the linked OpenSSL knows this suite (DCMTK's rule for +cc and +cs).

    ``supported``: the names a ``probe_suites`` found (None: ask ``openssl_suites``).
    """
    if suite.openssl is None:
        return False
    return suite.openssl in (openssl_suites() if supported is None else supported)


def supported_ciphersuites() -> list[str]:
    """IANA names of the TLS <= 1.2 suites the linked OpenSSL supports, in table order (+cc)."""
    return [suite.iana for suite in CIPHERSUITES if is_supported(suite)]


def available_profiles() -> list[Profile]:
    """The profiles the linked OpenSSL supports, in DCMTK 3.7.0 help order."""
    available = openssl_suites()
    return [p for p in PROFILES if p.requires is None or p.requires in available]


def profile(key: str) -> Profile:
    """The profile for a ``TLSOptions.profile`` key (KeyError for an unknown key)."""
    return _PROFILE_BY_KEY[key]


def profile_available(prof: Profile, supported: frozenset[str] | None = None) -> bool:
    """True if the linked OpenSSL supports the profile (``supported`` as for is_supported)."""
    if prof.requires is None:
        return True
    return prof.requires in (openssl_suites() if supported is None else supported)


def profile_suites(prof: Profile, supported: frozenset[str] | None = None) -> list[Ciphersuite]:
    """The profile's TLS <= 1.2 suites the linked OpenSSL supports, in profile order.

    Unsupported members (3DES, Camellia-GCM) are silently dropped, as OpenSSL does.
    """
    suites = (_BY_IANA[name] for name in prof.suites)
    return [suite for suite in suites if is_supported(suite, supported)]


def _not_allowed(text: str) -> TLSSetupError:
    return TLSSetupError([
        ("F", text),
        ("F", "000b:000a Ciphersuite not allowed in current DICOM security profile"),
    ])


def check_added_ciphersuite(prof: Profile, name: str,
                            supported: frozenset[str] | None = None,
                            ) -> tuple[Ciphersuite, list[str]]:
    """Apply DCMTK 3.7.0's ``+cs`` rules for one name under a profile
    (docs/dcmtk-behaviour.md 6.3).

    Returns the suite and the warnings to print; raises TLSSetupError with the F: lines.
    ``supported`` as for is_supported.
    """
    suite = _BY_IANA.get(name)
    if suite is None or suite.openssl is None:  # compiled-out rows are not in DCMTK's table
        raise TLSSetupError([("F", f"000b:0003 Unknown or invalid ciphersuite: {name}")])
    if not is_supported(suite, supported):
        raise TLSSetupError([
            ("F", f"Ciphersuite '{name}' not supported by the OpenSSL library used to compile "
                  "this application."),
            ("F", f"000b:0003 Unknown or invalid ciphersuite: {name}"),
        ])
    warnings: list[str] = []
    if prof.cs_rule == CS_FORBIDDEN:
        raise _not_allowed(
            f"Additional ciphersuites not permitted with security profile '{prof.name}'")
    if prof.cs_rule in (CS_RFC8996, CS_BCP195) and suite.bits == 0:
        raise _not_allowed(
            f"Unencrypted ciphersuite '{name}' not permitted with security profile '{prof.name}'")
    if prof.cs_rule == CS_BCP195 and suite.key_exchange == "RSA":
        warnings.append(f"Ciphersuite '{name}' uses RSA key transport. RFC 7525 recommends "
                        "that such cipher suites should not be used.")
    if prof.cs_rule == CS_RFC8996:
        if suite.mac == "SHA1":
            raise _not_allowed(f"Ciphersuite '{name}' using SHA-1 MAC not permitted with "
                               f"security profile '{prof.name}'")
        if suite.key_exchange == "RSA":
            warnings.append(f"Ciphersuite '{name}' uses RSA key transport. RFC 9325 recommends "
                            "that such cipher suites should not be used.")
        elif suite.key_exchange == "DHE":
            warnings.append(f"Ciphersuite '{name}' uses ephemeral finite-field Diffie-Hellman "
                            "key agreement. RFC 9325 recommends that such cipher suites should "
                            "not be used.")
        if suite.mode == "CBC":
            warnings.append(f"Ciphersuite '{name}' uses CBC mode of operation. RFC 9325 "
                            "recommends that such cipher suites should not be used, unless both "
                            "sides support the encrypt_then_mac extension (we do).")
    return suite, warnings


def cipher_list(prof: Profile, added: list[str], warn: Callable[[str], None],
                server: bool = False, supported: frozenset[str] | None = None) -> list[str]:
    """The OpenSSL suite names to configure: profile order, then the ``+cs`` additions.

    ``added`` is in processing order (right-to-left on the command line); each name's
    warnings go to ``warn`` as it is processed, and the first name that breaks a rule
    raises TLSSetupError (as DCMTK, which stops there). A server (acceptor) uses the
    strongest-first table order instead, as DCMTK does for server preference.
    ``supported`` as for is_supported.
    """
    suites = profile_suites(prof, supported)
    for name in added:
        suite, warnings = check_added_ciphersuite(prof, name, supported)
        for text in warnings:
            warn(text)
        suites.append(suite)
    if server:
        suites.sort(key=CIPHERSUITES.index, reverse=True)
    return [suite.openssl for suite in suites]


def tls13_suites(prof: Profile, server: bool = False) -> list[str] | None:
    """The explicit TLS 1.3 suite list of a profile (None = OpenSSL's defaults).

    A server uses the strongest-first table order, as for TLS <= 1.2.
    """
    if prof.tls13_suites is None:
        return None
    if not server:
        return list(prof.tls13_suites)
    order = [name for name, _bits in TLS13_CIPHERSUITES]
    return sorted(prof.tls13_suites, key=order.index, reverse=True)


#: the OpenSSL security level of the profiles whose rules it can enforce in the handshake
#: (level 2: keys of at least 112 bits of strength, i.e. RSA/DSA >= 2048 and EC >= 224,
#: and no MD5 or SHA-1 signature, in every certificate of the peer's chain)
_PROFILE_LEVEL = 2


def security_level(profile: str, server: bool,
                   own_chain: list[der.Certificate] | None) -> int:
    """The OpenSSL security level of a context (the cipher string's ``@SECLEVEL``).

    DCMTK sets level 0 and refuses weak peer certificates in its verification callback,
    inside the handshake. Python has no such callback, so where a profile refuses what
    OpenSSL's level 2 refuses, level 2 makes OpenSSL do it, in every element of the
    chain: ``+pm`` in both roles, and ``+pg`` as requestor (its acceptor only warns about
    small client keys). The level covers our own chain too, and OpenSSL would then refuse
    to send an own certificate DCMTK takes with a warning; with such a certificate the
    level stays 0 and the checks after the handshake decide, as on every other profile.
    """
    strict = profile == "8996-mod" or (profile == "8996" and not server)
    if not strict or (own_chain is not None and not all(map(_meets_level, own_chain))):
        return 0
    return _PROFILE_LEVEL


def _meets_level(certificate: der.Certificate) -> bool:
    """Whether OpenSSL's security level 2 takes ``certificate`` in our own chain."""
    if certificate.key_type in ("RSA", "RSA-PSS", "DSA", "DH") and certificate.key_bits < 2048:
        return False
    if certificate.key_type == "EC" and certificate.key_bits < 224:
        return False
    if certificate.key_type == "unknown":
        return False
    if certificate.issuer_der == certificate.subject_der:
        return True  # OpenSSL does not judge a self-signature
    name = certificate.signature_name.upper()
    return certificate.signature_class != "weak" and not name.endswith(("SHA1", "SHA1-2",
                                                                         "SHA1-OLD", "UNDEF"))
