"""The dashboard and the game pages: server-rendered HTML, then live in Chromium."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.services import user_tokens
from accounts.tests.factories import UserFactory
from dashboard.pages import GAME_PAGE_ROWS
from games.tests.factories import GameFactory
from leaderboard_project.tests.browser import sign_in
from scores.services import ImportItem, score_import, score_submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _index(ranking_index):
    return ranking_index


@pytest.fixture
def arena():
    return GameFactory(
        name="Arena",
        slug="arena",
        description="Last one standing wins.",
        min_score=0,
        max_score=1_000_000,
        rules={"unit": "points", "lives": 3},
    )


@pytest.fixture
def laps():
    return GameFactory(name="Lap Rush", slug="lap-rush", sort_order="asc", counts_toward_global=False)


@pytest.fixture
def podium(arena):
    """Three players on the arena board: ada 300, bob 200, cy 100."""
    players = [UserFactory(username=name) for name in ("ada", "bob", "cy")]
    for player, value in zip(players, (300, 200, 100), strict=True):
        score_submit(user=player, game=arena, value=value)
    return players


class Rows(HTMLParser):
    """The rows of each board table on a page, (rank, username, value, is_me) by table, and the feed's score ids."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[tuple[str, str, str, bool]]] = []
        self.feed_items: list[str] = []
        self._row: dict | None = None
        self._in_feed = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table" and "board" in (attributes.get("class") or ""):
            self.tables.append([])
        elif tag == "tr" and "data-user-id" in attributes:
            self._row = {
                "rank": attributes["data-rank"],
                "username": attributes["data-username"],
                "value": attributes["data-value"],
                "me": "me" in (attributes.get("class") or "").split(),
            }
        elif tag == "ul" and "data-feed" in attributes:
            self._in_feed = True
        elif tag == "li" and self._in_feed and "data-score-id" in attributes:
            self.feed_items.append(attributes["data-score-id"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            row = self._row
            self.tables[-1].append((row["rank"], row["username"], row["value"], row["me"]))
            self._row = None
        elif tag == "ul":
            self._in_feed = False


def get(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


# The dashboard, server-rendered.


def test_dashboard_renders_the_global_board_and_the_feed_without_javascript(client, podium, arena):
    html = get(client, "/")
    rows = Rows(html)

    assert rows.tables[0] == [("1", "ada", "300", False), ("2", "bob", "200", False), ("3", "cy", "100", False)]
    assert '<a href="/players/ada/">Ada</a>' in html  # the factory's display name
    assert len(rows.feed_items) == 3  # newest first: cy scored last
    assert html.index('href="/players/cy/"', html.index("data-feed")) < html.index(
        'href="/players/ada/"', html.index("data-feed")
    )
    assert 'href="/games/arena/"' in html
    assert re.search(r'data-counter="players">3<', html)
    assert re.search(r'data-counter="scores_today">3<', html)
    assert 'id="dashboard-config"' in html and "<canvas" in html


def _between(html: str, start: str, end: str) -> str:
    """The part of a page from ``start`` to the next ``end``."""
    first = html.index(start)
    return html[first : html.index(end, first)]


@pytest.fixture
def named(arena):
    """Two players on the arena board: ada with a display name (300), bob without one (200)."""
    ada = UserFactory(username="ada", display_name="Ada Lovelace")
    bob = UserFactory(username="bob", display_name="")
    score_submit(user=ada, game=arena, value=300)
    score_submit(user=bob, game=arena, value=200)
    return ada, bob


@pytest.mark.parametrize("path", ["/", "/?game=arena", "/games/arena/"])
def test_board_rows_show_the_display_name_and_link_to_the_player_by_username(client, named, path):
    board = _between(get(client, path), "data-board>", "</table>")

    assert '<a href="/players/ada/">Ada Lovelace</a>' in board
    assert 'data-username="ada" data-display-name="Ada Lovelace"' in board


def test_board_rows_fall_back_to_the_username_without_a_display_name(client, named):
    board = _between(get(client, "/games/arena/"), "data-board>", "</table>")

    assert '<a href="/players/bob/">bob</a>' in board
    assert 'data-username="bob" data-display-name=""' in board


def test_the_rows_around_the_signed_in_player_show_display_names(client, named):
    client.force_login(named[1])

    around = _between(get(client, "/games/arena/"), "data-around>", "</table>")

    assert '<a href="/players/ada/">Ada Lovelace</a>' in around
    assert '<a href="/players/bob/">bob</a>' in around


def test_the_feed_shows_the_display_name_and_links_to_the_player_by_username(client, named):
    feed = _between(get(client, "/"), "data-feed", "</ul>")

    assert '<a href="/players/ada/">Ada Lovelace</a>' in feed
    assert '<a href="/players/bob/">bob</a>' in feed


def test_dashboard_shows_the_top_20_only(client, arena):
    for index in range(22):
        score_submit(user=UserFactory(), game=arena, value=1000 - index)

    rows = Rows(get(client, "/"))

    assert len(rows.tables[0]) == 20
    assert rows.tables[0][-1][0] == "20"


def test_dashboard_selects_a_game_and_a_period_with_links(client, podium, arena, laps):
    old_timer = UserFactory(username="old")
    score_import(items=[ImportItem(old_timer.pk, arena.pk, 900, timezone.now() - timedelta(days=40))])

    all_time = Rows(get(client, "/?game=arena")).tables[0]
    html = get(client, "/?game=arena&period=daily")
    daily = Rows(html).tables[0]

    assert [row[1] for row in all_time] == ["old", "ada", "bob", "cy"]
    assert [row[1] for row in daily] == ["ada", "bob", "cy"]
    assert '<a href="/?game=arena&amp;period=daily" aria-current="page">Daily</a>' in html
    assert '<a href="/?game=arena&amp;period=daily" aria-current="page">Arena</a>' in html
    assert '<a href="/?period=daily">Global</a>' in html
    assert '<a href="/?game=lap-rush&amp;period=daily">Lap Rush</a>' in html
    assert '<a href="/?game=arena">All time</a>' in html


def test_dashboard_game_board_is_ordered_like_its_game(client, laps):
    fast, slow = UserFactory(username="fast"), UserFactory(username="slow")
    score_submit(user=slow, game=laps, value=62_000)
    score_submit(user=fast, game=laps, value=58_000)

    rows = Rows(get(client, "/?game=lap-rush")).tables[0]

    assert [row[1] for row in rows] == ["fast", "slow"]


def test_dashboard_falls_back_to_the_global_all_time_board(client, podium):
    html = get(client, "/?game=nope&period=yearly")

    assert '<a href="/" aria-current="page">Global</a>' in html
    assert '<a href="/" aria-current="page">All time</a>' in html
    assert len(Rows(html).tables[0]) == 3


def test_dashboard_config_names_the_live_channel_of_all_time_boards_only(client, arena):
    def config(path: str) -> str:
        html = get(client, path)
        return html[html.index('id="dashboard-config"') : html.index("</script>", html.index('id="dashboard-config"'))]

    assert '"channel": "leaderboard"' in config("/")
    assert f'"channel": "leaderboard.{arena.pk}"' in config("/?game=arena")
    weekly = config("/?game=arena&period=weekly")
    assert '"channel": null' in weekly and "period=weekly" in weekly


def test_empty_dashboard_says_so(client):
    html = get(client, "/")

    assert "Nobody on this board yet." in html
    assert "No scores yet." in html


def test_demo_controls_are_included_for_staff_only(client, settings, tmp_path):
    controls = tmp_path / "simulator" / "_demo_controls.html"
    controls.parent.mkdir()
    controls.write_text('<section class="card" data-test-demo-controls>demo controls</section>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]

    anonymous = get(client, "/")
    client.force_login(UserFactory())
    player = get(client, "/")
    client.force_login(UserFactory(is_staff=True))
    staff = get(client, "/")

    assert "data-test-demo-controls" not in anonymous
    assert "data-test-demo-controls" not in player
    assert "data-test-demo-controls" in staff


@pytest.mark.skipif(
    not (Path(settings.BASE_DIR) / "templates" / "simulator" / "_demo_controls.html").exists(),
    reason="the demo controls template is not there yet",
)
def test_dashboard_renders_for_staff_with_the_real_demo_controls(client):
    client.force_login(UserFactory(is_staff=True))

    get(client, "/")


# The game page, server-rendered.


def test_game_page_shows_the_game_and_its_rules(client, arena, laps):
    html = get(client, "/games/arena/")
    facts = get(client, "/games/lap-rush/")

    assert "<h1" in html and "Arena" in html and "Last one standing wins." in html
    assert "Higher is better" in html and "their best score" in html
    assert "from 0 to 1,000,000 points" in html
    assert "<dt>Lives</dt><dd>3</dd>" in html
    assert "Score (points)" in html
    assert "Lower is better" in facts and "does not count" in facts and "any whole number" in facts


def test_unknown_game_is_404(client):
    get(client, "/games/no-such-game/", status=404)


def test_game_page_pages_its_board_50_rows_at_a_time(client, arena):
    for index in range(GAME_PAGE_ROWS + 5):
        score_submit(user=UserFactory(), game=arena, value=10_000 - index)

    first = get(client, "/games/arena/")
    second = get(client, "/games/arena/?page=2")

    assert [row[0] for row in Rows(first).tables[0]] == [str(rank) for rank in range(1, 51)]
    assert '<a href="/games/arena/?page=2" rel="next">' in first and 'rel="prev"' not in first
    assert "Page 1 of 2" in first
    assert [row[0] for row in Rows(second).tables[0]] == [str(rank) for rank in range(51, 56)]
    assert '<a href="/games/arena/" rel="prev">' in second and 'rel="next"' not in second
    assert "Page 2 of 2" in get(client, "/games/arena/?page=99")
    assert "Page 1 of 2" in get(client, "/games/arena/?page=abc")


def test_game_page_period_tabs_keep_their_own_board(client, podium, arena):
    old_timer = UserFactory(username="old")
    score_import(items=[ImportItem(old_timer.pk, arena.pk, 900, timezone.now() - timedelta(days=40))])

    html = get(client, "/games/arena/?period=monthly")

    assert [row[1] for row in Rows(html).tables[0]] == ["ada", "bob", "cy"]
    assert '<a href="/games/arena/?period=monthly" aria-current="page">Monthly</a>' in html
    assert '<a href="/games/arena/">All time</a>' in html
    assert f"{timezone.now():%B %Y} UTC" in html


def test_game_page_highlights_the_signed_in_player_and_shows_the_rows_around(client, podium):
    client.force_login(podium[1])

    html = get(client, "/games/arena/")
    board, around = Rows(html).tables

    assert [row for row in board if row[3]] == [("2", "bob", "200", True)]
    assert around == [("1", "ada", "300", False), ("2", "bob", "200", True), ("3", "cy", "100", False)]
    assert "<strong>#2</strong> of 3 · 200 points" in html
    assert "around=me" in html


def test_game_page_asks_a_player_off_the_board_to_play(client, podium):
    client.force_login(UserFactory())

    html = get(client, "/games/arena/")

    assert "You are not on this board yet" in html
    assert not any(row[3] for row in Rows(html).tables[0])


def test_game_page_invites_visitors_to_sign_in(client, podium):
    html = get(client, "/games/arena/")

    assert "Sign in</a> to see where you stand" in html
    assert len(Rows(html).tables) == 1


# In Chromium. The data fixtures come before the browser's: scores publish their events through
# async_to_sync, which cannot run while Playwright's event loop runs in the test's thread.


def _subscribed(page, *channels: str) -> None:
    """Wait until the server has confirmed the page's subscriptions (events sent after this reach it)."""
    page.wait_for_function(
        "(channels) => (window.__subscribed || []).some((list) => channels.every((c) => list.includes(c)))",
        arg=list(channels),
    )


def _record_subscriptions(page) -> None:
    page.add_init_script(
        """
        window.__subscribed = [];
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(...args) {
            super(...args);
            this.addEventListener("message", (message) => {
              const frame = JSON.parse(message.data);
              if (frame.type === "subscribed") window.__subscribed.push(frame.channels);
            });
          }
        };
        """
    )


def _post_score(page, site, user, game, value: int) -> dict:
    response = page.request.post(
        site("/api/v1/scores"),
        headers={"Authorization": f"Bearer {user_tokens(user=user)['access']}"},
        data={"game_id": str(game.pk), "score": value},
    )
    assert response.status == 201, response.text()
    return response.json()


def test_dashboard_loads_live_without_console_errors(podium, page, site):
    page.goto(site("/"))

    page.wait_for_selector('html[data-live="live"]', state="attached")
    assert page.locator("[data-board] tbody tr[data-user-id]").count() == 3
    assert page.evaluate("Chart.getChart('rate-chart') !== undefined")


def test_a_score_posted_over_the_api_appears_on_the_open_dashboard(podium, arena, page, site):
    newcomer = UserFactory(username="zed")
    _record_subscriptions(page)
    page.goto(site("/"))
    page.evaluate("window.__sameDocument = true")
    _subscribed(page, "leaderboard", "score")

    _post_score(page, site, newcomer, arena, 500)

    page.wait_for_selector('[data-feed] li:first-child a[href="/players/zed/"]', timeout=2000)
    page.wait_for_selector('[data-board] tbody tr:first-child[data-username="zed"]', timeout=2000)
    assert page.inner_text("[data-board] tbody tr:first-child a") == "Zed"  # the display name, from the channel
    assert page.inner_text("[data-feed] li:first-child .badge") == "best"
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("[data-board] tbody tr[data-user-id]").count() == 4
    assert page.inner_text('[data-counter="scores_today"]') == "4"


def test_after_a_dropped_connection_the_dashboard_reconnects_and_resyncs_from_the_snapshot(podium, arena, page, site):
    newcomer = UserFactory(username="zed")
    _record_subscriptions(page)
    page.goto(site("/"))
    page.evaluate("window.__sameDocument = true")
    _subscribed(page, "leaderboard")

    # Drop the connection and hold the reconnect back a few seconds: the score lands while the page is offline.
    page.evaluate("() => { const live = Podium.live(); live.backoff = 4000; live.socket.close(); }")
    page.wait_for_selector('html[data-live="offline"]', state="attached")
    _post_score(page, site, newcomer, arena, 500)
    assert page.locator('[data-board] tbody tr[data-username="zed"]').count() == 0

    page.wait_for_selector('html[data-live="live"]', state="attached", timeout=8000)
    page.wait_for_selector('[data-board] tbody tr:first-child[data-username="zed"]', timeout=3000)
    assert page.inner_text("[data-live-label]") == "live"
    assert page.evaluate("window.__sameDocument") is True  # re-synced in place, not reloaded


def test_a_period_board_is_read_again_when_its_game_scores(podium, arena, page, site):
    _record_subscriptions(page)
    page.goto(site("/?game=arena&period=daily"))
    _subscribed(page, "score")

    _post_score(page, site, podium[2], arena, 250)

    page.wait_for_selector('[data-board] tbody tr:nth-child(2)[data-username="cy"][data-value="250"]', timeout=2000)


def test_game_page_highlights_the_signed_in_players_row(podium, arena, page, site):
    sign_in(page, site, podium[1])
    _record_subscriptions(page)
    page.goto(site("/games/arena/"))
    _subscribed(page, f"leaderboard.{arena.pk}")

    assert page.inner_text("[data-board] tr.me a") == "Bob"
    assert page.inner_text("[data-around] tr.me a") == "Bob"

    _post_score(page, site, podium[1], arena, 400)  # bob takes the lead

    page.wait_for_selector('[data-board] tbody tr:first-child.me[data-username="bob"]', timeout=2000)
    page.wait_for_selector("[data-my-summary] strong >> text=#1", timeout=3000)


@pytest.fixture
def race():
    """Stars 0 to 3, equal stars ranked by the time taken (lower wins): ann 3 in 41 s, bob 3 in 39.5 s."""
    from games.services import game_create

    game = game_create(
        name="Race",
        slug="race",
        min_score=0,
        max_score=3,
        tiebreak_order="asc",
        tiebreak_max=600_000,
        tiebreak_label="time (ms)",
    )
    score_submit(user=UserFactory(username="ann"), game=game, value=3, tiebreak=41_000)
    score_submit(user=UserFactory(username="bob"), game=game, value=3, tiebreak=39_500)
    return game


def test_a_tie_break_game_page_shows_both_scores_in_tie_break_order(client, race):
    html = client.get("/games/race/").content.decode()

    assert "Score · time (ms)" in html
    assert "ranked by time (ms), lower first (0 to 600,000), then by who got there first" in html
    assert [(rank, name) for rank, name, *_ in Rows(html).tables[0]] == [("1", "bob"), ("2", "ann")]
    assert '3 <span class="tiebreak muted">· 39,500</span>' in html


def test_a_tie_break_game_page_shows_a_new_time_live(race, page, site):
    cy = UserFactory(username="cy")
    _record_subscriptions(page)
    page.goto(site("/games/race/"))
    _subscribed(page, f"leaderboard.{race.pk}")

    response = page.request.post(
        site("/api/v1/scores"),
        headers={"Authorization": f"Bearer {user_tokens(user=cy)['access']}"},
        data={"game_id": "race", "score": 3, "tiebreak": 40_000},
    )
    assert response.status == 201, response.text()

    page.wait_for_selector(
        '[data-board] tbody tr:nth-child(2)[data-username="cy"][data-tiebreak="40000"]', timeout=3000
    )
    assert page.inner_text("[data-board] tbody tr:nth-child(2) td:last-child") == "3 · 40,000"
    assert page.inner_text("[data-board] tbody tr:nth-child(3) td:last-child") == "3 · 41,000"


def test_dashboard_fits_a_phone(podium, phone, site):
    phone.goto(site("/"))
    phone.wait_for_selector('html[data-live="live"]', state="attached")

    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.locator("[data-feed] li").first.is_visible()
    assert str(uuid.UUID(phone.get_attribute("[data-board] tbody tr", "data-user-id")))
