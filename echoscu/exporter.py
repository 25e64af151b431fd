"""``--serve [ADDR:]PORT --peers FILE``: a Prometheus probe endpoint, in the style of the
blackbox exporter.

``GET /probe?target=[AET@]host:port`` checks one peer of the peers file once, with that
line's settings; ``GET /metrics`` gives the exporter's own counters. Both answer
OpenMetrics 1.0 when the Accept header asks for it (Prometheus does), otherwise the
classic Prometheus text format 0.0.4, written from the same families.

Only the peers file's lines can be probed: a target is matched against them as written
(host case-insensitive, the called AE title exactly; without an AE title the host:port
must name one called AE title), anything else gets 403, so a scraper cannot make
echoscu connect elsewhere. A missing or malformed target gets 400, another path 404,
a probe beyond ``--jobs`` at once 503.

The checks are fleet's (``echoscu.fleet``): per-line options, TLS contexts built once at
start (a key password is asked for before serving), one driver run per probe in the
request's thread. Each probe is bounded by its line's timeouts, and by Prometheus'
scrape timeout when the request carries one. SIGTERM or SIGINT stops accepting, lets the
probes under way finish (at most ``SHUTDOWN_GRACE`` seconds) and exits 0.
"""

from __future__ import annotations

import math
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import parse_qs, urlsplit

from dicomecho import log
from echoscu import fleet
from echoscu.options import EchoOptions
from echoscu.peerfile import parse_peer_line
from echoscu.report import FAILURE_CLASSES, PHASES

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.options import Extensions
    from echoscu.peerfile import PeerLine
    from echoscu.report import RunReport

#: the two answers to a scrape, chosen by its Accept header (wants_openmetrics)
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
CLASSIC_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
#: the exporter's own logger (not under dcmtk.*: the driver's lines stay silenced)
LOGGER = "echoscu.exporter"
#: seconds the probes under way may take to finish after SIGTERM/SIGINT
SHUTDOWN_GRACE = 10.0
#: how long a client may take to send its request (a stalled one must not hold a thread)
REQUEST_TIMEOUT = 30.0
#: Prometheus sends its scrape timeout; the probe ends this much earlier, so that the
#: answer arrives in time
SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_TIMEOUT_MARGIN = 0.5
#: the HTTP codes /metrics counts from the start (0 until they happen)
_USUAL_CODES = ("200", "400", "403", "404", "503")


class Target:
    """One line of the peers file as a probe target: its options and TLS context."""

    __slots__ = ("peer", "opts", "context")

    def __init__(self, peer: PeerLine, opts: EchoOptions, context: object) -> None:
        self.peer = peer
        self.opts = opts
        self.context = context

    @property
    def label(self) -> str:
        """``CALLED@host:port`` (IPv6 literals in brackets)."""
        return f"{self.opts.called_aet}@{_host_port(self.peer.host, self.peer.port)}"


class BadTarget(ValueError):
    """The target parameter is missing or not ``[AET@]host:port`` (HTTP 400)."""


class UnlistedTarget(ValueError):
    """The target names no line of the peers file, or more than one (HTTP 403)."""


# -- the adapters to echoscu.fleet (the one place that knows how fleet checks a peer) ---


def prepare_targets(options: EchoOptions, peers: list[PeerLine]) -> list[Target]:
    """Each peer line's options, and the TLS contexts they share (built here, once)."""
    all_opts = [fleet.peer_options(options, peer) for peer in peers]
    contexts = fleet._build_contexts(all_opts)
    return [Target(peer, opts, context)
            for peer, opts, context in zip(peers, all_opts, contexts, strict=True)]


def check(target: Target, opts: EchoOptions) -> RunReport:
    """One check of ``target`` with ``opts`` (its options, perhaps with shorter timeouts)."""
    return fleet._check(opts, target.context)


def quiet_driver() -> None:
    """Print none of the driver's lines (each check keeps its error lines in its report)."""
    from dicomecho.log import discard_output

    discard_output()


# -- matching targets -------------------------------------------------------------------


