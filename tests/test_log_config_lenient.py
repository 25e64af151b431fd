"""``-lc`` files log4cplus complains about but uses, the appenders people configure for
DCMTK (DailyRollingFile, SysLog, lock files), and DCMTK's logger names, against DCMTK.

Where log4cplus prints ``log4cplus:ERROR ...`` (or ``WARN``) and goes on, we print the
same and go on the same way; each case runs DCMTK's echoscu and ours with the same
file against a closed port and compares exit code, stdout, stderr and the files made.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

import pytest
from test_log_config import CONSOLE, DCMTK, mask, masked, pattern_config, run, run_both

from dicomecho import log, logconfig

pytestmark = [pytest.mark.skipif(not os.path.exists(DCMTK), reason="DCMTK echoscu not installed"),
              pytest.mark.timeout(120)]

FILE = ("log4cplus.appender.f = log4cplus::FileAppender\n"
        "log4cplus.appender.f.layout = log4cplus::PatternLayout\n"
        "log4cplus.appender.f.layout.ConversionPattern = %p %c %m%n\n")

LENIENT = {
    "unknown-appender": "log4cplus.rootLogger = INFO, o\nlog4cplus.appender.o = Whatever\n",
    "windows-appender": ("log4cplus.rootLogger = INFO, o\n"
                         "log4cplus.appender.o = log4cplus::Win32DebugAppender\n"),
    "unknown-layout": pattern_config("%m%n") + (
        "log4cplus.appender.out.layout = log4cplus::XMLLayout\n"),
    "missing-conversion-pattern": "log4cplus.rootLogger = INFO, out\n" + CONSOLE,
    "root-empty": pattern_config("%m%n").replace("rootLogger = INFO, out", "rootLogger ="),
    "logger-empty": pattern_config("%p %c %m%n", extra="log4cplus.logger.dcmtk =\n"),
    "logger-bogus-level": pattern_config("%p %c %m%n", extra="log4cplus.logger.dcmtk = LOUD\n"),
    "logger-notset": pattern_config("%p %c %m%n", root="FATAL, out",
                                    extra="log4cplus.logger.dcmtk.apps = NOTSET\n"),
    "log-to-stderr-yes": pattern_config(
        "%m%n", extra="log4cplus.appender.out.logToStdErr = yes\n"),
    "bogus-booleans": pattern_config(
        "%m%n", extra=("log4cplus.appender.out.ImmediateFlush = maybe\n"
                       "log4cplus.additivity.dcmtk = perhaps\n")),
    "threshold-bogus": pattern_config("%m%n", extra="log4cplus.appender.out.Threshold = loud\n"),
    "unknown-conversions": pattern_config("%q %-5y|%m%n"),
    "dot-without-digit": pattern_config("%5.x|%m%n"),
    "unclosed-option": pattern_config("<%c{1 %m%n"),
    "undefined-appender": pattern_config("%m%n", root="INFO, out, nosuch"),
    "root-without-appenders": "log4cplus.rootLogger = WARN\n" + CONSOLE,
    "root-fatal-without-appenders": "log4cplus.rootLogger = FATAL\n",
    "unknown-filter": pattern_config(
        "%m%n", extra=("log4cplus.appender.out.filters.1 = log4cplus::spi::Nope\n"
                       "log4cplus.appender.out.filters.2 = log4cplus::spi::DenyAllFilter\n")),
    "filter-bogus-level": pattern_config(
        "%p %m%n", extra=("log4cplus.appender.out.filters.1 = "
                          "log4cplus::spi::LogLevelMatchFilter\n"
                          "log4cplus.appender.out.filters.1.LogLevelToMatch = loud\n"
                          "log4cplus.appender.out.filters.1.AcceptOnMatch = true\n")),
    "quiet-mode": ("log4cplus.quietMode = true\nlog4cplus.rootLogger = INFO, o\n"
                   "log4cplus.appender.o = Whatever\n"),
    "config-debug-accepted": pattern_config("%m%n", extra="log4cplus.configDebug = false\n"),
    "unclosed-variable-in-value": pattern_config("${nope %m%n"),
    "file-without-name": "log4cplus.rootLogger = INFO, f\n" + FILE,
    "file-cannot-open": ("log4cplus.rootLogger = INFO, f\n" + FILE
                         + "log4cplus.appender.f.File = no/such/dir/x.log\n"),
    "file-cannot-open-root-fatal": ("log4cplus.rootLogger = FATAL, f\n" + FILE
                                    + "log4cplus.appender.f.File = /dev/full\n"),
    "file-full": ("log4cplus.rootLogger = INFO, f\n" + FILE
                  + "log4cplus.appender.f.File = /dev/full\n"),
    "file-unknown-locale": ("log4cplus.rootLogger = INFO, f\n" + FILE
                            + "log4cplus.appender.f.File = x.log\n"
                            "log4cplus.appender.f.Locale = xx_YY\n"),
    "file-lock": ("log4cplus.rootLogger = INFO, f\n" + FILE
                  + "log4cplus.appender.f.File = x.log\nlog4cplus.appender.f.UseLockFile = true\n"),
    "rolling-without-name": ("log4cplus.rootLogger = INFO, f\n"
                             "log4cplus.appender.f = log4cplus::RollingFileAppender\n"),
    "daily-default-schedule": ("log4cplus.rootLogger = INFO, d\n"
                               "log4cplus.appender.d = log4cplus::DailyRollingFileAppender\n"
                               "log4cplus.appender.d.File = d.log\n"),
    "daily-bad-schedule": ("log4cplus.rootLogger = INFO, d\n"
                           "log4cplus.appender.d = log4cplus::DailyRollingFileAppender\n"
                           "log4cplus.appender.d.File = d.log\n"
                           "log4cplus.appender.d.Schedule = fortnightly\n"),
    "daily-monthly": ("log4cplus.rootLogger = INFO, d\n"
                      "log4cplus.appender.d = log4cplus::DailyRollingFileAppender\n"
                      "log4cplus.appender.d.File = d.log\n"
                      "log4cplus.appender.d.Schedule = MONTHLY\n"
                      "log4cplus.appender.d.layout = log4cplus::TTCCLayout\n"
                      "log4cplus.appender.d.layout.DateFormat = %Y\n"),
}


def files_of(directory: Path) -> dict[str, str]:
    return {path.name: mask(path.read_text()) for path in sorted(directory.iterdir())
            if path.name != "log.cfg"}


@pytest.mark.parametrize("name", sorted(LENIENT))
def test_log4cplus_complains_and_goes_on(name: str, tmp_path: Path, closed_port: int) -> None:
    dcmtk, ours = run_both(LENIENT[name], tmp_path, ["127.0.0.1", str(closed_port)])
    assert masked(ours) == masked(dcmtk)
    assert files_of(tmp_path / "ours") == files_of(tmp_path / "dcmtk")


@pytest.mark.parametrize("schedule", ["WEEKLY", "DAILY", "HOURLY", "MINUTELY"])
def test_daily_rolling_keeps_backups_of_a_period(schedule: str, tmp_path: Path,
                                                 closed_port: int) -> None:
    """Every run ends by rolling ``d.log`` to ``d.log.<period>``; older ones shift to .1, .2;
    a ``d.log`` left from before is appended to (then rolled)."""
    config = ("log4cplus.rootLogger = INFO, d\n"
              "log4cplus.appender.d = log4cplus::DailyRollingFileAppender\n"
              "log4cplus.appender.d.File = d.log\n"
              f"log4cplus.appender.d.Schedule = {schedule}\n"
              "log4cplus.appender.d.MaxBackupIndex = 2\n")
    for side in ("dcmtk", "ours"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "d.log").write_text("old line\n")
    for _ in range(4):
        dcmtk, ours = run_both(config, tmp_path, ["127.0.0.1", str(closed_port)])
        assert masked(ours) == masked(dcmtk)
    theirs = files_of(tmp_path / "dcmtk")
    if schedule == "MINUTELY" and files_of(tmp_path / "ours").keys() != theirs.keys():
        pytest.skip("a minute boundary passed between the runs")
    assert files_of(tmp_path / "ours") == theirs
    assert len(theirs) == 4 and theirs["d.log"] == ""


def test_syslog_to_udp_same_as_dcmtk(tmp_path: Path, closed_port: int) -> None:
    """host/port: RFC 5424 datagrams, as log4cplus sends them, to a listener of our own."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        config = ("log4cplus.rootLogger = DEBUG, s\n"
                  "log4cplus.appender.s = log4cplus::SysLogAppender\n"
                  "log4cplus.appender.s.host = 127.0.0.1\n"
                  f"log4cplus.appender.s.port = {port}\n"
                  "log4cplus.appender.s.ident = dicom\n"
                  "log4cplus.appender.s.facility = LOCAL3\n"
                  "log4cplus.appender.s.layout = log4cplus::PatternLayout\n"
                  "log4cplus.appender.s.layout.ConversionPattern = %P: %m%n\n"
                  "log4cplus.logger.dcmtk.dcmdata = WARN\n")
        received = {}
        for side, command, argv0 in (("dcmtk", [DCMTK], "echoscu"),
                                     ("ours", [sys.executable, "-m", "echoscu"], None)):
            result = run(command, config, tmp_path / side, ["127.0.0.1", str(closed_port)],
                         argv0=argv0)
            assert result[0] == 1 and result[1] == "" and result[2] == ""
            datagrams = []
            try:
                while True:
                    datagrams.append(listener.recv(65536).decode())
                    listener.settimeout(0.5)
            except TimeoutError:
                listener.settimeout(5)
            received[side] = datagrams
    stamp = re.compile(r"^(<\d+>1) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+ dicom) \d+ ")
    wanted = [stamp.sub(r"\1 <time> \2 <pid> ", line) for line in received["dcmtk"]
              if "DcmDataDictionary" not in line and "$dcmtk" not in line]
    ours = [stamp.sub(r"\1 <time> \2 <pid> ", line) for line in received["ours"]
            if "$echoscu" not in line]
    assert "<154>1 <time>" in wanted[-1] and wanted[-1].endswith("Connection refused\n")
    # our debug dump lacks DCMTK's dictionary lines and names another implementation
    assert ours[-2:] == wanted[-2:]
    assert [line.split(" - ")[0] for line in ours] == [line.split(" - ")[0] for line in wanted]


