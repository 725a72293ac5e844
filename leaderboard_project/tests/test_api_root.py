"""``GET /api/v1/``: the index of the API."""

from urllib.parse import urlsplit

import pytest
from django.urls import resolve

pytestmark = pytest.mark.django_db

ROOT = "/api/v1/"


def test_the_api_root_names_the_top_level_resources_with_absolute_urls(api_client):
    response = api_client.get(ROOT)

    assert response.status_code == 200
    index = response.json()
    assert {"games", "scores", "leaderboard_global", "tournaments", "users_me", "schema", "docs"} <= set(index)
    assert index["games"] == "http://testserver/api/v1/games"
    assert index["tournaments"] == "http://testserver/api/v1/tournaments"
    for url in index.values():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "testserver"), url
        resolve(parts.path)  # raises Resolver404 for an address that leads nowhere


def test_the_api_root_is_browsable(client):
    response = client.get(ROOT, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "http://testserver/api/v1/games" in response.content.decode()


def test_the_api_root_without_its_slash_redirects_to_it(api_client):
    response = api_client.get("/api/v1")

    assert response.status_code == 301
    assert response["Location"] == ROOT


def test_the_api_root_refuses_writes_with_the_error_shape(api_client):
    response = api_client.post(ROOT, {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
