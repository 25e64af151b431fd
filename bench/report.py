"""Turn benchmark results into a console table, JSON, ``RESULTS.md`` and a ratio plot.

Every row reads "ours, the references, ours / reference, target, met"; the plot
(drawn by ``plot.py``) shows the same ratios as costs, each with its target mark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
NAMES = {"ours": "ours", "dcmtk": "DCMTK", "pynetdicom": "pynetdicom",
         "dcmtk --fork": "DCMTK --fork"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def row(key: str, result: dict) -> tuple[str, str, str, str, str, str, str]:
    """(key, what, ours, references, ratios, target, met) for one scenario result."""
    kind = result["kind"]
    target = result.get("target")
    met = "-" if target is None else ("yes" if target["met"] else "**no**")
    target_text = "-" if target is None else target["text"]
    if kind == "scu":
        programs = result["programs"]
        ours_labels = [label for label in programs if label.startswith("ours")]
        ours = "; ".join(_labelled(label, programs[label], "ours") for label in ours_labels)
        references = "; ".join(_labelled(label, program, "")
                               for label, program in programs.items()
                               if label not in ours_labels)
        ratios = "; ".join(f"{value:.2f} x {NAMES.get(name, name)}"
                           for name, value in result["ratios"].items())
        failed = ", ".join(f"{NAMES.get(label, label)} failed {len(texts)} x"
                           for label, texts in result["failures"].items())
        if failed:
            ratios += f" ({failed}, see notes)"
        return key, result["title"], ours or "failed", references, ratios, target_text, met
    if kind == "churn":
        servers = result["servers"]
        ours = _server_cell(servers["ours"])
        references = "; ".join(f"{NAMES[name]} {_server_cell(servers[name])}"
                               for name in servers if name != "ours")
        ratios = "; ".join(f"{value:.1f} x {NAMES[name]}"
                           for name, value in result["ratios"].items())
        if "cpu_ratio" in result:
            ratios = f"server CPU/assoc {result['cpu_ratio']:.2f} x DCMTK; throughput {ratios}"
        return key, result["title"], ours, references, ratios, target_text, met
    if kind == "fleet":
        if "median_wall" not in result:
            return key, result["title"], "failed", "-", "-", target_text, met
        ours = (f"{_ms(result['median_wall'])} for {result['count']} peers "
                f"({len(result['failures'])} failed runs); CPU per association: client "
                f"{result['client_us']:.0f} us, echoscp {result['server_us']:.0f} us")
        return key, result["title"], ours, "-", f"{result['median_wall'] / 3.0:.2f} x 3 s", \
            target_text, met
    ours = (f"{result['accepted']}/{result['count']} accepted, idle CPU "
            f"{result['idle_cpu_percent']:.2f} % of a core, RSS {result['rss_mib']:.0f} MiB, "
            f"{result['echoed']} echoed, {result['failures']} failures")
    return key, result["title"], ours, "-", "-", target_text, met


def _labelled(label: str, program: dict, prefix: str) -> str:
    """A program's medians, named after its label without the ``prefix`` part."""
    name = NAMES.get(label, label)
    if prefix and name.startswith(prefix):
        name = name[len(prefix):].strip()
    cell = f"{_ms(program['median_wall'])} (CPU {_ms(program['median_cpu'])})"
    return f"{name} {cell}" if name else cell


def failure_notes(results: dict) -> list[str]:
    """One line per program that failed in some round, with the start of its error."""
    notes = []
    for key, result in results["scenarios"].items():
        if result["kind"] != "scu":
            continue
        for label, texts in result["failures"].items():
            detail = texts[0].rsplit(": ", 2)
            notes.append(f"{key}, {NAMES.get(label, label)}: {len(texts)} failed run(s); "
                         f"first: {': '.join(detail[-2:])[:240]}")
    for key, why in results.get("skipped", {}).items():
        notes.append(f"{key} skipped: {why}")
    return notes


