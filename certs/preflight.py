"""Pre-flight check of local TLS material before any connection is tried.

Key matches certificate, chain builds to a given CA (signatures verified), validity,
EKU for the role, SAN for the host, key size, key type and signature hashes for a DCMTK
profile (docs/dcmtk-behaviour.md 6.2, 6.6, 6.10), and revocation by a CRL whose signature
is verified.
Each finding is one line: ``ok:``, ``warn:`` or ``FAIL:``; any FAIL fails the check.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certs import profiles
from certs.der import Certificate as DerCertificate
from certs.inspect import (
    EXPIRY_WARNING_DAYS,
    MaterialError,
    PrivateKey,
    days_between,
    extended_key_usages,
    is_ca,
    is_ip_address,
    key_kind,
    key_usages,
    name_text,
    now_utc,
    read_material,
    same_public_key,
    san_text,
    signed_by,
    subject_alt_names,
    time_text,
    unlock,
    validity_note,
)

OK, WARN, FAIL = "ok", "warn", "FAIL"
#: a longer chain than this is treated as a loop
_MAX_DEPTH = 10


class Finding(NamedTuple):
    """One result line: ``level`` is "ok", "warn" or "FAIL"."""

    level: str
    text: str

    @property
    def line(self) -> str:
        """The printed form, ``<level>: <text>``."""
        return f"{self.level}: {self.text}"


def passed(findings: Iterable[Finding]) -> bool:
    """True if no finding is a FAIL (warnings are allowed)."""
    return all(finding.level != FAIL for finding in findings)


class _Anchor(NamedTuple):
    certificate: x509.Certificate
    source: str


def preflight(cert_path: str, *, key_path: str | None = None, ca_paths: Sequence[str] = (),
              crl_paths: Sequence[str] = (), host: str | None = None, role: str | None = None,
              profile: str = "8996", password: str | None = None,
              now: datetime.datetime | None = None) -> list[Finding]:
    """Check one key/certificate pair (and its chain) and return the findings in order.

    ``ca_paths`` are PEM/DER files or hashed directories of trusted CAs; intermediates
    come from the certificate file after the first certificate. ``role`` None judges
    no EKU; ``host`` given without a role implies the server role.
    """
    findings: list[Finding] = []
    now = now or now_utc()
    if host is not None and role is None:
        role = "server"
    key = _check_key(key_path, password, findings) if key_path else None
    chain = _load_chain(cert_path, findings)
    if chain is None:
        return findings
    leaf = chain[0]
    if key is not None:
        _check_match(key, leaf, key_path or "", cert_path, findings)
    anchors = _load_anchors(ca_paths, findings)
    path = _check_chain(chain, anchors, cert_path, bool(ca_paths), findings)
    _check_validity(path, now, findings)
    _check_role(leaf, role, findings)
    if host is not None:
        _check_host(leaf, host, findings)
    _check_profile(path, role, profile, findings)
    if crl_paths:
        known = path[1:] + chain[1:] + [anchor.certificate for anchor in anchors]
        _check_revocation(leaf, known, crl_paths, now, findings)
    return findings


# --- key and certificate ---------------------------------------------------------------


def _check_key(path: str, password: str | None, findings: list[Finding]) -> PrivateKey | None:
    try:
        material = read_material(path)
    except MaterialError as error:
        findings.append(Finding(FAIL, f"key {error}"))
        return None
    if not material.keys:
        findings.append(Finding(FAIL, f"key {path}: no private key in it"))
        return None
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        findings.append(Finding(WARN, f"key {path} can be read by other users "
                                      f"(mode {mode:04o}); chmod 600 {path}"))
    info = material.keys[0]
    if not info.encrypted:
        kind, bits = key_kind(info.private_key.public_key())  # type: ignore[union-attr]
        findings.append(Finding(OK, f"key {path}: {kind} {bits} bits, not encrypted"))
        return info.private_key
    if info.encoding == "DER":
        findings.append(Finding(WARN, f"key {path} is an encrypted DER key: DCMTK (-der) "
                                      "cannot load it; use the PEM form"))
    if password is None:
        findings.append(Finding(WARN, f"key {path} is encrypted ({info.scheme}) and no "
                                      "--password was given: key/certificate match not "
                                      "checked"))
        return None
    try:
        key = unlock(info, password)
    except MaterialError as error:
        findings.append(Finding(FAIL, f"key {path}: {error} (DCMTK: 'bad decrypt')"))
        return None
    kind, bits = key_kind(key.public_key())
    findings.append(Finding(OK, f"key {path}: {kind} {bits} bits, encrypted ({info.scheme}), "
                                "password accepted"))
    return key


def _load_chain(path: str, findings: list[Finding]) -> list[x509.Certificate] | None:
    try:
        material = read_material(path)
    except MaterialError as error:
        findings.append(Finding(FAIL, f"certificate {error}"))
        return None
    if not material.certificates:
        findings.append(Finding(FAIL, f"certificate {path}: no certificate in it"))
        return None
    chain = material.certificates
    leaf = chain[0]
    more = f", followed by {len(chain) - 1} more" if len(chain) > 1 else ""
    findings.append(Finding(OK, f"certificate {path}: '{name_text(leaf.subject)}', issued by "
                                f"'{name_text(leaf.issuer)}'{more}"))
    return chain


def _check_match(key: PrivateKey, leaf: x509.Certificate, key_path: str, cert_path: str,
                 findings: list[Finding]) -> None:
    if same_public_key(key.public_key(), leaf.public_key()):
        findings.append(Finding(OK, "key matches the certificate"))
    else:
        findings.append(Finding(FAIL, f"key {key_path} does not match certificate {cert_path} "
                                      "(DCMTK: 000b:0006 ... do not match)"))


# --- chain of trust --------------------------------------------------------------------


def _load_anchors(paths: Sequence[str], findings: list[Finding]) -> list[_Anchor]:
    """Certificates of every --ca file, and of every readable file in a --ca directory."""
    anchors = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for entry in sorted(os.listdir(path)):
                try:
                    found += read_material(os.path.join(path, entry)).certificates
                except MaterialError:
                    continue
            if not found:
                findings.append(Finding(FAIL, f"--ca {path}: no certificate in the directory"))
            anchors += [_Anchor(cert, path) for cert in found]
            continue
        try:
            certificates = read_material(path).certificates
        except MaterialError as error:
            findings.append(Finding(FAIL, f"--ca {error}"))
            continue
        if not certificates:
            findings.append(Finding(FAIL, f"--ca {path}: no certificate in it"))
        anchors += [_Anchor(cert, path) for cert in certificates]
    return anchors


def _check_chain(chain: list[x509.Certificate], anchors: list[_Anchor], cert_path: str,
                 ca_given: bool, findings: list[Finding]) -> list[x509.Certificate]:
    """Build leaf -> ... -> trusted CA; returns the path (just the leaf if it fails)."""
    leaf, intermediates = chain[0], chain[1:]
    if not ca_given:
        findings.append(Finding(WARN, "no --ca given: chain of trust not checked "
                                      "(DCMTK needs the issuing CA with +cf or +cd)"))
        return [leaf]
    if not anchors:
        return [leaf]
    path = [leaf]
    while len(path) <= _MAX_DEPTH:
        current = path[-1]
        if current.issuer == current.subject:  # OpenSSL ends every chain at a trusted root
            trusted = next((a for a in anchors if a.certificate == current), None)
            if trusted is None:
                findings.append(Finding(FAIL, _untrusted_root_text(current, len(path) > 1)))
                return [leaf]
            findings.append(Finding(OK, f"chain: {_path_text(path)} (trusted: {trusted.source})"))
            return path
        candidates = [(a.certificate, a.source) for a in anchors
                      if a.certificate.subject == current.issuer]
        candidates += [(c, cert_path) for c in intermediates if c.subject == current.issuer]
        if not candidates:
            findings.append(Finding(FAIL, f"chain does not reach a given CA: no certificate of "
                                          f"issuer '{name_text(current.issuer)}' in --ca or "
                                          f"{cert_path} (DCMTK: 'unable to get local issuer "
                                          "certificate')"))
            return [leaf]
        issuer = next((c for c, _ in candidates if signed_by(current, c.public_key())), None)
        if issuer is None:
            sources = ", ".join(sorted({source for _, source in candidates}))
            findings.append(Finding(FAIL, f"'{name_text(current.subject)}' is not signed by "
                                          f"the key of '{name_text(current.issuer)}' from "
                                          f"{sources}: signature does not verify"))
            return [leaf]
        if not _may_issue(issuer):
            findings.append(Finding(FAIL, f"'{name_text(issuer.subject)}' is not a CA "
                                          "(needs basicConstraints CA:TRUE and keyCertSign) "
                                          "(DCMTK: 'invalid CA certificate')"))
            return [leaf]
        if issuer in path:
            break
        path.append(issuer)
    findings.append(Finding(FAIL, f"chain longer than {_MAX_DEPTH} or looping: "
                                  f"{_path_text(path)}"))
    return [leaf]


def _may_issue(cert: x509.Certificate) -> bool:
    """OpenSSL's CA test: CA:TRUE (or a v1 self-signed root) and keyCertSign if keyUsage."""
    ca = is_ca(cert)
    if ca is None:
        ca = cert.version == x509.Version.v1 and cert.issuer == cert.subject
    return ca and "keyCertSign" in (key_usages(cert) or ["keyCertSign"])


