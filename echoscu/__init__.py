"""echoscu: a drop-in replacement for DCMTK's echoscu (DICOM Verification SCU)."""

__version__ = "0.1.0"
#: release date shown in the DCMTK-shaped version header
__date__ = "2026-11-25"
