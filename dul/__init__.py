"""dul: the DICOM upper layer, sans-I/O (bytes and events in, bytes and events out).

The public API is re-exported here (see ``__all__``); the modules stay importable for
their details (``pdu`` for every PDU record and the codec, ``dimse`` for command
sets, ``uids``). Importing this package costs nothing: a name is loaded from its
module on first use, so ``dul.uids`` alone does not pull in the machines.
"""

from __future__ import annotations

#: public name -> the module that defines it (and its name there, when it differs)
_EXPORTS = {
    # state machines, their events and errors (association)
    "Requestor": "association",
    "Acceptor": "association",
    "StateError": "association",
    "RequestMemo": "association",
    "AssociationRequested": "association",
    "AssociationAccepted": "association",
    "AssociationRejected": "association",
    "MessageReceived": "association",
    "EchoRequested": "association",
    "EchoAnswered": "association",
    "ReleaseRequested": "association",
    "ReleaseConfirmed": "association",
    "Aborted": "association",
    "ConnectionClosed": "association",
    "ProtocolViolation": "association",
    "Transition": "association",
    "ABORT_REASON_NOT_SPECIFIED": "association",
    "ABORT_REASON_UNRECOGNIZED_PDU": "association",
    "ABORT_REASON_UNEXPECTED_PDU": "association",
    "ABORT_REASON_INVALID_PARAMETER": "association",
    # the PDU codec
    "PDUError": "pdu",
    "PDULengthError": "pdu",
    "AssociateRQ": "pdu",
    "AssociateAC": "pdu",
    "AssociateRJ": "pdu",
    "PresentationContextRQ": "pdu",
    "PresentationContextAC": "pdu",
    "UserInformation": "pdu",
    "PDU_NAMES": "pdu",
    "encode": "pdu",
    "decode": "pdu",
    # DIMSE and fragmentation
    "DIMSEError": "dimse",
    "decode_command": "dimse",
    "FragmentError": "fragment",
    "MaxPDUTooSmallError": "fragment",
    # the standard C-ECHO PDUs, for tools that talk to a peer without a machine
    "echo_rq_pdu": ("_echo", "rq_pdu"),
    "echo_rsp_pdu": ("_echo", "rsp_pdu"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = (where, name) if isinstance(where, str) else where
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
