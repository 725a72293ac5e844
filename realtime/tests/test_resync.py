"""Boards changed wholesale (demo data created or reset): every client re-reads what it shows."""

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.tests.factories import UserFactory
from events.bus import publish_resync
from games.tests.factories import GameFactory
from rankings.boards import game_board_at
from rankings.models import Standing
from rankings.periods import Period
from rankings.services import board_rebuild
from scores.services import score_submit

from .conftest import connect, frames, run, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_resync_tells_every_client_to_subscribe_again_and_the_new_snapshot_shows_the_boards_as_they_are():
    game = GameFactory(sort_order="desc")
    leaving = UserFactory()
    score_submit(user=leaving, game=game, value=900)
    channel = f"leaderboard.{game.pk}"

    def remove_without_announcing():
        Standing.objects.filter(user=leaving).delete()
        board_rebuild(board=game_board_at(game, Period.ALL, timezone.now()))

    async def scenario():
        client = await connect()
        await subscribe(client, channel, "score")
        before = await frames(client)
        # A wholesale change announces no moved player: only the resync tells the server its board is stale.
        await database_sync_to_async(remove_without_announcing)()
        await database_sync_to_async(publish_resync)()
        dropped = await frames(client)
        await client.send_json_to({"type": "unsubscribe", "channels": dropped["channels"]})
        await frames(client)
        await subscribe(client, *dropped["channels"])
        after = await frames(client)
        await client.disconnect()
        return before, dropped, after

    before, dropped, after = run(scenario)

    assert [entry["user_id"] for entry in before["data"]["top"]] == [str(leaving.pk)]
    assert dropped == {"type": "dropped", "count": None, "channels": sorted([channel, "score"])}
    assert after["type"] == "leaderboard.snapshot"
    assert after["data"]["top"] == [] and after["data"]["size"] == 0


def test_creating_the_demo_data_tells_open_pages_to_resync():
    from simulator.services.populate import demo_populate

    async def scenario():
        client = await connect()
        await subscribe(client, "leaderboard")
        empty = await frames(client)
        await database_sync_to_async(demo_populate)(players=12, games=1, days=2)
        dropped = await frames(client, timeout=60)
        while dropped["type"] != "dropped":  # the import's own board updates may come first
            dropped = await frames(client)
        await client.disconnect()
        return empty, dropped

    empty, dropped = run(scenario)

    assert empty["data"]["size"] == 0
    assert dropped == {"type": "dropped", "count": None, "channels": ["leaderboard"]}
