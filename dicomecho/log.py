"""The project's one log format: DCMTK-style named loggers printing ``X: message`` lines.

A small log4cplus look-alike (no stdlib ``logging``, which costs 12 ms to import):
loggers form a dotted-name hierarchy below a root logger, each event goes to the
appenders of its logger and its ancestors (additivity), and the default set-up is
DCMTK's: root level WARN, one console appender on stderr with the pattern
``%P: %m%n`` applied to every line of a message, flushed immediately.
``-lc`` property files (``dicomecho.logconfig``) replace the appenders and levels.
"""

from __future__ import annotations

import sys
import time

from dicomecho.output import discard, write_text

#: log4cplus level values (higher = more severe); ALL is TRACE, NOT_SET means "inherit"
OFF = 60000
FATAL = 50000
ERROR = 40000
WARN = 30000
INFO = 20000
DEBUG = 10000
TRACE = 0
ALL = TRACE
NOT_SET = -1

#: names accepted by ``-ll`` and in ``-lc`` files (case-insensitive), as log4cplus knows them
LEVELS_BY_NAME = {
    "OFF": OFF,
    "FATAL": FATAL,
    "ERROR": ERROR,
    "WARN": WARN,
    "INFO": INFO,
    "DEBUG": DEBUG,
    "TRACE": TRACE,
    "ALL": ALL,
}
#: ``%p``: the level's name
LEVEL_NAMES = {FATAL: "FATAL", ERROR: "ERROR", WARN: "WARN", INFO: "INFO", DEBUG: "DEBUG",
               TRACE: "TRACE"}
#: ``%P``: DCMTK's one-letter level code
LEVEL_LETTERS = {FATAL: "F", ERROR: "E", WARN: "W", INFO: "I", DEBUG: "D", TRACE: "T"}

ROOT_NAME = "root"
#: when logging started (``%r`` and TTCCLayout print milliseconds since then)
STARTED_AT = time.time()

#: DCMTK's logger names, used by echoscu and echoscp alike
APP_LOGGER = "dcmtk.apps.echoscu"
NET_LOGGER = "dcmtk.dcmnet"
TLS_LOGGER = "dcmtk.dcmtls"
DATA_LOGGER = "dcmtk.dcmdata"


def parse_level(text: str) -> int | None:
    """Return the level named by ``text`` (ASCII case-insensitive, as ``-ll`` accepts it), else
    None. Only ASCII letters fold: Python's upper() would make 'ınfo' (dotless i) INFO."""
    return LEVELS_BY_NAME.get(text.upper()) if text.isascii() else None


class LogEvent:
    """One message on its way to the appenders: who logged it, how severe, what, when."""

    __slots__ = ("logger", "level", "message", "timestamp", "forced")

    def __init__(self, logger: str, level: int, message: str, forced: bool = False) -> None:
        self.logger = logger
        self.level = level
        self.message = message
        self.timestamp = time.time()
        #: logged with ``force_log`` (like DCMTK's forcedLog: no source location attached)
        self.forced = forced


class Layout:
    """Turns an event into the text an appender writes."""

    def format(self, event: LogEvent) -> str:
        """Return the text for ``event`` (subclasses decide the shape)."""
        raise NotImplementedError


class PrefixLayout(Layout):
    """DCMTK's default layout ``%P: %m%n``, applied to each line of the message."""

    def format(self, event: LogEvent) -> str:
        """Return the text of ``event``: one ``X: line`` per message line."""
        prefix = LEVEL_LETTERS[event.level] + ": "
        return "".join(prefix + line + "\n" for line in event.message.split("\n"))


