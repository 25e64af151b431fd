"""echoscp under attack: hostile bytes, lying lengths, stalls, TLS misuse and load.

Every attack is followed by a normal association that must be served, a check that
the process is alive, and its resident memory (VmRSS) against the level it had
before any attack. The servers live for the whole module, so one process has to
survive every attack; their logs must show no traceback and no internal error.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.reliability import dulfeed, healthy, loadgen, no_internal_errors, scaled
from support.scp import EchoSCP

from certs.pki import Pki, make_pki
from dul import dimse, echo_rq_pdu, pdu

pytestmark = [pytest.mark.timeout(120)]

HOST = "127.0.0.1"
#: short timeouts so that stalled peers are dropped within the test's patience
TIMEOUTS = ("-ta", "2", "-td", "2", "-tn", "10")
#: how much resident memory one attack may leave behind (KiB)
RSS_GROWTH_LIMIT = 20 * 1024


class Target:
    """A running echoscp with its resident memory before the first attack."""

    def __init__(self, server: EchoSCP, log: Path, ssl_context: ssl.SSLContext | None) -> None:
        self.server = server
        self.log = log
        self.ssl_context = ssl_context
        self.port = server.port
        self.baseline = healthy(server, ssl_context)

    def check(self) -> int:
        """Serve a normal association; alive; RSS within the limit. Returns RSS (KiB)."""
        rss = healthy(self.server, self.ssl_context)
        assert rss <= self.baseline + RSS_GROWTH_LIMIT, (self.baseline, rss)
        return rss

    def records(self) -> list[dict]:
        """The --log-json lines written so far."""
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def mark(self) -> int:
        """How many records there are now: ``record_for(..., since=mark())`` skips them,
        so that an earlier connection from the same client port is not taken for ours."""
        return len(self.records())

    def record_for(self, peer_port: int, since: int, timeout: float = 10.0) -> dict:
        """The JSON record of our connection from ``peer_port`` (waits until written)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.records()[since:] if r["peer_port"] == peer_port]
            if found or time.monotonic() > deadline:
                assert len(found) == 1, (peer_port, found)
                return found[0]
            time.sleep(0.02)


def _start(workdir: Path, *args: str, ssl_context: ssl.SSLContext | None = None
           ) -> Iterator[Target]:
    log = workdir / "associations.jsonl"
    server = EchoSCP(workdir, *TIMEOUTS, "--log-json", str(log), *args).start()
    try:
        yield Target(server, log, ssl_context)
    finally:
        server.stop()
    no_internal_errors(server.stderr)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Iterator[Target]:
    """One plain echoscp at debug level (every dump sees the hostile values too)."""
    yield from _start(tmp_path_factory.mktemp("plain"), "-d")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), key_type="ec256")


