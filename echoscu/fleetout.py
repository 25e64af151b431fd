"""The fleet check's results as a table, JSON, CSV, JUnit XML or OpenMetrics text.

Every format is rendered from the peers' ``RunReport``s, in peers-file order.
"""

from __future__ import annotations

from echoscu.report import RunReport

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.peerfile import PeerLine


class FleetRun:
    """A finished fleet check: the peers, their reports (same order), when and how long."""

    __slots__ = ("peers", "reports", "started", "duration", "jobs")

    def __init__(self, peers: list[PeerLine], reports: list[RunReport], started: float,
                 duration: float, jobs: int) -> None:
        self.peers = peers
        self.reports = reports
        self.started = started
        self.duration = duration
        self.jobs = jobs

    def by_class(self) -> dict[str, int]:
        """How many peers failed with each failure class (most frequent first)."""
        counts: dict[str, int] = {}
        for report in self.reports:
            if not report.ok:
                name = report.failure_class or "local-error"
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def render(run: FleetRun, format_name: str) -> str:
    """The whole output for ``--format format_name``."""
    return {"table": table, "json": json_text, "csv": csv_text, "junit": junit,
            "openmetrics": openmetrics}[format_name](run)


def _mean_rtt_ms(report: RunReport) -> float | None:
    rtts = report.rtts
    return sum(rtts) / len(rtts) * 1000.0 if rtts else None


def _cert_days(report: RunReport) -> int | None:
    if report.tls is None:
        return None
    from echoscu.certfacts import chain_days_left

    return chain_days_left(report.tls.chain)


def detail(report: RunReport, with_class: bool = True) -> str:
    """One line on what went wrong (empty on success)."""
    if report.ok:
        return ""
    from echoscu.nagios import failure_text

    return failure_text(report, with_class)


def probe_find_summary(report: RunReport) -> str:
    """``probes 12/13 accepted, find 0 matches`` for probe=/find= (empty without them)."""
    parts = []
    if report.probe_plan and report.negotiated:
        accepted = sum(1 for probe in report.probes if probe[3] == 0)
        parts.append(f"probes {accepted}/{len(report.probe_plan)} accepted")
    found = report.find
    if found is not None and found.failure_class is None:
        parts.append(f"find {found.matches} match{'es' if found.matches != 1 else ''}")
    return ", ".join(parts)


def _probes_cell(report: RunReport) -> str:
    """The CSV ``probes`` cell: ``keyword=result`` (``=accepted:TS UID``) joined by ``;``."""
    if not report.probe_plan or not report.negotiated:
        return ""
    from echoscu.probe import result_text
    from echoscu.sopclasses import keyword

    cells = []
    for _, abstract, _, result, syntax in report.probes:
        cell = f"{keyword(abstract)}={result_text(result)}"
        if result == 0 and syntax:
            cell += f":{syntax}"
        cells.append(cell)
    return ";".join(cells)


def _find_cell(report: RunReport) -> str:
    """The CSV ``find`` cell: ``0x0000 2 matches``, ``refused`` or ``failed`` (empty without)."""
    found = report.find
    if found is None:
        return ""
    if found.failure_class is None:
        return f"0x{found.status:04x} {found.matches} matches"
    return "refused" if found.failure_class == "find-refused" else "failed"


def _tls_text(report: RunReport) -> str:
    if not report.tls_requested:
        return "-"
    if report.tls is None:
        return "failed"
    return report.tls.version + _HOSTNAME_TEXT[report.tls.hostname_verified]


#: the --verify-hostname verdict after the TLS version in the table's TLS column
_HOSTNAME_TEXT = {None: "", True: " (hostname ok)", False: " (hostname mismatch)"}


def _hostname_verified(report: RunReport) -> bool | None:
    return report.tls.hostname_verified if report.tls is not None else None


