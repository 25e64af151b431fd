"""``-lc``: log4cplus property files as DCMTK reads them (spec 4.2), on top of ``echoscu.log``.

Supported: root and named loggers (levels, appender lists, additivity), the Console,
File, RollingFile and Null appenders, Threshold and the four log4cplus filters, the
Simple, TTCC and Pattern layouts (every conversion log4cplus knows, with width and
alignment modifiers), and ``${...}`` variables (appname, hostname, pid, date, time,
other keys of the file, then the environment). Where DCMTK would print a
``log4cplus:ERROR`` line and carry on half-configured, or crash, we stop with one
clear message instead (``LogConfigError``, shown as a command-line error).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from collections.abc import Callable

from echoscu import log
from echoscu.cmdline import read_at_most

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
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


# ---------------------------------------------------------------------------
# Reading the property file


def read_properties(path: str) -> dict[str, str]:
    """Read a property file with DCMTK's checks and messages (spec 2.6)."""
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


def _substitute(text: str, props: dict[str, str]) -> str:
    """Expand ``${name}`` from the properties, else the environment; unknown ones stay."""
    start = 0
    rounds = 0
    while True:
        opening = text.find("${", start)
        if opening < 0:
            return text
        closing = text.find("}", opening)
        if closing < 0:
            raise LogConfigError(f'log config: "{text}" has no closing brace')
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
    for _ in range(100):
        changed = False
        for key in sorted(props):
            value = props[key]
            new_key = _substitute(key, props)
            if new_key != key:
                del props[key]
                props[new_key] = value
                changed = True
            new_value = _substitute(value, props)
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
# Typed property values (strict: a value log4cplus would silently ignore is an error)


def _level(text: str, where: str) -> int:
    level = log.parse_level(text.strip(_C_SPACE))
    if level is None:
        raise LogConfigError(f"log config: invalid log level '{text}' for {where}")
    return level


def _bool(props: dict[str, str], key: str, default: bool, where: str) -> bool:
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
    raise LogConfigError(f"log config: {where}.{key} must be true or false, not '{props[key]}'")


def _int(props: dict[str, str], key: str, default: int, where: str) -> int:
    if key not in props:
        return default
    try:
        return int(props[key])
    except ValueError:
        raise LogConfigError(
            f"log config: {where}.{key} must be an integer, not '{props[key]}'") from None


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


def _converter(char: str, option: str | None) -> Callable[[log.LogEvent], str]:
    """The function behind one ``%x`` conversion character."""
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
    raise LogConfigError(f"log config: unknown conversion character '%{char}' in pattern")


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
    """Parse a log4cplus ConversionPattern into pieces (log4cplus' state machine)."""
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
        if literal:
            pieces.append(_Piece(_constant("".join(literal))))
            literal = []
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
                raise LogConfigError(
                    f"log config: digit expected after '.' at position {position} "
                    f"in pattern \"{pattern}\"")
            max_width = int(pattern[start:position])
        if position >= length:
            raise LogConfigError(f"log config: pattern \"{pattern}\" ends inside a conversion")
        char = pattern[position]
        position += 1
        option = None
        if char in "cdDX" and position < length and pattern[position] == "{":
            closing = pattern.find("}", position)
            if closing < 0:
                raise LogConfigError(f"log config: no matching '}}' in pattern \"{pattern}\"")
            option = pattern[position + 1:closing]
            position = closing + 1
        pieces.append(_Piece(_converter(char, option), min_width, max_width, left))
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
        if pattern is None:
            raise LogConfigError(f"log config: {where}.ConversionPattern is missing")
        return PatternLayout(pattern, _bool(settings, "FormatEachLine", True, where))
    raise LogConfigError(f"log config: unknown layout class '{kind}' for {where}")


# ---------------------------------------------------------------------------
# Filters and appenders

ACCEPT, NEUTRAL, DENY = 1, 0, -1


