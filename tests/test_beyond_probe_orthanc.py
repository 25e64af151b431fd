"""--probe-sop and --check-find against Orthanc (skipped where it is not installed).

Orthanc 1.10 takes the storage and query/retrieve classes; it answers a C-FIND from
an AE title missing in its ``DicomModalities`` with an A-ABORT unless
``DicomAlwaysAllowFind`` is on: find-refused, as the issue asks.
"""

from __future__ import annotations

import pytest
from support.beyond import echoscu, validated
from support.orthanc import ORTHANC_MISSING, orthanc_installed

HOST = "127.0.0.1"

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not orthanc_installed(), reason=ORTHANC_MISSING),
]


def test_orthanc_takes_storage_and_answers_find(orthanc) -> None:
    port = orthanc({"DicomAlwaysAllowFind": True}).dicom_port
    result = echoscu("--json", "-aec", "ORTHANC", "--probe-sop", "storage", "--probe-sop", "qr",
                     "--check-find", HOST, str(port))
    assert result.returncode == 0, result.stderr
    document = validated(result.stdout)
    assert all(probe["accepted"] for probe in document["probes"]), document["probes"]
    find = document["find"]
    assert (find["outcome"], find["status"], find["matches"]) == ("answered", 0, 0)


def test_orthanc_refuses_find_from_unknown_aet(orthanc) -> None:
    port = orthanc({"DicomAlwaysAllowFind": False}).dicom_port
    result = echoscu("--exit-codes", "detailed", "-aec", "ORTHANC", "--check-find", HOST,
                     str(port))
    assert result.returncode == 20, (result.stdout, result.stderr)
    assert result.stdout == "Find: refused: peer aborted the association during the C-FIND\n"
