"""The staff-only ``moderation`` channel: scores flagged for review, and their resolutions, as they happen."""

import pytest
from channels.db import database_sync_to_async

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from scores.models import ScoreFlag
from scores.services import flag_resolve, review_scan, score_submit

from .conftest import connect, run, subscribe, until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _review(settings):
    settings.MODERATION_SCAN_SETTLE_SECONDS = 0
    settings.MODERATION_MIN_SECONDS = 2.0


def test_only_staff_subscribe_to_the_review_queue():
    player = UserFactory()
    staff = UserFactory(is_staff=True)
    tokens = (None, user_tokens(user=player)["access"], user_tokens(user=staff)["access"])

    async def scenario():
        replies = []
        for token in tokens:
            client = await connect(token)
            replies.append(await subscribe(client, "moderation"))
            await client.disconnect()
        return replies

    anonymous, as_player, as_staff = run(scenario)

    assert anonymous["code"] == as_player["code"] == "forbidden_channel"
    assert as_staff == {"type": "subscribed", "channels": ["moderation"]}


def test_staff_see_flags_arrive_and_leave_the_queue():
    game = GameFactory(slug="arena")
    player, staff = UserFactory(username="quick"), UserFactory(is_staff=True)
    token = user_tokens(user=staff)["access"]

    def flag_a_score():
        score_submit(user=player, game=game, value=10)
        score_submit(user=player, game=game, value=11)
        return review_scan()

    async def scenario():
        client = await connect(token)
        await subscribe(client, "moderation")
        flags = await database_sync_to_async(flag_a_score)()
        flagged = await until(client, "score.flagged")
        await database_sync_to_async(flag_resolve)(flag=flags[0], actor=staff, action="dismiss", reason="Fine.")
        resolved = await until(client, "flag.resolved")
        await client.disconnect()
        return flagged, resolved

    flagged, resolved = run(scenario)

    flag = ScoreFlag.objects.get()
    assert flagged["channel"] == "moderation"
    assert flagged["data"]["id"] == flag.pk and flagged["data"]["username"] == "quick"
    assert flagged["data"]["score"] == 11 and flagged["data"]["reasons"] == ["too_fast"]
    assert resolved["data"]["flag_ids"] == [flag.pk]
    assert resolved["data"]["status"] == "dismissed" and resolved["data"]["resolved_by"] == staff.username
