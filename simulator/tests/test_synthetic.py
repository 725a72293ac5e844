"""Synthetic players and games: load tools never reach the real boards or tournaments, and one call removes them."""

import json
import stat
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from games.models import Game
from games.services import SyntheticMismatch, game_update
from games.tests.factories import GameFactory
from rankings.models import Standing
from scores.models import Score
from scores.services import ImportItem, ScoreImportInvalid, score_import, score_submit
from simulator.models import Simulation, StressTest
from simulator.services import simulate as engine
from simulator.services.clear import LoadRunning, synthetic_delete
from simulator.services.synthetic import synthetic_games, synthetic_players, synthetic_summary
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_create, tournament_join
from tournaments.tests.factories import TournamentFactory

pytestmark = pytest.mark.django_db

SCORES = "/api/v1/scores"
SYNTHETIC = "/api/v1/simulator/synthetic"


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def real_game():
    return GameFactory(slug="arena")


@pytest.fixture
def load_game():
    return GameFactory(synthetic=True, slug="sim-arena")


@pytest.fixture
def bot():
    (player,) = synthetic_players(prefix="bot_", count=1, display="Bot")
    return player


def real_state() -> list[tuple]:
    """Every standing not on a synthetic game's or tournament's board, every real seat and every real score."""
    synthetic = tuple(f"game.{pk}." for pk in Game.objects.filter(is_synthetic=True).values_list("pk", flat=True))
    synthetic += tuple(
        f"tournament.{pk}." for pk in Tournament.objects.filter(game__is_synthetic=True).values_list("pk", flat=True)
    )
    rows = Standing.objects.order_by("board", "user_id").values_list("board", "user_id", "value", "reached_at")
    seats = Participant.objects.filter(tournament__game__is_synthetic=False).order_by("pk").values_list("pk", "user_id")
    scores = Score.objects.filter(game__is_synthetic=False).order_by("pk").values_list("pk", "user_id", "value")
    return [row for row in rows if not row[0].startswith(synthetic)] + list(seats) + list(scores)


def test_synthetic_players_are_flagged_cannot_sign_in_and_are_reused():
    first = synthetic_players(prefix="bot_", count=2, display="Bot")
    again = synthetic_players(prefix="bot_", count=3, display="Bot")

    assert [user.username for user in first] == ["bot_0001", "bot_0002"]
    assert {user.pk for user in first} < {user.pk for user in again}
    assert all(user.is_synthetic and not user.has_usable_password() for user in again)
    assert again[0].display_name == "Bot 0001"


def test_a_real_account_holding_a_synthetic_name_is_never_played():
    UserFactory(username="bot_0001")

    players = synthetic_players(prefix="bot_", count=1, display="Bot")

    assert [user.username for user in players] == ["bot_0002"]


def test_the_default_synthetic_games_never_count_toward_the_global_board():
    games = synthetic_games()

    assert len(games) == 3 and all(game.is_synthetic and not game.counts_toward_global for game in games)
    assert {game.pk for game in synthetic_games()} == {game.pk for game in games}  # created once


def test_a_synthetic_game_cannot_be_made_to_count_toward_global(load_game, staff, client_for):
    with pytest.raises(Exception) as raised:
        game_update(game=load_game, counts_toward_global=True)
    assert getattr(raised.value, "code", None) == "invalid"

    response = client_for(staff).patch(f"/api/v1/games/{load_game.pk}", {"counts_toward_global": True}, format="json")

    assert response.status_code == 400
    assert "counts_toward_global" in response.json()["error"]["fields"]


def test_nobody_can_flag_a_game_or_an_account_synthetic_through_the_api(staff, client_for, api_client):
    created = client_for(staff).post("/api/v1/games", {"name": "Sneaky", "is_synthetic": True}, format="json")
    registered = api_client.post(
        "/api/v1/users/register",
        {"username": "sneaky", "email": "sneaky@example.com", "password": "a-long-passphrase", "is_synthetic": True},
        format="json",
    )

    assert created.status_code == 400
    assert registered.status_code == 400
    assert not Game.objects.filter(is_synthetic=True).exists() and not User.objects.filter(is_synthetic=True).exists()


