"""A plain-TCP transport for accepted sockets, driven by the loop's add_reader/add_writer.

``loop.connect_accepted_socket`` costs a task, several call_soon hops, getsockname and
getpeername calls and a second setblocking for every connection: about a fifth of
echoscp's CPU per short association (issue #17, T5). The listener already has the
socket, non-blocking, and the peer's address, so the transport starts at once. It
keeps asyncio's contract as far as ``Connection`` relies on it: connection_made
first, connection_lost exactly once and in a later callback, writes buffered past
what the socket takes (with pause_writing/resume_writing at asyncio's default
limits), close() after the buffer is sent, abort() at once, errors reported through
the loop's exception handler. TLS connections keep asyncio's own transport, which
``loop.start_tls`` needs.
"""

from __future__ import annotations

import asyncio
import socket

#: bytes read per recv(), as asyncio's selector transport reads
READ_SIZE = 256 << 10
#: write buffer limits: pause_writing() above the high mark, resume_writing() at the low
HIGH_WATER = 64 << 10
LOW_WATER = HIGH_WATER // 4


class SocketTransport(asyncio.Transport):
    """An accepted TCP connection, without asyncio's per-connection start-up hops."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol: asyncio.Protocol, peer: object) -> None:
        super().__init__({"peername": peer, "socket": sock})
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._buffer = bytearray()
        self._closing = False
        self._lost = False
        self._reading = False
        self._writing_paused = False

    def start(self) -> None:
        """Tell the protocol, then read (unless it closed the transport meanwhile).

        The first read is tried at once: a client sends its request right after
        connecting, so it has usually arrived by the time the listener accepted.
        """
        self._protocol.connection_made(self)
        if not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)
            self._read_ready()

    # ------------------------------------------------------------------ reading

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        if self._reading and not self._closing:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _read_ready(self) -> None:
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        try:
            if data:
                self._protocol.data_received(data)
                return
            if self._reading:
                self._reading = False
                self._loop.remove_reader(self._fd)
            keep_open = self._protocol.eof_received()
        except Exception as exc:
            self._protocol_failed(exc, "data_received() or eof_received()")
            return
        if not keep_open:
            self.close()

    # ------------------------------------------------------------------ writing

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def write(self, data: bytes) -> None:
        """Send what the socket takes now; buffer the rest until it is writable."""
        if not data or self._lost:
            return
        if not self._buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._force_close(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer += data
        if not self._writing_paused and len(self._buffer) > HIGH_WATER:
            self._writing_paused = True
            self._call_protocol(self._protocol.pause_writing, "pause_writing()")

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._loop.remove_writer(self._fd)
            self._buffer.clear()
            self._force_close(exc)
            return
        del self._buffer[:sent]
        if self._writing_paused and len(self._buffer) <= LOW_WATER:
            self._writing_paused = False
            self._call_protocol(self._protocol.resume_writing, "resume_writing()")
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._lose(None)

    def can_write_eof(self) -> bool:
        return False

    # ------------------------------------------------------------------ ending

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; the connection ends once the buffered bytes are sent."""
        if self._closing:
            return
        self._closing = True
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        if not self._buffer:
            self._lose(None)

    def abort(self) -> None:
        """End the connection now, dropping anything not yet sent."""
        self._force_close(None)

    def _force_close(self, exc: Exception | None) -> None:
        if self._lost:
            return
        if self._buffer:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
        self._closing = True
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)
        self._lose(exc)

    def _lose(self, exc: Exception | None) -> None:
        """connection_lost in a callback of its own, as asyncio's transports do."""
        if not self._lost:
            self._lost = True
            self._loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._sock.close()
            # the protocol holds this transport: without the cycle, both go by reference
            # counting rather than waiting for a garbage collection
            self._protocol = None

    def _call_protocol(self, method, name: str) -> None:
        try:
            method()
        except Exception as exc:
            self._protocol_failed(exc, name)

    def _protocol_failed(self, exc: Exception, name: str) -> None:
        """A protocol callback raised: report it as asyncio does, and end the connection."""
        self._loop.call_exception_handler({
            "message": f"Fatal error: protocol.{name} call failed.",
            "exception": exc, "transport": self, "protocol": self._protocol})
        self._force_close(exc)