def test_local_syslog_keeps_the_run_going(tmp_path: Path, closed_port: int) -> None:
    """Without host: the C library's syslog(), as DCMTK; nothing else changes."""
    config = ("log4cplus.rootLogger = INFO, s\n"
              "log4cplus.appender.s = log4cplus::SysLogAppender\n"
              "log4cplus.appender.s.ident = echotest\n")
    dcmtk, ours = run_both(config, tmp_path, ["127.0.0.1", str(closed_port)])
    assert masked(ours) == masked(dcmtk) == (1, "", "")


# --- DCMTK's logger names --------------------------------------------------------------


NAMES = pattern_config("[%p] %c: %m%n")


def test_tls_errors_come_from_dcmtls(tmp_path: Path, pki, closed_port: int) -> None:
    args = ["+tls", "no-such.key", pki.client.cert, "+cf", "no-such.pem",
            "127.0.0.1", str(closed_port)]
    dcmtk, ours = run_both(NAMES, tmp_path, args)
    assert masked(ours) == masked(dcmtk)
    assert "[ERROR] dcmtk.dcmtls: OpenSSL error" in ours[1]
    assert "[FATAL] dcmtk.apps.echoscu: 000b:0004" in ours[1]


def test_invalid_reject_comes_from_dcmnet(fake_scp, tmp_path: Path) -> None:
    from support.fakescp import Script

    outputs = []
    for side, command, argv0 in (("dcmtk", [DCMTK], "echoscu"),
                                 ("ours", [sys.executable, "-m", "echoscu"], None)):
        fake = fake_scp(Script(on_associate="reject", reject=(3, 4, 9)))
        outputs.append(run(command, NAMES, tmp_path / side, ["127.0.0.1", str(fake.port)],
                           argv0=argv0))
    dcmtk, ours = outputs
    assert "[ERROR] dcmtk.dcmnet: Received invalid A-ASSOCIATE-RJ reject result 0x0003" \
        in dcmtk[1]
    assert masked(ours) == masked(dcmtk)


