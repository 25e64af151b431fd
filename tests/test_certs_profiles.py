"""The ciphersuite table and profiles against docs/dcmtk-behaviour.md (DCMTK 3.7.0 with
OpenSSL 3.0)."""

from __future__ import annotations

import pytest

from certs import profiles
from certs.errors import TLSSetupError

#: docs/dcmtk-behaviour.md 6.4, "HEAD [obs], 44 lines" (3.7.0 gives the same list with OpenSSL 3.0)
SPEC_370_LIST = """
TLS_RSA_WITH_NULL_SHA TLS_RSA_WITH_AES_128_CBC_SHA TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
TLS_RSA_WITH_AES_128_CBC_SHA256 TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
TLS_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_256_CBC_SHA256 TLS_RSA_WITH_AES_256_GCM_SHA384
TLS_DHE_DSS_WITH_AES_128_CBC_SHA TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA
TLS_DHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
TLS_ECDHE_ECDSA_WITH_AES_128_CCM TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
TLS_DHE_DSS_WITH_AES_256_CBC_SHA TLS_DHE_RSA_WITH_AES_256_CBC_SHA
TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 TLS_DHE_DSS_WITH_AES_256_CBC_SHA256
TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CCM
TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
""".split()


class Recorder:
    """Collects warnings passed to a callback."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)


def test_supported_list_is_the_370_list():
    assert len(SPEC_370_LIST) == 44
    assert profiles.supported_ciphersuites() == SPEC_370_LIST


def test_table_has_61_rows_in_368_order():
    names = [suite.iana for suite in profiles.CIPHERSUITES]
    assert len(names) == 61 and len(set(names)) == 61
    assert names[0] == "TLS_RSA_WITH_NULL_SHA"
    assert names[22] == "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"  # row 23: DHE block before ECDHE
    assert names[60] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"


def test_table_attributes():
    rows = {suite.iana: suite for suite in profiles.CIPHERSUITES}
    assert rows["TLS_RSA_WITH_NULL_SHA"].bits == 0
    assert rows["TLS_RSA_WITH_3DES_EDE_CBC_SHA"].effective_bits == 112
    assert rows["TLS_ECDHE_ECDSA_WITH_AES_128_CCM"].mode == "CCM"
    assert rows["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"].mode == "n/a"
    assert rows["TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"].mode == "CBC"
    assert rows["TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"].key_exchange == "DHE"
    assert rows["TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"].openssl is None


def test_profiles_in_370_help_order():
    shown = [(p.key, p.short, p.long) for p in profiles.available_profiles()]
    assert shown == [
        ("8996", "+pg", "--profile-8996"),
        ("8996-mod", "+pm", "--profile-8996-mod"),
        ("bcp195-nd", "+py", "--profile-bcp195-nd"),
        ("bcp195", "+px", "--profile-bcp195"),
        ("bcp195-ex", "+pz", "--profile-bcp195-ex"),
        ("aes", "+pa", "--profile-aes"),      # +pb absent: OpenSSL 3.0 has no 3DES
        ("null", "+pn", "--profile-null"),
    ]
    defaults = [p.short for p in profiles.PROFILES if p.default]
    assert defaults == ["+pg"]


def test_list_profiles_lines_as_spec_65():
    lines = [f"- {p.name}" + (" (default)" if p.default else " (retired)" if p.retired else "")
             for p in profiles.available_profiles()]
    assert lines == [
        "- BCP 195 RFC 8996 TLS Profile (default)",
        "- Modified BCP 195 RFC 8996 TLS Profile",
        "- Non-downgrading BCP 195 TLS Profile (retired)",
        "- BCP 195 TLS Profile (retired)",
        "- Extended BCP 195 TLS Profile (retired)",
        "- AES TLS Secure Transport Connection Profile (retired)",
        "- Authenticated unencrypted communication (retired)",
    ]


def test_help_texts():
    helps = {p.short: p.help for p in profiles.PROFILES}
    assert helps["+pg"] == "BCP 195 RFC 8996 TLS Profile (default)"
    assert helps["+py"] == "Non-downgrading BCP 195 TLS Profile (retired)"
    assert helps["+pn"] == ("Authenticated unencrypted communication\n"
                            "(retired, was used in IHE ATNA)")
    assert helps["+pa"] == "AES TLS Secure Transport Connection Profile\n(retired)"


@pytest.mark.parametrize(("key", "expected"), [
    ("8996", ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
              "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"]),
    ("8996-mod", ["ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES128-CCM8",
                  "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305",
                  "ECDHE-ECDSA-AES256-CCM", "ECDHE-ECDSA-AES256-CCM8",
                  "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"]),
    ("bcp195-nd", ["ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256",
                   "ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384"]),
    ("bcp195", ["ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256",
                "ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384", "AES128-SHA"]),
    ("bcp195-ex", ["ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256",
                   "ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384",
                   "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"]),
    ("aes", ["AES128-SHA"]),
    ("null", ["NULL-SHA"]),
])
def test_profile_client_order(key, expected):
    assert profiles.cipher_list(profiles.profile(key), [], Recorder()) == expected


def test_server_order_is_strongest_first():
    prof = profiles.profile("bcp195")
    assert profiles.cipher_list(prof, [], Recorder(), server=True) == [
        "ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256", "AES128-SHA"]
    assert profiles.tls13_suites(profiles.profile("8996-mod"), server=True) == [
        "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_CCM_8_SHA256", "TLS_AES_128_CCM_SHA256"]
    assert profiles.tls13_suites(profiles.profile("8996")) is None


def test_protocol_ranges():
    ranges = {p.key: (p.tls13, p.min_version, p.max_version) for p in profiles.PROFILES}
    assert ranges["8996"] == (True, "TLSv1", "TLSv1.3")
    assert ranges["bcp195-nd"] == (True, "TLSv1.2", "TLSv1.3")
    assert ranges["bcp195-ex"] == (False, "TLSv1.2", "TLSv1.2")
    assert ranges["aes"] == (False, "TLSv1", "TLSv1.2")
    assert ranges["null"] == (False, "TLSv1", "TLSv1.2")


def _failure(key: str, added: list[str]) -> list[tuple[str, str]]:
    with pytest.raises(TLSSetupError) as caught:
        profiles.cipher_list(profiles.profile(key), added, Recorder())
    return caught.value.messages


NOT_ALLOWED = ("F", "000b:000a Ciphersuite not allowed in current DICOM security profile")


def test_unknown_name_370_message():
    assert _failure("8996", ["ECDHE-RSA-AES128-GCM-SHA256"]) == [
        ("F", "000b:0003 Unknown or invalid ciphersuite: ECDHE-RSA-AES128-GCM-SHA256")]
    # TLS 1.3 names and compiled-out Camellia-GCM rows are not in the table either
    assert _failure("null", ["TLS_AES_128_GCM_SHA256"])[0][1].startswith("000b:0003")
    assert _failure("null", ["TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"]) == [
        ("F", "000b:0003 Unknown or invalid ciphersuite: "
              "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256")]


def test_unsupported_by_openssl():
    assert _failure("null", ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]) == [
        ("F", "Ciphersuite 'TLS_RSA_WITH_3DES_EDE_CBC_SHA' not supported by the OpenSSL "
              "library used to compile this application."),
        ("F", "000b:0003 Unknown or invalid ciphersuite: TLS_RSA_WITH_3DES_EDE_CBC_SHA")]


def test_rfc8996_rules():
    assert _failure("8996", ["TLS_RSA_WITH_NULL_SHA"]) == [
        ("F", "Unencrypted ciphersuite 'TLS_RSA_WITH_NULL_SHA' not permitted with security "
              "profile 'BCP 195 RFC 8996 TLS Profile'"), NOT_ALLOWED]
    assert _failure("8996", ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]) == [
        ("F", "Ciphersuite 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA' using SHA-1 MAC not permitted "
              "with security profile 'BCP 195 RFC 8996 TLS Profile'"), NOT_ALLOWED]
    warn = Recorder()
    names = profiles.cipher_list(
        profiles.profile("8996"),
        ["TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256",
         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"], warn)
    assert names[-3:] == ["DHE-RSA-AES128-SHA256", "AES128-GCM-SHA256",
                          "ECDHE-RSA-CHACHA20-POLY1305"]
    assert warn.lines == [
        "Ciphersuite 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256' uses ephemeral finite-field "
        "Diffie-Hellman key agreement. RFC 9325 recommends that such cipher suites should "
        "not be used.",
        "Ciphersuite 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256' uses CBC mode of operation. "
        "RFC 9325 recommends that such cipher suites should not be used, unless both sides "
        "support the encrypt_then_mac extension (we do).",
        "Ciphersuite 'TLS_RSA_WITH_AES_128_GCM_SHA256' uses RSA key transport. RFC 9325 "
        "recommends that such cipher suites should not be used.",
    ]


@pytest.mark.parametrize(("key", "name"), [
    ("bcp195-nd", "Non-downgrading BCP 195 TLS Profile"),
    ("bcp195", "BCP 195 TLS Profile"),
    ("aes", "AES TLS Secure Transport Connection Profile"),
])
def test_bcp195_rules(key, name):
    assert _failure(key, ["TLS_RSA_WITH_NULL_SHA"]) == [
        ("F", f"Unencrypted ciphersuite 'TLS_RSA_WITH_NULL_SHA' not permitted with security "
              f"profile '{name}'"), NOT_ALLOWED]
    warn = Recorder()
    names = profiles.cipher_list(profiles.profile(key), [
        "TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"], warn)
    assert names[-2:] == ["AES128-SHA", "DHE-RSA-AES128-SHA"]
    # 3.7.0 warns only for RSA key transport (3.6.7's "NO RSA" warning was a bug)
    assert warn.lines == ["Ciphersuite 'TLS_RSA_WITH_AES_128_CBC_SHA' uses RSA key transport. "
                          "RFC 7525 recommends that such cipher suites should not be used."]


@pytest.mark.parametrize(("key", "name"), [
    ("8996-mod", "Modified BCP 195 RFC 8996 TLS Profile"),
    ("bcp195-ex", "Extended BCP 195 TLS Profile"),
])
def test_no_additions(key, name):
    assert _failure(key, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]) == [
        ("F", f"Additional ciphersuites not permitted with security profile '{name}'"),
        NOT_ALLOWED]


def test_null_profile_takes_anything():
    warn = Recorder()
    names = profiles.cipher_list(profiles.profile("null"), ["TLS_RSA_WITH_AES_128_CBC_SHA"],
                                 warn)
    assert names == ["NULL-SHA", "AES128-SHA"] and warn.lines == []


def test_warnings_of_earlier_names_come_before_the_failure():
    warn = Recorder()
    with pytest.raises(TLSSetupError):
        profiles.cipher_list(profiles.profile("8996"), [
            "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_NULL_SHA"], warn)
    assert len(warn.lines) == 1 and "uses RSA key transport" in warn.lines[0]


def test_profiles_module_does_not_import_ssl():
    import subprocess
    import sys

    code = ("import sys; from certs import profiles; profiles.available_profiles(); "
            "print('ssl' in sys.modules, 'cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("key", [p.key for p in profiles.PROFILES])
def test_probe_on_the_context_agrees_with_the_full_listing(key):
    """The suites a context being built is asked about (probe_suites) are exactly those
    of them the full "ALL:eNULL" listing (openssl_suites) has; availability, profile
    suites and every +cs check then come out the same both ways (issue #17)."""
    import ssl

    prof = profiles.profile(key)
    every = [suite.iana for suite in profiles.CIPHERSUITES]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    supported = profiles.probe_suites(context, profiles.suites_to_probe(prof, every))
    wanted = set(profiles.suites_to_probe(prof, every))
    assert supported == wanted & profiles.openssl_suites()
    assert profiles.profile_available(prof, supported) == (prof in profiles.available_profiles())
    assert profiles.profile_suites(prof, supported) == profiles.profile_suites(prof)
    for name in every:
        outcomes = []
        for known in (supported, None):
            try:
                outcomes.append(profiles.check_added_ciphersuite(prof, name, known))
            except TLSSetupError as error:
                outcomes.append(error.messages)
        assert outcomes[0] == outcomes[1]


def test_probe_of_unknown_names_is_empty():
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert profiles.probe_suites(context, ["NO-SUCH-SUITE", "NOR-THIS"]) == frozenset()
    assert profiles.probe_suites(context, []) == frozenset()
