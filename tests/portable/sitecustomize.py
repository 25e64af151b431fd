"""Portable mode of the tests: take away what only some Pythons or platforms have.

Active only when this directory is on PYTHONPATH *and* ECHOSCU_PORTABLE_TEST=1, so
that subprocesses of the tests can run the public-API fallbacks (DESIGN.md D8,
issue #12) on this machine. Without the variable, importing this file does nothing.

Each removal lives in its own section below; add new ones the same way (one
section, one comment saying which fallback it exercises).
"""

import os
import sys

if os.environ.get("ECHOSCU_PORTABLE_TEST") == "1":

    # --- ctypes ----------------------------------------------------------------------
    # No ctypes: certs.context keeps OpenSSL's default TLS 1.3 suites (with a warning)
    # and certs.offline runs +vc/+rc through certs.offline_fallback.
    sys.modules["ctypes"] = None  # makes "import ctypes" raise ImportError

    # --- (further "no Linux extras" removals go here, one section each) ------------
