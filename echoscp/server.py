"""The listening side: sockets, the event loop, signals, the association count.

One asyncio loop serves every connection (``echoscp.connection``). The default
bind is one dual-stack socket on ``::`` (IPv6 and IPv4-mapped), falling back to
``0.0.0.0`` on hosts without IPv6. SIGINT/SIGTERM close the listeners, abort the
running associations and end the process with exit code 0.

Connections that have not associated yet ("pending": TLS handshake, waiting for
the A-ASSOCIATE-RQ, or rejected and waiting for the peer to close) are capped in
number (``--max-pending``, ``--max-pending-per-address``, defaults sized from the
open-files limit) and in the bytes they buffer (``MAX_PENDING_BYTES``), so idle or
half-sent connections can neither use up the descriptors nor the memory that
associations need. We accept connections ourselves rather than through
``loop.create_server``: asyncio's accept loop reports every failed accept() of a
tick through the exception handler (on 3.13.0 up to ``backlog`` times per tick
when out of descriptors), which made a busy loop of log lines; ours pauses.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
from collections.abc import Callable

from dicomecho import log
from dul.association import RequestMemo
from echoscp import listings, negotiation
from echoscp.connection import Connection
from echoscp.options import DEFAULT_MAX_PENDING, ServerOptions
from echoscp.records import JsonLog
from echoscp.transport import SocketTransport

app = log.get_logger("echoscp")

#: how long shutdown waits for aborted connections to finish closing
SHUTDOWN_GRACE = 2.0
#: file descriptors kept free besides one per association
SPARE_DESCRIPTORS = 64
#: listen() backlog: room for a burst of connections while the loop is busy, not a
#: queue in which clients wait unseen (SOMAXCONN is 4096 on current Linux)
LISTEN_BACKLOG = 512
#: accept() calls per readiness event of a listener (then other callbacks get a turn)
ACCEPT_BATCH = 64
#: how long accepting pauses when the process or system is out of descriptors
ACCEPT_PAUSE = 0.5
#: bytes all pending connections together may buffer (a partly received
#: A-ASSOCIATE-RQ; one may be up to ``connection.MAX_ASSOCIATION_PDU``)
MAX_PENDING_BYTES = 32 << 20
#: at most one log line per kind of refusal within this many seconds
REPORT_INTERVAL = 10.0
#: errno values of accept() that mean "no descriptors / memory now, try later"
_OUT_OF_RESOURCES = frozenset(
    getattr(errno, name) for name in ("EMFILE", "ENFILE", "ENOBUFS", "ENOMEM")
    if hasattr(errno, name))

_LEVELS_BY_LETTER = {letter: level for level, letter in log.LEVEL_LETTERS.items()}


class StartupError(Exception):
    """The server cannot start (bind, TLS set-up, log file); ``messages`` say why.

    Each message is (level letter, text); most are a single ``E`` line, TLS set-up
    failures carry DCMTK's lines with their own letters.
    """

    def __init__(self, text: str, messages: list[tuple[str, str]] | None = None) -> None:
        super().__init__(text)
        self.messages = messages if messages is not None else [("E", text)]


class Reporter:
    """One log line per kind of event within ``REPORT_INTERVAL``, with a count of the
    events the silence covered: a flood of refusals costs a line every few seconds."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._last: dict[str, float] = {}
        self._unreported: dict[str, int] = {}

    def report(self, kind: str, text: str) -> None:
        now = self.loop.time()
        last = self._last.get(kind)
        if last is not None and now - last < REPORT_INTERVAL:
            self._unreported[kind] = self._unreported.get(kind, 0) + 1
            return
        self._last[kind] = now
        quiet = self._unreported.pop(kind, 0)
        if quiet:
            text += f" ({quiet} more since the last report)"
        app.error(text)