class TargetList:
    """The peers file's lines, looked up by ``[AET@]host:port`` as a scraper writes it."""

    def __init__(self, targets: list[Target]) -> None:
        self.targets = targets
        self._by_address: dict[tuple[str, int], list[Target]] = {}
        for target in targets:
            key = (target.peer.host.lower(), target.peer.port)
            self._by_address.setdefault(key, []).append(target)

    def match(self, text: str) -> Target:
        """The first line ``text`` names; BadTarget or UnlistedTarget with the reason."""
        if not text or any(character.isspace() for character in text):
            raise BadTarget("target is not [AET@]host:port")
        try:
            wanted = parse_peer_line(0, [text])
        except ValueError as problem:
            raise BadTarget(f"target {text}: {problem}") from None
        candidates = self._by_address.get((wanted.host.lower(), wanted.port), [])
        if wanted.called_aet is not None:
            candidates = [target for target in candidates
                          if target.opts.called_aet == wanted.called_aet]
        if not candidates:
            raise UnlistedTarget(f"target {text} is not in the peers file")
        titles = sorted({target.opts.called_aet for target in candidates})
        if len(titles) > 1:
            raise UnlistedTarget(f"target {text} is ambiguous: name the called AE title "
                                 f"({', '.join(titles)})")
        return candidates[0]


# -- bounding a probe by the scrape timeout ---------------------------------------------


def scrape_bound(header: str | None) -> int | None:
    """Whole seconds a probe may take under Prometheus' scrape timeout header (None: none)."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return max(1, int(seconds - SCRAPE_TIMEOUT_MARGIN))


def bounded(opts: EchoOptions, seconds: int | None) -> EchoOptions:
    """``opts``, or a copy whose timeouts (-to, -ts, -ta, -td) are at most ``seconds``."""
    if seconds is None:
        return opts
    copy = EchoOptions(**{name: getattr(opts, name) for name in EchoOptions.__slots__})
    for field in ("connect_timeout", "acse_timeout", "dimse_timeout"):
        value = getattr(copy, field)
        if value is None or value <= 0 or value > seconds:
            setattr(copy, field, seconds)
    if copy.socket_timeout <= 0 or copy.socket_timeout > seconds:  # 0 none, -1 the OS's
        copy.socket_timeout = seconds
    return copy


# -- the metric families, written as OpenMetrics or as the classic text format -----------


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, object]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{name}="{_label_value(str(value))}"'
                          for name, value in pairs.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(round(value, 6))


#: the sample name suffix of each family type (both formats name the samples alike)
_SAMPLE_SUFFIX = {"gauge": "", "counter": "_total", "info": "_info"}


class MetricFamilies:
    """Metric families in the order declared, each with its samples: the one representation
    both answers are written from. Only families with samples are written.

    OpenMetrics 1.0 (:meth:`openmetrics`) names a family without its sample suffix, has
    ``# UNIT`` and ``info`` families and ends with ``# EOF``. The classic text format
    0.0.4 (:meth:`classic`) has none of these: a counter's family is named by its
    ``_total`` sample, an info family is a gauge named ``<name>_info`` of value 1, the
    unit stays only in the name (which ends with it).
    """

    def __init__(self) -> None:
        #: name -> (type, HELP, unit, [(labels, value)])
        self._families: dict[str, tuple[str, str, str | None,
                                         list[tuple[dict[str, object], float]]]] = {}

    def family(self, name: str, kind: str, help_text: str, unit: str | None = None) -> None:
        """Declare a family (``kind``: gauge, counter, info; ``name`` ends with ``unit``)."""
        assert kind in _SAMPLE_SUFFIX and (unit is None or name.endswith("_" + unit)), name
        self._families[name] = (kind, help_text, unit, [])

    def sample(self, name: str, value: float, labels: dict[str, object] | None = None) -> None:
        """Add a sample to family ``name`` (its type gives the sample name's suffix)."""
        self._families[name][3].append((labels or {}, value))

    def _written(self):
        """(name, type, HELP, unit, sample name, samples) of each family with samples."""
        for name, (kind, help_text, unit, samples) in self._families.items():
            if samples:
                yield name, kind, help_text, unit, name + _SAMPLE_SUFFIX[kind], samples

    def openmetrics(self) -> str:
        """OpenMetrics 1.0 text, ``# EOF`` last."""
        lines = []
        for name, kind, help_text, unit, sample_name, samples in self._written():
            lines.append(f"# TYPE {name} {kind}")
            if unit:
                lines.append(f"# UNIT {name} {unit}")
            lines.append(f"# HELP {name} {_label_value(help_text)}")
            lines.extend(f"{sample_name}{_labels(labels)} {_number(value)}"
                         for labels, value in samples)
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def classic(self) -> str:
        """The classic Prometheus text format 0.0.4."""
        lines = []
        for _, kind, help_text, _, sample_name, samples in self._written():
            help_escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"# HELP {sample_name} {help_escaped}")
            lines.append(f"# TYPE {sample_name} {'gauge' if kind == 'info' else kind}")
            lines.extend(f"{sample_name}{_labels(labels)} {_number(value)}"
                         for labels, value in samples)
        return "\n".join(lines) + "\n"

    def render(self, openmetrics: bool) -> tuple[str, str]:
        """(content type, text) in OpenMetrics or, if not ``openmetrics``, classic text."""
        if openmetrics:
            return OPENMETRICS_TYPE, self.openmetrics()
        return CLASSIC_TYPE, self.classic()


