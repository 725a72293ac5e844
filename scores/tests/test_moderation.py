"""Shadow-bans: a banned player's scores are kept and shown to them only, in both ranking engines."""

import uuid

import pytest
from prometheus_client import REGISTRY

from accounts.models import ModerationAudit
from accounts.tests.factories import UserFactory
from rankings.models import Standing
from scores.models import Score
from scores.services import score_submit, score_void
from tournaments import services as tournaments
from tournaments.tests.factories import running_cup_with_two_scores

pytestmark = pytest.mark.django_db(transaction=True)

SCORES = "/api/v1/scores"
BOARD = "/api/v1/leaderboard/game/arena"
GLOBAL = "/api/v1/leaderboard/global"


def ban_url(user) -> str:
    return f"/api/v1/users/{user.pk}/shadow-ban"


def submit(client, game, value):
    return client.post(SCORES, {"game_id": str(game.pk), "score": value}, format="json")


def listed(response) -> list[tuple[str, int, int]]:
    assert response.status_code == 200, response.content
    return [(entry["username"], entry["rank"], entry["value"]) for entry in response.json()["entries"]]


def published_scores() -> float:
    return REGISTRY.get_sample_value("podium_events_published_total", {"channel": "score"}) or 0.0


@pytest.fixture
def players(client_for, game):
    """ace 300, bob 200, cid 100 on the arena board."""
    found = {}
    for name, value in (("ace", 300), ("bob", 200), ("cid", 100)):
        found[name] = UserFactory(username=name)
        assert submit(client_for(found[name]), game, value).status_code == 201
    return found


@pytest.fixture
def ban(client_for, staff):
    def do(user, reason="impossible scores"):
        response = client_for(staff).post(ban_url(user), {"reason": reason}, format="json")
        assert response.status_code == 200, response.content
        user.refresh_from_db()
        return response.json()

    return do


def test_a_banned_player_leaves_every_public_board(api_client, players, ban):
    body = ban(players["bob"])

    assert body["action"] == "shadow_ban" and body["shadow_banned_at"] and body["standings"] >= 2
    assert listed(api_client.get(BOARD)) == [("ace", 1, 300), ("cid", 2, 100)]
    assert listed(api_client.get(GLOBAL)) == [("ace", 1, 300), ("cid", 2, 100)]
    assert api_client.get(f"{BOARD}/players/{players['bob'].pk}").status_code == 404
    assert listed(api_client.get(BOARD, {"period": "daily"})) == [("ace", 1, 300), ("cid", 2, 100)]


def test_the_banned_player_sees_the_board_as_if_they_were_on_it(client_for, players, ban):
    bob = players["bob"]
    ban(bob)
    own = client_for(bob)

    top = own.get(BOARD)
    assert listed(top) == [("ace", 1, 300), ("bob", 2, 200), ("cid", 3, 100)]
    assert top.json()["size"] == 3
    assert listed(own.get(BOARD, {"around": "me", "limit": 3})) == [("ace", 1, 300), ("bob", 2, 200), ("cid", 3, 100)]
    assert listed(own.get(BOARD, {"offset": 1, "limit": 1})) == [("bob", 2, 200)]
    assert listed(own.get(BOARD, {"offset": 2, "limit": 5})) == [("cid", 3, 100)]
    mine = own.get(f"{BOARD}/players/{bob.pk}").json()
    assert (mine["rank"], mine["value"], mine["size"]) == (2, 200, 3)
    friends = own.get(BOARD, {"user_ids": f"{bob.pk},{players['cid'].pk}"})
    assert listed(friends) == [("bob", 2, 200), ("cid", 3, 100)]
    # Everyone else: without them.
    assert listed(client_for(players["ace"]).get(BOARD)) == [("ace", 1, 300), ("cid", 2, 100)]


def test_a_banned_players_new_score_is_accepted_stored_and_seen_by_them_only(
    client_for, api_client, players, ban, game
):
    bob = players["bob"]
    ban(bob)
    events = published_scores()

    response = submit(client_for(bob), game, 500)

    assert response.status_code == 201
    body = response.json()
    assert (body["game_board"]["rank"], body["game_board"]["value"], body["game_board"]["size"]) == (1, 500, 3)
    assert body["global_board"]["rank"] == 1
    assert Score.objects.filter(user=bob, value=500).exists()
    assert published_scores() == events  # no score.submitted for anyone to see
    assert listed(api_client.get(BOARD)) == [("ace", 1, 300), ("cid", 2, 100)]
    assert listed(client_for(bob).get(BOARD))[0] == ("bob", 1, 500)
    # The history: theirs to see, nobody else's.
    assert 500 in [s["score"] for s in client_for(bob).get(SCORES, {"user_id": bob.pk}).json()["results"]]
    assert client_for(players["ace"]).get(SCORES, {"user_id": bob.pk}).json()["results"] == []
    assert api_client.get(SCORES, {"user_id": bob.pk}).json()["results"] == []