def make_filter(kind: str, props: dict[str, str],
                where: str) -> Callable[[log.LogEvent], int]:
    """One of log4cplus' four filters (AcceptOnMatch defaults to false in property files)."""
    accept = _bool(props, "AcceptOnMatch", False, where)
    on_match = ACCEPT if accept else DENY
    if kind == "log4cplus::spi::DenyAllFilter":
        return lambda event: DENY
    if kind == "log4cplus::spi::LogLevelMatchFilter":
        wanted = props.get("LogLevelToMatch", "")
        level = _level(wanted, f"{where}.LogLevelToMatch") if wanted else None
        return lambda event: NEUTRAL if event.level != level else on_match
    if kind == "log4cplus::spi::LogLevelRangeFilter":
        low = props.get("LogLevelMin", "")
        high = props.get("LogLevelMax", "")
        minimum = _level(low, f"{where}.LogLevelMin") if low else None
        maximum = _level(high, f"{where}.LogLevelMax") if high else None

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
    raise LogConfigError(f"log config: unknown filter class '{kind}' for {where}")


class _Configured(log.Appender):
    """An appender from a property file: layout, Threshold, filter chain."""

    def __init__(self, props: dict[str, str], where: str) -> None:
        threshold = props.get("Threshold")
        super().__init__(make_layout(props, where),
                         _level(threshold, f"{where}.Threshold") if threshold else log.NOT_SET)
        self.filters: list[Callable[[log.LogEvent], int]] = []
        filters = subset(props, "filters.")
        number = 1
        while str(number) in filters:
            name = str(number)
            self.filters.append(make_filter(filters[name], subset(filters, name + "."),
                                            f"{where}.filters.{name}"))
            number += 1
        if _bool(props, "UseLockFile", False, where):
            raise LogConfigError(f"log config: {where}.UseLockFile is not supported")

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


class FileAppender(_Configured):
    """log4cplus::FileAppender: ``File``, ``Append`` (default false), ``ImmediateFlush``."""

    append_default = False

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        self.filename = props.get("File", "")
        if not self.filename:
            raise LogConfigError(f"log config: {where}.File is missing")
        locale = props.get("Locale", "DEFAULT")
        if locale not in ("DEFAULT", "GLOBAL", "USER", "CLASSIC"):
            raise LogConfigError(f"log config: {where}.Locale '{locale}' is not supported")
        self.immediate_flush = _bool(props, "ImmediateFlush", True, where)
        _int(props, "ReopenDelay", 1, where)
        _int(props, "BufferSize", 0, where)
        appending = _bool(props, "Append", self.append_default, where)
        self.handle = self._open("ab" if appending else "wb")
        atexit.register(self.close)

    def _open(self, mode: str) -> BinaryIO:
        try:
            handle = open(self.filename, mode)  # kept open for the whole run
        except OSError as error:
            raise LogConfigError(
                f"log config: cannot open log file '{self.filename}': {error.strerror}") from None
        return handle

    def write(self, text: str) -> None:
        """Append ``text`` (UTF-8, raw bytes of the command line preserved)."""
        self.handle.write(text.encode("utf-8", "surrogateescape"))
        if self.immediate_flush:
            self.handle.flush()

    def on_failure(self, error: OSError | ValueError) -> None:
        """Say once on stderr that the file takes nothing more (log4cplus's words)."""
        log.report_error(f"file is not open: {self.filename}")

    def close(self) -> None:
        """Flush and close the file (a last failed flush is reported like a failed write)."""
        try:
            self.handle.close()
        except (OSError, ValueError) as error:
            if not self.failed:
                self.failed = True
                self.on_failure(error)