class Server:
    """What every connection shares: options, TLS context, JSON log, the counts."""

    def __init__(self, opts: ServerOptions, loop: asyncio.AbstractEventLoop,
                 ssl_context: object | None, json_log: JsonLog | None,
                 max_pending: int = DEFAULT_MAX_PENDING,
                 max_pending_per_address: int = DEFAULT_MAX_PENDING // 2) -> None:
        self.opts = opts
        self.loop = loop
        self.ssl_context = ssl_context
        self.json_log = json_log
        self.connections: set[Connection] = set()
        #: repeated A-ASSOCIATE-RQs are decoded and answered once (issue #17, T5)
        self.requests = RequestMemo()
        self.answers = negotiation.Answers(opts)
        #: accepted associations running now (the --max-associations count)
        self.associations = 0
        self.max_pending = max_pending
        self.max_pending_per_address = max_pending_per_address
        #: connections not associated yet, oldest first (a dict keeps insertion order)
        self.pending: dict[Connection, None] = {}
        self.pending_by_address: dict[str, int] = {}
        #: bytes buffered by pending connections together (MAX_PENDING_BYTES)
        self.pending_bytes = 0
        self.reporter = Reporter(loop)
        self.listeners: list[Listener] = []
        self._attaching: set[asyncio.Task] = set()
        self._resume: asyncio.TimerHandle | None = None
        self._drained: asyncio.Event | None = None

    # ------------------------------------------------------------------ admission

    def admit(self, connection: Connection, address: str) -> bool:
        """Count a new connection as pending, within the caps; False: close it now.

        Over the per-address cap the new connection goes (it is the one that cap
        is about); over the total cap the longest-waiting pending one does, so that
        connections held idle cannot keep newcomers out until ARTIM.
        """
        held = self.pending_by_address.get(address, 0)
        if held >= self.max_pending_per_address:
            self.reporter.report(
                "address", f"Closing new connection from {address}: {held} connections "
                           f"from that address are waiting for association "
                           f"(--max-pending-per-address {self.max_pending_per_address})")
            return False
        if len(self.pending) >= self.max_pending:
            oldest = next(iter(self.pending))
            self.reporter.report(
                "total", f"Closing the longest-waiting connection (from {oldest.address}): "
                         f"{len(self.pending)} connections are waiting for association "
                         f"(--max-pending {self.max_pending})")
            oldest.evict()
        self.pending[connection] = None
        self.pending_by_address[address] = held + 1
        connection.address = address
        return True

    def leave_pending(self, connection: Connection) -> None:
        """``connection`` associated or ended: it no longer counts as pending."""
        if self.pending.pop(connection, False) is None:
            address = connection.address
            left = self.pending_by_address[address] - 1
            if left:
                self.pending_by_address[address] = left
            else:
                del self.pending_by_address[address]
        self.pending_bytes -= connection.held_bytes
        connection.held_bytes = 0

    def hold_bytes(self, connection: Connection, buffered: int) -> bool:
        """A pending connection now buffers ``buffered`` bytes; False: over the budget."""
        self.pending_bytes += buffered - connection.held_bytes
        connection.held_bytes = buffered
        if self.pending_bytes <= MAX_PENDING_BYTES:
            return True
        self.reporter.report(
            "bytes", f"Closing connection from {connection.address}: connections waiting "
                     f"for association hold more than {MAX_PENDING_BYTES >> 20} MiB of "
                     f"unfinished requests")
        return False

    # ------------------------------------------------------------------ accepting

    def accepted(self, sock: socket.socket, peer: tuple) -> None:
        """A socket our listener accepted: admit it and wrap it in a transport (ours
        for plain TCP, asyncio's where TLS follows: ``loop.start_tls`` needs that one)."""
        connection = Connection(self)
        if not self.admit(connection, _shown_address(peer)):
            sock.close()
            return
        try:
            sock.setblocking(False)
        except OSError:
            self.leave_pending(connection)
            sock.close()
            return
        if self.ssl_context is None:
            SocketTransport(self.loop, sock, connection, peer).start()
            return
        task = self.loop.create_task(self._attach(connection, sock))
        self._attaching.add(task)
        task.add_done_callback(self._attaching.discard)

    async def _attach(self, connection: Connection, sock: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: connection, sock)
        except Exception as exc:  # the peer left before the transport was up
            app.debug(f"Connection from {connection.address} lost at once: {exc}")
            self.leave_pending(connection)
            sock.close()

    def out_of_descriptors(self, exc: OSError) -> None:
        """accept() failed for want of descriptors or memory: pause every listener."""
        self.reporter.report("accept", f"Cannot accept connections: {exc.strerror}; "
                                       f"pausing for {ACCEPT_PAUSE:g} s")
        for listener in self.listeners:
            listener.pause()
        if self._resume is None:
            self._resume = self.loop.call_later(ACCEPT_PAUSE, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._resume = None
        for listener in self.listeners:
            listener.resume()

    def close_listeners(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        for listener in self.listeners:
            listener.close()

    def connection_ended(self) -> None:
        """A connection is gone; wake a shutdown waiting for the last one."""
        if self._drained is not None and not self.connections:
            self._drained.set()

    async def shutdown(self) -> None:
        """Abort everything still running and wait (briefly) until it is closed."""
        self._drained = asyncio.Event()
        for connection in list(self.connections):
            connection.shutdown()
        if self.connections:
            try:
                await asyncio.wait_for(self._drained.wait(), SHUTDOWN_GRACE)
            except asyncio.TimeoutError:
                for connection in list(self.connections):
                    if connection.transport is not None:
                        connection.transport.abort()


def _shown_address(peer: object) -> str:
    """The address part of a peer address, IPv4-mapped IPv6 shown as IPv4."""
    host = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return host


class Listener:
    """One listening socket, accepted from by our own readiness callback.

    Where the loop has no ``add_reader`` (Windows' proactor loop), asyncio's
    ``create_server`` accepts instead and the caps are applied in
    ``Connection.connection_made``.
    """

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.reading = False
        self.fallback: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = self.server.loop
        self.sock.setblocking(False)
        try:
            loop.add_reader(self.fd, self._on_readable)
        except NotImplementedError:
            self.fallback = await loop.create_server(
                lambda: Connection(self.server), sock=self.sock, backlog=LISTEN_BACKLOG)
            return
        self.reading = True
        self.sock.listen(LISTEN_BACKLOG)

    def _on_readable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # the peer reset before we took it
                continue
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self.server.out_of_descriptors(exc)
                else:
                    self.server.reporter.report("accept-error",
                                                f"Cannot accept a connection: {exc}")
                return
            self.server.accepted(sock, peer)

    def pause(self) -> None:
        if self.reading:
            self.reading = False
            self.server.loop.remove_reader(self.fd)

    def resume(self) -> None:
        if not self.reading and self.fallback is None and self.sock.fileno() >= 0:
            self.reading = True
            self.server.loop.add_reader(self.fd, self._on_readable)

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()
            return
        self.pause()
        self.sock.close()


def listening_sockets(bind_address: str, port: int) -> list[socket.socket]:
    """Bound sockets for ``-ba`` (not yet listening); StartupError says why not."""
    if bind_address == "":
        try:
            return [_bind(socket.AF_INET6, ("::", port), dual_stack=True)]
        except OSError as exc:
            if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
                raise StartupError(f"Cannot listen on port {port}: {exc.strerror}") from None
        return [_bind_or_fail(socket.AF_INET, ("0.0.0.0", port))]
    try:
        infos = socket.getaddrinfo(bind_address, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"Cannot resolve bind address '{bind_address}': {exc.strerror}") \
            from None
    sockets, seen = [], set()
    for family, _, _, _, address in infos:
        key = (family, address[:2])
        if key in seen:
            continue
        seen.add(key)
        sockets.append(_bind_or_fail(family, address))
    return sockets


def _bind_or_fail(family: int, address: tuple) -> socket.socket:
    dual = family == socket.AF_INET6 and address[0] == "::"
    try:
        return _bind(family, address, dual_stack=dual)
    except OSError as exc:
        where = f"[{address[0]}]" if family == socket.AF_INET6 else address[0]
        raise StartupError(f"Cannot listen on {where}:{address[1]}: {exc.strerror}") from None


def _bind(family: int, address: tuple, dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        _own_port(sock)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _own_port(sock: socket.socket) -> None:
    """Restart on a port with connections in TIME_WAIT, but never share a port.

    POSIX SO_REUSEADDR only allows binding over TIME_WAIT leftovers; on Windows it
    lets a second process bind the same port and steal connections, and
    SO_EXCLUSIVEADDRUSE is what keeps the port ours (Windows binds over TIME_WAIT
    without any option).
    """
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return
    exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
    if exclusive is not None:
        sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)


def _raise_descriptor_limit(needed: int, wanted: int) -> int | None:
    """Lift the soft open-files limit towards ``wanted`` (associations and pending
    connections); warn if it stays below ``needed`` (--max-associations alone).

    Returns the limit now in force; None where it is unlimited or cannot be read.
    """
    from dicomecho.netenv import raise_fd_limit

    limit = raise_fd_limit(wanted)
    if limit is not None and limit < needed:
        app.warn(f"Open-files limit {limit} is below what --max-associations needs ({needed})")
    return limit


def _descriptors_in_use() -> int:
    """Open descriptors of this process now (an estimate where /proc or /dev/fd lacks)."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(directory))
        except OSError:
            continue
    return 16


def pending_limits(opts: ServerOptions, limit: int | None, in_use: int) -> tuple[int, int]:
    """(--max-pending, --max-pending-per-address) as given, or sized from ``limit``.

    The descriptors left besides those in use and ``SPARE_DESCRIPTORS`` are shared:
    associations keep room for --max-associations or half of them, whichever is
    less, pending connections get the rest (at most ``DEFAULT_MAX_PENDING``).
    One address may hold half of the pending ones.
    """
    total = opts.max_pending
    if total is None:
        total = DEFAULT_MAX_PENDING
        if limit is not None:
            free = limit - in_use - SPARE_DESCRIPTORS
            kept = min(opts.max_associations, free // 2)
            total = max(1, min(total, free - kept))
    per_address = opts.max_pending_per_address
    if per_address is None:
        per_address = max(1, total // 2)
    return total, min(per_address, total)


def _tls_context(opts: ServerOptions) -> object | None:
    if opts.tls is None:
        return None
    from certs.context import server_context
    from certs.errors import TLSSetupError
    from echoscp.tlsinfo import limit_read_buffers

    try:
        context = server_context(opts.tls, log.get_logger("echoscp.tls"))
    except TLSSetupError as exc:
        raise StartupError(str(exc), exc.messages) from None
    limit_read_buffers()
    return context


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Anything escaping a callback: one log line, never a traceback."""
    exc = context.get("exception")
    text = f"{type(exc).__name__}: {exc}" if exc is not None else context.get("message")
    app.error(f"Internal error: {text}")


def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` on SIGINT/SIGTERM; returns what puts the previous handlers back.

    ``loop.add_signal_handler`` where the loop has it; it raises NotImplementedError
    on Windows and RuntimeError off the main thread (or when the wakeup fd cannot be
    set). Then plain ``signal.signal`` handlers wake the loop thread-safely. Where
    neither works (a thread that is not the main one), the signals keep their
    default effect.
    """
    signums = [signal.SIGINT, signal.SIGTERM]
    added: list[int] = []
    try:
        for signum in signums:
            loop.add_signal_handler(signum, stop.set)
            added.append(signum)
    except (NotImplementedError, RuntimeError):
        for signum in added:
            loop.remove_signal_handler(signum)
    else:
        def remove() -> None:
            for signum in added:
                loop.remove_signal_handler(signum)

        return remove

    def handler(signum: int, frame: object) -> None:
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop is already closed
            pass

    previous: dict[int, object] = {}
    for signum in signums:
        try:
            previous[signum] = signal.signal(signum, handler)
        except (ValueError, OSError) as exc:  # ValueError: not the main thread
            app.debug(f"Cannot handle signal {signum}: {exc}")

    def restore() -> None:
        for signum, old in previous.items():
            if old is not None:  # None: a handler not installed from Python
                signal.signal(signum, old)

    return restore


async def _serve(opts: ServerOptions) -> int:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_exception)
    ssl_context = _tls_context(opts)
    json_log = None
    if opts.log_json is not None:
        try:
            json_log = JsonLog(opts.log_json)
        except OSError as exc:
            raise StartupError(f"Cannot open --log-json file '{opts.log_json}': "
                               f"{exc.strerror}") from None
    in_use = _descriptors_in_use()
    wanted = opts.max_associations + (opts.max_pending or DEFAULT_MAX_PENDING) \
        + SPARE_DESCRIPTORS + in_use
    limit = _raise_descriptor_limit(opts.max_associations + SPARE_DESCRIPTORS, wanted)
    max_pending, per_address = pending_limits(opts, limit, in_use)
    app.debug(f"Open-files limit {limit if limit is not None else 'none'}: at most "
              f"{max_pending} connections waiting for association, {per_address} "
              f"from one address")
    server = Server(opts, loop, ssl_context, json_log, max_pending, per_address)
    # the handlers go in before the first connection can be accepted: a SIGTERM sent as
    # soon as the port answers must stop the server cleanly, not kill it
    stop = asyncio.Event()
    restore_signals = _stop_on_signals(loop, stop)
    try:
        try:
            for sock in listening_sockets(opts.bind_address, opts.port):
                listener = Listener(server, sock)
                server.listeners.append(listener)
                await listener.start()
        except OSError as exc:
            server.close_listeners()
            raise StartupError(f"Cannot listen on port {opts.port}: {exc.strerror}") from None
        try:
            await stop.wait()
        finally:
            server.close_listeners()
            await server.shutdown()
            if json_log is not None:
                json_log.close()
            if opts.tls is not None:
                from certs.context import write_seed

                write_seed(opts.tls)
    finally:  # only now: a second signal during the shutdown changes nothing
        restore_signals()
    return 0


def serve(opts: ServerOptions) -> int:
    """Run the SCP until SIGINT/SIGTERM (exit 0); 1 if it cannot start."""
    if log.root_logger().enabled(log.DEBUG):
        app.debug(listings.version_line())
        app.debug("")
    try:
        return asyncio.run(_serve(opts))
    except StartupError as exc:
        for letter, text in exc.messages:
            app.log(_LEVELS_BY_LETTER.get(letter, log.ERROR), text)
        return 1
    except KeyboardInterrupt:
        return 0
