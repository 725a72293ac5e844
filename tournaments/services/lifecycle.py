"""The lifecycle's moves: start, finish (freezing the results), pay the prizes, cancel.

Finishing locks the tournament and every participant row before it freezes the standings. Paying locks the
tournament and writes ledger entries whose (user, reference) is unique: a payout run twice, concurrently or after
a crash pays each player once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from opentelemetry import trace

from accounts.models import User
from accounts.services import CreditGrant, credits_grant
from common.metrics import PRIZE_CREDITS_PAID, PRIZES_PAID
from common.tracing import tracer
from events.bus import publish_many

from ..models import LIVE, Participant, Status, Tournament, TournamentResult
from .errors import IllegalTransition, NotOrganizer
from .events import _announce
from .pools import _refund
from .scoring import _freeze

# What pays a finished tournament once the finish is committed: the payout task, handed in by the app's ready()
# (the services know no Celery entry point). The clock pays anything still unpaid at its next tick.
_pay_later: Callable[[int], object] | None = None


def payouts_run_by(pay_later: Callable[[int], object] | None) -> None:
    """Name what pays a finished tournament by id after commit (``None``: the clock's next tick does)."""
    global _pay_later
    _pay_later = pay_later


def _locked(tournament_id: int) -> Tournament:
    return Tournament.objects.select_for_update(no_key=True).select_related("game").get(pk=tournament_id)


@transaction.atomic
def tournament_start(*, tournament: Tournament, now_: bool = False) -> Tournament:
    """``scheduled -> running`` at the start time, or at once (``now_``: the admin's "start now")."""
    tournament = _locked(tournament.pk)
    now = timezone.now()
    if tournament.status != Status.SCHEDULED:
        raise IllegalTransition(f"Only a scheduled tournament can start; this one is {tournament.status}.")
    if tournament.start_time > now:
        if not now_:
            raise IllegalTransition("This tournament's start time has not come yet.")
        tournament.start_time = now
    tournament.status = Status.RUNNING
    tournament.started_at = now
    tournament.save(update_fields=["status", "start_time", "started_at"])
    _announce(tournament, "tournament.started")
    return tournament


@transaction.atomic
def tournament_finish(*, tournament: Tournament, now_: bool = False) -> Tournament:
    """``running -> finished`` at the end time (or at once): freeze the standings into results with their prizes.

    The payout runs after commit, in the background (see ``payouts_run_by``).
    """
    tournament = _locked(tournament.pk)
    now = timezone.now()
    if tournament.status != Status.RUNNING:
        raise IllegalTransition(f"Only a running tournament can finish; this one is {tournament.status}.")
    if tournament.end_time > now:
        if not now_:
            raise IllegalTransition("This tournament's end time has not come yet.")
        tournament.end_time = max(now, tournament.start_time + timedelta(microseconds=1))
    # Wait for scores being counted right now; later ones see the tournament finished.
    list(Participant.objects.select_for_update().filter(tournament=tournament).values_list("pk"))
    tournament.status = Status.FINISHED
    tournament.finished_at = now
    tournament.save(update_fields=["status", "end_time", "finished_at"])
    results = _freeze(tournament)
    top = [
        {"rank": r.rank, "user_id": str(r.user_id), "value": r.value, "tiebreak": r.tiebreak, "prize": r.prize}
        for r in results[: settings.REALTIME_BOARD_TOP]
    ]
    _announce(tournament, "tournament.finished", {"results": top, "players": len(results)})
    if _pay_later is not None:
        transaction.on_commit(partial(_pay_later, tournament.pk), robust=True)
    return tournament


def prize_reference(tournament: Tournament) -> str:
    return f"tournament:{tournament.pk}:prize"


def _count_payout(prizes: int, credits: int) -> None:
    PRIZES_PAID.inc(prizes)
    PRIZE_CREDITS_PAID.inc(credits)


@tracer.start_as_current_span("tournaments.pay")
@transaction.atomic
def tournament_pay(*, tournament: Tournament) -> list[CreditGrant]:
    """``finished -> paid``: credit each prize winner once. Returns the grants written by this call.

    Safe to run twice, concurrently, or again after a crash: the tournament row
    lock serializes runs, a paid tournament pays nothing, and the ledger refuses
    a second entry with the same (player, reference) even if all else failed.
    """
    span = trace.get_current_span()
    span.set_attribute("podium.tournament", tournament.pk)
    tournament = _locked(tournament.pk)
    if tournament.status == Status.PAID:
        return []
    if tournament.status != Status.FINISHED:
        raise IllegalTransition(f"Only a finished tournament pays prizes; this one is {tournament.status}.")
    winners = list(TournamentResult.objects.filter(tournament=tournament, prize__gt=0).order_by("position"))
    grants = [
        CreditGrant(
            user_id=result.user_id,
            amount=result.prize,
            reference=prize_reference(tournament),
            description=f"Prize for place {result.rank} in {tournament.name}"[:200],
        )
        for result in winners
    ]
    paid = credits_grant(grants=grants)
    credits = sum(grant.amount for grant in paid)
    unclaimed = tournament.prize_pool - sum(grant.amount for grant in grants)
    _refund(tournament, unclaimed, f"Prize pool of {tournament.name}: the places nobody took")
    span.set_attributes({"podium.prizes": len(paid), "podium.credits": credits})
    if paid:
        transaction.on_commit(partial(_count_payout, len(paid), credits))
    tournament.status = Status.PAID
    tournament.paid_at = timezone.now()
    tournament.save(update_fields=["status", "paid_at"])
    places = {result.user_id: result.rank for result in winners}
    awards = [{"user_id": str(r.user_id), "rank": r.rank, "prize": r.prize} for r in winners]
    _announce(tournament, "tournament.paid", {"awards": awards})
    publish_many(
        [
            (
                f"user.{grant.user_id}",
                "tournament.prize",
                {
                    "tournament_id": tournament.pk,
                    "name": tournament.name,
                    "rank": places[grant.user_id],
                    "amount": grant.amount,
                },
            )
            for grant in paid
        ]
    )
    return paid


@transaction.atomic
def tournament_cancel(*, tournament: Tournament, actor: User) -> Tournament:
    """Cancel before the finish (organizer or staff); no prizes are paid."""
    tournament = _locked(tournament.pk)
    if not (actor.is_staff or actor.pk == tournament.organizer_id):
        raise NotOrganizer()
    if tournament.status not in LIVE:
        raise IllegalTransition(
            f"Only a scheduled or running tournament can be cancelled; this one is {tournament.status}."
        )
    tournament.status = Status.CANCELLED
    tournament.cancelled_at = timezone.now()
    tournament.save(update_fields=["status", "cancelled_at"])
    _refund(tournament, tournament.prize_pool, f"Prize pool of {tournament.name}, cancelled")
    _announce(tournament, "tournament.cancelled")
    return tournament
