"""Load clients for the echoscp scenarios: churn (T5) and many idle associations (T4).

The clients send precomputed PDUs and check the answers by their type byte and the
C-ECHO-RSP status, so that a client costs far less CPU than the server it loads.
Every socket operation has a timeout; every loop is bounded in time and count.
"""

from __future__ import annotations

import multiprocessing
import resource
import socket
import struct
import time

from dul import echo_rq_pdu, pdu, uids

#: socket timeout for every load-client operation
IO_TIMEOUT = 10.0

_RELEASE_RQ = pdu.encode(pdu.ReleaseRQ())
_ECHO_RQ = echo_rq_pdu(1, 1)


def association_rq(calling_ae: str = "BENCHSCU", called_ae: str = "ANY-SCP") -> bytes:
    """An A-ASSOCIATE-RQ proposing Verification / Implicit VR Little Endian as context 1."""
    request = pdu.AssociateRQ(
        called_ae=called_ae, calling_ae=calling_ae,
        contexts=[pdu.PresentationContextRQ(1, uids.VERIFICATION,
                                            [uids.IMPLICIT_VR_LITTLE_ENDIAN])],
        user_info=pdu.UserInformation(max_pdu=16384,
                                      implementation_class_uid="1.2.826.0.1.3680043.9.7433.1",
                                      implementation_version_name="BENCH_LOAD"),
    )
    return pdu.encode(request)


_ASSOCIATE_RQ = association_rq()


class LoadError(Exception):
    """The server answered with something other than the expected PDU."""


def _read_pdu(sock: socket.socket) -> tuple[int, bytes]:
    """One whole PDU: (type, body without the 6-byte header); usually one recv."""
    data = sock.recv(65536)
    while True:
        if not data:
            raise LoadError("connection closed by the server")
        if len(data) >= 6:
            end = 6 + int.from_bytes(data[2:6], "big")
            if len(data) >= end:
                if len(data) > end:
                    raise LoadError("more than one PDU in one answer")
                return data[0], data[6:]
        more = sock.recv(65536)
        if not more:
            raise LoadError("connection closed by the server")
        data += more


def _expect(sock: socket.socket, pdu_type: int) -> bytes:
    got, body = _read_pdu(sock)
    if got != pdu_type:
        raise LoadError(f"expected PDU type {pdu_type}, got {got}")
    return body


def _check_echo_response(body: bytes) -> None:
    """A one-PDV C-ECHO-RSP with status 0 (the status is the command's last element)."""
    if len(body) < 12 or body[5] != 0x03 or body[-2:] != b"\x00\x00":
        raise LoadError("C-ECHO-RSP missing or not Success")


#: SO_RCVTIMEO / SO_SNDTIMEO value: the kernel bounds every wait (connect included), so
#: the socket stays blocking and Python adds no poll() before each call
_KERNEL_TIMEOUT = struct.pack("ll", int(IO_TIMEOUT), 0)


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A TCP connection with TCP_NODELAY; every wait on it is bounded by ``IO_TIMEOUT``
    (a timed-out wait raises BlockingIOError, an OSError)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _KERNEL_TIMEOUT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _KERNEL_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def associate(sock: socket.socket) -> None:
    """Send the A-ASSOCIATE-RQ and require an A-ASSOCIATE-AC."""
    sock.sendall(_ASSOCIATE_RQ)
    _expect(sock, pdu.A_ASSOCIATE_AC)


def one_association(port: int) -> None:
    """Connect, associate, echo once, release, close (one unit of churn)."""
    sock = connect(port)
    try:
        sock.sendall(_ASSOCIATE_RQ)
        _expect(sock, pdu.A_ASSOCIATE_AC)
        sock.sendall(_ECHO_RQ)
        _check_echo_response(_expect(sock, pdu.P_DATA_TF))
        sock.sendall(_RELEASE_RQ)
        _expect(sock, pdu.A_RELEASE_RP)
    finally:
        sock.close()


def _churn_worker(port: int, seconds: float, limit: int
                  ) -> tuple[int, int, list[str], float, float]:
    """Associations for ``seconds`` (at most ``limit``): (completed, failed, first errors,
    start, end) with times from the shared monotonic clock."""
    done = failed = 0
    errors: list[str] = []
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline and done + failed < limit:
        try:
            one_association(port)
            done += 1
        except (OSError, LoadError) as error:
            failed += 1
            if len(errors) < 3:
                errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.01)
    return done, failed, errors, start, time.monotonic()


def churn(port: int, clients: int, seconds: float, limit: int = 1_000_000) -> dict:
    """Run ``clients`` processes doing associations back to back for ``seconds``.

    Returns completed and failed counts, the first errors, the time from the first
    client's start to the last one's end (process start-up is not counted) and the
    CPU seconds the clients used.
    """
    context = multiprocessing.get_context("fork")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = context.Pool(clients)
    try:
        results = pool.starmap(_churn_worker, [(port, seconds, limit)] * clients)
    finally:
        pool.close()
        pool.join()  # reaped, so their CPU time shows in RUSAGE_CHILDREN
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = max(r[4] for r in results) - min(r[3] for r in results)
    errors = [text for r in results for text in r[2]]
    return {
        "completed": sum(r[0] for r in results),
        "failed": sum(r[1] for r in results),
        "errors": errors[:5],
        "elapsed": elapsed,
        "client_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def raise_open_files(needed: int) -> None:
    """Lift this process's soft open-files limit (for holding many connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class IdleAssociations:
    """Many associations opened and held idle, then echoed on and released together."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []
        self.failures: list[str] = []

    def open(self, count: int) -> int:
        """Open ``count`` more associations one after another; return how many were accepted."""
        raise_open_files(len(self.sockets) + count + 64)
        accepted = 0
        for _ in range(count):
            try:
                sock = connect(self.port)
            except OSError as error:
                self._fail(f"connect: {error}")
                continue
            try:
                associate(sock)
            except (OSError, LoadError) as error:
                self._fail(f"associate: {error}")
                sock.close()
                continue
            self.sockets.append(sock)
            accepted += 1
        return accepted

    def echo_all(self) -> int:
        """Send one C-ECHO-RQ on every association, then read every answer; the OKs."""
        live = []
        for sock in self.sockets:
            try:
                sock.sendall(_ECHO_RQ)
                live.append(sock)
            except OSError as error:
                self._fail(f"echo send: {error}")
        ok = 0
        for sock in live:
            try:
                _check_echo_response(_expect(sock, pdu.P_DATA_TF))
                ok += 1
            except (OSError, LoadError) as error:
                self._fail(f"echo: {error}")
        return ok

    def release_all(self) -> int:
        """Release every association and close it; the number released cleanly."""
        released = 0
        for sock in self.sockets:
            try:
                sock.sendall(_RELEASE_RQ)
            except OSError as error:
                self._fail(f"release send: {error}")
        for sock in self.sockets:
            try:
                _expect(sock, pdu.A_RELEASE_RP)
                released += 1
            except (OSError, LoadError) as error:
                self._fail(f"release: {error}")
            sock.close()
        self.sockets = []
        return released

    def close(self) -> None:
        """Drop every connection without a release (clean-up after a failure)."""
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def _fail(self, text: str) -> None:
        self.failures.append(text)
