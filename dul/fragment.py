"""P-DATA fragmentation of DIMSE messages under the peer's max PDU, and reassembly of
received PDV fragments into whole command / data set messages."""

from __future__ import annotations

from dul.dimse import command_has_dataset
from dul.pdu import PDV, PDV_COMMAND, PDV_LAST, PDUError, encode_pdv

#: bytes of a one-PDV P-DATA-TF PDU that are not PDV data: PDU header (6), PDV
#: length (4), context ID and message control header (2). DCMTK counts the same.
PDU_OVERHEAD = 12

DEFAULT_MAX_COMMAND_LENGTH = 1 << 16
DEFAULT_MAX_DATASET_LENGTH = 1 << 26


class MaxPDUTooSmallError(ValueError):
    """The peer's max PDU length leaves no room for PDV data (it is 1..12)."""

    def __init__(self, max_pdu: int) -> None:
        super().__init__(
            f"peer's maximum PDU length {max_pdu} cannot carry any data "
            f"(a P-DATA-TF PDU needs {PDU_OVERHEAD} bytes besides its data)"
        )
        self.max_pdu = max_pdu


class FragmentError(PDUError):
    """PDV fragments that do not form a message (order, context change, size).

    A PDUError, unlike ``dimse.DIMSEError``: how PDVs follow each other (the message
    control header, one context per message) is upper-layer protocol (PS3.8 E.2), so
    a breach is a fault of the P-DATA-TF PDUs that carried them; the machine reports
    it as ``ProtocolViolation`` and aborts, like any malformed PDU.
    """


def _pdvs(context_id: int, control: int, payload: bytes, chunk: int) -> list[bytes]:
    """One-PDV P-DATA-TF PDUs for ``payload``; ``control`` is 0 (data) or PDV_COMMAND."""
    size = len(payload)
    return [
        encode_pdv(context_id, control | PDV_LAST if start + chunk >= size else control,
                   payload[start : start + chunk])
        for start in range(0, size, chunk)
    ]


def fragment(context_id: int, command: bytes, dataset: bytes | None, max_pdu: int) -> bytes:
    """The P-DATA-TF PDUs carrying a message, one PDV per PDU, concatenated.

    Each PDU is at most ``max_pdu`` bytes long, header included (0 = unlimited).
    Raises MaxPDUTooSmallError if ``max_pdu`` is 1..12 and ValueError for an empty
    command or data set (every PDV carries at least one byte).
    """
    if max_pdu < 0:
        raise ValueError(f"negative maximum PDU length {max_pdu}")
    if 0 < max_pdu <= PDU_OVERHEAD:
        raise MaxPDUTooSmallError(max_pdu)
    if not command:
        raise ValueError("empty command set")
    if dataset is not None and not dataset:
        raise ValueError("empty data set (pass None for no data set)")
    if dataset is None and (not max_pdu or len(command) + PDU_OVERHEAD <= max_pdu):
        # the common case (every C-ECHO): one PDU, one PDV, no list, no join
        return encode_pdv(context_id, PDV_COMMAND | PDV_LAST, command)
    chunk = max_pdu - PDU_OVERHEAD if max_pdu else max(len(command), len(dataset or b""))
    pdus = _pdvs(context_id, PDV_COMMAND, command, chunk)
    if dataset is not None:
        pdus += _pdvs(context_id, 0, dataset, chunk)
    return b"".join(pdus)


class MessageAssembler:
    """Collects PDVs into messages: a command, then its data set if it announces one.

    ``add`` returns (context ID, command, data set or None) when a message is whole,
    else None; it raises FragmentError when fragments break the rules of PS3.7/3.8
    (data before command, context ID change, command after command, size limits).
    Held memory is bounded by the size limits, whatever the number of fragments.
    """

    __slots__ = (
        "max_command_length",
        "max_dataset_length",
        "_context_id",
        "_command",
        "_command_done",
        "_dataset",
        "_size",
    )

    def __init__(
        self,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
        max_dataset_length: int = DEFAULT_MAX_DATASET_LENGTH,
    ) -> None:
        self.max_command_length = max_command_length
        self.max_dataset_length = max_dataset_length
        self._reset()

    def _reset(self) -> None:
        self._context_id: int | None = None
        self._command: list[bytes] = []
        self._command_done: bytes | None = None
        self._dataset: list[bytes] = []
        self._size = 0

    @property
    def idle(self) -> bool:
        """True between messages (no fragment of an unfinished message held)."""
        return self._context_id is None

    def add(self, pdv: PDV) -> tuple[int, bytes, bytes | None] | None:
        """Take one PDV; return the whole message it completes, if any."""
        context_id = pdv.context_id
        if self._context_id is None:
            if not pdv.is_command:
                raise FragmentError(
                    f"data set fragment on presentation context {context_id} before any command"
                )
            self._context_id = context_id
        elif context_id != self._context_id:
            raise FragmentError(
                f"presentation context ID changed from {self._context_id} to {context_id} "
                "in the middle of a message"
            )
        if pdv.is_command:
            if self._command_done is not None:
                raise FragmentError(
                    f"command fragment on presentation context {context_id} "
                    "while the data set was expected"
                )
            if pdv.data:  # empty fragments are not kept: memory follows the byte count
                self._command.append(pdv.data)
                self._size += len(pdv.data)
            if self._size > self.max_command_length:
                raise FragmentError(f"command set longer than {self.max_command_length} bytes")
            if not pdv.is_last:
                return None
            command = b"".join(self._command)
            if command_has_dataset(command):
                self._command_done = command
                self._size = 0
                return None
            self._reset()
            return context_id, command, None
        if self._command_done is None:
            raise FragmentError(
                f"data set fragment on presentation context {context_id} "
                "before the command was complete"
            )
        if pdv.data:
            self._dataset.append(pdv.data)
            self._size += len(pdv.data)
        if self._size > self.max_dataset_length:
            raise FragmentError(f"data set longer than {self.max_dataset_length} bytes")
        if not pdv.is_last:
            return None
        command, dataset = self._command_done, b"".join(self._dataset)
        self._reset()
        return context_id, command, dataset
