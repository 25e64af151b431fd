"""What ``pip install .`` (and ``pipx install .``) delivers: the three commands and their man pages.

A wheel is built once per session from a copy of the source (offline: no build
isolation, no index), then installed without dependencies into a fresh virtual
environment, whose ``bin`` is put first on PATH the way activation does; there
``man -w echoscu`` must find the installed page and the console scripts must run.
The dependencies come from the running environment through a ``.pth`` file, so no
download is needed; the package itself is the copy inside the new environment.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from dicomecho import __date__, __version__

REPO = Path(__file__).resolve().parent.parent
#: what a source distribution or checkout needs to build
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "man", "docs", "dicomecho", "dul", "echoscu",
           "echoscp", "certs")
PACKAGES = ("dicomecho", "dul", "echoscu", "echoscp", "certs")
COMMANDS = {"echoscu": "echoscu.cli:console_main", "echoscp": "echoscp.cli:main",
            "echocerts": "certs.cli:main"}
PAGES = tuple(f"{name}.1" for name in COMMANDS)
#: the build backend pyproject.toml asks for
MIN_SETUPTOOLS = (77,)

pytestmark = pytest.mark.timeout(180)


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(arg) for arg in args], capture_output=True, text=True,
                            timeout=170, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _backend_missing() -> str | None:
    """Why this environment cannot build the wheel offline (None if it can)."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    numbers = tuple(int(part) for part in version.split(".")[:1] if part.isdigit())
    if numbers < MIN_SETUPTOOLS:
        return (f"setuptools {version} cannot build the wheel offline; "
                "pip install 'setuptools>=77' (in the test extra)")
    return None


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a build needs, copied so that building leaves the work tree untouched."""
    reason = _backend_missing()
    if reason:
        pytest.skip(reason)
    target = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, target / name)
    return target


@pytest.fixture(scope="session")
def wheel(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
          "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source_copy])
    (built,) = dist.glob("echoscu-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (and our dependencies reachable)."""
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", root])
    python = root / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
          "--disable-pip-version-check", "--no-deps", "--no-index", wheel])
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "test-dependencies.pth").write_text("\n".join(sorted(ours)))
    return root


def _activated(venv: Path) -> dict[str, str]:
    """The environment of a shell in which ``venv`` is activated (and no MANPATH is set)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("MANPATH", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    env["VIRTUAL_ENV"] = str(venv)
    return env


# --- the wheel ---------------------------------------------------------------------------


def test_wheel_carries_the_man_pages(wheel: Path) -> None:
    """The pages land in <prefix>/share/man/man1, byte for byte those of man/."""
    prefix = f"echoscu-{__version__}.data/data/share/man/man1/"
    with zipfile.ZipFile(wheel) as archive:
        pages = {name[len(prefix):]: archive.read(name) for name in archive.namelist()
                 if name.startswith(prefix)}
    assert sorted(pages) == sorted(PAGES)
    for page, content in pages.items():
        assert content == (REPO / "man" / page).read_bytes()


def test_wheel_carries_the_json_schema(wheel: Path) -> None:
    """--json's schema lands in <prefix>/share/doc/echoscu, as the man page says."""
    name = f"echoscu-{__version__}.data/data/share/doc/echoscu/echoscu-result.schema.json"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(name) == (REPO / "docs" / "echoscu-result.schema.json").read_bytes()


def test_wheel_declares_the_console_scripts(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"echoscu-{__version__}.dist-info/entry_points.txt").decode()
    entry_points = configparser.ConfigParser()
    entry_points.read_string(text)
    assert dict(entry_points["console_scripts"]) == COMMANDS


def test_pyproject_declares_what_the_tests_expect() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == COMMANDS
    data_files = project["tool"]["setuptools"]["data-files"]
    assert data_files == {"share/man/man1": [f"man/{page}" for page in PAGES],
                          "share/doc/echoscu": ["docs/echoscu-result.schema.json"]}


