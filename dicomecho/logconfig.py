"""``-lc``: log4cplus property files as DCMTK reads them (docs/dcmtk-behaviour.md 4.2), on
top of ``dicomecho.log``.

Supported: root and named loggers (levels, appender lists, additivity), the Console,
File, RollingFile, DailyRollingFile, SysLog and Null appenders with their properties,
Threshold and the four log4cplus filters, the Simple, TTCC and Pattern layouts (every
conversion log4cplus knows, with width and alignment modifiers), and ``${...}``
variables (appname, hostname, pid, date, time, other keys of the file, then the
environment).

Where DCMTK's log4cplus prints its own ``log4cplus:ERROR ...`` line and carries on (an
unknown appender, layout or filter, a bad pattern, an undefined appender, a file it
cannot open, ...) we print the same line and carry on the same way; values it ignores
silently (a bogus boolean, integer or Threshold) are ignored here too. Only where
DCMTK crashes or hangs (a root logger level it cannot read, a variable defined by
itself) do we stop with one clear message (``LogConfigError``, a command-line error).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from dicomecho import log
from dicomecho.ending import at_exit
from dicomecho.userfiles import read_at_most

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from types import FrameType
    from typing import BinaryIO

PREFIX = "log4cplus."
#: the largest -lc file we read (a property file is a few KiB; /dev/zero never ends)
LOG_CONFIG_LIMIT = 1 << 20
_C_SPACE = " \t\n\v\f\r"
#: log4cplus' defaults for RollingFileAppender sizes (bytes)
DEFAULT_ROLLING_SIZE = 10 * 1024 * 1024
MINIMUM_ROLLING_SIZE = 200 * 1024


class LogConfigError(Exception):
    """The log configuration cannot be used; ``str(error)`` says why in one line."""


#: ``log4cplus.quietMode``: log4cplus says nothing while it reads the configuration
_quiet = False


def complain(text: str, kind: str = "ERROR") -> None:
    """log4cplus's complaint about the configuration (``log4cplus:ERROR <text>``)."""
    if not _quiet:
        log.report_error(text, kind, configuring=True)


# ---------------------------------------------------------------------------
# Reading the property file


def read_properties(path: str) -> dict[str, str]:
    """Read a property file with DCMTK's checks and messages (docs/dcmtk-behaviour.md 2.6)."""
    if not os.path.exists(path) or os.path.isdir(path):
        raise LogConfigError("Specified --log-config file does not exist")
    if not os.access(path, os.R_OK):
        raise LogConfigError("Specified --log-config file cannot be read")
    try:
        data = read_at_most(path, LOG_CONFIG_LIMIT)
    except OSError:
        raise LogConfigError("Specified --log-config file cannot be read") from None
    if data is None:
        raise LogConfigError(f"Specified --log-config file is larger than "
                             f"{LOG_CONFIG_LIMIT >> 20} MiB")
    props = parse_properties(data.decode("utf-8", "surrogateescape"))
    if not props:
        raise LogConfigError("Specified --log-config file does not contain any settings")
    if not any(key.startswith(PREFIX) for key in props):
        raise LogConfigError("Specified --log-config file does not contain any valid settings")
    if PREFIX + "rootLogger" not in props:
        raise LogConfigError("Specified --log-config file does not set up log4cplus.rootLogger")
    return props


def parse_properties(text: str) -> dict[str, str]:
    """``key = value`` lines; ``#`` comments; lines without ``=`` ignored; last one wins."""
    props: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.lstrip(_C_SPACE)
        if not line or line[0] == "#":
            continue
        if line[-1] == "\r":
            line = line[:-1]
        key, equals, value = line.partition("=")
        if equals:
            props[key.rstrip(_C_SPACE)] = value.strip(_C_SPACE)
    return props


def builtin_variables(appname: str) -> dict[str, str]:
    """The variables DCMTK adds before expansion: appname, hostname, pid, date, time."""
    now = time.localtime()
    return {
        "appname": appname,
        "hostname": os.uname().nodename,
        "pid": str(os.getpid()),
        "date": time.strftime("%Y%m%d", now),
        "time": time.strftime("%H%M%S", now),
    }


