"""A command-line parser with DCMTK's rules (OFCommandLine), driven by a declarative table.

Why our own: DCMTK's rules are not POSIX/argparse/Click rules. Options start with
``-`` or ``+`` (not followed by a digit), values are taken positionally whatever they
look like, options and parameters interleave, options are normalised to their long
names, value options are evaluated at their rightmost occurrence, option blocks are
examined in a fixed order, ``@file`` arguments are expanded with DCMTK's tokenizer,
and numbers are scanned like C's ``sscanf``. Every message is DCMTK's text.
"""

from __future__ import annotations

from dicomecho.userfiles import read_at_most

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class CommandLineError(Exception):
    """A command-line error; ``str(error)`` is DCMTK's message (after ``error: ``)."""


class Option:
    """One option of the table: names, value count, help texts, flags.

    ``repeatable``: every occurrence counts (the others: rightmost wins); ``completion``:
    what a shell offers for the value ("file", "dir", "ciphersuite" or a tuple of
    choices); ``row``: the ``certs.tlsflags.Flag`` a TLS option was made from.
    """

    __slots__ = ("long", "short", "nvalues", "value_help", "help", "exclusive", "available",
                 "repeatable", "completion", "row")

    def __init__(self, long: str, short: str = "", nvalues: int = 0, value_help: str = "",
                 help: str = "", exclusive: bool = False,
                 available: Callable[[], bool] | None = None, repeatable: bool = False,
                 completion: str | tuple[str, ...] | None = None, row: object = None) -> None:
        self.long = long
        self.short = short
        self.nvalues = nvalues
        self.value_help = value_help
        self.help = help
        self.exclusive = exclusive
        #: None = always registered; else asked (lazily) whether the option exists in this build
        self.available = available
        self.repeatable = repeatable
        self.completion = completion
        self.row = row

    def is_available(self) -> bool:
        """True if the option exists here (DCMTK registers some only if OpenSSL allows)."""
        return self.available is None or self.available()


class Group:
    """A group header in the help (``general options:``), with its column widths."""

    __slots__ = ("title", "long_width", "short_width")

    def __init__(self, title: str, long_width: int = 0, short_width: int = 0) -> None:
        self.title = title
        self.long_width = long_width
        self.short_width = short_width


class SubGroup(Group):
    """A sub-group header in the help (``  transport protocol stack:``)."""


class Param:
    """A mandatory positional parameter."""

    __slots__ = ("name", "help")

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help


class Deferred:
    """Table entries made when first needed: ``load()`` returns them.

    echoscu's TLS rows come from ``certs.tlsflags``; a run that names no option
    outside the rest of the table (a plain echo) never imports certs.
    """

    __slots__ = ("load",)

    def __init__(self, load: Callable[[], list[Option | Group]]) -> None:
        self.load = load


Entry = Option | Group


class OptionTable:
    """The declarative description of a command line: parameters and options in help order."""

    def __init__(self, params: list[Param], entries: list[Entry | Deferred], long_width: int,
                 short_width: int, param_width: int) -> None:
        self.params = params
        self._entries = entries
        self.long_width = long_width
        self.short_width = short_width
        self.param_width = param_width
        self._by_name: dict[str, Option] = {}
        self._index([entry for entry in entries if isinstance(entry, Option)])

    def _index(self, options: list[Option]) -> None:
        for option in options:
            self._by_name[option.long] = option
            if option.short:
                self._by_name[option.short] = option

    def _load(self) -> bool:
        """Make the deferred entries; False if there were none left."""
        if not any(isinstance(entry, Deferred) for entry in self._entries):
            return False
        entries: list[Entry | Deferred] = []
        for entry in self._entries:
            if isinstance(entry, Deferred):
                made = entry.load()
                self._index([option for option in made if isinstance(option, Option)])
                entries += made
            else:
                entries.append(entry)
        self._entries = entries
        return True

    @property
    def entries(self) -> list[Entry]:
        """Every group header and option, in help order."""
        self._load()
        return self._entries  # type: ignore[return-value]

    @property
    def options(self) -> list[Option]:
        """Every option, in help order."""
        return [entry for entry in self.entries if isinstance(entry, Option)]

    def lookup(self, name: str) -> Option | None:
        """The option called ``name`` (short or long, exact), if it exists in this build."""
        option = self._by_name.get(name)
        if option is None and self._load():
            option = self._by_name.get(name)
        if option is None or not option.is_available():
            return None
        return option


