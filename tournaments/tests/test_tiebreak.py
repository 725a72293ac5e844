"""Tournaments of a game with a tie-break score: standings, final results and prizes order equal scores by it."""

import pytest

from accounts.models import CreditEntry
from games.services import game_create
from scores.services import score_submit, score_void
from tournaments import selectors, services
from tournaments.models import Format, TournamentResult

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def race(db):
    """Laps from 0 to 10, ties broken by the time taken in ms (lower wins)."""
    return game_create(name="Race", min_score=0, max_score=10, tiebreak_order="asc", tiebreak_max=999_999)


def standings(tournament):
    found = selectors.tournament_standings(tournament=tournament, offset=0, limit=50)
    return [(row.rank, row.username, row.value, row.tiebreak) for row in found.rows]


def test_standings_and_results_order_equal_scores_by_the_tie_break(make_tournament, race, players):
    cup = make_tournament(running=True, game=race, prize_pool=1_000, prize_split=[60, 40])
    a, b, c = players[:3]
    for player in (a, b, c):
        services.tournament_join(tournament=cup, user=player)

    score_submit(user=a, game=race, value=7, tiebreak=41_000)
    score_submit(user=b, game=race, value=7, tiebreak=39_500)
    score_submit(user=c, game=race, value=7, tiebreak=41_000)
    score_submit(user=a, game=race, value=7, tiebreak=45_000)  # slower: a keeps 41,000

    assert standings(cup) == [
        (1, b.username, 7, 39_500),
        (2, a.username, 7, 41_000),
        (2, c.username, 7, 41_000),
    ]

    services.tournament_finish(tournament=cup, now_=True)
    cup.refresh_from_db()

    results = list(TournamentResult.objects.filter(tournament=cup).order_by("position"))
    assert [(r.rank, r.user_id, r.value, r.tiebreak) for r in results] == [
        (1, b.pk, 7, 39_500),
        (2, a.pk, 7, 41_000),
        (2, c.pk, 7, 41_000),
    ]
    # The winner of the tie-break takes first prize alone; the two still tied share second place's.
    assert [r.prize for r in results] == [600, 200, 200]
    assert standings(cup) == [(1, b.username, 7, 39_500), (2, a.username, 7, 41_000), (2, c.username, 7, 41_000)]
    paid = dict(CreditEntry.objects.filter(kind=CreditEntry.Kind.PRIZE).values_list("user_id", "amount"))
    assert paid == {b.pk: 600, a.pk: 200, c.pk: 200}


def test_a_void_recomputes_the_standings_with_their_tie_breaks(make_tournament, race, players, staff):
    cup = make_tournament(running=True, game=race)
    a, b = players[:2]
    for player in (a, b):
        services.tournament_join(tournament=cup, user=player)
    score_submit(user=a, game=race, value=9, tiebreak=50_000)
    best = score_submit(user=a, game=race, value=9, tiebreak=30_000).score
    score_submit(user=b, game=race, value=9, tiebreak=40_000)

    score_void(score=best, actor=staff, reason="replayed run")

    assert standings(cup) == [(1, b.username, 9, 40_000), (2, a.username, 9, 50_000)]


def test_a_cumulative_tournament_is_refused_on_a_tie_break_game(make_tournament, race):
    with pytest.raises(services.TournamentInvalid) as refused:
        make_tournament(game=race, format=Format.CUMULATIVE)

    assert "format" in refused.value.fields


def test_the_standings_api_shows_the_tie_break(make_tournament, race, players, api_client):
    cup = make_tournament(running=True, game=race)
    services.tournament_join(tournament=cup, user=players[0])
    score_submit(user=players[0], game=race, value=4, tiebreak=12_345)

    body = api_client.get(f"/api/v1/tournaments/{cup.pk}/standings").json()

    assert [(e["value"], e["tiebreak"]) for e in body["entries"]] == [(4, 12_345)]
