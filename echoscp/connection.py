"""One peer connection: an asyncio Protocol driving a ``dul`` acceptor.

Everything happens in event-loop callbacks: no thread, no polling. One timer per
connection covers the TLS handshake, ARTIM (``-ta``, until the A-ASSOCIATE-RQ and
after our RJ/RP), the idle timeout (``-tn``) and the DIMSE timeout (``-td``, a
message or PDU that has begun must be finished in time); it is re-armed lazily,
so a busy association costs no timer work per PDU and a short one a single timer.
Each PDU goes out in one write.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import TYPE_CHECKING

from dicomecho import log
from dul import association as dul
from dul import dimse
from echoscp import dumps, negotiation, records

if TYPE_CHECKING:
    import ssl
    from typing import Protocol

    from dul.pdu import AssociateRQ
    from echoscp.options import ServerOptions
    from echoscp.records import JsonLog

    class Server(Protocol):
        """What a connection asks of the server that accepted it (echoscp.server)."""

        opts: ServerOptions
        loop: asyncio.AbstractEventLoop
        ssl_context: ssl.SSLContext | None
        json_log: JsonLog | None
        connections: set[Connection]
        associations: int
        requests: dul.RequestMemo
        answers: negotiation.Answers

        def admit(self, connection: Connection, address: str) -> bool: ...
        def hold_bytes(self, connection: Connection, buffered: int) -> bool: ...
        def leave_pending(self, connection: Connection) -> None: ...
        def connection_ended(self) -> None: ...

#: a C-ECHO never carries a data set; a message that does (C-STORE) is only read
#: this far before the association is aborted as unsupported or oversized
MAX_DATASET_LENGTH = 1 << 16
#: largest A-ASSOCIATE-RQ we read: 128 presentation contexts offering 38 transfer
#: syntaxes each encode to about 117 KB; a longer length claim is refused from the
#: PDU header, before any of its bytes are buffered
MAX_ASSOCIATION_PDU = 256 << 10

# connection phases
HANDSHAKE = "handshake"    # TLS handshake running
REQUEST = "request"        # waiting for the A-ASSOCIATE-RQ (ARTIM)
ASSOCIATED = "associated"  # C-ECHOs served
CLOSING = "closing"        # RJ / RP sent, waiting for the peer to close (ARTIM)
CLOSED = "closed"

app = log.get_logger("echoscp")


def _peer_address(transport: asyncio.BaseTransport) -> tuple[str, int]:
    """The peer's address and port, IPv4-mapped IPv6 addresses shown as IPv4."""
    peer = transport.get_extra_info("peername") or ("unknown", 0)
    host = str(peer[0])
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host, int(peer[1])


