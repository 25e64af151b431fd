"""The cycle collector paused for start-up (dicomecho.collector): back on, with start-up's
objects frozen, once an echo's association runs or a long-running mode starts."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicomecho import collector

REPO = str(Path(__file__).resolve().parent.parent)
ENV = {**os.environ,
       "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}

pytestmark = pytest.mark.timeout(60)

#: runs echoscu's main as the console entry does (collector paused first) and reports
#: the exit code, whether the collector is on and whether it froze more objects since
_PROBE = """\
import gc, sys
from dicomecho import collector
from echoscu.cli import main
collector.pause()
frozen = gc.get_freeze_count()
code = main(sys.argv[1:])
print(code, gc.isenabled(), gc.get_freeze_count() > frozen)
"""


def _probe(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], env=ENV, capture_output=True,
                          text=True, timeout=30)
    return done.stdout.split()


def test_resume_without_pause_changes_nothing() -> None:
    was_enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    collector.resume()
    assert (gc.isenabled(), gc.get_freeze_count()) == (was_enabled, frozen)


def test_an_established_association_resumes_collection(storescp) -> None:
    peer = storescp()
    assert _probe("--repeat", "3", "127.0.0.1", str(peer.port)) == ["0", "True", "True"]


def test_a_one_shot_failure_ends_with_collection_still_paused(closed_port: int) -> None:
    """Nothing long-running followed: the process ends without a collection."""
    assert _probe("127.0.0.1", str(closed_port)) == ["1", "False", "False"]


def test_a_fleet_check_collects_as_usual(tmp_path: Path, closed_port: int) -> None:
    peers = tmp_path / "peers.txt"
    peers.write_text(f"127.0.0.1 {closed_port}\n")
    assert _probe("--peers", str(peers))[1:] == ["True", "True"]
