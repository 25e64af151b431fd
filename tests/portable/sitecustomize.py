"""The portable mode of the test suite: Python as macOS and Windows offer it.

Active only with this directory on PYTHONPATH *and* ECHOSCU_PORTABLE_TEST=1 (nox's
"portable" session sets both, so every subprocess the tests start inherits the mode).
It takes away what only Linux, or only CPython's internals, give our code, so that the
portable fallbacks run here:

- os.memfd_create (TLS material then goes through private temporary files);
- socket.TCP_QUICKACK, SO_RCVTIMEO and SO_SNDTIMEO (Python's own socket timeouts);
- os.O_NOCTTY and os.fchmod (absent on Windows before 3.13);
- asyncio's loop.add_signal_handler, which raises NotImplementedError as on Windows;
- ctypes (so nothing reaches into OpenSSL behind Python's back);
- _ssl._SSLContext, the private class certs.profiles prefers to ssl's (ssl itself is
  imported first, so its own classes are built as usual).
"""

from __future__ import annotations

import os

if os.environ.get("ECHOSCU_PORTABLE_TEST") == "1":
    import _socket
    import importlib.abc
    import importlib.util
    import socket
    import sys

    for _name in ("memfd_create", "MFD_CLOEXEC", "O_NOCTTY", "fchmod"):
        if hasattr(os, _name):
            delattr(os, _name)
    for _module in (socket, _socket):
        for _name in ("TCP_QUICKACK", "SO_RCVTIMEO", "SO_SNDTIMEO"):
            if hasattr(_module, _name):
                delattr(_module, _name)

    sys.modules["ctypes"] = None  # type: ignore[assignment]  # import ctypes -> ImportError

    import _ssl
    import ssl  # noqa: F401  # builds ssl.SSLContext on _ssl._SSLContext before it goes

    del _ssl._SSLContext

    def _no_signal_handlers(*_args: object, **_kwargs: object) -> None:
        raise NotImplementedError("portable test mode: no asyncio signal handlers")

    class _WithoutSignalHandlers(importlib.abc.MetaPathFinder):
        """Patches asyncio.unix_events as it is imported (asyncio stays lazily imported)."""

        def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
            if name != "asyncio.unix_events":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            original = spec.loader.exec_module

            def exec_module(module) -> None:  # noqa: ANN001
                original(module)
                module._UnixSelectorEventLoop.add_signal_handler = _no_signal_handlers

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _WithoutSignalHandlers())
