import pytest

from rankings.engine import get_engine
from rankings.engine.redis import READY_KEY
from rankings.services import boards_rebuild

pytestmark = pytest.mark.django_db

# Nothing listens on port 1 of the loopback: a real connection attempt that is refused.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database(api_client):
    response = api_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_embedded_checks_neither_redis_nor_broker(api_client, settings):
    settings.REDIS_URL = ""
    settings.RANKING_ENGINE = "rankings.engine.sql.SqlEngine"
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = api_client.get("/readyz")

    assert response.json()["checks"] == {"database": "ok", "rankings": "ok"}


@pytest.mark.redis
def test_readyz_reports_redis_and_broker_ok_when_they_answer(api_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from leaderboard_project.celery import app

    app.conf.broker_url = settings.REDIS_URL
    boards_rebuild(boards=[], mark_ready=True)
    try:
        response = api_client.get("/readyz")
    finally:
        app.conf.broker_url = settings.CELERY_BROKER_URL

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok", "rankings": "ok"}


@pytest.mark.redis
def test_readyz_reports_ranking_degraded_while_the_index_is_not_built(api_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    get_engine().client.delete(READY_KEY)

    response = api_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["rankings"].startswith("degraded")


def test_readyz_is_503_naming_redis_when_redis_is_down(api_client, settings):
    settings.REDIS_URL = UNREACHABLE_REDIS
    settings.CELERY_TASK_ALWAYS_EAGER = True

    response = api_client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("down")
    assert body["error"]["code"] == "dependency_down"
    assert "redis" in body["error"]["message"]


def test_readyz_is_503_naming_the_broker_when_it_is_down(api_client, settings):
    from leaderboard_project.celery import app

    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_url
    app.conf.broker_url = UNREACHABLE_REDIS
    try:
        response = api_client.get("/readyz")
    finally:
        app.conf.broker_url = previous

    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("down")
    assert "broker" in response.json()["error"]["message"]


def test_probes_answer_whatever_host_they_are_called_by(api_client, settings):
    # A health check or a scrape calls the process by its address, which ALLOWED_HOSTS does not list.
    settings.ALLOWED_HOSTS = ["podium.example.com"]
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1/32"]
    by_address = {"HTTP_HOST": "10.9.8.7:8000"}
    assert api_client.get("/healthz", **by_address).status_code == 200
    assert api_client.get("/readyz", **by_address).status_code == 200
    assert api_client.get("/metrics", **by_address).status_code == 200
    # ... while /metrics keeps its own rules, and every other path the host check.
    assert api_client.get("/metrics", REMOTE_ADDR="192.0.2.1", **by_address).status_code == 403
    assert api_client.get("/api/v1/games", **by_address).status_code == 400
