"""Tournament events: the lifecycle on ``tournament`` and ``tournament.{id}``, coalesced standings, prizes."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.services import score_submit
from tournaments import services

from .conftest import connect, events, frames, run, subscribe, until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(tasks_in_process):
    """Tasks (the payouts) run in the test's process."""


@pytest.fixture
def game(db):
    return GameFactory(slug="arena", sort_order="desc", score_operator="best")


def running_cup(game, **fields):
    now = timezone.now()
    cup = services.tournament_create(
        organizer=UserFactory(is_staff=True),  # staff: the house funds the pool
        game=game,
        name="Live Cup",
        start_time=now - timedelta(seconds=1),
        end_time=now + timedelta(hours=1),
        **fields,
    )
    return services.tournament_start(tournament=cup)


def test_the_feed_carries_every_step_of_a_tournament(game):
    players = UserFactory.create_batch(2)

    def lifecycle():
        cup = running_cup(game, prize_pool=100)
        for value, player in enumerate(players, start=1):
            services.tournament_join(tournament=cup, user=player)
            score_submit(user=player, game=game, value=value)
        services.tournament_finish(tournament=cup, now_=True)  # the payout follows after commit
        return cup

    async def scenario():
        client = await connect()
        await subscribe(client, "tournament")
        cup = await database_sync_to_async(lifecycle)()
        seen = []
        while not any(e["type"] == "tournament.paid" for e in seen):  # coalesced standings may still follow
            seen.extend(await events(client, 1))
        await client.disconnect()
        return cup, seen

    cup, seen = run(scenario)

    lifecycle_events = [e["type"] for e in seen if e["type"] != "tournament.standings"]
    assert lifecycle_events == [
        "tournament.created",
        "tournament.started",
        "tournament.joined",
        "tournament.joined",
        "tournament.finished",
        "tournament.paid",
    ]
    assert all(e["channel"] == "tournament" and e["data"]["tournament_id"] == cup.pk for e in seen)
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    joined = [e["data"] for e in seen if e["type"] == "tournament.joined"]
    assert [(j["username"], j["display_name"]) for j in joined] == [(p.username, p.display_name) for p in players]
    finished = next(e for e in seen if e["type"] == "tournament.finished")
    assert [(r["rank"], r["value"], r["prize"]) for r in finished["data"]["results"]] == [(1, 2, 50), (2, 1, 30)]
    paid = next(e for e in seen if e["type"] == "tournament.paid")["data"]["awards"]
    assert [(a["user_id"], a["prize"]) for a in paid] == [(str(players[1].pk), 50), (str(players[0].pk), 30)]


def test_a_tournament_channel_starts_with_its_standings_then_coalesces_updates(game):
    players = UserFactory.create_batch(3)
    cup = running_cup(game)
    for player in players:
        services.tournament_join(tournament=cup, user=player)
    score_submit(user=players[0], game=game, value=5)

    async def scenario():
        client = await connect()
        await subscribe(client, f"tournament.{cup.pk}")
        snapshot = await frames(client)
        for round_ in range(1, 4):
            for value, player in enumerate(players, start=1):
                await database_sync_to_async(score_submit)(user=player, game=game, value=round_ * 100 + value)
        latest = await until(client, "tournament.standings")
        updates = [latest]
        while latest["data"]["top"][0]["value"] != 303:
            latest = await until(client, "tournament.standings")
            updates.append(latest)
        await database_sync_to_async(services.tournament_finish)(tournament=cup, now_=True)
        finished = await until(client, "tournament.finished")
        await client.disconnect()
        return snapshot, updates, finished

    snapshot, updates, finished = run(scenario)

    assert snapshot["type"] == "tournament.snapshot" and snapshot["channel"] == f"tournament.{cup.pk}"
    assert [(e["rank"], e["value"]) for e in snapshot["data"]["top"]] == [(1, 5)]
    assert snapshot["data"]["tournament_id"] == cup.pk
    final = updates[-1]["data"]
    assert [(e["rank"], e["username"], e["value"]) for e in final["top"]] == [
        (1, players[2].username, 303),
        (2, players[1].username, 302),
        (3, players[0].username, 301),
    ]
    assert len(updates) < 9  # nine scores, coalesced into fewer updates
    assert finished["channel"] == f"tournament.{cup.pk}" and finished["data"]["players"] == 3
    assert finished["seq"] > updates[-1]["seq"]


def test_prize_winners_hear_on_their_own_channel(game):
    winner, other = UserFactory.create_batch(2)
    cup = running_cup(game, prize_pool=10, prize_split=[100])
    for value, player in ((9, winner), (1, other)):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=value)

    token = user_tokens(user=winner)["access"]

    async def scenario():
        client = await connect(token)
        await subscribe(client, f"user.{winner.pk}")
        await database_sync_to_async(services.tournament_finish)(tournament=cup, now_=True)
        prize = await until(client, "tournament.prize")
        await client.disconnect()
        return prize

    prize = run(scenario)

    assert prize["channel"] == f"user.{winner.pk}"
    assert prize["data"] == {"tournament_id": cup.pk, "name": "Live Cup", "rank": 1, "amount": 10}


def test_an_unknown_tournament_channel_is_refused(game):
    async def scenario():
        client = await connect()
        reply = await subscribe(client, "tournament.999999")
        await client.disconnect()
        return reply

    reply = run(scenario)

    assert reply["type"] == "error" and reply["code"] == "unknown_channel"


def test_events_from_a_background_thread_reach_clients_on_the_in_memory_layer(game):
    """The embedded clock runs in a plain thread of the server: its events must still reach the server's clients."""
    import threading

    from django.db import connection

    cup = services.tournament_create(
        organizer=UserFactory(is_staff=True),  # staff: the house funds the pool
        game=game,
        name="Clock Cup",
        start_time=timezone.now() - timedelta(seconds=1),
        end_time=timezone.now() + timedelta(hours=1),
    )

    def clock():
        try:
            services.tournaments_tick()
        finally:
            connection.close()

    async def scenario():
        client = await connect()
        await subscribe(client, "tournament")
        thread = threading.Thread(target=clock)
        thread.start()
        started = await until(client, "tournament.started")
        thread.join()
        await client.disconnect()
        return started

    started = run(scenario)

    assert started["data"]["tournament_id"] == cup.pk and started["data"]["status"] == "running"
