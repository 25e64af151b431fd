"""A pynetdicom query SCP in the test process: Verification and Study Root C-FIND.

It answers each C-FIND with ``matches`` pending responses, then Success; or, for a
calling AE title other than ``allowed_calling``, with 0xC000 (this AE may not query).
The ``query_scp`` fixture (conftest.py) starts them and stops them at teardown.
"""

from __future__ import annotations

from typing import Any


class QuerySCP:
    """pynetdicom serving Verification and Study Root FIND on 127.0.0.1 (this process)."""

    def __init__(self, matches: int = 0, allowed_calling: str | None = None,
                 find: bool = True) -> None:
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

        #: the identifiers the C-FIND requests carried (decoded by pynetdicom/pydicom)
        self.queries: list[Any] = []
        ae = AE(ae_title="QUERY-SCP")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_supported_context(Verification)
        if find:
            ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)

        def on_find(event: Any):
            self.queries.append(event.identifier)
            if allowed_calling is not None and \
                    event.assoc.requestor.ae_title.strip() != allowed_calling:
                yield 0xC000, None  # "unable to process": this AE may not query
                return
            from pydicom.dataset import Dataset

            for number in range(matches):
                match = Dataset()
                match.QueryRetrieveLevel = "STUDY"
                match.StudyInstanceUID = f"1.2.3.{number + 1}"
                match.StudyDate = "20260101"
                yield 0xFF00, match
            yield 0x0000, None

        self.server = ae.start_server(("127.0.0.1", 0), block=False,
                                      evt_handlers=[(evt.EVT_C_FIND, on_find)])
        self.port = self.server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
