"""The benchmark scenarios T1-T7: which programs run, against which peer, how often.

SCU scenarios run our echoscu, DCMTK's and pynetdicom's in alternation (one run of
each per round, a pause after every run so that a single-association storescp has
finished tearing down the previous association). SCP scenarios load our echoscp,
DCMTK's storescp and pynetdicom's echoscp with the clients in ``load``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import load
from harness import (
    DCMTK_ECHOSCU,
    DCMTK_STORESCP,
    Peer,
    RunFailed,
    bench_env,
    process_cpu_seconds,
    process_memory,
    timed_run,
    tree_pss_mib,
)

VENV_BIN = Path(sys.prefix) / "bin"
OURS, DCMTK, PYNETDICOM, PYTHON = "ours", "dcmtk", "pynetdicom", "python -c pass"

#: seconds between two measured runs (storescp serves one association at a time and
#: tears the previous one down after its peer has already exited)
PAUSE = 0.1


def scu_command(tool: str, args: list[str], peer_port: int | None) -> list[str]:
    """The command line of one SCU run (``peer_port`` None: no peer, e.g. --version)."""
    prefix = {
        OURS: [str(VENV_BIN / "echoscu")],
        DCMTK: [DCMTK_ECHOSCU],
        PYNETDICOM: [sys.executable, "-m", "pynetdicom", "echoscu"],
        PYTHON: [sys.executable, "-c", "pass"],
    }[tool]
    if tool == PYTHON:
        return prefix
    tail = [] if peer_port is None else ["127.0.0.1", str(peer_port)]
    return prefix + args + tail


class ScuScenario:
    """Programs run whole, alternately, against one peer; ratios of median wall times.

    ``programs`` maps a label to (tool, arguments); ``ratios`` maps a ratio name to
    (numerator label, denominator label); the target holds when every ratio named in
    ``target_ratios`` is at most ``limit``.
    """

    def __init__(self, key: str, title: str, peer: str | None,
                 programs: dict[str, tuple[str, list[str]]], rounds: int, *, warmup: int = 1,
                 ratios: dict[str, tuple[str, str]] | None = None,
                 target_ratios: tuple[str, ...] = (), limit: float | None = None,
                 env: dict[str, dict] | None = None, slow_rounds: dict[str, int] | None = None,
                 ) -> None:
        self.key = key
        self.title = title
        self.peer = peer
        self.programs = programs
        self.rounds = rounds
        self.warmup = warmup
        self.ratios = ratios if ratios is not None else {
            label: (OURS, label) for label in programs if label != OURS}
        self.target_ratios = target_ratios
        self.limit = limit
        #: per-tool environment overrides (e.g. DCMTK's TCP_NODELAY)
        self.env = env or {}
        #: at most this many rounds (and no warm-up) for a program taking seconds per run
        self.slow_rounds = slow_rounds or {}

    def run(self, peers: dict[str, Peer], progress) -> dict:
        """All rounds, programs in alternation; per-program samples, medians, ratios."""
        port = peers[self.peer].port if self.peer else None
        samples: dict[str, list] = {label: [] for label in self.programs}
        failures: dict[str, list[str]] = {}
        for round_number in range(self.warmup + self.rounds):
            measured = round_number >= self.warmup
            for label, (tool, args) in self.programs.items():
                limit = self.slow_rounds.get(label)
                attempts = len(samples[label]) + len(failures.get(label, ()))
                if limit is not None and (not measured or attempts >= limit):
                    continue
                try:
                    sample = timed_run(scu_command(tool, args, port),
                                       bench_env(**self.env.get(tool, {})))
                except RunFailed as error:
                    failures.setdefault(label, []).append(str(error))
                    sample = None
                if measured and sample is not None:
                    samples[label].append(sample)
                if port is not None:
                    time.sleep(PAUSE)
            if measured:
                progress(f"{self.key} round {round_number - self.warmup + 1}/{self.rounds}")
        return self._summary(samples, failures)

    def _summary(self, samples: dict[str, list], failures: dict[str, list[str]]) -> dict:
        programs = {}
        for label, runs in samples.items():
            if not runs:
                continue
            tool, args = self.programs[label]
            programs[label] = {
                "command": " ".join(scu_command(tool, args, None if self.peer is None else 0)),
                "env": self.env.get(tool, {}),
                "wall": [round(s.wall, 5) for s in runs],
                "cpu": [round(s.cpu, 5) for s in runs],
                "median_wall": statistics.median(s.wall for s in runs),
                "median_cpu": statistics.median(s.cpu for s in runs),
            }
        ratios = {name: programs[top]["median_wall"] / programs[bottom]["median_wall"]
                  for name, (top, bottom) in self.ratios.items()
                  if top in programs and bottom in programs}
        result = {"kind": "scu", "title": self.title, "peer": self.peer,
                  "programs": programs, "failures": failures, "ratios": ratios}
        if self.target_ratios:
            worst = max(ratios.get(name, float("inf")) for name in self.target_ratios)
            names = " and ".join(self.target_ratios)
            # a failed run of a program the target compares counts against it; a failing
            # bystander (pynetdicom in T2) does not
            involved = {label for name in self.target_ratios for label in self.ratios[name]}
            result["target"] = {"text": f"<= {self.limit:g} x ({names})", "ratio": worst,
                                "ratios": list(self.target_ratios), "limit": self.limit,
                                "met": worst <= self.limit and not involved & set(failures)}
        return result


def startup_scenario(rounds: int) -> ScuScenario:
    """T6: ``echoscu --help`` and ``--version`` against ``python -c pass``, no peer."""
    programs = {
        PYTHON: (PYTHON, []),
        "ours --help": (OURS, ["--help"]),
        "ours --version": (OURS, ["--version"]),
        "dcmtk --version": (DCMTK, ["--version"]),
    }
    ratios = {"--help / python -c pass": ("ours --help", PYTHON),
              "--version / python -c pass": ("ours --version", PYTHON)}
    return ScuScenario("T6", "echoscu --help / --version vs python -c pass", None, programs,
                       rounds, ratios=ratios, target_ratios=tuple(ratios), limit=4.0)


# --------------------------------------------------------------------------- SCP side

DCMTK_FORK = "dcmtk --fork"
SERVERS = (OURS, DCMTK, DCMTK_FORK, PYNETDICOM)
#: storescp --fork is DCMTK's own way to serve parallel clients (a process each); it is
#: shown beside the default single-process storescp the target T5 names
SERVER_PEERS = {OURS: "echoscp", DCMTK: "storescp", DCMTK_FORK: "storescp-fork",
                PYNETDICOM: "pynetdicom-echoscp"}


def churn_scenario(peers: dict[str, Peer], seconds: float, rounds: int, progress) -> dict:
    """T5: 4 client processes doing connect+associate+echo+release against each server."""
    runs: dict[str, list[dict]] = {server: [] for server in SERVERS}
    for round_number in range(rounds):
        for server in SERVERS:
            peer = peers[SERVER_PEERS[server]]
            cpu_before = process_cpu_seconds(peer.pid)
            outcome = load.churn(peer.port, clients=4, seconds=seconds)
            cpu = process_cpu_seconds(peer.pid) - cpu_before
            outcome["rate"] = outcome["completed"] / outcome["elapsed"]
            outcome["cpu_percent"] = 100 * cpu / outcome["elapsed"]
            done = max(outcome["completed"], 1)
            outcome["server_us_per_association"] = 1e6 * cpu / done
            outcome["client_us_per_association"] = 1e6 * outcome["client_cpu"] / done
            outcome["rss_mib"], outcome["peak_rss_mib"] = process_memory(peer.pid)
            runs[server].append(outcome)
            time.sleep(PAUSE * 5)
        progress(f"T5 round {round_number + 1}/{rounds}")
    servers = {}
    for server, outcomes in runs.items():
        servers[server] = {
            "runs": outcomes,
            "median_rate": statistics.median(o["rate"] for o in outcomes),
            "median_cpu_percent": statistics.median(o["cpu_percent"] for o in outcomes),
            "median_server_us": statistics.median(o["server_us_per_association"]
                                                  for o in outcomes),
            "median_client_us": statistics.median(o["client_us_per_association"]
                                                  for o in outcomes),
            "peak_rss_mib": max(o["peak_rss_mib"] for o in outcomes),
            "failed": sum(o["failed"] for o in outcomes),
        }
    ours = servers[OURS]["median_rate"]
    ratios = {server: ours / servers[server]["median_rate"]
              for server in SERVERS[1:] if servers[server]["median_rate"] > 0}
    # round 2 (issue #17): the server's CPU per association, ours / storescp's
    cpu_ratio = (servers[OURS]["median_server_us"] / servers[DCMTK]["median_server_us"]
                 if servers[DCMTK]["median_server_us"] > 0 else float("inf"))
    met = cpu_ratio <= 2 and servers[OURS]["failed"] == 0
    return {"kind": "churn", "title": "echoscp churn, 4 parallel clients, "
                                      f"{seconds:g} s per run", "servers": servers,
            "ratios": ratios, "cpu_ratio": cpu_ratio,
            "target": {"text": "server CPU per association <= 2 x storescp's, 0 failures",
                       "ratio": cpu_ratio, "met": met}}


def idle_scenario(peer: Peer, count: int, idle_seconds: float, progress) -> dict:
    """T4: hold ``count`` idle associations, measure the server, then echo on all."""
    holder = load.IdleAssociations(peer.port)
    rss_before, _ = process_memory(peer.pid)
    start = time.perf_counter()
    try:
        accepted = holder.open(count)
        opened_in = time.perf_counter() - start
        time.sleep(0.5)
        cpu_before = process_cpu_seconds(peer.pid)
        time.sleep(idle_seconds)
        idle_cpu = process_cpu_seconds(peer.pid) - cpu_before
        rss, peak = process_memory(peer.pid)
        echoed = holder.echo_all()
        released = holder.release_all()
    finally:
        holder.close()
    progress(f"T4 {accepted}/{count} accepted, {echoed} echoed")
    idle_percent = 100 * idle_cpu / idle_seconds
    failures = count - accepted + (accepted - echoed) + (accepted - released)
    met = accepted == count and echoed == count and idle_percent <= 2.0 and rss <= 150
    return {"kind": "idle", "title": f"echoscp holding {count} idle associations",
            "count": count, "accepted": accepted, "echoed": echoed, "released": released,
            "open_seconds": opened_in, "idle_seconds": idle_seconds,
            "idle_cpu_percent": idle_percent, "rss_mib": rss, "peak_rss_mib": peak,
            "rss_before_mib": rss_before, "pss_mib": tree_pss_mib(peer.pid),
            "failures": failures, "errors": holder.failures[:5],
            "target": {"text": "all accepted and echoed, idle CPU <= 2 %, RSS <= 150 MiB",
                       "ratio": None, "met": met}}


#: --jobs of the fleet scenario (T7): the default of echoscu (32); on 2 cores shared
#: with the server, measured 2026-12-06 at 1000 peers: 8 jobs 5.65 s, 32 jobs 4.75 s
FLEET_JOBS = 32


def fleet_scenario(peer: Peer, pki, count: int, rounds: int, scratch: Path,
                   progress) -> dict:
    """T7: ``echoscu --peers`` with ``count`` TLS peers (client certificate), all of
    them one echoscp +tls; wall time of the whole check, client and server CPU."""
    peers_file = scratch / f"peers-{count}.txt"
    peers_file.write_text(f"127.0.0.1:{peer.port}\n" * count)
    argv = [str(VENV_BIN / "echoscu"), *tls_arguments(pki), "--peers", str(peers_file),
            "--jobs", str(FLEET_JOBS)]
    runs, failures = [], []
    for round_number in range(rounds):
        server_before = process_cpu_seconds(peer.pid)
        try:
            sample = timed_run(argv, bench_env())
        except RunFailed as error:
            failures.append(str(error))
            continue
        server_cpu = process_cpu_seconds(peer.pid) - server_before
        runs.append({"wall": sample.wall, "client_cpu": sample.cpu, "server_cpu": server_cpu})
        progress(f"T7 round {round_number + 1}/{rounds}: {sample.wall:.2f} s")
        time.sleep(PAUSE * 5)
    result = {"kind": "fleet", "title": f"--peers, {count} TLS peers (client certificate), "
                                        f"one echoscp +tls, --jobs {FLEET_JOBS}",
              "count": count, "jobs": FLEET_JOBS, "runs": runs, "failures": failures,
              "command": " ".join(argv)}
    if runs:
        result.update(
            median_wall=statistics.median(r["wall"] for r in runs),
            client_us=statistics.median(r["client_cpu"] for r in runs) / count * 1e6,
            server_us=statistics.median(r["server_cpu"] for r in runs) / count * 1e6)
    wall = result.get("median_wall", float("inf"))
    result["target"] = {"text": "<= 3 s wall, 0 failures", "ratio": wall / 3.0,
                        "met": wall <= 3.0 and not failures}
    return result


def make_peers(log_dir: Path, pki=None) -> dict[str, Peer]:
    """Every server the scenarios need (not yet started)."""
    nodelay = bench_env(TCP_NODELAY="1")
    peers = {
        "storescp": Peer("storescp", lambda port: [DCMTK_STORESCP, str(port)], nodelay,
                         log_dir, single_association=True),
        "storescp-nagle": Peer("storescp-nagle", lambda port: [DCMTK_STORESCP, str(port)],
                               bench_env(), log_dir, single_association=True),
        "storescp-fork": Peer("storescp-fork",
                              lambda port: [DCMTK_STORESCP, "--fork", str(port)], nodelay,
                              log_dir),
        "echoscp": Peer("echoscp", lambda port: [sys.executable, "-m", "echoscp", "-tn", "600",
                                                 str(port)], bench_env(), log_dir),
        "pynetdicom-echoscp": Peer(
            "pynetdicom-echoscp",
            lambda port: [sys.executable, "-m", "pynetdicom", "echoscp", str(port)],
            bench_env(), log_dir),
    }
    if pki is not None:
        peers["echoscp-tls"] = Peer(
            "echoscp-tls",
            lambda port: [sys.executable, "-m", "echoscp", "-tn", "600", "+tls", pki.server.key,
                          pki.server.cert, "+cf", pki.ca.cert, str(port)],
            bench_env(), log_dir)
        peers["storescp-tls"] = Peer(
            "storescp-tls",
            lambda port: [DCMTK_STORESCP, "+tls", pki.server.key, pki.server.cert,
                          "+cf", pki.ca.cert, str(port)],
            nodelay, log_dir, single_association=True)
    return peers


def tls_arguments(pki) -> list[str]:
    """echoscu's TLS options for a client certificate from the bench PKI."""
    return ["+tls", pki.client.key, pki.client.cert, "+cf", pki.ca.cert]


