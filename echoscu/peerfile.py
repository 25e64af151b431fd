"""The ``--peers`` file: one peer a line, ``[AET@]host:port`` then ``setting=value`` words.

Read and checked here (bounded, every error naming its line); ``echoscu.fleet`` turns
each line into the options of one run.
"""

from __future__ import annotations

from dicomecho.userfiles import read_at_most
from echoscu.cmdline import CommandLineError

#: the largest --peers file we read (about a million peers)
PEERS_FILE_LIMIT = 64 << 20
_SETTINGS = ("aet", "tls", "key", "cert", "ca", "sni", "verify-hostname", "hostname", "to",
             "ts", "ta", "td", "probe", "find")
#: the peer settings that are timeouts, and the option field each sets
TIMEOUT_SETTINGS = {"to": "connect_timeout", "ts": "socket_timeout", "ta": "acse_timeout",
                    "td": "dimse_timeout"}
_AE_TITLE_MAX = 16


class PeerLine:
    """One line of the peers file: where, who, and its own settings."""

    __slots__ = ("line", "called_aet", "host", "port", "ipv6", "settings")

    def __init__(self, line: int, called_aet: str | None, host: str, port: int, ipv6: bool,
                 settings: dict[str, str]) -> None:
        self.line = line
        self.called_aet = called_aet
        self.host = host
        self.port = port
        #: the address was written in brackets
        self.ipv6 = ipv6
        self.settings = settings


def read_peers(path: str) -> list[PeerLine]:
    """The peers of ``path``; CommandLineError (file and line named) if anything is wrong."""
    try:
        data = read_at_most(path, PEERS_FILE_LIMIT)
    except OSError as error:
        raise CommandLineError(f"cannot read peers file '{path}': {error.strerror}") from None
    if data is None:
        raise CommandLineError(f"peers file '{path}' is larger than {PEERS_FILE_LIMIT >> 20} MiB")
    text = data.decode("utf-8", "surrogateescape")
    peers = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        try:
            peers.append(parse_peer_line(number, words))
        except ValueError as problem:
            raise CommandLineError(f"peers file '{path}' line {number}: {problem}") from None
    if not peers:
        raise CommandLineError(f"peers file '{path}' lists no peer")
    return peers


def parse_peer_line(number: int, words: list[str]) -> PeerLine:
    """``[AET@]host:port setting=value ...`` (ValueError with the reason if malformed)."""
    address = words[0]
    called_aet = None
    if "@" in address:
        called_aet, address = address.rsplit("@", 1)
        _check_ae_title(called_aet)
    ipv6 = address.startswith("[")
    if ipv6:
        host, bracket, rest = address[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"'{words[0]}' is not [address]:port")
        port_text = rest[1:]
    else:
        host, colon, port_text = address.rpartition(":")
        if not colon:
            raise ValueError(f"'{words[0]}' has no :port")
    if not host:
        raise ValueError(f"'{words[0]}' has no host")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port '{port_text}' is not a number from 1 to 65535")
    settings: dict[str, str] = {}
    for word in words[1:]:
        name, equals, value = word.partition("=")
        if not equals or name not in _SETTINGS:
            raise ValueError(f"'{word}' is not one of {', '.join(s + '=' for s in _SETTINGS)}")
        settings[name] = value
    _check_settings(settings)
    return PeerLine(number, called_aet, host, int(port_text), ipv6, settings)


def _check_ae_title(title: str) -> None:
    if not title:
        raise ValueError("empty AE title before '@'")
    if len(title) > _AE_TITLE_MAX:
        raise ValueError(f"AE title '{title}' is longer than {_AE_TITLE_MAX} characters")


def _check_settings(settings: dict[str, str]) -> None:
    if "aet" in settings:
        _check_ae_title(settings["aet"])
    tls = settings.get("tls")
    if tls not in (None, "on", "off"):
        raise ValueError(f"tls={tls}: use tls=on or tls=off")
    if ("key" in settings) != ("cert" in settings):
        raise ValueError("key= and cert= go together")
    verify = settings.get("verify-hostname")
    if verify not in (None, "on", "off"):
        raise ValueError(f"verify-hostname={verify}: use verify-hostname=on or verify-hostname=off")
    if "hostname" in settings:
        from certs.hostname import usable_reference

        if verify == "off":
            raise ValueError("hostname= with verify-hostname=off")
        if not usable_reference(settings["hostname"]):
            raise ValueError(f"hostname={settings['hostname']}: not a host name or IP address")
    if tls == "off" and any(name in settings for name in ("key", "cert", "ca", "sni",
                                                             "hostname")):
        raise ValueError("tls=off with TLS settings")
    if tls == "off" and verify == "on":
        raise ValueError("tls=off with TLS settings")
    for name in TIMEOUT_SETTINGS:
        value = settings.get(name)
        if value is not None and not value.isdigit():
            raise ValueError(f"{name}={value}: seconds as a whole number")
    find = settings.get("find")
    if find not in (None, "on", "off"):
        raise ValueError(f"find={find}: use find=on or find=off")
    if "probe" in settings:
        peer_probes(settings["probe"])


def peer_probes(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``probe=CLASS[:TS,...];CLASS...`` as ``EchoOptions.probes`` (ValueError if malformed;
    pydicom's keyword table is loaded only here)."""
    from echoscu.sopclasses import parse_probe

    probes = []
    for item in text.split(";"):
        if not item:
            raise ValueError(f"probe={text}: empty SOP class")
        probes.extend(parse_probe(item))
    return probes
