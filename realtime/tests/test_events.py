"""Events from writes to clients: after commit only, in order, with snapshots, seq, coalescing and rank changes."""

import asyncio
import json
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from events import bus
from events.bus import publish
from games.services import game_create
from games.tests.factories import GameFactory
from scores.services import score_submit

from .conftest import connect, events, frames, run, subscribe, until

pytestmark = pytest.mark.django_db(transaction=True)

submit = database_sync_to_async(score_submit)


@pytest.fixture
def game(db):
    return GameFactory(slug="arena", sort_order="desc", score_operator="best")


def test_a_board_subscription_starts_with_its_snapshot(game):
    leader = UserFactory()
    score_submit(user=leader, game=game, value=500)

    async def scenario():
        client = await connect()
        await subscribe(client, f"leaderboard.{game.pk}")
        snapshot = await frames(client)
        await client.disconnect()
        return snapshot

    snapshot = run(scenario)

    assert snapshot["type"] == "leaderboard.snapshot"
    assert snapshot["channel"] == f"leaderboard.{game.pk}"
    assert snapshot["data"]["size"] == 1
    assert [(e["rank"], e["username"], e["value"]) for e in snapshot["data"]["top"]] == [(1, leader.username, 500)]


def test_after_the_snapshot_scores_and_board_updates_follow_in_seq_order(game):
    players = UserFactory.create_batch(3)

    async def scenario():
        client = await connect()
        await subscribe(client, f"leaderboard.{game.pk}")
        snapshot = await frames(client)
        for value, player in enumerate(players, start=1):
            await submit(user=player, game=game, value=value * 10)
        later = []

        def settled():  # every score seen, and the last event an update showing all three
            last = later[-1] if later else {}
            scores = sum(e["type"] == "score.submitted" for e in later)
            return scores == 3 and last.get("type") == "leaderboard.updated" and last["data"]["size"] == 3

        while not settled():
            later += await events(client, 1)
        await client.disconnect()
        return snapshot, later

    snapshot, later = run(scenario)

    scores = [e for e in later if e["type"] == "score.submitted"]
    assert [e["data"]["score"] for e in scores] == [10, 20, 30]
    assert [e["seq"] for e in later] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(later)))
    update = later[-1]
    assert [e["value"] for e in update["data"]["top"]] == [30, 20, 10]
    assert update["data"]["size"] == 3


def test_a_burst_of_scores_sends_few_board_updates_showing_the_latest_state(game, settings):
    settings.REALTIME_BOARD_INTERVAL = 0.5
    players = UserFactory.create_batch(20)

    async def scenario():
        client = await connect()
        await subscribe(client, f"leaderboard.{game.pk}")
        await frames(client)  # snapshot
        for value, player in enumerate(players, start=1):
            await submit(user=player, game=game, value=value)
        await asyncio.sleep(1.5)
        received = []
        while not await client.receive_nothing(timeout=0.1):
            received += await events(client, 1)
        await client.disconnect()
        return received

    received = run(scenario)
    updates = [e for e in received if e["type"] == "leaderboard.updated"]

    assert len([e for e in received if e["type"] == "score.submitted"]) == 20
    assert 1 <= len(updates) <= 4
    assert updates[-1]["data"]["top"][0]["value"] == 20
    assert updates[-1]["data"]["size"] == 20


def test_a_board_update_names_each_moved_player_by_display_name_and_username(game):
    leader = UserFactory(display_name="Ada Lovelace")
    score_submit(user=leader, game=game, value=100)
    nameless = UserFactory(display_name="")

    async def scenario():
        client = await connect()
        await subscribe(client, f"leaderboard.{game.pk}")
        await frames(client)  # snapshot
        await submit(user=nameless, game=game, value=50)
        await submit(user=leader, game=game, value=200)
        moved = {}
        while len(moved) < 2:
            update = await until(client, "leaderboard.updated")
            moved |= {entry["user_id"]: entry for entry in update["data"]["moved"]}
        await client.disconnect()
        return update, moved

    update, moved = run(scenario)

    assert {(e["username"], e["display_name"]) for e in moved.values()} == {
        (leader.username, "Ada Lovelace"),
        (nameless.username, ""),
    }
    assert update["data"]["top"][0]["display_name"] == "Ada Lovelace"


def test_the_score_feed_numbers_events_without_gaps(game):
    player = UserFactory()

    async def scenario():
        client = await connect()
        await subscribe(client, "score")
        for value in (1, 2, 3, 4):
            await submit(user=player, game=game, value=value)
        received = await events(client, 4)
        await client.disconnect()
        return received

    received = run(scenario)

    assert [(e["type"], e["channel"]) for e in received] == [("score.submitted", "score")] * 4
    assert [e["seq"] for e in received] == [1, 2, 3, 4]
    assert received[0]["data"]["username"] == player.username
    assert received[0]["data"]["display_name"] == player.display_name
    assert received[0]["data"]["game_id"] == str(game.pk)
    assert received[0]["ts"].endswith("Z")