def _substitute(text: str, props: dict[str, str], told: set[str] | None = None) -> str:
    """Expand ``${name}`` from the properties, else the environment; unknown ones stay.

    An unclosed ``${`` is reported (once per text, in ``told``) and the rest kept as is.
    """
    start = 0
    rounds = 0
    while True:
        opening = text.find("${", start)
        if opening < 0:
            return text
        closing = text.find("}", opening)
        if closing < 0:
            if told is None or text not in told:
                complain(f'"{text}" has no closing brace. Opening brace at position '
                         f'{opening}.')
                if told is not None:
                    told.add(text)
            return text
        name = text[opening + 2:closing]
        replacement = props.get(name) or os.environ.get(name, "")
        if not replacement:
            start = closing + 1
            continue
        rounds += 1
        if rounds > 1000:
            raise LogConfigError(f"log config: variable ${{{name}}} expands without end")
        # expanded text is scanned again from the same place (recursive expansion)
        text = text[:opening] + replacement + text[closing + 1:]


def expand_variables(props: dict[str, str]) -> dict[str, str]:
    """Expand variables in keys and values until nothing changes (log4cplus' rules)."""
    told: set[str] = set()
    for _ in range(100):
        changed = False
        for key in sorted(props):
            value = props[key]
            new_key = _substitute(key, props, told)
            if new_key != key:
                del props[key]
                props[new_key] = value
                changed = True
            new_value = _substitute(value, props, told)
            if new_value != value:
                props[new_key] = new_value
                changed = True
        if not changed:
            return props
    raise LogConfigError("log config: variables keep expanding (a definition refers to itself)")


def subset(props: dict[str, str], prefix: str) -> dict[str, str]:
    """The keys starting with ``prefix``, with the prefix removed."""
    return {key[len(prefix):]: value for key, value in props.items() if key.startswith(prefix)}


# ---------------------------------------------------------------------------
# Typed property values (lenient, as log4cplus: a value it cannot read is ignored)


def _level(text: str, where: str) -> int:
    """The root logger's level: log4cplus reads anything else as NOT_SET, and DCMTK then
    crashes ("No valid LogLevel found"); we refuse the file instead."""
    level = log.parse_level(text.strip(_C_SPACE))
    if level is None:
        raise LogConfigError(f"log config: invalid log level '{text}' for {where}")
    return level


def _level_or_unset(text: str) -> int:
    """A Threshold, filter or named-logger level; an unknown name is NOT_SET, silently."""
    level = log.parse_level(text.strip(_C_SPACE))
    return log.NOT_SET if level is None else level


def _bool(props: dict[str, str], key: str, default: bool, where: str = "") -> bool:
    """true/false (any case) or an integer; anything else leaves the default, silently."""
    if key not in props:
        return default
    words = props[key].split()
    if len(words) == 1:
        word = words[0].lower()
        if word in ("true", "false"):
            return word == "true"
        try:
            return int(word) != 0
        except ValueError:
            pass
    return default


def _int(props: dict[str, str], key: str, default: int, where: str = "") -> int:
    """An integer; anything else leaves the default, silently."""
    if key not in props:
        return default
    try:
        return int(props[key])
    except ValueError:
        return default


def _file_size(text: str) -> int:
    """log4cplus' MaxFileSize: leading integer (atoi), KB/MB suffix, at least 200 KB."""
    upper = text.upper()
    stripped = upper.lstrip(_C_SPACE)
    sign = -1 if stripped[:1] == "-" else 1
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    count = 0
    while count < len(digits) and digits[count].isdigit():
        count += 1
    size = sign * int(digits[:count]) if count else 0
    if size and len(upper) > 2 and upper.endswith("MB"):
        size *= 1024 * 1024
    elif size and len(upper) > 2 and upper.endswith("KB"):
        size *= 1024
    return max(size, MINIMUM_ROLLING_SIZE)


# ---------------------------------------------------------------------------
# Layouts


def _caller_frame() -> FrameType | None:
    """The frame that called the logger (for the source-location conversions)."""
    frame = sys._getframe(1)
    skip = (log.__file__, __file__)
    while frame is not None and frame.f_code.co_filename in skip:
        frame = frame.f_back
    return frame


def _location(kind: str) -> Callable[[log.LogEvent], str]:
    """%F file, %b its basename, %L line, %l file:line, %M function (our Python source)."""
    def convert(event: log.LogEvent) -> str:
        frame = None if event.forced else _caller_frame()
        if frame is None:
            return ":" if kind == "l" else ""
        filename, line = frame.f_code.co_filename, frame.f_lineno
        return {"F": filename, "b": os.path.basename(filename), "L": str(line),
                "l": f"{filename}:{line}", "M": frame.f_code.co_name}[kind]
    return convert


