"""A ``RunReport`` as the ``--json`` document and as ``--stats`` text.

The document's shape is ``docs/echoscu-result.schema.json`` (kind "echo"); the fleet
check puts one of these per peer into its own document. Times are milliseconds.
"""

from __future__ import annotations

import json
import time

from dicomecho import __version__
from echoscu.messages import (
    CONTEXT_RESULTS,
    REJECT_REASONS,
    REJECT_RESULTS,
    REJECT_SOURCES,
    status_text,
)
from echoscu.report import FAILURE_CLASSES, PHASES, RunReport, rtt_stats

#: version of the document format (raised when a field changes meaning or goes away)
FORMAT_VERSION = 1


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds ("2026-11-25T10:00:00.123Z")."""
    whole = int(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + \
        f".{int((seconds - whole) * 1000):03d}Z"


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def result_document(report: RunReport) -> dict[str, object]:
    """The JSON-ready description of one run (schema kind "echo")."""
    failure = report.failure
    return {
        "kind": "echo",
        "format_version": FORMAT_VERSION,
        "tool": {"name": "echoscu", "version": __version__},
        "started": iso_time(report.started),
        "peer": {
            "host": report.host,
            "port": report.port,
            "address": report.address[1] if report.address else None,
            "family": report.address[0] if report.address else None,
        },
        "calling_aet": report.calling_aet,
        "called_aet": report.called_aet,
        "outcome": "success" if report.ok else "failure",
        "failure": _failure(report) if failure is not None else None,
        "hint": report.hint,
        "exit_code": report.exit_code,
        "exit_code_detailed": report.detailed_code,
        "timings_ms": _timings(report),
        "association": _association(report),
        "echoes": [{"message_id": message_id, "status": status,
                    "status_text": status_text(status), "rtt_ms": _ms(rtt)}
                   for message_id, rtt, status in report.echoes],
        "rtt_stats_ms": _rounded(rtt_stats(report.rtts)),
        "tls": _tls(report),
        "probes": _probes(report),
        "find": _find(report),
    }


def _rounded(stats: dict[str, float | int] | None) -> dict[str, float | int] | None:
    if stats is None:
        return None
    return {key: round(value, 3) if isinstance(value, float) else value
            for key, value in stats.items()}


def _failure(report: RunReport) -> dict[str, object]:
    failure = report.failure
    reject = None
    if failure.reject is not None:
        result, source, reason = failure.reject
        reject = {
            "result": result, "result_text": REJECT_RESULTS.get(result, REJECT_RESULTS[1]),
            "source": source, "source_text": REJECT_SOURCES.get(source, REJECT_SOURCES[1]),
            "reason": reason,
            "reason_text": REJECT_REASONS.get((source, reason), "No Reason"),
        }
    condition = failure.condition
    return {
        "class": failure.failure_class,
        "description": FAILURE_CLASSES[failure.failure_class][1],
        "phase": failure.phase,
        "condition": str(condition) if condition is not None else None,
        "condition_code": f"{condition.module:04x}:{condition.code:04x}"
        if condition is not None else None,
        "reject": reject,
        "statuses": sorted({status for _, _, status in report.echoes if status}),
        "log": list(report.log),
    }


def _timings(report: RunReport) -> dict[str, float]:
    timings = {phase: _ms(report.timings[phase]) for phase in PHASES if phase in report.timings}
    timings["total"] = _ms(report.total)
    return timings


def _association(report: RunReport) -> dict[str, object] | None:
    if report.max_send_pdv is None:
        return None
    from echoscu.dumps import dcmtk_name

    uid, version_name = report.peer_implementation
    return {
        "our_max_pdu": report.max_pdu,
        "peer_max_pdu": report.peer_max_pdu,
        "max_send_pdv": report.max_send_pdv,
        "context_id": report.context_id,
        "contexts": [{"id": context_id, "result": result,
                      "result_text": CONTEXT_RESULTS.get(result, "--Invalid Result/Reason--"),
                      "transfer_syntax": syntax,
                      "transfer_syntax_name": dcmtk_name(syntax) if syntax else None}
                     for context_id, result, syntax in report.contexts],
        "peer_implementation_class_uid": uid,
        "peer_implementation_version_name": version_name,
    }


def _tls(report: RunReport) -> dict[str, object] | None:
    if not report.tls_requested:
        return None
    from echoscu.certfacts import describe_chain

    facts = report.tls
    if facts is None:
        return {"established": False, "version": None, "cipher": None, "cipher_bits": None,
                "alpn": None, "sni": report.sni_requested, "verified": None,
                "hostname": report.hostname_expected, "hostname_verified": None,
                "peer_chain": describe_chain(report.unverified_chain, report.host),
                "error": report.tls_error}
    return {"established": True, "version": facts.version, "cipher": facts.cipher,
            "cipher_bits": facts.cipher_bits, "alpn": facts.alpn, "sni": facts.sni,
            "verified": facts.verified, "hostname": report.hostname_expected,
            "hostname_verified": facts.hostname_verified,
            "peer_chain": describe_chain(facts.chain, report.host),
            "error": None}


def _probes(report: RunReport) -> list[dict[str, object]]:
    """``--probe-sop``: one entry per probed context (empty without the option)."""
    if not report.probe_plan:
        return []
    from echoscu.probe import result_text
    from echoscu.sopclasses import keyword, name

    entries = []
    for context_id, abstract, proposed, result, syntax in report.probes:
        accepted = result == 0
        entries.append({
            "context_id": context_id,
            "sop_class": abstract,
            "sop_class_keyword": keyword(abstract),
            "proposed_transfer_syntaxes": list(proposed),
            "result": result,
            "result_text": result_text(result) if report.negotiated else None,
            "accepted": accepted,
            "transfer_syntax": syntax if accepted else None,
            "transfer_syntax_name": name(syntax) if accepted and syntax else None,
        })
    return entries


def _find(report: RunReport) -> dict[str, object] | None:
    """``--check-find``'s C-FIND (None without the option)."""
    if not report.check_find:
        return None
    from echoscu.probe import STUDY_ROOT_FIND, result_text

    found = report.find
    if found is None:
        return {"sop_class": STUDY_ROOT_FIND, "outcome": "not-run", "context_id": None,
                "context_result": None, "context_result_text": None, "transfer_syntax": None,
                "message_id": None, "status": None, "status_text": None, "error_comment": None,
                "matches": 0, "rtt_ms": None, "problem": None}
    from echoscu.query import status_text

    if found.failure_class is None:
        outcome = "answered"
    else:
        outcome = "refused" if found.failure_class == "find-refused" else "failed"
    return {
        "sop_class": STUDY_ROOT_FIND,
        "outcome": outcome,
        "context_id": found.context_id,
        "context_result": found.context_result,
        "context_result_text": result_text(found.context_result),
        "transfer_syntax": found.transfer_syntax,
        "message_id": found.message_id if found.context_result == 0 else None,
        "status": found.status,
        "status_text": status_text(found.status) if found.status is not None else None,
        "error_comment": found.error_comment,
        "matches": found.matches,
        "rtt_ms": _ms(found.rtt) if found.rtt is not None else None,
        "problem": found.problem,
    }


