"""Seats, payouts and the freeze under real concurrency: many connections to PostgreSQL at once."""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import CreditEntry
from accounts.tests.factories import UserFactory
from rankings.selectors import board_top
from scores.services import score_submit
from tournaments import selectors, services
from tournaments.models import Participant, Status, TournamentResult

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# PostgreSQL admits 100 connections by default: a test keeps well under that.
MAX_CONNECTIONS = 60


def at_once(jobs: list[Callable[[], object]]) -> list[object]:
    """Run the jobs concurrently on up to MAX_CONNECTIONS threads (each with its own connection), all
    released together; returns each job's result or the exception it raised."""
    workers = min(len(jobs), MAX_CONNECTIONS)
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * len(jobs)

    def work(first: int) -> None:
        try:
            barrier.wait()
            for index in range(first, len(jobs), workers):
                try:
                    results[index] = jobs[index]()
                except Exception as error:  # noqa: BLE001  the test inspects what each job raised
                    results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_150_concurrent_joins_for_100_seats_seat_exactly_100(make_tournament):
    cup = make_tournament(max_participants=100)
    players = UserFactory.create_batch(150)

    outcomes = at_once([lambda p=p: services.tournament_join(tournament=cup, user=p) for p in players])

    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"Participant": 100, "TournamentFull": 50}
    cup.refresh_from_db()
    assert cup.participant_count == 100 == Participant.objects.filter(tournament=cup).count()


def test_concurrent_joins_by_one_player_seat_them_once(make_tournament):
    cup = make_tournament()
    player = UserFactory()

    outcomes = at_once([lambda: services.tournament_join(tournament=cup, user=player) for _ in range(8)])

    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"Participant": 1, "AlreadyJoined": 7}
    cup.refresh_from_db()
    assert cup.participant_count == 1


def test_concurrent_payouts_pay_each_winner_once(make_tournament, game, monkeypatch):
    from tournaments import tasks

    cup = make_tournament(running=True, prize_pool=1000)
    players = UserFactory.create_batch(4)
    for value, player in enumerate(players, start=1):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=value)
    monkeypatch.setattr(tasks.tournament_pay_task, "delay", lambda *args: None)
    services.tournament_finish(tournament=cup, now_=True)

    outcomes = at_once([lambda: services.tournament_pay(tournament=cup) for _ in range(6)])

    assert sorted(len(outcome) for outcome in outcomes) == [0, 0, 0, 0, 0, 3]
    paid = dict(CreditEntry.objects.filter(reference=f"tournament:{cup.pk}:prize").values_list("user_id", "amount"))
    assert paid == {players[3].pk: 500, players[2].pk: 300, players[1].pk: 200}
    cup.refresh_from_db()
    assert cup.status == Status.PAID


def test_a_score_racing_the_finish_is_either_frozen_or_not_counted(make_tournament, game, monkeypatch):
    """Whatever the interleaving, the frozen results equal the board once both are done."""
    from tournaments import tasks

    monkeypatch.setattr(tasks.tournament_pay_task, "delay", lambda *args: None)
    for _ in range(5):
        cup = make_tournament(running=True)
        players = UserFactory.create_batch(10)
        for player in players:
            services.tournament_join(tournament=cup, user=player)

        jobs = [lambda p=p, v=v: score_submit(user=p, game=game, value=v) for v, p in enumerate(players, start=1)]
        jobs.append(lambda cup=cup: services.tournament_finish(tournament=cup, now_=True))
        outcomes = at_once(jobs)

        errors = [repr(o) for o in outcomes if isinstance(o, Exception)]
        assert not errors, errors[0]
        frozen = list(
            TournamentResult.objects.filter(tournament=cup).order_by("position").values_list("user_id", "value")
        )
        cup.refresh_from_db()
        board = services.board_of(cup)
        live = [(e.user_id, e.value) for e in board_top(board=board, offset=0, limit=50).entries]
        assert frozen == live
        assert selectors.tournament_standings(tournament=cup, offset=0, limit=50).frozen
        assert cup.end_time <= timezone.now()