def _server_cell(server: dict) -> str:
    return (f"{server['median_rate']:.0f} assoc/s, CPU {server['median_cpu_percent']:.0f} % "
            f"({server['median_server_us']:.0f} us/assoc; clients "
            f"{server['median_client_us']:.0f} us/assoc), RSS {server['peak_rss_mib']:.0f} MiB, "
            f"{server['failed']} failed")


HEADER = ("#", "scenario", "ours (median wall, CPU)", "references", "ours / reference",
          "target", "met")


def console_table(results: dict) -> str:
    """The results as aligned plain-text lines, one block per scenario."""
    lines = []
    for key, result in results["scenarios"].items():
        key, what, ours, references, ratios, target, met = row(key, result)
        lines.append(f"{key:<14} {what}")
        lines.append(f"{'':<14} ours: {ours}")
        if references != "-":
            lines.append(f"{'':<14} refs: {references}")
        lines.append(f"{'':<14} ratio: {ratios}   target: {target}   met: "
                     f"{met.strip('*')}")
    lines += [f"note: {note}" for note in failure_notes(results)]
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    """The results as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for key, result in results["scenarios"].items():
        cells = row(key, result)
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def plot(kind: str, json_path: Path, png_path: Path) -> None:
    """Draw ``kind`` ("ratios" or "scaling") from a results file, with matplotlib from the
    tools venv (kept out of the measured venv, see ``bench/run``)."""
    python = os.environ.get("BENCH_TOOLS_PYTHON", sys.executable)
    subprocess.run([python, str(BENCH_DIR / "plot.py"), kind, str(json_path), str(png_path)],
                   check=True, timeout=300)


def write_json(results: dict, directory: Path) -> Path:
    """Save the results as ``<directory>/<stamp>.json`` and ``latest.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, sort_keys=False)
    path = directory / f"{results['meta']['stamp']}.json"
    path.write_text(text)
    (directory / f"latest{results['meta']['suffix']}.json").write_text(text)
    return path


def cost_bars(results: dict) -> list[tuple[str, float, float, bool | None]]:
    """(label, measured cost ratio, target limit, met) for every plotted comparison
    (limit NaN and met None where no target applies).

    Costs are "lower is better": time ratios as they are, throughput ratios inverted
    (time per association), T4's CPU and RSS as fractions of their budgets.
    """
    bars = []
    for key, result in results["scenarios"].items():
        kind = result["kind"]
        if kind == "scu":
            target = result.get("target") or {}
            for name, value in result["ratios"].items():
                label = f"{key} vs {NAMES[name]}" if name in NAMES else f"{key} {name}"
                if name in target.get("ratios", ()):
                    bars.append((label, value, target["limit"], value <= target["limit"]))
                else:
                    bars.append((label, value, float("nan"), None))
        elif kind == "churn":
            if "cpu_ratio" in result:
                value = result["cpu_ratio"]
                bars.append((f"{key} server CPU/assoc vs DCMTK", value, 2.0, value <= 2.0))
            for name, value in result["ratios"].items():
                bars.append((f"{key} vs {NAMES[name]} (time/assoc)", 1 / value,
                             float("nan"), None))
        elif kind == "fleet" and "median_wall" in result:
            wall = result["median_wall"] / 3.0
            bars.append((f"{key} wall / 3 s", wall, 1.0, wall <= 1 and not result["failures"]))
        elif kind == "idle":
            cpu = result["idle_cpu_percent"] / 2.0
            rss = result["rss_mib"] / 150.0
            bars.append((f"{key} idle CPU / 2 %", max(cpu, 1e-3), 1.0, cpu <= 1))
            bars.append((f"{key} RSS / 150 MiB", rss, 1.0, rss <= 1))
    return bars


