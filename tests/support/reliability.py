"""Helpers of the reliability tests: the stress scale, the load and fuzz modules of
scripts/, and the health check every attack on echoscp ends with.

No test functions live here. ``ECHOSCU_STRESS_SCALE`` (default 1, the bounded form CI
runs) multiplies the counts and durations of the ``stress`` tests for long runs.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from support import tools
from support.scp import EchoSCP

SCRIPTS = tools.SCRIPTS
CORPUS = Path(__file__).resolve().parents[1] / "corpus"

#: multiplier of the stress counts; 1 keeps the default suite within its time budget
SCALE = float(os.environ.get("ECHOSCU_STRESS_SCALE", "1") or 1)


def scaled(count: float, minimum: int = 1) -> int:
    """``count`` times the stress scale, at least ``minimum``."""
    return max(minimum, round(count * SCALE))


#: scripts/loadgen.py and scripts/dulfeed.py, loaded from their files (support.tools)
loadgen = tools.loadgen()
dulfeed = tools.dulfeed()


def healthy(server: EchoSCP, ssl_context=None, echoes: int = 3) -> int:
    """Assert that ``server`` still runs and answers a normal association; its RSS in KiB."""
    assert server.process.poll() is None, f"echoscp died:\n{server.output_so_far()}"
    answered = asyncio.run(
        loadgen.echo_association("127.0.0.1", server.port, echoes, ssl_context, timeout=20))
    assert answered == echoes
    return loadgen.rss_kib(server.process.pid)


def no_internal_errors(log: str) -> None:
    """Assert that a finished echoscp log shows no traceback and no internal error."""
    assert "Traceback" not in log, log[-3000:]
    assert "Internal error" not in log, log[-3000:]
