"""``--peers FILE``: check many peers at once and print one result table (or JSON, CSV,
JUnit, OpenMetrics).

One peer a line: ``[AET@]host:port`` (``[v6 address]:port`` for IPv6), then optional
``setting=value`` words: ``aet`` (calling AE title), ``tls`` (on/off), ``key`` and
``cert`` (client identity, implies TLS), ``ca`` (CA file or directory to trust),
``sni``, ``verify-hostname`` (on/off) and ``hostname`` (the name the peer certificate
must carry, implies verify-hostname=on), the timeouts ``to``/``ts``/``ta``/``td`` in
seconds, ``probe`` (``CLASS[:TS,...];CLASS...`` as ``--probe-sop``) and ``find``
(on/off, as ``--check-find``). ``#`` starts a comment. The command line's options are
every peer's defaults.

The driver is blocking, so peers run in a thread pool (``--jobs``). Every peer gets
its own options, report and socket; TLS contexts are built once per distinct TLS
set-up, in the main thread (a password prompt cannot come from a worker), and then
shared read-only. The DCMTK log lines are silenced; the driver hands each peer's error
and fatal lines to that peer's report, with the rest of what happened.
"""

from __future__ import annotations

import os
import sys
from time import perf_counter, time

from echoscu.cmdline import CommandLineError
from echoscu.options import EchoOptions, Extensions
from echoscu.peerfile import TIMEOUT_SETTINGS, PeerLine, read_peers
from echoscu.report import RunReport

#: -to for fleet checks when the command line gives none: a dead host must not hold a
#: worker for the kernel's two minutes of SYN retries
DEFAULT_CONNECT_TIMEOUT = 10
#: file descriptors a worker may hold at once (its association, or a diagnostic probe),
#: and what the process needs besides
_FDS_PER_JOB = 2
_FDS_SPARE = 64


def peer_options(base: EchoOptions, peer: PeerLine) -> EchoOptions:
    """The command line's options with this peer's address and settings."""
    opts = EchoOptions(**{name: getattr(base, name) for name in EchoOptions.__slots__})
    opts.peer = peer.host
    opts.port = peer.port
    opts.extensions = None
    if peer.called_aet is not None:
        opts.called_aet = peer.called_aet
    if peer.ipv6 and opts.ip_family == "ipv4":
        opts.ip_family = "ipv6"
    if opts.connect_timeout is None:
        opts.connect_timeout = DEFAULT_CONNECT_TIMEOUT
    settings = peer.settings
    if "aet" in settings:
        opts.calling_aet = settings["aet"]
    for name, field in TIMEOUT_SETTINGS.items():
        if name in settings:
            setattr(opts, field, int(settings[name]))
    opts.tls = _peer_tls(base.tls, settings)
    if "verify-hostname" in settings:
        opts.verify_hostname = settings["verify-hostname"] == "on"
    if "hostname" in settings:
        opts.verify_hostname, opts.verify_hostname_as = True, settings["hostname"]
    if "probe" in settings:
        from echoscu.peerfile import peer_probes

        opts.probes = peer_probes(settings["probe"])
    if "find" in settings:
        opts.check_find = settings["find"] == "on"
    return opts


def _peer_tls(base, settings: dict[str, str]):
    """The peer's TLSOptions: the command line's, switched on/off and completed per line."""
    from certs.options import TLSOptions

    wanted = settings.get("tls")
    if wanted == "off":
        return None
    if base is None and wanted is None and "key" not in settings:
        return None
    tls = TLSOptions(mode="anonymous") if base is None else \
        TLSOptions(**{name: getattr(base, name) for name in TLSOptions.__slots__})
    tls.ca_files = list(tls.ca_files)
    tls.ca_dirs = list(tls.ca_dirs)
    # concurrent writes to one seed file would clobber each other: written once, at the end
    tls.write_seed = False
    tls.write_seed_file = None
    if "key" in settings:
        tls.mode = "enabled"
        tls.key_file, tls.cert_file = settings["key"], settings["cert"]
    if "ca" in settings:
        (tls.ca_dirs if os.path.isdir(settings["ca"]) else tls.ca_files).append(settings["ca"])
    if "sni" in settings:
        tls.sni = settings["sni"]
    return tls


def _context_key(tls) -> str:
    """What makes two peers' TLS set-ups share one SSLContext (all but the SNI name)."""
    sni = tls.sni
    tls.sni = None
    try:
        return repr(tls)
    finally:
        tls.sni = sni