def client_context(pki: Pki) -> ssl.SSLContext:
    """A TLS client context with pki's client certificate, trusting pki's CA."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    context.load_cert_chain(pki.client.cert, pki.client.key)
    return context


@pytest.fixture(scope="module")
def tls(tmp_path_factory, pki) -> Iterator[Target]:
    """One echoscp requiring TLS with client certificates."""
    yield from _start(tmp_path_factory.mktemp("tls"), "-v", "+tls", pki.server.key,
                      pki.server.cert, "+cf", pki.ca.cert, ssl_context=client_context(pki))


def run(coroutine):
    """Run one asyncio scenario of the test process."""
    return asyncio.run(coroutine)


def answers(data: bytes) -> list[object]:
    """The PDUs the SCP sent, decoded (the SCP itself never sends garbage); after a
    reset the kernel may have dropped the end of the last one."""
    reader = pdu.PDUReader(1 << 20)
    reader.feed(data)
    found = []
    while (item := reader.next()) is not None:
        found.append(pdu.decode(item[1]))
    assert reader.buffered == 0 or getattr(data, "reset", False), data[-64:]
    return found


def abort_of(data: bytes) -> pdu.Abort:
    """The A-ABORT that ends ``data`` (the SCP's answer to something hostile)."""
    found = answers(data)
    assert found and isinstance(found[-1], pdu.Abort), found
    return found[-1]


REQUEST = pdu.encode(loadgen.associate_rq())


# --------------------------------------------------------------------------- hostile bytes


@pytest.mark.stress
@pytest.mark.timeout(300)
def test_random_and_mutated_pdus_over_many_connections(plain):
    """scaled(10 000) PDUs, 20 per connection, 50 connections at a time; every one is
    answered with well-formed PDUs and closed, none stays open."""
    total = scaled(10_000)
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    streams = [loadgen.hostile_stream(rng, 20) for _ in range(max(1, total // 20))]

    async def attack() -> list[bytes]:
        gate = asyncio.Semaphore(50)

        async def one(chunks: list[bytes]) -> bytes:
            async with gate:
                return await loadgen.send_hostile(HOST, plain.port, chunks, timeout=30)

        return await asyncio.gather(*(one(chunks) for chunks in streams))

    replies = run(attack())
    assert len(replies) == len(streams), seed
    for reply in replies:
        answers(reply)
    # a record for each connection that sent echoscp at least one whole PDU
    ours = {reply.port for reply, chunks in zip(replies, streams, strict=True)
            if dulfeed.feed_acceptor(b"".join(chunks)) != ["ConnectionClosed"]}
    deadline = time.monotonic() + 10
    while len(records := [r for r in plain.records() if r["peer_port"] in ours]) < len(ours):
        assert time.monotonic() < deadline, (seed, len(records), len(ours))
        time.sleep(0.05)
    endings = {r["ended"] for r in records}
    assert endings <= {"error", "released", "rejected", "peer-aborted", "aborted"}, endings
    assert "error" in endings
    plain.check()


@pytest.mark.parametrize("pdu_type", sorted(pdu.PDU_NAMES))
@pytest.mark.parametrize("associated", [False, True])
def test_a_4_gib_length_claim_is_aborted_at_once(plain, pdu_type, associated):
    header = bytes((pdu_type, 0)) + b"\xff\xff\xff\xff"
    chunks = [REQUEST, header] if associated else [header]
    reply = run(loadgen.send_hostile(HOST, plain.port, chunks))
    abort = abort_of(reply)
    assert abort.source == 2
    plain.check()


def test_pdus_above_our_limits_are_aborted(plain):
    """A P-DATA-TF above our max PDU (16382, plus slack for headers) is refused from
    its header; so is an A-ASSOCIATE-RQ above 256 KiB, sent in full."""
    body = (16382 + 4096 + 1 - 6).to_bytes(4, "big") + b"\x01\x03" + bytes(16382 + 4096 - 11)
    too_big = b"\x04\x00" + len(body).to_bytes(4, "big") + body
    assert abort_of(run(loadgen.send_hostile(HOST, plain.port, [REQUEST, too_big]))).source == 2
    huge_rq = REQUEST[:2] + ((256 << 10) + 1).to_bytes(4, "big") + REQUEST[6:] \
        + bytes((256 << 10) + 1 - len(REQUEST) + 6)
    since = plain.mark()
    reply = run(loadgen.send_hostile(HOST, plain.port, [huge_rq]))
    record = plain.record_for(reply.port, since)  # the A-ABORT may be lost to the reset
    assert record["ended"] == "error" and "exceeds the limit of 262144" in record["detail"]
    plain.check()


def test_p_data_before_association_is_an_unexpected_pdu(plain):
    reply = run(loadgen.send_hostile(HOST, plain.port, [echo_rq_pdu(1, 1)]))
    assert (abort_of(reply).source, abort_of(reply).reason) == (2, 2)
    plain.check()


def test_answers_before_a_bad_fragment_then_abort(plain):
    """Regression: two C-ECHO-RQs and a stray fragment in one PDU, from a peer with a
    small max PDU, used to end in 'Internal error: StateError' and no A-ABORT."""
    small = pdu.encode(loadgen.associate_rq(max_pdu=50))
    mixed = pdu.encode(pdu.PDataTF([
        pdu.PDV(1, True, True, dimse.echo_rq(1)),
        pdu.PDV(1, True, True, dimse.echo_rq(2)),
        pdu.PDV(1, False, True, b"stray"),
    ]))
    found = answers(run(loadgen.send_hostile(HOST, plain.port, [small, mixed])))
    assert isinstance(found[0], pdu.AssociateAC) and isinstance(found[-1], pdu.Abort)
    assert sum(isinstance(p, pdu.PDataTF) for p in found) >= 4  # two fragmented responses
    plain.check()


def test_undecodable_ae_titles_are_logged_in_json(plain):
    """Regression: a calling AE title with a byte that is not UTF-8 made the --log-json
    line unwritable ('surrogates not allowed'), so the association left no record."""
    raw_title = b"HOSTILE\xea\xff"
    request = loadgen.associate_rq(calling=raw_title.decode("utf-8", "surrogateescape"))
    since = plain.mark()
    reply = run(loadgen.send_hostile(HOST, plain.port, [pdu.encode(request)]))
    assert isinstance(answers(reply)[0], pdu.AssociateAC)
    record = plain.record_for(reply.port, since)
    assert record["calling_ae"].encode("utf-8", "surrogateescape") == raw_title
    plain.check()


# --------------------------------------------------------------------------- endless streams


def _fragment_pdu(control: int, data: bytes, context_id: int = 1) -> bytes:
    item = (len(data) + 2).to_bytes(4, "big") + bytes((context_id, control)) + data
    return b"\x04\x00" + len(item).to_bytes(4, "big") + item


async def _stream_until_closed(port: int, opening: list[bytes], chunk: bytes,
                               pause: float, limit: float = 30.0) -> tuple[int, int]:
    """Send ``opening``, then ``chunk`` again and again (``pause`` apart) until the
    SCP closes the connection (LoadError if it does not within ``limit``).

    Returns our port (the key of the SCP's JSON record) and how many chunks went out.
    What the SCP sent last may be lost: closing a socket with unread data resets it.
    """
    reader, writer = await loadgen.open_connection(HOST, port)
    our_port = writer.get_extra_info("sockname")[1]
    sent = 0

    async def flood() -> None:
        nonlocal sent
        try:
            for data in opening:
                writer.write(data)
            while True:
                writer.write(chunk)
                await writer.drain()
                sent += 1
                await asyncio.sleep(pause)
        except (ConnectionError, OSError):
            return

    task = asyncio.ensure_future(flood())
    try:
        await loadgen.drain_until_closed(reader, limit, limit=1 << 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await loadgen.close_writer(writer)
    return our_port, sent


@pytest.mark.parametrize(("what", "chunk", "pause", "ended", "detail"), [
    ("command fragments", _fragment_pdu(1, b"\xaa" * 4000), 0.0,
     "error", "command set longer than 65536 bytes"),
    ("empty fragments", _fragment_pdu(1, b"") * 200, 0.0, "timeout", "DIMSE timeout"),
    ("data set fragments", _fragment_pdu(0, b"\x55" * 4000), 0.0,
     "error", "data set longer than 65536 bytes"),
    ("a slow trickle", _fragment_pdu(1, b"\xaa" * 10), 0.2, "timeout", "DIMSE timeout"),
])
def test_a_fragment_stream_that_never_ends(plain, what, chunk, pause, ended, detail):
    """Fragments that never complete a message end the association: at the 64 KiB
    message limit, or at the DIMSE timeout (-td 2) when they hold no data or come
    slowly. Memory stays flat meanwhile (empty fragments used to pile up)."""
    opening = [REQUEST]
    if what == "data set fragments":  # a command announcing a data set comes first
        opening.append(_fragment_pdu(3, dimse.echo_rq(1)[:-2] + b"\x02\x00"))
    since = plain.mark()
    our_port, sent = run(_stream_until_closed(plain.port, opening, chunk, pause))
    record = plain.record_for(our_port, since)
    assert record["ended"] == ended and detail in record["detail"], record
    assert sent > 0
    plain.check()


# --------------------------------------------------------------------------- stalls


@pytest.mark.stress
def test_stalled_connections_are_dropped_by_artim_while_others_are_served(plain):
    """scaled(200) connections send one byte and stall; normal clients are served
    meanwhile and ARTIM (-ta 2) closes every stalled one."""
    stalled = loadgen.stalled_sockets(HOST, plain.port, scaled(200), b"\x01", timeout=15)
    try:
        answered, failures = run(loadgen.many_associations(HOST, plain.port, 20, 5, 10))
        assert (answered, failures) == (100, [])
        assert all(loadgen.closed_by_peer(sock) for sock in stalled)
    finally:
        for sock in stalled:
            sock.close()
    plain.check()


def test_idle_after_association_is_aborted_by_the_network_timeout(tmp_path):
    server = EchoSCP(tmp_path, "-tn", "1").start()
    try:
        sock = socket.create_connection((HOST, server.port), timeout=15)
        sock.sendall(REQUEST)
        sock.settimeout(15)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        sock.close()
        found = answers(data)
        assert isinstance(found[0], pdu.AssociateAC) and isinstance(found[-1], pdu.Abort)
        assert healthy(server)
    finally:
        server.stop()
    no_internal_errors(server.stderr)


# --------------------------------------------------------------------------- TLS


@pytest.mark.stress
def test_half_open_tls_is_dropped_while_tls_clients_are_served(tls):
    """ClientHello, then silence, from scaled(50) connections: the handshake timeout
    (-ta 2) drops them, and a TLS association is served in the meantime."""
    hello = loadgen.client_hello()
    stalled = loadgen.stalled_sockets(HOST, tls.port, scaled(50), hello, timeout=15)
    try:
        assert run(loadgen.echo_association(HOST, tls.port, 5, tls.ssl_context)) == 5
        assert all(loadgen.closed_by_peer(sock) for sock in stalled)
    finally:
        for sock in stalled:
            sock.close()
    tls.check()
    handshakes = [r for r in tls.records() if r["ended"] == "timeout"]
    assert len(handshakes) >= scaled(50)


@pytest.mark.parametrize("garbage", [
    pytest.param(bytes(range(256)) * 8, id="random bytes"),
    pytest.param(b"\x16\x03\x01\xff\xff" + bytes(64), id="record claiming 64 KiB"),
    pytest.param(loadgen.client_hello()[:40] + bytes(400), id="hello cut and zero-filled"),
    pytest.param(REQUEST, id="plain DICOM on the TLS port"),
])
def test_tls_garbage_is_dropped(tls, garbage):
    reply = run(loadgen.send_hostile(HOST, tls.port, [garbage], timeout=15))
    assert not reply.startswith(b"\x02")  # never an A-ASSOCIATE-AC in clear
    tls.check()


def test_tls_on_the_plain_port_is_an_unrecognized_pdu(plain):
    reply = run(loadgen.send_hostile(HOST, plain.port, [loadgen.client_hello()]))
    abort = abort_of(reply)
    assert (abort.source, abort.reason) == (2, 1)
    plain.check()


def test_garbage_after_a_tls_handshake(tls):
    """Inside TLS, hostile PDUs are treated like on a plain connection."""
    rng = random.Random(7)
    streams = [loadgen.hostile_stream(rng, 10) for _ in range(20)]

    async def attack() -> list[bytes]:
        return await asyncio.gather(*(
            loadgen.send_hostile(HOST, tls.port, chunks, tls.ssl_context, timeout=15)
            for chunks in streams))

    for reply in run(attack()):
        answers(reply)
    tls.check()


# --------------------------------------------------------------------------- load


@pytest.mark.stress
@pytest.mark.timeout(300)
def test_thousand_concurrent_associations_repeating(tmp_path):
    """1000 associations open at once (the default cap), each doing scaled(10) C-ECHOs
    (50 at ECHOSCU_STRESS_SCALE=5), all from one asyncio loop in this process."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"open-files hard limit {hard} < 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    server = EchoSCP(tmp_path).start()
    repeat = scaled(10)
    try:
        before = healthy(server)
        ready = asyncio.Event()
        opened = 0

        async def one() -> int:
            nonlocal opened
            reader, writer = await loadgen.open_connection(HOST, server.port)
            try:
                client = loadgen.Requestor(reader, writer, timeout=60)
                await client.associate()
                opened += 1
                if opened == 1000:
                    ready.set()
                await asyncio.wait_for(ready.wait(), 120)
                answered = await client.echoes(repeat)
                await client.release()
                return answered
            finally:
                await loadgen.close_writer(writer)

        async def all_of_them() -> list[int]:
            return await asyncio.gather(*(one() for _ in range(1000)))

        started = time.monotonic()
        answered = run(all_of_them())
        elapsed = time.monotonic() - started
        assert answered == [repeat] * 1000
        after = healthy(server)
        assert after <= 150 * 1024, (before, after)  # docs/design.md T4
        print(f"1000 x {repeat} echoes in {elapsed:.1f} s; RSS {before} -> {after} KiB")
    finally:
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    no_internal_errors(server.stderr)
