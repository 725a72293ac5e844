"""The frame every page shares, in Chromium: navigation, the live connection, static files."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from leaderboard_project.tests.browser import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_connects_live_and_loads_its_styles(page, site):
    page.goto(site("/"))
    page.evaluate("Podium.live()")
    page.wait_for_selector('html[data-live="live"]', state="attached")
    assert page.inner_text("[data-live-label]") == "live"
    assert page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor") == "rgb(15, 23, 42)"
    assert page.locator("nav >> text=Sign in").is_visible()


def test_the_navigation_shows_staff_links_to_staff_only(page, site):
    staff = UserFactory(is_staff=True)
    sign_in(page, site, staff)
    page.goto(site("/"))
    nav = page.locator("nav")
    assert nav.locator("text=Stress").is_visible() and nav.locator("text=Admin").is_visible()
    assert nav.locator(f"text={staff.username}").is_visible()


def test_a_websocket_url_of_another_port_keeps_the_pages_host(page, site, settings):
    # make serve: the WSGI server renders the page, the WebSocket server listens beside it on another port.
    port = site.url.rsplit(":", 1)[1]
    settings.PAGES_WEBSOCKET_URL = f":{port}/ws/main"
    opened = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    page.goto(f"http://localhost:{port}/")
    page.evaluate("Podium.live()")
    page.wait_for_selector('html[data-live="live"]', state="attached")
    assert opened == [f"ws://localhost:{port}/ws/main"]