def _ms_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(run: FleetRun) -> str:
    """Aligned columns, one row per peer, then a summary line."""
    header = ("PEER", "CALLING", "TLS", "RESULT", "TIME ms", "RTT ms", "CERT", "DETAIL")
    rows = []
    for report in run.reports:
        days = _cert_days(report)
        text = detail(report, with_class=False) or probe_find_summary(report)
        if report.hint:
            text += f" (hint: {report.hint})"
        rows.append((report.label, report.calling_aet, _tls_text(report),
                     "ok" if report.ok else report.failure_class or "local-error",
                     _ms_text(report.total * 1000.0), _ms_text(_mean_rtt_ms(report)),
                     "-" if days is None else str(days), text))
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(7)]
    right = (4, 5, 6)
    lines = []
    for row in [header, *rows]:
        cells = [row[column].rjust(widths[column]) if column in right
                 else row[column].ljust(widths[column]) for column in range(7)]
        lines.append(("  ".join(cells) + "  " + row[7]).rstrip())
    return "\n".join(lines) + "\n" + summary(run) + "\n"


def summary(run: FleetRun) -> str:
    """``N peers: n ok, m failed (refused 3, rejected 2); 1.23 s with 32 jobs``."""
    failed = sum(1 for report in run.reports if not report.ok)
    text = f"{len(run.reports)} peers: {len(run.reports) - failed} ok, {failed} failed"
    classes = run.by_class()
    if classes:
        text += " (" + ", ".join(f"{name} {count}" for name, count in classes.items()) + ")"
    return text + f"; {run.duration:.2f} s with {run.jobs} jobs"


def document(run: FleetRun) -> dict[str, object]:
    """The JSON-ready fleet document (schema kind "fleet")."""
    from dicomecho import __version__
    from echoscu.document import FORMAT_VERSION, iso_time, result_document

    results = []
    for peer, report in zip(run.peers, run.reports, strict=True):
        result = result_document(report)
        result["peers_file_line"] = peer.line
        results.append(result)
    failed = sum(1 for report in run.reports if not report.ok)
    return {
        "kind": "fleet",
        "format_version": FORMAT_VERSION,
        "tool": {"name": "echoscu", "version": __version__},
        "started": iso_time(run.started),
        "duration_ms": round(run.duration * 1000.0, 3),
        "jobs": run.jobs,
        "summary": {"peers": len(run.reports), "succeeded": len(run.reports) - failed,
                    "failed": failed, "by_class": run.by_class()},
        "results": results,
    }


def json_text(run: FleetRun) -> str:
    """``--format json``: one document for the whole check."""
    from echoscu.document import dump

    return dump(document(run)) + "\n"


CSV_COLUMNS = ("line", "peer", "host", "port", "called_aet", "calling_aet", "tls", "outcome",
               "failure_class", "exit_code_detailed", "total_ms", "connect_ms",
               "tls_handshake_ms", "associate_ms", "rtt_ms", "statuses", "tls_version",
               "cert_days_left", "detail", "hint", "probes", "find")
#: the column added when a peer's certificate was to be checked (--verify-hostname)
CSV_HOSTNAME_COLUMN = "hostname_verified"


