"""Which error OpenSSL gives for an encrypted PEM key and a wrong pass phrase.

OpenSSL decrypts the key and checks the PKCS#7 padding: wrong padding is "bad
decrypt". About one wrong pass phrase in 256 still yields valid padding; OpenSSL then
fails on the decrypted content instead ("unsupported"). ``cryptography`` reports both
as one ValueError, so the key loader asks here which of the two DCMTK would print.
Only the schemes OpenSSL writes by default are followed (PKCS#8 PBES2 with PBKDF2, and
the traditional ``DEK-Info`` header, with AES-CBC); for others the answer is None.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from certs.der import DerError, children, decode_oid, read_tlv

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
#: PBKDF2's pseudo-random functions: OID -> hashlib name (hmacWithSHA1 is the default)
_PRFS = {"1.2.840.113549.2.7": "sha1", "1.2.840.113549.2.8": "sha224",
         "1.2.840.113549.2.9": "sha256", "1.2.840.113549.2.10": "sha384",
         "1.2.840.113549.2.11": "sha512"}
#: AES-CBC: OID -> key length in bytes
_AES_CBC = {"2.16.840.1.101.3.4.1.2": 16, "2.16.840.1.101.3.4.1.22": 24,
            "2.16.840.1.101.3.4.1.42": 32}
#: the traditional header's cipher names -> key length in bytes
_DEK_AES = {"AES-128-CBC": 16, "AES-192-CBC": 24, "AES-256-CBC": 32}


def decrypts_to_valid_padding(pem: bytes, secret: bytes) -> bool | None:
    """True if ``secret`` decrypts the encrypted key in ``pem`` to validly padded bytes
    (OpenSSL then reports the content), False if the padding is wrong ("bad decrypt"),
    None where the scheme or the file is not one followed here."""
    try:
        if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in pem:
            key, iv, data = _pkcs8_parameters(pem, secret)
        elif b"Proc-Type: 4,ENCRYPTED" in pem:
            key, iv, data = _traditional_parameters(pem, secret)
        else:
            return None
    except (DerError, ValueError, KeyError, IndexError):
        return None
    if not data or len(data) % 16:
        return None
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    return 1 <= pad <= 16 and plain[-pad:] == bytes((pad,)) * pad


def _pem_body(pem: bytes, label: bytes) -> tuple[list[bytes], bytes]:
    """The header lines and the decoded body of the first ``label`` block."""
    begin = b"-----BEGIN " + label + b"-----"
    start = pem.index(begin) + len(begin)
    end = pem.index(b"-----END " + label + b"-----", start)
    lines = pem[start:end].strip().splitlines()
    headers = [line for line in lines if b":" in line]
    body = b"".join(line.strip() for line in lines if b":" not in line)
    return headers, base64.b64decode(body, validate=True)


def _pkcs8_parameters(pem: bytes, secret: bytes) -> tuple[bytes, bytes, bytes]:
    """Key, IV and ciphertext of a PKCS#8 EncryptedPrivateKeyInfo (PBES2, PBKDF2, AES)."""
    _, der = _pem_body(pem, b"ENCRYPTED PRIVATE KEY")
    _, start, end = read_tlv(der, 0)
    algorithm, encrypted = children(der, start, end)
    oid, params = children(der, algorithm[1], algorithm[2])
    if decode_oid(der[oid[1]:oid[2]]) != _PBES2:
        raise ValueError("not PBES2")
    kdf, scheme = children(der, params[1], params[2])
    kdf_oid, kdf_params = children(der, kdf[1], kdf[2])
    if decode_oid(der[kdf_oid[1]:kdf_oid[2]]) != _PBKDF2:
        raise ValueError("not PBKDF2")
    fields = children(der, kdf_params[1], kdf_params[2])
    salt = der[fields[0][1]:fields[0][2]]
    iterations = int.from_bytes(der[fields[1][1]:fields[1][2]], "big")
    prf = "sha1"
    for tag, cstart, cend, _ in fields[2:]:
        if tag == 0x30:  # AlgorithmIdentifier of the PRF (a keyLength INTEGER is 0x02)
            prf_oid = children(der, cstart, cend)[0]
            prf = _PRFS[decode_oid(der[prf_oid[1]:prf_oid[2]])]
    cipher_oid, iv = children(der, scheme[1], scheme[2])
    length = _AES_CBC[decode_oid(der[cipher_oid[1]:cipher_oid[2]])]
    key = hashlib.pbkdf2_hmac(prf, secret, salt, iterations, length)
    return key, der[iv[1]:iv[2]], der[encrypted[1]:encrypted[2]]


def _traditional_parameters(pem: bytes, secret: bytes) -> tuple[bytes, bytes, bytes]:
    """Key, IV and ciphertext of a traditional encrypted PEM key (``DEK-Info``, AES):
    OpenSSL's EVP_BytesToKey with MD5, one round, the IV's first 8 bytes as salt. The
    key's block is the one with the ``Proc-Type`` header (a certificate may come first)."""
    begin = pem.rindex(b"-----BEGIN ", 0, pem.index(b"Proc-Type: 4,ENCRYPTED"))
    label = pem[begin + 11:].split(b"-----", 1)[0]
    headers, data = _pem_body(pem[begin:], label)
    info = [line for line in headers if line.startswith(b"DEK-Info:")]
    name, iv_hex = info[0].split(b":", 1)[1].strip().split(b",")
    length = _DEK_AES[name.decode("ascii")]
    iv = binascii.unhexlify(iv_hex.strip())
    key = b""
    block = b""
    while len(key) < length:
        block = hashlib.md5(block + secret + iv[:8], usedforsecurity=False).digest()
        key += block
    return key[:length], iv, data