def _trio(args: list[str]) -> dict[str, tuple[str, list[str]]]:
    return {OURS: (OURS, args), DCMTK: (DCMTK, args), PYNETDICOM: (PYNETDICOM, args)}


def scu_scenarios(quick: bool, pki) -> list[ScuScenario]:
    """T1, T2, T2b, T3 (and single-echo rows against the other SCPs), sized for the mode.

    Limits are issue #17's round-two targets (docs/design.md).
    """
    rounds = 5 if quick else 15
    nodelay = {DCMTK: {"TCP_NODELAY": "1"}}
    nagle_repeat = 50 if quick else 200
    scenarios = [
        ScuScenario("T1", "single echo, plain, vs storescp (TCP_NODELAY=1)", "storescp",
                    _trio([]), rounds, target_ratios=(DCMTK,), limit=0.8, env=nodelay),
        ScuScenario("T2", "--repeat 2000, one association, vs storescp (TCP_NODELAY=1)",
                    "storescp", {**_trio(["--repeat", "2000"]),
                                 # pynetdicom 3.0.4 loses a response now and then against
                                 # storescp ("unexpected C-ECHO service message"): bound
                                 # its wait to 5 s instead of 30
                                 PYNETDICOM: (PYNETDICOM, ["-td", "5", "--repeat", "2000"])},
                    3 if quick else 7, warmup=0,
                    target_ratios=(DCMTK,), limit=0.9, env=nodelay,
                    slow_rounds={PYNETDICOM: 1 if quick else 2}),
        ScuScenario("T2b", f"--repeat {nagle_repeat} vs storescp with Nagle on (its default)",
                    "storescp-nagle", _trio(["--repeat", str(nagle_repeat)]),
                    1 if quick else 3, warmup=0, target_ratios=(DCMTK,), limit=0.05,
                    slow_rounds={PYNETDICOM: 1}),
    ]
    if pki is not None:
        tls = tls_arguments(pki)
        scenarios.append(ScuScenario(
            "T3", "single echo, TLS with client certificate, vs storescp +tls",
            "storescp-tls", {OURS: (OURS, tls), DCMTK: (DCMTK, tls)}, rounds,
            target_ratios=(DCMTK,), limit=1.3, env=nodelay))
    if not quick:
        scenarios += [
            ScuScenario("T1-echoscp", "single echo, plain, vs our echoscp", "echoscp",
                        _trio([]), rounds, env=nodelay),
            ScuScenario("T1-pynetdicom", "single echo, plain, vs pynetdicom echoscp",
                        "pynetdicom-echoscp", _trio([]), rounds, env=nodelay),
        ]
    return scenarios
