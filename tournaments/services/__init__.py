"""Tournament writes: creation, registration, scores, the lifecycle (start, finish, pay, cancel), recurrence.

One module per concern, each importing only those before it in this list:

* ``errors``: the domain errors (``TournamentFull``, ``IllegalTransition``, ...);
* ``events``: the tournament feed every write announces itself on;
* ``pools``: prize pools in the credit ledger (funding, refunds);
* ``registration``: the rules' validation, ``tournament_create``, ``tournament_join``, ``tournament_leave``;
* ``scoring``: counting scores into a tournament's board, recomputing it, freezing it into results;
* ``lifecycle``: ``tournament_start``, ``tournament_finish``, ``tournament_pay``, ``tournament_cancel``;
* ``recurrence``: recurring tournaments and the clock (``tournaments_tick``).

Locks, so every rule holds under concurrent requests and tasks:

* a join inserts the seat, then takes one conditional ``UPDATE`` of the
  tournament's ``participant_count``; the row lock that update holds makes the
  101st of 100 wait and then fail, whatever the number of servers;
* a score locks the player's participant rows, then reads the tournament's
  status again; finishing locks the tournament and every participant row before
  it freezes the standings, so a score either counts and is frozen, or does not count;
* paying locks the tournament and writes ledger entries whose (user, reference)
  is unique: a payout run twice, concurrently or after a crash pays each player once.

Higher apps hand in what these modules wait for from their ``ready()``: ``scores_read_by`` (``scoring``) and
``payouts_run_by`` (``lifecycle``). Their state lives in those modules, so a test that patches what a service
calls patches the submodule that holds the service, not this package.
"""

from .errors import (
    AlreadyJoined,
    IllegalTransition,
    LeaveClosed,
    NotJoined,
    NotOrganizer,
    PlacedOnly,
    RegistrationClosed,
    TournamentFull,
    TournamentInvalid,
)
from .lifecycle import (
    payouts_run_by,
    prize_reference,
    tournament_cancel,
    tournament_finish,
    tournament_pay,
    tournament_start,
)
from .pools import pool_reference
from .recurrence import (
    TickReport,
    recurring_create_due,
    recurring_next_start,
    recurring_validate,
    tournaments_tick,
)
from .registration import (
    check_window,
    tournament_create,
    tournament_join,
    tournament_leave,
    tournament_validate_rules,
)
from .scoring import (
    ScoresRead,
    VoidedScore,
    board_of,
    scores_read_by,
    tournament_deleted,
    tournament_recompute,
    tournament_record_scores,
    tournaments_score_voided,
)

__all__ = [
    "AlreadyJoined",
    "IllegalTransition",
    "LeaveClosed",
    "NotJoined",
    "NotOrganizer",
    "PlacedOnly",
    "RegistrationClosed",
    "ScoresRead",
    "TickReport",
    "TournamentFull",
    "TournamentInvalid",
    "VoidedScore",
    "board_of",
    "check_window",
    "payouts_run_by",
    "pool_reference",
    "prize_reference",
    "recurring_create_due",
    "recurring_next_start",
    "recurring_validate",
    "scores_read_by",
    "tournament_cancel",
    "tournament_create",
    "tournament_deleted",
    "tournament_finish",
    "tournament_join",
    "tournament_leave",
    "tournament_pay",
    "tournament_recompute",
    "tournament_record_scores",
    "tournament_start",
    "tournament_validate_rules",
    "tournaments_score_voided",
    "tournaments_tick",
]