def format_time(fmt: str, timestamp: float, utc: bool) -> str:
    """log4cplus' date formatting: strftime plus %q (ms), %Q (ms with fraction), %s (epoch)."""
    seconds = int(timestamp)
    micros = int(round((timestamp - seconds) * 1_000_000))
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    out = []
    position = 0
    while position < len(fmt):
        char = fmt[position]
        if char == "%" and position + 1 < len(fmt):
            code = fmt[position + 1]
            if code == "q":
                out.append(f"{micros // 1000:03d}")
            elif code == "Q":
                out.append(f"{micros // 1000:03d}.{micros % 1000:03d}")
            elif code == "s":
                out.append(str(seconds))
            else:
                out.append(char + code)
            position += 2
            continue
        out.append(char)
        position += 1
    moment = time.gmtime(seconds) if utc else time.localtime(seconds)
    return time.strftime("".join(out), moment)


def _relative_ms(event: log.LogEvent) -> str:
    return str(int((event.timestamp - log.STARTED_AT) * 1000))


def _logger_name(precision: int) -> Callable[[log.LogEvent], str]:
    """%c{n}: the last n components of the logger name."""
    def convert(event: log.LogEvent) -> str:
        if precision <= 0:
            return event.logger
        parts = event.logger.split(".")
        return ".".join(parts[-precision:])
    return convert


def _hostname(fqdn: bool) -> str:
    name = os.uname().nodename
    if not fqdn:
        return name
    import socket

    try:
        return socket.gethostbyname_ex(name)[0]
    except OSError:
        return name


def _constant(text: str) -> Callable[[log.LogEvent], str]:
    return lambda event: text


def _converter(char: str, option: str | None) -> Callable[[log.LogEvent], str] | None:
    """The function behind one ``%x`` conversion character; None if there is none."""
    import _thread

    simple: dict[str, Callable[[log.LogEvent], str]] = {
        "m": lambda event: event.message,
        "n": _constant("\n"),
        "p": lambda event: log.LEVEL_NAMES[event.level],
        "P": lambda event: log.LEVEL_LETTERS[event.level],
        "i": lambda event: str(os.getpid()),
        "t": lambda event: str(_thread.get_ident()),
        "T": lambda event: "" if event.forced else str(_thread.get_native_id()),
        "r": _relative_ms,
        "x": _constant(""),
    }
    if char in simple:
        return simple[char]
    if char in "FbLlM":
        return _location(char)
    if char == "c":
        return _logger_name(_atoi(option or ""))
    if char in "dD":
        fmt = option or "%Y-%m-%d %H:%M:%S"
        return lambda event: format_time(fmt, event.timestamp, char == "d")
    if char in "hH":
        return _constant(_hostname(char == "H"))
    if char == "X":
        # mapped diagnostic context: DCMTK's applications never set one
        return _constant("")
    return None


def _atoi(text: str) -> int:
    """C's atoi (leading blanks, optional sign, digits; 0 if none)."""
    stripped = text.lstrip(_C_SPACE)
    sign = -1 if stripped[:1] == "-" else 1
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    count = 0
    while count < len(digits) and digits[count].isdigit():
        count += 1
    return sign * int(digits[:count]) if count else 0


class _Piece:
    """One converter of a pattern with its width modifiers (``%-10.20c``)."""

    __slots__ = ("convert", "min_width", "max_width", "left")

    def __init__(self, convert: Callable[[log.LogEvent], str], min_width: int = -1,
                 max_width: int | None = None, left: bool = False) -> None:
        self.convert = convert
        self.min_width = min_width
        self.max_width = max_width
        self.left = left

    def render(self, event: log.LogEvent) -> str:
        text = self.convert(event)
        if self.max_width is not None and len(text) > self.max_width:
            return text[len(text) - self.max_width:]
        if len(text) < self.min_width:
            pad = " " * (self.min_width - len(text))
            return text + pad if self.left else pad + text
        return text


