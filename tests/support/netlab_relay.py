"""A userspace TCP relay that adds latency (and optionally splits writes), for the fault lab.

The kernel here has no netem, so latency comes from this relay instead: every chunk read
on one side is written to the other side ``delay`` seconds after it arrived, in order
(a pipe with latency, not a sleep per chunk, so bytes queued together arrive together).
With ``--split`` each chunk goes out as 1-byte writes on a TCP_NODELAY socket, so the
peer's reader sees its PDUs in as many pieces as the network will carry. An end of file
is passed on (half-close) after the same delay; a reset or any other error on either side
closes both. With ``--reset-at-pdu K`` the client's K-th PDU is not forwarded: after
the delay the relay resets the client's connection (SO_LINGER 0) and closes the
server's, a peer resetting from ``delay`` seconds away.

Each chunk read is announced on stdout (``<direction> <bytes>``, ``c2s`` or ``s2c``,
flushed; 0 bytes is an end of file, -1 a reset, -2 the ``--reset-at-pdu`` point), so a
test can act at a known point of the exchange, e.g. kill the server once its
A-ASSOCIATE-AC is in the relay. The process exits by itself after ``--lifetime`` seconds,
whatever happens (the tests also kill it by its pid).

Usage: ``python netlab_relay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
[--delay SECONDS] [--split] [--reset-at-pdu K] [--lifetime SECONDS]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys

#: queued after the last chunk when the reading side failed (a reset): raised on the other
#: side after the same delay, which closes both connections
_RESET = object()
#: queued instead of the client's ``--reset-at-pdu``-th PDU: after the delay both
#: connections close, the client's with a TCP reset (SO_LINGER 0)
_ABORT = object()


class _Abort(Exception):
    """The relay resets the client's connection (``--reset-at-pdu``)."""


class _PduCounter:
    """Finds where each PDU starts in a byte stream (6-byte header, length in 2..6)."""

    def __init__(self) -> None:
        self.count = 0
        self._header = b""
        self._remaining = 0

    def offset_of(self, number: int, chunk: bytes) -> int | None:
        """Where PDU ``number`` (1-based) starts in ``chunk``, if it does."""
        i = 0
        while i < len(chunk):
            if self._remaining:
                step = min(self._remaining, len(chunk) - i)
                self._remaining -= step
                i += step
                continue
            if not self._header:
                self.count += 1
                if self.count == number:
                    return i
            take = min(6 - len(self._header), len(chunk) - i)
            self._header += chunk[i:i + take]
            i += take
            if len(self._header) == 6:
                self._remaining = int.from_bytes(self._header[2:6], "big")
                self._header = b""
        return None


def _announce(direction: str, size: int) -> None:
    sys.stdout.write(f"{direction} {size}\n")
    sys.stdout.flush()


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    direction: str,
    delay: float,
    split: bool,
    reset_at: int = 0,
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it was read;
    with ``reset_at``, stop before that PDU and raise ``_Abort`` after the delay."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, object]] = asyncio.Queue()
    counter = _PduCounter()

    async def read_side() -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                _announce(direction, len(chunk))
                cut = counter.offset_of(reset_at, chunk) if reset_at else None
                if cut is not None:
                    _announce(direction, -2)
                    if cut:
                        queue.put_nowait((loop.time() + delay, chunk[:cut]))
                    queue.put_nowait((loop.time() + delay, _ABORT))
                    return
                queue.put_nowait((loop.time() + delay, chunk))
                if not chunk:
                    return
        except OSError:
            _announce(direction, -1)
            queue.put_nowait((loop.time() + delay, _RESET))

    async def write_side() -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if chunk is _RESET:
                raise ConnectionResetError(f"{direction}: the sending side failed")
            if chunk is _ABORT:
                raise _Abort(direction)
            assert isinstance(chunk, bytes)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            pieces = [chunk[i:i + 1] for i in range(len(chunk))] if split else [chunk]
            for piece in pieces:
                writer.write(piece)
                await writer.drain()

    reading = asyncio.ensure_future(read_side())
    try:
        await write_side()
    finally:
        if not reading.done():
            reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading


async def _serve_one(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
    split: bool,
    reset_at: int,
) -> None:
    try:
        server_reader, server_writer = await asyncio.wait_for(
            asyncio.open_connection(*target), timeout=5.0
        )
    except (OSError, asyncio.TimeoutError):
        client_writer.close()
        return
    for writer in (client_writer, server_writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pumps = [
        asyncio.ensure_future(_pump(client_reader, server_writer, "c2s", delay, split,
                                    reset_at)),
        asyncio.ensure_future(_pump(server_reader, client_writer, "s2c", delay, split)),
    ]
    try:
        # both directions end normally (half-closes) or the first error ends both
        done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        failures = [task.exception() for task in done if task.exception()]
        if failures:
            for task in pumps:
                task.cancel()
        if any(isinstance(failure, _Abort) for failure in failures):
            sock = client_writer.get_extra_info("socket")
            if sock is not None:  # close with a reset
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        for writer in (client_writer, server_writer):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _main(args: argparse.Namespace) -> None:
    target = (args.target_host, args.target_port)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_one(reader, writer, target, args.delay, args.split, args.reset_at_pdu)

    server = await asyncio.start_server(handle, args.listen_host, args.listen_port)
    async with server:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.serve_forever(), timeout=args.lifetime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen_host")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_host")
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added each way")
    parser.add_argument("--split", action="store_true", help="forward in 1-byte writes")
    parser.add_argument("--reset-at-pdu", type=int, default=0, metavar="K",
                        help="reset the client instead of forwarding its K-th PDU")
    parser.add_argument("--lifetime", type=float, default=60.0, help="exit after this long")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
