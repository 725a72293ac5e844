"""The simulation engine and ``manage.py simulate``: rate, players, games, values, tournaments, records, stopping."""

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from games.models import Game
from games.tests.factories import GameFactory
from scores.models import Score, Source
from simulator.services import simulate as engine
from tournaments import services as tournaments
from tournaments.models import Participant, Status
from tournaments.tests.factories import TournamentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def games(db):
    return [
        GameFactory(
            synthetic=True, slug="points", sort_order="desc", score_operator="best", min_score=0, max_score=10_000
        ),
        GameFactory(
            synthetic=True, slug="laps", sort_order="asc", score_operator="best", min_score=20_000, max_score=90_000
        ),
        GameFactory(synthetic=True, slug="coins", sort_order="desc", score_operator="sum"),
    ]


def simulate(**options):
    out = StringIO()
    call_command("simulate", stdout=out, **options)
    return out.getvalue()


def test_a_run_submits_scores_at_about_the_rate_through_the_score_service(games):
    out = simulate(players=10, rate=20, duration=2)

    submitted = Score.objects.filter(source=Source.SIMULATOR)
    assert 30 <= submitted.count() <= 42  # 40 due in 2 s
    assert set(submitted.values_list("user__username", flat=True)) <= {f"sim_{n:04d}" for n in range(1, 11)}
    assert "Done after" in out
    assert out.splitlines()[-1].endswith("0 errors.")


def test_missing_players_are_created_with_unusable_passwords_and_reused_later(games):
    first = engine.simulated_players(count=3)
    again = engine.simulated_players(count=5)

    assert [user.username for user in first] == ["sim_0001", "sim_0002", "sim_0003"]
    assert {user.pk for user in first} < {user.pk for user in again}
    assert User.objects.filter(username__startswith="sim_").count() == 5
    assert not any(user.has_usable_password() for user in again)


def test_a_real_account_with_a_sim_name_is_never_played(games):
    User.objects.create_user("sim_0001", "someone@example.com", "a-real-password")

    players = engine.simulated_players(count=2)

    assert [user.username for user in players] == ["sim_0002", "sim_0003"]


def test_without_games_the_default_set_is_created_once():
    created = engine.simulated_games()
    again = engine.simulated_games()

    assert {game.slug for game in created} == {"sim-arcade", "sim-time-trial", "sim-coin-rush"}
    assert all(game.is_synthetic and not game.counts_toward_global for game in created)
    assert {(g.sort_order, g.score_operator) for g in created} == {("desc", "best"), ("asc", "best"), ("desc", "sum")}
    assert {game.pk for game in again} == {game.pk for game in created}
    assert Game.objects.count() == 3


def test_a_rate_the_players_cannot_carry_under_the_score_limit_is_refused(games):
    # 10 players x 3 games at 60/min each carry 30/s; the simulator uses at most 80% of it.
    with pytest.raises(CommandError, match="at least 11 players"):
        simulate(players=10, rate=25, duration=1)

    assert not Score.objects.exists()


@pytest.mark.parametrize(
    "options, field",
    [
        ({"players": 0, "rate": 1, "duration": 1}, "--players"),
        ({"players": 10_001, "rate": 1, "duration": 1}, "--players"),
        ({"players": 10, "rate": 0.01, "duration": 1}, "--rate"),
        ({"players": 10, "rate": 1, "duration": 3601}, "--duration"),
    ],
)
def test_out_of_bounds_options_are_refused(games, options, field):
    with pytest.raises(CommandError, match=field):
        simulate(**options)


def test_at_the_highest_rate_allowed_no_score_is_throttled(games, settings):
    settings.SCORE_RATE_PER_USER_GAME = "5/10s"  # 0.5/s per pair: 4 players x 3 games carry 4.8/s at 80%
    players = engine.simulated_players(count=4)
    simulator = engine.Simulator(players=players, games=games, rate=4.8, duration=2.5)

    counters = simulator.run(stop=threading.Event())

    assert counters.errors == 0
    assert counters.scores_submitted >= 10


@pytest.mark.parametrize("performance", [0.0, 0.3, 0.7, 1.0, -1.0, 2.0])
def test_values_stay_within_each_games_bounds(games, performance):
    for game in games:
        low, high = engine.score_range(game)
        value = engine.score_value(game, performance)
        assert low <= value <= high
        assert game.min_score is None or value >= game.min_score
        assert game.max_score is None or value <= game.max_score


