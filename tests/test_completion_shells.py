"""Shell completion of the three commands, asked for the way bash, zsh and fish ask.

Each shell's completion script (``_ECHOSCU_COMPLETE=bash_source echoscu`` ...) runs the
command with ``_<NAME>_COMPLETE=<shell>_complete`` and the words typed so far in
``COMP_WORDS``/``COMP_CWORD``; these tests do the same on real processes and read
the answer in each shell's format. One test also sources the bash script into a
real bash and calls its completion function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certs.options import PROFILE_NAMES
from certs.profiles import available_profiles, supported_ciphersuites
from echoscu.helptext import TABLE

REPO = Path(__file__).resolve().parent.parent
#: run the working tree's code even when a copy of the package is installed in site-packages
OUR_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
#: how each command is started, and the variable that asks it for completions
COMMANDS = {
    "echoscu": (["-m", "echoscu"], "_ECHOSCU_COMPLETE"),
    "echoscp": (["-m", "echoscp"], "_ECHOSCP_COMPLETE"),
    "echocerts": (["-m", "certs.cli"], "_ECHOCERTS_COMPLETE"),
}

pytestmark = pytest.mark.timeout(60)


def _request(line: str, shell: str) -> dict[str, str]:
    """The environment a shell sets to ask for completions of the last word of ``line``.

    ``line`` is what was typed; a trailing blank means a new, empty word.
    """
    words = line.split()
    incomplete = "" if line.endswith(" ") else words[-1]
    env = {COMMANDS[words[0]][1]: f"{shell}_complete", "COMP_WORDS": line}
    if shell == "fish":  # fish hands over the line up to the cursor and the current token
        env["COMP_CWORD"] = incomplete
    else:
        env["COMP_CWORD"] = str(len(words) - 1 if incomplete else len(words))
    return env


def _run_main(command: str) -> None:
    """Call the command's entry point as its console script does (argv is not looked at)."""
    if command == "echoscu":
        from echoscu.cli import main
    elif command == "echoscp":
        from echoscp.cli import main
    else:
        from certs.cli import main
    try:
        code = main([])
    except SystemExit as stop:
        code = stop.code
    assert code in (0, None)


@pytest.fixture
def ask(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``ask(line, shell)``: the (type, value) pairs the command offers, asked in-process."""

    def ask(line: str, shell: str = "bash") -> list[tuple[str, str]]:
        with monkeypatch.context() as patch:
            for name, value in _request(line, shell).items():
                patch.setenv(name, value)
            _run_main(line.split()[0])
        out, err = capsys.readouterr()
        assert err == ""
        return _parse(out, shell)

    return ask


@pytest.fixture
def values(ask):
    """``values(line, shell)``: the plain words offered (no file or directory hand-over)."""

    def values(line: str, shell: str = "bash") -> list[str]:
        answer = ask(line, shell)
        assert {kind for kind, _ in answer} <= {"plain"}, answer
        return [value for _, value in answer]

    return values


def _parse(output: str, shell: str) -> list[tuple[str, str]]:
    """Read the answer: bash's ``type,value`` lines, zsh's type/value/help line triples,
    fish's ``type,value<TAB>help`` lines."""
    if shell == "zsh":
        lines = output.splitlines()
        return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 3)]
    pairs = []
    for line in output.splitlines():
        kind, _, value = line.partition(",")
        pairs.append((kind, value.split("\t")[0]))
    return pairs


# --- echoscu ---------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_echoscu_cipher_names(values, shell: str) -> None:
    """``+cs <TAB>`` offers the suites ``+cc`` lists; what was typed narrows them."""
    assert values("echoscu +tls k c +cs ", shell) == supported_ciphersuites()
    prefix = "TLS_ECDHE_RSA_WITH_AES_128"
    expected = [name for name in supported_ciphersuites() if name.startswith(prefix)]
    assert len(expected) >= 3
    assert values(f"echoscu +cs {prefix}", shell) == expected
    assert values(f"echoscu --cipher {prefix.lower()}", shell) == expected


def test_echoscu_log_levels(values) -> None:
    assert values("echoscu -ll ") == ["fatal", "error", "warn", "info", "debug", "trace"]
    assert values("echoscu --log-level W") == ["warn"]


@pytest.mark.parametrize("line, kind", [
    ("echoscu +tls ", "file"),          # private key
    ("echoscu +tls client.key ", "file"),  # certificate: the second value of +tls
    ("echoscu -lc ", "file"),
    ("echoscu +cf ", "file"),
    ("echoscu +crl ", "file"),
    ("echoscu +vc ", "file"),
    ("echoscu +rc ", "file"),
    ("echoscu +rs ", "file"),
    ("echoscu +rs seed +wf ", "file"),
    ("echoscu +cd ", "dir"),
])
def test_echoscu_paths_go_to_the_shell(ask, line: str, kind: str) -> None:
    """File and directory values are left to the shell's own path completion."""
    assert ask(line) == [(kind, "")]
    assert ask(line + "ca", "zsh") == [(kind, "ca")]


def test_echoscu_every_file_option_goes_to_the_shell(ask) -> None:
    """Whatever option the table adds, a ``[f]ilename`` value is completed as a path."""
    longs = [o.long for o in TABLE.options if o.is_available()
             and o.value_help.startswith("[f]ilename")]
    assert len(longs) >= 8
    for long in longs:
        assert ask(f"echoscu {long} ") == [("file", "")], long


