"""--serve: the Prometheus probe endpoint, scraped over real sockets.

Each test starts ``python -m echoscu --serve 127.0.0.1:0 --peers FILE`` as a subprocess,
reads the bound port from its ``I: serving probes on`` line, scrapes it with urllib
while the targets succeed (our echoscp, DCMTK's storescp), refuse the connection,
reject the association, never answer, or speak TLS, and ends it with SIGTERM. A scrape
with Prometheus' Accept header gets OpenMetrics, any other the classic text format 0.0.4;
every answer goes through a strict parser of its format, the classic one also through
``promtool check metrics`` where it is installed.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.beyond import OUR_ENV, echoscu

pytestmark = [pytest.mark.timeout(120)]

HOST = "127.0.0.1"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
CLASSIC = "text/plain; version=0.0.4; charset=utf-8"
#: what Prometheus 2.x asks for (2.42 adds openmetrics-text;version=0.0.1;q=0.75)
PROMETHEUS_ACCEPT = ("application/openmetrics-text; version=1.0.0,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 30.0


# -- a strict OpenMetrics text parser ---------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(rf"({_NAME})(?:\{{((?:{_LABEL})(?:,{_LABEL})*)?\}})? (\S+)")
_SUFFIXES = {"gauge": ("",), "counter": ("_total", "_created"), "info": ("_info",),
             "unknown": ("",)}


def parse_openmetrics(text: str) -> dict[str, dict]:
    """Families by name: {"type", "help", "unit", "samples": {(name, labels): value}}.

    Fails the test on anything the OpenMetrics 1.0 text format does not allow here:
    a missing or early ``# EOF``, metadata after samples or repeated, a family split in
    two, a sample whose name does not fit its family's type, bad label syntax or escapes,
    duplicate label names or series, an unparsable value.
    """
    assert text.endswith("# EOF\n"), text[-200:]
    lines = text[:-1].split("\n")
    assert lines.pop() == "# EOF"
    families: dict[str, dict] = {}
    current: str | None = None
    for line in lines:
        assert line and line == line.strip(), f"blank or padded line: {line!r}"
        if line.startswith("#"):
            match = re.fullmatch(rf"# (TYPE|HELP|UNIT) ({_NAME}) ?(.*)", line)
            assert match, f"bad metadata line: {line!r}"
            kind, name, value = match.groups()
            if kind == "TYPE":
                assert name not in families, f"family {name} declared twice"
                assert value in _SUFFIXES, f"type {value}"
                families[name] = {"type": value, "help": None, "unit": None, "samples": {}}
                current = name
                continue
            assert name == current, f"{kind} for {name} outside its family"
            family = families[name]
            assert not family["samples"], f"{kind} after samples of {name}"
            key = kind.lower()
            assert family[key] is None, f"{kind} twice for {name}"
            if kind == "UNIT":
                assert name.endswith("_" + value), f"unit {value} not a suffix of {name}"
            assert "\\" not in value.replace("\\\\", "").replace("\\n", ""), line
            family[key] = value
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, f"bad sample line: {line!r}"
        name, label_text, value_text = match.group(1), match.group(2), match.groups()[-1]
        assert current is not None and any(
            name == current + suffix for suffix in _SUFFIXES[families[current]["type"]]), \
            f"sample {name} outside its family ({current})"
        labels = tuple(re.findall(_LABEL, label_text or ""))
        names = [label for label, _ in labels]
        assert len(names) == len(set(names)), f"repeated label: {line!r}"
        value = float(value_text)  # accepts NaN and +Inf/-Inf as the format does
        assert value_text.lower() not in ("inf", "-inf", "+inf") or value_text[-3:] == "Inf"
        series = (name, labels)
        samples = families[current]["samples"]
        assert series not in samples, f"series twice: {line!r}"
        if families[current]["type"] == "counter":
            assert value >= 0 and not math.isnan(value), line
        if families[current]["type"] == "info":
            assert value == 1, line
        samples[series] = value
    _cross_check(text)
    return families


def _cross_check(text: str) -> None:
    """Also parse with the Prometheus Python client's OpenMetrics parser, where installed."""
    try:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    except ImportError:
        return
    list(text_string_to_metric_families(text))


