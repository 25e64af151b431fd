"""echoscu: a drop-in replacement for DCMTK's echoscu (DICOM Verification SCU)."""
