"""The /ws/main protocol: subscriptions, errors that keep the connection open, limits, and auth."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from accounts.tests.test_jwt import FORGERIES

from .conftest import connect, frames, run, subscribe, until

pytestmark = pytest.mark.django_db(transaction=True)


def test_subscribing_to_public_channels_confirms_them():
    async def scenario():
        client = await connect()
        reply = await subscribe(client, "leaderboard", "tournament", "game", "score")
        await client.disconnect()
        return reply

    assert run(scenario) == {"type": "subscribed", "channels": ["leaderboard", "tournament", "game", "score"]}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "subscribe", "channels": ["nope"]}', "unknown_channel"),
        ('{"type": "subscribe", "channels": ["leaderboard.not-a-game"]}', "unknown_channel"),
        ('{"type": "subscribe", "channels": ["leaderboard.6f1c1f0e-8d3a-4f55-9d1e-3f8f7c2b9a10"]}', "unknown_channel"),
        ("{not json", "invalid_json"),
        ("[" * 4000, "invalid_json"),  # nested past the JSON parser's depth: refused, not a RecursionError
        ("[1, 2]", "invalid_message"),
        ('{"type": "subscribe", "channels": "score"}', "invalid_message"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "ping", "pad": "' + "x" * 4100 + '"}', "frame_too_large"),
        (b'{"type": "ping", "pad": "' + b"x" * 4100 + b'"}', "frame_too_large"),
    ],
)
def test_a_bad_frame_gets_an_error_and_the_connection_stays_open(frame, code):
    async def scenario():
        client = await connect()
        await client.send_to(**{"bytes_data" if isinstance(frame, bytes) else "text_data": frame})
        error = await frames(client)
        await client.send_json_to({"type": "ping"})
        pong = await frames(client)
        await client.disconnect()
        return error, pong

    error, pong = run(scenario)

    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert pong == {"type": "pong"}


def test_more_than_fifty_subscriptions_are_refused():
    from tournaments.tests.factories import TournamentFactory

    ids = [tournament.pk for tournament in TournamentFactory.create_batch(51)]

    async def scenario():
        client = await connect()
        first = await subscribe(client, *[f"tournament.{i}" for i in ids[:50]])
        await client.send_json_to({"type": "subscribe", "channels": [f"tournament.{ids[50]}"]})
        refused = await until(client, "error")  # after the 50 standings snapshots
        await client.disconnect()
        return first, refused

    first, refused = run(scenario)

    assert len(first["channels"]) == 50
    assert refused["code"] == "too_many_subscriptions"


def test_a_client_sending_too_many_frames_is_closed_with_4429(settings):
    settings.REALTIME_CLIENT_FRAMES_PER_SECOND = 1
    settings.REALTIME_CLIENT_FRAME_BURST = 3

    async def scenario():
        client = await connect()
        for _ in range(4):
            await client.send_json_to({"type": "ping"})
        received = []
        while True:
            output = await client.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                return received, output["code"]
            received.append(output)

    answered, code = run(scenario)

    assert len(answered) == 3
    assert code == 4429


def test_a_players_own_channel_needs_their_token():
    player, other = UserFactory(), UserFactory()
    token = user_tokens(user=player)["access"]

    async def scenario():
        anonymous = await connect()
        refused = await subscribe(anonymous, f"user.{player.pk}")
        signed_in = await connect(token)
        theirs = await subscribe(signed_in, f"user.{other.pk}")
        own = await subscribe(signed_in, f"user.{player.pk}")
        await anonymous.disconnect()
        await signed_in.disconnect()
        return refused, theirs, own

    refused, theirs, own = run(scenario)

    assert refused["code"] == "forbidden_channel"
    assert theirs["code"] == "forbidden_channel"
    assert own == {"type": "subscribed", "channels": [f"user.{player.pk}"]}


def test_an_invalid_token_closes_the_connection_with_4401():
    async def scenario():
        client = await connect("not-a-jwt")
        return await client.receive_output(timeout=5)

    assert run(scenario) == {"type": "websocket.close", "code": 4401, "reason": "invalid token"}


def test_the_token_of_a_deactivated_player_is_refused():
    player = UserFactory()
    token = user_tokens(user=player)["access"]

    async def scenario():
        await database_sync_to_async(type(player).objects.filter(pk=player.pk).update)(is_active=False)
        client = await connect(token)
        return await client.receive_output(timeout=5)

    assert run(scenario)["code"] == 4401


def test_unsubscribing_stops_a_channel():
    async def scenario():
        client = await connect()
        await subscribe(client, "score", "game")
        await client.send_json_to({"type": "unsubscribe", "channels": ["score", "leaderboard"]})
        reply = await frames(client)
        await client.disconnect()
        return reply

    assert run(scenario) == {"type": "unsubscribed", "channels": ["score"]}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_or_foreign_token_closes_the_connection_with_4401(forgery):
    token = FORGERIES[forgery](UserFactory())

    async def scenario():
        client = await connect(token)
        return await client.receive_output(timeout=5)

    assert run(scenario) == {"type": "websocket.close", "code": 4401, "reason": "invalid token"}


def test_the_token_of_a_deleted_player_is_refused():
    player = UserFactory()
    token = user_tokens(user=player)["access"]
    player.delete()

    async def scenario():
        client = await connect(token)
        return await client.receive_output(timeout=5)

    assert run(scenario)["code"] == 4401
