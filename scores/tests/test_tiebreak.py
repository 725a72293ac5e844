"""Tie-break scores end to end: a game declares a secondary score (time taken), every way in takes it, and the
boards, the answers and the recomputations order equal scores by it before the earliest-first rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.services import game_create
from scores.models import Score
from scores.services import ImportItem, score_import, score_submit, score_void

pytestmark = pytest.mark.django_db(transaction=True)

SCORES = "/api/v1/scores"
GAMES = "/api/v1/games"


@pytest.fixture
def race(db):
    """Stars from 0 to 3, ties broken by the time taken in ms (lower wins)."""
    return game_create(
        name="Race",
        slug="race",
        min_score=0,
        max_score=3,
        tiebreak_order="asc",
        tiebreak_max=3_600_000,
        tiebreak_label="time (ms)",
    )


def submit(client, game, score, tiebreak=None, **extra):
    body = {"game_id": str(game.pk), "score": score, **extra}
    if tiebreak is not None:
        body["tiebreak"] = tiebreak
    return client.post(SCORES, body, format="json")


def board(api_client, game):
    return api_client.get(f"/api/v1/leaderboard/game/{game.slug}", {"limit": 50}).json()


def test_equal_scores_rank_by_the_tie_break_then_by_who_came_first(client_for, api_client, race):
    ann, bob, cy, dee = (UserFactory(username=name) for name in ("ann", "bob", "cy", "dee"))
    assert submit(client_for(ann), race, 3, 52_000).status_code == 201
    assert submit(client_for(bob), race, 3, 48_500).status_code == 201
    assert submit(client_for(cy), race, 2, 1_000).status_code == 201
    assert submit(client_for(dee), race, 3, 52_000).status_code == 201

    body = board(api_client, race)

    assert [(e["username"], e["rank"], e["value"], e["tiebreak"]) for e in body["entries"]] == [
        ("bob", 1, 3, 48_500),
        ("ann", 2, 3, 52_000),
        ("dee", 2, 3, 52_000),
        ("cy", 4, 2, 1_000),
    ]


def test_the_answer_to_a_submission_shows_both_scores(client_for, race, user):
    response = submit(client_for(user), race, 2, 61_250)

    assert response.status_code == 201
    body = response.json()
    assert (body["score"]["score"], body["score"]["tiebreak"]) == (2, 61_250)
    assert body["game_board"] == {**body["game_board"], "rank": 1, "value": 2, "tiebreak": 61_250, "size": 1}
    assert body["global_board"] is None


def test_a_better_tie_break_on_an_equal_score_is_a_personal_best(client_for, race, user):
    client = client_for(user)
    submit(client, race, 3, 50_000)

    slower = submit(client, race, 3, 50_001).json()
    faster = submit(client, race, 3, 49_999).json()

    assert slower["personal_best"] is False
    assert (slower["game_board"]["value"], slower["game_board"]["tiebreak"]) == (3, 50_000)
    assert faster["personal_best"] is True
    assert (faster["game_board"]["value"], faster["game_board"]["tiebreak"]) == (3, 49_999)


def test_a_latest_score_game_keeps_the_last_pair_and_knows_a_best_one(db, user):
    game = game_create(
        name="Sprint", min_score=0, max_score=10, score_operator="latest", tiebreak_order="desc", tiebreak_max=99
    )
    first = score_submit(user=user, game=game, value=5, tiebreak=40)
    better = score_submit(user=user, game=game, value=5, tiebreak=41)
    worse = score_submit(user=user, game=game, value=5, tiebreak=3)

    assert [first.score.is_personal_best, better.score.is_personal_best, worse.score.is_personal_best] == [
        True,
        True,
        False,
    ]
    from rankings.boards import game_board_at
    from rankings.selectors import board_player

    standing = board_player(board=game_board_at(game, "all", timezone.now()), user_id=user.pk)
    assert (standing.entry.value, standing.entry.tiebreak) == (5, 3)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, "tiebreak"),  # missing
        ({"tiebreak": -1}, "tiebreak"),
        ({"tiebreak": 3_600_001}, "tiebreak"),
        ({"tiebreak": 1.5}, "tiebreak"),
        ({"tiebreak": "12"}, "tiebreak"),
        ({"tiebreak": True}, "tiebreak"),
    ],
)
def test_a_tie_break_game_refuses_a_score_without_a_valid_tie_break(client_for, race, user, extra, field):
    response = client_for(user).post(SCORES, {"game_id": "race", "score": 2, **extra}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Score.objects.exists()


def test_a_game_without_a_tie_break_refuses_one(client_for, user):
    plain = game_create(name="Plain", slug="plain")

    response = submit(client_for(user), plain, 10, 5)

    assert response.status_code == 400
    assert "tiebreak" in response.json()["error"]["fields"]
    assert not Score.objects.exists()


def test_an_idempotency_key_replays_only_the_same_pair(client_for, race, user):
    client = client_for(user)
    assert submit(client, race, 3, 100, idempotency_key="run-1").status_code == 201

    assert submit(client, race, 3, 100, idempotency_key="run-1").status_code == 200
    assert submit(client, race, 3, 101, idempotency_key="run-1").json()["error"]["code"] == "idempotency_key_reused"
    assert Score.objects.count() == 1


def test_a_batch_takes_tie_breaks_and_refuses_bad_ones_by_index(api_client, race):
    from accounts.services import api_key_create

    _, raw = api_key_create(name="race server", games=[race])
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    items = [
        {"user_id": str(ann.pk), "game_id": str(race.pk), "score": 1, "tiebreak": 900},
        {"user_id": str(bob.pk), "game_id": str(race.pk), "score": 1, "tiebreak": 800},
        {"user_id": str(bob.pk), "game_id": str(race.pk), "score": 1},
        {"user_id": str(bob.pk), "game_id": str(race.pk), "score": 1, "tiebreak": "fast"},
    ]

    response = api_client.post(f"{SCORES}/batch", {"scores": items}, format="json")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "created", "rejected", "rejected"]
    assert results[2]["error"]["code"] == "score_out_of_bounds"
    assert results[3]["error"]["code"] == "invalid"
    api_client.credentials()
    assert [(e["username"], e["tiebreak"]) for e in board(api_client, race)["entries"]] == [("bob", 800), ("ann", 900)]


def test_an_import_places_by_tie_break(race, api_client):
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    at = timezone.now() - timedelta(hours=1)

    stored = score_import(items=[ImportItem(ann.pk, race.pk, 2, at, 70), ImportItem(bob.pk, race.pk, 2, at, 75)])

    assert stored == 2
    assert list(Score.objects.order_by("tiebreak").values_list("tiebreak", flat=True)) == [70, 75]
    assert [(e["username"], e["rank"]) for e in board(api_client, race)["entries"]] == [("ann", 1), ("bob", 2)]


def test_voiding_the_best_run_falls_back_to_the_next_pair(race, user, staff, api_client):
    score_submit(user=user, game=race, value=3, tiebreak=9_000)
    best = score_submit(user=user, game=race, value=3, tiebreak=8_000).score

    score_void(score=best, actor=staff, reason="spliced replay")

    (entry,) = board(api_client, race)["entries"]
    assert (entry["value"], entry["tiebreak"]) == (3, 9_000)


def test_tie_break_rules_are_checked_and_frozen_once_the_game_has_scores(client_for, staff, user):
    client = client_for(staff)
    missing = client.post(GAMES, {"name": "Loose", "tiebreak_order": "asc"}, format="json")
    summed = client.post(
        GAMES,
        {
            "name": "Sum",
            "tiebreak_order": "asc",
            "tiebreak_max": 9,
            "min_score": 0,
            "max_score": 9,
            "score_operator": "sum",
        },
        format="json",
    )
    too_wide = client.post(
        GAMES,
        {"name": "Wide", "tiebreak_order": "asc", "tiebreak_max": 2**40, "min_score": 0, "max_score": 2**40},
        format="json",
    )
    made = client.post(
        GAMES,
        {
            "name": "Tight",
            "tiebreak_order": "asc",
            "tiebreak_max": 999,
            "min_score": 0,
            "max_score": 100,
            "tiebreak_label": "time (ms)",
        },
        format="json",
    )

    assert missing.status_code == 400 and {"min_score", "tiebreak_max"} <= set(missing.json()["error"]["fields"])
    assert summed.status_code == 400 and "score_operator" in summed.json()["error"]["fields"]
    assert too_wide.status_code == 400 and "tiebreak_max" in too_wide.json()["error"]["fields"]
    assert made.status_code == 201
    game = made.json()
    assert (game["tiebreak_order"], game["tiebreak_max"], game["counts_toward_global"]) == ("asc", 999, False)

    url = f"{GAMES}/{game['slug']}"
    assert client.patch(url, {"tiebreak_max": 1999}, format="json").status_code == 200
    assert submit(client_for(user), type("G", (), {"pk": game["id"]}), 50, 10).status_code == 201
    for change in ({"tiebreak_max": 999}, {"tiebreak_order": "desc"}, {"min_score": -5}, {"tiebreak_order": ""}):
        response = client.patch(url, change, format="json")
        assert response.status_code == 409, change
        assert response.json()["error"]["code"] == "game_has_scores"
    assert client.patch(url, {"max_score": 90, "tiebreak_label": "ms"}, format="json").status_code == 200