# -- which format the scraper asked for -------------------------------------------------


def _media_ranges(header: str):
    """(type/subtype lower-cased, parameters, q) of each well-formed range of an Accept
    header; a range whose q is not a number from 0 to 1 is left out."""
    for part in header.split(","):
        media, *fields = (field.strip() for field in part.split(";"))
        if media.count("/") != 1:
            continue
        params = {}
        for field in fields:
            key, equals, text = field.partition("=")
            if equals:
                params[key.strip().lower()] = text.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            continue
        if 0 <= quality <= 1:
            yield media.lower(), params, quality


#: how closely a range names our OpenMetrics 1.0.0 (higher: more specific; 0.0.1 is the
#: draft Prometheus reads with the same parser); other versions are not ours
_OPENMETRICS_RANK = {"1.0.0": 2, None: 1, "0.0.1": 0}
_CLASSIC_RANK = {"text/plain": 2, "text/*": 1, "*/*": 0}


def wants_openmetrics(accept: str | None) -> bool:
    """Whether an Accept header asks for OpenMetrics: it names application/openmetrics-text
    with a q above 0 and at least the q it gives text/plain (from its most specific
    range, as RFC 9110 12.5.1 says). Prometheus does; no header, text/plain or only */*
    (curl) get the classic text format."""
    if not accept:
        return False
    best: dict[str, tuple[int, float]] = {}
    for media, params, quality in _media_ranges(accept):
        if media == "application/openmetrics-text":
            key, rank = "openmetrics", _OPENMETRICS_RANK.get(params.get("version"), -1)
        else:
            key, rank = "classic", _CLASSIC_RANK.get(media, -1)
        if rank >= 0 and (rank, quality) > best.get(key, (-1, 0.0)):
            best[key] = (rank, quality)
    openmetrics = best.get("openmetrics", (0, 0.0))[1]
    return openmetrics > 0 and openmetrics >= best.get("classic", (0, 0.0))[1]