class Appender:
    """A destination for events; a layout turns each event into text, Threshold filters.

    A destination that fails (a full disk, a closed pipe, stderr on /dev/full) never
    changes a run's outcome, in echoscu or echoscp: the first failed write is reported
    once (``on_failure``, like log4cplus's OnlyOnceErrorHandler) and the appender then
    stays quiet for the rest of the process.
    """

    #: True once a write failed: everything later is dropped
    failed = False

    def __init__(self, layout: Layout, threshold: int = NOT_SET) -> None:
        self.layout = layout
        self.threshold = threshold

    def append(self, event: LogEvent) -> None:
        """Write ``event`` unless it is below this appender's threshold."""
        if event.level >= self.threshold:
            self.deliver(self.layout.format(event))

    def deliver(self, text: str) -> None:
        """``write`` guarded: a failing destination is reported once, then left alone."""
        if self.failed:
            return
        try:
            self.write(text)
        except (OSError, ValueError) as error:
            self.failed = True
            self.on_failure(error)

    def write(self, text: str) -> None:
        """Put formatted text where this appender sends it (subclasses decide)."""
        raise NotImplementedError

    def on_failure(self, error: OSError | ValueError) -> None:
        """The first write failed with ``error`` (subclasses say so where they can)."""

    def close(self) -> None:
        """Release what the appender holds (files); console appenders hold nothing."""


#: log4cplus's own run-time messages are silent (after ``-lc``, DCMTK silences them when
#: the root logger drops ERROR, as it does the command-line error blocks)
quiet_errors = False


def report_error(text: str, kind: str = "ERROR", configuring: bool = False) -> None:
    """log4cplus's own line, ``log4cplus:ERROR <text>`` (or ``WARN``), on stderr; nowhere
    if stderr fails too, or at run time while ``quiet_errors``."""
    stream = sys.stderr
    if stream is None or (quiet_errors and not configuring):
        return
    try:
        stream.write(f"log4cplus:{kind} {text}\n")
        stream.flush()
    except (OSError, ValueError):
        discard(stream)  # later writes, and Python's flush at exit, go nowhere


class ConsoleAppender(Appender):
    """Writes to stderr or stdout (looked up at each write, so redirection works)."""

    def __init__(self, layout: Layout, to_stderr: bool = True,
                 immediate_flush: bool = True, threshold: int = NOT_SET) -> None:
        super().__init__(layout, threshold)
        self.to_stderr = to_stderr
        self.immediate_flush = immediate_flush

    def write(self, text: str) -> None:
        """Write and (by default) flush."""
        stream = sys.stderr if self.to_stderr else sys.stdout
        if stream is not None:
            write_text(stream, text, self.immediate_flush)

    def on_failure(self, error: OSError | ValueError) -> None:
        """The console is gone (`| head`), closed or full: nothing to report it on, as with
        DCMTK's std::cerr; its unwritten text is dropped so that the exit stays clean."""
        stream = sys.stderr if self.to_stderr else sys.stdout
        if stream is not None:
            discard(stream)  # later writes, and Python's flush at exit, go nowhere


