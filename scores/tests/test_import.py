"""score_import: historical scores, each on the boards of its own moment, through the live ranking code."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from rankings.boards import game_board_at, global_board_at
from rankings.models import Standing
from rankings.periods import Period
from scores.models import Score
from scores.services import ImportItem, ScoreImportInvalid, batch, score_import, score_submit, submit
from tournaments.models import Participant, Status
from tournaments.services import board_of
from tournaments.tests.factories import TournamentFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.now(UTC)
# Three moments in three different months, weeks and days.
OLD, EARLIER, RECENT = NOW - timedelta(days=70), NOW - timedelta(days=35), NOW - timedelta(hours=1)


def value_on(board, user):
    return Standing.objects.filter(board=board.key, user=user).values_list("value", flat=True).first()


def test_each_score_lands_on_the_boards_of_its_own_day_week_and_month(game):
    player = UserFactory()

    stored = score_import(
        items=[
            ImportItem(player.pk, game.pk, 300, OLD),
            ImportItem(player.pk, game.pk, 100, EARLIER),
            ImportItem(player.pk, game.pk, 200, RECENT),
        ]
    )

    assert stored == 3
    for period in (Period.DAILY, Period.WEEKLY, Period.MONTHLY):
        assert value_on(game_board_at(game, period, OLD), player) == 300
        assert value_on(game_board_at(game, period, EARLIER), player) == 100
        assert value_on(game_board_at(game, period, RECENT), player) == 200
    assert value_on(game_board_at(game, Period.ALL, NOW), player) == 300


def test_items_are_applied_in_time_order_whatever_order_they_come_in():
    game = GameFactory(score_operator="latest")
    player = UserFactory()

    score_import(items=[ImportItem(player.pk, game.pk, 2, RECENT), ImportItem(player.pk, game.pk, 1, EARLIER)])

    assert value_on(game_board_at(game, Period.ALL, NOW), player) == 2
    assert list(Score.objects.order_by("pk").values_list("value", "created_at")) == [(1, EARLIER), (2, RECENT)]


def test_personal_bests_are_marked_as_for_live_scores():
    laps = GameFactory(sort_order="asc", score_operator="best")
    coins = GameFactory(score_operator="sum")
    player = UserFactory()
    moments = [NOW - timedelta(days=d) for d in (9, 7, 5, 3)]

    score_import(
        items=[ImportItem(player.pk, laps.pk, v, at) for v, at in zip([900, 950, 800, 800], moments, strict=True)]
        + [ImportItem(player.pk, coins.pk, v, at) for v, at in zip([5, 3, 7, 7], moments, strict=True)]
    )

    def bests(game):
        return list(Score.objects.filter(game=game).order_by("created_at").values_list("is_personal_best", flat=True))

    assert bests(laps) == [True, False, True, False]
    assert bests(coins) == [True, False, True, False]


def test_the_global_board_sums_the_games_that_count_toward_it():
    points, coins = GameFactory(score_operator="best"), GameFactory(score_operator="sum")
    laps = GameFactory(sort_order="asc", counts_toward_global=False)
    player = UserFactory()

    score_import(
        items=[
            ImportItem(player.pk, points.pk, 500, EARLIER),
            ImportItem(player.pk, coins.pk, 20, EARLIER),
            ImportItem(player.pk, coins.pk, 30, RECENT),
            ImportItem(player.pk, laps.pk, 60_000, RECENT),
        ]
    )

    assert value_on(global_board_at(Period.ALL, NOW), player) == 550
    assert value_on(global_board_at(Period.DAILY, EARLIER), player) == 520
    assert value_on(global_board_at(Period.DAILY, RECENT), player) == 30


def _world(configs):
    games = [GameFactory(sort_order=order, score_operator=operator) for order, operator in configs]
    return games, UserFactory.create_batch(6)


def _rows(games, players):
    """Standings and scores, named by position in the world instead of by id, to compare two worlds."""
    game_names = {str(game.pk): f"g{i}" for i, game in enumerate(games)}
    player_names = {player.pk: f"p{i}" for i, player in enumerate(players)}

    def board_name(key):
        parts = key.split(".")
        if parts[0] == "game":
            parts[1] = game_names[parts[1]]
        return ".".join(parts)

    standings = sorted(
        (board_name(board), player_names[user_id], value, reached_at)
        for board, user_id, value, reached_at in Standing.objects.filter(user__in=players).values_list(
            "board", "user_id", "value", "reached_at"
        )
    )
    scores = sorted(
        (player_names[user_id], game_names[str(game_id)], value, created_at, best)
        for user_id, game_id, value, created_at, best in Score.objects.filter(user__in=players).values_list(
            "user_id", "game_id", "value", "created_at", "is_personal_best"
        )
    )
    return standings, scores


def test_an_import_gives_the_same_boards_as_submitting_the_scores_live_at_their_times(
    monkeypatch, settings, write_path
):
    settings.SCORE_RATE_PER_USER_GAME = "100000/min"
    configs = [("desc", "best"), ("asc", "best"), ("desc", "sum"), ("desc", "latest")]
    imported_games, imported_players = _world(configs)
    live_games, live_players = _world(configs)
    rng = random.Random(7)
    # Small values so equal values (and the reached-first tie-break) happen; times over 40 days, several per day.
    script = sorted(
        (NOW - timedelta(days=40) * rng.random(), rng.randrange(6), rng.randrange(4), rng.randint(1, 12))
        for _ in range(300)
    )

    score_import(
        items=[ImportItem(imported_players[p].pk, imported_games[g].pk, value, at) for at, p, g, value in script],
        chunk_size=64,
    )
    for at, p, g, value in script:
        monkeypatch.setattr(timezone, "now", lambda at=at: at)
        score_submit(user=live_players[p], game=live_games[g], value=value)
    monkeypatch.undo()

    assert _rows(imported_games, imported_players) == _rows(live_games, live_players)


def test_scores_inside_a_live_tournament_count_for_its_participants(game):
    joined, late, outsider = UserFactory.create_batch(3)
    tournament = TournamentFactory(
        game=game, status=Status.RUNNING, start_time=NOW - timedelta(days=3), end_time=NOW + timedelta(days=1)
    )
    Participant.objects.create(tournament=tournament, user=joined, joined_at=NOW - timedelta(days=4))
    Participant.objects.create(tournament=tournament, user=late, joined_at=NOW - timedelta(days=1))

    score_import(
        items=[
            ImportItem(joined.pk, game.pk, 10, NOW - timedelta(days=5)),  # before the start
            ImportItem(joined.pk, game.pk, 40, NOW - timedelta(days=2)),
            ImportItem(late.pk, game.pk, 50, NOW - timedelta(days=2)),  # before this player joined
            ImportItem(late.pk, game.pk, 30, NOW - timedelta(hours=2)),
            ImportItem(outsider.pk, game.pk, 99, NOW - timedelta(hours=2)),
        ]
    )

    board = board_of(tournament)
    assert dict(Standing.objects.filter(board=board.key).values_list("user__username", "value")) == {
        joined.username: 40,
        late.username: 30,
    }
    assert dict(Participant.objects.values_list("user_id", "attempts_used")) == {joined.pk: 1, late.pk: 1}


def test_an_import_publishes_no_score_events(game, monkeypatch):
    published = []
    for module in (batch, submit):
        monkeypatch.setattr(module, "publish_many", lambda events: published.extend(events))
    player = UserFactory()

    score_import(items=[ImportItem(player.pk, game.pk, 5, RECENT)])

    assert published == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"value": -1}, "integer from 0"),
        ({"created_at": NOW + timedelta(hours=1)}, "not in the future"),
        ({"created_at": datetime(2020, 1, 1)}, "aware"),
        ({"user_id": "missing"}, "no such player"),
        ({"game_id": "missing"}, "no such game"),
    ],
)
def test_an_invalid_item_refuses_the_whole_import_before_anything_is_written(change, message):
    import uuid

    game = GameFactory(min_score=0)
    player = UserFactory()
    fields = {"user_id": player.pk, "game_id": game.pk, "value": 5, "created_at": RECENT} | change
    for key in ("user_id", "game_id"):
        if fields[key] == "missing":
            fields[key] = uuid.uuid4()

    with pytest.raises(ScoreImportInvalid, match=message):
        score_import(items=[ImportItem(player.pk, game.pk, 1, EARLIER), ImportItem(**fields)])

    assert not Score.objects.exists()
    assert not Standing.objects.exists()


def test_an_import_may_not_go_back_before_a_players_latest_score(game):
    player = UserFactory()
    score_submit(user=player, game=game, value=5)

    with pytest.raises(ScoreImportInvalid, match="later score"):
        score_import(items=[ImportItem(player.pk, game.pk, 9, RECENT)])

    assert Score.objects.count() == 1


def test_the_ranking_index_matches_the_standings_after_an_import(game, ranking_index, write_path):
    players = UserFactory.create_batch(20)
    rng = random.Random(3)

    score_import(
        items=[
            ImportItem(rng.choice(players).pk, game.pk, rng.randint(0, 1000), NOW - timedelta(days=3) * rng.random())
            for _ in range(200)
        ],
        chunk_size=50,
    )

    call_command("check_rankings")  # raises CommandError on drift
    top = ranking_index.top(game_board_at(game, Period.ALL, NOW), limit=3)
    expected = Standing.objects.filter(board=game_board_at(game, Period.ALL, NOW).key).order_by("-value")[:3]
    assert [entry.value for entry in top] == [row.value for row in expected]