def csv_text(run: FleetRun) -> str:
    """``--format csv``: a header row, then one row per peer (RFC 4180 quoting)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    hostnames = any(report.hostname_expected is not None for report in run.reports)
    writer.writerow(CSV_COLUMNS + ((CSV_HOSTNAME_COLUMN,) if hostnames else ()))
    for peer, report in zip(run.peers, run.reports, strict=True):
        timings = report.timings
        days = _cert_days(report)
        rtt = _mean_rtt_ms(report)
        writer.writerow([
            peer.line, report.label, report.host, report.port, report.called_aet,
            report.calling_aet, "on" if report.tls_requested else "off",
            "success" if report.ok else "failure", report.failure_class or "",
            report.detailed_code, f"{report.total * 1000.0:.3f}",
            *(f"{timings[name] * 1000.0:.3f}" if name in timings else ""
              for name in ("connect", "tls_handshake", "associate")),
            "" if rtt is None else f"{rtt:.3f}",
            " ".join(f"0x{status:04x}" for _, _, status in report.echoes),
            report.tls.version if report.tls is not None else "",
            "" if days is None else days, detail(report), report.hint or "",
            _probes_cell(report), _find_cell(report),
            *([{None: "", True: "yes", False: "no"}[_hostname_verified(report)]]
              if hostnames else []),
        ])
    return out.getvalue()


def junit(run: FleetRun) -> str:
    """``--format junit``: one test case per peer; a failed check is a ``<failure>``."""
    import xml.etree.ElementTree as ElementTree

    failed = sum(1 for report in run.reports if not report.ok)
    suites = ElementTree.Element("testsuites", name="echoscu", tests=str(len(run.reports)),
                                 failures=str(failed), errors="0",
                                 time=f"{run.duration:.3f}")
    suite = ElementTree.SubElement(suites, "testsuite", name="echoscu --peers",
                                   tests=str(len(run.reports)), failures=str(failed),
                                   errors="0", skipped="0", time=f"{run.duration:.3f}")
    for peer, report in zip(run.peers, run.reports, strict=True):
        case = ElementTree.SubElement(suite, "testcase", classname="echoscu.peers",
                                      name=f"{report.label} (line {peer.line})",
                                      time=f"{report.total:.3f}")
        if not report.ok:
            failure = ElementTree.SubElement(case, "failure", type=report.failure_class or "",
                                             message=detail(report))
            lines = list(report.log)
            if report.hint:
                lines.append(f"hint: {report.hint}")
            failure.text = "\n".join(lines)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + \
        ElementTree.tostring(suites, encoding="unicode") + "\n"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(run: FleetRun) -> str:
    """``--format openmetrics``: gauges per peer (node_exporter textfile ready), ``# EOF``."""
    families = {
        "dicom_echo_up": ("1 if the C-ECHO was answered with Success and released", None),
        "dicom_echo_duration_seconds": ("whole check: resolve to release", "seconds"),
        "dicom_echo_rtt_seconds": ("mean C-ECHO round trip", "seconds"),
        "dicom_echo_tls_handshake_seconds": ("TLS handshake", "seconds"),
        "dicom_echo_cert_expiry_timestamp_seconds": (
            "notAfter of the peer's first certificate to expire", "seconds"),
        "dicom_echo_failure": ("1 for the failure class of a failed check", None),
        "dicom_echo_tls_hostname_verified": (
            "1 if the peer certificate names the host (--verify-hostname), 0 if not", None),
    }
    samples: dict[str, list[str]] = {name: [] for name in families}
    seen = set()
    for report in run.reports:
        host = f"[{report.host}]" if ":" in report.host else report.host
        labels = (f'peer="{_label_value(f"{host}:{report.port}")}",'
                  f'called_aet="{_label_value(report.called_aet)}",'
                  f'calling_aet="{_label_value(report.calling_aet)}",'
                  f'tls="{"on" if report.tls_requested else "off"}"')
        if labels in seen:
            continue  # a repeated line: one series per label set, the first line wins
        seen.add(labels)
        samples["dicom_echo_up"].append(f"dicom_echo_up{{{labels}}} {int(report.ok)}")
        samples["dicom_echo_duration_seconds"].append(
            f"dicom_echo_duration_seconds{{{labels}}} {report.total:.6f}")
        rtt = _mean_rtt_ms(report)
        if rtt is not None:
            samples["dicom_echo_rtt_seconds"].append(
                f"dicom_echo_rtt_seconds{{{labels}}} {rtt / 1000.0:.6f}")
        handshake = report.timings.get("tls_handshake")
        if handshake is not None and report.tls is not None:
            samples["dicom_echo_tls_handshake_seconds"].append(
                f"dicom_echo_tls_handshake_seconds{{{labels}}} {handshake:.6f}")
        if report.tls is not None and report.tls.chain:
            from echoscu.certfacts import earliest_expiry

            earliest = earliest_expiry(report.tls.chain)
            if earliest is not None:
                samples["dicom_echo_cert_expiry_timestamp_seconds"].append(
                    f"dicom_echo_cert_expiry_timestamp_seconds{{{labels}}} {earliest[0]:.0f}")
        verdict = _hostname_verified(report)
        if verdict is not None:
            samples["dicom_echo_tls_hostname_verified"].append(
                f"dicom_echo_tls_hostname_verified{{{labels}}} {int(verdict)}")
        if not report.ok:
            samples["dicom_echo_failure"].append(
                f'dicom_echo_failure{{{labels},class="{report.failure_class or "local-error"}"}} 1')
    if not samples["dicom_echo_tls_hostname_verified"]:
        del families["dicom_echo_tls_hostname_verified"]  # no peer was checked
    lines = []
    for name, (help_text, unit) in families.items():
        lines.append(f"# TYPE {name} gauge")
        if unit:
            lines.append(f"# UNIT {name} {unit}")
        lines.append(f"# HELP {name} {help_text}")
        lines.extend(samples[name])
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
