"""A small DER reader for X.509 certificates: just what DCMTK's checks and dumps look at.

Importing ``cryptography`` costs about 90 ms, more than a whole DCMTK echo, so the
hot path (own-certificate checks, peer checks, the ``-d`` dump, hashed-directory
names) reads certificates with this module instead. Malformed input raises DerError.
"""

from __future__ import annotations


class DerError(ValueError):
    """The bytes are not the DER structure that was expected."""


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one TLV at ``pos``: returns (tag byte, content start, content end)."""
    if pos + 2 > len(data):
        raise DerError("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte DER tags are not supported")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("DER length beyond the end of the data")
    return tag, pos, end


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The TLVs inside [start, end): (tag, content start, content end, element start)."""
    result = []
    pos = start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos)
        result.append((tag, cstart, cend, pos))
        pos = cend
    if pos != end:
        raise DerError("DER elements overrun their container")
    return result


def encode_tlv(tag: int, content: bytes) -> bytes:
    """DER-encode one element."""
    length = len(content)
    if length < 0x80:
        header = bytes((tag, length))
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")
    return header + content


def decode_oid(content: bytes) -> str:
    """Dotted text of an OBJECT IDENTIFIER's content bytes."""
    if not content:
        raise DerError("empty OID")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def _unsigned_bits(content: bytes) -> int:
    return int.from_bytes(content, "big").bit_length()


# OpenSSL short names of name attributes (X509_NAME_oneline prints these)
_ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C",
    "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU",
    "2.5.4.12": "title", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
    "2.5.4.41": "name", "2.5.4.42": "GN", "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier", "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier", "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
}

# signature algorithm OID -> (OpenSSL short name, class): "weak" (MD2/4/5; DCMTK's
# blacklist name), "secure" (SHA-2/SHA-3 >= 256 family), "other" (e.g. SHA-1)
_SIGNATURES = {
    "1.2.840.113549.1.1.2": ("MD2", "weak"),
    "1.2.840.113549.1.1.3": ("MD4", "weak"),
    "1.2.840.113549.1.1.4": ("MD5", "weak"),
    "1.3.14.3.2.3": ("MD5", "weak"),
    "1.2.840.113549.1.1.5": ("RSA-SHA1", "other"),
    "1.3.14.3.2.29": ("RSA-SHA1-2", "other"),
    "1.2.840.113549.1.1.14": ("RSA-SHA224", "other"),
    "1.2.840.113549.1.1.11": ("RSA-SHA256", "secure"),
    "1.2.840.113549.1.1.12": ("RSA-SHA384", "secure"),
    "1.2.840.113549.1.1.13": ("RSA-SHA512", "secure"),
    "1.2.840.113549.1.1.15": ("RSA-SHA512/224", "other"),
    "1.2.840.113549.1.1.16": ("RSA-SHA512/256", "secure"),
    "1.2.840.113549.1.1.10": ("RSASSA-PSS", "other"),
    "2.16.840.1.101.3.4.3.13": ("id-rsassa-pkcs1-v1_5-with-sha3-224", "other"),
    "2.16.840.1.101.3.4.3.14": ("id-rsassa-pkcs1-v1_5-with-sha3-256", "secure"),
    "2.16.840.1.101.3.4.3.15": ("id-rsassa-pkcs1-v1_5-with-sha3-384", "secure"),
    "2.16.840.1.101.3.4.3.16": ("id-rsassa-pkcs1-v1_5-with-sha3-512", "secure"),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "other"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "other"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "secure"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "secure"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "secure"),
    "2.16.840.1.101.3.4.3.9": ("id-ecdsa-with-sha3-224", "other"),
    "2.16.840.1.101.3.4.3.10": ("id-ecdsa-with-sha3-256", "secure"),
    "2.16.840.1.101.3.4.3.11": ("id-ecdsa-with-sha3-384", "secure"),
    "2.16.840.1.101.3.4.3.12": ("id-ecdsa-with-sha3-512", "secure"),
    "1.2.840.10040.4.3": ("DSA-SHA1", "other"),
    "1.3.14.3.2.27": ("DSA-SHA1-old", "other"),
    "2.16.840.1.101.3.4.3.1": ("dsa_with_SHA224", "other"),
    "2.16.840.1.101.3.4.3.2": ("dsa_with_SHA256", "secure"),
    "2.16.840.1.101.3.4.3.3": ("id-dsa-with-sha384", "secure"),
    "2.16.840.1.101.3.4.3.4": ("id-dsa-with-sha512", "secure"),
    "2.16.840.1.101.3.4.3.5": ("id-dsa-with-sha3-224", "other"),
    "2.16.840.1.101.3.4.3.6": ("id-dsa-with-sha3-256", "secure"),
    "2.16.840.1.101.3.4.3.7": ("id-dsa-with-sha3-384", "secure"),
    "2.16.840.1.101.3.4.3.8": ("id-dsa-with-sha3-512", "secure"),
    "1.3.101.112": ("ED25519", "other"),
    "1.3.101.113": ("ED448", "other"),
}