def test_a_synthetic_player_scoring_on_a_real_game_gets_403(real_game, bot, client_for):
    response = client_for(bot).post(SCORES, {"game_id": str(real_game.pk), "score": 10_000_000}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "synthetic_mismatch"
    assert not Score.objects.exists() and not Standing.objects.exists()


def test_a_real_player_scoring_on_a_synthetic_game_gets_403(load_game, user, client_for):
    response = client_for(user).post(SCORES, {"game_id": str(load_game.pk), "score": 10}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "synthetic_mismatch"


def test_a_synthetic_player_on_a_synthetic_game_scores_on_its_own_board_only(load_game, bot, client_for):
    response = client_for(bot).post(SCORES, {"game_id": str(load_game.pk), "score": 10}, format="json")

    assert response.status_code == 201
    boards = set(Standing.objects.values_list("board", flat=True))
    assert boards and all(key.startswith(f"game.{load_game.pk}.") for key in boards)
    assert response.json()["global_board"] is None


def test_a_game_server_batch_rejects_the_mismatched_items_alone(real_game, load_game, bot, user, api_client):
    _, key = api_key_create(name="server", games=[real_game, load_game])
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    items = [
        {"user_id": str(user.pk), "game_id": str(real_game.pk), "score": 5},
        {"user_id": str(bot.pk), "game_id": str(real_game.pk), "score": 5},
        {"user_id": str(user.pk), "game_id": str(load_game.pk), "score": 5},
        {"user_id": str(bot.pk), "game_id": str(load_game.pk), "score": 5},
    ]

    response = api_client.post("/api/v1/scores/batch", {"scores": items}, format="json")

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "rejected", "created"]
    assert results[1]["error"]["code"] == results[2]["error"]["code"] == "synthetic_mismatch"


def test_an_import_refuses_a_mismatched_pair(real_game, bot):
    with pytest.raises(ScoreImportInvalid):
        score_import(items=[ImportItem(bot.pk, real_game.pk, 10, timezone.now() - timedelta(minutes=1))])
    assert not Score.objects.exists()


def test_a_synthetic_player_cannot_join_or_organize_a_real_tournament(real_game, load_game, bot, user):
    now = timezone.now()
    real = TournamentFactory(game=real_game, start_time=now + timedelta(hours=1), end_time=now + timedelta(hours=2))
    load = TournamentFactory(game=load_game, start_time=now + timedelta(hours=1), end_time=now + timedelta(hours=2))

    with pytest.raises(SyntheticMismatch):
        tournament_join(tournament=real, user=bot)
    with pytest.raises(SyntheticMismatch):
        tournament_join(tournament=load, user=user)
    with pytest.raises(SyntheticMismatch):
        tournament_create(
            organizer=bot, game=real_game, name="Bots", start_time=real.start_time, end_time=real.end_time
        )
    tournament_join(tournament=load, user=bot)

    assert list(Participant.objects.values_list("tournament_id", "user_id")) == [(load.pk, bot.pk)]


def test_a_simulation_leaves_the_real_boards_and_tournaments_exactly_as_they_were(real_game, monkeypatch):
    players = UserFactory.create_batch(3)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=real_game, value=value)
    now = timezone.now()
    open_real = TournamentFactory(
        game=real_game, start_time=now + timedelta(hours=1), end_time=now + timedelta(hours=2)
    )
    tournament_join(tournament=open_real, user=players[0])
    before = real_state()
    monkeypatch.setattr(engine, "JOIN_CHANCE", 1.0)

    counters = engine.Simulator(
        players=engine.simulated_players(count=4), games=engine.simulated_games(), rate=40, duration=1.0
    ).run(stop=threading.Event())

    assert counters.scores_submitted > 0 and counters.errors == 0
    assert real_state() == before
    assert Score.objects.filter(game__is_synthetic=True).count() == counters.scores_submitted


@pytest.mark.django_db(transaction=True)  # the ranking index is written after commit
def test_removing_the_synthetic_data_leaves_the_real_boards_exactly_as_they_were(real_game, client_for):
    players = UserFactory.create_batch(3)
    for value, player in enumerate(players, start=1):
        score_submit(user=player, game=real_game, value=value)
    before = real_state()
    engine.Simulator(
        players=engine.simulated_players(count=3), games=engine.simulated_games(), rate=30, duration=0.5
    ).run(stop=threading.Event())
    assert not synthetic_summary().empty

    removed = synthetic_delete()

    assert removed.players == 3 and removed.games == 3 and removed.scores > 0
    assert synthetic_summary().empty
    assert not Standing.objects.exclude(user__in=players).exists()
    assert real_state() == before
    call_command("check_rankings", stdout=StringIO())


def test_nothing_is_removed_while_a_simulation_runs(load_game, bot):
    Simulation.objects.create(players=1, rate=1, duration=60)

    with pytest.raises(LoadRunning):
        synthetic_delete()

    assert User.objects.filter(pk=bot.pk).exists()


