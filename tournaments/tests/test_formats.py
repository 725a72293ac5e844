"""Each format's standings against hand-computed cases, and which scores count (the window, participants)."""

import pytest
from django.utils import timezone

from games.tests.factories import GameFactory
from scores.services import score_submit, score_void
from tournaments import selectors, services
from tournaments.models import Format, Participant

# Transactions commit for real: index writes and the payout task run after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def standings(tournament):
    found = selectors.tournament_standings(tournament=tournament, offset=0, limit=50)
    return [(row.rank, row.username, row.value, row.attempts_used) for row in found.rows]


def submit(player, game, *values):
    for value in values:
        score_submit(user=player, game=game, value=value)


def test_best_score_keeps_each_players_best_in_the_window(make_tournament, game, players):
    cup = make_tournament(running=True)
    a, b, c = players[:3]
    for player in (a, b, c):
        services.tournament_join(tournament=cup, user=player)

    submit(a, game, 10, 40, 20)
    submit(b, game, 40)
    submit(c, game, 5, 7)

    # a reached 40 before b: equal values share the rank, listed by who got there first
    assert standings(cup) == [(1, a.username, 40, 3), (1, b.username, 40, 1), (3, c.username, 7, 2)]


def test_cumulative_adds_every_score_in_the_window(make_tournament, game, players):
    cup = make_tournament(running=True, format=Format.CUMULATIVE)
    a, b = players[:2]
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)

    submit(a, game, 10, 40, 20)
    submit(b, game, 65, 0)

    assert standings(cup) == [(1, a.username, 70, 3), (2, b.username, 65, 2)]


def test_limited_attempts_takes_the_best_of_the_first_n(make_tournament, game, players):
    cup = make_tournament(running=True, format=Format.LIMITED_ATTEMPTS, max_attempts=2)
    a, b = players[:2]
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)

    submit(a, game, 10, 20, 99)  # the third attempt does not count
    submit(b, game, 30)

    assert standings(cup) == [(1, b.username, 30, 1), (2, a.username, 20, 2)]


def test_an_ascending_game_ranks_lower_first(make_tournament, players):
    laps = GameFactory(slug="laps", sort_order="asc", score_operator="best")
    cup = make_tournament(running=True, game=laps)
    a, b = players[:2]
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)

    submit(a, laps, 61_000, 59_500)
    submit(b, laps, 60_000)

    assert standings(cup) == [(1, a.username, 59_500, 2), (2, b.username, 60_000, 1)]


def test_only_participants_scores_inside_the_window_count(make_tournament, game, players):
    a, outsider, late = players[:3]
    submit(a, game, 500)  # before the tournament exists
    cup = make_tournament(running=True)
    services.tournament_join(tournament=cup, user=a)
    submit(a, game, 10)
    submit(outsider, game, 900)  # never joined
    submit(late, game, 800)  # before joining
    services.tournament_join(tournament=cup, user=late)
    submit(late, game, 8)

    other_game_cup = make_tournament(running=True, game=GameFactory())
    services.tournament_join(tournament=other_game_cup, user=a)

    assert standings(cup) == [(1, a.username, 10, 1), (2, late.username, 8, 1)]
    assert standings(other_game_cup) == []


def test_scores_after_the_end_do_not_count(make_tournament, game, players):
    a = players[0]
    cup = make_tournament(running=True)
    services.tournament_join(tournament=cup, user=a)
    submit(a, game, 10)
    cup.end_time = timezone.now()  # the window closed; the clock has not finished it yet
    cup.save(update_fields=["end_time"])

    submit(a, game, 99)

    assert standings(cup) == [(1, a.username, 10, 1)]


def test_a_scheduled_tournament_counts_nothing_before_its_start(make_tournament, game, players):
    a = players[0]
    cup = make_tournament()
    services.tournament_join(tournament=cup, user=a)

    submit(a, game, 10)

    assert standings(cup) == []
    assert Participant.objects.get(user=a).attempts_used == 0


def test_voiding_a_score_recomputes_the_tournament(make_tournament, game, players, staff):
    a, b = players[:2]
    cup = make_tournament(running=True)
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)
    submit(a, game, 10)
    cheat = score_submit(user=a, game=game, value=1_000).score
    submit(b, game, 50)

    score_void(score=cheat, actor=staff, reason="impossible")

    assert standings(cup) == [(1, b.username, 50, 1), (2, a.username, 10, 1)]


def test_recompute_rebuilds_the_board_from_the_scores(make_tournament, game, players):
    from rankings.models import Standing

    a, b = players[:2]
    cup = make_tournament(running=True, format=Format.CUMULATIVE)
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)
    submit(a, game, 10, 15)
    submit(b, game, 20)
    before = standings(cup)
    Standing.objects.filter(board=services.board_of(cup).key).delete()
    Participant.objects.filter(tournament=cup).update(attempts_used=0)

    assert services.tournament_recompute(tournament=cup) == 2
    assert standings(cup) == before == [(1, a.username, 25, 2), (2, b.username, 20, 1)]


def test_a_batch_counts_in_tournaments_like_single_submissions(make_tournament, game, players):
    from accounts.services import api_key_create
    from scores.services import BatchItem, score_submit_batch

    a, b = players[:2]
    cup = make_tournament(running=True, format=Format.LIMITED_ATTEMPTS, max_attempts=1)
    services.tournament_join(tournament=cup, user=a)
    services.tournament_join(tournament=cup, user=b)
    key, _ = api_key_create(name="server", games=[game])

    score_submit_batch(
        api_key=key,
        items=[
            BatchItem(a.pk, game.pk, 5, {}, None),
            BatchItem(a.pk, game.pk, 50, {}, None),
            BatchItem(b.pk, game.pk, 7, {}, None),
        ],
    )

    assert standings(cup) == [(1, b.username, 7, 1), (2, a.username, 5, 1)]


def test_joined_at_bounds_a_late_joiner(make_tournament, game, players):
    cup = make_tournament(running=True)
    a = players[0]
    submit(a, game, 70)
    services.tournament_join(tournament=cup, user=a)
    cup.refresh_from_db()

    assert standings(cup) == []
    assert services.tournament_recompute(tournament=cup) == 0  # a recomputation does not count it either
    assert standings(cup) == []
