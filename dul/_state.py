"""The PS3.8 upper-layer states and the one table of their transitions.

PS3.8 section 9.2 (table 9-10) defines 13 states and 19 events for an association
endpoint. ``TRANSITIONS[role][state][input]`` is the next state; ``ACTIONS`` (the
same keys) names the PS3.8 action, for trace records only. An input is either a
received PDU (its type byte, 1..7) or a local input (a string constant below: the
service primitive the user issued, the transport closing, a timer running out).
``association`` looks every move up here; no other module names a state.

Rules, so the rows below need not repeat them:

* Deaf states. In Sta1 (no connection) and Sta13 (our A-ABORT, A-ASSOCIATE-RJ or
  closing A-RELEASE-RP sent, waiting for the transport to close) received bytes are
  discarded unread: PS3.8's AA-6 (ignore the PDU) and AA-7 in Sta13, without reading.
* A-ABORT in any state. A received A-ABORT in any state that reads moves to Sta1
  (AA-3); a local abort is allowed in any state with a connection (not Sta1, not
  Sta4) and moves to Sta13 (AA-1), where the driver closes.
* Sta13 is entered by an A-ABORT we send, by A-ASSOCIATE-RJ (AE-8) and by the
  A-RELEASE-RP that ends a release (AR-4), and by every protocol violation: a PDU
  that cannot be read, or one the table has no row for in the current state (AA-8).
  The last two are not rows: a missing row *is* the violation. The violation is
  reported as an event (``ProtocolViolation``) and the machine goes deaf.
* A missing row for a local input is a bug in the caller: ``StateError``.
* Release collisions (both sides sent A-RELEASE-RQ, Sta7 receives one): the
  requestor moves to Sta9, answers, waits in Sta11 for the peer's A-RELEASE-RP;
  the acceptor moves to Sta10, receives the requestor's A-RELEASE-RP (Sta12), then
  answers and enters Sta13 (PS3.8 AR-8 .. AR-10).
* The transport closing (Evt17) moves every state to Sta1; a timer running out
  (Evt18: ARTIM, or the driver's read timeout) likewise.

States are strings ("Sta1" .. "Sta13") so that trace records and messages show
PS3.8's names; compare them with these constants, never with literals.
"""

from __future__ import annotations

from dul.pdu import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
)

REQUESTOR = "requestor"
ACCEPTOR = "acceptor"

STA1 = "Sta1"    # idle: no transport connection
STA2 = "Sta2"    # acceptor: connection open, waiting for A-ASSOCIATE-RQ (ARTIM)
STA3 = "Sta3"    # acceptor: A-ASSOCIATE-RQ received, waiting for our accept / reject
STA4 = "Sta4"    # requestor: waiting for the transport connection to open
STA5 = "Sta5"    # requestor: A-ASSOCIATE-RQ sent, waiting for AC / RJ
STA6 = "Sta6"    # associated: data transfer
STA7 = "Sta7"    # A-RELEASE-RQ sent, waiting for A-RELEASE-RP
STA8 = "Sta8"    # A-RELEASE-RQ received, waiting for our release response
STA9 = "Sta9"    # requestor, release collision: waiting for our release response
STA10 = "Sta10"  # acceptor, release collision: waiting for the peer's A-RELEASE-RP
STA11 = "Sta11"  # requestor, release collision: A-RELEASE-RP sent, waiting for theirs
STA12 = "Sta12"  # acceptor, release collision: waiting for our release response
STA13 = "Sta13"  # waiting for the transport to close (deaf)

# local inputs (PS3.8 events 1, 2, 7, 8, 9, 11, 14, 15, 17, 18)
ASSOCIATE = "associate"                # A-ASSOCIATE request: the requestor is made
START = "start"                        # transport open: send A-ASSOCIATE-RQ
ACCEPT = "accept"                      # send A-ASSOCIATE-AC
REJECT = "reject"                      # send A-ASSOCIATE-RJ
SEND = "send"                          # send P-DATA-TF
RELEASE = "release"                    # send A-RELEASE-RQ
RELEASE_RESPONSE = "release_response"  # send A-RELEASE-RP
ABORT = "abort"                        # send A-ABORT
CLOSED = "closed"                      # the transport closed
TIMER = "timer"                        # ARTIM (or a read timeout) ran out