class RollingFileAppender(FileAppender):
    """log4cplus::RollingFileAppender: rolls to ``File.1``.. when ``MaxFileSize`` is passed."""

    append_default = True

    def __init__(self, props: dict[str, str], where: str) -> None:
        super().__init__(props, where)
        size = props.get("MaxFileSize", "")
        self.max_size = _file_size(size) if size else DEFAULT_ROLLING_SIZE
        self.backups = max(_int(props, "MaxBackupIndex", 1, where), 1)

    def write(self, text: str) -> None:
        """Append, then roll over if the file has grown past the limit."""
        super().write(text)
        if self.handle.tell() > self.max_size:
            self._roll_over()

    def _roll_over(self) -> None:
        self.handle.close()
        try:
            os.remove(f"{self.filename}.{self.backups}")
        except OSError:
            pass
        for index in range(self.backups - 1, 0, -1):
            try:
                os.rename(f"{self.filename}.{index}", f"{self.filename}.{index + 1}")
            except OSError:
                pass
        try:
            os.rename(self.filename, f"{self.filename}.1")
        except OSError:
            pass
        # an OSError here is a failed write (Appender.deliver), not a configuration error
        self.handle = open(self.filename, "wb")  # kept open for the run


APPENDERS: dict[str, type[_Configured]] = {
    "log4cplus::ConsoleAppender": ConsoleAppender,
    "log4cplus::NullAppender": NullAppender,
    "log4cplus::FileAppender": FileAppender,
    "log4cplus::RollingFileAppender": RollingFileAppender,
}
#: appenders DCMTK's log4cplus has and we do not
UNSUPPORTED_APPENDERS = (
    "log4cplus::DailyRollingFileAppender", "log4cplus::SocketAppender",
    "log4cplus::SysLogAppender", "log4cplus::AsyncAppender", "log4cplus::Log4jUdpAppender",
    "log4cplus::NTEventLogAppender", "log4cplus::Win32ConsoleAppender",
    "log4cplus::Win32DebugAppender",
)


def make_appenders(props: dict[str, str]) -> dict[str, log.Appender]:
    """Create every ``appender.<name>`` the configuration defines."""
    settings = subset(props, "appender.")
    appenders: dict[str, log.Appender] = {}
    for name in sorted(key for key in settings if "." not in key):
        kind = settings[name]
        where = f"{PREFIX}appender.{name}"
        if kind in UNSUPPORTED_APPENDERS:
            raise LogConfigError(f"log config: {kind} ({where}) is not supported")
        factory = APPENDERS.get(kind)
        if factory is None:
            raise LogConfigError(f"log config: unknown appender class '{kind}' for {where}")
        appenders[name] = factory(subset(settings, name + "."), where)
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
    """Apply ``LEVEL[, appender...]`` to one logger (its old appenders are dropped)."""
    tokens = _tokens(config)
    if not tokens:
        raise LogConfigError(f"log config: {where} is empty")
    if tokens[0].upper() in _INHERIT and logger is not log.root_logger():
        logger.level = log.NOT_SET
    else:
        logger.level = _level(tokens[0], where)
    logger.appenders = []
    for name in tokens[1:]:
        if name not in appenders:
            raise LogConfigError(f"log config: {where} names appender '{name}', "
                                 "which is not defined")
        logger.appenders.append(appenders[name])


def configure(path: str, appname: str) -> None:
    """Set up logging from the property file ``path`` (``-lc``); ``appname`` for ${appname}."""
    props = read_properties(path)
    props.update(builtin_variables(appname))
    props = subset(expand_variables(props), PREFIX)
    if _bool(props, "configDebug", False, PREFIX.rstrip(".")):
        raise LogConfigError("log config: log4cplus.configDebug is not supported")
    _bool(props, "quietMode", False, PREFIX.rstrip("."))
    _bool(props, "disableOverride", False, PREFIX.rstrip("."))
    log.reset()
    appenders = make_appenders(props)
    configure_logger(log.root_logger(), props["rootLogger"], appenders, PREFIX + "rootLogger")
    for name, config in sorted(subset(props, "logger.").items()):
        configure_logger(log.get_logger(name), config, appenders, f"{PREFIX}logger.{name}")
    for name in sorted(subset(props, "additivity.")):
        log.get_logger(name).additive = _bool(subset(props, "additivity."), name, True,
                                              f"{PREFIX}additivity")
    log.refresh_thresholds()