# --- what DCMTK crashes or hangs on: our clean errors stay --------------------------------


@pytest.mark.parametrize("root", ["NOTSET", "BOGUS", "INHERITED", ","])
def test_root_levels_dcmtk_crashes_on_stay_errors(tmp_path: Path, root: str,
                                                  monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.cfg").write_text(pattern_config("%m%n", root=f"{root}, out"))
    try:
        with pytest.raises(logconfig.LogConfigError, match="invalid log level"):
            logconfig.configure("log.cfg", "echoscu")
    finally:
        log.reset()


def test_import_cost_stays_low(tmp_path: Path) -> None:
    """logging comes in only for a remote SysLog appender."""
    import subprocess

    code = ("import sys; from dicomecho import logconfig; logconfig.configure(sys.argv[1], 'x'); "
            "print('logging' in sys.modules)")
    config = tmp_path / "log.cfg"
    for text, expected in ((pattern_config("%m%n"), "False"),
                           ("log4cplus.rootLogger = INFO, s\n"
                            "log4cplus.appender.s = log4cplus::SysLogAppender\n"
                            "log4cplus.appender.s.host = 127.0.0.1\n", "True")):
        config.write_text(text)
        result = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True,
                                text=True, timeout=60, cwd=tmp_path)
        assert result.stdout.strip() == expected, result.stderr