def _build_contexts(peer_opts: list[EchoOptions]) -> list[object]:
    """Each peer's client SSLContext (or the failure lines its set-up printed; None without
    TLS), built once per distinct TLS set-up."""
    from certs.context import TLSSetupError, client_context
    from dicomecho.log import TLS_LOGGER, get_logger

    tls_log = get_logger(TLS_LOGGER)
    contexts: dict[str, object] = {}
    per_peer: list[object] = []
    for opts in peer_opts:
        if opts.tls is None:
            per_peer.append(None)
            continue
        key = _context_key(opts.tls)
        context = contexts.get(key)
        if context is None:
            try:
                context = client_context(opts.tls, tls_log)
            except TLSSetupError as error:
                context = [f"{level}: {text}" for level, text in error.messages]
            contexts[key] = context
        per_peer.append(context)
    return per_peer


def _check(opts: EchoOptions, context: object) -> RunReport:
    """One peer's run in a worker thread: its report, hint included."""
    from echoscu import driver
    from echoscu.diagnose import add_hint

    report = RunReport(opts)
    if isinstance(context, list):
        report.log.extend(context)
        report.failed(None, "tls-config")
        report.finished(1)
    else:
        try:
            driver.run(opts, report, context)
        except Exception as error:  # noqa: BLE001 - one peer's bug must not end the others
            report.printed("F", f"internal error: {error!r}")
            report.failed(None, "local-error")
            report.finished(1)
    if report.failure is not None:
        add_hint(report, opts)
    return report


def _too_many_contexts(path: str, peers: list[PeerLine],
                       all_opts: list[EchoOptions]) -> str | None:
    """The error for the first peer whose -ppc, probe= and find= exceed 128 contexts."""
    from echoscu.probe import MAX_CONTEXTS, context_count

    for peer, opts in zip(peers, all_opts, strict=True):
        count = context_count(opts)
        if count > MAX_CONTEXTS:
            return (f"peers file '{path}' line {peer.line}: too many presentation contexts "
                    f"({count}, at most {MAX_CONTEXTS})")
    return None


def _fd_budget(jobs: int) -> int:
    """``jobs``, after raising the open-file limit if it needs more (fewer if it cannot)."""
    from dicomecho.netenv import raise_fd_limit

    needed = jobs * _FDS_PER_JOB + _FDS_SPARE
    limit = raise_fd_limit(needed)
    if limit is not None and limit < needed:
        allowed = max(1, (limit - _FDS_SPARE) // _FDS_PER_JOB)
        sys.stderr.write(f"W: --jobs {jobs} reduced to {allowed} (open file limit {limit})\n")
        return allowed
    return jobs


def load_peers(path: str) -> list[PeerLine] | None:
    """The peers of ``path``, or None after printing DCMTK's error block about the file."""
    try:
        return read_peers(path)
    except CommandLineError as error:
        from echoscu.helptext import error_block

        sys.stderr.write(error_block(str(error)))
        return None


def run(options: EchoOptions, ext: Extensions) -> int:
    """Check every peer of ``ext.peers``; print the results; 0 only if all succeeded."""
    from concurrent.futures import ThreadPoolExecutor

    from dicomecho.log import discard_output
    from dicomecho.output import print_text
    from echoscu import fleetout

    peers = load_peers(ext.peers)
    if peers is None:
        return 1
    discard_output()
    started, origin = time(), perf_counter()
    all_opts = [peer_options(options, peer) for peer in peers]
    problem = _too_many_contexts(ext.peers, peers, all_opts)
    if problem is not None:
        from echoscu.helptext import error_block

        sys.stderr.write(error_block(problem))
        return 1
    contexts = _build_contexts(all_opts)
    jobs = _fd_budget(min(ext.jobs, len(peers)))
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="echoscu-peer")
    try:
        futures = [pool.submit(_check, opts, context)
                   for opts, context in zip(all_opts, contexts, strict=True)]
        reports = [future.result() for future in futures]
    finally:
        # on Ctrl-C, do not wait for the checks under way (their timeouts may be long)
        pool.shutdown(wait=False, cancel_futures=True)
    if options.tls is not None and (options.tls.write_seed or options.tls.write_seed_file):
        from certs.context import write_seed

        write_seed(options.tls)
    run_facts = fleetout.FleetRun(peers, reports, started, perf_counter() - origin, jobs)
    print_text(fleetout.render(run_facts, ext.format))
    return 0 if all(report.ok for report in reports) else 1
