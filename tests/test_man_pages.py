"""The man pages against the code, so that they cannot drift apart.

Every option a command's Click description accepts has an entry in its page's
OPTIONS section and every entry names an accepted option; echoscu's entries sit
under the headings of its ``--help``, in its order; parameters, defaults, versions,
the profiles' ciphersuites and the examples' command lines match the code; and
groff formats each page without a warning.

Page conventions the parser relies on: an option entry is a ``.TP`` whose tag line
names the option in bold (``.BR \\-aet ", " \\-\\-aetitle " \\fIaetitle\\fR"``);
echoscu's sub-group headings are ``.I heading`` lines that start a paragraph (after
``.PP`` or ``.SS``); echocerts'
OPTIONS has one ``.SS "echocerts <command>"`` per command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from certs.profiles import PROFILES, available_profiles
from dicomecho import __date__, __version__
from echoscu.cmdline import Group, Option, SubGroup
from echoscu.helptext import TABLE

REPO = Path(__file__).resolve().parent.parent
MAN = REPO / "man"
PAGES = ("echoscu", "echoscp", "echocerts")
#: the sections the issue asks every page to have, in this order
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "PARAMETERS", "OPTIONS", "NOTES",
            "EXIT CODES", "ENVIRONMENT", "EXAMPLES", "SEE ALSO")
OUR_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

pytestmark = pytest.mark.timeout(60)


# --- reading roff ----------------------------------------------------------------------


_PARAGRAPH_ENDS = (".TP", ".PP", ".SS", ".SH", ".IP")
_ESCAPES = {"\\-": "-", "\\e": "\\", "\\(bu": "*", "\\(dq": '"', "\\&": "", "\\|": "",
            "\\(pl": "+", "\\ ": " "}


def plain(roff: str) -> str:
    """Text of a roff line without font changes and with the escapes we use resolved."""
    text = re.sub(r"\\f[BIRP]", "", roff)
    for escape, char in _ESCAPES.items():
        text = text.replace(escape, char)
    return text


def macro_text(line: str) -> str:
    """The text a line shows: the arguments of a font macro (``.B x``), or the line."""
    match = re.match(r"\.(B|I|BR|RB|IR|RI|BI|IB)\s+(.*)", line)
    if not match:
        return plain(line)
    arguments = re.findall(r'"([^"]*)"|(\S+)', plain(match.group(2)))
    joiner = " " if match.group(1) in ("B", "I") else ""
    return joiner.join(quoted or bare for quoted, bare in arguments)


class Page:
    """A man page cut into sections (``.SH``) and subsections (``.SS``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = MAN / f"{name}.1"
        self.lines = self.path.read_text(encoding="utf-8").splitlines()
        self.sections: dict[str, list[str]] = {}
        current: list[str] = []
        for line in self.lines:
            if line.startswith(".SH "):
                current = self.sections.setdefault(plain(line[4:]).strip('"'), [])
            else:
                current.append(line)

    def subsections(self, section: str) -> list[tuple[str | None, list[str]]]:
        """(title, lines) of each ``.SS`` of ``section``; the text before the first: None."""
        parts: list[tuple[str | None, list[str]]] = [(None, [])]
        for line in self.sections[section]:
            if line.startswith(".SS "):
                parts.append((plain(line[4:]).strip('"'), []))
            else:
                parts[-1][1].append(line)
        return parts


def entries(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(tag line, body lines) of every ``.TP`` entry; a body ends where a new paragraph,
    entry or section starts."""
    found: list[tuple[str, list[str]]] = []
    position = 0
    while position < len(lines):
        if lines[position] != ".TP" or position + 1 == len(lines):
            position += 1
            continue
        tag, body = lines[position + 1], []
        position += 2
        while position < len(lines) and not lines[position].startswith(_PARAGRAPH_ENDS):
            body.append(lines[position])
            position += 1
        found.append((tag, body))
    return found


def option_names(tag: str) -> list[str]:
    """The option names a tag line shows in bold (``.B``/``.BR`` arguments or ``\\fB``)."""
    match = re.match(r"\.(B|BR|RB)\s+(.*)", tag)
    if match:
        arguments = [quoted or bare for quoted, bare in re.findall(r'"([^"]*)"|(\S+)',
                                                                   match.group(2))]
        first = {"B": 0, "BR": 0, "RB": 1}[match.group(1)]
        step = 1 if match.group(1) == "B" else 2
        bold = arguments[first::step]
    else:
        bold = re.findall(r"\\fB(.*?)\\f[RP]", tag)
    return [name for name in map(plain, bold) if name[:1] in "-+"]


def documented(page: Page) -> dict[str | None, list[str]]:
    """Options of each OPTIONS subsection: None for a single command, else per command."""
    result: dict[str | None, list[str]] = {}
    for title, lines in page.subsections("OPTIONS"):
        key = _command_of(page.name, title)
        for tag, _ in entries(lines):
            result.setdefault(key, []).extend(option_names(tag))
    return result


def _command_of(page: str, title: str | None) -> str | None:
    """echocerts' subsections are ``echocerts <command>``; the other pages have one set."""
    if page != "echocerts" or title is None:
        return None
    words = title.split()
    return words[1] if len(words) > 1 else None


# --- what the code accepts ---------------------------------------------------------------


def click_commands(page: str) -> dict[str | None, click.Command]:
    """The Click command(s) behind a page, keyed as ``documented`` keys them."""
    if page == "echoscu":
        from echoscu.cli import main as echoscu_main
        from echoscu.clickcmd import build_command

        return {None: build_command(echoscu_main)}
    if page == "echoscp":
        from echoscp.cli import command

        return {None: command}
    from certs.cli import cli

    return {None: cli, **cli.commands}


def accepted(command: click.Command, group: click.Group | None = None) -> set[str]:
    """Every option name the command accepts, its help option included (whose names a
    group's context settings may set for its subcommands)."""
    parent = click.Context(group, **group.context_settings) if group else None
    ctx = click.Context(command, parent=parent, **command.context_settings)
    names: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    return names


def accepted_by(page: str) -> dict[str | None, set[str]]:
    """``accepted`` for each command behind a page, keyed as ``documented`` keys them."""
    commands = click_commands(page)
    group = commands[None] if isinstance(commands[None], click.Group) else None
    return {key: accepted(command, group if key else None) for key, command in commands.items()}


def openssl_dependent() -> set[str]:
    """Profile options a build accepts only if its OpenSSL has their suites."""
    here = available_profiles()
    return {name for p in PROFILES if p not in here for name in (p.short, p.long)}


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_accepted_option_is_documented(page: str) -> None:
    documented_options = documented(Page(page))
    missing = []
    for key, names in accepted_by(page).items():
        where = f"{page} {key}" if key else page
        for name in sorted(names - set(documented_options.get(key, []))):
            missing.append(f"{where} accepts {name}, but man/{page}.1 OPTIONS has no entry "
                           f"for it")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("page", PAGES)
def test_every_documented_option_is_accepted(page: str) -> None:
    commands = accepted_by(page)
    unknown = []
    for key, names in documented(Page(page)).items():
        assert key in commands, f"man/{page}.1 documents a command {key!r} that does not exist"
        for name in sorted(set(names) - commands[key] - openssl_dependent()):
            unknown.append(f"man/{page}.1 documents {name}, which {page} "
                           f"{key or ''} does not accept".replace("  ", " "))
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("page", PAGES)
def test_each_option_has_one_entry(page: str) -> None:
    for key, names in documented(Page(page)).items():
        repeated = sorted({name for name in names if names.count(name) > 1})
        assert not repeated, f"man/{page}.1 ({key or page}) lists {repeated} more than once"


def _table_outline() -> list[tuple[str, str]]:
    """(heading, option) for every option of echoscu's table, in --help order."""
    outline = []
    heading = ""
    for entry in TABLE.entries:
        if isinstance(entry, (Group, SubGroup)):
            heading = entry.title.rstrip(":").strip().lower()
        elif isinstance(entry, Option):
            outline.append((heading, entry.long))
    return outline


def _page_outline() -> list[tuple[str, str]]:
    """(heading, option) for echoscu.1's entries: .SS titles, and .I lines opening a paragraph."""
    outline = []
    for title, lines in Page("echoscu").subsections("OPTIONS"):
        heading = (title or "").lower()
        for position, line in enumerate(lines):
            starts_paragraph = position == 0 or lines[position - 1] == ".PP"
            if starts_paragraph and line.startswith(".I "):
                heading = macro_text(line).lower()
            elif line == ".TP":
                longs = [n for n in option_names(lines[position + 1]) if n.startswith("--")]
                outline.append((heading, longs[0] if longs else lines[position + 1]))
    return outline


def test_echoscu_options_are_grouped_as_in_help() -> None:
    """Same headings, same options under them, same order as ``echoscu --help``."""
    page, table = _page_outline(), _table_outline()
    problems = [f"{option}: --help has it under '{heading}', the page does not"
                for heading, option in table if (heading, option) not in page]
    problems += [f"{option}: the page has it under '{heading}', --help does not"
                 for heading, option in page if (heading, option) not in table]
    assert not problems, "\n".join(problems)
    assert page == table, "same entries, different order"


# --- parameters, defaults, identity ----------------------------------------------------


def _argument_names(command: click.Command) -> set[str]:
    names = set()
    commands = [command, *getattr(command, "commands", {}).values()]
    for each in commands:
        for param in each.params:
            if isinstance(param, click.Argument):
                names.add(param.human_readable_name.lower().rstrip("."))
    return names


@pytest.mark.parametrize("page", PAGES)
def test_parameters_are_the_arguments(page: str) -> None:
    tags = {macro_text(tag).lower() for tag, _ in entries(Page(page).sections["PARAMETERS"])}
    assert tags == _argument_names(click_commands(page)[None])


def _entry_bodies(page: str) -> dict[tuple[str | None, str], str]:
    """(command, option name) -> the plain text of its OPTIONS entry."""
    bodies = {}
    man = Page(page)
    for title, lines in man.subsections("OPTIONS"):
        key = _command_of(page, title)
        for tag, body in entries(lines):
            text = " ".join(macro_text(line) for line in body if not line.startswith(".TP"))
            for name in option_names(tag):
                bodies[(key, name)] = text
    return bodies


def _shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize("page", ["echoscp", "echocerts"])
def test_click_defaults_are_the_documented_defaults(page: str) -> None:
    """Every default --help shows is the one the page states (``default: <value>``)."""
    bodies = _entry_bodies(page)
    problems = []
    for key, command in click_commands(page).items():
        for param in command.params:
            if isinstance(param, click.Option) and param.show_default:
                text = bodies[(key, param.opts[-1])]
                if f"default: {_shown(param.default)}" not in text:
                    problems.append(f"{param.opts[-1]}: default {_shown(param.default)} "
                                    f"not stated in man/{page}.1 ({text!r})")
    assert not problems, "\n".join(problems)


def test_echoscu_defaults_are_the_documented_defaults() -> None:
    """The ``(default: n)`` of echoscu's help texts is stated in its entry."""
    bodies = _entry_bodies("echoscu")
    problems = []
    for option in TABLE.options:
        text = bodies.get((None, option.long))
        if text is None:
            continue  # test_every_accepted_option_is_documented names it
        for value in re.findall(r"default: ([^),]+)[),]", option.value_help + option.help):
            if value != "unlimited" and f"default: {value}" not in text:
                problems.append(f"{option.long}: default {value} not stated in man/echoscu.1")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_title_line_carries_version_and_date(page: str) -> None:
    title = Page(page).lines[0]
    assert title == f'.TH {page.upper()} 1 "{__date__}" "echoscu {__version__}" "User Commands"'


@pytest.mark.parametrize("page", PAGES)
def test_sections(page: str) -> None:
    """Every section the issue asks for, in its order, and no stub left."""
    man = Page(page)
    assert [s for s in man.sections if s in SECTIONS] == list(SECTIONS)
    assert "page being written" not in "\n".join(man.lines)


def test_wire_identity_is_stated() -> None:
    from dicomecho import IMPLEMENTATION_CLASS_UID, implementation_version_name

    echoscu = plain("\n".join(Page("echoscu").sections["NOTES"]))
    echoscp = plain("\n".join(Page("echoscp").sections["NOTES"]))
    assert IMPLEMENTATION_CLASS_UID in echoscu
    assert implementation_version_name("echoscu") in echoscu
    assert IMPLEMENTATION_CLASS_UID in echoscp and implementation_version_name("echoscp") in echoscp
    version_line = f"$echoscu: echoscu v{__version__} {__date__} $"
    assert version_line in echoscu


def test_detailed_exit_codes_are_the_code_s() -> None:
    """EXIT CODES lists every failure class of ``--exit-codes detailed`` with its code."""
    from echoscu.report import FAILURE_CLASSES

    tags = [macro_text(tag) for tag, _ in entries(Page("echoscu").sections["EXIT CODES"])]
    listed = {}
    for tag in tags:
        match = re.fullmatch(r"(\d+) ([a-z-]+)", tag)
        if match:
            listed[match.group(2)] = int(match.group(1))
    assert listed == {name: code for name, (code, _) in FAILURE_CLASSES.items()}


def test_environment_names_tcp_nodelay() -> None:
    for page in ("echoscu", "echoscp"):
        tags = [macro_text(tag) for tag, _ in entries(Page(page).sections["ENVIRONMENT"])]
        assert "TCP_NODELAY" in tags


# --- TLS profiles --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=[p.short for p in PROFILES])
def test_profile_suites_are_the_code_s(profile) -> None:
    """echoscu.1's NOTES list each profile's suites as certs.profiles has them, in order."""
    notes = dict(Page("echoscu").subsections("NOTES"))["TLS profiles"]
    bodies = [body for tag, body in entries(notes) if profile.short in option_names(tag)]
    assert len(bodies) == 1, f"no single NOTES entry for {profile.short}"
    listed = re.findall(r"\bTLS_[A-Z0-9_]+", "\n".join(bodies[0]))
    assert listed == [*profile.suites, *(profile.tls13_suites or ())]


# --- examples ------------------------------------------------------------------------------


def example_commands(page: str) -> list[list[str]]:
    """Our commands in the page's EXAMPLES blocks, continuation lines joined, as argv."""
    text = "\n".join(Page(page).sections["EXAMPLES"])
    commands = []
    for block in re.findall(r"^\.nf\n(.*?)^\.fi", text, flags=re.M | re.S):
        joined = plain(block).replace("\\\n", " ")
        for line in joined.splitlines():
            words = shlex.split(line)
            for stop in ("||", "&&", "&", "|", ";"):
                if stop in words:
                    words = words[:words.index(stop)]
            if words and words[0] in PAGES:
                commands.append(words)
    return commands


_PREPARE = """
import json, sys
from echoscu.cli import prepare
results = [type(prepare(args)).__name__ for args in json.loads(sys.argv[1])]
print(json.dumps(results))
"""


def test_examples_are_valid_command_lines() -> None:
    """Every example parses: echoscu lines through its own parser, the others through Click."""
    examples = [words for page in PAGES for words in example_commands(page)]
    programs = {words[0] for words in examples}
    assert programs == set(PAGES), f"examples of only {programs}"
    echoscu = [words[1:] for words in examples if words[0] == "echoscu"]
    result = subprocess.run([sys.executable, "-c", _PREPARE, json.dumps(echoscu)],
                            env=OUR_ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    refused = [args for args, kind in zip(echoscu, verdicts, strict=True)
               if kind != "EchoOptions"]
    assert refused == [], result.stderr
    for words in examples:
        if words[0] != "echoscu":
            _click_parse(click_commands(words[0])[None], words)


def _click_parse(command: click.Command, words: list[str]) -> None:
    """Parse ``words`` with Click (a group's subcommand too) without running anything."""
    if isinstance(command, click.Group):
        parent = click.Context(command, info_name=words[0], **command.context_settings)
        command.get_command(parent, words[1]).make_context(words[1], words[2:], parent=parent)
    else:
        command.make_context(words[0], words[1:])


# --- formatting ----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("groff") is None,
                    reason="groff is not installed (apt-get install groff-base)")
@pytest.mark.parametrize("page", PAGES)
def test_groff_formats_without_warnings(page: str) -> None:
    result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN / f"{page}.1")],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
