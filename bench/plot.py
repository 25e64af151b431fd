"""Plots for the benchmark results (run by ``report.plot`` with the tools venv's Python).

``plot.py ratios RESULTS.json OUT.png`` draws the cost ratio of every comparison;
``plot.py scaling SCALING.json OUT.png`` draws growth with the work, ours vs DCMTK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-GUI backend)
from report import cost_bars  # noqa: E402


def plot_ratios(results: dict, path: Path) -> None:
    """A horizontal bar per comparison (log scale), with a black tick at each target."""
    bars = cost_bars(results)
    fig, axis = plt.subplots(figsize=(9, 0.42 * len(bars) + 1.4))
    positions = range(len(bars))[::-1]
    colours = ["#9e9e9e" if met is None else "#2e8b57" if met else "#c0392b"
               for _, _, _, met in bars]
    axis.barh(list(positions), [value for _, value, _, _ in bars], color=colours)
    for position, (_, value, limit, _) in zip(positions, bars, strict=True):
        if limit == limit:
            axis.plot([limit, limit], [position - 0.4, position + 0.4], color="black", lw=2)
        axis.annotate(f"{value:.2g}", (value, position), xytext=(4, -4),
                      textcoords="offset points", fontsize=8)
    axis.set_yticks(list(positions), [label for label, _, _, _ in bars], fontsize=8)
    axis.set_xscale("log")
    axis.axvline(1.0, color="grey", lw=0.8, ls=":")
    axis.set_xlabel("cost ratio ours / reference (log scale, lower is better)\n"
                    "black tick = target; green met, red missed, grey no target")
    axis.set_title(f"echoscu benchmarks ({results['meta']['mode']} run, "
                   f"{results['meta']['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def plot_scaling(results: dict, path: Path) -> None:
    """Left: time against echoes per association; right: SCP memory against held
    associations; ours and DCMTK on the same axes."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"ours": ("ours (Python)", "#1f77b4", "o"), "dcmtk": ("DCMTK 3.6.7", "#d62728", "s")}
    for tool, series in results["repeat"].items():
        label, colour, marker = styles[tool]
        counts = sorted(int(n) for n in series)
        left.plot(counts, [series[str(n)]["wall"] for n in counts], marker=marker,
                  color=colour, label=f"{label}, wall")
        left.plot(counts, [series[str(n)]["cpu"] for n in counts], marker=marker,
                  color=colour, ls="--", alpha=0.6, label=f"{label}, CPU")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("C-ECHOs on one association (echoscu --repeat N)")
    left.set_ylabel("seconds, whole process")
    left.set_title("echoscu vs storescp (TCP_NODELAY=1)", fontsize=10)
    left.legend(fontsize=8)
    names = {"ours": "our echoscp (one process)", "dcmtk": "DCMTK storescp --fork"}
    for tool, points in results["memory"].items():
        _, colour, marker = styles[tool]
        held = sorted(int(k) for k in points if k.isdigit())
        right.plot(held, [points[str(k)]["pss_mib"] for k in held], marker=marker,
                   color=colour, label=names[tool])
    right.set_xlabel("idle associations held")
    right.set_ylabel("MiB (PSS of all the server's processes)")
    right.set_yscale("log")
    right.set_title("SCP memory", fontsize=10)
    right.legend(fontsize=8)
    fig.suptitle(f"Scaling with the work ({results['meta']['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    """``plot.py KIND JSON PNG``."""
    kind, json_path, png_path = argv
    results = json.loads(Path(json_path).read_text())
    if kind == "ratios":
        plot_ratios(results, Path(png_path))
    else:
        plot_scaling(results, Path(png_path))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