def probe_families(target: Target, report: RunReport,
                   now: float | None = None) -> MetricFamilies:
    """The answer to one probe."""
    from echoscu.certfacts import earliest_expiry

    out = MetricFamilies()
    out.family("dicom_echo_success", "gauge",
               "1 if every C-ECHO was answered with Success and the association released")
    out.family("dicom_echo_up", "gauge",
               "the same as dicom_echo_success (the name --peers --format openmetrics uses)")
    out.family("dicom_echo_probe", "info", "the peers file line that was checked")
    out.family("dicom_echo_duration_seconds", "gauge", "whole check: resolve to release",
               "seconds")
    out.family("dicom_echo_phase_duration_seconds", "gauge", "time spent in each phase",
               "seconds")
    out.family("dicom_echo_rtt_seconds", "gauge", "mean C-ECHO round trip", "seconds")
    out.family("dicom_echo_status", "gauge",
               "DIMSE status of the last C-ECHO response (0 is Success)")
    out.family("dicom_echo_tls", "info", "the negotiated TLS session")
    out.family("dicom_echo_cert_expiry_timestamp_seconds", "gauge",
               "notAfter of the peer's first certificate to expire", "seconds")
    out.family("dicom_echo_cert_expiry_seconds", "gauge",
               "seconds until the peer's first certificate expires (negative once it has)",
               "seconds")
    out.family("dicom_echo_failure", "info", "why the check failed: failure class and phase")
    if report.probe_plan:
        out.family("dicom_echo_probe_context_accepted", "gauge",
                   "1 if the peer accepted the probe= presentation context of this SOP class "
                   "(result: the A-ASSOCIATE-AC's answer)")
    if report.check_find:
        out.family("dicom_echo_find_success", "gauge",
                   "1 if the find=on C-FIND was answered with a final Success or Warning status")
        out.family("dicom_echo_find_matches", "gauge",
                   "pending C-FIND responses that carried a match")
        out.family("dicom_echo_find_duration_seconds", "gauge",
                   "C-FIND round trip: request to final response", "seconds")
        out.family("dicom_echo_find_status", "gauge",
                   "DIMSE status of the final C-FIND response (0 is Success)")

    out.sample("dicom_echo_success", int(report.ok))
    out.sample("dicom_echo_up", int(report.ok))
    out.sample("dicom_echo_probe", 1, {
        "peers_file_line": target.peer.line, "called_aet": report.called_aet,
        "calling_aet": report.calling_aet, "tls": "on" if report.tls_requested else "off"})
    out.sample("dicom_echo_duration_seconds", report.total)
    for phase in PHASES:
        if phase in report.timings:
            out.sample("dicom_echo_phase_duration_seconds", report.timings[phase],
                       {"phase": phase})
    rtts = report.rtts
    if rtts:
        out.sample("dicom_echo_rtt_seconds", sum(rtts) / len(rtts))
        out.sample("dicom_echo_status", report.echoes[-1][2])
    if report.tls is not None:
        out.sample("dicom_echo_tls", 1, {"version": report.tls.version,
                                         "cipher": report.tls.cipher})
    chain = report.tls.chain if report.tls is not None else report.unverified_chain
    earliest = earliest_expiry(chain) if chain else None
    if earliest is not None:
        out.sample("dicom_echo_cert_expiry_timestamp_seconds", int(earliest[0]))
        out.sample("dicom_echo_cert_expiry_seconds",
                   round(earliest[0] - (time.time() if now is None else now), 3))
    _probe_samples(out, report)
    _find_samples(out, report)
    if not report.ok:
        failure = report.failure
        out.sample("dicom_echo_failure", 1, {
            "class": report.failure_class or "local-error",
            "phase": failure.phase if failure is not None else "setup"})
    return out


def _probe_samples(out: MetricFamilies, report: RunReport) -> None:
    """One sample per probe= context, once an A-ASSOCIATE-AC answered them."""
    if not report.probe_plan or not report.negotiated:
        return
    from echoscu.probe import result_text
    from echoscu.sopclasses import keyword

    for context_id, abstract, _, result, syntax in report.probes:
        accepted = result == 0
        out.sample("dicom_echo_probe_context_accepted", int(accepted), {
            "sop_class": keyword(abstract), "sop_class_uid": abstract,
            "context_id": context_id, "result": result_text(result).replace(" ", "-"),
            "transfer_syntax": syntax if accepted and syntax else ""})


def _find_samples(out: MetricFamilies, report: RunReport) -> None:
    """find=on: whether the C-FIND was answered (0 too when the run ended before it), its
    matches, round trip and final status."""
    if not report.check_find:
        return
    found = report.find
    out.sample("dicom_echo_find_success", int(found is not None and found.failure_class is None))
    if found is None:
        return
    if found.context_result == 0:  # the C-FIND was sent
        out.sample("dicom_echo_find_matches", found.matches)
    if found.status is not None:
        out.sample("dicom_echo_find_status", found.status)
    if found.rtt is not None:
        out.sample("dicom_echo_find_duration_seconds", found.rtt)


# -- the exporter's own counters --------------------------------------------------------


