"""The options DCMTK lacks (``--json``, ``--stats``, ``--nagios``, ``--peers``, ``--serve``,
...) and the run that serves them.

Without any of them echoscu imports this module only when stderr is a terminal (for
the hint line after a failure), so a scripted run stays on DCMTK's path; with them,
the driver reports to a ``RunReport`` and the renderers here and in
``echoscu.document``, ``echoscu.nagios`` and ``echoscu.fleet`` turn it into output.
The DCMTK lines on stderr stay as they are (fleet and Nagios modes silence them).
"""

from __future__ import annotations

import math

from dicomecho import collector, log
from dicomecho.output import print_text, stderr_is_terminal
from echoscu.cmdline import (
    CommandLineError,
    Occurrence,
    ParsedLine,
    check_conflict,
    check_dependence,
    unsigned_value,
)
from echoscu.helptext import LOG_BLOCK, MAX_JOBS
from echoscu.options import Extensions

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.options import EchoOptions
    from echoscu.report import RunReport

EXIT_CODE_MODES = ("dcmtk", "detailed")
FORMATS = ("table", "json", "csv", "junit", "openmetrics")


def _number(occurrence: Occurrence) -> float:
    """A non-negative decimal number (seconds, milliseconds) with DCMTK's message shapes."""
    text = occurrence.value
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CommandLineError(f"Invalid value for option {occurrence.option.long} ({text})")
    if value < 0:
        raise CommandLineError(
            f"Invalid value for option {occurrence.option.long} (underflow: {text})")
    return value


def _choice(occurrence: Occurrence, choices: tuple[str, ...]) -> str:
    text = occurrence.value
    if text not in choices:
        raise CommandLineError(f"Invalid value for option {occurrence.option.long} ({text}: "
                               f"use {', '.join(choices[:-1])} or {choices[-1]})")
    return text


def _listen_address(occurrence: Occurrence) -> tuple[str, int]:
    """``--serve [host:]port`` (``[v6 address]:port`` for IPv6) as (host, port); host ""
    (every interface) for ``port`` or ``:port``, port 0 for any free port."""
    text = occurrence.value
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        ok = bool(bracket and host and rest.startswith(":"))
        port_text = rest[1:]
    else:
        host, _, port_text = text.rpartition(":")
        ok = ":" not in host
    if not ok or not port_text.isdigit():
        raise CommandLineError(f"Invalid value for option {occurrence.option.long} ({text}: "
                               "use [host:]port)")
    if int(port_text) > 65535:
        raise CommandLineError(
            f"Invalid value for option {occurrence.option.long} (overflow: {port_text})")
    return host, int(port_text)


def parse(line: ParsedLine, options: EchoOptions) -> Extensions:
    """Our options from the parsed line (after all of DCMTK's checks); CommandLineError if bad."""
    ext = Extensions()
    offline = line.find("--verify-cert") or line.find("--is-root-cert")
    for name in ("--json", "--stats", "--nagios", "--peers"):
        check_conflict(name, "--verify-cert or --is-root-cert",
                       offline is not None and line.find(name) is not None)
    _probe_options(line, options, offline is not None)
    peers = line.find("--peers")
    if peers:
        ext.peers = peers.value
        for name in ("--json", "--stats", "--nagios"):
            check_conflict(name, "--peers", line.find(name) is not None)
    found = line.find("--jobs")
    if found:
        check_dependence("--jobs", "--peers", peers is not None)
        ext.jobs = unsigned_value(found, 1, MAX_JOBS)
    found = line.find("--format")
    if found:
        check_dependence("--format", "--peers", peers is not None)
        ext.format = _choice(found, FORMATS)
    found = line.find("--serve")
    if found:
        check_dependence("--serve", "--peers", peers is not None)
        check_conflict("--format", "--serve", line.find("--format") is not None)
        ext.serve = _listen_address(found)
    ext.json = line.find("--json") is not None
    ext.stats = line.find("--stats") is not None
    ext.nagios = line.find("--nagios") is not None
    if ext.nagios:
        check_conflict("--nagios", "--json", ext.json)
        check_conflict("--nagios", "--stats", ext.stats)
    for name, field in (("--warning", "warning"), ("--critical", "critical")):
        found = line.find(name)
        if found:
            check_dependence(name, "--nagios", ext.nagios)
            setattr(ext, field, _number(found))
    for name, field in (("--cert-warning", "cert_warning"), ("--cert-critical", "cert_critical")):
        found = line.find(name)
        if found:
            check_dependence(name, "--nagios", ext.nagios)
            setattr(ext, field, unsigned_value(found, 0))
    _verify_hostname(line, options, offline is not None, peers is not None)
    found = line.find("--interval")
    if found:
        options.interval = _number(found)
    found = line.find("--exit-codes")
    if found:
        ext.exit_codes = _choice(found, EXIT_CODE_MODES)
    ext.log_given = any(line.find(name) for name in (*LOG_BLOCK, "--log-level", "--log-config"))
    return ext


