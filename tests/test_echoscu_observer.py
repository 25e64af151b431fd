"""The driver's Observer interface: what it is told, in order, and that RunReport hears it all.

A hook the driver calls under a name the report does not define would be ignored
silently by the null observer's default, so the names are checked both ways here.
"""

from __future__ import annotations

import inspect

import pytest

from dicomecho import log
from echoscu import driver
from echoscu.cli import prepare
from echoscu.observer import Observer
from echoscu.report import FAILURE_CLASSES, RunReport

pytestmark = [pytest.mark.timeout(60)]

HOOKS = sorted(name for name, _ in inspect.getmembers(Observer, inspect.isfunction)
               if not name.startswith("_"))


class Recorder(Observer):
    """Keeps every call as (hook name, arguments)."""

    wants_tls_answer = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattribute__(self, name: str):
        if name in HOOKS:
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append((name, args))
        return object.__getattribute__(self, name)


@pytest.fixture(autouse=True)
def _logging_restored():
    yield
    log.reset()


def test_run_report_overrides_every_hook() -> None:
    assert set(HOOKS) == {"begin", "resolved", "tls_established", "hostname_checked",
                          "tls_failed", "accepted", "rejected", "unexpected_answer", "echo",
                          "found", "failed", "printed", "finished"}
    for name in HOOKS:
        assert name in vars(RunReport), name
        assert (inspect.signature(getattr(RunReport, name)).parameters.keys()
                == inspect.signature(getattr(Observer, name)).parameters.keys()), name


def test_refused_connect(closed_port, capsys) -> None:
    opts = prepare(["127.0.0.1", str(closed_port)])
    recorder = Recorder()
    assert driver.run(opts, recorder) == 1
    names = [name for name, _ in recorder.calls]
    assert names == ["begin", "resolved", "failed", "printed", "finished"]
    (condition,) = recorder.calls[2][1]
    assert condition.failure_class == "refused"
    text = f"Association Request Failed: {condition}"
    assert recorder.calls[3][1] == ("F", text)
    assert capsys.readouterr().err == f"F: {text}\n"
    assert recorder.calls[4][1] == (1,)


def test_success_against_echoscp(scp) -> None:  # noqa: F811 - fixture from conftest
    port = scp().port
    opts = prepare(["--repeat", "2", "127.0.0.1", str(port)])
    recorder = Recorder()
    assert driver.run(opts, recorder) == 0
    names = [name for name, _ in recorder.calls]
    assert names == ["begin", "resolved", "begin", "accepted", "echo", "echo", "begin",
                     "finished"]
    assert [args[0] for name, args in recorder.calls if name == "begin"] == [
        "resolve", "associate", "release"]
    assert [args[0] for name, args in recorder.calls if name == "echo"] == [1, 2]


def test_report_keeps_the_printed_lines_and_the_class(closed_port) -> None:
    opts = prepare(["-q", "127.0.0.1", str(closed_port)])  # -q: fatal lines only
    report = RunReport(opts)
    assert driver.run(opts, report) == 1
    assert report.failure_class == "refused" and report.failure.phase == "connect"
    assert report.log == ["F: Association Request Failed: 0006:031c TCP Initialization "
                          "Error: Connection refused"]
    assert report.detailed_code == FAILURE_CLASSES["refused"][0]