class Logger:
    """A named logger; cheap level checks so callers can skip building debug text."""

    __slots__ = ("name", "parent", "level", "appenders", "additive", "threshold")

    def __init__(self, name: str, parent: Logger | None) -> None:
        self.name = name
        self.parent = parent
        self.level = NOT_SET
        self.appenders: list[Appender] = []
        self.additive = True
        self.threshold = parent.threshold if parent is not None else WARN

    def enabled(self, level: int) -> bool:
        """True if an event of ``level`` would be passed to the appenders."""
        return level >= self.threshold

    def log(self, level: int, message: str) -> None:
        """Emit ``message`` at ``level`` if that level is enabled."""
        if level >= self.threshold:
            self._emit(LogEvent(self.name, level, message))

    def force_log(self, level: int, message: str) -> None:
        """Emit ``message`` whatever the level (DCMTK's ``forcedLog``, used by --arguments)."""
        self._emit(LogEvent(self.name, level, message, forced=True))

    def _emit(self, event: LogEvent) -> None:
        """Hand ``event`` to this logger's appenders and (while additive) its ancestors'."""
        global _warned_no_appenders
        logger: Logger | None = self
        found = False
        while logger is not None:
            for appender in logger.appenders:
                found = True
                appender.append(event)
            if not logger.additive:
                break
            logger = logger.parent
        if not found and not _warned_no_appenders:  # once per process, as log4cplus
            _warned_no_appenders = True
            report_error(f"No appenders could be found for logger ({self.name}).")
            report_error("Please initialize the log4cplus system properly.")

    def fatal(self, message: str) -> None:
        """Log at FATAL (``F:``)."""
        if FATAL >= self.threshold:
            self._emit(LogEvent(self.name, FATAL, message))

    def error(self, message: str) -> None:
        """Log at ERROR (``E:``)."""
        if ERROR >= self.threshold:
            self._emit(LogEvent(self.name, ERROR, message))

    def warn(self, message: str) -> None:
        """Log at WARN (``W:``)."""
        if WARN >= self.threshold:
            self._emit(LogEvent(self.name, WARN, message))

    def info(self, message: str) -> None:
        """Log at INFO (``I:``)."""
        if INFO >= self.threshold:
            self._emit(LogEvent(self.name, INFO, message))

    def debug(self, message: str) -> None:
        """Log at DEBUG (``D:``)."""
        if DEBUG >= self.threshold:
            self._emit(LogEvent(self.name, DEBUG, message))

    def trace(self, message: str) -> None:
        """Log at TRACE (``T:``)."""
        if TRACE >= self.threshold:
            self._emit(LogEvent(self.name, TRACE, message))


_warned_no_appenders = False
_root = Logger(ROOT_NAME, None)
_loggers: dict[str, Logger] = {ROOT_NAME: _root}


def get_logger(name: str) -> Logger:
    """Return the logger called ``name`` (dotted hierarchy; ``root`` is the root logger)."""
    logger = _loggers.get(name)
    if logger is None:
        head, dot, _ = name.rpartition(".")
        parent = get_logger(head) if dot and head else _root
        logger = _loggers[name] = Logger(name, parent)
    return logger


def root_logger() -> Logger:
    """Return the root logger (its level decides whether command-line errors are shown)."""
    return _root


def all_loggers() -> list[Logger]:
    """Return every logger created so far, parents before children."""
    return sorted(_loggers.values(), key=lambda lg: (lg is not _root, lg.name.count("."), lg.name))


def refresh_thresholds() -> None:
    """Recompute each logger's effective level after levels changed (inherit from ancestors)."""
    for logger in all_loggers():
        if logger.level != NOT_SET:
            logger.threshold = logger.level
        elif logger.parent is not None:
            logger.threshold = logger.parent.threshold


def reset() -> None:
    """Restore DCMTK's default set-up: root at WARN, one ``%P: %m%n`` console appender on stderr."""
    global quiet_errors, _warned_no_appenders
    for logger in _loggers.values():
        for appender in logger.appenders:
            appender.close()
        logger.appenders = []
        logger.level = NOT_SET
        logger.additive = True
    quiet_errors = False
    _warned_no_appenders = False
    _root.level = WARN
    _root.appenders = [ConsoleAppender(PrefixLayout())]
    refresh_thresholds()


class NullAppender(Appender):
    """Drops every event (log4cplus's NullAppender)."""

    def __init__(self) -> None:
        super().__init__(PrefixLayout())

    def append(self, event: LogEvent) -> None:
        """Nothing: the event goes nowhere."""


def discard_output(level: int = ERROR) -> None:
    """Print nothing more, while events from ``level`` up stay enabled: a caller that keeps
    what it logs (echoscu's fleet and Nagios modes report the error lines) still does."""
    for logger in _loggers.values():
        logger.appenders = []
        logger.level = NOT_SET
        logger.additive = True
    _root.appenders = [NullAppender()]
    set_level(level)


def set_level(level: int) -> None:
    """Set the root logger's level (``-q``/``-v``/``-d``/``-ll``); appenders stay as they are."""
    _root.level = level
    refresh_thresholds()


reset()
