"""Load and fault generation against a DICOM Verification SCP, for the soak script and
the reliability tests.

Light clients: asyncio associations built from ``dul`` PDUs (plain or TLS), thousands
in one thread. Hostile clients: mutated and random PDUs, lying lengths, stalls,
half-open TLS. Every network wait here is bounded by a timeout; every connection is
closed by the code that opened it. Also reads a process's resident memory from /proc.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time

from dul import association, dimse, echo_rq_pdu, echo_rsp_pdu, pdu, uids

#: default bound of every single network wait, in seconds
TIMEOUT = 20.0


class LoadError(Exception):
    """A well-behaved client did not get the answer a healthy SCP gives."""


# --------------------------------------------------------------------------- process


def rss_kib(pid: int) -> int:
    """Resident set size (VmRSS) of process ``pid`` in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise LoadError(f"process {pid} has no VmRSS (it is gone or a zombie)")


# --------------------------------------------------------------------------- valid PDUs


def associate_rq(calling: str = "LOADGEN", called: str = "ANY-SCP",
                 max_pdu: int = 16384, contexts: int = 1) -> pdu.AssociateRQ:
    """An A-ASSOCIATE-RQ proposing Verification (Implicit VR LE) ``contexts`` times."""
    return pdu.AssociateRQ(
        called, calling,
        [pdu.PresentationContextRQ(2 * i + 1, uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN])
         for i in range(contexts)],
        pdu.UserInformation(max_pdu=max_pdu, implementation_class_uid="1.2.826.0.1.3680043.10.1",
                            implementation_version_name="LOADGEN"))


def sample_pdus() -> list[bytes]:
    """Valid PDUs of every type, the raw material the mutators start from."""
    ac = pdu.AssociateAC("ANY-SCP", "LOADGEN",
                         [pdu.PresentationContextAC(1, 0, uids.IMPLICIT_VR_LITTLE_ENDIAN)],
                         pdu.UserInformation(max_pdu=16384, implementation_class_uid="1.2.3"))
    return [
        pdu.encode(associate_rq()),
        pdu.encode(associate_rq(contexts=3)),
        pdu.encode(ac),
        pdu.encode(pdu.AssociateRJ(1, 1, 1)),
        echo_rq_pdu(1, 7),
        echo_rsp_pdu(1, 7),
        pdu.encode(pdu.ReleaseRQ()),
        pdu.encode(pdu.ReleaseRP()),
        pdu.encode(pdu.Abort(0, 0)),
    ]


# --------------------------------------------------------------------------- mutation