def value(families: dict[str, dict], name: str, **labels: str) -> float | None:
    """The value of the one sample of family ``name`` carrying ``labels`` (None if absent)."""
    family = families.get(name)
    if family is None:
        return None
    found = [sample_value for (_, sample_labels), sample_value in family["samples"].items()
             if set(labels.items()) <= set(sample_labels)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def labels_of(families: dict[str, dict], name: str) -> list[dict[str, str]]:
    """The label sets of family ``name``'s samples."""
    return [dict(sample_labels) for (_, sample_labels) in families.get(name, {"samples": {}})
            ["samples"]]


def test_parser_rejects_malformed_text() -> None:
    good = "# TYPE a gauge\n# HELP a x\na 1\n# EOF\n"
    assert value(parse_openmetrics(good), "a") == 1
    for bad in ("# TYPE a gauge\na 1\n",                      # no # EOF
                "# TYPE a gauge\na 1\n# EOF\n\n",             # text after # EOF
                "a 1\n# EOF\n",                               # sample without family
                "# TYPE a gauge\na_total 1\n# EOF\n",         # suffix the type does not allow
                "# TYPE a counter\na 1\n# EOF\n",             # counter sample without _total
                '# TYPE a gauge\na{b="1",b="2"} 1\n# EOF\n',  # repeated label
                '# TYPE a gauge\na{b="\\x"} 1\n# EOF\n',      # bad escape
                "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n",   # metadata after samples
                "# TYPE a_seconds gauge\n# UNIT a_seconds bytes\n# EOF\n"):
        with pytest.raises(AssertionError):
            parse_openmetrics(bad)


# -- a strict parser of the classic text format 0.0.4 ----------------------------------


def parse_classic(text: str) -> dict[str, dict]:
    """Families by name, as parse_openmetrics gives them (``unit`` always None).

    Fails the test on anything the classic Prometheus text format does not allow, or
    that we never write in it: OpenMetrics' ``# EOF`` and ``# UNIT``, a type other than
    gauge or counter (an info family is a gauge), a counter not named ``..._total``, a
    sample without its TYPE or outside its family, metadata after samples or repeated, a
    family split in two, a timestamp, bad label syntax or escapes, duplicate label names
    or series, an unparsable value, a HELP escape other than backslash and newline.
    """
    assert text.endswith("\n") and "# EOF" not in text, text[-200:]
    families: dict[str, dict] = {}
    current: str | None = None
    for line in text[:-1].split("\n"):
        assert line and line == line.strip(), f"blank or padded line: {line!r}"
        if line.startswith("#"):
            match = re.fullmatch(rf"# (TYPE|HELP) ({_NAME})(?: (.*))?", line)
            assert match, f"not HELP or TYPE (none other is written): {line!r}"
            kind, name, value = match.groups()
            if name != current:
                assert name not in families, f"family {name} split or declared twice"
                families[name] = {"type": None, "help": None, "unit": None, "samples": {}}
                current = name
            family = families[name]
            assert not family["samples"], f"{kind} after samples of {name}"
            assert family[kind.lower()] is None, f"{kind} twice for {name}"
            if kind == "TYPE":
                assert value in ("gauge", "counter"), f"type {value}"
                assert (value == "counter") == name.endswith("_total"), line
            else:
                assert value and "\\" not in value.replace("\\\\", "").replace("\\n", ""), line
            family[kind.lower()] = value
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, f"bad sample line (or a timestamp): {line!r}"
        name, label_text, value_text = match.group(1), match.group(2), match.groups()[-1]
        assert name == current and families[name]["type"], f"sample {name} without its TYPE"
        labels = tuple(re.findall(_LABEL, label_text or ""))
        names = [label for label, _ in labels]
        assert len(names) == len(set(names)), f"repeated label: {line!r}"
        value = float(value_text)
        samples = families[name]["samples"]
        assert (name, labels) not in samples, f"series twice: {line!r}"
        if families[name]["type"] == "counter":
            assert value >= 0 and not math.isnan(value), line
        samples[(name, labels)] = value
    return families


def as_classic(families: dict[str, dict]) -> dict[str, dict]:
    """Parsed OpenMetrics families as the classic format names and types them: a counter
    by its ``_total`` samples, an info family as the gauge ``<name>_info``, no unit."""
    classic = {}
    for name, family in families.items():
        suffix = {"counter": "_total", "info": "_info"}.get(family["type"], "")
        classic[name + suffix] = {**family, "unit": None,
                                  "type": "gauge" if family["type"] == "info" else
                                  family["type"]}
    return classic


def test_classic_parser_rejects_malformed_text() -> None:
    good = '# HELP a_total x\n# TYPE a_total counter\na_total{b="1"} 2\n# TYPE c gauge\nc 1\n'
    assert value(parse_classic(good), "a_total", b="1") == 2
    for bad in ("# TYPE a gauge\na 1\n# EOF\n",                  # OpenMetrics' end
                "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n",
                "# TYPE a counter\na 1\n",                        # counter without _total
                "# TYPE a_total gauge\na_total 1\n",              # _total not a counter
                "# TYPE a_info info\na_info 1\n",                 # no info type here
                "# TYPE a gauge\na 1 1700000000000\n",            # a timestamp
                "a 1\n",                                          # no TYPE
                "# TYPE a gauge\n# TYPE b gauge\na 1\n",          # outside its family
                "# TYPE a gauge\na 1\n# HELP a x\n",              # metadata after samples
                "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n",
                '# TYPE a gauge\na{b="1",b="2"} 1\n',             # repeated label
                "# TYPE a gauge\n# HELP a x\\y\na 1\n",          # bad HELP escape
                "# TYPE a gauge\na 1"):                           # no final newline
        with pytest.raises(AssertionError):
            parse_classic(bad)


def promtool_check(promtool: str, text: str) -> None:
    """``promtool check metrics`` (parse and lint) accepts ``text`` on its stdin."""
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr + text


def probe_path(target: str) -> str:
    from urllib.parse import quote

    return f"/probe?target={quote(target)}"


# -- the exporter as a subprocess -------------------------------------------------------


class Exporter:
    """``echoscu -v --serve 127.0.0.1:0 --peers FILE`` running; ``stop()`` always ends it."""

    def __init__(self, workdir: Path, peers: Path, *extra: str) -> None:
        self.err_path = workdir / f"exporter-{time.monotonic_ns()}.err"
        self._err = open(self.err_path, "w+b")  # noqa: SIM115 - closed by stop()
        env = {**os.environ, **OUR_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "echoscu", "-v", "--serve", f"{HOST}:0", "--peers",
             str(peers), *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err, env=env)
        self.returncode: int | None = None
        self.port = self._bound_port()

    def _bound_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(rf"^I: serving probes on http://{re.escape(HOST)}:(\d+)/",
                              self.stderr, re.MULTILINE)
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the exporter did not start:\n{self.stderr}")

    @property
    def stderr(self) -> str:
        return self.err_path.read_bytes().decode("utf-8", "backslashreplace")

    def get(self, path: str, headers: dict[str, str] | None = None,
            timeout: float = HTTP_TIMEOUT) -> tuple[int, str, str]:
        """(status, content type, body) of GET ``path``."""
        request = urllib.request.Request(f"http://{HOST}:{self.port}{path}",
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers["Content-Type"], error.read().decode()

    def probe(self, target: str, **headers: str) -> dict[str, dict]:
        """Probe ``target`` as Prometheus does (200 expected); the parsed OpenMetrics."""
        status, content_type, body = self.get(probe_path(target),
                                              {"Accept": PROMETHEUS_ACCEPT, **headers})
        assert status == 200, (target, status, body)
        assert content_type == OPENMETRICS
        return parse_openmetrics(body)

    def metrics(self) -> dict[str, dict]:
        status, content_type, body = self.get("/metrics", {"Accept": PROMETHEUS_ACCEPT})
        assert status == 200 and content_type == OPENMETRICS, body
        return parse_openmetrics(body)

    def classic(self, path: str) -> str:
        """GET ``path`` without an Accept header (200 expected): the classic text."""
        status, content_type, body = self.get(path)
        assert status == 200 and content_type == CLASSIC, (path, status, body)
        return body

    def terminate(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``signum``; (exit code, seconds until the process ended)."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - sent
        return self.stop(), elapsed

    def stop(self) -> int:
        """End the process (SIGTERM, then SIGKILL) and return its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._err.close()
        self.returncode = self.process.returncode
        return self.returncode


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator:
    """Factory: ``exporter(peer_lines, *extra_args) -> Exporter``; all stopped at teardown."""
    started: list[Exporter] = []

    def start(lines: list[str], *extra: str) -> Exporter:
        peers = tmp_path / f"peers{len(started)}.txt"
        peers.write_text("\n".join(lines) + "\n")
        running = Exporter(tmp_path, peers, *extra)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port that accepts TCP connections (the kernel's backlog) and never
    answers: an association request there waits for -ta."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(16)
        yield listener.getsockname()[1]


# -- probes -----------------------------------------------------------------------------


def test_probe_outcomes_and_target_matching(exporter, scp, closed_port, silent_port) -> None:
    plain = scp().port
    picky = scp("-aet", "RIGHT", "--require-called-aet").port
    running = exporter([
        "# targets the exporter may probe",
        f"{HOST}:{plain}",
        f"RIGHT@{HOST}:{picky}",
        f"WRONG@{HOST}:{picky}",
        f"{HOST}:{closed_port}",
        f"SILENT@{HOST}:{silent_port}  ta=1 td=1",
        f"LATE@{HOST}:{silent_port}",
        f"MIXED@LocalHost:{plain}  aet=PROBER",
    ])
    before = running.metrics()
    assert value(before, "dicom_echo_exporter_probes", result="success") == 0
    assert value(before, "dicom_echo_exporter_targets") == 7

    ok = running.probe(f"{HOST}:{plain}")
    assert value(ok, "dicom_echo_success") == 1 and value(ok, "dicom_echo_up") == 1
    assert "dicom_echo_failure" not in ok
    phases = {labels["phase"] for labels in labels_of(ok, "dicom_echo_phase_duration_seconds")}
    assert {"connect", "associate", "echo", "release"} <= phases
    assert 0 < value(ok, "dicom_echo_rtt_seconds") < value(ok, "dicom_echo_duration_seconds")
    assert value(ok, "dicom_echo_status") == 0
    assert labels_of(ok, "dicom_echo_probe") == [
        {"peers_file_line": "2", "called_aet": "ANY-SCP", "calling_aet": "ECHOSCU",
         "tls": "off"}]
    assert ok["dicom_echo_duration_seconds"]["unit"] == "seconds"
    assert "dicom_echo_tls" not in ok and "dicom_echo_cert_expiry_seconds" not in ok

    assert value(running.probe(f"RIGHT@{HOST}:{picky}"), "dicom_echo_success") == 1
    rejected = running.probe(f"WRONG@{HOST}:{picky}")
    assert value(rejected, "dicom_echo_success") == 0
    assert labels_of(rejected, "dicom_echo_failure") == [{"class": "rejected",
                                                          "phase": "associate"}]
    refused = running.probe(f"{HOST}:{closed_port}")
    assert labels_of(refused, "dicom_echo_failure")[0]["class"] == "refused"
    assert "dicom_echo_rtt_seconds" not in refused

    started = time.monotonic()
    silent = running.probe(f"SILENT@{HOST}:{silent_port}")
    assert time.monotonic() - started < 10
    assert labels_of(silent, "dicom_echo_failure")[0]["class"] == "associate-timeout"
    # no ta= on the line (30 s): Prometheus' scrape timeout header bounds the probe
    started = time.monotonic()
    late = running.probe(f"LATE@{HOST}:{silent_port}",
                         **{"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    assert time.monotonic() - started < 10
    assert labels_of(late, "dicom_echo_failure")[0]["class"] == "associate-timeout"

    # the host as written, in any case; the line's own calling AE title
    mixed = running.probe(f"MIXED@localhost:{plain}")
    assert value(mixed, "dicom_echo_success") == 1
    assert labels_of(mixed, "dicom_echo_probe")[0]["calling_aet"] == "PROBER"

    # not in the file, or ambiguous: 403 and no connection
    for target in (f"{HOST}:1", f"OTHER@{HOST}:{plain}", f"{HOST}:{picky}",
                   f"127.0.0.2:{plain}", f"RIGHT@{HOST}:{plain}"):
        status, content_type, body = running.get(f"/probe?target={target}")
        assert status == 403, (target, body)
        assert content_type.startswith("text/plain")
    # missing or malformed: 400; another path: 404
    for path in ("/probe", "/probe?target=", f"/probe?target={HOST}",
                 f"/probe?target={HOST}:{plain}&target={HOST}:{plain}",
                 "/probe?target=a%20b:104", f"/probe?target=@{HOST}:{plain}",
                 f"/probe?target={HOST}:99999"):
        assert running.get(path)[0] == 400, path
    for path in ("/", "/probes", "/metrics/x", "/probe/x?target=a:1"):
        assert running.get(path)[0] == 404, path

    after = running.metrics()
    assert value(after, "dicom_echo_exporter_probes", result="success") == 3
    assert value(after, "dicom_echo_exporter_probes", result="failure") == 4
    assert value(after, "dicom_echo_exporter_probe_failures", **{"class": "refused"}) == 1
    assert value(after, "dicom_echo_exporter_probe_failures",
                 **{"class": "associate-timeout"}) == 2
    assert value(after, "dicom_echo_exporter_requests", code="403") == 5
    assert value(after, "dicom_echo_exporter_requests", code="400") == 7
    assert value(after, "dicom_echo_exporter_requests", code="404") == 4
    assert value(after, "dicom_echo_exporter_probes_in_flight") == 0
    assert value(after, "dicom_echo_exporter_probe_seconds") > 1

    code, elapsed = running.terminate()
    assert code == 0 and elapsed < 5, running.stderr
    probe_lines = [line for line in running.stderr.splitlines() if line.startswith("I: probe ")]
    assert len([line for line in probe_lines if "refused (" not in line]) == 7, probe_lines
    assert f"I: probe WRONG@{HOST}:{picky} (line 4): failed: rejected in " in running.stderr
    assert "Traceback" not in running.stderr


@pytest.mark.dcmtk
def test_probe_of_dcmtk_storescp(exporter, storescp) -> None:
    peer = storescp()
    running = exporter([f"STORESCP@{HOST}:{peer.port}"])
    result = running.probe(f"{HOST}:{peer.port}")
    assert value(result, "dicom_echo_success") == 1
    assert value(result, "dicom_echo_status") == 0
    assert running.terminate()[0] == 0


CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
_PROBE_AND_FIND = {"dicom_echo_probe_context_accepted", "dicom_echo_find_success",
                   "dicom_echo_find_matches", "dicom_echo_find_duration_seconds",
                   "dicom_echo_find_status"}


@pytest.mark.dcmtk
def test_probe_and_find_results_of_the_peer_line(exporter, storescp, query_scp,
                                                 closed_port) -> None:
    """probe= and find= on a line: one sample per probed class, the C-FIND's answer; a
    refused C-FIND fails the probe as find-refused, as the command line does."""
    store = storescp().port
    query = query_scp(matches=2, allowed_calling="VIEWER").port
    running = exporter([
        f"STORESCP@{HOST}:{store}  probe=CTImageStorage;1.2.3.4:ExplicitVRLittleEndian",
        f"QUERY-SCP@{HOST}:{query}  aet=VIEWER find=on probe=CTImageStorage",
        f"REFUSED@{HOST}:{query}  find=on",
        f"NOFIND@{HOST}:{store}  find=on",
        f"GONE@{HOST}:{closed_port}  find=on probe=CTImageStorage",
        f"PLAIN@{HOST}:{store}",
    ])

    probed = running.probe(f"STORESCP@{HOST}:{store}")
    assert value(probed, "dicom_echo_success") == 1
    family = probed["dicom_echo_probe_context_accepted"]
    assert family["type"] == "gauge" and family["help"]
    assert sorted(labels_of(probed, "dicom_echo_probe_context_accepted"),
                  key=lambda labels: labels["context_id"]) == [
        {"sop_class": "CTImageStorage", "sop_class_uid": CT, "context_id": "3",
         "result": "accepted", "transfer_syntax": EXPLICIT},
        {"sop_class": "1.2.3.4", "sop_class_uid": "1.2.3.4", "context_id": "5",
         "result": "abstract-syntax-not-supported", "transfer_syntax": ""}]
    assert value(probed, "dicom_echo_probe_context_accepted", sop_class_uid=CT) == 1
    assert value(probed, "dicom_echo_probe_context_accepted", sop_class_uid="1.2.3.4") == 0
    assert not {"dicom_echo_find_success", "dicom_echo_find_status"} & probed.keys()

    found = running.probe(f"QUERY-SCP@{HOST}:{query}")
    assert value(found, "dicom_echo_success") == 1, found
    assert value(found, "dicom_echo_find_success") == 1
    assert value(found, "dicom_echo_find_matches") == 2
    assert value(found, "dicom_echo_find_status") == 0
    find_time = value(found, "dicom_echo_find_duration_seconds")
    assert found["dicom_echo_find_duration_seconds"]["unit"] == "seconds"
    assert 0 < find_time < value(found, "dicom_echo_duration_seconds")
    assert value(found, "dicom_echo_phase_duration_seconds", phase="find") > 0
    assert labels_of(found, "dicom_echo_probe_context_accepted") == [
        {"sop_class": "CTImageStorage", "sop_class_uid": CT, "context_id": "3",
         "result": "abstract-syntax-not-supported", "transfer_syntax": ""}]
    assert value(found, "dicom_echo_probe_context_accepted") == 0

    refused = running.probe(f"REFUSED@{HOST}:{query}")
    assert value(refused, "dicom_echo_success") == 0 and value(refused, "dicom_echo_up") == 0
    assert labels_of(refused, "dicom_echo_failure") == [{"class": "find-refused",
                                                         "phase": "find"}]
    assert value(refused, "dicom_echo_status") == 0  # the echo itself was answered
    assert value(refused, "dicom_echo_find_success") == 0
    assert value(refused, "dicom_echo_find_status") == 0xC000
    assert value(refused, "dicom_echo_find_matches") == 0
    assert value(refused, "dicom_echo_find_duration_seconds") > 0
    assert "dicom_echo_probe_context_accepted" not in refused

    no_find = running.probe(f"NOFIND@{HOST}:{store}")
    assert labels_of(no_find, "dicom_echo_failure")[0]["class"] == "find-refused"
    assert value(no_find, "dicom_echo_find_success") == 0
    # the FIND context was not accepted: no C-FIND was sent, so no status, matches, time
    assert not {"dicom_echo_find_status", "dicom_echo_find_matches",
                "dicom_echo_find_duration_seconds"} & no_find.keys()

    gone = running.probe(f"GONE@{HOST}:{closed_port}")
    assert labels_of(gone, "dicom_echo_failure")[0]["class"] == "refused"
    assert value(gone, "dicom_echo_find_success") == 0  # asked for, never run
    assert "dicom_echo_probe_context_accepted" not in gone  # no A-ASSOCIATE-AC to read

    plain = running.probe(f"PLAIN@{HOST}:{store}")
    assert value(plain, "dicom_echo_success") == 1
    assert not _PROBE_AND_FIND & plain.keys()

    counters = running.metrics()
    assert value(counters, "dicom_echo_exporter_probe_failures",
                 **{"class": "find-refused"}) == 2
    # the probe= and find= families in the classic text too
    text = running.classic(probe_path(f"QUERY-SCP@{HOST}:{query}"))
    classic = parse_classic(text)
    assert value(classic, "dicom_echo_find_matches") == 2
    assert value(classic, "dicom_echo_probe_context_accepted", sop_class_uid=CT) == 0
    if shutil.which("promtool"):
        promtool_check(shutil.which("promtool"), text)
    assert running.terminate()[0] == 0
    assert "Traceback" not in running.stderr


def _not_after(pem_path: Path) -> float:
    from echoscu.certfacts import not_after

    return not_after(ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text()))


def test_tls_probe_reports_version_and_certificate_expiry(exporter, scp, pki) -> None:
    port = scp("+tls", pki.server.key, pki.server.cert, "-ic").port
    identity = f"key={pki.client.key} cert={pki.client.cert}"
    running = exporter([f"TLS@localhost:{port}  {identity}  ca={pki.ca.cert}",
                        f"UNTRUSTED@localhost:{port}  {identity}"])
    result = running.probe(f"TLS@localhost:{port}")
    assert value(result, "dicom_echo_success") == 1, result
    (tls,) = labels_of(result, "dicom_echo_tls")
    assert tls["version"].startswith("TLSv1.") and tls["cipher"]
    assert value(result, "dicom_echo_phase_duration_seconds", phase="tls_handshake") > 0
    assert labels_of(result, "dicom_echo_probe")[0]["tls"] == "on"
    expiry = value(result, "dicom_echo_cert_expiry_timestamp_seconds")
    # the earliest notAfter of the chain the peer sent: the leaf's, or the CA's where the
    # chain includes it (made a second earlier when the PKI's creation crossed a second)
    leaf = _not_after(pki.server.cert)
    earliest = min(leaf, _not_after(pki.ca.cert))
    assert int(earliest) <= expiry <= int(leaf)
    left = value(result, "dicom_echo_cert_expiry_seconds")
    assert abs(left - (earliest - time.time())) < 120
    assert 300 * 86400 < left < 367 * 86400  # the test PKI is valid for a year

    untrusted = running.probe(f"UNTRUSTED@localhost:{port}")
    assert labels_of(untrusted, "dicom_echo_failure")[0]["class"] == "tls-verify"
    assert "dicom_echo_tls" not in untrusted
    # the chain the peer sends is read without verification: its expiry is still reported
    assert int(earliest) <= value(untrusted, "dicom_echo_cert_expiry_timestamp_seconds") <= leaf
    # the TLS families in the classic text too (promtool's lint, where it is installed)
    text = running.classic(probe_path(f"TLS@localhost:{port}"))
    classic = parse_classic(text)
    assert classic["dicom_echo_tls_info"]["type"] == "gauge"
    assert labels_of(classic, "dicom_echo_tls_info") == [tls]
    assert int(earliest) <= value(classic, "dicom_echo_cert_expiry_timestamp_seconds") <= leaf
    if shutil.which("promtool"):
        promtool_check(shutil.which("promtool"), text)
    assert running.terminate()[0] == 0


# -- the two formats: OpenMetrics when asked for, else the classic text -----------------


@pytest.mark.parametrize(("accept", "openmetrics"), [
    (None, False),
    ("", False),
    ("*/*", False),                                   # curl
    ("text/plain", False),
    ("text/plain;version=0.0.4", False),
    ("application/json", False),                      # nothing we have: the classic text
    (PROMETHEUS_ACCEPT, True),
    ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", True),  # 2.42's
    ("Application/OpenMetrics-Text", True),
    ("application/openmetrics-text;version=0.0.1", True),
    ("application/openmetrics-text;q=0,*/*", False),  # q=0: not wanted
    ("application/openmetrics-text; q=0.0, text/plain", False),
    ("application/openmetrics-text;q=0.3,text/plain;q=0.9", False),
    ("text/plain;q=0.5,application/openmetrics-text;q=0.5", True),
    ("application/openmetrics-text;version=1.0.0;q=0,application/openmetrics-text", False),
    ("application/openmetrics-text;version=2.0.0", False),  # a version we do not write
    ("application/openmetrics-text;q=high", False),   # an unreadable q: the range is ignored
    ("application/openmetrics-text;q=2", False),
])
def test_accept_header_parsing(accept: str | None, openmetrics: bool) -> None:
    from echoscu.exporter import wants_openmetrics

    assert wants_openmetrics(accept) is openmetrics


def test_the_accept_header_chooses_the_format(exporter, scp, closed_port) -> None:
    plain = scp().port
    running = exporter([f"{HOST}:{plain}", f"{HOST}:{closed_port}"])
    for accept in (None, "*/*", "text/plain", "application/openmetrics-text;q=0,*/*;q=0.1"):
        status, content_type, body = running.get("/metrics", {"Accept": accept} if accept
                                                 else None)
        assert (status, content_type) == (200, CLASSIC), accept
        assert "dicom_echo_exporter_requests_total" in parse_classic(body)
    with urllib.request.urlopen(f"http://{HOST}:{running.port}/metrics",
                                timeout=HTTP_TIMEOUT) as answer:
        assert answer.headers["Vary"] == "Accept"

    # the same series, types and HELP as the OpenMetrics answer (only the timings differ)
    timed = {"dicom_echo_duration_seconds", "dicom_echo_phase_duration_seconds",
             "dicom_echo_rtt_seconds"}
    for target in (f"{HOST}:{plain}", f"{HOST}:{closed_port}"):
        classic = parse_classic(running.classic(probe_path(target)))
        expected = as_classic(running.probe(target))
        assert classic.keys() == expected.keys(), target
        for name, family in classic.items():
            assert family["type"] == expected[name]["type"], name
            assert family["help"] == expected[name]["help"], name
            assert family["samples"].keys() == expected[name]["samples"].keys(), name
            if name not in timed:
                assert family["samples"] == expected[name]["samples"], name
    ok = parse_classic(running.classic(probe_path(f"{HOST}:{plain}")))
    assert value(ok, "dicom_echo_success") == 1 and value(ok, "dicom_echo_status") == 0
    assert ok["dicom_echo_probe_info"]["type"] == "gauge"
    assert value(ok, "dicom_echo_probe_info", peers_file_line="1") == 1
    failed = parse_classic(running.classic(probe_path(f"{HOST}:{closed_port}")))
    assert value(failed, "dicom_echo_success") == 0
    assert labels_of(failed, "dicom_echo_failure_info") == [{"class": "refused",
                                                             "phase": "connect"}]
    counters = parse_classic(running.classic("/metrics"))
    assert counters["dicom_echo_exporter_probes_total"]["type"] == "counter"
    assert value(counters, "dicom_echo_exporter_probes_total", result="success") == 3
    assert value(counters, "dicom_echo_exporter_probes_total", result="failure") == 3
    assert value(counters, "dicom_echo_exporter_probe_seconds_total") > 0
    assert running.terminate()[0] == 0


def test_classic_text_passes_promtool(exporter, scp, closed_port) -> None:
    """What curl and a plain GET get is what promtool, which reads only the classic text
    format, accepts: parsed, and its lint (names, _total, units, HELP) clean."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); "
                    "parse_classic still checks the classic text")
    plain = scp().port
    running = exporter([f"{HOST}:{plain}", f"{HOST}:{closed_port}"])
    for path in (probe_path(f"{HOST}:{plain}"), probe_path(f"{HOST}:{closed_port}"),
                 "/metrics"):
        promtool_check(promtool, running.classic(path))
    assert running.terminate()[0] == 0


def test_one_probe_has_the_same_numbers_in_both_formats(scp, closed_port) -> None:
    """One report of the exporter's own check, rendered both ways: the same samples, down
    to the last digit (over HTTP each scrape is another probe, with other timings)."""
    from dicomecho import log
    from echoscu import exporter as module
    from echoscu.cli import prepare
    from echoscu.peerfile import parse_peer_line

    counters = module.Counters(2, 1)
    try:
        for port in (scp().port, closed_port):
            base = prepare(["-q", HOST, str(port)])
            (target,) = module.prepare_targets(base, [parse_peer_line(1, [f"{HOST}:{port}"])])
            report = module.check(target, target.opts)
            counters.probed(report)
            families = module.probe_families(target, report)
            openmetrics = parse_openmetrics(families.openmetrics())
            assert value(openmetrics, "dicom_echo_success") == int(port != closed_port)
            assert parse_classic(families.classic()) == as_classic(openmetrics)
    finally:
        log.reset()
    families = counters.families()
    assert parse_classic(families.classic()) == as_classic(parse_openmetrics(
        families.openmetrics()))


def test_saturation_and_sigterm_with_a_probe_under_way(exporter, silent_port) -> None:
    running = exporter([f"SILENT@{HOST}:{silent_port}  ta=3", f"OTHER@{HOST}:{silent_port}"],
                       "--jobs", "1")
    answers: list[tuple[int, str, str]] = []
    first = threading.Thread(target=lambda: answers.append(
        running.get(f"/probe?target=SILENT@{HOST}:{silent_port}",
                    {"Accept": PROMETHEUS_ACCEPT})))
    first.start()
    try:
        deadline = time.monotonic() + 10
        while value(running.metrics(), "dicom_echo_exporter_probes_in_flight") != 1:
            assert time.monotonic() < deadline, "the first probe never started"
            time.sleep(0.05)
        status, _, body = running.get(f"/probe?target=OTHER@{HOST}:{silent_port}")
        assert status == 503, body
        assert value(running.metrics(), "dicom_echo_exporter_requests", code="503") == 1
        # SIGTERM now: no new connection is accepted, the probe under way still answers
        code, elapsed = running.terminate()
    finally:
        first.join(HTTP_TIMEOUT)
    assert code == 0 and elapsed < 10, running.stderr
    assert len(answers) == 1
    status, content_type, body = answers[0]
    assert status == 200 and content_type == OPENMETRICS
    assert labels_of(parse_openmetrics(body), "dicom_echo_failure")[0]["class"] == \
        "associate-timeout"
    with pytest.raises(OSError):
        socket.create_connection((HOST, running.port), timeout=2).close()


def test_sigint_ends_it_cleanly_too(exporter, scp) -> None:
    running = exporter([f"{HOST}:{scp().port}"])
    code, elapsed = running.terminate(signal.SIGINT)
    assert code == 0 and elapsed < 5, running.stderr
    assert "Traceback" not in running.stderr


# -- the command line -------------------------------------------------------------------


@pytest.mark.parametrize(("args", "error"), [
    (["--serve", "9104", "pacs", "104"], "--serve only allowed with --peers"),
    (["--serve", "abc"], "Invalid value for option --serve (abc: use [host:]port)"),
    (["--serve", "::1:80"], "Invalid value for option --serve (::1:80: use [host:]port)"),
    (["--serve", "[::1]"], "Invalid value for option --serve ([::1]: use [host:]port)"),
    (["--serve", "host:"], "Invalid value for option --serve (host:: use [host:]port)"),
    (["--serve", "70000"], "Invalid value for option --serve (overflow: 70000)"),
    (["--serve", "9104", "--format", "json"], "--format not allowed with --serve"),
])
def test_command_line_errors(args: list[str], error: str, tmp_path: Path) -> None:
    peers = tmp_path / "peers.txt"
    peers.write_text("pacs:104\n")
    if "pacs" not in args:
        args = [*args, "--peers", str(peers)]
    result = echoscu(*args, timeout=30)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: {error}", result.stderr
    assert result.stdout == ""


def test_port_in_use_is_a_fatal_error(tmp_path: Path) -> None:
    peers = tmp_path / "peers.txt"
    peers.write_text("pacs:104\n")
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        result = echoscu("--serve", f"{HOST}:{taken.getsockname()[1]}", "--peers", str(peers),
                         timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith(f"F: cannot listen on {HOST}:"), result.stderr


def test_plain_echo_does_not_load_the_exporter(closed_port) -> None:
    """--serve is loaded lazily: a plain echo's start-up does not pay for http.server."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "echoscu", HOST,
                             str(closed_port)], env={**os.environ, **OUR_ENV},
                            capture_output=True, text=True, timeout=60)
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    assert "echoscu.driver" in names, result.stderr[-2000:]
    assert not names & {"echoscu.exporter", "http.server", "echoscu.extensions"}


def test_readme_scrape_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    """The README's Prometheus snippets are valid for promtool (skipped without it)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def snippet(first_line: str) -> str:
        start = readme.index(first_line)
        return readme[start:readme.index("```", start)]

    (tmp_path / "dicom-echo.rules.yml").write_text(snippet("# dicom-echo.rules.yml"))
    (tmp_path / "prometheus.yml").write_text(
        "rule_files: [dicom-echo.rules.yml]\n" + snippet("# prometheus.yml"))
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "dicom-echo.rules.yml"]):
        result = subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
