"""bench/run: our echoscu and echoscp side by side with DCMTK and pynetdicom (targets T1-T7).

Starts the peers, runs every scenario in alternation, prints a table, saves the
results as JSON under ``bench/results/`` and regenerates ``bench/RESULTS.md`` and
``bench/ratios.png``. ``--scaling`` measures growth with the work instead.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import report
import scenarios
from harness import DCMTK_ECHOSCU, Peer

RESULTS_DIR = report.RESULTS_DIR
ALL_KEYS = ("T6", "T1", "T2", "T2b", "T3", "T4", "T5", "T7", "T1-echoscp",
            "T1-pynetdicom")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line of ``bench/run``."""
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__.splitlines()[0],
        epilog="Targets are issue #17's round two (docs/design.md): T1 <= 0.8 x DCMTK, "
               "T2 <= 0.9 x, T3 <= 1.3 x, T5 server CPU per association <= 2 x storescp's, "
               "T7 1000 TLS peers in <= 3 s. A full run takes about 5 minutes and "
               "regenerates RESULTS.md and ratios.png; --quick about one, --scaling about 4.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="fewer rounds, shorter loads, T2b with --repeat 50 (about a minute; "
                           "results are not written to RESULTS.md)")
    mode.add_argument("--scaling", action="store_true",
                      help="time against --repeat 1..10000 and echoscp memory against held "
                           "associations, ours vs DCMTK; writes SCALING.md and scaling.png")
    mode.add_argument("--sanity", action="store_true",
                      help="a few seconds, ours only, nothing written (for the smoke test)")
    parser.add_argument("--only", metavar="KEYS",
                        help=f"comma-separated scenarios to run (of {','.join(ALL_KEYS)}); "
                             "results are then not written to RESULTS.md")
    return parser.parse_args(argv)


def metadata_block(mode: str) -> dict:
    """When, where and with what the run was made."""
    now = datetime.datetime.now()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=report.BENCH_DIR, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    dcmtk = subprocess.run([DCMTK_ECHOSCU, "--version"], capture_output=True, text=True,
                           timeout=10).stdout.splitlines()[0].strip("$ ")
    return {
        "date": now.strftime("%Y-%m-%d %H:%M"), "stamp": now.strftime("%Y%m%d-%H%M%S"),
        "mode": mode, "suffix": "" if mode == "full" else f"-{mode}",
        "commit": commit or "unknown", "cores": os.cpu_count(), "dcmtk": dcmtk,
        "pynetdicom": f"pynetdicom {metadata.version('pynetdicom')}",
        "pip": _installed("pip"),
        "python": sys.version.split()[0], "interpreter": _interpreter(),
        "pause_ms": scenarios.PAUSE * 1000,
        "warmup": "one warm-up round that is not counted (none for the multi-second runs)",
        "load_start": load_average(), "load_end": None,
    }


def _interpreter() -> str:
    """The Python the measured venv runs on: its path and how it is linked (a static
    interpreter runs Python code faster than one calling into libpython.so)."""
    base = os.path.realpath(sys.executable)  # a venv's python links to its base
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            shared = any("libpython" in line for line in maps)
    except OSError:
        return f"{base} {sys.version.split()[0]}"
    linked = "shared libpython" if shared else "static"
    return f"{base} {sys.version.split()[0]}, {linked}"


def _installed(name: str) -> str:
    """``name version`` of a distribution in this venv, or ``name`` if it is not there."""
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name


def load_average() -> str:
    """The one-minute load average now (how busy the machine was)."""
    return f"{os.getloadavg()[0]:.2f}"


