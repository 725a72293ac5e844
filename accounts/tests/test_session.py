"""Session sign-in, for the admin and the pages, with CSRF enforced."""

import pytest
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client(enforce_csrf_checks=True)


def sign_in(browser, username, password):
    browser.get("/accounts/login/")
    token = browser.cookies["csrftoken"].value
    return browser.post("/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token})


def test_sign_in_form_starts_a_session_that_the_api_accepts(browser, user):
    response = sign_in(browser, user.username.upper(), DEFAULT_PASSWORD)

    assert response.status_code == 302
    assert browser.get("/api/v1/users/me").json()["username"] == user.username
    assert user.username in browser.get("/").content.decode()


def test_sign_in_form_without_csrf_token_is_refused(browser, user):
    response = browser.post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD})

    assert response.status_code == 403


def test_session_writes_to_the_api_need_the_csrf_token(browser, staff):
    sign_in(browser, staff.username, DEFAULT_PASSWORD)

    without = browser.post("/api/v1/games", {"name": "Kart"}, content_type="application/json")
    with_token = browser.post(
        "/api/v1/games",
        {"name": "Kart"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )

    assert without.status_code == 403
    assert without.json()["error"]["code"] == "permission_denied"
    assert with_token.status_code == 201


def test_staff_reach_the_admin_and_players_do_not(browser, user, staff):
    sign_in(browser, user.username, DEFAULT_PASSWORD)
    assert browser.get("/admin/").status_code == 302

    staff_browser = Client()
    staff_browser.force_login(staff)
    assert staff_browser.get("/admin/").status_code == 200