#: the PS3.8 event number of each input (trace records)
EVENTS = {
    ASSOCIATE: 1, START: 2, A_ASSOCIATE_AC: 3, A_ASSOCIATE_RJ: 4, A_ASSOCIATE_RQ: 6,
    ACCEPT: 7, REJECT: 8, SEND: 9, P_DATA_TF: 10, RELEASE: 11, A_RELEASE_RQ: 12,
    A_RELEASE_RP: 13, RELEASE_RESPONSE: 14, ABORT: 15, A_ABORT: 16, CLOSED: 17, TIMER: 18,
}

#: what a local input does, for StateError messages
DOING = {
    ASSOCIATE: "request an association", START: "start", ACCEPT: "accept",
    REJECT: "reject", SEND: "send a message", RELEASE: "request release",
    RELEASE_RESPONSE: "answer a release", ABORT: "abort", CLOSED: "close", TIMER: "time out",
}

DEAF_STATES = frozenset((STA1, STA13))

_STATES = {
    REQUESTOR: (STA1, STA4, STA5, STA6, STA7, STA8, STA9, STA11, STA13),
    ACCEPTOR: (STA1, STA2, STA3, STA6, STA7, STA8, STA10, STA12, STA13),
}

# (state, input, PS3.8 action, next state), as in PS3.8 table 9-10
_BOTH = (
    (STA6, SEND, "DT-1", STA6),
    (STA6, P_DATA_TF, "DT-2", STA6),
    (STA6, RELEASE, "AR-1", STA7),
    (STA6, A_RELEASE_RQ, "AR-2", STA8),
    (STA7, P_DATA_TF, "AR-6", STA7),
    (STA7, A_RELEASE_RP, "AR-3", STA1),
    (STA8, SEND, "AR-7", STA8),
    (STA8, RELEASE_RESPONSE, "AR-4", STA13),
)
_ROWS = {
    REQUESTOR: _BOTH + (
        (STA1, ASSOCIATE, "AE-1", STA4),
        (STA4, START, "AE-2", STA5),
        (STA5, A_ASSOCIATE_AC, "AE-3", STA6),
        (STA5, A_ASSOCIATE_RJ, "AE-4", STA1),
        (STA7, A_RELEASE_RQ, "AR-8", STA9),
        (STA9, RELEASE_RESPONSE, "AR-9", STA11),
        (STA11, A_RELEASE_RP, "AR-3", STA1),
    ),
    ACCEPTOR: _BOTH + (
        (STA2, A_ASSOCIATE_RQ, "AE-6", STA3),
        (STA3, ACCEPT, "AE-7", STA6),
        (STA3, REJECT, "AE-8", STA13),
        (STA7, A_RELEASE_RQ, "AR-8", STA10),
        (STA10, A_RELEASE_RP, "AR-10", STA12),
        (STA12, RELEASE_RESPONSE, "AR-4", STA13),
    ),
}


def _any_state(state: str) -> tuple:
    """The rows every state has (the rules above): abort, close, timer."""
    rows = [(state, TIMER, "AA-2", STA1)]
    if state != STA1:
        closed = {STA13: "AR-5", STA2: "AA-5"}.get(state, "AA-4")
        rows.append((state, CLOSED, closed, STA1))
    if state not in DEAF_STATES:
        rows.append((state, A_ABORT, "AA-3", STA1))
    if state not in (STA1, STA4):
        rows.append((state, ABORT, "AA-1", STA13))
    return tuple(rows)


def _tables() -> tuple[dict, dict]:
    transitions: dict = {}
    actions: dict = {}
    for role, states in _STATES.items():
        nexts = transitions[role] = {state: {} for state in states}
        names = actions[role] = {state: {} for state in states}
        for state in states:
            for _, event, action, next_state in _any_state(state):
                nexts[state][event] = next_state
                names[state][event] = action
        for state, event, action, next_state in _ROWS[role]:
            nexts[state][event] = next_state
            names[state][event] = action
    return transitions, actions


#: TRANSITIONS[role][state][input] -> next state; a missing input is not allowed there
#: ACTIONS[role][state][input] -> the PS3.8 action ("AE-1", "DT-2", ...), for traces
TRANSITIONS, ACTIONS = _tables()
