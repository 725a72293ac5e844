"""The player page and registration: server-rendered HTML with the test client, and live behaviour in Chromium."""

from __future__ import annotations

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import CreditEntry, User
from accounts.selectors import credit_prize_count, user_get_by_username
from accounts.tests.factories import DEFAULT_PASSWORD, CreditEntryFactory, UserFactory
from dashboard import pages
from games.tests.factories import GameFactory
from leaderboard_project.tests.browser import sign_in
from scores.services import score_submit, score_void
from tournaments import services as tournaments
from tournaments.models import Tournament
from tournaments.selectors import player_prizes

# Transactional: the ranking index is written after commit, and the browser tests need it anyway.
pytestmark = pytest.mark.django_db(transaction=True)

REGISTER = "/accounts/register/"


@pytest.fixture(autouse=True)
def _index(ranking_index):
    """Boards are read from the configured engine: the SQL table embedded, Redis in the production pass."""
    return ranking_index


@pytest.fixture
def blaster():
    return GameFactory(name="Galaxy Blaster", slug="galaxy-blaster", sort_order="desc", score_operator="best")


@pytest.fixture
def laps():
    return GameFactory(name="Lap Rush", slug="lap-rush", sort_order="asc", score_operator="best")


@pytest.fixture
def ada():
    return UserFactory(username="ada", display_name="Ada Lovelace", country="GB")


def play(user, game, *values):
    return [score_submit(user=user, game=game, value=value).score for value in values]


def paid_cup(game, winner, runner_up, *, name="Weekend Cup", pool=1000):
    """A tournament run to the end through the services, its prizes paid."""
    now = timezone.now()
    cup = tournaments.tournament_create(
        organizer=UserFactory(is_staff=True),  # staff: the house funds the pool
        game=game,
        name=name,
        prize_pool=pool,
        start_time=now - timedelta(seconds=1),
        end_time=now + timedelta(hours=1),
    )
    cup = tournaments.tournament_start(tournament=cup)
    for player, value in ((winner, 900), (runner_up, 800)):
        tournaments.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=game, value=value)
    cup = tournaments.tournament_finish(tournament=cup, now_=True)
    tournaments.tournament_pay(tournament=cup)
    return cup


def in_thread(fn, *args, **kwargs):
    """Run a write that publishes events away from the thread of Playwright's event loop (where the event
    bus cannot block on its channel layer), and return its result."""
    from django.db import connections

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def html(response) -> str:
    return response.content.decode()


# The player page


def test_player_page_shows_who_the_player_is(client, ada):
    response = client.get(f"/players/{ada.username}/")

    assert response.status_code == 200
    body = html(response)
    assert "Ada Lovelace" in body
    assert "@ada" in body
    assert "United Kingdom" in body
    assert f'Member since <time datetime="{ada.created_at.isoformat()}">' in body


def test_player_page_lists_each_games_best_and_rank_linked_to_the_game(client, ada, blaster, laps):
    rival = UserFactory()
    play(ada, blaster, 1200, 1500, 1300)
    play(rival, blaster, 2000)
    play(ada, laps, 61_000, 59_500)

    response = client.get(f"/players/{ada.username}/")

    standings = {game.slug: standing for game, standing in response.context["standings"]}
    assert (standings["galaxy-blaster"].entry.value, standings["galaxy-blaster"].entry.rank) == (1500, 2)
    assert (standings["lap-rush"].entry.value, standings["lap-rush"].entry.rank) == (59_500, 1)
    body = html(response)
    assert '<a href="/games/galaxy-blaster/">Galaxy Blaster</a>' in body
    assert '<a href="/games/lap-rush/">Lap Rush</a>' in body
    assert "1,500 <span" in body and "#2 <span" in body and "of 2</span>" in body
    assert "59,500 <span" in body


def test_player_page_shows_the_global_rank(client, ada, blaster):
    play(UserFactory(), blaster, 5000)
    play(ada, blaster, 1500)

    body = html(client.get(f"/players/{ada.username}/"))

    assert "#2</span>" in body
    assert "global rank of 2 · 1,500 points" in body