METHOD = """\
How this was measured (`bench/run`{mode_flag}, {date}, commit {commit}, {cores} cores):

- Programs are run whole, as a user runs them: our `echoscu` console script from a
  dedicated venv on {interpreter} (the distribution's python3 when there is one, as
  DCMTK is the distribution's build; `BENCH_PYTHON` picks another), like the venv
  pipx or `uv tool` makes (project installed non-editable
  by {pip}, whose launcher does not import `re`; no setuptools, whose .pth file costs
  every start an import; byte-compiled, `PYTHONDONTWRITEBYTECODE` unset), DCMTK's
  `/usr/bin/echoscu` ({dcmtk}) and `python -m pynetdicom echoscu` ({pynetdicom}). In
  each round every program runs once (A B C A B C ...), after {warmup}; a table cell is
  the median over the rounds.
  Wall time is taken around spawn and reap; CPU time (user + system) is the child's
  own, from `wait4`.
- Peers are started by the benchmark: DCMTK `storescp` with `TCP_NODELAY=1` (and, for
  T2b, without it: Nagle on, its default), `storescp +tls` for T3 (test PKI from
  `certs.pki.make_pki`, client certificate required), `python -m pynetdicom echoscp`
  and our `python -m echoscp`. DCMTK's echoscu runs with `TCP_NODELAY=1` except in
  T2b; ours with its defaults (TCP_NODELAY on; TCP_QUICKACK whenever an answer arrives
  in pieces, which is how a peer with Nagle on sends it).
- storescp serves one association at a time and tears it down after the client has
  gone, so every run is followed by a {pause_ms:.0f} ms pause (back to back, DCMTK's
  single echo measured 74 ms instead of 33 ms in docs/design.md's reference runs).
- T7 writes a peers file of 1000 lines, all naming one `python -m echoscp +tls` (same
  PKI, client certificate required), and runs our `echoscu +tls ... --peers FILE
  --jobs 32` (its default) {fleet_rounds}; wall time around the whole check, client CPU
  from `wait4`, the server's from /proc. Client and server share the 2 cores.
- SCP scenarios: T5 runs 4 client processes that loop connect + associate + C-ECHO +
  release with precomputed PDUs (TCP_NODELAY) for a fixed time against each server in
  turn (storescp as the target names it, single-process, and `storescp --fork`, DCMTK's
  mode for parallel clients, for comparison); the server's CPU comes from
  /proc/PID/stat, RSS from /proc/PID/status, the clients' CPU from their rusage. T4 opens
  {idle_count} associations to our echoscp, lets them sit idle for {idle_seconds:g} s
  while measuring its CPU, then sends a C-ECHO on every one and releases them.
- Load average at the start and end of the run: {load_start} / {load_end} (2 cores;
  other work ran at the same time). Ratios come from interleaved runs, so a busy
  moment slows both sides of a ratio alike, but absolute times are inflated by it.
"""


def write_results_md(results: dict, plot_name: str, path: Path) -> None:
    """Regenerate ``RESULTS.md``: method, table, plot."""
    meta = results["meta"]
    met = sum(1 for r in results["scenarios"].values() if r.get("target", {}).get("met"))
    total = sum(1 for r in results["scenarios"].values() if r.get("target"))
    text = [
        "# Benchmark results",
        "",
        "Generated by `bench/run`; do not edit by hand. Targets T1-T7 are in docs/design.md.",
        f"Targets met: {met} of {total}.",
        "",
        markdown_table(results),
        "",
        *[f"- {note}" for note in failure_notes(results)],
        "",
        f"![ratios per scenario]({plot_name})",
        "",
        METHOD.format(mode_flag=" --quick" if meta["mode"] == "quick" else "",
                      fleet_rounds="once" if meta["mode"] == "quick" else "3 times (median)",
                      **{"pip": "pip", "interpreter": "python3", **meta}),
    ]
    scaling = BENCH_DIR / "SCALING.md"
    if scaling.exists():
        text.append("Scaling with the work (repeat count, held associations): "
                    "see [SCALING.md](SCALING.md).\n")
    path.write_text("\n".join(text))
