"""The fast way out (dicomecho.ending): output flushed, exit handlers run once, the exit
code the echo's outcome, whatever the terminal or disk does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DCMTK = "/usr/bin/echoscu"
REPO = str(Path(__file__).resolve().parent.parent)
ENV = {**os.environ,
       "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
OURS = [sys.executable, "-m", "echoscu"]

pytestmark = pytest.mark.timeout(60)


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=30, **kwargs)


@pytest.mark.skipif(not Path("/dev/full").exists() or not Path(DCMTK).exists(),
                    reason="needs /dev/full and DCMTK's echoscu")
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["+cc"]])
def test_a_full_stdout_does_not_change_the_exit_code(args: list[str]) -> None:
    """DCMTK ignores a failed write to stdout (exit 0); so do we, without a traceback."""
    with open("/dev/full", "w") as full:
        dcmtk = subprocess.run([DCMTK, *args], stdout=full, stderr=subprocess.PIPE, timeout=30)
        ours = subprocess.run([*OURS, *args], stdout=full, stderr=subprocess.PIPE, env=ENV,
                              timeout=30)
    assert (ours.returncode, ours.stderr) == (dcmtk.returncode, b"") == (0, b"")


def test_handlers_run_once_on_the_fast_path_and_on_the_normal_one() -> None:
    code = ("import sys\n"
            "from dicomecho.ending import at_exit, leave\n"
            "at_exit(lambda: print('first'))\n"
            "at_exit(lambda: print('second'))\n"
            "if sys.argv[1] == 'leave':\n"
            "    print('partial', end='')\n"
            "    leave(3)\n"
            "sys.exit(4)\n")
    fast = _run([sys.executable, "-c", code, "leave"])
    normal = _run([sys.executable, "-c", code, "exit"])
    assert (fast.returncode, fast.stdout) == (3, "partialsecond\nfirst\n")
    assert (normal.returncode, normal.stdout) == (4, "second\nfirst\n")


def test_a_buffered_file_appender_is_complete_after_the_fast_exit(tmp_path: Path,
                                                                    closed_port: int) -> None:
    """A FileAppender without ImmediateFlush holds its lines until close: the fast exit
    must still close it, so the file has the run's F: lines."""
    config = tmp_path / "log.cfg"
    config.write_text("log4cplus.rootLogger = INFO, file\n"
                      "log4cplus.appender.file = log4cplus::FileAppender\n"
                      "log4cplus.appender.file.File = run.log\n"
                      "log4cplus.appender.file.ImmediateFlush = false\n"
                      "log4cplus.appender.file.layout = log4cplus::PatternLayout\n"
                      "log4cplus.appender.file.layout.ConversionPattern = %P: %m%n\n")
    result = _run([*OURS, "-lc", str(config), "127.0.0.1", str(closed_port)], cwd=tmp_path)
    assert result.returncode == 1
    lines = (tmp_path / "run.log").read_text().splitlines()
    assert lines == ["I: Requesting Association", "F: Association Request Failed: "
                     "0006:031c TCP Initialization Error: Connection refused"]
