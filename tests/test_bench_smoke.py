"""bench/ smoke test: the benchmark runner's sanity mode works end to end (no timing asserted).

It starts our echoscp, runs our echoscu against it, and drives the load clients the
T4/T5 scenarios use, all for a few seconds; the real benchmark is ``bench/run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run([sys.executable, str(BENCH / "main.py"), *args], capture_output=True,
                          text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.timeout(90)
def test_sanity_mode_echoes_and_loads_our_echoscp() -> None:
    result = _run("--sanity")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    assert "idle 5 accepted / 5 echoed" in result.stdout


@pytest.mark.timeout(60)
def test_help_lists_the_modes() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for mode in ("--quick", "--scaling", "--sanity", "--only"):
        assert mode in result.stdout
