"""A scriptable, misbehaving DICOM Verification SCP for echoscu's tests.

It is an independent oracle: PDUs are built and parsed here by hand with ``struct``,
never with our ``dul`` package. One background thread serves connections one at a
time on 127.0.0.1; every socket wait is bounded, and the context manager always
stops the thread. Each association follows a ``Script`` and is recorded in an
``Association`` so tests can assert on what went over the wire.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Literal, get_args

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
#: the fake's own identity in its A-ASSOCIATE-AC
FAKE_IMPLEMENTATION_UID = "2.25.204006282003325253911996568394690540899"
FAKE_IMPLEMENTATION_VERSION = "FAKESCP_1"

A_ASSOCIATE_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ = 0x01, 0x02, 0x03
P_DATA_TF, A_RELEASE_RQ, A_RELEASE_RP, A_ABORT = 0x04, 0x05, 0x06, 0x07

C_ECHO_RQ, C_ECHO_RSP = 0x0030, 0x8030
TAG_COMMAND_FIELD = 0x00000100
TAG_MESSAGE_ID = 0x00000110
TAG_MESSAGE_ID_RESPONDED_TO = 0x00000120
TAG_STATUS = 0x00000900
TAG_ERROR_COMMENT = 0x00000902

#: a PDU claiming more than this is treated as garbage (the fake never buffers it)
MAX_ACCEPTED_PDU = 16 * 1024 * 1024
#: how often blocking waits wake up to check for stop and deadline
_POLL = 0.05

OnAssociate = Literal["accept", "reject", "abort", "close", "stall", "send"]
OnEcho = Literal["respond", "abort", "close", "release", "stall", "send", "stream"]
OnRelease = Literal["reply", "abort", "stall", "close"]
OnPeerAbort = Literal["close", "hold"]


# --- encoding helpers (public: tests build odd PDUs with them) -------------------------


def pdu(pdu_type: int, body: bytes) -> bytes:
    """Frame ``body`` as a PDU: type, reserved byte, 32-bit big-endian length."""
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def item(item_type: int, value: bytes) -> bytes:
    """Frame ``value`` as an A-ASSOCIATE item or sub-item (type, reserved, 16-bit length)."""
    return struct.pack(">BBH", item_type, 0, len(value)) + value


def abort_pdu(source: int = 0, reason: int = 0) -> bytes:
    """An A-ABORT PDU with the given source and reason/diagnostic."""
    return pdu(A_ABORT, bytes([0, 0, source, reason]))


def release_rq_pdu() -> bytes:
    """An A-RELEASE-RQ PDU."""
    return pdu(A_RELEASE_RQ, bytes(4))


def release_rp_pdu() -> bytes:
    """An A-RELEASE-RP PDU."""
    return pdu(A_RELEASE_RP, bytes(4))


def reject_pdu(result: int, source: int, reason: int) -> bytes:
    """An A-ASSOCIATE-RJ PDU; any byte values, valid or not."""
    return pdu(A_ASSOCIATE_RJ, bytes([0, result, source, reason]))


def unknown_pdu(pdu_type: int, body: bytes = bytes(4)) -> bytes:
    """A well-framed PDU of a type the standard does not define (e.g. 0x09, 0x48)."""
    return pdu(pdu_type, body)


def p_data_pdu(*pdvs: tuple[int, int, bytes]) -> bytes:
    """A P-DATA-TF PDU from (context id, control header, fragment) triples."""
    body = b"".join(
        struct.pack(">IBB", len(fragment) + 2, context_id, control) + fragment
        for context_id, control, fragment in pdvs
    )
    return pdu(P_DATA_TF, body)


def element(tag: int, value: bytes) -> bytes:
    """One Implicit VR Little Endian data element; ``tag`` is 0xGGGGEEEE, value as given."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def us(number: int) -> bytes:
    """Value bytes of an US element."""
    return struct.pack("<H", number)


def ul(number: int) -> bytes:
    """Value bytes of an UL element."""
    return struct.pack("<I", number)


