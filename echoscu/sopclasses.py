"""SOP class and transfer syntax keywords (pydicom's UID table) for ``--probe-sop``.

Imported only when a probe is asked for or named: pydicom costs a plain echo nothing.
``parse_probe`` reads ``CLASS[:TS,...]`` (UIDs, pydicom keywords, or a named set such
as ``storage``) and raises ValueError with a DCMTK-style message for the command line.
"""

from __future__ import annotations

import re

from echoscu.probe import DEFAULT_TRANSFER_SYNTAXES

#: a UID: dot-separated numbers without leading zeros, at most 64 characters
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\Z")
_UID_MAX = 64
_SOP_CLASS_TYPES = ("SOP Class", "Meta SOP Class")

#: named sets of SOP classes (keywords) for the usual questions
NAMED_SETS = {
    # "will this archive take my CT/MR/US/...?": the common image storage classes
    "storage": (
        "CTImageStorage", "EnhancedCTImageStorage", "MRImageStorage", "EnhancedMRImageStorage",
        "UltrasoundImageStorage", "UltrasoundMultiFrameImageStorage",
        "ComputedRadiographyImageStorage", "DigitalXRayImageStorageForPresentation",
        "DigitalMammographyXRayImageStorageForPresentation", "XRayAngiographicImageStorage",
        "NuclearMedicineImageStorage", "PositronEmissionTomographyImageStorage",
        "SecondaryCaptureImageStorage",
    ),
    # "can I query and retrieve?": Patient and Study Root FIND, MOVE, GET
    "qr": (
        "PatientRootQueryRetrieveInformationModelFind",
        "PatientRootQueryRetrieveInformationModelMove",
        "PatientRootQueryRetrieveInformationModelGet",
        "StudyRootQueryRetrieveInformationModelFind",
        "StudyRootQueryRetrieveInformationModelMove",
        "StudyRootQueryRetrieveInformationModelGet",
    ),
}

_tables: tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str, str]]] | None = None


def _load() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str, str]]]:
    """(keyword -> (UID, type), UID -> (keyword, name, type)) from pydicom's UID table."""
    global _tables
    if _tables is None:
        from pydicom.uid import UID_dictionary  # the public module's table (2.4 to 3.x)

        by_keyword: dict[str, tuple[str, str]] = {}
        by_uid: dict[str, tuple[str, str, str]] = {}
        for uid, entry in UID_dictionary.items():
            name, kind, keyword = entry[0], entry[1], entry[4] if len(entry) > 4 else ""
            by_uid[uid] = (keyword, name, kind)
            if keyword:
                by_keyword[keyword] = (uid, kind)
        _tables = by_keyword, by_uid
    return _tables


def is_uid(text: str) -> bool:
    """True if ``text`` is a syntactically valid UID."""
    return len(text) <= _UID_MAX and _UID.match(text) is not None


def sop_class_uid(text: str) -> str:
    """A SOP class given as UID or keyword; ValueError("unknown SOP class keyword 'X'")."""
    if is_uid(text):
        return text
    found = _load()[0].get(text)
    if found is None or found[1] not in _SOP_CLASS_TYPES:
        raise ValueError(f"unknown SOP class keyword '{text}'")
    return found[0]


def transfer_syntax_uid(text: str) -> str:
    """A transfer syntax given as UID or keyword; ValueError if unknown."""
    if is_uid(text):
        return text
    found = _load()[0].get(text)
    if found is None or found[1] != "Transfer Syntax":
        raise ValueError(f"unknown transfer syntax keyword '{text}'")
    return found[0]


def parse_probe(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``CLASS[:TS,...]`` -> [(SOP class UID, transfer syntax UIDs)], one per class (a named
    set gives several); the default syntaxes are Implicit and Explicit VR Little Endian."""
    name, colon, syntax_text = text.partition(":")
    if not name:
        raise ValueError(f"no SOP class in '{text}'")
    if colon:
        words = syntax_text.split(",")
        if not all(words):
            raise ValueError(f"empty transfer syntax in '{text}'")
        syntaxes = tuple(transfer_syntax_uid(word) for word in words)
    else:
        syntaxes = DEFAULT_TRANSFER_SYNTAXES
    classes = NAMED_SETS.get(name, (name,))
    return [(sop_class_uid(member), syntaxes) for member in classes]


def keyword(uid: str) -> str:
    """pydicom's keyword for ``uid`` (or its name, or the UID itself if unknown)."""
    found = _load()[1].get(uid)
    if found is None:
        return uid
    return found[0] or found[1]


def name(uid: str) -> str:
    """pydicom's name for ``uid`` ("Explicit VR Little Endian"), or the UID if unknown."""
    found = _load()[1].get(uid)
    return found[1] if found is not None else uid