def _untrusted_root_text(root: x509.Certificate, in_chain: bool) -> str:
    where = "self-signed certificate in certificate chain" if in_chain \
        else "self-signed certificate"
    return (f"self-signed certificate '{name_text(root.subject)}' is not among the --ca "
            f"certificates (DCMTK: '{where}')")


def _path_text(path: list[x509.Certificate]) -> str:
    return " <- ".join(f"'{name_text(cert.subject)}'" for cert in path)


# --- validity, role, host --------------------------------------------------------------


def _check_validity(path: list[x509.Certificate], now: datetime.datetime,
                    findings: list[Finding]) -> None:
    for position, cert in enumerate(path):
        who = "certificate" if position == 0 else f"CA certificate '{name_text(cert.subject)}'"
        note = validity_note(cert, now)
        if now < cert.not_valid_before_utc:
            findings.append(Finding(FAIL, f"{who} is {note} ({time_text(cert.not_valid_before_utc)}"
                                          ") (DCMTK: 'certificate is not yet valid')"))
        elif now > cert.not_valid_after_utc:
            findings.append(Finding(FAIL, f"{who} {note} ({time_text(cert.not_valid_after_utc)}) "
                                          "(DCMTK: 'certificate has expired')"))
        elif days_between(now, cert.not_valid_after_utc) < EXPIRY_WARNING_DAYS:
            findings.append(Finding(WARN, f"{who} expires on "
                                          f"{time_text(cert.not_valid_after_utc)} ({note})"))
        elif position == 0:
            findings.append(Finding(OK, f"{who} valid until "
                                        f"{time_text(cert.not_valid_after_utc)} ({note})"))