def test_wheel_carries_every_module(wheel: Path, source_copy: Path) -> None:
    sources = {path.relative_to(source_copy).as_posix() for package in PACKAGES
               for path in (source_copy / package).rglob("*.py")}
    with zipfile.ZipFile(wheel) as archive:
        packed = {name for name in archive.namelist() if name.endswith(".py")}
    assert packed == sources


def test_sdist_carries_the_man_pages_and_no_tests(
        source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A source distribution (what an index serves) can build the same wheel; the test
    suite, which needs a checkout, is left out whole rather than half."""
    checkout = tmp_path_factory.mktemp("checkout") / "src"
    shutil.copytree(source_copy, checkout)
    for name in ("MANIFEST.in", "tests", "scripts", "bench"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, checkout / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".venv*"))
        else:
            shutil.copy2(REPO / name, checkout / name)
    dist = tmp_path_factory.mktemp("sdist")
    _run([sys.executable, "-c",
          "import sys, setuptools.build_meta as backend; backend.build_sdist(sys.argv[1])",
          dist], cwd=checkout)
    (sdist,) = dist.glob("echoscu-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {f"man/{page}" for page in PAGES} | {"LICENSE", "README.md"} <= names
    assert not [name for name in names if name.split("/")[0] in ("tests", "scripts", "bench")]


def test_pynetdicom_is_no_runtime_dependency(wheel: Path) -> None:
    """pynetdicom installs console scripts named echoscu and echoscp: as a dependency it
    would replace ours whenever it is reinstalled, and delete them when it is removed."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"echoscu-{__version__}.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    pynetdicom = [line for line in requires if "pynetdicom" in line]
    assert pynetdicom and all('extra == "test"' in line for line in pynetdicom), requires


# --- installed into a fresh virtual environment ---------------------------------------------


@pytest.mark.skipif(shutil.which("man") is None,
                    reason="man is not installed (apt-get install man-db)")
@pytest.mark.parametrize("command", COMMANDS)
def test_man_finds_the_installed_page(venv: Path, command: str) -> None:
    """``man -w`` and ``man`` find the page through the venv's bin on PATH (man-db's rule)."""
    env = _activated(venv)
    where = _run(["man", "-w", command], env=env, cwd=venv)
    page = venv / "share" / "man" / "man1" / f"{command}.1"
    assert Path(where.stdout.strip()).resolve() == page.resolve()
    shown = _run(["man", command], env={**env, "MANPAGER": "cat", "MANWIDTH": "80"}, cwd=venv)
    assert re.search(rf"^NAME\n +{command} +- ", shown.stdout, flags=re.M), shown.stdout[:300]
    assert f"echoscu {__version__}" in shown.stdout


def test_console_scripts_run_from_the_venv(venv: Path) -> None:
    env = _activated(venv)
    echoscu = _run(["echoscu", "--version"], env=env, cwd=venv)
    assert echoscu.stdout.splitlines()[0] == f"$echoscu: echoscu v{__version__} {__date__} $"
    assert _run(["echoscp", "--version"], env=env, cwd=venv).stdout == f"echoscp v{__version__}\n"
    assert _run(["echocerts", "--version"], env=env, cwd=venv).stdout == \
        f"echocerts {__version__}\n"
    # the copy inside the venv, not the work tree (whose editable install is not loaded)
    located = _run(["python", "-c", "import echoscu; print(echoscu.__file__)"], env=env,
                   cwd=venv)
    assert Path(located.stdout.strip()).is_relative_to(venv)


def test_completion_works_from_the_venv(venv: Path) -> None:
    """The installed console script hands a completion request to Click."""
    env = {**_activated(venv), "_ECHOSCU_COMPLETE": "bash_complete",
           "COMP_WORDS": "echoscu -ll de", "COMP_CWORD": "2"}
    assert _run(["echoscu"], env=env, cwd=venv).stdout == "plain,debug\n"
