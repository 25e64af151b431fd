"""What echoscu, echoscp and echocerts share: identity, log, output, environment.

Everything here uses the standard library only (click in ``completion`` alone) and
imports nothing else of this project, so every package may build on it. Importing the
package does no work: echoscu's start-up time is a target (bench T1).

The start-up rule, followed throughout the project: ``typing``, ``dataclasses``,
``enum`` and ``collections.abc`` are not imported at run time on the echo path (together
about 15 ms, half of DCMTK's whole echo; docs/design.md D3). Modules write
``TYPE_CHECKING = False`` and import annotation-only names under it.
"""

__version__ = "0.1.0"
#: release date shown in the DCMTK-shaped version header
__date__ = "2026-11-25"

#: implementation identity sent on the wire by both commands (a UUID-derived 2.25 UID)
IMPLEMENTATION_CLASS_UID = "2.25.211717524918349529527401668842660094394"


def implementation_version_name(app: str) -> str:
    """``<APP>_<version>``, cut to the 16 characters PS3.7 allows."""
    return f"{app.upper()}_{__version__}"[:16]