def test_player_page_shows_the_credit_balance_and_prizes_linked_to_their_tournament(client, ada, blaster):
    cup = paid_cup(blaster, ada, UserFactory(), pool=1000)
    CreditEntryFactory(user=ada, amount=-100, kind=CreditEntry.Kind.ADJUSTMENT, reference="adjustment:1")

    response = client.get(f"/players/{ada.username}/")

    body = html(response)
    assert response.context["credits"] == 400
    assert '<span class="value" data-credits>400</span>' in body
    assert f'Place 1 in <a href="/tournaments/{cup.pk}/">Weekend Cup</a>' in body
    assert "+500" in body


def test_a_prize_whose_tournament_is_gone_is_listed_without_a_link(client, ada):
    CreditEntryFactory(
        user=ada, amount=300, reference="tournament:987654:prize", description="Prize for place 2 in Old Cup"
    )

    body = html(client.get(f"/players/{ada.username}/"))

    assert "Prize for place 2 in Old Cup" in body
    assert "/tournaments/987654/" not in body


def test_player_page_lists_the_latest_scores_newest_first(client, ada, blaster, laps):
    first, second = play(ada, blaster, 1200, 1500)
    (third,) = play(ada, laps, 61_000)

    body = html(client.get(f"/players/{ada.username}/"))

    rows = [body.index(f'data-score-id="{score.pk}"') for score in (third, second, first)]
    assert rows == sorted(rows)
    assert "61,000" in body and "1,500" in body and "1,200" in body
    assert body.count('<span class="badge finished">best</span>') == 3


def test_player_page_lists_at_most_twenty_scores_but_charts_more(client, ada, blaster):
    play(ada, blaster, *range(100, 125))

    response = client.get(f"/players/{ada.username}/")

    assert len(response.context["recent"]) == pages.RECENT_ROWS == 20
    assert len(response.context["chart"]["scores"]) == 25


def test_the_chart_data_is_the_latest_scores_oldest_first_up_to_the_limit(client, ada, blaster, monkeypatch):
    monkeypatch.setattr(pages, "HISTORY_LIMIT", 3)
    play(ada, blaster, 10, 20, 30, 40, 50)

    response = client.get(f"/players/{ada.username}/")

    data = json.loads(re.search(r'<script id="player-data" type="application/json">(.*?)</script>', html(response))[1])
    assert [score["value"] for score in data["scores"]] == [30, 40, 50]
    assert data["player"] == {"id": str(ada.pk), "username": "ada"}
    assert data["games"] == [
        {
            "id": str(blaster.pk),
            "name": "Galaxy Blaster",
            "slug": "galaxy-blaster",
            "sort_order": "desc",
            "score_operator": "best",
        }
    ]


def test_the_number_of_queries_does_not_grow_with_the_scores_shown(client, ada, blaster):
    play(ada, blaster, 10, 20)
    client.get(f"/players/{ada.username}/")  # fills the per-process cache of player names
    with CaptureQueriesContext(connection) as few:
        client.get(f"/players/{ada.username}/")
    play(ada, blaster, *range(30, 60))
    with CaptureQueriesContext(connection) as many:
        client.get(f"/players/{ada.username}/")

    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_void_score_is_listed_as_void_and_not_charted(client, ada, blaster, staff):
    kept, cheated = play(ada, blaster, 1000, 999_999)
    score_void(score=cheated, actor=staff, reason="impossible")

    response = client.get(f"/players/{ada.username}/")

    assert [score["id"] for score in response.context["chart"]["scores"]] == [kept.pk]
    assert f'<tr data-score-id="{cheated.pk}" class="void">' in html(response)


def test_a_player_without_scores_gets_an_empty_page_not_an_error(client, ada):
    body = html(client.get(f"/players/{ada.username}/"))

    assert "No scores yet." in body
    assert "Not on any board yet." in body
    assert "No prizes yet." in body
    assert '<span class="value" data-global-rank>—</span>' in body


