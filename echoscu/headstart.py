"""A TLS echo's handshake, started before the association machinery is imported.

The handshake spends its time in OpenSSL with the interpreter lock released: our
CertificateVerify signature, the peer's, the round trips (about 2.5 ms of a 33 ms TLS
echo). Importing the driver and ``dul`` takes about as long. So for a quiet plain run
the command line builds the context, connects and starts the handshake on a thread,
then imports the driver, which takes over the connection where it would have made it.

Nothing here prints: the head start is only taken when what DCMTK's flow prints
before the connection could not come out in a different order (no ``-v``/``-d``, an
even max PDU, no pass phrase prompt, nothing said while the context is built), and
any failure it meets (resolution, connect, handshake) is raised by the driver at the
point where it would have met it. Otherwise it steps aside and the driver does
everything as usual.
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
    """The connection a head start made: the context, then the transport and the TLS
    socket (or the condition or error met on the way), once :meth:`finish` returned."""

    __slots__ = ("context", "server_name", "transport", "failure", "tls_sock", "error",
                 "_done", "_deadline")

    def __init__(self, context, server_name: str | None) -> None:
        self.context = context
        self.server_name = server_name
        self.transport: transport.Transport | None = None
        #: resolution or connect failed: DCMTK's condition, for the driver to raise
        self.failure: msg.Condition | None = None
        self.tls_sock = None
        #: what the handshake raised (an OSError), for the driver's usual reporting
        self.error: BaseException | None = None
        self._done = None
        #: monotonic time by which the handshake must be over (None: no bound)
        self._deadline: float | None = None

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
        """Wait until the handshake thread is done (at once if none ran), at most until
        the handshake's time limit: then it fails as a socket timeout would make it."""
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

    def _handshake(self, started, done) -> None:
        started.release()
        try:
            self.tls_sock.do_handshake()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread as is
            self.error = error
        finally:
            done.release()

    def _start(self, timeout: float | None) -> None:
        """Send the ClientHello from here (the peer starts on its answer at once), then
        leave the rest of the handshake to a thread.

        The thread's socket blocks without a timeout, so that OpenSSL waits for the peer
        with the interpreter lock released throughout; :meth:`finish` keeps the limit.
        """
        import ssl  # loaded already: the context was built with it

        try:
            tls_sock = self.tls_sock = self.transport.start_tls(self.context,
                                                                self.server_name, 0.0)
            try:
                tls_sock.do_handshake()
                return  # done without waiting (a client never is, but nothing is left)
            except ssl.SSLWantReadError:
                pass
        except OSError as error:
            self.error = error
            return
        started = _thread.allocate_lock()
        started.acquire()
        done = self._done = _thread.allocate_lock()
        done.acquire()
        if timeout is not None:
            self._deadline = monotonic() + timeout
        tls_sock.settimeout(None)
        try:
            _thread.start_new_thread(self._handshake, (started, done))
        except RuntimeError:  # no thread to be had: the handshake ends here, bounded
            tls_sock.settimeout(timeout)
            self._handshake(started, done)
        # the new thread needs the interpreter to begin: waiting for it here hands it
        # over at once, not when the imports that follow next let go of it
        started.acquire()


def begin(opts: EchoOptions) -> HeadStart | None:
    """Connect and start the TLS handshake for ``opts`` if that cannot change what the
    run prints; None to let the driver do everything itself."""
    if not _quiet(opts):
        return None
    from certs.context import TLSSetupError, client_context, sni_hostname

    silent = _Silent()
    try:
        context = client_context(opts.tls, silent)
    except TLSSetupError:
        return None  # the driver builds it again and says why it fails
    server_name = sni_hostname(opts.tls, silent)
    if silent.spoke:
        return None
    head = HeadStart(context, server_name)
    try:
        family, address = transport.resolve(opts.peer, opts.port, opts.ip_family)
        head.transport = transport.connect(family, address,
                                           transport.option_seconds(opts.connect_timeout))
    except msg.Condition as failure:
        head.failure = failure
        return head
    socket_timeout = transport.option_seconds(opts.socket_timeout)
    head.transport.configure(opts.socket_timeout, socket_timeout, False)
    head._start(transport.handshake_timeout(socket_timeout,
                                            transport.option_seconds(opts.acse_timeout)))
    return head


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
