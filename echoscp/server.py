"""The listening side: sockets, the event loop, signals, the association count.

One asyncio loop serves every connection (``echoscp.connection``). The default
bind is one dual-stack socket on ``::`` (IPv6 and IPv4-mapped), falling back to
``0.0.0.0`` on hosts without IPv6. SIGINT/SIGTERM close the listeners, abort the
running associations and end the process with exit code 0.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
from collections.abc import Callable

from echoscp import listings
from echoscp.connection import Connection
from echoscp.options import ServerOptions
from echoscp.records import JsonLog
from echoscu import log

app = log.get_logger("echoscp")

#: how long shutdown waits for aborted connections to finish closing
SHUTDOWN_GRACE = 2.0
#: file descriptors kept free besides one per association
SPARE_DESCRIPTORS = 64

_LEVELS_BY_LETTER = {letter: level for level, letter in log.LEVEL_LETTERS.items()}


class StartupError(Exception):
    """The server cannot start (bind, TLS set-up, log file); ``messages`` say why.

    Each message is (level letter, text); most are a single ``E`` line, TLS set-up
    failures carry DCMTK's lines with their own letters.
    """

    def __init__(self, text: str, messages: list[tuple[str, str]] | None = None) -> None:
        super().__init__(text)
        self.messages = messages if messages is not None else [("E", text)]


class Server:
    """What every connection shares: options, TLS context, JSON log, the counts."""

    def __init__(self, opts: ServerOptions, loop: asyncio.AbstractEventLoop,
                 ssl_context: object | None, json_log: JsonLog | None) -> None:
        self.opts = opts
        self.loop = loop
        self.ssl_context = ssl_context
        self.json_log = json_log
        self.connections: set[Connection] = set()
        #: accepted associations running now (the --max-associations count)
        self.associations = 0
        self._drained: asyncio.Event | None = None

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


def _raise_descriptor_limit(needed: int) -> None:
    """Lift the soft open-files limit so --max-associations connections fit."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < needed:
        app.warn(f"Open-files limit {target} is below what --max-associations needs ({needed})")


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
    _raise_descriptor_limit(opts.max_associations + SPARE_DESCRIPTORS)
    server = Server(opts, loop, ssl_context, json_log)
    listeners = []
    try:
        for sock in listening_sockets(opts.bind_address, opts.port):
            listeners.append(await loop.create_server(
                lambda: Connection(server), sock=sock, backlog=socket.SOMAXCONN))
    except OSError as exc:
        for listener in listeners:
            listener.close()
        raise StartupError(f"Cannot listen on port {opts.port}: {exc.strerror}") from None
    stop = asyncio.Event()
    restore_signals = _stop_on_signals(loop, stop)
    try:
        await stop.wait()
    finally:
        try:
            for listener in listeners:
                listener.close()
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
