"""The tournament API under /api/v1: create, list, read, join, register, leave, cancel, participants, standings."""

import uuid
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from tournaments import services
from tournaments.models import Participant, Status, Tournament
from tournaments.tests.factories import fund

pytestmark = pytest.mark.django_db

TOURNAMENTS = "/api/v1/tournaments"
REGISTER = f"{TOURNAMENTS}/register"
SCORES = "/api/v1/scores"


def url(tournament: Tournament, suffix: str = "") -> str:
    return f"{TOURNAMENTS}/{tournament.pk}{suffix}"


def iso(moment) -> str:
    """A moment as the seed's example writes it: UTC with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(game, **changes) -> dict:
    start = timezone.now() + timedelta(days=1)
    return {
        "name": "Weekend Championship",
        "game_id": str(game.pk),
        "start_time": iso(start),
        "end_time": iso(start + timedelta(hours=4)),
    } | changes


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


@pytest.fixture
def player(db):
    return UserFactory(username="player")


@pytest.fixture
def player_client(client_for, player):
    return client_for(player)


# Create


def test_a_signed_in_player_creates_a_tournament_and_organizes_it(player_client, player, game):
    response = player_client.post(TOURNAMENTS, body(game), format="json")

    assert response.status_code == 201
    data = response.json()
    tournament = Tournament.objects.get()
    assert data["id"] == tournament.pk
    assert tournament.organizer == player
    assert (data["organizer_id"], data["organizer"]) == (str(player.pk), "player")
    assert data["format"] == "best_score"
    assert data["prize_split"] == [50, 30, 20]
    assert data["status"] == Status.SCHEDULED
    assert (data["max_participants"], data["prize_pool"], data["participant_count"]) == (100, 0, 0)
    assert (data["joined"], data["can_join"]) == (False, True)


def test_the_seeds_example_body_works_as_written(player_client, player, game):
    start = timezone.now() + timedelta(days=3)
    seed_body = {
        "name": "Weekend Championship",
        "game_id": str(game.pk),
        "max_participants": 100,
        "prize_pool": 5000,
        "start_time": iso(start),
        "end_time": iso(start + timedelta(hours=4)),
    }

    fund(player, 5000)

    response = player_client.post(TOURNAMENTS, seed_body, format="json")

    assert response.status_code == 201
    tournament = Tournament.objects.get()
    assert (tournament.name, tournament.game, tournament.max_participants, tournament.prize_pool) == (
        "Weekend Championship",
        game,
        100,
        5000,
    )
    assert tournament.end_time - tournament.start_time == timedelta(hours=4)
    assert response.json()["start_time"] == seed_body["start_time"]


def test_the_game_may_be_named_by_slug(player_client, game):
    response = player_client.post(TOURNAMENTS, body(game, game_id="arena"), format="json")

    assert response.status_code == 201
    assert response.json()["game_id"] == str(game.pk)


def test_create_takes_every_optional_rule(player_client, game):
    response = player_client.post(
        TOURNAMENTS,
        body(game, format="limited_attempts", max_attempts=3, prize_split=[60, 40], description="Three tries."),
        format="json",
    )

    assert response.status_code == 201
    tournament = Tournament.objects.get()
    assert (tournament.format, tournament.max_attempts, tournament.prize_split) == ("limited_attempts", 3, [60, 40])
    assert tournament.description == "Three tries."


def test_anonymous_create_is_401_in_the_error_shape(api_client, game):
    response = api_client.post(TOURNAMENTS, body(game), format="json")

    assert_error(response, 401, "not_authenticated")
    assert not Tournament.objects.exists()


def _invalid_bodies():
    now = timezone.now()
    start = now + timedelta(days=1)
    return [
        pytest.param(
            {"start_time": iso(start), "end_time": iso(start - timedelta(hours=1))}, "end_time", id="end-before-start"
        ),
        pytest.param(
            {"start_time": iso(now - timedelta(hours=3)), "end_time": iso(now - timedelta(hours=1))},
            "end_time",
            id="end-in-the-past",
        ),
        pytest.param(
            {"start_time": iso(start), "end_time": iso(start + timedelta(days=31, seconds=1))},
            "end_time",
            id="longer-than-max-days",
        ),
        pytest.param({"max_participants": 1}, "max_participants", id="one-seat"),
        pytest.param({"max_participants": 100_001}, "max_participants", id="too-many-seats"),
        pytest.param({"prize_pool": -1}, "prize_pool", id="negative-pool"),
        pytest.param({"prize_split": [60, 30, 20]}, "prize_split", id="split-over-100"),
        pytest.param({"prize_split": [33.333, 33.333]}, "prize_split", id="split-with-3-decimals"),
        pytest.param({"format": "limited_attempts"}, "max_attempts", id="limited-without-attempts"),
        pytest.param({"max_attempts": 3}, "max_attempts", id="attempts-on-best-score"),
        pytest.param({"format": "fastest"}, "format", id="unknown-format"),
        pytest.param({"status": "running"}, "status", id="unknown-field"),
        pytest.param({"name": ""}, "name", id="blank-name"),
    ]


@pytest.mark.parametrize(("changes", "field"), _invalid_bodies())
def test_invalid_create_is_400_naming_the_field_and_creates_nothing(player_client, game, settings, changes, field):
    settings.TOURNAMENT_MAX_DAYS = 31
    response = player_client.post(TOURNAMENTS, body(game, **changes), format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]
    assert not Tournament.objects.exists()


def test_the_longest_tournament_allowed_is_accepted(player_client, game, settings):
    start = timezone.now() + timedelta(days=1)
    longest = {"start_time": iso(start), "end_time": iso(start + timedelta(days=settings.TOURNAMENT_MAX_DAYS))}

    response = player_client.post(TOURNAMENTS, body(game, **longest), format="json")

    assert response.status_code == 201


def test_create_for_an_unknown_game_is_404(player_client, game):
    response = player_client.post(TOURNAMENTS, body(game, game_id="no-such-game"), format="json")

    assert_error(response, 404, "not_found")
    assert not Tournament.objects.exists()


# List


def test_the_list_is_paginated(api_client, make_tournament):
    for n in range(3):
        make_tournament(name=f"Cup {n}")

    response = api_client.get(TOURNAMENTS, {"limit": 2})

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert len(data["results"]) == 2
    assert data["next"] is not None and data["previous"] is None
    assert {"id", "name", "status", "participant_count", "game_id"} <= data["results"][0].keys()


def test_a_bad_page_size_is_400(api_client):
    assert_error(api_client.get(TOURNAMENTS, {"limit": 0}), 400, "invalid")


def test_the_list_filters_by_status(api_client, make_tournament):
    scheduled = make_tournament(name="Later")
    running = make_tournament(name="Now", running=True)

    by_running = api_client.get(TOURNAMENTS, {"status": "running"}).json()
    by_scheduled = api_client.get(TOURNAMENTS, {"status": "scheduled"}).json()

    assert [t["id"] for t in by_running["results"]] == [running.pk]
    assert [t["id"] for t in by_scheduled["results"]] == [scheduled.pk]


def test_the_list_filters_by_game(api_client, make_tournament):
    other_game = GameFactory()
    mine = make_tournament(name="Arena Cup")
    make_tournament(name="Other Cup", game=other_game)

    response = api_client.get(TOURNAMENTS, {"game_id": str(mine.game_id)})

    assert [t["id"] for t in response.json()["results"]] == [mine.pk]


def test_an_empty_filter_is_no_filter(api_client, make_tournament):
    mine = make_tournament()

    response = api_client.get(TOURNAMENTS, {"game_id": "", "status": ""})

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [mine.pk]


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"game_id": "not-a-uuid"}])
def test_a_bad_filter_is_400(api_client, query):
    error = assert_error(api_client.get(TOURNAMENTS, query), 400, "invalid")

    assert set(query) <= set(error["fields"])


# Detail


def test_detail_for_a_player_who_may_join(player_client, make_tournament):
    tournament = make_tournament()

    response = player_client.get(url(tournament))

    assert response.status_code == 200
    data = response.json()
    assert (data["participant_count"], data["joined"], data["can_join"]) == (0, False, True)
    assert 3500 <= data["starts_in_seconds"] <= 3600
    assert 3 * 3600 - 100 <= data["time_left_seconds"] <= 3 * 3600


def test_detail_after_joining_says_joined_and_not_can_join(player_client, player, make_tournament):
    tournament = make_tournament()
    services.tournament_join(tournament=tournament, user=player)

    data = player_client.get(url(tournament)).json()

    assert (data["participant_count"], data["joined"], data["can_join"]) == (1, True, False)


def test_detail_when_full_says_the_player_cannot_join(player_client, make_tournament):
    tournament = make_tournament(max_participants=2)
    for other in UserFactory.create_batch(2):
        services.tournament_join(tournament=tournament, user=other)

    data = player_client.get(url(tournament)).json()

    assert (data["participant_count"], data["joined"], data["can_join"]) == (2, False, False)


def test_detail_for_anonymous_cannot_join(api_client, make_tournament):
    data = api_client.get(url(make_tournament())).json()

    assert (data["joined"], data["can_join"]) == (False, False)


def test_detail_of_a_running_tournament_has_time_left_but_no_start(api_client, make_tournament):
    data = api_client.get(url(make_tournament(running=True))).json()

    assert data["status"] == Status.RUNNING
    assert data["starts_in_seconds"] is None
    assert 2 * 3600 - 100 <= data["time_left_seconds"] <= 2 * 3600


def test_detail_of_a_cancelled_tournament_has_no_times_and_cannot_be_joined(player_client, organizer, make_tournament):
    tournament = services.tournament_cancel(tournament=make_tournament(), actor=organizer)

    data = player_client.get(url(tournament)).json()

    assert (data["status"], data["starts_in_seconds"], data["time_left_seconds"]) == (Status.CANCELLED, None, None)
    assert data["can_join"] is False


def test_an_unknown_tournament_is_404(api_client):
    assert_error(api_client.get(f"{TOURNAMENTS}/999999"), 404, "not_found")


# Join


def test_join_is_201_and_takes_a_seat(player_client, player, make_tournament):
    tournament = make_tournament()

    response = player_client.post(url(tournament, "/join"))

    assert response.status_code == 201
    assert (response.json()["participant_count"], response.json()["joined"]) == (1, True)
    assert Participant.objects.filter(tournament=tournament, user=player).exists()


def test_joining_twice_is_409_already_joined(player_client, make_tournament):
    tournament = make_tournament()
    player_client.post(url(tournament, "/join"))

    response = player_client.post(url(tournament, "/join"))

    assert_error(response, 409, "already_joined")
    tournament.refresh_from_db()
    assert tournament.participant_count == 1


def test_join_returns_409_when_tournament_is_full(player_client, player, make_tournament):
    tournament = make_tournament(max_participants=2)
    for other in UserFactory.create_batch(2):
        services.tournament_join(tournament=tournament, user=other)

    response = player_client.post(url(tournament, "/join"))

    assert_error(response, 409, "tournament_full")
    tournament.refresh_from_db()
    assert tournament.participant_count == 2
    assert not Participant.objects.filter(tournament=tournament, user=player).exists()


def test_joining_a_finished_tournament_is_409_registration_closed(player_client, player, make_tournament):
    tournament = make_tournament(running=True)
    services.tournament_finish(tournament=tournament, now_=True)

    response = player_client.post(url(tournament, "/join"))

    assert_error(response, 409, "registration_closed")
    assert not Participant.objects.filter(tournament=tournament, user=player).exists()


def test_joining_a_cancelled_tournament_is_409_registration_closed(player_client, organizer, make_tournament):
    tournament = services.tournament_cancel(tournament=make_tournament(), actor=organizer)

    assert_error(player_client.post(url(tournament, "/join")), 409, "registration_closed")


def test_anonymous_join_is_401(api_client, make_tournament):
    tournament = make_tournament()

    assert_error(api_client.post(url(tournament, "/join")), 401, "not_authenticated")
    assert not Participant.objects.exists()


def test_joining_an_unknown_tournament_is_404(player_client):
    assert_error(player_client.post(f"{TOURNAMENTS}/999999/join"), 404, "not_found")


# Register (the seed's route)


def test_a_player_registers_themself_by_id(player_client, player, make_tournament):
    tournament = make_tournament()

    response = player_client.post(REGISTER, {"tournament_id": tournament.pk, "user_id": str(player.pk)}, format="json")

    assert response.status_code == 201
    assert response.json()["joined"] is True
    assert Participant.objects.filter(tournament=tournament, user=player).exists()


def test_register_takes_the_tournament_id_as_a_string_like_the_seed(player_client, player, make_tournament):
    tournament = make_tournament()

    response = player_client.post(
        REGISTER, {"tournament_id": str(tournament.pk), "user_id": str(player.pk)}, format="json"
    )

    assert response.status_code == 201


def test_register_without_user_id_registers_the_caller(player_client, player, make_tournament):
    tournament = make_tournament()

    response = player_client.post(REGISTER, {"tournament_id": tournament.pk}, format="json")

    assert response.status_code == 201
    assert list(tournament.participants.values_list("user", flat=True)) == [player.pk]


def test_a_player_registering_another_user_is_403(player_client, make_tournament):
    tournament = make_tournament()
    other = UserFactory()

    response = player_client.post(REGISTER, {"tournament_id": tournament.pk, "user_id": str(other.pk)}, format="json")

    assert_error(response, 403, "permission_denied")
    assert not Participant.objects.exists()


def test_staff_may_register_another_user(client_for, staff, player, make_tournament):
    tournament = make_tournament()

    response = client_for(staff).post(
        REGISTER, {"tournament_id": tournament.pk, "user_id": str(player.pk)}, format="json"
    )

    assert response.status_code == 201
    assert list(tournament.participants.values_list("user", flat=True)) == [player.pk]
    assert response.json()["participant_count"] == 1


def test_staff_registering_an_unknown_user_is_404(client_for, staff, make_tournament):
    tournament = make_tournament()

    response = client_for(staff).post(
        REGISTER, {"tournament_id": tournament.pk, "user_id": str(uuid.uuid4())}, format="json"
    )

    assert_error(response, 404, "not_found")
    assert not Participant.objects.exists()


def test_registering_in_a_missing_tournament_is_404(player_client, player):
    response = player_client.post(REGISTER, {"tournament_id": 999999, "user_id": str(player.pk)}, format="json")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "tournament_id"), ({"tournament_id": "abc"}, "tournament_id"), ({"tournament_id": 1, "extra": 1}, "extra")],
)
def test_a_malformed_registration_is_400(player_client, payload, field):
    error = assert_error(player_client.post(REGISTER, payload, format="json"), 400, "invalid")

    assert field in error["fields"]


def test_anonymous_registration_is_401(api_client, make_tournament):
    response = api_client.post(REGISTER, {"tournament_id": make_tournament().pk}, format="json")

    assert_error(response, 401, "not_authenticated")


# Leave


def test_leaving_before_the_start_is_204_and_frees_the_seat(player_client, player, make_tournament):
    tournament = make_tournament()
    services.tournament_join(tournament=tournament, user=player)

    response = player_client.delete(url(tournament, "/leave"))

    assert response.status_code == 204
    assert player_client.get(url(tournament)).json()["participant_count"] == 0
    assert not Participant.objects.filter(tournament=tournament).exists()


def test_leaving_without_having_joined_is_409_not_joined(player_client, make_tournament):
    assert_error(player_client.delete(url(make_tournament(), "/leave")), 409, "not_joined")


def test_leaving_after_the_start_is_409_tournament_started(player_client, player, make_tournament):
    tournament = make_tournament(running=True)
    services.tournament_join(tournament=tournament, user=player)

    response = player_client.delete(url(tournament, "/leave"))

    assert_error(response, 409, "tournament_started")
    assert Participant.objects.filter(tournament=tournament, user=player).exists()


# Cancel


def test_the_organizer_cancels(client_for, organizer, make_tournament):
    tournament = make_tournament()

    response = client_for(organizer).post(url(tournament, "/cancel"))

    assert response.status_code == 200
    assert response.json()["status"] == Status.CANCELLED
    tournament.refresh_from_db()
    assert tournament.status == Status.CANCELLED and tournament.cancelled_at is not None


def test_another_player_may_not_cancel(player_client, make_tournament):
    tournament = make_tournament()

    assert_error(player_client.post(url(tournament, "/cancel")), 403, "permission_denied")
    tournament.refresh_from_db()
    assert tournament.status == Status.SCHEDULED


def test_staff_may_cancel_any_tournament(client_for, staff, make_tournament):
    tournament = make_tournament(running=True)

    response = client_for(staff).post(url(tournament, "/cancel"))

    assert response.status_code == 200
    assert response.json()["status"] == Status.CANCELLED


def test_a_finished_tournament_cannot_be_cancelled(client_for, organizer, make_tournament):
    tournament = services.tournament_finish(tournament=make_tournament(running=True), now_=True)

    response = client_for(organizer).post(url(tournament, "/cancel"))

    assert_error(response, 409, "invalid_transition")
    tournament.refresh_from_db()
    assert tournament.status == Status.FINISHED


def test_anonymous_cancel_is_401(api_client, make_tournament):
    assert_error(api_client.post(url(make_tournament(), "/cancel")), 401, "not_authenticated")


# Participants


def test_participants_are_listed_in_joining_order_with_paging(api_client, make_tournament, players):
    tournament = make_tournament()
    for player in players[:3]:
        services.tournament_join(tournament=tournament, user=player)

    response = api_client.get(url(tournament, "/participants"), {"limit": 2})

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [p["username"] for p in data["results"]] == [players[0].username, players[1].username]
    assert data["results"][0] == {
        **data["results"][0],
        "user_id": str(players[0].pk),
        "display_name": players[0].display_name,
        "attempts_used": 0,
    }


def test_participants_of_an_unknown_tournament_is_404(api_client):
    assert_error(api_client.get(f"{TOURNAMENTS}/999999/participants"), 404, "not_found")


# Standings (scores through the real submission endpoint; transactions commit, so the index is written)


def submit(client, game, score):
    response = client.post(SCORES, {"game_id": str(game.pk), "score": score}, format="json")
    assert response.status_code == 201, response.content
    return response


@pytest.mark.django_db(transaction=True)
def test_live_standings_rank_the_participants_scores(client_for, api_client, make_tournament, game, players):
    tournament = make_tournament(running=True)
    ace, bob, outsider = players[:3]
    for player in (ace, bob):
        services.tournament_join(tournament=tournament, user=player)
    submit(client_for(ace), game, 300)
    submit(client_for(bob), game, 500)
    submit(client_for(ace), game, 200)  # not a new best
    submit(client_for(outsider), game, 900)  # not a participant: does not count

    response = api_client.get(url(tournament, "/standings"))

    assert response.status_code == 200
    data = response.json()
    assert (data["tournament_id"], data["status"], data["frozen"], data["size"]) == (
        tournament.pk,
        Status.RUNNING,
        False,
        2,
    )
    assert [(e["rank"], e["user_id"], e["username"], e["value"], e["attempts_used"]) for e in data["entries"]] == [
        (1, str(bob.pk), bob.username, 500, 1),
        (2, str(ace.pk), ace.username, 300, 2),
    ]
    assert all(entry["prize"] is None for entry in data["entries"])


@pytest.mark.django_db(transaction=True)
def test_standings_are_empty_before_any_score(api_client, make_tournament):
    data = api_client.get(url(make_tournament(), "/standings")).json()

    assert (data["frozen"], data["size"], data["entries"]) == (False, 0, [])


@pytest.mark.django_db(transaction=True)
def test_standings_once_finished_are_frozen_with_prizes(client_for, api_client, make_tournament, game, players):
    tournament = make_tournament(running=True, prize_pool=1000)
    ace, bob = players[:2]
    for player in (ace, bob):
        services.tournament_join(tournament=tournament, user=player)
    submit(client_for(ace), game, 300)
    submit(client_for(bob), game, 500)
    services.tournament_finish(tournament=tournament, now_=True)
    submit(client_for(ace), game, 10_000)  # after the end: does not count

    response = api_client.get(url(tournament, "/standings"))

    data = response.json()
    assert data["frozen"] is True
    assert data["status"] in (Status.FINISHED, Status.PAID)
    assert [(e["rank"], e["user_id"], e["value"], e["prize"]) for e in data["entries"]] == [
        (1, str(bob.pk), 500, 500),
        (2, str(ace.pk), 300, 300),
    ]


@pytest.mark.django_db(transaction=True)
def test_standings_are_paged_by_offset_and_limit(client_for, api_client, make_tournament, game, players):
    tournament = make_tournament(running=True)
    for value, player in enumerate(players[:3], start=1):
        services.tournament_join(tournament=tournament, user=player)
        submit(client_for(player), game, value * 100)

    data = api_client.get(url(tournament, "/standings"), {"offset": 1, "limit": 1}).json()

    assert data["size"] == 3
    assert [(e["rank"], e["value"]) for e in data["entries"]] == [(2, 200)]


@pytest.mark.parametrize("query", [{"limit": 0}, {"offset": -1}, {"limit": "many"}])
def test_bad_standings_paging_is_400(api_client, make_tournament, query):
    assert_error(api_client.get(url(make_tournament(), "/standings"), query), 400, "invalid")


def test_standings_of_an_unknown_tournament_is_404(api_client):
    assert_error(api_client.get(f"{TOURNAMENTS}/999999/standings"), 404, "not_found")