def parse_pattern(pattern: str) -> list[_Piece]:
    """Parse a log4cplus ConversionPattern into pieces (log4cplus' state machine).

    Mistakes are reported as log4cplus reports them and handled its way: an unknown
    conversion or a missing digit after ``.`` is printed literally, an option without
    its ``}`` ends the pattern.
    """
    pieces: list[_Piece] = []
    literal: list[str] = []
    position = 0
    length = len(pattern)
    while position < length:
        char = pattern[position]
        position += 1
        if char != "%" or position == length:
            literal.append(char)
            continue
        if pattern[position] == "%":
            literal.append("%")
            position += 1
            continue
        begin = position - 1
        left = False
        min_width = -1
        max_width: int | None = None
        while position < length and pattern[position] == "-":
            left = True
            position += 1
        start = position
        while position < length and pattern[position].isdigit():
            position += 1
        if position > start:
            min_width = int(pattern[start:position])
        if position < length and pattern[position] == ".":
            position += 1
            start = position
            while position < length and pattern[position].isdigit():
                position += 1
            if position == start:
                if position < length:
                    complain(f"Error occurred in position {position + 1}.\n Was expecting "
                             f'digit, instead got char "{pattern[position]}".')
                    position += 1
                literal.append(pattern[begin:position])
                continue
            max_width = int(pattern[start:position])
        if position >= length:
            literal.append(pattern[begin:])
            break
        char = pattern[position]
        position += 1
        option = None
        unclosed = False
        if char in "cdDX" and position < length and pattern[position] == "{":
            closing = pattern.find("}", position)
            if closing < 0:
                complain(f"No matching '}}' found in conversion pattern string \"{pattern}\"")
                option, unclosed = "", True
            else:
                option = pattern[position + 1:closing]
                position = closing + 1
        convert = _converter(char, option)
        if convert is None:
            complain(f"Unexpected char [{char}] at position {position} in conversion pattern.")
            literal.append(pattern[begin:position])
            continue
        if literal:
            pieces.append(_Piece(_constant("".join(literal))))
            literal = []
        pieces.append(_Piece(convert, min_width, max_width, left))
        if unclosed:
            break
    if literal:
        pieces.append(_Piece(_constant("".join(literal))))
    if not pieces:
        pieces.append(_Piece(lambda event: event.message))
    return pieces


class PatternLayout(log.Layout):
    """log4cplus' PatternLayout; by default (FormatEachLine) applied to every message line."""

    def __init__(self, pattern: str, each_line: bool = True) -> None:
        self.pieces = parse_pattern(pattern)
        self.each_line = each_line

    def format(self, event: log.LogEvent) -> str:
        """Render ``event``; a multi-line message gives one rendered pattern per line."""
        if self.each_line and "\n" in event.message:
            out = []
            for line in event.message.split("\n"):
                part = log.LogEvent(event.logger, event.level, line, event.forced)
                part.timestamp = event.timestamp
                out.append(self._render(part))
            return "".join(out)
        return self._render(event)

    def _render(self, event: log.LogEvent) -> str:
        return "".join(piece.render(event) for piece in self.pieces)


class SimpleLayout(log.Layout):
    """``LEVEL - message`` (the whole message, line breaks included)."""

    def format(self, event: log.LogEvent) -> str:
        """Render ``event``."""
        return f"{log.LEVEL_NAMES[event.level]} - {event.message}\n"


class TTCCLayout(log.Layout):
    """``time [thread] LEVEL logger <> - message``; time relative (ms) unless DateFormat."""

    def __init__(self, date_format: str = "", utc: bool = False) -> None:
        self.date_format = date_format
        self.utc = utc

    def format(self, event: log.LogEvent) -> str:
        """Render ``event``."""
        import _thread

        if self.date_format:
            stamp = format_time(self.date_format, event.timestamp, self.utc)
        else:
            stamp = _relative_ms(event)
        return (f"{stamp} [{_thread.get_ident()}] {log.LEVEL_NAMES[event.level]} "
                f"{event.logger} <> - {event.message}\n")


def make_layout(props: dict[str, str], where: str) -> log.Layout:
    """The layout an appender's ``layout`` keys describe (default: SimpleLayout)."""
    kind = props.get("layout")
    if kind is None:
        return SimpleLayout()
    settings = subset(props, "layout.")
    where = f"{where}.layout"
    if kind == "log4cplus::SimpleLayout":
        return SimpleLayout()
    if kind == "log4cplus::TTCCLayout":
        return TTCCLayout(settings.get("DateFormat", ""),
                          _bool(settings, "Use_gmtime", False, where))
    if kind == "log4cplus::PatternLayout":
        pattern = settings.get("ConversionPattern", settings.get("Pattern"))
        if pattern is not None:
            return PatternLayout(pattern, _bool(settings, "FormatEachLine", True, where))
        complain("ConversionPattern not specified in properties")
        complain("Error while creating Layout: ConversionPattern not specified in properties")
        return SimpleLayout()
    complain(f'Cannot find LayoutFactory: "{kind}"')
    return SimpleLayout()


# ---------------------------------------------------------------------------
# Filters and appenders

ACCEPT, NEUTRAL, DENY = 1, 0, -1


