"""``--check-find``: one C-FIND after the echoes, to see whether the peer lets us query.

Study Root, STUDY level, an identifier that matches nothing (a fresh 2.25 Study
Instance UID) with one empty return key, in the accepted transfer syntax of our own
FIND context; the C-FIND-RSPs are read until the final one, each wait bounded by
``-td`` (or the socket timeout) and the whole exchange by ``FIND_TOTAL_LIMIT``. The
identifiers are encoded and decoded with pydicom (imported only here); the command
sets with ``dul.dimse``. The driver sends, receives and ends the association;
this module decides what the answers mean and hands back a ``FindResult``.
"""

from __future__ import annotations

from time import monotonic, perf_counter

from dul import dimse
from dul.association import Aborted, ConnectionClosed, MessageReceived, ReleaseRequested
from echoscu import messages as msg
from echoscu.probe import IMPLICIT_LITTLE_ENDIAN, STUDY_ROOT_FIND, result_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dul.pdu import AssociateAC

#: the longest a whole C-FIND may take, however many pending responses keep coming
FIND_TOTAL_LIMIT = 60.0
PENDING = (0xFF00, 0xFF01)
CANCEL = 0xFE00

#: C-FIND-RSP statuses (PS3.4 C.4.1.1.4) -> text
_STATUS_TEXTS = {
    0x0000: "Success",
    0xFF00: "Pending",
    0xFF01: "Pending (optional keys not supported)",
    0xFE00: "Cancel",
    0xA700: "Refused: Out of Resources",
    0xA900: "Error: Identifier does not match SOP Class",
    0x0122: "Refused: SOP Class not supported",
    0x0124: "Refused: Not authorized",
    0x0110: "Processing failure",
}


def status_text(status: int) -> str:
    """How the find output names a C-FIND-RSP status."""
    text = _STATUS_TEXTS.get(status)
    if text is not None:
        return text
    if 0xC000 <= status <= 0xCFFF:
        return "Failed: Unable to process"
    if 0xB000 <= status <= 0xBFFF:
        return "Warning"
    return "Unknown Status"


class FindResult:
    """What ``--check-find`` found; ``failure_class`` is None if the query was answered."""

    __slots__ = ("context_id", "context_result", "transfer_syntax", "message_id", "status",
                 "error_comment", "matches", "rtt", "failure_class", "problem", "condition",
                 "association")

    def __init__(self, context_id: int, message_id: int) -> None:
        self.context_id = context_id
        #: the A-ASSOCIATE-AC's result for the FIND context (None: not answered)
        self.context_result: int | None = None
        self.transfer_syntax: str | None = None
        self.message_id = message_id
        #: the final C-FIND-RSP's status and Error Comment (None: no final response)
        self.status: int | None = None
        self.error_comment: str | None = None
        #: pending responses that carried an identifier
        self.matches = 0
        #: seconds from sending the C-FIND-RQ to its final response
        self.rtt: float | None = None
        self.failure_class: str | None = None
        #: one line on what went wrong
        self.problem: str | None = None
        #: DCMTK's condition where there is one (network, timeout, protocol)
        self.condition: msg.Condition | None = None
        #: the association afterwards: "open" (release it), "closed" by the peer, or
        #: "broken" (abort it)
        self.association = "open"

    def _fail(self, failure_class: str, problem: str, association: str = "open",
              condition: msg.Condition | None = None) -> FindResult:
        self.failure_class = failure_class
        self.problem = problem
        self.association = association
        self.condition = condition
        return self


def identifier(study_uid: str, implicit: bool) -> bytes:
    """The query: STUDY level, ``study_uid``, an empty Study Date return key (pydicom)."""
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyDate = ""
    query.StudyInstanceUID = study_uid
    out = DicomBytesIO()
    out.is_little_endian = True
    out.is_implicit_VR = implicit
    write_dataset(out, query)
    return out.getvalue()


def read_identifier(data: bytes, implicit: bool) -> int:
    """The number of elements of a matching identifier (pydicom decodes every one);
    ValueError if it cannot be read."""
    from io import BytesIO

    from pydicom.filereader import read_dataset

    try:
        return sum(1 for _ in read_dataset(BytesIO(data), implicit, True))
    except Exception as error:  # pydicom raises many kinds for malformed data
        raise ValueError(str(error)) from None


def fresh_uid() -> str:
    """A new UID under 2.25 (a random UUID): no archive holds a study with it."""
    from pydicom.uid import generate_uid

    return generate_uid(prefix=None)