def test_a_better_performance_is_a_better_score_for_each_kind_of_game(games):
    points, laps, coins = games

    assert engine.score_value(points, 0.9) > engine.score_value(points, 0.2)
    assert engine.score_value(laps, 0.9) < engine.score_value(laps, 0.2)  # a faster lap
    assert 1 <= engine.score_value(coins, 0.5) <= 100  # points per round, added up


def test_a_simulated_run_on_a_tie_break_game_sends_a_tie_break_within_its_bounds():
    from games.services import game_create
    from scores.models import Score

    race = game_create(
        name="Race", min_score=0, max_score=60, tiebreak_order="asc", tiebreak_max=600_000, is_synthetic=True
    )
    players = engine.simulated_players(count=2)
    simulator = engine.Simulator(players=players, games=[race], rate=20, duration=0.5)

    counters = simulator.run(stop=threading.Event())

    assert counters.errors == 0 and counters.scores_submitted > 0
    tiebreaks = list(Score.objects.filter(game=race).values_list("tiebreak", flat=True))
    assert len(tiebreaks) == counters.scores_submitted
    assert all(0 <= tiebreak <= 600_000 for tiebreak in tiebreaks)
    assert engine.score_tiebreak(race, 0.9) < engine.score_tiebreak(race, 0.2)  # the better run, the faster


def test_practice_raises_a_players_level():
    player = engine.SimPlayer(user=User(username="sim_0001"), talent=0.3)
    levels = []
    for attempts in (0, 10, 50, 500):
        player.attempts = attempts
        levels.append(player.level())

    assert levels == sorted(levels) and levels[0] == 0.3 and levels[-1] < 1.0


def test_improving_players_set_personal_records(games):
    simulator = engine.Simulator(players=engine.simulated_players(count=3), games=games[:1], rate=50, duration=1.5)

    counters = simulator.run(stop=threading.Event())

    assert counters.records > 0
    assert Score.objects.filter(is_personal_best=True).count() >= counters.records


def test_players_join_open_tournaments_of_the_games_and_skip_closed_ones(games, monkeypatch):
    monkeypatch.setattr(engine, "JOIN_CHANCE", 1.0)
    game = games[0]
    now = timezone.now()
    running = tournaments.tournament_start(
        tournament=TournamentFactory(
            game=game, start_time=now - timedelta(seconds=1), end_time=now + timedelta(hours=1)
        )
    )
    scheduled = TournamentFactory(game=game, start_time=now + timedelta(hours=1), end_time=now + timedelta(hours=2))
    small = TournamentFactory(game=game, max_participants=2, end_time=now + timedelta(hours=2))
    cancelled = TournamentFactory(game=game, status=Status.CANCELLED, end_time=now + timedelta(hours=2))
    simulator = engine.Simulator(players=engine.simulated_players(count=4), games=[game], rate=20, duration=1.5)

    counters = simulator.run(stop=threading.Event())

    seats = Participant.objects.values_list("tournament_id", flat=True)
    assert counters.errors == 0
    assert counters.tournaments_joined == seats.count() == 4 + 4 + 2
    assert {running.pk, scheduled.pk, small.pk} == set(seats) and cancelled.pk not in seats


def test_setting_stop_ends_the_run_promptly(games):
    simulator = engine.Simulator(players=engine.simulated_players(count=10), games=games, rate=0.2, duration=60)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()

    simulator.run(stop=stop)

    assert time.monotonic() - started < 1.0


def test_progress_is_reported_about_once_a_second_and_can_end_the_run(games):
    simulator = engine.Simulator(players=engine.simulated_players(count=10), games=games, rate=5, duration=60)
    seen = []

    def progress(counters):
        seen.append(counters.scores_submitted)
        return len(seen) < 2

    started = time.monotonic()
    simulator.run(stop=threading.Event(), on_progress=progress)

    assert 1.8 < time.monotonic() - started < 2.8
    assert len(seen) == 2 and seen[1] >= seen[0] >= 4


def test_the_command_says_when_open_pages_cannot_follow_it(games):
    out = simulate(players=2, rate=1, duration=1)

    in_memory = isinstance(get_channel_layer(), InMemoryChannelLayer)
    assert ("Open pages do not follow this run" in out) == in_memory
    assert "demo controls" in out or not in_memory