# named curve OID -> key bits (EVP_PKEY_bits: the bit length of the group order)
_CURVE_BITS = {
    "1.2.840.10045.3.1.1": 192, "1.3.132.0.33": 224, "1.2.840.10045.3.1.7": 256,
    "1.3.132.0.34": 384, "1.3.132.0.35": 521, "1.3.132.0.10": 256, "1.3.132.0.31": 192,
    "1.3.132.0.32": 225, "1.3.36.3.3.2.8.1.1.7": 256, "1.3.36.3.3.2.8.1.1.11": 384,
    "1.3.36.3.3.2.8.1.1.13": 512, "1.3.132.0.16": 281, "1.3.132.0.17": 282,
    "1.3.132.0.36": 407, "1.3.132.0.37": 409, "1.3.132.0.38": 570, "1.3.132.0.39": 570,
}

# public key algorithm OID -> (DCMTK 3.7.0 dump name, OpenSSL type)
_KEY_TYPES = {
    "1.2.840.113549.1.1.1": "RSA", "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10040.4.1": "DSA", "1.2.840.10046.2.1": "DH", "1.2.840.113549.1.3.1": "DH",
    "1.2.840.10045.2.1": "EC", "1.3.101.112": "ED25519", "1.3.101.113": "ED448",
    "1.3.101.110": "X25519", "1.3.101.111": "X448",
}
_FIXED_KEY_BITS = {"ED25519": 253, "ED448": 456, "X25519": 253, "X448": 448}


class Certificate:
    """The fields of one DER certificate that DCMTK's TLS layer inspects."""

    def __init__(self, der: bytes) -> None:
        tag, cstart, cend = read_tlv(der, 0)
        der = der[:cend]  # DER files may carry trailing bytes; OpenSSL reads one object
        self.der = der
        parts = children(der, cstart, cend)
        if tag != 0x30 or [part[0] for part in parts] != [0x30, 0x30, 0x03]:
            raise DerError("not a certificate")
        tbs = children(der, parts[0][1], parts[0][2])
        offset = 0
        self.version = 1
        if tbs and tbs[0][0] == 0xA0:
            version_tlv = children(der, tbs[0][1], tbs[0][2])[0]
            self.version = int.from_bytes(der[version_tlv[1]:version_tlv[2]], "big") + 1
            offset = 1
        fields = tbs[offset:offset + 6]
        if [field[0] for field in fields] != [0x02, 0x30, 0x30, 0x30, 0x30, 0x30]:
            raise DerError("not a certificate")
        serial, _sig, issuer, validity, subject, spki = fields
        self.serial = int.from_bytes(der[serial[1]:serial[2]], "big", signed=True)
        self.issuer_der = der[issuer[3]:issuer[2]]
        self.subject_der = der[subject[3]:subject[2]]
        times = children(der, validity[1], validity[2])
        self.not_before = (times[0][0], der[times[0][1]:times[0][2]].decode("ascii"))
        self.not_after = (times[1][0], der[times[1][1]:times[1][2]].decode("ascii"))
        algorithm = children(der, parts[1][1], parts[1][2])
        self.signature_oid = decode_oid(der[algorithm[0][1]:algorithm[0][2]])
        self.key_type, self.key_bits = self._public_key(spki)

    def _public_key(self, spki: tuple[int, int, int, int]) -> tuple[str, int]:
        der = self.der
        algorithm, bit_string = children(der, spki[1], spki[2])[:2]
        fields = children(der, algorithm[1], algorithm[2])
        oid = decode_oid(der[fields[0][1]:fields[0][2]])
        key_type = _KEY_TYPES.get(oid, "unknown")
        key = der[bit_string[1] + 1:bit_string[2]]
        if key_type in ("RSA", "RSA-PSS"):
            _, mstart, mend = read_tlv(key, read_tlv(key, 0)[1])
            return key_type, _unsigned_bits(key[mstart:mend])
        if key_type in ("DSA", "DH") and len(fields) > 1 and fields[1][0] == 0x30:
            prime = children(der, fields[1][1], fields[1][2])[0]
            return key_type, _unsigned_bits(der[prime[1]:prime[2]])
        if key_type == "EC" and len(fields) > 1 and fields[1][0] == 0x06:
            return key_type, _CURVE_BITS.get(decode_oid(der[fields[1][1]:fields[1][2]]), 0)
        return key_type, _FIXED_KEY_BITS.get(key_type, 0)

    @property
    def signature_name(self) -> str:
        """OpenSSL's short name of the signature algorithm ("UNDEF" if unknown to us)."""
        return _SIGNATURES.get(self.signature_oid, ("UNDEF", "other"))[0]

    @property
    def signature_class(self) -> str:
        """"weak" (MD2/MD4/MD5), "secure" (SHA-2/SHA-3, 256 bits or more) or "other"."""
        return _SIGNATURES.get(self.signature_oid, ("UNDEF", "other"))[1]


