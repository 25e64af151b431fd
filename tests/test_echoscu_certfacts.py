"""echoscu.certfacts: the days left of a peer chain, each certificate read once per run."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from certs import der
from echoscu import certfacts


def _der(pem_path: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The DER of every certificate ``certfacts`` parses from now on (an empty cache)."""
    seen: list[bytes] = []
    real = der.Certificate

    def counting(data: bytes) -> der.Certificate:
        seen.append(bytes(data))
        return real(data)

    monkeypatch.setattr(der, "Certificate", counting)
    monkeypatch.setattr(certfacts, "_NOT_AFTER", {})
    return seen


def test_days_left_is_the_earliest_expiry_of_the_chain(pki, parses) -> None:
    chain = [_der(pki.server.cert), _der(pki.ca.cert)]
    days = certfacts.chain_days_left(chain)
    earliest = min(certfacts.not_after(item) for item in chain)
    assert days == int((earliest - time.time()) // 86400)
    assert 363 <= days <= 365  # the test PKI is valid for a year


def test_each_certificate_is_parsed_once_for_a_whole_fleet(pki, parses) -> None:
    leaf, ca = _der(pki.server.cert), _der(pki.ca.cert)
    results = {certfacts.chain_days_left([bytes(leaf), bytes(ca)]) for _ in range(1000)}
    assert len(results) == 1
    assert sorted(parses) == sorted([leaf, ca])


def test_an_unreadable_certificate_has_no_expiry(pki, parses) -> None:
    garbage = b"\x30\x03\x02\x01\x00"
    assert certfacts.not_after(garbage) is None
    assert certfacts.not_after(garbage) is None
    assert parses == [garbage]
    assert certfacts.chain_days_left([garbage]) is None
    # a readable certificate after an unreadable one still counts
    assert certfacts.chain_days_left([garbage, _der(pki.ca.cert)]) is not None


def test_the_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch, parses) -> None:
    monkeypatch.setattr(certfacts, "_NOT_AFTER_MAX", 4)
    for number in range(10):
        certfacts.not_after(b"\x30\x03\x02\x01" + bytes([number]))
    assert len(certfacts._NOT_AFTER) <= 4
