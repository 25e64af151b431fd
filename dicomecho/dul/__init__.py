"""dul: the DICOM upper layer, sans-I/O (bytes and events in, bytes and events out)."""
