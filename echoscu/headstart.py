"""A TLS echo's set-up and handshake, done on a thread while the main thread parses the
command line and imports the association machinery.

Much of a TLS set-up runs in OpenSSL with the interpreter lock released: the first
SSL_CTX_new (about 1 ms: OpenSSL fetches its algorithms), loading the key and the
certificates, our CertificateVerify signature, the peer's, the round trips. Parsing the
command line and importing the driver and ``dul`` hold the lock about as long. So when
the arguments name a TLS option, :func:`launch` starts a thread that makes the bare
client context while the command line is parsed; for a quiet run :func:`begin` then
hands it the options, and it builds the context, connects and does the handshake while
the driver is imported. The driver takes the connection over where it would have made it.

Nothing here prints: the head start is only taken when what DCMTK's flow prints
before the connection could not come out in a different order (no ``-v``/``-d``, an
even max PDU, no pass phrase prompt, nothing said while the context is built), and
any failure it meets (resolution, connect, handshake) is raised by the driver at the
point where it would have met it. Otherwise it steps aside before connecting and the
driver does everything as usual.
"""

from __future__ import annotations

import _thread
from time import monotonic

from dicomecho.log import APP_LOGGER, INFO, NET_LOGGER, TLS_LOGGER, get_logger
from echoscu import messages as msg
from echoscu import transport

TYPE_CHECKING = False  # the start-up rule: see dicomecho/__init__.py
if TYPE_CHECKING:
    from echoscu.options import EchoOptions


class _Silent:
    """A certs log that prints nothing and remembers whether a line a quiet run shows
    (a warning or worse) was said; information and debug lines it would not show."""

    __slots__ = ("spoke",)

    def __init__(self) -> None:
        self.spoke = False

    def _said(self, text: str) -> None:
        self.spoke = True

    def _unseen(self, text: str) -> None:
        pass

    fatal = error = warn = _said
    info = debug = _unseen


class HeadStart:
    """The thread that sets up a TLS connection ahead of the driver, and what it made.

    Once :meth:`settled` returned True: the context, then the transport and the TLS
    socket (or the condition met on the way); once :meth:`finish` returned, the
    handshake's outcome.
    """

    __slots__ = ("context", "server_name", "transport", "failure", "tls_sock", "error",
                 "_orders", "_ordered", "_opts", "_settled", "_taken", "_done", "_deadline")

    def __init__(self) -> None:
        self.context = None
        self.server_name: str | None = None
        self.transport: transport.Transport | None = None
        #: resolution or connect failed: DCMTK's condition, for the driver to raise
        self.failure: msg.Condition | None = None
        self.tls_sock = None
        #: what the handshake raised (an OSError), for the driver's usual reporting
        self.error: BaseException | None = None
        #: held until begin() hands over the options (None: cancelled)
        self._orders = _locked()
        self._ordered = False
        self._opts: EchoOptions | None = None
        #: held until the thread connected, or stepped aside (then _taken is False)
        self._settled = _locked()
        self._taken = False
        #: held until the handshake is over
        self._done = _locked()
        #: monotonic time by which the handshake must be over (None: no bound)
        self._deadline: float | None = None

    def settled(self) -> bool:
        """Wait until the thread connected or stepped aside; True if the driver is to
        take the connection over, False if it does everything itself."""
        self._settled.acquire()
        self._settled.release()
        return self._taken

    def connected(self) -> transport.Transport:
        """The configured TCP connection; raises the condition resolution or connect met."""
        if self.failure is not None:
            raise self.failure
        return self.transport

    def handshaken(self):
        """Wait for the handshake; the TLS socket, or raise what the handshake raised."""
        self.finish()
        if self.error is not None:
            raise self.error
        return self.tls_sock

    def finish(self) -> None:
        """Wait until the handshake is over, at most until its time limit: then it fails
        as a socket timeout would make it fail."""
        done, self._done = self._done, None
        if done is None:
            return
        if self._deadline is None:
            done.acquire()
            return
        if done.acquire(timeout=max(self._deadline - monotonic(), 0.0)):
            return
        import socket  # loaded already, by ssl

        socket.socket.shutdown(self.tls_sock, socket.SHUT_RDWR)  # ends the thread's read
        done.acquire()
        self.error = TimeoutError("The handshake operation timed out")

    def cancel(self) -> None:
        """End the thread unused if begin() did not hand it the options (else nothing)."""
        self._order(None)

    def _order(self, opts: EchoOptions | None) -> None:
        """Let the thread go on with ``opts`` (None: end); only the first call counts."""
        if not self._ordered:
            self._ordered = True
            self._opts = opts
            self._orders.release()

    def _work(self, started) -> None:
        settled, done = self._settled, self._done  # finish() lets go of _done
        started.release()
        try:
            self._taken = self._prepare()
        except BaseException:  # noqa: BLE001 - the driver does it again and reports it
            self._taken = False
        if not self._taken and self.transport is not None:
            self.transport.close()
            self.transport = None
        settled.release()
        try:
            if self._taken and self.tls_sock is not None:
                self.tls_sock.do_handshake()  # blocks with the interpreter lock released
        except BaseException as error:  # noqa: BLE001 - handed to the main thread as is
            self.error = error
        finally:
            done.release()

    def _prepare(self) -> bool:
        """The bare context, then (once begin() handed over the options) the rest of the
        set-up; False if cancelled or stepping aside."""
        try:
            import ssl  # loaded already (by launch(), or by begin()'s checks)

            bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # OpenSSL lets go of the lock
        except Exception:  # noqa: BLE001 - the driver meets it again and reports it
            bare = None
        self._orders.acquire()
        opts = self._opts
        return opts is not None and self._connect(opts, bare)

    def _connect(self, opts: EchoOptions, bare) -> bool:
        """Build the context, connect and wrap the socket; False to step aside (nothing
        connected), True once connected or once resolve/connect failed as DCMTK reports."""
        from certs.context import TLSSetupError, client_context, sni_hostname

        silent = _Silent()
        try:
            self.context = client_context(opts.tls, silent, bare)
        except TLSSetupError:
            return False  # the driver builds it again and says why it fails
        self.server_name = sni_hostname(opts.tls, silent)
        if silent.spoke:
            return False
        try:
            family, address = transport.resolve(opts.peer, opts.port, opts.ip_family)
            self.transport = transport.connect(family, address,
                                               transport.option_seconds(opts.connect_timeout))
        except msg.Condition as failure:
            self.failure = failure
            return True
        socket_timeout = transport.option_seconds(opts.socket_timeout)
        self.transport.configure(opts.socket_timeout, socket_timeout, False)
        limit = transport.handshake_timeout(socket_timeout,
                                            transport.option_seconds(opts.acse_timeout))
        try:
            # blocking without a timeout, so that OpenSSL waits for the peer with the
            # interpreter lock released throughout; finish() keeps the limit
            self.tls_sock = self.transport.start_tls(self.context, self.server_name, None)
        except OSError as error:
            self.error = error
            return True
        if limit is not None:
            self._deadline = monotonic() + limit
        return True