def progress(text: str) -> None:
    """One line of progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _needed_peers(plan: list) -> set[str]:
    needed = set()
    for item in plan:
        if isinstance(item, scenarios.ScuScenario) and item.peer:
            needed.add(item.peer)
        elif item in ("T4",):
            needed.add("echoscp")
        elif item == "T7":
            needed.add("echoscp-tls")
        elif item == "T5":
            needed.update(scenarios.SERVER_PEERS.values())
    return needed


def run_main(args: argparse.Namespace) -> int:
    """The benchmark proper (full, quick or --only)."""
    quick = args.quick
    mode = "quick" if quick else "full"
    wanted = set(args.only.split(",")) if args.only else set(ALL_KEYS)
    unknown = wanted - set(ALL_KEYS)
    if unknown:
        print(f"bench/run: unknown scenario(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    meta = metadata_block(mode)
    idle_count, idle_seconds = 1000, (3.0 if quick else 10.0)
    churn_seconds, churn_rounds = (3.0, 1) if quick else (8.0, 3)
    meta.update(idle_count=idle_count, idle_seconds=idle_seconds)
    with tempfile.TemporaryDirectory(prefix="echoscu-bench-") as scratch:
        pki = None
        if "T3" in wanted or "T7" in wanted:
            from certs.pki import make_pki

            pki = make_pki(Path(scratch) / "pki")
        plan: list = [scenarios.startup_scenario(5 if quick else 15)] if "T6" in wanted else []
        plan += [s for s in scenarios.scu_scenarios(quick, pki) if s.key in wanted]
        plan += [key for key in ("T4", "T5", "T7") if key in wanted]
        order = {key: index for index, key in enumerate(ALL_KEYS)}
        plan.sort(key=lambda item: order[item if isinstance(item, str) else item.key])
        peers = scenarios.make_peers(Path(scratch), pki)
        results = {"meta": meta, "scenarios": {}, "skipped": {}}
        try:
            started = _start_peers(peers, _needed_peers(plan), results["skipped"])
            for item in plan:
                key = item if isinstance(item, str) else item.key
                try:
                    if item == "T7":
                        if "echoscp-tls" not in started:
                            raise _MissingPeer("echoscp-tls")
                        results["scenarios"][key] = scenarios.fleet_scenario(
                            started["echoscp-tls"], pki, 1000, 1 if quick else 3,
                            Path(scratch), progress)
                        continue
                    results["scenarios"][key] = _run_item(
                        item, started, idle_count, idle_seconds, churn_seconds, churn_rounds)
                except _MissingPeer as missing:
                    results["skipped"][key] = f"peer {missing} did not start"
                    progress(f"{key} skipped: peer {missing} did not start")
        finally:
            for peer in peers.values():
                peer.stop()
    meta["load_end"] = load_average()
    print(report.console_table(results))
    path = report.write_json(results, RESULTS_DIR)
    progress(f"results saved to {path}")
    if not args.only and not quick:  # the published numbers come from full runs only
        report.plot("ratios", path, report.BENCH_DIR / "ratios.png")
        report.write_results_md(results, "ratios.png", report.BENCH_DIR / "RESULTS.md")
        progress("bench/RESULTS.md and bench/ratios.png regenerated")
    return 0


class _MissingPeer(Exception):
    """A scenario needs a peer that could not be started."""


def _start_peers(peers: dict[str, Peer], needed: set[str], skipped: dict) -> dict[str, Peer]:
    started = {}
    for name in sorted(needed):
        try:
            peers[name].start()
            started[name] = peers[name]
        except RuntimeError as error:
            skipped[name] = str(error)
            progress(str(error))
    time.sleep(0.5)
    return started


def _run_item(item, peers: dict[str, Peer], idle_count: int, idle_seconds: float,
              churn_seconds: float, churn_rounds: int) -> dict:
    if isinstance(item, scenarios.ScuScenario):
        if item.peer and item.peer not in peers:
            raise _MissingPeer(item.peer)
        return item.run(peers, progress)
    if item == "T4":
        if "echoscp" not in peers:
            raise _MissingPeer("echoscp")
        return scenarios.idle_scenario(peers["echoscp"], idle_count, idle_seconds, progress)
    for name in scenarios.SERVER_PEERS.values():
        if name not in peers:
            raise _MissingPeer(name)
    return scenarios.churn_scenario(peers, churn_seconds, churn_rounds, progress)


def run_sanity() -> int:
    """A few seconds, ours only: one echo, a short churn, a few idle associations."""
    with tempfile.TemporaryDirectory(prefix="echoscu-bench-") as scratch:
        peer = scenarios.make_peers(Path(scratch))["echoscp"]
        peer.start()
        try:
            single = scenarios.ScuScenario(
                "sanity-echo", "single echo vs our echoscp", "echoscp",
                {scenarios.OURS: (scenarios.OURS, [])}, 2, warmup=0).run(
                    {"echoscp": peer}, progress)
            churn = scenarios.load.churn(peer.port, clients=1, seconds=0.5, limit=20)
            idle = scenarios.idle_scenario(peer, 5, 0.2, progress)
        finally:
            peer.stop()
    ok = (bool(single["programs"]) and not single["failures"] and churn["failed"] == 0
          and churn["completed"] > 0 and idle["echoed"] == 5 and idle["failures"] == 0)
    print(f"sanity: echo {'ok' if single['programs'] else 'FAILED'}, churn "
          f"{churn['completed']} ok / {churn['failed']} failed, idle {idle['accepted']} "
          f"accepted / {idle['echoed']} echoed: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``bench/run``."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.sanity:
        return run_sanity()
    if args.scaling:
        import scaling

        return scaling.run(metadata_block("scaling"), progress)
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