#: certificates parsed by ``parsed_certificate``, by their DER (bounded; see there)
_PARSED: dict[bytes, Certificate] = {}
_PARSED_MAX = 256


def parsed_certificate(data: bytes) -> Certificate:
    """``Certificate(data)``, parsed once per distinct DER and then reused.

    A fleet check (``--peers``) or a TLS server verifies the same CA certificates, and
    often the same peer certificate, on every connection: parsing them each time was
    0.35 ms of a TLS echo's client CPU in a 1000-peer check (issue #17). A Certificate is
    never changed once built, so sharing one is safe; the cache holds at most
    ``_PARSED_MAX`` entries (emptied when full) and raises DerError as the class does.
    """
    certificate = _PARSED.get(data)
    if certificate is None:
        certificate = Certificate(data)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[bytes(data)] = certificate
    return certificate


def extension_value(certificate_der: bytes, oid: str) -> bytes | None:
    """The extnValue (the OCTET STRING's content) of extension ``oid`` of a DER certificate,
    None if the certificate has no such extension (or is v1/v2, without extensions)."""
    tag, start, end = read_tlv(certificate_der, 0)
    parts = children(certificate_der, start, end)
    if tag != 0x30 or not parts or parts[0][0] != 0x30:
        raise DerError("not a certificate")
    tbs = children(certificate_der, parts[0][1], parts[0][2])
    # TBSCertificate: [0] version, serial, ..., spki, [1] and [2] unique IDs, [3] extensions
    wrapper = next((field for field in tbs if field[0] == 0xA3), None)
    if wrapper is None:
        return None
    _, seq_start, seq_end = read_tlv(certificate_der, wrapper[1])
    for _, estart, eend, _ in children(certificate_der, seq_start, seq_end):
        fields = children(certificate_der, estart, eend)
        if not fields or fields[0][0] != 0x06 or fields[-1][0] != 0x04:
            raise DerError("malformed extension")
        if decode_oid(certificate_der[fields[0][1]:fields[0][2]]) == oid:
            return certificate_der[fields[-1][1]:fields[-1][2]]
    return None


def load_pem_certificates(text: bytes) -> list[bytes]:
    """DER bytes of every ``CERTIFICATE`` block of a PEM file, in file order."""
    import binascii

    result = []
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    pos = 0
    while True:
        start = text.find(begin, pos)
        if start < 0:
            return result
        stop = text.find(end, start)
        if stop < 0:
            return result
        try:
            result.append(binascii.a2b_base64(text[start + len(begin):stop]))
        except binascii.Error:
            return result
        pos = stop + len(end)