def test_an_unknown_player_is_404(client):
    assert client.get("/players/nobody/").status_code == 404


def test_an_inactive_player_is_404(client):
    gone = UserFactory(is_active=False)

    assert client.get(f"/players/{gone.username}/").status_code == 404


def test_a_username_in_another_case_redirects_to_the_players_page(client, ada):
    response = client.get("/players/ADA/")

    assert response.status_code == 301
    assert response["Location"] == "/players/ada/"


def test_the_page_marks_the_signed_in_players_own_page(client, ada):
    client.force_login(ada)

    assert '<span class="badge">you</span>' in html(client.get("/players/ada/"))
    assert '<span class="badge">you</span>' not in html(client.get(f"/players/{UserFactory().username}/"))


# Reads behind the page


def test_player_prizes_names_the_tournament_and_place_of_each_paid_prize(ada, blaster):
    runner_up = UserFactory()
    cup = paid_cup(blaster, ada, runner_up, name="Spring Cup")

    (prize,) = player_prizes(user_id=runner_up.pk)

    assert (prize.amount, prize.tournament_id, prize.tournament_name, prize.rank) == (300, cup.pk, "Spring Cup", 2)
    assert credit_prize_count(user_id=runner_up.pk) == 1


def test_player_prizes_leaves_out_adjustments_and_forgets_deleted_tournaments(ada):
    CreditEntryFactory(user=ada, amount=50, kind=CreditEntry.Kind.ADJUSTMENT, reference="adjustment:x")
    CreditEntryFactory(user=ada, amount=70, reference=f"tournament:{Tournament.objects.count() + 999}:prize")

    prizes = player_prizes(user_id=ada.pk)

    assert [(p.amount, p.tournament_id, p.tournament_name, p.rank) for p in prizes] == [(70, None, None, None)]


def test_user_get_by_username_ignores_case_and_skips_inactive_users(ada):
    UserFactory(username="ghost", is_active=False)

    assert user_get_by_username(username="ADA") == ada
    assert user_get_by_username(username="ghost") is None


# Registration


def register_data(**fields):
    data = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": DEFAULT_PASSWORD,
        "password_again": DEFAULT_PASSWORD,
        "display_name": "",
        "country": "",
    }
    return {**data, **fields}


def test_the_register_form_has_its_fields_a_csrf_token_and_a_link_to_sign_in(client):
    body = html(client.get(REGISTER))

    for name in ("username", "email", "password", "password_again", "display_name", "country"):
        assert f'name="{name}"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<a href="/accounts/login/">Sign in</a>' in body


def test_the_sign_in_page_links_to_registration(client):
    assert '<a href="/accounts/register/">Create an account</a>' in html(client.get("/accounts/login/"))


def test_registering_creates_the_account_signs_in_and_opens_the_players_page(client):
    response = client.post(REGISTER, register_data(display_name="New Comer", country="FR"), follow=True)

    user = User.objects.get(username="newcomer")
    assert (user.email, user.display_name, user.country.code) == ("newcomer@example.com", "New Comer", "FR")
    assert user.check_password(DEFAULT_PASSWORD)
    assert response.redirect_chain == [("/players/newcomer/", 302)]
    assert get_user(client) == user
    assert "Welcome to Podium, New Comer!" in html(response)


def test_registering_needs_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(REGISTER, register_data())

    assert response.status_code == 403
    assert not User.objects.filter(username="newcomer").exists()