_LENGTHS = (0, 1, 2, 3, 4, 5, 0x7F, 0x80, 0xFF, 0x100, 0x3FFE, 0x4000, 0x7FFF, 0x8000,
            0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


def _with_length(raw: bytes, at: int, size: int, value: int) -> bytes:
    value &= (1 << (8 * size)) - 1
    return raw[:at] + value.to_bytes(size, "big") + raw[at + size:]


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One random mutation of ``raw``: byte flips, insertions, deletions, truncation,
    a lying PDU, item or PDV length, a spliced second PDU, or a mutated body under a
    fixed-up header (so that the body parser is reached)."""
    choice = rng.randrange(9)
    if choice < 8:
        return _mutation(rng, raw, choice)
    body = _mutation(rng, raw, rng.randrange(8))[6:]
    return raw[:2] + len(body).to_bytes(4, "big") + body if len(raw) >= 6 else body


def _mutation(rng: random.Random, raw: bytes, choice: int) -> bytes:
    size = len(raw)
    if choice == 0 and size:
        at = rng.randrange(size)
        return raw[:at] + bytes((rng.randrange(256),)) + raw[at + 1:]
    if choice == 1:
        at = rng.randrange(size + 1)
        return raw[:at] + rng.randbytes(rng.randrange(1, 9)) + raw[at:]
    if choice == 2 and size:
        at = rng.randrange(size)
        return raw[:at] + raw[at + rng.randrange(1, 9):]
    if choice == 4 and size >= 6:
        return _with_length(raw, 2, 4, rng.choice(_LENGTHS))
    if choice == 5 and size > 10:
        # any 2-byte field in the body: item lengths live at offsets 2..3 of an item
        return _with_length(raw, rng.randrange(6, size - 1), 2, rng.choice(_LENGTHS))
    if choice == 6 and size > 10:
        return _with_length(raw, rng.randrange(6, size - 3), 4, rng.choice(_LENGTHS))
    if choice == 7:
        return raw + rng.choice(sample_pdus())
    return raw[:rng.randrange(size + 1)]


def hostile_stream(rng: random.Random, pdus: int = 20) -> list[bytes]:
    """What one hostile connection sends: mutated PDUs and random bytes, sometimes
    after a valid association request (and echo), so that every state is reached."""
    samples = sample_pdus()
    out: list[bytes] = []
    opening = rng.randrange(3)
    if opening >= 1:
        out.append(pdu.encode(associate_rq()))
    if opening == 2:
        out.append(echo_rq_pdu(1, 1))
    while len(out) < pdus:
        kind = rng.randrange(10)
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(1, 200)))
        elif kind == 1:
            out.append(rng.choice(samples))
        else:
            raw = rng.choice(samples)
            for _ in range(rng.randrange(1, 4)):
                raw = mutate(rng, raw)
            out.append(raw)
    return out


# --------------------------------------------------------------------------- connections


async def open_connection(host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                          timeout: float = TIMEOUT):
    """(reader, writer) to host:port, TLS if ``ssl_context`` (SNI 'localhost')."""
    return await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_context,
                                server_hostname="localhost" if ssl_context else None,
                                limit=1 << 20),
        timeout)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a stream and wait (bounded) until it is closed; never raises."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 5)
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        pass


class Reply(bytes):
    """What a peer sent until it closed; ``reset`` if it ended with a reset, in which
    case the kernel may have dropped the last bytes (a truncated PDU is possible).
    ``port`` is our end's port (how the peer's logs name the connection)."""

    reset: bool = False
    port: int = 0


async def drain_until_closed(reader: asyncio.StreamReader, timeout: float = TIMEOUT,
                             limit: int = 1 << 20) -> Reply:
    """Everything the peer sends until it closes; LoadError if it keeps the connection
    open past ``timeout`` (a hang) or sends more than ``limit`` bytes."""
    received = bytearray()
    deadline = time.monotonic() + timeout
    reset = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LoadError(f"peer kept the connection open for {timeout} s")
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except asyncio.TimeoutError:
            raise LoadError(f"peer kept the connection open for {timeout} s") from None
        except (ConnectionError, ssl.SSLError):
            chunk, reset = b"", True
        if not chunk:
            reply = Reply(received)
            reply.reset = reset
            return reply
        received += chunk
        if len(received) > limit:
            raise LoadError(f"peer sent more than {limit} bytes")


async def send_hostile(host: str, port: int, chunks: list[bytes],
                       ssl_context: ssl.SSLContext | None = None,
                       timeout: float = TIMEOUT) -> Reply:
    """Send ``chunks``, half-close, and return what the peer sent until it closed."""
    reader, writer = await open_connection(host, port, ssl_context, timeout)
    our_port = writer.get_extra_info("sockname")[1]
    try:
        try:
            for chunk in chunks:
                if writer.transport.is_closing():
                    break
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), timeout)
            if ssl_context is None and not writer.transport.is_closing():
                writer.write_eof()
        except OSError:  # ConnectionError, SSLError, or ENOTCONN from write_eof after a reset
            pass  # the SCP gave up on us mid-stream: what it sent is still read
        reply = await drain_until_closed(reader, timeout)
        reply.port = our_port
        return reply
    finally:
        await close_writer(writer)


class Requestor:
    """A dul requestor on an asyncio stream: associate, C-ECHO, release."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float = TIMEOUT) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.machine = association.Requestor(associate_rq(), max_receive_pdu=16384)

    async def event(self):
        """The next event from the SCP (LoadError if none comes within the timeout)."""
        while (event := self.machine.next_event()) is None:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), self.timeout)
            except asyncio.TimeoutError:
                raise LoadError(f"no answer within {self.timeout} s") from None
            except (ConnectionError, ssl.SSLError):
                data = b""
            self.machine.receive_data(data)
        return event

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait (bounded) until it is on its way."""
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), self.timeout)

    async def associate(self) -> None:
        """Send the A-ASSOCIATE-RQ; LoadError unless it is accepted."""
        await self.send(self.machine.start())
        event = await self.event()
        if not isinstance(event, association.AssociationAccepted):
            raise LoadError(f"association not accepted: {event!r}")

    async def echoes(self, repeat: int, pipeline: bool = False) -> int:
        """``repeat`` C-ECHOs (all requests first if ``pipeline``); how many got status 0.

        LoadError for any other answer.
        """
        ids = [(number % 0xFFFF) + 1 for number in range(repeat)]
        if pipeline:
            await self.send(b"".join(echo_rq_pdu(1, message_id) for message_id in ids))
        answered = 0
        for message_id in ids:
            if not pipeline:
                await self.send(echo_rq_pdu(1, message_id))
            event = await self.event()
            if not isinstance(event, association.MessageReceived):
                raise LoadError(f"C-ECHO {message_id}: {event!r}")
            command = dimse.decode_command(event.command)
            if command.get(dimse.MESSAGE_ID_RESPONDED) != message_id \
                    or command.get(dimse.STATUS) != 0:
                raise LoadError(f"C-ECHO {message_id}: unexpected response {command!r}")
            answered += 1
        return answered

    async def release(self) -> None:
        """A-RELEASE-RQ; LoadError unless A-RELEASE-RP comes back."""
        await self.send(self.machine.release())
        event = await self.event()
        if not isinstance(event, association.ReleaseConfirmed):
            raise LoadError(f"release: {event!r}")


async def echo_association(host: str, port: int, repeat: int = 1,
                           ssl_context: ssl.SSLContext | None = None,
                           timeout: float = TIMEOUT, pipeline: bool = False,
                           hold: float = 0.0) -> int:
    """Associate, C-ECHO ``repeat`` times, release: a well-behaved client.

    ``pipeline`` sends every request before reading any response; ``hold`` waits that
    long (associated, idle) before the echoes. Returns the echoes answered with status
    0; raises LoadError for anything a healthy SCP would not do.
    """
    reader, writer = await open_connection(host, port, ssl_context, timeout)
    try:
        client = Requestor(reader, writer, timeout)
        await client.associate()
        if hold:
            await asyncio.sleep(hold)
        answered = await client.echoes(repeat, pipeline)
        await client.release()
        return answered
    finally:
        await close_writer(writer)


async def many_associations(host: str, port: int, count: int, repeat: int,
                            concurrency: int, ssl_context: ssl.SSLContext | None = None,
                            timeout: float = TIMEOUT) -> tuple[int, list[str]]:
    """``count`` associations of ``repeat`` echoes, ``concurrency`` at a time.

    Returns (echoes answered, failure descriptions).
    """
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one() -> int:
        async with gate:
            try:
                return await echo_association(host, port, repeat, ssl_context, timeout)
            except (LoadError, OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                return 0

    answered = await asyncio.gather(*(one() for _ in range(count)))
    return sum(answered), failures


# --------------------------------------------------------------------------- TLS probes


def client_hello(server_hostname: str = "localhost") -> bytes:
    """The bytes of a TLS ClientHello, as a real client would send them first."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def stalled_sockets(host: str, port: int, count: int, first: bytes,
                    timeout: float = TIMEOUT) -> list[socket.socket]:
    """``count`` blocking sockets that each sent ``first`` and then nothing more."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.settimeout(timeout)
            sockets.append(sock)
            if first:
                sock.sendall(first)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def closed_by_peer(sock: socket.socket) -> bool:
    """Wait (bounded by the socket's timeout) until the peer closes; True if it did."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True