def probe_text(report: RunReport) -> str:
    """The text block of ``--probe-sop`` and ``--check-find`` (stdout, after the run):
    one ``Probe:`` line per probed context, one ``Find:`` line."""
    lines = []
    if report.probe_plan and report.negotiated:
        from echoscu.probe import result_text
        from echoscu.sopclasses import keyword, name

        for _, abstract, _, result, syntax in report.probes:
            line = f"Probe: {keyword(abstract)} ({abstract}): {result_text(result)}"
            if result == 0 and syntax:
                line += f", {name(syntax)}"
            lines.append(line)
    found = report.find
    if found is not None:
        lines.append(f"Find: {find_summary(report)}")
    return "".join(line + "\n" for line in lines)


def find_summary(report: RunReport) -> str:
    """``--check-find``'s result in one line (empty if the C-FIND never ran)."""
    found = report.find
    if found is None:
        return ""
    if found.failure_class is None:
        from echoscu.query import status_text

        return (f"{status_text(found.status)} (0x{found.status:04x}), {found.matches} "
                f"match{'es' if found.matches != 1 else ''}, {_ms(found.rtt):.3f} ms")
    what = "refused" if found.failure_class == "find-refused" else \
        f"failed ({found.failure_class})"
    return f"{what}: {found.problem}"


def dump(document: object) -> str:
    """JSON text as printed: two-space indented, keys in document order, UTF-8 as is."""
    return json.dumps(document, indent=2, ensure_ascii=False)


def stats_text(report: RunReport) -> str:
    """``--stats``: a ping-like summary of the echo round trips."""
    answered = len(report.echoes)
    successes = sum(1 for _, _, status in report.echoes if status == 0)
    others = answered - successes
    loss = 100.0 * (report.repeat - answered) / report.repeat if report.repeat else 0.0
    lines = [f"--- {report.label} echo statistics ---",
             f"{report.repeat} requested, {answered} answered ({successes} Success"
             + (f", {others} other status" if others else "") + f"), {loss:.0f}% unanswered, "
             f"time {_ms(report.timings.get('echo', 0.0)):.3f} ms"]
    stats = rtt_stats(report.rtts)
    if stats is not None:
        lines.append("rtt min/avg/max/stddev = "
                     + "/".join(f"{stats[key]:.3f}" for key in ("min", "avg", "max", "stddev"))
                     + " ms")
        lines.append("rtt p50/p95/p99 = "
                     + "/".join(f"{stats[key]:.3f}" for key in ("p50", "p95", "p99")) + " ms")
    if report.failure is not None:
        lines.append(f"failed: {report.failure.failure_class}")
    return "\n".join(lines) + "\n"
