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
