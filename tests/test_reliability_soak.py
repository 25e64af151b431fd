"""The soak script in its bounded form: plain and TLS clients with faults for
15 s x ECHOSCU_STRESS_SCALE; no well-behaved client may fail, RSS must stay flat."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.reliability import SCALE, SCRIPTS


@pytest.mark.stress
@pytest.mark.timeout(int(120 + 60 * SCALE))
def test_soak(tmp_path):
    figures = tmp_path / "soak.json"
    minutes = 0.25 * SCALE
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "soak"), "--minutes", str(minutes), "--clients", "4",
         "--json", str(figures)],
        capture_output=True, text=True, timeout=90 + 60 * minutes, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "RESULT: PASS"
    data = json.loads(figures.read_text())
    assert data["failures"] == [] and data["fault_hangs"] == []
    assert sum(data["faults"].values()) >= 10
    assert all(data["associations"][name] > 0 for name in ("plain", "tls"))
