"""The state machine, the clock that drives it, frozen results, and prizes paid exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.selectors import credit_balance
from scores.services import score_submit
from tournaments import selectors, services
from tournaments.models import Status, Tournament, TournamentResult
from tournaments.services import lifecycle, recurrence

# Transactions commit for real: index writes and the payout task run after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def play(cup, game, scores):
    """Join each player and submit their scores, in order."""
    for player, values in scores:
        services.tournament_join(tournament=cup, user=player)
        for value in values:
            score_submit(user=player, game=game, value=value)


@pytest.fixture
def finished_unpaid(make_tournament, game, players, monkeypatch):
    """A finished tournament (pool 100, two winners) whose payout task never ran: the worker died."""
    from tournaments import tasks

    cup = make_tournament(running=True, prize_pool=100)
    winners = players[:2]
    play(cup, game, [(winners[0], [2]), (winners[1], [1])])
    monkeypatch.setattr(tasks.tournament_pay_task, "delay", lambda *args: None)
    services.tournament_finish(tournament=cup, now_=True)
    cup.refresh_from_db()
    return cup, winners


def prizes(cup):
    return {
        entry.user.username: entry.amount
        for entry in CreditEntry.objects.filter(reference=f"tournament:{cup.pk}:prize")
    }


def test_the_clock_starts_finishes_and_pays_on_time(make_tournament, game, players):
    cup = make_tournament(prize_pool=1000)
    a, b = players[:2]
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)

    assert services.tournaments_tick().started == 0  # its time has not come
    Tournament.objects.filter(pk=cup.pk).update(start_time=timezone.now() - timedelta(seconds=1))
    report = services.tournaments_tick()
    cup.refresh_from_db()
    assert (report.started, cup.status) == (1, Status.RUNNING)

    score_submit(user=a, game=game, value=30)
    score_submit(user=b, game=game, value=20)
    Tournament.objects.filter(pk=cup.pk).update(end_time=timezone.now())

    report = services.tournaments_tick()
    cup.refresh_from_db()
    assert (report.finished, cup.status) == (1, Status.PAID)  # the payout ran after the freeze committed
    assert prizes(cup) == {a.username: 500, b.username: 300}
    assert credit_balance(user_id=a.pk) == 500


def test_finishing_freezes_the_standings(make_tournament, game, players):
    cup = make_tournament(running=True, prize_pool=0)
    a, b = players[:2]
    play(cup, game, [(a, [5]), (b, [9])])

    services.tournament_finish(tournament=cup, now_=True)
    cup.refresh_from_db()
    score_submit(user=a, game=game, value=100)  # after the end: not counted, nothing moves

    frozen = selectors.tournament_standings(tournament=cup, offset=0, limit=10)
    assert frozen.frozen and frozen.size == 2
    assert [(r.rank, r.username, r.value, r.prize) for r in frozen.rows] == [
        (1, b.username, 9, 0),
        (2, a.username, 5, 0),
    ]
    assert cup.status == Status.PAID  # nothing to pay is paid at once


def test_ties_share_their_places_and_the_remainder_goes_to_the_earliest(make_tournament, game, players):
    cup = make_tournament(running=True, prize_pool=1001)
    a, b, c, d = players[:4]
    play(cup, game, [(a, [70]), (b, [70]), (c, [50]), (d, [10])])

    services.tournament_finish(tournament=cup, now_=True)

    # places 1 and 2 are worth floor(1001 * 80%) = 800, shared by a and b; place 3 gets what is left
    # of the full 100%: floor(1001 * 100%) - 800 = 201, so no credit is lost to rounding
    assert prizes(cup) == {a.username: 400, b.username: 400, c.username: 201}
    results = list(TournamentResult.objects.filter(tournament=cup).values_list("rank", "prize"))
    assert results == [(1, 400), (1, 400), (3, 201), (4, 0)]


def test_an_odd_share_goes_to_the_earliest_achiever(make_tournament, game, players):
    cup = make_tournament(running=True, prize_pool=101, prize_split=[100])
    a, b = players[:2]
    play(cup, game, [(a, [70]), (b, [70])])

    services.tournament_finish(tournament=cup, now_=True)

    assert prizes(cup) == {a.username: 51, b.username: 50}


def test_paying_twice_pays_once(make_tournament, game, players):
    cup = make_tournament(running=True, prize_pool=100)
    a = players[0]
    play(cup, game, [(a, [1])])
    services.tournament_finish(tournament=cup, now_=True)

    assert services.tournament_pay(tournament=cup) == []  # already paid after the finish
    assert CreditEntry.objects.filter(user=a).count() == 1
    assert credit_balance(user_id=a.pk) == 50


def test_a_crash_between_freezing_and_paying_is_paid_by_the_next_tick(finished_unpaid):
    cup, (a, b) = finished_unpaid
    assert cup.status == Status.FINISHED and prizes(cup) == {}

    assert services.tournaments_tick().paid == 1
    assert services.tournaments_tick().paid == 0
    assert prizes(cup) == {a.username: 50, b.username: 30}


def test_a_payout_killed_halfway_writes_nothing_and_the_retry_pays_once(finished_unpaid, monkeypatch):
    cup, (a, b) = finished_unpaid

    real_grant = lifecycle.credits_grant

    def grant_then_die(*, grants):
        real_grant(grants=grants)
        raise SystemExit("worker killed")

    monkeypatch.setattr(lifecycle, "credits_grant", grant_then_die)
    with pytest.raises(SystemExit):
        services.tournament_pay(tournament=cup)
    assert prizes(cup) == {}  # the transaction died with the worker
    monkeypatch.setattr(lifecycle, "credits_grant", real_grant)

    assert len(services.tournament_pay(tournament=cup)) == 2
    assert prizes(cup) == {a.username: 50, b.username: 30}


def test_the_ledger_refuses_a_second_payment_even_if_the_status_was_lost(finished_unpaid):
    cup, (a, b) = finished_unpaid
    services.tournament_pay(tournament=cup)
    Tournament.objects.filter(pk=cup.pk).update(status=Status.FINISHED)  # as if the status write were lost

    assert services.tournament_pay(tournament=cup) == []
    assert prizes(cup) == {a.username: 50, b.username: 30}


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.SCHEDULED, "finish"),
        (Status.SCHEDULED, "pay"),
        (Status.RUNNING, "start"),
        (Status.RUNNING, "pay"),
        (Status.FINISHED, "start"),
        (Status.FINISHED, "finish"),
        (Status.FINISHED, "cancel"),
        (Status.PAID, "start"),
        (Status.PAID, "finish"),
        (Status.PAID, "cancel"),
        (Status.PAID, "recompute"),
        (Status.CANCELLED, "start"),
        (Status.CANCELLED, "finish"),
        (Status.CANCELLED, "pay"),
        (Status.CANCELLED, "cancel"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(make_tournament, organizer, status, step):
    cup = make_tournament(running=status != Status.SCHEDULED)
    Tournament.objects.filter(pk=cup.pk).update(status=status)
    cup.refresh_from_db()
    calls = {
        "start": lambda: services.tournament_start(tournament=cup, now_=True),
        "finish": lambda: services.tournament_finish(tournament=cup, now_=True),
        "pay": lambda: services.tournament_pay(tournament=cup),
        "cancel": lambda: services.tournament_cancel(tournament=cup, actor=organizer),
        "recompute": lambda: services.tournament_recompute(tournament=cup),
    }

    with pytest.raises(services.IllegalTransition):
        calls[step]()

    cup.refresh_from_db()
    assert cup.status == status


def test_start_waits_for_its_time_unless_started_now(make_tournament):
    cup = make_tournament()
    with pytest.raises(services.IllegalTransition):
        services.tournament_start(tournament=cup)

    started = services.tournament_start(tournament=cup, now_=True)

    assert started.status == Status.RUNNING and started.start_time <= timezone.now()


def test_finish_waits_for_its_time_unless_finished_now(make_tournament):
    cup = make_tournament(running=True)
    with pytest.raises(services.IllegalTransition):
        services.tournament_finish(tournament=cup)

    finished = services.tournament_finish(tournament=cup, now_=True)

    assert finished.status == Status.FINISHED and finished.end_time <= timezone.now()


def test_a_cancelled_tournament_pays_nothing_and_counts_nothing(make_tournament, game, players, organizer):
    cup = make_tournament(running=True, prize_pool=100)
    a = players[0]
    play(cup, game, [(a, [5])])
    services.tournament_cancel(tournament=cup, actor=organizer)
    score_submit(user=a, game=game, value=50)

    Tournament.objects.filter(pk=cup.pk).update(end_time=timezone.now())
    services.tournaments_tick()

    cup.refresh_from_db()
    assert cup.status == Status.CANCELLED
    assert prizes(cup) == {}
    assert [row.value for row in selectors.tournament_standings(tournament=cup, offset=0, limit=5).rows] == [5]


def test_only_the_organizer_or_staff_cancel(make_tournament, players, staff):
    cup = make_tournament()
    with pytest.raises(services.NotOrganizer):
        services.tournament_cancel(tournament=cup, actor=players[0])

    assert services.tournament_cancel(tournament=cup, actor=staff).status == Status.CANCELLED


def test_a_tournament_whose_window_passed_unseen_is_started_finished_and_paid_in_one_tick(make_tournament, players):
    cup = make_tournament(prize_pool=10)
    Tournament.objects.filter(pk=cup.pk).update(
        start_time=timezone.now() - timedelta(hours=3), end_time=timezone.now() - timedelta(hours=1)
    )

    report = services.tournaments_tick()

    cup.refresh_from_db()
    assert (report.started, report.finished, cup.status) == (1, 1, Status.PAID)


def test_a_failing_tournament_does_not_stop_the_clock(make_tournament, monkeypatch):
    broken, fine = make_tournament(), make_tournament()
    Tournament.objects.update(start_time=timezone.now() - timedelta(seconds=1))
    real_start = services.tournament_start

    def start(*, tournament, **kwargs):
        if tournament.pk == broken.pk:
            raise RuntimeError("boom")
        return real_start(tournament=tournament, **kwargs)

    monkeypatch.setattr(recurrence, "tournament_start", start)
    report = services.tournaments_tick()

    assert (report.started, report.failed) == (1, 1)
    fine.refresh_from_db()
    assert fine.status == Status.RUNNING


def test_deleting_a_tournament_takes_its_board_with_it(make_tournament, game, players):
    from rankings.models import Standing
    from rankings.services import all_boards

    cup = make_tournament(running=True)
    play(cup, game, [(players[0], [5])])
    key = services.board_of(cup).key
    assert Standing.objects.filter(board=key).exists()

    cup.delete()

    assert not Standing.objects.filter(board=key).exists()
    assert key not in {board.key for board in all_boards()}


def test_a_board_of_a_missing_tournament_is_skipped_when_rebuilding(players):
    from django.utils import timezone as tz

    from rankings.models import Standing
    from rankings.services import all_boards

    Standing.objects.create(board="tournament.999999.all", user=players[0], value=1, reached_at=tz.now())

    assert "tournament.999999.all" not in {board.key for board in all_boards()}
