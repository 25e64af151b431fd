"""The test matrix: every supported CPython, newest and lowest dependencies, no Linux extras.

``bash scripts/test`` runs every session; ``nox -s NAME`` one of them. Interpreters that
are not installed are skipped with a line saying so (nox --no-error-on-missing-interpreters).

- ``tests-3.x``: the whole suite on FULL_PYTHON, the portability-relevant part (TLS,
  echoscp, echocerts, command line) on the others; newest dependencies from PyPI.
- ``lowest-3.x``: the same part with every dependency pinned to the lower bound
  pyproject.toml declares (a constraints file generated from it).
- ``portable-3.x``: TLS, DER, echoscp and offline-check tests with the Linux-only extras
  removed (tests/portable/sitecustomize.py), as on macOS and Windows.
- ``lint``: ruff.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False

ROOT = Path(__file__).parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
FULL_PYTHON = "3.13"
#: the tests that differ between interpreters, platforms and dependency versions: TLS,
#: echoscp, echocerts, certificates, the command line, the packaging, start-up (the TLS
#: head start thread, the paused collector), and the options
#: that read certificates (cryptography) or build DICOM data sets (pydicom)
PORTABILITY_TESTS = [
    "tests/test_tls_*.py", "tests/test_echoscu_tls.py", "tests/test_echoscp_*.py",
    "tests/test_echoscu_hostname.py", "tests/test_beyond_probe.py",
    "tests/test_echocerts_*.py", "tests/test_certs_*.py", "tests/test_cli_*.py",
    "tests/test_packaging.py", "tests/test_portability.py", "tests/test_portable_*.py",
    "tests/test_echoscu_headstart.py", "tests/test_startup_collector.py",
]
#: what the portable session runs (the rest does not touch the removed extras)
PORTABLE_TESTS = [
    "tests/test_tls_*.py", "tests/test_echoscu_tls.py", "tests/test_echoscp_*.py",
    "tests/test_portability.py", "tests/test_portable_*.py", "tests/test_echocerts_init.py",
    "tests/test_echoscu_headstart.py",
]


def _expand(patterns: list[str]) -> list[str]:
    return sorted({str(path.relative_to(ROOT)) for pattern in patterns
                   for path in ROOT.glob(pattern)})


def _pytest(session: nox.Session, tests: list[str], *, env: dict[str, str] | None = None) -> None:
    session.run("python", "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
                *(session.posargs or tests), env=env or {})


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The suite with the newest dependencies PyPI serves."""
    session.install("-e", ".[test]")
    _pytest(session, [] if session.python == FULL_PYTHON else _expand(PORTABILITY_TESTS))


@nox.session(python=PYTHONS)
def lowest(session: nox.Session) -> None:
    """The portability tests with every dependency at its declared lower bound."""
    constraints = Path(session.create_tmp()) / "lowest.txt"
    constraints.write_text(lower_bounds())
    session.log("lower bounds: " + ", ".join(constraints.read_text().split()))
    session.install("-c", str(constraints), "-e", ".[test]")
    _pytest(session, _expand(PORTABILITY_TESTS))


@nox.session(python=PYTHONS)
def portable(session: nox.Session) -> None:
    """TLS, DER and echoscp tests without memfd, TCP_QUICKACK, kernel socket timeouts,
    O_NOCTTY, fchmod, asyncio signal handlers and ctypes (tests/portable)."""
    session.install("-e", ".[test]")
    _pytest(session, _expand(PORTABLE_TESTS),
            env={"PYTHONPATH": str(ROOT / "tests" / "portable"), "ECHOSCU_PORTABLE_TEST": "1"})


@nox.session(python=FULL_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole tree, and the import layering (pyproject's importlinter contracts)."""
    session.install("ruff", "import-linter", "-e", str(ROOT))
    session.run("ruff", "check", str(ROOT))
    session.run("lint-imports", "--config", str(ROOT / "pyproject.toml"))


def lower_bounds() -> str:
    """A pip constraints file pinning every ``>=`` requirement of pyproject.toml (runtime
    and test extra) to its lower bound."""
    try:
        import tomllib
    except ModuleNotFoundError:  # nox itself runs on Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = []
    for requirement in requirements:
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)", requirement)
        if match:
            pins.append(f"{match[1]}=={match[2]}")
    return "\n".join(pins) + "\n"
