"""The presentation contexts ``--probe-sop`` and ``--check-find`` add, and how each fared.

Standard library only: the driver builds its A-ASSOCIATE-RQ from ``extra_contexts``
and the report reads the A-ASSOCIATE-AC's answers against the same plan. The context
IDs follow Verification's (``-ppc`` contexts 1, 3, ...): the probed classes in command
line order, then the Study Root FIND context of ``--check-find``. The keyword tables
(pydicom) are ``echoscu.sopclasses``', loaded only to parse or name them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see echoscu.driver: typing is not imported at run time
if TYPE_CHECKING:
    from echoscu.options import EchoOptions

IMPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
#: what a probe proposes when the command line names no transfer syntax (and --check-find)
DEFAULT_TRANSFER_SYNTAXES = (IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN)
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
#: presentation context IDs are odd numbers from 1 to 255
MAX_CONTEXTS = 128

#: presentation context result (A-ASSOCIATE-AC) -> how the probe output names it
RESULT_TEXTS = {
    0: "accepted",
    1: "user rejection",
    2: "provider rejection",
    3: "abstract syntax not supported",
    4: "transfer syntaxes not supported",
}
#: a proposed context the A-ASSOCIATE-AC does not mention
NOT_ANSWERED = "not answered"


def result_text(result: int | None) -> str:
    """The probe output's words for a context result (None: not in the A-ASSOCIATE-AC)."""
    if result is None:
        return NOT_ANSWERED
    return RESULT_TEXTS.get(result, f"invalid result {result}")


def context_count(opts: EchoOptions) -> int:
    """How many presentation contexts the A-ASSOCIATE-RQ proposes."""
    return opts.propose_pc + len(opts.probes) + (1 if opts.check_find else 0)


def extra_contexts(opts: EchoOptions) -> list[tuple[int, str, tuple[str, ...]]]:
    """(context ID, abstract syntax, transfer syntaxes) of the contexts after Verification's."""
    next_id = 2 * opts.propose_pc + 1
    contexts = []
    for abstract, syntaxes in opts.probes:
        contexts.append((next_id, abstract, tuple(syntaxes)))
        next_id += 2
    if opts.check_find:
        contexts.append((next_id, STUDY_ROOT_FIND, DEFAULT_TRANSFER_SYNTAXES))
    return contexts


def find_context_id(opts: EchoOptions) -> int:
    """The ID of ``--check-find``'s Study Root FIND context."""
    return 2 * (opts.propose_pc + len(opts.probes)) + 1