def test_echoscu_string_constants(values) -> None:
    """Every ``string constant`` option offers the values its help lists."""
    from echoscu.clickcmd import string_constants

    constants = {o.long: string_constants(o) for o in TABLE.options if o.is_available()}
    constants = {long: choices for long, choices in constants.items() if choices}
    assert constants["--log-level"] == ("fatal", "error", "warn", "info", "debug", "trace")
    for long, choices in constants.items():
        assert values(f"echoscu {long} ") == list(choices), long


def test_echoscu_option_names(values) -> None:
    """``--<TAB>`` offers every long option of the table, ``+p`` the profiles here."""
    longs = [option.long for option in TABLE.options if option.is_available()]
    assert values("echoscu --") == longs
    assert values("echoscu +p") == ["+ps", "+pw", "+ph",
                                     *(p.short for p in available_profiles())]
    assert "--aetitle" in values("echoscu -v --a")


def test_echoscu_completion_after_a_tls_pair(values) -> None:
    """Both values of ``+tls`` are consumed before the next word is an option again."""
    assert values("echoscu +tls k c -pe") == ["-pem"]


# --- echoscp ---------------------------------------------------------------------------


def test_echoscp_values(values) -> None:
    assert values("echoscp +tls k c +cs TLS_DHE_RSA_WITH_AES_256") == [
        name for name in supported_ciphersuites() if name.startswith("TLS_DHE_RSA_WITH_AES_256")]
    assert values("echoscp -ll c") == ["critical"]
    assert values("echoscp +p") == ["+ps", "+pw", "+ph",
                                     *(p.short for p in available_profiles())]
    assert values("echoscp -x") == ["-x=", "-xe", "-xb", "-xi"]


@pytest.mark.parametrize("line, kind", [
    ("echoscp +tls ", "file"), ("echoscp +tls server.key ", "file"), ("echoscp +cf ", "file"),
    ("echoscp +crl ", "file"), ("echoscp +dp ", "file"), ("echoscp +rs ", "file"),
    ("echoscp +wf ", "file"), ("echoscp --log-json ", "file"), ("echoscp +cd ", "dir"),
])
def test_echoscp_paths_go_to_the_shell(ask, line: str, kind: str) -> None:
    assert ask(line) == [(kind, "")]


# --- echocerts -------------------------------------------------------------------------


def test_echocerts_subcommands_and_choices(values) -> None:
    assert values("echocerts ") == ["check", "export", "init", "issue", "show"]
    assert values("echocerts check --profile ") == list(PROFILE_NAMES)
    assert values("echocerts check --role s") == ["server"]
    assert values("echocerts init --key ec") == ["ec256", "ec384"]
    assert values("echocerts check --c") == ["--cert", "--ca", "--crl"]
    assert values("echocerts issue --key rsa") == ["rsa2048", "rsa3072"]
    assert values("echocerts issue --ca") == ["--ca-password"]


def test_echocerts_export_offers_the_identities(values, tmp_path) -> None:
    """NAME of ``export``: the stems with a .key and a .pem in DIRECTORY, the CA left out."""
    for stem in ("ca", "client1", "server", "node"):
        (tmp_path / f"{stem}.pem").touch()
        (tmp_path / f"{stem}.key").touch()
    (tmp_path / "lonely.key").touch()
    assert values(f"echocerts export {tmp_path} ") == ["client1", "node", "server"]
    assert values(f"echocerts export --p12 {tmp_path} s") == ["server"]


@pytest.mark.parametrize("line, kind", [
    ("echocerts check --cert ", "file"), ("echocerts check --key ", "file"),
    ("echocerts check --ca ", "file"), ("echocerts check --crl ", "file"),
    ("echocerts show ", "file"), ("echocerts show a.pem ", "file"), ("echocerts init ", "dir"),
    ("echocerts issue ", "dir"), ("echocerts export ", "dir"), ("echocerts export --p12 ", "dir"),
])
def test_echocerts_paths_go_to_the_shell(ask, line: str, kind: str) -> None:
    assert ask(line) == [(kind, "")]


# --- whole processes ---------------------------------------------------------------------


@pytest.mark.parametrize("line, expected", [
    ("echoscu +cs TLS_ECDHE_RSA_WITH_AES_128_G", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]),
    ("echoscp +tls k c +cs TLS_ECDHE_RSA_WITH_AES_256_G",
     ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]),
    ("echocerts check --profile 8996", ["8996", "8996-mod"]),
])
def test_a_started_command_answers(line: str, expected: list[str]) -> None:
    """The variable works on a whole process (``python -m``, as the console script runs)."""
    args, _ = COMMANDS[line.split()[0]]
    result = subprocess.run([sys.executable, *args], env={**OUR_ENV, **_request(line, "bash")},
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [f"plain,{value}" for value in expected]


# --- the real bash script ----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_completes_cipher_names(tmp_path: Path) -> None:
    """Source what ``_ECHOSCU_COMPLETE=bash_source`` prints and call its function as bash does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "echoscu"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m echoscu "$@"\n')
    wrapper.chmod(0o755)
    script = (
        'eval "$(_ECHOSCU_COMPLETE=bash_source echoscu)"\n'
        "COMP_WORDS=(echoscu +cs TLS_ECDHE_ECDSA_WITH_AES_256_G); COMP_CWORD=2\n"
        "_echoscu_completion echoscu\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**OUR_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]