def make_filter(kind: str, props: dict[str, str],
                where: str) -> Callable[[log.LogEvent], int] | None:
    """One of log4cplus' four filters (AcceptOnMatch defaults to false in property files);
    None (reported) for a filter class log4cplus does not have."""
    accept = _bool(props, "AcceptOnMatch", False, where)
    on_match = ACCEPT if accept else DENY
    if kind == "log4cplus::spi::DenyAllFilter":
        return lambda event: DENY
    if kind == "log4cplus::spi::LogLevelMatchFilter":
        wanted = props.get("LogLevelToMatch", "")
        level = _level_or_unset(wanted) if wanted else None
        return lambda event: NEUTRAL if event.level != level else on_match
    if kind == "log4cplus::spi::LogLevelRangeFilter":
        low = props.get("LogLevelMin", "")
        high = props.get("LogLevelMax", "")
        minimum = _level_or_unset(low) if low else None
        maximum = _level_or_unset(high) if high else None

        def decide(event: log.LogEvent) -> int:
            if minimum is not None and event.level < minimum:
                return DENY
            if maximum is not None and event.level > maximum:
                return DENY
            return ACCEPT if accept else NEUTRAL
        return decide
    if kind == "log4cplus::spi::StringMatchFilter":
        text = props.get("StringToMatch", "")
        return lambda event: (on_match if text and event.message and text in event.message
                              else NEUTRAL)
    complain(f"Appender::ctor()- Cannot find FilterFactory: {kind}")
    return None


class _Configured(log.Appender):
    """An appender from a property file: layout, Threshold, filter chain."""

    def __init__(self, props: dict[str, str], where: str) -> None:
        threshold = props.get("Threshold")
        super().__init__(make_layout(props, where),
                         _level_or_unset(threshold) if threshold else log.NOT_SET)
        self.filters: list[Callable[[log.LogEvent], int]] = []
        filters = subset(props, "filters.")
        number = 1
        while str(number) in filters:
            name = str(number)
            decide = make_filter(filters[name], subset(filters, name + "."),
                                 f"{where}.filters.{name}")
            if decide is not None:
                self.filters.append(decide)
            number += 1

    def append(self, event: log.LogEvent) -> None:
        """Write ``event`` if the threshold and the first deciding filter let it through."""
        if event.level < self.threshold:
            return
        for decide in self.filters:
            verdict = decide(event)
            if verdict == DENY:
                return
            if verdict == ACCEPT:
                break
        self.deliver(self.layout.format(event))


class ConsoleAppender(_Configured):
    """log4cplus::ConsoleAppender: stdout unless ``logToStdErr``; ``ImmediateFlush``."""

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        self.console = log.ConsoleAppender(self.layout, _bool(props, "logToStdErr", False, where),
                                           _bool(props, "ImmediateFlush", False, where))

    def write(self, text: str) -> None:
        """Write through the console writer."""
        self.console.write(text)

    def on_failure(self, error: OSError | ValueError) -> None:
        """As the console writer's."""
        self.console.on_failure(error)


class NullAppender(_Configured):
    """log4cplus::NullAppender: swallows everything."""

    def write(self, text: str) -> None:
        """Discard ``text``."""


#: Locale values log4cplus' FileAppender takes without a word (other names it tries as
#: C++ locales; we do not, and complain as log4cplus does for a name it cannot create)
_LOCALES = ("DEFAULT", "GLOBAL", "USER", "CLASSIC", "C", "POSIX")


class FileAppender(_Configured):
    """log4cplus::FileAppender: ``File``, ``Append`` (default false), ``ImmediateFlush``,
    ``UseLockFile``/``LockFile`` (an advisory lock held around each write).

    A file that cannot be opened is reported as log4cplus reports it; the appender then
    writes nothing (and, like log4cplus's only-once error handler, says nothing more).
    """

    append_default = False

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        self.filename = props.get("File", "")
        self.handle: BinaryIO | None = None
        self.lock: BinaryIO | None = None
        self.immediate_flush = _bool(props, "ImmediateFlush", True)
        locale = props.get("Locale", "DEFAULT")
        if locale not in _LOCALES:
            complain(f"Failed to create locale {locale}")
        if not self.filename:
            complain("Invalid filename")
            self.failed = True
            return
        if _bool(props, "UseLockFile", False):
            self.lock = self._open_lock(props.get("LockFile") or self.filename + ".lock")
        appending = _bool(props, "Append", self.append_default)
        self.handle = self._open("ab" if appending else "wb")
        at_exit(self.close)

    def _open(self, mode: str) -> BinaryIO | None:
        try:
            return open(self.filename, mode)  # kept open for the whole run
        except OSError:
            complain(f"Unable to open file: {self.filename}")
            self.failed = True
            return None

    @staticmethod
    def _open_lock(path: str) -> BinaryIO | None:
        try:
            import fcntl  # noqa: F401 - POSIX only; elsewhere no lock, as without the key
        except ImportError:
            return None
        try:
            return open(path, "ab")
        except OSError:
            return None

    def write(self, text: str) -> None:
        """Append ``text`` (UTF-8, raw bytes of the command line preserved)."""
        data = text.encode("utf-8", "surrogateescape")
        if self.lock is None:
            self._write(data)
            return
        import fcntl

        fcntl.lockf(self.lock, fcntl.LOCK_EX)
        try:
            self._write(data)
        finally:
            fcntl.lockf(self.lock, fcntl.LOCK_UN)

    def _write(self, data: bytes) -> None:
        assert self.handle is not None  # a failed appender never writes (Appender.deliver)
        self.handle.write(data)
        if self.immediate_flush or self.lock is not None:
            self.handle.flush()

    def on_failure(self, error: OSError | ValueError) -> None:
        """Say once on stderr that the file takes nothing more (log4cplus's words)."""
        log.report_error(f"file is not open: {self.filename}")

    def close(self) -> None:
        """Flush and close the file (a last failed flush is reported like a failed write)."""
        handle, self.handle = self.handle, None
        if self.lock is not None:
            self.lock.close()
            self.lock = None
        if handle is None:
            return
        try:
            handle.close()
        except (OSError, ValueError) as error:
            if not self.failed:
                self.failed = True
                self.on_failure(error)