def is_option(arg: str) -> bool:
    """DCMTK's test: at least 2 characters, starts with - or +, second character no digit."""
    return len(arg) >= 2 and arg[0] in "-+" and not ("0" <= arg[1] <= "9")


# ---------------------------------------------------------------------------
# @file expansion

#: the most a command file may hold (DCMTK reads without bound; /dev/zero would never end)
COMMAND_FILE_LIMIT = 64 << 20
#: what separates arguments or opens a quoted block in a command file
_SPECIAL_CHARACTERS = "[ \t\n\r\"']"


def tokenize_command_file(text: str) -> list[str]:
    """Split a command file's text into arguments with DCMTK's rules (docs/dcmtk-behaviour.md 2.7).

    Blanks, tabs, CR and LF separate; ``"`` or ``'`` open a block closed by the same
    character, which ends the argument at once (even an empty one); no escapes. DCMTK
    uses a value as a C string, so a NUL byte ends it; an option keeps it, so that
    ``-v<NUL>x`` is an unknown option (shown as ``-v``). Linear time: the text is
    searched for the next special character, not walked one character at a time.
    """
    import re  # only when a command file is given: re costs a plain echo 5 ms

    special = re.compile(_SPECIAL_CHARACTERS)
    tokens: list[str] = []
    value = ""
    at, size = 0, len(text)
    while at < size:
        found = special.search(text, at)
        if found is None:
            value += text[at:]
            break
        value += text[at:found.start()]
        char = found.group()
        if char in "\"'":
            end = text.find(char, found.end())
            if end < 0:  # an unclosed block runs to the end of the file
                value += text[found.end():]
                break
            tokens.append(value + text[found.end():end])
            value = ""
            at = end + 1
        else:
            if value:
                tokens.append(value)
                value = ""
            at = found.end()
    if value:
        tokens.append(value)
    return [token if is_option(token) else token.partition("\0")[0] for token in tokens]


def expand_command_files(args: Iterable[str]) -> list[str]:
    """Replace each ``@file`` argument by the file's tokens (one level, no nesting)."""
    expanded: list[str] = []
    for arg in args:
        if len(arg) < 2 or arg[0] != "@":
            expanded.append(arg)
            continue
        name = arg[1:]
        try:
            data = read_at_most(name, COMMAND_FILE_LIMIT)
        except IsADirectoryError:
            # a C++ ifstream opens a directory, then reads nothing from it
            data = b""
        except OSError:
            raise CommandLineError(f"Cannot open command file '{name}'") from None
        if data is None:
            raise CommandLineError(f"Command file '{name}' is larger than "
                                   f"{COMMAND_FILE_LIMIT >> 20} MiB")
        # bytes as the C++ stream reads them; undecodable bytes survive as surrogates
        expanded.extend(tokenize_command_file(data.decode("utf-8", "surrogateescape")))
    return expanded


# ---------------------------------------------------------------------------
# Numbers: C sscanf("%lu") / sscanf("%li") on a 64-bit (LP64) platform

_ULONG_MAX = (1 << 64) - 1
_LONG_MAX = (1 << 63) - 1
_LONG_MIN = -(1 << 63)
_C_SPACE = " \t\n\v\f\r"
_DIGITS = {base: "0123456789abcdefABCDEF"[: base if base <= 10 else 10 + 2 * (base - 10)]
           for base in (8, 10, 16)}


def _scan_digits(text: str, pos: int, base: int) -> tuple[int, int]:
    """Read digits of ``base`` from ``pos``; return (value, position after the digits)."""
    digits = _DIGITS[base]
    end = pos
    while end < len(text) and text[end] in digits:
        end += 1
    return (int(text[pos:end], base) if end > pos else 0), end


def scan_unsigned(text: str) -> int | None:
    """``sscanf(text, "%lu")``: the value (wrapped/saturated as glibc does) or None if no match."""
    pos = 0
    while pos < len(text) and text[pos] in _C_SPACE:
        pos += 1
    negative = pos < len(text) and text[pos] == "-"
    if pos < len(text) and text[pos] in "+-":
        pos += 1
    value, end = _scan_digits(text, pos, 10)
    if end == pos:
        return None
    if value > _ULONG_MAX:
        return _ULONG_MAX
    return (-value) & _ULONG_MAX if negative else value


