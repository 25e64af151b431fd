"""Running our echoscp in tests: start on a free port, wait until it listens, always stop.

No test functions live here; the ``test_echoscp_*`` modules import ``EchoSCP`` and
the helpers. Readiness comes from /proc (the process's own LISTEN socket), so no
probe connection ever reaches the server under test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from support.peers import free_port, listens_on

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class EchoSCP:
    """Our echoscp as a subprocess; stderr/stdout go to files read after ``stop()``."""

    def __init__(self, workdir: Path, *args: str, env: dict[str, str | None] | None = None,
                 stdin: bytes | None = None, descriptor_limit: int | None = None) -> None:
        self.workdir = workdir
        self.args = list(args)
        self.env = env
        self.stdin = stdin
        #: RLIMIT_NOFILE (soft and hard) of the process, set before it starts
        self.descriptor_limit = descriptor_limit
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.stdout = ""
        self.stderr = ""

    def start(self, attempts: int = 5) -> EchoSCP:
        """Start on a free port and return once the process itself listens on it."""
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(attempts):
            self.port = free_port()
            self._launch()
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if listens_on(self.process.pid, self.port):
                    return self
                time.sleep(0.01)
            self.stop()
            if "Cannot listen" not in self.stderr or time.monotonic() >= deadline:
                raise RuntimeError(f"echoscp did not start (exit {self.returncode}):\n"
                                   f"{self.stderr}")
        raise RuntimeError("echoscp found no free port")

    def _launch(self) -> None:
        environment = dict(os.environ)
        environment.setdefault("TCP_NODELAY", "1")
        for name, value in (self.env or {}).items():  # None removes a variable
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        self._out = open(self.workdir / f"echoscp-{self.port}.out", "w+b")  # noqa: SIM115
        self._err = open(self.workdir / f"echoscp-{self.port}.err", "w+b")  # noqa: SIM115
        # a new session has no controlling terminal: a key password is read from stdin
        self.process = subprocess.Popen(
            [sys.executable, "-m", "echoscp", *self.args, str(self.port)],
            stdin=subprocess.DEVNULL if self.stdin is None else subprocess.PIPE,
            stdout=self._out, stderr=self._err, env=environment, start_new_session=True,
            preexec_fn=self._limit_descriptors if self.descriptor_limit else None)
        if self.stdin is not None:
            self.process.stdin.write(self.stdin)
            self.process.stdin.close()
        self.returncode = None

    def _limit_descriptors(self) -> None:
        import resource

        limit = self.descriptor_limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far (/proc/PID/stat)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def signal(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and wait for the exit; returns the exit code."""
        self.process.send_signal(signum)
        return self.wait_exit()

    def wait_exit(self) -> int:
        """Wait (bounded) for the process to end by itself; then ``stop()``."""
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        return self.stop()

    def stop(self) -> int:
        """End the process (SIGTERM, then SIGKILL), collect its output, return its exit code."""
        if self.process is None:
            return -1
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        self.returncode = self.process.returncode
        self.stdout = self._read(self._out)
        self.stderr = self._read(self._err)
        return self.returncode

    @staticmethod
    def _read(stream) -> str:
        if stream.closed:
            return ""
        stream.seek(0)
        text = stream.read().decode("utf-8", "backslashreplace")
        stream.close()
        return text

    def output_so_far(self) -> str:
        """stderr written up to now (the process keeps running)."""
        return (self.workdir / f"echoscp-{self.port}.err").read_text("utf-8", "replace")

    def wait_for_output(self, text: str, timeout: float = 10.0) -> str:
        """Wait until ``text`` appears in stderr; return stderr (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.output_so_far()
            if text in current:
                return current
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not logged within {timeout} s:\n{self.output_so_far()}")


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    """A raw TCP connection to 127.0.0.1:port with a receive timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def receive_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (bounded by the socket timeout)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


class RawAssociation:
    """A requestor built from our own ``dul`` on a blocking socket: full control of the bytes."""

    def __init__(self, port: int, contexts: list[tuple[str, list[str]]] | None = None,
                 calling_ae: str = "RAWSCU", called_ae: str = "ANY-SCP",
                 max_pdu: int = 16384, timeout: float = 10.0, host: str = "127.0.0.1",
                 ssl_context=None, sock: socket.socket | None = None) -> None:
        from dul import association, pdu, uids

        self.pdu = pdu
        self.events = association
        if contexts is None:
            contexts = [(uids.VERIFICATION, [uids.IMPLICIT_VR_LITTLE_ENDIAN])]
        rq = pdu.AssociateRQ(
            called_ae, calling_ae,
            [pdu.PresentationContextRQ(2 * i + 1, abstract, list(syntaxes))
             for i, (abstract, syntaxes) in enumerate(contexts)],
            pdu.UserInformation(max_pdu=max_pdu,
                                implementation_class_uid="1.2.3.4",
                                implementation_version_name="RAWTEST"))
        self.machine = association.Requestor(rq, max_receive_pdu=max_pdu)
        if sock is None:  # else a connection the test set up itself (TLS and all)
            sock = socket.create_connection((host, port), timeout=timeout)
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        """Put bytes on the wire as they are."""
        self.sock.sendall(data)

    def next_event(self):
        """The next upper-layer event from the server (ConnectionClosed when it closes)."""
        while True:
            event = self.machine.next_event()
            if event is not None:
                return event
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            self.machine.receive_data(data)

    def associate(self):
        """Send the A-ASSOCIATE-RQ; return the answer event (accepted or rejected)."""
        self.send(self.machine.start())
        return self.next_event()

    def echo(self, message_id: int = 1, context_id: int = 1) -> int:
        """One C-ECHO; the response's status (AssertionError if something else came)."""
        from dul import dimse

        self.send(self.machine.send_message(context_id, dimse.echo_rq(message_id)))
        event = self.next_event()
        assert isinstance(event, self.events.MessageReceived), event
        command = dimse.decode_command(event.command)
        assert command[dimse.MESSAGE_ID_RESPONDED] == message_id
        return command[dimse.STATUS]

    def release(self) -> None:
        """A-RELEASE-RQ, expect A-RELEASE-RP."""
        self.send(self.machine.release())
        event = self.next_event()
        assert isinstance(event, self.events.ReleaseConfirmed), event

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