def _shift_backups(path: str, count: int) -> None:
    """``path.count`` goes, ``path.i`` becomes ``path.i+1``, ``path`` becomes ``path.1``."""
    try:
        os.remove(f"{path}.{count}")
    except OSError:
        pass
    for index in range(count - 1, 0, -1):
        try:
            os.rename(f"{path}.{index}", f"{path}.{index + 1}")
        except OSError:
            pass
    try:
        os.rename(path, f"{path}.1")
    except OSError:
        pass


class RollingFileAppender(FileAppender):
    """log4cplus::RollingFileAppender: rolls to ``File.1``.. when ``MaxFileSize`` is passed.

    Not logging.handlers.RotatingFileHandler: that one rolls *before* a record that would
    pass the limit, log4cplus after the write that passed it (and never below 200 KB).
    """

    append_default = True

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        size = props.get("MaxFileSize", "")
        self.max_size = _file_size(size) if size else DEFAULT_ROLLING_SIZE
        self.backups = max(_int(props, "MaxBackupIndex", 1), 1)

    def _write(self, data: bytes) -> None:
        """Append, then roll over if the file has grown past the limit."""
        super()._write(data)
        assert self.handle is not None
        if self.handle.tell() > self.max_size:
            self.handle.close()
            _shift_backups(self.filename, self.backups)
            # an OSError here is a failed write (Appender.deliver), not a configuration error
            self.handle = open(self.filename, "wb")  # kept open for the run


#: DailyRollingFileAppender's schedules and the date each rolled file's name gets
SCHEDULES = {"MONTHLY": "%Y-%m", "WEEKLY": "%Y-%W", "DAILY": "%Y-%m-%d",
             "TWICE_DAILY": "%Y-%m-%d-%p", "HOURLY": "%Y-%m-%d-%H",
             "MINUTELY": "%Y-%m-%d-%H-%M"}


def period_bounds(schedule: str, moment: float) -> tuple[float, float]:
    """Start and end (local time) of the ``schedule`` period holding ``moment``; weeks
    start on Sunday, as log4cplus counts them."""
    t = time.localtime(moment)
    year, month, day, hour, minute = t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min
    if schedule == "MONTHLY":
        start, end = (year, month, 1, 0, 0), (year, month + 1, 1, 0, 0)
    elif schedule == "WEEKLY":
        first = day - (t.tm_wday + 1) % 7
        start, end = (year, month, first, 0, 0), (year, month, first + 7, 0, 0)
    elif schedule == "TWICE_DAILY":
        half = 12 if hour >= 12 else 0
        start, end = (year, month, day, half, 0), (year, month, day, half + 12, 0)
    elif schedule == "HOURLY":
        start, end = (year, month, day, hour, 0), (year, month, day, hour + 1, 0)
    elif schedule == "MINUTELY":
        start, end = (year, month, day, hour, minute), (year, month, day, hour, minute + 1)
    else:  # DAILY
        start, end = (year, month, day, 0, 0), (year, month, day + 1, 0, 0)
    return (time.mktime((*start, 0, 0, 0, -1)), time.mktime((*end, 0, 0, 0, -1)))


