"""DCMTK's message catalogue: condition codes, reject and context texts, status strings.

One home for every text echoscu prints about the network, so both the driver and the
debug dumps say exactly what DCMTK says (docs/dcmtk-behaviour.md sections 4.3, 4.4 and 5.10).
"""

from __future__ import annotations

DCMNET = 0x0006
DCMTLS = 0x000B

#: the F: line (and exit code) of a run Ctrl-C stopped after the command line was accepted
INTERRUPTED = "Interrupted by signal SIGINT"
EXIT_INTERRUPTED = 130


class Condition(Exception):
    """A DCMTK condition: module, code and text, printed as ``mmmm:cccc text``.

    ``details`` are further conditions DCMTK prints on the lines below (nested causes).
    ``failure_class`` is what the failure means for a run's report (a key of
    ``echoscu.report.FAILURE_CLASSES``), set where the failure is recognised: the
    code and text are DCMTK's and say less (one code covers a refused and a timed-out
    connect), so nothing ever reads the class back out of them.
    """

    def __init__(self, module: int, code: int, text: str, details: tuple[Condition, ...] = (),
                 failure_class: str | None = None):
        super().__init__(text)
        self.module = module
        self.code = code
        self.text = text
        self.details = details
        self.failure_class = failure_class

    def __str__(self) -> str:
        lines = [f"{self.module:04x}:{self.code:04x} {self.text}"]
        lines += [str(detail) for detail in self.details]
        return "\n".join(lines)


def net(code: int, text: str, *details: Condition, failure_class: str | None = None
        ) -> Condition:
    """A dcmnet (module 0006) condition."""
    return Condition(DCMNET, code, text, details, failure_class)


# -- dcmnet conditions echoscu can report -------------------------------------------------

def illegal_service_parameter(what: str, failure_class: str) -> Condition:
    return net(0x030C, f"Illegal service parameter: {what}", failure_class=failure_class)


def peer_aborted() -> Condition:
    return net(0x0317, "Peer aborted Association (or never connected)", failure_class="aborted")


def peer_requested_release() -> Condition:
    return net(0x0319, "DUL Peer Requested Release", failure_class="released")


def read_timeout(failure_class: str) -> Condition:
    return net(0x031A, "DUL network read timeout", failure_class=failure_class)


def tcp_init_error(reason: str, failure_class: str = "network-error") -> Condition:
    return net(0x031C, f"TCP Initialization Error: {reason}", failure_class=failure_class)


def tcp_io_error(reason: str, routine: str) -> Condition:
    return net(0x031D, f"TCP I/O Error ({reason}) occurred in routine: {routine}",
               failure_class="network-error")


def unknown_host(host: str) -> Condition:
    return net(0x0320, f"Attempt to connect to unknown host: {host}", failure_class="dns")


def unrecognized_pdu(pdu_type: int) -> Condition:
    return net(0x0321, f"Unrecognized PDU type: {pdu_type:02x}", failure_class="protocol-error")


def dimse_timeout() -> Condition:
    return net(0x0207, "DIMSE No data available (timeout in non-blocking mode)",
               failure_class="dimse-timeout")


def dimse_receive_failed(*details: Condition) -> Condition:
    return net(0x020D, "DIMSE Failed to receive message", *details, failure_class="protocol-error")


def dimse_read_pdv_failed() -> Condition:
    return net(0x020C, "DIMSE Read PDV failed")


def dimse_send_failed(*details: Condition) -> Condition:
    return net(0x020E, "DIMSE Failed to send message", *details, failure_class="protocol-error")


def unexpected_message_id(got: int, expected: int) -> Condition:
    return net(0x0211, f"DIMSE: Unexpected Response MsgId: {got} (expected: {expected})",
               failure_class="bad-response")


def unexpected_command_field(command_field: int) -> Condition:
    return net(0x0211, f"DIMSE: Unexpected Response Command Field: 0x{command_field:x}",
               failure_class="bad-response")


def illegal_peer_max_pdu(max_pdu: int) -> Condition:
    return net(
        0x0308,
        f"DUL Cannot send P-DATA PDU because receiver's max PDU size of {max_pdu} "
        "is illegal (must be > 12)",
    )


# -- A-ASSOCIATE-RJ texts --------------------------------------------------------------------

REJECT_RESULTS = {1: "Rejected Permanent", 2: "Rejected Transient"}
REJECT_SOURCES = {
    1: "Service User",
    2: "Service Provider (ACSE Related)",
    3: "Service Provider (Presentation Related)",
}
REJECT_REASONS = {
    (1, 1): "No Reason",
    (1, 2): "App Context Name Not Supported",
    (1, 3): "Calling AE Title Not Recognized",
    (1, 7): "Called AE Title Not Recognized",
    (2, 1): "No Reason",
    (2, 2): "Protocol Version Not Supported",
    (3, 1): "Temporary Congestion",
    (3, 2): "Local Limit Exceeded",
}


def describe_rejection(result: int, source: int, reason: int) -> tuple[list[str], list[str]]:
    """DCMTK's texts for an A-ASSOCIATE-RJ: (error lines, the three fatal lines).

    Invalid values fall back to DCMTK's defaults with one error line each; the reason
    check uses the raw source byte, as DCMTK does.
    """
    invalid = "Received invalid A-ASSOCIATE-RJ reject {} 0x{:04x}, using default."
    errors = []
    if result not in REJECT_RESULTS:
        errors.append(invalid.format("result", result))
    if source not in REJECT_SOURCES:
        errors.append(invalid.format("source", source))
    reason_text = REJECT_REASONS.get((source, reason))
    if reason_text is None:
        errors.append(invalid.format("reason", (source << 8) | reason))
        reason_text = "No Reason"
    fatal = [
        "Association Rejected:",
        f"Result: {REJECT_RESULTS.get(result, REJECT_RESULTS[1])}, "
        f"Source: {REJECT_SOURCES.get(source, REJECT_SOURCES[1])}",
        f"Reason: {reason_text}",
    ]
    return errors, fatal


# -- presentation context results and roles in debug dumps ----------------------------------

CONTEXT_RESULTS = {
    0: "Accepted",
    1: "User Rejection",
    2: "No Reason",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntaxes Not Supported",
}
INVALID_CONTEXT_RESULT = "--Invalid Result/Reason--"


def status_text(status: int) -> str:
    """How echoscu names a C-ECHO-RSP status: ``Success`` or ``Unknown Status: 0x…``."""
    return "Success" if status == 0 else f"Unknown Status: 0x{status:x}"