class Counters:
    """What /metrics reports; every change under one lock."""

    def __init__(self, listed: int, limit: int) -> None:
        self.lock = threading.Lock()
        self.listed = listed
        self.limit = limit
        self.started = time.time()
        self.requests: dict[str, int] = {}
        self.probes = {"success": 0, "failure": 0}
        self.failures = dict.fromkeys(FAILURE_CLASSES, 0)
        self.probe_seconds = 0.0
        self.in_flight = 0
        self.idle = threading.Condition(self.lock)

    def request(self, code: int) -> None:
        """An HTTP answer with ``code`` was sent."""
        with self.lock:
            self.requests[str(code)] = self.requests.get(str(code), 0) + 1

    def probed(self, report: RunReport) -> None:
        """A probe finished with ``report``."""
        with self.lock:
            self.probes["success" if report.ok else "failure"] += 1
            if not report.ok:
                name = report.failure_class or "local-error"
                self.failures[name] = self.failures.get(name, 0) + 1
            self.probe_seconds += report.total

    def families(self) -> MetricFamilies:
        """The /metrics answer."""
        out = MetricFamilies()
        out.family("dicom_echo_exporter_requests", "counter", "HTTP requests answered, by code")
        out.family("dicom_echo_exporter_probes", "counter", "probes run, by result")
        out.family("dicom_echo_exporter_probe_failures", "counter",
                   "failed probes, by failure class")
        out.family("dicom_echo_exporter_probe_seconds", "counter",
                   "time spent in probes", "seconds")
        out.family("dicom_echo_exporter_probes_in_flight", "gauge", "probes under way")
        out.family("dicom_echo_exporter_max_concurrent_probes", "gauge",
                   "probes allowed at once (--jobs); more get HTTP 503")
        out.family("dicom_echo_exporter_targets", "gauge", "lines of the peers file")
        out.family("dicom_echo_exporter_start_time_seconds", "gauge",
                   "when the exporter started", "seconds")
        with self.lock:
            for code in sorted({*_USUAL_CODES, *self.requests}):
                out.sample("dicom_echo_exporter_requests", self.requests.get(code, 0),
                           {"code": code})
            for result, count in self.probes.items():
                out.sample("dicom_echo_exporter_probes", count, {"result": result})
            for name, count in self.failures.items():
                out.sample("dicom_echo_exporter_probe_failures", count, {"class": name})
            out.sample("dicom_echo_exporter_probe_seconds", round(self.probe_seconds, 6))
            out.sample("dicom_echo_exporter_probes_in_flight", self.in_flight)
        out.sample("dicom_echo_exporter_max_concurrent_probes", self.limit)
        out.sample("dicom_echo_exporter_targets", self.listed)
        out.sample("dicom_echo_exporter_start_time_seconds", round(self.started, 3))
        return out


# -- the HTTP server --------------------------------------------------------------------