def uid_value(uid: str) -> bytes:
    """Value bytes of an UI element, NUL-padded to even length."""
    raw = uid.encode("ascii")
    return raw + b"\0" * (len(raw) % 2)


def text_value(text: str) -> bytes:
    """Value bytes of a text element (LO, SH, ...), blank-padded to even length."""
    raw = text.encode("latin-1")
    return raw + b" " * (len(raw) % 2)


def command_set(elements: dict[int, bytes]) -> bytes:
    """A DIMSE command set: the elements in tag order behind a correct group length."""
    body = b"".join(element(tag, elements[tag]) for tag in sorted(elements) if tag != 0)
    return element(0x00000000, ul(len(body))) + body


def parse_elements(data: bytes) -> dict[int, bytes]:
    """Split Implicit VR Little Endian elements into tag -> value (stops at a short tail)."""
    elements: dict[int, bytes] = {}
    offset = 0
    while offset + 8 <= len(data):
        group, number, length = struct.unpack_from("<HHI", data, offset)
        offset += 8
        elements[(group << 16) | number] = data[offset : offset + length]
        offset += length
    return elements


# --- decoded A-ASSOCIATE-RQ ------------------------------------------------------------


@dataclass
class ProposedContext:
    """One presentation context item of an A-ASSOCIATE-RQ."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: list[str]
    #: the three reserved bytes after the ID, as sent (DCMTK sends 00 FF 00)
    reserved: bytes


@dataclass
class AssociateRequest:
    """The fields of an A-ASSOCIATE-RQ, decoded without interpretation."""

    protocol_version: int
    #: the 16 raw bytes, blanks included
    called_ae_raw: bytes
    calling_ae_raw: bytes
    application_context: str
    contexts: list[ProposedContext]
    max_pdu: int | None
    implementation_class_uid: str | None
    implementation_version_name: str | None
    #: every user information sub-item as (type, value) in wire order
    user_items: list[tuple[int, bytes]]

    @property
    def called_ae(self) -> str:
        """Called AE title without its padding blanks."""
        return self.called_ae_raw.decode("latin-1").strip(" ")

    @property
    def calling_ae(self) -> str:
        """Calling AE title without its padding blanks."""
        return self.calling_ae_raw.decode("latin-1").strip(" ")


def _sub_items(data: bytes) -> list[tuple[int, bytes]]:
    """Split a run of items (type, reserved, 16-bit length, value)."""
    items = []
    offset = 0
    while offset + 4 <= len(data):
        item_type, _, length = struct.unpack_from(">BBH", data, offset)
        items.append((item_type, data[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return items


def _uid(raw: bytes) -> str:
    return raw.decode("ascii", "replace").rstrip("\0")


def parse_associate_rq(raw_pdu: bytes) -> AssociateRequest:
    """Decode a whole A-ASSOCIATE-RQ PDU (header included)."""
    body = raw_pdu[6:]
    (protocol_version,) = struct.unpack_from(">H", body, 0)
    request = AssociateRequest(
        protocol_version=protocol_version,
        called_ae_raw=body[4:20],
        calling_ae_raw=body[20:36],
        application_context="",
        contexts=[],
        max_pdu=None,
        implementation_class_uid=None,
        implementation_version_name=None,
        user_items=[],
    )
    for item_type, value in _sub_items(body[68:]):
        if item_type == 0x10:
            request.application_context = _uid(value)
        elif item_type == 0x20:
            sub = _sub_items(value[4:])
            request.contexts.append(
                ProposedContext(
                    context_id=value[0],
                    abstract_syntax=next((_uid(v) for t, v in sub if t == 0x30), ""),
                    transfer_syntaxes=[_uid(v) for t, v in sub if t == 0x40],
                    reserved=value[1:4],
                )
            )
        elif item_type == 0x50:
            request.user_items = _sub_items(value)
            for sub_type, sub_value in request.user_items:
                if sub_type == 0x51 and len(sub_value) == 4:
                    (request.max_pdu,) = struct.unpack(">I", sub_value)
                elif sub_type == 0x52:
                    request.implementation_class_uid = _uid(sub_value)
                elif sub_type == 0x55:
                    request.implementation_version_name = sub_value.decode("latin-1")
    return request


# --- the script ------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """What the fake does on one association; the defaults make a well-behaved SCP.

    Negotiation: ``on_associate`` is accept | reject (with ``reject`` = result, source,
    reason) | abort (A-ABORT ``abort``, then close) | close (TCP close) | stall (never
    answer) | send (send ``raw``, then keep reading), after ``associate_delay`` seconds.
    Accepting uses ``max_pdu`` (None omits the sub-item), ``context_results`` (one result
    per proposed context in order, the last one repeats: 0 accept, 1 user rejection,
    2 no reason, 3 abstract syntax, 4 transfer syntaxes not supported) and
    ``transfer_syntax`` (None: the first proposed).

    C-ECHO: the first ``answer_first`` echoes are answered normally, every later one
    gets ``on_echo``: respond | abort | close | release (send A-RELEASE-RQ) | stall |
    send (``raw``) | stream (command fragments that never end the message, for
    ``stream_seconds``, then close).
    A response carries ``status``, ``extra_elements`` (tag, value bytes; they may
    override the defaults), ``message_id`` (None: the request's), ``command_field``;
    it is sent after ``response_delay`` seconds, split into PDVs of ``fragment_size``
    bytes (None: one PDV), ``pdvs_per_pdu`` of them in each P-DATA-TF.

    Ending: ``on_release`` is reply (A-RELEASE-RP, then close) | abort | stall | close;
    ``on_peer_abort`` is close (the default) | hold (keep the socket open until the
    peer closes or the connection time limit is hit).
    """

    on_associate: OnAssociate = "accept"
    associate_delay: float = 0.0
    reject: tuple[int, int, int] = (1, 1, 1)
    abort: tuple[int, int] = (0, 0)
    raw: bytes = b""
    max_pdu: int | None = 16384
    context_results: tuple[int, ...] = (0,)
    transfer_syntax: str | None = None
    answer_first: int = 0
    on_echo: OnEcho = "respond"
    status: int = 0x0000
    extra_elements: tuple[tuple[int, bytes], ...] = ()
    message_id: int | None = None
    command_field: int = C_ECHO_RSP
    response_delay: float = 0.0
    fragment_size: int | None = None
    pdvs_per_pdu: int = 1
    stream_seconds: float = 2.0
    on_release: OnRelease = "reply"
    on_peer_abort: OnPeerAbort = "close"

    def __post_init__(self) -> None:
        for name, kind in (
            ("on_associate", OnAssociate),
            ("on_echo", OnEcho),
            ("on_release", OnRelease),
            ("on_peer_abort", OnPeerAbort),
        ):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"{name}={getattr(self, name)!r}: not one of {get_args(kind)}")
        if not self.context_results:
            raise ValueError("context_results needs at least one result")


def accept_pdu(request: AssociateRequest, script: Script) -> bytes:
    """The A-ASSOCIATE-AC ``script`` gives in answer to ``request``."""
    items = [item(0x10, APPLICATION_CONTEXT.encode("ascii"))]
    for position, context in enumerate(request.contexts):
        results = script.context_results
        result = results[min(position, len(results) - 1)]
        proposed = context.transfer_syntaxes[0] if context.transfer_syntaxes else ""
        chosen = (script.transfer_syntax or proposed).encode("ascii")
        value = bytes([context.context_id, 0, result, 0]) + item(0x40, chosen)
        items.append(item(0x21, value))
    user = b""
    if script.max_pdu is not None:
        user += item(0x51, struct.pack(">I", script.max_pdu))
    user += item(0x52, FAKE_IMPLEMENTATION_UID.encode("ascii"))
    user += item(0x55, FAKE_IMPLEMENTATION_VERSION.encode("ascii"))
    items.append(item(0x50, user))
    header = struct.pack(">HH", 1, 0) + request.called_ae_raw + request.calling_ae_raw + bytes(32)
    return pdu(A_ASSOCIATE_AC, header + b"".join(items))


def echo_response(script: Script, context_id: int, message_id: int) -> bytes:
    """The C-ECHO-RSP P-DATA-TF PDU(s) ``script`` gives in answer to ``message_id``."""
    elements = {
        0x00000002: uid_value(VERIFICATION_SOP_CLASS),
        TAG_COMMAND_FIELD: us(script.command_field),
        TAG_MESSAGE_ID_RESPONDED_TO: us(
            message_id if script.message_id is None else script.message_id
        ),
        0x00000800: us(0x0101),
        TAG_STATUS: us(script.status),
    }
    elements.update(dict(script.extra_elements))
    command = command_set(elements)
    size = script.fragment_size or len(command)
    pieces = [command[i : i + size] for i in range(0, len(command), size)]
    pdvs = [
        (context_id, 0x03 if i == len(pieces) - 1 else 0x01, piece)
        for i, piece in enumerate(pieces)
    ]
    step = max(1, script.pdvs_per_pdu)
    return b"".join(p_data_pdu(*pdvs[i : i + step]) for i in range(0, len(pdvs), step))


# --- what the fake saw -----------------------------------------------------------------


@dataclass
class Association:
    """Everything the fake received and did on one connection."""

    request: AssociateRequest | None = None
    #: every PDU received, raw, header included, in order
    pdus: list[bytes] = field(default_factory=list)
    #: every complete command set received, decoded to tag -> value
    commands: list[dict[int, bytes]] = field(default_factory=list)
    #: Message ID of every C-ECHO-RQ, in order
    message_ids: list[int] = field(default_factory=list)
    #: presentation context ID each C-ECHO-RQ came on, in order
    context_ids: list[int] = field(default_factory=list)
    #: what happened, in order: associate-rq, accepted, rejected, sent-abort, sent-raw,
    #: echo-rq, echo-rsp, sent-release-rq, release-rq, release-rp, peer-abort, holding,
    #: peer-closed (EOF), peer-reset (RST), closed (by the fake), stalled, streaming, ...
    events: list[str] = field(default_factory=list)
    #: TLS version and cipher name after a successful handshake
    tls: tuple[str, str] | None = None

    @property
    def pdu_types(self) -> list[int]:
        """The type byte of every PDU received."""
        return [raw[0] for raw in self.pdus]


class _Stop(Exception):
    """The fake was told to stop, or the connection ran past its time limit."""


class _Connection:
    """One accepted socket with bounded, stop-aware reads and writes."""

    def __init__(self, sock: socket.socket, stop: threading.Event, deadline: float) -> None:
        self.sock = sock
        self.stop = stop
        self.deadline = deadline
        self.sock.settimeout(_POLL)

    def check(self) -> None:
        if self.stop.is_set():
            raise _Stop("stopped")
        if time.monotonic() > self.deadline:
            raise _Stop("timeout")

    def recv_exact(self, count: int) -> bytes | None:
        """Read exactly ``count`` bytes; None if the peer closed first."""
        data = bytearray()
        while len(data) < count:
            self.check()
            try:
                chunk = self.sock.recv(min(count - len(data), 65536))
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    def read_pdu(self) -> bytes | None:
        """Read one whole PDU (header included); None on EOF."""
        header = self.recv_exact(6)
        if header is None:
            return None
        (length,) = struct.unpack_from(">I", header, 2)
        if length > MAX_ACCEPTED_PDU:
            raise ConnectionError(f"peer announced a PDU of {length} bytes")
        body = self.recv_exact(length)
        return None if body is None else header + body

    def send(self, data: bytes) -> None:
        """Send everything, bounded by the stop flag and the deadline."""
        view = memoryview(data)
        while view:
            self.check()
            try:
                sent = self.sock.send(view)
            except (TimeoutError, ssl.SSLWantWriteError):
                continue
            view = view[sent:]

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without missing a stop request."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.check()
            time.sleep(min(_POLL, max(0.0, end - time.monotonic())))


class FakeSCP:
    """A Verification SCP on 127.0.0.1 that follows one ``Script`` per association.

    ``FakeSCP(s1, s2)`` uses s1 for the first association, s2 for every later one.
    Use it as a context manager; ``associations`` holds one record per connection.
    """

    def __init__(
        self,
        *scripts: Script,
        ssl_context: ssl.SSLContext | None = None,
        connection_timeout: float = 30.0,
    ) -> None:
        self.scripts = scripts or (Script(),)
        self.ssl_context = ssl_context
        self.connection_timeout = connection_timeout
        self.associations: list[Association] = []
        self.errors: list[BaseException] = []
        self._finished = threading.Condition()
        self._finished_count = 0
        self._busy = False
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="fakescp", daemon=True)

    def start(self) -> FakeSCP:
        """Start serving in the background thread."""
        self._thread.start()
        return self

    def __enter__(self) -> FakeSCP:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, join the thread; raise if it hung or hit an internal error."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._listener.close()
        if self._thread.is_alive():
            raise RuntimeError(f"fake SCP thread did not stop within {timeout} s")
        if self.errors:
            first = self.errors[0]
            raise RuntimeError(f"fake SCP failed internally: {first!r}") from first

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Association]:
        """Wait until ``count`` connections have been handled completely; return them."""
        with self._finished:
            if not self._finished.wait_for(lambda: self._finished_count >= count, timeout):
                raise TimeoutError(
                    f"fake SCP finished {self._finished_count} of {count} associations "
                    f"within {timeout} s"
                )
        return self.associations[:count]

    def wait_idle(self, timeout: float = 10.0) -> list[Association]:
        """Wait until no connection is in hand or queued; return all records so far.

        Call it after the client process has exited: every connection it made is then
        handled, in hand, or waiting in the listen queue, and this waits for all three.
        """
        end = time.monotonic() + timeout
        with self._finished:
            while self._busy or self._connection_waiting():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"fake SCP still busy after {timeout} s")
                self._finished.wait(min(_POLL, remaining))
            return list(self.associations)

    # -- serving ---------------------------------------------------------------------

    def _connection_waiting(self) -> bool:
        """True if a connection waits in the listen queue."""
        readable, _, _ = select.select([self._listener], [], [], 0)
        return bool(readable)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], _POLL)[0]:
                continue
            script = self.scripts[min(len(self.associations), len(self.scripts) - 1)]
            record = Association()
            # busy is set before accept() takes the connection off the queue, so
            # wait_idle() always sees one of the two
            with self._finished:
                self._busy = True
                self.associations.append(record)
            try:
                sock, _ = self._listener.accept()
            except OSError as error:
                record.events.append(f"accept-failed: {error}")
                self._finished_one()
                continue
            try:
                self._handle(sock, script, record)
            except Exception as error:  # noqa: BLE001 - a harness bug must fail the test
                self.errors.append(error)
                record.events.append(f"internal-error: {error!r}")
            finally:
                sock.close()
                self._finished_one()

    def _finished_one(self) -> None:
        with self._finished:
            self._finished_count += 1
            self._busy = False
            self._finished.notify_all()

    def _handle(self, sock: socket.socket, script: Script, record: Association) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + self.connection_timeout
        channel: socket.socket | None = sock
        try:
            if self.ssl_context is not None:
                channel = self._handshake(sock, record, deadline)
            if channel is not None:
                _Session(_Connection(channel, self._stop, deadline), script, record).run()
        except _Stop as stop:
            record.events.append(str(stop))
        except ConnectionResetError:
            record.events.append("peer-reset")
        except (ConnectionError, ssl.SSLError) as error:
            record.events.append(f"connection-error: {error}")
        finally:
            if channel is not None:
                channel.close()

    def _handshake(
        self, sock: socket.socket, record: Association, deadline: float
    ) -> ssl.SSLSocket | None:
        """Server-side TLS handshake, bounded and stop-aware; None (recorded) on failure."""
        sock.settimeout(_POLL)
        tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        while True:
            if self._stop.is_set() or time.monotonic() > deadline:
                record.events.append("stopped" if self._stop.is_set() else "timeout")
                tls.close()
                return None
            try:
                tls.do_handshake()
                break
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError as error:
                record.events.append(f"tls-failed: {error}")
                tls.close()
                return None
        record.tls = (tls.version() or "", (tls.cipher() or ("",))[0])
        return tls


class _Session:
    """Plays one ``Script`` on one connection."""

    def __init__(self, connection: _Connection, script: Script, record: Association) -> None:
        self.conn = connection
        self.script = script
        self.record = record
        self.echoes = 0
        self.fragments: dict[int, bytearray] = {}

    def event(self, name: str) -> None:
        self.record.events.append(name)

    def read(self) -> bytes | None:
        raw = self.conn.read_pdu()
        if raw is None:
            self.event("peer-closed")
        else:
            self.record.pdus.append(raw)
        return raw

    def run(self) -> None:
        first = self.read()
        if first is None:
            return
        if first[0] != A_ASSOCIATE_RQ:
            self.event(f"unexpected-pdu-{first[0]:#04x}")
            return
        self.record.request = parse_associate_rq(first)
        self.event("associate-rq")
        script = self.script
        self.conn.sleep(script.associate_delay)
        action = script.on_associate
        if action == "accept":
            self.conn.send(accept_pdu(self.record.request, script))
            self.event("accepted")
            self.serve_association()
        elif action == "reject":
            self.conn.send(reject_pdu(*script.reject))
            self.event("rejected")
        elif action == "abort":
            self.conn.send(abort_pdu(*script.abort))
            self.event("sent-abort")
        elif action == "close":
            self.event("closed")
        elif action == "stall":
            self.stall()
        else:
            self.conn.send(script.raw)
            self.event("sent-raw")
            self.serve_association()

    def stall(self) -> None:
        """Answer nothing; record what arrives until the peer closes or aborts."""
        self.event("stalled")
        while (raw := self.read()) is not None:
            if raw[0] == A_ABORT:
                self.on_peer_abort()
                return

    def on_peer_abort(self) -> None:
        """The peer sent A-ABORT: close now, or hold the socket open if scripted."""
        self.event("peer-abort")
        if self.script.on_peer_abort == "hold":
            self.event("holding")
            while self.read() is not None:
                pass

    def serve_association(self) -> None:
        """Handle PDUs after the negotiation until the connection ends."""
        while True:
            raw = self.read()
            if raw is None:
                return
            kind = raw[0]
            if kind == P_DATA_TF:
                if not self.on_p_data(raw):
                    return
            elif kind == A_RELEASE_RQ:
                self.event("release-rq")
                self.on_release()
                return
            elif kind == A_ABORT:
                self.on_peer_abort()
                return
            else:
                self.event(f"unexpected-pdu-{kind:#04x}")

    def on_p_data(self, raw: bytes) -> bool:
        """Collect command fragments; act on every complete C-ECHO-RQ. False = done."""
        offset = 6
        while offset + 6 <= len(raw):
            length, context_id, control = struct.unpack_from(">IBB", raw, offset)
            fragment = raw[offset + 6 : offset + 4 + length]
            offset += 4 + length
            if not control & 0x01:
                self.event("data-pdv")
                continue
            self.fragments.setdefault(context_id, bytearray()).extend(fragment)
            if control & 0x02 and not self.on_command(context_id):
                return False
        return True

    def on_command(self, context_id: int) -> bool:
        command = parse_elements(bytes(self.fragments.pop(context_id)))
        self.record.commands.append(command)
        if command.get(TAG_COMMAND_FIELD) != us(C_ECHO_RQ):
            self.event("other-command")
            return True
        (message_id,) = struct.unpack("<H", command.get(TAG_MESSAGE_ID, b"\0\0")[:2])
        self.record.message_ids.append(message_id)
        self.record.context_ids.append(context_id)
        self.event("echo-rq")
        self.echoes += 1
        action = self.script.on_echo if self.echoes > self.script.answer_first else "respond"
        return self.on_echo(action, context_id, message_id)

    def on_echo(self, action: str, context_id: int, message_id: int) -> bool:
        script = self.script
        if action == "respond":
            self.conn.sleep(script.response_delay)
            self.conn.send(echo_response(script, context_id, message_id))
            self.event("echo-rsp")
            return True
        if action == "abort":
            self.conn.send(abort_pdu(*script.abort))
            self.event("sent-abort")
            return False
        if action == "close":
            self.event("closed")
            return False
        if action == "release":
            self.conn.send(release_rq_pdu())
            self.event("sent-release-rq")
            return True
        if action == "stall":
            self.stall()
            return False
        if action == "send":
            self.conn.send(script.raw)
            self.event("sent-raw")
            return True
        self.stream(context_id)
        return False

    def stream(self, context_id: int) -> None:
        """Send a command whose one element never ends, for ``stream_seconds``, then close.

        The first fragment announces an element of almost 4 GiB; the following ones
        are filler. About 4 MB/s, so the peer's memory stays reasonable.
        """
        self.event("streaming")
        header = struct.pack("<HHI", 0x0000, 0x0902, 0xFFFFFFF0)
        self.conn.send(p_data_pdu((context_id, 0x01, header)))
        chunk = p_data_pdu((context_id, 0x01, b"\xaa" * 4096))
        end = time.monotonic() + self.script.stream_seconds
        while time.monotonic() < end:
            try:
                self.conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.event("peer-reset")
                return
            self.conn.sleep(0.001)
        self.event("closed")

    def on_release(self) -> None:
        action = self.script.on_release
        if action == "reply":
            self.conn.send(release_rp_pdu())
            self.event("release-rp")
        elif action == "abort":
            self.conn.send(abort_pdu(*self.script.abort))
            self.event("sent-abort")
        elif action == "stall":
            self.stall()
        else:
            self.event("closed")


# --- a raw peer: answers the first bytes of each connection, records every byte -------


class RawPeer:
    """A listener on 127.0.0.1 that records every byte of every connection it accepts.

    On each connection it waits for the first bytes (a ClientHello, say), then sends
    ``answer`` (None: closes at once, as DCMTK's storescp does after a PDU type it does
    not know) and keeps reading until the peer closes or ``linger`` seconds pass.
    Connections are served one at a time; ``received`` holds one bytes object per
    connection. Use it as a context manager.
    """

    def __init__(self, answer: bytes | None, linger: float = 5.0) -> None:
        self.answer = answer
        self.linger = linger
        self.received: list[bytes] = []
        self.errors: list[BaseException] = []
        self._busy = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="rawpeer", daemon=True)

    def __enter__(self) -> RawPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10.0)
        self._listener.close()
        if self._thread.is_alive():
            raise RuntimeError("raw peer thread did not stop")
        if self.errors:
            raise RuntimeError(f"raw peer failed internally: {self.errors[0]!r}")

    def wait_idle(self, timeout: float = 10.0) -> list[bytes]:
        """After the client exited: wait until every connection it made is handled."""
        end = time.monotonic() + timeout
        while self._busy.is_set() or select.select([self._listener], [], [], 0)[0]:
            if time.monotonic() > end:
                raise TimeoutError(f"raw peer still busy after {timeout} s")
            time.sleep(_POLL)
        return list(self.received)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], _POLL)[0]:
                continue
            # busy before accept() takes the connection off the queue: wait_idle() sees one
            self._busy.set()
            try:
                sock, _ = self._listener.accept()
                with sock:
                    self.received.append(b"")
                    self._handle(sock, len(self.received) - 1)
            except Exception as error:  # noqa: BLE001 - a harness bug must fail the test
                self.errors.append(error)
            finally:
                self._busy.clear()

    def _handle(self, sock: socket.socket, index: int) -> None:
        sock.settimeout(_POLL)
        end = time.monotonic() + self.linger
        answered = False
        while time.monotonic() < end and not self._stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return
            if not chunk:
                return
            self.received[index] += chunk
            if not answered:
                answered = True
                if self.answer is None:
                    return
                sock.sendall(self.answer)