def test_a_rolled_back_write_publishes_nothing(game):
    player = UserFactory()

    def write_then_fail():
        with pytest.raises(RuntimeError), transaction.atomic():
            score_submit(user=player, game=game, value=1)
            raise RuntimeError("the caller's transaction fails")
        score_submit(user=player, game=game, value=2)

    async def scenario():
        client = await connect()
        await subscribe(client, "score")
        await database_sync_to_async(write_then_fail)()
        received = await events(client, 1)
        await client.disconnect()
        return received

    (event,) = run(scenario)

    assert event["data"]["score"] == 2 and event["seq"] == 1


def test_an_overtaken_player_hears_by_whom(game):
    watcher, rival = UserFactory(), UserFactory()
    score_submit(user=watcher, game=game, value=100)
    token = user_tokens(user=watcher)["access"]

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{watcher.pk}")
        await submit(user=rival, game=game, value=50)  # below: the watcher's rank stays 1
        await asyncio.sleep(0.3)
        await submit(user=rival, game=game, value=200)
        changed = await until(client, "rank.changed")
        await client.disconnect()
        return changed

    changed = run(scenario)

    assert changed["channel"] == f"user.{watcher.pk}"
    assert changed["data"]["board"] == f"leaderboard.{game.pk}" or changed["data"]["board"] == "leaderboard"
    assert changed["data"]["reason"] == "overtaken"
    assert (changed["data"]["previous_rank"], changed["data"]["rank"]) == (1, 2)
    assert changed["data"]["by"][0]["user_id"] == str(rival.pk)
    assert (changed["data"]["by"][0]["username"], changed["data"]["by"][0]["display_name"]) == (
        rival.username,
        rival.display_name,
    )


def test_a_personal_best_is_announced_to_the_player(game):
    player = UserFactory()
    token = user_tokens(user=player)["access"]

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{player.pk}")
        await submit(user=player, game=game, value=10)
        changed = await until(client, "rank.changed")
        await client.disconnect()
        return changed

    changed = run(scenario)

    assert changed["data"]["reason"] == "personal_best"
    assert changed["data"]["rank"] == 1 and changed["data"]["value"] == 10


def test_a_personal_best_that_keeps_the_rank_is_still_announced(game):
    player = UserFactory()
    score_submit(user=player, game=game, value=10)
    token = user_tokens(user=player)["access"]

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{player.pk}")
        await asyncio.sleep(0.3)
        await submit(user=player, game=game, value=30)
        changed = await until(client, "rank.changed")
        await client.disconnect()
        return changed

    changed = run(scenario)

    assert changed["data"]["reason"] == "personal_best"
    assert (changed["data"]["previous_rank"], changed["data"]["rank"]) == (1, 1)
    assert (changed["data"]["previous_value"], changed["data"]["value"]) == (10, 30)


def test_games_created_and_updated_are_announced(staff):
    async def scenario():
        client = await connect()
        await subscribe(client, "game")
        await database_sync_to_async(game_create)(name="Kart", slug="kart")
        received = await events(client, 1)
        await client.disconnect()
        return received

    (event,) = run(scenario)

    assert event["type"] == "game.created"
    assert event["data"]["slug"] == "kart"


@pytest.mark.parametrize(
    "data", [{1: "a key that is no string"}, {"moment": timezone.now()}, {"value": 2**64}, {"value": Decimal("1.5")}]
)
def test_a_payload_that_is_not_json_is_refused_where_it_is_published(data):
    with pytest.raises(TypeError), transaction.atomic():
        publish("score", "score.submitted", data)


def test_a_number_json_cannot_hold_is_published_as_null(monkeypatch):
    sent = []
    monkeypatch.setattr(bus, "_send", sent.extend)
    with transaction.atomic():
        publish("score", "score.submitted", {"ratio": float("nan"), "most": float("inf"), "score": 3})

    assert [json.loads(message) for _, _, message in sent] == [{"ratio": None, "most": None, "score": 3}]


def test_a_tie_break_game_s_board_and_rank_events_carry_both_scores(db):
    race = game_create(name="Race", min_score=0, max_score=10, tiebreak_order="asc", tiebreak_max=99_999)
    rival, player = UserFactory(), UserFactory()
    score_submit(user=rival, game=race, value=5, tiebreak=40_000)
    score_submit(user=player, game=race, value=5, tiebreak=45_000)
    token = user_tokens(user=player)["access"]

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{player.pk}")
        await subscribe(client, f"leaderboard.{race.pk}")
        await asyncio.sleep(0.3)
        await submit(user=player, game=race, value=5, tiebreak=39_000)  # faster on an equal score: a record
        seen: dict[str, dict] = {}
        while not {"rank.changed", "leaderboard.updated"} <= set(seen):
            seen.update((event["type"], event) for event in await events(client, 1))
        await client.disconnect()
        return seen["rank.changed"], seen["leaderboard.updated"]

    changed, updated = run(scenario)

    assert changed["data"]["reason"] == "personal_best"
    assert (changed["data"]["previous_rank"], changed["data"]["rank"]) == (2, 1)
    assert (changed["data"]["value"], changed["data"]["tiebreak"]) == (5, 39_000)
    assert (changed["data"]["previous_value"], changed["data"]["previous_tiebreak"]) == (5, 45_000)
    top = updated["data"]["top"]
    assert [(e["user_id"], e["rank"], e["value"], e["tiebreak"]) for e in top] == [
        (str(player.pk), 1, 5, 39_000),
        (str(rival.pk), 2, 5, 40_000),
    ]