def scan_signed(text: str) -> int | None:
    """``sscanf(text, "%li")`` (base from prefix: 0x hex, 0 octal), saturated to 64-bit long."""
    pos = 0
    while pos < len(text) and text[pos] in _C_SPACE:
        pos += 1
    negative = pos < len(text) and text[pos] == "-"
    if pos < len(text) and text[pos] in "+-":
        pos += 1
    if text[pos:pos + 1] == "0":
        if text[pos + 1:pos + 2] in ("x", "X"):
            # "0x" without hex digits still matches (value 0), as glibc's scanf does
            value, _ = _scan_digits(text, pos + 2, 16)
        else:
            value, _ = _scan_digits(text, pos, 8)
    else:
        value, end = _scan_digits(text, pos, 10)
        if end == pos:
            return None
    value = -value if negative else value
    return max(_LONG_MIN, min(_LONG_MAX, value))


def to_int32(value: int) -> int:
    """C's conversion of a long to a 32-bit ``int``/``Sint32`` (DCMTK stores timeouts so)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


# ---------------------------------------------------------------------------
# Parsing


class Occurrence:
    """One option as found on the (expanded) command line, with its values."""

    __slots__ = ("option", "index", "values")

    def __init__(self, option: Option, index: int, values: list[str]) -> None:
        self.option = option
        #: position of the option in ``ParsedLine.arguments``
        self.index = index
        self.values = values

    @property
    def value(self) -> str:
        """The first (usually only) value."""
        return self.values[0]


class ParsedLine:
    """The result of a successful scan: options (by long name), values and parameters."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        #: every argument after normalisation (options by long name, values, parameters)
        self.arguments: list[str] = []
        self.occurrences: list[Occurrence] = []
        #: (index in ``arguments``, text)
        self.params: list[tuple[int, str]] = []
        self.has_exclusive = False

    def find(self, long: str) -> Occurrence | None:
        """The rightmost occurrence of an option (DCMTK evaluates value options there)."""
        for occurrence in reversed(self.occurrences):
            if occurrence.option.long == long:
                return occurrence
        return None

    def find_all(self, long: str) -> list[Occurrence]:
        """All occurrences of a repeatable option, rightmost first (DCMTK's processing order)."""
        return [occ for occ in reversed(self.occurrences) if occ.option.long == long]

    def examine_block(self, members: Iterable[str]) -> list[Occurrence]:
        """Accepted members of an option block, in examination order (docs/dcmtk-behaviour.md 2.5).

        Each member is searched at its rightmost occurrence, but only to the right of
        the member accepted before it; so the last accepted one is the rightmost on
        the line, while earlier ones can still fail their own checks first.
        """
        accepted: list[Occurrence] = []
        limit = -1
        for long in members:
            occurrence = self.find(long)
            if occurrence is not None and occurrence.index > limit:
                accepted.append(occurrence)
                limit = occurrence.index
        return accepted


def parse_arguments(table: OptionTable, args: list[str], prog: str) -> ParsedLine:
    """Scan already expanded arguments left to right; raise CommandLineError on the first error."""
    line = ParsedLine(prog)
    position = 0
    while position < len(args):
        arg = args[position]
        if not is_option(arg):
            line.params.append((len(line.arguments), arg))
            line.arguments.append(arg)
            position += 1
            continue
        option = table.lookup(arg)
        if option is None:
            raise CommandLineError(f"Unknown option {arg.partition(chr(0))[0]}")
        index = len(line.arguments)
        line.arguments.append(option.long)
        if option.exclusive:
            line.has_exclusive = True
        if position + option.nvalues >= len(args):
            raise CommandLineError(f"Missing value for option {option.long}")
        values = args[position + 1:position + 1 + option.nvalues]
        line.arguments.extend(values)
        line.occurrences.append(Occurrence(option, index, values))
        position += 1 + option.nvalues
    return line


def check_param_count(table: OptionTable, line: ParsedLine) -> None:
    """DCMTK's parameter-count check (only when no exclusive option was given)."""
    wanted = len(table.params)
    if len(line.params) < wanted:
        raise CommandLineError(f"Missing parameter {table.params[len(line.params)].name}")
    if len(line.params) > wanted:
        raise CommandLineError("Too many parameters")


# ---------------------------------------------------------------------------
# Value checks with DCMTK's messages


