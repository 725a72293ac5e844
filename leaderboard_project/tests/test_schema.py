import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_valid_openapi_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert "/api/v1/games" in (tmp_path / "schema.yml").read_text()


def test_schema_is_served_and_documents_the_error_shape(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    register = schema["paths"]["/api/v1/users/register"]["post"]
    assert {"201", "400", "429"} <= set(register["responses"])
    assert register["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "ApiKeyAuth" in schema["components"]["securitySchemes"]


def test_api_docs_page_uses_local_assets(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn" not in page.lower()


def _operations(api_client) -> list[tuple[str, str, dict]]:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_is_tagged_by_its_resource_never_by_the_version_or_the_prefix(api_client):
    untagged = [
        (method, path, operation.get("tags"))
        for method, path, operation in _operations(api_client)
        if len(operation.get("tags") or []) != 1 or re.fullmatch(r"|api|v\d+", operation["tags"][0])
    ]

    assert untagged == []


def test_the_tournament_operations_are_tagged_tournaments(api_client):
    tags = {
        tag
        for _, path, operation in _operations(api_client)
        if path.startswith("/api/v1/tournaments")
        for tag in operation["tags"]
    }

    assert tags == {"tournaments"}


def test_the_api_root_is_documented_under_its_own_tag(api_client):
    (root,) = [operation for method, path, operation in _operations(api_client) if path == "/api/v1/"]

    assert root["tags"] == ["index"]
    assert root["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiRoot")
