"""One hint line after a failure: the likely cause and the option that fixes it.

The plain/TLS mismatch is confirmed before it is named. After a plain association
request died without any DICOM answer, a TLS handshake is tried on the same port
(bounded by 5 seconds or ``-ta``, whichever is shorter). After a TLS handshake failed on
the transport level, nothing more is sent: the hint rests on what the peer itself
answered our ClientHello with (``RunReport.tls_answer``, kept by the driver), an
A-ASSOCIATE-RJ or A-ABORT being a plain DICOM SCP's answer. Nothing ever goes over the
wire in clear when TLS was asked for; a plain peer that closes without a word gets no
hint. Rejections and certificate failures are named from what the peer already said;
after a failed verification one more handshake, verifying nothing, fetches the refused
chain for the report.
"""

from __future__ import annotations

import socket

from echoscu.report import RunReport

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.options import EchoOptions

PROBE_SECONDS = 5.0

#: OpenSSL reasons of a handshake that met something other than a TLS server
_NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING", "RECORD_LAYER_FAILURE",
                    "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
#: DICOM PDU types an SCP answers a ClientHello with (what it takes for a bad
#: A-ASSOCIATE-RQ): A-ASSOCIATE-RJ, A-ABORT
_PLAIN_ANSWER_PDU_TYPES = (0x03, 0x07)
#: TLS record types (alert, handshake) a TLS server answers with, where dul sees an
#: unknown PDU type
_TLS_RECORD_TYPES = (0x15, 0x16)


def add_hint(report: RunReport, opts: EchoOptions) -> None:
    """Set ``report.hint`` if the failure has a likely cause we can name (probing if needed)."""
    failure = report.failure
    if failure is None:
        return
    where = _where(report)
    if failure.failure_class == "rejected":
        report.hint = _rejection_hint(report)
    elif report.tls is not None and report.tls.hostname_verified is False:
        # --verify-hostname refused a chain we hold already: no second handshake needed
        report.hint = (f"the peer's certificate does not name '{report.hostname_expected}': "
                       "connect by a name it lists, or name the expected one with "
                       "--verify-hostname-as")
    elif failure.failure_class == "find-refused":
        report.hint = _find_hint(report)
    elif failure.failure_class == "tls-verify":
        report.unverified_chain = _fetch_chain(report, opts)
        report.hint = _verify_hint(report)
    elif report.tls_requested and failure.failure_class == "tls-handshake":
        reason = str((report.tls_error or {}).get("reason") or "")
        if "CERTIFICATE_REQUIRED" in reason:
            report.hint = "the peer requires a client certificate: use +tls KEY CERT, not +tla"
        elif _transport_level(report) and _answered_in_dicom(report):
            report.hint = (f"{where} speaks plain DICOM, not TLS: leave out +tls/+tla "
                           "(or give -tls)")
    elif not report.tls_requested and _silent_plain_refusal(report) and _speaks_tls(report, opts):
        report.hint = (f"{where} expects TLS: add +tls KEY CERT (--enable-tls) "
                       "or +tla (--anonymous-tls)")


def _where(report: RunReport) -> str:
    host = f"[{report.host}]" if ":" in report.host else report.host
    return f"{host}:{report.port}"


def _rejection_hint(report: RunReport) -> str | None:
    _result, source, reason = report.failure.reject
    if (source, reason) == (1, 7):
        return (f"the peer does not know the called AE title '{report.called_aet}': "
                "set its AE title with -aec (--call)")
    if (source, reason) == (1, 3):
        return (f"the peer does not accept the calling AE title '{report.calling_aet}': "
                "set one it knows with -aet (--aetitle)")
    return None


def _find_hint(report: RunReport) -> str | None:
    """--check-find refused: no query model offered, or (likely) our AE title may not query."""
    found = report.find
    if found is None:
        return None
    if found.context_result is not None and found.context_result != 0:
        return f"{_where(report)} offers no Study Root C-FIND (is it a query SCP?)"
    return (f"{_where(report)} may not let calling AE title '{report.calling_aet}' query: "
            "register it there or use -aet")


def _verify_hint(report: RunReport) -> str | None:
    message = (report.tls_error or {}).get("verify_message")
    if not message:
        return None
    return (f"the peer's certificate did not verify ({message}): add its CA with +cf "
            "(--add-cert-file) or +cd, or skip the check with -ic")


def _transport_level(report: RunReport) -> bool:
    """True if the handshake failed on the wire (not over certificates or suites)."""
    error = report.tls_error or {}
    reason = str(error.get("reason") or "")
    if error.get("verify_code"):
        return False
    return not reason or any(name in reason for name in _NOT_TLS_REASONS)


def _silent_plain_refusal(report: RunReport) -> bool:
    """True if a plain A-ASSOCIATE-RQ got no DICOM answer: a closed connection, or a
    TLS record (alert or handshake) where a PDU was due."""
    failure = report.failure
    if failure.phase != "associate":
        return False
    if failure.failure_class == "aborted":
        return report.closed_unanswered
    return (failure.failure_class == "protocol-error"
            and report.answer_pdu_type in _TLS_RECORD_TYPES)


def _probe_timeout(opts: EchoOptions) -> float:
    limits = [PROBE_SECONDS] + [float(value) for value in (opts.acse_timeout, opts.connect_timeout)
                                if value is not None and value > 0]
    return min(limits)


def _connect(report: RunReport, opts: EchoOptions) -> socket.socket | None:
    if report.address is None:
        return None
    family = socket.AF_INET6 if report.address[0] == "ipv6" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(_probe_timeout(opts))
    try:
        sock.connect((report.address[1], report.port))
    except OSError:
        sock.close()
        return None
    return sock


def _answered_in_dicom(report: RunReport) -> bool:
    """True if the peer answered our ClientHello with a DICOM PDU (A-ASSOCIATE-RJ or
    A-ABORT: type, a zero reserved byte, the standard's length of 4)."""
    head = report.tls_answer or b""
    return (len(head) >= 6 and head[0] in _PLAIN_ANSWER_PDU_TYPES and head[1] == 0
            and int.from_bytes(head[2:6], "big") == 4)


def _unverified_context():
    """A client context that accepts any certificate and any suite (probes only)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.set_alpn_protocols(["dicom"])
    return context


def _speaks_tls(report: RunReport, opts: EchoOptions) -> bool:
    """True if the port completes a TLS handshake (or answers it with a TLS alert)."""
    import ssl

    server_name = None if _is_ip_address(report.host) else report.host or None
    sock = _connect(report, opts)
    if sock is None:
        return False
    try:
        with _unverified_context().wrap_socket(sock, server_hostname=server_name):
            return True
    except ssl.SSLError as error:
        return "ALERT" in str(error.reason or "")
    except (OSError, ValueError):
        return False
    finally:
        sock.close()


def _fetch_chain(report: RunReport, opts: EchoOptions) -> list[bytes]:
    """The certificates the peer sends, from a handshake that verifies nothing (after our
    own handshake refused them), so that the report can show what was refused."""
    from certs.session import peer_chain

    sock = _connect(report, opts)
    if sock is None:
        return []
    try:
        with _unverified_context().wrap_socket(sock, server_hostname=report.sni_requested) \
                as tls_sock:
            return peer_chain(tls_sock)
    except (OSError, ValueError):
        return []
    finally:
        sock.close()


def _is_ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
