"""Help, Click command and import discipline: one option table, three views, a light hot path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from echoscu.helptext import TABLE

REPO = Path(__file__).resolve().parent.parent
#: run the working tree's code even when a copy of the package is installed in site-packages
OUR_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def test_profile_options_match_certs_profiles() -> None:
    """The table's profile rows (names, help) are the TLS engineer's profiles, in help order."""
    from certs.profiles import PROFILES

    ours = [option for option in TABLE.options if option.long.startswith("--profile-")]
    assert [(o.short, o.long, o.help) for o in ours] == [(p.short, p.long, p.help)
                                                         for p in PROFILES]
    assert [o.row.sets["profile"] for o in ours] == [p.key for p in PROFILES]
    assert {o.row.block for o in ours} == {"profile"}


def test_click_command_mirrors_the_table() -> None:
    """Every available option is a Click option with the same names and value count."""
    from echoscu.cli import main as echoscu_main
    from echoscu.clickcmd import build_command

    command = build_command(echoscu_main)
    click_options = {tuple(param.opts): param for param in command.params
                     if param.param_type_name == "option"}
    expected = {((o.short, o.long) if o.short else (o.long,)): o for o in TABLE.options
                if o.is_available()}
    assert set(click_options) == set(expected)
    for names, option in expected.items():
        param = click_options[names]
        assert param.is_flag == (option.nvalues == 0)
        if option.nvalues:
            assert param.nargs == option.nvalues
    assert [param.name for param in command.params if param.param_type_name == "argument"] == [
        "peer", "port"]


def test_man_page_names_every_option() -> None:
    """The installed man page documents every option of the table (long and short name)."""
    man = (REPO / "man" / "echoscu.1").read_text()
    if "page being written" in man:
        pytest.skip("man page not written yet")
    text = man.replace("\\-", "-").replace("\\(pl", "+")
    missing = [o.long for o in TABLE.options if not re.search(re.escape(o.long) + r"\b", text)]
    missing += [o.short for o in TABLE.options
                if o.short and not re.search(r"(?<![\w-])" + re.escape(o.short) + r"\b", text)]
    assert missing == []


def test_click_command_runs_echoscu_on_the_raw_arguments(capsys) -> None:
    """Click only describes the options; DCMTK's rules still decide (-aet takes -v)."""
    from echoscu.cli import main as echoscu_main
    from echoscu.clickcmd import build_command

    with pytest.raises(SystemExit) as stop:
        build_command(echoscu_main).main(["--arguments", "-aet", "-v", "-pdu", "1", "h", "1"],
                             prog_name="echoscu")
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "'--aetitle' '-v' '--max-pdu' '1'" in err
    assert err.endswith("error: Invalid value for option --max-pdu (underflow: 1)\n")


def _complete(words: str, cword: int) -> list[str]:
    env = {**OUR_ENV, "_ECHOSCU_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    result = subprocess.run([sys.executable, "-m", "echoscu"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.timeout(60)
def test_shell_completion_of_option_names() -> None:
    assert _complete("echoscu --ver", 1) == ["plain,--version", "plain,--verbose",
                                             "plain,--verify-cert", "plain,--verify-hostname",
                                             "plain,--verify-hostname-as"]
    assert _complete("echoscu +tl", 1) == ["plain,+tls", "plain,+tla"]


@pytest.mark.timeout(60)
def test_shell_completion_of_log_levels() -> None:
    assert _complete("echoscu -ll d", 2) == ["plain,debug"]


def _imported_modules(args: list[str]) -> tuple[set[str], subprocess.CompletedProcess]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "echoscu", *args],
                            env=OUR_ENV, capture_output=True, text=True, timeout=60)
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return names, result


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args", [["--version"], ["--bogus"], ["-pdu", "1", "h", "1"],
                                  ["h", "0"], ["--help"]])
def test_no_heavy_imports(args: list[str]) -> None:
    """--version, --help and command-line errors never load click, ssl or logging (D3, T6)."""
    names, result = _imported_modules(args)
    assert "echoscu.cli" in names, result.stderr[-2000:]
    assert not names & {"click", "ssl", "logging", "echoscu.clickcmd", "echoscu.driver"}


@pytest.mark.timeout(60)
def test_parse_errors_do_not_touch_tls_or_dataclasses() -> None:
    """A plain parse error needs nothing but the parser (no _ssl, no options dataclasses)."""
    names, _ = _imported_modules(["--bogus"])
    assert not names & {"_ssl", "certs.profiles", "dataclasses", "echoscu.options"}