def _name_entries(name_der: bytes) -> list[list[tuple[bytes, int, bytes]]]:
    """RDNs of a Name: per RDN a list of (OID TLV bytes, value tag, value bytes)."""
    _, start, end = read_tlv(name_der, 0)
    rdns = []
    for _tag, sstart, send, _ in children(name_der, start, end):
        entries = []
        for _t, astart, aend, _ in children(name_der, sstart, send):
            oid, value = children(name_der, astart, aend)[:2]
            entries.append((name_der[oid[3]:oid[2]], value[0], name_der[value[1]:value[2]]))
        rdns.append(entries)
    return rdns


def name_oneline(name_der: bytes) -> str:
    """The name as OpenSSL's X509_NAME_oneline prints it: ``/C=DE/O=x/CN=y``."""
    out = []
    for rdn in _name_entries(name_der):
        for oid_tlv, tag, value in rdn:
            _, ostart, oend = read_tlv(oid_tlv, 0)
            oid = decode_oid(oid_tlv[ostart:oend])
            if tag == 0x1E and len(value) % 2 == 0:  # BMPString: OpenSSL keeps the low bytes
                value = value[1::2] if not any(value[0::2]) else value
            elif tag == 0x1C and len(value) % 4 == 0:  # UniversalString
                value = value[3::4] if not any(b for i, b in enumerate(value) if i % 4 != 3) \
                    else value
            text = "".join(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02X}" for b in value)
            out.append(f"/{_ATTRIBUTE_NAMES.get(oid, oid)}={text}")
    return "".join(out)


_CANON_TAGS = {0x0C: "utf-8", 0x13: "latin-1", 0x14: "latin-1", 0x16: "latin-1",
               0x1A: "latin-1", 0x1E: "utf-16-be", 0x1C: "utf-32-be"}
_SPACE = b" \t\n\v\f\r"


def _canonical_value(tag: int, value: bytes) -> tuple[int, bytes]:
    if tag not in _CANON_TAGS:
        return tag, value
    text = value.decode(_CANON_TAGS[tag], errors="replace").encode("utf-8")
    text = text.strip(_SPACE)
    out = bytearray()
    previous_space = False
    for byte in text:
        if byte in _SPACE:
            if not previous_space:
                out.append(0x20)
            previous_space = True
            continue
        previous_space = False
        out.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
    return 0x0C, bytes(out)


def canonical_name(name_der: bytes) -> bytes:
    """OpenSSL's canonical encoding of a Name, the one X509_NAME_cmp compares: string
    values as lower-cased, space-collapsed UTF8String, RDN sets without the outer
    SEQUENCE. Two names are the same to OpenSSL when these bytes are equal."""
    canonical = bytearray()
    for rdn in _name_entries(name_der):
        entries = sorted(
            encode_tlv(0x30, oid_tlv + encode_tlv(*_canonical_value(tag, value)))
            for oid_tlv, tag, value in rdn)
        canonical += encode_tlv(0x31, b"".join(entries))
    return bytes(canonical)


def name_hash(name_der: bytes) -> str:
    """OpenSSL's X509_NAME_hash (``openssl x509 -hash``) as 8 lower-case hex digits:
    SHA-1 over ``canonical_name``, first 4 bytes little-endian."""
    import hashlib

    digest = hashlib.sha1(canonical_name(name_der)).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def utctime_text(time: tuple[int, str]) -> str:
    """A validity time as DCMTK <= 3.7.0 prints it (ASN1_UTCTIME_print): ``Nov 25 11:10:28 2026
    GMT``; empty for a GeneralizedTime (years >= 2050), which that function refuses."""
    tag, text = time
    if tag != 0x17 or len(text) < 10:
        return ""
    year = int(text[0:2])
    year += 1900 if year >= 50 else 2000
    month, day, hour, minute = (int(text[i:i + 2]) for i in (2, 4, 6, 8))
    second = int(text[10:12]) if len(text) >= 12 and text[10:12].isdigit() else 0
    zone = " GMT" if text.endswith("Z") else ""
    return f"{_MONTHS[month - 1]} {day:2d} {hour:02d}:{minute:02d}:{second:02d} {year}{zone}"