class Exporter:
    """The state the request threads share: targets, counters, the probe slots."""

    def __init__(self, targets: TargetList, jobs: int, logger: log.Logger) -> None:
        self.targets = targets
        self.slots = threading.BoundedSemaphore(jobs)
        self.counters = Counters(len(targets.targets), jobs)
        self.log = logger
        #: set once SIGTERM/SIGINT arrived: new probes get 503
        self.stopping = False

    def wait_idle(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) until no probe is under way; True if none is."""
        deadline = time.monotonic() + seconds
        with self.counters.idle:
            while self.counters.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.counters.idle.wait(left)
        return True


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer on the address family of its address; no reverse DNS at bind."""

    daemon_threads = True

    def __init__(self, family: int, address: tuple, exporter: Exporter) -> None:
        self.address_family = family
        self.exporter = exporter
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-answer: one debug line, not a traceback."""
        error = sys.exc_info()[1]
        self.exporter.log.debug(f"HTTP client {client_address[0]}: {error!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT
    server_version = "echoscu-exporter"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        self.server.exporter.log.debug(f"HTTP {self.client_address[0]} " + format % args)

    def _answer(self, code: int, body: str, content_type: str = TEXT_TYPE) -> None:
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if content_type != TEXT_TYPE:  # a scrape's answer: its format follows Accept
            self.send_header("Vary", "Accept")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # counted before the body goes out: a client that has its answer and asks
        # /metrics next must find it counted
        self.server.exporter.counters.request(code)
        self.wfile.write(data)

    def _metrics(self, families: MetricFamilies) -> None:
        """Answer 200 with ``families`` in the format the request's Accept header asks for."""
        content_type, text = families.render(wants_openmetrics(self.headers.get("Accept")))
        self._answer(200, text, content_type)

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
        url = urlsplit(self.path)
        if url.path == "/probe":
            self._probe(url.query)
        elif url.path == "/metrics":
            self._metrics(self.server.exporter.counters.families())
        else:
            self._answer(404, "not found: use /probe?target=[AET@]host:port or /metrics\n")

    def _probe(self, query: str) -> None:
        exporter = self.server.exporter
        values = parse_qs(query, keep_blank_values=True).get("target", [])
        try:
            if len(values) != 1:
                raise BadTarget("give one target=[AET@]host:port")
            target = exporter.targets.match(values[0])
        except BadTarget as problem:
            exporter.log.info(f"probe refused (400): {problem}")
            self._answer(400, f"{problem}\n")
            return
        except UnlistedTarget as problem:
            exporter.log.info(f"probe refused (403): {problem}")
            self._answer(403, f"{problem}\n")
            return
        if exporter.stopping or not exporter.slots.acquire(blocking=False):
            reason = "shutting down" if exporter.stopping else \
                f"{exporter.counters.limit} probes under way"
            exporter.log.info(f"probe {target.label} refused (503): {reason}")
            self._answer(503, f"busy: {reason}\n")
            return
        counters = exporter.counters
        with counters.lock:
            counters.in_flight += 1
        try:
            try:
                bound = scrape_bound(self.headers.get(SCRAPE_TIMEOUT_HEADER))
                report = check(target, bounded(target.opts, bound))
            finally:
                exporter.slots.release()
            counters.probed(report)
            outcome = "success" if report.ok else f"failed: {report.failure_class}"
            exporter.log.info(f"probe {target.label} (line {target.peer.line}): {outcome} "
                              f"in {report.total:.3f} s")
            self._metrics(probe_families(target, report))
        finally:
            with counters.lock:
                counters.in_flight -= 1
                counters.idle.notify_all()


def _bind(host: str, port: int, exporter: Exporter) -> _Server:
    """The server listening on host:port (every IPv4 interface for an empty host)."""
    if not host:
        return _Server(socket.AF_INET, ("0.0.0.0", port), exporter)
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = found[0]
    return _Server(family, address, exporter)


def _exporter_logger(level: int) -> log.Logger:
    """Our logger, on stderr at ``level`` (after the driver's loggers were silenced)."""
    logger = log.get_logger(LOGGER)
    logger.appenders = [log.ConsoleAppender(log.PrefixLayout())]
    logger.additive = False
    logger.level = logger.threshold = level
    return logger


def run(options: EchoOptions, ext: Extensions) -> int:
    """Serve probes of ``ext.peers`` on ``ext.serve`` until SIGTERM/SIGINT; 0 then."""
    peers = fleet.load_peers(ext.peers)
    if peers is None:
        return 1
    level = log.root_logger().threshold  # -q/-v/-d/-ll: for our own lines
    quiet_driver()
    logger = _exporter_logger(level)
    targets = TargetList(prepare_targets(options, peers))
    exporter = Exporter(targets, ext.jobs, logger)
    host, port = ext.serve
    try:
        server = _bind(host, port, exporter)
    except OSError as error:
        logger.force_log(log.FATAL, f"cannot listen on {_host_port(host, port)}: "
                         f"{error.strerror or error}")
        return 1
    stop: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stop.append(number))
    bound_host, bound_port = server.server_address[:2]
    if logger.enabled(log.WARN):
        logger.force_log(log.INFO, f"serving probes on http://{_host_port(bound_host, bound_port)}/"
                         f" for {len(peers)} peers")
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="echoscu-serve", daemon=True)
    serving.start()
    while not stop:
        time.sleep(0.1)
    exporter.stopping = True
    server.shutdown()
    server.server_close()
    logger.info(f"stopping (signal {stop[0]}): waiting up to {SHUTDOWN_GRACE:g} s for "
                f"{exporter.counters.in_flight} probes under way")
    deadline = time.monotonic() + SHUTDOWN_GRACE
    while time.monotonic() < deadline and len(stop) < 2:
        if exporter.wait_idle(0.1):
            break
    else:
        logger.warn("stopped with probes still under way")
    return 0
