"""UID tables: transfer syntaxes in DCMTK 3.7.0's ``--propose-ts`` order with DCMTK's
names (for ``-d`` dumps), and the transfer syntaxes pynetdicom's echoscp accepts."""

from __future__ import annotations

VERIFICATION = "1.2.840.10008.1.1"

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"

#: (UID, DCMTK name) in DCMTK 3.7.0's -pts order; -pts n proposes the first n
DCMTK_TRANSFER_SYNTAXES: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2", "LittleEndianImplicit"),
    ("1.2.840.10008.1.2.1", "LittleEndianExplicit"),
    ("1.2.840.10008.1.2.2", "BigEndianExplicit"),
    ("1.2.840.10008.1.2.1.98", "EncapsulatedUncompressedLittleEndianExplicit"),
    ("1.2.840.10008.1.2.4.50", "JPEGBaseline"),
    ("1.2.840.10008.1.2.4.51", "JPEGExtended:Process2+4"),
    ("1.2.840.10008.1.2.4.52", "JPEGExtended:Process3+5"),
    ("1.2.840.10008.1.2.4.53", "JPEGSpectralSelection:Non-hierarchical:Process6+8"),
    ("1.2.840.10008.1.2.4.54", "JPEGSpectralSelection:Non-hierarchical:Process7+9"),
    ("1.2.840.10008.1.2.4.55", "JPEGFullProgression:Non-hierarchical:Process10+12"),
    ("1.2.840.10008.1.2.4.56", "JPEGFullProgression:Non-hierarchical:Process11+13"),
    ("1.2.840.10008.1.2.4.57", "JPEGLossless:Non-hierarchical:Process14"),
    ("1.2.840.10008.1.2.4.58", "JPEGLossless:Non-hierarchical:Process15"),
    ("1.2.840.10008.1.2.4.59", "JPEGExtended:Hierarchical:Process16+18"),
    ("1.2.840.10008.1.2.4.60", "JPEGExtended:Hierarchical:Process17+19"),
    ("1.2.840.10008.1.2.4.61", "JPEGSpectralSelection:Hierarchical:Process20+22"),
    ("1.2.840.10008.1.2.4.62", "JPEGSpectralSelection:Hierarchical:Process21+23"),
    ("1.2.840.10008.1.2.4.63", "JPEGFullProgression:Hierarchical:Process24+26"),
    ("1.2.840.10008.1.2.4.64", "JPEGFullProgression:Hierarchical:Process25+27"),
    ("1.2.840.10008.1.2.4.65", "JPEGLossless:Hierarchical:Process28"),
    ("1.2.840.10008.1.2.4.66", "JPEGLossless:Hierarchical:Process29"),
    ("1.2.840.10008.1.2.4.70", "JPEGLossless:Non-hierarchical-1stOrderPrediction"),
    ("1.2.840.10008.1.2.5", "RLELossless"),
    ("1.2.840.10008.1.2.1.99", "DeflatedLittleEndianExplicit"),
    ("1.2.840.10008.1.2.8.1", "DeflatedImageFrameCompression"),
    ("1.2.840.10008.1.2.4.80", "JPEGLSLossless"),
    ("1.2.840.10008.1.2.4.81", "JPEGLSLossy"),
    ("1.2.840.10008.1.2.4.90", "JPEG2000LosslessOnly"),
    ("1.2.840.10008.1.2.4.91", "JPEG2000"),
    ("1.2.840.10008.1.2.4.92", "JPEG2000MulticomponentLosslessOnly"),
    ("1.2.840.10008.1.2.4.93", "JPEG2000Multicomponent"),
    ("1.2.840.10008.1.2.4.100", "MPEG2MainProfile@MainLevel"),
    ("1.2.840.10008.1.2.4.101", "MPEG2MainProfile@HighLevel"),
    ("1.2.840.10008.1.2.4.102", "MPEG4HighProfile/Level4.1"),
    ("1.2.840.10008.1.2.4.103", "MPEG4BDcompatibleHighProfile/Level4.1"),
    ("1.2.840.10008.1.2.4.104", "MPEG4HighProfile/Level4.2For2DVideo"),
    ("1.2.840.10008.1.2.4.105", "MPEG4HighProfile/Level4.2For3DVideo"),
    ("1.2.840.10008.1.2.4.106", "MPEG4StereoHighProfile/Level4.2"),
    ("1.2.840.10008.1.2.4.107", "HEVCMainProfile/Level5.1"),
    ("1.2.840.10008.1.2.4.108", "HEVCMain10Profile/Level5.1"),
    ("1.2.840.10008.1.2.4.100.1", "FragmentableMPEG2MainProfile/MainLevel"),
    ("1.2.840.10008.1.2.4.101.1", "FragmentableMPEG2MainProfile/HighLevel"),
    ("1.2.840.10008.1.2.4.102.1", "FragmentableMPEG4HighProfile/Level4.1"),
    ("1.2.840.10008.1.2.4.103.1", "FragmentableMPEG4BDcompatibleHighProfile/Level4.1"),
    ("1.2.840.10008.1.2.4.104.1", "FragmentableMPEG4HighProfile/Level4.2For2DVideo"),
    ("1.2.840.10008.1.2.4.105.1", "FragmentableMPEG4HighProfile/Level4.2For3DVideo"),
    ("1.2.840.10008.1.2.4.106.1", "FragmentableMPEG4StereoHighProfile/Level4.2"),
    ("1.2.840.10008.1.2.4.201", "HighThroughputJPEG2000ImageCompressionLosslessOnly"),
    (
        "1.2.840.10008.1.2.4.202",
        "HighThroughputJPEG2000withRPCLOptionsImageCompressionLosslessOnly",
    ),
    ("1.2.840.10008.1.2.4.203", "HighThroughputJPEG2000ImageCompression"),
    ("1.2.840.10008.1.2.4.110", "JPEGXLLossless"),
    ("1.2.840.10008.1.2.4.111", "JPEGXLJPEGRecompression"),
    ("1.2.840.10008.1.2.4.112", "JPEGXL"),
)

#: the largest -pts value DCMTK 3.7.0 accepts
MAX_PROPOSED_TRANSFER_SYNTAXES = len(DCMTK_TRANSFER_SYNTAXES)