def check(ac: AssociateAC, context_id: int, message_id: int,
          send: Callable[[int, bytes, bytes], None],
          next_event: Callable[[float | None], object],
          timeout: float | None, info: Callable[[str], None] | None = None,
          total: float = FIND_TOTAL_LIMIT) -> FindResult:
    """Send the C-FIND-RQ on ``context_id`` with ``send(context_id, command, dataset)`` and
    read the responses with ``next_event(seconds)`` (None once a wait ran out); ``info``
    logs the verbose line about sending it."""
    result = FindResult(context_id, message_id)
    context = next((ctx for ctx in ac.contexts if ctx.id == context_id), None)
    if context is None or context.result != 0:
        result.context_result = None if context is None else context.result
        return result._fail("find-refused", "Study Root FIND presentation context: "
                            + result_text(result.context_result))
    result.context_result = 0
    syntax = result.transfer_syntax = context.transfer_syntax
    implicit = syntax == IMPLICIT_LITTLE_ENDIAN
    if info is not None:
        info(f"Sending Find Request (MsgID {message_id})")
    started = perf_counter()
    try:
        send(context_id, dimse.find_rq(message_id, STUDY_ROOT_FIND),
             identifier(fresh_uid(), implicit))
    except msg.Condition as failure:
        return result._fail(failure.failure_class or "network-error",
                            str(failure).splitlines()[0], "broken", failure)
    deadline = monotonic() + total
    while True:
        left = deadline - monotonic()
        if left <= 0:
            return result._fail("dimse-timeout", f"C-FIND not finished within {total:g} s",
                                "broken", msg.dimse_timeout())
        event = next_event(left if timeout is None else min(timeout, left))
        if event is None:
            if monotonic() < deadline:
                return result._fail("dimse-timeout", "no C-FIND response within the timeout",
                                    "broken", msg.dimse_timeout())
            continue
        if isinstance(event, MessageReceived):
            failed = _response(result, event, implicit)
            if failed is not None:
                return result._fail("bad-response", str(failed), "broken", failed)
            if result.status is None:
                continue
            result.rtt = perf_counter() - started
            status = result.status
            if status != 0 and not 0xB000 <= status <= 0xBFFF:
                problem = f"C-FIND answered with status 0x{status:04x} ({status_text(status)})"
                if result.error_comment:
                    problem += f": {result.error_comment}"
                return result._fail("find-refused", problem)
            return result
        if isinstance(event, (Aborted, ConnectionClosed)):
            return result._fail("find-refused", "peer aborted the association during the C-FIND",
                                "closed", msg.peer_aborted())
        if isinstance(event, ReleaseRequested):
            return result._fail("released", "peer requested release instead of answering",
                                "broken", msg.peer_requested_release())
        failure = msg.dimse_receive_failed(msg.dimse_read_pdv_failed())
        return result._fail("protocol-error", str(failure).splitlines()[0], "broken", failure)


def _response(result: FindResult, event: MessageReceived, implicit: bool) -> msg.Condition | None:
    """Take one C-FIND-RSP into ``result`` (a final one sets its status); a Condition if
    the message is not a readable response to our request."""
    try:
        command = dimse.decode_command(event.command)
    except dimse.DIMSEError:
        return msg.net(0x020B, "DIMSE Failed to parse received message",
                       failure_class="bad-response")
    field = command.get(dimse.COMMAND_FIELD)
    if field != dimse.C_FIND_RSP:
        return msg.unexpected_command_field(field if isinstance(field, int) else 0)
    responded = command.get(dimse.MESSAGE_ID_RESPONDED)
    if responded != result.message_id:
        return msg.unexpected_message_id(responded, result.message_id)
    if event.context_id != result.context_id:
        return msg.net(0x0211, f"DIMSE: response on presentation context {event.context_id} "
                       f"(expected: {result.context_id})", failure_class="bad-response")
    status = command.get(dimse.STATUS)
    if not isinstance(status, int):
        return msg.net(0x020B, "DIMSE_parseCmdObject: Missing Status",
                       failure_class="bad-response")
    if status in PENDING:
        if event.dataset is not None:
            try:
                read_identifier(event.dataset, implicit)
            except ValueError as error:
                return msg.net(0x020B, f"C-FIND-RSP identifier unreadable: {error}",
                               failure_class="bad-response")
            result.matches += 1
        return None
    result.status = status
    comment = command.get(dimse.ERROR_COMMENT)
    result.error_comment = comment if isinstance(comment, str) and comment else None
    return None
