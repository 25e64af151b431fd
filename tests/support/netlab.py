"""A network-namespace fault lab: a client and a server namespace joined by a veth pair.

No test functions live here; ``test_reliability_netlab.py`` uses ``Lab``. The lab holds
two namespaces of its own, ``echoscu-lab-<pid>-c`` and ``-s``, each with only ``lo`` and
one end of a veth pair (10.213.0.1/30 in the client, 10.213.0.2/30 in the server) and no
other route, so nothing the tests send can leave them. Faults are made inside those
namespaces only: iptables rules, a ``tc tbf`` rate limit on both veth ends, the latency
relay (``netlab_relay.py``) and SIGKILL of a peer. Every wait is bounded; ``down()``
kills what the lab started (by pid) and deletes both namespaces, which removes the veth
pair with them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support.peers import DCMTK_ECHOSCU, DCMTK_STORESCP, Result, listens_on, run

PREFIX = "echoscu-lab"
CLIENT_IP = "10.213.0.1"
SERVER_IP = "10.213.0.2"
#: the veth ends, named inside their own namespaces (so no clash with anyone's devices)
CLIENT_DEV = "lab-c"
SERVER_DEV = "lab-s"
RELAY = Path(__file__).with_name("netlab_relay.py")
#: bound on one ip/iptables/tc command
COMMAND_TIMEOUT = 10.0
#: bound on a peer starting to listen
READY_TIMEOUT = 10.0


def unavailable() -> str | None:
    """Why the lab cannot be built here, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the network-namespace fault lab needs root (ip netns, veth, iptables, tc)"
    if shutil.which("ip") is None:
        return "the fault lab needs iproute2's ip (apt-get install iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=COMMAND_TIMEOUT,
                           check=False)
    if probe.returncode != 0:
        return f"ip netns is unavailable here: {probe.stderr.decode(errors='replace').strip()}"
    if not (os.access(DCMTK_ECHOSCU, os.X_OK) and os.access(DCMTK_STORESCP, os.X_OK)):
        return "DCMTK not installed: apt-get install dcmtk"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(["ip", *args], capture_output=True, timeout=COMMAND_TIMEOUT,
                          check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done


def our_namespaces() -> list[str]:
    """Namespaces named with the lab's prefix (this run's and any a killed run left)."""
    listing = _ip("netns", "list").stdout.decode()
    return [line.split()[0] for line in listing.splitlines()
            if line.startswith(PREFIX + "-")]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Process:
    """A program the lab started in one of its namespaces; output goes to files."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    out: Path
    err: Path
    _ended: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        """stdout and stderr written so far."""
        return (self.out.read_text("utf-8", "replace") + self.err.read_text("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> None:
        """Wait until ``pattern`` (a regular expression) appears in the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text(), re.MULTILINE):
                return
            time.sleep(0.005)
        raise AssertionError(f"{self.name}: {pattern!r} not seen within {timeout} s:\n"
                             f"{self.text()}")

    def kill(self) -> None:
        """SIGKILL (a peer dying) and reap."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(COMMAND_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a bounded wait."""
        if self._ended:
            return
        self._ended = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(COMMAND_TIMEOUT)


