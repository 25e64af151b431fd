"""The default log format (docs/dcmtk-behaviour.md 4.1): one-letter prefixes per line,
levels, hierarchy."""

import pytest

from dicomecho import log


@pytest.fixture(autouse=True)
def _default_logging():
    log.reset()
    yield
    log.reset()


def test_default_is_warn_with_prefix_per_line(capsys):
    app = log.get_logger(log.APP_LOGGER)
    app.info("hidden")
    app.warn("first\n\nthird")
    app.error("oops")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "W: first\nW: \nW: third\nE: oops\n"


def test_trailing_newline_gives_prefix_only_line(capsys):
    log.set_level(log.DEBUG)
    log.get_logger(log.APP_LOGGER).debug("$echoscu: echoscu v0.1.0 2026-11-25 $\n")
    assert capsys.readouterr().err == "D: $echoscu: echoscu v0.1.0 2026-11-25 $\nD: \n"


@pytest.mark.parametrize(
    ("level", "letters"),
    [
        (log.OFF, ""),
        (log.FATAL, "F"),
        (log.ERROR, "FE"),
        (log.WARN, "FEW"),
        (log.INFO, "FEWI"),
        (log.DEBUG, "FEWID"),
        (log.TRACE, "FEWIDT"),
    ],
)
def test_levels_filter_by_severity(capsys, level, letters):
    log.set_level(level)
    lg = log.get_logger(log.NET_LOGGER)
    for emit in (lg.fatal, lg.error, lg.warn, lg.info, lg.debug, lg.trace):
        emit("m")
    printed = "".join(line[0] for line in capsys.readouterr().err.splitlines())
    assert printed == letters


def test_enabled_follows_root_level_for_existing_and_new_loggers():
    existing = log.get_logger(log.TLS_LOGGER)
    log.set_level(log.INFO)
    created_later = log.get_logger("dcmtk.apps.other")
    assert existing.enabled(log.INFO) and not existing.enabled(log.DEBUG)
    assert created_later.enabled(log.INFO) and not created_later.enabled(log.DEBUG)


def test_force_log_ignores_level(capsys):
    log.set_level(log.OFF)
    log.root_logger().force_log(log.INFO, "calling 'echoscu' with 0 arguments: \n")
    assert capsys.readouterr().err == "I: calling 'echoscu' with 0 arguments: \nI: \n"


def test_hierarchy_parents_created():
    child = log.get_logger("dcmtk.apps.echoscu")
    assert child.parent is log.get_logger("dcmtk.apps")
    assert child.parent.parent is log.get_logger("dcmtk")
    assert child.parent.parent.parent is log.root_logger()


@pytest.mark.parametrize("name", ["fatal", "ERROR", "Warn", "info", "debug", "trace", "off", "ALL"])
def test_parse_level_accepts_log4cplus_names(name):
    assert log.parse_level(name) is not None


@pytest.mark.parametrize("name", ["warning", "notset", "", "NOT_SET", "verbose"])
def test_parse_level_rejects_other_names(name):
    assert log.parse_level(name) is None
