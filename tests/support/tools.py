"""The modules of bench/ and scripts/ the tests use, loaded from their files.

Neither folder is a package, and neither goes on ``sys.path``: each module is loaded
once, by path, under a private name (so bench's ``scenarios`` never meets ours), and
kept in ``sys.modules``. The modules loaded this way import only the standard library
and the project's own packages.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
SCRIPTS = ROOT / "scripts"


def load(path: Path) -> ModuleType:
    """The module in file ``path`` (loaded on first use, then the same object)."""
    name = f"_echoscu_tool_{path.parent.name}_{path.stem}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def procprobe() -> ModuleType:
    """bench/procprobe.py: is a process listening on a port, read from /proc."""
    return load(BENCH / "procprobe.py")


def loadgen() -> ModuleType:
    """scripts/loadgen.py: light and hostile DICOM clients, a process's RSS."""
    return load(SCRIPTS / "loadgen.py")


def dulfeed() -> ModuleType:
    """scripts/dulfeed.py: received bytes through dul's whole receive path."""
    return load(SCRIPTS / "dulfeed.py")