#: OpenSSL's purpose check: the keyUsage bits that allow each role (any one suffices)
_ROLE_KEY_USAGES = {"server": {"digitalSignature", "keyEncipherment", "keyAgreement"},
                    "client": {"digitalSignature", "keyAgreement"}}


def _check_role(leaf: x509.Certificate, role: str | None, findings: list[Finding]) -> None:
    eku = extended_key_usages(leaf)
    eku_text = ", ".join(eku) if eku else "(none)"
    if role is None:
        findings.append(Finding(OK, f"extended key usage: {eku_text} (give --role to judge it)"))
        return
    wanted = "serverAuth" if role == "server" else "clientAuth"
    if eku is None:
        findings.append(Finding(OK, f"no extendedKeyUsage extension: fits the {role} role"))
    elif wanted in eku or "anyExtendedKeyUsage" in eku:
        findings.append(Finding(OK, f"extended key usage {eku_text} fits the {role} role"))
    else:
        findings.append(Finding(FAIL, f"extended key usage is {eku_text}: a {role} certificate "
                                      f"needs {wanted} (DCMTK: 'unsupported certificate "
                                      "purpose')"))
    usage = key_usages(leaf)
    if usage is not None and not _ROLE_KEY_USAGES[role] & set(usage):
        needed = " or ".join(sorted(_ROLE_KEY_USAGES[role]))
        findings.append(Finding(FAIL, f"key usage {', '.join(usage) or '(empty)'} allows no "
                                      f"TLS {role} use (needs {needed})"))


