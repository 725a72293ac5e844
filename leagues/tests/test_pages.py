"""The league page in Chromium: the player's cohort board follows its tournament's channel."""

import pytest

from accounts.tests.factories import UserFactory
from leaderboard_project.tests.browser import sign_in
from scores.services import score_submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_players_cohort_board_moves_live(page, site, make_league, game):
    make_league(cohort_size=5, promote=1, relegate=1)
    me, rival = UserFactory(username="me", display_name="Me"), UserFactory(username="rival", display_name="Rival")
    score_submit(user=me, game=game, value=50)
    score_submit(user=rival, game=game, value=40)
    sign_in(page, site, me)
    page.goto(site("/leagues/arena-league/"))
    page.wait_for_selector("html[data-live='live']")
    rows = page.locator("[data-region='cohort'] tbody tr")
    assert rows.first.get_attribute("class") == "me"

    score_submit(user=rival, game=game, value=90)

    page.wait_for_function(
        "() => document.querySelector(\"[data-region='cohort'] tbody tr\").innerText.includes('Rival')"
    )
    assert "90" in rows.first.inner_text()
    assert "up" in rows.first.inner_text()  # the top 1 goes up
    assert "down" not in rows.nth(1).inner_text()  # nobody falls below the lowest tier