def test_lifting_the_ban_restores_every_standing_with_the_scores_made_meanwhile(client_for, api_client, staff, game):
    ace, bob = UserFactory(username="ace"), UserFactory(username="bob")
    submit(client_for(ace), game, 300)
    submit(client_for(bob), game, 200)
    client_for(staff).post(ban_url(bob), {"reason": "looks off"}, format="json")
    submit(client_for(bob), game, 400)

    response = client_for(staff).delete(ban_url(bob), {"reason": "it was a fair run"}, format="json")

    assert response.status_code == 200
    assert response.json()["action"] == "lift" and response.json()["shadow_banned_at"] is None
    assert listed(api_client.get(BOARD)) == [("bob", 1, 400), ("ace", 2, 300)]
    assert listed(api_client.get(GLOBAL)) == [("bob", 1, 400), ("ace", 2, 300)]
    assert not Standing.objects.filter(board__startswith="hidden.").exists()
    actions = list(ModerationAudit.objects.filter(user=bob).values_list("action", "actor", "reason"))
    assert actions == [("lift", staff.pk, "it was a fair run"), ("shadow_ban", staff.pk, "looks off")]


def test_only_staff_moderate_and_the_state_must_fit(client_for, api_client, staff, players, ban):
    bob = players["bob"]
    assert client_for(players["ace"]).post(ban_url(bob), {"reason": "x"}, format="json").status_code == 403
    assert api_client.post(ban_url(bob), {"reason": "x"}, format="json").status_code == 401
    assert client_for(staff).post(ban_url(bob), {}, format="json").status_code == 400
    unknown = f"/api/v1/users/{uuid.uuid4()}/shadow-ban"
    assert client_for(staff).post(unknown, {"reason": "x"}, format="json").status_code == 404
    assert client_for(staff).delete(ban_url(bob), {"reason": "x"}, format="json").json()["error"]["code"] == (
        "not_shadow_banned"
    )
    ban(bob)
    again = client_for(staff).post(ban_url(bob), {"reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_shadow_banned"


def test_a_game_servers_batch_for_a_banned_player_is_created_and_hidden(api_client, players, ban, server_key, game):
    ban(players["cid"])
    _, raw = server_key

    response = api_client.post(
        f"{SCORES}/batch",
        {"scores": [{"user_id": str(players["cid"].pk), "game_id": str(game.pk), "score": 999}]},
        format="json",
        HTTP_AUTHORIZATION=f"Api-Key {raw}",
    )

    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["status"] == "created"
    assert listed(api_client.get(BOARD)) == [("ace", 1, 300), ("bob", 2, 200)]
    assert Standing.objects.get(board__startswith="hidden.game.", board__endswith=".all").value == 999


def test_voiding_a_banned_players_score_recomputes_their_hidden_boards_only(api_client, players, ban, staff, game):
    bob = players["bob"]
    ban(bob)
    best = score_submit(user=bob, game=game, value=900).score

    score_void(score=best, actor=staff, reason="cheated")

    hidden = Standing.objects.get(user=bob, board__startswith="hidden.game.", board__endswith=".all")
    assert hidden.value == 200
    assert listed(api_client.get(BOARD)) == [("ace", 1, 300), ("cid", 2, 100)]


def test_a_banned_player_wins_no_tournament_and_a_lift_leaves_a_finished_one_as_it_ended(staff, ban):
    cup = running_cup_with_two_scores(name="Moderated Cup")
    winner = cup.participants.order_by("-user__scores__value").first().user  # scored 20
    ban(winner)

    finished = tournaments.tournament_finish(tournament=cup, now_=True)
    grants = tournaments.tournament_pay(tournament=finished)

    assert winner.pk not in {grant.user_id for grant in grants}
    from scores.services import player_shadow_ban_lift

    player_shadow_ban_lift(user=winner, actor=staff, reason="appeal")
    assert not Standing.objects.filter(user=winner, board=f"tournament.{cup.pk}.all").exists()


def test_the_admin_shadow_bans_and_records_who_and_why(client, players):
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.post(
        "/admin/accounts/moderationaudit/add/",
        {"user": str(players["ace"].pk), "action": "shadow_ban", "reason": "from the review queue"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    players["ace"].refresh_from_db()
    assert players["ace"].shadow_banned_at is not None
    audit = ModerationAudit.objects.get(user=players["ace"])
    assert (audit.actor, audit.reason) == (staff, "from the review queue")
    assert client.get(f"/admin/accounts/moderationaudit/{audit.pk}/change/").status_code == 200
    repeated = client.post(
        "/admin/accounts/moderationaudit/add/",
        {"user": str(players["ace"].pk), "action": "shadow_ban", "reason": "again"},
    )
    assert repeated.status_code == 200 and "shadow-banned already" in repeated.content.decode()
