"""``-lc`` log configurations: each appender, layout, pattern and filter, checked against DCMTK.

Each differential case runs DCMTK's echoscu and ours with the same property file
against a closed port on 127.0.0.1 (so both log the refused connection), in separate
directories (file appenders), and compares the output after masking what differs by
nature: the version line, process and thread ids, timings.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dicomecho import log, logconfig

DCMTK = "/usr/bin/echoscu"
#: run the working tree's code even when a copy of the package is installed in site-packages
REPO = str(Path(__file__).resolve().parent.parent)
OUR_ENV = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))}
OUR_VERSION_LINE = "$echoscu: echoscu v0.1.0 2026-11-25 $"

CONSOLE = (
    "log4cplus.appender.out = log4cplus::ConsoleAppender\n"
    "log4cplus.appender.out.layout = log4cplus::PatternLayout\n"
)


def pattern_config(pattern: str, root: str = "INFO, out", extra: str = "") -> str:
    """A config with one stdout console appender using ``pattern``."""
    return (f"log4cplus.rootLogger = {root}\n" + CONSOLE
            + f"log4cplus.appender.out.layout.ConversionPattern = {pattern}\n" + extra)


CONFIGS = {
    "prefix-stderr": (
        "log4cplus.rootLogger = INFO, err\n"
        "log4cplus.appender.err = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.err.logToStdErr = true\n"
        "log4cplus.appender.err.ImmediateFlush = true\n"
        "log4cplus.appender.err.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.err.layout.ConversionPattern = %P: %m%n\n"),
    "level-and-logger": pattern_config("[%p] %c: %m%n"),
    "widths": pattern_config("%-6p|%6P|%.7c|%-12.5c|%3.40c{1}|%c{2}|%c{9}|%.4m|%%|%m%n"),
    "literal-percent-at-end": pattern_config("%m %"),
    "utc-and-local-date": pattern_config("%d{%Y}|%D{%Y}|%d{}|%m%n".replace(
        "%d{}", "%d{%Y-%m}")),
    "format-each-line-off": pattern_config(
        "<%p> %m%n", extra="log4cplus.appender.out.layout.FormatEachLine = false\n"),
    "simple-layout": (
        "log4cplus.rootLogger = INFO, out\n"
        "log4cplus.appender.out = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.out.layout = log4cplus::SimpleLayout\n"),
    "default-layout-is-simple": (
        "log4cplus.rootLogger = INFO, out\n"
        "log4cplus.appender.out = log4cplus::ConsoleAppender\n"),
    "ttcc-with-date": (
        "log4cplus.rootLogger = INFO, out\n"
        "log4cplus.appender.out = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.out.layout = log4cplus::TTCCLayout\n"
        "log4cplus.appender.out.layout.DateFormat = %Y\n"
        "log4cplus.appender.out.layout.Use_gmtime = true\n"),
    "ttcc-relative": (
        "log4cplus.rootLogger = INFO, out\n"
        "log4cplus.appender.out = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.out.layout = log4cplus::TTCCLayout\n"),
    "ids-and-host": pattern_config("%i|%t|%h|%H|%x|%X{key}|%r|%m%n"),
    "threshold": pattern_config(
        "%p %m%n", extra="log4cplus.appender.out.Threshold = fatal\n"),
    "null-appender": (
        "log4cplus.rootLogger = TRACE, null\n"
        "log4cplus.appender.null = log4cplus::NullAppender\n"),
    "root-off": pattern_config("%p %m%n", root="OFF, out"),
    "child-level-overrides-root": pattern_config(
        "%p %c %m%n", root="FATAL, out",
        extra="log4cplus.logger.dcmtk.apps = INFO\n"),
    "child-inherits": pattern_config(
        "%p %c %m%n", root="INFO, out",
        extra="log4cplus.logger.dcmtk.apps.echoscu = INHERITED\n"),
    "additivity-off": pattern_config(
        "root %m%n", root="INFO, out",
        extra=("log4cplus.logger.dcmtk.apps = INFO, app\n"
               "log4cplus.additivity.dcmtk.apps = false\n"
               "log4cplus.appender.app = log4cplus::ConsoleAppender\n"
               "log4cplus.appender.app.layout = log4cplus::PatternLayout\n"
               "log4cplus.appender.app.layout.ConversionPattern = app %m%n\n")),
    "additivity-on-duplicates": pattern_config(
        "root %m%n", root="INFO, out",
        extra=("log4cplus.logger.dcmtk = INFO, app\n"
               "log4cplus.appender.app = log4cplus::ConsoleAppender\n"
               "log4cplus.appender.app.layout = log4cplus::PatternLayout\n"
               "log4cplus.appender.app.layout.ConversionPattern = app %m%n\n")),
    "level-match-filter": pattern_config(
        "%p %m%n",
        extra=("log4cplus.appender.out.filters.1 = log4cplus::spi::LogLevelMatchFilter\n"
               "log4cplus.appender.out.filters.1.LogLevelToMatch = FATAL\n"
               "log4cplus.appender.out.filters.1.AcceptOnMatch = true\n"
               "log4cplus.appender.out.filters.2 = log4cplus::spi::DenyAllFilter\n")),
    "range-filter": pattern_config(
        "%p %m%n",
        extra=("log4cplus.appender.out.filters.1 = log4cplus::spi::LogLevelRangeFilter\n"
               "log4cplus.appender.out.filters.1.LogLevelMin = info\n"
               "log4cplus.appender.out.filters.1.LogLevelMax = info\n")),
    "string-filter": pattern_config(
        "%p %m%n",
        extra=("log4cplus.appender.out.filters.1 = log4cplus::spi::StringMatchFilter\n"
               "log4cplus.appender.out.filters.1.StringToMatch = Requesting\n")),
    "variables": pattern_config(
        "${appname}|${hostname}|${mine}|${HOME}|${nosuch}|${log4cplus.appender.out} %m%n",
        extra="mine = ${appname}-${appname}\n"),
    "spaces-and-comments": (
        "   # a comment\n\n"
        "log4cplus.rootLogger=INFO ,  out ,, \r\n"
        "  log4cplus.appender.out=log4cplus::ConsoleAppender   \n"
        "log4cplus.appender.out.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.out.layout.ConversionPattern =   [%p]  %m%n   \n"
        "line without equals sign\n"),
    "last-key-wins": pattern_config("first %m%n") + (
        "log4cplus.appender.out.layout.ConversionPattern = second %m%n\n"),
}

FILE_CONFIGS = {
    "file-appender": (
        "log4cplus.rootLogger = INFO, file\n"
        "log4cplus.appender.file = log4cplus::FileAppender\n"
        "log4cplus.appender.file.File = ${appname}.log\n"
        "log4cplus.appender.file.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.file.layout.ConversionPattern = %p %c %m%n\n"),
    "file-appender-appends": (
        "log4cplus.rootLogger = INFO, file\n"
        "log4cplus.appender.file = log4cplus::FileAppender\n"
        "log4cplus.appender.file.File = ${appname}.log\n"
        "log4cplus.appender.file.Append = true\n"),
    "file-appender-truncates": (
        "log4cplus.rootLogger = INFO, file\n"
        "log4cplus.appender.file = log4cplus::FileAppender\n"
        "log4cplus.appender.file.File = ${appname}.log\n"),
    "rolling-file-appender": (
        "log4cplus.rootLogger = INFO, file, err\n"
        "log4cplus.appender.file = log4cplus::RollingFileAppender\n"
        "log4cplus.appender.file.File = ${appname}.log\n"
        "log4cplus.appender.file.MaxFileSize = 1KB\n"
        "log4cplus.appender.file.MaxBackupIndex = 3\n"
        "log4cplus.appender.file.layout = log4cplus::TTCCLayout\n"
        "log4cplus.appender.file.layout.DateFormat = %Y\n"
        "log4cplus.appender.err = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.err.logToStdErr = 1\n"),
}


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mask(text: str) -> str:
    """Mask what differs between two runs by nature (thread ids, times, the version line)."""
    text = text.replace("$dcmtk: echoscu v3.6.7 2022-04-22 $", OUR_VERSION_LINE)
    text = re.sub(r"\b\d{9,}\b", "<thread>", text)
    return re.sub(r"^\d+ \[", "<ms> [", text, flags=re.M)


def run(command: list[str], config: str, directory: Path, args: list[str],
        argv0: str | None = None) -> tuple[int, str, str]:
    """Run ``command -lc log.cfg args`` in ``directory`` (``argv0`` names the program)."""
    directory.mkdir(exist_ok=True)
    (directory / "log.cfg").write_text(config)
    argv = ([argv0] if argv0 else command) + ["-lc", "log.cfg", *args]
    result = subprocess.run(argv, executable=command[0] if argv0 else None, cwd=directory,
                            env=None if argv0 else OUR_ENV, capture_output=True, timeout=60)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def run_both(config: str, tmp_path: Path, args: list[str]) -> tuple[tuple, tuple]:
    dcmtk = run([DCMTK], config, tmp_path / "dcmtk", args, argv0="echoscu")
    ours = run([sys.executable, "-m", "echoscu"], config, tmp_path / "ours", args)
    return dcmtk, ours


def masked(result: tuple[int, str, str]) -> tuple[int, str, str]:
    code, out, err = result
    return code, mask(out), mask(err)


@pytest.mark.skipif(not os.path.exists(DCMTK), reason="DCMTK echoscu not installed")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_console_output_same_as_dcmtk(name: str, tmp_path: Path, closed_port: int) -> None:
    args = ["--arguments", "127.0.0.1", str(closed_port)]
    dcmtk, ours = run_both(CONFIGS[name], tmp_path, args)
    if name == "ids-and-host":
        # pid, thread id and milliseconds since start are each program's own
        ids = re.compile(r"^\d+\|\d+\|([^|]*)\|([^|]*)\|\|\|\d+\|", re.M)
        dcmtk = (dcmtk[0], ids.sub(r"<ids>|\1|\2|||<ms>|", dcmtk[1]), dcmtk[2])
        ours = (ours[0], ids.sub(r"<ids>|\1|\2|||<ms>|", ours[1]), ours[2])
        assert "<ids>|" in ours[1]
    assert masked(ours) == masked(dcmtk)


@pytest.mark.skipif(not os.path.exists(DCMTK), reason="DCMTK echoscu not installed")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(FILE_CONFIGS))
def test_file_output_same_as_dcmtk(name: str, tmp_path: Path, closed_port: int) -> None:
    for side in ("dcmtk", "ours"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "echoscu.log").write_text("old line\n")
    args = ["--arguments", "127.0.0.1", str(closed_port)]
    dcmtk, ours = run_both(FILE_CONFIGS[name], tmp_path, args)
    assert masked(ours) == masked(dcmtk)
    files = {side: sorted(p.name for p in (tmp_path / side).iterdir()) for side in
             ("dcmtk", "ours")}
    assert files["ours"] == files["dcmtk"]
    for file in files["ours"]:
        if file.endswith(".log"):
            assert mask((tmp_path / "ours" / file).read_text()) == mask(
                (tmp_path / "dcmtk" / file).read_text())


# --- what DCMTK cannot show us: checked in-process


@pytest.fixture
def configured(tmp_path: Path, monkeypatch):
    """Configure logging from a text and restore the default afterwards."""
    monkeypatch.chdir(tmp_path)

    def apply(text: str) -> None:
        (tmp_path / "log.cfg").write_text(text)
        logconfig.configure("log.cfg", "echoscu")

    yield apply
    log.reset()


def test_rolling_file_rolls_over(configured, tmp_path: Path) -> None:
    configured(
        "log4cplus.rootLogger = INFO, file\n"
        "log4cplus.appender.file = log4cplus::RollingFileAppender\n"
        "log4cplus.appender.file.File = roll.log\n"
        "log4cplus.appender.file.MaxFileSize = 200KB\n"
        "log4cplus.appender.file.MaxBackupIndex = 2\n"
        "log4cplus.appender.file.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.file.layout.ConversionPattern = %m%n\n")
    app = log.get_logger(log.APP_LOGGER)
    line = "x" * 1023
    for number in range(700):
        app.info(f"{number:04d}{line}")
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("roll"))
    assert names == ["roll.log", "roll.log.1", "roll.log.2"]
    for name in names:
        assert (tmp_path / name).stat().st_size <= 200 * 1024 + 1028
    assert (tmp_path / "roll.log.2").read_text().startswith("0200")
    assert (tmp_path / "roll.log").read_text().rstrip("\n").endswith(line)


def test_level_names_and_letters(configured, capsys) -> None:
    configured(pattern_config("%p/%P %m%n", root="TRACE, out"))
    net = log.get_logger(log.NET_LOGGER)
    for emit in (net.trace, net.debug, net.info, net.warn, net.error, net.fatal):
        emit("x")
    assert capsys.readouterr().out == (
        "TRACE/T x\nDEBUG/D x\nINFO/I x\nWARN/W x\nERROR/E x\nFATAL/F x\n")


def test_dates_milliseconds_and_epoch(configured, capsys) -> None:
    configured(pattern_config("%d{%H:%M:%S.%q|%Q|%s|%%q}%n"))
    log.get_logger(log.APP_LOGGER).info("x")
    line = capsys.readouterr().out
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.(\d{3})\|\1\.\d{3}\|\d{10}\|%q\n", line), line


def test_source_location_is_ours(configured, capsys) -> None:
    configured(pattern_config("%b:%L %M|%l%n"))
    log.get_logger(log.APP_LOGGER).info("x")
    out = capsys.readouterr().out
    assert out.startswith("test_log_config.py:")
    assert " test_source_location_is_ours|" in out


@pytest.mark.parametrize(("text", "message"), [
    # DCMTK crashes on these (root level NOT_SET) or hangs (a self-defined variable)
    ("log4cplus.rootLogger = BOGUS\n", "invalid log level 'BOGUS'"),
    ("log4cplus.rootLogger = INHERITED\n", "invalid log level 'INHERITED'"),
    ("log4cplus.rootLogger = ,\n", "invalid log level ''"),
    ("a = ${a}x\nlog4cplus.rootLogger = INFO\n", "expand"),
    ("log4cplus.rootLogger = ${INFO\n", "invalid log level '${INFO'"),
])
def test_unsupported_or_broken_configs_are_clear_errors(configured, text: str,
                                                        message: str) -> None:
    with pytest.raises(logconfig.LogConfigError) as caught:
        configured(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_errors_reach_the_user_as_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.cfg").write_text(pattern_config("%y%n", root="NOTSET, out"))
    result = subprocess.run([sys.executable, "-m", "echoscu", "-lc", "bad.cfg", "h", "1"],
                            cwd=tmp_path, env=OUR_ENV, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "error: log config: invalid log level 'NOTSET' for log4cplus.rootLogger")
    assert "Traceback" not in result.stderr


def test_dcmtk_sample_config_works(configured, tmp_path: Path, capsys) -> None:
    """The uncommented part of DCMTK's own oflog/etc/logger.cfg (its logToStderr is a typo
    log4cplus ignores, so the console goes to stdout there too)."""
    configured(
        "log4cplus.rootLogger = DEBUG, console, logfile\n"
        "log4cplus.appender.console = log4cplus::ConsoleAppender\n"
        "log4cplus.appender.console.Threshold = INFO\n"
        "log4cplus.appender.console.logToStderr = true\n"
        "log4cplus.appender.console.ImmediateFlush = true\n"
        "log4cplus.appender.logfile = log4cplus::FileAppender\n"
        "log4cplus.appender.logfile.File = ${appname}.log\n"
        "log4cplus.appender.logfile.Append = true\n"
        "log4cplus.appender.logfile.ImmediateFlush = true\n"
        "log4cplus.appender.console.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.logfile.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.console.layout.ConversionPattern = %D{%H:%M:%S} %5p: %m%n\n"
        "log4cplus.appender.logfile.layout.ConversionPattern = "
        "%D{%Y-%m-%d %H:%M:%S.%q} %5p: %m%n\n"
        "log4cplus.logger.dcmtk.dcmnet.responses = INFO\n")
    app = log.get_logger(log.APP_LOGGER)
    app.debug("only in the file")
    app.warn("both")
    assert re.fullmatch(r"\d\d:\d\d:\d\d  WARN: both\n", capsys.readouterr().out)
    logged = (tmp_path / "echoscu.log").read_text().splitlines()
    assert [line[23:] for line in logged] == [" DEBUG: only in the file", "  WARN: both"]