class Lab:
    """Two namespaces and a veth pair; ``up()`` builds them, ``down()`` removes everything."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.client = f"{PREFIX}-{os.getpid()}-c"
        self.server = f"{PREFIX}-{os.getpid()}-s"
        self.processes: list[Process] = []
        self._next_port = 11112

    # --- building and tearing down ------------------------------------------------

    def up(self) -> Lab:
        self._remove_stale()
        try:
            _ip("netns", "add", self.client)
            _ip("netns", "add", self.server)
            _ip("link", "add", CLIENT_DEV, "netns", self.client, "type", "veth",
                "peer", "name", SERVER_DEV, "netns", self.server)
            for namespace, device, address in ((self.client, CLIENT_DEV, CLIENT_IP),
                                               (self.server, SERVER_DEV, SERVER_IP)):
                _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", device)
                _ip("-n", namespace, "link", "set", "lo", "up")
                _ip("-n", namespace, "link", "set", device, "up")
        except BaseException:
            self.down()
            raise
        return self

    def _remove_stale(self) -> None:
        """Delete lab namespaces whose creating process is gone (a run killed before its
        teardown); another live run's namespaces are left alone."""
        for name in our_namespaces():
            match = re.fullmatch(rf"{PREFIX}-(\d+)-[cs]", name)
            if match and not _pid_alive(int(match.group(1))):
                _ip("netns", "del", name, check=False)

    def down(self) -> None:
        """Stop every process the lab started, then delete both namespaces (and so the
        veth pair). Safe to call more than once and after a partial ``up()``."""
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop()
        self.processes.clear()
        for namespace in (self.client, self.server):
            if namespace in our_namespaces():
                _ip("netns", "del", namespace, check=False)

    # --- running things inside ------------------------------------------------------

    def port(self) -> int:
        """A fresh port number for a new listener in the server namespace."""
        self._next_port += 1
        return self._next_port

    def command(self, namespace: str, *args: str) -> None:
        """Run a command (iptables, tc, ...) inside ``namespace``; raise if it fails."""
        done = subprocess.run(["ip", "netns", "exec", namespace, *args], capture_output=True,
                              timeout=COMMAND_TIMEOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{namespace}: {' '.join(args)}: "
                               f"{done.stderr.decode(errors='replace')}")

    def start(self, name: str, namespace: str, port: int, *argv: str,
              env: dict[str, str] | None = None) -> Process:
        """Start ``argv`` in ``namespace`` and return once it listens on ``port``."""
        out = self.workdir / f"{name}-{port}.out"
        err = self.workdir / f"{name}-{port}.err"
        environment = {**os.environ, **(env or {})}
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            popen = subprocess.Popen(["ip", "netns", "exec", namespace, *argv],
                                     stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                     env=environment)
        process = Process(name, popen, port, out, err)
        self.processes.append(process)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                break
            if listens_on(popen.pid, port):
                return process
            time.sleep(0.01)
        process.stop()
        raise RuntimeError(f"{name} did not listen on {port} in {namespace}:\n{process.text()}")

    def storescp(self, *args: str) -> Process:
        """DCMTK's storescp in the server namespace (TCP_NODELAY=1, -v)."""
        port = self.port()
        received = self.workdir / f"received-{port}"
        received.mkdir()
        return self.start("storescp", self.server, port, DCMTK_STORESCP, "-v",
                          "-od", str(received), *args, str(port), env={"TCP_NODELAY": "1"})

    def echoscp(self, *args: str) -> Process:
        """Our echoscp in the server namespace (TCP_NODELAY=1, -v)."""
        port = self.port()
        return self.start("echoscp", self.server, port, sys.executable, "-m", "echoscp",
                          "-v", *args, str(port), env={"TCP_NODELAY": "1"})

    def relay(self, target: Process, delay: float, split: bool = False, reset_at_pdu: int = 0,
              lifetime: float = 30.0) -> Process:
        """The latency relay in the server namespace, in front of ``target``."""
        port = self.port()
        argv = [sys.executable, str(RELAY), SERVER_IP, str(port), SERVER_IP, str(target.port),
                "--delay", str(delay), "--lifetime", str(lifetime)]
        if split:
            argv.append("--split")
        if reset_at_pdu:
            argv += ["--reset-at-pdu", str(reset_at_pdu)]
        return self.start("relay", self.server, port, *argv)

    def echoscu(self, tool: str, *args: str, timeout: float = 30.0) -> Result:
        """Run ``tool`` ("ours" or "dcmtk") with ``args`` in the client namespace."""
        program = ([sys.executable, "-m", "echoscu"] if tool == "ours" else [DCMTK_ECHOSCU])
        return run(["ip", "netns", "exec", self.client, *program, *args], timeout=timeout)

    # --- faults -------------------------------------------------------------------------

    @contextlib.contextmanager
    def iptables(self, namespace: str, chain: str, *rule: str) -> Iterator[None]:
        """Insert ``rule`` at the top of ``chain`` in ``namespace`` for the block."""
        self.command(namespace, "iptables", "-w", "5", "-I", chain, *rule)
        try:
            yield
        finally:
            self.command(namespace, "iptables", "-w", "5", "-D", chain, *rule)

    @contextlib.contextmanager
    def rate_limit(self, rate: str, burst: str = "1600", latency: str = "400ms"
                   ) -> Iterator[None]:
        """``tc tbf`` on both veth ends for the block."""
        ends = ((self.client, CLIENT_DEV), (self.server, SERVER_DEV))
        added = []
        try:
            for namespace, device in ends:
                _ip("-n", namespace, "link", "show", device)
                done = subprocess.run(["tc", "-n", namespace, "qdisc", "add", "dev", device,
                                       "root", "tbf", "rate", rate, "burst", burst,
                                       "latency", latency], capture_output=True,
                                      timeout=COMMAND_TIMEOUT, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"tc tbf on {device}: {done.stderr.decode()}")
                added.append((namespace, device))
            yield
        finally:
            for namespace, device in added:
                subprocess.run(["tc", "-n", namespace, "qdisc", "del", "dev", device, "root"],
                               capture_output=True, timeout=COMMAND_TIMEOUT, check=False)

    def sent_bytes(self, namespace: str, device: str) -> int:
        """Bytes the root qdisc of ``device`` has sent (``tc -s``)."""
        done = subprocess.run(["tc", "-n", namespace, "-s", "qdisc", "show", "dev", device],
                              capture_output=True, timeout=COMMAND_TIMEOUT, check=True)
        match = re.search(r"Sent (\d+) bytes", done.stdout.decode())
        return int(match.group(1)) if match else 0