def test_the_clear_command_says_what_it_removed_and_refuses_during_a_stress_test(load_game, bot):
    score_submit(user=bot, game=load_game, value=3)
    stress = StressTest.objects.create(concurrent_users=1, actions_per_second=1, duration=10, target="http://x")

    with pytest.raises(CommandError, match="stop it"):
        call_command("clear_synthetic", stdout=StringIO())
    StressTest.objects.filter(pk=stress.pk).update(active=None, status="finished")
    out = StringIO()
    call_command("clear_synthetic", stdout=out)
    again = StringIO()
    call_command("clear_synthetic", stdout=again)

    assert "Removed 1 synthetic players, 1 games, 1 scores" in out.getvalue()
    assert "Nothing to remove" in again.getvalue()


def test_staff_count_and_remove_the_synthetic_data_through_the_api(load_game, bot, staff, user, client_for):
    score_submit(user=bot, game=load_game, value=3)

    assert client_for(user).get(SYNTHETIC).status_code == 403
    assert client_for(user).delete(SYNTHETIC).status_code == 403
    counted = client_for(staff).get(SYNTHETIC)
    removed = client_for(staff).delete(SYNTHETIC)

    assert counted.json() == {"players": 1, "games": 1, "scores": 1, "tournaments": 0}
    assert removed.status_code == 200
    assert removed.json() == {"removed": {"players": 1, "games": 1, "scores": 1, "tournaments": 0}}
    assert client_for(staff).get(SYNTHETIC).json()["players"] == 0


def test_the_synthetic_players_command_writes_private_tokens_that_sign_in(tmp_path, api_client):
    path = tmp_path / "load" / "players.json"

    call_command("synthetic_players", "3", "--output", str(path), stdout=StringIO())

    accounts = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [a["username"] for a in accounts] == ["load_0001", "load_0002", "load_0003"]
    assert all(a["synthetic"] is True for a in accounts)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {accounts[0]['access']}")
    assert api_client.get("/api/v1/users/me").json()["username"] == "load_0001"
    assert Game.objects.filter(is_synthetic=True, is_active=True).count() == 3


def test_the_synthetic_players_command_refuses_bad_sizes(tmp_path):
    with pytest.raises(CommandError, match="count"):
        call_command("synthetic_players", "0", "--output", str(tmp_path / "p.json"), stdout=StringIO())


def test_the_games_list_filters_synthetic_games(real_game, load_game, api_client):
    synthetic = api_client.get("/api/v1/games", {"synthetic": "true"}).json()["results"]
    real = api_client.get("/api/v1/games", {"synthetic": "false"}).json()["results"]

    assert [g["slug"] for g in synthetic] == ["sim-arena"] and synthetic[0]["is_synthetic"] is True
    assert [g["slug"] for g in real] == ["arena"]


def test_the_stress_page_counts_the_load_data_and_its_button_removes_it(client, staff, load_game, bot):
    score_submit(user=bot, game=load_game, value=3)
    client.force_login(staff)

    page = client.get("/stress/").content.decode()
    removed = client.post("/load-data/clear", {"next": "/stress/"}, follow=True)

    assert "<strong>1</strong> synthetic players" in page
    assert removed.redirect_chain == [("/stress/", 302)]
    assert "Removed the load-test data: 1 synthetic players" in removed.content.decode()
    assert synthetic_summary().empty


def test_only_staff_may_press_the_remove_button(client, user, load_game, bot):
    client.force_login(user)

    assert client.post("/load-data/clear").status_code == 403
    assert User.objects.filter(pk=bot.pk).exists()


def test_the_migration_flags_the_load_players_made_before_and_nobody_else():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("accounts.migrations.0003_synthetic")
    legacy = [
        User.objects.create_user("sim_0001", "sim_0001@simulator.invalid"),
        User.objects.create_user("stress_0001", "stress_0001@stress.invalid"),
        User.objects.create_user("lc0a1b2c_3", "lc0a1b2c_3@stress.invalid", "a-password-of-its-own"),
    ]
    real = [
        User.objects.create_user("sim_0002", "someone@example.com", "a-real-password"),
        User.objects.create_user("stressed", "stressed@stress.invalid", "a-real-password"),
    ]

    migration.flag_legacy_load_players(apps, None)

    assert set(User.objects.filter(is_synthetic=True).values_list("pk", flat=True)) == {u.pk for u in legacy}
    assert not User.objects.filter(pk__in=[u.pk for u in real], is_synthetic=True).exists()