class DailyRollingFileAppender(FileAppender):
    """log4cplus::DailyRollingFileAppender: ``Schedule`` (MONTHLY, WEEKLY, DAILY,
    TWICE_DAILY, HOURLY, MINUTELY; default DAILY with log4cplus's warning),
    ``MaxBackupIndex`` (default 10), ``Append`` (default true).

    When a period ends, and when the program ends, ``File`` is renamed
    ``File.<period start>`` (an older file of that name moves to ``.1``, ``.2``, ...).
    Not logging.handlers.TimedRotatingFileHandler: it neither rolls at exit nor keeps
    several files of one period, and dates weeks differently.
    """

    append_default = True

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        given = props.get("Schedule", "")
        schedule = given.upper()
        if schedule not in SCHEDULES:
            complain(f'DailyRollingFileAppender::ctor()- "Schedule" not valid: {given}',
                     "WARN")
            schedule = "DAILY"
        self.schedule = schedule
        self.backups = _int(props, "MaxBackupIndex", 10)
        self.period, self.next_roll = period_bounds(schedule, time.time())

    def _scheduled_name(self) -> str:
        stamp = time.strftime(SCHEDULES[self.schedule], time.localtime(self.period))
        return f"{self.filename}.{stamp}"

    def _roll_over(self, reopen: bool) -> None:
        assert self.handle is not None
        self.handle.close()
        target = self._scheduled_name()
        if os.path.lexists(target):
            _shift_backups(target, self.backups)
        try:
            os.rename(self.filename, target)
        except OSError:
            pass
        self.handle = open(self.filename, "wb")
        if not reopen:
            self.handle.close()
            self.handle = None

    def _write(self, data: bytes) -> None:
        """Roll over first if the period has ended, then append."""
        now = time.time()
        if now >= self.next_roll:
            self._roll_over(True)
            self.period, self.next_roll = period_bounds(self.schedule, now)
        super()._write(data)

    def close(self) -> None:
        """Roll the file over (as log4cplus does on close), then close it."""
        if self.handle is not None and not self.failed:
            try:
                self.handle.flush()
                self._roll_over(False)
            except (OSError, ValueError) as error:
                self.failed = True
                self.on_failure(error)
        super().close()


#: syslog facilities by name, as log4cplus' SysLogAppender reads ``facility``
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "security": 4,
              "syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10,
              "ftp": 11, **{f"local{n}": 16 + n for n in range(8)}}
#: log4cplus level -> syslog severity
SEVERITIES = {log.FATAL: 2, log.ERROR: 3, log.WARN: 4, log.INFO: 6, log.DEBUG: 7,
              log.TRACE: 7}