class Connection(asyncio.Protocol):
    """The life of one TCP (or TLS) connection from accept to close."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.opts = server.opts
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.acceptor = dul.Acceptor(self.opts.max_pdu, max_association_pdu=MAX_ASSOCIATION_PDU,
                                     max_dataset_length=MAX_DATASET_LENGTH,
                                     requests=server.requests)
        self.phase = REQUEST
        self.record: records.AssociationRecord | None = None
        #: a JSON line is written for connections that asked for an association or
        #: that we ended ourselves; a silent probe closed by its peer leaves none
        self.reportable = False
        self.counted = False
        self.accepted_ids: frozenset[int] = frozenset()
        self.last_activity = 0.0
        #: loop time the unfinished PDU / DIMSE message began, None between messages
        self.incomplete_since: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        #: loop time ARTIM ends after our RJ / RP (the timer may be due earlier, then re-armed)
        self.close_due = 0.0
        #: responses waiting for --delay: (due time, PDU bytes)
        self.delayed: deque[tuple[float, bytes]] = deque()
        self.delay_timer: asyncio.TimerHandle | None = None
        self.release_pending = False
        self.handshake_task: asyncio.Task | None = None
        #: start_tls() owns the raw transport (bytes reaching us are decrypted ones)
        self.tls_started = False
        #: the peer's address once the server admitted the connection (None before)
        self.address: str | None = None
        #: bytes of an unfinished A-ASSOCIATE-RQ counted in the server's pending budget
        self.held_bytes = 0
        #: closed over a cap (--max-pending): no log line, no JSON record of its own
        self.evicted = False

    # ------------------------------------------------------------------ transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accepted: TCP_NODELAY as docs/design.md D2 says, then start TLS or the ARTIM timer."""
        self.transport = transport
        peer, port = _peer_address(transport)
        self.record = records.AssociationRecord(peer, port)
        if self.address is None and not self.server.admit(self, peer):
            self.evicted = True  # accepted by asyncio's create_server: the caps apply here
        if self.evicted:
            self.phase = CLOSED
            transport.abort()
            return
        self.server.connections.add(self)
        # set explicitly: asyncio only does it for sockets created with IPPROTO_TCP
        sock = transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.opts.nodelay else 0)
        except (AttributeError, OSError):
            pass
        if self.server.ssl_context is not None:
            # No pause_reading() here. On Python 3.10 a pause in connection_made does
            # not hold: the transport registers its reader right after this method
            # returns whatever the pause said, while still calling itself paused. The
            # pause start_tls() does first is then a no-op, and a ClientHello that is
            # already queued reaches the new SSLProtocol before its connection_made,
            # which drops it: the handshake waits for bytes that never come again.
            # Nothing reads before the handshake task's first step (the reader is
            # registered after this method, the task step runs before the next poll's
            # read callbacks), and start_tls() pauses, swaps in its protocol and
            # resumes by itself; data_received() turns any breach of that into a
            # failed handshake rather than a hang.
            self.phase = HANDSHAKE
            self.handshake_task = self.loop.create_task(self._handshake(transport))
        else:
            self._arm(self.opts.acse_timeout)

    def data_received(self, data: bytes) -> None:
        """Feed the acceptor; act on every event it has (unless TLS is still settling)."""
        if self.phase == HANDSHAKE and not self.tls_started:
            self._raw_bytes_before_tls()
            return
        self.last_activity = self.loop.time()
        self.acceptor.receive_data(data)
        if self.phase != HANDSHAKE:
            self._process()
            if self.phase == REQUEST and self.address is not None \
                    and not self.server.hold_bytes(self, self.acceptor.buffered):
                self.evict()

    def eof_received(self) -> bool:
        """The peer closed its side: let the acceptor report it, then close ours."""
        self.acceptor.receive_data(b"")
        if self.phase != HANDSHAKE:
            self._process()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Closed for whatever reason: account for it and forget the connection."""
        if self.phase == ASSOCIATED:
            detail = f"connection lost: {exc}" if exc else "connection closed by the peer"
            app.info("Association Aborted (A-P-ABORT)")
            self._finish(records.PEER_ABORTED, detail)
        self._cleanup()

    def pause_writing(self) -> None:
        """The peer does not read its responses: stop reading its requests."""
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The peer caught up: read again."""
        if self.transport is not None and self.phase in (REQUEST, ASSOCIATED):
            self.transport.resume_reading()

    # ------------------------------------------------------------------ TLS

    def _raw_bytes_before_tls(self) -> None:
        """TLS records reached us before start_tls() took the transport: they are lost
        to the handshake, which would wait for them until -ta; fail it now instead."""
        app.error(f"TLS handshake with {self.record.peer} failed: "
                  f"data arrived before the TLS layer was ready")
        self.reportable = True
        self._finish(records.ERROR, "TLS handshake failed: data arrived before the TLS "
                                    "layer was ready")
        if self.handshake_task is not None:
            self.handshake_task.cancel()
        self.transport.abort()

    async def _handshake(self, raw: asyncio.Transport) -> None:
        """Run the TLS handshake inside this connection only (never in the accept loop)."""
        from echoscp import tlsinfo

        if raw.is_closing():  # aborted before this task's first step
            self._cleanup()
            return
        # start_tls() swaps its protocol in before it first yields
        self.tls_started = True
        try:
            tls = await self.loop.start_tls(
                raw, self, self.server.ssl_context, server_side=True,
                ssl_handshake_timeout=self.opts.acse_timeout, **tlsinfo.shutdown_timeout())
        except asyncio.CancelledError as exc:
            raw.abort()
            self._cleanup()
            self.handshake_task = None
            exc.__traceback__ = None  # see below
            raise
        except Exception as exc:  # whatever the handshake raised ends this connection only
            # The exception's traceback holds start_tls()'s frame, whose waiter future
            # holds the exception: a reference cycle that kept every failed handshake's
            # SSLProtocol, SSL object and buffers (~80 KB) until a full garbage
            # collection, which an idle server seldom runs. Cut it here.
            exc.__traceback__ = None
            self.handshake_task = None
            if not self.evicted:
                text = tlsinfo.failure_text(exc)
                app.error(f"TLS handshake with {self.record.peer} failed: {text}")
                self.reportable = True
                self._finish(records.TIMEOUT if tlsinfo.timed_out(exc) else records.ERROR,
                             f"TLS handshake failed: {text}")
            raw.abort()
            self._cleanup()
            return
        self.handshake_task = None
        if self.phase == CLOSED:  # the peer left while this coroutine was waking up
            return
        self.transport = tls
        problem = tlsinfo.describe(tls, self.record, self.opts.tls)
        if problem:
            app.error(f"TLS peer {self.record.peer} refused: {problem}")
            self.reportable = True
            self._finish(records.ERROR, problem)
            self.phase = CLOSED
            tls.abort()
            return
        self.phase = REQUEST
        self._arm(self.opts.acse_timeout)
        self._process()

    # ------------------------------------------------------------------ events

    def _process(self) -> None:
        produced = False
        acceptor = self.acceptor
        while self.phase != CLOSED:
            event = acceptor.next_event()
            if event is None:
                break
            produced = True
            kind = type(event)
            if kind is dul.EchoRequested:
                self._on_echo(event)
            elif kind is dul.MessageReceived:
                self._on_message(event)
            elif kind is dul.AssociationRequested:
                self._on_request(event.rq, event.raw)
            elif kind is dul.ReleaseRequested:
                self._on_release()
            elif kind is dul.Aborted:
                self._on_peer_abort(event)
            elif kind is dul.ConnectionClosed:
                self._on_closed()
            elif kind is dul.ProtocolViolation:
                self._on_protocol_error(event)
        if self.phase == ASSOCIATED:
            if produced:
                self.incomplete_since = None
            elif self.incomplete_since is None:
                self.incomplete_since = self.loop.time()
                self._rearm_for(self.incomplete_since + self.opts.dimse_timeout)

    def _on_request(self, rq: AssociateRQ, raw: bytes) -> None:
        self.reportable = True
        record = self.record
        record.calling_ae = rq.calling_ae.strip(" ")
        record.called_ae = rq.called_ae.strip(" ")
        if app.enabled(log.DEBUG):
            app.debug("\n".join(dumps.associate_rq(rq)))
        server = self.server
        rj = negotiation.rejection(rq, self.opts, server.associations >= self.opts.max_associations)
        if rj is not None:
            app.info("Rejecting Association")
            if app.enabled(log.DEBUG):
                app.debug("\n".join(dumps.associate_rj(rj)))
            self._write(self.acceptor.reject(rj))
            self._finish(records.REJECTED, f"result {rj.result}, source {rj.source}, "
                                           f"reason {rj.reason}")
            self._wait_for_close()
            return
        ac, data, self.accepted_ids = server.answers.get(raw, rq)
        app.info("Accepting Association")
        if app.enabled(log.DEBUG):
            app.debug("\n".join(dumps.associate_ac(ac, rq)))
        self._write(self.acceptor.accept(ac, data))
        server.leave_pending(self)
        server.associations += 1
        self.counted = True
        self.phase = ASSOCIATED
        self.last_activity = self.loop.time()
        self._rearm_for(self.last_activity + self.opts.network_timeout)

    def _on_echo(self, event: dul.EchoRequested) -> None:
        """The C-ECHO-RQ every DCMTK-based peer sends, its message ID read by dul."""
        context_id = event.context_id
        if context_id in self.accepted_ids:
            self._answer_echo(context_id, event.message_id)
        else:
            self._on_message(event)

    def _on_message(self, event: dul.MessageReceived) -> None:
        context_id = event.context_id
        command = self._read_command(event.command)
        if command is None:
            return
        field, message_id = command
        if context_id not in self.accepted_ids:
            app.info(f"Received DIMSE message with invalid or rejected context ID: {context_id}")
            self._abort(records.ABORTED, f"message on context {context_id}, not accepted",
                        "Association Aborted")
        elif field != dimse.C_ECHO_RQ or not isinstance(message_id, int):
            name = dimse.COMMAND_NAMES.get(field, f"command field {field!r}")
            if app.enabled(log.DEBUG):
                app.debug("\n".join(dumps.other_message(context_id, name, message_id)))
            self._abort(records.ABORTED, f"unsupported DIMSE message {name}",
                        "Association Aborted")
        else:
            self._answer_echo(context_id, message_id)

    def _read_command(self, raw: bytes) -> tuple[object, object] | None:
        """(Command Field, Message ID) of a command set; None after aborting for a bad one."""
        try:
            command = dimse.decode_command(raw)
        except dimse.DIMSEError as exc:
            self._abort_for_error(f"invalid DIMSE command: {exc}")
            return None
        return command.get(dimse.COMMAND_FIELD), command.get(dimse.MESSAGE_ID)

    def _answer_echo(self, context_id: int, message_id: int) -> None:
        """Log the C-ECHO-RQ and send (or, with --delay, schedule) its response."""
        app.info(f"Received Echo Request (MsgID {message_id})")
        if app.enabled(log.DEBUG):
            app.debug("\n".join(dumps.echo_rq(context_id, message_id)))
        status = self.opts.status
        try:
            pdu = self.acceptor.send_echo_response(context_id, message_id, status)
        except ValueError as exc:  # the peer's max PDU cannot carry a response
            self._abort_for_error(str(exc))
            return
        if app.enabled(log.DEBUG):
            app.debug("\n".join(dumps.echo_rsp(context_id, message_id, status)))
        if self.opts.delay > 0:
            self._delay(pdu)
        else:
            self._write(pdu)
            self.record.echoes += 1

    def _on_release(self) -> None:
        if self.delayed:
            self.release_pending = True
            return
        self._release()

    def _release(self) -> None:
        self._write(self.acceptor.release_response())
        app.info("Association Released")
        self._finish(records.RELEASED, None)
        self._wait_for_close()

    def _on_peer_abort(self, event: dul.Aborted) -> None:
        if app.enabled(log.DEBUG):
            app.debug("\n".join(dumps.abort(event.source, event.reason, incoming=True)))
        if self.phase == ASSOCIATED:
            app.info("Association Aborted")
        self.reportable = True
        self._finish(records.PEER_ABORTED, f"A-ABORT source {event.source}, reason {event.reason}")
        self._close()

    def _on_closed(self) -> None:
        if self.phase == ASSOCIATED:
            app.info("Association Aborted (A-P-ABORT)")
            self._finish(records.PEER_ABORTED, "connection closed by the peer")
        self._close()

    def _on_protocol_error(self, event: dul.ProtocolViolation) -> None:
        self.reportable = True
        app.error(f"Protocol error from {self.record.peer}: {event.error}")
        self._abort(records.ERROR, f"protocol error: {event.error}", None,
                    source=2, reason=event.abort_reason)

    # ------------------------------------------------------------------ ending

    def _abort_for_error(self, detail: str) -> None:
        app.error(f"Aborting Association with {self.record.peer}: {detail}")
        self._abort(records.ERROR, detail, None)

    def _abort(self, ended: str, detail: str, info_line: str | None,
               source: int = 0, reason: int = 0) -> None:
        """Send A-ABORT (when the state allows one), log, account, close."""
        if info_line:
            app.info(info_line)
        try:
            data = self.acceptor.abort(source, reason)
        except dul.StateError:
            data = b""
        if data:
            if app.enabled(log.DEBUG):
                app.debug("\n".join(dumps.abort(source, reason, incoming=False)))
            self._write(data)
        self._finish(ended, detail)
        self._close()

    def evict(self) -> None:
        """Closed over a cap: reset the connection now, quietly (the server reports)."""
        self.server.leave_pending(self)
        self.evicted = True
        transport = self.transport
        if transport is None:  # not wrapped yet: connection_made closes it
            return
        if self.phase == HANDSHAKE and self.handshake_task is not None:
            self.handshake_task.cancel()
        self._stop()
        transport.abort()

    def shutdown(self) -> None:
        """SIGINT/SIGTERM: abort a running association, drop anything else."""
        if self.phase == ASSOCIATED:
            self._abort(records.ABORTED, "server shutting down", "Aborting Association")
        elif self.phase == HANDSHAKE and self.handshake_task is not None:
            self.handshake_task.cancel()
        elif self.phase != CLOSED:
            self._close()

    def _finish(self, ended: str, detail: str | None) -> None:
        """Note how the association ended (the first reason given wins)."""
        if self.record.ended is None:
            self.record.ended = ended
            self.record.detail = detail

    def _wait_for_close(self) -> None:
        """After RJ / RP the peer closes; ARTIM bounds how long we wait for that."""
        self._leave_association()
        self.phase = CLOSING
        self._cancel_delayed()
        # a timer due earlier (the one armed at connect) stays and re-arms when it fires:
        # no cancel and new timer at every release
        self.close_due = self.loop.time() + self.opts.acse_timeout
        self._rearm_for(self.close_due)

    def _close(self) -> None:
        self._stop()
        if self.transport is not None:
            self.transport.close()

    def _stop(self) -> None:
        """Nothing more happens on this connection: uncount it, timers and responses off."""
        self._leave_association()
        self.server.leave_pending(self)
        self.phase = CLOSED
        self._cancel_delayed()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _leave_association(self) -> None:
        if self.counted:
            self.counted = False
            self.server.associations -= 1

    def _cleanup(self) -> None:
        """Last step of every connection: timers off, JSON line out, forget it."""
        self._stop()
        if self in self.server.connections:
            self.server.connections.discard(self)
            if self.reportable and self.server.json_log is not None:
                self.server.json_log.write(self.record)
            self.server.connection_ended()

    def _write(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # ------------------------------------------------------------------ --delay

    def _delay(self, pdu: bytes) -> None:
        """Queue a response for --delay; responses leave in the order requests came."""
        self.delayed.append((self.loop.time() + self.opts.delay, pdu))
        if self.delay_timer is None:
            self.delay_timer = self.loop.call_at(self.delayed[0][0], self._send_delayed)

    def _send_delayed(self) -> None:
        self.delay_timer = None
        now = self.loop.time()
        while self.delayed and self.delayed[0][0] <= now:
            self._write(self.delayed.popleft()[1])
            self.record.echoes += 1
            self.last_activity = now
        if self.delayed:
            self.delay_timer = self.loop.call_at(self.delayed[0][0], self._send_delayed)
        elif self.release_pending and self.phase == ASSOCIATED:
            self.release_pending = False
            self._release()

    def _cancel_delayed(self) -> None:
        if self.delay_timer is not None:
            self.delay_timer.cancel()
            self.delay_timer = None
        self.delayed.clear()

    # ------------------------------------------------------------------ timers

    def _arm(self, seconds: float) -> None:
        """(Re)start the one timer to fire ``seconds`` from now."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer_due = self.loop.time() + seconds
        self.timer = self.loop.call_at(self.timer_due, self._on_timer)

    def _rearm_for(self, due: float) -> None:
        """Make sure the timer fires no later than ``due``."""
        if self.timer is None or due < self.timer_due:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_due = due
            self.timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        now = self.loop.time()
        if self.phase == REQUEST:
            app.error(f"ACSE timeout reached while waiting for an A-ASSOCIATE-RQ "
                      f"from {self.record.peer}")
            self.reportable = True
            self._finish(records.TIMEOUT, "no A-ASSOCIATE-RQ within the ACSE timeout")
            self._close()
        elif self.phase == CLOSING:
            if now < self.close_due:
                self.timer_due = self.close_due
                self.timer = self.loop.call_at(self.close_due, self._on_timer)
            else:
                self._close()
        elif self.phase == ASSOCIATED:
            self._check_association_timeouts(now)

    def _check_association_timeouts(self, now: float) -> None:
        opts = self.opts
        if self.incomplete_since is not None and now >= self.incomplete_since + opts.dimse_timeout:
            app.error("DIMSE timeout reached while waiting for the rest of a message")
            self._abort(records.TIMEOUT, "DIMSE timeout: message or PDU left unfinished",
                        "Aborting Association")
            return
        idle_due = self.last_activity + opts.network_timeout
        if self.delayed:
            idle_due = max(idle_due, now + opts.network_timeout)
        if now >= idle_due:
            app.error("Network timeout reached")
            self._abort(records.TIMEOUT, "network timeout: association idle",
                        "Aborting Association")
            return
        due = idle_due
        if self.incomplete_since is not None:
            due = min(due, self.incomplete_since + opts.dimse_timeout)
        self.timer_due = due
        self.timer = self.loop.call_at(due, self._on_timer)