def test_registering_with_the_csrf_token_of_the_form_works():
    browser = Client(enforce_csrf_checks=True)
    browser.get(REGISTER)

    response = browser.post(REGISTER, {**register_data(), "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})

    assert response.status_code == 302


def test_a_username_taken_in_another_case_is_refused_on_the_form(client):
    UserFactory(username="Newcomer")

    response = client.post(REGISTER, register_data())

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["This username is already taken."]
    assert 'id="id_username_error"' in html(response)
    assert User.objects.filter(username__iexact="newcomer").count() == 1
    assert not get_user(client).is_authenticated


def test_an_email_already_registered_is_refused_on_the_form(client):
    UserFactory(email="newcomer@example.com")

    response = client.post(REGISTER, register_data(email="NEWCOMER@example.com"))

    assert response.context["form"].errors["email"] == ["An account with this email already exists."]


def test_two_different_passwords_are_refused_on_the_form(client):
    response = client.post(REGISTER, register_data(password_again="something-else-entirely"))

    assert response.context["form"].errors["password_again"] == ["The two passwords do not match."]
    assert "The two passwords do not match." in html(response)
    assert not User.objects.filter(username="newcomer").exists()


def test_a_weak_password_is_refused_by_the_same_rules_as_the_api(client):
    response = client.post(REGISTER, register_data(password="12345678", password_again="12345678"))

    errors = response.context["form"].errors["password"]
    assert "This password is too common." in errors
    assert "This password is entirely numeric." in errors
    assert not User.objects.filter(username="newcomer").exists()


def test_a_malformed_username_and_email_are_refused_on_the_form(client):
    response = client.post(REGISTER, register_data(username="no spaces!", email="not-an-email"))

    assert set(response.context["form"].errors) == {"username", "email"}
    assert html(response).count('aria-invalid="true"') == 2


def test_the_form_keeps_what_was_typed_except_the_passwords(client):
    body = html(client.post(REGISTER, register_data(password_again="x", display_name="Keep Me")))

    assert 'value="Keep Me"' in body
    assert DEFAULT_PASSWORD not in body


def test_a_signed_in_player_visiting_registration_goes_to_their_page(client, ada):
    client.force_login(ada)

    response = client.get(REGISTER)

    assert response.status_code == 302
    assert response["Location"] == "/players/ada/"


def test_registration_shares_the_apis_throttle(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "register.ip": "2/min"},
    }
    api_client.post(
        "/api/v1/users/register", {"username": "viaapi", "email": "api@example.com", "password": DEFAULT_PASSWORD}
    )
    Client().post(REGISTER, register_data(username="first", email="first@example.com"))

    response = Client().post(REGISTER, register_data())

    assert response.status_code == 429
    assert "Too many registrations from here." in html(response)
    assert not User.objects.filter(username="newcomer").exists()


# In Chromium


def canvas_is_drawn(page) -> bool:
    return page.eval_on_selector(
        "#history-chart",
        """canvas => {
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true;
            return false;
        }""",
    )


def test_registering_in_the_browser_lands_on_the_players_page_signed_in(page, site):
    page.goto(site("/accounts/login/"))
    page.click("text=Create an account")
    page.fill("#id_username", "browserplayer")
    page.fill("#id_email", "browser@example.com")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.fill("#id_password_again", DEFAULT_PASSWORD)
    page.fill("#id_display_name", "Browser Player")
    page.select_option("#id_country", "FR")
    page.click("button[type=submit]")

    page.wait_for_url(site("/players/browserplayer/"))
    assert page.inner_text(".messages") == "Welcome to Podium, Browser Player! This is your player page."
    assert page.locator("nav a.who").inner_text() == "browserplayer"
    assert page.locator("h1").inner_text().startswith("Browser Player")


def test_the_register_form_shows_its_errors_in_the_browser(phone, site):
    UserFactory(username="taken")
    phone.goto(site(REGISTER))
    phone.fill("#id_username", "taken")
    phone.fill("#id_email", "taken2@example.com")
    phone.fill("#id_password", DEFAULT_PASSWORD)
    phone.fill("#id_password_again", DEFAULT_PASSWORD)
    phone.click("button[type=submit]")

    phone.wait_for_selector("#id_username_error")
    assert phone.inner_text("#id_username_error") == "This username is already taken."
    assert phone.get_attribute("#id_username", "aria-invalid") == "true"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_player_page_draws_its_chart_and_adds_a_score_submitted_over_the_api_live(page, site, ada, blaster, laps):
    rival = UserFactory()
    in_thread(play, rival, blaster, 1400)
    in_thread(play, ada, laps, 62_000, 60_500, 61_000)
    in_thread(play, ada, blaster, 900, 1100, 1000)
    cup = in_thread(paid_cup, blaster, ada, rival)
    token = str(RefreshToken.for_user(ada).access_token)

    page.goto(site("/players/ada/"))
    page.wait_for_selector('html[data-live="live"]', state="attached")
    page.wait_for_function("() => window.Chart && Chart.getChart('history-chart')")
    assert canvas_is_drawn(page)
    assert page.locator("[data-game-tabs] [aria-selected=true]").inner_text() == "Galaxy Blaster"
    assert page.locator(f'a[href="/tournaments/{cup.pk}/"]').inner_text() == "Weekend Cup"

    request = urllib.request.Request(
        site("/api/v1/scores"),
        data=json.dumps({"game_id": "galaxy-blaster", "score": 2500}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        score_id = json.load(response)["score"]["id"]

    row = page.wait_for_selector(f'[data-recent] tr[data-score-id="{score_id}"]', timeout=2_000)
    assert "2,500" in row.inner_text()
    assert page.evaluate("Chart.getChart('history-chart').data.datasets[0].data.at(-1).y") == 2500
    best = page.locator(f'[data-bests-rows] tr[data-game-id="{blaster.pk}"]')
    best.locator("text=#1").wait_for(timeout=2_000)
    assert best.inner_text().split("\t")[1].startswith("2,500")

    page.click("[data-game-tabs] >> text=Lap Rush")
    assert page.evaluate("Chart.getChart('history-chart').options.scales.y.reverse") is True
    assert page.evaluate("Chart.getChart('history-chart').data.datasets[0].data.length") == 3


def test_the_player_page_follows_rivals_scores_and_its_prizes_live(page, site, ada, blaster):
    rival = UserFactory()
    in_thread(play, ada, blaster, 1000)
    in_thread(play, rival, blaster, 500)
    page.goto(site("/players/ada/"))
    page.wait_for_selector('html[data-live="live"]', state="attached")
    best = page.locator(f'[data-bests-rows] tr[data-game-id="{blaster.pk}"]')
    assert "#1" in best.inner_text()
    assert page.locator("[data-prizes-empty]").is_visible()

    # Another player's score moves Ada down without a reload.
    in_thread(play, rival, blaster, 5000)
    best.locator("text=#2").wait_for(timeout=5_000)

    # A payout adds the prize, the count and the new balance.
    cup = in_thread(paid_cup, blaster, ada, rival, name="Live Cup", pool=1000)
    prize = page.locator(f'[data-prizes] li[data-tournament-id="{cup.pk}"]')
    prize.wait_for(timeout=5_000)
    # Written as the server writes it: "+500 Place 1 in Live Cup 24 Nov 2026".
    assert " ".join(prize.inner_text().split()) == f"+500 Place 1 in Live Cup {timezone.now():%-d %b %Y}"
    assert page.locator("[data-prize-count]").inner_text() == "1"
    assert page.locator("[data-prizes-empty]").count() == 0
    page.locator("[data-credits]", has_text="500").wait_for(timeout=5_000)


def test_the_player_page_fits_a_phone(phone, site, ada, blaster):
    in_thread(play, ada, blaster, 900, 1100, 1000)
    CreditEntryFactory(user=ada, amount=300, reference="tournament:5:prize", description="Prize for place 2 in Old Cup")

    phone.goto(site("/players/ada/"))
    phone.wait_for_function("() => window.Chart && Chart.getChart('history-chart')")

    assert canvas_is_drawn(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_signed_in_players_see_their_own_page_from_the_navigation(page, site, ada):
    sign_in(page, site, ada)
    page.goto(site(f"/players/{UserFactory().username}/"))
    page.click("nav a.who")

    page.wait_for_url(site("/players/ada/"))
    assert page.locator("h1 .badge").inner_text() == "you"