class SysLogAppender(_Configured):
    """log4cplus::SysLogAppender: ``ident``, ``facility`` (default user); with ``host``
    (and ``port``, default 514) RFC 5424 messages over UDP, as log4cplus sends them,
    through logging.handlers.SysLogHandler; without it the local syslog (the C
    library's syslog(), Python's syslog module, as log4cplus calls it).
    """

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        self.ident = props.get("ident", "")
        self.facility = FACILITIES.get(props.get("facility", "").lower(), 1)
        self.host = props.get("host", "")
        self.handler = None
        if self.host:
            self._open_remote(_int(props, "port", 514))
        else:
            import syslog

            if self.ident:
                syslog.openlog(self.ident, 0, self.facility << 3)
            else:
                syslog.openlog(logoption=0, facility=self.facility << 3)

    def _open_remote(self, port: int) -> None:
        import logging.handlers

        class Handler(logging.handlers.SysLogHandler):
            def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
                raise  # to Appender.deliver, which reports a failing destination once

        try:
            handler = Handler((self.host, port), facility=self.facility)
        except OSError:
            self.failed = True
            return
        handler.append_nul = False
        handler.priority_map = {"FATAL": "crit", "ERROR": "error", "WARN": "warning",
                                "INFO": "info", "DEBUG": "debug", "TRACE": "debug"}
        self.handler = handler
        self.hostname = os.uname().nodename
        at_exit(self.close)

    def append(self, event: log.LogEvent) -> None:
        """Filter as every appender does; keep the event for its level and logger."""
        self.event = event
        super().append(event)

    def write(self, text: str) -> None:
        """Send one message (the whole formatted event, line breaks included)."""
        event = self.event
        if self.handler is None:
            import syslog

            syslog.syslog((self.facility << 3) | SEVERITIES[event.level],
                          text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
            return
        import logging

        seconds = int(event.timestamp)
        millis = int((event.timestamp - seconds) * 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
        body = (f"1 {stamp} {self.hostname} {self.ident} {os.getpid()} {event.logger} - "
                + text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        record = logging.LogRecord(event.logger, logging.INFO, "", 0, body, None, None)
        record.levelname = log.LEVEL_NAMES[event.level]
        self.handler.emit(record)

    def close(self) -> None:
        """Close the UDP socket."""
        handler, self.handler = self.handler, None
        if handler is not None:
            handler.close()


APPENDERS: dict[str, type[_Configured]] = {
    "log4cplus::ConsoleAppender": ConsoleAppender,
    "log4cplus::NullAppender": NullAppender,
    "log4cplus::FileAppender": FileAppender,
    "log4cplus::RollingFileAppender": RollingFileAppender,
    "log4cplus::DailyRollingFileAppender": DailyRollingFileAppender,
    "log4cplus::SysLogAppender": SysLogAppender,
}


def make_appenders(props: dict[str, str]) -> dict[str, log.Appender]:
    """Create every ``appender.<name>`` the configuration defines; a class we do not
    have is reported as log4cplus reports one it does not have, and left out."""
    settings = subset(props, "appender.")
    appenders: dict[str, log.Appender] = {}
    for name in sorted(key for key in settings if "." not in key):
        kind = settings[name]
        factory = APPENDERS.get(kind)
        if factory is None:
            complain("PropertyConfigurator::configureAppenders()- Cannot find "
                     f"AppenderFactory: {kind}")
            continue
        appenders[name] = factory(subset(settings, name + "."), f"{PREFIX}appender.{name}")
    return appenders


def _tokens(config: str) -> list[str]:
    """log4cplus' split of ``LEVEL, appender, ...`` (blanks removed, empty runs collapsed)."""
    text = config.replace(" ", "")
    tokens: list[str] = []
    first = 0
    index = 0
    while index < len(text):
        if text[index] == ",":
            tokens.append(text[first:index])
            while index + 1 < len(text) and text[index + 1] == ",":
                index += 1
            first = index + 1
        index += 1
    if first != len(text):
        tokens.append(text[first:])
    return tokens


#: level words that make a (non-root) logger inherit its parent's level
_INHERIT = ("INHERITED", "INHERIT", "NOTSET")


def configure_logger(logger: log.Logger, config: str, appenders: dict[str, log.Appender],
                     where: str) -> None:
    """Apply ``LEVEL[, appender...]`` to one logger (its old appenders are dropped).

    An empty setting leaves the logger as it was, an undefined appender is skipped
    (both reported as log4cplus reports them); a named logger with a level it cannot
    read inherits. The root logger's level must be valid (DCMTK crashes otherwise).
    """
    tokens = _tokens(config)
    if not tokens:
        complain("PropertyConfigurator::configureLogger()- Invalid config string"
                 f'(Logger = {logger.name}): "{config}"')
        return
    if logger is log.root_logger():
        logger.level = _level(tokens[0], where)
    elif tokens[0].upper() in _INHERIT:
        logger.level = log.NOT_SET
    else:
        logger.level = _level_or_unset(tokens[0])
    logger.appenders = []
    for name in tokens[1:]:
        if name not in appenders:
            complain(f"PropertyConfigurator::configureLogger()- Invalid appender: {name}")
            continue
        logger.appenders.append(appenders[name])


def configure(path: str, appname: str) -> None:
    """Set up logging from the property file ``path`` (``-lc``); ``appname`` for ${appname}.

    ``log4cplus.quietMode`` silences the complaints about the configuration; after it,
    log4cplus's run-time complaints are silent if the root logger drops ERROR (as
    DCMTK silences its command-line errors then). ``configDebug`` is accepted and
    ignored (log4cplus's internal debug lines are its own).
    """
    global _quiet
    props = read_properties(path)
    props.update(builtin_variables(appname))
    props = subset(expand_variables(props), PREFIX)
    _quiet = _bool(props, "quietMode", False)
    try:
        log.reset()
        # what a rejected rootLogger setting leaves: DCMTK's console appender, at INFO
        log.root_logger().level = log.INFO
        appenders = make_appenders(props)
        configure_logger(log.root_logger(), props["rootLogger"], appenders,
                         PREFIX + "rootLogger")
        for name, config in sorted(subset(props, "logger.").items()):
            configure_logger(log.get_logger(name), config, appenders,
                             f"{PREFIX}logger.{name}")
        for name in sorted(subset(props, "additivity.")):
            log.get_logger(name).additive = _bool(subset(props, "additivity."), name, True)
        log.refresh_thresholds()
    finally:
        _quiet = False
    log.quiet_errors = not log.root_logger().enabled(log.ERROR)
