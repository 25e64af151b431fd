"""``--nagios``: one status line with perfdata and the plugin return code (0/1/2/3).

OK/WARNING/CRITICAL come from the mean C-ECHO round trip against ``--warning`` and
``--critical`` (milliseconds, as check_ping judges its round-trip average) and from
the days until the first certificate of the peer's chain expires against
``--cert-warning``/``--cert-critical``. A failed check is CRITICAL; a run that could
not check anything because of local settings (TLS material, AE titles) is UNKNOWN.
A ``--check-find`` refusal (find-refused) is CRITICAL too: the peer answers echoes but
will not let us query, which is what the check was asked to find out. ``--probe-sop``
results are information (text and perfdata), never a state.
"""

from __future__ import annotations

from echoscu.report import RunReport

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.options import Extensions

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
#: failure classes that say nothing about the peer: our own settings are wrong
_LOCAL_CLASSES = ("tls-config", "local-error")


def status(report: RunReport, ext: Extensions) -> tuple[str, int]:
    """The status line and return code for one finished run."""
    cert = _certificate_days(report)
    rtts = report.rtts
    rtt_ms = sum(rtts) / len(rtts) * 1000.0 if rtts else None
    failure = report.failure
    if failure is not None:
        state = UNKNOWN if failure.failure_class in _LOCAL_CLASSES else CRITICAL
        text = f"{report.label}: {failure_text(report)}"
        if report.hint:
            text += f"; hint: {report.hint}"
    else:
        state = max(_judge(rtt_ms, ext.warning, ext.critical, above=True),
                    _judge(cert, ext.cert_warning, ext.cert_critical, above=False))
        text = f"{report.label}: echo {_number(rtt_ms)} ms"
        if report.tls is not None:
            text += f", {report.tls.version}"
            if report.tls.hostname_verified:
                text += f", certificate matches {report.hostname_expected}"
        if cert is not None:
            text += f", certificate expires in {cert} days" if cert >= 0 else \
                f", certificate expired {-cert} days ago"
        text += _probe_find_text(report)
    return f"DICOM {STATE_NAMES[state]} - {text} | {_perfdata(report, rtt_ms, cert, ext)}", state


def _judge(value: float | None, warning: float | None, critical: float | None,
           above: bool) -> int:
    """WARNING/CRITICAL if ``value`` is beyond a threshold (above it, or below it)."""
    if value is None:
        return OK
    if critical is not None and (value > critical if above else value < critical):
        return CRITICAL
    if warning is not None and (value > warning if above else value < warning):
        return WARNING
    return OK


def _certificate_days(report: RunReport) -> int | None:
    """Days until the first certificate the peer sent expires (None without TLS); after a
    failed verification, of the chain it was refused for."""
    chain = report.tls.chain if report.tls is not None else report.unverified_chain
    if not chain:
        return None
    from echoscu.certfacts import chain_days_left

    return chain_days_left(chain)


def failure_text(report: RunReport, with_class: bool = True) -> str:
    """What went wrong, in one line: the class (unless not wanted) and DCMTK's words for it."""
    failure = report.failure
    if failure.reject is not None:
        from echoscu.messages import describe_rejection

        lines = describe_rejection(*failure.reject)[1]
        detail = f"{lines[1]}, {lines[2]}"
    elif failure.phase == "find" and report.find is not None and report.find.problem:
        detail = report.find.problem
    elif failure.failure_class == "bad-status":
        statuses = sorted({f"0x{status:04x}" for _, _, status in report.echoes if status})
        detail = f"C-ECHO answered with status {', '.join(statuses)}"
    elif report.tls is not None and report.tls.hostname_problem is not None:
        detail = report.tls.hostname_problem  # --verify-hostname refused the certificate
    elif failure.condition is not None:
        detail = str(failure.condition).splitlines()[0]
    else:
        fatal = [line[3:] for line in report.log if line.startswith("F: ")]
        errors = [line[3:] for line in report.log if line.startswith("E: ")]
        detail = (fatal or errors or [""])[0]
    if not with_class:
        return detail
    return f"{failure.failure_class}: {detail}" if detail else failure.failure_class


def _probe_find_text(report: RunReport) -> str:
    """``, probes accepted 2/3, find 0 matches in 3.2 ms`` (nothing without the options)."""
    text = ""
    probes = report.probes
    if probes:
        accepted = sum(1 for probe in probes if probe[3] == 0)
        text += f", probes accepted {accepted}/{len(probes)}"
    found = report.find
    if found is not None and found.rtt is not None:
        text += f", find {found.matches} match{'es' if found.matches != 1 else ''} in " \
            f"{_number(found.rtt * 1000.0)} ms"
    return text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def _threshold(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _perfdata(report: RunReport, rtt_ms: float | None, cert: int | None,
              ext: Extensions) -> str:
    """Perfdata: ``label=value[UOM];warn;crit;min;max``, one item per measured value."""
    items = []
    if rtt_ms is not None:
        items.append(f"rtt={_number(rtt_ms)}ms;{_threshold(ext.warning)};"
                     f"{_threshold(ext.critical)};0;")
    handshake = report.timings.get("tls_handshake")
    if handshake is not None and report.tls is not None:
        items.append(f"tls_handshake={_number(handshake * 1000.0)}ms;;;0;")
    if cert is not None:
        # "N:" is the plugin guidelines' range for "alert below N"
        low = [f"{days}:" if days is not None else "" for days in (ext.cert_warning,
                                                                   ext.cert_critical)]
        items.append(f"cert_days={cert};{low[0]};{low[1]};;")
    found = report.find
    if found is not None and found.rtt is not None:
        items.append(f"find={_number(found.rtt * 1000.0)}ms;;;0;")
        items.append(f"find_matches={found.matches};;;0;")
    if report.probe_plan and report.negotiated:
        accepted = sum(1 for probe in report.probes if probe[3] == 0)
        items.append(f"probes_accepted={accepted};;;0;{len(report.probe_plan)}")
    items.append(f"time={_number(report.total * 1000.0)}ms;;;0;")
    return " ".join(items)
