"""Processes for the benchmarks: timed child runs, peers that start and stop, /proc probes.

A child's wall time is measured around spawn and reap; its CPU time comes from
``os.wait4``, which returns the resource usage of exactly that child. Peers are
started once per benchmark session, each on a port that was free a moment ago.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from procprobe import listens_on

DCMTK_ECHOSCU = "/usr/bin/echoscu"
DCMTK_STORESCP = "/usr/bin/storescp"

#: clock ticks per second for /proc/<pid>/stat CPU fields
_TICKS = os.sysconf("SC_CLK_TCK")


class Sample:
    """One timed run of a program: wall seconds, CPU seconds (user + system), exit code."""

    __slots__ = ("wall", "cpu", "returncode")

    def __init__(self, wall: float, cpu: float, returncode: int) -> None:
        self.wall = wall
        self.cpu = cpu
        self.returncode = returncode


class RunFailed(Exception):
    """A measured program exited non-zero (the message carries its output)."""


def timed_run(argv: list[str], env: dict[str, str], timeout: float = 300.0) -> Sample:
    """Run ``argv`` to completion; wall time around spawn and reap, CPU time of that child.

    Raises RunFailed, with the last lines of the program's output, if it exits
    non-zero, and kills it if it outlives ``timeout``. The output goes to a file, so
    no pipe is read while the program runs.
    """
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                 stderr=subprocess.STDOUT)
        exit_fd = os.pidfd_open(child.pid)
        try:
            finished = select.select([exit_fd], [], [], timeout)[0]
        finally:
            os.close(exit_fd)
        if not finished:
            child.kill()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if finished and child.returncode == 0:
            return Sample(wall, usage.ru_utime + usage.ru_stime, child.returncode)
        output.seek(0)
        lines = output.read().decode("utf-8", "replace").strip().splitlines()
        # DCMTK-style "E: ..." lines say what went wrong; the last line how it ended
        tail = [line for line in lines if line[:3] in ("E: ", "W: ", "F: ")][:3] + lines[-1:]
    what = f"still running after {timeout:.0f} s" if not finished else \
        f"exited {child.returncode}"
    raise RunFailed(f"{' '.join(argv)}: {what}: " + " | ".join(tail))


def bench_env(**extra: str | None) -> dict[str, str]:
    """The environment measured programs get: ours minus PYTHONDONTWRITEBYTECODE.

    Keyword arguments set (or, with None, remove) variables, e.g. ``TCP_NODELAY="1"``.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TCP_NODELAY", None)
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Peer:
    """A server program we start, wait for and stop: DCMTK storescp or an echoscp."""

    def __init__(self, name: str, argv_for_port, env: dict[str, str], log_dir: Path,
                 single_association: bool = False) -> None:
        self.name = name
        self.single_association = single_association
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._argv_for_port = argv_for_port
        self._env = env
        self._log_path = log_dir / f"{name}.log"

    def start(self, attempts: int = 5) -> None:
        """Start on a free port; retry with another port if the program dies at once."""
        for _ in range(attempts):
            self.port = free_port()
            with open(self._log_path, "ab") as log:
                self.process = subprocess.Popen(
                    self._argv_for_port(self.port), env=self._env, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_listening(10.0):
                return
            self.stop()
        raise RuntimeError(f"{self.name} did not start; see {self._log_path}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def _wait_listening(self, limit: float) -> bool:
        """Wait until the server itself listens on our port, read from /proc
        (procprobe.py: a probe connection would use up storescp's one association slot)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if listens_on(self.process.pid, self.port):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a few seconds; reap the process."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process and its reaped children (a forking
    server's finished workers) have used so far (10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / _TICKS


def process_memory(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def tree_pss_mib(pid: int) -> float:
    """Proportional set size of a process and all its descendants, in MiB.

    PSS splits shared pages among the processes that map them, so a forking server
    (storescp --fork) is not charged N times for its shared libraries.
    """
    total = 0
    for member in _descendants(pid) + [pid]:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def _descendants(pid: int) -> list[int]:
    found = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{current}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in text.split():
                found.append(int(child))
                pending.append(int(child))
    return found