def launch() -> HeadStart | None:
    """Import ssl and start the head start's thread, which makes the bare client context
    while the command line is parsed, then waits for :func:`begin` (or
    :meth:`HeadStart.cancel`). None where no thread can be had."""
    import ssl  # noqa: F401 - here, so that the thread does not wait for the import

    return _started()


def begin(opts: EchoOptions, head: HeadStart | None = None) -> HeadStart | None:
    """Hand ``opts`` to the head start (launched now if :func:`launch` was not) when
    that cannot change what the run prints; otherwise end it and return None, for the
    driver to do everything itself. Call :meth:`HeadStart.settled` before taking over."""
    if not _quiet(opts):
        if head is not None:
            head.cancel()
        return None
    if head is None:
        head = _started()
        if head is None:
            return None
    head._order(opts)
    return head


def _started() -> HeadStart | None:
    """A head start with its thread running; None where no thread can be had."""
    head = HeadStart()
    started = _locked()
    try:
        _thread.start_new_thread(head._work, (started,))
    except RuntimeError:
        return None
    # the new thread needs the interpreter to begin: waiting for it here hands it over
    # at once, and it lets go again inside SSL_CTX_new
    started.acquire()
    return head


def _locked():
    """A new lock, already held (released to signal)."""
    lock = _thread.allocate_lock()
    lock.acquire()
    return lock


def _quiet(opts: EchoOptions) -> bool:
    """True when nothing DCMTK's flow prints before connecting can be reordered."""
    if opts.tls is None or opts.verify_cert is not None or opts.is_root_cert is not None:
        return False
    if opts.max_pdu % 2:
        return False  # its warning comes before the TLS set-up
    from certs.identity import may_prompt  # loaded anyway, by the context it builds

    if may_prompt(opts.tls):
        return False  # the driver asks, once
    return not any(get_logger(name).enabled(INFO)
                   for name in (APP_LOGGER, NET_LOGGER, TLS_LOGGER))
