"""``--log-json``: one JSON line per association, written when it ends.

A connection counts once it sent an A-ASSOCIATE-RQ or we ended it (timeout, TLS
failure); a connection the peer closes before sending anything (a port probe, a
load balancer's health check) leaves no line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO

from dicomecho.log import get_logger

#: how an association ended (the ``ended`` field)
RELEASED = "released"
ABORTED = "aborted"            # we aborted (unsupported message, shutdown)
PEER_ABORTED = "peer-aborted"  # A-ABORT from the peer, or the connection dropped
REJECTED = "rejected"
TIMEOUT = "timeout"            # ARTIM, TLS handshake, idle (-tn) or DIMSE (-td) timeout
ERROR = "error"                # malformed PDU, TLS failure, I/O error


class AssociationRecord:
    """What one association did, filled in as it goes."""

    __slots__ = ("started", "peer", "peer_port", "calling_ae", "called_ae", "tls_version",
                 "cipher", "client_subject", "echoes", "ended", "detail")

    def __init__(self, peer: str, peer_port: int) -> None:
        self.started = time.time()
        self.peer = peer
        self.peer_port = peer_port
        self.calling_ae: str | None = None
        self.called_ae: str | None = None
        self.tls_version: str | None = None
        self.cipher: str | None = None
        self.client_subject: str | None = None
        self.echoes = 0
        self.ended: str | None = None
        self.detail: str | None = None

    def to_json(self) -> str:
        """The record as one line of JSON (no newline).

        A peer's undecodable bytes (surrogate escapes in AE titles) become JSON
        ``\\udcXX`` escapes: the line stays valid UTF-8 and json.loads gives them back.
        """
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.started))
        millis = int(self.started * 1000) % 1000
        return json.dumps({
            "time": f"{stamp}.{millis:03d}Z",
            "duration": round(time.time() - self.started, 6),
            "peer": self.peer,
            "peer_port": self.peer_port,
            "calling_ae": self.calling_ae,
            "called_ae": self.called_ae,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "client_subject": self.client_subject,
            "echoes": self.echoes,
            "ended": self.ended,
            "detail": self.detail,
        }, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")


class JsonLog:
    """Appends records to a file (or stdout for "-"), one flushed line each."""

    def __init__(self, path: str) -> None:
        self._owned = path != "-"
        self._failed = False
        self._stream: IO[str] = (
            open(path, "a", encoding="utf-8") if self._owned else sys.stdout
        )

    def write(self, record: AssociationRecord) -> None:
        """Write one record; a full disk or closed pipe is logged once, never fatal."""
        try:
            self._stream.write(record.to_json() + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:
            if not self._failed:
                self._failed = True
                get_logger("echoscp").error(f"Cannot write to the --log-json file: {exc}")

    def close(self) -> None:
        """Close the file (stdout stays open)."""
        if self._owned:
            self._stream.close()
