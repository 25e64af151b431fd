"""The answer to an A-ASSOCIATE-RQ: a rejection, or an acceptance context by context.

Verification contexts are accepted on the first of *our* transfer syntaxes the
peer proposed (the acceptor's order wins, as in pynetdicom); every other abstract
syntax is refused with result 3, and the association is still accepted.
"""

from __future__ import annotations

from dicomecho import IMPLEMENTATION_CLASS_UID, implementation_version_name
from dul.pdu import (
    DEFAULT_APPLICATION_CONTEXT,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PresentationContextAC,
    UserInformation,
    encode,
)
from dul.uids import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION
from echoscp.options import (
    CALLED_AET_REJECTION,
    CALLING_AET_REJECTION,
    LIMIT_REJECTION,
    ServerOptions,
)

IMPLEMENTATION_VERSION_NAME = implementation_version_name("echoscp")

#: (result, source, reason) for an application context other than DICOM's
APPLICATION_CONTEXT_REJECTION = (1, 1, 2)
#: (result, source, reason) for a protocol version without bit 0 set
PROTOCOL_VERSION_REJECTION = (1, 2, 2)

ACCEPTANCE = 0
ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


def rejection(rq: AssociateRQ, opts: ServerOptions, busy: bool) -> AssociateRJ | None:
    """The A-ASSOCIATE-RJ for ``rq``, or None to accept; ``busy`` = the cap is reached."""
    reason = None
    if busy:
        reason = LIMIT_REJECTION
    elif opts.reject is not None:
        reason = opts.reject
    elif not rq.protocol_version & 1:
        reason = PROTOCOL_VERSION_REJECTION
    elif rq.application_context != DEFAULT_APPLICATION_CONTEXT:
        reason = APPLICATION_CONTEXT_REJECTION
    elif opts.require_calling_aets and rq.calling_ae.strip(" ") not in opts.require_calling_aets:
        reason = CALLING_AET_REJECTION
    elif opts.require_called_aet and rq.called_ae.strip(" ") != opts.ae_title.strip(" "):
        reason = CALLED_AET_REJECTION
    return AssociateRJ(*reason) if reason else None


def acceptance(rq: AssociateRQ, opts: ServerOptions) -> AssociateAC:
    """The A-ASSOCIATE-AC for ``rq``: a result for every proposed context, our identity."""
    contexts = []
    for ctx in rq.contexts:
        fallback = ctx.transfer_syntaxes[0] if ctx.transfer_syntaxes else IMPLICIT_VR_LITTLE_ENDIAN
        if ctx.abstract_syntax != VERIFICATION:
            contexts.append(PresentationContextAC(ctx.id, ABSTRACT_SYNTAX_NOT_SUPPORTED, fallback))
            continue
        chosen = next((ts for ts in opts.transfer_syntaxes if ts in ctx.transfer_syntaxes), None)
        if chosen is None:
            contexts.append(
                PresentationContextAC(ctx.id, TRANSFER_SYNTAXES_NOT_SUPPORTED, fallback))
        else:
            contexts.append(PresentationContextAC(ctx.id, ACCEPTANCE, chosen))
    info = UserInformation(
        max_pdu=opts.max_pdu,
        implementation_class_uid=IMPLEMENTATION_CLASS_UID,
        implementation_version_name=IMPLEMENTATION_VERSION_NAME,
    )
    return AssociateAC(rq.called_ae, rq.calling_ae, contexts, info, rq.application_context)


def accepted_contexts(ac: AssociateAC) -> frozenset[int]:
    """IDs of the contexts accepted (all of them Verification)."""
    return frozenset(ctx.id for ctx in ac.contexts if ctx.result == ACCEPTANCE)


class Answers:
    """Our acceptance, encoded, per distinct A-ASSOCIATE-RQ PDU (issue #17, T5).

    Building and encoding the A-ASSOCIATE-AC was about a tenth of an association's
    CPU, and clients repeat the same request byte for byte. The key is the whole
    request PDU: calling and called AE, contexts, max PDU, user identity, extended
    negotiation all change it; our side of the answer (``opts``) is fixed for the
    cache's life. Rejections are decided afresh for every request (the association
    cap changes). At most ``size`` answers, the oldest forgotten first; requests
    longer than ``max_length`` are negotiated every time.
    """

    __slots__ = ("opts", "size", "max_length", "_kept")

    def __init__(self, opts: ServerOptions, size: int = 32, max_length: int = 8192) -> None:
        self.opts = opts
        self.size = size
        self.max_length = max_length
        self._kept: dict[bytes, tuple[AssociateAC, bytes, frozenset[int]]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, raw: bytes, rq: AssociateRQ) -> tuple[AssociateAC, bytes, frozenset[int]]:
        """(A-ASSOCIATE-AC, its PDU, accepted context IDs) for ``rq``, whose PDU is ``raw``."""
        kept = self._kept
        answer = kept.get(raw)
        if answer is None:
            ac = acceptance(rq, self.opts)
            answer = (ac, encode(ac), accepted_contexts(ac))
            if len(raw) <= self.max_length and self.size > 0:
                if len(kept) >= self.size:
                    del kept[next(iter(kept))]
                kept[raw] = answer
        return answer