def _verify_hostname(line: ParsedLine, options: EchoOptions, offline: bool, fleet: bool) -> None:
    """``--verify-hostname`` / ``--verify-hostname-as NAME`` (the latter implies the former).

    They need a verified TLS peer: DCMTK's dependence and conflict messages otherwise.
    A fleet check applies them to its TLS peers (a line may switch TLS on).
    """
    plain = line.find("--verify-hostname")
    named = line.find("--verify-hostname-as")
    for found in (plain, named):
        if found is None:
            continue
        name = found.option.long
        check_conflict(name, "--verify-cert or --is-root-cert", offline)
        check_dependence(name, "--enable-tls or --anonymous-tls",
                         fleet or options.tls is not None)
        check_conflict(name, "--ignore-peer-cert",
                       options.tls is not None and options.tls.peer_cert == "ignore")
        options.verify_hostname = True
    if named is not None:
        from certs.hostname import usable_reference

        if not usable_reference(named.value):
            raise CommandLineError(
                f"Invalid value for option --verify-hostname-as ({named.value})")
        options.verify_hostname_as = named.value


def _probe_options(line: ParsedLine, options: EchoOptions, offline: bool) -> None:
    """``--probe-sop`` (keywords looked up in pydicom's table) and ``--check-find``."""
    probes = line.find_all("--probe-sop")
    options.check_find = line.find("--check-find") is not None
    for name in ("--probe-sop", "--check-find"):
        check_conflict(name, "--verify-cert or --is-root-cert",
                       offline and line.find(name) is not None)
    if probes:
        from echoscu.sopclasses import parse_probe

        parsed = []
        for occurrence in reversed(probes):  # command-line order
            try:
                parsed.extend(parse_probe(occurrence.value))
            except ValueError as problem:
                raise CommandLineError(str(problem)) from None
        options.probes = parsed
    from echoscu.probe import MAX_CONTEXTS, context_count

    count = context_count(options)
    if count > MAX_CONTEXTS:
        raise CommandLineError(f"too many presentation contexts ({count}, at most "
                               f"{MAX_CONTEXTS}): fewer --propose-pc or --probe-sop")


def nagios_usage_error() -> int:
    """``--nagios`` with a bad command line: UNKNOWN (DCMTK's error block is on stderr)."""
    print_text("DICOM UNKNOWN - invalid command line (see the error on stderr)\n")
    from echoscu.nagios import UNKNOWN

    return UNKNOWN


def run(options: EchoOptions) -> int:
    """Run echoscu with our options (or just the terminal hint); return the exit code."""
    ext = options.extensions or Extensions()
    if ext.serve is not None or ext.peers is not None:
        collector.resume()  # long-running modes collect garbage as usual
    if ext.serve is not None:
        from echoscu import exporter

        return exporter.run(options, ext)
    if ext.peers is not None:
        from echoscu import fleet

        return fleet.run(options, ext)
    from echoscu import driver

    if options.verify_cert is not None or options.is_root_cert is not None:
        return driver.run(options)
    from echoscu.report import RunReport

    if ext.nagios and not ext.log_given:
        log.discard_output()
    report = RunReport(options)
    code = driver.run(options, report)
    terminal = stderr_is_terminal()
    if report.failure is not None and (terminal or ext.json or ext.nagios):
        from echoscu.diagnose import add_hint

        add_hint(report, options)
        if terminal and report.hint:
            log.get_logger(log.APP_LOGGER).warn(f"hint: {report.hint}")
    return _render(report, ext, code)


def _render(report: RunReport, ext: Extensions, code: int) -> int:
    """Print what the options ask for; return the exit code they call for."""
    if ext.nagios:
        from echoscu import nagios

        line, status = nagios.status(report, ext)
        print_text(line + "\n")
        return status
    if ext.json:
        from echoscu.document import dump, result_document

        print_text(dump(result_document(report)) + "\n")
    else:
        if report.probe_plan or report.check_find:
            from echoscu.document import probe_text

            print_text(probe_text(report))
        if ext.stats:
            from echoscu.document import stats_text

            print_text(stats_text(report))
    return exit_code(report, code, ext.exit_codes)


def exit_code(report: RunReport, code: int, mode: str) -> int:
    """DCMTK's ``code`` or, with ``--exit-codes detailed``, the code of the failure class."""
    return report.detailed_code if mode == "detailed" else code
