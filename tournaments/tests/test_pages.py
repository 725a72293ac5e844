"""The tournament pages: the list with its create form, one tournament, joining and leaving; then in Chromium."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leaderboard_project.tests.browser import sign_in
from scores.services import score_submit
from tournaments import selectors, services
from tournaments.models import Participant, Status, Tournament
from tournaments.tests.factories import fund

LIST = "/tournaments/"


def section(html: str, key: str) -> str:
    """The HTML of one section of the list page (running, upcoming, finished)."""
    start = html.index(f'id="{key}"')
    return html[start : html.index("</section>", start)]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(game, **changes) -> dict[str, str]:
    start = (timezone.now() + timedelta(hours=1)).astimezone(UTC)
    data = {
        "name": "Friday Cup",
        "game": str(game.pk),
        "format": "best_score",
        "max_attempts": "",
        "max_participants": "16",
        "prize_pool": "900",
        "prize_split": "50, 30, 20",
        "start_time": start.strftime("%Y-%m-%dT%H:%M"),
        "end_time": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }
    return data | changes


def finished_and_paid(make_tournament, players, values, **fields):
    """A running tournament the players joined and scored in, then finished and paid."""
    cup = make_tournament(running=True, **fields)
    for player, value in zip(players, values, strict=False):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=cup.game, value=value)
    services.tournament_finish(tournament=cup, now_=True)
    services.tournament_pay(tournament=cup)  # after commit in production; no commit inside a test's transaction
    return Tournament.objects.get(pk=cup.pk)


# --- selectors ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_sections_sort_running_by_end_upcoming_by_start_and_finished_latest_first(make_tournament, organizer):
    now = timezone.now()
    later = make_tournament(name="Later", start_time=now + timedelta(hours=5))
    sooner = make_tournament(name="Sooner", start_time=now + timedelta(hours=1))
    running = make_tournament(name="Now", running=True)
    cancelled = services.tournament_cancel(tournament=make_tournament(name="Off"), actor=organizer)

    sections = selectors.tournament_sections(limit=1)

    assert sections.upcoming == [sooner] and sections.upcoming_total == 2
    assert sections.running == [running] and sections.finished == [cancelled]
    assert later.pk not in [t.pk for t in sections.upcoming]


@pytest.mark.django_db
def test_joined_ids_name_only_the_players_tournaments(make_tournament, players):
    joined, other = make_tournament(), make_tournament()
    services.tournament_join(tournament=joined, user=players[0])

    found = selectors.tournament_joined_ids(user=players[0], tournament_ids=[joined.pk, other.pk])

    assert found == {joined.pk}
    assert selectors.tournament_joined_ids(user=None, tournament_ids=[joined.pk]) == set()


@pytest.mark.django_db
def test_prize_table_gives_each_place_its_share_without_losing_credits(make_tournament):
    cup = make_tournament(prize_pool=1001, prize_split=["33.33", "33.33", "33.34"])

    table = selectors.tournament_prize_table(tournament=cup)

    assert [(p.place, p.share) for p in table] == [(1, Decimal("33.33")), (2, Decimal("33.33")), (3, Decimal("33.34"))]
    assert [p.credits for p in table] == [333, 334, 334]
    assert sum(p.credits for p in table) == 1001


@pytest.mark.django_db
def test_a_player_may_leave_only_before_the_start(make_tournament):
    upcoming, running = make_tournament(), make_tournament(running=True)

    assert selectors.tournament_can_leave(tournament=upcoming, joined=True)
    assert not selectors.tournament_can_leave(tournament=upcoming, joined=False)
    assert not selectors.tournament_can_leave(tournament=running, joined=True)


# --- the list ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_puts_each_tournament_in_its_section(client, make_tournament, organizer, players):
    running = make_tournament(name="Running Cup", running=True)
    upcoming = make_tournament(name="Upcoming Cup")
    paid = finished_and_paid(make_tournament, players[:2], [5, 3], name="Paid Cup")
    cancelled = services.tournament_cancel(tournament=make_tournament(name="Cancelled Cup"), actor=organizer)

    html = client.get(LIST).content.decode()

    assert running.name in section(html, "running") and upcoming.name not in section(html, "running")
    assert upcoming.name in section(html, "upcoming")
    finished = section(html, "finished")
    assert paid.name in finished and 'class="badge paid"' in finished
    assert re.search(rf'<tr data-tournament-id="{cancelled.pk}"[^>]*class="cancelled"', finished)


@pytest.mark.django_db
def test_a_row_shows_game_format_seats_pool_window_and_status(client, make_tournament, game):
    cup = make_tournament(
        name="Limited Cup",
        format="limited_attempts",
        max_attempts=3,
        max_participants=8,
        prize_pool=12_500,
        start_time=datetime(2099, 6, 1, 18, 0, tzinfo=UTC),
        end_time=datetime(2099, 6, 1, 20, 30, tzinfo=UTC),
    )

    row = section(client.get(LIST).content.decode(), "upcoming")

    assert f'href="{reverse("tournament-page", args=[cup.pk])}"' in row
    assert game.name in row and "Limited attempts (3)" in row
    assert "<span data-count>0</span>/8" in row and "12,500" in row
    assert 'Jun 1, 18:00</time> – <time datetime="2099-06-01T20:30:00+00:00">20:30</time>' in row  # same day
    assert 'class="badge scheduled"' in row


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_however_many_tournaments(make_tournament, user, django_assert_num_queries):
    page = signed_in(user)
    for running in (False, True):
        make_tournament(running=running)
    with CaptureQueriesContext(connection) as few:
        page.get(LIST)
    for running in (False, True) * 4:
        make_tournament(running=running)

    with django_assert_num_queries(len(few.captured_queries)):
        page.get(LIST)


@pytest.mark.django_db
def test_anonymous_visitors_are_asked_to_sign_in_to_join_and_create(client, make_tournament):
    make_tournament()

    html = client.get(LIST).content.decode()

    assert "Sign in to join" in html
    assert 'class="create-form"' not in html and "Sign in to create or join" in html


@pytest.mark.django_db
def test_players_see_join_for_open_tournaments_and_leave_for_their_own(make_tournament, players):
    mine, open_cup = make_tournament(name="Mine"), make_tournament(name="Open")
    services.tournament_join(tournament=mine, user=players[0])

    html = section(signed_in(players[0]).get(LIST).content.decode(), "upcoming")

    assert reverse("tournament-page-leave", args=[mine.pk]) in html
    assert reverse("tournament-page-join", args=[open_cup.pk]) in html
    assert reverse("tournament-page-join", args=[mine.pk]) not in html


@pytest.mark.django_db
def test_the_create_form_lists_active_games_only(make_tournament, user, game):
    retired = GameFactory(name="Retired Game", is_active=False)

    html = signed_in(user).get(LIST).content.decode()

    assert f'<option value="{game.pk}">' in html and str(retired.pk) not in html
    assert "Start (UTC)" in html and 'type="datetime-local"' in html


@pytest.mark.django_db
def test_creating_through_the_form_makes_the_player_organizer_and_opens_its_page(user, game):
    fund(user)
    data = form_data(game, format="limited_attempts", max_attempts="5", prize_split="60, 40")

    response = signed_in(user).post(LIST, data)

    cup = Tournament.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("tournament-page", args=[cup.pk])
    assert cup.organizer == user and cup.game == game and cup.name == "Friday Cup"
    assert (cup.format, cup.max_attempts, cup.max_participants, cup.prize_pool) == ("limited_attempts", 5, 16, 900)
    assert cup.prize_split == [60, 40]
    # datetime-local values are UTC
    assert cup.start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") == data["start_time"]
    assert cup.end_time - cup.start_time == timedelta(hours=2)


@pytest.mark.django_db
def test_a_leftover_attempts_value_is_ignored_for_other_formats(user, game):
    fund(user)
    signed_in(user).post(LIST, form_data(game, format="cumulative", max_attempts="3"))

    assert Tournament.objects.get().max_attempts is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"format": "limited_attempts"}, "max_attempts", "needs the number of attempts"),
        ({"max_participants": "1"}, "max_participants", "greater than or equal to 2"),
        ({"end_time": "2000-01-01T00:00"}, "end_time", "Must be after the start."),
        ({"start_time": "2000-01-01T00:00", "end_time": "2000-01-01T02:00"}, "end_time", "Must be in the future."),
        ({"prize_split": "60, 50"}, "prize_split", "more than 100"),
        ({"prize_pool": str(10**13)}, "prize_pool", "Must be from 0 to"),
        ({"start_time": "soon"}, "start_time", "Enter a valid date/time."),
    ],
)
def test_bad_input_is_shown_on_the_form(user, game, changes, field, message):
    response = signed_in(user).post(LIST, form_data(game, **changes))

    html = response.content.decode()
    assert response.status_code == 200 and not Tournament.objects.exists()
    assert message in html
    [field_html] = [chunk for chunk in html.split('<div class="field"') if f'id="id_{field}"' in chunk]
    assert 'class="errorlist' in field_html
    assert '<details class="card create" id="create" open>' in html  # the form stays open on its errors


@pytest.mark.django_db
def test_an_inactive_game_is_refused_on_the_form(user, game):
    data = form_data(game)
    game.is_active = False
    game.save()

    response = signed_in(user).post(LIST, data)

    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Tournament.objects.exists()


@pytest.mark.django_db
def test_the_form_shares_the_api_create_throttle(user, game, client_for, settings):
    fund(user)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "tournament_create": "2/hour"},
    }
    api_body = {k: v for k, v in form_data(game).items() if k not in ("game", "max_attempts", "prize_split")}
    api_body |= {
        "game_id": game.slug,
        "start_time": api_body["start_time"] + "Z",
        "end_time": api_body["end_time"] + "Z",
    }
    assert client_for(user).post("/api/v1/tournaments", api_body, format="json").status_code == 201
    page = signed_in(user)

    created = page.post(LIST, form_data(game, name="Second"))
    refused = page.post(LIST, form_data(game, name="Third"))

    assert created.status_code == 302
    assert refused.status_code == 429 and "try again in" in refused.content.decode()
    assert Tournament.objects.count() == 2


@pytest.mark.django_db
def test_anonymous_visitors_cannot_create(client, game):
    response = client.post(LIST, form_data(game))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Tournament.objects.exists()


def test_the_list_answers_405_to_other_methods(client, db):
    assert client.delete(LIST).status_code == 405


# --- joining and leaving -------------------------------------------------------------------


def follow_message(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.mark.django_db
def test_joining_takes_a_seat_and_returns_to_the_page_it_came_from(make_tournament, user):
    cup = make_tournament()
    page = signed_in(user)

    response = page.post(reverse("tournament-page-join", args=[cup.pk]), {"next": LIST})

    assert response.status_code == 302 and response["Location"] == LIST
    assert Participant.objects.filter(tournament=cup, user=user).exists()
    followed = page.get(LIST)
    assert f"You joined {cup.name}." in follow_message(followed)


@pytest.mark.django_db
def test_joining_without_a_safe_next_returns_to_the_tournament(make_tournament, user):
    cup = make_tournament()

    response = signed_in(user).post(reverse("tournament-page-join", args=[cup.pk]), {"next": "https://evil.example/"})

    assert response["Location"] == reverse("tournament-page", args=[cup.pk])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("situation", "message"),
    [
        ("full", "This tournament has no free seat."),
        ("already_joined", "You are already registered in this tournament."),
        ("finished", "This tournament no longer takes registrations."),
        ("cancelled", "This tournament no longer takes registrations."),
    ],
)
def test_a_refused_join_is_a_message_not_an_error(make_tournament, organizer, players, situation, message):
    user = players[0]
    cup = make_tournament(max_participants=2)
    if situation == "full":
        services.tournament_join(tournament=cup, user=players[1])
        services.tournament_join(tournament=cup, user=players[2])
    elif situation == "already_joined":
        services.tournament_join(tournament=cup, user=user)
    elif situation == "finished":
        cup = finished_and_paid(make_tournament, players[1:3], [1, 2])
    else:
        services.tournament_cancel(tournament=cup, actor=organizer)
    page = signed_in(user)

    response = page.post(reverse("tournament-page-join", args=[cup.pk]), follow=True)

    assert response.status_code == 200
    assert message in follow_message(response)
    assert message in response.content.decode()
    assert Participant.objects.filter(tournament=cup, user=user).count() == (situation == "already_joined")


@pytest.mark.django_db
def test_leaving_before_the_start_gives_the_seat_back(make_tournament, user):
    cup = make_tournament()
    services.tournament_join(tournament=cup, user=user)

    response = signed_in(user).post(reverse("tournament-page-leave", args=[cup.pk]), follow=True)

    assert f"You left {cup.name}." in follow_message(response)
    cup.refresh_from_db()
    assert cup.participant_count == 0


@pytest.mark.django_db
@pytest.mark.parametrize("running", [True, False])
def test_a_refused_leave_is_a_message_not_an_error(make_tournament, user, running):
    cup = make_tournament(running=running)
    if running:
        services.tournament_join(tournament=cup, user=user)

    response = signed_in(user).post(reverse("tournament-page-leave", args=[cup.pk]), follow=True)

    expected = "Players may leave a tournament only before it starts." if running else "You are not registered"
    assert response.status_code == 200 and expected in follow_message(response)


@pytest.mark.django_db
def test_anonymous_visitors_cannot_join(client, make_tournament):
    cup = make_tournament()

    response = client.post(reverse("tournament-page-join", args=[cup.pk]))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_join_and_leave_take_post_only_and_know_unknown_tournaments(make_tournament, user):
    cup = make_tournament()
    page = signed_in(user)

    assert page.get(reverse("tournament-page-join", args=[cup.pk])).status_code == 405
    assert page.post(reverse("tournament-page-join", args=[cup.pk + 1000])).status_code == 404
    assert page.post(reverse("tournament-page-leave", args=[cup.pk + 1000])).status_code == 404


# --- one tournament ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_the_facts_and_a_countdown_to_the_start(client, make_tournament, game, organizer):
    start = (timezone.now() + timedelta(hours=2, minutes=30)).replace(second=0, microsecond=0)
    cup = make_tournament(
        name="Spring Cup",
        format="cumulative",
        max_participants=32,
        start_time=start,
        end_time=start + timedelta(days=1),
    )

    html = client.get(reverse("tournament-page", args=[cup.pk])).content.decode()

    assert "<h1>Spring Cup" in html and 'class="badge scheduled"' in html
    assert game.name in html and "Sum of the scores in the window" in html and "Unlimited" in html
    assert f"{start:%b} {start.day}, {start:%Y %H:%M} UTC" in html
    assert organizer.username in html and "<span data-count>0</span>/32" in html
    assert "Starts in" in html and re.search(r"data-countdown-text>0?2:[0-9]{2}:[0-9]{2}<", html)
    assert f'data-countdown="{start.isoformat()}"' in html
    assert "Sign in to join" in html


@pytest.mark.django_db(transaction=True)  # the ranking index is written after commit
def test_a_running_tournament_counts_down_to_its_end_and_shows_its_live_standings(make_tournament, players):
    cup = make_tournament(running=True, format="limited_attempts", max_attempts=2)
    for player, value in zip(players[:3], [10, 30, 20], strict=True):
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=cup.game, value=value)

    html = signed_in(players[2]).get(reverse("tournament-page", args=[cup.pk])).content.decode()

    assert "Ends in" in html and "Live standings" in html and "2 per player" in html
    ranks = re.findall(r'<tr data-user-id="([0-9a-f-]+)" data-rank="(\d)"( class="me")?', html)
    assert ranks == [
        (str(players[1].pk), "1", ""),
        (str(players[2].pk), "2", ' class="me"'),
        (str(players[0].pk), "3", ""),
    ]
    assert "Joined" in html  # running: no leaving any more


@pytest.mark.django_db
def test_the_prize_table_shows_each_place_share_and_credits(client, make_tournament):
    cup = make_tournament(prize_pool=5000)

    html = client.get(reverse("tournament-page", args=[cup.pk])).content.decode()

    prizes = html[html.index('class="prizes"') :]
    rows = re.findall(r"<tr><td>(\d)</td><td class=\"num\">([\d.]+) %</td><td class=\"num\">([\d,]+)</td></tr>", prizes)
    assert rows == [("1", "50", "2,500"), ("2", "30", "1,500"), ("3", "20", "1,000")]


@pytest.mark.django_db
def test_a_paid_tournament_shows_its_final_results_with_prizes(client, make_tournament, players):
    cup = finished_and_paid(make_tournament, players[:4], [40, 10, 30, 20], prize_pool=1000)
    assert cup.status == Status.PAID

    html = client.get(reverse("tournament-page", args=[cup.pk])).content.decode()

    assert "Final results" in html and "prizes paid" in html and "data-standings" not in html
    results = html[
        html.index('class="standings results"') : html.index("</table>", html.index('class="standings results"'))
    ]
    rows = re.findall(
        r'data-rank="(\d)">.*?>([A-Za-z0-9]+)</a></td>\s*<td class="num">(\d+)</td>\s*<td class="num">([\d,–]+)</td>',
        results,
        re.S,
    )
    assert rows == [
        ("1", players[0].display_name, "40", "500"),
        ("2", players[2].display_name, "30", "300"),
        ("3", players[3].display_name, "20", "200"),
        ("4", players[1].display_name, "10", "–"),
    ]


@pytest.mark.django_db
def test_a_participant_may_leave_before_the_start(make_tournament, user):
    cup = make_tournament()
    services.tournament_join(tournament=cup, user=user)

    html = signed_in(user).get(reverse("tournament-page", args=[cup.pk])).content.decode()

    assert reverse("tournament-page-leave", args=[cup.pk]) in html
    assert f'<li data-user-id="{user.pk}" class="me">' in html


def test_an_unknown_tournament_is_404(client, db):
    assert client.get(reverse("tournament-page", args=[999_999])).status_code == 404


# --- in Chromium ---------------------------------------------------------------------------


def off_loop(write, **arguments):
    """Call a service from a thread of its own: Playwright keeps an event loop running in the test's thread,
    and publishing events from synchronous code must not happen inside one."""

    def call():
        try:
            return write(**arguments)
        finally:
            connections.close_all()  # no session may outlive the test database

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def running_cup(*, organizer, game, name: str, **fields) -> Tournament:
    now = timezone.now()
    fields.setdefault("start_time", now - timedelta(seconds=1))
    fields.setdefault("end_time", now + timedelta(hours=1))
    cup = services.tournament_create(organizer=organizer, game=game, name=name, **fields)
    return services.tournament_start(tournament=cup)


def play(*, cup: Tournament, scores: dict) -> None:
    """Each player joins, then submits a score."""
    for player, value in scores.items():
        services.tournament_join(tournament=cup, user=player)
        score_submit(user=player, game=cup.game, value=value)


@pytest.mark.django_db(transaction=True)
def test_a_player_creates_a_tournament_and_others_join_it(page, site):
    game = GameFactory(name="Galaxy Blaster", slug="galaxy-blaster")
    player, friend = UserFactory(username="ada"), UserFactory(username="grace")
    fund(player)
    sign_in(page, site, player)
    start = (timezone.now() + timedelta(hours=1)).astimezone(UTC)

    page.goto(site(LIST))
    page.locator("details.create summary").click()
    page.get_by_label("Name").fill("Browser Cup")
    page.get_by_label("Game").select_option(label=game.name)
    page.get_by_label("Format").select_option("limited_attempts")
    page.get_by_label("Max attempts").fill("3")
    page.get_by_label("Max participants").fill("10")
    page.get_by_label("Prize pool (credits)").fill("1000")
    page.get_by_label("Start (UTC)").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("End (UTC)").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Create tournament").click()

    page.wait_for_selector("h1:has-text('Browser Cup')")
    cup = Tournament.objects.get(name="Browser Cup")
    assert page.url == site(reverse("tournament-page", args=[cup.pk]))
    assert (cup.organizer, cup.format, cup.max_attempts, cup.prize_pool) == (player, "limited_attempts", 3, 1000)
    page.get_by_role("button", name="Join Browser Cup").click()
    page.wait_for_selector(".messages >> text=You joined Browser Cup.")
    assert page.get_by_role("button", name="Leave Browser Cup").is_visible()
    assert Participant.objects.filter(tournament=cup, user=player).exists()

    # Another player joins elsewhere: the count and the participants follow without a reload.
    page.wait_for_selector('html[data-live="live"]', state="attached")
    page.evaluate("window.stayed = true")
    off_loop(services.tournament_join, tournament=cup, user=friend)
    page.wait_for_selector(f'[data-participants] li[data-user-id="{friend.pk}"]')
    page.wait_for_function("() => [...document.querySelectorAll('[data-count]')].every(n => n.textContent === '2')")
    assert page.evaluate("window.stayed") is True


@pytest.mark.django_db(transaction=True)
def test_a_score_over_the_api_appears_in_the_live_standings(page, site):
    game = GameFactory(slug="lap-rush")
    rival, player = UserFactory(username="rival"), UserFactory(username="runner")
    cup = off_loop(running_cup, organizer=rival, game=game, name="Live Cup")
    off_loop(play, cup=cup, scores={rival: 500})
    off_loop(services.tournament_join, tournament=cup, user=player)
    sign_in(page, site, player)

    page.goto(site(reverse("tournament-page", args=[cup.pk])))
    page.wait_for_selector("table[data-standings][data-synced]")
    assert page.locator("table[data-standings] tbody tr").count() == 1
    page.evaluate("window.stayed = true")
    token = str(RefreshToken.for_user(player).access_token)
    response = page.request.post(
        site("/api/v1/scores"),
        data={"game_id": str(game.pk), "score": 900},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201, response.text()

    mine = page.wait_for_selector(f'table[data-standings] tr.me[data-user-id="{player.pk}"]', timeout=2_000)
    assert mine.get_attribute("data-rank") == "1" and "900" in mine.inner_text()
    assert page.locator(f'table[data-standings] tr[data-user-id="{rival.pk}"]').get_attribute("data-rank") == "2"
    assert page.locator("[data-countdown-text]").inner_text().startswith("00:5")
    assert page.evaluate("window.stayed") is True


@pytest.mark.django_db(transaction=True)
def test_the_list_follows_the_feed_on_a_phone(phone, site):
    game = GameFactory(name="Coin Collector")
    organizer, player = UserFactory(is_staff=True), UserFactory()  # staff: a pool the house funds
    off_loop(running_cup, organizer=organizer, game=game, name="Morning Run", prize_pool=2500)
    sign_in(phone, site, player)
    phone.goto(site(LIST))
    phone.wait_for_selector('html[data-live="live"]', state="attached")

    now = timezone.now()
    cup = off_loop(
        services.tournament_create,
        organizer=organizer,
        game=game,
        name="Evening Cup",
        start_time=now + timedelta(hours=2),
        end_time=now + timedelta(hours=4),
        max_participants=2,
    )
    row = f'#upcoming tr[data-tournament-id="{cup.pk}"]'
    phone.wait_for_selector(row)
    off_loop(services.tournament_join, tournament=cup, user=organizer)
    phone.wait_for_selector(f"{row} [data-count]:text-is('1')")
    off_loop(services.tournament_join, tournament=cup, user=UserFactory())
    phone.wait_for_selector(f"{row} .seat-cell:has-text('Full')")
    assert phone.get_by_role("button", name="Join Morning Run").is_visible()


@pytest.mark.django_db(transaction=True)
def test_a_paid_tournament_on_a_phone(phone, site):
    players = UserFactory.create_batch(4)
    fund(players[0], 10_000)
    cup = off_loop(running_cup, organizer=players[0], game=GameFactory(), name="Finals", prize_pool=10_000)
    off_loop(play, cup=cup, scores={player: value * 100 for value, player in enumerate(players, start=1)})
    off_loop(services.tournament_finish, tournament=cup, now_=True)  # the payout follows at once (eager tasks)
    sign_in(phone, site, players[3])

    phone.goto(site(reverse("tournament-page", args=[cup.pk])))

    assert phone.locator("h1 .badge").inner_text() == "Paid"
    winner = phone.locator("table.results tbody tr").first
    assert winner.get_attribute("class") == "me" and "5,000" in winner.inner_text()
    assert phone.locator("table.prizes tbody tr").count() == 3
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
