"""One hint line after a failure: the likely cause and the option that fixes it.

The plain/TLS mismatch is confirmed before it is named: after a plain association
request died without any DICOM answer, a TLS handshake is tried on the same port;
after a TLS handshake failed on the transport level, a plain A-ASSOCIATE-RQ is. Both
probes are bounded (5 seconds or ``-ta``, whichever is shorter) and end politely.
Rejections and certificate failures are named from what the peer already said; after
a failed verification one more handshake, verifying nothing, fetches the refused chain
for the report.
"""

from __future__ import annotations

import socket

from echoscu.report import RunReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from echoscu.options import EchoOptions

PROBE_SECONDS = 5.0

#: OpenSSL reasons of a handshake that met something other than a TLS server
_NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING", "RECORD_LAYER_FAILURE",
                    "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNKNOWN_PROTOCOL")
#: DICOM PDU types that answer an A-ASSOCIATE-RQ: AC, RJ, A-ABORT
_ANSWER_PDU_TYPES = (0x02, 0x03, 0x07)
#: first bytes of TLS records (handshake, alert) a TLS server answers with
_TLS_RECORD_TYPES = ("15", "16")
_A_ABORT = bytes((0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0))


def add_hint(report: RunReport, opts: EchoOptions) -> None:
    """Set ``report.hint`` if the failure has a likely cause we can name (probing if needed)."""
    failure = report.failure
    if failure is None:
        return
    where = _where(report)
    if failure.failure_class == "rejected":
        report.hint = _rejection_hint(report)
    elif failure.failure_class == "tls-verify":
        report.unverified_chain = _fetch_chain(report, opts)
        report.hint = _verify_hint(report)
    elif report.tls_requested and failure.failure_class == "tls-handshake":
        reason = str((report.tls_error or {}).get("reason") or "")
        if "CERTIFICATE_REQUIRED" in reason:
            report.hint = "the peer requires a client certificate: use +tls KEY CERT, not +tla"
        elif _transport_level(report) and _speaks_dicom(report, opts):
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
        return report.negotiation_answer == "ConnectionClosed"
    condition = failure.condition
    return (failure.failure_class == "protocol-error" and condition is not None
            and condition.code == 0x0321 and condition.text.endswith(_TLS_RECORD_TYPES))


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


def _speaks_dicom(report: RunReport, opts: EchoOptions) -> bool:
    """True if the port answers a plain A-ASSOCIATE-RQ with a DICOM PDU (then aborted)."""
    from dul import uids
    from dul.association import Requestor
    from dul.pdu import AssociateRQ, PresentationContextRQ, UserInformation
    from echoscu.dumps import IMPLEMENTATION_CLASS_UID, implementation_version_name

    rq = AssociateRQ(
        called_ae=opts.called_aet or "ANY-SCP", calling_ae=opts.calling_aet or "ECHOSCU",
        contexts=[PresentationContextRQ(1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN])],
        user_info=UserInformation(max_pdu=16384,
                                  implementation_class_uid=IMPLEMENTATION_CLASS_UID,
                                  implementation_version_name=implementation_version_name()))
    sock = _connect(report, opts)
    if sock is None:
        return False
    with sock:
        try:
            sock.sendall(Requestor(rq, 16384).start())
            head = b""
            while len(head) < 2:
                chunk = sock.recv(2 - len(head))
                if not chunk:
                    break
                head += chunk
            answered = len(head) == 2 and head[0] in _ANSWER_PDU_TYPES and head[1] == 0
            if answered and head[0] != 0x07:
                sock.sendall(_A_ABORT)
        except OSError:
            return False
    return answered


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
    from echoscu.report import peer_chain

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
