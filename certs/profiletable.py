"""DCMTK's eight TLS security profiles as data: keys, options, texts, suites, versions.

Light on purpose (no ciphersuite table, no ``ssl``): ``certs.tlsflags`` generates the
profile options from ``PROFILES``, and an unknown option on echoscu's command line
loads those rows without paying for ``certs.profiles``. The rules that use this data
(availability, ``+cs`` checks, cipher lists) are in ``certs.profiles``.
"""

from __future__ import annotations

#: +cs rule sets (docs/dcmtk-behaviour.md 6.3, 3.7.0)
CS_RFC8996 = "rfc8996"      # NULL and SHA-1 MAC refused; RFC 9325 warnings
CS_BCP195 = "bcp195"        # NULL refused; RSA key transport warning (RFC 7525)
CS_FORBIDDEN = "forbidden"  # nothing may be added
CS_ANY = "any"              # anything goes


class Profile:
    """One DCMTK security profile: its options, texts, suites and protocol versions.

    ``key`` is the TLSOptions.profile value; ``name`` the text of messages and +ph;
    ``help`` the 3.7.0 --help text (may hold a line break); ``suites`` the TLS <= 1.2
    suites (IANA names) in DCMTK's client order; ``tls13`` whether TLS 1.3 is allowed
    and ``tls13_suites`` its explicit list (None = OpenSSL's defaults); ``min_version``
    and ``max_version`` "TLSv1", "TLSv1.2" or "TLSv1.3"; ``cs_rule`` one of the CS_*
    rule sets; ``requires`` the OpenSSL suite name whose presence makes the profile
    available (None = always). A plain class, not a namedtuple: building a namedtuple
    class costs 0.25 ms on every TLS run (issue #17).
    """

    __slots__ = ("key", "short", "long", "name", "help", "default", "retired", "suites",
                 "tls13", "tls13_suites", "min_version", "max_version", "cs_rule", "requires")

    def __init__(self, key: str, short: str, long: str, name: str, help: str, default: bool,
                 retired: bool, suites: tuple[str, ...], tls13: bool,
                 tls13_suites: tuple[str, ...] | None, min_version: str, max_version: str,
                 cs_rule: str, requires: str | None) -> None:
        self.key, self.short, self.long, self.name, self.help = key, short, long, name, help
        self.default, self.retired, self.suites, self.tls13 = default, retired, suites, tls13
        self.tls13_suites, self.min_version, self.max_version = (
            tls13_suites, min_version, max_version)
        self.cs_rule, self.requires = cs_rule, requires

    def __repr__(self) -> str:
        return f"Profile({self.key!r})"


_ND_SUITES = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
)

#: every profile DCMTK 3.7.0 knows, in its help order (pg, pm, py, px, pz, pb, pa, pn)
PROFILES: tuple[Profile, ...] = (
    Profile(
        "8996", "+pg", "--profile-8996", "BCP 195 RFC 8996 TLS Profile",
        "BCP 195 RFC 8996 TLS Profile (default)", True, False,
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        True, None, "TLSv1", "TLSv1.3", CS_RFC8996, None),
    Profile(
        "8996-mod", "+pm", "--profile-8996-mod", "Modified BCP 195 RFC 8996 TLS Profile",
        "Modified BCP 195 RFC 8996 TLS Profile", False, False,
        ("TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
         "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
         "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
         "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
         "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
         "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        True,
        ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
         "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"),
        "TLSv1", "TLSv1.3", CS_FORBIDDEN, "ECDHE-ECDSA-AES128-CCM"),
    Profile(
        "bcp195-nd", "+py", "--profile-bcp195-nd", "Non-downgrading BCP 195 TLS Profile",
        "Non-downgrading BCP 195 TLS Profile (retired)", False, True,
        _ND_SUITES, True, None, "TLSv1.2", "TLSv1.3", CS_BCP195, None),
    Profile(
        "bcp195", "+px", "--profile-bcp195", "BCP 195 TLS Profile",
        "BCP 195 TLS Profile (retired)", False, True,
        (*_ND_SUITES, "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        True, None, "TLSv1", "TLSv1.3", CS_BCP195, None),
    Profile(
        "bcp195-ex", "+pz", "--profile-bcp195-ex", "Extended BCP 195 TLS Profile",
        "Extended BCP 195 TLS Profile (retired)", False, True,
        (*_ND_SUITES, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
         "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        False, None, "TLSv1.2", "TLSv1.2", CS_FORBIDDEN, None),
    Profile(
        "basic", "+pb", "--profile-basic", "Basic TLS Secure Transport Connection Profile",
        "Basic TLS Secure Transport Connection Profile\n(retired)", False, True,
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",),
        False, None, "TLSv1", "TLSv1.2", CS_BCP195, "DES-CBC3-SHA"),
    Profile(
        "aes", "+pa", "--profile-aes", "AES TLS Secure Transport Connection Profile",
        "AES TLS Secure Transport Connection Profile\n(retired)", False, True,
        ("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        False, None, "TLSv1", "TLSv1.2", CS_BCP195, None),
    Profile(
        "null", "+pn", "--profile-null", "Authenticated unencrypted communication",
        "Authenticated unencrypted communication\n(retired, was used in IHE ATNA)", False, True,
        ("TLS_RSA_WITH_NULL_SHA",),
        False, None, "TLSv1", "TLSv1.2", CS_ANY, "NULL-SHA"),
)
