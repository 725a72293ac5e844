"""The review queue's page: staff only, filters, resolving with a reason, and new flags arriving live."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leaderboard_project.tests.browser import sign_in
from scores.models import ScoreFlag
from scores.services import review_scan, score_submit

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "/moderation/"


@pytest.fixture(autouse=True)
def _review(settings, ranking_index):
    settings.MODERATION_SCAN_SETTLE_SECONDS = 0
    settings.MODERATION_MIN_SECONDS = 2.0


@pytest.fixture
def arena():
    return GameFactory(slug="arena", name="Arena")


def too_fast(player, game, values=(10, 11)):
    """The player's scores in a row, the second too soon: one flag."""
    for value in values:
        score_submit(user=player, game=game, value=value)
    return review_scan()


def test_only_staff_open_the_review_queue(client):
    anonymous = client.get(PAGE)
    client.force_login(UserFactory())
    player = client.get(PAGE)

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next=")
    assert player.status_code == 403


def test_the_queue_lists_open_flags_with_their_reasons_in_words(client, arena):
    too_fast(UserFactory(username="speedy", display_name="Speedy"), arena)
    client.force_login(UserFactory(is_staff=True))

    response = client.get(PAGE)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    html = response.content.decode()
    assert "Speedy" in html and "Arena" in html and "<span data-open-count>1</span> open flag</p>" in html
    assert re.search(r"<strong>Too fast</strong>: [0-9.]+ s after the previous score \(limit 2.0 s\)", html)
    assert 'name="podium-ws-token"' in html
    dismissed = client.get(PAGE + "?status=dismissed").content.decode()
    assert "Speedy" not in dismissed and "No flags here." in dismissed
    other_game = GameFactory(slug="other")
    assert "Speedy" not in client.get(PAGE + f"?game={other_game.slug}").content.decode()
    assert "Speedy" not in client.get(PAGE + "?reason=outlier").content.decode()


def test_resolving_from_the_page_needs_a_reason_and_is_kept(client, arena):
    flag = too_fast(UserFactory(), arena)[0]
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    refused = client.post(PAGE, {"flag": flag.pk, "action": "void", "reason": ""}, follow=True)
    flag.refresh_from_db()
    assert flag.status == "open" and "Give a reason" in refused.content.decode()

    done = client.post(PAGE, {"flag": flag.pk, "action": "void", "reason": "Bot-like pace."}, follow=True)

    flag.refresh_from_db()
    assert (flag.status, flag.resolved_by, flag.note) == ("voided", staff, "Bot-like pace.")
    assert flag.score.voided_at is not None
    assert f"Flag #{flag.pk}: score voided." in done.content.decode()
    again = client.post(PAGE, {"flag": flag.pk, "action": "dismiss", "reason": "Again."}, follow=True)
    assert "resolved already" in again.content.decode()


def test_a_new_flag_and_a_resolution_reach_the_open_page_live(page, site, arena):
    staff = UserFactory(is_staff=True)
    sign_in(page, site, staff)
    first = too_fast(UserFactory(username="first"), arena)[0]
    page.goto(site(PAGE))
    page.wait_for_selector("html[data-live='live']")
    assert page.locator("tr[data-flag-id]").count() == 1

    too_fast(UserFactory(username="second"), arena)
    page.wait_for_selector("tr[data-flag-id] >> text=second")
    page.locator(f"tr[data-flag-id='{first.pk}'] input[name='reason']").fill("Honest: a quick restart.")
    page.locator(f"tr[data-flag-id='{first.pk}'] button[value='dismiss']").click()
    page.wait_for_selector(f"text=Flag #{first.pk}: dismissed")

    assert ScoreFlag.objects.get(pk=first.pk).status == "dismissed"
    assert page.locator("tr[data-flag-id]").count() == 1
    assert page.locator("[data-open-count]").inner_text() == "1"