def dns_name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching: exact (case-insensitive), or ``*.`` replacing one whole left label.

    Partial wildcards (``f*.example.org``) and wildcards over a single label (``*.org``)
    never match, as with Python's ssl and OpenSSL's strict host check.
    """
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:] or "." not in pattern[2:]:
        return False
    label, _, rest = host.partition(".")
    return bool(label) and rest == pattern[2:]


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _check_host(leaf: x509.Certificate, host: str, findings: list[Finding]) -> None:
    names = subject_alt_names(leaf)
    if is_ip_address(host):
        address = ipaddress.ip_address(host.strip("[]"))
        addresses = names[1] if names else []
        if any(ipaddress.ip_address(ip) == address for ip in addresses):
            findings.append(Finding(OK, f"host {host} is in the SAN (IP:{address})"))
            return
    else:
        wanted = _ascii_host(host)
        dns_names = names[0] if names else []
        match = next((name for name in dns_names if dns_name_matches(name, wanted)), None)
        if match is not None:
            findings.append(Finding(OK, f"host {host} is in the SAN (DNS:{match})"))
            return
        if names is None:
            common_names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if any(dns_name_matches(str(cn.value), wanted) for cn in common_names):
                findings.append(Finding(WARN, f"host {host} matches only the subject CN: the "
                                              "certificate has no SAN, which strict clients "
                                              "require"))
                return
    findings.append(Finding(FAIL, f"host {host} is not in the SAN ({san_text(leaf)}): clients "
                                  "that check host names refuse it (DCMTK does not check)"))


# --- DCMTK profile rules -----------------------------------------------------------------


def _usable_key_types(prof: profiles.Profile) -> set[str]:
    """Certificate key types a server can use under a profile (suites, plus TLS 1.3)."""
    usable = {"RSA", "EC"} if prof.tls13 else set()
    for suite in profiles.profile_suites(prof):
        if "_ECDSA_" in suite.iana:
            usable.add("EC")
        elif "_DSS_" in suite.iana:
            usable.add("DSA")
        elif suite.iana.startswith(("TLS_RSA_", "TLS_ECDHE_RSA_", "TLS_DHE_RSA_")):
            usable.add("RSA")
    return usable


def _check_profile(path: list[x509.Certificate], role: str | None, profile_key: str,
                   findings: list[Finding]) -> None:
    """Spec 6.6 (own certificate at load time) and 6.10 (peer chain) rules, combined."""
    prof = profiles.profile(profile_key)
    label = f"profile {prof.key} ({prof.short})"
    leaf = path[0]
    problems: list[Finding] = []
    kind, bits = key_kind(leaf.public_key())
    if role != "client":
        usable = _usable_key_types(prof)
        if kind not in usable:
            need = " or ".join(sorted(usable)) or "nothing this OpenSSL supports"
            problems.append(Finding(FAIL, f"{kind} server certificates cannot be used with "
                                          f"{label}: its ciphersuites need {need}"))
    if kind == "DSA":
        if prof.key in ("8996", "8996-mod"):
            problems.append(Finding(FAIL, f"DSA certificate not permitted with {label}: it "
                                          "prevents TLS 1.3"))
        else:
            problems.append(Finding(WARN, "DSA certificate: prevents TLS 1.3, not recommended"))
    for position, cert in enumerate(path):
        who = "certificate" if position == 0 else f"CA certificate '{name_text(cert.subject)}'"
        problems += _key_size_rules(cert, who, prof, label, role)
        problems += _hash_rules(cert, who, prof, label)
    findings += problems
    if not problems:
        findings.append(Finding(OK, f"{kind} {bits}-bit key and signatures acceptable for "
                                    f"{label}"))


def _key_size_rules(cert: x509.Certificate, who: str, prof: profiles.Profile, label: str,
                    role: str | None) -> list[Finding]:
    kind, bits = key_kind(cert.public_key())
    strict = prof.key == "8996-mod"
    if kind == "RSA" and bits < 2048:
        if strict:
            return [Finding(FAIL, f"{who}: RSA key of {bits} bits; {label} requires at least "
                                  "2048")]
        if prof.key == "8996" and role != "client":
            return [Finding(FAIL, f"{who}: RSA key of {bits} bits; with {label} a DCMTK client "
                                  "refuses a server chain with RSA keys under 2048 bits")]
        return [Finding(WARN, f"{who}: RSA key of {bits} bits; RFC 9325 recommends at least "
                              "2048")]
    if kind == "EC" and strict and bits < 256:
        return [Finding(FAIL, f"{who}: ECDSA key of {bits} bits; {label} requires at least 256")]
    if kind == "EC" and bits < 224:
        return [Finding(WARN, f"{who}: ECDSA key of {bits} bits; RFC 9325 recommends at least "
                              "224")]
    return []


def _hash_rules(cert: x509.Certificate, who: str, prof: profiles.Profile,
                label: str) -> list[Finding]:
    der = DerCertificate(cert.public_bytes(Encoding.DER))
    name = der.signature_name
    if der.signature_class == "weak":
        return [Finding(FAIL, f"{who}: weak signature hash ({name}); DCMTK refuses it with "
                              "every profile")]
    if der.signature_class == "other":
        if prof.key == "8996-mod":
            return [Finding(FAIL, f"{who}: signature {name} is not SHA-256 or better, which "
                                  f"{label} requires")]
        return [Finding(WARN, f"{who}: signature {name} is not SHA-256 or better "
                              "(RFC 9325 recommends it; DCMTK warns)")]
    return []


# --- revocation ------------------------------------------------------------------------


def _check_revocation(leaf: x509.Certificate, known: list[x509.Certificate],
                      crl_paths: Sequence[str], now: datetime.datetime,
                      findings: list[Finding]) -> None:
    crls: list[tuple[x509.CertificateRevocationList, str]] = []
    for path in crl_paths:
        try:
            found = read_material(path).crls
        except MaterialError as error:
            findings.append(Finding(FAIL, f"--crl {error}"))
            continue
        if not found:
            findings.append(Finding(FAIL, f"--crl {path}: no CRL in it"))
        crls += [(crl, path) for crl in found]
    relevant = [(crl, path) for crl, path in crls if crl.issuer == leaf.issuer]
    if crls and not relevant:
        findings.append(Finding(FAIL, f"no CRL of '{name_text(leaf.issuer)}' among --crl: DCMTK "
                                      "with +crl fails ('unable to get certificate CRL')"))
    issuers = [cert for cert in known if cert.subject == leaf.issuer]
    for crl, path in relevant:
        if not issuers:
            findings.append(Finding(WARN, f"CRL {path}: signature not checked (the issuer's "
                                          "certificate is not among --ca)"))
        elif not any(signed_by(crl, issuer.public_key()) for issuer in issuers):
            findings.append(Finding(FAIL, f"CRL {path}: signature does not verify with the key "
                                          f"of '{name_text(crl.issuer)}' (DCMTK: 'CRL "
                                          "signature failure')"))
            continue
        if crl.last_update_utc > now:
            findings.append(Finding(FAIL, f"CRL {path} is not yet valid (last update "
                                          f"{time_text(crl.last_update_utc)})"))
            continue
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            findings.append(Finding(FAIL, f"CRL {path} expired on "
                                          f"{time_text(crl.next_update_utc)} (DCMTK: 'CRL has "
                                          "expired')"))
            continue
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        if entry is not None:
            findings.append(Finding(FAIL, f"certificate is revoked since "
                                          f"{time_text(entry.revocation_date_utc)} (CRL {path}) "
                                          "(DCMTK: 'certificate revoked')"))
        else:
            next_update = (time_text(crl.next_update_utc) if crl.next_update_utc
                           else "not set")
            findings.append(Finding(OK, f"not revoked (CRL {path}, next update {next_update})"))