def _value_error(occurrence: Occurrence, kind: str, text: str) -> CommandLineError:
    message = f"Invalid value for option {occurrence.option.long}"
    if text:
        message += f" ({kind}{text})"
    return CommandLineError(message)


def unsigned_value(occurrence: Occurrence, low: int, high: int | None = None,
                   value_index: int = 0) -> int:
    """An option value scanned as unsigned (``-pdu``, ``--repeat``, ...) and range-checked."""
    text = occurrence.values[value_index]
    value = scan_unsigned(text)
    if value is None or text.lstrip(" ")[:1] in ("-", ""):
        raise _value_error(occurrence, "", text)
    if value < low:
        raise _value_error(occurrence, "underflow: ", text)
    if high is not None and value > high:
        raise _value_error(occurrence, "overflow: ", text)
    return value


def signed_value(occurrence: Occurrence, low: int, value_index: int = 0) -> int:
    """An option value scanned as signed (``-to``, ``-ts``, ...) and checked against a minimum."""
    text = occurrence.values[value_index]
    value = scan_signed(text)
    if value is None:
        raise _value_error(occurrence, "", text)
    if value < low:
        raise _value_error(occurrence, "underflow: ", text)
    return value


def unsigned_param(text: str, low: int, high: int) -> int:
    """A parameter scanned as unsigned (the port): a leading minus wraps, as in C."""
    value = scan_unsigned(text)
    if value is None:
        raise CommandLineError(f"Invalid parameter value {text}")
    if value < low:
        raise CommandLineError(f"Invalid parameter value {text} (underflow)")
    if value > high:
        raise CommandLineError(f"Invalid parameter value {text} (overflow)")
    return value


def check_dependence(option: str, base: str, condition: bool) -> None:
    """DCMTK's ``<option> only allowed with <base>``."""
    if not condition:
        raise CommandLineError(f"{option} only allowed with {base}")


def check_conflict(option: str, other: str, condition: bool) -> None:
    """DCMTK's ``<option> not allowed with <other>``."""
    if condition:
        raise CommandLineError(f"{option} not allowed with {other}")


# ---------------------------------------------------------------------------
# Help text


def _wrap_help(text: str, indent: int) -> str:
    """Indent the continuation lines of a help text to its column."""
    return text.replace("\n", "\n" + " " * indent)


def _group_widths(entries: list[Entry], start: int, long_width: int,
                  short_width: int) -> tuple[int, int]:
    """Grow the column widths to the longest names up to the next (sub-)group header."""
    for entry in entries[start:]:
        if not isinstance(entry, Option):
            break
        if entry.is_available():
            short_width = max(short_width, len(entry.short))
            long_width = max(long_width, len(entry.long))
    return long_width, short_width


def option_help(table: OptionTable) -> str:
    """The options part of the usage text, laid out with DCMTK's column rules."""
    lines: list[str] = []
    long_width, short_width = table.long_width, table.short_width
    indent = 0
    new_group = True
    for position, entry in enumerate(table.entries):
        if new_group:
            long_width, short_width = _group_widths(table.entries, position, long_width,
                                                    short_width)
            new_group = False
        if isinstance(entry, Group):
            new_group = True
            long_width = entry.long_width or table.long_width
            short_width = entry.short_width or table.short_width
            if isinstance(entry, SubGroup):
                lines.append("  " + entry.title + "\n")
                indent = 4
            else:
                lines.append(entry.title + "\n")
                indent = 2
            continue
        if not entry.is_available():
            continue
        text = " " * indent
        if short_width:
            text += entry.short.ljust(short_width) + "  "
        text += entry.long.ljust(long_width) + "  "
        column = indent + (short_width + 2 if short_width else 0) + long_width + 2
        if entry.value_help:
            text += entry.value_help + "\n" + " " * column
        text += _wrap_help(entry.help, column) + "\n"
        lines.append(text)
    return "".join(lines)


def param_help(table: OptionTable) -> str:
    """The ``parameters:`` part of the usage text."""
    width = max([table.param_width] + [len(param.name) for param in table.params])
    text = "parameters:\n"
    for param in table.params:
        text += "  " + param.name.ljust(width) + "  " + _wrap_help(param.help, width + 4) + "\n"
    return text


def syntax(table: OptionTable) -> str:
    """The synopsis after the program name: `` [options] peer port``."""
    return " [options]" + "".join(" " + param.name for param in table.params)
